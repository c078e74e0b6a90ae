import { describe, it, expect } from "vitest";
import { PhysMem, FailSite, MACH_FREE_AREA, FREE_AREA_SIZE, FREE_AREA_FREE_LIST, MACH_NR_FREE_PAGES } from "../../src/mem/physmem.js";
import { PageAlloc, GFP_ZERO, PAGE_TYPE_BUDDY } from "../../src/mem/buddy.js";
import { Diag, diagOrigin } from "../../src/mem/diag.js";
import {
  PAGE_FLAGS,
  PAGE_PP_MAGIC,
  PAGE_PP,
  PAGE_MAPPING,
  PAGE_PRIVATE,
  PAGE_TYPE,
  PAGE_REFCOUNT,
  PAGE_COMPOUND_HEAD,
  PAGE_TYPE_NONE,
  VMEMMAP_HI,
  DIRECT_MAP_HI,
  pageTypeWord,
  PGTY_slab,
} from "../../src/mem/page.js";

const MiB = 1 << 20;

function fresh(bytes = 64 * MiB, poison = true): { mem: PhysMem; pa: PageAlloc } {
  const mem = PhysMem.create({ bytes, poison });
  return { mem, pa: PageAlloc.init(mem) };
}

/** The pfns on free_area[order].free_list, in list order, walked from the header. */
function freeListPfns(mem: PhysMem, order: number): number[] {
  const head = mem.machine + MACH_FREE_AREA + order * FREE_AREA_SIZE + FREE_AREA_FREE_LIST;
  const out: number[] = [];
  for (let e = mem.rdPtr(head); e !== head; e = mem.rdPtr(e)) out.push(mem.pageToPfn(e - 8));
  return out;
}

const nrFreeByOrder = (pa: PageAlloc) => Array.from({ length: 11 }, (_, o) => pa.nrFreeByOrder(o));
const pfnOf = (page: number) => page >>> 6;
const pageOf = (pfn: number) => pfn << 6;

/**
 * Decompose [first, end) into the largest naturally aligned blocks (at most order 10): what
 * memblock_free_all() leaves on the free lists.
 */
function expectedBlocks(first: number, end: number): number[][] {
  const byOrder: number[][] = Array.from({ length: 11 }, () => []);
  for (let pfn = first; pfn < end; ) {
    let o = 10;
    while (pfn % (1 << o) !== 0 || pfn + (1 << o) > end) o--;
    byOrder[o]!.push(pfn);
    pfn += 1 << o;
  }
  return byOrder;
}

describe("PageAlloc.init", () => {
  it("puts every frame after the boot frames on the free lists, 64 MiB", () => {
    const { mem, pa } = fresh();
    // 16384 frames; memmap = 16384 * 64 B / 4 KiB = 256 frames; header + diag = pfn 256, 257.
    expect(mem.nrFrames).toBe(16384);
    expect(mem.memmapFrames).toBe(256);
    expect(mem.firstAllocatablePfn).toBe(258);
    // 258 (o1), 260 (o2), 264 (o3), 272 (o4), 288 (o5), 320 (o6), 384 (o7), 512 (o9), 1024.. (o10 x15)
    expect(nrFreeByOrder(pa)).toEqual([0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 15]);
    expect(pa.nrFree()).toBe(16384 - 258);
    expect(pa.nrFree()).toBe(2 + 4 + 8 + 16 + 32 + 64 + 128 + 512 + 15 * 1024);
    expect(mem.rd32(mem.machine + MACH_NR_FREE_PAGES)).toBe(16126);
    const expected = expectedBlocks(258, 16384);
    for (let o = 0; o <= 10; o++) expect(freeListPfns(mem, o)).toEqual(expected[o]);
    expect(freeListPfns(mem, 10)).toEqual(Array.from({ length: 15 }, (_, i) => 1024 * (i + 1)));
  });

  it("marks free block heads PageBuddy with their order, and nothing else", () => {
    const { mem } = fresh();
    expect(mem.rd32(pageOf(258) + PAGE_TYPE)).toBe(0xf0000000);
    expect(mem.rd32(pageOf(258) + PAGE_PRIVATE)).toBe(1);
    expect(mem.rd32(pageOf(512) + PAGE_PRIVATE)).toBe(9);
    expect(mem.rd32(pageOf(259) + PAGE_TYPE)).toBe(PAGE_TYPE_NONE);
    expect(mem.rd32(pageOf(1025) + PAGE_TYPE)).toBe(PAGE_TYPE_NONE);
    // lru.next of the only order-1 block points back at the list head (a list_head member, +8).
    const head1 = mem.machine + MACH_FREE_AREA + 1 * FREE_AREA_SIZE + FREE_AREA_FREE_LIST;
    expect(mem.rd64lo(pageOf(258) + 8)).toBe(head1);
    expect(mem.rd64hi(pageOf(258) + 8)).toBe(DIRECT_MAP_HI);
    expect(mem.rd64lo(head1)).toBe(pageOf(258) + 8);
  });

  it("handles a machine whose end is not order-10 aligned (1 MiB)", () => {
    const { mem, pa } = fresh(1 * MiB);
    // 256 frames, memmap 4, boot 4-5: 6 (o1), 8 (o3), 16 (o4), 32 (o5), 64 (o6), 128 (o7).
    expect(mem.firstAllocatablePfn).toBe(6);
    expect(nrFreeByOrder(pa)).toEqual([0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0]);
    expect(pa.nrFree()).toBe(250);
    const expected = expectedBlocks(6, 256);
    for (let o = 0; o <= 10; o++) expect(freeListPfns(mem, o)).toEqual(expected[o]);
  });
});

