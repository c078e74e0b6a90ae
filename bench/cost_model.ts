/**
 * The deterministic cost model: per operation of each benchmark test and build,
 * the emulated loads, stores, atomic ops, lock acquisitions and distinct 64-byte cache lines, and the
 * length of the dependent-load chain from `struct page` to `struct page_pool`. The figures depend on
 * the code, not on the machine: tests pin them, so a change that adds a line to a hot path fails one.
 *
 * It runs the timed benchmark's own code — `prepare(sys, test)` of bench/pp_suite.ts on
 * `bootBenchSystem(kernel, DEFAULT_BENCH_BYTES)` — with counting memory views (bench/cost_view.ts),
 * in its own session, never on the timed path. Per (build, test): a fresh machine, the test's
 * preparation (pool, ring pre-fill, the slow paths' priming), COST_WARMUP uncounted elements, then
 * COST_OPS elements counted one at a time (`run(1)`). COST_OPS is a multiple of 64 because the slow
 * paths refill the alloc cache in bulks of 64 from the page allocator: every counted window holds
 * whole periods, so the averages are exact ratios (JSON keeps them; the table prints 2 decimals).
 * Two figures are not strictly periodic and are exact for this window only: the xarray builds' DMA
 * slow path drifts down by ≈ 0.1 % per 64 elements (the buddy allocator's split and merge work
 * shrinks as xa-node slabs, whose frees wait for an RCU grace period, reshape its free lists), and
 * item-block's slow paths drain the released items' llist (`llist_del_all` in the fast item
 * alloc: one exchange, one store) about once in 5,000 elements.
 *
 * pp_chain — the dependent loads from `struct page` to `struct page_pool`. A plain number carries no
 * taint, so dependence is read off addresses: a load's address depends on an earlier load when it
 * lies in the 4 KiB frame of that load's value or in [value, value + 4096) (a field of the object the
 * value points to). Values below 4096 are never taken for pointers (0 is NULL; frame 0 holds the
 * reserved memmap's first struct pages, which no path dereferences), so refcounts and flags do not
 * link. The chain starts at the operation's first load from the returned page's `struct page`
 * (depth 1); a later load whose address depends on a chain load (the most recent one that matches)
 * has that load's depth + 1. It ends at the first access of any kind inside the pool's
 * `struct page_pool` (the pool's address; its size from the build's declaration) after the start:
 * pp_chain is the depth of the chain load that access depends on, or 0 when it depends on none —
 * the caller handed the pool in (page_pool01_fast_path, 02, 03, 04 pass it to every call). Classic
 * and xarray: `page->pp` → pool, 1. Item-block: `page->pp_item` → `block->pp` → pool, 2.
 */
import { allBuilds } from "../src/builds/index.js";
import { STRUCT_PAGE_SIZE } from "../src/mem/page.js";
import { renderTable } from "../src/report/table.js";
import { DEFAULT_BENCH_BYTES, LAYOUT_TESTS, type LayoutTest } from "./catalog.js";
import { bootBenchSystem, prepare, type Prepared } from "./pp_suite.js";
import { Access, countHookLocks, withCounting, type CostRecorder } from "./cost_view.js";

/** Counted elements per (build, test): 20 bulk refills of 64. */
export const COST_OPS = 1280;
/** Uncounted elements first (after prepare()'s own pre-fill and priming): 4 bulks of 64. */
export const COST_WARMUP = 256;

/** One row of the cost model's JSON: per operation (one benchmark element), averaged over `ops`. */
export interface CostRow {
  readonly kernel: string;
  readonly layout: string;
  readonly test: LayoutTest;
  /** Elements counted. */
  readonly ops: number;
  readonly loads: number;
  readonly stores: number;
  readonly atomics: number;
  readonly locks: number;
  /** Distinct 64-byte cache lines per element (counted per element, then averaged). */
  readonly cache_lines: number;
  /** Dependent loads from the returned page's struct page to struct page_pool; 0: the pool was handed in. */
  readonly pp_chain: number;
}

export const COST_KEYS = ["kernel", "layout", "test", "ops", "loads", "stores", "atomics", "locks", "cache_lines", "pp_chain"] as const;

export interface CostOptions {
  /** Counted elements (a multiple of 64 for exact averages). Default COST_OPS. */
  readonly ops?: number;
  /** Uncounted elements before. Default COST_WARMUP. */
  readonly warmup?: number;
  /** Simulated memory. Default DEFAULT_BENCH_BYTES, as the timed benchmark. */
  readonly bytes?: number;
}

