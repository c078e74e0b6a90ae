/**
 * The xarray layout: Toke Høiland-Jørgensen's fix as merged (ee62ce7a1d90, v6.16). A page keeps
 * `page->pp`; every DMA-mapped page is registered in the pool's `dma_mapped` xarray under an id
 * allocated from 1, and the id is stored in `pp_magic` bits 7..38 (above PP_SIGNATURE's 0x40, below
 * POISON_POINTER_DELTA) — straddling the two u32 words of the field:
 *
 *   pp_magic  hi word                                  lo word
 *   ┌───────────────────────────┬───────────┐ ┌───────────────────────────────────┬───────┬──┐
 *   │ 0xdead0000 (poison delta) │ id[31:25] │ │ id[24:0]                          │ 0x40  │pT│
 *   └───────────────────────────┴───────────┘ └───────────────────────────────────┴───────┴──┘
 *     bits 63..39                 38..32         31..7                              6..2    1 0
 *
 * Returning a page unregisters it with `xa_cmpxchg(id, page → NULL)`: only the winner unmaps. At
 * destroy, `xa_for_each` unmaps every entry through the same cmpxchg, so late returns lose the race,
 * find id 0, and never touch the DMA API.
 */
import type { PhysMem } from "../mem/physmem.js";
import type { Dma } from "../dma/index.js";
import { LP64, archConsts } from "../arch.js";
import * as PAGE from "../mem/page.js";
const { PAGE_PP_MAGIC, PAGE_DMA_ADDR } = PAGE;
import { XArray, XA_FLAGS_ALLOC1, XA_NODE_SIZE } from "../mem/xarray.js";
import { XA_CHUNK_SIZE, STRUCT_XA_NODE } from "../mem/structs.js";
import { layoutOf } from "../mem/ctype.js";
import { MACH_PP_CHECKS } from "../mem/physmem.js";
import { Diag } from "../mem/diag.js";
import { ppDmaUnmap, poolDmaMap, PP_DMA_ATTRS } from "../pool/pp_dma.js";
import { setPpInfoPp, clearPpInfoPp, isPpPageMasked, poolOfPp } from "../pool/pp_info.js";
import type { PoolOffsets } from "../pool/pool_offsets.js";
import { pointHook, Point } from "../explore/points.js";
import { registerBuild } from "./registry.js";
import { synchronizeNet } from "../smp/rcu.js";
import { V6_15_SWITCHES, ppMagicMembershipText } from "./classic.js";
import type { BuildSwitches, KernelBuild, Tracking, TrackingContext, TrackingLayout, TrackingUsage } from "./types.js";
import { POOL_STRUCTS_V6_16, POOL_STRUCTS_V6_18, POOL_STRUCTS_MAINLINE } from "./xarray_structs.js";

const G = archConsts(LP64).dmaIndex;
export const PP_DMA_INDEX_SHIFT = G.PP_DMA_INDEX_SHIFT;
/** The id limit `XA_LIMIT(1, BIT(PP_DMA_INDEX_BITS) - 1)`. */
export const PP_DMA_INDEX_LIMIT = G.PP_DMA_INDEX_LIMIT;
const INDEX_MASK_LO = G.PP_DMA_INDEX_MASK.lo;
const INDEX_MASK_HI = G.PP_DMA_INDEX_MASK.hi;
/** Bits of the id that land in the low word. */
const LO_BITS = 32 - PP_DMA_INDEX_SHIFT;

/** `netmem_get_dma_index()`: `(pp_magic & PP_DMA_INDEX_MASK) >> PP_DMA_INDEX_SHIFT`, from two words. */
export function getDmaIndex(u32: Uint32Array, page: number): number {
  const w = (page + PAGE_PP_MAGIC) >>> 2;
  const lo = (u32[w]! & INDEX_MASK_LO) >>> PP_DMA_INDEX_SHIFT;
  const hi = u32[w + 1]! & INDEX_MASK_HI;
  return (lo + hi * (1 << LO_BITS)) >>> 0;
}

