/**
 * Assembling a page_pool machine: a kernel "build" with one layout, its DMA model, the page_pool
 * mechanism, the network-stack stand-in, and the frame-accounting claimers that find every page a
 * pool owns or has in flight by walking the buffer.
 */
import { bootMachine, type Machine } from "../mem/machine.js";
import type { PhysMemOptions } from "../mem/physmem.js";
import { MACH_LAYOUT, MACH_PP_MAGIC_MASK } from "../mem/physmem.js";
import { LP64, archConsts } from "../arch.js";
import type { FrameClaimer } from "../mem/accounting.js";
import { Dma } from "../dma/index.js";
import { PTR_RING_QUEUE } from "./ptr_ring.js";
import { PagePools } from "./page_pool.js";
import { NetStack } from "./stack.js";
import { ClassicTracking } from "./classic.js";
import { ItemBlockTracking } from "./item_block.js";
import { XarrayTracking } from "./xarray.js";
import { LAYOUT_ID, PP_RING, type LayoutName, type Tracking } from "./types.js";
import type { BlockVariant } from "../mem/structs.js";

export interface PpSystem {
  readonly m: Machine;
  readonly dma: Dma;
  readonly pps: PagePools;
  readonly layout: LayoutName;
}

export interface PpSystemOptions extends PhysMemOptions {
  /** Item-block header variant (item-block layout only). Default v11. */
  readonly variant?: BlockVariant;
}

export function makeTracking(layout: LayoutName, m: Machine, dma: Dma, variant: BlockVariant = "v11"): Tracking {
  switch (layout) {
    case "classic":
      return new ClassicTracking(m, dma);
    case "item-block":
      return new ItemBlockTracking(m, dma, variant);
    case "xarray":
      return new XarrayTracking(m, dma);
  }
}

/** Boot a machine built with `layout`. */
export function bootPpSystem(layout: LayoutName, opts: PpSystemOptions = {}): PpSystem {
  const m = bootMachine(opts);
  m.mem.wr32(m.mem.machine + MACH_LAYOUT, LAYOUT_ID[layout]);
  // The build's page_pool_page_is_pp() mask: ~0x3UL before v6.16 (classic, and v11 on v6.13).
  const c = archConsts(LP64);
  const mask = layout === "xarray" ? c.dmaIndex.PP_MAGIC_MASK : c.PP_MAGIC_MASK_CLASSIC;
  m.mem.wr64(m.mem.machine + MACH_PP_MAGIC_MASK, mask.hi, mask.lo);
  const dma = new Dma(m);
  const pps = new PagePools(m, dma, makeTracking(layout, m, dma, opts.variant));
  return { m, dma, pps, layout };
}

/**
 * Claimers for frame accounting: pages held by the stack stand-in, then per pool its alloc cache,
 * its ring, its ring queue, and every other page that names it ("in flight": with the driver).
 * Layout-owned memory (item blocks) is claimed by the strategy's own claimer.
 */
export function ppClaimers(sys: PpSystem, stack?: NetStack): FrameClaimer[] {
  const { pps } = sys;
  const out: FrameClaimer[] = [];
  if (stack) {
    out.push((c) => {
      stack.forEachHeld((page) => c.claimPage(page, "page_pool: in flight (stack)"));
      // A large kmalloc (>= PAGE_SIZE / 2 rounds up to pages) comes from the page allocator.
      const slots = stack.slots;
      if (c.classOf(c.mem.virtToPfn(slots)) === "allocated") c.claimPage(c.mem.virtToPage(slots), "stack stand-in");
    });
  }
  out.push((c) => {
    const mem = c.mem;
    pps.forEachPool((pool) => {
      pps.forEachPooledPage(pool, (page, where) => c.claimPage(page, `page_pool: ${where}`));
      const queue = mem.rdPtr(pool + PP_RING + PTR_RING_QUEUE);
      if (c.classOf(mem.virtToPfn(queue)) === "allocated") c.claimPage(mem.virtToPage(queue), "page_pool: ring queue");
    });
    // Every remaining page_pool page: in flight with the driver (or leaked by it).
    for (let pfn = 0; pfn < mem.nrFrames; pfn++) {
      if (c.classOf(pfn) !== "allocated") continue;
      const page = mem.pfnToPage(pfn);
      if (pps.t.isPpPage(page) && pps.isLive(pps.t.poolOf(page))) c.claimPage(page, "page_pool: in flight (driver)");
    }
  });
  const own = (pps.t as Tracking & { claimer?: () => FrameClaimer }).claimer;
  if (own) out.push(own.call(pps.t));
  out.push(sys.dma.claimer());
  return out;
}

export { PagePools, NetStack };
export * from "./types.js";
