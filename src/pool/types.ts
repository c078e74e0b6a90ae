/**
 * What the page_pool mechanism and its tracking strategies share: `struct page_pool` offsets (derived
 * from the one declaration in src/mem/structs.ts), the kernel's flags and limits, the layout ids a
 * machine is built with, and the `Tracking` interface a layout implements.
 */
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf } from "../mem/ctype.js";
import { STRUCT_PAGE_POOL, PP_ALLOC_CACHE_SIZE, PP_ALLOC_CACHE_REFILL } from "../mem/structs.js";

export { PP_ALLOC_CACHE_SIZE, PP_ALLOC_CACHE_REFILL };

export const POOL_LAYOUT = layoutOf(STRUCT_PAGE_POOL, LP64);
const o = (path: string) => offsetOf(POOL_LAYOUT, path);

export const PP_ORDER = o("p.order");
export const PP_POOL_SIZE = o("p.pool_size");
export const PP_NID = o("p.nid");
export const PP_FLAGS = o("p.flags");
export const PP_DEV = o("p.dev");
export const PP_DMA_DIR = o("p.dma_dir");
export const PP_MAX_LEN = o("p.max_len");
export const PP_OFFSET = o("p.offset");
export const PP_NAPI_CPU = o("p.napi_cpu");
export const PP_LIST = o("list");
export const PP_USER_ID = o("user_id");
export const PP_DMA_MAP = o("dma_map");
export const PP_DMA_SYNC = o("dma_sync");
export const PP_CPUID = o("cpuid");
export const PP_HOLD_CNT = o("pages_state_hold_cnt");
export const PP_ALLOC_COUNT = o("alloc.count");
export const PP_ALLOC_CACHE = o("alloc.cache");
export const PP_RING = o("ring");
export const PP_RELEASE_CNT = o("pages_state_release_cnt");
export const PP_USER_CNT = o("user_cnt");
export const PP_DESTROY_CNT = o("destroy_cnt");
export const PP_DEFER_START = o("defer_start");
export const PP_DEFER_WARN = o("defer_warn");
export const PP_DEFER_NEXT = o("defer_next");
export const PP_HOLD_ITEMS = o("hold_items");
export const PP_RELEASE_ITEMS = o("release_items");
export const PP_ITEM_BLOCKS = o("item_blocks");
export const PP_ITEM_LOCK = o("item_lock");
export const PP_SLOW_ITEMS = o("slow_items");
export const PP_SLOW_BLOCK = o("slow_items.block");
export const PP_SLOW_NEXT_TO_USE = o("slow_items.next_to_use");
export const PP_DMA_MAPPED = o("dma_mapped");

/** Alloc stats (u64 each), by kernel name. */
export const PP_STAT_FAST = o("alloc_stats.fast");
export const PP_STAT_SLOW = o("alloc_stats.slow");
export const PP_STAT_SLOW_HIGH_ORDER = o("alloc_stats.slow_high_order");
export const PP_STAT_EMPTY = o("alloc_stats.empty");
export const PP_STAT_REFILL = o("alloc_stats.refill");
export const PP_STAT_WAIVE = o("alloc_stats.waive");
export const PP_STAT_ITEM_FAST_EMPTY = o("alloc_stats.item_fast_empty");
export const PP_STAT_ITEM_SLOW_FAILED = o("alloc_stats.item_slow_failed");
/** Recycle stats (u64 each). */
export const PP_STAT_CACHED = o("recycle_stats.cached");
export const PP_STAT_CACHE_FULL = o("recycle_stats.cache_full");
export const PP_STAT_RING = o("recycle_stats.ring");
export const PP_STAT_RING_FULL = o("recycle_stats.ring_full");
export const PP_STAT_RELEASED_REFCNT = o("recycle_stats.released_refcnt");

export const ALLOC_STAT_NAMES = ["fast", "slow", "slow_high_order", "empty", "refill", "waive", "item_fast_empty", "item_slow_failed"] as const;
export const RECYCLE_STAT_NAMES = ["cached", "cache_full", "ring", "ring_full", "released_refcnt"] as const;

