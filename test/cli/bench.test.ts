import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { ALL_TESTS, SMP_TESTS, RESULT_KEYS, planRuns, summarizeBench, loadWarning, defaultBenchBuilds, kernelNs, type BenchResult } from "../../src/report/bench.js";
import { summaryTable, typeLines, medianProcess } from "../../src/report/bench_text.js";
import { ratioCi, ratioText, median } from "../../bench/stats.js";
import { detectTsc, timeBenchRecord, typeLine } from "../../bench/time_bench.js";
import { progressText } from "../../src/cli/cmd-bench.js";
import { allLayouts, defaultBuildOf, referenceBuild, layoutNames, buildNames } from "../../src/builds/index.js";
import { medianWithMargin } from "../../bench/pp_suite.js";
import { jsonTargetProblem } from "../../src/cli/cmd-bench.js";
import { tmpdir } from "node:os";
import { join } from "node:path";

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

describe("ppemu bench: argument errors", () => {
  it("unknown layout or build, test, bad --time, empty --json, a positional: one line, exit 2", async () => {
    const cases: [string[], string][] = [
      [["--layout", "slab"], `ppemu bench: unknown layout 'slab' (valid: ${layoutNames().join(", ")}, all)\n`],
      [["--kernel", "v4.19"], `ppemu bench: unknown kernel build 'v4.19' (valid: ${buildNames().join(", ")}; or a layout: ${layoutNames().join(", ")})\n`],
      [["--kernel", "v6.1", "--layout", "classic"], "ppemu bench: give --kernel or --layout, not both\n"],
      [["--test", "page_pool05"], `ppemu bench: unknown test 'page_pool05' (valid: ${[...ALL_TESTS, ...SMP_TESTS, "scale", "all"].join(", ")})\n`],
      [["--time", "0"], "ppemu bench: --time must be a whole number from 1 to 600000, got '0'\n"],
      [["--time", "1.5"], "ppemu bench: --time must be a whole number from 1 to 600000, got '1.5'\n"],
      [["--json", ""], "ppemu bench: --json needs a file name or '-'\n"],
    ];
    for (const [argv, err] of cases) {
      const r = await run("bench", ...argv);
      expect(r.code).toBe(2);
      expect(r.out).toBe("");
      expect(r.err).toBe(err);
    }
    const p = await run("bench", "classic");
    expect(p.code).toBe(2);
    expect(p.err).toBe("ppemu bench: unexpected argument 'classic' (this command takes options only: --kernel, --layout, --test, --time, --quick, --json, --inline, --cpus, --loops, --runs, --tsc-mhz)\n");
    const h = await run("bench", "--help");
    expect(h.code).toBe(0);
    expect(h.out).toContain("usage: ppemu bench [--kernel B|B,C|all | --layout L|all]");
    expect(h.out).toContain(`(default: each layout's default build: ${defaultBenchBuilds().join(", ")}); baselines always run`);
    expect(h.out).toContain(`the ratio to the reference build\n(${referenceBuild().name}) over paired runs`);
  });
});

describe("ppemu bench: --json FILE is checked before the benchmark runs", () => {
  it("a missing directory or a directory as FILE: one line, exit 2, nothing run", async () => {
    const a = await run("bench", "--json", "/nonexistent/dir/x.json", "--test", "for_loop", "--time", "10");
    expect([a.code, a.out, a.err]).toEqual([2, "", "ppemu bench: --json /nonexistent/dir/x.json: directory /nonexistent/dir does not exist\n"]);
    const b = await run("bench", "--json", "/", "--test", "for_loop");
    expect([b.code, b.out, b.err]).toEqual([2, "", "ppemu bench: --json /: is a directory\n"]);
  });

  it("jsonTargetProblem: null for a writable new file, a reason otherwise", () => {
    expect(jsonTargetProblem(join(tmpdir(), "ppemu-bench-never-written.json"))).toBeNull();
    expect(jsonTargetProblem("/nonexistent/dir/x.json")).toBe("directory /nonexistent/dir does not exist");
    expect(jsonTargetProblem(tmpdir())).toBe("is a directory");
  });
});

