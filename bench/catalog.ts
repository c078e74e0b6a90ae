/**
 * What `ppemu bench` measures, shared by the parent (src/report/bench.ts) and the child process that
 * runs one kernel build (bench/pp_worker.ts): test names, the one JSON result schema, and the
 * baselines' kernel anchor figures (each build carries its own anchors: `KernelBuild.benchAnchorNs`).
 * No runtime dependencies (one type): the child imports it before it has booted anything.
 */

import type { CostRow } from "./cost_model.js";

/** The "build" of the loops that touch no pool. */
export const BASELINE = "baseline";

/**
 * time_bench's baselines (an empty loop, an atomic increment, a spin lock + unlock), and ppemu's
 * `js_floor`: the least plain JS can do for page_pool01's loop (see bench/pp_suite.ts jsFloor).
 */
export const BASELINE_TESTS = ["for_loop", "atomic_inc", "lock", "js_floor"] as const;

/**
 * Per layout, each (build, test, run) in its own child process. 01/02/03 mirror the kernel module on
 * a no-DMA pool of pool_size 1024 pre-filled with 64 pages in the ring; via_page and 04 are what it
 * never measured.
 */
export const LAYOUT_TESTS = [
  "page_pool01_fast_path",
  "page_pool01_via_page",
  "page_pool02_ptr_ring",
  "page_pool03_slow",
  "page_pool04_dma_slow",
] as const;

export type BaselineTest = (typeof BASELINE_TESTS)[number];
export type LayoutTest = (typeof LAYOUT_TESTS)[number];
export type BenchTest = BaselineTest | LayoutTest;
export const ALL_TESTS: readonly BenchTest[] = [...BASELINE_TESTS, ...LAYOUT_TESTS];

/**
 * The name the kernel module prints after `Type:` for a test it has: its loops run from a tasklet,
 * as ppemu's do (in_softirq), so page_pool01/02/03 are its `tasklet_*` records. Tests it does not
 * have print under ppemu's own name.
 */
export const KERNEL_TYPE_NAME: Readonly<Record<BenchTest, string>> = {
  for_loop: "for_loop",
  atomic_inc: "atomic_inc",
  lock: "lock",
  js_floor: "js_floor",
  page_pool01_fast_path: "tasklet_page_pool01_fast_path",
  page_pool01_via_page: "page_pool01_via_page",
  page_pool02_ptr_ring: "tasklet_page_pool02_ptr_ring",
  page_pool03_slow: "tasklet_page_pool03_slow",
  page_pool04_dma_slow: "page_pool04_dma_slow",
};

/** Simulated memory of the layout children (the machine's default). */
export const DEFAULT_BENCH_BYTES = 64 << 20;

/** What the parent asks one child to run: one test of one build, one run of several. */
export interface SuiteRequest {
  /** A kernel build's name (src/builds), or BASELINE. */
  readonly kernel: string;
  readonly test: BenchTest;
  /** tinybench time budget, ms. */
  readonly timeMs: number;
  /** Warm-up before sampling, ms. */
  readonly warmupMs: number;
  /** Simulated memory, bytes. */
  readonly bytes: number;
  /** 1-based: which of the runs this is. */
  readonly run: number;
}

/**
 * One process's figure for one (build, test) — a row of the JSON document's `results`. Schema 2
 * added `kernel`, 3 the document's `command`, 4 `run` and `batch` (and the document's `summary`).
 */
export interface BenchResult {
  /** The kernel build, or "baseline". */
  readonly kernel: string;
  /** The build's tracking layout, or "baseline". */
  readonly layout: string;
  readonly test: BenchTest;
  /** 1-based run: the process's place in the round-robin (run r of every build ran in round r). */
  readonly run: number;
  /** Median over this process's tinybench samples of (sample time / batch). */
  readonly ns_per_elem: number;
  readonly ops_per_sec: number;
  /** Half-width of the 95 % confidence interval of that median, relative, in percent: the spread inside one process. */
  readonly rme_pct: number;
  /** tinybench samples; each sample times `batch` elements. */
  readonly samples: number;
  /** Elements per sample (the Type: line's invoke count). */
  readonly batch: number;
  /** process.memoryUsage().heapUsed after minus before a loop of the test, gc() before each reading. */
  readonly heap_delta_bytes: number;
}

