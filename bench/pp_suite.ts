/**
 * The bench_page_pool_simple loops, for ONE kernel build per process (bench/pp_worker.ts runs this in a
 * child; `ppemu bench --inline` calls it in-process). Each loop is a module-level function over
 * integer pointers, so V8 sees one Tracking class at every call site and the loop allocates nothing.
 *
 * As in the kernel module: each page_pool test gets its own pool (order 0, pool_size 1024, no DMA,
 * no NAPI) with 64 pages pre-filled into the ring (`pp_fill_ptr_ring(pp, 64)`: 64 allocs, then 64
 * puts with allow_direct=false), and runs in "tasklet" context (in_softirq = 1). Then, per element:
 *   page_pool01_fast_path  page_pool_alloc_pages + page_pool_recycle_direct
 *   page_pool01_via_page   alloc + napi_pp_put_page(page): compound head, page_pool_page_is_pp, the
 *                          pool the page names (t.poolOf: page->pp, or pp_item & PAGE_MASK → block->pp,
 *                          or page->pp with the xarray magic mask), put with allow_direct decided by
 *                          page_pool_napi_local() — true here: the pool's NAPI runs on this CPU
 *   page_pool02_ptr_ring   alloc + page_pool_put_page(pp, page, -1, false), napi_local false → ring
 *   page_pool03_slow       alloc + get_page + page_pool_put_page(.., false) (refcount 2: the pool
 *                          releases the page) + put_page (freed to the page allocator); every 64th
 *                          alloc is a bulk refill from the page allocator
 *   page_pool04_dma_slow   the same on a DMA-mapping pool (PP_FLAG_DMA_MAP, a device behind the
 *                          IOMMU): every element is alloc_pages_bulk share + dma_map + track +
 *                          untrack + dma_unmap + __free_pages — what the kernel bench never timed
 * Timing is tinybench over batches of elements, reported as the median batch (see medianWithMargin); heap_delta_bytes is a separate loop of the same
 * function after the timed run, between two gc()'d heapUsed readings (--expose-gc in the child).
 */
import { Bench } from "tinybench";
import { bootPpSystem, NetStack, PagePools, type PpSystem } from "../src/pool/index.js";
import { PP_FLAG_DMA_MAP } from "../src/pool/page_pool.js";
import { DMA_BIDIRECTIONAL } from "../src/dma/index.js";
import { setServingSoftirq } from "../src/smp/percpu.js";
import { rcuBarrier, rcuPendingCallbacks } from "../src/smp/rcu.js";
import type { PageAlloc } from "../src/mem/buddy.js";
import { type BenchResult, type BenchTest, type SuiteRequest, BASELINE } from "./catalog.js";
import { medianSorted } from "./stats.js";
import * as PAGE from "../src/mem/page.js";
import * as STRUCTS from "../src/mem/structs.js";
import { layoutOf, offsetOf } from "../src/mem/ctype.js";
import { LP64 } from "../src/arch.js";
import * as PP_INFO from "../src/pool/pp_info.js";

/** Pages `pp_fill_ptr_ring()` puts in the ring before the loop. */
const PREFILL = 64;
/** The kernel bench's pool_size (MY_POOL_SIZE). */
const POOL_SIZE = 1024;
/** Wall time the heap-delta loop aims for, ms. */
const HEAP_LOOP_MS = 50;

// ─── baselines ─────────────────────────────────────────────────────────────────────────────────

const lockWords = new Int32Array(new SharedArrayBuffer(64));

function forLoop(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s = (s + i) | 0;
  return s;
}

function atomicInc(n: number): number {
  const w = lockWords;
  for (let i = 0; i < n; i++) Atomics.add(w, 0, 1);
  return w[0]!;
}

/** spin_lock + spin_unlock, uncontended: a CAS to take it, a (seq_cst) store to drop it. */
function spinLock(n: number): number {
  const w = lockWords;
  for (let i = 0; i < n; i++) {
    while (Atomics.compareExchange(w, 8, 0, 1) !== 0);
    Atomics.store(w, 8, 0);
  }
  return w[8]!;
}

/**
 * `js_floor`: page_pool01's loop as the least plain JS can write it — the alloc-cache pop, then
 * page_pool_recycle_direct()'s tests in the kernel's order (pp_ref_count 1, _refcount 1, not
 * pfmemalloc, no dma_sync) and the push — over one typed array, with struct page's and
 * pp_alloc_cache's real offsets, no stats, no build, no machine. Two functions, as the kernel's are
 * two: V8 may inline them; nothing stops it. (Imported constants are copied into module consts, as
 * src/pool/page_pool.ts does: TurboFan folds those.) ppemu's page_pool01_fast_path does the same and counts
 * the kernel's stats, through the build's objects; the ratio of the two is the emulator's overhead.
 */
