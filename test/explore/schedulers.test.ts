/**
 * The race explorer's schedulers against a small program model instead of a machine: CPUs that
 * each take a fixed number of steps, some steps blocked until another CPU has done k steps. The
 * model plays the explorer's part (the runnable set at each step, `current`, counting preemptions
 * itself), so the schedulers are checked by a second account of what a preemption is.
 */
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import {
  BoundedDfsScheduler,
  PctScheduler,
  RandomScheduler,
  ReplayScheduler,
  formatSchedule,
  isPreemption,
  parseSchedule,
  MAX_SCHEDULE_STEPS,
  type Schedule,
  type Scheduler,
} from "../../src/explore/schedulers.js";
import { PpemuError } from "../../src/errors.js";
import { FC_SEED, fcParams } from "../fc_seed.js";

// ---- the program model ----

/** CPU `cpu`'s step `step` (from 0) can run only once CPU `on` has done `after` steps. */
interface Wait {
  readonly cpu: number;
  readonly step: number;
  readonly on: number;
  readonly after: number;
}
interface Model {
  /** Steps of each CPU. */
  readonly steps: readonly number[];
  readonly waits?: readonly Wait[];
}
interface Run {
  readonly choices: number[];
  readonly preemptions: number;
}

function runnableOf(m: Model, done: readonly number[]): number[] {
  const out: number[] = [];
  m.steps.forEach((n, cpu) => {
    if (done[cpu]! >= n) return;
    const blocked = (m.waits ?? []).some((w) => w.cpu === cpu && w.step === done[cpu] && done[w.on]! < w.after);
    if (!blocked) out.push(cpu);
  });
  return out;
}

/** One execution of `m` under `s` (after `s.newExecution()`). */
function run(m: Model, s: Scheduler): Run {
  const done = m.steps.map(() => 0);
  const choices: number[] = [];
  let current = -1;
  let preemptions = 0;
  for (;;) {
    const r = runnableOf(m, done);
    if (r.length === 0) {
      if (done.some((d, cpu) => d < m.steps[cpu]!)) throw new Error(`model deadlocks after ${choices.join("")}`);
      return { choices, preemptions };
    }
    const c = s.next(r, current);
    if (!r.includes(c)) throw new Error(`${s.name} picked CPU ${c}, runnable ${r.join(",")}`);
    if (current >= 0 && c !== current && r.includes(current)) preemptions++;
    done[c]!++;
    current = c;
    choices.push(c);
  }
}

/** Every execution `s` runs of `m`; each one's schedule() must be what it ran. */
function explore(m: Model, s: Scheduler): Run[] {
  const runs: Run[] = [];
  while (s.newExecution()) {
    const r = run(m, s);
    expect(s.schedule().choices).toEqual(r.choices);
    runs.push(r);
  }
  return runs;
}

/** Every complete interleaving of `m` by brute force, with its preemptions. */
function enumerate(m: Model): Run[] {
  const out: Run[] = [];
  const done = m.steps.map(() => 0);
  const choices: number[] = [];
  const go = (current: number, preemptions: number) => {
    const r = runnableOf(m, done);
    if (r.length === 0) {
      out.push({ choices: choices.slice(), preemptions });
      return;
    }
    for (const c of r) {
      done[c]!++;
      choices.push(c);
      go(c, preemptions + (current >= 0 && c !== current && r.includes(current) ? 1 : 0));
      choices.pop();
      done[c]!--;
    }
  };
  go(-1, 0);
  return out;
}

const str = (r: Run) => r.choices.join("");
const TWO_BY_TWO: Model = { steps: [2, 2] };
const TWO_BY_THREE: Model = { steps: [3, 3] };

// ---- the text form ----

