import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { ALL_TESTS, RESULT_KEYS, planRuns, benchLine, ratiosOf, type BenchResult } from "../../src/report/bench.js";
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
  it("unknown layout, test, bad --time, empty --json, a positional: one line, exit 2", async () => {
    const cases: [string[], string][] = [
      [["--layout", "slab"], "ppemu bench: unknown layout 'slab' (valid: classic, item-block, xarray, all)\n"],
      [["--test", "page_pool05"], `ppemu bench: unknown test 'page_pool05' (valid: ${[...ALL_TESTS, "all"].join(", ")})\n`],
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
    expect(p.err).toBe("ppemu bench: unexpected argument 'classic' (this command takes options only: --layout, --test, --time, --quick, --json, --inline)\n");
    const h = await run("bench", "--help");
    expect(h.code).toBe(0);
    expect(h.out).toContain("usage: ppemu bench [--layout classic|item-block|xarray|all]");
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
  it("baselines, one child per layout, one per layout and memory size", () => {
    const plan = planRuns({ layouts: ["classic", "item-block", "xarray"], tests: ALL_TESTS, timeMs: 10, warmupMs: 5 });
    expect(plan.map((r) => `${r.layout}:${r.tests.join("+")}`)).toEqual([
      "baseline:for_loop+atomic_inc+lock",
      "classic:page_pool01_fast_path+page_pool01_via_page+page_pool02_ptr_ring+page_pool03_slow+page_pool04_dma_slow",
      "item-block:page_pool01_fast_path+page_pool01_via_page+page_pool02_ptr_ring+page_pool03_slow+page_pool04_dma_slow",
      "xarray:page_pool01_fast_path+page_pool01_via_page+page_pool02_ptr_ring+page_pool03_slow+page_pool04_dma_slow",
      "classic:page_pool01_fast_path_64M",
      "item-block:page_pool01_fast_path_64M",
      "xarray:page_pool01_fast_path_64M",
      "classic:page_pool01_fast_path_1G",
      "item-block:page_pool01_fast_path_1G",
      "xarray:page_pool01_fast_path_1G",
    ]);
    expect(planRuns({ layouts: ["item-block"], tests: ["lock"], timeMs: 10, warmupMs: 5 }).map((r) => r.layout)).toEqual(["baseline"]);
    expect(planRuns({ layouts: ["xarray"], tests: ["page_pool03_slow"], timeMs: 10, warmupMs: 5 })).toEqual([
      { layout: "xarray", tests: ["page_pool03_slow"], timeMs: 10, warmupMs: 5, bytes: 64 << 20 },
    ]);
  });
});

describe("ppemu bench: output", () => {
  const r = (layout: BenchResult["layout"], test: BenchResult["test"], ns: number): BenchResult => ({
    layout,
    test,
    ns_per_elem: ns,
    ops_per_sec: 1e9 / ns,
    rme_pct: 0.5,
    samples: 100,
    heap_delta_bytes: 0,
  });

  it("one time_bench-style line", () => {
    expect(benchLine(r("item-block", "page_pool02_ptr_ring", 12.5))).toBe(
      "Type:item-block:page_pool02_ptr_ring Per elem: 12.500 ns (80,000,000 ops/s) ±0.50%",
    );
  });

  it("ratios to classic and to the layout's fast path, with the kernel's", () => {
    const rs = [r("classic", "page_pool01_fast_path", 10), r("classic", "page_pool02_ptr_ring", 30), r("item-block", "page_pool01_fast_path", 12), r("item-block", "page_pool02_ptr_ring", 33)];
    const q = ratiosOf(rs, rs[3]!);
    expect(q.vsClassic).toBeCloseTo(1.1, 12);
    expect(q.vsFast).toBeCloseTo(2.75, 12);
    expect(q.kernelNs).toBe(15.849);
    expect(q.kernelVsClassic).toBeCloseTo(15.849 / 15.09, 12);
    expect(q.kernelVsFast).toBeCloseTo(15.849 / 5.492, 12);
    expect(ratiosOf(rs, r("baseline", "lock", 30))).toEqual({ kernelNs: 10.431 });
  });

  it("median and its order-statistics margin", () => {
    expect(medianWithMargin([3, 1, 2])).toEqual({ median: 2, rmePct: 50 });
    const flat = medianWithMargin(new Array(100).fill(4));
    expect(flat).toEqual({ median: 4, rmePct: 0 });
  });
});

describe("ppemu bench: a tiny run", () => {
  it("--json - writes schema 1 with one row per test, every layout", async () => {
    const res = await run("bench", "--inline", "--time", "5", "--test", "page_pool01_fast_path", "--json", "-");
    expect(res.code).toBe(0);
    expect(res.err).toBe("");
    const json = JSON.parse(res.out) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(["schema", "node", "cpu", "date", "results"]);
    expect(json.schema).toBe(1);
    expect(json.node).toBe(process.version);
    expect(typeof json.cpu).toBe("string");
    expect(Number.isNaN(Date.parse(json.date as string))).toBe(false);
    const results = json.results as Record<string, unknown>[];
    expect(results.map((x) => `${x.layout}:${x.test}`)).toEqual([
      "classic:page_pool01_fast_path",
      "item-block:page_pool01_fast_path",
      "xarray:page_pool01_fast_path",
    ]);
    for (const x of results) {
      expect(Object.keys(x)).toEqual([...RESULT_KEYS]);
      for (const k of ["ns_per_elem", "ops_per_sec", "rme_pct"]) expect(Number.isFinite(x[k])).toBe(true);
      expect(Number.isInteger(x.samples)).toBe(true);
      expect(x.samples as number).toBeGreaterThanOrEqual(16);
      expect(Number.isInteger(x.heap_delta_bytes)).toBe(true);
    }
  });

  it("the DMA slow path on one layout, as text: line, then the table", async () => {
    const res = await run("bench", "--inline", "--time", "5", "--layout", "xarray", "--test", "page_pool04_dma_slow");
    expect(res.code).toBe(0);
    const lines = res.out.split("\n");
    expect(lines[0]).toBe("ppemu bench: xarray; 5 ms per test (+5 ms warm-up)");
    expect(lines[1]).toMatch(/^Type:xarray:page_pool04_dma_slow Per elem: \d+\.\d{3} ns \([\d,]+ ops\/s\) ±\d+\.\d{2}%$/);
    expect(res.out).toMatch(/\n──────  ────────────────────  ─+  ─+  ─+  ─+  ─+  ─+  ─+  ─+\nxarray  page_pool04_dma_slow +\d+\.\d{3} +±\d+\.\d{2}% +— +— +— +— +— +-?\d+\n/);
  });
});
