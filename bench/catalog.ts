/**
 * What `ppemu bench` measures, shared by the parent (src/report/bench.ts) and the child process that
 * runs one kernel build (bench/pp_worker.ts): test names, the one JSON result schema, and the
 * baselines' kernel anchor figures (each build carries its own anchors: `KernelBuild.benchAnchorNs`).
 * No dependencies: the child imports it before it has booted anything.
 */

/** The "build" of the loops that touch no pool. */
export const BASELINE = "baseline";

/** time_bench's baselines: an empty loop, an atomic increment, a spin lock + unlock. */
export const BASELINE_TESTS = ["for_loop", "atomic_inc", "lock"] as const;

/**
 * Per layout, in one child process per layout. 01/02/03 mirror the kernel module on a no-DMA pool of
 * pool_size 1024 pre-filled with 64 pages in the ring; via_page and 04 are what it never measured.
 */
export const LAYOUT_TESTS = [
  "page_pool01_fast_path",
  "page_pool01_via_page",
  "page_pool02_ptr_ring",
  "page_pool03_slow",
  "page_pool04_dma_slow",
] as const;

/** page_pool01_fast_path on a 64 MiB and on a 1 GiB machine, each alone in a fresh child process. */
export const SCALE_TESTS = ["page_pool01_fast_path_64M", "page_pool01_fast_path_1G"] as const;
export const SCALE_BYTES: Readonly<Record<(typeof SCALE_TESTS)[number], number>> = {
  page_pool01_fast_path_64M: 64 << 20,
  page_pool01_fast_path_1G: 1 << 30,
};

export type BaselineTest = (typeof BASELINE_TESTS)[number];
export type LayoutTest = (typeof LAYOUT_TESTS)[number];
export type ScaleTest = (typeof SCALE_TESTS)[number];
export type BenchTest = BaselineTest | LayoutTest | ScaleTest;
export const ALL_TESTS: readonly BenchTest[] = [...BASELINE_TESTS, ...LAYOUT_TESTS, ...SCALE_TESTS];

/** Simulated memory of the layout children (the machine's default). */
export const DEFAULT_BENCH_BYTES = 64 << 20;

/** What the parent asks one child to run. */
export interface SuiteRequest {
  /** A kernel build's name (src/builds), or BASELINE. */
  readonly kernel: string;
  readonly tests: readonly BenchTest[];
  /** tinybench time budget per test, ms. */
  readonly timeMs: number;
  /** Warm-up before sampling, ms. */
  readonly warmupMs: number;
  /** Simulated memory, bytes. */
  readonly bytes: number;
}

/** One result row of the JSON schema (since schema 2: `kernel` added, `layout` is the build's layout; schema 3 adds the document's `command`). */
export interface BenchResult {
  /** The kernel build, or "baseline". */
  readonly kernel: string;
  /** The build's tracking layout, or "baseline". */
  readonly layout: string;
  readonly test: BenchTest;
  /** Median over tinybench samples of (sample time / batch). */
  readonly ns_per_elem: number;
  readonly ops_per_sec: number;
  /** Half-width of the 95 % confidence interval of that median, relative, in percent. */
  readonly rme_pct: number;
  /** tinybench samples; each sample times `batch` elements. */
  readonly samples: number;
  /** process.memoryUsage().heapUsed after minus before a loop of the test, gc() before each reading. */
  readonly heap_delta_bytes: number;
}

/** The `--json` document. */
export interface BenchJson {
  readonly schema: 3;
  readonly command: "bench";
  readonly node: string;
  readonly cpu: string;
  readonly date: string;
  readonly results: BenchResult[];
}

export const RESULT_KEYS = ["kernel", "layout", "test", "ns_per_elem", "ops_per_sec", "rme_pct", "samples", "heap_delta_bytes"] as const;

/** bench_page_pool_simple's baselines on an Intel E5-1650 v4 @ 3.6 GHz (v6.13-rc6), ns per element. */
export const BASELINE_ANCHOR_NS: Readonly<Partial<Record<BenchTest, number>>> = { for_loop: 0.284, atomic_inc: 4.769, lock: 10.431 };

