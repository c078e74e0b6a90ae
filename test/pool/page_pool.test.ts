import { describe, it, expect } from "vitest";
import { rig, accounted, context, allocN, cachePages, ringPages, MiB } from "./helpers.js";
import { bootPpSystem } from "../../src/pool/index.js";
import * as T from "../../src/pool/page_pool.js";
import { poolRecord, NAPI_LIST_OWNER, PPEMU_POOL_SIZE } from "../../src/pool/pool_list.js";
import { netdevCreate, netdevUnregister } from "../../src/pool/netdev.js";
import { allBuilds, findBuild } from "../../src/builds/index.js";
import { PTR_RING_SIZE, PTR_RING_BATCH } from "../../src/pool/ptr_ring.js";
import { Diag, KernelFault } from "../../src/mem/diag.js";
import { FailSite, MACH_POOLS } from "../../src/mem/physmem.js";
import {
  PAGE_PP_MAGIC,
  PAGE_PP,
  PAGE_PP_REF_COUNT,
  PAGE_REFCOUNT,
  PAGE_DMA_ADDR,
  DIRECT_MAP_HI,
} from "../../src/mem/page.js";
import { DMA_TO_DEVICE, DMA_BIDIRECTIONAL } from "../../src/dma/index.js";

// The classic build's (v6.15) alloc stats: the item_* counters are v11's own members.
const ZERO_ALLOC = { fast: 0, slow: 0, slow_high_order: 0, empty: 0, refill: 0, waive: 0 };
const ZERO_RECYCLE = { cached: 0, cache_full: 0, ring: 0, ring_full: 0, released_refcnt: 0 };

