import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { ALL_TESTS, SMP_TESTS, RESULT_KEYS, planRuns, benchLine, ratiosOf, ratioTable, defaultBenchBuilds, kernelNs, type BenchResult } from "../../src/report/bench.js";
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
      [["--test", "page_pool05"], `ppemu bench: unknown test 'page_pool05' (valid: ${[...ALL_TESTS, ...SMP_TESTS, "all"].join(", ")})\n`],
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
    expect(p.err).toBe("ppemu bench: unexpected argument 'classic' (this command takes options only: --kernel, --layout, --test, --time, --quick, --json, --inline, --cpus, --loops, --runs)\n");
    const h = await run("bench", "--help");
    expect(h.code).toBe(0);
    expect(h.out).toContain("usage: ppemu bench [--kernel B|B,C|all | --layout L|all]");
    expect(h.out).toContain(`(default: each layout's default build: ${defaultBenchBuilds().join(", ")}); baselines always run`);
    expect(h.out).toContain(`then a table of each result's ratio to the reference build (${referenceBuild().name})`);
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
  it("baselines, one child per build, one per build and memory size", () => {
    // The default: each layout's default build, in registry order.
    const kernels = defaultBenchBuilds();
    expect(kernels).toEqual(allLayouts().map((l) => defaultBuildOf(l).name));
    const plan = planRuns({ kernels, tests: ALL_TESTS, timeMs: 10, warmupMs: 5 });
    expect(plan.map((r) => `${r.kernel}:${r.tests.join("+")}`)).toEqual([
      "baseline:for_loop+atomic_inc+lock",
      ...kernels.map((k) => `${k}:page_pool01_fast_path+page_pool01_via_page+page_pool02_ptr_ring+page_pool03_slow+page_pool04_dma_slow`),
      ...kernels.map((k) => `${k}:page_pool01_fast_path_64M`),
      ...kernels.map((k) => `${k}:page_pool01_fast_path_1G`),
    ]);
    expect(planRuns({ kernels: ["v11"], tests: ["lock"], timeMs: 10, warmupMs: 5 }).map((r) => r.kernel)).toEqual(["baseline"]);
    expect(planRuns({ kernels: ["v6.16"], tests: ["page_pool03_slow"], timeMs: 10, warmupMs: 5 })).toEqual([
      { kernel: "v6.16", tests: ["page_pool03_slow"], timeMs: 10, warmupMs: 5, bytes: 64 << 20 },
    ]);
  });
});

describe("ppemu bench: output", () => {
  const LAYOUT_OF: Record<string, string> = { "v6.15": "classic", v11: "item-block", "v6.16": "xarray", baseline: "baseline" };
  const r = (kernel: string, test: BenchResult["test"], ns: number): BenchResult => ({
    kernel,
    layout: LAYOUT_OF[kernel]!,
    test,
    ns_per_elem: ns,
    ops_per_sec: 1e9 / ns,
    rme_pct: 0.5,
    samples: 100,
    heap_delta_bytes: 0,
  });

  it("one time_bench-style line", () => {
    expect(benchLine(r("v11", "page_pool02_ptr_ring", 12.5))).toBe("Type:v11:page_pool02_ptr_ring Per elem: 12.500 ns (80,000,000 ops/s) ±0.50%");
  });

  it("ratios to the reference build (v6.15) and to the build's fast path, with the kernel's", () => {
    expect(referenceBuild().name).toBe("v6.15");
    const rs = [r("v6.15", "page_pool01_fast_path", 10), r("v6.15", "page_pool02_ptr_ring", 30), r("v11", "page_pool01_fast_path", 12), r("v11", "page_pool02_ptr_ring", 33)];
    const q = ratiosOf(rs, rs[3]!);
    expect(q.vsRef).toBeCloseTo(1.1, 12);
    expect(q.vsFast).toBeCloseTo(2.75, 12);
    // v11's anchors are the series' own figures; v6.15's the classic before-runs.
    expect(q.kernelNs).toBe(15.849);
    expect(q.kernelVsRef).toBeCloseTo(15.849 / 15.09, 12);
    expect(q.kernelVsFast).toBeCloseTo(15.849 / 5.492, 12);
    expect(ratiosOf(rs, r("baseline", "lock", 30))).toEqual({ kernelNs: 10.431 });
    // A build without anchors (v6.16 has them; v6.1 does not) gets only the measured ratios.
    expect(kernelNs("v6.1", "page_pool01_fast_path")).toBeUndefined();
    expect(kernelNs("v6.16", "page_pool03_slow")).toBe(66.498);
    // The ratio columns are named after the reference build.
    expect(ratioTable(rs).split("\n")[0]!.split(/\s{2,}/)).toEqual(["kernel", "test", "ns/elem", "rme", "÷v6.15", "k ÷v6.15", "÷01 fast", "k ÷01", "kernel ns", "heap Δ B"]);
  });

  it("median and its order-statistics margin", () => {
    expect(medianWithMargin([3, 1, 2])).toEqual({ median: 2, rmePct: 50 });
    const flat = medianWithMargin(new Array(100).fill(4));
    expect(flat).toEqual({ median: 4, rmePct: 0 });
  });
});

