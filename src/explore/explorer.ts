/**
 * The race explorer's scheduler side (the main thread): one machine per build, the program's
 * starting state snapshotted once, then execution after execution from that snapshot, one CPU at a
 * time, the scheduler choosing at every point. After every step: the KASAN-like shadow's report,
 * the watched device's DMA counters; after every execution: the program's own checks and frame
 * accounting. A violation keeps the schedule (replayable), the per-CPU trace and the machine's
 * memory image at the failing step.
 */
import { bootPpSystem, attachPpSystem, ppClaimers, type PpSystem } from "../pool/index.js";
import type { KernelBuild } from "../builds/types.js";
import { startCpus, compiledModule, type CpuRun } from "../smp/runner.js";
import type { TraceOptions } from "../trace/ftrace.js";
import { accountFrames } from "../mem/accounting.js";
import { fieldAt } from "../verify/explain_fields.js";
import { saveImage } from "../mem/image.js";
import { POINT_NAMES, setPointHook } from "./points.js";
import { KasanShadow } from "./kasan.js";
import { kasanPoisonFree, kasanPointHook } from "./kasan_hook.js";
import type { RaceArgs, RaceProgram } from "./program.js";
import type { Scheduler, Schedule } from "./schedulers.js";
import { formatSchedule, isPreemption } from "./schedulers.js";
import { POINT_START, type ExploreCpuArgs } from "./explore_cpu.js";
import {
  X_TURN,
  X_EXEC,
  X_ABORT,
  X_QUIT,
  X_REPORT_LEN,
  TURN_SCHED,
  CpuState,
  SLOT_STATE,
  SLOT_POINT,
  SLOT_A,
  SLOT_EXEC,
  CONTROL_WORDS,
  slotIdx,
  readReport,
} from "./control.js";
import { Point } from "./points.js";

const CPU_MODULE = compiledModule(import.meta.url, "./explore_cpu.js");

/** Most steps one execution may take before it is a livelock. */
export const MAX_STEPS = 5_000;

/** A report's kind: a crash, the emulator's own struct page check, or KASAN's bug type and function. */
function reportKind(report: string): string {
  if (report.startsWith("CPU ")) return "crash";
  if (report.startsWith("ppemu: page_pool_recycle_in_cache")) return "alloc-cache-from-another-cpu";
  if (report.startsWith("ppemu:")) return "struct-page-after-free";
  const m = /BUG: KASAN: ([\w-]+) in (\S+)/.exec(report);
  return m ? `${m[1]} in ${m[2]}` : "kasan";
}

export type ViolationKind =
  | string
  | "kasan"
  | "struct-page-after-free"
  | "crash"
  | "deadlock"
  | "livelock"
  | "unmap-after-unbind"
  | "sync-after-unbind"
  | "double-unmap"
  | "unmap-unknown"
  | "program"
  | "frames";

export interface Violation {
  readonly kind: ViolationKind;
  readonly text: string;
  readonly schedule: Schedule;
  /** Preemptions in the schedule: switches away from a CPU that could have gone on. */
  readonly preemptions: number;
  /** One line per step: `CPU n  <the point it stopped at>`. */
  readonly trace: readonly string[];
  readonly image: Uint8Array;
}

export interface Execution {
  readonly violation: Violation | null;
  readonly steps: number;
  /** Classic's by-design DMA calls after the unbind (counted, not violations). */
  readonly byDesign: number;
}

/** Where a program comes from: a module and (standard programs) its name there. */
export interface ProgramSource {
  readonly module: string;
  readonly name: string | null;
}

export class Explorer {
  readonly sys: PpSystem;
  readonly args: RaceArgs;
  private readonly snapshot: Uint8Array;
  private readonly kasan: KasanShadow;
  private readonly kasanSnap: Uint8Array;
  private readonly ctl: Int32Array;
  private readonly nr: number;
  private readonly dev: number;
  private readonly dev0: { unmapAfterUnbind: number; syncAfterUnbind: number; doubleUnmap: number; unmapUnknown: number };
  private run: CpuRun | null = null;
  private preempted = 0;
  /** The pools whose locks are points (their members name the locks in traces). */
  private pools: number[] = [];
  private exec = 0;

  private constructor(
    readonly build: KernelBuild,
    readonly program: RaceProgram,
  ) {
    this.nr = program.cpus.length;
    this.sys = bootPpSystem(build, { bytes: program.memBytes ?? 4 << 20, shared: true, cpus: Math.max(2, this.nr), poison: true });
    this.kasan = new KasanShadow(this.sys.m.mem.bytes, undefined, { machine: this.sys.m });
    // The shadow of a booted KASAN kernel, then setup's allocations and frees recorded as they happen.
    kasanPoisonFree(this.kasan, this.sys.m);
    setPointHook(kasanPointHook(this.kasan, this.sys.m));
    try {
      this.args = program.setup(this.sys);
    } finally {
      setPointHook(null);
    }
    this.dev = typeof this.args.dev === "number" ? this.args.dev : 0;
    this.dev0 = this.devCounters();
    this.snapshot = this.sys.m.mem.u8.slice();
    this.kasanSnap = this.kasan.snapshot();
    this.ctl = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  }

