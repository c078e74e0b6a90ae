/**
 * `page->page_type` as include/linux/page-flags.h encodes it (v6.12+), and the page type the
 * v7.1-rc1 kernels gave page_pool pages: `PGTY_netpp` (db359fccf212 "mm: introduce a new page type
 * for page pool in page type", Byungchul Park, v4 <20260224051347.19621-1-byungchul@sk.com>,
 * search id 54594879099; reverted by 54cf41c969da, <20260515034701.17027-1-byungchul@sk.com>).
 *
 *   page_type (u32 @48, overlays _mapcount)
 *   ┌──────────── bits 31..24 ────────────┬──────────────── bits 23..0 ────────────────┐
 *   │ PGTY_*: 0xf0 buddy … 0xf9 netpp     │ 0 (a type owns the whole word)               │
 *   │ or the top of a mapcount            │                                              │
 *   └─────────────────────────────────────┴──────────────────────────────────────────────┘
 *   0xffffffff = UINT_MAX = "no type" = `_mapcount == -1`; 0x00000000.. = mapcount 1, 2, …
 *
 * The ops are the kernel's PAGE_TYPE_OPS (page-flags.h, search id 73684745), for `Netpp`:
 *
 *   PageNetpp(page):       data_race(page->page_type >> 24) == PGTY_netpp
 *   __SetPageNetpp(page):  if (PageNetpp(page)) return;
 *                          VM_BUG_ON_PAGE(data_race(page->page_type) != UINT_MAX, page);
 *                          page->page_type = (unsigned int)PGTY_netpp << 24;
 *   __ClearPageNetpp(page): if (page->page_type == UINT_MAX) return;
 *                          VM_BUG_ON_PAGE(!PageNetpp(page), page);
 *                          page->page_type = UINT_MAX;
 *
 * The VM_BUG_ON_PAGEs are CONFIG_DEBUG_VM: the emulated kernel has it when its page_pool misuse
 * checks are on (the machine header's pp_checks, fixed at boot). A BUG() ends the task: the
 * emulator records the report (Diag.VM_BUG_ON_PAGE) and leaves the word as it was.
 */
import type { PhysMem } from "./physmem.js";
import { Diag } from "./diag.js";
import { MACH_PP_CHECKS } from "./physmem.js";
import { PAGE_TYPE, PAGE_TYPE_NONE, PAGE_TYPE_SHIFT, PGTY_buddy, PGTY_table, PGTY_slab, PGTY_netpp, STRUCT_PAGE_SHIFT, pageTypeWord } from "./page.js";

/** `enum pagetype` (page-flags.h; 0x00–0x7f are mapcounts, 0x80–0xef reserved for mapcount overflow). */
export const PGTY: Readonly<Record<string, number>> = {
  buddy: PGTY_buddy,
  offline: 0xf1,
  table: PGTY_table,
  guard: 0xf3,
  hugetlb: 0xf4,
  slab: PGTY_slab,
  zsmalloc: 0xf6,
  unaccepted: 0xf7,
  large_kmalloc: 0xf8,
  netpp: PGTY_netpp,
  mapcount_underflow: 0xff,
};
/** `PGTY_mapcount_underflow`: not a type, the floor of `page_type_has_type()`. */
export const PGTY_mapcount_underflow = 0xff;
/** `UINT_MAX`: no type. */
export const UINT_MAX = PAGE_TYPE_NONE;
/** `(unsigned int)PGTY_netpp << 24`. */
export const PAGE_TYPE_NETPP = pageTypeWord(PGTY_netpp);

/** Which VM_BUG_ON_PAGE fired (the record's `c`; the texts are diag.ts VM_BUG_CONDITIONS). */
export const VM_BUG_SET_NOT_UINT_MAX = 0;
export const VM_BUG_CLEAR_NOT_NETPP = 1;
export { VM_BUG_CONDITIONS } from "./diag.js";

