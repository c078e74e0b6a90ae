/** `ppemu bench`: bench_page_pool_simple per kernel build, plus what it never measured (src/report/bench.ts). */
import { accessSync, constants, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  ALL_TESTS,
  FULL_TIMING,
  QUICK_TIMING,
  type BenchTest,
  benchText,
  costText,
  defaultBenchBuilds,
  DEFAULT_RUNS,
  QUICK_RUNS,
  planRuns,
  runBench,
  runSmpBench,
  smpRunLines,
  smpTable,
  smpLegend,
  SMP_TESTS,
  CROSS_CPU,
  type SmpTest,
  type SmpOptions,
} from "../report/bench.js";
import { CONTENDED } from "../../bench/catalog.js";
import { runScaleBench, SCALE_DEFAULT_ROUNDS, SCALE_MACHINES, SCALE_PAGES } from "../../bench/scale.js";
import { scaleText } from "../../bench/scale_report.js";
import { JSON_SCHEMA_VERSIONS } from "../report/json.js";
import { detectTsc, type Tsc } from "../../bench/time_bench.js";
import { MAX_NR_CPUS } from "../smp/percpu.js";
import { referenceBuild } from "../builds/index.js";
import { type Command, type Io, UsageError, choice, intArg, parse, buildsArg, buildsHelp, openOutputFile, writeOutputFile } from "./common.js";

const NAME = "bench";

/** A child's start, boot and exit beyond its timed work, ms (for the estimate printed first). */
const PROCESS_OVERHEAD_MS = 250;

/** Runs per build of an SMP test unless --runs says otherwise. */
export const SMP_DEFAULT_RUNS = 5;

