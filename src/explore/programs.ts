/**
 * The standard race programs (`ppemu race --program NAME`): the interleavings of a driver's remove
 * path with returns from other CPUs that matter for the unbind bug, each a few lines per CPU.
 * CPU 0 is the driver (and the deferred worker after it), the others return pages. Each program
 * returns its pages in softirq on the other CPU, as `napi_consume_skb()` would, unless it says
 * otherwise; the remove path is `napi_disable()`, `page_pool_destroy()`, then the netdev's
 * unregistration grace period (`synchronize_net()`) and the unbind.
 */
import type { PpSystem } from "../pool/index.js";
import { PP_FLAG_DMA_MAP, PP_FLAG_DMA_SYNC_DEV, DEFER_TIME_MS } from "../pool/page_pool.js";
import { DMA_FROM_DEVICE } from "../dma/index.js";
import { softirqEnter, softirqExit } from "../smp/percpu.js";
import { synchronizeNet } from "../smp/rcu.js";
import type { RaceArgs, RaceContext, RaceProgram } from "./program.js";

/** Deferred retries CPU 0 runs after the remove path (virtual seconds). */
const RETRIES = 3;

function dmaPool(sys: PpSystem, poolSize = 64): { pool: number; dev: number } {
  const dev = sys.dma.deviceCreate("0000:03:00.0");
  const pool = sys.pps.create({ flags: PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV, poolSize, dev, dmaDir: DMA_FROM_DEVICE, maxLen: sys.m.mem.pageSize, napiCpu: 0 });
  if (pool < 0) throw new Error(`page_pool_create failed (${pool})`);
  return { pool, dev };
}

/** The driver's remove path on CPU 0, then the deferred worker until the pool is freed. */
function remove({ sys, args }: RaceContext): void {
  const pool = args.pool as number;
  sys.pps.napiDisable(sys.pps.napiOf(pool));
  sys.pps.destroy(pool);
  synchronizeNet(sys.m.mem);
  if (typeof args.dev === "number" && args.dev !== 0) sys.dma.deviceUnbind(args.dev);
  kworker({ sys, cpu: 0, args });
}

function kworker({ sys, args }: RaceContext): void {
  for (let i = 0; i < RETRIES && sys.pps.isLive(args.pool as number); i++) sys.pps.advance(DEFER_TIME_MS);
}

/** No DMA, one page for CPU 1. */
function plainPoolWithPage(sys: PpSystem): RaceArgs {
  const pool = sys.pps.create({ poolSize: 64 });
  if (pool < 0) throw new Error(`page_pool_create failed (${pool})`);
  return { pool, dev: 0, ...handOut(sys, pool, [1]) };
}

/** CPU 0: page_pool_destroy(), then the deferred worker. */
function destroyThenRetry(ctx: RaceContext): void {
  ctx.sys.pps.destroy(ctx.args.pool as number);
  kworker(ctx);
}

/** Return `args.pages` (this CPU's share) with allow_direct=false, in softirq. */
function returner({ sys, cpu, args }: RaceContext): void {
  const pages = args[`pages${cpu}`] as readonly number[];
  softirqEnter(sys.m.mem);
  for (const page of pages) sys.pps.putFullPage(args.pool as number, page, false);
  softirqExit(sys.m.mem);
}

