/**
 * What a kernel build is to the emulator: a tracking layout (how a page names its pool and how
 * in-flight DMA is tracked), the build's own `struct page_pool`, and the behaviour switches at the
 * version boundaries of net/core/page_pool.c. One machine is one build; the build's id, its
 * item-block variant and its switches are written into the machine header at boot, so a worker or a
 * saved image rebuilds the same system from the buffer alone (`attachPpSystem`).
 *
 * A build family (classic, item-block, xarray, …) is one file in this folder: its `Tracking`
 * strategy, its `TrackingLayout` description and its builds, each registered with `registerBuild`.
 * Every list of layouts and builds the tool prints (help texts, report columns, compare rows,
 * explain decoders, the bench catalog) is read from the registry.
 */
import type { Arch, ArchConsts } from "../arch.js";
import type { Machine } from "../mem/machine.js";
import type { Dma } from "../dma/index.js";
import type { FrameClaimer } from "../mem/accounting.js";
import type { BlockVariant } from "../mem/structs.js";
import type { PoolStructs } from "./structs_common.js";
import type { PoolOffsets } from "../pool/pool_offsets.js";

/**
 * The behaviour switches at page_pool's version boundaries (KERNEL-FACTS §6). Each is what one
 * kernel does; the build files cite the commit that changed it.
 */
export interface BuildSwitches {
  /**
   * `page_pool_init()` ring size: `"e2big"` rejects `pool_size > 32768` with -E2BIG and never clamps
   * (≤ v6.17); `"clamp"` uses `min(pool_size, 16384)` and never fails ("page_pool: Clamp pool size to
   * max 16K pages").
   */
  readonly poolSizeRule: "e2big" | "clamp";
  /** `p.order > MAX_PAGE_ORDER` is -EINVAL at init (newest mainline); before, the allocator fails later. */
  readonly orderCheck: boolean;
  /** `page_pool_set_pp_info()` sets `pp_ref_count = 1` (v6.7+); before, `pp_frag_count` is left alone. */
  readonly ppRefCountInit: boolean;
  /**
   * `page_pool_return_page()` order: `"clear-then-count"` (≤ v6.6: unmap, clear pp info,
   * `release_cnt++`) or `"count-then-clear"` (v6.12+, v11, v6.16: unmap, `release_cnt++`, clear pp
   * info, put_page; "it is not safe to reference pool afterwards").
   */
  readonly releaseOrder: "clear-then-count" | "count-then-clear";
  /**
   * Who may recycle straight into the lockless alloc cache:
   * - `"softirq"`: only a caller passing `allow_direct` in softirq (no NAPI tie: ≤ v6.4);
   * - `"napi_pp_put_page"`: as above, and the skb free path (`napi_pp_put_page`) promotes
   *   `allow_direct` when `pp->p.napi->list_owner` is this CPU (v6.5 … v6.8);
   * - `"cpuid"`: as above, and `pool->cpuid` counts too (v6.9);
   * - `"napi_local"`: every put promotes through `page_pool_napi_local()` (v6.10+);
   * - `"napi_local_rt"`: the same, never on PREEMPT_RT (32471b2f481d, v6.16; the emulated kernel is
   *   not RT, so this differs only in what `explain`/docs say).
   */
  readonly napiLocality: "softirq" | "napi_pp_put_page" | "cpuid" | "napi_local" | "napi_local_rt";
  /**
   * What `page_pool_destroy()` does to the NAPI tie: `"none"` (no `p.napi`), `"unlink"`
   * (`page_pool_unlink_napi()`, WARNs unless the NAPI is disabled: v6.5 … v6.8) or `"disable"`
   * (`page_pool_disable_direct_recycling()`: `cpuid = -1`, `napi = NULL`; v6.9+).
   */
  readonly destroyNapi: "none" | "unlink" | "disable";
  /**
   * `page_pool_disable_direct_recycling()` also sets `cpuid = -1` ("page_pool: disable direct
   * recycling based on pool->cpuid on destroy"; in the v6.14-era tree, being backported to older
   * stable series in 2026).
   */
  readonly destroyResetsCpuid: boolean;
  /**
   * The stalled-shutdown warning: `"every-pool"` prints `"%s() stalled pool shutdown %d inflight %d
   * sec"` for every pool (≤ v6.7); `"netdev-less"` prints `"… shutdown: id %u, %d inflight %d sec"`
   * only for pools without a netdev (v6.8+: a netdev's pools move to loopback at unregister).
   */
  readonly stallWarning: "every-pool" | "netdev-less";
  /** The retry stops on a negative in-flight count too (43130d02baa1, v6.15); before, it reschedules forever. */
  readonly negativeRetryStops: boolean;
  /** Syncs for device only when `dma_dev_need_sync(dev)` (v6.11+); before, every sync is issued. */
  readonly syncNeedsDevice: boolean;
  /** `page_pool_release()` takes and drops the ring's producer lock after computing in-flight (271683bb2cf3, v6.16). */
  readonly releaseProducerBarrier: boolean;
  /**
   * `page_pool_dma_sync_for_device()` re-tests `dma_sync` inside `rcu_read_lock()`, paired with the
   * scrub's `synchronize_net()` (ee62ce7a1d90, v6.16, with the xarray tracking).
   */
  readonly syncUnderRcu: boolean;
  /** Networking netlink ids and `user.id` exist (v6.8+): the pool's id is what the warning prints. */
  readonly userId: boolean;
  /**
   * `PP_FLAG_ALL`: the flags `page_pool_init()` accepts (others are -EINVAL). v6.1/v6.6: DMA_MAP,
   * DMA_SYNC_DEV, PAGE_FRAG (bit 2; the frag API is not modelled) = 0x7; v6.12+: DMA_MAP,
   * DMA_SYNC_DEV, SYSTEM_POOL (bit 2 again, from v6.9), ALLOW_UNREADABLE_NETMEM = 0xf.
   */
  readonly ppFlagAll: number;
}