describe("page_pool_create", () => {
  it("writes struct page_pool: params, flags, user_cnt, ring of pool_size, on the machine's list", () => {
    const r = rig({ dma: true, poolSize: 256, napiCpu: 0, flags: T.PP_FLAG_DMA_SYNC_DEV, offset: 256, maxLen: 1536 });
    const { mem } = r.m;
    const p = r.pool;
    const o = r.pps.o;
    expect(mem.rd32(p + o.order)).toBe(0);
    expect(mem.rd32(p + o.poolSize)).toBe(256);
    expect(mem.rd32(p + o.flags)).toBe(T.PP_FLAG_DMA_MAP | T.PP_FLAG_DMA_SYNC_DEV);
    expect(mem.rdPtr(p + o.dev)).toBe(r.dev);
    // v6.15: `bool has_init_callback:1, dma_map:1, dma_sync:1, …` share one word: bits 1 and 2.
    expect(o.dmaMap).toEqual({ off: o.dmaSync.off, mask: 2 });
    expect(o.dmaSync.mask).toBe(4);
    expect(mem.rd32(p + o.dmaMap.off) & 0xff).toBe(2 | 4);
    expect(mem.rd32(p + o.maxLen)).toBe(1536);
    expect(mem.rd32(p + o.offset)).toBe(256);
    // napiCpu 0: p.napi is a NAPI instance polled on CPU 0 (v6.5+ has p.napi instead of napi_cpu).
    const napi = r.pps.napiOf(p);
    expect(napi).toBeGreaterThan(0);
    expect(mem.rdPtr(p + o.napi)).toBe(napi);
    expect(mem.i32[(napi + NAPI_LIST_OWNER) >>> 2]).toBe(0);
    expect(mem.i32[(p + o.cpuid) >>> 2]).toBe(-1);
    expect(mem.rd32(p + o.userCnt)).toBe(1);
    // page_pools ids are their own (xa_alloc_cyclic from 1), apart from device and ifindex numbers.
    expect(mem.rd32(p + o.userId)).toBe(1);
    expect(r.pps.poolId(p)).toBe(1);
    expect(mem.rd32(p + o.ring + PTR_RING_SIZE)).toBe(256);
    expect(mem.rd32(p + o.ring + PTR_RING_BATCH)).toBe(16);
    expect(r.pps.isLive(p)).toBe(true);
    // The machine's pool list links struct ppemu_pool records (list first), not struct page_pool.
    const rec = poolRecord(mem, p);
    expect(rec).toBeGreaterThan(0);
    expect(mem.rdPtr(mem.machine + MACH_POOLS)).toBe(rec);
    expect(mem.rdPtr(rec + 16)).toBe(p); // ppemu_pool.pool, after the 16-byte list_head
    expect(PPEMU_POOL_SIZE).toBe(40);
    expect(r.pps.inflight(p)).toBe(0);
    expect(r.pps.stats(p)).toEqual({ alloc: ZERO_ALLOC, recycle: ZERO_RECYCLE });
    accounted(r);
  });

  it("pool_size 0 means the default ring of 1024 (page_pool_init: ring_qsize = 1024 unless pool_size)", () => {
    const r = rig({ poolSize: 0 });
    const o = r.pps.o;
    expect(r.m.mem.rd32(r.pool + o.poolSize)).toBe(0);
    expect(r.m.mem.rd32(r.pool + o.ring + PTR_RING_SIZE)).toBe(1024);
    const d = rig({});
    expect(d.m.mem.rd32(d.pool + o.poolSize)).toBe(1024);
    expect(d.m.mem.rd32(d.pool + o.ring + PTR_RING_SIZE)).toBe(1024);
  });

  it("pool_size: ≤ v6.17 takes 32768 as is and -E2BIG above; v6.18+ clamps to 16384 and never fails", () => {
    // The ring size each build gives pool_size 32768, 32769 and 1 << 20 (a negative value: the errno).
    const ring = (build: string, poolSize: number) => {
      const sys = bootPpSystem(build, { bytes: 8 * MiB });
      const pool = sys.pps.create({ poolSize });
      if (pool < 0) return pool;
      // v7's encoded_next list has no ring array: its bound is p.pool_size itself (count > pool_size).
      if (sys.pps.t.ring !== undefined) return sys.m.mem.rd32(pool + sys.pps.o.poolSize);
      return sys.m.mem.rd32(pool + sys.pps.o.ring + PTR_RING_SIZE);
    };
    const got = Object.fromEntries(allBuilds().map((b) => [b.name, [32768, 32769, 1 << 20].map((n) => ring(b.name, n))]));
    const e2big = [32768, -T.E2BIG, -T.E2BIG];
    const clamp = [16384, 16384, 16384];
    expect(got).toEqual({
      ...{ "v6.1": e2big, "v6.6": e2big, "v6.12": e2big, "v6.15": e2big, v11: e2big, "v7-encoded-next": e2big },
      ...{ "v6.16": e2big, "v6.17": e2big, "v6.18": clamp, "v6.19": clamp, mainline: clamp, "v7.1-rc-netpp": clamp, "memdesc-item": clamp },
    });
  });

  it("order > MAX_PAGE_ORDER (10): accepted (the allocation fails later) except from v6.19 (9954464d737d), where it is -EINVAL", () => {
    const einval = ["v6.19", "mainline", "v7.1-rc-netpp", "memdesc-item"];
    expect(allBuilds().filter((b) => b.switches.orderCheck).map((b) => b.name)).toEqual(einval);
    for (const b of allBuilds()) {
      const sys = bootPpSystem(b, { bytes: 8 * MiB });
      const pool = sys.pps.create({ order: 11 });
      if (einval.includes(b.name)) {
        expect(pool, b.name).toBe(-T.EINVAL);
        continue;
      }
      expect(pool, b.name).toBeGreaterThan(0);
      expect(sys.pps.allocPages(pool), b.name).toBe(0);
      expect(sys.pps.inflight(pool), b.name).toBe(0);
      expect(sys.pps.create({ order: 10 }), b.name).toBeGreaterThan(0);
    }
  });

  it("rejects bad parameters with the kernel's errno, leaving nothing allocated", () => {
    const sys = bootPpSystem("classic", { bytes: 8 * MiB });
    const dev = sys.dma.deviceCreate("eth0");
    const free0 = sys.m.pa.nrFree();
    const { pps } = sys;
    expect(pps.create({ flags: 1 << 4 })).toBe(-T.EINVAL);
    expect(pps.create({ flags: 0x80000000 })).toBe(-T.EINVAL);
    expect(pps.create({ poolSize: -1 })).toBe(-T.EINVAL);
    // A non-integer is no C value: a PpemuError (test/lib/misuse.test.ts), not an errno.
    expect(() => pps.create({ poolSize: 1.5 })).toThrow("PagePoolParams.poolSize must be an integer, got 1.5");
    expect(pps.create({ poolSize: 32769 })).toBe(-T.E2BIG);
    expect(pps.create({ poolSize: 1 << 20 })).toBe(-T.E2BIG);
    expect(pps.create({ flags: T.PP_FLAG_DMA_SYNC_DEV })).toBe(-T.EINVAL);
    expect(pps.create({ flags: T.PP_FLAG_DMA_MAP | T.PP_FLAG_DMA_SYNC_DEV, dev, maxLen: 0 })).toBe(-T.EINVAL);
    expect(pps.create({ flags: T.PP_FLAG_DMA_MAP, dev, dmaDir: DMA_TO_DEVICE })).toBe(-T.EINVAL);
    expect(pps.create({ order: -1 })).toBe(-T.EINVAL);
    // kmalloc of the pool, of the ring queue, of the per-CPU recycle stats, and of the pool's
    // struct ppemu_pool record (after the layout's init), each failing once.
    for (const space of [0, 1, 2, 3]) {
      sys.m.mem.setFail(FailSite.KMALLOC, { space, times: 1 });
      expect(pps.create({ poolSize: 64 }), `kmalloc ${space}`).toBe(-T.ENOMEM);
      expect(sys.m.mem.failInjected(FailSite.KMALLOC), `kmalloc ${space}`).toBe(space + 1); // cumulative
    }
    sys.m.mem.clearFail(FailSite.KMALLOC);
    let n = 0;
    pps.forEachPool(() => n++);
    expect(n).toBe(0);
    expect(sys.m.pa.nrFree()).toBe(free0);
    expect(sys.m.mem.diagTotal).toBe(0);
    accounted(sys);
    // The good variants of the same calls work.
    expect(pps.create({ flags: T.PP_FLAG_DMA_MAP, dev, dmaDir: DMA_BIDIRECTIONAL })).toBeGreaterThan(0);
    expect(pps.create({ order: 10 })).toBeGreaterThan(0);
    expect(pps.create({ flags: T.PP_FLAG_DMA_MAP | T.PP_FLAG_DMA_SYNC_DEV, dev, maxLen: 4096 })).toBeGreaterThan(0);
    // Those four kmallocs are all a classic pool makes: a fifth failing call is never reached.
    sys.m.mem.setFail(FailSite.KMALLOC, { space: 4, times: 1 });
    expect(pps.create({ poolSize: 64 })).toBeGreaterThan(0);
    expect(sys.m.mem.failInjected(FailSite.KMALLOC)).toBe(4);
    sys.m.mem.clearFail(FailSite.KMALLOC);
    expect(sys.m.mem.diagTotal).toBe(0);
  });

  it("DMA_MAP without a device: no kernel checks p.dev, so create succeeds; every map then fails with a ppemu: line", () => {
    const sys = bootPpSystem("classic", { bytes: 8 * MiB });
    const free0 = sys.m.pa.nrFree();
    const pool = sys.pps.create({ flags: T.PP_FLAG_DMA_MAP });
    expect(pool).toBeGreaterThan(0);
    expect(sys.pps.allocPages(pool)).toBe(0);
    // One refused map per page of the bulk of 64; every page goes back to the allocator.
    expect(sys.m.mem.diagCount(Diag.PP_DEV_NOT_DEVICE)).toBe(64);
    expect(sys.m.mem.diagTotal).toBe(64);
    expect(sys.m.mem.diagLog()[0]!.text).toBe(`ppemu: page_pool 0x${pool.toString(16)}: p.dev is no device: dma_map_page_attrs() would oops`);
    expect(sys.pps.inflight(pool)).toBe(0);
    expect(sys.pps.cacheCount(pool)).toBe(0);
    sys.pps.destroy(pool);
    expect(sys.pps.isLive(pool)).toBe(false);
    expect(sys.m.pa.nrFree()).toBe(free0);
    accounted(sys);
  });
});