/** Pages for CPUs 1…n, allocated on CPU 0 in the NAPI poll. */
function handOut(sys: PpSystem, pool: number, perCpu: readonly number[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  perCpu.forEach((n, k) => {
    const pages: number[] = [];
    for (let i = 0; i < n; i++) {
      const page = sys.pps.allocPages(pool);
      if (page === 0) throw new Error("setup: allocation failed");
      pages.push(page);
    }
    out[`pages${k + 1}`] = pages;
  });
  drainCache(sys, pool);
  return out;
}

/**
 * The rest of the slow path's bulk leaves the pool now (page_pool_return_page()), so the CPUs race
 * on the pages they hold and not on 60-odd more in the alloc cache.
 */
function drainCache(sys: PpSystem, pool: number): void {
  while (sys.pps.cacheCount(pool) > 0) sys.pps.returnPage(pool, sys.pps.allocPages(pool));
}

/** After the CPUs: the deferred worker, then what every program expects. */
function poolGoes(sys: PpSystem, args: RaceArgs): string[] {
  const pool = args.pool as number;
  for (let i = 0; i < 10 && sys.pps.isLive(pool); i++) sys.pps.advance(DEFER_TIME_MS);
  if (!sys.pps.isLive(pool)) return [];
  return [`the pool is never freed: ${sys.pps.inflight(pool)} pages in flight (${sys.pps.cacheCount(pool)} in its alloc cache, ${sys.pps.ringCount(pool)} in its ring) after 10 more retries`];
}

export const PROGRAMS: Readonly<Record<string, RaceProgram>> = {
  "destroy-vs-return": {
    name: "destroy-vs-return",
    summary: "CPU 0 unbinds (napi_disable, page_pool_destroy, synchronize_net, unbind) while CPU 1 returns a DMA-mapped page",
    setup(sys) {
      const { pool, dev } = dmaPool(sys);
      return { pool, dev, ...handOut(sys, pool, [1]) };
    },
    cpus: [remove, returner],
    check: poolGoes,
  },
  "destroy-vs-ring-produce": {
    name: "destroy-vs-ring-produce",
    summary: "CPU 1 puts the last page into the ring while CPU 0's destroy drains it and frees the pool (CVE-2025-38129)",
    setup: (sys) => plainPoolWithPage(sys),
    cpus: [
      destroyThenRetry,
      returner,
    ],
    check: poolGoes,
  },
  "retry-vs-last-return": {
    name: "retry-vs-last-return",
    summary: "the deferred release worker (CPU 0, after destroy) against the last page's return on CPU 1",
    setup(sys) {
      const { pool, dev } = dmaPool(sys);
      const args = { pool, dev, ...handOut(sys, pool, [2]) };
      sys.pps.destroy(pool);
      return args;
    },
    cpus: [kworker, returner],
    check: poolGoes,
  },
  "napi-local-vs-destroy": {
    name: "napi-local-vs-destroy",
    summary: "CPU 1 polls the pool's NAPI (page_pool_napi_local: yes) and recycles into the alloc cache while CPU 0 destroys the pool without napi_disable (U1 of after-6.16.md)",
    setup(sys) {
      const dev = sys.dma.deviceCreate("0000:03:00.0");
      const napi = sys.pps.napiCreate(-1);
      const pool = sys.pps.create({ flags: PP_FLAG_DMA_MAP, poolSize: 64, dev, dmaDir: DMA_FROM_DEVICE, napi, cpuid: 1 });
      if (pool < 0) throw new Error(`page_pool_create failed (${pool})`);
      return { pool, dev, napi, ...handOut(sys, pool, [1]) };
    },
    cpus: [
      ({ sys, args }) => {
        sys.pps.destroy(args.pool as number);
        synchronizeNet(sys.m.mem);
        sys.dma.deviceUnbind(args.dev as number);
        kworker({ sys, cpu: 0, args });
      },
      ({ sys, args }) => {
        const napi = args.napi as number;
        sys.pps.napiPollBegin(napi);
        for (const page of args.pages1 as readonly number[]) sys.pps.putFullPage(args.pool as number, page, false);
        sys.pps.napiPollEnd(napi);
      },
    ],
    check: poolGoes,
  },
  "remote-direct-recycle": {
    name: "remote-direct-recycle",
    summary: "CPU 1, not the pool's NAPI CPU, returns a page with allow_direct into the lockless alloc cache while CPU 0's NAPI poll uses it (the shape of 2b986b9e917b)",
    setup(sys) {
      const napi = sys.pps.napiCreate(-1);
      const pool = sys.pps.create({ poolSize: 64, napi });
      if (pool < 0) throw new Error(`page_pool_create failed (${pool})`);
      const a = handOut(sys, pool, [1, 2]);
      // pages1 for CPU 1; CPU 0 keeps handOut's second share for its own poll.
      return { pool, dev: 0, napi, pages1: a.pages1!, mine: a.pages2! };
    },
    cpus: [
      ({ sys, args }) => {
        // The NAPI poll on the owning CPU: recycle, allocate, recycle.
        const pool = args.pool as number;
        const [b, c] = args.mine as readonly number[];
        sys.pps.napiPollBegin(args.napi as number);
        sys.pps.recycleDirect(pool, b!);
        const x = sys.pps.allocPages(pool);
        if (x !== 0) sys.pps.recycleDirect(pool, x);
        sys.pps.recycleDirect(pool, c!);
        sys.pps.napiPollEnd(args.napi as number);
      },
      ({ sys, args }) => {
        // cpumap's XDP return on another CPU outside the no-direct window: page_pool_put_full_page(…, true).
        softirqEnter(sys.m.mem);
        sys.pps.recycleDirect(args.pool as number, (args.pages1 as readonly number[])[0]!);
        softirqExit(sys.m.mem);
      },
    ],
  },
  "slow-block-free-vs-scan": {
    name: "slow-block-free-vs-scan",
    summary: "v11: CPU 1 returns the last page of a slow item block (freeing the block) while CPU 0's destroy scans the blocks",
    setup(sys) {
      const { pool, dev } = dmaPool(sys, 1);
      // Past the fast items: the last page's item is in a slow block, whose other items all go back now.
      const fast = 3 * 254;
      const pages: number[] = [];
      for (let i = 0; i < fast + 4; i++) {
        const page = sys.pps.allocPages(pool);
        if (page === 0) throw new Error("setup: allocation failed");
        pages.push(page);
      }
      const keep = pages.pop()!;
      for (const page of pages) sys.pps.putFullPage(pool, page, false);
      return { pool, dev, pages1: [keep] };
    },
    cpus: [remove, returner],
    check: poolGoes,
    memBytes: 8 << 20,
  },
  "negative-inflight": {
    name: "negative-inflight",
    summary: "a driver bug returns a page twice while CPU 0 destroys the pool: the in-flight count goes negative; does the deferred worker stop? (43130d02baa1)",
    setup: (sys) => plainPoolWithPage(sys),
    cpus: [
      destroyThenRetry,
      ({ sys, args }) => {
        // page_pool_return_page() twice: the second release counts a page the pool no longer has.
        const page = (args.pages1 as readonly number[])[0]!;
        sys.pps.returnPage(args.pool as number, page);
        sys.pps.returnPage(args.pool as number, page);
      },
    ],
    check(sys, args) {
      const pool = args.pool as number;
      for (let i = 0; i < 10 && sys.pps.isLive(pool) && sys.pps.timerExpires(pool) !== 0; i++) sys.pps.advance(DEFER_TIME_MS);
      if (!sys.pps.isLive(pool) || sys.pps.timerExpires(pool) === 0) return [];
      return [`page_pool_release_retry() reschedules forever: in flight ${sys.pps.inflight(pool)} after 10 more retries`];
    },
  },
  "xarray-scrub-vs-return": {
    name: "xarray-scrub-vs-return",
    summary: "v6.16+: the scrub's xa_for_each and cmpxchg against a return (ring full: it releases the page) in process context",
    setup(sys) {
      // pool_size 1: one page fills the ring, so CPU 1's return releases its page (unmap, put_page).
      const { pool, dev } = dmaPool(sys, 1);
      const args = { pool, dev, ...handOut(sys, pool, [1]) };
      const filler = sys.pps.allocPages(pool);
      drainCache(sys, pool);
      sys.pps.putFullPage(pool, filler, false);
      if (sys.pps.ringCount(pool) !== 1) throw new Error("setup: the ring is not full");
      return args;
    },
    cpus: [
      remove,
      ({ sys, args }) => {
        for (const page of args.pages1 as readonly number[]) sys.pps.putFullPage(args.pool as number, page, false);
      },
    ],
    check: poolGoes,
  },
};

export const PROGRAM_NAMES: readonly string[] = Object.keys(PROGRAMS);
