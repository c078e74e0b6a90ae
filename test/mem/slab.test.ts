import { describe, it, expect } from "vitest";
import { bootMachine, attachMachine } from "../../src/mem/machine.js";
import { FailSite, MACH_KMALLOC_CACHES } from "../../src/mem/physmem.js";
import { GFP_ZERO } from "../../src/mem/buddy.js";
import {
  Slab,
  KMEM_CACHE_LAYOUT,
  SLAB_ROOT_LAYOUT,
  PAGE_TYPE_SLAB,
  PAGE_TYPE_LARGE_KMALLOC,
  ZERO_SIZE_PTR,
  slabOrder,
  getOrder,
  kmallocName,
} from "../../src/mem/slab.js";
import { Diag } from "../../src/mem/diag.js";
import { PAGE_MAPPING, PAGE_INDEX, PAGE_TYPE, PAGE_MEMCG, PAGE_TYPE_NONE, DIRECT_MAP_HI } from "../../src/mem/page.js";

const MiB = 1 << 20;
const addrOfPfn = (pfn: number) => pfn * 4096;

describe("struct layouts", () => {
  it("kmem_cache and the slab root are laid out by ctype", () => {
    expect(KMEM_CACHE_LAYOUT.off).toMatchObject({
      name: 0,
      object_size: 8,
      size: 12,
      oo: 16,
      nr_slabs: 20,
      nr_partial: 24,
      nr_full: 28,
      inuse: 32,
      // kmem_cache_node's list_lock, in what was the 4-byte hole before `partial`: same size.
      list_lock: 36,
      partial: 40,
      full: 56,
    });
    expect(KMEM_CACHE_LAYOUT.size).toBe(72);
    expect(SLAB_ROOT_LAYOUT.off).toMatchObject({ kmalloc_caches: 16, caches: 144, names: 144 + 32 * 72 });
    expect(SLAB_ROOT_LAYOUT.size).toBe(144 + 32 * 72 + 1024);
    expect(SLAB_ROOT_LAYOUT.size).toBeLessThanOrEqual(4096);
  });
});

describe("calculate_order", () => {
  it("picks SLUB's orders for min_objects 8, slub_max_order 3", () => {
    expect(getOrder(4096, 12)).toBe(0);
    expect(getOrder(4097, 12)).toBe(1);
    expect([8, 16, 32, 64, 128, 256, 512].map((s) => slabOrder(s, 12))).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(slabOrder(1024, 12)).toBe(1);
    expect(slabOrder(2048, 12)).toBe(2);
    expect(slabOrder(576, 12)).toBe(1); // 14 objects, 128 bytes left over in 8 KiB
    expect(slabOrder(576, 16)).toBe(0); // 64 KiB pages: 113 objects
    expect(kmallocName(2048)).toBe("kmalloc-2k");
    expect(kmallocName(512)).toBe("kmalloc-512");
  });
});

describe("Slab.init", () => {
  it("hangs the root off the machine header and creates kmalloc-8 … kmalloc-2k", () => {
    const { mem, pa, slab } = bootMachine();
    expect(mem.rdPtr(mem.machine + MACH_KMALLOC_CACHES)).toBe(addrOfPfn(258));
    expect(mem.rd64hi(mem.machine + MACH_KMALLOC_CACHES)).toBe(DIRECT_MAP_HI);
    expect(slab.root).toBe(0x102000);
    expect(slab.nrCaches()).toBe(9);
    const stats = Array.from({ length: 9 }, (_, i) => slab.cacheStats(slab.cacheAt(i)));
    expect(stats.map((s) => s.name)).toEqual([
      "kmalloc-8",
      "kmalloc-16",
      "kmalloc-32",
      "kmalloc-64",
      "kmalloc-128",
      "kmalloc-256",
      "kmalloc-512",
      "kmalloc-1k",
      "kmalloc-2k",
    ]);
    expect(stats.map((s) => s.objsPerSlab)).toEqual([512, 256, 128, 64, 32, 16, 8, 8, 8]);
    expect(stats.map((s) => s.order)).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 2]);
    expect(stats.every((s) => s.slabs === 0 && s.inUse === 0)).toBe(true);
    expect(pa.nrFree()).toBe(16125);
    expect(slab.kmallocCache(1)).toBe(slab.cacheAt(0));
    expect(slab.kmallocCache(9)).toBe(slab.cacheAt(1));
    expect(slab.kmallocCache(2048)).toBe(slab.cacheAt(8));
    expect(slab.kmallocCache(2049)).toBe(0);
  });

  it("64 KiB pages get kmalloc classes up to kmalloc-32k", () => {
    const { slab } = bootMachine({ bytes: 64 * MiB, pageSize: "64k" });
    expect(slab.nrCaches()).toBe(13);
    expect(slab.cacheStats(slab.cacheAt(12)).name).toBe("kmalloc-32k");
  });
});

