import { describe, expect, it } from "vitest";
import { bootPpSystem, ppClaimers, type PpSystem } from "../../src/pool/index.js";
import { XarrayTracking, getDmaIndex, setDmaIndex, PP_DMA_INDEX_SHIFT, PP_DMA_INDEX_LIMIT } from "../../src/builds/xarray.js";
import { PP_FLAG_DMA_MAP } from "../../src/pool/page_pool.js";
import { Diag } from "../../src/mem/diag.js";
import { XArray, XARRAY_SIZE, XA_FLAGS_ALLOC1, XA_NODE_SIZE, EBUSY } from "../../src/mem/xarray.js";
import { xaCheck } from "../../src/mem/xarray_check.js";
import { bootMachine } from "../../src/mem/machine.js";
import { FailSite } from "../../src/mem/physmem.js";
import { PAGE_PP_MAGIC, PAGE_DMA_ADDR, PAGE_PP } from "../../src/mem/page.js";
import { accountFrames, assertAccounted } from "../../src/mem/accounting.js";
import { DMA_FROM_DEVICE } from "../../src/dma/index.js";

interface Rig {
  sys: PpSystem;
  t: XarrayTracking;
  pool: number;
  dev: number;
  u32: Uint32Array;
  xa: number;
}

/** A machine of the xarray layout's default build (v6.16, as merged) unless `build` says otherwise. */
function rig(poolSize = 1024, strict = true, build = "xarray"): Rig {
  const sys = bootPpSystem(build, { bytes: 32 << 20, strict });
  const dev = sys.dma.deviceCreate("eth0");
  const pool = sys.pps.create({ poolSize, flags: PP_FLAG_DMA_MAP, dev, dmaDir: DMA_FROM_DEVICE });
  expect(pool).toBeGreaterThan(0);
  return { sys, t: sys.pps.t as XarrayTracking, pool, dev, u32: sys.m.mem.u32, xa: pool + sys.pps.o.need("dma_mapped") };
}

function allocN(r: Rig, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = r.sys.pps.allocPages(r.pool);
    if (p === 0) throw new Error(`allocation ${i} failed`);
    out.push(p);
  }
  return out;
}

function release(r: Rig, page: number): void {
  r.sys.m.pa.getPage(page);
  r.sys.pps.putFullPage(r.pool, page, false);
  r.sys.m.pa.putPage(page);
}

const magic = (r: Rig, page: number) => [r.u32[((page + PAGE_PP_MAGIC) >>> 2) + 1]!, r.u32[(page + PAGE_PP_MAGIC) >>> 2]!];
const id = (r: Rig, page: number) => getDmaIndex(r.u32, page);
const entries = (r: Rig) => {
  const out: [number, number][] = [];
  r.t.xa.xaForEach(r.xa, (i, e) => out.push([i, e]));
  return out;
};
const account = (r: Rig) => accountFrames(r.sys.m.mem, ppClaimers(r.sys));

describe("dma index in pp_magic", () => {
  it("constants: shift 7, 32 bits on x86-64", () => {
    expect(PP_DMA_INDEX_SHIFT).toBe(7);
    expect(PP_DMA_INDEX_LIMIT).toBe(0xffffffff);
  });

  it.each([
    [1, 0xdead0000, 0x000000c0],
    [2 ** 25 - 1, 0xdead0000, 0xffffffc0],
    [2 ** 25, 0xdead0001, 0x00000040],
    [2 ** 32 - 1, 0xdead007f, 0xffffffc0],
  ])("id %i round-trips across the word boundary: pp_magic %s:%s", (dmaId, hi, lo) => {
    const r = rig(16);
    const page = r.sys.m.pa.allocPages(0);
    for (const low2 of [0, 1, 2, 3]) {
      r.u32[(page + PAGE_PP_MAGIC) >>> 2] = 0x40 | low2;
      r.u32[((page + PAGE_PP_MAGIC) >>> 2) + 1] = 0xdead0000;
      setDmaIndex(r.u32, page, dmaId);
      expect(magic(r, page)).toEqual([hi, (lo | low2) >>> 0]);
      expect(getDmaIndex(r.u32, page)).toBe(dmaId);
      expect(r.t.isPpPage(page)).toBe(true);
      setDmaIndex(r.u32, page, 0);
      expect(magic(r, page)).toEqual([0xdead0000, 0x40 | low2]);
      expect(r.t.isPpPage(page)).toBe(true);
    }
    r.u32[(page + PAGE_PP_MAGIC) >>> 2] = 0;
    r.u32[((page + PAGE_PP_MAGIC) >>> 2) + 1] = 0;
    r.sys.m.pa.putPage(page);
  });
});