describe("allocation: slow path", () => {
  it("bulk-allocates 64 pages, returns one, leaves 63 in the cache, each with pp info and its IOVA", () => {
    const r = rig({ dma: true });
    const { mem } = r.m;
    const free0 = r.m.pa.nrFree();
    const tables0 = r.dma.deviceStats(r.dev).tablePages;
    const page = r.pps.allocPages(r.pool);
    expect(page).toBeGreaterThan(0);
    expect(r.pps.cacheCount(r.pool)).toBe(63);
    expect(mem.rd32(r.pool + r.pps.o.holdCnt)).toBe(64);
    expect(r.pps.inflight(r.pool)).toBe(64);
    expect(r.pps.stats(r.pool)).toEqual({ alloc: { ...ZERO_ALLOC, slow: 1, empty: 1 }, recycle: ZERO_RECYCLE });
    const pages = [...cachePages(r, r.pool), page];
    expect(new Set(pages).size).toBe(64);
    // The returned page is the last one the bulk allocation filled in.
    expect(r.pps.o.cacheSlot).toBe(8);
    expect(mem.rdPtr(r.pool + r.pps.o.allocCache + 63 * 8)).toBe(page);
    const iovas = new Set<number>();
    for (const p of pages) {
      expect(mem.rd64hi(p + PAGE_PP_MAGIC)).toBe(0xdead0000);
      expect(mem.rd64lo(p + PAGE_PP_MAGIC)).toBe(0x40);
      expect(mem.rdPtr(p + PAGE_PP)).toBe(r.pool);
      expect(mem.rd64hi(p + PAGE_PP)).toBe(DIRECT_MAP_HI);
      expect(mem.rd64(p + PAGE_PP_REF_COUNT)).toBe(1);
      expect(mem.rd32(p + PAGE_REFCOUNT)).toBe(1);
      expect(r.pps.t.poolOf(p)).toBe(r.pool);
      const dma = mem.rd64(p + PAGE_DMA_ADDR);
      expect(dma).toBeGreaterThan(0);
      // The IOVA the device returned translates to this very page.
      expect(r.dma.iovaToPhys(r.dev, dma)).toBe(mem.pageAddress(p));
      iovas.add(dma);
    }
    expect(iovas.size).toBe(64);
    const ds = r.dma.deviceStats(r.dev);
    expect(ds.maps).toBe(64);
    expect(ds.live).toBe(64);
    // 64 frames left the free lists for pages, plus the IOMMU's new table page.
    expect(ds.tablePages - tables0).toBe(1);
    expect(free0 - r.m.pa.nrFree()).toBe(64 + 1);
    const a = accounted(r);
    expect(a.byClass["page_pool: cache"]).toBe(63);
    expect(a.byClass["page_pool: in flight (driver)"]).toBe(1);
  });

  it("a pool that does not map leaves dma_addr 0 and never touches the device", () => {
    const r = rig({});
    const page = r.pps.allocPages(r.pool);
    expect(r.m.mem.rd64(page + PAGE_DMA_ADDR)).toBe(0);
    expect(r.dma.deviceStats(r.dev).maps).toBe(0);
    expect(r.m.pa.nrFree()).toBeGreaterThan(0);
  });

  it("then 63 fast allocations from the cache, LIFO, before the next slow path", () => {
    const r = rig({});
    const first = r.pps.allocPages(r.pool);
    const expected = cachePages(r, r.pool).reverse();
    const got = allocN(r, r.pool, 63);
    expect(got).toEqual(expected);
    expect(first).not.toBe(got[0]);
    expect(r.pps.stats(r.pool).alloc).toEqual({ ...ZERO_ALLOC, slow: 1, empty: 1, fast: 63 });
    r.pps.allocPages(r.pool);
    expect(r.pps.stats(r.pool).alloc).toEqual({ ...ZERO_ALLOC, slow: 2, empty: 2, fast: 63 });
    expect(r.m.mem.rd32(r.pool + r.pps.o.holdCnt)).toBe(128);
  });

  it.each([1, 2])("order-%i pools allocate one compound page per slow path (slow_high_order)", (order) => {
    const r = rig({ dma: true, order });
    const { mem } = r.m;
    const free0 = r.m.pa.nrFree();
    const page = r.pps.allocPages(r.pool);
    expect(page).toBeGreaterThan(0);
    expect(r.m.pa.compoundOrder(page)).toBe(order);
    expect(mem.pageToPfn(page) % (1 << order)).toBe(0);
    expect(r.pps.cacheCount(r.pool)).toBe(0);
    expect(mem.rd32(r.pool + r.pps.o.holdCnt)).toBe(1);
    expect(r.pps.stats(r.pool).alloc).toEqual({ ...ZERO_ALLOC, slow_high_order: 1, empty: 1 });
    expect(mem.rd64lo(page + PAGE_PP_MAGIC)).toBe(0x40);
    expect(mem.rdPtr(page + PAGE_PP)).toBe(r.pool);
    // The tail pages are not page_pool pages: they name their head.
    expect(r.pps.t.isPpPage(page + 64)).toBe(false);
    expect(r.m.pa.compoundHead(page + 64)).toBe(page);
    // One mapping of PAGE_SIZE << order: its last byte translates too.
    const dma = mem.rd64(page + PAGE_DMA_ADDR);
    const size = 4096 << order;
    expect(r.dma.iovaToPhys(r.dev, dma + size - 1)).toBe(mem.pageAddress(page) + size - 1);
    expect(r.dma.deviceStats(r.dev).maps).toBe(1);
    const second = r.pps.allocPages(r.pool);
    expect(second).not.toBe(page);
    expect(r.pps.stats(r.pool).alloc.slow_high_order).toBe(2);
    // Recycled into the cache, it comes back on the fast path.
    r.pps.recycleDirect(r.pool, page);
    expect(r.pps.allocPages(r.pool)).toBe(page);
    expect(r.pps.stats(r.pool).alloc.fast).toBe(1);
    const a = accounted(r);
    expect(a.byClass["page_pool: in flight (driver)"]).toBe(2 << order);
    expect(free0 - r.m.pa.nrFree()).toBe((2 << order) + 1); // + the IOMMU leaf table
  });

  it("a failed page allocation fails cleanly (bulk and high order)", () => {
    const r = rig({ dma: true });
    const free0 = r.m.pa.nrFree();
    r.m.mem.setFail(FailSite.PAGE_ALLOC, { times: 1 });
    expect(r.pps.allocPages(r.pool)).toBe(0);
    expect(r.m.mem.failInjected(FailSite.PAGE_ALLOC)).toBe(1);
    expect(r.m.mem.rd32(r.pool + r.pps.o.holdCnt)).toBe(0);
    expect(r.pps.cacheCount(r.pool)).toBe(0);
    expect(r.pps.stats(r.pool).alloc).toEqual({ ...ZERO_ALLOC, empty: 1 });
    expect(r.m.pa.nrFree()).toBe(free0);
    expect(r.m.mem.diagTotal).toBe(0);
    accounted(r);
    // The next attempt succeeds.
    expect(r.pps.allocPages(r.pool)).toBeGreaterThan(0);
    expect(r.pps.stats(r.pool).alloc.slow).toBe(1);

    const h = rig({ dma: true, order: 2 });
    const hfree = h.m.pa.nrFree();
    h.m.mem.setFail(FailSite.PAGE_ALLOC, { times: 1 });
    expect(h.pps.allocPages(h.pool)).toBe(0);
    expect(h.pps.stats(h.pool).alloc.slow_high_order).toBe(0);
    expect(h.m.pa.nrFree()).toBe(hfree);
    accounted(h);
  });

  it("a failed DMA map gives every page back to the page allocator", () => {
    const r = rig({ dma: true });
    r.dma.deviceUnbind(r.dev); // dma_map_page now fails
    const free0 = r.m.pa.nrFree();
    expect(r.pps.allocPages(r.pool)).toBe(0);
    expect(r.m.mem.rd32(r.pool + r.pps.o.holdCnt)).toBe(0);
    expect(r.pps.cacheCount(r.pool)).toBe(0);
    expect(r.pps.stats(r.pool).alloc.slow).toBe(0);
    expect(r.m.pa.nrFree()).toBe(free0);
    expect(r.m.mem.diagTotal).toBe(0);
    accounted(r);
  });

  it("running out of memory: a partial bulk is used, then allocation fails without damage", () => {
    const r = rig({ poolSize: 16 });
    const total = r.m.pa.nrFree();
    const got: number[] = [];
    for (;;) {
      const p = r.pps.allocPages(r.pool);
      if (p === 0) break;
      got.push(p);
    }
    expect(got.length).toBe(total);
    expect(r.m.pa.nrFree()).toBe(0);
    expect(r.m.mem.rd32(r.pool + r.pps.o.holdCnt)).toBe(total);
    expect(r.pps.stats(r.pool).alloc.slow).toBe(Math.ceil(total / 64));
    accounted(r);
    for (const p of got) r.pps.putPage(r.pool, p, -1, false);
    expect(r.pps.ringCount(r.pool)).toBe(16);
    expect(r.pps.inflight(r.pool)).toBe(16);
    expect(r.m.pa.nrFree()).toBe(total - 16);
  });
});