const { PAGE_PP_REF_COUNT, PAGE_REFCOUNT, PAGE_PP_MAGIC, VMEMMAP_HI } = PAGE;
const { PP_ALLOC_CACHE_SIZE } = STRUCTS;
const PFMEMALLOC = PP_INFO.PP_MAGIC_PFMEMALLOC;
const FLOOR_AC = layoutOf(STRUCTS.STRUCT_PP_ALLOC_CACHE, LP64);
const FLOOR_COUNT = offsetOf(FLOOR_AC, "count");
const FLOOR_CACHE = offsetOf(FLOOR_AC, "cache");
const FLOOR_SLOT = FLOOR_AC.sz.cache! / PP_ALLOC_CACHE_SIZE;
/** The floor's "pool": its dma_sync word, then a pp_alloc_cache; the pages' struct pages from FLOOR_PAGES. */
const FLOOR_POOL = 64;
const FLOOR_DMA_SYNC = 0;
const FLOOR_ALLOC = 8;
const FLOOR_PAGES = 4096;
const floorMem = new Uint32Array(new ArrayBuffer(FLOOR_PAGES + PREFILL * PAGE.STRUCT_PAGE_SIZE));

function floorAlloc(pool: number): number {
  const m = floorMem;
  const countIdx = (pool + FLOOR_ALLOC + FLOOR_COUNT) >>> 2;
  const count = m[countIdx]!;
  if (count === 0) return 0;
  m[countIdx] = count - 1;
  return m[(pool + FLOOR_ALLOC + FLOOR_CACHE + (count - 1) * FLOOR_SLOT) >>> 2]!;
}

function floorRecycle(pool: number, page: number): boolean {
  const m = floorMem;
  if (m[(page + PAGE_PP_REF_COUNT) >>> 2] !== 1) return false;
  if (m[(page + PAGE_REFCOUNT) >>> 2] !== 1 || (m[(page + PAGE_PP_MAGIC) >>> 2]! & PFMEMALLOC) !== 0) return false;
  if (m[(pool + FLOOR_DMA_SYNC) >>> 2] !== 0) return false;
  const countIdx = (pool + FLOOR_ALLOC + FLOOR_COUNT) >>> 2;
  const count = m[countIdx]!;
  if (count === PP_ALLOC_CACHE_SIZE) return false;
  const slotIdx = (pool + FLOOR_ALLOC + FLOOR_CACHE + count * FLOOR_SLOT) >>> 2;
  m[slotIdx] = page;
  m[slotIdx + 1] = VMEMMAP_HI;
  m[countIdx] = count + 1;
  return true;
}

/** The pool pointer comes in as an argument, as page_pool01's does: a register, not a constant. */
function jsFloor(pool: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const page = floorAlloc(pool);
    if (page === 0) {
      allocFailures++;
      return s;
    }
    s ^= page;
    floorRecycle(pool, page);
  }
  return s;
}

/** The floor's 64 pages: sole owners, pp_ref_count 1, in the cache. */
function floorFill(): void {
  const m = floorMem;
  m[(FLOOR_POOL + FLOOR_ALLOC + FLOOR_COUNT) >>> 2] = 0;
  for (let i = 0; i < PREFILL; i++) {
    const page = FLOOR_PAGES + i * PAGE.STRUCT_PAGE_SIZE;
    m[(page + PAGE_PP_REF_COUNT) >>> 2] = 1;
    m[(page + PAGE_REFCOUNT) >>> 2] = 1;
    m[(page + PAGE_PP_MAGIC) >>> 2] = 0x40;
    if (!floorRecycle(FLOOR_POOL, page)) throw new Error("bench: js_floor pre-fill failed");
  }
}

// ─── page_pool loops ───────────────────────────────────────────────────────────────────────────

/** Allocations that failed inside a loop (a broken setup; checked after each test). */
let allocFailures = 0;

function fastPath(pps: PagePools, pool: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const page = pps.allocPages(pool);
    if (page === 0) {
      allocFailures++;
      return s;
    }
    s ^= page;
    pps.recycleDirect(pool, page);
  }
  return s;
}

