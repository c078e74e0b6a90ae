/**
 * The structs of Yunsheng Lin's "[PATCH net-next v7 0/8] fix the DMA API misuse problem for
 * page_pool" up to patch 6/8 (10 Jan 2025; never merged), x86-64, CONFIG_PAGE_POOL_STATS=y,
 * CONFIG_SMP=y, 64-byte cache lines, no lock debugging.
 *
 * Patch 6/8, "page_pool: use list instead of ptr_ring for ring cache"
 * (Message-ID <20250110130703.3814407-7-linyunsheng@huawei.com>, read in full: search id 11728677184;
 * the RFCv5 6/8 <20241213122739.4050137-7-linyunsheng@huawei.com> is the same code, id 14775891994):
 *  - `struct page_pool_item`: `unsigned long state` becomes `unsigned long encoded_next`, "a pointer
 *    to next item, lower 2 bits is used to indicate the state of current item" (same offset, size);
 *  - new `struct pp_ring_cache { struct page_pool_item *list; atomic_t count; }`;
 *  - `struct ptr_ring ring` becomes `struct pp_ring_cache ring ____cacheline_aligned_in_smp`.
 * Patch 4/8 (<20250110130703.3814407-5-linyunsheng@huawei.com>, id 11737271644) gives the block
 * header v11 kept (pp, list, flags, ref) and, instead of v11's `struct page_pool_slow_item
 * slow_items`, two members after hold_items: `struct page_pool_item_block *item_blk; unsigned int
 * item_blk_idx;`. The alloc stats end in item_fast_empty, item_slow_failed as in v11.
 *
 * Base: net-next of 10 Jan 2025 (the v6.14 cycle). Modelled as v11's base (the v6.15 struct) minus
 * `mp_ops`, which came with Pavel Begunkov's memory-provider hooks in Feb 2025: patch 6/8's context
 * shows `void *mp_priv;` right after `ring` and the v6.12-style "mem-provider init failed" path.
 * Not checked against a tree of that date: whether `user.napi_id` was still there (the v6.15 struct
 * has it removed).
 */
import { ATOMIC_T, UINT, ULONG, m, ptr, struct, union, NETMEM_REF, LLIST_NODE } from "../mem/ctype.js";
import type { PoolStructs } from "./structs_common.js";
import { STRUCT_PAGE_POOL_ALLOC_STATS_V11, STRUCT_PAGE_POOL_PARAMS_FAST, STRUCT_PAGE_POOL_PARAMS_SLOW, STRUCT_PAGE_POOL_RECYCLE_STATS, patchMembers } from "./structs_common.js";
import { STRUCT_PAGE_POOL_V11 } from "./item_block_structs.js";

/** `#define PAGE_POOL_ITEM_USED 0`, `#define PAGE_POOL_ITEM_MAPPED 1` (bit numbers, as page_pool.c has them). */
export const PAGE_POOL_ITEM_USED_BIT = 0;
export const PAGE_POOL_ITEM_MAPPED_BIT = 1;
/** `PAGE_POOL_ITEM_STATE_MASK` = BIT(PAGE_POOL_ITEM_USED) | BIT(PAGE_POOL_ITEM_MAPPED). */
export const PAGE_POOL_ITEM_STATE_MASK = (1 << PAGE_POOL_ITEM_USED_BIT) | (1 << PAGE_POOL_ITEM_MAPPED_BIT);

/** `page_pool_item_set_next()` on the low word: keep the state bits, or in the next item. */
export function encodeNext(encoded: number, next: number): number {
  return ((encoded & PAGE_POOL_ITEM_STATE_MASK) | next) >>> 0;
}

/** `page_pool_item_get_next()` on the low word. */
export function decodeNext(encoded: number): number {
  return (encoded & ~PAGE_POOL_ITEM_STATE_MASK) >>> 0;
}

/** The state bits of `encoded_next`. */
export function decodeState(encoded: number): number {
  return encoded & PAGE_POOL_ITEM_STATE_MASK;
}

/** `____cacheline_aligned_in_smp` on x86-64 (L1_CACHE_BYTES). */
const SMP_CACHE_BYTES = 64;

/** v7 6/8 `struct page_pool_item`: `encoded_next` = next item | state bits (USED bit 0, MAPPED bit 1). */
export const STRUCT_PAGE_POOL_ITEM_V7 = struct("page_pool_item", [
  m("encoded_next", ULONG),
  m("", union("", [m("pp_netmem", NETMEM_REF), m("lentry", LLIST_NODE)])),
]);

/** v7 6/8 `struct pp_ring_cache`: the lock-free list head and the count checked against pool_size. */
export const STRUCT_PP_RING_CACHE = struct("pp_ring_cache", [
  m("list", ptr("struct page_pool_item")),
  m("count", ATOMIC_T),
]);

/** v11's struct with v7's slow-block cursor (4/8) and the ring cache (6/8), without v6.15's mp_ops. */
export const STRUCT_PAGE_POOL_V7 = struct(
  "page_pool",
  patchMembers(STRUCT_PAGE_POOL_V11, [
    { replace: "slow_items", with: m("item_blk", ptr("struct page_pool_item_block")) },
    { after: "item_blk", add: [m("item_blk_idx", UINT)] },
    { replace: "ring", with: m("ring", STRUCT_PP_RING_CACHE, { alignAttr: SMP_CACHE_BYTES }) },
  ]).filter((x) => x.name !== "mp_ops"),
);

export const POOL_STRUCTS_V7: PoolStructs = {
  kernel: "v7-encoded-next",
  source:
    "<20250110130703.3814407-7-linyunsheng@huawei.com> (v7 6/8) + <20250110130703.3814407-5-linyunsheng@huawei.com> " +
    "(v7 4/8) on the v11 struct minus mp_ops (net-next of 10 Jan 2025)",
  pagePool: STRUCT_PAGE_POOL_V7,
  params: [STRUCT_PAGE_POOL_PARAMS_FAST, STRUCT_PAGE_POOL_PARAMS_SLOW],
  allocStats: STRUCT_PAGE_POOL_ALLOC_STATS_V11,
  recycleStats: STRUCT_PAGE_POOL_RECYCLE_STATS,
};
