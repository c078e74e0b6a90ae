/**
 * The classic layout (≈ v5.14 – v6.15): `page->pp` points from a page to its pool, `pp_magic` holds
 * PP_SIGNATURE, and nothing points from the pool to its pages. A page returned after
 * `page_pool_destroy()` is unmapped against whatever device the pool names — after a driver unbind,
 * that is THE BUG this emulator exists to show.
 *
 *   struct page                               struct page_pool
 *   ┌──────────────┬───────────────────────┐  ┌───────────────┐
 *   │ pp_magic   8 │ 0xdead000000000040    │  │ alloc cache   │   no list of in-flight pages:
 *   │ pp        16 │ ─────────────────────────▶│ ring          │   destroy cannot reach them
 *   │ dma_addr  32 │ iova                  │  │ p.dev ──▶ dev │
 *   └──────────────┴───────────────────────┘  └───────────────┘
 */
import type { Machine } from "../mem/machine.js";
import type { PhysMem } from "../mem/physmem.js";
import type { Dma } from "../dma/index.js";
import { LP64, archConsts } from "../arch.js";
import * as PAGE from "../mem/page.js";
const { PAGE_PP_MAGIC, PAGE_PP, PAGE_PP_REF_COUNT, DIRECT_MAP_HI } = PAGE;
import { PP_DMA_MAP, type Tracking } from "./types.js";
import { ppDmaUnmap } from "./pp_dma.js";

const C = archConsts(LP64);
/** PP_SIGNATURE = 0xdead000000000040 as its two words. */
export const PP_SIGNATURE_HI = C.PP_SIGNATURE.hi;
export const PP_SIGNATURE_LO = C.PP_SIGNATURE.lo;
/** Before v6.16 the membership mask is `~0x3UL`: everything but PageTail and pfmemalloc. */
const CLASSIC_MASK_LO = C.PP_MAGIC_MASK_CLASSIC.lo;
const CLASSIC_MASK_HI = C.PP_MAGIC_MASK_CLASSIC.hi;

/** `page_pool_set_pp_info()`'s common part: OR in the signature, pp_ref_count = 1. */
export function orPpSignature(u32: Uint32Array, page: number): void {
  const w = (page + PAGE_PP_MAGIC) >>> 2;
  u32[w] = (u32[w]! | PP_SIGNATURE_LO) >>> 0;
  u32[w + 1] = (u32[w + 1]! | PP_SIGNATURE_HI) >>> 0;
  const r = (page + PAGE_PP_REF_COUNT) >>> 2;
  u32[r] = 1;
  u32[r + 1] = 0;
}

/**
 * `page_pool_set_pp_info()` for the layouts that keep `page->pp` (classic, xarray): the signature,
 * the pool pointer, `pp_ref_count = 1`.
 */
export function setPpInfoPp(u32: Uint32Array, pool: number, page: number): void {
  orPpSignature(u32, page);
  const p = (page + PAGE_PP) >>> 2;
  u32[p] = pool;
  u32[p + 1] = DIRECT_MAP_HI;
}

/** `page_pool_clear_pp_info()` for the same layouts: `pp_magic = 0`, `pp = NULL`. */
export function clearPpInfoPp(u32: Uint32Array, page: number): void {
  const w = (page + PAGE_PP_MAGIC) >>> 2;
  u32[w] = 0;
  u32[w + 1] = 0;
  const p = (page + PAGE_PP) >>> 2;
  u32[p] = 0;
  u32[p + 1] = 0;
}

/** Pre-v6.16 `page_pool_page_is_pp()`: `(pp_magic & ~0x3UL) == PP_SIGNATURE` (also v11's, on v6.13). */
export function isPpPageClassic(u32: Uint32Array, page: number): boolean {
  const w = (page + PAGE_PP_MAGIC) >>> 2;
  return (u32[w]! & CLASSIC_MASK_LO) >>> 0 === PP_SIGNATURE_LO && (u32[w + 1]! & CLASSIC_MASK_HI) >>> 0 === PP_SIGNATURE_HI;
}

export class ClassicTracking implements Tracking {
  readonly name = "classic" as const;
  readonly syncAfterRecycle = false;
  private readonly mem: PhysMem;
  private readonly u32: Uint32Array;

  constructor(
    m: Machine,
    private readonly dma: Dma,
  ) {
    this.mem = m.mem;
    this.u32 = m.mem.u32;
  }

  init(_pool: number): number {
    return 0;
  }

  setPpInfo(pool: number, page: number): boolean {
    setPpInfoPp(this.u32, pool, page);
    return true;
  }

  clearPpInfo(_pool: number, page: number): void {
    clearPpInfoPp(this.u32, page);
  }

  onMapped(_pool: number, _page: number): boolean {
    return true;
  }

  releaseDma(pool: number, page: number): void {
    if (this.u32[(pool + PP_DMA_MAP) >>> 2] === 0) return;
    ppDmaUnmap(this.mem, this.dma, pool, page);
  }

  isPpPage(page: number): boolean {
    return isPpPageClassic(this.u32, page);
  }

  poolOf(page: number): number {
    return this.u32[(page + PAGE_PP) >>> 2]!;
  }

  onDestroyInflight(_pool: number): void {
    // Nothing either: the in-flight pages stay mapped, to be unmapped whenever they come back.
  }

  onFirstScrub(_pool: number): void {
    // Nothing: the classic pool cannot find its in-flight pages.
  }

  uninit(_pool: number): void {}

  trackingBytes(_pool: number): number {
    return 0;
  }
}