/** `netmem_set_dma_index()`: the magic without its index bits, ORed with `id << SHIFT`. */
export function setDmaIndex(u32: Uint32Array, page: number, id: number): void {
  const w = (page + PAGE_PP_MAGIC) >>> 2;
  u32[w] = ((u32[w]! & ~INDEX_MASK_LO) | ((id << PP_DMA_INDEX_SHIFT) & INDEX_MASK_LO)) >>> 0;
  u32[w + 1] = ((u32[w + 1]! & ~INDEX_MASK_HI) | ((id >>> LO_BITS) & INDEX_MASK_HI)) >>> 0;
}

/**
 * How a build's scrub treats in-flight pages (the xarray family's own switch):
 * - `"release"`: v6.16 as merged releases every entry through `__page_pool_release_page_dma()`,
 *   writing `dma_addr = 0` and clearing the id in struct pages it holds no reference to;
 * - `"unmap-only"`: mainline (2026) `__page_pool_unmap_netmem_dma()` only unmaps ("No page ref,
 *   dma-unmap only"), reading `dma_addr` before the cmpxchg; the fields are cleared on the page's own
 *   return. The layout file reads it from `KernelBuild.layoutSwitches.scrub`.
 */
export type XarrayScrub = "release" | "unmap-only";

export class XarrayTracking implements Tracking {
  readonly syncAfterRecycle = false;
  readonly xa: XArray;
  private readonly mem: PhysMem;
  private readonly u32: Uint32Array;
  private readonly dma: Dma;
  private readonly o: PoolOffsets;
  /** `pool->dma_mapped`. */
  readonly DMA_MAPPED: number;
  private readonly refInit: boolean;
  private readonly maskHi: number;
  private readonly maskLo: number;
  private readonly scrub: XarrayScrub;
  /** Misuse checks (CONFIG_DEBUG_NET): fixed at boot in the machine header. */
  private readonly checks: boolean;

  constructor(
    readonly layout: TrackingLayout,
    ctx: TrackingContext,
  ) {
    this.mem = ctx.m.mem;
    this.u32 = ctx.m.mem.u32;
    this.dma = ctx.dma;
    this.o = ctx.pool;
    this.DMA_MAPPED = ctx.pool.need("dma_mapped");
    this.refInit = ctx.build.switches.ppRefCountInit;
    this.maskHi = ctx.build.ppMagicMask.hi;
    this.maskLo = ctx.build.ppMagicMask.lo;
    this.scrub = xarrayScrubOf(ctx.build);
    this.checks = ctx.m.mem.rd32(ctx.m.mem.machine + MACH_PP_CHECKS) !== 0;
    this.xa = new XArray(ctx.m);
  }

  init(pool: number): number {
    this.xa.xaInit(pool + this.DMA_MAPPED, XA_FLAGS_ALLOC1);
    return 0;
  }

  setPpInfo(pool: number, page: number): boolean {
    setPpInfoPp(this.u32, pool, page, this.refInit);
    return true;
  }

  clearPpInfo(_pool: number, page: number): void {
    const u32 = this.u32;
    const w = (page + PAGE_PP_MAGIC) >>> 2;
    // netmem_clear_pp_magic(): WARN_ON_ONCE(pp_magic & PP_DMA_INDEX_MASK), a page leaving with its id.
    if (this.checks && ((u32[w]! & INDEX_MASK_LO) | (u32[w + 1]! & INDEX_MASK_HI)) !== 0) {
      this.mem.diag(Diag.PP_CLEAR_MAGIC_INDEX, page, getDmaIndex(u32, page));
    }
    clearPpInfoPp(u32, page);
  }

