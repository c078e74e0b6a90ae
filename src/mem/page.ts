/**
 * `struct page` field offsets for the running machine, and the page flag and type bits it uses.
 *
 * The machine runs the lp64 layout: offsets come from STRUCT_PAGE laid out for LP64, so they are
 * derived, never typed. Each is a byte offset inside a 64-byte struct page; `PAGE_*_W` is the same
 * offset in u32 words (the low word of a 64-bit field; the high word is at `_W + 1`).
 *
 *  struct page (lp64, 64 bytes, one per 4 KiB frame, memmap at physical 0):
 *  ╒═══════╤══════════════════════════════════════════════╤══════════════════════════════════╕
 *  │  off  │ page_pool view                               │ what the emulator also keeps here │
 *  ├───────┼──────────────────────────────────────────────┼──────────────────────────────────┤
 *  │   0   │ flags                                        │ PG_head, PG_reserved; order in    │
 *  │       │                                              │ page[1].flags bits 0–7 (_flags_1) │
 *  │   8   │ pp_magic            (lru.next/compound_head) │ buddy list next; tail: head | 1   │
 *  │  16   │ pp / pp_item        (lru.prev)               │ buddy list prev                   │
 *  │  24   │ _pp_mapping_pad     (mapping)                │ slab: kmem_cache; else 0          │
 *  │  32   │ dma_addr            (index)                  │ slab: free-object list head       │
 *  │  40   │ pp_ref_count        (private)                │ buddy: order                      │
 *  │  48   │ _mapcount / page_type                        │ PGTY_* in bits 24–31              │
 *  │  52   │ _refcount                                    │                                   │
 *  │  56   │ memcg_data                                   │ slab: objects in use              │
 *  ╘═══════╧══════════════════════════════════════════════╧══════════════════════════════════╛
 */
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf } from "./ctype.js";
import { STRUCT_PAGE } from "./structs.js";

export const PAGE_LAYOUT = layoutOf(STRUCT_PAGE, LP64);
/** sizeof(struct page) = 64 → pfn_to_page is a shift by 6. */
export const STRUCT_PAGE_SIZE = PAGE_LAYOUT.size;
export const STRUCT_PAGE_SHIFT = 31 - Math.clz32(STRUCT_PAGE_SIZE);

export const PAGE_FLAGS = offsetOf(PAGE_LAYOUT, "flags");
export const PAGE_PP_MAGIC = offsetOf(PAGE_LAYOUT, "pp_magic");
export const PAGE_PP = offsetOf(PAGE_LAYOUT, "pp");
export const PAGE_PP_ITEM = offsetOf(PAGE_LAYOUT, "pp_item");
export const PAGE_MAPPING = offsetOf(PAGE_LAYOUT, "_pp_mapping_pad");
export const PAGE_DMA_ADDR = offsetOf(PAGE_LAYOUT, "dma_addr");
export const PAGE_PP_REF_COUNT = offsetOf(PAGE_LAYOUT, "pp_ref_count");
export const PAGE_TYPE = offsetOf(PAGE_LAYOUT, "page_type");
export const PAGE_MAPCOUNT = offsetOf(PAGE_LAYOUT, "_mapcount");
export const PAGE_REFCOUNT = offsetOf(PAGE_LAYOUT, "_refcount");
export const PAGE_MEMCG = offsetOf(PAGE_LAYOUT, "memcg_data");

/** Page-allocator aliases of the same words (mm_types.h). */
export const PAGE_LRU_NEXT = PAGE_PP_MAGIC;
export const PAGE_LRU_PREV = PAGE_PP;
export const PAGE_COMPOUND_HEAD = PAGE_PP_MAGIC;
export const PAGE_PRIVATE = PAGE_PP_REF_COUNT;
export const PAGE_INDEX = PAGE_DMA_ADDR;

if (STRUCT_PAGE_SIZE !== 1 << STRUCT_PAGE_SHIFT) throw new Error("struct page size must be a power of two");

/**
 * Page flag bits (the emulator's subset of enum pageflags; bit numbers as in v6.12 x86-64 without
 * PG_arch_2/3). Only the bits the page allocator and page_pool consult are modelled.
 */
export const PG_head = 6;
export const PG_reserved = 13;
/**
 * Emulator-only debug bit (no kernel flag): the page sits in a pool's alloc cache or ring. With the
 * machine's page_pool checks on, a put of such a page is a double put — the kernel, whose recycled
 * pages keep pp_ref_count == 1, would silently cache the page twice.
 */
export const PG_pp_in_pool = 28;

/**
 * `page_type` values (v6.12+): the top byte holds PGTY_*, the rest is 0; a page that is not typed
 * has `_mapcount == -1`, i.e. page_type 0xffffffff. A page_pool page is never typed.
 */
export const PAGE_TYPE_NONE = 0xffffffff;
export const PGTY_buddy = 0xf0;
export const PGTY_table = 0xf2;
export const PGTY_slab = 0xf5;
/**
 * v7.1-rc1..rc4 only (db359fccf212, reverted by 54cf41c969da): page_pool pages are typed
 * `PGTY_netpp`, word 0xf9000000 (src/mem/page_type.ts has the PAGE_TYPE_OPS of it).
 */
export const PGTY_netpp = 0xf9;
export const PAGE_TYPE_SHIFT = 24;

/** `page_type` word for a type, as stored. */
export function pageTypeWord(pgty: number): number {
  return (pgty << PAGE_TYPE_SHIFT) >>> 0;
}

/** Poison written over a freed frame's data (include/linux/poison.h PAGE_POISON). */
export const PAGE_POISON = 0xaa;

/** High words that make a 64-bit pointer read like a kernel one in dumps. */
export const VMEMMAP_HI = 0xffffea00;
export const DIRECT_MAP_HI = 0xffff8880;

// ---- `_refcount` (include/linux/page_ref.h): an atomic_t, so every CPU's update counts ----
// (The page allocator's own get_page()/put_page() are in buddy.ts, with their debug checks.)

const W_PAGE_REFCOUNT = PAGE_REFCOUNT >>> 2;

/** `page_ref_count()`: `atomic_read(&page->_refcount)`. */
export function pageRefCount(u32: Uint32Array, page: number): number {
  return Atomics.load(u32, (page >>> 2) + W_PAGE_REFCOUNT);
}

/** `set_page_count()`: `atomic_set()`. */
export function setPageCount(u32: Uint32Array, page: number, v: number): void {
  // atomic_set() is a plain (relaxed) store: the page is not yet, or no longer, shared.
  u32[(page >>> 2) + W_PAGE_REFCOUNT] = v;
}

/** `page_ref_inc()`, returning the count before (`atomic_fetch_inc`). */
export function pageRefInc(u32: Uint32Array, page: number): number {
  return Atomics.add(u32, (page >>> 2) + W_PAGE_REFCOUNT, 1);
}

/** `put_page_testzero()` / `page_ref_dec_and_test()`: drop a reference, true when it was the last. */
export function pageRefDecAndTest(u32: Uint32Array, page: number): boolean {
  return Atomics.sub(u32, (page >>> 2) + W_PAGE_REFCOUNT, 1) === 1;
}
