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
import { LIST_HEAD, LLIST_HEAD, SPINLOCK_T, ULONG, m, struct } from "../mem/ctype.js";
import { STRUCT_PAGE_POOL_SLOW_ITEM } from "../mem/structs.js";
import {
  type PoolStructs,
  STRUCT_PAGE_POOL_ALLOC_STATS_V11,
  STRUCT_PAGE_POOL_PARAMS_FAST,
  STRUCT_PAGE_POOL_PARAMS_SLOW,
  STRUCT_PAGE_POOL_RECYCLE_STATS,
  patchMembers,
} from "./structs_common.js";
import { STRUCT_PAGE_POOL_V6_15 } from "./classic_structs.js";
import { STRUCT_NET_IOV_AREA, STRUCT_NET_IOV_V11 } from "./netmem_desc_structs.js";

/** The series' base (net-next of 7 Mar 2025 = the v6.15 struct) with the members patches 2/4 and 3/4 add. */
export const STRUCT_PAGE_POOL_V11 = struct(
  "page_pool",
  patchMembers(STRUCT_PAGE_POOL_V6_15, [
    { after: "pages_state_hold_cnt", add: [m("hold_items", LLIST_HEAD), m("slow_items", STRUCT_PAGE_POOL_SLOW_ITEM)] },
    { replace: "alloc_stats", with: m("alloc_stats", STRUCT_PAGE_POOL_ALLOC_STATS_V11) },
    { after: "pages_state_release_cnt", add: [m("item_lock", SPINLOCK_T), m("item_blocks", LIST_HEAD), m("release_items", LLIST_HEAD)] },
    { replace: "destroy_cnt", with: m("destroy_cnt", ULONG) },
  ]),
);

export const POOL_STRUCTS_V11: PoolStructs = {
  kernel: "v11",
  source:
    "<20250307092356.638242-3-linyunsheng@huawei.com> + <20250307092356.638242-4-linyunsheng@huawei.com> " +
    "(v11 2/4, 3/4) on net-next types.h 36eb57d73abc (the v6.15 struct)",
  pagePool: STRUCT_PAGE_POOL_V11,
  params: [STRUCT_PAGE_POOL_PARAMS_FAST, STRUCT_PAGE_POOL_PARAMS_SLOW],
  allocStats: STRUCT_PAGE_POOL_ALLOC_STATS_V11,
  recycleStats: STRUCT_PAGE_POOL_RECYCLE_STATS,
  netIov: STRUCT_NET_IOV_V11,
  netIovArea: STRUCT_NET_IOV_AREA,
};
