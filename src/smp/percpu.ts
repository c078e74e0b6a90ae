/**
 * Per-CPU context in the buffer: `struct ppemu_cpu`, one per possible CPU, in the machine header.
 * It holds what the kernel keeps per CPU and reads through `this_cpu_*`: the CPU number, the
 * preempt count (whose softirq bits are `in_softirq()`), the RCU read-side nesting and quiescent
 * state counter, and the CPU's list of RCU callbacks waiting for a grace period.
 *
 * A thread is one CPU at a time: `PhysMem.bindCpu(cpu)` points its `cpuArea` at the CPU's slot,
 * the way the kernel's per-CPU base register points at the CPU's area. Every accessor here reads
 * that slot, never a machine-wide word, so a worker on another CPU can never take itself for the
 * NAPI CPU. Only the owning CPU writes its slot; others read it with `Atomics.load` (RCU's grace
 * period detection, `explain`).
 *
 *   header + MACH_CPUS: 64 slots × 32 B, interleaved so CPUs 0…31 each own a cache line
 *   ┌─────────── line 0 ──────────┬─────────── line 1 ──────────┬─ … ─┬────────── line 31 ──────────┐
 *   │ cpu 0        │ cpu 32       │ cpu 1        │ cpu 33       │     │ cpu 31       │ cpu 63       │
 *   └──────────────┴──────────────┴──────────────┴──────────────┴─────┴──────────────┴──────────────┘
 *
 *   preempt_count (include/linux/preempt.h):
 *    31                  16 15         8 7          0
 *   ┌──────────────────────┬────────────┬────────────┐
 *   │   (hardirq, nmi: 0)  │  SOFTIRQ   │  PREEMPT   │   in_softirq() = count & SOFTIRQ_MASK
 *   └──────────────────────┴────────────┴────────────┘   serving: + SOFTIRQ_OFFSET, bh off: + 2×
 */
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf, m, struct, ptr, U32 } from "../mem/ctype.js";

/** `NR_CPUS` of the emulator: per-CPU slots in the header (`nr_cpu_ids` ≤ this). */
export const MAX_NR_CPUS = 64;
/** CPUs a machine has unless it is booted with another count. */
export const DEFAULT_NR_CPUS = 2;

export const STRUCT_PPEMU_CPU = struct("ppemu_cpu", [
  /** `smp_processor_id()`: written at boot, so a slot names its CPU in an image. */
  m("cpu", U32),
  /** `preempt_count()`: only the SOFTIRQ and PREEMPT bytes are used. */
  m("preempt_count", U32),
  /** `current->rcu_read_lock_nesting`. */
  m("rcu_read_lock_nesting", U32),
  /** Outermost `rcu_read_unlock()`s so far: a change tells a grace period this CPU passed a quiescent state. */
  m("rcu_qs_ctr", U32),
  /** Callbacks queued by `call_rcu()` on this CPU (newest first, through `callback_head.next`). */
  m("rcu_cblist", ptr("struct callback_head")),
  /** The grace-period sequence after which every callback on `rcu_cblist` may run. */
  m("rcu_cb_gp_seq", U32),
  /** Callbacks on `rcu_cblist`. */
  m("rcu_cb_count", U32),
]);
export const PPEMU_CPU_LAYOUT = layoutOf(STRUCT_PPEMU_CPU, LP64);
export const CPU_SLOT_SIZE = PPEMU_CPU_LAYOUT.size; // 32: two slots per 64-byte line
export const CPU_ID = offsetOf(PPEMU_CPU_LAYOUT, "cpu");
export const CPU_PREEMPT_COUNT = offsetOf(PPEMU_CPU_LAYOUT, "preempt_count");
export const CPU_RCU_NESTING = offsetOf(PPEMU_CPU_LAYOUT, "rcu_read_lock_nesting");
export const CPU_RCU_QS_CTR = offsetOf(PPEMU_CPU_LAYOUT, "rcu_qs_ctr");
export const CPU_RCU_CBLIST = offsetOf(PPEMU_CPU_LAYOUT, "rcu_cblist");
export const CPU_RCU_CB_GP_SEQ = offsetOf(PPEMU_CPU_LAYOUT, "rcu_cb_gp_seq");
export const CPU_RCU_CB_COUNT = offsetOf(PPEMU_CPU_LAYOUT, "rcu_cb_count");

/** CPUs whose slots each own a cache line; CPU k + 32 shares k's line. */
const CPU_LINES_BITS = 5;
const CPU_LINES = 1 << CPU_LINES_BITS; // 32 lines of 64 B = MAX_NR_CPUS × 32 B
/** Bytes of the per-CPU area in the header. */
export const PERCPU_AREA_SIZE = MAX_NR_CPUS * CPU_SLOT_SIZE;

/** Byte offset of CPU `cpu`'s slot inside the per-CPU area. */
export function cpuSlotOffset(cpu: number): number {
  return ((cpu & (CPU_LINES - 1)) * 2 + (cpu >>> CPU_LINES_BITS)) * CPU_SLOT_SIZE;
}