function viaPage(pps: PagePools, stack: NetStack, pool: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const page = pps.allocPages(pool);
    if (page === 0) {
      allocFailures++;
      return s;
    }
    s ^= page;
    stack.napiPpPutPage(page);
  }
  return s;
}

function ptrRing(pps: PagePools, pool: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const page = pps.allocPages(pool);
    if (page === 0) {
      allocFailures++;
      return s;
    }
    s ^= page;
    pps.putPage(pool, page, -1, false);
  }
  return s;
}

function slowPath(pps: PagePools, pa: PageAlloc, pool: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const page = pps.allocPages(pool);
    if (page === 0) {
      allocFailures++;
      return s;
    }
    s ^= page;
    pa.getPage(page);
    pps.putPage(pool, page, -1, false);
    pa.putPage(page);
  }
  return s;
}

/** Same body as slowPath; a separate function so its type feedback is the DMA pool's alone. */
function dmaSlowPath(pps: PagePools, pa: PageAlloc, pool: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const page = pps.allocPages(pool);
    if (page === 0) {
      allocFailures++;
      return s;
    }
    s ^= page;
    pa.getPage(page);
    pps.putPage(pool, page, -1, false);
    pa.putPage(page);
  }
  return s;
}

/** RCU callbacks a batch may leave queued before the end of its "tasklet" lets them run. */
const RCU_BACKLOG = 256;

/**
 * A batch is one tasklet run: when it leaves RCU callbacks queued (the xarray's freed nodes), the
 * softirq ends, a grace period passes and they run, as rcu_core() would between tasklets. Without it
 * a long run is one endless softirq and the machine runs out of memory in deferred frees.
 */
function endOfTasklet(sys: PpSystem): void {
  const mem = sys.m.mem;
  if (rcuPendingCallbacks(mem, mem.cpu) < RCU_BACKLOG) return;
  setServingSoftirq(mem, false);
  rcuBarrier(sys.m);
  setServingSoftirq(mem, true);
}

// ─── setup ─────────────────────────────────────────────────────────────────────────────────────

export interface Prepared {
  /** Run n elements; returns a value the caller folds into a sink. */
  readonly run: (n: number) => number;
  /** Elements per tinybench sample. */
  readonly batch: number;
  /** After each timed batch, inside the sample (the end of a tasklet run); the cost model never calls it. */
  readonly afterBatch?: () => void;
  /** After the runs: null, or what went wrong (the loop did not take the path it is named for). */
  readonly check: (elements: number) => string | null;
}

/** A pool as the kernel bench makes it, with the ring pre-filled (`pp_fill_ptr_ring`). */
function benchPool(sys: PpSystem, opts: { dma?: boolean; napi?: boolean } = {}): number {
  const { pps, dma, m } = sys;
  const dev = opts.dma ? dma.deviceCreate("bench") : 0;
  if (opts.dma && dev === 0) throw new Error("bench: deviceCreate failed");
  const cpu = m.mem.cpu;
  const pool = pps.create({
    order: 0,
    poolSize: POOL_SIZE,
    flags: opts.dma ? PP_FLAG_DMA_MAP : 0,
    dev,
    dmaDir: DMA_BIDIRECTIONAL,
    napiCpu: opts.napi ? cpu : -1,
  });
  if (pool < 0) throw new Error(`bench: page_pool_create failed (${pool})`);
  // Fill the ring with napi_local false whatever the pool: outside softirq.
  setServingSoftirq(m.mem, false);
  const pages: number[] = [];
  for (let i = 0; i < PREFILL; i++) {
    const page = pps.allocPages(pool);
    if (page === 0) throw new Error("bench: pre-fill allocation failed");
    pages.push(page);
  }
  for (const page of pages) pps.putPage(pool, page, -1, false);
  setServingSoftirq(m.mem, true); // the kernel bench runs its loops from a tasklet
  if (pps.ringCount(pool) !== PREFILL) throw new Error(`bench: ring holds ${pps.ringCount(pool)} pages after pre-fill, not ${PREFILL}`);
  if (pps.napiLocal(pool) !== (opts.napi === true)) throw new Error("bench: page_pool_napi_local() is not what the test needs");
  return pool;
}

function statDelta(pps: PagePools, pool: number): () => Record<string, number> {
  const flat = (): Record<string, number> => {
    const s = pps.stats(pool);
    return { ...s.alloc, ...s.recycle };
  };
  const before = flat();
  return () => {
    const now = flat();
    const d: Record<string, number> = {};
    for (const k of Object.keys(now)) d[k] = now[k]! - before[k]!;
    return d;
  };
}

