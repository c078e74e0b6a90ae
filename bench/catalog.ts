/**
 * What `ppemu bench` measures, shared by the parent (src/report/bench.ts) and the child process that
 * runs one layout (bench/pp_worker.ts): test names, the one JSON result schema, and the kernel's anchor
 * figures from bench_page_pool_simple (KERNEL-FACTS.md §5). No dependencies: the child imports it
 * before it has booted anything.
 */

/** The layouts a bench child can run, plus "baseline" for the loops that touch no pool. */
export type BenchLayout = "baseline" | "classic" | "item-block" | "xarray";
export const POOL_LAYOUTS = ["classic", "item-block", "xarray"] as const;

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
  readonly layout: BenchLayout;
  readonly tests: readonly BenchTest[];
  /** tinybench time budget per test, ms. */
  readonly timeMs: number;
  /** Warm-up before sampling, ms. */
  readonly warmupMs: number;
  /** Simulated memory, bytes. */
  readonly bytes: number;
}

/** One result row of the JSON schema (schema 1). */
export interface BenchResult {
  readonly layout: BenchLayout;
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
  readonly schema: 1;
  readonly node: string;
  readonly cpu: string;
  readonly date: string;
  readonly results: BenchResult[];
}

export const RESULT_KEYS = ["layout", "test", "ns_per_elem", "ops_per_sec", "rme_pct", "samples", "heap_delta_bytes"] as const;

/**
 * Kernel figures (ns per element), Intel E5-1650 v4 @ 3.6 GHz, tasklet context, v6.13-rc6:
 * classic from the before-runs, item-block from v7 patches 1-5, xarray from Toke's prototype.
 */
export const KERNEL_ANCHOR_NS: Readonly<Partial<Record<BenchLayout, Partial<Record<BenchTest, number>>>>> = {
  baseline: { for_loop: 0.284, atomic_inc: 4.769, lock: 10.431 },
  classic: { page_pool01_fast_path: 5.399, page_pool02_ptr_ring: 15.09, page_pool03_slow: 66.134 },
  "item-block": { page_pool01_fast_path: 5.492, page_pool02_ptr_ring: 15.849, page_pool03_slow: 78.909 },
  xarray: { page_pool01_fast_path: 5.505, page_pool02_ptr_ring: 15.018, page_pool03_slow: 66.498 },
};

/** The kernel anchor for (layout, test), or undefined. */
export function kernelNs(layout: BenchLayout, test: BenchTest): number | undefined {
  return KERNEL_ANCHOR_NS[layout]?.[test];
}