describe("allocation: refill from the ring", () => {
  it("moves exactly PP_ALLOC_CACHE_REFILL (64) pages, oldest first, and counts refill", () => {
    const r = rig({});
    const pages = allocN(r, r.pool, 128); // two slow paths; the cache is empty again
    expect(r.pps.cacheCount(r.pool)).toBe(0);
    for (const p of pages) r.pps.putPage(r.pool, p, -1, false);
    expect(r.pps.ringCount(r.pool)).toBe(128);
    expect(r.pps.stats(r.pool).recycle).toEqual({ ...ZERO_RECYCLE, ring: 128 });
    const got = r.pps.allocPages(r.pool);
    expect(got).toBe(pages[63]);
    expect(r.pps.ringCount(r.pool)).toBe(64);
    expect(r.pps.cacheCount(r.pool)).toBe(63);
    expect(cachePages(r, r.pool)).toEqual(pages.slice(0, 63));
    expect(ringPages(r, r.pool)).toEqual(pages.slice(64));
    expect(r.pps.stats(r.pool).alloc).toEqual({ ...ZERO_ALLOC, slow: 2, empty: 2, fast: 126, refill: 1 });
    allocN(r, r.pool, 63);
    expect(r.pps.allocPages(r.pool)).toBe(pages[127]);
    expect(r.pps.stats(r.pool).alloc.refill).toBe(2);
    expect(r.pps.ringCount(r.pool)).toBe(0);
    allocN(r, r.pool, 63);
    // Ring and cache empty: `empty`, then the slow path.
    r.pps.allocPages(r.pool);
    expect(r.pps.stats(r.pool).alloc).toEqual({ ...ZERO_ALLOC, slow: 3, empty: 3, fast: 252, refill: 2 });
    expect(r.m.mem.rd32(r.pool + r.pps.o.holdCnt)).toBe(192);
  });

  it("a ring holding fewer than 64 moves them all", () => {
    const r = rig({});
    const pages = allocN(r, r.pool, 64);
    for (const p of pages.slice(0, 10)) r.pps.putPage(r.pool, p, -1, false);
    expect(r.pps.allocPages(r.pool)).toBe(pages[9]);
    expect(r.pps.cacheCount(r.pool)).toBe(9);
    expect(r.pps.ringCount(r.pool)).toBe(0);
    expect(r.pps.stats(r.pool).alloc.refill).toBe(1);
  });
});

