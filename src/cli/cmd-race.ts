/**
 * `ppemu race`: the race explorer on kernel builds side by side (src/explore/race.ts).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Command, parse, choice, intArg, buildsArg, buildsHelp, unexpectedArgument, UsageError, openOutputFile, writeOutputFile } from "./common.js";
import { traceFilterArg } from "./cmd-scenario.js";
import { runRace, type RaceResult, type SchedulerName } from "../explore/race.js";
export { raceTable };
import { PROGRAMS } from "../explore/programs.js";
import { jsonText } from "../report/json.js";
import { raceTable, raceDocument } from "../report/race.js";

const SCHEDULERS: readonly SchedulerName[] = ["bounded", "pct", "random", "replay"];

const help = (): string => `usage: ppemu race [--kernel B|B,C|all | --layout L|all] [--program P|FILE] [--scheduler S]
                  [--schedules N] [--seed S] [--preemptions K] [--depth D] [--replay TRACE]
                  [--save DIR] [--no-shrink] [--trace FILE|- [--trace-filter E,...]] [--dmesg] [--json]

Explores the interleavings of a race program's CPUs deterministically: the CPUs are worker threads
that run one at a time, each stopping at preemption points named after the kernel code they sit in
(spin_lock / spin_unlock of the pool's locks, page_pool_recycle_in_ring:produced,
page_pool_release:inflight, page_pool_item_unmap:test_mapped, …); the scheduler picks who runs
next. The machine is reset between schedules. After every step: a KASAN-like shadow of the slab
and the page allocator (a freed struct page_pool, item block, xarray node or page touched), the
device's DMA counters (an unmap or sync after the unbind on a build that fixes the bug, a double
unmap); after every schedule the program's checks and frame accounting. The first failing schedule
of each kind is shrunk and printed as a per-CPU trace with the command that replays it.

${buildsHelp(true)}
                    (default: all)
  --program P       a standard program (${Object.keys(PROGRAMS).join(", ")};
                    default destroy-vs-return) or a module FILE whose default export is a program
                    (see src/explore/program.ts)
  --scheduler S     bounded (every schedule with at most K preemptions; the default), pct, random
                    or replay
  --schedules N     at most N schedules (default: bounded runs its whole tree, pct and random 1000)
  --seed S          random and pct (default 1)
  --preemptions K   bounded (default 2)
  --depth D         pct (default 2)
  --replay TRACE    with --scheduler replay (implied): one schedule, as a violation printed it
  --save DIR        write each violation's memory image to DIR/ppemu-race-<kernel>-<kind>.img
  --no-shrink       print the first failing schedules as found
  --trace FILE|-    with --replay: the page_pool tracepoints of that schedule (the setup and checks on this
                    thread, each CPU in its own buffer), merged by timestamp as trace_pipe prints them;
                    - prints only the trace, FILE writes it and prints the normal output
  --trace-filter E,...  with --trace: only these events (default all four)
  --dmesg           with --replay: then the machine's kernel log after that schedule, as dmesg prints it
  --json            {"schema": 1, "command": "race", "results": [one object per build]}`;

/** The trace as printed: step numbers, and a run of the same step shown once with its count. */
export function traceLines(trace: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < trace.length; ) {
    // The shortest run of 1–4 lines that repeats from here, and how often.
    let period = 1;
    let times = 1;
    for (let p = 1; p <= 4 && i + 2 * p <= trace.length; p++) {
      let n = 1;
      while (i + (n + 1) * p <= trace.length && trace.slice(i + n * p, i + (n + 1) * p).every((t, k) => t === trace[i + k])) n++;
      if (n > 1 && n * p > times * period) {
        period = p;
        times = n;
      }
    }
    const span = times === 1 ? String(i + 1) : `${i + 1}–${i + times * period}`;
    if (times === 1) out.push(`    ${span.padStart(7)}  ${trace[i]}`);
    else if (period === 1) out.push(`    ${span.padStart(7)}  ${trace[i]} (× ${times})`);
    else {
      out.push(`    ${span.padStart(7)}  × ${times}:`);
      for (let k = 0; k < period; k++) out.push(`             ${trace[i + k]}`);
    }
    i += times * period;
  }
  return out;
}