const help = (): string => `usage: ppemu bench [--kernel B|B,C|all | --layout L|all] [--test T|all] [--runs R] [--time MS] [--quick]
                   [--tsc-mhz F] [--json FILE|-] [--inline]
       ppemu bench --test cross_cpu|page_pool02_ptr_ring_contended [--cpus N] [--loops N] [--runs R]
                   [--kernel B|B,C|all | --layout L|all] [--time MS] [--quick] [--json FILE|-] [--inline]

Mirror the kernel's bench_page_pool_simple on the emulated page_pool. Every (build, test) runs in
several fresh child processes (node --expose-gc, the built code in dist/): ${DEFAULT_RUNS} by default, ${QUICK_RUNS} with --quick,
round-robin across builds (round r runs every build once, test by test), so drift hits all alike.
Prints the module's own lines, the build in a column of its own:

  <kernel>  bench_page_pool: Type:tasklet_page_pool01_fast_path Per elem: C cycles(tsc) N.nnn ns (step:0) - (…)

then per (build, test) the median across processes, min–max, the ratio to the reference build
(${referenceBuild().name}) over paired runs with its 95 % bootstrap interval (≈ when it holds 1.0), the kernel's ratios beside
them (E5-1650 v4: item-block +1.7 %, +5 %, +19 %), and the deterministic cost model per operation.

tests:
  for_loop, atomic_inc, lock     baselines (kernel "baseline"): a loop, Atomics.add, a spin lock
  js_floor                       baseline: page_pool01's loop as the least plain JS can do it (one
                                 typed array, alloc-cache pop, the recycle tests, push; no stats)
  page_pool01_fast_path          alloc + page_pool_recycle_direct (alloc-cache pop/push)
  page_pool01_via_page           alloc + return through the page: napi_pp_put_page → the pool the
                                 page names (item-block: pp_item & PAGE_MASK → block->pp) → direct
  page_pool02_ptr_ring           alloc + put with allow_direct=false, napi_local false (ring)
  page_pool03_slow               alloc + get_page + put (pool releases it) + put_page (to allocator)
  page_pool04_dma_slow           the same on a DMA pool: allocator + map + track + untrack + unmap + free
  Pools: order 0, pool_size 1024, 64 pages pre-filled into the ring, as the kernel module does.
  all                            every test above (not scale or the SMP tests below, which run only when named)
  scale                          alloc and return cost per page as the machine and the pages in flight grow:
                                 64 MiB → 2 GiB machines × 10^3 → 10^6 pages where they fit, a DMA-mapping pool
                                 per cycle (pool_size 64: the rest are released, unmapped, untracked, freed);
                                 --runs is rounds per case (default ${SCALE_DEFAULT_ROUNDS}); per build largest ÷ smallest case

SMP tests (CPUs are worker threads on one shared machine; each (run, build) its own process, run after
run with the builds interleaved; the single-CPU page_pool02_ptr_ring is measured in the same process):
  cross_cpu                      bench_page_pool_cross_cpu (prototype-kernel): CPU 0, a tasklet,
                                 allocates and round-robins pages into one SPSC ptr_ring of 1024 per
                                 returning CPU (full: page_pool_recycle_direct); CPUs 1…N-1 consume
                                 and page_pool_put_page(pool, page, -1, false): the pool's ring as a
                                 contended MPSC ring. pool_size 32000, 256 pages pre-filled.
                                 Prints the module's lines, the build in a column, cycles at the TSC:
  <kernel>  time_bench: Type:page_pool_cross_cpu CPU(<n>) <C> cycles(tsc) <N.nnn> ns (step:<N-1>) - (…) - (invoke count:… tsc_interval:…)
  <kernel>  time_bench: Sum Type:page_pool_cross_cpu Average: <C> cycles(tsc) CPUs:<N> step:<N-1>
                                 then per build ns per returned page (median, range over runs),
                                 ÷ page_pool02_ptr_ring, recycle_stats ring / ring_full, full.
  page_pool02_ptr_ring_contended page_pool02_ptr_ring on CPU 0 while CPUs 1…N-1 put pages CPU 0
                                 handed them (${CONTENDED.share} per round in all) into the same pool's ring;
                                 beside it the same loop uncontended (interleaved rounds, same worker)
                                 and the ratio.

options:
${buildsHelp(true)}
                    (default: each layout's default build: ${defaultBenchBuilds().join(", ")}); baselines always run
  --test T       one test name above, or all (default)
  --runs R       processes per (build, test), 2 … 100 (default ${DEFAULT_RUNS}; --quick ${QUICK_RUNS}; SMP tests ${SMP_DEFAULT_RUNS})
  --time MS      tinybench time per process in ms (default ${FULL_TIMING.timeMs}; --quick ${QUICK_TIMING.timeMs}); SMP tests: of the
                 single-CPU page_pool02_ptr_ring reference, and of the contended test's rounds
  --quick        ${QUICK_RUNS} processes per row, ${QUICK_TIMING.timeMs} ms each, as ppemu report uses
  --tsc-mhz F    the TSC frequency for the cycles(tsc) figures (default: the model name's nominal
                 frequency, else cpufreq's base_frequency, else /proc/cpuinfo's cpu MHz; stated)
  --cpus N       SMP tests: CPUs of the machine, 2 … ${MAX_NR_CPUS} (default 2: CPU 0 allocates, CPU 1 returns)
  --loops N      cross_cpu: pages each returning CPU returns in its timed loop, ${CROSS_CPU.minLoops} … ${CROSS_CPU.maxLoops}
                 (default ${CROSS_CPU.loops.toLocaleString("en-US")}, the module's)
  --json FILE    also write the results as JSON to FILE ('-': JSON on stdout instead of the text):
                 schema 4 (schemas/bench.schema.json): { schema, command, node, cpu, date, method, results: [every
                 process], summary: [per build and test], cost: [cost model] }; an SMP test: results [] and
                 smp: { test, cpus, loops, runs, source, results: [every run], summary: [per build] }
  --inline       run everything in this process (debugging: V8 then sees all builds at the same
                 call sites, and heap_delta has no forced GC unless node runs with --expose-gc)
  -h, --help     this text

Progress (processes done/total, rate, time left) goes to stderr when it is a terminal. A warning is
printed when the load average exceeds the cores. Benchmarks, not tests: compare the ratios and their
intervals, not one figure.`;

/** Why FILE cannot be written, or null: checked before the benchmark runs, not after a minute of it. */
export function jsonTargetProblem(file: string): string | null {
  const path = resolve(file);
  try {
    if (statSync(path).isDirectory()) return "is a directory";
    accessSync(path, constants.W_OK);
    return null;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") return "is not writable";
  }
  const dir = dirname(path);
  try {
    if (!statSync(dir).isDirectory()) return `${dir} is not a directory`;
    accessSync(dir, constants.W_OK);
    return null;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? `directory ${dir} does not exist` : `directory ${dir} is not writable`;
  }
}

