/**
 * Model-based: the same random driver/stack operation sequences run on every layout (each layout's
 * default build). What the pool shows (which allocations succeed, cache and ring counts, in-flight,
 * stats) must be identical; each layout's tracking must match the pages it has out; every frame
 * must be accounted for.
 */
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { FC_SEED } from "./helpers.js";
import { bootPpSystem, ppClaimers, NetStack, type PpSystem } from "../../src/pool/index.js";
import { ItemBlockTracking, ITEM_STATE, ITEM_PP_NETMEM, PAGE_POOL_ITEM_USED, PAGE_POOL_ITEM_MAPPED } from "../../src/builds/item_block.js";
import { XarrayTracking, getDmaIndex } from "../../src/builds/xarray.js";
import { PP_FLAG_DMA_MAP, PP_FLAG_DMA_SYNC_DEV } from "../../src/pool/page_pool.js";
import { allLayouts, defaultBuildOf, findBuild, registerBuild, unregisterBuild, type KernelBuild } from "../../src/builds/index.js";
import { setServingSoftirq } from "../../src/smp/percpu.js";
import { PAGE_PP_ITEM, PAGE_DMA_ADDR } from "../../src/mem/page.js";
import { accountFrames } from "../../src/mem/accounting.js";
import { Diag } from "../../src/mem/diag.js";
import { DMA_FROM_DEVICE } from "../../src/dma/index.js";
import { runUnbind } from "../../src/scenario/unbind.js";

type Op =
  | { readonly k: "alloc"; readonly n: number }
  | { readonly k: "put"; readonly i: number; readonly direct: boolean }
  | { readonly k: "putShared"; readonly i: number }
  | { readonly k: "toStack"; readonly i: number; readonly n: number }
  | { readonly k: "stackReturn"; readonly n: number }
  | { readonly k: "destroy" }
  | { readonly k: "advance"; readonly ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant("alloc" as const), n: fc.integer({ min: 1, max: 300 }) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant("put" as const), i: fc.nat(), direct: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("putShared" as const), i: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("toStack" as const), i: fc.nat(), n: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("stackReturn" as const), n: fc.integer({ min: 1, max: 10 }) }) },
  { weight: 1, arbitrary: fc.constant({ k: "destroy" as const }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 70_000 }) }) },
);

const MAX_OUT = 1500;

interface World {
  /** The layout's name, for messages and the layout-specific checks. */
  readonly layout: string;
  readonly build: KernelBuild;
  readonly sys: PpSystem;
  readonly stack: NetStack;
  readonly pool: number;
  readonly dev: number;
  /** Pages the driver holds (its RX ring), in allocation order. */
  readonly held: number[];
  destroyed: boolean;
}

function boot(build: KernelBuild, poolSize: number): World {
  const sys = bootPpSystem(build, { bytes: 16 << 20 });
  const dev = sys.dma.deviceCreate("eth0");
  // max_len: PP_FLAG_DMA_SYNC_DEV with max_len 0 is -EINVAL, as in the kernel.
  const pool = sys.pps.create({ flags: PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV, poolSize, dev, dmaDir: DMA_FROM_DEVICE, maxLen: 4096, napiCpu: 0 });
  if (pool < 0) throw new Error(`create: ${pool}`);
  // 256 slots = 2 KiB: a slab object (a larger array is a page allocation no claimer names).
  const stack = new NetStack(sys.pps, 256, { cpu: 1, inSoftirq: true });
  return { layout: build.layout.name, build, sys, stack, pool, dev, held: [], destroyed: false };
}

/** The driver runs on CPU 0: in NAPI (softirq) for the RX path, in process context otherwise. */
function ctx(w: World, softirq: boolean): void {
  const mem = w.sys.m.mem;
  mem.bindCpu(0);
  setServingSoftirq(mem, softirq);
}