/** What a strategy is handed: the machine, its DMA model, the build and the pool offsets it derives. */
export interface TrackingContext {
  readonly m: Machine;
  readonly dma: Dma;
  readonly build: KernelBuild;
  readonly pool: PoolOffsets;
}

/**
 * A tracking strategy: everything that differs between layouts. The mechanism (src/pool/page_pool.ts)
 * calls these at the points where the kernel versions differ; each is allocation-free.
 */
export interface Tracking {
  readonly layout: TrackingLayout;
  /**
   * Sync for device only after a successful recycle into the cache or ring (v11 patch 4/4, "skip dma
   * sync operation for inflight pages"); otherwise before it, as page_pool.c does up to v6.16.
   */
  readonly syncAfterRecycle: boolean;
  /**
   * The pool's recycle ring when the layout replaces `struct ptr_ring` (Yunsheng Lin's v7 6/8 "use
   * list instead of ptr_ring for ring cache"); absent or null: the ptr_ring, inline in page_pool.ts.
   */
  readonly ring?: RingOps | null;
  /**
   * `netmem_to_nmdesc()` when netmem_desc no longer overlays struct page (memdesc-item: the page's
   * item): where the mechanism reads and writes the page's pp_magic, pp, dma_addr and pp_ref_count
   * (src/pool/nmdesc.ts). Absent: the descriptor is the page itself (every build up to mainline).
   */
  nmdesc?(page: number): number;
  /** Pool init: allocate the strategy's structures. 0 or a negative errno. */
  init(pool: number): number;
  /**
   * `page_pool_set_pp_info()`: a page enters the pool (before its DMA map). Writes `pp_magic`,
   * the pool back-pointer (or item), `pp_ref_count = 1` where the build does. False when no
   * tracking slot could be had.
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
   * Does the pool still own the page's DMA mapping, i.e. will the page's return unmap it? (classic:
   * `dma_addr != 0`; item-block: the item's MAPPED bit; xarray: the id is in `dma_mapped`.)
   */
  ownsMapping(pool: number, page: number): boolean;
  /**
   * Destroy-time work, run from the first scrub of every pool (`!pool->destroy_cnt++`): unmap what
   * the layout can still reach (each strategy checks `pool->dma_map` itself), release reserves.
   */
  onFirstScrub(pool: number): void;
  /** `page_pool_destroy()` found pages in flight after the first release (before the retry). */
  onDestroyInflight(pool: number): void;
  /** Final teardown in `__page_pool_destroy()`: free the strategy's structures. */
  uninit(pool: number): void;
  /** What this pool's tracking structures hold now, measured from its allocations. */
  usage(pool: number): TrackingUsage;
  /** The layout's own netlink page-pool attributes after the netdev family's (v11: item_mem_*), if any. */
  nlFill?(pool: number): Readonly<Record<string, number>>;
  /** Frame accounting for memory the layout owns (item blocks); null when it owns none of its own. */
  claimer(): FrameClaimer | null;
  /**
   * `explain` of an address inside the layout's own memory (an item block): lines to print, or null
   * when the address is none of the layout's.
   */
  describeAddress(addr: number): readonly string[] | null;
  /** `explain` of a page_pool page: the layout's view of it (its item, its DMA index), one line each. */
  describePage(page: number): readonly string[];
}

/**
 * A replacement for the pool's ptr_ring, called by the mechanism where it calls ptr_ring. Every
 * operation acts on `pool`'s own member `ring` in the buffer and is allocation-free.
 */