export function prepare(sys: PpSystem, test: BenchTest): Prepared {
  const { pps, m } = sys;
  const pa = m.pa;
  const diagsBefore = m.mem.diagTotal;
  const common = (elements: number, extra: string | null): string | null => {
    if (allocFailures !== 0) return `${allocFailures} page_pool_alloc_pages() failures`;
    if (m.mem.diagTotal !== diagsBefore) return `${m.mem.diagTotal - diagsBefore} emulated faults: ${m.mem.diagLog().slice(-1)[0]?.text}`;
    if (elements <= 0) return "no elements ran";
    return extra;
  };
  switch (test) {
    case "page_pool01_fast_path": {
      const pool = benchPool(sys);
      const d = statDelta(pps, pool);
      return {
        batch: 10_000,
        run: (n) => fastPath(pps, pool, n),
        check: (el) => common(el, d().cached! >= el ? null : "recycle_stats.cached did not count every element"),
      };
    }
    case "page_pool01_via_page": {
      // Before v6.5 (8c48eea3adf3) the skb path never recycles direct: page_pool_return_skb_page()
      // puts with allow_direct=false, so the page goes to the ring, whatever NAPI the pool has.
      const direct = sys.build.switches.napiLocality !== "softirq";
      const pool = benchPool(sys, { napi: direct });
      const stack = new NetStack(pps);
      const d = statDelta(pps, pool);
      return {
        batch: 10_000,
        run: (n) => viaPage(pps, stack, pool, n),
        check: (el) => {
          const s = d();
          if (direct) return common(el, s.cached! >= el ? null : "the page's return did not recycle direct");
          return common(el, s.ring! >= el && s.cached === 0 ? null : "the page's return (allow_direct=false before v6.5) did not go to the ring");
        },
      };
    }
    case "page_pool02_ptr_ring": {
      const pool = benchPool(sys);
      const d = statDelta(pps, pool);
      return {
        batch: 10_000,
        run: (n) => ptrRing(pps, pool, n),
        check: (el) => {
          const s = d();
          return common(el, s.ring! >= el && s.cached === 0 ? null : "put with allow_direct=false did not go to the ring");
        },
      };
    }
    case "page_pool03_slow":
    case "page_pool04_dma_slow": {
      const dmaPool = test === "page_pool04_dma_slow";
      const pool = benchPool(sys, { dma: dmaPool });
      // Prime once so the structures the path grows once (xa nodes and their slab, an IOMMU leaf)
      // exist before the baseline: the drift check below is about pages, not their trackers.
      if (dmaPool) dmaSlowPath(pps, pa, pool, 256);
      else slowPath(pps, pa, pool, 256);
      const d = statDelta(pps, pool);
      const free0 = pa.nrFree();
      const dev = dmaPool ? m.mem.rdPtr(pool + sys.pps.o.dev) : 0;
      return {
        batch: 1_000,
        run: dmaPool ? (n) => dmaSlowPath(pps, pa, pool, n) : (n) => slowPath(pps, pa, pool, n),
        afterBatch: () => endOfTasklet(sys),
        check: (el) => {
          const s = d();
          // The loop ran as one long softirq: RCU callbacks (xarray nodes) waited for it to end.
          setServingSoftirq(m.mem, false);
          rcuBarrier(m);
          setServingSoftirq(m.mem, true);
          if (s.released_refcnt! < el) return common(el, "the put did not release the page (released_refcnt)");
          if (s.slow! * 64 < el - 64) return common(el, "allocations did not come from the page allocator");
          // Pages cycle through the allocator: at most one bulk of 64 outstanding.
          if (Math.abs(pa.nrFree() - free0) > 64) return common(el, `free pages drifted by ${pa.nrFree() - free0}`);
          if (dmaPool && sys.dma.liveMappings(dev) > 64) return common(el, `${sys.dma.liveMappings(dev)} live DMA mappings`);
          return common(el, null);
        },
      };
    }
    default:
      throw new Error(`bench: ${test} is not a page_pool test`);
  }
}

export function baseline(test: BenchTest): Prepared {
  if (test === "js_floor") {
    floorFill();
    const args = { pool: FLOOR_POOL };
    return { batch: 10_000, run: (n) => jsFloor(args.pool, n), check: (el) => (allocFailures !== 0 ? "js_floor ran out of pages" : el > 0 ? null : "no elements ran") };
  }
  const run = test === "for_loop" ? forLoop : test === "atomic_inc" ? atomicInc : test === "lock" ? spinLock : null;
  if (run === null) throw new Error(`bench: ${test} is not a baseline`);
  return { batch: 100_000, run, check: (el) => (el > 0 ? null : "no elements ran") };
}