describe("kmalloc / kfree", () => {
  it("hands out objects at exact addresses from new slabs", () => {
    const { mem, slab } = bootMachine();
    const a = slab.kmalloc(8);
    const b = slab.kmalloc(5);
    expect(a).toBe(addrOfPfn(259)); // the order-0 half left over from the root's allocation
    expect(b).toBe(addrOfPfn(259) + 8);
    const c = slab.kmalloc(100); // kmalloc-128: order 2 block at 260 split, 260 taken
    expect(c).toBe(addrOfPfn(260));
    const d = slab.kmalloc(1000); // kmalloc-1k, order 1: 262
    expect(d).toBe(addrOfPfn(262));
    const e = slab.kmalloc(2000); // kmalloc-2k, order 2: 264 (from the order-3 block)
    expect(e).toBe(addrOfPfn(264));
    expect(slab.kmalloc(2000)).toBe(addrOfPfn(264) + 2048);
    // the third object lies on a tail page of the order-2 slab: found through compound_head
    const f = slab.kmalloc(2048);
    expect(f).toBe(addrOfPfn(265));
    expect(slab.objToSlab(f)).toBe(mem.pfnToPage(264));
    expect(slab.ksize(f)).toBe(2048);
    slab.kfree(f);
    expect(slab.cacheStats(slab.kmallocCache(2048)).inUse).toBe(2);
    expect(mem.diagTotal).toBe(0);

    const page = mem.virtToPage(a);
    expect(mem.rd32(page + PAGE_TYPE)).toBe(PAGE_TYPE_SLAB);
    expect(PAGE_TYPE_SLAB).toBe(0xf5000000);
    expect(mem.rdPtr(page + PAGE_MAPPING)).toBe(slab.kmallocCache(8));
    expect(mem.rd64hi(page + PAGE_MAPPING)).toBe(DIRECT_MAP_HI);
    expect(mem.rdPtr(page + PAGE_INDEX)).toBe(addrOfPfn(259) + 16); // freelist head
    expect(mem.rd32(page + PAGE_MEMCG)).toBe(2); // in use
    // the free pointer chain runs in address order
    expect(mem.rdPtr(addrOfPfn(259) + 16)).toBe(addrOfPfn(259) + 24);
    expect(slab.cacheStats(slab.kmallocCache(8))).toMatchObject({ slabs: 1, inUse: 2 });
    expect(slab.ksize(a)).toBe(8);
    expect(slab.ksize(c)).toBe(128);
    expect(slab.ksize(e)).toBe(2048);
  });

  it("reuses the last freed object first (LIFO freelist)", () => {
    const { slab } = bootMachine();
    const objs = [0, 1, 2, 3].map(() => slab.kmalloc(64));
    slab.kfree(objs[1]!);
    slab.kfree(objs[3]!);
    expect(slab.kmalloc(64)).toBe(objs[3]);
    expect(slab.kmalloc(64)).toBe(objs[1]);
    expect(slab.kmalloc(64)).toBe(objs[3]! + 64);
  });

  it("moves full slabs to the full list, back to partial on free, and frees empty slabs", () => {
    const { mem, pa, slab } = bootMachine();
    const free0 = pa.nrFree();
    const cache = slab.kmallocCache(512);
    const objs = Array.from({ length: 9 }, () => slab.kmalloc(512));
    expect(objs.slice(0, 8)).toEqual(Array.from({ length: 8 }, (_, i) => addrOfPfn(259) + i * 512));
    expect(objs[8]).toBe(addrOfPfn(260));
    expect(slab.cacheStats(cache)).toMatchObject({ slabs: 2, inUse: 9 });
    expect(mem.rd32(cache + KMEM_CACHE_LAYOUT.off.nr_full!)).toBe(1);
    expect(mem.rd32(cache + KMEM_CACHE_LAYOUT.off.nr_partial!)).toBe(1);
    slab.kfree(objs[2]!);
    expect(mem.rd32(cache + KMEM_CACHE_LAYOUT.off.nr_full!)).toBe(0);
    expect(mem.rd32(cache + KMEM_CACHE_LAYOUT.off.nr_partial!)).toBe(2);
    // the partial slab most recently touched is first: the next object comes from the first slab
    expect(slab.kmalloc(512)).toBe(objs[2]);
    for (const o of objs) slab.kfree(o);
    expect(slab.cacheStats(cache)).toMatchObject({ slabs: 0, inUse: 0 });
    expect(pa.nrFree()).toBe(free0);
    const page = mem.virtToPage(objs[0]!);
    expect(mem.rd32(page + PAGE_TYPE)).toBe(0xf0000000); // PageBuddy again: 259 alone, 258 is the root
    expect(mem.diagTotal).toBe(0);
  });

  it("an emptied slab page is reused by the next cache that needs a page", () => {
    const { mem, slab } = bootMachine();
    const a = slab.kmalloc(32);
    slab.kfree(a);
    const b = slab.kmalloc(256);
    expect(b).toBe(a);
    expect(mem.rdPtr(mem.virtToPage(b) + PAGE_MAPPING)).toBe(slab.kmallocCache(256));
  });

  it("GFP_ZERO zeroes the object", () => {
    const { mem, slab } = bootMachine();
    const a = slab.kmalloc(64);
    slab.kmalloc(64); // keeps the slab alive: an empty slab would go back to the page allocator
    mem.u8.fill(0x77, a, a + 64);
    slab.kfree(a);
    const b = slab.kmalloc(64);
    expect(b).toBe(a);
    expect(mem.u8[a + 8]).toBe(0x77); // stale contents without __GFP_ZERO
    slab.kfree(b);
    const c = slab.kmalloc(64, GFP_ZERO);
    expect(mem.u8.subarray(c, c + 64).every((x) => x === 0)).toBe(true);
  });

  it("large kmalloc: a page allocation typed PGTY_large_kmalloc", () => {
    const { mem, pa, slab } = bootMachine();
    const free0 = pa.nrFree();
    const a = slab.kmalloc(2049); // order 0: 259
    expect(a).toBe(addrOfPfn(259));
    expect(mem.rd32(mem.virtToPage(a) + PAGE_TYPE)).toBe(PAGE_TYPE_LARGE_KMALLOC);
    expect(PAGE_TYPE_LARGE_KMALLOC).toBe(0xf8000000);
    expect(slab.ksize(a)).toBe(4096);
    const b = slab.kmalloc(8192 + 1); // order 2: 260
    expect(b).toBe(addrOfPfn(260));
    expect(pa.compoundOrder(mem.virtToPage(b))).toBe(2);
    expect(slab.ksize(b)).toBe(16384);
    expect(slab.ksize(b + 4096)).toBe(0);
    slab.kfree(a);
    slab.kfree(b);
    expect(pa.nrFree()).toBe(free0);
    expect(mem.rd32(mem.virtToPage(a) + PAGE_TYPE)).not.toBe(PAGE_TYPE_LARGE_KMALLOC);
    expect(mem.diagTotal).toBe(0);
    expect(slab.kmalloc(4096 << 11)).toBe(0); // beyond MAX_PAGE_ORDER
  });

  it("kmalloc(0) is ZERO_SIZE_PTR; kfree ignores it and NULL", () => {
    const { mem, slab } = bootMachine();
    expect(slab.kmalloc(0)).toBe(ZERO_SIZE_PTR);
    slab.kfree(ZERO_SIZE_PTR);
    slab.kfree(0);
    expect(mem.diagTotal).toBe(0);
  });
});

