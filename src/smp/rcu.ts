/**
 * RCU in the buffer: read-side sections per CPU, grace periods any CPU can advance, and callbacks
 * (`call_rcu`, `kfree_rcu`) that run on the CPU that queued them once a grace period has passed.
 *
 * The model is Tree RCU reduced to one node:
 *  - `rcu_read_lock()` raises this CPU's `rcu_read_lock_nesting`; the outermost `rcu_read_unlock()`
 *    lowers it and bumps `rcu_qs_ctr`, a quiescent state. Softirq, BH-disabled and
 *    preempt-disabled regions are read sections too (consolidated RCU), so a NAPI poll holds a
 *    grace period off until it ends (src/smp/percpu.ts bumps the counter when it does).
 *  - `rcu_state.gp_seq` (header) counts grace periods as the kernel's rcu_seq does: its low bit is
 *    set while one runs. A grace period starts with `rcu_qsmask` = the CPUs inside a read section
 *    right then, with their `rcu_qs_ctr` snapshot; a CPU leaves the mask once it is outside a read
 *    section or its counter moved. When the mask is empty the grace period ends.
 *  - Whoever needs a grace period (`synchronize_rcu`, `call_rcu`) raises `gp_seq_needed` to
 *    `rcu_seq_snap()` and advances the machine (`rcuGpAdvance`, under a trylock so any CPU can).
 *    No thread is dedicated to it: waiters and queuers drive it, and `rcuPoll` lets a CPU run its
 *    ready callbacks.
 *
 * On one thread with every other CPU outside a read section a grace period ends at once, so a
 * callback runs inside `call_rcu()`: what a single-CPU machine did before RCU existed here.
 *
 *   callback_head (the object's own rcu_head member):
 *   ┌──────────────┬───────────────────────────────────────────────────────────┐
 *   │ next         │ func: < 4096 → kfree(head − func)   (kfree_rcu's offset)    │
 *   │              │       RCU_CB_BASE + id → a callback of RcuCallback            │
 *   └──────────────┴───────────────────────────────────────────────────────────┘
 */
import { PpemuError } from "../errors.js";
import {
  MACH_RCU_GP_SEQ,
  MACH_RCU_GP_SEQ_NEEDED,
  MACH_RCU_GP_LOCK,
  MACH_RCU_QSMASK,
  MACH_RCU_QS_SNAP,
  type PhysMem,
} from "../mem/physmem.js";
import { CPU_RCU_NESTING, CPU_RCU_QS_CTR, CPU_RCU_CBLIST, CPU_RCU_CB_GP_SEQ, CPU_RCU_CB_COUNT, CPU_PREEMPT_COUNT, RCU_READER_MASK } from "./percpu.js";
import { spinTrylock, spinUnlock } from "./spinlock.js";
import { pointHook, Point } from "../explore/points.js";

/** `__is_kvfree_rcu_offset()`: a func below this is the offset of the rcu_head in a kmalloc'd object. */
export const KVFREE_RCU_OFFSET_MAX = 4096;
/** Callback ids are stored as `RCU_CB_BASE + id` in `callback_head.func`. */
export const RCU_CB_BASE = 0x1000;
/** `callback_head.func` offset (after `next`). */
const RCU_HEAD_FUNC = 8;

/** The callbacks the emulated kernel queues with `call_rcu()`; the ids are fixed, so any CPU decodes them. */
export const enum RcuCallback {
  /** `radix_tree_node_rcu_free()`: an xarray node back to its cache. */
  XA_NODE_FREE = 1,
}

/**
 * What a callback may touch: the thread's machine (a kfree needs the slab; an object of a
 * kmem_cache goes back with kmem_cache_free, as `radix_tree_node_rcu_free()` frees a node).
 */
export interface RcuMachine {
  readonly mem: PhysMem;
  readonly slab: { kfree(addr: number): void; kmemCacheFree(cache: number, obj: number): void };
}

type CallbackFn = (m: RcuMachine, head: number) => void;
const callbacks: (CallbackFn | undefined)[] = [];

/** The code behind a callback id (set once by the module that owns the object's type). */
export function setRcuCallback(id: RcuCallback, fn: CallbackFn): void {
  callbacks[id] = fn;
}

// ---- read side ----

