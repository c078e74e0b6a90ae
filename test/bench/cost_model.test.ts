/**
 * The deterministic cost model (bench/cost_model.ts, bench/cost_view.ts): the pinned per-element
 * counts of every build × test, the dependent-load chain, the counting views themselves, and that a
 * counting session leaves nothing behind.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { COST_KEYS, COST_LEGEND, COST_OPS, costOf, costRun, costTable, measure, ppChain, type CostRow, CostSkip } from "../../bench/cost_model.js";
import { CostRecorder, REAL_ATOMICS, isCountingView, withCounting, countHookLocks } from "../../bench/cost_view.js";
import { DEFAULT_BENCH_BYTES, LAYOUT_TESTS, type LayoutTest } from "../../bench/catalog.js";
import { bootBenchSystem, prepare } from "../../bench/pp_suite.js";
import { allBuilds } from "../../src/builds/index.js";
import { PhysMem, MACH_RCU_GP_LOCK } from "../../src/mem/physmem.js";
import { PagePools } from "../../src/pool/page_pool.js";
import { pointHook } from "../../src/explore/points.js";
import { spinLock, spinTrylock, spinUnlock } from "../../src/smp/spinlock.js";

/**
 * Per element (alloc + put), over COST_OPS = 1280 elements after a 256-element warm-up:
 * [loads, stores, atomics, locks, cache_lines, pp_chain]. Exact: every value is a total over 1280.
 *
 * The fast path (page_pool01_fast_path), checked against the code:
 *
 * v6.12 … v6.15 (classic), v11 (item-block), v6.16 … mainline (xarray): 10 loads, 6 stores, 7 lines.
 * The layouts differ in how a page names its pool and who tracks DMA; neither is on the alloc-cache
 * round trip, so all three families pay the same.
 *   page_pool_alloc_pages → __page_pool_get_cached: load alloc.count, store count − 1, load
 *     alloc.cache[count − 1] (the low word: the high one is the vmemmap tag), alloc_stat_inc(fast):
 *     load + store of the u64's low word (no carry)                         3 loads, 2 stores
 *   page_pool_recycle_direct: pp_ref_count, _refcount, pp_magic (one struct page line), the pool's
 *     dma_sync flags word                                                    4 loads
 *     page_pool_recycle_in_cache: load alloc.count, store the slot (2 words) and count + 1;
 *     recycle_stat_inc(cached): load pool->recycle_stats (the per-CPU pointer), load + store this
 *     CPU's cached                                                           3 loads, 4 stores
 *   Lines: alloc.count; alloc.cache[63] (the pop's slot is the push's); alloc_stats; struct page; the
 *   dma_sync word's pool line; the recycle_stats pointer's pool line; this CPU's stats copy = 7.
 * v6.1, v6.6: 11 loads, 8 lines — before v6.10 recycle_direct's allow_direct holds only in softirq,
 *   so it also reads this CPU's preempt_count (struct ppemu_cpu, a line of its own).
 *
 * page_pool01_via_page adds napi_pp_put_page(): compound_head (the pp_magic word), page_is_pp
 * (pp_magic low + high), the pool the page names, then page_pool_put_page's pp_ref_count and
 * page_pool_napi_local() (preempt_count, pool->cpuid, pool->p.napi, napi->list_owner): 18 loads,
 * 9 lines for classic and xarray (+ the CPU's and the NAPI instance's lines). Item-block: 19 loads
 * (`pp_item & PAGE_MASK → block->pp` is one load more) and 11 lines: the block header's, and v11's
 * struct page_pool keeps the dma_sync flags word on its second line, away from cpuid / p.napi.
 * From v6.7 (pp_ref_count) the put reads pp_ref_count as the long it is, both words
 * (page_pool_unref_and_test()'s `== 1`): 19 and 20 loads; v6.1 / v6.6 read the pool's p.flags
 * (PP_FLAG_PAGE_FRAG) there instead, on a pool line the put already touches.
 *
 * The new builds:
 * v7-encoded-next: v11's items and hot paths but the ring (test/bench/encoded_next_cost.test.ts has
 *   02's difference to the word): 01 as v11; 02 takes no lock (the LIFO list is cmpxchg only).
 * v7.1-rc-netpp: v6.18's figures except membership by page type: page_is_pp reads page_type (one
 *   word) where the others read pp_magic's two, via_page 18 loads; set/clear pp info writes
 *   page_type, not pp_magic's two words: 2 stores fewer in 03 and 04.
 * memdesc-item: no flat recycle_direct (the page's pool fields are in the item): the fast path reads
 *   the page's memdesc word (twice: unref_and_test and can_be_recycled each take netmem_to_nmdesc())
 *   and both words of the item's pp_ref_count, on the 48-byte item's two lines: 13 loads, 9 lines;
 *   via_page's chain is memdesc word → item->pp → pool, 2.
 *
 * 03 and 04 (one page from and back to the buddy allocator per element): the emulator's machine
 * header puts free_area and zone->lock after the diag arrays, and the diag kinds issue 14 added
 * moved free_area's order-0 list across a line boundary and zone_lock off nr_free_pages' line:
 * +1.8 lines per element on every build, an emulator-layout figure, not a kernel one.
 * Two figures here are NOT what src/ counts now (reported, issue 14): free_pages_prepare() reads
 * page_type twice (the PGTY_netpp check, then the type check) — the kernel, and every build before,
 * one load; and the slow alloc / page_pool_return_netmem() read pool->mp_ops (v6.12: mp_priv) on
 * every call, where the kernel tests `static_branch_unlikely(&page_pool_mem_providers)` first and
 * loads nothing while no provider was ever installed. PINNED has the kernel's count.
 */