describe("KFREE_INVALID", () => {
  it("is reported for every kind of address that is no live object", () => {
    const { mem, pa, slab } = bootMachine();
    const a = slab.kmalloc(64);
    const keep = slab.kmalloc(64);
    slab.kfree(a + 8); // inside an object
    expect(mem.diagCount(Diag.KFREE_INVALID)).toBe(1);
    expect(mem.diagLog()[0]!.a).toBe(a + 8);
    slab.kfree(a);
    slab.kfree(a); // double free: already on the freelist
    expect(mem.diagCount(Diag.KFREE_INVALID)).toBe(2);
    slab.kfree(addrOfPfn(2000)); // a free page
    expect(mem.diagCount(Diag.KFREE_INVALID)).toBe(3);
    const pg = pa.allocPages(0); // a plain page allocation
    slab.kfree(mem.pageAddress(pg));
    expect(mem.diagCount(Diag.KFREE_INVALID)).toBe(4);
    slab.kfree(64); // inside the memmap
    slab.kfree(mem.bytes + 4096); // outside the machine
    expect(mem.diagCount(Diag.KFREE_INVALID)).toBe(6);
    // kmem_cache_free() with the wrong cache: b = the cache it was given
    slab.kmemCacheFree(slab.kmallocCache(8), keep);
    expect(mem.diagCount(Diag.KFREE_INVALID)).toBe(7);
    expect(mem.diagLog()[6]!.b).toBe(slab.kmallocCache(8));
    expect(mem.diagLog()[6]!.text).toContain("kfree of invalid object");
    expect(slab.cacheStats(slab.kmallocCache(64)).inUse).toBe(1);
    expect(mem.diagTotal).toBe(7);
    expect(slab.ksize(a + 8)).toBe(0);
  });
});

