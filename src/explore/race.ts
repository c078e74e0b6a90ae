/**
 * `ppemu race`: a race program on a kernel build, explored schedule after schedule (src/explore/
 * explorer.ts) under one scheduler (src/explore/schedulers.ts). For the first violation of each
 * kind the schedule is shrunk (a preemption at a time taken out, the run going on without
 * preempting, while it still fails the same way) and kept with its per-CPU trace, its replay
 * command and its memory image.
 */
import { dmesgText } from "../report/dmesg.js";
import { Tracer, traceText, type TraceOptions } from "../trace/ftrace.js";
import { resolveBuild } from "../builds/index.js";
import type { KernelBuild } from "../builds/types.js";
import { PpemuError, checkInt, showValue } from "../errors.js";
import { compiledModule } from "../smp/runner.js";
import { Explorer, type Violation, type ViolationKind, type ProgramSource } from "./explorer.js";
import { PROGRAMS } from "./programs.js";
import { loadRaceProgram } from "./explore_cpu.js";
import type { RaceProgram } from "./program.js";
import {
  BoundedDfsScheduler,
  PctScheduler,
  RandomScheduler,
  ReplayScheduler,
  formatSchedule,
  parseSchedule,
  type Scheduler,
} from "./schedulers.js";

export type SchedulerName = "random" | "pct" | "bounded" | "replay";