describe("put paths", () => {
  it("allow_direct: into the alloc cache (cached)", () => {
    const r = rig({ dma: true });
    const [a, b] = allocN(r, r.pool, 2);
    r.pps.recycleDirect(r.pool, a!);
    r.pps.putFullPage(r.pool, b!, true);
    expect(r.pps.cacheCount(r.pool)).toBe(64);
    expect(cachePages(r, r.pool).slice(-2)).toEqual([a, b]);
    expect(r.pps.stats(r.pool).recycle).toEqual({ ...ZERO_RECYCLE, cached: 2 });
    expect(r.pps.inflight(r.pool)).toBe(64);
    // Still mapped, still the pool's.
    expect(r.dma.deviceStats(r.dev).unmaps).toBe(0);
    expect(r.m.mem.rd64(a! + PAGE_PP_REF_COUNT)).toBe(1);
    accounted(r);
  });

  it("cache full (128): cache_full, then the ring", () => {
    const r = rig({});
    const pages = allocN(r, r.pool, 200); // 4 slow paths: hold 256, 56 left in the cache
    expect(r.pps.cacheCount(r.pool)).toBe(56);
    for (const p of pages) r.pps.recycleDirect(r.pool, p);
    expect(r.pps.cacheCount(r.pool)).toBe(128);
    expect(r.pps.ringCount(r.pool)).toBe(128);
    expect(r.pps.stats(r.pool).recycle).toEqual({ ...ZERO_RECYCLE, cached: 72, cache_full: 128, ring: 128 });
    expect(ringPages(r, r.pool)).toEqual(pages.slice(72));
    expect(r.pps.inflight(r.pool)).toBe(256);
    accounted(r);
  });

  it("ring full: ring_full, and the page goes back to the page allocator (unmapped, release_cnt++)", () => {
    const r = rig({ dma: true, poolSize: 16 });
    const pages = allocN(r, r.pool, 200);
    const free0 = r.m.pa.nrFree();
    context(r, 0, false);
    for (const p of pages) r.pps.putPage(r.pool, p, -1, false);
    expect(r.pps.ringCount(r.pool)).toBe(16);
    expect(r.pps.stats(r.pool).recycle).toEqual({ ...ZERO_RECYCLE, ring: 16, ring_full: 184 });
    expect(r.m.mem.rd32(r.pool + r.pps.o.releaseCnt)).toBe(184);
    expect(r.pps.inflight(r.pool)).toBe(256 - 184);
    expect(r.pps.inflight(r.pool)).toBe(r.pps.cacheCount(r.pool) + r.pps.ringCount(r.pool));
    expect(r.m.pa.nrFree()).toBe(free0 + 184);
    for (const p of pages.slice(16)) {
      expect(r.m.pa.inFreeBlock(r.m.mem.pageToPfn(p))).toBe(true);
    }
    const ds = r.dma.deviceStats(r.dev);
    expect(ds.unmaps).toBe(184);
    expect(ds.live).toBe(256 - 184);
    expect(r.m.mem.diagTotal).toBe(0);
    accounted(r);
  });

  it("_refcount != 1: released (released_refcnt); the page lives on until the last put_page", () => {
    const r = rig({ dma: true });
    const { mem, pa } = r.m;
    const page = r.pps.allocPages(r.pool);
    pa.getPage(page); // e.g. an skb frag reference
    expect(mem.rd32(page + PAGE_REFCOUNT)).toBe(2);
    r.pps.recycleDirect(r.pool, page);
    expect(r.pps.stats(r.pool).recycle).toEqual({ ...ZERO_RECYCLE, released_refcnt: 1 });
    expect(r.pps.cacheCount(r.pool)).toBe(63);
    expect(r.pps.inflight(r.pool)).toBe(63);
    expect(mem.rd32(page + PAGE_REFCOUNT)).toBe(1);
    expect(mem.rd64(page + PAGE_PP_MAGIC)).toBe(0);
    expect(mem.rd64(page + PAGE_PP)).toBe(0);
    expect(mem.rd64(page + PAGE_DMA_ADDR)).toBe(0);
    expect(r.dma.deviceStats(r.dev).unmaps).toBe(1);
    expect(pa.inFreeBlock(mem.pageToPfn(page))).toBe(false);
    const a = accounted(r);
    expect(a.byClass["allocated"]).toBe(1); // nobody's page_pool page any more
    pa.putPage(page);
    expect(pa.inFreeBlock(mem.pageToPfn(page))).toBe(true);
    expect(mem.diagTotal).toBe(0);
    accounted(r);
  });

  it("pfmemalloc pages (pp_magic bit 1) are never recycled", () => {
    const r = rig({});
    const { mem, pa } = r.m;
    const page = r.pps.allocPages(r.pool);
    mem.wr32(page + PAGE_PP_MAGIC, mem.rd32(page + PAGE_PP_MAGIC) | 2);
    expect(r.pps.t.isPpPage(page)).toBe(true);
    r.pps.recycleDirect(r.pool, page);
    expect(r.pps.stats(r.pool).recycle).toEqual({ ...ZERO_RECYCLE, released_refcnt: 1 });
    expect(pa.inFreeBlock(mem.pageToPfn(page))).toBe(true);
    expect(mem.diagTotal).toBe(0);
  });

  it("pp_ref_count > 1: only the last put recycles, and leaves pp_ref_count at 1", () => {
    const r = rig({});
    const { mem } = r.m;
    const page = r.pps.allocPages(r.pool);
    mem.wr32(page + PAGE_PP_REF_COUNT, 3); // page_pool_ref_page() twice (fragments)
    r.pps.recycleDirect(r.pool, page);
    expect(mem.rd64(page + PAGE_PP_REF_COUNT)).toBe(2);
    expect(r.pps.cacheCount(r.pool)).toBe(63);
    r.pps.putPage(r.pool, page, -1, false);
    expect(mem.rd64(page + PAGE_PP_REF_COUNT)).toBe(1);
    expect(r.pps.stats(r.pool).recycle).toEqual(ZERO_RECYCLE);
    r.pps.recycleDirect(r.pool, page);
    expect(mem.rd64(page + PAGE_PP_REF_COUNT)).toBe(1);
    expect(r.pps.cacheCount(r.pool)).toBe(64);
    expect(r.pps.stats(r.pool).recycle).toEqual({ ...ZERO_RECYCLE, cached: 1 });
    expect(mem.diagTotal).toBe(0);
  });

  it("napi_local: softirq on the pool's NAPI CPU (or its cpuid) recycles into the cache", () => {
    const r = rig({ napiCpu: 0 });
    const pages = allocN(r, r.pool, 6);
    const put = (cpu: number, softirq: boolean, p: number) => {
      context(r, cpu, softirq);
      expect(r.pps.napiLocal(r.pool)).toBe(softirq && cpu === 0);
      r.pps.putPage(r.pool, p, -1, false);
    };
    put(0, true, pages[0]!);
    put(1, true, pages[1]!);
    put(0, false, pages[2]!);
    expect(r.pps.stats(r.pool).recycle).toEqual({ ...ZERO_RECYCLE, cached: 1, ring: 2 });
    expect(ringPages(r, r.pool)).toEqual([pages[1], pages[2]]);

    // Four CPUs, so CPU 3 exists: recycle stats are per CPU (nr_cpu_ids copies).
    const c = rig({ cpuid: 3 }, "classic", { cpus: 4 });
    const [x, y] = allocN(c, c.pool, 2);
    context(c, 3, true);
    expect(c.pps.napiLocal(c.pool)).toBe(true);
    c.pps.putPage(c.pool, x!, -1, false);
    context(c, 0, true);
    expect(c.pps.napiLocal(c.pool)).toBe(false);
    c.pps.putPage(c.pool, y!, -1, false);
    expect(c.pps.stats(c.pool).recycle).toEqual({ ...ZERO_RECYCLE, cached: 1, ring: 1 });
  });

  it("sync for device on every recycle of a DMA_SYNC_DEV pool, none without it", () => {
    const r = rig({ dma: true, flags: T.PP_FLAG_DMA_SYNC_DEV, maxLen: 4096 });
    const pages = allocN(r, r.pool, 3);
    expect(r.dma.deviceStats(r.dev).syncs).toBe(64); // one per map
    r.pps.recycleDirect(r.pool, pages[0]!);
    r.pps.putPage(r.pool, pages[1]!, 128, false);
    expect(r.dma.deviceStats(r.dev).syncs).toBe(66);
    const n = rig({ dma: true });
    const [q] = allocN(n, n.pool, 1);
    n.pps.recycleDirect(n.pool, q!);
    expect(n.dma.deviceStats(n.dev).syncs).toBe(0);
  });
});

describe("stats and in-flight accounting", () => {
  it("stats(): the kernel's names, in order, with exact values after a mixed run", () => {
    const r = rig({ poolSize: 16 });
    expect(Object.keys(r.pps.stats(r.pool).alloc)).toEqual([...T.ALLOC_STAT_NAMES]);
    expect(Object.keys(r.pps.stats(r.pool).recycle)).toEqual(["cached", "cache_full", "ring", "ring_full", "released_refcnt"]);
    const pages = allocN(r, r.pool, 150);
    r.m.pa.getPage(pages[0]!);
    r.pps.recycleDirect(r.pool, pages[0]!); // released_refcnt
    r.m.pa.putPage(pages[0]!);
    for (const p of pages.slice(1, 140)) r.pps.recycleDirect(r.pool, p); // 106 cached, then 22 full caches... see below
    for (const p of pages.slice(140)) r.pps.putPage(r.pool, p, -1, false);
    // Cache had 42 after 150 allocations (3 slow paths); 86 more fit, 53 overflow: 16 to the ring, 37 released.
    expect(r.pps.stats(r.pool)).toEqual({
      alloc: { ...ZERO_ALLOC, slow: 3, empty: 3, fast: 147 },
      recycle: { cached: 86, cache_full: 53, ring: 16, ring_full: 47, released_refcnt: 1 },
    });
    expect(r.pps.inflight(r.pool)).toBe(128 + 16);
  });

  it("inflight is (s32)(hold_cnt - release_cnt), exact across u32 wraparound", () => {
    const r = rig({});
    const { mem } = r.m;
    const set = (hold: number, rel: number) => {
      mem.wr32(r.pool + r.pps.o.holdCnt, hold >>> 0);
      mem.wr32(r.pool + r.pps.o.releaseCnt, rel >>> 0);
    };
    set(3, 0xfffffffd);
    expect(r.pps.inflight(r.pool)).toBe(6);
    set(0, 1);
    expect(r.pps.inflight(r.pool)).toBe(-1);
    set(0x80000005, 5);
    expect(r.pps.inflight(r.pool)).toBe(-0x80000000);
    set(0x7fffffff, 0);
    expect(r.pps.inflight(r.pool)).toBe(0x7fffffff);
  });

  it("counters wrapping mid-run keep inflight exact, through destroy and the deferred release", () => {
    const r = rig({ dma: true });
    const { mem } = r.m;
    mem.wr32(r.pool + r.pps.o.holdCnt, 0xffffffe0);
    mem.wr32(r.pool + r.pps.o.releaseCnt, 0xffffffe0);
    const pages = allocN(r, r.pool, 2);
    expect(mem.rd32(r.pool + r.pps.o.holdCnt)).toBe(0x20); // wrapped
    expect(r.pps.inflight(r.pool)).toBe(64);
    r.pps.destroy(r.pool);
    expect(mem.rd32(r.pool + r.pps.o.releaseCnt)).toBe(0x1e); // wrapped too: 62 returned
    expect(r.pps.inflight(r.pool)).toBe(2);
    for (const p of pages) r.pps.putFullPage(r.pool, p, false);
    r.pps.advance(1000);
    expect(r.pps.isLive(r.pool)).toBe(false);
    expect(mem.diagTotal).toBe(0);
    accounted(r);
  });
});