/** Apply one op; returns what the op itself yielded (pages allocated, returned …). */
function apply(w: World, op: Op): number {
  const { pps, m } = w.sys;
  const take = (i: number) => w.held.splice(i % w.held.length, 1)[0]!;
  switch (op.k) {
    case "alloc": {
      if (w.destroyed) return -1;
      ctx(w, true);
      let got = 0;
      // At most MAX_OUT pages with the driver and the stack: far from running the machine out of
      // memory, where layouts would differ only by the frames their tracking takes.
      for (let j = 0; j < op.n && w.held.length + w.stack.count < MAX_OUT; j++) {
        const p = pps.allocPages(w.pool);
        if (p === 0) break;
        w.held.push(p);
        got++;
      }
      return got;
    }
    case "put": {
      if (w.destroyed || w.held.length === 0) return -1;
      const page = take(op.i);
      if (op.direct) {
        ctx(w, true);
        pps.recycleDirect(w.pool, page);
      } else {
        ctx(w, false);
        pps.putFullPage(w.pool, page, false);
      }
      return 1;
    }
    case "putShared": {
      // page_pool03_slow: someone else holds a page reference, so the put releases the page.
      if (w.destroyed || w.held.length === 0) return -1;
      const page = take(op.i);
      ctx(w, false);
      m.pa.getPage(page);
      pps.putFullPage(w.pool, page, false);
      m.pa.putPage(page);
      return 1;
    }
    case "toStack": {
      // The driver builds skbs around n of its pages (from the i-th on) and passes them up.
      if (w.destroyed) return -1;
      let n = 0;
      while (n < op.n && w.held.length > 0 && w.stack.count < 256) {
        w.stack.hold(take(op.i));
        n++;
      }
      return n;
    }
    case "stackReturn": {
      let n = 0;
      while (n < op.n && w.stack.returnOldest() !== 0) n++;
      return n;
    }
    case "destroy": {
      if (w.destroyed) return -1;
      // The driver's remove path: napi_disable(), give back the RX ring, then page_pool_destroy().
      ctx(w, false);
      pps.napiDisable(pps.napiOf(w.pool));
      for (const p of w.held.splice(0)) pps.putFullPage(w.pool, p, false);
      pps.destroy(w.pool);
      w.destroyed = true;
      return pps.isLive(w.pool) ? pps.inflight(w.pool) : 0;
    }
    case "advance":
      pps.advance(op.ms);
      return op.ms;
  }
}

/** Everything the pool shows, layout-independent. */
function visible(w: World, result: number): unknown {
  const { pps } = w.sys;
  const live = pps.isLive(w.pool);
  const st = live ? pps.stats(w.pool) : null;
  if (st) {
    const { item_fast_empty: _a, item_slow_failed: _b, ...alloc } = st.alloc;
    return {
      result,
      live,
      cache: pps.cacheCount(w.pool),
      ring: pps.ringCount(w.pool),
      inflight: pps.inflight(w.pool),
      alloc,
      recycle: st.recycle,
      held: w.held.length,
      stack: w.stack.count,
      diag: w.sys.m.mem.diagTotal,
    };
  }
  return { result, live, held: w.held.length, stack: w.stack.count, diag: w.sys.m.mem.diagTotal };
}

/** The layout's own view of its pages must match the pages it has out. Returns problems. */
function trackingProblems(w: World): string[] {
  const { pps, dma } = w.sys;
  const mem = w.sys.m.mem;
  const out: string[] = [];
  const live = pps.isLive(w.pool);
  const inflight = live ? pps.inflight(w.pool) : 0;
  // Before destroy every page is mapped; destroy unmaps all of them in the two fixes.
  const mappedExpected = !w.build.layout.tracksInflight || !w.destroyed ? inflight : 0;
  const dmaLive = dma.deviceStats(w.dev).live;
  if (dmaLive !== mappedExpected) out.push(`${w.layout}: ${dmaLive} live mappings, expected ${mappedExpected}`);
  if (!live) return out;
  if (w.layout === "item-block") {
    const t = pps.t as ItemBlockTracking;
    let used = 0;
    let mapped = 0;
    t.forEachBlock(w.pool, (block) => {
      for (let i = 0; i < t.ITEMS_PER_PAGE; i++) {
        const item = t.itemAt(block, i);
        const s = mem.rd32(item + ITEM_STATE);
        if (s & PAGE_POOL_ITEM_USED) {
          used++;
          const page = mem.rdPtr(item + ITEM_PP_NETMEM);
          if (mem.rdPtr(page + PAGE_PP_ITEM) !== item) out.push(`item ${item}: page ${page} names another item`);
        }
        if (s & PAGE_POOL_ITEM_MAPPED) {
          mapped++;
          if (mem.rd32(mem.rdPtr(item + ITEM_PP_NETMEM) + PAGE_DMA_ADDR) === 0) out.push(`item ${item}: MAPPED, dma_addr 0`);
        }
      }
    });
    if (used !== inflight) out.push(`item-block: ${used} USED items, ${inflight} pages out`);
    if (mapped !== mappedExpected) out.push(`item-block: ${mapped} MAPPED items, expected ${mappedExpected}`);
  } else if (w.layout === "xarray") {
    const t = pps.t as XarrayTracking;
    let n = 0;
    t.xa.xaForEach(w.pool + pps.o.need("dma_mapped"), (id, page) => {
      n++;
      if (getDmaIndex(mem.u32, page) !== id) out.push(`xa ${id}: page ${page} carries id ${getDmaIndex(mem.u32, page)}`);
      if (mem.rd32(page + PAGE_DMA_ADDR) === 0) out.push(`xa ${id}: page ${page} not mapped`);
    });
    if (n !== mappedExpected) out.push(`xarray: ${n} entries, expected ${mappedExpected}`);
  }
  return out;
}

