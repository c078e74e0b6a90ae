/**
 * The PGTY_netpp page type (db359fccf212): the words, PAGE_TYPE_OPS(Netpp) with its VM_BUG_ON_PAGEs,
 * page_has_type(), and the page allocator's "page_pool leak" check keyed on the type.
 */
import { describe, it, expect } from "vitest";
import { PhysMem } from "../../src/mem/physmem.js";
import { PageAlloc } from "../../src/mem/buddy.js";
import { Diag, formatDiag } from "../../src/mem/diag.js";
import { PAGE_TYPE, PAGE_PP_MAGIC, pageTypeWord, PGTY_slab, PGTY_netpp } from "../../src/mem/page.js";
import {
  PAGE_TYPE_NETPP,
  UINT_MAX,
  PageNetpp,
  pageWordHasType,
  pageTypeName,
  setPageNetpp,
  clearPageNetpp,
  VM_BUG_SET_NOT_UINT_MAX,
  VM_BUG_CLEAR_NOT_NETPP,
} from "../../src/mem/page_type.js";

function fresh(ppChecks = true): { mem: PhysMem; pa: PageAlloc } {
  const mem = PhysMem.create({ bytes: 8 << 20, ppChecks });
  return { mem, pa: PageAlloc.init(mem) };
}
const typeOf = (mem: PhysMem, page: number) => mem.rd32(page + PAGE_TYPE);

describe("page_type words", () => {
  it("PGTY_netpp is 0xf9 in the top byte: set 0xf9000000, none 0xffffffff", () => {
    expect(PGTY_netpp).toBe(0xf9);
    expect(PAGE_TYPE_NETPP).toBe(0xf9000000);
    expect(pageTypeWord(PGTY_netpp)).toBe(0xf9000000);
    expect(UINT_MAX).toBe(0xffffffff);
    expect(pageTypeName(0xf9000000)).toBe("PGTY_netpp");
    expect(pageTypeName(0xffffffff)).toBe("untyped (_mapcount -1)");
    expect(pageTypeName(0)).toBe("mapcount 1");
    expect(pageTypeName(pageTypeWord(PGTY_slab))).toBe("PGTY_slab");
  });

  it("page_has_type() = page_type_has_type(word - 1): typed words yes, mapcounts and UINT_MAX no", () => {
    expect(pageWordHasType(0xf9000000)).toBe(true);
    expect(pageWordHasType(0xf0000000)).toBe(true);
    expect(pageWordHasType(0xffffffff)).toBe(false);
    expect(pageWordHasType(0)).toBe(false);
    expect(pageWordHasType(0x7fffffff)).toBe(false);
    // The formula's edge: PGTY_mapcount_underflow << 24 itself still compares below after the - 1.
    expect(pageWordHasType(0xff000000)).toBe(true);
    expect(pageWordHasType(0xff000001)).toBe(false);
  });
});