/** include/net/page_pool/types.h */
export const PP_FLAG_DMA_MAP = 1 << 0;
export const PP_FLAG_DMA_SYNC_DEV = 1 << 1;
export const PP_FLAG_SYSTEM_POOL = 1 << 2;
export const PP_FLAG_ALLOW_UNREADABLE_NETMEM = 1 << 3;
export const PP_FLAG_ALL = PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV | PP_FLAG_SYSTEM_POOL | PP_FLAG_ALLOW_UNREADABLE_NETMEM;

/** pool_size limits: 5.15 rejects > 32768 with -E2BIG; the ring itself is clamped to 16384 as today. */
export const PP_POOL_SIZE_MAX = 32768;
export const PP_RING_SIZE_MAX = 16384;
export const PP_DEFAULT_POOL_SIZE = 1024;

/** `DEFER_TIME` (msecs_to_jiffies(1000)) and `DEFER_WARN_INTERVAL` (60 * HZ), in virtual ms. */
export const DEFER_TIME_MS = 1000;
export const DEFER_WARN_INTERVAL_MS = 60_000;

export const EINVAL = 22;
export const ENOMEM = 12;
export const E2BIG = 7;
export const ENOSPC = 28;

/** The kernel build a machine emulates: how a page names its pool and how DMA is tracked. */
export type LayoutName = "classic" | "item-block" | "xarray";
export const LAYOUT_NAMES: readonly LayoutName[] = ["classic", "item-block", "xarray"];
export const LAYOUT_ID: Readonly<Record<LayoutName, number>> = { classic: 0, "item-block": 1, xarray: 2 };

/**
 * A tracking strategy: everything that differs between layouts. The mechanism (src/pool/page_pool.ts)
 * calls these at the points where the kernel versions differ; each is allocation-free.
 */
export interface Tracking {
  readonly name: LayoutName;
  /**
   * Sync for device only after a successful recycle into the cache or ring (v11 patch 4/4, "skip dma
   * sync operation for inflight pages"); otherwise before it, as page_pool.c does up to v6.16.
   */
  readonly syncAfterRecycle: boolean;
  /** Pool init: allocate the strategy's structures. 0 or a negative errno. */
  init(pool: number): number;
  /**
   * `page_pool_set_pp_info()`: a page enters the pool (before its DMA map). Writes `pp_magic`,
   * the pool back-pointer (or item), `pp_ref_count = 1`. False when no tracking slot could be had.
   */
  setPpInfo(pool: number, page: number): boolean;
  /** `page_pool_clear_pp_info()`: the page leaves the pool; release its tracking slot. */
  clearPpInfo(pool: number, page: number): void;
  /** After a successful `dma_map_page`: register the mapping. False = fail the allocation. */
  onMapped(pool: number, page: number): boolean;
  /**
   * `__page_pool_release_page_dma()`: the page leaves the pool; unmap it if this layout says the
   * pool still owns its mapping (classic always; item-block/xarray only if destroy did not).
   */
  releaseDma(pool: number, page: number): void;
  /** `page_pool_page_is_pp()`: does `pp_magic` carry the signature under this build's mask? */
  isPpPage(page: number): boolean;
  /** The pool a page names (`page->pp`, or `pp_item & PAGE_MASK → block->pp`). */
  poolOf(page: number): number;
  /**
   * Destroy-time work, run from the first scrub of every pool (`!pool->destroy_cnt++`): unmap what
   * the layout can still reach (each strategy checks `pool->dma_map` itself), release reserves.
   */
  onFirstScrub(pool: number): void;
  /** `page_pool_destroy()` found pages in flight after the first release (before the retry). */
  onDestroyInflight(pool: number): void;
  /** Final teardown in `__page_pool_destroy()`: free the strategy's structures. */
  uninit(pool: number): void;
  /** Bytes of tracking memory this pool holds now (measured from its allocations). */
  trackingBytes(pool: number): number;
}
