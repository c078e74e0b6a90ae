/**
 * `ppemu stress`: real CPUs (worker threads) on one machine per kernel build, round after round of
 * NAPI polling, cross-CPU returns and a destroy + unbind mid-run, with the invariants checked after
 * every round (src/scenario/stress.ts).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Command, parse, choice, intArg, buildsArg, buildsHelp, unexpectedArgument, UsageError, openOutputFile, writeOutputFile } from "./common.js";
import { traceFilterArg } from "./cmd-scenario.js";
import { TRACE_BUF_RECORDS } from "../trace/ftrace.js";
import { runStress, STRESS_DEFAULTS, type StressResult } from "../scenario/stress.js";
import { MAX_NR_CPUS } from "../smp/percpu.js";
import { jsonDocument, jsonText } from "../report/json.js";

const help = (): string => `usage: ppemu stress [--kernel B|B,C|all | --layout L|all] [--cpus N] [--seconds S] [--seed N]
                    [--round-ms MS] [--pool-size S] [--preempt voluntary|full] [--keep-going]
                    [--trace FILE|- [--trace-filter E,...]] [--dmesg]
                    [--image-dir DIR] [--json]

Runs N CPUs as worker threads on one SharedArrayBuffer machine per kernel build. CPU 0 is the
driver: it polls NAPI (softirq, napi->list_owner set while it polls) and hands pages to CPUs 1…N-1,
which return them with page_pool_put_full_page(allow_direct=false), half in softirq, some held and
returned out of order. Each round CPU 0 pauses the returners once and checks that hold - release
is exactly what the cache, the ring and the CPUs hold; then, while they are still returning, it
disables NAPI, destroys the pool, waits a grace period (unregister_netdev's synchronize_net) and
unbinds the device, and runs page_pool_release_retry until the pool is freed. After every round:
every frame accounted for, no page handed out twice or lost, every mapping unmapped exactly once,
no DMA unmap or sync after the unbind on a build that fixes the bug (classic's are counted: the
bug, by design). A violation stops the run, prints what broke and writes the machine's memory image.
A violation is of one of two kinds: a broken invariant of the machine (a page lost or handed out
twice, a frame nobody accounts for: a ppemu bug or a memory corruption), or a diagnostic the
emulated kernel printed (a DMA-API error or a WARN on a build that fixes the bug: a race that build
has).

${buildsHelp(true)}
                    (default: all)
  --cpus N          CPUs of each machine, 2…${MAX_NR_CPUS} (default ${STRESS_DEFAULTS.cpus})
  --seconds S       seconds of rounds per build (default ${STRESS_DEFAULTS.seconds})
  --seed N          seeds the CPUs' choices (default ${STRESS_DEFAULTS.seed})
  --round-ms MS     ms of NAPI polling per round before the destroy (default ${STRESS_DEFAULTS.roundMs})
  --pool-size S     page_pool pool_size (default ${STRESS_DEFAULTS.poolSize})
  --preempt M       the kernel's preemption model for process-context returns: voluntary
                    (PREEMPT_NONE/VOLUNTARY: kernel code runs to a schedule point, so a grace period
                    waits for it; the default) or full (CONFIG_PREEMPT: preemptible anywhere outside
                    softirq and rcu_read_lock())
  --keep-going      count the emulated kernel's diagnostics and go on (a broken invariant still stops)
  --image-dir DIR   where a violation's image goes: DIR/ppemu-stress-<kernel>.img (default .)
  --trace FILE|-    record the page_pool tracepoints on every CPU (each its own buffer, the last
                    ${TRACE_BUF_RECORDS} events kept), merged by timestamp as trace_pipe prints them; - prints
                    only the trace on stdout, FILE writes it there and prints the normal output
  --trace-filter E,...  with --trace: only these events (default all four)
  --dmesg           then each build's kernel log as dmesg prints it
  --json            {"schema": 1, "command": "stress", "results": [one object per build]}
                    (schemas/stress.schema.json)
Progress goes to stderr when it is a terminal. Exit status 1 when a build had a violation.`;

const COLUMNS: readonly [string, (r: StressResult) => string][] = [
  ["kernel", (r) => r.kernel],
  ["layout", (r) => r.layout],
  ["rounds", (r) => String(r.rounds)],
  ["handed out", (r) => String(r.handed_out)],
  ["returned cross-CPU", (r) => String(r.returned_cross_cpu)],
  ["in softirq", (r) => String(r.returned_in_softirq)],
  ["during/after destroy", (r) => String(r.returned_after_destroy)],
  ["unmaps after unbind", (r) => (r.unmaps_after_unbind === 0 || r.violations !== 0 ? String(r.unmaps_after_unbind) : `${r.unmaps_after_unbind} (the bug)`)],
  ["kernel diagnostics", (r) => String(r.kernel_diagnostics)],
  ["violations", (r) => (r.violations === 0 ? "0" : `1 (${r.violation_kind})`)],
];

export function stressTable(results: readonly StressResult[]): string {
  const rows = [COLUMNS.map(([h]) => h), ...results.map((r) => COLUMNS.map(([, f]) => f(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd()).join("\n") + "\n";
}

export const stressCommand: Command = {
  name: "stress",
  summary: "CPUs as worker threads on one machine: cross-CPU returns, destroy and unbind mid-run, invariants after every round",
  get help() {
    return help();
  },
  async run(argv, io) {
    const { values, positionals } = parse("stress", argv, {
      kernel: { type: "string" },
      layout: { type: "string" },
      cpus: { type: "string" },
      seconds: { type: "string" },
      seed: { type: "string" },
      "round-ms": { type: "string" },
      "pool-size": { type: "string" },
      "image-dir": { type: "string" },
      preempt: { type: "string" },
      "keep-going": { type: "boolean" },
      trace: { type: "string" },
      "trace-filter": { type: "string" },
      dmesg: { type: "boolean" },
      json: { type: "boolean" },
    });
    if (positionals.length > 0) throw new UsageError(unexpectedArgument("stress", positionals[0]!, values));
    const builds = buildsArg("stress", values, { multi: true, dflt: "all" });
    const cpus = intArg("stress", "cpus", values.cpus as string | undefined, STRESS_DEFAULTS.cpus, 2, MAX_NR_CPUS);
    const seconds = intArg("stress", "seconds", values.seconds as string | undefined, STRESS_DEFAULTS.seconds, 1, 86_400);
    const seed = intArg("stress", "seed", values.seed as string | undefined, STRESS_DEFAULTS.seed, 0, 0xffffffff);
    const roundMs = intArg("stress", "round-ms", values["round-ms"] as string | undefined, STRESS_DEFAULTS.roundMs, 1, 60_000);
    const poolSize = intArg("stress", "pool-size", values["pool-size"] as string | undefined, STRESS_DEFAULTS.poolSize, 1, 32768);
    const preempt = choice("stress", "preempt", (values.preempt as string | undefined) ?? "voluntary", ["voluntary", "full"] as const);
    const imageDir = (values["image-dir"] as string | undefined) ?? ".";
    const trace = values.trace as string | undefined;
    if (values["trace-filter"] !== undefined && trace === undefined) throw new UsageError("ppemu stress: --trace-filter needs --trace FILE|-");
    if (trace === "-" && values.json === true) throw new UsageError("ppemu stress: --trace - prints only the trace on stdout: drop --json (or trace to a FILE)");
    const traceEvents = traceFilterArg("stress", values["trace-filter"] as string | undefined);
    const dmesg = values.dmesg === true;
    if (dmesg && (values.json === true || trace === "-")) throw new UsageError("ppemu stress: --dmesg prints each build's kernel log after the table: drop --json and --trace - (or trace to a FILE)");
    const logs: string[] = [];
    // Opened now, written at the end: a name that cannot be created fails before the run.
    const traceFd = trace !== undefined && trace !== "-" ? openOutputFile("stress", "--trace", trace) : -1;
    const traces: string[] = [];
    const tty = process.stderr.isTTY === true;
    const results: StressResult[] = [];
    const notes: string[] = [];
    const t0 = Date.now();
    const total = builds.length * seconds * 1000;
    for (const [k, b] of builds.entries()) {
      const run = await runStress({
        kernel: b,
        cpus,
        seconds,
        seed,
        roundMs,
        poolSize,
        preempt,
        keepGoing: values["keep-going"] === true,
        ...(trace !== undefined ? { trace: { events: traceEvents } } : {}),
        ...(dmesg ? { dmesg: true } : {}),
        onProgress: tty
          ? (p) => {
              const done = k * seconds * 1000 + p.elapsedMs;
              const rate = p.rounds / Math.max(1, p.elapsedMs / 1000);
              process.stderr.write(
                `\rppemu stress: ${b.name} (${k + 1}/${builds.length}) round ${p.rounds}, ${rate.toFixed(1)} rounds/s, ${Math.round((100 * done) / total)} % done, ${Math.max(0, Math.round((total - done) / 1000))} s left   `,
              );
            }
          : undefined,
      });
      results.push(run.result);
      if (run.dmesg !== undefined) logs.push(`dmesg (${b.name}):\n${run.dmesg || "(empty)\n"}`);
      if (run.trace !== undefined) traces.push((builds.length > 1 ? `# kernel ${b.name}\n` : "") + run.trace);
      if (!run.image && run.result.first_kernel_diagnostic) notes.push(`${b.name}: ${run.result.first_kernel_diagnostic}`);
      if (run.image) {
        const file = join(imageDir, `ppemu-stress-${b.name}.img`);
        writeFileSync(file, run.image);
        notes.push(`${b.name}: ${run.result.violation}\n  wrote ${file} (${run.image.length} bytes): ppemu explain ADDR --image ${file}`);
      }
    }
    if (tty) process.stderr.write(`\r${" ".repeat(100)}\r`);
    const status = results.some((r) => r.violations !== 0) ? 1 : 0;
    if (trace === "-") {
      io.out(traces.join(""));
      return status;
    }
    if (trace !== undefined) {
      const text = traces.join("");
      writeOutputFile("stress", "--trace", trace, traceFd, text);
      notes.push(`wrote ${trace} (${text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).length} trace lines; each CPU keeps its last ${TRACE_BUF_RECORDS} events)`);
    }
    if (values.json) {
      io.out(jsonText(jsonDocument("stress", { cpus, seconds, seed, preempt, results })));
    } else {
      io.out(`ppemu stress: ${cpus} CPUs (CPU 0 drives; ${cpus - 1} return${cpus === 2 ? "s" : ""}), ${seconds} s per build, seed ${seed}, preempt ${preempt}; ${((Date.now() - t0) / 1000).toFixed(1)} s in all\n\n`);
      io.out(stressTable(results));
      if (notes.length > 0) io.out("\n" + notes.join("\n"));
      for (const log of logs) io.out("\n" + log);
    }
    return status;
  },
};