/** What `measure` saw, in totals (costOf divides by ops). */
export interface CostTotals {
  readonly kernel: string;
  readonly layout: string;
  readonly ops: number;
  readonly loads: number;
  readonly stores: number;
  readonly atomics: number;
  readonly locks: number;
  readonly lines: number;
  readonly chain: number;
  /** Atomics.wait/notify calls: in no column; 0 on every single-CPU path. */
  readonly waitNotify: number;
  /** Lock acquisitions per lock word (byte address), over the counted elements. */
  readonly lockWords: ReadonlyMap<number, number>;
  /** With `hookLocks`: spin_lock()'s SPIN_LOCK reports over the same elements (loads etc. then are not the kernel's). */
  readonly hookLocks: number | null;
}

/** The dependent-load chain of the operation in `rec`'s trace (see the header for the rule). */
export function ppChain(rec: CostRecorder, page: number, pool: number, poolSize: number): number {
  const { traceKind: kind, traceAddr: addr, traceVal: val } = rec;
  const pageEnd = page + STRUCT_PAGE_SIZE;
  const poolEnd = pool + poolSize;
  // The chain loads so far: their values (possible pointers) and depths, most recent last.
  const cv: number[] = [];
  const cd: number[] = [];
  const dependsOn = (a: number): number => {
    for (let j = cv.length - 1; j >= 0; j--) {
      const v = cv[j]!;
      if ((a & ~0xfff) === (v & ~0xfff) || (a >= v && a < v + 4096)) return cd[j]!;
    }
    return 0;
  };
  let started = false;
  for (let k = 0; k < rec.traceLen; k++) {
    const a = addr[k]!;
    const isLoad = kind[k] !== Access.STORE;
    if (!started) {
      if (kind[k] === Access.LOAD && a >= page && a < pageEnd) started = true;
      else continue;
    }
    if (a >= pool && a < poolEnd) return dependsOn(a);
    if (!isLoad || val[k]! < 4096) continue;
    const fromPage = kind[k] === Access.LOAD && a >= page && a < pageEnd;
    const via = fromPage ? 0 : dependsOn(a);
    if (fromPage || via > 0) {
      cv.push(val[k]!);
      cd.push(fromPage ? 1 : via + 1);
    }
  }
  return 0;
}

/**
 * Count `ops` elements of `test` on `kernel` (totals). `hookLocks` also installs the explorer's hook
 * over the counted elements to count spin_lock()'s SPIN_LOCK reports (a cross-check of the shim).
 */
export function measure(kernel: string, test: LayoutTest, opts: CostOptions & { hookLocks?: boolean } = {}): CostTotals {
  const ops = opts.ops ?? COST_OPS;
  const warmup = opts.warmup ?? COST_WARMUP;
  if (!Number.isInteger(ops) || ops <= 0) throw new Error(`cost model: ops must be a positive integer, got ${ops}`);
  return withCounting((rec) => {
    const sys = bootBenchSystem(kernel, opts.bytes ?? DEFAULT_BENCH_BYTES);
    let p: Prepared;
    try {
      p = prepare(sys, test);
    } catch (e) {
      // The timed benchmark cannot run this pair either: say so rather than count something else.
      if (e instanceof Error && e.message.startsWith("bench:")) throw new CostSkip(kernel, test, e.message);
      throw e;
    }
    const pools: number[] = [];
    sys.pps.forEachPool((pl) => void pools.push(pl));
    if (pools.length !== 1) throw new Error(`cost model: ${kernel}:${test}: ${pools.length} pools on the machine, not 1`);
    const pool = pools[0]!;
    const poolSize = sys.pps.o.size;
    if (warmup > 0) p.run(warmup);
    let lines = 0;
    let chain = 0;
    const counted = (): void => {
      rec.counting = true;
      rec.tracing = true;
      try {
        for (let i = 0; i < ops; i++) {
          rec.beginOp();
          // One element: run(1) folds the one page it allocated into 0, so it returns that page.
          const page = p.run(1);
          lines += rec.lines;
          chain += ppChain(rec, page, pool, poolSize);
        }
      } finally {
        rec.counting = false;
        rec.tracing = false;
      }
    };
    const hookLocks = opts.hookLocks === true ? countHookLocks(counted) : (counted(), null);
    const bad = p.check(warmup + ops);
    if (bad !== null) throw new Error(`cost model: ${kernel}:${test}: ${bad}`);
    return {
      kernel: sys.build.name,
      layout: sys.build.layout.name,
      ops,
      loads: rec.loads,
      stores: rec.stores,
      atomics: rec.atomics,
      locks: rec.locks,
      lines,
      chain,
      waitNotify: rec.waitNotify,
      lockWords: new Map(rec.lockWords),
      hookLocks,
    };
  });
}

