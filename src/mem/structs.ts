/**
 * Every kernel struct the emulator lays out, declared once.
 *
 * Kernel structs follow include/linux/mm_types.h, include/net/netmem.h, include/net/page_pool/types.h
 * (v6.13–v6.17, and Yunsheng Lin's v11 / v9 patch 2 / RFCv5 item blocks), include/linux/xarray.h and
 * include/linux/ptr_ring.h. Structs of the emulator's own machine (the boot header, the device) live
 * beside the code that uses them, but are registered in `ALL_STRUCTS` here so `ppemu layout` shows
 * everything. Offsets are never typed: tests pin the derived values against KERNEL-FACTS.md.
 */
import {
  type RecordType,
  m,
  struct,
  union,
  array,
  ptr,
  ULONG,
  UINT,
  INT,
  U32,
  U64T,
  UCHAR,
  ATOMIC_T,
  ATOMIC_LONG_T,
  REFCOUNT_T,
  SPINLOCK_T,
  GFP_T,
  NETMEM_REF,
  DMA_ADDR_T,
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
  m("dma_addr", DMA_ADDR_T, { alias: "index" }),
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

/** `struct net_iov` (v6.17): devmem/io_uring buffers that the page_pool treats like pages. */
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
  m("type", UINT),
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

/** `struct page_pool_params` (the fast and slow halves merged; only what the emulator uses). */
export const STRUCT_PAGE_POOL_PARAMS = struct("page_pool_params", [
  m("order", UINT),
  m("pool_size", UINT),
  m("nid", INT),
  m("flags", UINT),
  m("dev", ptr("struct device")),
  m("dma_dir", UINT),
  m("max_len", UINT),
  m("offset", UINT),
  m("napi_cpu", INT),
]);

/** `struct page_pool_alloc_stats` with v11's item counters. */
export const STRUCT_PAGE_POOL_ALLOC_STATS = struct("page_pool_alloc_stats", [
  m("fast", U64T),
  m("slow", U64T),
  m("slow_high_order", U64T),
  m("empty", U64T),
  m("refill", U64T),
  m("waive", U64T),
  m("item_fast_empty", U64T),
  m("item_slow_failed", U64T),
]);

/** `struct page_pool_recycle_stats`. */
export const STRUCT_PAGE_POOL_RECYCLE_STATS = struct("page_pool_recycle_stats", [
  m("cached", U64T),
  m("cache_full", U64T),
  m("ring", U64T),
  m("ring_full", U64T),
  m("released_refcnt", U64T),
]);

/**
 * The emulator's `struct page_pool`: the kernel's fields that page_pool.c touches, plus the state of
 * every tracking strategy (a pool uses only its own strategy's part). All of it lives in the buffer.
 * `list` links the machine's pools (for timers, accounting and `explain`); `defer_*` are virtual-clock
 * milliseconds; `user_id` is the id netlink and the "stalled pool shutdown" warning print.
 */
export const STRUCT_PAGE_POOL = struct("page_pool", [
  m("p", STRUCT_PAGE_POOL_PARAMS),
  m("list", LIST_HEAD),
  m("user_id", U32),
  m("dma_map", UINT),
  m("dma_sync", UINT),
  m("cpuid", INT),
  m("pages_state_hold_cnt", U32),
  m("alloc", STRUCT_PP_ALLOC_CACHE, { alignAttr: 64 }),
  m("alloc_stats", STRUCT_PAGE_POOL_ALLOC_STATS),
  m("ring", STRUCT_PTR_RING),
  m("recycle_stats", STRUCT_PAGE_POOL_RECYCLE_STATS),
  m("pages_state_release_cnt", ATOMIC_T, { alignAttr: 64 }),
  m("user_cnt", REFCOUNT_T),
  m("destroy_cnt", U64T),
  m("defer_start", U64T),
  m("defer_warn", U64T),
  /** Next page_pool_release_retry() run (0: none scheduled). */
  m("defer_next", U64T),
  // item-block (v11)
  m("hold_items", ptr("struct page_pool_item")),
  m("release_items", LLIST_HEAD),
  m("item_blocks", LIST_HEAD),
  m("item_lock", SPINLOCK_T),
  m("slow_items", STRUCT_PAGE_POOL_SLOW_ITEM),
  // xarray (v6.16)
  m("dma_mapped", STRUCT_XARRAY),
]);

/** Every struct `ppemu layout` knows, by the name a user types. Item blocks by variant elsewhere. */
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
  STRUCT_PAGE_POOL_PARAMS,
  STRUCT_PAGE_POOL_ALLOC_STATS,
  STRUCT_PAGE_POOL_RECYCLE_STATS,
  STRUCT_PAGE_POOL,
];

export { LIST_HEAD, LLIST_NODE, LLIST_HEAD };
