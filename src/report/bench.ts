/**
 * `ppemu bench`: runs bench/pp_suite.ts once per kernel build in its own child process (node
 * --expose-gc dist/bench/pp_worker.js), so V8 sees one build per call site and each process starts
 * clean; then prints time_bench-style lines and a table of ratios to the reference build (the first
 * layout's default) next to the kernel's anchors (each build's `benchAnchorNs`).
 *
 * Processes, in order: baselines; per build the five page_pool tests; per build and memory size the
 * fast path alone (64 MiB, 1 GiB). Each runs sequentially: two benchmarks at once would share cores.
 *
 * JSON (schema 3): { schema: 3, command: "bench", node, cpu, date,
 *                    results: [{ kernel, layout, test, ns_per_elem, ops_per_sec, rme_pct, samples, heap_delta_bytes }] }
 * kernel and layout are "baseline" for for_loop, atomic_inc and lock.
 *
 * The SMP tests (`cross_cpu`, `page_pool02_ptr_ring_contended`: bench/cross_cpu.ts) run instead in
 * one child per (run, build) — node --expose-gc dist/bench/smp_worker.js, whose CPUs are worker
 * threads — run after run, the builds interleaved within each run; their document has `results: []`
 * and an `smp` member (SmpJson: every run's figures and per build the median and range).
 */
import { fork } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type BenchJson,
  type BenchResult,
  type BenchTest,
  type SuiteRequest,
  BASELINE,
  BASELINE_ANCHOR_NS,
  BASELINE_TESTS,
  DEFAULT_BENCH_BYTES,
  LAYOUT_TESTS,
  SCALE_TESTS,
  CROSS_CPU_SOURCE,
  CONTENDED_SOURCE,
  type SmpJson,
  type SmpRequest,
  type SmpRun,
  type SmpTest,
} from "../../bench/catalog.js";
import type { SmpReply } from "../../bench/smp_worker.js";
import { summarize } from "../../bench/smp_report.js";
import { allLayouts, defaultBuildOf, findBuild, referenceBuild } from "../builds/index.js";
import type { WorkerReply } from "../../bench/pp_worker.js";
import type { ReportSection } from "./section.js";
import { renderTable } from "./table.js";
import { JSON_SCHEMA_VERSIONS } from "./json.js";

export type { BenchJson, BenchResult, BenchTest } from "../../bench/catalog.js";
export { ALL_TESTS, BASELINE_TESTS, LAYOUT_TESTS, SCALE_TESTS, RESULT_KEYS, BASELINE, SMP_TESTS, CROSS_CPU } from "../../bench/catalog.js";
export type { SmpJson, SmpRun, SmpTest, SmpSummary, CrossCpuRun, ContendedRun } from "../../bench/catalog.js";
export { smpRunLines, smpTable, smpLegend, summarize, timeBenchNs, crossCpuLine } from "../../bench/smp_report.js";

/** What `bench` runs when no build is named: each layout's default build. */
export function defaultBenchBuilds(): string[] {
  return allLayouts().map((l) => defaultBuildOf(l).name);
}

/** The kernel's figure for (build, test): the build's own anchors, or the baselines'. */
export function kernelNs(kernel: string, test: BenchTest): number | undefined {
  if (kernel === BASELINE) return BASELINE_ANCHOR_NS[test];
  return findBuild(kernel)?.benchAnchorNs?.[test];
}

export interface BenchOptions {
  /** Kernel build names (src/builds), in the order to run them. */
  readonly kernels: readonly string[];
  readonly tests: readonly BenchTest[];
  /** tinybench time per test, ms. */
  readonly timeMs: number;
  /** Warm-up per test, ms. */
  readonly warmupMs: number;
  /** Run every suite in this process instead of a child per layout (debugging; tests). */
  readonly inline?: boolean;
  /** Called as each result arrives (the CLI prints its line then). */
  readonly onResult?: (r: BenchResult) => void;
}

/** `npm run bench`: about 35–55 s for everything. */
export const FULL_TIMING = { timeMs: 1000, warmupMs: 250 } as const;
/** `--quick` and `ppemu report`: about 6–7 s. */
export const QUICK_TIMING = { timeMs: 100, warmupMs: 50 } as const;

