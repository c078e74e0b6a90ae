/**
 * Every kernel struct the emulator lays out, declared once.
 *
 * Kernel structs follow include/linux/mm_types.h, include/net/netmem.h, include/net/page_pool/types.h
 * (v6.13–v6.17, and Yunsheng Lin's v11 / v9 patch 2 / RFCv5 item blocks), include/linux/xarray.h and
 * include/linux/ptr_ring.h. `struct page_pool` differs per kernel build and is declared with the
 * builds (src/builds/*_structs.ts). Structs of the emulator's own machine (the boot header, the
 * device) live beside the code that uses them; src/report/layouts.ts lists them all for `ppemu
 * layout`. Offsets are never typed: tests pin the derived values against KERNEL-FACTS.md.
 */
import {
  type RecordType,
  m,
  struct,
  union,
  array,
  ptr,
  prim,
  ULONG,
  UINT,
  INT,
  U32,
  UCHAR,
  ATOMIC_T,
  ATOMIC_LONG_T,
  REFCOUNT_T,
  SPINLOCK_T,
  GFP_T,
  NETMEM_REF,
  LIST_HEAD,
  LLIST_NODE,
  LLIST_HEAD,
  RCU_HEAD,
} from "./ctype.js";

/** The alloc cache size: a NAPI budget of 64 recycled twice over (include/net/page_pool/types.h). */
export const PP_ALLOC_CACHE_SIZE = 128;
/** Pages moved from the ring to the alloc cache in one refill, and pages per slow-path bulk alloc. */
export const PP_ALLOC_CACHE_REFILL = 64;
/** xarray fan-out: `XA_CHUNK_SHIFT` 6 unless CONFIG_BASE_SMALL. */
export const XA_CHUNK_SHIFT = 6;
export const XA_CHUNK_SIZE = 1 << XA_CHUNK_SHIFT;
export const XA_MAX_MARKS = 3;

/**
 * `struct page`, the page_pool view: the anonymous union member used while a page belongs to a
 * page_pool, with the page-cache names of the same words as aliases. `pp` (classic, xarray) and
 * `pp_item` (item-block v11) are the same word. The emulator's ilp32 page stops at `_refcount`
 * (32 bytes, no memcg_data) so that pfn → page stays a shift.
 */
export const STRUCT_PAGE = struct("page", [
  m("flags", ULONG),
  m("pp_magic", ULONG, { alias: "lru.next / compound_head" }),
  m("", union("", [m("pp", ptr("struct page_pool")), m("pp_item", ptr("struct page_pool_item"))]), {
    alias: "lru.prev",
  }),
  m("_pp_mapping_pad", ULONG, { alias: "mapping" }),
  // `unsigned long dma_addr` (not dma_addr_t): 32-bit with 64-bit DMA stores addr >> PAGE_SHIFT.
  m("dma_addr", ULONG, { alias: "index" }),
  m("pp_ref_count", ATOMIC_LONG_T, { alias: "private" }),
  m("", union("", [m("_mapcount", ATOMIC_T), m("page_type", UINT)])),
  m("_refcount", ATOMIC_T),
  m("memcg_data", ULONG, { only: "lp64" }),
]);

/** `struct netmem_desc` (v6.17): the page_pool words of struct page, mirrored. */
export const STRUCT_NETMEM_DESC = struct("netmem_desc", [
  m("_flags", ULONG),
  m("pp_magic", ULONG),
  m("pp", ptr("struct page_pool")),
  m("_pp_mapping_pad", ULONG),
  m("dma_addr", ULONG),
  m("pp_ref_count", ATOMIC_LONG_T),
]);

/**
 * `enum net_iov_type` in v6.17/v6.18: `NET_IOV_MAX = ULONG_MAX` forces it to 8 bytes (the Oct 2025
 * removal of NET_IOV_MAX, in v6.19, makes it 4 bytes plus 4 of padding; same struct size).
 */
const ENUM_NET_IOV_TYPE_V6_17 = prim("enum net_iov_type", "long");

/** `struct net_iov` (v6.17/v6.18): devmem/io_uring buffers that the page_pool treats like pages. */
export const STRUCT_NET_IOV = struct("net_iov", [
  m(
    "",
    union("", [
      m("desc", STRUCT_NETMEM_DESC),
      // The anonymous aliasing struct: netmem_desc's members, declared once (netmem.h asserts this).
      m("", struct("", STRUCT_NETMEM_DESC.members)),
    ]),
  ),
  m("owner", ptr("struct net_iov_area")),
  m("type", ENUM_NET_IOV_TYPE_V6_17),
]);

/** `struct page_pool_item` (v11): 16 bytes on lp64, so 4 low bits of an item pointer are free. */
export const STRUCT_PAGE_POOL_ITEM = struct("page_pool_item", [
  m("state", ULONG),
  m("", union("", [m("pp_netmem", NETMEM_REF), m("lentry", LLIST_NODE)])),
]);

const ITEMS = m("items", array(STRUCT_PAGE_POOL_ITEM, 0));

