/**
 * The PGTY_netpp layout: v7.1-rc1..rc4, where a page_pool page is known by its page type instead of
 * the `pp_magic` signature — db359fccf212 "mm: introduce a new page type for page pool in page type"
 * (Byungchul Park, v4 <20260224051347.19621-1-byungchul@sk.com>, search id 54594879099), fixed by
 * 735a309b4bfb "net: add net_iov_init() and use it to initialize ->page_type" (Jakub Kicinski,
 * <20260428025320.853452-1-kuba@kernel.org>, id 57994800446), and reverted by 54cf41c969da
 * (<20260515034701.17027-1-byungchul@sk.com>, id 54516512277) because a typed page can't be mapped
 * to user space: TCP zerocopy receive returned -EINVAL (Dragos Tatulea, 2026-05-13, id 54754990943).
 *
 *   struct page            v6.16 … v7.0                     v7.1-rc1..rc4 (this build)
 *   @8  pp_magic           PP_SIGNATURE | id << 7           id << 7 only (signature no longer written)
 *   @16 pp                 the pool                         the pool
 *   @48 page_type          0xffffffff (untyped)             0xf9000000 (PGTY_netpp) while in the pool
 *   membership             (pp_magic & PP_MAGIC_MASK)       PageNetpp(page)
 *                          == PP_SIGNATURE
 *   "page_pool leak"       page_bad_reason()                __free_pages_prepare(), before the others
 *
 * DMA tracking is the xarray's, unchanged: `pp_magic` still carries the id (netmem_get_pp_magic()
 * still masks PP_DMA_INDEX_MASK). `PP_MAGIC_MASK` and `page_pool_page_is_pp()` were deleted, so the
 * build's membership mask is 0: the page allocator's pp_magic test (src/mem/buddy.ts) can never
 * match, and the page-type test there takes its place.
 *
 * `page_pool_set_pp_info()` / `page_pool_clear_pp_info()` cast the netmem to a page "by clearing
 * NET_IOV" — on a net_iov too: its `page_type` sits at struct page's offset 48
 * (`NET_IOV_ASSERT_OFFSET(page_type, page_type)`), which is what made an uninitialised niov trip
 * `__SetPageNetpp()`'s VM_BUG_ON_PAGE until 735a309b4bfb.
 */
import type { PhysMem } from "../mem/physmem.js";
import { hexLong } from "../arch.js";
import { u64 } from "../u64.js";
import * as PAGE from "../mem/page.js";
const { PAGE_PP, PAGE_PP_REF_COUNT, DIRECT_MAP_HI } = PAGE;
import { PageNetpp, setPageNetpp, clearPageNetpp } from "../mem/page_type.js";
import { XarrayTracking, XARRAY, PP_DMA_INDEX_SHIFT } from "./xarray.js";
import { findBuild, registerBuild } from "./registry.js";
import type { KernelBuild, TrackingContext, TrackingLayout } from "./types.js";
import type { PoolStructs } from "./structs_common.js";
import { POOL_STRUCTS_MAINLINE } from "./xarray_structs.js";
import { STRUCT_NET_IOV_NETPP } from "./netmem_desc_structs.js";
import { NET_IOV } from "../pool/nmdesc.js";


/** The build's `page_pool_page_is_pp()` mask: none (PP_MAGIC_MASK was deleted; membership is PageNetpp). */
export const NETPP_PP_MAGIC_MASK = { hi: 0, lo: 0 } as const;

export class NetppTracking extends XarrayTracking {
  private readonly pmem: PhysMem;
  private readonly w: Uint32Array;
  private readonly refInit1: boolean;

  constructor(layout: TrackingLayout, ctx: TrackingContext) {
    super(layout, ctx);
    this.pmem = ctx.m.mem;
    this.w = ctx.m.mem.u32;
    this.refInit1 = ctx.build.switches.ppRefCountInit;
  }

