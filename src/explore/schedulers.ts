/**
 * The race explorer's schedulers: which CPU runs next at a preemption point.
 *
 * The explorer runs one CPU at a time. At each point the running CPU stops, the explorer works out
 * which CPUs could take the next step (not blocked on a lock another CPU holds, not finished) and
 * asks the scheduler to pick one. A scheduler sees only CPU numbers, never the machine: it is the
 * explorer's own state, and the same scheduler drives every build and program.
 *
 * One scheduler drives many executions: `newExecution()` before each (the explorer resets the
 * machine in between), `next()` at each step, `schedule()` for the choices made so far, which
 * `ReplayScheduler` plays back. Every choice comes from the seed and the runnable sets: no clock,
 * no Math.random, so a seed and a program give the same run on every machine.
 *
 *   RandomScheduler       uniform among the runnable CPUs at every step
 *   PctScheduler          PCT (Burckhardt et al., ASPLOS 2010): finds a bug of depth d with
 *                         probability ≥ 1/(n·k^(d−1)) per execution
 *   BoundedDfsScheduler   every schedule with at most K preemptions, each once
 *   ReplayScheduler       the choices of a Schedule, checked against the runnable sets
 *
 * A preemption is a switch away from a CPU that could have gone on (`isPreemption`); switching
 * when the running CPU blocked or finished is free. Bugs need few preemptions (Musuvathi and
 * Qadeer, PLDI 2007), which is why the bounded search and PCT's depth count them.
 */
import { PpemuError, checkInt, showValue } from "../errors.js";
import { mulberry32 } from "../prng.js";
import { MAX_NR_CPUS } from "../smp/percpu.js";

export interface Scheduler {
  readonly name: string;
  /** Start the next execution; false when the scheduler has nothing left to try. */
  newExecution(): boolean;
  /**
   * Pick the CPU to run next from `runnable` (non-empty, ascending CPU numbers); `current` is the
   * CPU that ran the last step, or -1 at the start.
   */
  next(runnable: readonly number[], current: number): number;
  /** The execution so far as a replayable value. */
  schedule(): Schedule;
}

/**
 * One execution: `choices[i]` is the CPU that ran step i. `seed` is the execution's own seed: a
 * program that draws random values seeds them from it, and for a random run
 * `new RandomScheduler(seed, 1)` makes the same choices again. Bounded DFS runs every execution
 * with seed 0 (its tree holds only if every execution is the same program).
 */
export interface Schedule {
  readonly seed: number;
  readonly choices: readonly number[];
}

/** The longest schedule `parseSchedule` accepts: a typo in a count must not allocate gigabytes. */
export const MAX_SCHEDULE_STEPS = 1 << 20;

/** Switching from `current` to `choice` is a preemption: `current` could have taken the step. */
export function isPreemption(runnable: readonly number[], current: number, choice: number): boolean {
  return choice !== current && current >= 0 && runnable.includes(current);
}

// ---- the text form ----

/**
 * `s<seed>:<run>.<run>…`, a run being `<cpu>` or `<cpu>*<count>` for `count` steps in a row of one
 * CPU: `s7:0*12.1*3.0` is CPU 0 for 12 steps, CPU 1 for 3, CPU 0 for 1. A CPU runs many steps
 * between switches (a few hundred steps, a handful of preemptions), so the runs keep a trace to
 * one line. `*` is a shell glob character: a command line quotes the schedule (zsh refuses an
 * unquoted glob that matches no file).
 */