const PINNED: Readonly<Record<string, readonly number[]>> = {
  "v6.1 page_pool01_fast_path": [11, 6, 0, 0, 8, 0],
  "v6.1 page_pool01_via_page": [23.078125, 11.0625, 2, 1, 10.140625, 1],
  "v6.1 page_pool02_ptr_ring": [19.078125, 11.0625, 2, 1, 10.140625, 0],
  "v6.1 page_pool03_slow": [52.5, 60.6875, 6.03125, 1.015625, 16.21875, 0],
  "v6.1 page_pool04_dma_slow": [81.5625, 74.71875, 14.03125, 3.015625, 21.40625, 0],
  "v6.6 page_pool01_fast_path": [11, 6, 0, 0, 8, 0],
  "v6.6 page_pool01_via_page": [18, 6, 0, 0, 9, 1],
  "v6.6 page_pool02_ptr_ring": [19.078125, 11.0625, 2, 1, 10.140625, 0],
  "v6.6 page_pool03_slow": [52.5, 60.6875, 6.03125, 1.015625, 16.21875, 0],
  "v6.6 page_pool04_dma_slow": [81.5625, 74.71875, 14.03125, 3.015625, 21.40625, 0],
  "v6.12 page_pool01_fast_path": [10, 6, 0, 0, 7, 0],
  "v6.12 page_pool01_via_page": [19, 6, 0, 0, 9, 1],
  "v6.12 page_pool02_ptr_ring": [23.078125, 11.0625, 2, 1, 11.140625, 0],
  "v6.12 page_pool03_slow": [56.5, 62.6875, 6.03125, 1.015625, 17.203125, 0],
  "v6.12 page_pool04_dma_slow": [85.5625, 76.71875, 14.03125, 3.015625, 22.390625, 0],
  "v6.15 page_pool01_fast_path": [10, 6, 0, 0, 7, 0],
  "v6.15 page_pool01_via_page": [19, 6, 0, 0, 9, 1],
  "v6.15 page_pool02_ptr_ring": [23.078125, 11.0625, 2, 1, 11.140625, 0],
  "v6.15 page_pool03_slow": [56.5, 62.6875, 6.03125, 1.015625, 17.203125, 0],
  "v6.15 page_pool04_dma_slow": [85.5625, 76.71875, 14.03125, 3.015625, 22.390625, 0],
  "v11 page_pool01_fast_path": [10, 6, 0, 0, 7, 0],
  "v11 page_pool01_via_page": [20, 6, 0, 0, 11, 2],
  "v11 page_pool02_ptr_ring": [24.078125, 11.0625, 2, 1, 12.140625, 0],
  "v11 page_pool03_slow": [61.5, 69.6875, 7.03125, 1.015625, 20.45390625, 0],
  "v11 page_pool04_dma_slow": [99, 88.703125, 16.03125, 3.015625, 26.62578125, 0],
  "v6.16 page_pool01_fast_path": [10, 6, 0, 0, 7, 0],
  "v6.16 page_pool01_via_page": [19, 6, 0, 0, 9, 1],
  "v6.16 page_pool02_ptr_ring": [23.078125, 11.0625, 2, 1, 11.140625, 0],
  "v6.16 page_pool03_slow": [56.5, 62.6875, 6.03125, 1.015625, 17.203125, 0],
  "v6.16 page_pool04_dma_slow": [125.6296875, 96.653125, 18.23125, 5.115625, 25.859375, 0],
  "v6.17 page_pool01_fast_path": [10, 6, 0, 0, 7, 0],
  "v6.17 page_pool01_via_page": [19, 6, 0, 0, 9, 1],
  "v6.17 page_pool02_ptr_ring": [23.078125, 11.0625, 2, 1, 11.140625, 0],
  "v6.17 page_pool03_slow": [56.5, 62.6875, 6.03125, 1.015625, 17.203125, 0],
  "v6.17 page_pool04_dma_slow": [125.6296875, 96.653125, 18.23125, 5.115625, 25.859375, 0],
  "v6.18 page_pool01_fast_path": [10, 6, 0, 0, 7, 0],
  "v6.18 page_pool01_via_page": [19, 6, 0, 0, 9, 1],
  "v6.18 page_pool02_ptr_ring": [23.078125, 11.0625, 2, 1, 11.140625, 0],
  "v6.18 page_pool03_slow": [56.5, 62.6875, 6.03125, 1.015625, 17.203125, 0],
  "v6.18 page_pool04_dma_slow": [125.6296875, 96.653125, 18.23125, 5.115625, 25.859375, 0],
  "v6.19 page_pool01_fast_path": [10, 6, 0, 0, 7, 0],
  "v6.19 page_pool01_via_page": [19, 6, 0, 0, 9, 1],
  "v6.19 page_pool02_ptr_ring": [23.078125, 11.0625, 2, 1, 11.140625, 0],
  "v6.19 page_pool03_slow": [56.5, 62.6875, 6.03125, 1.015625, 17.203125, 0],
  "v6.19 page_pool04_dma_slow": [125.6296875, 96.653125, 18.23125, 5.115625, 25.859375, 0],
  "mainline page_pool01_fast_path": [10, 6, 0, 0, 7, 0],
  "mainline page_pool01_via_page": [19, 6, 0, 0, 9, 1],
  "mainline page_pool02_ptr_ring": [23.078125, 11.0625, 2, 1, 11.140625, 0],
  "mainline page_pool03_slow": [56.5, 62.6875, 6.03125, 1.015625, 17.203125, 0],
  "mainline page_pool04_dma_slow": [125.6296875, 96.653125, 18.23125, 5.115625, 25.859375, 0],
  "v7-encoded-next page_pool01_fast_path": [10, 6, 0, 0, 7, 0],
  "v7-encoded-next page_pool01_via_page": [20, 6, 0, 0, 11, 2],
  "v7-encoded-next page_pool02_ptr_ring": [22.03125, 9, 4, 0, 10.234375, 0],
  "v7-encoded-next page_pool03_slow": [61.453125, 69.6875, 7.03125, 1.015625, 20.40703125, 0],
  "v7-encoded-next page_pool04_dma_slow": [98.640625, 88.046875, 16.03125, 3.015625, 26.57890625, 0],
  "v7.1-rc-netpp page_pool01_fast_path": [10, 6, 0, 0, 7, 0],
  "v7.1-rc-netpp page_pool01_via_page": [18, 6, 0, 0, 9, 1],
  "v7.1-rc-netpp page_pool02_ptr_ring": [23.078125, 11.0625, 2, 1, 11.140625, 0],
  "v7.1-rc-netpp page_pool03_slow": [56.5, 60.6875, 6.03125, 1.015625, 17.203125, 0],
  "v7.1-rc-netpp page_pool04_dma_slow": [125.6296875, 94.653125, 18.23125, 5.115625, 25.859375, 0],
  "memdesc-item page_pool01_fast_path": [13, 6, 0, 0, 9, 0],
  "memdesc-item page_pool01_via_page": [21, 6, 0, 0, 12, 2],
  "memdesc-item page_pool02_ptr_ring": [25.078125, 11.0625, 2, 1, 13.640625, 0],
  "memdesc-item page_pool03_slow": [61.546875, 71.734375, 7.046875, 1.015625, 20.3890625, 0],
  "memdesc-item page_pool04_dma_slow": [95.53125, 88.734375, 16.046875, 3.015625, 25.6390625, 0],
};