/** A ratio to the reference build over paired runs (run r ÷ the reference's run r). */
export interface RatioCi {
  /** Median of the paired ratios. */
  readonly median: number;
  /** 95 % percentile-bootstrap interval of that median (seeded: the same runs give the same interval). */
  readonly ci_lo: number;
  readonly ci_hi: number;
  /** The interval contains 1.0: the text prints `≈`. */
  readonly approx_one: boolean;
  readonly pairs: number;
}

/** Per (build, test): the processes' figures. */
export interface BenchSummary {
  readonly kernel: string;
  readonly layout: string;
  readonly test: BenchTest;
  readonly runs: number;
  /** Median, min and max across processes of each process's ns_per_elem. */
  readonly ns_median: number;
  readonly ns_min: number;
  readonly ns_max: number;
  /** (max − min) / median, percent. */
  readonly spread_pct: number;
  /** ns_median in cycles of the stated TSC frequency (the document's tsc_mhz). */
  readonly cycles: number;
  /** ÷ the reference build, same test; null for baselines, the reference itself, or without it. */
  readonly ratio_to_ref: RatioCi | null;
  /** ÷ js_floor, paired by run (page_pool01_fast_path only; null elsewhere or without the floor). */
  readonly ratio_to_floor: RatioCi | null;
  /** The kernel's ns/elem for this (build, test), where the build has anchors. */
  readonly kernel_ns: number | null;
}

/** How the document was measured. */
export interface BenchMethod {
  readonly runs: number;
  readonly quick: boolean;
  readonly time_ms: number;
  readonly warmup_ms: number;
  /** "round-robin": round r runs every (test, build) once, builds interleaved within each test. */
  readonly order: "round-robin";
  readonly reference: string;
  /** os.loadavg() before and after, and the cores. */
  readonly load_avg_before: readonly number[];
  readonly load_avg_after: readonly number[];
  readonly cores: number;
  /** The CPU every child was pinned to with taskset, or null (not pinned). */
  readonly pinned_cpu: number | null;
  /** The TSC frequency the cycles are computed with, MHz, and where it came from. */
  readonly tsc_mhz: number;
  readonly tsc_source: string;
  readonly warnings: readonly string[];
}

/** The `--json` document. */
export interface BenchJson {
  readonly schema: 4;
  readonly command: "bench";
  readonly node: string;
  readonly cpu: string;
  readonly date: string;
  /** Absent in an SMP document. */
  readonly method?: BenchMethod;
  readonly results: BenchResult[];
  readonly summary?: BenchSummary[];
  /** The cost model (bench/cost_model.ts) for the builds and layout tests that ran. */
  readonly cost?: readonly CostRow[];
  /** The (build, test) pairs the cost model could not run, and why. */
  readonly cost_not_run?: readonly string[];
  /** Present when an SMP test ran (`--test cross_cpu | page_pool02_ptr_ring_contended`); results is then []. */
  readonly smp?: SmpJson;
}

export const RESULT_KEYS = ["kernel", "layout", "test", "run", "ns_per_elem", "ops_per_sec", "rme_pct", "samples", "batch", "heap_delta_bytes"] as const;

/** bench_page_pool_simple's baselines on an Intel E5-1650 v4 @ 3.6 GHz (v6.13-rc6), ns per element. */
export const BASELINE_ANCHOR_NS: Readonly<Partial<Record<BenchTest, number>>> = { for_loop: 0.284, atomic_inc: 4.769, lock: 10.431 };


// ─── SMP tests: CPUs as worker threads on one machine (bench/cross_cpu.ts) ─────────────────────

/**
 * `cross_cpu`: bench_page_pool_cross_cpu. `page_pool02_ptr_ring_contended`: page_pool02_ptr_ring
 * on CPU 0 while CPUs 1…N−1 put pages into the same pool's ring. Each runs only when named
 * (`--test T`); `--test all` is the single-CPU suite.
 */
export const SMP_TESTS = ["cross_cpu", "page_pool02_ptr_ring_contended"] as const;
export type SmpTest = (typeof SMP_TESTS)[number];