  /** With `trace`, every CPU records those tracepoints; `close()` hands back their buffers. */
  static async start(build: KernelBuild, program: RaceProgram, source: ProgramSource, trace?: TraceOptions): Promise<Explorer> {
    const x = new Explorer(build, program);
    const pools = typeof x.args.pool === "number" ? [x.args.pool] : Array.isArray(x.args.pools) ? (x.args.pools as number[]) : [];
    x.pools = pools;
    const lockRanges = pools.flatMap((p) => [p, p + x.sys.pps.o.size]);
    const args: ExploreCpuArgs = { module: source.module, name: source.name, args: x.args, shadow: x.kasan.buffer, lockRanges };
    x.run = await startCpus({
      buffer: x.sys.m.mem.buffer as SharedArrayBuffer,
      control: x.ctl.buffer as SharedArrayBuffer,
      tasks: program.cpus.map((_, cpu) => ({ cpu, program: CPU_MODULE, export: "cpu", args })),
      ...(trace ? { trace } : {}),
    });
    x.run.done.catch(() => undefined);
    return x;
  }

  private devCounters() {
    if (this.dev === 0) return { unmapAfterUnbind: 0, syncAfterUnbind: 0, doubleUnmap: 0, unmapUnknown: 0 };
    const s = this.sys.dma.deviceStats(this.dev);
    return { unmapAfterUnbind: s.unmapAfterUnbind, syncAfterUnbind: s.syncAfterUnbind, doubleUnmap: s.doubleUnmap, unmapUnknown: s.unmapUnknown };
  }

  /** Wait (sleeping) until every CPU has handed the turn back. */
  private waitTurn(): void {
    const ctl = this.ctl;
    for (let t = Atomics.load(ctl, X_TURN); t !== TURN_SCHED; t = Atomics.load(ctl, X_TURN)) Atomics.wait(ctl, X_TURN, t, 1000);
  }

  private give(cpu: number): void {
    Atomics.store(this.ctl, X_TURN, cpu);
    Atomics.notify(this.ctl, X_TURN);
    this.waitTurn();
  }

  /** Run one execution under `sched` (which has had newExecution()). */
  execute(sched: Scheduler): Execution {
    const ctl = this.ctl;
    const mem = this.sys.m.mem;
    mem.u8.set(this.snapshot);
    this.kasan.restore(this.kasanSnap);
    Atomics.store(ctl, X_ABORT, 0);
    Atomics.store(ctl, X_REPORT_LEN, 0);
    for (let c = 0; c < this.nr; c++) Atomics.store(ctl, slotIdx(c) + SLOT_STATE, CpuState.IDLE);
    Atomics.store(ctl, X_TURN, TURN_SCHED);
    this.exec++;
    Atomics.store(ctl, X_EXEC, this.exec);
    Atomics.notify(ctl, X_EXEC);
    // Every CPU stops at its start point first.
    for (let c = 0; c < this.nr; c++) {
      const s = slotIdx(c);
      while (Atomics.load(ctl, s + SLOT_EXEC) !== this.exec || Atomics.load(ctl, s + SLOT_STATE) !== CpuState.AT_POINT) Atomics.wait(ctl, X_TURN, TURN_SCHED, 1);
    }
    const trace: string[] = [];
    /** Steps taken by anyone when a CPU started waiting at a yield point. */
    const waitedAt = new Array<number>(this.nr).fill(-1);
    let current = -1;
    let steps = 0;
    this.preempted = 0;
    for (;;) {
      const runnable: number[] = [];
      let live = 0;
      for (let c = 0; c < this.nr; c++) {
        const s = slotIdx(c);
        if (Atomics.load(ctl, s + SLOT_STATE) !== CpuState.AT_POINT) continue;
        live++;
        const p = ctl[s + SLOT_POINT]!;
        if (p === Point.SPIN_LOCK_CONTENDED && Atomics.load(mem.i32, ctl[s + SLOT_A]! >>> 2) !== 0) continue;
        if (p === Point.SYNCHRONIZE_RCU_WAIT && waitedAt[c] === steps) continue;
        runnable.push(c);
      }
      if (live === 0) break;
      if (runnable.length === 0) return this.fail(sched, "deadlock", `every CPU waits: ${this.where()}`, trace, steps);
      if (steps >= MAX_STEPS) return this.fail(sched, "livelock", `no end after ${MAX_STEPS} steps: ${this.where()}`, trace, steps);
      const c = sched.next(runnable, current);
      if (isPreemption(runnable, current, c)) this.preempted++;
      current = c;
      this.give(c);
      steps++;
      const s = slotIdx(c);
      const st = Atomics.load(ctl, s + SLOT_STATE);
      const p = ctl[s + SLOT_POINT]!;
      // A CPU given the turn leaves its start point; still there, the hand-over itself is broken.
      if (st === CpuState.AT_POINT && p === POINT_START) throw new Error(`ppemu: explorer: CPU ${c} was given the turn and did not take its step`);
      trace.push(`CPU ${c}  ${st === CpuState.AT_POINT ? this.pointText(p, ctl[s + SLOT_A]!) : st === CpuState.DONE ? "(returns)" : "(stops)"}`);
      if (st === CpuState.AT_POINT && p === Point.SYNCHRONIZE_RCU_WAIT) waitedAt[c] = steps;
      const report = readReport(ctl);
      if (report !== null) return this.fail(sched, reportKind(report), report, trace, steps);
      const dma = this.dmaViolation();
      if (dma !== null) return this.fail(sched, dma.kind, dma.text, trace, steps);
    }
    const problems = [...(this.program.check?.(this.sys, this.args) ?? [])];
    const acct = accountFrames(mem, ppClaimers(this.sys));
    if (acct.errors.length > 0) return this.fail(sched, "frames", `frame accounting: ${acct.errors.slice(0, 3).join("; ")}`, trace, steps);
    if (problems.length > 0) return this.fail(sched, "program", problems.join("; "), trace, steps);
    return { violation: null, steps, byDesign: this.byDesign() };
  }