/**
 * None: v6.1's via_page (no napi_pp_put_page before 8c48eea3adf3, v6.5) puts with allow_direct=false,
 * so its page goes to the ring: the ring's lock and cmpxchg, 23 loads, 10.14 lines, chain 1.
 */
const REFUSED: string[] = [];

const figures = (r: CostRow): number[] => [r.loads, r.stores, r.atomics, r.locks, r.cache_lines, r.pp_chain];

let rows: CostRow[] = [];
let skipped: CostSkip[] = [];
let ms = 0;

beforeAll(() => {
  const t0 = performance.now();
  ({ rows, skipped } = costRun());
  ms = performance.now() - t0;
});

describe("cost model: every build × test, pinned", () => {
  it("counts what PINNED says, for every registered build and layout test, in registry order", () => {
    const want = allBuilds().flatMap((b) => LAYOUT_TESTS.map((t) => `${b.name} ${t}`));
    expect(rows.map((r) => `${r.kernel} ${r.test}`)).toEqual(want.filter((k) => !REFUSED.includes(k)));
    expect(skipped.map((s) => `${s.kernel} ${s.test}`)).toEqual(REFUSED);
    const got = Object.fromEntries(rows.map((r) => [`${r.kernel} ${r.test}`, figures(r)]));
    expect(got).toEqual(PINNED);
    for (const r of rows) {
      expect(r.ops).toBe(COST_OPS);
      expect(r.layout).toBe(allBuilds().find((b) => b.name === r.kernel)!.layout.name);
    }
  });

  it("pp_chain: classic 1, item-block 2, xarray 1, encoded-next 2, netpp 1, memdesc-item 2 through the page; 0 where the pool is handed in", () => {
    // encoded-next keeps v11's items (page->pp_item → block->pp); netpp is xarray's page; memdesc-item:
    // the page's memdesc word → the item's pp.
    const byLayout: Record<string, number> = { classic: 1, "item-block": 2, xarray: 1, "encoded-next": 2, netpp: 1, "memdesc-item": 2 };
    for (const r of rows) expect([r.kernel, r.test, r.pp_chain]).toEqual([r.kernel, r.test, r.test === "page_pool01_via_page" ? byLayout[r.layout] : 0]);
    expect(new Set(rows.map((r) => r.layout))).toEqual(new Set(allBuilds().map((b) => b.layout.name)));
    expect(new Set(rows.map((r) => r.layout))).toEqual(new Set(Object.keys(byLayout)));
  });

  it("is deterministic and fast: a second count of one pair is identical; all pairs well under 10 s", () => {
    expect(costOf("v11", "page_pool01_via_page")).toEqual(rows.find((r) => r.kernel === "v11" && r.test === "page_pool01_via_page"));
    expect(ms).toBeLessThan(10_000);
  });

  it("a hot path that touches one more word on one more line is seen: +1 load, +1 line", () => {
    const orig = PagePools.prototype.recycleDirect;
    try {
      PagePools.prototype.recycleDirect = function (this: PagePools, pool: number, page: number): void {
        void this.mem.u32[(pool + 4096) >>> 2]; // the page after struct page_pool: no line the path had
        orig.call(this, pool, page);
      };
      expect(figures(costOf("v6.15", "page_pool01_fast_path", { ops: 64 }))).toEqual([11, 6, 0, 0, 8, 0]);
    } finally {
      PagePools.prototype.recycleDirect = orig;
    }
    expect(figures(costOf("v6.15", "page_pool01_fast_path", { ops: 64 }))).toEqual(PINNED["v6.15 page_pool01_fast_path"]);
  });
});