describe("ppemu bench: plan", () => {
  it("round after round; per test every build in turn; js_floor with the fast path", () => {
    const kernels = defaultBenchBuilds();
    expect(kernels).toEqual(allLayouts().map((l) => defaultBuildOf(l).name));
    const plan = planRuns({ kernels, tests: ALL_TESTS, runs: 2, timeMs: 10, warmupMs: 5 });
    const round = [
      "baseline:for_loop",
      "baseline:atomic_inc",
      "baseline:lock",
      "baseline:js_floor",
      ...["page_pool01_fast_path", "page_pool01_via_page", "page_pool02_ptr_ring", "page_pool03_slow", "page_pool04_dma_slow"].flatMap((t) => kernels.map((k) => `${k}:${t}`)),
    ];
    expect(plan.map((r) => `${r.kernel}:${r.test}`)).toEqual([...round, ...round]);
    expect(plan.map((r) => r.run)).toEqual([...round.map(() => 1), ...round.map(() => 2)]);
    expect(planRuns({ kernels: ["v11"], tests: ["lock"], runs: 3, timeMs: 10, warmupMs: 5 }).map((r) => `${r.kernel}:${r.test}:${r.run}`)).toEqual(["baseline:lock:1", "baseline:lock:2", "baseline:lock:3"]);
    expect(planRuns({ kernels: ["v6.16", "v6.1"], tests: ["page_pool01_fast_path"], runs: 1, timeMs: 10, warmupMs: 5 })).toEqual([
      { kernel: "baseline", test: "js_floor", timeMs: 10, warmupMs: 5, bytes: 64 << 20, run: 1 },
      { kernel: "v6.16", test: "page_pool01_fast_path", timeMs: 10, warmupMs: 5, bytes: 64 << 20, run: 1 },
      { kernel: "v6.1", test: "page_pool01_fast_path", timeMs: 10, warmupMs: 5, bytes: 64 << 20, run: 1 },
    ]);
  });
});

const LAYOUT_OF: Record<string, string> = { "v6.15": "classic", v11: "item-block", "v6.16": "xarray", baseline: "baseline" };
const row = (kernel: string, test: BenchResult["test"], run: number, ns: number): BenchResult => ({
  kernel,
  layout: LAYOUT_OF[kernel]!,
  test,
  run,
  ns_per_elem: ns,
  ops_per_sec: 1e9 / ns,
  rme_pct: 0.5,
  samples: 100,
  batch: 10_000,
  heap_delta_bytes: 0,
});

