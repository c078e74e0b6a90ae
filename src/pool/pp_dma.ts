/**
 * The DMA operations every layout's release path ends in, shared by the mechanism and the
 * strategies: `dma_unmap_page_attrs(dev, page->dma_addr, PAGE_SIZE << order, dir, attrs)` followed
 * by `page_pool_set_dma_addr(page, 0)`.
 */
import type { PhysMem } from "../mem/physmem.js";
import * as NMDESC from "./nmdesc.js";
const { NMDESC_DMA_ADDR } = NMDESC;
import { type Dma, DMA_ATTR_SKIP_CPU_SYNC } from "../dma/index.js";
import type { PoolOffsets } from "./pool_offsets.js";

/** `DMA_ATTR_WEAK_ORDERING` (include/linux/dma-mapping.h). */
export const DMA_ATTR_WEAK_ORDERING = 1 << 1;
/** page_pool maps and unmaps with both (net/core/page_pool.c). */
export const PP_DMA_ATTRS = DMA_ATTR_SKIP_CPU_SYNC | DMA_ATTR_WEAK_ORDERING;

/**
 * `desc` is the page's netmem_desc (src/pool/nmdesc.ts): the page itself on every build whose
 * netmem_desc overlays struct page, the item on memdesc-item.
 */
export function ppDmaUnmap(mem: PhysMem, dma: Dma, o: PoolOffsets, pool: number, desc: number): void {
  const u32 = mem.u32;
  dma.dmaUnmapPage(
    u32[(pool + o.dev) >>> 2]!,
    u32[(desc + NMDESC_DMA_ADDR) >>> 2]!,
    mem.pageSize << u32[(pool + o.order) >>> 2]!,
    u32[(pool + o.dmaDir) >>> 2]!,
    PP_DMA_ATTRS,
  );
  u32[(desc + NMDESC_DMA_ADDR) >>> 2] = 0;
  u32[((desc + NMDESC_DMA_ADDR) >>> 2) + 1] = 0;
}

/** `pool->dma_map` (a bitfield, or `p.flags & PP_FLAG_DMA_MAP` before it was one). */
export function poolDmaMap(u32: Uint32Array, o: PoolOffsets, pool: number): boolean {
  return (u32[(pool + o.dmaMap.off) >>> 2]! & o.dmaMap.mask) !== 0;
}