/** `rcu_read_lock()`. */
export function rcuReadLock(mem: PhysMem): void {
  const w = (mem.cpuArea + CPU_RCU_NESTING) >>> 2;
  Atomics.store(mem.i32, w, mem.i32[w]! + 1);
  // After entering: a grace period that starts now must wait for this CPU.
  if (pointHook !== null) pointHook(Point.RCU_READ_LOCK, 0, 0);
}

/** `rcu_read_unlock()`: the outermost one is a quiescent state. */
export function rcuReadUnlock(mem: PhysMem): void {
  if (pointHook !== null) pointHook(Point.RCU_READ_UNLOCK, 0, 0);
  const i32 = mem.i32;
  const w = (mem.cpuArea + CPU_RCU_NESTING) >>> 2;
  const n = i32[w]! - 1;
  if (n < 0) throw new PpemuError("DEADLOCK", `WARNING: rcu_read_unlock() without rcu_read_lock() on CPU#${mem.cpu}`);
  if (n === 0) {
    const q = (mem.cpuArea + CPU_RCU_QS_CTR) >>> 2;
    Atomics.store(i32, q, (i32[q]! + 1) | 0);
  }
  Atomics.store(i32, w, n);
}

/** `rcu_read_lock_held()`: this CPU is inside a read-side section. */
export function rcuReadLockHeld(mem: PhysMem): boolean {
  return mem.i32[(mem.cpuArea + CPU_RCU_NESTING) >>> 2]! > 0;
}

// ---- grace periods ----

/** `rcu_seq_snap()`: the gp_seq at which a grace period that starts after now has ended. */
function seqSnap(seq: number): number {
  return (seq + 3) & ~1;
}
/** `rcu_seq_done()`, wrap-safe. */
function seqDone(cur: number, snap: number): boolean {
  return ((cur - snap) | 0) >= 0;
}

/** `get_state_synchronize_rcu()`. */
export function getStateSynchronizeRcu(mem: PhysMem): number {
  return seqSnap(Atomics.load(mem.i32, (mem.machine + MACH_RCU_GP_SEQ) >>> 2));
}

/** `poll_state_synchronize_rcu()`: has the grace period `cookie` names ended? */
export function pollStateSynchronizeRcu(mem: PhysMem, cookie: number): boolean {
  return seqDone(Atomics.load(mem.i32, (mem.machine + MACH_RCU_GP_SEQ) >>> 2), cookie);
}

function requestGp(mem: PhysMem, snap: number): void {
  const w = (mem.machine + MACH_RCU_GP_SEQ_NEEDED) >>> 2;
  for (;;) {
    const cur = Atomics.load(mem.i32, w);
    if (seqDone(cur, snap) || Atomics.compareExchange(mem.i32, w, cur, snap) === cur) return;
  }
}

/**
 * Move the machine's grace period on as far as it can go now: end the running one if every CPU it
 * waits for has passed a quiescent state, and start the next if one is needed. Any CPU may call it;
 * if another CPU is at it already this returns.
 */
export function rcuGpAdvance(mem: PhysMem): void {
  const h = mem.machine;
  if (!spinTrylock(mem, h + MACH_RCU_GP_LOCK)) return;
  const i32 = mem.i32;
  const seqW = (h + MACH_RCU_GP_SEQ) >>> 2;
  let seq = i32[seqW]!;
  // rcu_gp_cleanup() for the one running, then rcu_gp_init() for the next, which may end at once.
  if ((seq & 1) !== 0 && reportQs(mem)) seq = endGp(i32, seqW, seq);
  if ((seq & 1) === 0 && !seqDone(seq, Atomics.load(i32, (h + MACH_RCU_GP_SEQ_NEEDED) >>> 2))) {
    // Every CPU inside a read section now must pass a quiescent state.
    let lo = 0;
    let hi = 0;
    for (let cpu = 0, n = mem.nrCpus; cpu < n; cpu++) {
      const area = mem.cpuAreaOf(cpu);
      if (!inReader(i32, area)) continue;
      i32[((h + MACH_RCU_QS_SNAP) >>> 2) + cpu] = Atomics.load(i32, (area + CPU_RCU_QS_CTR) >>> 2);
      if (cpu < 32) lo |= 1 << cpu;
      else hi |= 1 << (cpu - 32);
    }
    i32[(h + MACH_RCU_QSMASK) >>> 2] = lo;
    i32[((h + MACH_RCU_QSMASK) >>> 2) + 1] = hi;
    seq = (seq + 1) | 0;
    Atomics.store(i32, seqW, seq);
    if (reportQs(mem)) endGp(i32, seqW, seq);
  }
  spinUnlock(mem, h + MACH_RCU_GP_LOCK);
}