describe("ppemu bench: statistics across processes", () => {
  it("median, and the bootstrap interval of paired ratios: seeded, ≈ when it holds 1.0", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    // All pairs the same: the interval is that ratio.
    expect(ratioCi([1.1, 1.1, 1.1])).toEqual({ median: 1.1, ci_lo: 1.1, ci_hi: 1.1, approx_one: false, pairs: 3 });
    // Straddling 1: ≈, and the same runs give the same interval.
    const a = ratioCi([0.97, 1.02, 1.01, 0.99, 1.03]);
    expect(a.approx_one).toBe(true);
    expect(ratioCi([0.97, 1.02, 1.01, 0.99, 1.03])).toEqual(a);
    expect(a.ci_lo).toBeGreaterThanOrEqual(0.97);
    expect(a.ci_hi).toBeLessThanOrEqual(1.03);
    expect(ratioText(a)).toBe(`≈ (${a.ci_lo.toFixed(2)}–${a.ci_hi.toFixed(2)})`);
    const b = ratioCi([1.19, 1.21, 1.2]);
    expect([b.median, b.approx_one]).toEqual([1.2, false]);
    expect(ratioText(b)).toBe(`1.200 (${b.ci_lo.toFixed(2)}–${b.ci_hi.toFixed(2)})`);
  });

  it("summary: across processes, ratios paired by run, the floor for the fast path only", () => {
    expect(referenceBuild().name).toBe("v6.15");
    const rs = [
      row("baseline", "js_floor", 1, 2.5),
      row("v6.15", "page_pool01_fast_path", 1, 4),
      row("v11", "page_pool01_fast_path", 1, 4.4),
      row("baseline", "js_floor", 2, 3),
      row("v6.15", "page_pool01_fast_path", 2, 6),
      row("v11", "page_pool01_fast_path", 2, 6.6),
      row("baseline", "js_floor", 3, 2),
      row("v6.15", "page_pool01_fast_path", 3, 5),
      row("v11", "page_pool01_fast_path", 3, 5.5),
      row("v11", "page_pool02_ptr_ring", 1, 20),
    ];
    const s = summarizeBench(rs, 2000);
    expect(s.map((x) => `${x.kernel}:${x.test}:${x.runs}`)).toEqual(["baseline:js_floor:3", "v6.15:page_pool01_fast_path:3", "v11:page_pool01_fast_path:3", "v11:page_pool02_ptr_ring:1"]);
    const v11 = s[2]!;
    expect([v11.ns_median, v11.ns_min, v11.ns_max, v11.spread_pct, v11.cycles]).toEqual([5.5, 4.4, 6.6, 40, 11]);
    // Every pair is 1.1 although the runs differ by 50 %: drift cancels in the pair.
    expect([v11.ratio_to_ref!.median, v11.ratio_to_ref!.ci_lo, v11.ratio_to_ref!.ci_hi, v11.ratio_to_ref!.approx_one]).toEqual([1.1, 1.1, 1.1, false].map((x) => (typeof x === "number" ? expect.closeTo(x, 12) : x)));
    expect(v11.ratio_to_floor!.median).toBeCloseTo(2.2, 12);
    expect(s[1]!.ratio_to_ref).toBeNull(); // the reference itself
    expect(s[0]!.ratio_to_ref).toBeNull(); // a baseline
    expect(s[3]!.ratio_to_ref).toBeNull(); // v6.15 did not run 02
    expect(s[3]!.ratio_to_floor).toBeNull();
    expect(v11.kernel_ns).toBe(5.492);
    expect(s[0]!.kernel_ns).toBeNull();
    expect(medianProcess(rs, v11)!.run).toBe(3);
    const head = summaryTable(s).split("\n")[0]!.trim().split(/\s{2,}/);
    expect(head).toEqual(["kernel", "test", "ns/elem", "min–max", "spread", "runs", "cycles", "÷v6.15 (95% CI)", "k ÷v6.15", "÷js_floor (95% CI)", "kernel ns"]);
  });

  it("a load average above the cores is a warning", () => {
    expect(loadWarning([2.5, 1, 1], 2, "before the run")).toBe("warning: load average 2.50 before the run exceeds the 2 cores: these figures share the machine with other work");
    expect(loadWarning([1.9, 3, 3], 2, "after the run")).toBeNull();
  });
});

