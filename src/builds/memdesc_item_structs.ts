/**
 * The structs of the `memdesc-item` build: page_pool in the world of Matthew Wilcox's memdescs, where
 * `struct page` is one word and the page_pool item is the page's memory descriptor.
 *
 * What the plan says (encoded here; sources read):
 *  - kernelnewbies.org/MatthewWilcox/Memdescs: "The ultimate goal of the folios project is to turn
 *    struct page into: struct page { unsigned long memdesc; };" — "a 4 bit field that describes what
 *    the remaining 60/28 bits are used for"; type 10 is "NetPool (struct netpool pointer)"; "All
 *    structs pointed to from a memdesc must be allocated from a slab which has its alignment set to
 *    16 bytes (in order to allow the bottom 4 bits to be used for the type). That implies that they
 *    are a multiple of 16 bytes in size."
 *  - kernelnewbies.org/MatthewWilcox/Memdescs/Path: the step on the way — "make page->compound_head
 *    point to the dynamically allocated memdesc rather than the first page"; "bits 0-3 of memdesc are
 *    a type field"; "types 0, 4, 8 and 12 all alias as "buddy" due to the storage of the buddy_list
 *    overlapping the memdesc field".
 *  - Wilcox on netmem_desc (lkml 2025-05-09, "Re: [RFC 19/19] mm, netmem: remove the page pool members
 *    in struct page"): "the point is to move these fields out of struct page entirely. At some point
 *    ... we'll actually kmalloc the netmem_desc (and shrink struct page)"; netmem.h (2026, search id
 *    4059490063): "How to extract netmem_desc from page must be changed, once netmem_desc no longer
 *    overlays on page and will be allocated through slab."
 *
 * Chosen where the plan is silent (say so everywhere it shows):
 *  - the NetPool descriptor is Yunsheng Lin's v11 item (the problem statement: pp_item "may be used as
 *    the metadata replacement of existing struct page"), declared netmem_desc-shaped (`desc` first,
 *    so every NETMEM_DESC offset holds and the mechanism's indirection is one pointer swap), with the
 *    page back-pointer after it, aligned to 16 as a memdesc must be; items live in v11-style one-page
 *    item blocks (not a slab cache), whose header alignment keeps every item 16-aligned;
 *  - the memdesc word is today's `compound_head` word (offset 8 on lp64), as the Path step says; the
 *    emulator's memmap keeps its 64-byte struct pages for the page allocator (which is not
 *    memdesc-converted): the page_pool reads and writes only that word of a pool page's struct page.
 */
import { type Arch } from "../arch.js";
import { LIST_HEAD, LLIST_HEAD, LLIST_NODE, SPINLOCK_T, ULONG, array, layoutOf, m, offsetOf, ptr, struct, union } from "../mem/ctype.js";
import { STRUCT_NETMEM_DESC, STRUCT_PAGE } from "../mem/structs.js";
import {
  type PoolStructs,
  STRUCT_PAGE_POOL_ALLOC_STATS,
  STRUCT_PAGE_POOL_PARAMS_FAST,
  STRUCT_PAGE_POOL_PARAMS_SLOW,
  STRUCT_PAGE_POOL_RECYCLE_STATS,
  patchMembers,
  userStruct,
} from "./structs_common.js";
import { STRUCT_PAGE_POOL_V6_15 } from "./classic_structs.js";
import { STRUCT_NET_IOV_AREA, STRUCT_NET_IOV_MAINLINE } from "./netmem_desc_structs.js";

/** Bits 0-3 of the memdesc word: the descriptor type (Memdescs: "a 4 bit field"). */
export const MEMDESC_TYPE_BITS = 4;
export const MEMDESC_TYPE_MASK = (1 << MEMDESC_TYPE_BITS) - 1;
/** The descriptor alignment the type bits demand: 16 bytes ("alignment set to 16 bytes"). */
export const MEMDESC_ALIGN = 1 << MEMDESC_TYPE_BITS;
/** Type 10: "NetPool (struct netpool pointer)" — here the pointer is the page_pool item. */
export const MEMDESC_TYPE_NETPOOL = 10;
/** Path step: types 0, 4, 8, 12 alias "buddy" (the buddy_list's next pointer overlaps the word). */
export const MEMDESC_BUDDY_TYPES: readonly number[] = [0, 4, 8, 12];

/** `memdesc_t` word of a descriptor and a type: `desc | type` (the descriptor is MEMDESC_ALIGN-aligned). */
export function memdescWord(desc: number, type: number): number {
  return (desc | type) >>> 0;
}
/** `memdesc_type()`. */
export function memdescType(word: number): number {
  return word & MEMDESC_TYPE_MASK;
}
/** The descriptor a memdesc word points to: the word with its type bits cleared. */
export function memdescDesc(word: number): number {
  return (word & ~MEMDESC_TYPE_MASK) >>> 0;
}

/** `struct page` as the memdesc plan ends it: one word (8 bytes lp64, 4 ilp32). */
export const STRUCT_PAGE_MEMDESC = struct("page", [m("memdesc", ULONG)]);

