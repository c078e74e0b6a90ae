/**
 * `ppemu bench`'s text: the method, the kernel module's own `Type:` lines (one per row: the median
 * process's median sample, with the build in its own column), the table of medians, ranges and
 * ratios with their intervals, the kernel's figures beside them, and the cost model. Also the
 * report's benchmark section, which runs the same method, quick.
 */
import { KERNEL_TYPE_NAME, type BenchJson, type BenchResult, type BenchSummary } from "../../bench/catalog.js";
import { ratioText } from "../../bench/stats.js";
import { COST_LEGEND, costTable } from "../../bench/cost_model.js";
import { timeBenchRecord, typeLine } from "../../bench/time_bench.js";
import { referenceBuild } from "../builds/index.js";
import { ALL_TESTS, BASELINE, QUICK_RUNS, QUICK_TIMING, defaultBenchBuilds, kernelNs, runBench } from "./bench.js";
import type { ReportSection } from "./section.js";
import { renderTable } from "./table.js";

const f3 = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(3));

/** The process whose figure is the row's median (the lower middle of an even count). */
export function medianProcess(results: readonly BenchResult[], s: Pick<BenchSummary, "kernel" | "test">): BenchResult | undefined {
  const rows = results.filter((r) => r.kernel === s.kernel && r.test === s.test).sort((a, b) => a.ns_per_elem - b.ns_per_elem);
  return rows[Math.floor((rows.length - 1) / 2)];
}

/** `kernel  bench_page_pool: Type:… ` lines: the module's format, the build in its own column. */
export function typeLines(json: BenchJson): string {
  const mhz = json.method?.tsc_mhz ?? 0;
  const rows = (json.summary ?? []).map((s) => {
    const p = medianProcess(json.results, s);
    return [s.kernel, p ? typeLine(timeBenchRecord(KERNEL_TYPE_NAME[s.test], p.ns_per_elem, p.batch, mhz)) : "—"];
  });
  return renderTable(["kernel", "time_bench line (median process, its median sample)"], rows);
}

/** The reference build's kernel figure for a test, for the kernel's own ratio. */
function kernelRatio(s: BenchSummary, ref: string): number | undefined {
  if (s.kernel === BASELINE || s.kernel_ns === null) return undefined;
  const k = kernelNs(ref, s.test);
  return k === undefined ? undefined : s.kernel_ns / k;
}

/** The table of medians across processes, with ratios and their intervals. */
export function summaryTable(summary: readonly BenchSummary[]): string {
  const ref = referenceBuild().name;
  const rows = summary.map((s) => {
    return [
      s.kernel,
      s.test,
      f3(s.ns_median),
      `${f3(s.ns_min)}–${f3(s.ns_max)}`,
      `${s.spread_pct.toFixed(1)}%`,
      String(s.runs),
      s.cycles.toFixed(1),
      ratioText(s.ratio_to_ref),
      f3(kernelRatio(s, ref)),
      ratioText(s.ratio_to_floor),
      f3(s.kernel_ns),
    ];
  });
  return renderTable(
    [
      "kernel",
      "test",
      { header: "ns/elem", align: "right" },
      { header: "min–max", align: "right" },
      { header: "spread", align: "right" },
      { header: "runs", align: "right" },
      { header: "cycles", align: "right" },
      { header: `÷${ref} (95% CI)`, align: "right" },
      { header: `k ÷${ref}`, align: "right" },
      { header: "÷js_floor (95% CI)", align: "right" },
      { header: "kernel ns", align: "right" },
    ],
    rows,
  );
}

export function benchLegend(json: BenchJson): string {
  const ref = referenceBuild().name;
  const m = json.method;
  return [
    `ns/elem: the median across processes of each process's median per element; min–max and spread ((max − min) ÷ median)`,
    `are across processes, each a fresh node with its own JIT${m ? ` (${m.runs} per row, round-robin: round r ran every build once)` : ""}.`,
    `÷${ref}: the median of run r ÷ ${ref}'s run r, same test, with its 95 % bootstrap interval; ≈ when the interval holds 1.0.`,
    "÷js_floor: page_pool01_fast_path ÷ the least plain JS can do for the same loop (alloc-cache pop, the recycle tests, push; no",
    "stats), paired the same way. cycles: ns/elem at the stated TSC frequency. k ÷, kernel ns: bench_page_pool_simple on an",
    "E5-1650 v4 (v6.13-rc6, tasklet): item-block +1.7 % / +5 % / +19 % over classic (01/02/03); xarray prototype ≈ classic.",
  ].join("\n");
}

/** The cost model's table and legend, when the document has one. */
export function costText(json: BenchJson): string | null {
  if (!json.cost || json.cost.length === 0) return null;
  const rows = costTable(json.cost);
  const notRun = (json.cost_not_run ?? []).map((x) => `not run: ${x}`);
  return ["cost model (per element; counted, not timed: the same on every machine):", rows, ...notRun, "", COST_LEGEND].join("\n");
}

/** The whole text. */
export function benchText(json: BenchJson): string {
  const m = json.method;
  const out = [`ppemu bench: node ${json.node}, ${json.cpu}, ${json.date}`];
  if (m) {
    out.push(
      `method: ${m.runs} processes per (build, test)${m.quick ? " (--quick)" : ""}, round-robin across builds; ${m.time_ms} ms per process (+${m.warmup_ms} ms warm-up); reference ${m.reference}`,
      `TSC: ${m.tsc_mhz} MHz (${m.tsc_source}); load average ${m.load_avg_before.join(", ")} before, ${m.load_avg_after.join(", ")} after, ${m.cores} cores`,
      ...m.warnings,
    );
  }
  out.push("", typeLines(json), "", summaryTable(json.summary ?? []), "", benchLegend(json));
  const cost = costText(json);
  if (cost !== null) out.push("", cost);
  return out.join("\n");
}

/** The report's benchmark: each layout's default build, every test, the same method quick (3 processes per row, 0.1 s each). */
export async function quickBench(opts: { inline?: boolean } = {}): Promise<{ text: string; json: BenchJson }> {
  const json = await runBench({ kernels: defaultBenchBuilds(), tests: ALL_TESTS, runs: QUICK_RUNS, ...QUICK_TIMING, quick: true, inline: opts.inline === true });
  return { text: benchText(json), json };
}

/** `quickBench()` as a report section. */
export async function benchSection(): Promise<ReportSection> {
  const { text, json } = await quickBench();
  return { id: "bench", title: "Benchmark (quick): bench_page_pool_simple per layout's default build, across processes, with ratios and the cost model", text, json };
}