describe("allocPages: split (expand)", () => {
  it("takes the smallest order that has a block and gives back the high halves", () => {
    const { mem, pa } = fresh();
    const a = pa.allocPages(0);
    expect(pfnOf(a)).toBe(258); // the order-1 block split: 259 goes to order 0
    expect(freeListPfns(mem, 0)).toEqual([259]);
    expect(freeListPfns(mem, 1)).toEqual([]);
    expect(pfnOf(pa.allocPages(0))).toBe(259);
    const c = pa.allocPages(0);
    expect(pfnOf(c)).toBe(260); // order 2 at 260 split: 262 (o1), 261 (o0)
    expect(freeListPfns(mem, 0)).toEqual([261]);
    expect(freeListPfns(mem, 1)).toEqual([262]);
    expect(freeListPfns(mem, 2)).toEqual([]);
    expect(pa.nrFree()).toBe(16126 - 3);
    expect(nrFreeByOrder(pa)).toEqual([1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 15]);
  });

  it("hands out a fresh page with one reference, no type, no order, clear list words", () => {
    const { mem, pa } = fresh();
    const p = pa.allocPages(0);
    expect(mem.rd32(p + PAGE_REFCOUNT)).toBe(1);
    expect(mem.rd32(p + PAGE_TYPE)).toBe(PAGE_TYPE_NONE);
    expect(mem.rd32(p + PAGE_PRIVATE)).toBe(0);
    expect([mem.rd64lo(p + PAGE_PP_MAGIC), mem.rd64hi(p + PAGE_PP_MAGIC)]).toEqual([0, 0]);
    expect([mem.rd64lo(p + PAGE_PP), mem.rd64hi(p + PAGE_PP)]).toEqual([0, 0]);
    expect(pa.pageCount(p)).toBe(1);
  });

  it("splits an order-10 block down for an order-8 request", () => {
    const { mem, pa } = fresh();
    // orders 8 has none, 9 has 512: split into 512 (taken) and 768 (o8).
    expect(pfnOf(pa.allocPages(8))).toBe(512);
    expect(freeListPfns(mem, 8)).toEqual([768]);
    expect(freeListPfns(mem, 9)).toEqual([]);
    // next order 8: the one at 768.
    expect(pfnOf(pa.allocPages(8))).toBe(768);
    // next: from order 10 at 1024: 1024 taken, 1280 (o8) and 1536 (o9) freed.
    expect(pfnOf(pa.allocPages(8))).toBe(1024);
    expect(freeListPfns(mem, 8)).toEqual([1280]);
    expect(freeListPfns(mem, 9)).toEqual([1536]);
    expect(pa.nrFreeByOrder(10)).toBe(14);
  });

  it("refuses orders above MAX_PAGE_ORDER and fails when memory is gone", () => {
    const { pa } = fresh(1 * MiB);
    expect(pa.allocPages(11)).toBe(0);
    expect(pa.allocPages(8)).toBe(0); // the largest free block is order 7
    const got: number[] = [];
    for (;;) {
      const p = pa.allocPages(0);
      if (p === 0) break;
      got.push(pfnOf(p));
    }
    expect(got.length).toBe(250);
    expect(new Set(got).size).toBe(250);
    expect(Math.min(...got)).toBe(6);
    expect(Math.max(...got)).toBe(255);
    expect(pa.nrFree()).toBe(0);
    for (const pfn of got) pa.freePages(pageOf(pfn), 0);
    expect(pa.nrFree()).toBe(250);
    expect(nrFreeByOrder(pa)).toEqual([0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0]);
  });

  it("honours PAGE_ALLOC failure injection", () => {
    const { mem, pa } = fresh();
    mem.setFail(FailSite.PAGE_ALLOC, { space: 1, times: 1 });
    expect(pfnOf(pa.allocPages(0))).toBe(258);
    expect(pa.allocPages(0)).toBe(0);
    expect(pfnOf(pa.allocPages(0))).toBe(259);
    expect(mem.failInjected(FailSite.PAGE_ALLOC)).toBe(1);
    expect(pa.nrFree()).toBe(16124);
  });
});