describe("page_pool_destroy", () => {
  it("nothing in flight: the pool is freed at once and every frame comes back", () => {
    const sys = bootPpSystem("classic", { bytes: 8 * MiB });
    const dev = sys.dma.deviceCreate("eth0");
    const free0 = sys.m.pa.nrFree();
    const tables0 = sys.dma.deviceStats(dev).tablePages;
    const before = accounted(sys).byClass;
    const pool = sys.pps.create({ flags: T.PP_FLAG_DMA_MAP, dev });
    const pages = allocN(sys, pool, 100);
    context(sys, 0, false);
    for (const p of pages) sys.pps.putPage(pool, p, -1, false);
    expect(sys.pps.inflight(pool)).toBe(128);
    sys.pps.destroy(pool);
    expect(sys.pps.isLive(pool)).toBe(false);
    const ds = sys.dma.deviceStats(dev);
    // Every page back; only the IOMMU keeps the leaf table its first map created.
    expect(ds.tablePages - tables0).toBe(1);
    expect(sys.m.pa.nrFree()).toBe(free0 - 1);
    expect(ds.unmaps).toBe(128);
    expect(ds.live).toBe(0);
    expect(sys.m.mem.diagTotal).toBe(0);
    const after = accounted(sys).byClass;
    expect(after).toEqual({ ...before, free: before["free"]! - 1, "iommu tables": before["iommu tables"]! + 1 });
  });

  it("nothing in flight, no DMA: exactly the free page count from before page_pool_create", () => {
    for (const order of [0, 1, 3]) {
      const sys = bootPpSystem("classic", { bytes: 8 * MiB });
      const free0 = sys.m.pa.nrFree();
      const before = accounted(sys).byClass;
      const pool = sys.pps.create({ order, poolSize: 4096 });
      const pages = allocN(sys, pool, 300 >> order);
      expect(sys.m.pa.nrFree()).toBeLessThan(free0 - 300);
      for (const p of pages) sys.pps.putPage(pool, p, -1, pages.indexOf(p) % 2 === 0);
      sys.pps.destroy(pool);
      expect(sys.pps.isLive(pool)).toBe(false);
      expect(sys.m.pa.nrFree()).toBe(free0);
      expect(accounted(sys).byClass).toEqual(before);
      expect(sys.m.mem.diagTotal).toBe(0);
    }
  });

  it("pages in flight: retry every 1000 ms, warn at 60 s and every 60 s, free on the first retry after the last return", () => {
    const r = rig({ dma: true, napiCpu: 0 });
    const { mem } = r.m;
    const free0 = r.m.pa.nrFree();
    mem.advanceMs(5000); // destroy does not happen at time 0
    const pages = allocN(r, r.pool, 64);
    const held = pages.slice(0, 3);
    for (const p of pages.slice(3)) r.pps.recycleDirect(r.pool, p);
    // The driver's remove path disables its NAPI first (else page_pool_disable_direct_recycling() WARNs).
    r.pps.napiDisable(r.pps.napiOf(r.pool));
    r.pps.destroy(r.pool);
    const t0 = 5000;
    expect(r.pps.isLive(r.pool)).toBe(true);
    expect(r.pps.inflight(r.pool)).toBe(3);
    expect(r.pps.cacheCount(r.pool)).toBe(0);
    expect(mem.rd64(r.pool + r.pps.o.destroyCnt)).toBe(1);
    expect(mem.rd64(r.pool + r.pps.o.deferStart)).toBe(t0);
    expect(r.pps.timerExpires(r.pool)).toBe(t0 + 1000); // release_dw.timer.expires
    expect(mem.rd64(r.pool + r.pps.o.timerExpires)).toBe(t0 + 1000);
    expect(mem.rd64(r.pool + r.pps.o.deferWarn)).toBe(t0 + 60_000);
    // Direct recycling is off from now on: page_pool_disable_direct_recycling() (v6.9+).
    expect(r.pps.napiOf(r.pool)).toBe(0);
    expect(mem.i32[(r.pool + r.pps.o.cpuid) >>> 2]).toBe(-1);
    r.pps.advance(999);
    expect(mem.rd64(r.pool + r.pps.o.destroyCnt)).toBe(1);
    r.pps.advance(1);
    expect(mem.rd64(r.pool + r.pps.o.destroyCnt)).toBe(2);
    r.pps.runUntil(t0 + 59_999);
    expect(mem.rd64(r.pool + r.pps.o.destroyCnt)).toBe(60);
    expect(mem.diagCount(Diag.PP_STALLED_SHUTDOWN)).toBe(0);
    r.pps.runUntil(t0 + 60_000);
    expect(mem.diagCount(Diag.PP_STALLED_SHUTDOWN)).toBe(1);
    const log = () => mem.diagLog().filter((d) => d.kind === Diag.PP_STALLED_SHUTDOWN);
    expect(log()[0]!.text).toBe("page_pool_release_retry() stalled pool shutdown: id 1, 3 inflight 60 sec");
    expect(log()[0]!.timeMs).toBe(t0 + 60_000);
    r.pps.runUntil(t0 + 119_999);
    expect(mem.diagCount(Diag.PP_STALLED_SHUTDOWN)).toBe(1);
    r.pps.runUntil(t0 + 120_000);
    expect(mem.diagCount(Diag.PP_STALLED_SHUTDOWN)).toBe(2);
    expect(log()[1]!.text).toBe("page_pool_release_retry() stalled pool shutdown: id 1, 3 inflight 120 sec");
    // One page comes back (in NAPI context on the old CPU: no longer local): ring, then the retry.
    r.pps.runUntil(t0 + 120_500);
    context(r, 0, true);
    r.pps.putFullPage(r.pool, held[0]!, false);
    expect(r.pps.ringCount(r.pool)).toBe(1);
    expect(r.pps.inflight(r.pool)).toBe(3);
    r.pps.runUntil(t0 + 121_000);
    expect(r.pps.inflight(r.pool)).toBe(2);
    expect(r.pps.ringCount(r.pool)).toBe(0);
    r.pps.runUntil(t0 + 150_500);
    r.pps.putFullPage(r.pool, held[1]!, false);
    r.pps.putFullPage(r.pool, held[2]!, false);
    r.pps.runUntil(t0 + 150_999);
    expect(r.pps.isLive(r.pool)).toBe(true);
    r.pps.runUntil(t0 + 151_000);
    expect(r.pps.isLive(r.pool)).toBe(false);
    r.pps.advance(10 * 60_000);
    expect(mem.diagCount(Diag.PP_STALLED_SHUTDOWN)).toBe(2);
    expect(mem.diagTotal).toBe(2);
    // The pool struct and its ring queue went too: more is free than before the first allocation.
    expect(r.m.pa.nrFree()).toBeGreaterThan(free0);
    expect(r.dma.deviceStats(r.dev).live).toBe(0);
    const a = accounted(r);
    expect(a.byClass["allocated"]).toBe(0);
    expect(Object.keys(a.byClass).filter((k) => k.startsWith("page_pool"))).toEqual([]);
  });

  it("the stalled-shutdown warning per build: every pool up to v6.7, only netdev-less pools from v6.8", () => {
    const OLD = (sec: number) => `page_pool_release_retry() stalled pool shutdown 1 inflight ${sec} sec`;
    const NEW = (sec: number) => `page_pool_release_retry() stalled pool shutdown: id 1, 1 inflight ${sec} sec`;
    for (const b of allBuilds()) {
      for (const withNetdev of [false, true]) {
        const sys = bootPpSystem(b, { bytes: 8 * MiB });
        // A netdev that unregisters after destroy: its pools move to loopback (v6.8+), still named.
        const netdev = withNetdev ? netdevCreate(sys.pps, "eth0") : 0;
        const pool = sys.pps.create({ netdev });
        allocN(sys, pool, 1);
        sys.pps.destroy(pool);
        if (withNetdev) netdevUnregister(sys.pps, netdev);
        sys.pps.advance(120_000);
        const old = b.name === "v6.1" || b.name === "v6.6";
        const kind = old ? Diag.PP_STALLED_SHUTDOWN_OLD : Diag.PP_STALLED_SHUTDOWN;
        const text = old ? OLD : NEW;
        const got = sys.m.mem.diagLog().map((d) => [d.kind, d.timeMs, d.text]);
        const label = `${b.name}${withNetdev ? " with a netdev" : ""}`;
        if (withNetdev && !old) expect(got, label).toEqual([]);
        else expect(got, label).toEqual([
          [kind, 60_000, text(60)],
          [kind, 120_000, text(120)],
        ]);
      }
    }
  });

  it("runUntil runs the retries of several pools in time order", () => {
    const r = rig({});
    const b = r.pps.create({});
    const pa = allocN(r, r.pool, 1)[0]!;
    const pb = allocN(r, b, 1)[0]!;
    r.pps.destroy(r.pool);
    r.m.mem.advanceMs(300);
    r.pps.destroy(b);
    r.pps.putFullPage(r.pool, pa, false);
    r.pps.putFullPage(b, pb, false);
    r.pps.runUntil(1000);
    expect(r.pps.isLive(r.pool)).toBe(false);
    expect(r.pps.isLive(b)).toBe(true);
    expect(r.m.mem.nowMs).toBe(1000);
    r.pps.runUntil(1300);
    expect(r.pps.isLive(b)).toBe(false);
    accounted(r);
  });

  it("user_cnt > 1: only the last destroy tears the pool down", () => {
    const r = rig({ napiCpu: 0 });
    const { mem } = r.m;
    mem.wr32(r.pool + r.pps.o.userCnt, 2); // page_pool_use_xdp_mem(): refcount_inc(&pool->user_cnt)
    allocN(r, r.pool, 1);
    r.pps.destroy(r.pool);
    expect(mem.rd32(r.pool + r.pps.o.userCnt)).toBe(1);
    expect(r.pps.isLive(r.pool)).toBe(true);
    expect(mem.rd64(r.pool + r.pps.o.destroyCnt)).toBe(0);
    expect(r.pps.cacheCount(r.pool)).toBe(63);
    const napi = r.pps.napiOf(r.pool);
    expect(napi).toBeGreaterThan(0); // the NAPI tie survives a destroy that is not the last
    expect(mem.i32[(napi + NAPI_LIST_OWNER) >>> 2]).toBe(0);
    expect(r.pps.allocPages(r.pool)).toBeGreaterThan(0); // still usable
    r.pps.napiDisable(napi); // the last user's remove path: napi_disable(), then destroy
    r.pps.destroy(r.pool);
    expect(r.pps.napiOf(r.pool)).toBe(0);
    expect(mem.rd64(r.pool + r.pps.o.destroyCnt)).toBe(1);
    expect(r.pps.inflight(r.pool)).toBe(2);
    expect(r.pps.isLive(r.pool)).toBe(true);
    expect(mem.diagTotal).toBe(0);
    r.pps.destroy(0); // NULL is ignored
    accounted(r);
  });

  it("a negative in-flight count at destroy warns and still schedules the retry (only 0 frees)", () => {
    const r = rig({});
    r.m.mem.wr32(r.pool + r.pps.o.releaseCnt, 1);
    r.pps.destroy(r.pool);
    expect(r.m.mem.diagCount(Diag.PP_NEGATIVE_INFLIGHT)).toBe(1);
    expect(r.m.mem.diagTotal).toBe(1);
    expect(r.m.mem.diagLog()[0]!.text).toBe("Negative(-1) inflight packet-pages\nWARNING: CPU: 0 PID: 1 at net/core/page_pool.c page_pool_inflight");
    expect(r.pps.isLive(r.pool)).toBe(true);
    expect(r.pps.timerExpires(r.pool)).toBe(1000);
  });

  it("a retry that finds a negative in-flight count warns once and stops rescheduling (43130d02baa1, v6.15)", () => {
    const r = rig({});
    allocN(r, r.pool, 1);
    r.pps.destroy(r.pool);
    expect(r.pps.inflight(r.pool)).toBe(1);
    r.m.mem.wr32(r.pool + r.pps.o.releaseCnt, 65); // one release too many
    r.pps.advance(1000);
    expect(r.m.mem.diagCount(Diag.PP_NEGATIVE_INFLIGHT)).toBe(1);
    expect(r.pps.isLive(r.pool)).toBe(true);
    expect(r.pps.timerExpires(r.pool)).toBe(0);
    r.pps.advance(10_000);
    expect(r.m.mem.diagCount(Diag.PP_NEGATIVE_INFLIGHT)).toBe(1);
    expect(r.m.mem.diagTotal).toBe(1);
  });

  it("before 43130d02baa1 (v6.12) the retry reschedules for ever on a negative count, warning each time", () => {
    const r = rig({}, findBuild("v6.12")!);
    allocN(r, r.pool, 1);
    r.pps.destroy(r.pool);
    r.m.mem.wr32(r.pool + r.pps.o.releaseCnt, 65);
    r.pps.advance(10_000); // retries at 1000, 2000, …, 10000
    expect(r.m.mem.diagCount(Diag.PP_NEGATIVE_INFLIGHT)).toBe(10);
    expect(r.pps.isLive(r.pool)).toBe(true);
    expect(r.pps.timerExpires(r.pool)).toBe(11_000);
    expect(r.m.mem.diagTotal).toBe(10);
  });
});