describe("PAGE_TYPE_OPS(Netpp)", () => {
  it("__SetPageNetpp on an untyped page stores 0xf9000000, twice is a no-op; __ClearPageNetpp gives UINT_MAX back", () => {
    const { mem, pa } = fresh();
    const page = pa.allocPages(0);
    expect(typeOf(mem, page)).toBe(0xffffffff);
    expect(PageNetpp(mem.u32, page)).toBe(false);
    expect(setPageNetpp(mem, page)).toBe(true);
    expect(typeOf(mem, page)).toBe(0xf9000000);
    expect(PageNetpp(mem.u32, page)).toBe(true);
    expect(setPageNetpp(mem, page)).toBe(true);
    expect(typeOf(mem, page)).toBe(0xf9000000);
    expect(clearPageNetpp(mem, page)).toBe(true);
    expect(typeOf(mem, page)).toBe(0xffffffff);
    expect(clearPageNetpp(mem, page)).toBe(true); // UINT_MAX: returns at once
    expect(mem.diagCount(Diag.VM_BUG_ON_PAGE)).toBe(0);
  });

  it("__SetPageNetpp on page_type 0 (an uninitialised niov) hits VM_BUG_ON_PAGE(page_type != UINT_MAX) and keeps the word", () => {
    const { mem, pa } = fresh();
    const page = pa.allocPages(0);
    mem.wr32(page + PAGE_TYPE, 0);
    expect(setPageNetpp(mem, page)).toBe(false);
    expect(typeOf(mem, page)).toBe(0);
    expect(mem.diagCount(Diag.VM_BUG_ON_PAGE)).toBe(1);
    const rec = mem.diagFirst(Diag.VM_BUG_ON_PAGE)!;
    expect(rec.a).toBe(page >>> 6);
    expect(rec.b).toBe(0);
    expect(rec.c).toBe(VM_BUG_SET_NOT_UINT_MAX);
    expect(rec.text).toBe("page dumped because: VM_BUG_ON_PAGE(data_race(page->page_type) != UINT_MAX)\nkernel BUG at ./include/linux/page-flags.h:1062!");
  });

  it("__ClearPageNetpp on another type hits VM_BUG_ON_PAGE(!PageNetpp(page))", () => {
    const { mem, pa } = fresh();
    const page = pa.allocPages(0);
    mem.wr32(page + PAGE_TYPE, pageTypeWord(PGTY_slab));
    expect(clearPageNetpp(mem, page)).toBe(false);
    expect(typeOf(mem, page)).toBe(0xf5000000);
    expect(formatDiag(Diag.VM_BUG_ON_PAGE, 0, 0xf5000000, VM_BUG_CLEAR_NOT_NETPP)).toBe(
      "page dumped because: VM_BUG_ON_PAGE(!PageNetpp(page))\nkernel BUG at ./include/linux/page-flags.h:1062!",
    );
    mem.wr32(page + PAGE_TYPE, UINT_MAX);
  });

  it("without CONFIG_DEBUG_VM (machine checks off) the VM_BUG_ON is compiled out: the type is stored over the garbage", () => {
    const { mem, pa } = fresh(false);
    const page = pa.allocPages(0);
    mem.wr32(page + PAGE_TYPE, 0);
    expect(setPageNetpp(mem, page)).toBe(true);
    expect(typeOf(mem, page)).toBe(0xf9000000);
    expect(mem.diagCount(Diag.VM_BUG_ON_PAGE)).toBe(0);
  });
});

describe("__free_pages_prepare(): a page still typed netpp is a page_pool leak", () => {
  it("bad_page(page, \"page_pool leak\") from the page type, whatever pp_magic holds, and the page is not freed", () => {
    const { mem, pa } = fresh();
    const page = pa.allocPages(0);
    const freeBefore = pa.nrFree();
    setPageNetpp(mem, page);
    mem.wr64(page + PAGE_PP_MAGIC, 0, 0); // no PP_SIGNATURE: the pre-v7.1 test would not see it
    pa.putPage(page);
    expect(mem.diagCount(Diag.PAGE_POOL_LEAK)).toBe(1);
    expect(mem.diagCount(Diag.BAD_PAGE_STATE)).toBe(0);
    expect(mem.diagFirst(Diag.PAGE_POOL_LEAK)!.text).toBe(`BUG: Bad page state in process ppemu  pfn:${(page >>> 6).toString(16).padStart(5, "0")}\npage dumped because: page_pool leak`);
    expect(pa.nrFree()).toBe(freeBefore);
    expect(pa.isBuddy(page)).toBe(false);
  });

  it("another leftover type is still the generic bad-page report", () => {
    const { mem, pa } = fresh();
    const page = pa.allocPages(0);
    mem.wr32(page + PAGE_TYPE, pageTypeWord(PGTY_slab));
    pa.putPage(page);
    expect(mem.diagCount(Diag.PAGE_POOL_LEAK)).toBe(0);
    expect(mem.diagCount(Diag.BAD_PAGE_STATE)).toBe(1);
  });
});

describe("explain decodes the type", () => {
  it("page_type 0xf9000000 is PGTY_netpp in explain's field decoder", async () => {
    const { pageTypeName: explainName } = await import("../../src/verify/explain_fields.js");
    expect(explainName(0xf9000000)).toBe("page_type 0xf9000000: PGTY_netpp (page_pool, v7.1-rc)");
  });
});