/** The cost of one element of `test` on `kernel` (a build or a layout name), per operation. */
export function costOf(kernel: string, test: LayoutTest, opts: CostOptions = {}): CostRow {
  const t = measure(kernel, test, opts);
  const per = (v: number): number => v / t.ops;
  return {
    kernel: t.kernel,
    layout: t.layout,
    test,
    ops: t.ops,
    loads: per(t.loads),
    stores: per(t.stores),
    atomics: per(t.atomics),
    locks: per(t.locks),
    cache_lines: per(t.lines),
    pp_chain: per(t.chain),
  };
}

/** A (build, test) the timed benchmark's own `prepare()` refuses: not counted, and said so. */
export class CostSkip extends Error {
  constructor(
    readonly kernel: string,
    readonly test: LayoutTest,
    readonly reason: string,
  ) {
    super(`cost model: ${kernel}:${test} not run: ${reason}`);
    this.name = "CostSkip";
  }
}

/** Every (kernel, test), kernels outer; the pairs the benchmark refuses in `skipped`. */
export function costRun(
  kernels: readonly string[] = allBuilds().map((b) => b.name),
  tests: readonly LayoutTest[] = LAYOUT_TESTS,
  opts: CostOptions = {},
): { rows: CostRow[]; skipped: CostSkip[] } {
  const rows: CostRow[] = [];
  const skipped: CostSkip[] = [];
  for (const k of kernels) {
    for (const t of tests) {
      try {
        rows.push(costOf(k, t, opts));
      } catch (e) {
        if (!(e instanceof CostSkip)) throw e;
        skipped.push(e);
      }
    }
  }
  return { rows, skipped };
}

/** `costRun(…).rows` (default: every registered build, every layout test). */
export function costRows(kernels?: readonly string[], tests?: readonly LayoutTest[], opts: CostOptions = {}): CostRow[] {
  return costRun(kernels, tests, opts).rows;
}

const f2 = (v: number): string => v.toFixed(2);

/** The rows as a plain-text table (2 decimals; pp_chain "—" when the pool was handed in), then the pairs not run. */
export function costTable(rows: readonly CostRow[], skipped: readonly CostSkip[] = []): string {
  const table = renderTable(
    [
      "kernel",
      "layout",
      "test",
      { header: "loads", align: "right" },
      { header: "stores", align: "right" },
      { header: "atomics", align: "right" },
      { header: "locks", align: "right" },
      { header: "lines", align: "right" },
      { header: "pp chain", align: "right" },
    ],
    rows.map((r) => [
      r.kernel,
      r.layout,
      r.test,
      f2(r.loads),
      f2(r.stores),
      f2(r.atomics),
      f2(r.locks),
      f2(r.cache_lines),
      r.pp_chain === 0 ? "—" : Number.isInteger(r.pp_chain) ? String(r.pp_chain) : f2(r.pp_chain),
    ]),
  );
  return [table, ...skipped.map((s) => `not run: ${s.kernel} ${s.test}: ${s.reason}`)].join("\n");
}

/** What each column counts. */
export const COST_LEGEND = [
  `Per element of the benchmark loop (alloc + its put), averaged over ${COST_OPS} elements after a warm-up; the same`,
  "code as the timed run, on counting memory views (emulated accesses: independent of the host).",
  "loads: reads of the emulated memory, one per 32-bit word (a 64-bit pointer is 2), Atomics.load included;",
  "stores: writes, one per 32-bit word (memset/memcpy: per word covered), Atomics.store included;",
  "atomics: read-modify-write ops (add, sub, and, or, xor, xchg, cmpxchg), in neither loads nor stores;",
  "locks: spin lock acquisitions (a trylock that succeeds included); lines: distinct 64-byte cache lines the",
  "element touched; pp chain: dependent loads from the page's struct page to its struct page_pool (page->pp 1,",
  "item-block pp_item → block → pp 2; —: the test hands the pool to the call).",
].join("\n");