export interface RingOps {
  /** `page_pool_init()`: set the ring up in place (no queue to allocate). 0 or a negative errno. */
  init(pool: number): number;
  /** `__page_pool_recycle_in_ring()`: false when full (the caller counts `ring_full`). */
  produce(pool: number, page: number): boolean;
  /** `page_pool_consume_ring()`: a page, or 0 when empty. Any CPU. */
  consume(pool: number): number;
  /** The refill's quick test: `!READ_ONCE(pool->ring.list)`. */
  empty(pool: number): boolean;
  /** Most pages `produce` accepts from empty (encoded_next: `count > pool_size` lets one more in). */
  capacity(pool: number): number;
  /** Pages in the ring, head first (reports, accounting; not the hot path). */
  forEach(pool: number, cb: (page: number) => void): void;
  /** `page_pool_uninit()`: nothing to free in the patch; the emulator checks the ring is empty. */
  uninit(pool: number): void;
}

/** A pool's tracking memory, for `compare`. */
export interface TrackingUsage {
  /** Pages the structures track now (items attached, xa entries). */
  readonly trackedPages: number;
  /** Bytes of tracking memory (item blocks × PAGE_SIZE, xa nodes × 576). */
  readonly bytes: number;
  /** Units and their count, e.g. `{ "item blocks (fast)": 11, "item blocks (slow)": 0 }`. */
  readonly units: Readonly<Record<string, number>>;
  /** Tracking slots per unit of memory (ITEMS_PER_PAGE; 64 slots per xa_node), or null. */
  readonly slotsPerUnit: number | null;
}

/** A tracking layout: one per build family. */
export interface TrackingLayout {
  /** The name a user types: `--layout classic`. */
  readonly name: string;
  /** One line: what a page's pool word holds and how in-flight DMA is tracked. */
  readonly summary: string;
  /** Whether the layout tracks in-flight DMA at all (classic does not: the bug). */
  readonly tracksInflight: boolean;
  /** The page_pool words of struct page as this layout uses them (report: struct page section). */
  readonly pageWords: Readonly<Record<"pp_magic" | "pp" | "dma_addr" | "pp_ref_count" | "_pp_mapping_pad" | "_refcount", string>>;
  /**
   * What pp_magic holds on lp64, as the report's example line: the value for DMA id 1 (xarray), or
   * PP_SIGNATURE. Default: from `pageWords.pp_magic`; a layout whose word differs says it here.
   */
  readonly ppMagicExample?: (c: ArchConsts) => string;
  /** How `page → pool` is computed, in C. */
  readonly poolOfText: string;
  /** What happens to the DMA mappings of in-flight pages at destroy. */
  readonly atDestroy: string;
  /** The structure that tracks in-flight pages ("none" for classic). */
  readonly inflightTracking: string;
  /** Tracking bytes per tracked page on paper (full blocks / full nodes), for an arch. */
  paperBytesPerPage(arch: Arch): string;
  /** Where the layout stands upstream ("merged, v6.16", "posted v5–v11, not merged"). */
  readonly status: string;
  /** How this build tests "is this a page_pool page" (page_pool_page_is_pp() / netmem_is_pp()), in C. */
  membershipText(b: KernelBuild): string;
  /** Can a pool page be vm_insert_page()d (TCP zerocopy receive / tcp_mmap)? false when it carries a page type. */
  readonly userMappable: boolean;
  /** sizeof(struct page) in this layout's world when it is not the machine's 64 (memdesc: 8). */
  structPageBytes?(arch: Arch): number;
  /** Build the strategy for one machine. */
  make(ctx: TrackingContext): Tracking;
}

/** One kernel build. */
export interface KernelBuild {
  /** The name a user types: `--kernel v6.16`. */
  readonly name: string;
  /** Stored in the machine header: stable, never reused. */
  readonly id: number;
  readonly layout: TrackingLayout;
  /** The default build of its layout (what `--layout L` means); one per layout. */
  readonly isLayoutDefault: boolean;
  /** One line: what this kernel is (tag, series, base). */
  readonly summary: string;
  /** The item-block header variant (item-block builds only). */
  readonly variant?: BlockVariant;
  /** `struct page_pool` and what it embeds, as this kernel declares them. */
  readonly structs: PoolStructs;
  readonly switches: BuildSwitches;
  /** `page_pool_page_is_pp()` mask as this kernel has it: `{hi, lo}` of `~0x3UL` or PP_MAGIC_MASK. */
  readonly ppMagicMask: { readonly hi: number; readonly lo: number };
  /** Switches only this build's layout reads (e.g. the xarray scrub), by name. */
  readonly layoutSwitches?: Readonly<Record<string, string | boolean>>;
  /** Kernel anchors for `bench` (ns per element, from the series' own posts), when there are any. */
  readonly benchAnchorNs?: Readonly<Record<string, number>>;
  /**
   * List this build just before that build of the same layout (registered earlier, e.g. from another
   * file): builds list oldest first within a layout, whichever file registers them.
   */
  readonly listBefore?: string;
}
