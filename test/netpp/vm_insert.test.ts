/** vm_insert_pages() / validate_page_before_insert() on the emulator's VMA (mm/memory.c). */
import { describe, it, expect } from "vitest";
import { bootMachine } from "../../src/mem/machine.js";
import { PAGE_TYPE, PAGE_MAPPING, PAGE_REFCOUNT, pageTypeWord, PGTY_slab } from "../../src/mem/page.js";
import { GFP_ZERO } from "../../src/mem/buddy.js";
import { PAGE_TYPE_NETPP } from "../../src/mem/page_type.js";
import { vmaCreate, vmaDestroy, vmaMapped, vmaPte, vmInsertPages, validatePageBeforeInsert, zapVma } from "../../src/mem/vm_insert.js";

function setup(n: number) {
  const m = bootMachine({ bytes: 8 << 20 });
  const pages = Array.from({ length: n }, () => m.pa.allocPages(0));
  const arr = m.slab.kmalloc(n * 8, GFP_ZERO);
  pages.forEach((p, i) => m.mem.wrPagePtr(arr + i * 8, p));
  const num = m.slab.kmalloc(8, GFP_ZERO);
  return { m, pages, arr, num };
}

describe("validate_page_before_insert()", () => {
  it("-EINVAL for a typed page (netpp, slab), an anon mapping, a page with no reference; 0 for a plain page", () => {
    const { m, pages } = setup(1);
    const p = pages[0]!;
    expect(validatePageBeforeInsert(m, p)).toBe(0);
    m.mem.wr32(p + PAGE_TYPE, PAGE_TYPE_NETPP);
    expect(validatePageBeforeInsert(m, p)).toBe(-22);
    m.mem.wr32(p + PAGE_TYPE, pageTypeWord(PGTY_slab));
    expect(validatePageBeforeInsert(m, p)).toBe(-22);
    m.mem.wr32(p + PAGE_TYPE, 0xffffffff);
    m.mem.wr32(p + PAGE_MAPPING, 0x1000 | 1); // PAGE_MAPPING_ANON
    expect(validatePageBeforeInsert(m, p)).toBe(-22);
    m.mem.wr32(p + PAGE_MAPPING, 0);
    m.mem.wr32(p + PAGE_REFCOUNT, 0);
    expect(validatePageBeforeInsert(m, p)).toBe(-22);
    m.mem.wr32(p + PAGE_REFCOUNT, 1);
  });
});

describe("vm_insert_pages()", () => {
  it("maps every page: _refcount 2, _mapcount 0 (page_type 0), MM_FILEPAGES counted; munmap undoes it all", () => {
    const { m, pages, arr, num } = setup(5);
    const vma = vmaCreate(m, 0x10000000, 5);
    m.mem.wr64(num, 0, 5);
    expect(vmInsertPages(m, vma, 0x10000000, arr, num)).toBe(0);
    expect(m.mem.rd32(num)).toBe(0);
    expect(vmaMapped(m, vma)).toBe(5);
    pages.forEach((p, i) => {
      expect(vmaPte(m, vma, i)).toBe(p);
      expect(m.mem.rd32(p + PAGE_REFCOUNT)).toBe(2);
      expect(m.mem.rd32(p + PAGE_TYPE)).toBe(0);
    });
    expect(zapVma(m, vma)).toBe(5);
    pages.forEach((p) => {
      expect(m.mem.rd32(p + PAGE_REFCOUNT)).toBe(1);
      expect(m.mem.rd32(p + PAGE_TYPE)).toBe(0xffffffff);
    });
    vmaDestroy(m, vma);
  });

  it("stops at the first typed page: the pages before stay mapped, *num is what was not", () => {
    const { m, pages, arr, num } = setup(4);
    m.mem.wr32(pages[2]! + PAGE_TYPE, PAGE_TYPE_NETPP);
    const vma = vmaCreate(m, 0x10000000, 4);
    m.mem.wr64(num, 0, 4);
    expect(vmInsertPages(m, vma, 0x10000000, arr, num)).toBe(-22);
    expect(m.mem.rd32(num)).toBe(2);
    expect(vmaMapped(m, vma)).toBe(2);
    expect(m.mem.rd32(pages[2]! + PAGE_TYPE)).toBe(0xf9000000);
    expect(m.mem.rd32(pages[2]! + PAGE_REFCOUNT)).toBe(1);
  });

  it("-EBUSY on a present PTE, -EFAULT outside the VMA", () => {
    const { m, arr, num } = setup(2);
    const vma = vmaCreate(m, 0x10000000, 2);
    m.mem.wr64(num, 0, 1);
    expect(vmInsertPages(m, vma, 0x10000000, arr, num)).toBe(0);
    m.mem.wr64(num, 0, 1);
    expect(vmInsertPages(m, vma, 0x10000000, arr + 8, num)).toBe(-16);
    expect(m.mem.rd32(num)).toBe(1);
    m.mem.wr64(num, 0, 2);
    expect(vmInsertPages(m, vma, 0x10001000, arr, num)).toBe(-14);
    expect(vmInsertPages(m, vma, 0x0ffff000, arr, num)).toBe(-14);
  });
});