export const benchCommand: Command = {
  name: NAME,
  summary: "bench_page_pool_simple per kernel build, ratios beside the kernel's (time_bench-style)",
  get help() {
    return help();
  },
  async run(argv: string[], io: Io): Promise<number> {
    const { values } = parse(
      NAME,
      argv,
      {
        kernel: { type: "string" },
        layout: { type: "string" },
        test: { type: "string" },
        time: { type: "string" },
        quick: { type: "boolean" },
        json: { type: "string" },
        inline: { type: "boolean" },
        cpus: { type: "string" },
        loops: { type: "string" },
        runs: { type: "string" },
        "tsc-mhz": { type: "string" },
      },
      false,
    );
    const builds = values.kernel === undefined && values.layout === undefined ? defaultBenchBuilds() : buildsArg(NAME, values, { multi: true, dflt: "all" }).map((b) => b.name);
    const test = choice(NAME, "test", String(values.test ?? "all"), [...ALL_TESTS, ...SMP_TESTS, "scale", "all"] as const);
    const smpTest = (SMP_TESTS as readonly string[]).includes(test) ? (test as SmpTest) : null;
    if (smpTest === null) {
      const stray = (["cpus", "loops"] as const).find((k) => values[k] !== undefined);
      if (stray) throw new UsageError(`ppemu ${NAME}: --${stray} is for --test ${SMP_TESTS.join(" or ")}`);
    } else if (smpTest !== "cross_cpu" && values.loops !== undefined) {
      throw new UsageError(`ppemu ${NAME}: --loops is for --test cross_cpu`);
    }
    const nCpus = intArg(NAME, "cpus", values.cpus as string | undefined, 2, 2, MAX_NR_CPUS);
    const loops = intArg(NAME, "loops", values.loops as string | undefined, CROSS_CPU.loops, CROSS_CPU.minLoops, CROSS_CPU.maxLoops);
    const quick = values.quick === true;
    const runs = intArg(NAME, "runs", values.runs as string | undefined, test === "scale" ? SCALE_DEFAULT_ROUNDS : smpTest !== null ? SMP_DEFAULT_RUNS : quick ? QUICK_RUNS : DEFAULT_RUNS, 2, 100);
    const tscText = values["tsc-mhz"] as string | undefined;
    const tscMhz = tscText === undefined ? undefined : Number(tscText);
    if (tscMhz !== undefined && (tscText!.trim() === "" || !Number.isFinite(tscMhz) || tscMhz < 1 || tscMhz > 100_000)) {
      throw new UsageError(`ppemu ${NAME}: --tsc-mhz must be a frequency in MHz from 1 to 100000, got '${tscText}'`);
    }
    const timing = quick ? QUICK_TIMING : FULL_TIMING;
    const timeMs = intArg(NAME, "time", values.time as string | undefined, timing.timeMs, 1, 600_000);
    const jsonTarget = values.json as string | undefined;
    if (jsonTarget !== undefined && jsonTarget.trim() === "") throw new UsageError(`ppemu ${NAME}: --json needs a file name or '-'`);
    const jsonOnly = jsonTarget === "-";
    if (jsonTarget !== undefined && !jsonOnly) {
      const problem = jsonTargetProblem(jsonTarget);
      if (problem) throw new UsageError(`ppemu ${NAME}: --json ${jsonTarget}: ${problem}`);
    }
    // Opened now, written at the end: a name that cannot be created fails before the benchmark runs.
    const jsonFd = jsonTarget !== undefined && !jsonOnly ? openOutputFile(NAME, "--json", jsonTarget) : -1;

    const warmupMs = values.time === undefined ? timing.warmupMs : Math.min(timing.warmupMs, timeMs);
    if (smpTest !== null) return runSmp(io, { builds, test: smpTest, cpus: nCpus, loops, runs, timeMs, warmupMs, inline: values.inline === true, jsonTarget, jsonFd, tsc: detectTsc(tscMhz) });
    const tty = process.stderr.isTTY === true;
    if (test === "scale") {
      const t0 = Date.now();
      if (!jsonOnly) io.out(`ppemu bench: scale on ${builds.join(", ")}; machines ${SCALE_MACHINES.map((b) => `${b >>> 20} MiB`).join(", ")} × ${SCALE_PAGES.map((n) => n.toLocaleString("en-US")).join(", ")} pages in flight where they fit; ${runs} rounds per case, each case its own process`);
      const scale = await runScaleBench({
        kernels: builds,
        rounds: runs,
        inline: values.inline === true,
        onStart: tty ? (req, i, n) => void process.stderr.write(progressText(req.kernel, `${req.bytes >>> 20} MiB × ${req.pages}`, 1, 1, i, n, t0)) : undefined,
      });
      if (tty) process.stderr.write(CLEAR_LINE);
      const json = { schema: JSON_SCHEMA_VERSIONS.bench, command: "bench", node: process.version, cpu: scale.cpu, date: scale.date, results: [], scale };
      return emit(io, json, () => scaleText(scale), jsonTarget, jsonFd);
    }
    const tests: readonly BenchTest[] = test === "all" ? ALL_TESTS : [test as BenchTest];
    const t0 = Date.now();
    if (!jsonOnly) {
      const n = planRuns({ kernels: builds, tests, runs, timeMs, warmupMs }).length;
      io.out(`ppemu bench: ${builds.join(", ")}; ${n} processes (${runs} per build and test, round-robin), ${timeMs} ms each (+${warmupMs} ms warm-up): about ${Math.ceil((n * (timeMs + warmupMs + PROCESS_OVERHEAD_MS)) / 1000)} s`);
    }
    const json = await runBench({
      kernels: builds,
      tests,
      runs,
      timeMs,
      warmupMs,
      quick,
      ...(tscMhz === undefined ? {} : { tscMhz }),
      inline: values.inline === true,
      onStart: tty ? (req, i, n) => void process.stderr.write(progressText(req.kernel, req.test, req.run, runs, i, n, t0)) : undefined,
    });
    if (tty) process.stderr.write(CLEAR_LINE);
    return emit(io, json, () => benchText(json), jsonTarget, jsonFd);
  },
};