function accountingProblems(w: World): string[] {
  const a = accountFrames(w.sys.m.mem, ppClaimers(w.sys, w.stack));
  const sum = Object.values(a.byClass).reduce((x, y) => x + y, 0);
  const out = a.errors.map((e) => `${w.layout}: ${e}`);
  if (sum !== a.total) out.push(`${w.layout}: ${sum} of ${a.total} frames classified`);
  if ((a.byClass.allocated ?? 0) !== 0) out.push(`${w.layout}: ${a.byClass.allocated} frames nobody claims`);
  return out;
}

/** Layouts whose Tracking replaces the ptr_ring (`Tracking.ring`), by name. */
const RING_OWN = new Set(
  allLayouts()
    .map(defaultBuildOf)
    .filter((b) => bootPpSystem(b, { memBytes: 8 << 20 }).pps.t.ring !== undefined)
    .map((b) => b.layout.name),
);

function runAll(ops: readonly Op[], poolSize: number): void {
  // Layouts on the ptr_ring: a layout with its own ring (v7's encoded_next list: LIFO, one page more)
  // shows other ring counts by design; test/pool/model.property.test.ts models it on its own.
  const worlds = allLayouts()
    .map(defaultBuildOf)
    .filter((b) => !RING_OWN.has(b.layout.name))
    .map((b) => boot(b, poolSize));
  ops.forEach((op, step) => {
    const seen = worlds.map((w) => visible(w, apply(w, op)));
    for (let k = 1; k < worlds.length; k++) {
      expect(seen[k], `step ${step} ${JSON.stringify(op)}: ${worlds[k]!.layout} vs ${worlds[0]!.layout}`).toEqual(seen[0]);
    }
    for (const w of worlds) expect(trackingProblems(w), `step ${step} ${JSON.stringify(op)}`).toEqual([]);
  });
  for (const w of worlds) {
    expect(accountingProblems(w)).toEqual([]);
    // Only the shutdown warning may appear (and, by `visible`, equally often in every layout).
    expect(w.sys.m.mem.diagTotal).toBe(w.sys.m.mem.diagCount(Diag.PP_STALLED_SHUTDOWN));
    expect(w.sys.dma.deviceStats(w.dev).doubleUnmap).toBe(0);
  }
  // Drain: the stack returns everything, the driver goes away, the pool is freed.
  for (const w of worlds) {
    apply(w, { k: "destroy" });
    apply(w, { k: "stackReturn", n: 1 << 20 });
    apply(w, { k: "advance", ms: 2000 });
    expect(w.sys.pps.isLive(w.pool)).toBe(false);
    expect(accountingProblems(w)).toEqual([]);
    expect(w.sys.dma.deviceStats(w.dev).live).toBe(0);
  }
  expect(worlds.map((w) => w.sys.m.mem.diagTotal)).toEqual(worlds.map(() => worlds[0]!.sys.m.mem.diagTotal));
}

describe("every layout (classic, item-block, xarray) under the same operations", () => {
  it("a hand-written sequence through slow items, the ring, destroy and late returns", () => {
    runAll(
      [
        { k: "alloc", n: 150 },
        { k: "alloc", n: 150 },
        { k: "alloc", n: 150 },
        { k: "alloc", n: 150 },
        { k: "alloc", n: 150 }, // 750 pages out + 18 in the cache: slow items on pool_size 1
        { k: "put", i: 3, direct: true },
        { k: "put", i: 7, direct: false },
        { k: "putShared", i: 9 },
        { k: "toStack", i: 698, n: 12 }, // the 12th batch's first pages: on slow items
        ...Array.from({ length: 40 }, (_, i) => ({ k: "toStack" as const, i: i * 7, n: 1 })),
        { k: "stackReturn", n: 5 },
        { k: "destroy" },
        { k: "advance", ms: 30_000 },
        { k: "stackReturn", n: 10 },
        { k: "advance", ms: 61_000 },
        { k: "stackReturn", n: 30 },
      ],
      1,
    );
  });

  it(`random sequences: identical pool-visible outcomes, consistent tracking, every frame accounted (seed ${FC_SEED})`, () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40, size: "max" }), fc.constantFrom(1, 16, 64), (ops, poolSize) => {
        runAll(ops, poolSize);
      }),
      { seed: FC_SEED, numRuns: 100 },
    );
  });
});

