/**
 * The stress run's control area (harness memory beside the machine, src/smp/runner.ts): round and
 * phase words, one SPSC queue per returner CPU (the skbs the NAPI CPU hands up the stack on that
 * CPU), and an owner table by pfn that catches a page handed out twice or returned by a CPU that
 * did not hold it. Word indices (`_idx`), all accessed with Atomics.
 *
 *   0 … 15      the runner's (CTRL_STOP)
 *   16 …        S_* words below
 *   QUEUES_IDX  per CPU k: [head, tail, acked_round, returned, returned_in_softirq, held, 0, 0, slots × QUEUE_CAP]
 *   owner_idx   one word per pfn: 0 free, else the holding CPU + 1
 */
import { CTRL_USER } from "../smp/runner.js";

export const S_ROUND = CTRL_USER; // the round CPU 0 runs now (from 1)
export const S_PHASE = CTRL_USER + 1; // Phase
export const S_POOL = CTRL_USER + 2;
export const S_DEV = CTRL_USER + 3;
/** Set by whichever CPU saw a violation first: every CPU stops. */
export const S_VIOLATION = CTRL_USER + 4;
/** Returners that acknowledged a pause (PHASE_PAUSE). */
export const S_PAUSED = CTRL_USER + 5;

export const enum Phase {
  IDLE = 0,
  RUN = 1,
  /** Returners stop returning and say so: CPU 0 counts what is in flight. */
  PAUSE = 2,
  /** The pool is destroyed and the device unbound: return everything, then acknowledge. */
  DRAIN = 3,
}

export const QUEUE_CAP_BITS = 10;
export const QUEUE_CAP = 1 << QUEUE_CAP_BITS; // 1024 pages per returner
export const QUEUE_MASK = QUEUE_CAP - 1;
export const Q_HEAD = 0;
export const Q_TAIL = 1;
export const Q_ACKED = 2;
export const Q_RETURNED = 3;
export const Q_RETURNED_SOFTIRQ = 4;
/** Pages the returner holds outside its queue (its stash). */
export const Q_HELD = 5;
export const Q_SLOTS = 8;
export const QUEUE_WORDS = Q_SLOTS + QUEUE_CAP;
export const QUEUES_IDX = 64;

export function queueIdx(cpu: number): number {
  return QUEUES_IDX + cpu * QUEUE_WORDS;
}

export function ownerIdx(nrCpus: number): number {
  return QUEUES_IDX + nrCpus * QUEUE_WORDS;
}

export function controlBytes(nrCpus: number, nrFrames: number): number {
  return (ownerIdx(nrCpus) + nrFrames) * 4;
}

/** SPSC push (the NAPI CPU): false when full. */
export function queuePush(ctl: Int32Array, q: number, page: number): boolean {
  const tail = ctl[q + Q_TAIL]!;
  if (tail - Atomics.load(ctl, q + Q_HEAD) >= QUEUE_CAP) return false;
  ctl[q + Q_SLOTS + (tail & QUEUE_MASK)] = page;
  Atomics.store(ctl, q + Q_TAIL, tail + 1);
  return true;
}

/** SPSC pop (the returner): 0 when empty. */
export function queuePop(ctl: Int32Array, q: number): number {
  const head = ctl[q + Q_HEAD]!;
  if (head === Atomics.load(ctl, q + Q_TAIL)) return 0;
  const page = ctl[q + Q_SLOTS + (head & QUEUE_MASK)]!;
  Atomics.store(ctl, q + Q_HEAD, head + 1);
  return page;
}

export function queueLength(ctl: Int32Array, q: number): number {
  return Atomics.load(ctl, q + Q_TAIL) - Atomics.load(ctl, q + Q_HEAD);
}

/** The programs' seeded PRNG (one per CPU, so a run is reproducible per CPU). */
export { mulberry32 as prng } from "../prng.js";