  /** `page_pool_register_dma_index()`: xa_alloc an id for the page and keep it in pp_magic. */
  onMapped(pool: number, page: number): boolean {
    if (PP_DMA_INDEX_LIMIT === 0) return true; // BITS == 0: tracking off (v6.18 rule)
    const id = this.xa.xaAlloc(pool + this.DMA_MAPPED, page, 1, PP_DMA_INDEX_LIMIT);
    if (id < 0) {
      // WARN_ONCE(err != -ENOMEM, "couldn't track DMA mapping, please report to netdev@")
      if (id !== -12) this.mem.diag(Diag.PP_DMA_TRACK_FAIL, page, id >>> 0);
      return false;
    }
    setDmaIndex(this.u32, page, id);
    return true;
  }

  /**
   * `__page_pool_release_page_dma()` on a page's own return: only the cmpxchg winner unmaps. (v6.16
   * and mainline agree here; mainline reads `dma_addr` before the cmpxchg, which is the same value
   * on one CPU.)
   */
  releaseDma(pool: number, page: number): void {
    const u32 = this.u32;
    if (!poolDmaMap(u32, this.o, pool)) return;
    // page_pool_release_dma_index(): with BITS == 0 nothing is tracked and every return unmaps.
    if (PP_DMA_INDEX_LIMIT !== 0) {
      const id = getDmaIndex(u32, page);
      if (id === 0) return;
      const old = this.xa.xaCmpxchg(pool + this.DMA_MAPPED, id, page, 0);
      if (old !== page) {
        // Mainline: the scrub unmapped it and left dma_addr and the id for this return to clear.
        if (this.scrub === "unmap-only") clearDmaFields(u32, page);
        return;
      }
      // Won: unmap, then clear dma_addr and the id, in the kernel's order. The scrub gets here
      // holding no reference to the page (see onFirstScrub).
      if (pointHook !== null) pointHook(Point.XA_CMPXCHG_WON, page, id);
      if (pointHook !== null) pointHook(Point.PAGE_STRUCT_WRITE, page, 0);
      ppDmaUnmap(this.mem, this.dma, this.o, pool, page);
      setDmaIndex(u32, page, 0);
      return;
    }
    ppDmaUnmap(this.mem, this.dma, this.o, pool, page);
  }

  /** `page_pool_page_is_pp()`: `(pp_magic & mask) == PP_SIGNATURE` with this build's mask. */
  isPpPage(page: number): boolean {
    return isPpPageMasked(this.u32, page, this.maskHi, this.maskLo);
  }

  poolOf(page: number): number {
    return poolOfPp(this.u32, page);
  }

  ownsMapping(pool: number, page: number): boolean {
    if (!poolDmaMap(this.u32, this.o, pool)) return false;
    if (PP_DMA_INDEX_LIMIT === 0) return this.u32[(page + PAGE_DMA_ADDR) >>> 2] !== 0;
    const id = getDmaIndex(this.u32, page);
    return id !== 0 && this.xa.xaLoad(pool + this.DMA_MAPPED, id) === page;
  }