// ---- preempt_count bits (include/linux/preempt.h) ----
export const PREEMPT_BITS = 8;
export const SOFTIRQ_BITS = 8;
export const SOFTIRQ_SHIFT = PREEMPT_BITS; // 8
export const SOFTIRQ_OFFSET = 1 << SOFTIRQ_SHIFT; // 0x100: serving a softirq
export const SOFTIRQ_MASK = ((1 << SOFTIRQ_BITS) - 1) << SOFTIRQ_SHIFT; // 0xff00
export const SOFTIRQ_DISABLE_OFFSET = 2 * SOFTIRQ_OFFSET; // 0x200: local_bh_disable()
export const PREEMPT_MASK = (1 << PREEMPT_BITS) - 1; // 0xff
/** preempt_count bits that make the CPU an RCU reader (softirq, BH off, preemption off). */
export const RCU_READER_MASK = SOFTIRQ_MASK | PREEMPT_MASK;

/** What the accessors need of a thread's view of the machine (PhysMem satisfies it). */
export interface CpuView {
  readonly i32: Int32Array;
  /** This thread's CPU (`smp_processor_id()`). */
  readonly cpu: number;
  /** Byte address of this thread's `struct ppemu_cpu`. */
  readonly cpuArea: number;
}

/** `in_softirq()`: serving a softirq, or bottom halves disabled, on this CPU. */
export function inSoftirq(v: CpuView): boolean {
  return (v.i32[(v.cpuArea + CPU_PREEMPT_COUNT) >>> 2]! & SOFTIRQ_MASK) !== 0;
}

/** `in_serving_softirq()`. */
export function inServingSoftirq(v: CpuView): boolean {
  return (v.i32[(v.cpuArea + CPU_PREEMPT_COUNT) >>> 2]! & SOFTIRQ_OFFSET) !== 0;
}

/**
 * Change this CPU's preempt count. A softirq or BH-disabled region is an RCU read-side section
 * (consolidated RCU: `synchronize_rcu()` waits for it), so leaving the last one is a quiescent
 * state; both words are stored with Atomics so a grace period on another CPU sees them in order.
 */
function setPreempt(v: CpuView, count: number): void {
  const w = (v.cpuArea + CPU_PREEMPT_COUNT) >>> 2;
  const was = v.i32[w]!;
  if ((was & RCU_READER_MASK) !== 0 && (count & RCU_READER_MASK) === 0) {
    const q = (v.cpuArea + CPU_RCU_QS_CTR) >>> 2;
    Atomics.store(v.i32, q, (v.i32[q]! + 1) | 0);
  }
  Atomics.store(v.i32, w, count);
}

function addPreempt(v: CpuView, delta: number): void {
  setPreempt(v, v.i32[(v.cpuArea + CPU_PREEMPT_COUNT) >>> 2]! + delta);
}

/** `__local_bh_disable_ip(…, SOFTIRQ_OFFSET)` on softirq entry (`handle_softirqs()`). */
export function softirqEnter(v: CpuView): void {
  addPreempt(v, SOFTIRQ_OFFSET);
}
export function softirqExit(v: CpuView): void {
  addPreempt(v, -SOFTIRQ_OFFSET);
}
/** `local_bh_disable()` / `local_bh_enable()`: process context that counts as softirq. */
export function localBhDisable(v: CpuView): void {
  addPreempt(v, SOFTIRQ_DISABLE_OFFSET);
}
export function localBhEnable(v: CpuView): void {
  addPreempt(v, -SOFTIRQ_DISABLE_OFFSET);
}

/**
 * `preempt_disable()` / `preempt_enable()`. Also how a thread models kernel code on a kernel without
 * full preemption (PREEMPT_NONE / VOLUNTARY): it cannot be preempted between schedule points, so
 * it is an RCU-sched reader for as long as it runs.
 */
export function preemptDisable(v: CpuView): void {
  addPreempt(v, 1);
}
export function preemptEnable(v: CpuView): void {
  addPreempt(v, -1);
}

/** `preempt_count()` of this CPU. */
export function preemptCount(v: CpuView): number {
  return v.i32[(v.cpuArea + CPU_PREEMPT_COUNT) >>> 2]!;
}

/**
 * For a single thread that plays several CPUs (tests, scenarios): set this CPU's softirq state to
 * exactly serving (`on`) or not, leaving the PREEMPT byte alone.
 */
export function setServingSoftirq(v: CpuView, on: boolean): void {
  const w = (v.cpuArea + CPU_PREEMPT_COUNT) >>> 2;
  setPreempt(v, (v.i32[w]! & ~SOFTIRQ_MASK) | (on ? SOFTIRQ_OFFSET : 0));
}

/** Set this CPU's whole preempt count (restoring a saved one). */
export function setPreemptCount(v: CpuView, count: number): void {
  setPreempt(v, count);
}
