/**
 * The classic layout (v5.14 … v6.15 mainline; later in some stable trees): `page->pp` points from a
 * page to its pool, `pp_magic` holds PP_SIGNATURE, and nothing points from the pool to its pages. A
 * page returned after `page_pool_destroy()` is unmapped against whatever device the pool names —
 * after a driver unbind, that is THE BUG this emulator exists to show.
 *
 *   struct page                               struct page_pool
 *   ┌──────────────┬───────────────────────┐  ┌───────────────┐
 *   │ pp_magic   8 │ 0xdead000000000040    │  │ alloc cache   │   no list of in-flight pages:
 *   │ pp        16 │ ─────────────────────────▶│ ring          │   destroy cannot reach them
 *   │ dma_addr  32 │ iova                  │  │ p.dev ──▶ dev │
 *   └──────────────┴───────────────────────┘  └───────────────┘
 *
 * Builds: v6.1, v6.6, v6.12 and v6.15 (mainline tags; the version boundaries are cited per switch).
 */
import type { PhysMem } from "../mem/physmem.js";
import { PAGE_DMA_ADDR } from "../mem/page.js";
import type { Dma } from "../dma/index.js";
import { LP64, archConsts } from "../arch.js";
import { ppDmaUnmap, poolDmaMap } from "../pool/pp_dma.js";
import { setPpInfoPp, clearPpInfoPp, isPpPageMasked, poolOfPp } from "../pool/pp_info.js";
import type { PoolOffsets } from "../pool/pool_offsets.js";
import { registerBuild } from "./registry.js";
import type { BuildSwitches, KernelBuild, Tracking, TrackingContext, TrackingLayout, TrackingUsage } from "./types.js";
import { POOL_STRUCTS_V6_1, POOL_STRUCTS_V6_6, POOL_STRUCTS_V6_12, POOL_STRUCTS_V6_15 } from "./classic_structs.js";

/** Before v6.16 `page_pool_page_is_pp()` masks with `~0x3UL`: everything but PageTail and pfmemalloc. */
export const CLASSIC_PP_MAGIC_MASK = archConsts(LP64).PP_MAGIC_MASK_CLASSIC;

/**
 * `page_pool_page_is_pp()` in C with the build's mask: `~0x3UL` before v6.16, `PP_MAGIC_MASK`
 * (the DMA-index bits excluded too, ee62ce7a1d90) from v6.16. Shared by every pp_magic layout.
 */
export function ppMagicMembershipText(b: KernelBuild): string {
  const classic = b.ppMagicMask.hi === CLASSIC_PP_MAGIC_MASK.hi && b.ppMagicMask.lo === CLASSIC_PP_MAGIC_MASK.lo;
  return `(page->pp_magic & ${classic ? "~0x3UL" : "PP_MAGIC_MASK"}) == PP_SIGNATURE`;
}

const NO_USAGE: TrackingUsage = { trackedPages: 0, bytes: 0, units: {}, slotsPerUnit: null };

export class ClassicTracking implements Tracking {
  readonly syncAfterRecycle = false;
  private readonly mem: PhysMem;
  private readonly u32: Uint32Array;
  private readonly dma: Dma;
  private readonly o: PoolOffsets;
  private readonly refInit: boolean;
  private readonly maskHi: number;
  private readonly maskLo: number;

  constructor(
    readonly layout: TrackingLayout,
    ctx: TrackingContext,
  ) {
    this.mem = ctx.m.mem;
    this.u32 = ctx.m.mem.u32;
    this.dma = ctx.dma;
    this.o = ctx.pool;
    this.refInit = ctx.build.switches.ppRefCountInit;
    this.maskHi = ctx.build.ppMagicMask.hi;
    this.maskLo = ctx.build.ppMagicMask.lo;
  }

  init(_pool: number): number {
    return 0;
  }

  setPpInfo(pool: number, page: number): boolean {
    setPpInfoPp(this.u32, pool, page, this.refInit);
    return true;
  }

  clearPpInfo(_pool: number, page: number): void {
    clearPpInfoPp(this.u32, page);
  }

  onMapped(_pool: number, _page: number): boolean {
    return true;
  }

  releaseDma(pool: number, page: number): void {
    if (!poolDmaMap(this.u32, this.o, pool)) return;
    ppDmaUnmap(this.mem, this.dma, this.o, pool, page);
  }

  isPpPage(page: number): boolean {
    return isPpPageMasked(this.u32, page, this.maskHi, this.maskLo);
  }

  poolOf(page: number): number {
    return poolOfPp(this.u32, page);
  }

  ownsMapping(pool: number, page: number): boolean {
    return poolDmaMap(this.u32, this.o, pool) && this.u32[(page + PAGE_DMA_ADDR) >>> 2] !== 0;
  }

  onFirstScrub(_pool: number): void {
    // Nothing: the classic pool cannot find its in-flight pages.
  }

  onDestroyInflight(_pool: number): void {
    // Nothing either: the in-flight pages stay mapped, to be unmapped whenever they come back.
  }

  uninit(_pool: number): void {}

  usage(_pool: number): TrackingUsage {
    return NO_USAGE;
  }