  /**
   * `page_pool_scrub()`'s first pass of a DMA pool (`!pool->destroy_cnt++ && pool->dma_map`):
   *
   *     if (pool->dma_sync) {
   *         pool->dma_sync = false;
   *         if (dma_dev_need_sync(pool->p.dev) && !xa_empty(&pool->dma_mapped))
   *             synchronize_net();
   *     }
   *     xa_for_each(&pool->dma_mapped, id, ptr)
   *         __page_pool_release_page_dma(pool, ptr);      // mainline: __page_pool_unmap_netmem_dma()
   *
   * synchronize_net() waits for returners that read the old `dma_sync` inside rcu_read_lock()
   * (page_pool_dma_sync_for_device) to finish their sync before anything is unmapped. xa_for_each
   * is xa_find()/xa_find_after() under RCU, so it sees every entry that stays registered while it
   * walks, however returners on other CPUs erase and free nodes meanwhile; each entry is released
   * with the same xa_cmpxchg(id, page → NULL) the returners use, so exactly one side unmaps it.
   */
  onFirstScrub(pool: number): void {
    const u32 = this.u32;
    if (!poolDmaMap(u32, this.o, pool)) return;
    const sync = this.o.dmaSync;
    const xa = pool + this.DMA_MAPPED;
    const w = (pool + sync.off) >>> 2;
    if ((Atomics.load(u32, w) & sync.mask) !== 0) {
      // Disable page_pool_dma_sync_for_device(): the bit's word is read by returners on other CPUs.
      Atomics.and(u32, w, ~sync.mask);
      if (this.dma.dmaDevNeedSync(this.mem.rdPtr(pool + this.o.dev)) && !this.xa.xaEmpty(xa)) synchronizeNet(this.mem);
    }
    if (this.scrub === "release") {
      this.xa.xaForEach(xa, (id, page) => {
        if (pointHook !== null) pointHook(Point.XA_SCAN_STEP, page, id);
        this.releaseDma(pool, page);
      });
    } else {
      this.xa.xaForEach(xa, (id, page) => {
        if (pointHook !== null) pointHook(Point.XA_SCAN_STEP, page, id);
        this.unmapOnly(pool, page, id);
      });
    }
  }

  /**
   * Mainline `__page_pool_unmap_netmem_dma()`: read `dma_addr` first (the scrub holds no page ref),
   * then only the cmpxchg winner unmaps; the page keeps its `dma_addr` and id bits until it returns.
   */
  private unmapOnly(pool: number, page: number, id: number): void {
    const u32 = this.u32;
    const dmaAddr = u32[(page + PAGE_DMA_ADDR) >>> 2]!;
    if (this.xa.xaCmpxchg(pool + this.DMA_MAPPED, id, page, 0) !== page) return;
    const o = this.o;
    this.dma.dmaUnmapPage(u32[(pool + o.dev) >>> 2]!, dmaAddr, this.mem.pageSize << u32[(pool + o.order) >>> 2]!, u32[(pool + o.dmaDir) >>> 2]!, PP_DMA_ATTRS);
  }

  /** Nothing more: the first scrub already unmapped everything registered. */
  onDestroyInflight(_pool: number): void {}

  uninit(pool: number): void {
    this.xa.xaDestroy(pool + this.DMA_MAPPED);
  }

  usage(pool: number): TrackingUsage {
    const xa = pool + this.DMA_MAPPED;
    let tracked = 0;
    this.xa.xaForEach(xa, () => tracked++);
    const nodes = this.xa.xaNodeCount(xa);
    return { trackedPages: tracked, bytes: nodes * XA_NODE_SIZE, units: { "xa nodes": nodes }, slotsPerUnit: XA_CHUNK_SIZE };
  }

  claimer(): null {
    return null;
  }

  describeAddress(_addr: number): null {
    return null;
  }

  /** The page's id in `pool->dma_mapped` and whether the xarray still holds it. */
  describePage(page: number): readonly string[] {
    const id = getDmaIndex(this.u32, page);
    if (id === 0) return ["dma index 0: not in dma_mapped (unmapped, or never mapped)"];
    const pool = this.poolOf(page);
    const held = pool !== 0 && this.xa.xaLoad(pool + this.DMA_MAPPED, id) === page;
    return [`dma index ${id}: pool->dma_mapped[${id}] ${held ? "holds this page" : "does not hold this page (unmapped by destroy)"}`];
  }
}

function clearDmaFields(u32: Uint32Array, page: number): void {
  setDmaIndex(u32, page, 0);
  u32[(page + PAGE_DMA_ADDR) >>> 2] = 0;
  u32[((page + PAGE_DMA_ADDR) >>> 2) + 1] = 0;
}

export function xarrayScrubOf(b: KernelBuild): XarrayScrub {
  const s = b.layoutSwitches?.scrub;
  return s === "unmap-only" ? "unmap-only" : "release";
}

