/**
 * One CPU under the explorer (a `runCpus` program): it installs the point hook, then runs its
 * race-program function once per execution the scheduler starts, stopping at every preemption
 * point until the scheduler gives it the turn (src/explore/control.ts).
 *
 * At a point the CPU also feeds the KASAN-like shadow: allocations and frees mark it, lock words
 * and reported accesses are checked against it. A bad access is reported and the CPU stops there
 * (its program unwinds), so nothing runs on after a use-after-free.
 */
import { pathToFileURL } from "node:url";
import { isAbsolute, resolve } from "node:path";
import type { CpuProgramContext } from "../smp/runner.js";
import { setPointHook, Point, POINT_NAMES } from "./points.js";
import { kasanPointHook } from "./kasan_hook.js";
import { PAGE_REFCOUNT } from "../mem/page.js";
import { KasanShadow } from "./kasan.js";
import { isRaceProgram, type RaceArgs, type RaceProgram } from "./program.js";
import {
  X_TURN,
  X_EXEC,
  X_ABORT,
  X_QUIT,
  TURN_SCHED,
  CpuState,
  SLOT_STATE,
  SLOT_POINT,
  SLOT_A,
  SLOT_B,
  SLOT_EXEC,
  slotIdx,
  writeReport,
} from "./control.js";

export interface ExploreCpuArgs {
  /** The module that holds the program, and (standard programs) its name in PROGRAMS. */
  readonly module: string;
  readonly name: string | null;
  readonly args: RaceArgs;
  /** The KASAN shadow's buffer. */
  readonly shadow: SharedArrayBuffer;
  /** Pools whose locks are preemption points: [start, end) byte ranges. */
  readonly lockRanges: readonly number[];
}

/** Thrown through the CPU's program to unwind an aborted execution. */
class Unwind extends Error {
  constructor() {
    super("ppemu: execution aborted");
  }
}

/** The point at which every CPU waits before its program starts. */
export const POINT_START = 0;

export async function loadRaceProgram(module: string, name: string | null): Promise<RaceProgram> {
  const url = module.startsWith("file:") ? module : pathToFileURL(isAbsolute(module) ? module : resolve(process.cwd(), module)).href;
  const mod = (await import(url)) as Record<string, unknown>;
  const p = name !== null ? (mod.PROGRAMS as Record<string, unknown> | undefined)?.[name] : (mod.default ?? mod.program);
  if (!isRaceProgram(p)) throw new Error(`${module}: no race program${name !== null ? ` named ${name}` : " as its default export"}`);
  return p;
}