/** The child processes to run, in order: baselines, per layout its tests, then the scale runs. */
export function planRuns(o: Pick<BenchOptions, "kernels" | "tests" | "timeMs" | "warmupMs">): SuiteRequest[] {
  const base = { timeMs: o.timeMs, warmupMs: o.warmupMs, bytes: DEFAULT_BENCH_BYTES };
  const want = new Set(o.tests);
  const out: SuiteRequest[] = [];
  const baselines = BASELINE_TESTS.filter((t) => want.has(t));
  if (baselines.length > 0) out.push({ ...base, kernel: BASELINE, tests: baselines });
  for (const kernel of o.kernels) {
    const tests = LAYOUT_TESTS.filter((t) => want.has(t));
    if (tests.length > 0) out.push({ ...base, kernel, tests });
  }
  for (const t of SCALE_TESTS) {
    if (!want.has(t)) continue;
    for (const kernel of o.kernels) out.push({ ...base, kernel, tests: [t] });
  }
  return out;
}

/** dist/bench/pp_worker.js (or another child entry), from the build (dist/src/report) or from the sources (src/report). */
export function workerPath(file = "pp_worker.js"): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const built = join(here, "..", "..", "bench", file);
  if (import.meta.url.endsWith(".js")) return built;
  return join(here, "..", "..", "dist", "bench", file);
}

/** Fork a child entry, send it one request, resolve with its one reply. */
function forkOnce<Req extends { kernel: string }, Reply extends { ok: boolean }>(file: string, req: Req): Promise<Reply> {
  const path = workerPath(file);
  if (!existsSync(path)) return Promise.reject(new Error(`ppemu bench: ${path} not found; run \`npm run build\` first`));
  return new Promise((resolve, reject) => {
    const child = fork(path, [], { execArgv: ["--expose-gc"], stdio: ["ignore", "ignore", "pipe", "ipc"] });
    let stderr = "";
    let reply: Reply | null = null;
    child.stderr!.on("data", (b: Buffer) => void (stderr += b.toString()));
    child.on("message", (m: Reply) => void (reply = m));
    child.on("error", reject);
    child.on("exit", (code) => {
      const r = reply as Reply | null;
      if (r) resolve(r);
      else reject(new Error(`ppemu bench: ${req.kernel} child exited with ${code}: ${stderr.trim()}`));
    });
    child.send(req);
  });
}

async function runChild(req: SuiteRequest): Promise<BenchResult[]> {
  const r = await forkOnce<SuiteRequest, WorkerReply>("pp_worker.js", req);
  if (r.ok) return r.results;
  throw new Error(r.error);
}

async function runInline(req: SuiteRequest): Promise<BenchResult[]> {
  const { runSuite } = await import("../../bench/pp_suite.js");
  return runSuite(req);
}

/** Run the plan; results in plan order. */
export async function runBench(o: BenchOptions): Promise<BenchJson> {
  const results: BenchResult[] = [];
  for (const req of planRuns(o)) {
    const rs = o.inline ? await runInline(req) : await runChild(req);
    for (const r of rs) {
      results.push(r);
      o.onResult?.(r);
    }
  }
  return { schema: JSON_SCHEMA_VERSIONS.bench, command: "bench", node: process.version, cpu: cpus()[0]?.model.trim() ?? "unknown", date: new Date().toISOString(), results };
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
  const smp: SmpJson = { test: o.test, cpus: o.cpus, loops: o.test === "cross_cpu" ? o.loops : 0, runs: o.runs, source: o.test === "cross_cpu" ? CROSS_CPU_SOURCE : CONTENDED_SOURCE, results, summary: summarize(results) };
  return { schema: JSON_SCHEMA_VERSIONS.bench, command: "bench", node: process.version, cpu: cpus()[0]?.model.trim() ?? "unknown", date: new Date().toISOString(), results: [], smp };
}

// ─── text ──────────────────────────────────────────────────────────────────────────────────────

function opsText(ops: number): string {
  return Math.round(ops).toLocaleString("en-US");
}

/** `Type:<kernel>:<test> Per elem: <N.nnn> ns (<ops/s>) ±<rme>%`, as time_bench prints it (no cycles). */
export function benchLine(r: BenchResult): string {
  return `Type:${r.kernel}:${r.test} Per elem: ${r.ns_per_elem.toFixed(3)} ns (${opsText(r.ops_per_sec)} ops/s) ±${r.rme_pct.toFixed(2)}%`;
}

function find(results: readonly BenchResult[], kernel: string, test: BenchTest): BenchResult | undefined {
  return results.find((r) => r.kernel === kernel && r.test === test);
}

const x = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(3));

/** The ratios for one result: to the reference build (same test) and to the same build's page_pool01_fast_path. */
export interface BenchRatios {
  readonly vsRef?: number;
  readonly kernelVsRef?: number;
  readonly vsFast?: number;
  readonly kernelVsFast?: number;
  readonly kernelNs?: number;
}