export const raceCommand: Command = {
  name: "race",
  summary: "explore CPU interleavings of destroy vs. return deterministically: KASAN-like and DMA checks after every step",
  get help() {
    return help();
  },
  async run(argv, io) {
    const { values, positionals } = parse("race", argv, {
      kernel: { type: "string" },
      layout: { type: "string" },
      program: { type: "string" },
      scheduler: { type: "string" },
      schedules: { type: "string" },
      seed: { type: "string" },
      preemptions: { type: "string" },
      depth: { type: "string" },
      replay: { type: "string" },
      save: { type: "string" },
      "no-shrink": { type: "boolean" },
      trace: { type: "string" },
      "trace-filter": { type: "string" },
      dmesg: { type: "boolean" },
      json: { type: "boolean" },
    });
    if (positionals.length > 0) throw new UsageError(unexpectedArgument("race", positionals[0]!, values));
    const replay = values.replay as string | undefined;
    const scheduler = choice("race", "scheduler", (values.scheduler as string | undefined) ?? (replay ? "replay" : "bounded"), SCHEDULERS);
    if (scheduler === "replay" && replay === undefined) throw new UsageError("ppemu race: --scheduler replay needs --replay TRACE");
    const builds = buildsArg("race", values, { multi: true, dflt: "all" });
    const program = (values.program as string | undefined) ?? "destroy-vs-return";
    const schedules = values.schedules === undefined ? undefined : intArg("race", "schedules", values.schedules as string, 1000, 1, 100_000_000);
    const seed = intArg("race", "seed", values.seed as string | undefined, 1, 0, 0xffffffff);
    const preemptions = intArg("race", "preemptions", values.preemptions as string | undefined, 2, 0, 16);
    const depth = intArg("race", "depth", values.depth as string | undefined, 2, 1, 16);
    const save = values.save as string | undefined;
    const trace = values.trace as string | undefined;
    if (values["trace-filter"] !== undefined && trace === undefined) throw new UsageError("ppemu race: --trace-filter needs --trace FILE|-");
    if (trace !== undefined && scheduler !== "replay") throw new UsageError("ppemu race: --trace records one schedule: give it with --replay TRACE");
    if (trace === "-" && values.json === true) throw new UsageError("ppemu race: --trace - prints only the trace on stdout: drop --json (or trace to a FILE)");
    const traceEvents = traceFilterArg("race", values["trace-filter"] as string | undefined);
    const traceFd = trace !== undefined && trace !== "-" ? openOutputFile("race", "--trace", trace) : -1;
    const traces: string[] = [];
    const dmesg = values.dmesg === true;
    if (dmesg && scheduler !== "replay") throw new UsageError("ppemu race: --dmesg prints one schedule's kernel log: give it with --replay TRACE");
    if (dmesg && (values.json === true || trace === "-")) throw new UsageError("ppemu race: --dmesg prints the kernel log after the table: drop --json and --trace - (or trace to a FILE)");
    const logs: string[] = [];
    const tty = process.stderr.isTTY === true;
    const results: RaceResult[] = [];
    for (const [k, b] of builds.entries()) {
      results.push(
        await runRace({
          kernel: b,
          program,
          scheduler,
          ...(schedules !== undefined ? { schedules } : {}),
          seed,
          preemptions,
          depth,
          ...(replay !== undefined ? { replay } : {}),
          shrink: values["no-shrink"] !== true,
          ...(dmesg ? { onDmesg: (t: string) => logs.push(`dmesg (${b.name}):\n${t || "(empty)\n"}`) } : {}),
          ...(trace !== undefined ? { trace: { events: traceEvents }, onTrace: (t: string) => traces.push((builds.length > 1 ? `# kernel ${b.name}\n` : "") + t) } : {}),
          ...(tty ? { onProgress: (done: number, total: number) => void process.stderr.write(`\rppemu race: ${b.name} (${k + 1}/${builds.length}) ${done}/${total} schedules   `) } : {}),
        }),
      );
    }
    if (tty) process.stderr.write(`\r${" ".repeat(80)}\r`);
    const failed = results.some((r) => r.violations.length > 0) ? 1 : 0;
    if (trace === "-") {
      io.out(traces.join(""));
      return failed;
    }
    if (trace !== undefined) writeOutputFile("race", "--trace", trace, traceFd, traces.join(""));
    const images: string[] = [];
    if (save !== undefined) {
      for (const r of results) {
        for (const v of r.violations) {
          const file = join(save, `ppemu-race-${r.kernel}-${v.kind}.img`);
          writeFileSync(file, v.image);
          images.push(file);
        }
      }
    }
    if (values.json) {
      io.out(jsonText(raceDocument(program, scheduler, results)));
      return results.some((r) => r.violations.length > 0) ? 1 : 0;
    }
    io.out(`ppemu race: ${program}, scheduler ${scheduler}${scheduler === "bounded" ? ` (≤ ${preemptions} preemptions)` : scheduler === "replay" ? "" : `, seed ${seed}`}\n\n`);
    io.out(raceTable(results));
    for (const r of results) {
      for (const v of r.violations) {
        io.out(`\n${r.kernel}: ${v.kind} (${v.count} schedule${v.count === 1 ? "" : "s"}): ${v.text}\n`);
        io.out(`  trace (${v.trace.length} steps, ${v.preemptions} preemption${v.preemptions === 1 ? "" : "s"}; each line: the CPU that ran, and where it stopped):\n${traceLines(v.trace).join("\n")}\n`);
        io.out(`  replay: ${v.replay}\n`);
      }
    }
    if (images.length > 0) io.out(`\nwrote ${images.join(", ")}: ppemu explain ADDR --image FILE`);
    for (const log of logs) io.out("\n" + log);
    return results.some((r) => r.violations.length > 0) ? 1 : 0;
  },
};