describe("compound pages", () => {
  it("writes PG_head, the order in page[1].flags and head|1 in every tail, bit-exact", () => {
    const { mem, pa } = fresh();
    const head = pa.allocPages(2);
    expect(pfnOf(head)).toBe(260);
    expect(head).toBe(0x4100);
    expect(mem.rd32(head + PAGE_FLAGS)).toBe(0x40); // 1 << PG_head (6)
    expect(mem.rd32(head + 64 + PAGE_FLAGS) & 0xff).toBe(2);
    expect(mem.rd32(head + 64 + PAGE_FLAGS)).toBe(2);
    for (let i = 1; i < 4; i++) {
      const tail = head + i * 64;
      expect(mem.rd64lo(tail + PAGE_COMPOUND_HEAD)).toBe(0x4101);
      expect(mem.rd64hi(tail + PAGE_COMPOUND_HEAD)).toBe(VMEMMAP_HI);
      expect(pa.compoundHead(tail)).toBe(head);
      expect(mem.rd32(tail + PAGE_REFCOUNT)).toBe(0);
      expect(pa.pageCount(tail)).toBe(1);
    }
    expect(pa.compoundHead(head)).toBe(head);
    expect(pa.compoundOrder(head)).toBe(2);
    expect(pa.compoundOrder(head + 64)).toBe(0);
    const single = pa.allocPages(0);
    expect(mem.rd32(single + PAGE_FLAGS)).toBe(0);
    expect(pa.compoundOrder(single)).toBe(0);
  });

  it("clears the compound words on free", () => {
    const { mem, pa } = fresh();
    const head = pa.allocPages(3); // 264
    pa.freePages(head, 3);
    expect(mem.rd32(head + PAGE_FLAGS)).toBe(0);
    expect(mem.rd32(head + 64 + PAGE_FLAGS)).toBe(0);
    for (let i = 1; i < 8; i++) expect([mem.rd64lo(head + i * 64 + 8), mem.rd64hi(head + i * 64 + 8)]).toEqual([0, 0]);
    expect(mem.rd32(head + PAGE_TYPE)).toBe(PAGE_TYPE_BUDDY);
    expect(mem.rd32(head + PAGE_PRIVATE)).toBe(3);
    expect(freeListPfns(mem, 3)).toEqual([264]);
  });

  it("get_page/put_page go to the head and free the whole compound page at 0", () => {
    const { mem, pa } = fresh();
    const head = pa.allocPages(2);
    pa.getPage(head + 3 * 64);
    expect(pa.pageCount(head)).toBe(2);
    pa.putPage(head + 64);
    expect(pa.pageCount(head)).toBe(1);
    expect(pa.nrFree()).toBe(16126 - 4);
    pa.putPage(head);
    expect(pa.nrFree()).toBe(16126);
    expect(nrFreeByOrder(pa)).toEqual([0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 15]);
    expect(mem.diagTotal).toBe(0);
  });
});

