/**
 * The explorer's control area (harness memory beside the machine): whose turn it is, and per CPU
 * where it stopped. Exactly one CPU runs at a time: a CPU at a point writes the point and its
 * argument into its slot, hands the turn back to the scheduler and sleeps until the turn is its
 * own again; the scheduler (the main thread) reads every slot and the machine to decide who is
 * runnable, and hands the turn on. Every handoff is an Atomics operation, so an execution is
 * sequentially consistent and replays exactly.
 *
 *   0 … 15       the runner's (CTRL_STOP)
 *   X_TURN       the CPU that may run, or TURN_SCHED
 *   X_EXEC       the execution number CPUs run (the scheduler raises it to start one)
 *   X_ABORT      1: unwind the running execution (a violation was found)
 *   X_REPORT_LEN bytes of the report text at X_REPORT (a KASAN report, a crash)
 *   CPU slots    per CPU: [state, point, a, b, execution done, steps]
 */
import { CTRL_USER } from "../smp/runner.js";

export const X_TURN = CTRL_USER;
export const X_EXEC = CTRL_USER + 1;
export const X_ABORT = CTRL_USER + 2;
export const X_QUIT = CTRL_USER + 3;
export const X_REPORT_LEN = CTRL_USER + 4;
/** The CPU whose report X_REPORT holds. */
export const X_REPORT_CPU = CTRL_USER + 5;
export const TURN_SCHED = -1;

export const enum CpuState {
  /** Waiting for an execution to start. */
  IDLE = 0,
  /** Stopped at a point; may be given the turn. */
  AT_POINT = 1,
  /** Its program returned. */
  DONE = 2,
  /** Its program threw (a violation was reported, or the execution was aborted). */
  FAILED = 3,
}

export const SLOT_STATE = 0;
export const SLOT_POINT = 1;
export const SLOT_A = 2;
export const SLOT_B = 3;
/** The execution this slot's state belongs to. */
export const SLOT_EXEC = 4;
export const SLOT_WORDS = 8;
export const SLOTS_IDX = 32;
/** Report text (UTF-16 code units, one per word), after the slots of 64 CPUs. */
export const X_REPORT = SLOTS_IDX + 64 * SLOT_WORDS;
export const REPORT_MAX = 4096;
export const CONTROL_WORDS = X_REPORT + REPORT_MAX;

export function slotIdx(cpu: number): number {
  return SLOTS_IDX + cpu * SLOT_WORDS;
}

/** Write a report (first writer wins within an execution). */
export function writeReport(ctl: Int32Array, cpu: number, text: string): void {
  if (Atomics.compareExchange(ctl, X_REPORT_LEN, 0, -1) !== 0) return;
  const n = Math.min(text.length, REPORT_MAX);
  for (let i = 0; i < n; i++) ctl[X_REPORT + i] = text.charCodeAt(i);
  ctl[X_REPORT_CPU] = cpu;
  Atomics.store(ctl, X_REPORT_LEN, n);
}

export function readReport(ctl: Int32Array): string | null {
  const n = Atomics.load(ctl, X_REPORT_LEN);
  if (n <= 0) return null;
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(ctl[X_REPORT + i]!);
  return s;
}
