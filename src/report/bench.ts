/**
 * `ppemu bench`: runs bench/pp_suite.ts once per (build, test, run), each in its own fresh child
 * process (node --expose-gc dist/bench/pp_worker.js), so V8 sees one build and one loop per call
 * site and each figure starts from a clean JIT. Round r runs every (test, build) once, the builds
 * interleaved within each test, so drift (the other core's load, the machine's clock) hits every
 * build of a round alike. Per (build, test): the median across processes, min–max, and the ratio to
 * the reference build over paired runs with a bootstrap interval (bench/stats.ts); the kernel's
 * anchors beside them; the deterministic cost model (bench/cost_model.ts) beside the times.
 *
 * JSON (schema 4, schemas/bench.schema.json): { schema, command, node, cpu, date, method, results:
 * [every process's row], summary: [per (build, test)], cost: [cost-model rows] }.
 *
 * The SMP tests (`cross_cpu`, `page_pool02_ptr_ring_contended`: bench/cross_cpu.ts) run instead in
 * one child per (run, build) — node --expose-gc dist/bench/smp_worker.js, whose CPUs are worker
 * threads — run after run, the builds interleaved within each run; their document has `results: []`
 * and an `smp` member (SmpJson: every run's figures and per build the median and range).
 */
import { cpus, loadavg } from "node:os";
import {
  type BenchJson,
  type BenchMethod,
  type BenchResult,
  type BenchSummary,
  type BenchTest,
  type SuiteRequest,
  BASELINE,
  BASELINE_ANCHOR_NS,
  BASELINE_TESTS,
  DEFAULT_BENCH_BYTES,
  LAYOUT_TESTS,
  CROSS_CPU_SOURCE,
  CONTENDED_SOURCE,
  type SmpJson,
  type SmpRequest,
  type SmpRun,
  type SmpTest,
} from "../../bench/catalog.js";
import type { SmpReply } from "../../bench/smp_worker.js";
import { summarize as summarizeSmp } from "../../bench/smp_report.js";
import { median, ratioCi } from "../../bench/stats.js";
import { detectTsc, type Tsc } from "../../bench/time_bench.js";
import { costRun } from "../../bench/cost_model.js";
import { allLayouts, defaultBuildOf, findBuild, referenceBuild } from "../builds/index.js";
import type { WorkerReply } from "../../bench/pp_worker.js";
import { JSON_SCHEMA_VERSIONS } from "./json.js";
import { benchCpu, forkOnce, setBenchCpu } from "../../bench/fork.js";

export { workerPath, forkOnce, benchCpu } from "../../bench/fork.js";

export type { BenchJson, BenchResult, BenchTest, BenchSummary, BenchMethod } from "../../bench/catalog.js";
export { ALL_TESTS, BASELINE_TESTS, LAYOUT_TESTS, RESULT_KEYS, BASELINE, SMP_TESTS, CROSS_CPU, KERNEL_TYPE_NAME } from "../../bench/catalog.js";
export type { SmpJson, SmpRun, SmpTest, SmpSummary, CrossCpuRun, ContendedRun } from "../../bench/catalog.js";
export { smpRunLines, smpTable, smpLegend, summarize, crossCpuLine, crossCpuSumLine } from "../../bench/smp_report.js";
export { timeBenchNs } from "../../bench/time_bench.js";

/** What `bench` runs when no build is named: each layout's default build. */
export function defaultBenchBuilds(): string[] {
  return allLayouts().map((l) => defaultBuildOf(l).name);
}

/** The kernel's figure for (build, test): the build's own anchors, or the baselines'. */
export function kernelNs(kernel: string, test: BenchTest): number | undefined {
  if (kernel === BASELINE) return BASELINE_ANCHOR_NS[test];
  return findBuild(kernel)?.benchAnchorNs?.[test];
}

/** Processes per (build, test): `ppemu bench` and `--quick`. */
export const DEFAULT_RUNS = 5;
export const QUICK_RUNS = 3;

export interface BenchOptions {
  /** Kernel build names (src/builds), in the order to run them. */
  readonly kernels: readonly string[];
  readonly tests: readonly BenchTest[];
  /** Processes per (build, test). */
  readonly runs: number;
  /** tinybench time per process, ms. */
  readonly timeMs: number;
  /** Warm-up per process, ms. */
  readonly warmupMs: number;
  /** Recorded in the document's method. */
  readonly quick?: boolean;
  /** The TSC frequency for cycles, MHz (default: detectTsc()). */
  readonly tscMhz?: number;
  /** Run every request in this process instead of a child each (debugging; tests). */
  readonly inline?: boolean;
  /** The CPU to pin every child to (default the last; null: no pinning). See benchCpu. */
  readonly cpu?: number | null;
  /** Called before each request (`index` 0-based of `total`) and with each result. */
  readonly onStart?: (req: SuiteRequest, index: number, total: number) => void;
  readonly onResult?: (r: BenchResult) => void;
}

/**
 * `npm run bench`: 1 s per process after 0.5 s of warm-up. The warm-up is long because V8's final
 * code for a loop arrives late: the fast path runs its first ~300 ms in code up to twice as slow.
 */
