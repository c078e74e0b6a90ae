/**
 * Text and summaries of the SMP benchmarks (`ppemu bench --test cross_cpu |
 * page_pool02_ptr_ring_contended`): per run the lines time_bench_print_stats_cpumask() prints
 * (netoptimizer/prototype-kernel kernel/lib/time_bench.c @ed04e9380d4ead0bef5106ed20faddea67eab201)
 * and the module's own pr_info lines; then per build the median and range over the runs.
 *
 * The Type: and Sum lines are the module's own (prefix `time_bench: `, the out-of-tree helper
 * module), cycles at the stated TSC frequency as in the single-CPU bench (bench/time_bench.ts), the
 * build in a column of its own; the module's other lines keep the build as a prefix.
 */
import { renderTable } from "../src/report/table.js";
import { seconds, timeBenchNs, timeBenchRecord } from "./time_bench.js";
import { spreadOf } from "./stats.js";
import { CROSS_CPU_ANCHOR, type ContendedRun, type CrossCpuRun, type SmpRun, type SmpSummary, type SmpTest, type Spread } from "./catalog.js";

const TYPE = "page_pool_cross_cpu";

/** The out-of-tree time_bench module's pr_fmt. */
export const CROSS_CPU_PREFIX = "time_bench: ";

/** One CPU's line of time_bench_print_stats_cpumask(), at `mhz`; the build in a column before it. */
export function crossCpuLine(kernel: string, step: number, c: CrossCpuRun["per_cpu"][number], mhz: number): string {
  const r = timeBenchRecord(TYPE, c.time_interval_ns / Math.max(1, c.invoke_count), c.invoke_count, mhz);
  return (
    `${kernelColumn(kernel)}${CROSS_CPU_PREFIX}Type:${TYPE} CPU(${c.cpu}) ${r.cycles} cycles(tsc) ${timeBenchNs(c.time_interval_ns, c.invoke_count)} ns (step:${step})` +
    ` - (measurement period time:${seconds(c.time_interval_ns)} sec time_interval:${c.time_interval_ns}) - (invoke count:${c.invoke_count} tsc_interval:${r.tscInterval})`
  );
}

/** `Sum Type:… Average: <cycles> cycles(tsc) CPUs:<n> step:<s>`: the CPUs' integer cycles averaged, as the module does. */
export function crossCpuSumLine(kernel: string, step: number, perCpu: CrossCpuRun["per_cpu"], mhz: number): string {
  const cycles = perCpu.map((c) => timeBenchRecord(TYPE, c.time_interval_ns / Math.max(1, c.invoke_count), c.invoke_count, mhz).cycles);
  const avg = cycles.length > 0 ? Math.floor(cycles.reduce((a, x) => a + x, 0) / cycles.length) : 0;
  return `${kernelColumn(kernel)}${CROSS_CPU_PREFIX}Sum Type:${TYPE} Average: ${avg} cycles(tsc) CPUs:${perCpu.length} step:${step}`;
}

/** Width of the build column before the module's lines. */
const KERNEL_COLUMN = 10;
/** The build padded to the column, and at least one space after a longer name (v7-encoded-next). */
const kernelColumn = (kernel: string): string => `${kernel} `.padEnd(KERNEL_COLUMN);

/** The run's lines: the module's pr_info lines, then one line per CPU and the Sum line. */
export function crossCpuLines(r: CrossCpuRun, mhz: number): string[] {
  const step = r.cpus - 1;
  const out: string[] = [];
  const rx = r.per_cpu[0]!;
  out.push(`${r.kernel}: run ${r.run}: single-CPU page_pool02_ptr_ring in this process: ${r.ref_02.ns_per_elem.toFixed(3)} ns ±${r.ref_02.rme_pct.toFixed(2)}%`);
  for (const c of r.per_cpu.slice(1)) {
    out.push(`${r.kernel}: time_pp_put_page_recycle(cpu:${c.cpu}): recycled:${c.invoke_count} pages, empty:${c.empty} times${c.aborted ? " (abort on retries)" : ""}`);
  }
  out.push(
    rx.aborted
      ? `${r.kernel}: pp_tasklet_simulate_rx_napi(${rx.cpu}): FAIL (cnt:${r.produced}), queue full(${r.full}) too many times`
      : `${r.kernel}: pp_tasklet_simulate_rx_napi(cpu:${rx.cpu}): done (cnt:${r.produced}) queue full(${r.full})`,
  );
  for (const c of r.per_cpu) out.push(crossCpuLine(r.kernel, step, c, mhz));
  out.push(crossCpuSumLine(r.kernel, step, r.per_cpu, mhz));
  return out;
}