/**
 * bench_page_pool_cross_cpu's parameters, from netoptimizer/prototype-kernel
 * kernel/lib/bench_page_pool_cross_cpu.c @d5548a5222a66b464698ba68d8b8b8f0fc4aed6a: `loops`
 * 1,000,000 (per returning CPU), `returning_cpus` 2, `MY_POOL_SIZE` 32000, `pp_create(…, 256)`
 * (256 pages pre-filled into the pool's ring), `SPSC_QUEUE_SZ` 1024, queues pre-filled with 0
 * (`run_bench_pp_cpus(returning_cpus, nr_loops, SPSC_QUEUE_SZ, 0)`), `ndelay(400)` after the
 * first page. Output through time_bench_print_stats_cpumask() (kernel/lib/time_bench.c
 * @ed04e9380d4ead0bef5106ed20faddea67eab201).
 */
export const CROSS_CPU = {
  loops: 1_000_000,
  poolSize: 32000,
  poolPrefill: 256,
  queueSize: 1024,
  firstPageDelayNs: 400,
  /** time_bench needs invoke counts of at least 1000; the module parameter is a u32. */
  minLoops: 1000,
  maxLoops: 4294967295,
} as const;
export const CROSS_CPU_SOURCE = "netoptimizer/prototype-kernel kernel/lib/bench_page_pool_cross_cpu.c @d5548a5222a6";
export const CONTENDED_SOURCE = "ppemu: bench_page_pool_simple's page_pool02_ptr_ring under contention (no kernel counterpart)";

/** The contended 02: pool as page_pool02_ptr_ring's (1024, 64 pre-filled); pages handed to the other CPUs per round, in all. */
export const CONTENDED = { poolSize: 1024, prefill: 64, share: 768, maxBatch: 8192, chunk: 32 } as const;

/** What the parent asks one child to run: one SMP test of one build, one run of several. */
export interface SmpRequest {
  readonly kernel: string;
  readonly test: SmpTest;
  /** CPUs of the machine: CPU 0 allocates, CPUs 1…cpus−1 return. */
  readonly cpus: number;
  /** cross_cpu: pages each returning CPU returns in its timed loop. */
  readonly loops: number;
  /** tinybench time of the single-CPU page_pool02_ptr_ring reference, and the contended test's measuring time, ms. */
  readonly timeMs: number;
  readonly warmupMs: number;
  /** 1-based: which of the runs this is. */
  readonly run: number;
}

/** One CPU's time_bench record (time_bench_print_stats_cpumask prints one line per CPU). */
export interface CrossCpuRecord {
  readonly cpu: number;
  /** "rx": the tasklet (pp_tasklet_simulate_rx_napi); "return": a returning kthread (time_pp_put_page_recycle). */
  readonly role: "rx" | "return";
  readonly invoke_count: number;
  readonly time_interval_ns: number;
  readonly ns_per_elem: number;
  /** return: pages put back (the untimed first page included); rx: 0. */
  readonly returned: number;
  /** return: ptr_ring_consume() found the queue empty; rx: 0. */
  readonly empty: number;
  /** return: gave up after loops × 100 empty queues (the kernel's "abort on retries"); rx: stopped with every queue full after all returning CPUs finished. */
  readonly aborted: boolean;
  /** This CPU's recycle_stats over the run (the pool's per-CPU copy). */
  readonly ring: number;
  readonly ring_full: number;
}

/** The single-CPU page_pool02_ptr_ring measured in the same child process (tinybench, bench/pp_suite.ts). */
export interface RefResult {
  readonly ns_per_elem: number;
  readonly rme_pct: number;
  readonly samples: number;
}

export interface CrossCpuRun {
  readonly test: "cross_cpu";
  readonly kernel: string;
  readonly layout: string;
  readonly run: number;
  readonly cpus: number;
  readonly loops: number;
  readonly ref_02: RefResult;
  readonly per_cpu: CrossCpuRecord[];
  /** Pages the tasklet put into the per-CPU queues (its `cnt`). */
  readonly produced: number;
  /** Queue full: page_pool_recycle_direct() instead. */
  readonly full: number;
  readonly out_of_pages: number;
  /** Pages returned by all returning CPUs; `produced − left_in_queues`. */
  readonly returned: number;
  /** Pages still in the queues at the end (empty_ptr_ring() puts them back). */
  readonly left_in_queues: number;
  /** recycle_stats over the run, summed over CPUs (what page_pool_get_stats() reports). */
  readonly ring: number;
  readonly ring_full: number;
  readonly cached: number;
  /** alloc_stats over the run: fast + slow + refill, one per page_pool_alloc_pages() that returned a page. */
  readonly allocs: number;
  /** Mean over the returning CPUs of their ns per element: the time per returned page. */
  readonly ns_per_returned_page: number;
  readonly ratio_to_02: number;
}