export interface RaceOptions {
  readonly kernel: KernelBuild | string;
  /**
   * Record these tracepoints (the replay scheduler only: one schedule): the program's setup and
   * checks on this thread, each CPU in its own buffer; `onTrace` gets them merged as trace_pipe prints them.
   */
  readonly trace?: TraceOptions;
  readonly onTrace?: (text: string) => void;
  /** The replay scheduler only: the machine's kernel log after the schedule, as dmesg prints it. */
  readonly onDmesg?: (text: string) => void;
  /** A standard program's name, or a module file whose default export is a RaceProgram. */
  readonly program: string;
  readonly scheduler?: SchedulerName;
  /** Executions at most (random, PCT; bounded stops earlier when its tree is exhausted). @defaultValue 1000 */
  readonly schedules?: number;
  readonly seed?: number;
  /** Bounded: preemptions per schedule. @defaultValue 2 */
  readonly preemptions?: number;
  /** PCT: depth. @defaultValue 2 */
  readonly depth?: number;
  /** Replay: the schedule text a violation printed. */
  readonly replay?: string;
  /** Shrink each kind's first failing schedule. @defaultValue true */
  readonly shrink?: boolean;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface RaceViolation {
  readonly kind: ViolationKind;
  /** Schedules that failed this way. */
  readonly count: number;
  readonly text: string;
  readonly schedule: string;
  readonly preemptions: number;
  readonly trace: readonly string[];
  readonly replay: string;
  readonly image: Uint8Array;
}

export interface RaceResult {
  readonly kernel: string;
  readonly layout: string;
  readonly program: string;
  readonly scheduler: SchedulerName;
  readonly schedules: number;
  /** Distinct interleavings (distinct choice sequences) among them. */
  readonly distinct: number;
  /** Bounded: every schedule within the bound ran. */
  readonly exhausted: boolean | null;
  readonly steps: number;
  /** Classic's DMA calls through the unbound device: the bug, by design, summed over schedules. */
  readonly by_design: number;
  readonly violations: readonly RaceViolation[];
  readonly ms: number;
}

/** The program and where a worker loads it from. */
export async function findProgram(name: string): Promise<{ program: RaceProgram; source: ProgramSource }> {
  const std = PROGRAMS[name];
  if (std) return { program: std, source: { module: compiledModule(import.meta.url, "./programs.js").href, name } };
  if (!/[./]/.test(name)) throw new PpemuError("EINVAL_ARG", `race: unknown program '${name}' (valid: ${Object.keys(PROGRAMS).join(", ")}, or a file)`);
  try {
    return { program: await loadRaceProgram(name, null), source: { module: name, name: null } };
  } catch (e) {
    throw new PpemuError("EINVAL_ARG", `race: --program ${name}: ${(e as Error).message.split("\n")[0]}`);
  }
}

function makeScheduler(o: RaceOptions): Scheduler {
  const schedules = o.schedules ?? 1000;
  const seed = o.seed ?? 1;
  switch (o.scheduler ?? "bounded") {
    case "random":
      return new RandomScheduler(seed, schedules);
    case "pct":
      return new PctScheduler(seed, o.depth ?? 2, schedules, 64);
    case "bounded":
      // Without --schedules the whole tree within the bound.
      return new BoundedDfsScheduler(o.preemptions ?? 2, o.schedules ?? Number.MAX_SAFE_INTEGER);
    case "replay":
      if (o.replay === undefined) throw new PpemuError("EINVAL_ARG", "race: the replay scheduler needs a schedule (--replay TRACE)");
      return new ReplayScheduler(parseSchedule(o.replay));
  }
}

/** Take preemptions out of a failing schedule while it still fails the same way. */
function shrink(x: Explorer, v: Violation): Violation {
  let best = v;
  for (let round = 0; round < 8; round++) {
    let better: Violation | null = null;
    const c = best.schedule.choices;
    for (let i = c.length - 1; i >= 1 && better === null; i--) {
      if (c[i] === c[i - 1]) continue;
      // The same prefix, then no preemption from step i on.
      const sched = new ReplayScheduler({ seed: best.schedule.seed, choices: c.slice(0, i) }, { extend: true });
      sched.newExecution();
      let e;
      try {
        e = x.execute(sched);
      } catch {
        continue;
      }
      if (e.violation && e.violation.kind === best.kind && e.violation.schedule.choices.length <= c.length) better = e.violation;
    }
    if (better === null) break;
    best = better;
  }
  return best;
}

export async function runRace(opts: RaceOptions): Promise<RaceResult> {
  const build = typeof opts.kernel === "string" ? resolveBuild(opts.kernel) : opts.kernel;
  if (!build) throw new PpemuError("UNKNOWN_BUILD", `race: unknown kernel build ${showValue(opts.kernel)}`);
  if (opts.schedules !== undefined) checkInt("race: schedules", opts.schedules, 1, 100_000_000);
  if (opts.preemptions !== undefined) checkInt("race: preemptions", opts.preemptions, 0, 16);
  if (opts.depth !== undefined) checkInt("race: depth", opts.depth, 1, 16);
  const { program, source } = await findProgram(opts.program);
  const sched = makeScheduler(opts);
  const name = (opts.scheduler ?? "bounded") as SchedulerName;
  const t0 = Date.now();
  if ((opts.trace || opts.onDmesg) && name !== "replay") throw new PpemuError("EINVAL_ARG", "race: a trace or a kernel log is of one schedule: use it with the replay scheduler");
  const tracer = opts.trace ? new Tracer(opts.trace).start() : null;
  let x: Explorer;
  try {
    x = await Explorer.start(build, program, source, opts.trace);
  } catch (e) {
    tracer?.stop();
    throw e;
  }
  const seen = new Set<string>();
  const kinds = new Map<ViolationKind, { count: number; first: Violation }>();
  let schedules = 0;
  let steps = 0;
  let byDesign = 0;
  const total = opts.schedules ?? 1000;
  try {
    while (sched.newExecution()) {
      const e = x.execute(sched);
      schedules++;
      steps += e.steps;
      byDesign += e.byDesign;
      seen.add(sched.schedule().choices.join("."));
      if (e.violation) {
        const k = kinds.get(e.violation.kind);
        if (k) k.count++;
        else kinds.set(e.violation.kind, { count: 1, first: e.violation });
      }
      if (opts.onProgress && schedules % 50 === 0) opts.onProgress(schedules, total);
      if (name === "replay") break;
    }
    const violations: RaceViolation[] = [];
    for (const [kind, { count, first }] of kinds) {
      const v = opts.shrink === false || name === "replay" ? first : shrink(x, first);
      const text = formatSchedule(v.schedule);
      violations.push({
        kind,
        count,
        text: v.text,
        schedule: text,
        preemptions: v.preemptions,
        trace: v.trace,
        replay: `ppemu race --kernel ${build.name} --program ${opts.program} --replay '${text}'`,
        image: v.image,
      });
    }
    return {
      kernel: build.name,
      layout: build.layout.name,
      program: program.name,
      scheduler: name,
      schedules,
      distinct: seen.size,
      exhausted: sched instanceof BoundedDfsScheduler ? sched.exhausted : null,
      steps,
      by_design: byDesign,
      violations,
      ms: Date.now() - t0,
    };
  } finally {
    const cpus = await x.close();
    opts.onDmesg?.(dmesgText(x.sys.m.mem));
    tracer?.stop();
    if (tracer) opts.onTrace?.(traceText([tracer.rows(), ...cpus]));
  }
}


