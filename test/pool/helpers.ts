/** Shared set-up for the page_pool tests: a small machine, a device, one pool. */
import { expect } from "vitest";
import { bootPpSystem, ppClaimers, type PpSystem } from "../../src/pool/index.js";
import type { NetStack } from "../../src/pool/stack.js";
import { PP_FLAG_DMA_MAP, type PagePoolParams } from "../../src/pool/page_pool.js";
import type { KernelBuild } from "../../src/builds/index.js";
import { accountFrames, assertAccounted, type FrameAccount } from "../../src/mem/accounting.js";
import type { PhysMemOptions } from "../../src/mem/physmem.js";
import { setServingSoftirq } from "../../src/smp/percpu.js";

export interface Rig extends PpSystem {
  readonly dev: number;
  readonly pool: number;
}

export const MiB = 1 << 20;

/**
 * An 8 MiB machine of `build` (a KernelBuild, a build name, or a layout name for its default build;
 * classic's v6.15 by default) with device "eth0" and one pool. `dma` maps through eth0.
 */
export function rig(params: PagePoolParams & { dma?: boolean } = {}, build: KernelBuild | string = "classic", opts: PhysMemOptions = {}): Rig {
  const sys = bootPpSystem(build, { bytes: 8 * MiB, ...opts });
  const dev = sys.dma.deviceCreate("eth0");
  expect(dev).toBeGreaterThan(0);
  const { dma, ...p } = params;
  const flags = (p.flags ?? 0) | (dma ? PP_FLAG_DMA_MAP : 0);
  const pool = sys.pps.create({ ...p, flags, dev: p.dev ?? (dma ? dev : 0) });
  expect(pool).toBeGreaterThan(0);
  return { ...sys, dev, pool };
}

/** Frame accounting of the whole machine with the page_pool claimers; throws on any error. */
export function accounted(sys: PpSystem, stack?: NetStack): FrameAccount {
  const r = accountFrames(sys.m.mem, ppClaimers(sys, stack));
  assertAccounted(r);
  return r;
}

/** Run on `cpu`, in softirq (NAPI) context or not. */
export function context(sys: PpSystem, cpu: number, inSoftirq: boolean): void {
  sys.m.mem.bindCpu(cpu);
  setServingSoftirq(sys.m.mem, inSoftirq);
}

/** Allocate `n` pages; every one must succeed. */
export function allocN(sys: PpSystem, pool: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = sys.pps.allocPages(pool);
    if (p === 0) throw new Error(`allocation ${i} of ${n} failed`);
    out.push(p);
  }
  return out;
}

/** The pages in the alloc cache, bottom first. */
export function cachePages(sys: PpSystem, pool: number): number[] {
  const out: number[] = [];
  sys.pps.forEachPooledPage(pool, (p, where) => {
    if (where === "cache") out.push(p);
  });
  return out;
}

/** The pages in the ring, oldest first. */
export function ringPages(sys: PpSystem, pool: number): number[] {
  const out: number[] = [];
  sys.pps.forEachPooledPage(pool, (p, where) => {
    if (where === "ring") out.push(p);
  });
  return out;
}

/** The fast-check seed of the property tests (test/fc_seed.ts): FC_SEED, or the fixed default. */
export { FC_SEED } from "../fc_seed.js";