export const FULL_TIMING = { timeMs: 1000, warmupMs: 500 } as const;
/** `--quick` and `ppemu report`: 0.2 s per process after the same warm-up. */
export const QUICK_TIMING = { timeMs: 200, warmupMs: 500 } as const;

/**
 * The child processes, in order: round after round; in each, the baselines, then per layout test
 * every build in turn (builds interleaved, test by test). js_floor runs with page_pool01_fast_path.
 */
export function planRuns(o: Pick<BenchOptions, "kernels" | "tests" | "runs" | "timeMs" | "warmupMs">): SuiteRequest[] {
  const base = { timeMs: o.timeMs, warmupMs: o.warmupMs, bytes: DEFAULT_BENCH_BYTES };
  const want = new Set(o.tests);
  // Every run that times the fast path shows its distance from the floor.
  if (want.has("page_pool01_fast_path")) want.add("js_floor");
  const out: SuiteRequest[] = [];
  for (let run = 1; run <= o.runs; run++) {
    for (const test of BASELINE_TESTS) if (want.has(test)) out.push({ ...base, kernel: BASELINE, test, run });
    for (const test of LAYOUT_TESTS) {
      if (!want.has(test)) continue;
      for (const kernel of o.kernels) out.push({ ...base, kernel, test, run });
    }
  }
  return out;
}

async function runChild(req: SuiteRequest): Promise<BenchResult> {
  const r = await forkOnce<SuiteRequest, WorkerReply>("pp_worker.js", req);
  if (r.ok) return r.result;
  throw new Error(r.error);
}