describe("the driver-unbind scenario on each layout", () => {
  // The fixes: every layout that tracks in-flight pages (its default build), and v11 with the two
  // other item-block headers, registered for this file at collection (it.each reads the list then).
  const V11 = findBuild("v11")!;
  const VARIANTS = (["v9p2", "rfcv5"] as const).map((variant, i) =>
    registerBuild({ ...V11, name: `v11-${variant}`, id: 0xf1f0 + i, variant, isLayoutDefault: false }),
  );
  afterAll(() => VARIANTS.forEach(unregisterBuild));
  const FIX_LAYOUTS = allLayouts().filter((l) => l.tracksInflight);
  const FIXES = [...FIX_LAYOUTS.map(defaultBuildOf), ...VARIANTS];

  it("the fixes are item-block (v11 and its two other headers), xarray (v6.16), and the layouts after it", () => {
    expect(FIXES.map((b) => [b.name, b.layout.name, b.variant])).toEqual([
      ["v11", "item-block", "v11"],
      ["v6.16", "xarray", undefined],
      ["v7-encoded-next", "encoded-next", "v11"],
      ["v7.1-rc-netpp", "netpp", undefined],
      ["memdesc-item", "memdesc-item", undefined],
      ["v11-v9p2", "item-block", "v9p2"],
      ["v11-rfcv5", "item-block", "rfcv5"],
    ]);
  });

  it.each(FIXES.map((b) => [b.name, b] as const))("%s: destroy unmaps all 64 in-flight pages, late returns skip the DMA API", (_name, build) => {
    const expected = {
      pages_allocated: 256,
      inflight_at_unbind: 64,
      mappings_alive_at_unbind: 0,
      unmapped_by_destroy: 64,
      late_returns: 64,
      late_returns_without_dma: 64,
      unmaps_after_unbind: 0,
      syncs_after_unbind: 0,
      double_unmaps: 0,
      mappings_leaked: 0,
      frames_lost: 0,
      pool_freed_at_ms: 119_000,
    };
    const r = runUnbind({ kernel: build }).result;
    expect(r).toMatchObject({ ...expected, kernel: build.name, layout: build.layout.name, verdict: "fixed", ppemu_lines: 0 });
    // The scenario's pool names the driver's netdev, which unregisters at unbind: the pool moves to
    // loopback, and v6.8+ prints the stalled-shutdown warning only for pools without a netdev.
    expect(r.diagnostics).toEqual([]);
    expect(r.kernel_log_lines).toBe(0);
    // A pool without a netdev gets the warning, once (at 60 s; freed at 119 s, before the second).
    const n = runUnbind({ kernel: build, netdev: false }).result;
    expect(n).toMatchObject({ ...expected, verdict: "fixed", kernel_log_lines: 1, ppemu_lines: 0 });
    expect(n.diagnostics.map((d) => [d.kind, d.count])).toEqual([["stalled_pool_shutdown", 1]]);
  });

  it("classic still shows the bug", () => {
    const r = runUnbind({ kernel: "classic" }).result;
    expect(r).toMatchObject({
      kernel: "v6.15",
      inflight_at_unbind: 64,
      mappings_alive_at_unbind: 64,
      unmapped_by_destroy: 0,
      late_returns_without_dma: 0,
      unmaps_after_unbind: 64,
      syncs_after_unbind: 64,
      double_unmaps: 0,
      frames_lost: 0,
      verdict: "SHOWN",
    });
    // dma-debug's one report for the device ([count=64]), then the IOMMU's line per late unmap and sync.
    expect(r.diagnostics.map((d) => [d.kind, d.count])).toEqual([
      ["dma_debug_pending", 1],
      ["sync_after_unbind", 64],
      ["unmap_after_unbind", 64],
    ]);
  });

  it.each(FIX_LAYOUTS.map((l) => [l.name, defaultBuildOf(l)] as const))("%s with slow items and pages the stack never returns", (_name, build) => {
    // pool_size 16: 762 fast items, so 900 in flight needs slow ones; 100 stay with the stack.
    const r = runUnbind({ kernel: build, pages: 1024, inflight: 900, lateReturns: 800, poolSize: 16, memBytes: 32 << 20 }).result;
    expect(r).toMatchObject({
      pages_allocated: 1024,
      inflight_at_unbind: 900,
      mappings_alive_at_unbind: 0,
      unmapped_by_destroy: 900,
      late_returns_without_dma: 800,
      unmaps_after_unbind: 0,
      double_unmaps: 0,
      mappings_leaked: 0,
      frames_lost: 0,
      pool_freed_at_ms: null,
    });
    const c = runUnbind({ kernel: "classic", pages: 1024, inflight: 900, lateReturns: 800, poolSize: 16, memBytes: 32 << 20 }).result;
    expect([c.mappings_alive_at_unbind, c.unmaps_after_unbind, c.mappings_leaked, c.frames_lost]).toEqual([900, 800, 100, 0]);
  });
});
