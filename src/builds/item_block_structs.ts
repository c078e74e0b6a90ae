/**
 * `struct page_pool` of Yunsheng Lin's "[PATCH net-next v11 0/4] fix the DMA API misuse problem for
 * page_pool" (7 Mar 2025, Message-ID <20250307092356.638242-1-linyunsheng@huawei.com>; never merged),
 * on x86-64 with CONFIG_PAGE_POOL_STATS=y, CONFIG_SMP=y, 64-byte cache lines, no lock debugging.
 *
 * Base: net-next of early March 2025 (types.h blob 36eb57d73abc, between v6.14 and v6.15-rc1):
 * already the v6.15 struct (frag group `_aligned`, dma_sync_for_cpu, mp_priv + mp_ops, no
 * user.napi_id), see classic_structs.ts STRUCT_PAGE_POOL_V6_15. The patches add:
 *  - 2/4 (<20250307092356.638242-3-linyunsheng@huawei.com>, "page_pool: fix IOMMU crash when driver
 *    has already unbound"): `struct llist_head hold_items` after pages_state_hold_cnt;
 *    `spinlock_t item_lock; struct list_head item_blocks; struct llist_head release_items;` after
 *    pages_state_release_cnt; `u64 destroy_cnt` becomes `unsigned long destroy_cnt` (same size on
 *    lp64); `item_fast_empty` appended to page_pool_alloc_stats;
 *  - 3/4 (<20250307092356.638242-4-linyunsheng@huawei.com>, "page_pool: support unlimited number of
 *    inflight pages"): `struct page_pool_slow_item slow_items` after hold_items;
 *    `item_slow_failed` appended to page_pool_alloc_stats;
 *  - 1/4 and 4/4 do not touch struct page_pool.
 * Read: patches 2/4 and 3/4 in full (search ids 1334420349, 1656338846).
 */
import { ATOMIC_T, INT, LIST_HEAD, LLIST_HEAD, REFCOUNT_T, SPINLOCK_T, U32, ULONG, m, ptr, struct } from "../mem/ctype.js";
import { STRUCT_PAGE_POOL_SLOW_ITEM, STRUCT_PP_ALLOC_CACHE, STRUCT_PTR_RING } from "../mem/structs.js";
import {
  type PoolStructs,
  RECYCLE_STATS_PTR,
  STRUCT_PAGE_POOL_ALLOC_STATS_V11,
  STRUCT_PAGE_POOL_PARAMS_FAST,
  STRUCT_PAGE_POOL_PARAMS_SLOW,
  STRUCT_PAGE_POOL_RECYCLE_STATS,
  fragGroupAligned,
  poolFlagBits,
  releaseMembers,
  userStruct,
} from "./structs_common.js";

export const STRUCT_PAGE_POOL_V11 = struct("page_pool", [
  m("p", STRUCT_PAGE_POOL_PARAMS_FAST),
  m("cpuid", INT),
  m("pages_state_hold_cnt", U32),
  m("hold_items", LLIST_HEAD),
  m("slow_items", STRUCT_PAGE_POOL_SLOW_ITEM),
  ...poolFlagBits(true),
  ...fragGroupAligned(),
  ...releaseMembers(),
  m("alloc_stats", STRUCT_PAGE_POOL_ALLOC_STATS_V11),
  m("xdp_mem_id", U32),
  m("alloc", STRUCT_PP_ALLOC_CACHE, { alignAttr: 64 }), // ____cacheline_aligned_in_smp
  m("ring", STRUCT_PTR_RING),
  m("mp_priv", ptr("void")),
  m("mp_ops", ptr("const struct memory_provider_ops")),
  m("recycle_stats", RECYCLE_STATS_PTR),
  m("pages_state_release_cnt", ATOMIC_T),
  m("item_lock", SPINLOCK_T),
  m("item_blocks", LIST_HEAD),
  m("release_items", LLIST_HEAD),
  m("user_cnt", REFCOUNT_T),
  m("destroy_cnt", ULONG),
  m("slow", STRUCT_PAGE_POOL_PARAMS_SLOW),
  userStruct({ napiId: false, detachTime: "u64" }),
]);

export const POOL_STRUCTS_V11: PoolStructs = {
  kernel: "v11",
  source:
    "<20250307092356.638242-3-linyunsheng@huawei.com> + <20250307092356.638242-4-linyunsheng@huawei.com> " +
    "(v11 2/4, 3/4) on net-next types.h 36eb57d73abc (the v6.15 struct)",
  pagePool: STRUCT_PAGE_POOL_V11,
  params: [STRUCT_PAGE_POOL_PARAMS_FAST, STRUCT_PAGE_POOL_PARAMS_SLOW],
  allocStats: STRUCT_PAGE_POOL_ALLOC_STATS_V11,
  recycleStats: STRUCT_PAGE_POOL_RECYCLE_STATS,
};