describe("ppemu bench: the kernel module's Type: line", () => {
  it("time_bench_calc_stats()'s integer arithmetic, the module's format, the build in its own column", () => {
    // The posted record: 100,000,000 invocations in 0.549225541 s at 3.6 GHz → 19 cycles, 5.492 ns.
    const r = timeBenchRecord("tasklet_page_pool01_fast_path", 549225541 / 100_000_000, 100_000_000, 3600);
    expect(r).toEqual({ name: "tasklet_page_pool01_fast_path", invokeCount: 100_000_000, timeIntervalNs: 549225541, tscInterval: 1977211948, cycles: 19 });
    expect(typeLine(r)).toBe(
      "bench_page_pool: Type:tasklet_page_pool01_fast_path Per elem: 19 cycles(tsc) 5.492 ns (step:0) - (measurement period time:0.549225541 sec time_interval:549225541) - (invoke count:100000000 tsc_interval:1977211948)",
    );
    const json = { schema: 4, command: "bench", node: "v20", cpu: "x", date: "d", method: { tsc_mhz: 2000 }, results: [row("v11", "page_pool02_ptr_ring", 1, 12.5)], summary: summarizeBench([row("v11", "page_pool02_ptr_ring", 1, 12.5)], 2000) } as never;
    const lines = typeLines(json).split("\n");
    expect(lines[2]).toBe("v11     bench_page_pool: Type:tasklet_page_pool02_ptr_ring Per elem: 25 cycles(tsc) 12.500 ns (step:0) - (measurement period time:0.000125000 sec time_interval:125000) - (invoke count:10000 tsc_interval:250000)");
  });

  it("the TSC: --tsc-mhz, else the model name's nominal frequency, else cpufreq, else cpu MHz", () => {
    expect(detectTsc(3000, "", "")).toEqual({ mhz: 3000, source: "--tsc-mhz" });
    const intel = "model name\t: Intel(R) Xeon(R) CPU E5-1650 v4 @ 3.60GHz\ncpu MHz\t\t: 1200.000\n";
    expect(detectTsc(undefined, intel, "")).toEqual({ mhz: 3600, source: 'nominal, from the model name "Intel(R) Xeon(R) CPU E5-1650 v4 @ 3.60GHz"' });
    const amd = "model name\t: AMD EPYC\ncpu MHz\t\t: 2596.100\n";
    expect(detectTsc(undefined, amd, "2450000\n")).toEqual({ mhz: 2450, source: "cpufreq base_frequency of cpu0" });
    expect(detectTsc(undefined, amd, "")).toEqual({ mhz: 2596.1, source: '"cpu MHz" of cpu0 in /proc/cpuinfo (no nominal frequency on "AMD EPYC")' });
    expect(detectTsc(undefined, "", "").mhz).toBe(0);
  });

  it("progress: done/total, rate, time left", () => {
    expect(progressText("v11", "page_pool02_ptr_ring", 2, 5, 10, 40, 0, 5000)).toBe("\rppemu bench: run 2/5, v11 page_pool02_ptr_ring, 10/40 processes, 2.0/s, 15 s left   ");
    expect(progressText("v11", "lock", 1, 5, 0, 40, 0, 0)).toContain("0/40 processes, 0.0/s, …");
  });
});

