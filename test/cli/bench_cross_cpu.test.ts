/**
 * `ppemu bench --test cross_cpu | page_pool02_ptr_ring_contended`: usage errors, the plan, the
 * kernel's number format, and tiny runs whose counts must add up exactly. No timing assertions:
 * the figures vary; the structure and the counts do not. The CPUs are worker threads running the
 * compiled programs in dist/ (npm test builds first).
 */
import { costRows } from "../../bench/cost_model.js";
import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import Ajv2020Module from "ajv/dist/2020.js";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { planSmpRuns, timeBenchNs, crossCpuLine, crossCpuSumLine, SMP_TESTS, ALL_TESTS, type CrossCpuRun, type ContendedRun, type SmpJson } from "../../src/report/bench.js";
import { CONTENDED, CROSS_CPU } from "../../bench/catalog.js";

const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof import("ajv/dist/2020.js").default;

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

function benchValidator() {
  const dir = new URL("../../schemas/", import.meta.url);
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".schema.json"))) ajv.addSchema(JSON.parse(readFileSync(new URL(f, dir), "utf8")) as object);
  return ajv.getSchema("https://github.com/ppemu/ppemu/schemas/bench.schema.json")!;
}

describe("ppemu bench SMP tests: usage errors", () => {
  it("one line on stderr, nothing on stdout, exit 2", async () => {
    const smp = SMP_TESTS.join(" or ");
    const cases: [string[], string][] = [
      [["--test", "cross_cpu", "--cpus", "1"], "ppemu bench: --cpus must be a whole number from 2 to 64, got '1'\n"],
      [["--test", "cross_cpu", "--cpus", "65"], "ppemu bench: --cpus must be a whole number from 2 to 64, got '65'\n"],
      [["--test", "page_pool02_ptr_ring_contended", "--cpus", "two"], "ppemu bench: --cpus must be a whole number from 2 to 64, got 'two'\n"],
      [["--test", "cross_cpu", "--loops", "999"], "ppemu bench: --loops must be a whole number from 1000 to 4294967295, got '999'\n"],
      [["--test", "cross_cpu", "--loops", "4294967296"], "ppemu bench: --loops must be a whole number from 1000 to 4294967295, got '4294967296'\n"],
      [["--test", "cross_cpu", "--runs", "1"], "ppemu bench: --runs must be a whole number from 2 to 100, got '1'\n"],
      [["--cpus", "2"], `ppemu bench: --cpus is for --test ${smp}\n`],
      [["--test", "page_pool01_fast_path", "--loops", "3000"], `ppemu bench: --loops is for --test ${smp}\n`],
      [["--test", "page_pool02_ptr_ring_contended", "--loops", "2000"], "ppemu bench: --loops is for --test cross_cpu\n"],
      [["--test", "cross_cpu2"], `ppemu bench: unknown test 'cross_cpu2' (valid: ${[...ALL_TESTS, ...SMP_TESTS, "scale", "all"].join(", ")})\n`],
    ];
    for (const [argv, err] of cases) {
      const r = await run("bench", ...argv);
      expect([r.code, r.out, r.err], argv.join(" ")).toEqual([2, "", err]);
    }
    const h = await run("bench", "--help");
    expect(h.out).toContain("ppemu bench --test cross_cpu|page_pool02_ptr_ring_contended [--cpus N] [--loops N] [--runs R]");
    expect(h.out).toContain("<kernel>  time_bench: Type:page_pool_cross_cpu CPU(<n>) <C> cycles(tsc) <N.nnn> ns (step:<N-1>)");
  });
});