export async function cpu(ctx: CpuProgramContext): Promise<{ executions: number }> {
  const { sys, control: ctl, cpu } = ctx;
  const a = ctx.args as ExploreCpuArgs;
  const prog = await loadRaceProgram(a.module, a.name);
  const run = prog.cpus[cpu];
  if (!run) throw new Error(`${prog.name} has no CPU ${cpu}`);
  const mem = sys.m.mem;
  const kasan = new KasanShadow(mem.bytes, a.shadow, { machine: sys.m });
  const slot = slotIdx(cpu);
  const ranges = a.lockRanges;
  let lastSite: number = POINT_START;
  let aborting = false;

  const interesting = (addr: number): boolean => {
    for (let i = 0; i < ranges.length; i += 2) if (addr >= ranges[i]! && addr < ranges[i + 1]!) return true;
    return false;
  };
  /**
   * Whether this CPU holds the turn: from the moment the scheduler gives it (the wait in `stop`
   * returns) until it hands it back. At an execution's start point it does not: the turn is the
   * scheduler's, and a hand-back there (a store, or even a compare-exchange of this CPU's own number)
   * could land after the scheduler has already given the turn out, to this CPU or another, and take
   * it away again: the scheduler would count a step nobody took.
   */
  let hasTurn = false;
  const handBack = (): void => {
    if (hasTurn) {
      hasTurn = false;
      Atomics.store(ctl, X_TURN, TURN_SCHED);
    }
    Atomics.notify(ctl, X_TURN); // also wakes the scheduler waiting for every CPU's start point
  };
  const stop = (p: number, x: number, y: number): void => {
    ctl[slot + SLOT_POINT] = p;
    ctl[slot + SLOT_A] = x;
    ctl[slot + SLOT_B] = y;
    Atomics.store(ctl, slot + SLOT_STATE, CpuState.AT_POINT);
    handBack();
    for (let t = Atomics.load(ctl, X_TURN); t !== cpu; t = Atomics.load(ctl, X_TURN)) Atomics.wait(ctl, X_TURN, t);
    hasTurn = true;
    if (Atomics.load(ctl, X_ABORT) !== 0) {
      aborting = true;
      throw new Unwind();
    }
  };
  const report = (text: string): never => {
    writeReport(ctl, cpu, text);
    aborting = true;
    throw new Unwind();
  };

  // The scheduler's part of every point; the shadow's part runs first (kasanPointHook).
  const baton = (p: number, x: number, y: number): void => {
    switch (p) {
      case Point.SLAB_ALLOC:
      case Point.SLAB_FREE:
      case Point.SLAB_NEW:
      case Point.PAGE_ALLOC:
      case Point.PAGE_FREE:
      case Point.ACCESS_READ:
      case Point.ACCESS_WRITE:
        return;
      case Point.SPIN_LOCK:
      case Point.SPIN_UNLOCK: {
        // Only the pools' locks are places to switch (the allocators' are atomic steps here); every
        // lock word is checked after the CPU resumes, since the lock may have been freed meanwhile.
        if (interesting(x)) stop(p, x, y);
        const r = kasan.check(x, 4, true, cpu, POINT_NAMES[p]!);
        if (r !== null) report(r);
        return;
      }
      case Point.PAGE_STRUCT_WRITE:
      case Point.PAGE_STRUCT_READ:
        // The emulator's own check: no KASAN shadow covers struct page.
        if (mem.rd32(x + PAGE_REFCOUNT) === 0) {
          const verb = p === Point.PAGE_STRUCT_WRITE ? "writes" : "reads";
          report(`ppemu: ${POINT_NAMES[lastSite] ?? "?"} ${verb} struct page 0x${x.toString(16)} (pfn 0x${(x >>> 6).toString(16)}) of a free page: it holds no reference to it`);
        }
        return;
      case Point.RCU_READ_LOCK:
      case Point.RCU_READ_UNLOCK:
        // A switch point that names no function: the reports keep the site before it.
        stop(p, x, y);
        return;
      case Point.ALLOC_CACHE_RECYCLED:
        // The cache is lockless: only the pool's NAPI context may touch it. A build with neither
        // pool->cpuid nor p.napi (v6.1) trusts the caller's allow_direct and cannot say whose it is.
        if ((sys.pps.o.cpuid >= 0 || sys.pps.o.napi >= 0) && !sys.pps.napiLocal(x)) {
          report(`ppemu: page_pool_recycle_in_cache on CPU ${cpu}, which is not the pool's NAPI context: a second CPU in the lockless alloc cache (pool 0x${x.toString(16)})`);
        }
        return;
      default:
        lastSite = p;
        stop(p, x, y);
    }
  };
  const hook = kasanPointHook(kasan, sys.m, { site: () => lastSite, onReport: (r) => report(r), next: baton });
  setPointHook((p, x, y) => {
    if (aborting) {
      // Unwinding: finally blocks may still lock and unlock; a wait would never end.
      if (p === Point.SPIN_LOCK_CONTENDED || p === Point.SYNCHRONIZE_RCU_WAIT) throw new Unwind();
      return;
    }
    hook(p, x, y);
  });

  let executions = 0;
  let seen = 0;
  for (;;) {
    // Wait for the scheduler to start the next execution (or to end the exploration).
    for (let e = Atomics.load(ctl, X_EXEC); e === seen; e = Atomics.load(ctl, X_EXEC)) {
      if (Atomics.load(ctl, X_QUIT) !== 0) return { executions };
      Atomics.wait(ctl, X_EXEC, e, 50);
    }
    if (Atomics.load(ctl, X_QUIT) !== 0) return { executions };
    seen = Atomics.load(ctl, X_EXEC);
    ctl[slot + SLOT_EXEC] = seen;
    aborting = false;
    lastSite = POINT_START;
    executions++;
    let state = CpuState.DONE;
    try {
      stop(POINT_START, 0, 0);
      run({ sys, cpu, args: a.args });
    } catch (e) {
      state = CpuState.FAILED;
      if (!(e instanceof Unwind)) {
        const err = e as Error;
        writeReport(ctl, cpu, `CPU ${cpu} died: ${err instanceof RangeError ? "BUG: unable to handle page fault: " : ""}${err.message ?? String(e)}`);
      }
    }
    aborting = true; // nothing more of this execution may stop at a point
    Atomics.store(ctl, slot + SLOT_STATE, state);
    handBack();
  }
}