describe("misuse is a diagnostic, never a crash", () => {
  it("a page of another pool (PP_PUT_FOREIGN)", () => {
    const r = rig({ dma: true });
    const other = r.pps.create({ flags: T.PP_FLAG_DMA_MAP, dev: r.dev });
    const page = r.pps.allocPages(r.pool);
    r.pps.recycleDirect(other, page);
    r.pps.putPage(other, page, -1, false);
    expect(r.m.mem.diagCount(Diag.PP_PUT_FOREIGN)).toBe(2);
    expect(r.m.mem.diagTotal).toBe(2);
    expect(r.pps.cacheCount(other)).toBe(0);
    expect(r.pps.ringCount(other)).toBe(0);
    expect(r.m.mem.rd64(page + PAGE_PP_REF_COUNT)).toBe(1);
    const rec = r.m.mem.diagLog()[0]!;
    expect([rec.a, rec.b]).toEqual([page, other]);
    accounted(r);
    r.pps.recycleDirect(r.pool, page);
    expect(r.pps.cacheCount(r.pool)).toBe(64);
    accounted(r);
  });

  it("a page that is no page_pool page (PP_PUT_NOT_PP)", () => {
    const r = rig({});
    const page = r.m.pa.allocPages(0);
    r.pps.recycleDirect(r.pool, page);
    expect(r.m.mem.diagCount(Diag.PP_PUT_NOT_PP)).toBe(1);
    expect(r.m.mem.rd32(page + PAGE_REFCOUNT)).toBe(1);
    expect(r.pps.cacheCount(r.pool)).toBe(0);
    accounted(r);
    r.m.pa.putPage(page);
    expect(r.m.mem.diagTotal).toBe(1);
  });

  it("putting a page twice (PP_DOUBLE_PUT), into the cache or the ring", () => {
    const r = rig({});
    const [a, b] = allocN(r, r.pool, 2);
    r.pps.recycleDirect(r.pool, a!);
    r.pps.recycleDirect(r.pool, a!);
    r.pps.putPage(r.pool, b!, -1, false);
    r.pps.putPage(r.pool, b!, -1, false);
    r.pps.recycleDirect(r.pool, b!);
    expect(r.m.mem.diagCount(Diag.PP_DOUBLE_PUT)).toBe(3);
    expect(r.pps.cacheCount(r.pool)).toBe(63);
    expect(r.pps.ringCount(r.pool)).toBe(1);
    expect(r.pps.stats(r.pool).recycle).toEqual({ ...ZERO_RECYCLE, cached: 1, ring: 1 });
    accounted(r);
    // Allocated again, the page may be put again.
    expect(r.pps.allocPages(r.pool)).toBe(a);
    r.pps.recycleDirect(r.pool, a!);
    expect(r.m.mem.diagTotal).toBe(3);
    accounted(r);
  });

  it("a put after the page went back to the page allocator (not a pp page any more)", () => {
    const r = rig({ poolSize: 1 });
    const [a, b] = allocN(r, r.pool, 2);
    context(r, 0, false);
    r.pps.putPage(r.pool, a!, -1, false); // ring
    r.pps.putPage(r.pool, b!, -1, false); // ring full: released and freed
    r.pps.putPage(r.pool, b!, -1, false);
    expect(r.m.mem.diagCount(Diag.PP_PUT_NOT_PP)).toBe(1);
    expect(r.m.mem.diagCount(Diag.DOUBLE_FREE)).toBe(0);
    accounted(r);
  });

  it("allocating from a destroyed pool (PP_ALLOC_AFTER_DESTROY): lingering or freed", () => {
    const r = rig({});
    const page = r.pps.allocPages(r.pool);
    r.pps.destroy(r.pool);
    expect(r.pps.isLive(r.pool)).toBe(true);
    expect(r.pps.allocPages(r.pool)).toBe(0);
    // A buggy driver recycling straight into the cache after destroy does not make it legal.
    r.pps.recycleDirect(r.pool, page);
    expect(r.pps.cacheCount(r.pool)).toBe(1);
    expect(r.pps.allocPages(r.pool)).toBe(0);
    expect(r.m.mem.diagCount(Diag.PP_ALLOC_AFTER_DESTROY)).toBe(2);
    accounted(r);

    const f = rig({});
    f.pps.destroy(f.pool);
    expect(f.pps.isLive(f.pool)).toBe(false);
    const free = f.m.pa.nrFree();
    expect(f.pps.allocPages(f.pool)).toBe(0);
    expect(f.m.mem.diagCount(Diag.PP_ALLOC_AFTER_DESTROY)).toBe(1);
    expect(f.m.mem.diagTotal).toBe(1);
    expect(f.m.pa.nrFree()).toBe(free);
    accounted(f);
  });

  it("strict machines throw the fault instead", () => {
    const r = rig({}, "classic", { strict: true });
    const page = r.m.pa.allocPages(0);
    expect(() => r.pps.recycleDirect(r.pool, page)).toThrow(KernelFault);
    expect(() => r.pps.recycleDirect(r.pool, page)).toThrow(/is not a page_pool page/);
  });

  it("with the checks off (benchmark machines) nothing is checked", () => {
    const r = rig({}, "classic", { ppChecks: false });
    expect(r.pps.checks).toBe(false);
    const [a] = allocN(r, r.pool, 1);
    r.pps.recycleDirect(r.pool, a!);
    r.pps.recycleDirect(r.pool, a!); // the kernel caches it twice
    expect(r.pps.cacheCount(r.pool)).toBe(65);
    expect(r.m.mem.diagTotal).toBe(0);
  });
});