describe("kmem_cache_create", () => {
  it("makes a radix_tree_node cache of 576-byte objects in order-1 slabs", () => {
    const { mem, slab } = bootMachine();
    const c = slab.kmemCacheCreate("radix_tree_node", 576);
    expect(c).toBe(slab.cacheAt(9));
    expect(slab.cacheByName("radix_tree_node")).toBe(c);
    expect(slab.cacheStats(c)).toEqual({ name: "radix_tree_node", objSize: 576, size: 576, order: 1, objsPerSlab: 14, slabs: 0, inUse: 0 });
    const x = slab.kmemCacheAlloc(c, GFP_ZERO);
    const y = slab.kmemCacheAlloc(c);
    expect(x).toBe(addrOfPfn(260)); // order 1: o1 is empty, 260's order-2 block splits (262 → o1)
    expect(y).toBe(x + 576);
    expect(slab.ksize(y)).toBe(576);
    slab.kmemCacheFree(c, x);
    slab.kmemCacheFree(c, y);
    expect(slab.cacheStats(c).slabs).toBe(0);
    expect(mem.diagTotal).toBe(0);
  });

  it("rounds odd sizes up to 8 and refuses bad arguments", () => {
    const { slab } = bootMachine();
    const c = slab.kmemCacheCreate("odd", 13);
    expect(slab.cacheStats(c)).toMatchObject({ objSize: 13, size: 16, order: 0, objsPerSlab: 256 });
    expect(() => slab.kmemCacheCreate("zero", 0)).toThrow(RangeError);
    expect(() => slab.kmemCacheCreate("huge", 4096 * 8 + 1)).toThrow(RangeError);
    expect(() => slab.kmemCacheCreate("", 8)).toThrow(RangeError);
    expect(() => slab.kmemCacheCreate("x".repeat(32), 8)).toThrow(RangeError);
    for (let i = 0; i < 22; i++) slab.kmemCacheCreate(`c${i}`, 8);
    expect(slab.nrCaches()).toBe(32);
    expect(() => slab.kmemCacheCreate("one-too-many", 8)).toThrow(/full/);
  });
});

describe("failure injection", () => {
  it("KMALLOC fails slab allocations; large kmalloc follows PAGE_ALLOC", () => {
    const { mem, slab } = bootMachine();
    mem.setFail(FailSite.KMALLOC, { times: 2 });
    expect(slab.kmalloc(64)).toBe(0);
    expect(slab.kmemCacheAlloc(slab.kmallocCache(64))).toBe(0);
    expect(slab.kmalloc(5000)).not.toBe(0); // large: not failslab's
    expect(slab.kmalloc(64)).not.toBe(0);
    expect(mem.failInjected(FailSite.KMALLOC)).toBe(2);
    mem.setFail(FailSite.PAGE_ALLOC, { times: 1 });
    expect(slab.kmalloc(5000)).toBe(0);
    // a new slab needs a page: PAGE_ALLOC failure makes kmalloc fail too
    mem.setFail(FailSite.PAGE_ALLOC, { times: 1 });
    expect(slab.kmalloc(128)).toBe(0);
    expect(slab.kmalloc(128)).not.toBe(0);
  });
});

describe("attach", () => {
  it("a second Slab on the same buffer frees what the first allocated", () => {
    const m1 = bootMachine({ bytes: 8 * MiB });
    const a = m1.slab.kmalloc(100);
    const m2 = attachMachine(m1.mem.buffer);
    expect(m2.slab.root).toBe(m1.slab.root);
    expect(m2.slab.cacheStats(m2.slab.kmallocCache(128)).inUse).toBe(1);
    m2.slab.kfree(a);
    expect(m1.slab.cacheStats(m1.slab.kmallocCache(128)).inUse).toBe(0);
    expect(m1.mem.diagTotal).toBe(0);
  });

  it("refuses a machine without a slab root", () => {
    const { mem, pa } = bootMachine({ bytes: 1 * MiB });
    mem.wrPtr(mem.machine + MACH_KMALLOC_CACHES, 0);
    expect(() => new Slab(mem, pa)).toThrow(/not initialised/);
    expect(mem.rd32(0 + PAGE_TYPE)).toBe(PAGE_TYPE_NONE);
  });
});