describe("ppemu bench SMP tests: plan and number format", () => {
  it("run after run, the builds interleaved within each run", () => {
    const plan = planSmpRuns({ kernels: ["v6.15", "v11", "v6.16"], test: "cross_cpu", cpus: 3, loops: 5000, runs: 2, timeMs: 10, warmupMs: 5 });
    expect(plan.map((r) => `${r.run}:${r.kernel}`)).toEqual(["1:v6.15", "1:v11", "1:v6.16", "2:v6.15", "2:v11", "2:v6.16"]);
    expect(plan[0]).toEqual({ kernel: "v6.15", test: "cross_cpu", cpus: 3, loops: 5000, timeMs: 10, warmupMs: 5, run: 1 });
  });

  it("time_bench's %llu.%03llu: quotient, then remainder / (count / 1000), the kernel's 'incorrect roundup'", () => {
    // bench_page_pool's own captures: for_loop 42037752 ns / 10^8, page_pool01 65719390 ns / 10^7.
    expect(timeBenchNs(42037752, 100000000)).toBe("0.420");
    expect(timeBenchNs(65719390, 10000000)).toBe("6.571");
    // A count that is no multiple of 1000 can print more than three decimals, as the kernel does.
    expect(timeBenchNs(2048, 2049)).toBe("0.1024");
    expect(timeBenchNs(999, 500)).toBe("1.000");
    // The module's per-CPU and Sum lines, the build in its own column, cycles at the stated TSC.
    const c = { cpu: 1, role: "return" as const, invoke_count: 1_000_000, time_interval_ns: 126650589, ns_per_elem: 126.650589, returned: 1_000_001, empty: 0, aborted: false, ring: 0, ring_full: 0 };
    expect(crossCpuLine("v6.16", 1, c, 2000)).toBe(
      "v6.16     time_bench: Type:page_pool_cross_cpu CPU(1) 253 cycles(tsc) 126.650 ns (step:1) - (measurement period time:0.126650589 sec time_interval:126650589) - (invoke count:1000000 tsc_interval:253301178)",
    );
    const rx = { ...c, cpu: 0, role: "rx" as const, invoke_count: 2_000_002, time_interval_ns: 130000000 };
    // (253 + 129) / 2, integer division as the module's sum.tsc_cycles / sum.records.
    expect(crossCpuSumLine("v6.16", 1, [rx, c], 2000)).toBe("v6.16     time_bench: Sum Type:page_pool_cross_cpu Average: 191 cycles(tsc) CPUs:2 step:1");
  });
});

/** The counts a cross_cpu run must satisfy, whatever the timing. */
function checkCounts(r: CrossCpuRun, loops: number): void {
  const nr = r.cpus - 1;
  const [rx, ...back] = r.per_cpu;
  expect(r.per_cpu.map((c) => `${c.cpu}:${c.role}`)).toEqual(["0:rx", ...back.map((_, i) => `${i + 1}:return`)]);
  expect(rx!.invoke_count).toBe(nr * loops + nr);
  expect([rx!.returned, rx!.ring, rx!.ring_full]).toEqual([0, 0, 0]);
  for (const c of back) {
    if (!c.aborted) expect(c.invoke_count).toBe(loops);
    expect(c.returned).toBe(c.invoke_count + 1);
    expect(c.ring + c.ring_full).toBe(c.returned);
  }
  expect(r.returned).toBe(back.reduce((a, c) => a + c.returned, 0));
  expect(r.returned + r.left_in_queues).toBe(r.produced);
  expect(r.ring + r.ring_full).toBe(r.returned);
  expect(r.cached).toBe(r.full);
  expect(r.allocs).toBe(r.produced + r.full);
  expect(r.out_of_pages).toBe(0);
  if (back.every((c) => !c.aborted)) {
    // The consumer stopped after loops + 1 pages: (loops + 1) % 16 of its slots are consumed but
    // not yet zeroed (ptr_ring's batch of 16), so the producer sees 1024 minus that many free.
    const room = CROSS_CPU.queueSize - ((loops + 1) % 16);
    expect(r.left_in_queues).toBe(nr * room);
    // The tasklet wants nr × (loops + 1024) pages queued: it gets them only if room ≥ 1023.
    expect(rx!.aborted).toBe(room < CROSS_CPU.queueSize - 1);
    if (!rx!.aborted) expect(r.produced).toBe(nr * (loops + CROSS_CPU.queueSize));
  }
}