function endGp(i32: Int32Array, seqW: number, seq: number): number {
  const next = (seq + 1) | 0;
  Atomics.store(i32, seqW, next);
  Atomics.notify(i32, seqW);
  return next;
}

/** Is the CPU whose slot is at `area` inside a read-side section of any flavour? */
function inReader(i32: Int32Array, area: number): boolean {
  return Atomics.load(i32, (area + CPU_RCU_NESTING) >>> 2) !== 0 || (Atomics.load(i32, (area + CPU_PREEMPT_COUNT) >>> 2) & RCU_READER_MASK) !== 0;
}

/** Clear the CPUs of `rcu_qsmask` that have passed a quiescent state; true when none is left. */
function reportQs(mem: PhysMem): boolean {
  const i32 = mem.i32;
  const maskW = (mem.machine + MACH_RCU_QSMASK) >>> 2;
  const snapW = (mem.machine + MACH_RCU_QS_SNAP) >>> 2;
  for (let word = 0; word < 2; word++) {
    let mask = i32[maskW + word]!;
    for (let rest = mask; rest !== 0; rest &= rest - 1) {
      const bit = 31 - Math.clz32(rest & -rest);
      const cpu = word * 32 + bit;
      const area = mem.cpuAreaOf(cpu);
      if (!inReader(i32, area) || Atomics.load(i32, (area + CPU_RCU_QS_CTR) >>> 2) !== i32[snapW + cpu]) mask &= ~(1 << bit);
    }
    i32[maskW + word] = mask;
  }
  return i32[maskW] === 0 && i32[maskW + 1] === 0;
}

/** The CPUs the running grace period still waits for (for a stall report). */
export function rcuStalledCpus(mem: PhysMem): number[] {
  const out: number[] = [];
  const maskW = (mem.machine + MACH_RCU_QSMASK) >>> 2;
  for (let cpu = 0; cpu < mem.nrCpus; cpu++) if ((mem.i32[maskW + (cpu >>> 5)]! >>> (cpu & 31)) & 1) out.push(cpu);
  return out;
}

/** `RCU_CPU_STALL_TIMEOUT` (21 s): a grace period this old is a stall, reported and given up on. */
export const RCU_STALL_MS = 21_000;
/** Milliseconds a waiter sleeps between polls of the grace period. */
const GP_WAIT_MS = 0.2;

/**
 * `synchronize_rcu()`: returns once every read-side section that began before the call has ended.
 * Called inside a read section, or waiting on a CPU no thread can run, it cannot end: DEADLOCK.
 */
export function synchronizeRcu(mem: PhysMem): void {
  if (rcuReadLockHeld(mem) || (mem.i32[(mem.cpuArea + CPU_PREEMPT_COUNT) >>> 2]! & RCU_READER_MASK) !== 0) {
    throw new PpemuError("DEADLOCK", `WARNING: suspicious RCU usage: Illegal synchronize_rcu() in RCU read-side critical section (CPU#${mem.cpu})`);
  }
  const i32 = mem.i32;
  const seqW = (mem.machine + MACH_RCU_GP_SEQ) >>> 2;
  const snap = seqSnap(Atomics.load(i32, seqW));
  requestGp(mem, snap);
  const shared = i32.buffer instanceof SharedArrayBuffer;
  let deadline = 0;
  for (;;) {
    rcuGpAdvance(mem);
    const seq = Atomics.load(i32, seqW);
    if (seqDone(seq, snap)) return;
    if (pointHook !== null) {
      // Under the explorer: stop until another CPU has moved (a reader must leave its section).
      pointHook(Point.SYNCHRONIZE_RCU_WAIT, seq, snap);
      continue;
    }
    if (!shared || (deadline !== 0 && Date.now() > deadline)) {
      const cpus = rcuStalledCpus(mem);
      throw new PpemuError("DEADLOCK", `INFO: rcu_sched detected stalls on CPUs/tasks: { ${cpus.join(" ")} } (detected by ${mem.cpu}, g=${seq})`);
    }
    if (deadline === 0) deadline = Date.now() + RCU_STALL_MS;
    Atomics.wait(i32, seqW, seq, GP_WAIT_MS);
  }
}

/** `synchronize_net()`: `synchronize_rcu()` (the expedited flavour when RTNL is held waits the same). */
export const synchronizeNet = synchronizeRcu;

// ---- callbacks ----

