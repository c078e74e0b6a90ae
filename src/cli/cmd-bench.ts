/** `ppemu bench`: bench_page_pool_simple per kernel build, plus what it never measured (src/report/bench.ts). */
import { accessSync, constants, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  ALL_TESTS,
  FULL_TIMING,
  QUICK_TIMING,
  type BenchTest,
  benchLine,
  ratioTable,
  benchLegend,
  defaultBenchBuilds,
  runBench,
} from "../report/bench.js";
import { referenceBuild } from "../builds/index.js";
import { type Command, type Io, UsageError, choice, intArg, parse, buildsArg, buildsHelp, openOutputFile, writeOutputFile } from "./common.js";

const NAME = "bench";

const help = (): string => `usage: ppemu bench [--kernel B|B,C|all | --layout L|all] [--test T|all] [--time MS] [--quick]
                   [--json FILE|-] [--inline]

Mirror the kernel's bench_page_pool_simple on the emulated page_pool, each kernel build in its own
child process (node --expose-gc, the built code in dist/), and print one time_bench-style line per test:

  Type:<kernel>:<test> Per elem: <N.nnn> ns (<ops/s>) ±<rme>%

then a table of each result's ratio to the reference build (${referenceBuild().name}) and to its build's page_pool01_fast_path, with the
kernel's ratios beside them (E5-1650 v4: ptr_ring/fast ≈ 2.8, slow/fast ≈ 12; item-block +1.7 %,
+5 %, +19 %).

tests:
  for_loop, atomic_inc, lock     baselines (kernel "baseline"): a loop, Atomics.add, a spin lock
  page_pool01_fast_path          alloc + page_pool_recycle_direct (alloc-cache pop/push)
  page_pool01_via_page           alloc + return through the page: napi_pp_put_page → the pool the
                                 page names (item-block: pp_item & PAGE_MASK → block->pp) → direct
  page_pool02_ptr_ring           alloc + put with allow_direct=false, napi_local false (ring)
  page_pool03_slow               alloc + get_page + put (pool releases it) + put_page (to allocator)
  page_pool04_dma_slow           the same on a DMA pool: allocator + map + track + untrack + unmap + free
  page_pool01_fast_path_64M      the fast path alone on a 64 MiB machine
  page_pool01_fast_path_1G       the fast path alone on a 1 GiB machine
  Pools: order 0, pool_size 1024, 64 pages pre-filled into the ring, as the kernel module does.

options:
${buildsHelp(true)}
                    (default: each layout's default build: ${defaultBenchBuilds().join(", ")}); baselines always run
  --test T       one test name above, or all (default)
  --time MS      tinybench time per test in ms (default ${FULL_TIMING.timeMs}; --quick ${QUICK_TIMING.timeMs})
  --quick        short runs (about 6–7 s in all), as ppemu report uses
  --json FILE    also write the results as JSON to FILE ('-': JSON on stdout instead of the text):
                 { schema: 3, command: "bench", node, cpu, date, results: [{ kernel, layout, test, ns_per_elem, ops_per_sec,
                   rme_pct, samples, heap_delta_bytes }] }
  --inline       run every build in this process (debugging: V8 then sees all builds at the same
                 call sites, and heap_delta has no forced GC unless node runs with --expose-gc)
  -h, --help     this text

Figures are per element: the median over tinybench samples (each a batch of 1,000–100,000 elements),
because on a shared machine a few preempted samples dominate a mean; rme is the half-width of the
median's 95 % confidence interval (order statistics), relative. heap_delta_bytes is heapUsed after
minus before a loop of the test (gc() before each reading). Benchmarks, not tests: expect
run-to-run differences of a few percent.`;

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
      },
      false,
    );
    const builds = values.kernel === undefined && values.layout === undefined ? defaultBenchBuilds() : buildsArg(NAME, values, { multi: true, dflt: "all" }).map((b) => b.name);
    const test = choice(NAME, "test", String(values.test ?? "all"), [...ALL_TESTS, "all"] as const);
    const quick = values.quick === true;
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

    const tests: readonly BenchTest[] = test === "all" ? ALL_TESTS : [test];
    const warmupMs = Math.min(timing.warmupMs, timeMs);
    if (!jsonOnly) io.out(`ppemu bench: ${builds.join(", ")}; ${timeMs} ms per test (+${warmupMs} ms warm-up)`);
    const json = await runBench({
      kernels: builds,
      tests,
      timeMs,
      warmupMs,
      inline: values.inline === true,
      onResult: jsonOnly ? undefined : (r) => io.out(benchLine(r)),
    });
    if (jsonOnly) {
      io.out(JSON.stringify(json, null, 2));
      return 0;
    }
    io.out(["", ratioTable(json.results), "", benchLegend()].join("\n"));
    if (jsonTarget !== undefined) {
      writeOutputFile(NAME, "--json", jsonTarget, jsonFd, JSON.stringify(json, null, 2) + "\n");
      io.out(`wrote ${jsonTarget}`);
    }
    return 0;
  },
};