export function ratiosOf(results: readonly BenchResult[], r: BenchResult): BenchRatios {
  const out: { -readonly [K in keyof BenchRatios]: BenchRatios[K] } = {};
  const k = kernelNs(r.kernel, r.test);
  if (k !== undefined) out.kernelNs = k;
  if (r.kernel === BASELINE) return out;
  const ref = referenceBuild().name;
  const c = find(results, ref, r.test);
  if (c) out.vsRef = r.ns_per_elem / c.ns_per_elem;
  const kc = kernelNs(ref, r.test);
  if (k !== undefined && kc !== undefined) out.kernelVsRef = k / kc;
  const f = find(results, r.kernel, "page_pool01_fast_path");
  if (f) out.vsFast = r.ns_per_elem / f.ns_per_elem;
  const kf = kernelNs(r.kernel, "page_pool01_fast_path");
  if (k !== undefined && kf !== undefined) out.kernelVsFast = k / kf;
  return out;
}

/** Table of every result with its ratios, the kernel's beside them; then the 1 GiB / 64 MiB ratio. */
export function ratioTable(results: readonly BenchResult[]): string {
  const rows = results.map((r) => {
    const q = ratiosOf(results, r);
    return [
      r.kernel,
      r.test,
      r.ns_per_elem.toFixed(3),
      `±${r.rme_pct.toFixed(2)}%`,
      x(q.vsRef),
      x(q.kernelVsRef),
      x(q.vsFast),
      x(q.kernelVsFast),
      q.kernelNs === undefined ? "—" : q.kernelNs.toFixed(3),
      r.heap_delta_bytes,
    ];
  });
  const ref = referenceBuild().name;
  const table = renderTable(
    [
      "kernel",
      "test",
      { header: "ns/elem", align: "right" },
      { header: "rme", align: "right" },
      { header: `÷${ref}`, align: "right" },
      { header: `k ÷${ref}`, align: "right" },
      { header: "÷01 fast", align: "right" },
      { header: "k ÷01", align: "right" },
      { header: "kernel ns", align: "right" },
      { header: "heap Δ B", align: "right" },
    ],
    rows,
  );
  const notes: string[] = [];
  for (const kernel of [...new Set(results.map((r) => r.kernel))]) {
    const a = find(results, kernel, "page_pool01_fast_path_64M");
    const b = find(results, kernel, "page_pool01_fast_path_1G");
    if (a && b) notes.push(`scale ${kernel}: fast path 1 GiB ÷ 64 MiB = ${(b.ns_per_elem / a.ns_per_elem).toFixed(3)}`);
  }
  return [table, ...notes].join("\n");
}

export function benchLegend(): string {
  const ref = referenceBuild().name;
  return [
  `÷${ref}: ns/elem over the reference build's (${ref}) for the same test; ÷01 fast: over the same build's page_pool01_fast_path.`,
  `k ÷${ref}, k ÷01: the same ratios from the kernel's bench_page_pool_simple on an E5-1650 v4 (v6.13-rc6, tasklet;`,
  "kernel ns: its ns/elem, where the build has anchors): ptr_ring/fast ≈ 2.8, slow/fast ≈ 12.2; item-block",
  "+1.7 % / +5 % / +19 % over classic (01/02/03); xarray prototype ≈ classic.",
  "ns/elem: median per element; rme: its 95 % confidence half-width. heap Δ: heapUsed after minus before a loop",
  "of the test, gc() before each reading.",
  ].join("\n");
}

/** The whole text: one line per result, then the ratio table and its legend. */
export function benchText(json: BenchJson): string {
  return [
    `ppemu bench: node ${json.node}, ${json.cpu}, ${json.date}`,
    ...json.results.map(benchLine),
    "",
    ratioTable(json.results),
    "",
    benchLegend(),
  ].join("\n");
}

// ─── the report's benchmark ────────────────────────────────────────────────────────────────────

/** The quick bench (each layout's default build, every test, QUICK_TIMING), as text + JSON, for `ppemu report`. */
export async function quickBench(opts: { inline?: boolean } = {}): Promise<{ text: string; json: BenchJson }> {
  const json = await runBench({
    kernels: defaultBenchBuilds(),
    tests: [...BASELINE_TESTS, ...LAYOUT_TESTS, ...SCALE_TESTS],
    ...QUICK_TIMING,
    inline: opts.inline === true,
  });
  return { text: benchText(json), json };
}

/** `quickBench()` as a report section. */
export async function benchSection(): Promise<ReportSection> {
  const { text, json } = await quickBench();
  return { id: "bench", title: "Benchmark (quick): bench_page_pool_simple per layout's default build, with ratios", text, json };
}