/**
 * `call_rcu(head, func)`: `func` runs on this CPU after a grace period. `func` is `RCU_CB_BASE + id`,
 * or (`kfree_rcu`) the rcu_head's offset in the object.
 */
export function callRcu(m: RcuMachine, head: number, func: number): void {
  const mem = m.mem;
  const area = mem.cpuArea;
  const snap = getStateSynchronizeRcu(mem);
  mem.wrPtr(head, mem.rdPtr(area + CPU_RCU_CBLIST));
  mem.wr64(head + RCU_HEAD_FUNC, 0, func);
  mem.wrPtr(area + CPU_RCU_CBLIST, head);
  // One cookie for the whole list: the later of the two, so nothing runs early.
  const count = mem.rd32(area + CPU_RCU_CB_COUNT);
  const cookie = mem.rd32(area + CPU_RCU_CB_GP_SEQ);
  if (count === 0 || seqDone(snap, cookie)) mem.wr32(area + CPU_RCU_CB_GP_SEQ, snap);
  mem.wr32(area + CPU_RCU_CB_COUNT, count + 1);
  requestGp(mem, snap);
  rcuPoll(m);
}

/** `kfree_rcu(obj, rcu_head member)`: kfree `obj` after a grace period. */
export function kfreeRcu(m: RcuMachine, obj: number, headOffset: number): void {
  if (headOffset >= KVFREE_RCU_OFFSET_MAX) throw new Error(`kfree_rcu: rcu_head offset ${headOffset} is past ${KVFREE_RCU_OFFSET_MAX}`);
  callRcu(m, obj + headOffset, headOffset);
}

/** `rcu_core()` for this CPU: advance the grace period, and run this CPU's callbacks if theirs ended. */
export function rcuPoll(m: RcuMachine): number {
  const mem = m.mem;
  const area = mem.cpuArea;
  if (mem.rd32(area + CPU_RCU_CB_COUNT) === 0) return 0;
  rcuGpAdvance(mem);
  if (!pollStateSynchronizeRcu(mem, mem.rd32(area + CPU_RCU_CB_GP_SEQ))) return 0;
  let head = mem.rdPtr(area + CPU_RCU_CBLIST);
  mem.wrPtr(area + CPU_RCU_CBLIST, 0);
  const n = mem.rd32(area + CPU_RCU_CB_COUNT);
  mem.wr32(area + CPU_RCU_CB_COUNT, 0);
  // The list is newest first; callbacks run in the order they were queued, as the kernel's do.
  const heads: number[] = [];
  for (let k = 0; head !== 0 && k < n; k++, head = mem.rdPtr(head)) heads.push(head);
  for (let k = heads.length - 1; k >= 0; k--) invoke(m, heads[k]!, mem.rd32(heads[k]! + RCU_HEAD_FUNC));
  return n;
}

/** `rcu_barrier()` for this CPU's callbacks: wait for their grace period, then run them. */
export function rcuBarrier(m: RcuMachine): void {
  while (m.mem.rd32(m.mem.cpuArea + CPU_RCU_CB_COUNT) !== 0) {
    synchronizeRcu(m.mem);
    rcuPoll(m);
  }
}

/** Callbacks queued on `cpu` and not yet run. */
export function rcuPendingCallbacks(mem: PhysMem, cpu: number): number {
  return Atomics.load(mem.i32, (mem.cpuAreaOf(cpu) + CPU_RCU_CB_COUNT) >>> 2);
}

/** Each callback_head queued on `cpu`, oldest last (for accounting and `explain`). */
export function forEachRcuCallback(mem: PhysMem, cpu: number, cb: (head: number, func: number) => void): void {
  const area = mem.cpuAreaOf(cpu);
  const n = mem.rd32(area + CPU_RCU_CB_COUNT);
  let head = mem.rdPtr(area + CPU_RCU_CBLIST);
  for (let k = 0; head !== 0 && k < n; k++) {
    cb(head, mem.rd32(head + RCU_HEAD_FUNC));
    head = mem.rdPtr(head);
  }
}

function invoke(m: RcuMachine, head: number, func: number): void {
  if (func < KVFREE_RCU_OFFSET_MAX) {
    m.slab.kfree(head - func);
    return;
  }
  const fn = callbacks[func - RCU_CB_BASE];
  if (fn === undefined) throw new Error(`ppemu: rcu callback 0x${func.toString(16)} at 0x${head.toString(16)} is unknown`);
  fn(m, head);
}
