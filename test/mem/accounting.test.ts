import { describe, it, expect } from "vitest";
import { bootMachine } from "../../src/mem/machine.js";
import { accountFrames, assertAccounted, type FrameClaimer } from "../../src/mem/accounting.js";
import { MACH_FREE_AREA, FREE_AREA_NR_FREE, FREE_AREA_SIZE, MACH_NR_FREE_PAGES } from "../../src/mem/physmem.js";
import { PAGE_TYPE, PAGE_PRIVATE } from "../../src/mem/page.js";
import { PAGE_TYPE_BUDDY } from "../../src/mem/buddy.js";
import { PAGE_TYPE_SLAB } from "../../src/mem/slab.js";

const MiB = 1 << 20;

describe("accountFrames", () => {
  it("classifies a freshly booted 64 MiB machine", () => {
    const { mem } = bootMachine();
    const r = accountFrames(mem);
    expect(r).toEqual({
      total: 16384,
      byClass: { memmap: 256, boot: 2, free: 16125, slab: 1, allocated: 0 },
      errors: [],
    });
    expect(() => assertAccounted(r)).not.toThrow();
  });

  it("follows page allocations, compound pages, slabs and large kmalloc", () => {
    const { mem, pa, slab } = bootMachine();
    pa.allocPages(3); // 8 frames
    pa.allocPages(0);
    slab.kmalloc(8); // a kmalloc-8 slab: 1 frame
    slab.kmalloc(2048); // a kmalloc-2k slab: order 2, 4 frames
    slab.kmalloc(5000); // large kmalloc, order 1: a page allocation
    const r = accountFrames(mem);
    expect(r.byClass).toEqual({ memmap: 256, boot: 2, free: 16125 - 8 - 1 - 1 - 4 - 2, slab: 1 + 1 + 4, allocated: 8 + 1 + 2 });
    expect(r.errors).toEqual([]);
  });

  it("lets claimers move allocated frames to their own classes", () => {
    const { mem, pa } = bootMachine();
    const a = pa.allocPages(2);
    const b = pa.allocPages(0);
    const c = pa.allocPages(0);
    const claimer: FrameClaimer = (cl) => {
      cl.claimPage(a, "item_block");
      cl.claimAddr(mem.pageAddress(b) + 100, "ring");
      expect(cl.classOf(mem.pageToPfn(c))).toBe("allocated");
      expect(cl.classOf(mem.pageToPfn(b))).toBe("ring");
    };
    const r = accountFrames(mem, [claimer]);
    expect(r.byClass).toEqual({ memmap: 256, boot: 2, free: 16125 - 6, slab: 1, allocated: 1, item_block: 4, ring: 1 });
    expect(r.errors).toEqual([]);
    assertAccounted(r);
  });

  it("reports claims of free, slab, boot and twice-claimed frames", () => {
    const { mem, pa, slab } = bootMachine();
    const a = pa.allocPages(0); // 259
    const obj = slab.kmalloc(64); // slab at 260
    const r = accountFrames(mem, [
      (cl) => cl.claim(mem.pageToPfn(a), 1, "pool"),
      (cl) => cl.claim(mem.pageToPfn(a), 1, "xarray"),
      (cl) => cl.claim(5000, 2, "pool"),
      (cl) => cl.claimAddr(obj, "ring"),
      (cl) => cl.claim(256, 1, "iommu"),
      (cl) => cl.claim(16384, 1, "iommu"),
    ]);
    expect(r.errors).toEqual([
      "xarray: claims pfn 0x103, already claimed by pool",
      "pool: claims pfn 0x1388, which is free",
      "pool: claims pfn 0x1389, which is free",
      "ring: claims pfn 0x104, which is slab, not allocated",
      "iommu: claims pfn 0x100, which is boot, not allocated",
      "iommu: claims pfn 0x4000 outside the machine",
    ]);
    expect(r.byClass.pool).toBe(1);
    expect(() => assertAccounted(r)).toThrow(/frame accounting failed: 16384 of 16384 frames classified[\s\S]*already claimed by pool/);
  });

  it("detects free-list and counter corruption", () => {
    // 8 MiB: 2048 frames, memmap 32, boot 32-33, slab root 34; the first page allocation is 35.
    const { mem, pa } = bootMachine({ bytes: 8 * MiB });
    const p = pa.allocPages(0);
    expect(mem.pageToPfn(p)).toBe(35);
    // a PageBuddy page no free list knows about
    mem.wr32(p + PAGE_TYPE, PAGE_TYPE_BUDDY);
    mem.wr32(p + PAGE_PRIVATE, 0);
    // a counter that disagrees with its list
    const nrFree3 = mem.machine + MACH_FREE_AREA + 3 * FREE_AREA_SIZE + FREE_AREA_NR_FREE;
    mem.wr32(nrFree3, mem.rd32(nrFree3) + 1);
    mem.wr32(mem.machine + MACH_NR_FREE_PAGES, mem.rd32(mem.machine + MACH_NR_FREE_PAGES) + 7);
    const r = accountFrames(mem);
    expect(r.errors).toEqual([
      "free_area[3]: nr_free is 2, the list holds 1",
      "NR_FREE_PAGES is 2019, the free lists hold 2012",
      "pfn 0x23 is PageBuddy but on no free list",
    ]);
  });

  it("detects a frame on two free lists", () => {
    const { mem, pa } = bootMachine({ bytes: 8 * MiB });
    // pfn 1025 lies inside the free order-10 block at 1024; list it as an order-0 block too.
    const tail = mem.pfnToPage(1025);
    mem.wr32(tail + PAGE_TYPE, PAGE_TYPE_BUDDY);
    mem.wr32(tail + PAGE_PRIVATE, 0);
    mem.listAdd(tail + 8, pa.freeList(0));
    const nrFree0 = mem.machine + MACH_FREE_AREA + FREE_AREA_NR_FREE;
    mem.wr32(nrFree0, mem.rd32(nrFree0) + 1);
    mem.wr32(mem.machine + MACH_NR_FREE_PAGES, mem.rd32(mem.machine + MACH_NR_FREE_PAGES) + 1);
    const r = accountFrames(mem);
    expect(r.errors).toEqual(["free_area[10]: pfn 0x401 already counted as free"]);
    expect(r.byClass.free).toBe(2013);
  });

  it("detects a slab page that no cache list holds", () => {
    const { mem, pa } = bootMachine({ bytes: 8 * MiB });
    const p = pa.allocPages(0);
    mem.wr32(p + PAGE_TYPE, PAGE_TYPE_SLAB);
    const r = accountFrames(mem);
    expect(r.errors).toEqual([`pfn 0x${mem.pageToPfn(p).toString(16)} is a slab on no cache list`]);
    expect(() => assertAccounted(r)).toThrow(/is a slab on no cache list/);
  });

  it("accounts 16 KiB and 64 KiB page machines", () => {
    for (const [pageSize, frames, memmap] of [
      ["16k", 4096, 16],
      ["64k", 1024, 1],
    ] as const) {
      const { mem } = bootMachine({ bytes: 64 * MiB, pageSize });
      const r = accountFrames(mem);
      expect(r.total).toBe(frames);
      expect(r.byClass).toEqual({ memmap, boot: 2, free: frames - memmap - 3, slab: 1, allocated: 0 });
      expect(r.errors).toEqual([]);
    }
  });
});
