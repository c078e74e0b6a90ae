/**
 * Assembling a page_pool machine: one kernel build (src/builds), its DMA model, the page_pool
 * mechanism, the network-stack stand-in, and the frame-accounting claimers that find every page a
 * pool owns or has in flight by walking the buffer.
 *
 * The build lives in the buffer: `bootPpSystem` writes its id, item-block variant and switches word
 * into the machine header, and `attachPpSystem(buffer)` rebuilds the same system from the header
 * alone (a worker thread on a SharedArrayBuffer, or a saved image). Nothing is allocated in the
 * buffer on attach.
 */
import { attachMachine, bootMachine, type Machine } from "../mem/machine.js";
import { MACH_BUILD, MACH_BUILD_CONFIG, MACH_BUILD_EXTRA, MACH_BUILD_VARIANT, MACH_PP_MAGIC_MASK, type PhysMemOptions } from "../mem/physmem.js";
import type { FrameClaimer } from "../mem/accounting.js";
import { Dma } from "../dma/index.js";
import { PagePools } from "./page_pool.js";
import { NetStack } from "./stack.js";
// The devmem memory provider registers its ops on import (src/pool/memory_provider.ts's table).
import { devmemClaimer } from "./devmem.js";
import { buildById, buildConfigWord, buildExtraWord, BuildError, resolveBuild, variantId, variantOfId } from "../builds/index.js";
import type { KernelBuild } from "../builds/types.js";
import { PpemuError, showValue } from "../errors.js";

export interface PpSystem {
  readonly m: Machine;
  readonly dma: Dma;
  readonly pps: PagePools;
  readonly build: KernelBuild;
}

/** Boot a machine of `build` (a KernelBuild, a build name, or a layout name for its default build). */
export function bootPpSystem(build: KernelBuild | string, opts: PhysMemOptions = {}): PpSystem {
  const b = typeof build === "string" ? resolveBuild(build) : build;
  if (b === null || typeof b !== "object" || typeof b.name !== "string" || !Number.isInteger(b.id) || typeof b.layout?.make !== "function") {
    throw new PpemuError("EINVAL_ARG", `bootPpSystem: build must be a KernelBuild, a build name or a layout name, got ${showValue(build)}`);
  }
  const m = bootMachine(opts);
  const mem = m.mem;
  const h = mem.machine;
  mem.wr32(h + MACH_BUILD, b.id);
  mem.wr32(h + MACH_BUILD_VARIANT, variantId(b.variant));
  mem.wr32(h + MACH_BUILD_CONFIG, buildConfigWord(b.switches));
  mem.wr32(h + MACH_BUILD_EXTRA, buildExtraWord(b));
  // The build's page_pool_page_is_pp() mask, for the page allocator's "page_pool leak" check.
  mem.wr64(h + MACH_PP_MAGIC_MASK, b.ppMagicMask.hi, b.ppMagicMask.lo);
  const dma = new Dma(m);
  const pps = new PagePools(m, dma, b);
  return { m, dma, pps, build: b };
}

/**
 * Attach to a machine booted elsewhere: the build, the variant and the switches come from the
 * header; a build this registry does not know, or knows with other switches, is refused.
 */
export function attachPpSystem(buffer: ArrayBuffer | SharedArrayBuffer): PpSystem {
  const m = attachMachine(buffer);
  const mem = m.mem;
  const h = mem.machine;
  const id = mem.rd32(h + MACH_BUILD);
  const b = buildById(id);
  if (!b) throw new BuildError(`ppemu: this image was booted as kernel build id ${id}, which this ppemu does not know`);
  const variant = variantOfId(mem.rd32(h + MACH_BUILD_VARIANT));
  if (variant !== b.variant) {
    throw new BuildError(`ppemu: image of build ${b.name} has item-block variant ${variant ?? "none"}, the registry says ${b.variant ?? "none"}`);
  }
  const config = mem.rd32(h + MACH_BUILD_CONFIG);
  const want = buildConfigWord(b.switches);
  if (config !== want) {
    throw new BuildError(`ppemu: image of build ${b.name} has switches 0x${config.toString(16)}, this ppemu's ${b.name} has 0x${want.toString(16)}`);
  }
  const extra = mem.rd32(h + MACH_BUILD_EXTRA);
  if (extra !== buildExtraWord(b) || mem.rd32(h + MACH_PP_MAGIC_MASK) !== b.ppMagicMask.lo || mem.rd32(h + MACH_PP_MAGIC_MASK + 4) !== b.ppMagicMask.hi) {
    throw new BuildError(`ppemu: image of build ${b.name} has another layout configuration or membership mask than this ppemu's ${b.name}`);
  }
  const dma = new Dma(m);
  const pps = new PagePools(m, dma, b);
  return { m, dma, pps, build: b };
}

/**
 * Claimers for frame accounting: pages held by the stack stand-in, then per pool its alloc cache,
 * its ring, its ring queue and per-CPU stats, and every other page that names it ("in flight":
 * with the driver). Layout-owned memory (item blocks) is claimed by the strategy's own claimer.
 */
export function ppClaimers(sys: PpSystem, stack?: NetStack): FrameClaimer[] {
  const { pps } = sys;
  const out: FrameClaimer[] = [];
  if (stack) {
    out.push((c) => {
      // A net_iov (bit 0, NET_IOV) is no frame: its array is the provider's (devmemClaimer).
      stack.forEachHeld((page) => (page & 1) === 0 && c.claimPage(page, "page_pool: in flight (stack)"));
      // A large kmalloc (>= PAGE_SIZE / 2 rounds up to pages) comes from the page allocator.
      const slots = stack.slots;
      if (c.classOf(c.mem.virtToPfn(slots)) === "allocated") c.claimPage(c.mem.virtToPage(slots), "stack stand-in");
    });
  }
  out.push((c) => {
    const mem = c.mem;
    pps.forEachPool((pool) => {
      pps.forEachPooledPage(pool, (page, where) => (page & 1) === 0 && c.claimPage(page, `page_pool: ${where}`));
      const queue = pps.ringQueueOf(pool);
      if (queue !== 0 && c.classOf(mem.virtToPfn(queue)) === "allocated") c.claimPage(mem.virtToPage(queue), "page_pool: ring queue");
    });
    // Every remaining page_pool page: in flight with the driver (or leaked by it).
    for (let pfn = 0; pfn < mem.nrFrames; pfn++) {
      if (c.classOf(pfn) !== "allocated") continue;
      const page = mem.pfnToPage(pfn);
      if (pps.t.isPpPage(page) && pps.isLive(pps.t.poolOf(page))) c.claimPage(page, "page_pool: in flight (driver)");
    }
  });
  const own = pps.t.claimer();
  if (own) out.push(own);
  out.push(devmemClaimer(pps));
  out.push(sys.dma.claimer());
  return out;
}

export { PagePools, NetStack };
export { PageFrags, fragApiOf, PP_FLAG_PAGE_FRAG, BIAS_MAX_HI, BIAS_MAX_LO, type FragApi, type FragState } from "./frag.js";