/** The document on stdout (`--json -`), or the text and, with `--json FILE`, the file. */
function emit(io: Io, json: object, text: () => string, jsonTarget: string | undefined, jsonFd: number): number {
  if (jsonTarget === "-") {
    io.out(JSON.stringify(json, null, 2));
    return 0;
  }
  io.out(text());
  if (jsonTarget !== undefined) {
    writeOutputFile(NAME, "--json", jsonTarget, jsonFd, JSON.stringify(json, null, 2) + "\n");
    io.out(`wrote ${jsonTarget}`);
  }
  return 0;
}

/** `ppemu bench: run 2/5, v11 page_pool02_ptr_ring, 17/75 processes, 2.1/s, 28 s left`. */
export function progressText(kernel: string, test: string, run: number, runs: number, done: number, total: number, t0: number, now = Date.now()): string {
  const s = (now - t0) / 1000;
  const rate = done > 0 && s > 0 ? done / s : 0;
  const left = rate > 0 ? `${Math.ceil((total - done) / rate)} s left` : "…";
  return `\rppemu bench: run ${run}/${runs}, ${kernel} ${test}, ${done}/${total} processes, ${rate.toFixed(1)}/s, ${left}   `;
}

/** The SMP options as the CLI has them: the library's, with the builds by name and the output target. */
interface SmpCli extends Pick<SmpOptions, "test" | "cpus" | "loops" | "runs" | "timeMs" | "warmupMs"> {
  readonly builds: readonly string[];
  readonly inline: boolean;
  readonly jsonTarget: string | undefined;
  readonly jsonFd: number;
  readonly tsc: Tsc;
}

const CLEAR_LINE = `\r${" ".repeat(100)}\r`;

/** `--test cross_cpu | page_pool02_ptr_ring_contended`: progress on stderr when it is a terminal. */
async function runSmp(io: Io, o: SmpCli): Promise<number> {
  const jsonOnly = o.jsonTarget === "-";
  const tty = process.stderr.isTTY === true;
  const who = o.test === "cross_cpu" ? `CPU 0 the RX tasklet, CPU${o.cpus > 2 ? `s 1-${o.cpus - 1}` : " 1"} return${o.cpus > 2 ? "" : "s"}` : `CPU 0 runs page_pool02_ptr_ring, CPU${o.cpus > 2 ? `s 1-${o.cpus - 1}` : " 1"} put${o.cpus > 2 ? "" : "s"} into its ring`;
  const what = o.test === "cross_cpu" ? `loops ${o.loops}, ` : `${o.timeMs} ms of rounds (+${o.warmupMs} ms warm-up), `;
  if (!jsonOnly) {
    io.out(`ppemu bench: ${o.test} on ${o.builds.join(", ")}; ${o.cpus} CPUs (${who}); ${what}${o.runs} runs per build, builds interleaved, each its own process; page_pool02_ptr_ring ${o.timeMs} ms (+${o.warmupMs} ms warm-up)`);
  }
  const t0 = Date.now();
  const json = await runSmpBench({
    kernels: o.builds,
    test: o.test,
    cpus: o.cpus,
    loops: o.loops,
    runs: o.runs,
    timeMs: o.timeMs,
    warmupMs: o.warmupMs,
    inline: o.inline,
    tsc: o.tsc,
    onStart: tty ? (req, i, n) => void process.stderr.write(`\rppemu bench: ${o.test} run ${req.run}/${o.runs}, ${req.kernel} (${i + 1}/${n}), ${((Date.now() - t0) / 1000).toFixed(0)} s   `) : undefined,
    onRun: jsonOnly
      ? undefined
      : (r) => {
          if (tty) process.stderr.write(CLEAR_LINE); // the progress line, before stdout writes under it
          io.out(smpRunLines(r, o.tsc.mhz).join("\n"));
        },
  });
  if (tty) process.stderr.write(CLEAR_LINE);
  const cost = costText(json); // page_pool02_ptr_ring's count: the put path the returning CPUs take
  return emit(io, json, () => ["", smpTable(json.smp!.summary), "", smpLegend(o.test), ...(cost === null ? [] : ["", cost])].join("\n"), o.jsonTarget, o.jsonFd);
}