/** The contended run's lines, time_bench-style. */
export function contendedLines(r: ContendedRun): string[] {
  const n = r.overlapped_rounds > 0 ? r.overlapped_rounds : r.rounds;
  return [
    `Type:${r.kernel}:page_pool02_ptr_ring Per elem: ${r.ref_02.ns_per_elem.toFixed(3)} ns ±${r.ref_02.rme_pct.toFixed(2)}% (run ${r.run}; single CPU, tinybench, this process)`,
    `Type:${r.kernel}:page_pool02_ptr_ring_uncontended Per elem: ${r.uncontended_ns.toFixed(3)} ns (run ${r.run}; CPU 0, median of ${n} rounds, ${r.cpus > 2 ? `CPUs 1-${r.cpus - 1}` : "CPU 1"} idle)`,
    `Type:${r.kernel}:page_pool02_ptr_ring_contended Per elem: ${r.contended_ns.toFixed(3)} ns (run ${r.run}; CPU 0, median of ${n} rounds, ${r.cpus - 1} CPU${r.cpus > 2 ? "s" : ""} putting ${r.overlap.toFixed(2)} pages per element meanwhile, ${r.helper_ns_per_put.toFixed(3)} ns per put)`,
    ...(r.overlapped_rounds === 0 ? [`${r.kernel}: run ${r.run}: no contended round overlapped (the CPUs' threads took turns on the machine's cores): the contended figure is not contended`] : []),
  ];
}

export function smpRunLines(r: SmpRun, mhz: number): string[] {
  return r.test === "cross_cpu" ? crossCpuLines(r, mhz) : contendedLines(r);
}


/** Per build (in the order the builds first ran), the runs' median and range. */
export function summarize(results: readonly SmpRun[]): SmpSummary[] {
  const kernels = [...new Set(results.map((r) => r.kernel))];
  return kernels.map((kernel) => {
    const rs = results.filter((r) => r.kernel === kernel);
    const first = rs[0]!;
    const cross = rs.filter((r): r is CrossCpuRun => r.test === "cross_cpu");
    const cont = rs.filter((r): r is ContendedRun => r.test === "page_pool02_ptr_ring_contended");
    const ns = first.test === "cross_cpu" ? cross.map((r) => r.ns_per_returned_page) : cont.map((r) => r.contended_ns);
    return {
      kernel,
      layout: first.layout,
      test: first.test,
      runs: rs.length,
      ns: spreadOf(ns),
      ref_02_ns: spreadOf(rs.map((r) => r.ref_02.ns_per_elem)),
      ratio_to_02: spreadOf(rs.map((r) => r.ratio_to_02)),
      uncontended_ns: cont.length > 0 ? spreadOf(cont.map((r) => r.uncontended_ns)) : null,
      ratio: cont.length > 0 ? spreadOf(cont.map((r) => r.ratio)) : null,
      overlap: cont.length > 0 ? spreadOf(cont.map((r) => r.overlap)).median : null,
      ring: spreadOf(rs.map((r) => r.ring)).median,
      ring_full: spreadOf(rs.map((r) => r.ring_full)).median,
      full: spreadOf(cross.map((r) => r.full)).median || 0,
    };
  });
}

