/**
 * `page_pool_set_pp_info()` / `page_pool_clear_pp_info()` and the membership test, the parts every
 * layout shares: `pp_magic |= PP_SIGNATURE`, `pp_ref_count = 1` (v6.7+), the `page->pp`
 * back-pointer of the layouts that keep it, and `page_pool_page_is_pp()` under the build's mask.
 *
 *   pp_magic, low bits (lru.next / compound_head)
 *   ┌──────────────── … ──────────────┬───┬───┬───┬───┬───┬───┬───┐
 *   │ POISON_POINTER_DELTA | 0x40 …   │ 6 │ 5 │ 4 │ 3 │ 2 │ 1 │ 0 │
 *   └──────────────── … ──────────────┴───┴───┴───┴───┴───┴───┴───┘
 *                                      0x40 ─┘           pfmemalloc ┘   └ PageTail (compound_head | 1)
 */
import { LP64, archConsts } from "../arch.js";
import * as PAGE from "../mem/page.js";
const { DIRECT_MAP_HI } = PAGE;
// Every helper below takes the page's netmem_desc (`page` on every build whose netmem_desc overlays
// struct page, so the offsets are struct page's: NETMEM_DESC_ASSERT_OFFSET, src/pool/nmdesc.ts).
import * as NMDESC from "./nmdesc.js";
const { NMDESC_PP_MAGIC, NMDESC_PP, NMDESC_PP_REF_COUNT } = NMDESC;

const C = archConsts(LP64);
/** PP_SIGNATURE = 0xdead000000000040 as its two words. */
export const PP_SIGNATURE_HI = C.PP_SIGNATURE.hi;
export const PP_SIGNATURE_LO = C.PP_SIGNATURE.lo;
/** `pp_magic` bit 0: a tail page's `compound_head | 1`. */
export const PP_MAGIC_TAIL = 1 << 0;
/** `pp_magic` bit 1: `page_is_pfmemalloc()` (lru.next bit 1). */
export const PP_MAGIC_PFMEMALLOC = 1 << 1;
/** The two tag bits every membership mask leaves out: they must sit below PP_SIGNATURE's 0x40. */
export const PP_MAGIC_LOW_MASK = PP_MAGIC_TAIL | PP_MAGIC_PFMEMALLOC;
if (PP_MAGIC_LOW_MASK >= (PP_SIGNATURE_LO & -PP_SIGNATURE_LO)) throw new Error("pp_magic tag bits overlap PP_SIGNATURE");

/** `page_pool_set_pp_info()`'s common part: OR in the signature; `pp_ref_count = 1` when the build does. */
export function orPpSignature(u32: Uint32Array, page: number, refInit: boolean): void {
  const w = (page + NMDESC_PP_MAGIC) >>> 2;
  u32[w] = (u32[w]! | PP_SIGNATURE_LO) >>> 0;
  u32[w + 1] = (u32[w + 1]! | PP_SIGNATURE_HI) >>> 0;
  if (!refInit) return;
  const r = (page + NMDESC_PP_REF_COUNT) >>> 2;
  u32[r] = 1;
  u32[r + 1] = 0;
}

/** For the layouts that keep `page->pp` (classic, xarray): the signature and the pool pointer. */
export function setPpInfoPp(u32: Uint32Array, pool: number, page: number, refInit: boolean): void {
  orPpSignature(u32, page, refInit);
  const p = (page + NMDESC_PP) >>> 2;
  u32[p] = pool;
  u32[p + 1] = DIRECT_MAP_HI;
}

/** `page_pool_clear_pp_info()` for the same layouts: `pp_magic = 0`, `pp = NULL`. */
export function clearPpInfoPp(u32: Uint32Array, page: number): void {
  const w = (page + NMDESC_PP_MAGIC) >>> 2;
  u32[w] = 0;
  u32[w + 1] = 0;
  const p = (page + NMDESC_PP) >>> 2;
  u32[p] = 0;
  u32[p + 1] = 0;
}

/** `page_pool_page_is_pp()`: `(pp_magic & mask) == PP_SIGNATURE`, the build's mask as two words. */
export function isPpPageMasked(u32: Uint32Array, page: number, maskHi: number, maskLo: number): boolean {
  const w = (page + NMDESC_PP_MAGIC) >>> 2;
  return (u32[w]! & maskLo) >>> 0 === PP_SIGNATURE_LO && (u32[w + 1]! & maskHi) >>> 0 === PP_SIGNATURE_HI;
}

/** The pool a `page->pp` layout names. */
export function poolOfPp(u32: Uint32Array, page: number): number {
  return u32[(page + NMDESC_PP) >>> 2]!;
}