/** v11: `pp` first so that `netmem_item_block` can read it; flags and ref for slow blocks. */
export const STRUCT_PAGE_POOL_ITEM_BLOCK_V11 = struct("page_pool_item_block", [
  m("pp", ptr("struct page_pool")),
  m("list", LIST_HEAD),
  m("flags", UINT),
  m("ref", REFCOUNT_T),
  ITEMS,
]);

/** v9 patch 2 alone: no flags/ref yet, a 24-byte header. */
export const STRUCT_PAGE_POOL_ITEM_BLOCK_V9P2 = struct("page_pool_item_block", [
  m("pp", ptr("struct page_pool")),
  m("list", LIST_HEAD),
  ITEMS,
]);

/** RFCv5: the list first, then pp, ref, flags. */
export const STRUCT_PAGE_POOL_ITEM_BLOCK_RFCV5 = struct("page_pool_item_block", [
  m("list", LIST_HEAD),
  m("pp", ptr("struct page_pool")),
  m("ref", REFCOUNT_T),
  m("flags", UINT),
  ITEMS,
]);

export type BlockVariant = "v11" | "v9p2" | "rfcv5";
export const BLOCK_VARIANTS: readonly BlockVariant[] = ["v11", "v9p2", "rfcv5"];
export const ITEM_BLOCK_OF: Readonly<Record<BlockVariant, RecordType>> = {
  v11: STRUCT_PAGE_POOL_ITEM_BLOCK_V11,
  v9p2: STRUCT_PAGE_POOL_ITEM_BLOCK_V9P2,
  rfcv5: STRUCT_PAGE_POOL_ITEM_BLOCK_RFCV5,
};

/** `struct netmem_item_block` (v11 netmem.h): only `pp`, at the same offset as the block's. */
export const STRUCT_NETMEM_ITEM_BLOCK = struct("netmem_item_block", [m("pp", ptr("struct page_pool"))]);

/** `struct page_pool_slow_item` (v11). */
export const STRUCT_PAGE_POOL_SLOW_ITEM = struct("page_pool_slow_item", [
  m("block", ptr("struct page_pool_item_block")),
  m("next_to_use", UINT),
]);

/** `struct xa_node`: 576 bytes on lp64, 64 slots. */
export const STRUCT_XA_NODE = struct("xa_node", [
  m("shift", UCHAR),
  m("offset", UCHAR),
  m("count", UCHAR),
  m("nr_values", UCHAR),
  m("parent", ptr("struct xa_node")),
  m("array", ptr("struct xarray")),
  m("", union("", [m("private_list", LIST_HEAD), m("rcu_head", RCU_HEAD)])),
  m("slots", array(ptr("void"), XA_CHUNK_SIZE)),
  m(
    "",
    union("", [
      // XA_MARK_LONGS = BITS_TO_LONGS(XA_CHUNK_SIZE): 1 on lp64, 2 on ilp32; declared per arch.
      m("marks", array(array(ULONG, 1), XA_MAX_MARKS), { only: "lp64" }),
      m("marks", array(array(ULONG, 2), XA_MAX_MARKS), { only: "ilp32" }),
    ]),
  ),
]);

/** `struct xarray`. */
export const STRUCT_XARRAY = struct("xarray", [
  m("xa_lock", SPINLOCK_T),
  m("xa_flags", GFP_T),
  m("xa_head", ptr("void")),
]);

/** `struct ptr_ring`: producer, consumer and shared read-mostly fields on their own cache lines. */
export const STRUCT_PTR_RING = struct("ptr_ring", [
  m("producer", INT, { alignAttr: 64 }),
  m("producer_lock", SPINLOCK_T),
  m("consumer_head", INT, { alignAttr: 64 }),
  m("consumer_tail", INT),
  m("consumer_lock", SPINLOCK_T),
  m("size", INT, { alignAttr: 64 }),
  m("batch", INT),
  m("queue", ptr("void *")),
]);

/** `struct pp_alloc_cache`: the lockless per-NAPI LIFO. */
export const STRUCT_PP_ALLOC_CACHE = struct("pp_alloc_cache", [
  m("count", U32),
  m("cache", array(NETMEM_REF, PP_ALLOC_CACHE_SIZE)),
]);

/**
 * The kernel structs every build shares, by the name a user types. A build's own `struct page_pool`
 * and what it embeds are declared with the build (src/builds/*_structs.ts); item blocks by variant.
 */
export const KERNEL_STRUCTS: readonly RecordType[] = [
  STRUCT_PAGE,
  STRUCT_NETMEM_DESC,
  STRUCT_NET_IOV,
  STRUCT_PAGE_POOL_ITEM,
  STRUCT_PAGE_POOL_ITEM_BLOCK_V11,
  STRUCT_NETMEM_ITEM_BLOCK,
  STRUCT_PAGE_POOL_SLOW_ITEM,
  STRUCT_XA_NODE,
  STRUCT_XARRAY,
  STRUCT_PTR_RING,
  STRUCT_PP_ALLOC_CACHE,
];

export { LIST_HEAD, LLIST_NODE, LLIST_HEAD };