async function runInline(req: SuiteRequest): Promise<BenchResult> {
  const { runSuite } = await import("../../bench/pp_suite.js");
  return runSuite(req);
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** The load-average warning, or null: the figures then share the cores with other work. */
export function loadWarning(avg: readonly number[], cores: number, when: string): string | null {
  const one = avg[0] ?? 0;
  return one > cores ? `warning: load average ${one.toFixed(2)} ${when} exceeds the ${cores} cores: these figures share the machine with other work` : null;
}

/** Per (build, test), in display order (baselines, then per layout test every build). */
export function summarizeBench(results: readonly BenchResult[], tscMhz: number, reference = referenceBuild().name): BenchSummary[] {
  const keys: string[] = [];
  const by = new Map<string, BenchResult[]>();
  for (const r of results) {
    const k = `${r.kernel}\0${r.test}`;
    if (!by.has(k)) {
      by.set(k, []);
      keys.push(k);
    }
    by.get(k)!.push(r);
  }
  const order = (k: string): number => {
    const [kernel, test] = k.split("\0") as [string, BenchTest];
    const ti = [...BASELINE_TESTS, ...LAYOUT_TESTS].indexOf(test as never);
    return kernel === BASELINE ? ti : 100 + ti;
  };
  keys.sort((a, b) => order(a) - order(b) || keys.indexOf(a) - keys.indexOf(b));
  const paired = (rows: readonly BenchResult[], other: readonly BenchResult[] | undefined): number[] => {
    if (!other) return [];
    const out: number[] = [];
    for (const r of rows) {
      const o = other.find((x) => x.run === r.run);
      if (o) out.push(r.ns_per_elem / o.ns_per_elem);
    }
    return out;
  };
  return keys.map((k) => {
    const rows = by.get(k)!;
    const { kernel, layout, test } = rows[0]!;
    const ns = rows.map((r) => r.ns_per_elem);
    const med = median(ns);
    const min = Math.min(...ns);
    const max = Math.max(...ns);
    const ref = kernel === BASELINE || kernel === reference ? undefined : by.get(`${reference}\0${test}`);
    const toRef = paired(rows, ref);
    const floor = test === "page_pool01_fast_path" ? by.get(`${BASELINE}\0js_floor`) : undefined;
    const toFloor = paired(rows, floor);
    return {
      kernel,
      layout,
      test,
      runs: rows.length,
      ns_median: med,
      ns_min: min,
      ns_max: max,
      spread_pct: round2(((max - min) / med) * 100),
      cycles: round2((med * tscMhz) / 1000),
      ratio_to_ref: toRef.length > 0 ? ratioCi(toRef) : null,
      ratio_to_floor: toFloor.length > 0 ? ratioCi(toFloor) : null,
      kernel_ns: kernelNs(kernel, test) ?? null,
    };
  });
}

/** The document's `cost` and `cost_not_run` members from a cost-model run (none without one). */
function costFields(cost: ReturnType<typeof costRun> | null): Pick<BenchJson, "cost" | "cost_not_run"> {
  if (cost === null) return {};
  return { cost: cost.rows, ...(cost.skipped.length > 0 ? { cost_not_run: cost.skipped.map((x) => `${x.kernel} ${x.test}: ${x.reason}`) } : {}) };
}

/** Run the plan, sequentially (two benchmarks at once would share cores); the document. */
export async function runBench(o: BenchOptions): Promise<BenchJson> {
  const plan = planRuns(o);
  const cores = cpus().length;
  const before = loadavg();
  const tsc = detectTsc(o.tscMhz);
  const results: BenchResult[] = [];
  const pinned = o.inline ? null : benchCpu(o.cpu);
  setBenchCpu(pinned);
  try {
    for (const [i, req] of plan.entries()) {
      o.onStart?.(req, i, plan.length);
      const r = o.inline ? await runInline(req) : await runChild(req);
      results.push(r);
      o.onResult?.(r);
    }
  } finally {
    setBenchCpu(null);
  }
  const after = loadavg();
  // The cost model of what ran: the same code on counting views, here in the parent, after the timing.
  const layoutTests = LAYOUT_TESTS.filter((t) => o.tests.includes(t));
  const cost = layoutTests.length > 0 && o.kernels.length > 0 ? costRun(o.kernels, layoutTests) : null;
  const warnings = [loadWarning(before, cores, "before the run"), loadWarning(after, cores, "after the run")].filter((w): w is string => w !== null);
  const method: BenchMethod = {
    runs: o.runs,
    quick: o.quick === true,
    time_ms: o.timeMs,
    warmup_ms: o.warmupMs,
    order: "round-robin",
    reference: referenceBuild().name,
    load_avg_before: before.map(round2),
    load_avg_after: after.map(round2),
    cores,
    pinned_cpu: pinned,
    tsc_mhz: tsc.mhz,
    tsc_source: tsc.source,
    warnings,
  };
  return {
    schema: JSON_SCHEMA_VERSIONS.bench,
    command: "bench",
    node: process.version,
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    date: new Date().toISOString(),
    method,
    results,
    summary: summarizeBench(results, tsc.mhz),
    ...costFields(cost),
  };
}

// ─── SMP tests ─────────────────────────────────────────────────────────────────────────────────

export interface SmpOptions {
  readonly kernels: readonly string[];
  readonly test: SmpTest;
  /** CPUs of the machine (CPU 0 allocates; 1…cpus−1 return). */
  readonly cpus: number;
  /** cross_cpu: pages per returning CPU. */
  readonly loops: number;
  /** Runs per build, each in its own process. */
  readonly runs: number;
  readonly timeMs: number;
  readonly warmupMs: number;
  /** The TSC for the lines' cycles (default: detectTsc()). */
  readonly tsc?: Tsc;
  /** Run every request in this process (the CPUs are still worker threads). */
  readonly inline?: boolean;
  /** Called before each request (`index` 0-based of `total`) and with each result. */
  readonly onStart?: (req: SmpRequest, index: number, total: number) => void;
  readonly onRun?: (r: SmpRun) => void;
}

/** Run after run; within a run, every build in order: builds interleaved, each (run, build) its own process. */
export function planSmpRuns(o: Pick<SmpOptions, "kernels" | "test" | "cpus" | "loops" | "runs" | "timeMs" | "warmupMs">): SmpRequest[] {
  const out: SmpRequest[] = [];
  for (let run = 1; run <= o.runs; run++) {
    for (const kernel of o.kernels) out.push({ kernel, test: o.test, cpus: o.cpus, loops: o.loops, timeMs: o.timeMs, warmupMs: o.warmupMs, run });
  }
  return out;
}

async function runSmpChild(req: SmpRequest): Promise<SmpRun> {
  const r = await forkOnce<SmpRequest, SmpReply>("smp_worker.js", req);
  if (r.ok) return r.result;
  throw new Error(r.error);
}

/** The plan, sequentially (two benchmarks at once would share cores); the bench document with `smp`. */
export async function runSmpBench(o: SmpOptions): Promise<BenchJson> {
  const plan = planSmpRuns(o);
  const results: SmpRun[] = [];
  for (const [i, req] of plan.entries()) {
    o.onStart?.(req, i, plan.length);
    const r = o.inline ? await (await import("../../bench/cross_cpu.js")).runSmp(req) : await runSmpChild(req);
    results.push(r);
    o.onRun?.(r);
  }
  const tsc = o.tsc ?? detectTsc();
  const smp: SmpJson = { test: o.test, cpus: o.cpus, loops: o.test === "cross_cpu" ? o.loops : 0, runs: o.runs, source: o.test === "cross_cpu" ? CROSS_CPU_SOURCE : CONTENDED_SOURCE, tsc_mhz: tsc.mhz, tsc_source: tsc.source, results, summary: summarizeSmp(results) };
  // The cost model of the put the returning CPUs make (page_pool_put_page(…, false) into the ring,
  // with its alloc): page_pool02_ptr_ring's, counted uncontended in the parent after the timing.
  const cost = o.kernels.length > 0 ? costRun(o.kernels, ["page_pool02_ptr_ring"]) : null;
  return {
    schema: JSON_SCHEMA_VERSIONS.bench,
    command: "bench",
    node: process.version,
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    date: new Date().toISOString(),
    results: [],
    smp,
    ...costFields(cost),
  };
}

// ─── the report's benchmark ────────────────────────────────────────────────────────────────────

export { benchText, benchSection, quickBench, costText } from "./bench_text.js";