describe("formatSchedule / parseSchedule", () => {
  it("writes runs of one CPU as cpu*count, single steps bare", () => {
    expect(formatSchedule({ seed: 1, choices: [0, 0, 1, 1, 0] })).toBe("s1:0*2.1*2.0");
    expect(formatSchedule({ seed: 7, choices: [] })).toBe("s7:");
    expect(formatSchedule({ seed: 4294967295, choices: [63, 0, 0, 0, 12] })).toBe("s4294967295:63.0*3.12");
    expect(formatSchedule({ seed: 0, choices: Array(300).fill(1) })).toBe("s0:1*300");
  });

  it("reads its own output back, and non-canonical runs too", () => {
    expect(parseSchedule("s1:0*2.1*2.0")).toEqual({ seed: 1, choices: [0, 0, 1, 1, 0] });
    expect(parseSchedule("  s7:\n")).toEqual({ seed: 7, choices: [] });
    expect(parseSchedule("s3:0*1.0.1*3")).toEqual({ seed: 3, choices: [0, 0, 1, 1, 1] });
  });

  it.each([
    ["", "no s<seed>: prefix"],
    ["1:0", "no s<seed>: prefix"],
    ["s1", "no s<seed>: prefix"],
    ["s-1:0", 'seed "-1" is not an integer 0 … 4294967295'],
    ["s01:0", 'seed "01" is not an integer 0 … 4294967295'],
    ["s4294967296:0", 'seed "4294967296" is not an integer 0 … 4294967295'],
    ["s1:0..1", 'run 2 "" is not <cpu> or <cpu>*<count>'],
    ["s1:0*", 'run 1 "0*" is not <cpu> or <cpu>*<count>'],
    ["s1:a", 'run 1 "a" is not <cpu> or <cpu>*<count>'],
    ["s1:0 1", 'run 1 "0 1" is not <cpu> or <cpu>*<count>'],
    ["s1:0.64", 'run 2 "64": CPU 64 is not 0 … 63'],
    ["s1:0*0", 'run 1 "0*0": a count is at least 1'],
    ["s1:0*1048576.1", `longer than ${MAX_SCHEDULE_STEPS} steps`],
  ])("refuses %j: %s", (text, why) => {
    let err: unknown;
    try {
      parseSchedule(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PpemuError);
    expect((err as PpemuError).code).toBe("EINVAL_ARG");
    expect((err as PpemuError).message).toBe(
      `schedule ${JSON.stringify(text)}: ${why} (expected s<seed>:<cpu>[*<count>].…, e.g. s1:0*3.1.0)`,
    );
  });
});

// ---- bounded DFS ----

describe("BoundedDfsScheduler", () => {
  /*
   * Two CPUs, two steps each (a = CPU 0, b = CPU 1): C(4,2) = 6 interleavings. With two CPUs every
   * switch but the last is a preemption (the last one leaves a CPU that has finished), so a
   * schedule of B runs has B − 2 preemptions:
   *   aabb bbaa: 0      abba baab: 1      abab baba: 2
   * K=0 → 2, K=1 → 4, K=2 → 6. The order is the running CPU first at every step.
   */
  it("2 CPUs × 2 steps: the 2 serial schedules at K=0, 4 at K=1, all 6 at K ≥ 2, in a fixed order", () => {
    const at = (k: number) => {
      const s = new BoundedDfsScheduler(k);
      const runs = explore(TWO_BY_TWO, s);
      expect(s.exhausted).toBe(true);
      expect(s.explored).toBe(runs.length);
      expect(s.newExecution()).toBe(false);
      return runs.map((r) => formatSchedule({ seed: 0, choices: r.choices }));
    };
    expect(at(0)).toEqual(["s0:0*2.1*2", "s0:1*2.0*2"]);
    expect(at(1)).toEqual(["s0:0*2.1*2", "s0:0.1*2.0", "s0:1*2.0*2", "s0:1.0*2.1"]);
    const all = ["s0:0*2.1*2", "s0:0.1*2.0", "s0:0.1.0.1", "s0:1*2.0*2", "s0:1.0*2.1", "s0:1.0.1.0"];
    expect(at(2)).toEqual(all);
    expect(at(100)).toEqual(all);
  });

  /*
   * Two CPUs, three steps each: C(6,3) = 20. Starting with a, B runs split a's 3 steps into ⌈B/2⌉
   * parts and b's into ⌊B/2⌋, C(2, parts − 1) ways each:
   *   B=2: 1·1 = 1   B=3: 2·1 = 2   B=4: 2·2 = 4   B=5: 1·2 = 2   B=6: 1·1 = 1
   * doubled for starting with b, preemptions B − 2: 2, 4, 8, 4, 2 with 0 … 4 preemptions, so
   * K = 0 … 4 gives 2, 6, 14, 18, 20.
   */
  it("2 CPUs × 3 steps: 2, 6, 14, 18, 20 schedules for K = 0 … 4, then no more", () => {
    const counts = [0, 1, 2, 3, 4, 5].map((k) => explore(TWO_BY_THREE, new BoundedDfsScheduler(k)).length);
    expect(counts).toEqual([2, 6, 14, 18, 20, 20]);
  });

  it("3 CPUs × 1 step: all 3! = 6 orders at K=0 (a CPU that finished is left for free)", () => {
    const runs = explore({ steps: [1, 1, 1] }, new BoundedDfsScheduler(0));
    expect(runs.map(str)).toEqual(["012", "021", "102", "120", "201", "210"]);
  });

  it("3 CPUs × 2 steps: 3! = 6 serial schedules at K=0, 6!/(2!·2!·2!) = 90 with no bound", () => {
    expect(explore({ steps: [2, 2, 2] }, new BoundedDfsScheduler(0)).length).toBe(6);
    expect(explore({ steps: [2, 2, 2] }, new BoundedDfsScheduler(6)).length).toBe(90);
  });

  /*
   * CPU 1's first step waits for CPU 0's first: only a can start, and of the 6 interleavings the 3
   * with a before the first b remain: aabb (0 preemptions), abba (1: a→b while a could go on,
   * b→a once b is done), abab (2). K=0 → 1, K=1 → 2, K=2 → 3.
   */
  it("a blocked step: 1, 2, 3 schedules for K = 0, 1, 2", () => {
    const m: Model = { steps: [2, 2], waits: [{ cpu: 1, step: 0, on: 0, after: 1 }] };
    expect(explore(m, new BoundedDfsScheduler(0)).map(str)).toEqual(["0011"]);
    expect(explore(m, new BoundedDfsScheduler(1)).map(str)).toEqual(["0011", "0110"]);
    expect(explore(m, new BoundedDfsScheduler(2)).map(str)).toEqual(["0011", "0110", "0101"]);
  });

  it("maxExecutions stops the search before the tree is exhausted", () => {
    const s = new BoundedDfsScheduler(100, 3);
    expect(explore(TWO_BY_TWO, s).map(str)).toEqual(["0011", "0110", "0101"]);
    expect(s.explored).toBe(3);
    expect(s.exhausted).toBe(false);
    expect(s.newExecution()).toBe(false);
    // Exactly as many as the tree holds: exhausted too.
    const t = new BoundedDfsScheduler(100, 6);
    expect(explore(TWO_BY_TWO, t).length).toBe(6);
    expect(t.exhausted).toBe(true);
  });

  it("counts the preemptions of the execution so far", () => {
    const s = new BoundedDfsScheduler(2);
    s.newExecution();
    s.newExecution(); // nothing ran in the first: the tree is one empty execution
    expect(s.exhausted).toBe(true);
    const t = new BoundedDfsScheduler(2);
    const seen: number[] = [];
    while (t.newExecution()) {
      run(TWO_BY_TWO, t);
      seen.push(t.preemptions);
    }
    expect(seen).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it("an execution cut short drops the steps it did not reach", () => {
    // The explorer stops an execution at a violation after CPU 0's first step: every schedule
    // starting 0 fails there, so the next execution starts with CPU 1.
    const s = new BoundedDfsScheduler(2);
    expect(s.newExecution()).toBe(true);
    expect(s.next([0, 1], -1)).toBe(0);
    expect(s.newExecution()).toBe(true);
    expect(s.next([0, 1], -1)).toBe(1);
    expect(s.next([0, 1], 1)).toBe(1);
  });

  it("refuses a program whose runnable sets change under the same choices", () => {
    const s = new BoundedDfsScheduler(1);
    s.newExecution();
    run(TWO_BY_TWO, s);
    s.newExecution();
    expect(() => s.next([0], -1)).toThrow(
      "bounded DFS: the program is not deterministic: step 0 has runnable 0 at the start, where an earlier execution with the same choices had 0,1 at the start",
    );
  });
});

// ---- random ----

describe("RandomScheduler", () => {
  /*
   * mulberry32(42) draws 0.6011 0.4483 0.8525 0.6697 …: with CPUs [0, 1] runnable that is
   * ⌊0.60·2⌋ = 1, then 0, 1, 1; CPU 1 is done and CPU 0 takes the last two steps (a draw each, of
   * one choice). The next executions' seeds come from mulberry32(42 ^ 0x9e3779b9).
   */
  it("seed 42 on 2 CPUs × 3 steps: the same four schedules every time", () => {
    const runs = () => {
      const s = new RandomScheduler(42, 4);
      const out: string[] = [];
      while (s.newExecution()) {
        run(TWO_BY_THREE, s);
        out.push(formatSchedule(s.schedule()));
      }
      return out;
    };
    const pinned = ["s42:1.0.1*2.0*2", "s2067236868:0.1.0*2.1*2", "s4231632130:0*2.1.0.1*2", "s3169330198:1*3.0*3"];
    expect(runs()).toEqual(pinned);
    expect(runs()).toEqual(pinned);
  });

  it("an execution reruns alone from its own seed", () => {
    const s = new RandomScheduler(9, 20);
    while (s.newExecution()) {
      run({ steps: [3, 2, 2] }, s);
      const sched = s.schedule();
      const alone = new RandomScheduler(sched.seed, 1);
      expect(alone.newExecution()).toBe(true);
      expect(run({ steps: [3, 2, 2] }, alone).choices).toEqual(sched.choices);
      expect(alone.newExecution()).toBe(false);
    }
  });

  it("is uniform at each step: 3 CPUs × 1 step, each order about 1/6 of 6000", () => {
    const s = new RandomScheduler(1, 6000);
    const counts = new Map<string, number>();
    for (const r of explore({ steps: [1, 1, 1] }, s)) counts.set(str(r), (counts.get(str(r)) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(["012", "021", "102", "120", "201", "210"]);
    for (const n of counts.values()) expect(Math.abs(n - 1000)).toBeLessThan(100);
  });

  it("runs `executions` times", () => {
    expect(explore(TWO_BY_TWO, new RandomScheduler(3, 5)).length).toBe(5);
    expect(explore(TWO_BY_TWO, new RandomScheduler(3, 0)).length).toBe(0);
  });
});

// ---- PCT ----

describe("PctScheduler", () => {
  it("depth 1 never preempts a program that does not block: serial schedules only", () => {
    const runs = explore({ steps: [3, 2, 2] }, new PctScheduler(5, 1, 200, 7));
    expect(runs.every((r) => r.preemptions === 0)).toBe(true);
    // Each of the 3! priority orders, and nothing else.
    expect(new Set(runs.map(str))).toEqual(new Set(["0001122", "0002211", "1100022", "1122000", "2200011", "2211000"]));
  });

  /*
   * Depth 2 on 2 CPUs × 2 steps: one change point k. k = 1 drops the CPU that took the first step
   * (abba, baab); k ≥ 2 falls on no contested step of a serial run (aabb, bbaa). So PCT finds
   * exactly the four schedules with at most one preemption, the set bounded DFS gives at K=1.
   */
  it("depth 2 on 2 CPUs × 2 steps finds exactly the schedules of bounded DFS at K=1", () => {
    const pct = new Set(explore(TWO_BY_TWO, new PctScheduler(1, 2, 200, 2)).map(str));
    const dfs = new Set(explore(TWO_BY_TWO, new BoundedDfsScheduler(1)).map(str));
    expect(pct).toEqual(dfs);
    expect(pct).toEqual(new Set(["0011", "0110", "1100", "1001"]));
  });

  /*
   * The first execution by hand. mulberry32(3) draws 0.7202 0.0387 0.4562 0.0749 …; the change
   * points (Floyd, 2 of [1, 3]): 1 + ⌊0.7202·2⌋ = 2, then 1 + ⌊0.0387·3⌋ = 1. CPU 0 goes in at
   * place 0 of [], CPU 1 at place ⌊0.0749·2⌋ = 0: order [1, 0]. Contested steps: 1 runs; after
   * 1 step CPU 1 drops ([0, 1]), 0 runs; after 2, CPU 0 drops ([1, 0]), 1 runs twice to its end,
   * then 0 twice: 1.0.1*2.0*2, two preemptions for depth 3.
   */
  it("seed 3, depth 3 on 2 CPUs × 3 steps: the same schedules every time", () => {
    const runs = () => {
      const s = new PctScheduler(3, 3, 6, 3);
      const out: string[] = [];
      while (s.newExecution()) {
        run(TWO_BY_THREE, s);
        out.push(formatSchedule(s.schedule()));
      }
      return out;
    };
    const pinned = [
      "s3:1.0.1*2.0*2",
      "s3828750402:1.0*3.1*2",
      "s28107258:0.1.0*2.1*2",
      "s919471960:1.0*2.1*2.0",
      "s1360977365:0*3.1*3",
      "s2253367297:1.0.1*2.0*2",
    ];
    expect(runs()).toEqual(pinned);
    expect(runs()).toEqual(pinned);
  });

  it("with a blocked step, depth 1 switches only to a CPU that has just become runnable", () => {
    const m: Model = { steps: [3, 3], waits: [{ cpu: 0, step: 1, on: 1, after: 2 }] };
    const s = new PctScheduler(11, 1, 50, 6);
    while (s.newExecution()) {
      const done = [0, 0];
      let current = -1;
      let before: number[] = [];
      for (let r = runnableOf(m, done); r.length > 0; r = runnableOf(m, done)) {
        const c = s.next(r, current);
        if (isPreemption(r, current, c)) expect(before).not.toContain(c);
        done[c]!++;
        current = c;
        before = r;
      }
    }
  });
});

// ---- replay ----

describe("ReplayScheduler", () => {
  it("replays a random run's choices, once", () => {
    const m: Model = { steps: [4, 3, 2], waits: [{ cpu: 2, step: 1, on: 0, after: 3 }] };
    const s = new RandomScheduler(77, 1);
    s.newExecution();
    const original = run(m, s);
    const text = formatSchedule(s.schedule());
    const r = new ReplayScheduler(parseSchedule(text));
    expect(r.newExecution()).toBe(true);
    expect(run(m, r)).toEqual(original);
    expect(formatSchedule(r.schedule())).toBe(text);
    expect(r.newExecution()).toBe(false);
  });

  it("names the step where a schedule diverges", () => {
    const r = new ReplayScheduler(parseSchedule("s0:0*3.1"));
    r.newExecution();
    expect(() => run(TWO_BY_TWO, r)).toThrow("schedule diverges at step 2: CPU 0 is not runnable (runnable: 1)");
  });

  it("a schedule that ends early throws, or with extend goes on without preempting", () => {
    const r = new ReplayScheduler(parseSchedule("s0:0"));
    r.newExecution();
    expect(() => run(TWO_BY_TWO, r)).toThrow("schedule ends at step 1 but the program goes on (runnable: 0,1)");
    const e = new ReplayScheduler(parseSchedule("s5:0.1"), { extend: true });
    e.newExecution();
    expect(run(TWO_BY_TWO, e)).toEqual({ choices: [0, 1, 1, 0], preemptions: 1 });
    expect(e.schedule()).toEqual({ seed: 5, choices: [0, 1, 1, 0] });
  });
});

describe("misuse", () => {
  it("refuses bad arguments with one line", () => {
    expect(() => new RandomScheduler(-1, 1)).toThrow("RandomScheduler: seed must be an integer 0 … 4294967295, got -1");
    expect(() => new PctScheduler(1, 0, 1, 1)).toThrow("PctScheduler: depth must be an integer 1 … 1000, got 0");
    expect(() => new PctScheduler(1, 2, 1, 0)).toThrow("PctScheduler: stepsHint must be an integer 1 … 1048576, got 0");
    expect(() => new BoundedDfsScheduler(1.5)).toThrow("BoundedDfsScheduler: maxPreemptions must be an integer 0 … 1048576, got 1.5");
    const s = new RandomScheduler(1, 1);
    expect(() => s.next([0], -1)).toThrow("random: next() before newExecution()");
    s.newExecution();
    expect(() => s.next([], -1)).toThrow("random: next() with no runnable CPU");
  });
});

// ---- properties ----

/** A program of 1–3 CPUs, ≤ 8 steps in all, each wait on a lower CPU (so it never deadlocks). */
const modelArb: fc.Arbitrary<Model> = fc
  .array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 })
  .filter((steps) => steps.reduce((a, b) => a + b, 0) <= 8)
  .chain((steps) =>
    fc
      .array(fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat()), { maxLength: 3 })
      .map((ws): Model => {
        const n = steps.length;
        const waits = n < 2 ? [] : ws.map(([c, st, o, a]) => {
          const cpu = 1 + (c % (n - 1));
          const on = o % cpu;
          return { cpu, step: st % steps[cpu]!, on, after: 1 + (a % steps[on]!) };
        });
        return { steps, waits };
      }),
  );

describe(`properties (seed ${FC_SEED})`, () => {
  it(`bounded DFS runs each schedule with ≤ K preemptions exactly once, and all of them (seed ${FC_SEED})`, () => {
    fc.assert(
      fc.property(modelArb, fc.integer({ min: 0, max: 3 }), (m, k) => {
        const s = new BoundedDfsScheduler(k);
        const runs = explore(m, s);
        expect(s.exhausted).toBe(true);
        expect(runs.every((r) => r.preemptions <= k)).toBe(true);
        const want = enumerate(m)
          .filter((r) => r.preemptions <= k)
          .map(str);
        expect(new Set(runs.map(str)).size).toBe(runs.length);
        expect(runs.map(str).sort()).toEqual(want.sort());
      }),
      fcParams(200),
    );
  });

  it(`replaying a random or PCT run gives the same schedule (seed ${FC_SEED})`, () => {
    fc.assert(
      fc.property(modelArb, fc.nat(0xffff_ffff), fc.integer({ min: 1, max: 4 }), (m, seed, depth) => {
        for (const s of [new RandomScheduler(seed, 3), new PctScheduler(seed, depth, 3, 4)]) {
          while (s.newExecution()) {
            const original = run(m, s);
            const sched: Schedule = s.schedule();
            const r = new ReplayScheduler(parseSchedule(formatSchedule(sched)));
            r.newExecution();
            expect(run(m, r)).toEqual(original);
            expect(r.schedule()).toEqual(sched);
          }
        }
      }),
      fcParams(200),
    );
  });

  it(`PCT of depth d preempts a program that never blocks at most d − 1 times (seed ${FC_SEED})`, () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }),
        fc.nat(0xffff_ffff),
        fc.integer({ min: 1, max: 5 }),
        (steps, seed, depth) => {
          for (const r of explore({ steps }, new PctScheduler(seed, depth, 10, 5))) expect(r.preemptions).toBeLessThanOrEqual(depth - 1);
        },
      ),
      fcParams(200),
    );
  });

  it(`parseSchedule(formatSchedule(s)) is s (seed ${FC_SEED})`, () => {
    fc.assert(
      fc.property(fc.nat(0xffff_ffff), fc.array(fc.integer({ min: 0, max: 63 }), { maxLength: 300 }), (seed, choices) => {
        expect(parseSchedule(formatSchedule({ seed, choices }))).toEqual({ seed, choices });
      }),
      fcParams(300),
    );
  });
});