describe("ppemu bench --test cross_cpu: a tiny run", () => {
  it("--json -: every run's records, the counts add up, the document validates", { timeout: 120_000 }, async () => {
    const loops = 2048;
    const res = await run("bench", "--test", "cross_cpu", "--kernel", "v6.16", "--loops", String(loops), "--runs", "2", "--time", "5", "--json", "-");
    expect(res.err).toBe("");
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.out) as { schema: number; command: string; results: unknown[]; smp: SmpJson };
    expect([doc.schema, doc.command, doc.results]).toEqual([4, "bench", []]);
    const smp = doc.smp;
    expect([smp.test, smp.cpus, smp.loops, smp.runs]).toEqual(["cross_cpu", 2, loops, 2]);
    expect(smp.source).toContain("netoptimizer/prototype-kernel kernel/lib/bench_page_pool_cross_cpu.c");
    expect(smp.results.map((r) => `${r.run}:${r.kernel}:${r.layout}:${r.test}`)).toEqual(["1:v6.16:xarray:cross_cpu", "2:v6.16:xarray:cross_cpu"]);
    for (const r of smp.results as CrossCpuRun[]) {
      checkCounts(r, loops);
      expect(r.ref_02.samples).toBeGreaterThanOrEqual(16);
      expect(r.ratio_to_02).toBeCloseTo(r.ns_per_returned_page / r.ref_02.ns_per_elem, 9);
    }
    expect(smp.summary).toHaveLength(1);
    const s = smp.summary[0]!;
    expect([s.kernel, s.test, s.runs, s.uncontended_ns, s.ratio, s.overlap]).toEqual(["v6.16", "cross_cpu", 2, null, null, null]);
    const ns = (smp.results as CrossCpuRun[]).map((r) => r.ns_per_returned_page);
    expect([s.ns.min, s.ns.max]).toEqual([Math.min(...ns), Math.max(...ns)]);
    expect(s.ns.median).toBeCloseTo((ns[0]! + ns[1]!) / 2, 9);
    // The cost model of the returning CPUs' put (page_pool02_ptr_ring's), as the single-CPU tests count it.
    const cost = (doc as unknown as { cost: { kernel: string; test: string; loads: number; atomics: number; locks: number }[] }).cost;
    const [want] = costRows(["v6.16"], ["page_pool02_ptr_ring"]);
    expect(cost).toEqual([want]);
    expect([cost[0]!.kernel, cost[0]!.test, cost[0]!.atomics, cost[0]!.locks]).toEqual(["v6.16", "page_pool02_ptr_ring", 2, 1]);

    const v = benchValidator();
    expect(v(doc), JSON.stringify(v.errors)).toBe(true);
    const bad = structuredClone(doc) as unknown as { smp: { results: Record<string, unknown>[] } };
    bad.smp.results[0]!.extra_key = 1;
    expect(v(bad)).toBe(false);
  });

  it("text, 3 CPUs, --inline: the module's lines in its format, then the table; a stalled tasklet says FAIL", { timeout: 120_000 }, async () => {
    const loops = 1000; // (1000 + 1) % 16 = 9 slots stale: the queues never take the tasklet's last pages
    const res = await run("bench", "--test", "cross_cpu", "--inline", "--kernel", "v6.1", "--cpus", "3", "--loops", String(loops), "--runs", "2", "--time", "5");
    expect(res.code).toBe(0);
    const lines = res.out.split("\n");
    expect(lines[0]).toBe("ppemu bench: cross_cpu on v6.1; 3 CPUs (CPU 0 the RX tasklet, CPUs 1-2 return); loops 1000, 2 runs per build, builds interleaved, each its own process; page_pool02_ptr_ring 5 ms (+5 ms warm-up)");
    const typeLines = lines.filter((l) => l.startsWith("v6.1      time_bench: Type:"));
    expect(typeLines).toHaveLength(6);
    for (const [i, l] of typeLines.entries()) {
      const cpu = i % 3;
      const count = cpu === 0 ? 2 * loops + 2 : loops;
      expect(l).toMatch(new RegExp(`^v6\\.1      time_bench: Type:page_pool_cross_cpu CPU\\(${cpu}\\) \\d+ cycles\\(tsc\\) \\d+\\.\\d{3,} ns \\(step:2\\) - \\(measurement period time:\\d+\\.\\d{9} sec time_interval:\\d+\\) - \\(invoke count:(${count}|\\d+) tsc_interval:\\d+\\)$`));
    }
    const sums = lines.filter((l) => l.includes("time_bench: Sum Type:"));
    expect(sums).toHaveLength(2);
    for (const l of sums) expect(l).toMatch(/^v6\.1      time_bench: Sum Type:page_pool_cross_cpu Average: \d+ cycles\(tsc\) CPUs:3 step:2$/);
    expect(lines.filter((l) => /^v6\.1: time_pp_put_page_recycle\(cpu:[12]\): recycled:\d+ pages, empty:\d+ times/.test(l))).toHaveLength(4);
    const rx = lines.filter((l) => l.startsWith("v6.1: pp_tasklet_simulate_rx_napi("));
    expect(rx).toHaveLength(2);
    // Unless a returning CPU gave up first, each queue ends with 1024 − 9 pages and the tasklet fails as the module's would.
    for (const l of rx) if (!res.out.includes("abort on retries")) expect(l).toMatch(/^v6\.1: pp_tasklet_simulate_rx_napi\(0\): FAIL \(cnt:\d+\), queue full\(\d+\) too many times$/);
    const head = lines.findIndex((l) => l.startsWith("kernel  runs  ns/returned page"));
    expect(head).toBeGreaterThan(0);
    expect(lines[head]!.split(/ {2,}/)).toEqual(["kernel", "runs", "ns/returned page", "range", "02 ns", "÷02", "÷02 range", "ring", "ring_full", "full"]);
    expect(lines[head + 2]).toMatch(/^v6\.1 +2 +\d+\.\d{3} +\d+\.\d{3}–\d+\.\d{3} +\d+\.\d{3} +\d+\.\d{2} +\d+\.\d{2}–\d+\.\d{2} +\d+ +\d+ +\d+$/);
    expect(res.out).toContain("Kernel module's example figures");
    expect(res.out).toContain("782.567");
  });
});