describe("ppemu bench: a tiny run", () => {
  it("--json - writes schema 4: every process's row, the summary, the method", async () => {
    const res = await run("bench", "--inline", "--time", "5", "--runs", "2", "--test", "page_pool01_fast_path", "--json", "-");
    expect(res.code).toBe(0);
    expect(res.err).toBe("");
    const json = JSON.parse(res.out) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(["schema", "command", "node", "cpu", "date", "method", "results", "summary", "cost"]);
    expect([json.schema, json.command]).toEqual([4, "bench"]);
    expect(json.node).toBe(process.version);
    const method = json.method as Record<string, unknown>;
    expect([method.runs, method.quick, method.time_ms, method.warmup_ms, method.order, method.reference, method.pinned_cpu]).toEqual([2, false, 5, 5, "round-robin", "v6.15", null]);
    const results = json.results as Record<string, unknown>[];
    const round = ["baseline:baseline:js_floor", ...allLayouts().map((l) => `${defaultBuildOf(l).name}:${l.name}:page_pool01_fast_path`)];
    expect(results.map((x) => `${x.kernel}:${x.layout}:${x.test}`)).toEqual([...round, ...round]);
    for (const x of results) {
      expect(Object.keys(x)).toEqual([...RESULT_KEYS]);
      for (const k of ["ns_per_elem", "ops_per_sec", "rme_pct"]) expect(Number.isFinite(x[k])).toBe(true);
      expect(x.batch).toBe(10_000);
      expect(x.samples as number).toBeGreaterThanOrEqual(16);
    }
    const summary = json.summary as Record<string, unknown>[];
    expect(summary.map((x) => `${x.kernel}:${x.test}:${x.runs}`)).toEqual(round.map((r) => `${r.split(":")[0]}:${r.split(":")[2]}:2`));
    // The cost model of the builds and layout tests that ran: counted, so exact (test/bench/cost_model.test.ts pins them all).
    const cost = json.cost as Record<string, unknown>[];
    // Every layout's fast path is 10 loads, 6 stores, 7 lines, but memdesc-item's: it has no flat
    // recycle_direct (the pool fields are in the item), so the put reads the page's memdesc word twice
    // and the item's pp_ref_count (both words), on the item's two lines: 13 loads, 9 lines.
    const fast: Record<string, string> = { "memdesc-item": "13:6:9:0" };
    expect(cost.map((c) => `${c.kernel}:${c.test}:${c.loads}:${c.stores}:${c.cache_lines}:${c.pp_chain}`)).toEqual(allLayouts().map((l) => `${defaultBuildOf(l).name}:page_pool01_fast_path:${fast[l.name] ?? "10:6:7:0"}`));
    expect(allLayouts().map((l) => l.name)).toContain("memdesc-item");
  });

  it("the DMA slow path on one layout, as text: the method, the Type: line, the table", async () => {
    // --layout xarray is its default build, v6.16.
    const res = await run("bench", "--inline", "--time", "5", "--runs", "2", "--layout", "xarray", "--test", "page_pool04_dma_slow", "--tsc-mhz", "2000");
    expect(res.code).toBe(0);
    const lines = res.out.split("\n");
    expect(lines[0]).toBe("ppemu bench: v6.16; 2 processes (2 per build and test, round-robin), 5 ms each (+5 ms warm-up): about 1 s");
    expect(lines[2]).toBe("method: 2 processes per (build, test), round-robin across builds; 5 ms per process (+5 ms warm-up); reference v6.15");
    expect(lines[3]).toMatch(/^TSC: 2000 MHz \(--tsc-mhz\); load average /);
    expect(res.out).toMatch(/\nv6\.16   bench_page_pool: Type:page_pool04_dma_slow Per elem: \d+ cycles\(tsc\) \d+\.\d{3} ns \(step:0\) - \(measurement period time:0\.\d{9} sec time_interval:\d+\) - \(invoke count:1000 tsc_interval:\d+\)\n/);
    expect(res.out).toMatch(/\nv6\.16   page_pool04_dma_slow +\d+\.\d{3} +\d+\.\d{3}–\d+\.\d{3} +\d+\.\d% +2 +\d+\.\d +— +— +— +—\n/);
    expect(res.out).toContain("\ncost model (per element; counted, not timed: the same on every machine):\n");
    // test/bench/cost_model.test.ts's PINNED "v6.16 page_pool04_dma_slow".
    expect(res.out).toMatch(/\nv6\.16 +xarray +page_pool04_dma_slow +125\.63 +96\.65 +18\.23 +5\.12 +25\.86 +—\n/);
  });

  it("--kernel B,C runs the builds named, in that order", async () => {
    const res = await run("bench", "--inline", "--time", "5", "--runs", "2", "--kernel", "mainline,v6.1", "--test", "page_pool02_ptr_ring", "--json", "-");
    expect(res.code).toBe(0);
    const results = (JSON.parse(res.out) as { results: Record<string, unknown>[] }).results;
    expect(results.map((x) => `${x.kernel}:${x.layout}:${x.test}:${x.run}`)).toEqual(["mainline:xarray:page_pool02_ptr_ring:1", "v6.1:classic:page_pool02_ptr_ring:1", "mainline:xarray:page_pool02_ptr_ring:2", "v6.1:classic:page_pool02_ptr_ring:2"]);
  });

  it("--runs and --tsc-mhz: one line, exit 2, for a bad value", async () => {
    expect(await run("bench", "--runs", "1")).toEqual({ code: 2, out: "", err: "ppemu bench: --runs must be a whole number from 2 to 100, got '1'\n" });
    expect(await run("bench", "--tsc-mhz", "fast")).toEqual({ code: 2, out: "", err: "ppemu bench: --tsc-mhz must be a frequency in MHz from 1 to 100000, got 'fast'\n" });
  });
});