const f3 = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : "—");
const f2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : "—");
const range = (s: Spread, f: (v: number) => string): string => `${f(s.min)}–${f(s.max)}`;

/** The per-build table (columns as in the README). */
export function smpTable(summary: readonly SmpSummary[]): string {
  if (summary.length > 0 && summary[0]!.test === "page_pool02_ptr_ring_contended") {
    return renderTable(
      ["kernel", "runs", { header: "contended ns", align: "right" }, { header: "range", align: "right" }, { header: "uncontended ns", align: "right" }, { header: "÷uncont.", align: "right" }, { header: "÷ range", align: "right" }, { header: "02 ns", align: "right" }, { header: "÷02", align: "right" }, { header: "puts/elem", align: "right" }, { header: "ring", align: "right" }, { header: "ring_full", align: "right" }],
      summary.map((s) => [s.kernel, s.runs, f3(s.ns.median), range(s.ns, f3), f3(s.uncontended_ns!.median), f2(s.ratio!.median), range(s.ratio!, f2), f3(s.ref_02_ns.median), f2(s.ratio_to_02.median), f2(s.overlap!), Math.round(s.ring), Math.round(s.ring_full)]),
    );
  }
  return renderTable(
    ["kernel", "runs", { header: "ns/returned page", align: "right" }, { header: "range", align: "right" }, { header: "02 ns", align: "right" }, { header: "÷02", align: "right" }, { header: "÷02 range", align: "right" }, { header: "ring", align: "right" }, { header: "ring_full", align: "right" }, { header: "full", align: "right" }],
    summary.map((s) => [s.kernel, s.runs, f3(s.ns.median), range(s.ns, f3), f3(s.ref_02_ns.median), f2(s.ratio_to_02.median), range(s.ratio_to_02, f2), Math.round(s.ring), Math.round(s.ring_full), Math.round(s.full)]),
  );
}

/** What the table's columns are, and the kernel module's own figures beside them. */
export function smpLegend(test: SmpTest): string {
  const a = CROSS_CPU_ANCHOR;
  const kNs = (a.returningNs[0] + a.returningNs[1]) / 2;
  if (test === "page_pool02_ptr_ring_contended") {
    return [
      "contended ns: CPU 0's page_pool02_ptr_ring loop (alloc + put allow_direct=false) while CPUs 1…N−1 put pages",
      "it handed them into the same pool's ring; uncontended ns: the same loop, pool and worker, the other CPUs idle,",
      "in rounds interleaved with the contended ones; 02 ns: the single-CPU page_pool02_ptr_ring (tinybench) of the",
      "same process; puts/elem: the other CPUs' puts per CPU-0 element while its loop ran (rounds below 0.25 are",
      "left out: their threads took turns on a core). Medians over runs (each its own process), ranges min–max;",
      "ring/ring_full: recycle_stats deltas per run (median).",
      "The kernel never measured this: there is no kernel figure to put beside it.",
    ].join("\n");
  }
  return [
    "ns/returned page: the returning CPUs' time per page (ptr_ring_consume + page_pool_put_page(…, false)), mean",
    "over those CPUs; 02 ns: the single-CPU page_pool02_ptr_ring (tinybench) measured in the same process; ÷02 per run.",
    "Medians over runs (each its own process, builds interleaved), ranges min–max; ring, ring_full: recycle_stats",
    "deltas of the run summed over CPUs (median over runs); full: tasklet enqueues that found the queue full.",
    `Kernel module's example figures (not per build; anchors, not a measurement of these builds): ${a.source}:`,
    `returning CPUs ${a.returningNs[0]} / ${a.returningNs[1]} ns per page (mean ${kNs.toFixed(3)}), tasklet ${a.taskletNs} ns,`,
    `Sum Average ${a.averageCycles} cycles(tsc); same boot's tasklet_page_pool02_ptr_ring ${a.ptrRing02Ns} ns → ÷02 ≈ ${(kNs / a.ptrRing02Ns).toFixed(1)}.`,
  ].join("\n");
}