describe("ppemu bench --test page_pool02_ptr_ring_contended: a tiny run", () => {
  it("rounds of each kind, the other CPUs' puts are whole shares of real pool pages, nothing recycled direct", { timeout: 120_000 }, async () => {
    const res = await run("bench", "--test", "page_pool02_ptr_ring_contended", "--kernel", "v6.15", "--cpus", "3", "--runs", "2", "--time", "5", "--json", "-");
    expect(res.code).toBe(0);
    const smp = (JSON.parse(res.out) as { smp: SmpJson }).smp;
    expect([smp.test, smp.cpus, smp.loops, smp.runs]).toEqual(["page_pool02_ptr_ring_contended", 3, 0, 2]);
    for (const r of smp.results as ContendedRun[]) {
      expect([r.kernel, r.layout, r.cpus]).toEqual(["v6.15", "classic", 3]);
      expect(r.rounds).toBeGreaterThanOrEqual(16);
      expect(r.overlapped_rounds).toBeLessThanOrEqual(r.rounds);
      // Two helpers, 768 / 2 pages each per contended round.
      expect(r.helper_puts).toBe(r.rounds * 2 * Math.floor(CONTENDED.share / 2));
      expect(r.elements % CONTENDED.chunk).toBe(0);
      expect(r.ring).toBeGreaterThan(r.helper_puts + r.elements);
      expect([r.ring_full, r.cached]).toEqual([0, 0]);
      expect(r.ratio).toBeCloseTo(r.contended_ns / r.uncontended_ns, 9);
      expect(r.ratio_to_02).toBeCloseTo(r.contended_ns / r.ref_02.ns_per_elem, 9);
    }
    const s = smp.summary[0]!;
    expect([s.kernel, s.test, s.runs, s.full]).toEqual(["v6.15", "page_pool02_ptr_ring_contended", 2, 0]);
    expect(s.uncontended_ns).not.toBeNull();
    expect(s.ratio).not.toBeNull();
    const v = benchValidator();
    expect(v({ schema: 4, command: "bench", node: "v20", cpu: "x", date: "d", results: [], smp }), JSON.stringify(v.errors)).toBe(true);
  });
});

describe("README: the SMP tables' columns are named as ppemu bench names them", () => {
  it("each README table starts with the printed columns (the README adds the kernel's figures)", async () => {
    const { smpTable } = await import("../../src/report/bench.js");
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8").split("\n");
    const cells = (l: string): string[] => l.split("|").map((c) => c.trim()).filter(Boolean);
    const printedCross = smpTable([]).split("\n")[0]!.trim().split(/ {2,}/);
    const spread = { median: 1, min: 1, max: 1 };
    const fake = { kernel: "k", layout: "l", test: "page_pool02_ptr_ring_contended" as const, runs: 2, ns: spread, ref_02_ns: spread, ratio_to_02: spread, uncontended_ns: spread, ratio: spread, overlap: 1, ring: 1, ring_full: 0, full: 0 };
    const printedCont = smpTable([fake]).split("\n")[0]!.trim().split(/ {2,}/);
    const cross = readme.filter((l) => l.startsWith("| kernel | runs | ns/returned page"));
    expect(cross.length).toBeGreaterThanOrEqual(1);
    for (const l of cross) expect(cells(l)).toEqual([...printedCross, "kernel ns", "k ÷02"]);
    const cont = readme.filter((l) => l.startsWith("| kernel | runs | contended ns"));
    expect(cont).toHaveLength(1);
    expect(cells(cont[0]!)).toEqual(printedCont);
  });
});