export const XARRAY: TrackingLayout = {
  name: "xarray",
  summary: "page->pp names the pool; pool->dma_mapped (an xarray) tracks mapped pages, the id in pp_magic",
  tracksInflight: true,
  pageWords: {
    pp_magic: `PP_SIGNATURE | id << ${PP_DMA_INDEX_SHIFT}`,
    pp: "pp: the pool",
    _pp_mapping_pad: "never written",
    dma_addr: "DMA address, 0 = unmapped",
    pp_ref_count: "page_pool refs, 1 after alloc",
    _refcount: "recycled only while 1",
  },
  poolOfText: "page->pp",
  atDestroy: "xa_for_each unmaps every\nentry (xa_cmpxchg winner)",
  inflightTracking: "xarray pool->dma_mapped\n(ids from 1)",
  paperBytesPerPage: (arch) => {
    const node = layoutOf(STRUCT_XA_NODE, arch).size;
    return `${Math.round((node / XA_CHUNK_SIZE) * 100) / 100} (xa_node ${node} / ${XA_CHUNK_SIZE})`;
  },
  status: "merged, v6.16",
  membershipText: ppMagicMembershipText,
  userMappable: true,
  make: (ctx) => new XarrayTracking(XARRAY, ctx),
};

export const V6_16_SWITCHES: BuildSwitches = {
  ...V6_15_SWITCHES,
  // 32471b2f481d "net: page_pool: Don't recycle into cache on PREEMPT_RT" (v6.16).
  napiLocality: "napi_local_rt",
  // 271683bb2cf3 "page_pool: Fix use-after-free in page_pool_recycle_in_ring" (v6.16, CVE-2025-38129).
  releaseProducerBarrier: true,
  // ee62ce7a1d90 (v6.16): the sync re-tests dma_sync under rcu_read_lock(), for the scrub's synchronize_net().
  syncUnderRcu: true,
};

/** `PP_MAGIC_MASK` = ~(PP_DMA_INDEX_MASK | 0x3UL), from v6.16 (cd3c93167da0). */
export const XA_MASK = G.PP_MAGIC_MASK;

registerBuild({
  name: "v6.16",
  id: 16,
  layout: XARRAY,
  isLayoutDefault: true,
  summary: "v6.16: xarray tracking as merged (ee62ce7a1d90); the release producer-lock barrier (271683bb2cf3)",
  structs: POOL_STRUCTS_V6_16,
  ppMagicMask: XA_MASK,
  switches: V6_16_SWITCHES,
  layoutSwitches: { scrub: "release" },
  // Toke's prototype on the same E5-1650 v4 as classic's anchors.
  benchAnchorNs: { page_pool01_fast_path: 5.505, page_pool02_ptr_ring: 15.018, page_pool03_slow: 66.498 },
});

registerBuild({
  name: "v6.18",
  id: 18,
  layout: XARRAY,
  isLayoutDefault: false,
  summary: "v6.18: xarray; pool_size clamped to 16384 instead of -E2BIG",
  structs: POOL_STRUCTS_V6_18,
  ppMagicMask: XA_MASK,
  // a1b501a8c6a8 "page_pool: Clamp pool size to max 16K pages" (v6.18 merge window).
  switches: { ...V6_16_SWITCHES, poolSizeRule: "clamp" },
  layoutSwitches: { scrub: "release" },
});

registerBuild({
  name: "mainline",
  id: 100,
  layout: XARRAY,
  isLayoutDefault: false,
  summary: "mainline (2026): xarray; the scrub only unmaps (fields cleared on return), order > MAX_PAGE_ORDER is -EINVAL",
  structs: POOL_STRUCTS_MAINLINE,
  ppMagicMask: XA_MASK,
  // 9954464d737d "net: page_pool: sanitise allocation order" (v6.19 merge window).
  switches: { ...V6_16_SWITCHES, poolSizeRule: "clamp", orderCheck: true },
  layoutSwitches: { scrub: "unmap-only" },
});
