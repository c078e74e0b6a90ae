/**
 * Mapping kernel pages into a user VMA, as TCP zerocopy receive does it: `vm_insert_pages()` →
 * `insert_pages()` → `insert_page_in_batch_locked()` → `validate_page_before_insert()` +
 * `insert_page_into_pte_locked()` (mm/memory.c, v7.0-era tree: search id 54173781598; the v7.1-rc
 * form with `folio_test_slab()` folded into `page_has_type()` is quoted at mm/memory.c:2326 in
 * Dragos Tatulea's report, 2026-05-13, search id 54754990943):
 *
 *   validate_page_before_insert(vma, page):
 *       if (!folio_ref_count(folio))                          return -EINVAL;
 *       if (is_zero_folio(folio))                             return vm_mixed_zeropage_allowed(vma) ? 0 : -EINVAL;
 *       if (folio_test_anon(folio) || page_has_type(page))    return -EINVAL;
 *   insert_page_into_pte_locked():
 *       if (!pte_none(ptep_get(pte)))                         return -EBUSY;
 *       folio_get(folio); inc_mm_counter(mm, MM_FILEPAGES); folio_add_file_rmap_pte(folio, page, vma);
 *
 * `folio_add_file_rmap_pte()` on a small folio is `atomic_inc(&page->_mapcount)` — the word that is
 * `page_type` on a typed page. That is why the check exists (0ee930e6cafa0 "mm/memory.c: prevent
 * mapping typed pages to userspace": "it would destroy their page type") and why a PGTY_netpp page
 * pool page cannot be mapped: David Hildenbrand, "The type is stored in page->_mapcount, and rmap
 * code would corrupt that type" (search id 54520961991).
 *
 * The VMA is the emulator's: one `vm_area_struct`'s bounds and flags plus its PTEs as one flat table
 * (PTE i maps `vm_start + i * PAGE_SIZE`; a PTE holds the struct page pointer, NULL = pte_none), in
 * the buffer like everything else. No zero page exists in the emulator.
 */
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf, m, struct, ptr, ULONG } from "./ctype.js";
import type { Machine } from "./machine.js";
import { GFP_ZERO } from "./buddy.js";
import { PAGE_MAPPING, PAGE_MAPCOUNT, pageRefCount, pageRefInc } from "./page.js";
import { pageHasType, PageNetpp } from "./page_type.js";

export const EINVAL = 22;
export const EBUSY = 16;
export const EFAULT = 14;
export const ENOMEM = 12;
/** `PAGE_MAPPING_ANON`: bit 0 of `folio->mapping` on an anonymous folio. */
export const PAGE_MAPPING_ANON = 0x1;
/** `VM_MIXEDMAP` (include/linux/mm.h): vm_insert_pages() sets it on first use. */
export const VM_MIXEDMAP = 0x10000000;

/** The emulator's user VMA (x86-64 widths): a vm_area_struct's bounds and flags, its PTE table, MM_FILEPAGES. */
export const STRUCT_PPEMU_VMA = struct("ppemu_vma", [
  m("vm_start", ULONG),
  m("vm_end", ULONG),
  m("vm_flags", ULONG),
  m("ptes", ptr("struct page *")),
  m("nr_ptes", ULONG),
  m("rss_file", ULONG),
]);
const VMA = layoutOf(STRUCT_PPEMU_VMA, LP64);
const VMA_START = offsetOf(VMA, "vm_start");
const VMA_END = offsetOf(VMA, "vm_end");
const VMA_FLAGS = offsetOf(VMA, "vm_flags");
const VMA_PTES = offsetOf(VMA, "ptes");
const VMA_NR_PTES = offsetOf(VMA, "nr_ptes");
const VMA_RSS_FILE = offsetOf(VMA, "rss_file");
const PTE_SIZE = 8;

/** A VMA of `nrPages` pages at user address `start` (page aligned, below 4 GiB): 0 when kmalloc fails. */
export function vmaCreate(m: Machine, start: number, nrPages: number): number {
  const mem = m.mem;
  const vma = m.slab.kmalloc(VMA.size, GFP_ZERO);
  if (vma === 0) return 0;
  const ptes = m.slab.kmalloc(Math.max(PTE_SIZE, nrPages * PTE_SIZE), GFP_ZERO);
  if (ptes === 0) {
    m.slab.kfree(vma);
    return 0;
  }
  mem.wr64(vma + VMA_START, 0, start >>> 0);
  mem.wr64num(vma + VMA_END, start + nrPages * mem.pageSize);
  mem.wrPtr(vma + VMA_PTES, ptes);
  mem.wr64(vma + VMA_NR_PTES, 0, nrPages);
  return vma;
}