  /**
   * db359fccf212 `page_pool_set_pp_info()`: `netmem_set_pp(netmem, pool)`, then
   * `__SetPageNetpp((struct page *)(netmem & ~NET_IOV))`, then `page_pool_fragment_netmem(netmem, 1)`.
   * False when `__SetPageNetpp()` BUG()ed (a niov whose page_type was never set to UINT_MAX): the
   * allocation does not complete; `pp` is put back so the page leaves as it came.
   */
  override setPpInfo(pool: number, netmem: number): boolean {
    const u32 = this.w;
    const page = (netmem & ~NET_IOV) >>> 0;
    const p = (page + PAGE_PP) >>> 2;
    u32[p] = pool;
    u32[p + 1] = DIRECT_MAP_HI;
    if (!setPageNetpp(this.pmem, page)) {
      u32[p] = 0;
      u32[p + 1] = 0;
      return false;
    }
    if (this.refInit1) {
      const r = (page + PAGE_PP_REF_COUNT) >>> 2;
      u32[r] = 1;
      u32[r + 1] = 0;
    }
    return true;
  }

  /**
   * db359fccf212 `page_pool_clear_pp_info()`: `__ClearPageNetpp(page)`, then `netmem_set_pp(netmem,
   * NULL)`. `pp_magic` is not written: netmem_clear_pp_magic() (and its WARN on a leftover DMA
   * index) was deleted; the id was cleared by the DMA release before.
   */
  override clearPpInfo(_pool: number, netmem: number): void {
    const page = (netmem & ~NET_IOV) >>> 0;
    clearPageNetpp(this.pmem, page);
    const p = (page + PAGE_PP) >>> 2;
    this.w[p] = 0;
    this.w[p + 1] = 0;
  }

  /** `netmem_is_pp()`: `PageNetpp((struct page *)(netmem & ~NET_IOV))`. */
  override isPpPage(netmem: number): boolean {
    return PageNetpp(this.w, (netmem & ~NET_IOV) >>> 0);
  }
}

export const NETPP: TrackingLayout = {
  name: "netpp",
  summary: "page->page_type = PGTY_netpp (0xf9000000) marks pool pages; xarray DMA tracking, the id still in pp_magic",
  tracksInflight: true,
  // netmem_set_dma_index() ORs the id into a word nothing else writes now (page alloc zeroes it here).
  ppMagicExample: (c) => `id 1: ${hexLong(c.arch, u64(0, 1 << PP_DMA_INDEX_SHIFT))}`,
  pageWords: { ...XARRAY.pageWords, pp_magic: `id << ${PP_DMA_INDEX_SHIFT} (no PP_SIGNATURE)` },
  poolOfText: XARRAY.poolOfText,
  atDestroy: XARRAY.atDestroy,
  inflightTracking: XARRAY.inflightTracking,
  paperBytesPerPage: (arch) => XARRAY.paperBytesPerPage(arch),
  status: "v7.1-rc1 (db359fccf212), reverted in v7.1-rc (54cf41c969da)",
  membershipText: () => "PageNetpp(page)",
  // validate_page_before_insert(): page_has_type(page) → -EINVAL (0ee930e6cafa0).
  userMappable: false,
  make: (ctx) => new NetppTracking(NETPP, ctx),
};

/**
 * v7.1-rc's struct page_pool is mainline's (db359fccf212 touches no member of it); its net_iov is
 * layout (c), `page_type`@48 · `type`@52 · `owner`@56.
 */
export const POOL_STRUCTS_V7_1_RC_NETPP: PoolStructs = {
  ...POOL_STRUCTS_MAINLINE,
  kernel: "v7.1-rc-netpp",
  source:
    POOL_STRUCTS_MAINLINE.source +
    "; struct net_iov from db359fccf212 v4 (<20260224051347.19621-1-byungchul@sk.com>, search id 54594879099)",
  netIov: STRUCT_NET_IOV_NETPP,
};

/** Mainline's switches (the xarray file registers it first): nothing page_pool.c decides changed. */
function mainlineBuild(): KernelBuild {
  const b = findBuild("mainline");
  if (!b) throw new Error("netpp.ts: the mainline build must be registered first (src/builds/index.ts order)");
  return b;
}

const MAINLINE = mainlineBuild();

registerBuild({
  name: "v7.1-rc-netpp",
  id: 71,
  layout: NETPP,
  isLayoutDefault: true,
  summary: "v7.1-rc1..rc4: pool pages typed PGTY_netpp (db359fccf212; reverted, 54cf41c969da); xarray DMA tracking",
  structs: POOL_STRUCTS_V7_1_RC_NETPP,
  ppMagicMask: NETPP_PP_MAGIC_MASK,
  switches: MAINLINE.switches,
  layoutSwitches: { scrub: "unmap-only" },
});