export function formatSchedule(s: Schedule): string {
  const runs: string[] = [];
  const c = s.choices;
  for (let i = 0; i < c.length; ) {
    let j = i + 1;
    while (j < c.length && c[j] === c[i]) j++;
    runs.push(j - i === 1 ? `${c[i]}` : `${c[i]}*${j - i}`);
    i = j;
  }
  return `s${s.seed >>> 0}:${runs.join(".")}`;
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** The inverse of `formatSchedule` (surrounding white space aside); throws EINVAL_ARG on anything else. */
export function parseSchedule(text: string): Schedule {
  const what = `schedule ${showValue(text)}`;
  const bad = (why: string): never => {
    throw new PpemuError("EINVAL_ARG", `${what}: ${why} (expected s<seed>:<cpu>[*<count>].…, e.g. s1:0*3.1.0)`);
  };
  if (typeof text !== "string") bad("not a string");
  const t = text.trim();
  const colon = t.indexOf(":");
  if (t[0] !== "s" || colon < 0) bad("no s<seed>: prefix");
  const seedText = t.slice(1, colon);
  if (!DECIMAL.test(seedText) || Number(seedText) > 0xffff_ffff) bad(`seed ${showValue(seedText)} is not an integer 0 … 4294967295`);
  const choices: number[] = [];
  const body = t.slice(colon + 1);
  const runs = body === "" ? [] : body.split(".");
  runs.forEach((run, i) => {
    const star = run.indexOf("*");
    const cpuText = star < 0 ? run : run.slice(0, star);
    const countText = star < 0 ? "1" : run.slice(star + 1);
    if (!DECIMAL.test(cpuText) || !DECIMAL.test(countText)) bad(`run ${i + 1} ${showValue(run)} is not <cpu> or <cpu>*<count>`);
    const cpu = Number(cpuText);
    const count = Number(countText);
    if (cpu >= MAX_NR_CPUS) bad(`run ${i + 1} ${showValue(run)}: CPU ${cpu} is not 0 … ${MAX_NR_CPUS - 1}`);
    if (count < 1) bad(`run ${i + 1} ${showValue(run)}: a count is at least 1`);
    if (choices.length + count > MAX_SCHEDULE_STEPS) bad(`longer than ${MAX_SCHEDULE_STEPS} steps`);
    for (let k = 0; k < count; k++) choices.push(cpu);
  });
  return { seed: Number(seedText), choices };
}

// ---- shared by the schedulers ----

/**
 * The seeds of successive executions: the first is `seed` itself, so an execution found by a run
 * of many replays alone from its own seed; the rest come from a stream of their own, apart from
 * the choices' stream.
 */
function executionSeeds(seed: number): () => number {
  const stream = mulberry32((seed ^ 0x9e37_79b9) >>> 0);
  let first = true;
  return () => {
    if (first) {
      first = false;
      return seed;
    }
    return Math.floor(stream() * 0x1_0000_0000) >>> 0;
  };
}

/** `next()`'s contract, checked once per call: the explorer is the only caller, a slip here is its bug. */
function checkStep(who: string, started: boolean, runnable: readonly number[]): void {
  if (!started) throw new PpemuError("EINVAL_ARG", `${who}: next() before newExecution()`);
  if (runnable.length === 0) throw new PpemuError("EINVAL_ARG", `${who}: next() with no runnable CPU (a deadlock is the explorer's to report)`);
}

/** The scheduler's uint32 seed, as the CLI's `--seed` gives it. */
function checkSeed(who: string, seed: number): number {
  return checkInt(`${who}: seed`, seed, 0, 0xffff_ffff);
}

// ---- random ----

/**
 * Uniform among the runnable CPUs at every step, `executions` times. Each execution draws from a
 * PRNG seeded with its own seed (`schedule().seed`), so one found among thousands reruns alone.
 */
export class RandomScheduler implements Scheduler {
  readonly name = "random";
  private readonly seeds: () => number;
  private readonly executions: number;
  private started = 0;
  private seed = 0;
  private rng: () => number = () => 0;
  private choices: number[] = [];

  constructor(seed: number, executions: number) {
    this.seeds = executionSeeds(checkSeed("RandomScheduler", seed));
    this.executions = checkInt("RandomScheduler: executions", executions, 0, Number.MAX_SAFE_INTEGER);
  }

  newExecution(): boolean {
    if (this.started >= this.executions) return false;
    this.started++;
    this.seed = this.seeds();
    this.rng = mulberry32(this.seed);
    this.choices = [];
    return true;
  }

  next(runnable: readonly number[], _current: number): number {
    checkStep(this.name, this.started > 0, runnable);
    const cpu = runnable[Math.floor(this.rng() * runnable.length)]!;
    this.choices.push(cpu);
    return cpu;
  }

  schedule(): Schedule {
    return { seed: this.seed, choices: this.choices.slice() };
  }
}

// ---- PCT ----

/**
 * Probabilistic concurrency testing, as shuttle and Coyote run it. At the start of an execution
 * every CPU gets a distinct random priority, and d−1 distinct change points are drawn from
 * [1, stepsHint]. The highest-priority runnable CPU always runs; at a change point k, once k
 * contested steps (steps where more than one CPU was runnable) have run, the CPU that ran last
 * drops below every other before the next contested step is chosen.
 *
 * Only contested steps count: a change point in a stretch where one CPU is runnable would be
 * wasted (the paper's §4.1). `stepsHint` grows to the most contested steps an execution has had,
 * so a program longer than the caller guessed still gets change points all along it.
 *
 * Priorities are handed out as CPUs first show up runnable, each put at a uniformly random place
 * in the order so far (an insertion shuffle: the order is uniform over the CPUs seen), since the
 * scheduler is not told how many CPUs the program has. With d = 1 there are no change points: a
 * CPU is switched away from only when a higher one becomes runnable (it unblocked, or showed up).
 */
export class PctScheduler implements Scheduler {
  readonly name = "pct";
  private readonly seeds: () => number;
  private readonly depth: number;
  private readonly executions: number;
  private stepsHint: number;
  private started = 0;
  private seed = 0;
  private rng: () => number = () => 0;
  /** CPUs from the highest priority down. */
  private order: number[] = [];
  private changePoints = new Set<number>();
  private contested = 0;
  private longest = 0;
  private choices: number[] = [];

  constructor(seed: number, depth: number, executions: number, stepsHint: number) {
    this.seeds = executionSeeds(checkSeed("PctScheduler", seed));
    this.depth = checkInt("PctScheduler: depth", depth, 1, 1000);
    this.executions = checkInt("PctScheduler: executions", executions, 0, Number.MAX_SAFE_INTEGER);
    this.stepsHint = checkInt("PctScheduler: stepsHint", stepsHint, 1, MAX_SCHEDULE_STEPS);
  }

  newExecution(): boolean {
    if (this.started >= this.executions) return false;
    this.started++;
    this.stepsHint = Math.max(this.stepsHint, this.longest);
    this.seed = this.seeds();
    this.rng = mulberry32(this.seed);
    this.order = [];
    this.changePoints = sampleDistinct(this.rng, Math.min(this.depth - 1, this.stepsHint), this.stepsHint);
    this.contested = 0;
    this.choices = [];
    return true;
  }

  next(runnable: readonly number[], current: number): number {
    checkStep(this.name, this.started > 0, runnable);
    const order = this.order;
    for (const cpu of runnable) {
      if (!order.includes(cpu)) order.splice(Math.floor(this.rng() * (order.length + 1)), 0, cpu);
    }
    if (runnable.length > 1) {
      if (this.changePoints.has(this.contested) && current >= 0) {
        order.splice(order.indexOf(current), 1);
        order.push(current);
      }
      this.contested++;
      if (this.contested > this.longest) this.longest = this.contested;
    }
    const cpu = order.find((c) => runnable.includes(c))!;
    this.choices.push(cpu);
    return cpu;
  }

  schedule(): Schedule {
    return { seed: this.seed, choices: this.choices.slice() };
  }
}

/** `count` distinct integers of [1, n], uniformly (Floyd's algorithm: `count` draws, whatever n is). */
function sampleDistinct(rng: () => number, count: number, n: number): Set<number> {
  const out = new Set<number>();
  for (let j = n - count + 1; j <= n; j++) {
    const t = 1 + Math.floor(rng() * j);
    out.add(out.has(t) ? j : t);
  }
  return out;
}

// ---- bounded DFS ----

/** One step of the tree: what was runnable, the choices the bound allows there, and which is taken. */
interface Frame {
  readonly runnable: readonly number[];
  readonly current: number;
  /** The running CPU first (no preemption), then the others ascending; only it once the bound is spent. */
  readonly options: readonly number[];
  at: number;
  /** Preemptions before this step. */
  readonly before: number;
}

function preemptionsAfter(f: Frame): number {
  return f.before + (isPreemption(f.runnable, f.current, f.options[f.at]!) ? 1 : 0);
}

/**
 * Every schedule with at most `maxPreemptions` preemptions, each exactly once, depth first, until
 * the tree is exhausted or `maxExecutions` executions have started (CHESS's iterative context
 * bounding at one bound; loom's preemption bound without its DPOR).
 *
 * The tree is a stack of frames, one per step of the execution being run: the machine is reset
 * between executions, so the same choices give the same runnable sets, and the next execution
 * replays the stack up to its deepest frame with an untried option, takes that option, and goes on
 * with first options below it. A runnable set that differs from the one recorded means the program
 * is not deterministic (a real clock, a PRNG not seeded from the schedule): the search would be
 * wrong, so it stops with an error.
 *
 * Executions come in a fixed order: the running CPU before the others at every step, so the first
 * is the serial one (CPU 0 to its end, then the lowest runnable) and schedules with preemptions
 * late come before those with preemptions early.
 */
export class BoundedDfsScheduler implements Scheduler {
  readonly name = "bounded";
  private readonly bound: number;
  private readonly maxExecutions: number;
  private readonly frames: Frame[] = [];
  private step = 0;
  private started = 0;
  private done = false;
  private treeDone = false;

  constructor(maxPreemptions: number, maxExecutions: number = Number.MAX_SAFE_INTEGER) {
    this.bound = checkInt("BoundedDfsScheduler: maxPreemptions", maxPreemptions, 0, MAX_SCHEDULE_STEPS);
    this.maxExecutions = checkInt("BoundedDfsScheduler: maxExecutions", maxExecutions, 0, Number.MAX_SAFE_INTEGER);
  }

  /** Executions started: the number of schedules with at most K preemptions once `exhausted`. */
  get explored(): number {
    return this.started;
  }

  /** Every schedule within the bound has run (false when `maxExecutions` stopped the search first). */
  get exhausted(): boolean {
    return this.treeDone;
  }

  /** Preemptions in the execution so far. */
  get preemptions(): number {
    return this.step === 0 ? 0 : preemptionsAfter(this.frames[this.step - 1]!);
  }

  newExecution(): boolean {
    if (this.done) return false;
    if (this.started > 0 && !this.backtrack()) {
      this.done = this.treeDone = true;
      return false;
    }
    if (this.started >= this.maxExecutions) {
      this.done = true;
      return false;
    }
    this.started++;
    this.step = 0;
    return true;
  }

  /**
   * Move to the next schedule: the deepest step that has an untried option takes it. Steps the
   * last execution did not reach are dropped first (an explorer may stop one at a violation:
   * every schedule with that prefix fails there too).
   */
  private backtrack(): boolean {
    const frames = this.frames;
    frames.length = this.step;
    while (frames.length > 0) {
      const f = frames[frames.length - 1]!;
      if (f.at + 1 < f.options.length) {
        f.at++;
        return true;
      }
      frames.pop();
    }
    return false;
  }

  next(runnable: readonly number[], current: number): number {
    checkStep(this.name, this.started > 0 && !this.done, runnable);
    const step = this.step;
    let f = this.frames[step];
    if (f === undefined) {
      const before = step === 0 ? 0 : preemptionsAfter(this.frames[step - 1]!);
      const options = !runnable.includes(current)
        ? runnable.slice()
        : before < this.bound
          ? [current, ...runnable.filter((c) => c !== current)]
          : [current];
      f = { runnable: runnable.slice(), current, options, at: 0, before };
      this.frames.push(f);
    } else if (f.current !== current || f.runnable.length !== runnable.length || f.runnable.some((c, i) => c !== runnable[i])) {
      const where = (cur: number) => (cur < 0 ? "at the start" : `after CPU ${cur}`);
      throw new PpemuError(
        "EINVAL_ARG",
        `bounded DFS: the program is not deterministic: step ${step} has runnable ${runnable.join(",")} ${where(current)}, ` +
          `where an earlier execution with the same choices had ${f.runnable.join(",")} ${where(f.current)}`,
      );
    }
    this.step++;
    return f.options[f.at]!;
  }

  schedule(): Schedule {
    const choices: number[] = [];
    for (let i = 0; i < this.step; i++) choices.push(this.frames[i]!.options[this.frames[i]!.at]!);
    return { seed: 0, choices };
  }
}

// ---- replay ----

export interface ReplayOptions {
  /**
   * Past the schedule's last choice, go on without preempting (the running CPU while it can, else
   * the lowest runnable) instead of throwing: how a shrinker tries a schedule cut short.
   * @defaultValue false
   */
  readonly extend?: boolean;
}

/**
 * One execution, the choices of `schedule`. A choice whose CPU is not runnable means the program
 * or the build is not the one the schedule was made on: that is an error, not a guess.
 */
export class ReplayScheduler implements Scheduler {
  readonly name = "replay";
  private readonly recorded: Schedule;
  private readonly extend: boolean;
  private started = false;
  private done = false;
  private choices: number[] = [];

  constructor(schedule: Schedule, opts: ReplayOptions = {}) {
    this.recorded = { seed: schedule.seed, choices: schedule.choices.slice() };
    this.extend = opts.extend ?? false;
  }

  newExecution(): boolean {
    if (this.started) {
      this.done = true;
      return false;
    }
    this.started = true;
    return true;
  }

  next(runnable: readonly number[], current: number): number {
    checkStep(this.name, this.started && !this.done, runnable);
    const step = this.choices.length;
    let cpu: number;
    if (step < this.recorded.choices.length) {
      cpu = this.recorded.choices[step]!;
      if (!runnable.includes(cpu)) {
        throw new PpemuError("EINVAL_ARG", `schedule diverges at step ${step}: CPU ${cpu} is not runnable (runnable: ${runnable.join(",")})`);
      }
    } else if (this.extend) {
      cpu = runnable.includes(current) ? current : runnable[0]!;
    } else {
      throw new PpemuError("EINVAL_ARG", `schedule ends at step ${step} but the program goes on (runnable: ${runnable.join(",")})`);
    }
    this.choices.push(cpu);
    return cpu;
  }

  schedule(): Schedule {
    return { seed: this.recorded.seed, choices: this.choices.slice() };
  }
}