/** The offset of the memdesc word in the emulator's (unconverted) struct page: compound_head's. */
export function memdescWordOffset(arch: Arch): number {
  return offsetOf(layoutOf(STRUCT_PAGE, arch), "pp_magic"); // pp_magic = lru.next = compound_head
}

/**
 * `struct page_pool_item` as the NetPool descriptor: netmem_desc itself (`desc`, so every NMDESC_*
 * offset holds), its words under the item's names. Two words of netmem_desc exist only to alias
 * struct page and are free once the descriptor is its own allocation (chosen): `_flags` holds the
 * item's state bits (a memdesc carries its own flags), `_pp_mapping_pad` (page->mapping, never
 * written by page_pool) holds the page back-pointer, or a free item's llist link as v11's
 * pp_netmem/lentry union does. `__aligned(16)` for the type bits: 48 bytes on lp64, 32 on ilp32.
 */
export const STRUCT_PP_MEMDESC_ITEM = struct(
  "page_pool_item",
  [
    m(
      "",
      union("", [
        m("desc", STRUCT_NETMEM_DESC),
        m(
          "",
          struct(
            "",
            STRUCT_NETMEM_DESC.members.map((d) =>
              d.name === "_flags"
                ? m("state", ULONG)
                : d.name === "_pp_mapping_pad"
                  ? m("", union("", [m("page", ptr("struct page")), m("lentry", LLIST_NODE)]))
                  : d,
            ),
          ),
        ),
      ]),
    ),
  ],
  MEMDESC_ALIGN,
);

/** The item block (v11's, one page): `pp` first as v11 has it for `item & PAGE_MASK → block->pp`. */
export const STRUCT_PP_MEMDESC_ITEM_BLOCK = struct("page_pool_item_block", [
  m("pp", ptr("struct page_pool")),
  m("list", LIST_HEAD),
  m("items", array(STRUCT_PP_MEMDESC_ITEM, 0)),
]);

/**
 * `struct page_pool`: the 2026 mainline struct without the xarray (`dma_mapped`), with v11 2/4's
 * item members (hold_items after pages_state_hold_cnt; item_lock, item_blocks, release_items after
 * pages_state_release_cnt; <20250307092356.638242-3-linyunsheng@huawei.com>). No slow items: a
 * block is added when the free lists are empty (chosen: the plan allocates descriptors on demand).
 */
export const STRUCT_PAGE_POOL_MEMDESC = struct(
  "page_pool",
  patchMembers(STRUCT_PAGE_POOL_V6_15, [
    { after: "pages_state_hold_cnt", add: [m("hold_items", LLIST_HEAD)] },
    { after: "pages_state_release_cnt", add: [m("item_lock", SPINLOCK_T), m("item_blocks", LIST_HEAD), m("release_items", LLIST_HEAD)] },
    { replace: "user", with: userStruct({ napiId: false, detachTime: "ktime_t" }) },
  ]),
);

export const POOL_STRUCTS_MEMDESC_ITEM: PoolStructs = {
  kernel: "memdesc-item",
  source:
    "emulator design: mainline types.h (testing-bpf-ci @3cfb31a1feee) minus dma_mapped, plus v11 2/4's item members " +
    "(<20250307092356.638242-3-linyunsheng@huawei.com>); memdesc per kernelnewbies MatthewWilcox/Memdescs",
  pagePool: STRUCT_PAGE_POOL_MEMDESC,
  params: [STRUCT_PAGE_POOL_PARAMS_FAST, STRUCT_PAGE_POOL_PARAMS_SLOW],
  allocStats: STRUCT_PAGE_POOL_ALLOC_STATS,
  recycleStats: STRUCT_PAGE_POOL_RECYCLE_STATS,
  netIov: STRUCT_NET_IOV_MAINLINE,
  netmemDesc: STRUCT_NETMEM_DESC,
  netIovArea: STRUCT_NET_IOV_AREA,
  // `struct page` stays the machine's for `layout page` (the allocator is not memdesc-converted);
  // STRUCT_PAGE_MEMDESC is what compare's structPageBytes measures.
  layoutOwn: [STRUCT_PP_MEMDESC_ITEM, STRUCT_PP_MEMDESC_ITEM_BLOCK],
};

/** Item-block geometry of this build, derived from the declarations. */
export interface MemdescItemGeometry {
  readonly itemsOffset: number;
  readonly itemSize: number;
  readonly itemAlign: number;
  readonly ITEMS_PER_PAGE: number;
  readonly pageSize: number;
}

export function memdescItemGeometry(arch: Arch, pageSize: number): MemdescItemGeometry {
  const block = layoutOf(STRUCT_PP_MEMDESC_ITEM_BLOCK, arch);
  const item = layoutOf(STRUCT_PP_MEMDESC_ITEM, arch);
  const itemsOffset = offsetOf(block, "items");
  return {
    itemsOffset,
    itemSize: item.size,
    itemAlign: item.align,
    ITEMS_PER_PAGE: Math.floor((pageSize - itemsOffset) / item.size),
    pageSize,
  };
}