describe("ids from the pool's dma_mapped xarray", () => {
  it("start at 1, one per mapped page, in batch order; pp_magic of id 1 is 0xdead0000000000c0", () => {
    const r = rig(64);
    const first = r.sys.pps.allocPages(r.pool);
    const cache: number[] = [];
    r.sys.pps.forEachPooledPage(r.pool, (p) => cache.push(p));
    cache.push(first);
    expect(cache.map((p) => id(r, p))).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    expect(magic(r, cache[0]!)).toEqual([0xdead0000, 0xc0]);
    expect(entries(r)).toEqual(cache.map((p, i) => [i + 1, p]));
    expect(r.u32[(first + PAGE_PP) >>> 2]).toBe(r.pool);
    expect(r.t.poolOf(first)).toBe(r.pool);
    // ids 0..64 span two leaves under a shift-6 root: 3 nodes.
    expect(r.t.usage(r.pool)).toEqual({ trackedPages: 64, bytes: 3 * XA_NODE_SIZE, units: { "xa nodes": 3 }, slotsPerUnit: 64 });
  });

  it("freed ids are reused lowest first", () => {
    const r = rig(64);
    const pages = allocN(r, 64); // ids 64, 63, ..., 1
    expect(pages.map((p) => id(r, p))).toEqual(Array.from({ length: 64 }, (_, i) => 64 - i));
    for (const victim of [pages[64 - 5]!, pages[64 - 3]!, pages[64 - 40]!]) release(r, victim); // ids 5, 3, 40
    expect(entries(r).length).toBe(61);
    expect(r.t.xa.xaLoad(r.xa, 3)).toBe(0);
    const next = allocN(r, 64); // a new batch: slots 0..63 get ids 3, 5, 40, 65, 66, ...
    const batch = [...next].reverse().map((p) => id(r, p));
    expect(batch.slice(0, 5)).toEqual([3, 5, 40, 65, 66]);
    expect(batch[63]).toBe(125);
    expect(xaCheck(r.t.xa, r.xa)).toBeNull();
  });

  it("xa_alloc failure (FailSite.XA_ALLOC) unmaps and fails the page allocation", () => {
    const r = rig(64);
    const free = r.sys.m.pa.nrFree();
    const tables = r.sys.dma.deviceStats(r.dev).tablePages;
    r.sys.m.mem.setFail(FailSite.XA_ALLOC, { times: 0 });
    expect(r.sys.pps.allocPages(r.pool)).toBe(0);
    const ds = r.sys.dma.deviceStats(r.dev);
    expect([ds.maps, ds.unmaps, ds.live, ds.doubleUnmap]).toEqual([64, 64, 0, 0]);
    expect(r.sys.m.mem.failInjected(FailSite.XA_ALLOC)).toBe(64);
    expect(r.sys.pps.inflight(r.pool)).toBe(0);
    expect(entries(r)).toEqual([]);
    // The 64 pages went back; only IOMMU page-table frames stay with the device.
    expect(free - r.sys.m.pa.nrFree()).toBe(ds.tablePages - tables);
    assertAccounted(account(r));

    // One failure in a batch: that page is given back, the others get ids 1..63.
    r.sys.m.mem.setFail(FailSite.XA_ALLOC, { space: 10, times: 1 });
    const page = r.sys.pps.allocPages(r.pool);
    expect(page).not.toBe(0);
    expect(r.sys.pps.cacheCount(r.pool)).toBe(62);
    expect(entries(r).map(([i]) => i)).toEqual(Array.from({ length: 63 }, (_, i) => i + 1));
    expect(r.sys.dma.deviceStats(r.dev).live).toBe(63);
  });

  it("destroy unmaps every entry once; late returns find id 0 and skip the DMA API", () => {
    const r = rig(16);
    const pages = allocN(r, 300); // 5 batches: 320 mapped
    for (const p of pages.splice(0, 16)) r.sys.pps.putFullPage(r.pool, p, false); // into the ring
    expect(entries(r).length).toBe(320);
    r.sys.pps.destroy(r.pool);
    const ds = r.sys.dma.deviceStats(r.dev);
    expect([ds.maps, ds.unmaps, ds.live, ds.doubleUnmap]).toEqual([320, 320, 0, 0]);
    expect(entries(r)).toEqual([]);
    expect(r.t.usage(r.pool)).toEqual({ trackedPages: 0, bytes: 0, units: { "xa nodes": 0 }, slotsPerUnit: 64 });
    expect(pages.every((p) => id(r, p) === 0 && r.u32[(p + PAGE_DMA_ADDR) >>> 2] === 0)).toBe(true);
    expect(r.sys.pps.inflight(r.pool)).toBe(284);
    r.sys.dma.deviceUnbind(r.dev);
    for (const p of pages) r.sys.pps.putFullPage(r.pool, p, false);
    r.sys.pps.advance(1000);
    const after = r.sys.dma.deviceStats(r.dev);
    expect([after.unmaps, after.unmapAfterUnbind, after.syncAfterUnbind, after.doubleUnmap, after.outlivedDriver]).toEqual([320, 0, 0, 0, 0]);
    expect(r.sys.pps.isLive(r.pool)).toBe(false);
    expect(r.sys.m.mem.diagTotal).toBe(0);
    assertAccounted(account(r));
  });

  it("mainline's scrub only unmaps: in-flight pages keep dma_addr and id until their own return clears them", () => {
    const r = rig(16, true, "mainline");
    const pages = allocN(r, 300); // 5 batches: 320 mapped
    for (const p of pages.splice(0, 16)) r.sys.pps.putFullPage(r.pool, p, false); // into the ring
    const before = pages.map((p) => [id(r, p), r.u32[(p + PAGE_DMA_ADDR) >>> 2]!]);
    r.sys.pps.destroy(r.pool);
    const ds = r.sys.dma.deviceStats(r.dev);
    expect([ds.maps, ds.unmaps, ds.live, ds.doubleUnmap]).toEqual([320, 320, 0, 0]);
    expect(entries(r)).toEqual([]);
    // "No page ref, dma-unmap only": the 284 in-flight struct pages are not written.
    expect(pages.map((p) => [id(r, p), r.u32[(p + PAGE_DMA_ADDR) >>> 2]!])).toEqual(before);
    expect(before.every(([i, dma]) => i! > 0 && dma! > 0)).toBe(true);
    // The IOVA no longer translates: the mapping is gone even though dma_addr still names it.
    expect(r.sys.dma.iovaToPhys(r.dev, before[0]![1]!)).toBe(0);
    r.sys.dma.deviceUnbind(r.dev);
    // Each return loses the xa_cmpxchg and clears dma_addr and the id itself (the machine is
    // strict: netmem_clear_pp_magic() would throw on an id still set).
    for (const p of pages) r.sys.pps.putFullPage(r.pool, p, false);
    r.sys.pps.advance(1000);
    const after = r.sys.dma.deviceStats(r.dev);
    expect([after.unmaps, after.unmapAfterUnbind, after.syncAfterUnbind, after.doubleUnmap, after.outlivedDriver]).toEqual([320, 0, 0, 0, 0]);
    expect(r.sys.pps.isLive(r.pool)).toBe(false);
    expect(r.sys.m.mem.diagTotal).toBe(0);
    assertAccounted(account(r));
  });

  it("a return that read its id before the destroy scan loses the xa_cmpxchg and skips the DMA API", () => {
    const r = rig(64);
    const page = r.sys.pps.allocPages(r.pool);
    const stale = magic(r, page);
    expect(id(r, page)).toBe(64);
    r.sys.pps.destroy(r.pool);
    const unmaps = r.sys.dma.deviceStats(r.dev).unmaps;
    expect(unmaps).toBe(64);
    // The racing return still holds id 64: the scan already swapped the entry to NULL.
    r.u32[((page + PAGE_PP_MAGIC) >>> 2) + 1] = stale[0]!;
    r.u32[(page + PAGE_PP_MAGIC) >>> 2] = stale[1]!;
    r.t.releaseDma(r.pool, page);
    expect(r.sys.dma.deviceStats(r.dev).unmaps).toBe(unmaps);
    expect(r.sys.dma.deviceStats(r.dev).doubleUnmap).toBe(0);
    expect(id(r, page)).toBe(64); // the loser leaves its page alone
    setDmaIndex(r.u32, page, 0);
    r.sys.pps.putFullPage(r.pool, page, false);
    r.sys.pps.advance(1000);
    expect(r.sys.pps.isLive(r.pool)).toBe(false);
  });

  it("a page leaving with its id still set warns (netmem_clear_pp_magic)", () => {
    const r = rig(64, false);
    const page = r.sys.pps.allocPages(r.pool);
    r.t.clearPpInfo(r.pool, page);
    // The kernel's WARN_ON_ONCE(magic & PP_DMA_INDEX_MASK): no message, the WARNING line only.
    expect(r.sys.m.mem.diagLog().map((d) => [d.kind, d.a, d.b, d.text])).toEqual([
      [Diag.PP_CLEAR_MAGIC_INDEX, page, 64, "WARNING: CPU: 0 PID: 1 at net/core/netmem_priv.h netmem_clear_pp_magic"],
    ]);
  });
});

describe("the id limit, on the XArray itself", () => {
  it.each([1, 4, 7, 10])("XA_LIMIT(1, 2^%i - 1): every id once, then -EBUSY; a freed id is reused", (k) => {
    const m = bootMachine({ bytes: 16 << 20, strict: true });
    const x = new XArray(m);
    const xa = m.slab.kmalloc(XARRAY_SIZE, 1);
    x.xaInit(xa, XA_FLAGS_ALLOC1);
    const max = 2 ** k - 1;
    for (let i = 1; i <= max; i++) expect(x.xaAlloc(xa, 0x100000 + i * 4, 1, max)).toBe(i);
    expect(x.xaAlloc(xa, 0x200000, 1, max)).toBe(-EBUSY);
    const victim = Math.ceil(max / 2);
    expect(x.xaErase(xa, victim)).toBe(0x100000 + victim * 4);
    expect(x.xaAlloc(xa, 0x200000, 1, max)).toBe(victim);
    expect(x.xaAlloc(xa, 0x200004, 1, max)).toBe(-EBUSY);
    expect(xaCheck(x, xa)).toBeNull();
  });
});