describe("cost model: lock acquisitions", () => {
  it("the shim's count is spin_lock()'s own SPIN_LOCK reports plus RCU's trylocks, on every pair; no wait/notify", () => {
    // The grace-period lock's address on any machine of the bench's size (the header's geometry).
    const gpLock = withCounting(() => bootBenchSystem("v6.15", DEFAULT_BENCH_BYTES).m.mem.machine) + MACH_RCU_GP_LOCK;
    let trylocks = 0;
    const ringless: string[] = [];
    for (const b of allBuilds()) {
      // A layout that replaces the ptr_ring (Tracking.ring: v7 6/8's encoded_next list) has no ring
      // lock: its produce and consume are cmpxchg only.
      const noRingLock = (bootBenchSystem(b.name, DEFAULT_BENCH_BYTES).pps.t.ring ?? null) !== null;
      if (noRingLock) ringless.push(b.name);
      for (const t of LAYOUT_TESTS) {
        if (REFUSED.includes(`${b.name} ${t}`)) continue;
        const m = measure(b.name, t, { ops: 128, warmup: 64, hookLocks: true });
        const rcu = m.lockWords.get(gpLock) ?? 0;
        trylocks += rcu;
        expect([b.name, t, m.locks - rcu]).toEqual([b.name, t, m.hookLocks]);
        expect(m.waitNotify).toBe(0);
        if (t === "page_pool01_fast_path" || t === "page_pool01_via_page") continue;
        if (t === "page_pool02_ptr_ring" && noRingLock) {
          // The ring round trip is the whole of 02: no lock word at all, not even RCU's.
          expect([b.name, t, m.locks, m.lockWords.size]).toEqual([b.name, t, 0, 0]);
        } else {
          // The ptr_ring's producer lock (02), the zone lock (03, 04) and the DMA path's locks (04).
          expect([b.name, t, m.locks > 0]).toEqual([b.name, t, true]);
        }
      }
    }
    expect(ringless).toEqual(["v7-encoded-next"]);
    // Only the xarray builds' DMA path call_rcu()s (xa nodes), and so tries the grace-period lock.
    expect(trylocks).toBeGreaterThan(0);
    expect(pointHook).toBeNull();
  });

  it("why not the hook itself: with it set, the slow path reads memory it otherwise does not", () => {
    const plain = measure("v6.15", "page_pool03_slow", { ops: 128, warmup: 64 });
    const hooked = measure("v6.15", "page_pool03_slow", { ops: 128, warmup: 64, hookLocks: true });
    expect(hooked.locks).toBe(plain.locks);
    expect(hooked.loads).toBeGreaterThan(plain.loads);
  });
});