describe("freePages: merge (__free_one_page)", () => {
  it("merges with free buddies back up to the original blocks", () => {
    const { mem, pa } = fresh();
    const a = pa.allocPages(0); // 258
    const b = pa.allocPages(0); // 259
    const c = pa.allocPages(0); // 260; 261 (o0), 262 (o1) free
    pa.freePages(a, 0); // buddy 259 in use: stays order 0, at the head of the list
    expect(freeListPfns(mem, 0)).toEqual([258, 261]);
    pa.freePages(c, 0); // 260+261 → 260 o1, +262 → 260 o2
    expect(freeListPfns(mem, 0)).toEqual([258]);
    expect(freeListPfns(mem, 1)).toEqual([]);
    expect(freeListPfns(mem, 2)).toEqual([260]);
    pa.freePages(b, 0); // 258+259 → 258 o1; buddy 256 is reserved
    expect(freeListPfns(mem, 0)).toEqual([]);
    expect(freeListPfns(mem, 1)).toEqual([258]);
    expect(nrFreeByOrder(pa)).toEqual([0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 15]);
    expect(pa.nrFree()).toBe(16126);
  });

  it("merges 1024 order-0 frees of one block back into one order-10 block", () => {
    const { mem, pa } = fresh();
    const pages: number[] = [];
    for (let i = 0; i < 16126; i++) pages.push(pa.allocPages(0));
    expect(pa.nrFree()).toBe(0);
    expect(pa.allocPages(0)).toBe(0);
    // free the block at 1024 in a scattered order
    for (let k = 0; k < 1024; k++) pa.freePages(pageOf(1024 + ((k * 389) % 1024)), 0);
    expect(freeListPfns(mem, 10)).toEqual([1024]);
    expect(pa.nrFree()).toBe(1024);
    expect(nrFreeByOrder(pa)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it("only frees at the last reference", () => {
    const { pa } = fresh();
    const p = pa.allocPages(0);
    pa.getPage(p);
    pa.freePages(p, 0);
    expect(pa.pageCount(p)).toBe(1);
    expect(pa.nrFree()).toBe(16125);
    pa.freePages(p, 0);
    expect(pa.nrFree()).toBe(16126);
  });

  it("poisons freed frames with 0xaa when page_poison is on, and GFP_ZERO zeroes them", () => {
    const { mem, pa } = fresh();
    const p = pa.allocPages(1);
    const base = mem.pageAddress(p);
    expect(base).toBe(258 * 4096);
    mem.u8.fill(0x5a, base, base + 8192);
    pa.freePages(p, 1);
    expect(mem.u8.subarray(base, base + 8192).every((x) => x === 0xaa)).toBe(true);
    expect(mem.u8[base + 8192]).toBe(0); // 260 was never touched
    const q = pa.allocPages(0); // 258 again, still poisoned
    expect(q).toBe(p);
    expect(mem.u8[base]).toBe(0xaa);
    expect(mem.u8[base + 4095]).toBe(0xaa);
    pa.freePages(q, 0);
    const z = pa.allocPages(1, GFP_ZERO);
    expect(z).toBe(p);
    expect(mem.u8.subarray(base, base + 8192).every((x) => x === 0)).toBe(true);
  });

  it("leaves freed data alone when page_poison is off", () => {
    const { mem, pa } = fresh(64 * MiB, false);
    const p = pa.allocPages(0);
    const base = mem.pageAddress(p);
    mem.u8.fill(0x5a, base, base + 4096);
    pa.freePages(p, 0);
    expect(mem.u8[base]).toBe(0x5a);
    expect(mem.u8[base + 4095]).toBe(0x5a);
  });
});

describe("freePages: bad pages (free_pages_prepare)", () => {
  it("DOUBLE_FREE: a freed page, and a frame inside a free block", () => {
    const { mem, pa } = fresh();
    const p = pa.allocPages(0); // 258
    pa.freePages(p, 0);
    pa.freePages(p, 0);
    expect(mem.diagCount(Diag.DOUBLE_FREE)).toBe(1);
    pa.freePages(pageOf(1025), 0); // a tail frame of the free order-10 block at 1024
    expect(mem.diagCount(Diag.DOUBLE_FREE)).toBe(2);
    expect(mem.diagTotal).toBe(2);
    expect(pa.nrFree()).toBe(16126);
    expect(nrFreeByOrder(pa)).toEqual([0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 15]);
    const log = mem.diagLog();
    expect(log[0]!.a).toBe(258);
    expect(log[1]!.a).toBe(1025);
    // An emulator check (the kernel has no such message): a ppemu: line, the pfn as bad_page()'s %05lx.
    expect(log[0]!.text).toBe("ppemu: page allocator: double free of pfn:00102");
    expect(log[1]!.text).toBe("ppemu: page allocator: double free of pfn:00401");
    expect(diagOrigin(Diag.DOUBLE_FREE)).toBe("ppemu");
  });

  it("PAGE_POOL_LEAK: pp_magic passing the v6.16 mask keeps the page out of the allocator", () => {
    const { mem, pa } = fresh();
    const p = pa.allocPages(0);
    mem.wr64(p + PAGE_PP_MAGIC, 0xdead0000, 0xc0); // PP_SIGNATURE | id 1 << 7
    pa.freePages(p, 0);
    expect(mem.diagCount(Diag.PAGE_POOL_LEAK)).toBe(1);
    expect(mem.diagLog()[0]!.a).toBe(258);
    expect(mem.diagLog()[0]!.b).toBe(0xc0);
    expect(mem.diagLog()[0]!.text).toContain("page_pool leak");
    expect(pa.nrFree()).toBe(16125); // leaked, as bad_page() leaves it
    expect(mem.rd32(p + PAGE_TYPE)).toBe(PAGE_TYPE_NONE);
    expect(mem.rd32(p + PAGE_REFCOUNT)).toBe(0);

    // the largest id and bit 1 (pfmemalloc) are outside PP_MAGIC_MASK: still a page_pool page.
    // (Bit 0 would make the page a tail: page_pool keeps it 0.)
    const q = pa.allocPages(0);
    mem.wr64(q + PAGE_PP_MAGIC, 0xdead007f, 0xffffffc2);
    pa.freePages(q, 0);
    expect(mem.diagCount(Diag.PAGE_POOL_LEAK)).toBe(2);

    // bit 39 is outside PP_DMA_INDEX_MASK: not a page_pool page, freed normally
    const r = pa.allocPages(0);
    mem.wr64(r + PAGE_PP_MAGIC, 0xdead0080, 0x40);
    pa.freePages(r, 0);
    // a direct-map pointer in the same word is not one either
    const s = pa.allocPages(0);
    mem.wrPtr(s + PAGE_PP_MAGIC, 0x40);
    pa.freePages(s, 0);
    expect(mem.diagCount(Diag.PAGE_POOL_LEAK)).toBe(2);
    expect(mem.diagTotal).toBe(2);
    expect(pa.nrFree()).toBe(16124);
  });

  it("BAD_PAGE_STATE: tail freed directly, typed page, mapcount, mapping, order mismatch, reserved", () => {
    const { mem, pa } = fresh();
    const head = pa.allocPages(2); // 260
    pa.freePages(head + 64, 0);
    expect(mem.diagCount(Diag.BAD_PAGE_STATE)).toBe(1);
    expect(mem.diagLog()[0]!.a).toBe(261);
    expect(mem.diagLog()[0]!.b).toBe(0x4101);
    expect(pa.pageCount(head)).toBe(1);

    const t = pa.allocPages(0);
    mem.wr32(t + PAGE_TYPE, pageTypeWord(PGTY_slab));
    pa.freePages(t, 0);
    expect(mem.diagCount(Diag.BAD_PAGE_STATE)).toBe(2);
    expect(mem.diagLog()[1]!.b).toBe(0xf5000000);

    const mc = pa.allocPages(0);
    mem.wr32(mc + PAGE_TYPE, 0); // _mapcount 0: mapped once
    pa.freePages(mc, 0);
    expect(mem.diagCount(Diag.BAD_PAGE_STATE)).toBe(3);

    const mp = pa.allocPages(0);
    mem.wrPtr(mp + PAGE_MAPPING, 0x12340);
    pa.freePages(mp, 0);
    expect(mem.diagCount(Diag.BAD_PAGE_STATE)).toBe(4);

    const o1 = pa.allocPages(1);
    pa.freePages(o1, 0);
    expect(mem.diagCount(Diag.BAD_PAGE_STATE)).toBe(5);

    pa.freePages(pageOf(256), 0); // the machine header frame: PG_reserved
    expect(mem.diagCount(Diag.BAD_PAGE_STATE)).toBe(6);

    pa.freePages(0x41, 0); // not a struct page pointer
    expect(mem.diagCount(Diag.BAD_PAGE_STATE)).toBe(7);

    expect(mem.diagCount(Diag.DOUBLE_FREE)).toBe(0);
    expect(mem.diagTotal).toBe(7);
    // none of the refused pages went back: 4 + 1 + 1 + 1 + 2 frames still out
    expect(pa.nrFree()).toBe(16126 - 9);
  });

  it("get_page on a page nobody holds is reported", () => {
    const { mem, pa } = fresh();
    const p = pa.allocPages(0);
    pa.freePages(p, 0);
    pa.getPage(p);
    expect(mem.diagCount(Diag.BAD_PAGE_STATE)).toBe(1);
    expect(mem.rd32(p + PAGE_REFCOUNT)).toBe(0);
  });

  it("strict mode throws a KernelFault instead", () => {
    const mem = PhysMem.create({ bytes: 4 * MiB, strict: true });
    const pa = PageAlloc.init(mem);
    const p = pa.allocPages(0);
    pa.freePages(p, 0);
    expect(() => pa.freePages(p, 0)).toThrow(/double free/);
  });
});

describe("allocPagesBulk", () => {
  it("fills only NULL slots, left to right, and returns nr_populated", () => {
    const { mem, pa } = fresh();
    const arrPage = pa.allocPages(0, GFP_ZERO); // 258
    const arr = mem.pageAddress(arrPage);
    const pre = pa.allocPages(0); // 259
    mem.wrPagePtr(arr + 8, pre);
    expect(pa.allocPagesBulk(4, arr)).toBe(4);
    const slots = [0, 1, 2, 3].map((i) => pfnOf(mem.rd64lo(arr + i * 8)));
    expect(slots).toEqual([260, 259, 261, 262]);
    for (let i = 0; i < 4; i++) expect(mem.rd64hi(arr + i * 8)).toBe(VMEMMAP_HI);
    expect(mem.rd64lo(arr + 32)).toBe(0); // slot 4 untouched
    for (const pfn of [260, 261, 262]) expect(mem.rd32(pageOf(pfn) + PAGE_REFCOUNT)).toBe(1);
    // all populated: nothing to do
    expect(pa.allocPagesBulk(4, arr)).toBe(4);
    expect(pa.nrFree()).toBe(16126 - 5);
  });

  it("stops at the first slot it cannot fill: failure injection and OOM", () => {
    const { mem, pa } = fresh(1 * MiB);
    const arr = mem.pageAddress(pa.allocPages(0, GFP_ZERO));
    mem.setFail(FailSite.PAGE_ALLOC, { times: 1 });
    expect(pa.allocPagesBulk(8, arr)).toBe(0);
    expect(mem.rd64lo(arr)).toBe(0);
    // leave exactly 2 free frames
    while (pa.nrFree() > 2) pa.allocPages(0);
    expect(pa.allocPagesBulk(4, arr)).toBe(2);
    expect(mem.rd64lo(arr) !== 0 && mem.rd64lo(arr + 8) !== 0).toBe(true);
    expect([mem.rd64lo(arr + 16), mem.rd64lo(arr + 24)]).toEqual([0, 0]);
    expect(pa.nrFree()).toBe(0);
  });
});

describe("attach", () => {
  it("a second PageAlloc on the same buffer sees and changes the same free lists", () => {
    const { mem, pa } = fresh(8 * MiB);
    const p = pa.allocPages(3);
    const mem2 = PhysMem.attach(mem.buffer);
    const pa2 = new PageAlloc(mem2);
    expect(pa2.nrFree()).toBe(pa.nrFree());
    pa2.freePages(p, 3);
    expect(pa.nrFree()).toBe(2048 - mem.firstAllocatablePfn);
  });
});
