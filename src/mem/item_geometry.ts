/**
 * Item-block geometry, derived from the declarations: one block is exactly one page, the header at
 * the frame top, then `ITEMS_PER_PAGE` items to the end of the frame.
 *
 *   frame base ── & PAGE_MASK ──┐
 *   ├── header (pp, list, flags, ref) ──┼── items[0] ──┼── items[1] ──┼ … ┼── items[N-1] ──┼ tail ┤
 *   0                            itemsOffset      +itemSize                                  PAGE_SIZE
 *
 * `ITEMS_PER_PAGE = (PAGE_SIZE - offsetof(block, items)) / sizeof(item)`; an item's block is
 * `item & PAGE_MASK` and its index is `(item - block - itemsOffset) / itemSize`.
 */
import { type Arch, type PageSizeName, PAGE_SHIFT_OF } from "../arch.js";
import { layoutOf, offsetOf } from "./ctype.js";
import { type BlockVariant, ITEM_BLOCK_OF, STRUCT_PAGE_POOL_ITEM } from "./structs.js";

export interface ItemGeometry {
  readonly variant: BlockVariant;
  readonly arch: Arch;
  readonly pageSize: number;
  /** `offsetof(struct page_pool_item_block, items)`. */
  readonly itemsOffset: number;
  /** `sizeof(struct page_pool_item)`. */
  readonly itemSize: number;
  /** `alignof(struct page_pool_item)`: the low bits of an item pointer that are always 0. */
  readonly itemAlign: number;
  readonly ITEMS_PER_PAGE: number;
  /** Bytes after the last item, up to the frame end. */
  readonly tailBytes: number;
  /** Offset of `pp` inside the block header (must match netmem_item_block's). */
  readonly ppOffset: number;
}

export function itemGeometry(variant: BlockVariant, arch: Arch, pageSize: PageSizeName | number = "4k"): ItemGeometry {
  const size = typeof pageSize === "number" ? pageSize : 1 << PAGE_SHIFT_OF[pageSize];
  const block = layoutOf(ITEM_BLOCK_OF[variant], arch);
  const item = layoutOf(STRUCT_PAGE_POOL_ITEM, arch);
  const itemsOffset = offsetOf(block, "items");
  const ITEMS_PER_PAGE = Math.floor((size - itemsOffset) / item.size);
  return {
    variant,
    arch,
    pageSize: size,
    itemsOffset,
    itemSize: item.size,
    itemAlign: item.align,
    ITEMS_PER_PAGE,
    tailBytes: size - itemsOffset - ITEMS_PER_PAGE * item.size,
    ppOffset: offsetOf(block, "pp"),
  };
}

/**
 * Item target at pool init (v11): `2 * pool_size + PP_ALLOC_CACHE_SIZE + PAGE_POOL_MIN_INFLIGHT_ITEMS`
 * → blocks = DIV_ROUND_UP(target, ITEMS_PER_PAGE).
 */
export const PAGE_POOL_MIN_INFLIGHT_ITEMS = 512;

export function itemTarget(poolSize: number, allocCacheSize = 128): number {
  return 2 * poolSize + allocCacheSize + PAGE_POOL_MIN_INFLIGHT_ITEMS;
}

export function initialBlocks(poolSize: number, g: ItemGeometry): number {
  return Math.ceil(itemTarget(poolSize) / g.ITEMS_PER_PAGE);
}