  claimer(): null {
    return null;
  }

  describeAddress(_addr: number): null {
    return null;
  }

  describePage(_page: number): readonly string[] {
    return [];
  }
}

export const CLASSIC: TrackingLayout = {
  name: "classic",
  summary: "page->pp names the pool; nothing tracks in-flight pages (the bug)",
  tracksInflight: false,
  pageWords: {
    pp_magic: "PP_SIGNATURE",
    pp: "pp: the pool",
    _pp_mapping_pad: "never written",
    dma_addr: "DMA address, 0 = unmapped",
    pp_ref_count: "page_pool refs, 1 after alloc (v6.7+)",
    _refcount: "recycled only while 1",
  },
  poolOfText: "page->pp",
  atDestroy: "left to late returns:\nunmapped after unbind",
  inflightTracking: "none",
  paperBytesPerPage: () => "0",
  status: "v5.14 – v6.15 mainline",
  membershipText: ppMagicMembershipText,
  userMappable: true,
  make: (ctx) => new ClassicTracking(CLASSIC, ctx),
};

/**
 * v6.12 … v6.15 share these; v6.1 and v6.6 differ where noted. Each switch's boundary commit is in
 * src/builds/types.ts' `BuildSwitches` docs and, where a build flips it, beside the build.
 */
const V6_12_SWITCHES: BuildSwitches = {
  poolSizeRule: "e2big",
  orderCheck: false,
  ppRefCountInit: true,
  releaseOrder: "count-then-clear",
  napiLocality: "napi_local",
  destroyNapi: "disable",
  stallWarning: "netdev-less",
  negativeRetryStops: false,
  syncNeedsDevice: true,
  releaseProducerBarrier: false,
  syncUnderRcu: false,
  userId: true,
  destroyResetsCpuid: false,
  ppFlagAll: 0xf,
};

registerBuild({
  name: "v6.1",
  id: 1,
  layout: CLASSIC,
  isLayoutDefault: false,
  summary: "v6.1 (LTS): classic; no NAPI tie, no pool ids, the retry reschedules forever on a negative count",
  structs: POOL_STRUCTS_V6_1,
  ppMagicMask: CLASSIC_PP_MAGIC_MASK,
  switches: {
    ...V6_12_SWITCHES,
    ppRefCountInit: false,
    releaseOrder: "clear-then-count",
    napiLocality: "softirq",
    destroyNapi: "none",
    stallWarning: "every-pool",
    syncNeedsDevice: false,
    userId: false,
    ppFlagAll: 0x7,
  },
});

registerBuild({
  name: "v6.6",
  id: 2,
  layout: CLASSIC,
  isLayoutDefault: false,
  summary: "v6.6 (LTS): classic; NAPI locality only in napi_pp_put_page(), page_pool_unlink_napi() at destroy",
  structs: POOL_STRUCTS_V6_6,
  ppMagicMask: CLASSIC_PP_MAGIC_MASK,
  switches: {
    ...V6_12_SWITCHES,
    ppRefCountInit: false,
    releaseOrder: "clear-then-count",
    napiLocality: "napi_pp_put_page",
    destroyNapi: "unlink",
    stallWarning: "every-pool",
    syncNeedsDevice: false,
    userId: false,
    ppFlagAll: 0x7,
  },
});

/**
 * v6.15: 43130d02baa1 "page_pool: avoid infinite loop to schedule delayed worker" (net-next Feb
 * 2025), and the cpuid reset on destroy. The base the later builds (v11, v6.16) say they change.
 */
export const V6_15_SWITCHES: BuildSwitches = { ...V6_12_SWITCHES, negativeRetryStops: true, destroyResetsCpuid: true };

// v6.8: "net: page_pool: mute the periodic warning for visible page pools" (be0096676e23, per netdev
// patchwork); v6.11: page_pool syncs gated on dma_dev_need_sync() (4321de4497b2, per linux-next).
registerBuild({
  name: "v6.12",
  id: 3,
  layout: CLASSIC,
  isLayoutDefault: false,
  summary: "v6.12 (LTS, mainline tag): classic; page_pool_napi_local(), dma_dev_need_sync(), netdev-bound pools silent",
  structs: POOL_STRUCTS_V6_12,
  ppMagicMask: CLASSIC_PP_MAGIC_MASK,
  switches: V6_12_SWITCHES,
});

registerBuild({
  name: "v6.15",
  id: 4,
  layout: CLASSIC,
  isLayoutDefault: true,
  summary: "v6.15: the last classic mainline; the retry stops on a negative count (43130d02baa1)",
  structs: POOL_STRUCTS_V6_15,
  ppMagicMask: CLASSIC_PP_MAGIC_MASK,
  switches: V6_15_SWITCHES,
  // bench_page_pool_simple on an E5-1650 v4 @ 3.6 GHz, tasklet context, v6.13-rc6 (the item-block
  // series' before-runs): the classic pool's anchors.
  benchAnchorNs: { page_pool01_fast_path: 5.399, page_pool02_ptr_ring: 15.09, page_pool03_slow: 66.134 },
});