// ─── measuring ─────────────────────────────────────────────────────────────────────────────────

const gc = (globalThis as { gc?: () => void }).gc;

function heapUsedAfterGc(): number {
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

let sink = 0;

/**
 * The median sample and the half-width of its distribution-free 95 % confidence interval (order
 * statistics n/2 ± 0.98·√n), relative, in percent. The median, not the mean: on a shared machine a
 * few preempted samples (100× the rest) dominate a mean and its rme.
 */
export function medianWithMargin(samples: ArrayLike<number>): { median: number; rmePct: number } {
  const s = Float64Array.from(samples).sort();
  const n = s.length;
  if (n === 0) return { median: NaN, rmePct: NaN };
  const median = medianSorted(s);
  const d = 0.98 * Math.sqrt(n);
  const lo = s[Math.max(0, Math.floor(n / 2 - d))]!;
  const hi = s[Math.min(n - 1, Math.ceil(n / 2 + d))]!;
  return { median, rmePct: median > 0 ? ((hi - lo) / 2 / median) * 100 : 0 };
}

/** tinybench over batches: the median ns per element, its margin, the sample count. */
async function timeIt(name: string, p: Prepared, req: SuiteRequest): Promise<{ ns: number; rmePct: number; samples: number; elements: number }> {
  const { run, batch } = p;
  let elements = 0;
  const bench = new Bench({
    time: req.timeMs,
    warmup: true,
    warmupTime: req.warmupMs,
    warmupIterations: 16,
    iterations: 16,
    retainSamples: true,
    throws: true,
  });
  const after = p.afterBatch;
  bench.add(name, () => {
    sink ^= run(batch);
    if (after !== undefined) after();
    elements += batch;
  });
  await bench.run();
  const r = bench.tasks[0]!.result;
  if (r.state !== "completed" || !r.latency.samples) throw new Error(`bench: ${name} did not complete (${r.state})`);
  const { median, rmePct } = medianWithMargin(r.latency.samples);
  return { ns: (median * 1e6) / batch, rmePct, samples: r.latency.samples.length, elements };
}

/**
 * heapUsed across n elements, gc()'d before each reading. Runs after timeIt() has returned, so the
 * Bench object and its samples are garbage before the first reading, not during the loop.
 */
function heapDelta(run: (n: number) => number, n: number): number {
  const before = heapUsedAfterGc();
  sink ^= run(n);
  return heapUsedAfterGc() - before;
}

async function measure(kernel: string, layout: string, p: Prepared, req: SuiteRequest): Promise<BenchResult> {
  const t = await timeIt(`${kernel}:${req.test}`, p, req);
  // ~HEAP_LOOP_MS (at most the per-test time) of the same function.
  const n = Math.max(p.batch, Math.min(50_000_000, Math.round((Math.min(HEAP_LOOP_MS, req.timeMs) * 1e6) / Math.max(t.ns, 0.1))));
  const heap = heapDelta(p.run, n);
  const bad = p.check(t.elements + n);
  if (bad !== null) throw new Error(`bench: ${kernel}:${req.test}: ${bad}`);
  return {
    kernel,
    layout,
    test: req.test,
    run: req.run,
    ns_per_elem: t.ns,
    ops_per_sec: 1e9 / t.ns,
    rme_pct: t.rmePct,
    samples: t.samples,
    batch: p.batch,
    heap_delta_bytes: heap,
  };
}

/** The machine a benchmark runs on: no page poisoning, no misuse checks (as the kernel bench runs). */
export function bootBenchSystem(kernel: string, bytes: number): PpSystem {
  return bootPpSystem(kernel, { bytes, poison: false, ppChecks: false });
}

/** Run `req.test` for `req.kernel` in this process: one process's figure. */
export async function runSuite(req: SuiteRequest): Promise<BenchResult> {
  allocFailures = 0;
  let r: BenchResult;
  if (req.kernel === BASELINE) r = await measure(BASELINE, BASELINE, baseline(req.test), req);
  else {
    const sys = bootBenchSystem(req.kernel, req.bytes);
    r = await measure(sys.build.name, sys.build.layout.name, prepare(sys, req.test), req);
  }
  if (sink === 0.5) console.log(sink); // keep the loops' results observable
  return r;
}