/** munmap(): zap every PTE, then free the VMA. */
export function vmaDestroy(m: Machine, vma: number): void {
  zapVma(m, vma);
  m.slab.kfree(m.mem.rdPtr(vma + VMA_PTES));
  m.slab.kfree(vma);
}

/** Pages mapped now (MM_FILEPAGES of this VMA). */
export function vmaMapped(m: Machine, vma: number): number {
  return m.mem.rd32(vma + VMA_RSS_FILE);
}

/** The page PTE `i` maps, 0 for pte_none. */
export function vmaPte(m: Machine, vma: number, i: number): number {
  return m.mem.rdPtr(m.mem.rdPtr(vma + VMA_PTES) + i * PTE_SIZE);
}

/**
 * `validate_page_before_insert(vma, page)`: 0 or -EINVAL. Pages are order-0 (no folio walk).
 * `allowNetpp` is the change Dragos Tatulea proposed with his report (`page_has_type(page) &&
 * !PageNetpp(page)`, search id 54754990943), which was not taken: "The type is stored in
 * page->_mapcount, and rmap code would corrupt that type" (David Hildenbrand, id 54520961991).
 */
export function validatePageBeforeInsert(m: Machine, page: number, allowNetpp = false): number {
  const u32 = m.mem.u32;
  if (pageRefCount(u32, page) === 0) return -EINVAL;
  const typed = pageHasType(u32, page) && !(allowNetpp && PageNetpp(u32, page));
  if ((u32[(page + PAGE_MAPPING) >>> 2]! & PAGE_MAPPING_ANON) !== 0 || typed) return -EINVAL;
  return 0; // flush_dcache_folio(): nothing to flush on x86
}

/**
 * `vm_insert_pages(vma, addr, pages, num)`: `pages` is a `struct page *[]` in the buffer, `numPtr`
 * an `unsigned long` holding the count on entry and the pages *not* mapped on return. 0 or the
 * first error (-EFAULT out of range, -EINVAL from validate, -EBUSY on a present PTE); the pages
 * before the failing one stay mapped.
 */
export function vmInsertPages(m: Machine, vma: number, addr: number, pages: number, numPtr: number, allowNetpp = false): number {
  const mem = m.mem;
  const u32 = mem.u32;
  const num = mem.rd32(numPtr);
  const start = mem.rd32(vma + VMA_START);
  if (addr < start || addr + num * mem.pageSize - 1 >= mem.rd64(vma + VMA_END)) return -EFAULT;
  mem.wr32(vma + VMA_FLAGS, mem.rd32(vma + VMA_FLAGS) | VM_MIXEDMAP);
  const ptes = mem.rdPtr(vma + VMA_PTES);
  let slot = (addr - start) / mem.pageSize;
  for (let i = 0; i < num; i++, slot++) {
    const page = mem.rdPtr(pages + i * 8);
    let err = validatePageBeforeInsert(m, page, allowNetpp);
    if (err === 0 && mem.rdPtr(ptes + slot * PTE_SIZE) !== 0) err = -EBUSY;
    if (err !== 0) {
      mem.wr64(numPtr, 0, num - i);
      return err;
    }
    // folio_get(); inc_mm_counter(MM_FILEPAGES); folio_add_file_rmap_pte(): _mapcount++; set_pte_at().
    pageRefInc(u32, page);
    mem.wr32(vma + VMA_RSS_FILE, mem.rd32(vma + VMA_RSS_FILE) + 1);
    Atomics.add(u32, (page + PAGE_MAPCOUNT) >>> 2, 1);
    mem.wrPagePtr(ptes + slot * PTE_SIZE, page);
  }
  mem.wr64(numPtr, 0, 0);
  return 0;
}

/**
 * `zap_page_range_single()` over the whole VMA: per present PTE `folio_remove_rmap_pte()`
 * (`_mapcount--`), `dec_mm_counter()`, and the mapping's reference dropped (`folio_put()`, which
 * frees the page when it was the last). Returns the PTEs zapped.
 */
export function zapVma(m: Machine, vma: number): number {
  const mem = m.mem;
  const ptes = mem.rdPtr(vma + VMA_PTES);
  const n = mem.rd32(vma + VMA_NR_PTES);
  let zapped = 0;
  for (let i = 0; i < n; i++) {
    const page = mem.rdPtr(ptes + i * PTE_SIZE);
    if (page === 0) continue;
    mem.wr64(ptes + i * PTE_SIZE, 0, 0);
    Atomics.sub(mem.u32, (page + PAGE_MAPCOUNT) >>> 2, 1);
    mem.wr32(vma + VMA_RSS_FILE, mem.rd32(vma + VMA_RSS_FILE) - 1);
    m.pa.putPage(page);
    zapped++;
  }
  return zapped;
}