/** `page_type_has_type(int page_type)`: `page_type < (PGTY_mapcount_underflow << 24)`, signed. */
export function pageTypeHasType(word: number): boolean {
  return (word | 0) < (PGTY_mapcount_underflow << PAGE_TYPE_SHIFT) >> 0;
}

/**
 * `page_has_type(page)` = `page_mapcount_is_type(page->page_type)` = `page_type_has_type(word - 1)`
 * ("takes a mapcount which is one more than page->_mapcount"): false for UINT_MAX and every
 * mapcount, true for every PGTY_* word.
 */
export function pageWordHasType(word: number): boolean {
  return pageTypeHasType((word - 1) | 0);
}

/** `PageNetpp()` of a page_type word. */
export function wordIsNetpp(word: number): boolean {
  return word >>> PAGE_TYPE_SHIFT === PGTY_netpp;
}

/** `PageNetpp(page)`: the top byte of `page_type` is 0xf9. `page` is a struct page (or net_iov) address. */
export function PageNetpp(u32: Uint32Array, page: number): boolean {
  return u32[(page + PAGE_TYPE) >>> 2]! >>> PAGE_TYPE_SHIFT === PGTY_netpp;
}

/** `page_has_type(page)`. */
export function pageHasType(u32: Uint32Array, page: number): boolean {
  return pageWordHasType(u32[(page + PAGE_TYPE) >>> 2]!);
}

/**
 * `__SetPageNetpp(page)`. False when the VM_BUG_ON_PAGE fired (word left as it was). `page` may be
 * a net_iov: its `page_type` sits at struct page's offset (NET_IOV_ASSERT_OFFSET(page_type,
 * page_type)); the report's pfn is then the memmap slot the niov's address falls on, as
 * `page_to_pfn((struct page *)niov)` would compute it.
 */
export function setPageNetpp(mem: PhysMem, page: number): boolean {
  const u32 = mem.u32;
  const w = (page + PAGE_TYPE) >>> 2;
  const word = u32[w]!;
  if (word >>> PAGE_TYPE_SHIFT === PGTY_netpp) return true;
  if (word !== UINT_MAX && debugVm(mem)) {
    mem.diag(Diag.VM_BUG_ON_PAGE, page >>> STRUCT_PAGE_SHIFT, word, VM_BUG_SET_NOT_UINT_MAX);
    return false;
  }
  u32[w] = PAGE_TYPE_NETPP;
  return true;
}

/** `__ClearPageNetpp(page)`. False when the VM_BUG_ON_PAGE fired (word left as it was). */
export function clearPageNetpp(mem: PhysMem, page: number): boolean {
  const u32 = mem.u32;
  const w = (page + PAGE_TYPE) >>> 2;
  const word = u32[w]!;
  if (word === UINT_MAX) return true;
  if (word >>> PAGE_TYPE_SHIFT !== PGTY_netpp && debugVm(mem)) {
    mem.diag(Diag.VM_BUG_ON_PAGE, page >>> STRUCT_PAGE_SHIFT, word, VM_BUG_CLEAR_NOT_NETPP);
    return false;
  }
  u32[w] = UINT_MAX;
  return true;
}

/** CONFIG_DEBUG_VM of the emulated kernel: its misuse checks (the machine header, fixed at boot). */
function debugVm(mem: PhysMem): boolean {
  return mem.u32[(mem.machine + MACH_PP_CHECKS) >>> 2] !== 0;
}

/** What a page_type word means, for `explain` and the verifier: "PGTY_netpp", "untyped", "mapcount 3". */
export function pageTypeName(word: number): string {
  word >>>= 0;
  if (word === UINT_MAX) return "untyped (_mapcount -1)";
  if (pageWordHasType(word)) {
    const top = word >>> PAGE_TYPE_SHIFT;
    const name = Object.keys(PGTY).find((k) => PGTY[k] === top && k !== "mapcount_underflow");
    return name ? `PGTY_${name}` : `unknown type 0x${top.toString(16)}`;
  }
  return `mapcount ${(word | 0) + 1}`;
}