describe("ppemu bench: a tiny run", () => {
  it("--json - writes schema 3 with one row per test, each layout's default build", async () => {
    const res = await run("bench", "--inline", "--time", "5", "--test", "page_pool01_fast_path", "--json", "-");
    expect(res.code).toBe(0);
    expect(res.err).toBe("");
    const json = JSON.parse(res.out) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(["schema", "command", "node", "cpu", "date", "results"]);
    expect([json.schema, json.command]).toEqual([3, "bench"]);
    expect(json.node).toBe(process.version);
    expect(typeof json.cpu).toBe("string");
    expect(Number.isNaN(Date.parse(json.date as string))).toBe(false);
    const results = json.results as Record<string, unknown>[];
    expect(results.map((x) => `${x.kernel}:${x.layout}:${x.test}`)).toEqual(allLayouts().map((l) => `${defaultBuildOf(l).name}:${l.name}:page_pool01_fast_path`));
    for (const x of results) {
      expect(Object.keys(x)).toEqual([...RESULT_KEYS]);
      for (const k of ["ns_per_elem", "ops_per_sec", "rme_pct"]) expect(Number.isFinite(x[k])).toBe(true);
      expect(Number.isInteger(x.samples)).toBe(true);
      expect(x.samples as number).toBeGreaterThanOrEqual(16);
      expect(Number.isInteger(x.heap_delta_bytes)).toBe(true);
    }
  });

  it("the DMA slow path on one layout, as text: line, then the table", async () => {
    // --layout xarray is its default build, v6.16.
    const res = await run("bench", "--inline", "--time", "5", "--layout", "xarray", "--test", "page_pool04_dma_slow");
    expect(res.code).toBe(0);
    const lines = res.out.split("\n");
    expect(lines[0]).toBe("ppemu bench: v6.16; 5 ms per test (+5 ms warm-up)");
    expect(lines[1]).toMatch(/^Type:v6\.16:page_pool04_dma_slow Per elem: \d+\.\d{3} ns \([\d,]+ ops\/s\) ±\d+\.\d{2}%$/);
    expect(res.out).toMatch(/\n──────  ────────────────────  ─+  ─+  ─+  ─+  ─+  ─+  ─+  ─+\nv6\.16   page_pool04_dma_slow +\d+\.\d{3} +±\d+\.\d{2}% +— +— +— +— +— +-?\d+\n/);
  });

  it("--kernel B,C runs the builds named, in that order", async () => {
    const res = await run("bench", "--inline", "--time", "5", "--kernel", "mainline,v6.1", "--test", "page_pool01_fast_path", "--json", "-");
    expect(res.code).toBe(0);
    const results = (JSON.parse(res.out) as { results: Record<string, unknown>[] }).results;
    expect(results.map((x) => `${x.kernel}:${x.layout}:${x.test}`)).toEqual(["mainline:xarray:page_pool01_fast_path", "v6.1:classic:page_pool01_fast_path"]);
  });
});