describe("cost model: pp_chain's rule on hand-made traces", () => {
  const page = 0x4000;
  const pool = 0x50000;
  const trace = (accesses: [number, number][]): CostRecorder => {
    const rec = new CostRecorder();
    rec.attach(1 << 20);
    rec.counting = rec.tracing = true;
    rec.beginOp();
    for (const [a, v] of accesses) rec.load(a, v);
    return rec;
  };
  it("page->pp → pool: 1; pp_item → block->pp → pool: 2; the pool handed in: 0", () => {
    expect(ppChain(trace([[page + 16, pool], [pool + 0x30, 0]]), page, pool, 0x700)).toBe(1);
    expect(ppChain(trace([[page + 16, 0x20ff0], [0x20000, pool], [pool + 0x30, 0]]), page, pool, 0x700)).toBe(2);
    // Refcounts read from the page are no pointers; the pool access comes from the argument.
    expect(ppChain(trace([[page + 40, 1], [page + 52, 1], [pool + 0x38, 0]]), page, pool, 0x700)).toBe(0);
    // Nothing from the page at all: no chain.
    expect(ppChain(trace([[pool + 0x140, 64]]), page, pool, 0x700)).toBe(0);
  });
});

describe("counting views", () => {
  afterEach(() => {
    expect(globalThis.Atomics).toBe(REAL_ATOMICS);
    expect(pointHook).toBeNull();
  });

  it("count a known sequence exactly: loads, stores, atomics, locks, lines", () => {
    withCounting((rec) => {
      const mem = PhysMem.create({ bytes: 1 << 20, poison: false });
      for (const v of [mem.u8, mem.u32, mem.i32]) expect(isCountingView(v)).toBe(true);
      const a = 0x10000;
      rec.counting = true;
      rec.beginOp();
      void mem.u32[a >>> 2]; //                               load, line +0
      mem.u32[(a + 4) >>> 2] = 5; //                          store, line +0
      void mem.rd64lo(a + 64), mem.rd64hi(a + 64); //        2 loads, line +1
      Atomics.add(mem.u32, (a + 128) >>> 2, 1); //            atomic, line +2
      mem.u8.fill(0, a + 200, a + 264); //                    16 stores, lines +3, +4
      spinLock(mem, a + 512); //                              atomic + lock, line +8
      spinUnlock(mem, a + 512); //                            atomic
      expect(spinTrylock(mem, a + 516)).toBe(true); //        atomic + lock
      spinUnlock(mem, a + 516); //                            atomic
      void Atomics.load(mem.i32, (a + 768) >>> 2); //         load, line +12
      Atomics.store(mem.i32, (a + 772) >>> 2, 7); //          store
      void mem.u8[a + 1000]; //                               load, line +15
      rec.counting = false;
      void mem.u32[(a + 2048) >>> 2]; //                      not counted
      expect([rec.loads, rec.stores, rec.atomics, rec.locks, rec.lines, rec.waitNotify]).toEqual([5, 18, 5, 2, 8, 0]);
      // The memory really changed, through the views and the shim.
      expect([mem.rd32(a + 4), mem.rd32(a + 128), mem.rd32(a + 772), mem.rd32(a + 512)]).toEqual([5, 1, 7, 0]);
      // Methods and properties of the real arrays still work, and what they hand out is plain.
      expect(mem.u8.length).toBe(1 << 20);
      expect(mem.u32.buffer).toBe(mem.buffer);
      const sub = mem.u8.subarray(a + 4, a + 8);
      expect(isCountingView(sub)).toBe(false);
      expect([...sub]).toEqual([5, 0, 0, 0]);
      // Another typed array goes through the shim untouched and uncounted.
      const other = new Int32Array(4);
      rec.counting = true;
      expect(Atomics.add(other, 0, 3)).toBe(0);
      rec.counting = false;
      expect([other[0], rec.atomics]).toEqual([3, 5]);
    });
  });

  it("leave no trace: the real Atomics, no view wrapper, no hook, plain arrays on a new machine", () => {
    let inside: PhysMem | null = null;
    withCounting(() => {
      expect(globalThis.Atomics).not.toBe(REAL_ATOMICS);
      inside = bootBenchSystem("v6.15", 1 << 22).m.mem;
    });
    expect(isCountingView(inside!.u32)).toBe(true);
    expect(ArrayBuffer.isView(inside!.u32)).toBe(false); // a Proxy is no typed array
    const mem = PhysMem.create({ bytes: 1 << 20 });
    for (const v of [mem.u8, mem.u32, mem.i32]) {
      expect(isCountingView(v)).toBe(false);
      expect(ArrayBuffer.isView(v)).toBe(true);
    }
    // Also after a session that threw.
    expect(() =>
      withCounting(() => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(isCountingView(PhysMem.create({ bytes: 1 << 20 }).i32)).toBe(false);
    expect(() => withCounting(() => withCounting(() => 0))).toThrow("already running");
    expect(countHookLocks(() => undefined)).toBe(0);
  });
});

describe("counting changes nothing the machine does", () => {
  it("the same elements with and without counting views leave byte-identical memory", () => {
    const run = (counted: boolean): Uint8Array => {
      const go = (): Uint8Array => {
        const sys = bootBenchSystem("v6.16", 1 << 24);
        const p = prepare(sys, "page_pool04_dma_slow");
        for (let i = 0; i < 200; i++) p.run(1);
        return new Uint8Array(sys.m.mem.buffer);
      };
      return counted ? withCounting((rec) => ((rec.counting = rec.tracing = true), go())) : go();
    };
    const plain = run(false);
    const counted = run(true);
    expect(Buffer.compare(Buffer.from(plain.buffer), Buffer.from(counted.buffer))).toBe(0);
  });
});

describe("cost table", () => {
  it("renders every row with 2 decimals, — for no chain, the refused pairs, and a legend of every column", () => {
    const refused = new CostSkip("v6.1", "page_pool01_via_page", "bench: page_pool_napi_local() is not what the test needs");
    const text = costTable(rows, [...skipped, refused]);
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^kernel\s+layout\s+test\s+loads\s+stores\s+atomics\s+locks\s+lines\s+pp chain$/);
    // The columns are as wide as the longest build (v7-encoded-next) and layout (memdesc-item, encoded-next).
    expect(lines).toContain("v11              item-block    page_pool01_via_page    20.00    6.00     0.00   0.00  11.00         2");
    expect(lines).toContain("v6.15            classic       page_pool01_fast_path   10.00    6.00     0.00   0.00   7.00         —");
    expect(lines).toContain("v7-encoded-next  encoded-next  page_pool02_ptr_ring    22.03    9.00     4.00   0.00  10.23         —");
    expect(lines.at(-1)).toBe("not run: v6.1 page_pool01_via_page: bench: page_pool_napi_local() is not what the test needs");
    expect(lines.length).toBe(2 + rows.length + 1);
    for (const w of ["loads", "stores", "atomics", "locks", "lines", "pp chain"]) expect(COST_LEGEND).toContain(`${w}:`);
    expect(Object.keys(rows[0]!)).toEqual([...COST_KEYS]);
    const t: LayoutTest = "page_pool04_dma_slow";
    expect(JSON.parse(JSON.stringify(rows.find((r) => r.kernel === "v6.16" && r.test === t)))).toMatchObject({ loads: 125.6296875, locks: 5.115625 });
  });
});
