/**
 * Preemption points: the places in the emulated kernel where the race explorer may switch CPUs,
 * each named after the kernel code it sits in. Off the explorer the hook is null and a point is
 * one load of a module binding and a compare (`if (pointHook !== null) pointHook(P, a, b)`).
 *
 * Besides the switch points, the allocators report frees and allocations (the explorer's
 * KASAN-like shadow marks them) and code about to touch an object reports the access
 * (`ACCESS_*`: the shadow checks it). `a` is an address; `b` what the point says it is (a size, an
 * order, a cache).
 */

export type PointHook = (point: number, a: number, b: number) => void;

/** The explorer's hook, or null (always, outside `ppemu race`). A live binding: read it at each point. */
export let pointHook: PointHook | null = null;

/** Install (or, with null, remove) the hook for this thread. */
export function setPointHook(h: PointHook | null): void {
  pointHook = h;
}

export const enum Point {
  // ---- locks, RCU (every acquire and release is a point) ----
  SPIN_LOCK = 1,
  SPIN_LOCK_CONTENDED,
  SPIN_UNLOCK,
  RCU_READ_LOCK,
  RCU_READ_UNLOCK,
  SYNCHRONIZE_RCU_WAIT,
  // ---- page_pool ----
  RING_AFTER_PRODUCE,
  RECYCLE_STAT_RING,
  RETURN_AFTER_RELEASE_DMA,
  RETURN_AFTER_RELEASE_CNT,
  RELEASE_INFLIGHT,
  BEFORE_FREE_POOL,
  SCRUB_EMPTY_RING,
  DESTROY_CNT_READ,
  /** page_pool_napi_local() said yes: the put goes to the lockless alloc cache. */
  NAPI_LOCAL,
  // ---- item blocks (v11) ----
  ITEM_SCAN_TEST_MAPPED,
  ITEM_SCAN_NEXT_BLOCK,
  ITEM_SLOW_REF_ZERO,
  // ---- xarray (v6.16+) ----
  XA_CMPXCHG_WON,
  XA_SCAN_STEP,
  // ---- the allocators and accesses (the shadow's, no switch) ----
  SLAB_ALLOC,
  SLAB_FREE,
  PAGE_ALLOC,
  PAGE_FREE,
  ACCESS_READ,
  ACCESS_WRITE,
  /** allocate_slab(): a new slab (a = its first object's address, b = order); KASAN poisons it whole. */
  SLAB_NEW,
  /** A write into `struct page` a (page_pool fields) by code that holds no reference to the page. */
  PAGE_STRUCT_WRITE,
  /** A read of `struct page` a's page_pool fields by code that holds no reference to the page. */
  PAGE_STRUCT_READ,
  /** A page went into the lockless alloc cache (a = pool): the CPU must be the pool's NAPI CPU. */
  ALLOC_CACHE_RECYCLED,
}

/** Kernel-code names of the points, for traces (`ptr_ring_produce:unlocked`, …). */
export const POINT_NAMES: Readonly<Record<number, string>> = {
  [Point.SPIN_LOCK]: "spin_lock",
  [Point.SPIN_LOCK_CONTENDED]: "spin_lock:contended",
  [Point.SPIN_UNLOCK]: "spin_unlock",
  [Point.RCU_READ_LOCK]: "rcu_read_lock",
  [Point.RCU_READ_UNLOCK]: "rcu_read_unlock",
  [Point.SYNCHRONIZE_RCU_WAIT]: "synchronize_rcu:wait",
  [Point.RING_AFTER_PRODUCE]: "page_pool_recycle_in_ring:produced",
  [Point.RECYCLE_STAT_RING]: "page_pool_recycle_in_ring:recycle_stat_inc",
  [Point.RETURN_AFTER_RELEASE_DMA]: "page_pool_return_page:released_dma",
  [Point.RETURN_AFTER_RELEASE_CNT]: "page_pool_return_page:release_cnt",
  [Point.RELEASE_INFLIGHT]: "page_pool_release:inflight",
  [Point.BEFORE_FREE_POOL]: "__page_pool_destroy",
  [Point.SCRUB_EMPTY_RING]: "page_pool_scrub:empty_ring",
  [Point.DESTROY_CNT_READ]: "__page_pool_release_page_dma:destroy_cnt",
  [Point.NAPI_LOCAL]: "page_pool_napi_local:true",
  [Point.ITEM_SCAN_TEST_MAPPED]: "page_pool_item_unmap:test_mapped",
  [Point.ITEM_SCAN_NEXT_BLOCK]: "page_pool_item_unmap:next_block",
  [Point.ITEM_SLOW_REF_ZERO]: "page_pool_slow_item_free:ref_zero",
  [Point.XA_CMPXCHG_WON]: "__page_pool_release_page_dma:cmpxchg_won",
  [Point.XA_SCAN_STEP]: "page_pool_scrub:xa_for_each",
  [Point.SLAB_ALLOC]: "kmem_cache_alloc",
  [Point.SLAB_FREE]: "kmem_cache_free",
  [Point.PAGE_ALLOC]: "alloc_pages",
  [Point.PAGE_FREE]: "__free_pages",
  [Point.ACCESS_READ]: "read",
  [Point.ACCESS_WRITE]: "write",
  [Point.SLAB_NEW]: "allocate_slab",
  [Point.PAGE_STRUCT_WRITE]: "struct page write",
  [Point.PAGE_STRUCT_READ]: "struct page read",
  [Point.ALLOC_CACHE_RECYCLED]: "page_pool_recycle_in_cache",
};