  private byDesign(): number {
    if (this.build.layout.tracksInflight) return 0;
    const d = this.devCounters();
    return d.unmapAfterUnbind - this.dev0.unmapAfterUnbind + d.syncAfterUnbind - this.dev0.syncAfterUnbind;
  }

  private dmaViolation(): { kind: ViolationKind; text: string } | null {
    if (this.dev === 0) return null;
    const d = this.devCounters();
    const z = this.dev0;
    if (d.doubleUnmap > z.doubleUnmap) return { kind: "double-unmap", text: "a DMA mapping unmapped twice" };
    if (d.unmapUnknown > z.unmapUnknown) return { kind: "unmap-unknown", text: "a DMA unmap or sync of memory the device never mapped" };
    if (!this.build.layout.tracksInflight) return null;
    if (d.unmapAfterUnbind > z.unmapAfterUnbind) return { kind: "unmap-after-unbind", text: "a DMA unmap through a device whose driver is gone" };
    if (d.syncAfterUnbind > z.syncAfterUnbind) return { kind: "sync-after-unbind", text: "a DMA sync through a device whose driver is gone" };
    return null;
  }

  /** A point as a trace line says it: a lock by its member (`spin_lock(&pool->ring.producer_lock)`). */
  private pointText(p: number, a: number): string {
    const name = POINT_NAMES[p] ?? `point ${p}`;
    if (p !== Point.SPIN_LOCK && p !== Point.SPIN_UNLOCK && p !== Point.SPIN_LOCK_CONTENDED) return name;
    const pool = this.pools.find((q) => a >= q && a < q + this.sys.pps.o.size);
    if (pool === undefined) return name;
    const [fn, rest] = name.split(":");
    return `${fn}(&pool->${fieldAt(this.sys.pps.o.layout, a - pool).name})${rest ? `:${rest}` : ""}`;
  }

  private where(): string {
    const out: string[] = [];
    for (let c = 0; c < this.nr; c++) {
      const s = slotIdx(c);
      if (Atomics.load(this.ctl, s + SLOT_STATE) === CpuState.AT_POINT) out.push(`CPU ${c} at ${POINT_NAMES[this.ctl[s + SLOT_POINT]!] ?? "start"}`);
    }
    return out.join(", ");
  }

  /** Keep the failing state, then unwind every CPU still in the execution. */
  private fail(sched: Scheduler, kind: ViolationKind, text: string, trace: string[], steps: number): Execution {
    const image = saveImage(this.sys.m.mem, { command: `ppemu race --kernel ${this.build.name} --program ${this.program.name} --replay '${formatSchedule(sched.schedule())}'` });
    Atomics.store(this.ctl, X_ABORT, 1);
    for (let c = 0; c < this.nr; c++) {
      if (Atomics.load(this.ctl, slotIdx(c) + SLOT_STATE) === CpuState.AT_POINT) this.give(c);
    }
    return { violation: { kind, text, schedule: sched.schedule(), preemptions: this.preempted, trace, image }, steps, byDesign: this.byDesign() };
  }

  /** End the exploration; the CPUs' tracepoint buffers when started with `trace` (else none). */
  async close(): Promise<Float64Array[]> {
    Atomics.store(this.ctl, X_QUIT, 1);
    Atomics.notify(this.ctl, X_EXEC);
    const run = this.run;
    if (run) await run.done.catch(() => undefined);
    this.run = null;
    return (run?.traces ?? []).filter((t): t is Float64Array => t !== undefined);
  }
}

/** The machine of a failing image, attached (for tests and `explain`). */
export function attachRaceImage(buffer: ArrayBuffer): PpSystem {
  return attachPpSystem(buffer);
}

export { POINT_START };
