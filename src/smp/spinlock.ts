/**
 * `spinlock_t` as one Atomics word in the buffer, so a worker attached to the same
 * SharedArrayBuffer contends for it as another CPU would.
 *
 *    31  30                                   0
 *   ┌───┬────────────────────────────────────┐
 *   │ W │ owner: smp_processor_id() + 1      │   0: unlocked
 *   └───┴────────────────────────────────────┘
 *   W (SPIN_WAITERS): some CPU sleeps in Atomics.wait on the word; unlock then notifies.
 *
 * The owner is CONFIG_DEBUG_SPINLOCK's `owner_cpu`, kept in the lock word itself so it costs
 * nothing: relocking on the owning CPU is "BUG: spinlock recursion" instead of a hang. A contended
 * lock spins briefly, then sleeps with a short timeout (futex style, never a bare busy loop that
 * starves a 2-core machine); on a buffer no other thread can reach (an ArrayBuffer) a held lock can
 * never be released, so that is reported as a lockup at once.
 */
import { PpemuError } from "../errors.js";
import type { CpuView } from "./percpu.js";
import { pointHook, Point } from "../explore/points.js";

export const SPIN_WAITERS = 1 << 31;
export const SPIN_OWNER_MASK = ~SPIN_WAITERS;
/** CAS attempts before a contended locker sleeps. */
const SPIN_TRIES = 64;
/** Milliseconds per sleep: a missed wake-up costs at most this. */
const SPIN_SLEEP_MS = 1;
/** `BUG: spinlock lockup suspected`: after this long without the lock. */
export const SPIN_LOCKUP_MS = 20_000;

/** `spin_lock()`: the word at byte address `addr`. */
export function spinLock(v: CpuView, addr: number): void {
  if (pointHook !== null) pointHook(Point.SPIN_LOCK, addr, 0);
  if (Atomics.compareExchange(v.i32, addr >>> 2, 0, v.cpu + 1) !== 0) spinLockSlow(v, addr);
}

/** `spin_trylock()`. */
export function spinTrylock(v: CpuView, addr: number): boolean {
  return Atomics.compareExchange(v.i32, addr >>> 2, 0, v.cpu + 1) === 0;
}

/** `spin_unlock()`: wakes a sleeper when one marked the word. */
export function spinUnlock(v: CpuView, addr: number): void {
  if (pointHook !== null) pointHook(Point.SPIN_UNLOCK, addr, 0);
  const idx = addr >>> 2;
  const old = Atomics.exchange(v.i32, idx, 0);
  if (old < 0) Atomics.notify(v.i32, idx, 1);
  else if (old === 0) spinBug(v, addr, "already unlocked");
}

/** `spin_is_locked()`. */
export function spinIsLocked(i32: Int32Array, addr: number): boolean {
  return Atomics.load(i32, addr >>> 2) !== 0;
}

/** The CPU holding the lock at `addr`, or -1. */
export function spinOwner(i32: Int32Array, addr: number): number {
  return (Atomics.load(i32, addr >>> 2) & SPIN_OWNER_MASK) - 1;
}

function spinLockSlow(v: CpuView, addr: number): void {
  const i32 = v.i32;
  const idx = addr >>> 2;
  const me = v.cpu + 1;
  const shared = i32.buffer instanceof SharedArrayBuffer;
  let deadline = 0;
  for (let tries = 0; ; tries++) {
    const cur = Atomics.load(i32, idx);
    if (cur === 0) {
      // Keep the waiters bit once we have slept: another sleeper may still be there.
      if (Atomics.compareExchange(i32, idx, 0, deadline === 0 ? me : me | SPIN_WAITERS) === 0) return;
      continue;
    }
    if ((cur & SPIN_OWNER_MASK) === me) spinBug(v, addr, "recursion");
    if (pointHook !== null) {
      // Under the explorer the holder runs only when the scheduler says: wait there, not here.
      pointHook(Point.SPIN_LOCK_CONTENDED, addr, 0);
      continue;
    }
    if (!shared) spinBug(v, addr, "lockup suspected");
    if (tries < SPIN_TRIES) continue;
    if (deadline === 0) deadline = Date.now() + SPIN_LOCKUP_MS;
    else if (Date.now() > deadline) spinBug(v, addr, "lockup suspected");
    const marked = cur | SPIN_WAITERS;
    if (cur === marked || Atomics.compareExchange(i32, idx, cur, marked) === cur) Atomics.wait(i32, idx, marked, SPIN_SLEEP_MS);
  }
}

/** CONFIG_DEBUG_SPINLOCK's `spin_bug()`: the machine cannot go on, so this throws. */
function spinBug(v: CpuView, addr: number, msg: string): never {
  const owner = spinOwner(v.i32, addr);
  throw new PpemuError(
    "DEADLOCK",
    `BUG: spinlock ${msg} on CPU#${v.cpu}, lock: 0x${addr.toString(16)}, .owner_cpu: ${owner}`,
  );
}