export interface ContendedRun {
  readonly test: "page_pool02_ptr_ring_contended";
  readonly kernel: string;
  readonly layout: string;
  readonly run: number;
  readonly cpus: number;
  readonly ref_02: RefResult;
  /** CPU 0's page_pool02_ptr_ring loop while CPUs 1…N−1 put into the pool's ring: median over rounds. */
  readonly contended_ns: number;
  /** The same loop, same pool, same worker, the other CPUs idle (interleaved rounds): median over rounds. */
  readonly uncontended_ns: number;
  readonly ratio: number;
  readonly ratio_to_02: number;
  /**
   * Measured rounds of each kind; of them, the contended rounds the other CPUs really overlapped
   * (≥ 0.25 of their puts per CPU-0 element): contended_ns, uncontended_ns and overlap are over
   * those and their uncontended twins (over all rounds when none overlapped). CPU 0's elements in
   * the contended rounds.
   */
  readonly rounds: number;
  readonly overlapped_rounds: number;
  readonly elements: number;
  /** The other CPUs' page_pool_put_page(…, false) during contended rounds, and ns per put. */
  readonly helper_puts: number;
  readonly helper_ns_per_put: number;
  /**
   * The other CPUs' puts while CPU 0's timed loop ran, per CPU-0 element (median over rounds): how
   * much the two really overlapped. Near 0 when the machine gave them one core between them.
   */
  readonly overlap: number;
  readonly ring: number;
  readonly ring_full: number;
  readonly cached: number;
}

export type SmpRun = CrossCpuRun | ContendedRun;

/** Median and range over the runs. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** Per (build, test): the runs' figures. `ns` is ns per returned page (cross_cpu) or the contended 02 ns/elem. */
export interface SmpSummary {
  readonly kernel: string;
  readonly layout: string;
  readonly test: SmpTest;
  readonly runs: number;
  readonly ns: Spread;
  readonly ref_02_ns: Spread;
  readonly ratio_to_02: Spread;
  /** contended only (null for cross_cpu): the same worker's uncontended rounds, and contended ÷ uncontended. */
  readonly uncontended_ns: Spread | null;
  readonly ratio: Spread | null;
  /** contended only: the other CPUs' puts per CPU-0 element while it ran (median over runs). */
  readonly overlap: number | null;
  /** Medians over the runs. */
  readonly ring: number;
  readonly ring_full: number;
  readonly full: number;
}

/** The `smp` member of the bench document (present when an SMP test ran). */
export interface SmpJson {
  readonly test: SmpTest;
  readonly cpus: number;
  readonly loops: number;
  readonly runs: number;
  readonly source: string;
  /** The TSC frequency of the lines' cycles, MHz, and where it came from (bench/time_bench.ts detectTsc). */
  readonly tsc_mhz: number;
  readonly tsc_source: string;
  readonly results: SmpRun[];
  readonly summary: SmpSummary[];
}

/**
 * bench_page_pool_cross_cpu's own figures (module defaults: loops 1,000,000, returning_cpus 2), as
 * posted with their source; one kernel, not per build. Joe Damato, "Re: [PATCH net-next 0/6] net:
 * page_pool: Add page_pool stat counters", netdev 2022-01-27, 2× Xeon Gold 6140 @ 2.30 GHz,
 * net-next e2cf07654efb (control kernel): CPU(0) 782.567 ns, CPU(1) 837.435 ns (returning), CPU(2)
 * 418.758 ns (the tasklet), "Sum … Average: 1558 cycles(tsc) CPUs:3 step:2"; the same boot's
 * bench_page_pool_simple tasklet_page_pool02_ptr_ring 18.585 ns.
 */
export const CROSS_CPU_ANCHOR = {
  source: "Joe Damato, netdev 2022-01-27 (Xeon Gold 6140 @ 2.30 GHz, net-next e2cf07654efb, module defaults)",
  returningNs: [782.567, 837.435],
  taskletNs: 418.758,
  averageCycles: 1558,
  ptrRing02Ns: 18.585,
} as const;
