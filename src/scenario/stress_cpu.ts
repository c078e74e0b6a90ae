/**
 * The stress run's CPU programs (src/scenario/stress.ts starts them with runCpus).
 *
 * CPU 0 is the driver: per round it probes a device, creates a DMA-mapping pool and, as its NAPI
 * CPU, polls (softirq, `list_owner` = 0) and hands pages to the returner CPUs' queues. Mid-run it
 * pauses the returners once to count what is in flight, lets them go, and then, while they are
 * still returning, disables NAPI, destroys the pool and unbinds the device; as the kworker it runs
 * `page_pool_release_retry()` until the pool is freed, and checks the round (src/scenario/stress_check.ts).
 *
 * CPUs 1…N−1 are the stack on other CPUs: each returns the pages of its queue with
 * `page_pool_put_full_page(pool, page, allow_direct=false)`, half of them in softirq, some held a
 * little and returned out of order.
 */
import type { CpuProgramContext } from "../smp/runner.js";
import { CTRL_STOP } from "../smp/runner.js";
import { rcuBarrier, rcuPoll, synchronizeNet } from "../smp/rcu.js";
import { softirqEnter, softirqExit, preemptDisable, preemptEnable } from "../smp/percpu.js";
import { PP_FLAG_DMA_MAP, PP_FLAG_DMA_SYNC_DEV, DEFER_TIME_MS } from "../pool/page_pool.js";
import { DMA_FROM_DEVICE } from "../dma/index.js";
import { STRUCT_PAGE_SHIFT } from "../mem/page.js";
import { resolveBuild } from "../builds/index.js";
import {
  S_ROUND,
  S_PHASE,
  S_POOL,
  S_DEV,
  S_VIOLATION,
  S_PAUSED,
  Phase,
  Q_ACKED,
  Q_HELD,
  Q_RETURNED,
  Q_RETURNED_SOFTIRQ,
  queueIdx,
  ownerIdx,
  queuePush,
  queuePop,
  queueLength,
  prng,
} from "./stress_layout.js";
import { checkRound, diagBaseline, type RoundCheck } from "./stress_check.js";

export interface StressArgs {
  readonly seconds: number;
  /** Real ms of NAPI polling per round before the destroy. */
  readonly roundMs: number;
  readonly seed: number;
  readonly poolSize: number;
  /** Pages per NAPI poll. */
  readonly batch: number;
  /**
   * The emulated kernel's preemption model for the returners' process-context puts: "voluntary"
   * (PREEMPT_NONE/VOLUNTARY: kernel code runs to a schedule point, an RCU-sched reader) or "full"
   * (CONFIG_PREEMPT: it can be preempted anywhere outside softirq and rcu_read_lock()).
   */
  readonly preempt: "voluntary" | "full";
  /** Count what the emulated kernel does wrong and go on (a broken machine invariant still stops). */
  readonly keepGoing: boolean;
  /** A self-test of the checks: in round 2, queue one page twice (the returner must catch it). */
  readonly inject?: "hand-out-twice";
}

export interface StressCpu0Result {
  readonly rounds: number;
  readonly handedOut: number;
  readonly recycledDirect: number;
  readonly returnedBeforeDestroy: number;
  readonly unmapsAfterUnbind: number;
  readonly syncsAfterUnbind: number;
  readonly outlivedDriver: number;
  readonly stalledWarnings: number;
  /** Diagnostics the emulated kernel printed that a correct run does not (and rounds with any). */
  readonly kernelEvents: number;
  readonly kernelRounds: number;
  readonly firstKernel: string | null;
  /** The violation that stopped the run, or null; its kind; the round it broke in. */
  readonly violation: string | null;
  readonly violationKind: ViolationKind | null;
  readonly violationRound: number;
}

export interface StressReturnerResult {
  readonly cpu: number;
  readonly returned: number;
  readonly inSoftirq: number;
  readonly violation: string | null;
  /** The CPU died in the emulated kernel (a wild pointer, a lockup). */
  readonly crashed: boolean;
}

const PAUSE_LIMIT_MS = 20_000;
const DRAIN_LIMIT_MS = 60_000;
/** Deferred retries after the drain before an unfreed pool is a violation (virtual 10 min). */
const RETRIES_AFTER_DRAIN = 600;

const hex = (n: number): string => "0x" + (n >>> 0).toString(16);

/**
 * "invariant": the machine's own (a page lost or handed out twice, a frame unaccounted); "kernel":
 * what the emulated kernel printed or did to a device; "crash": a CPU died in the emulated kernel
 * (it dereferenced a pointer outside memory, a lock never came free): the run cannot go on.
 */
export type ViolationKind = "invariant" | "kernel" | "crash";

/** A CPU's death in the emulated kernel, as one line: what happened and the functions it was in. */
function crashText(e: unknown): string {
  const err = e instanceof Error ? e : new Error(String(e));
  const frames = (err.stack ?? "")
    .split("\n")
    .map((l) => /^\s+at (?:async )?([\w$.<>]+) \(/.exec(l)?.[1])
    .filter((f): f is string => f !== undefined && !f.startsWith("Object.") && f !== "processTicksAndRejections")
    .slice(0, 5);
  const what = err instanceof RangeError ? `BUG: unable to handle page fault: a pointer outside the machine (${err.message})` : err.message;
  return frames.length > 0 ? `${what} in ${frames.join(" < ")}` : what;
}

function violate(ctl: Int32Array): void {
  Atomics.store(ctl, S_VIOLATION, 1);
  Atomics.store(ctl, CTRL_STOP, 1);
  Atomics.notify(ctl, S_PHASE);
}

/** Wait (sleeping in short slices) until `done()`; false on timeout or stop. */
function waitFor(ctl: Int32Array, word: number, limitMs: number, done: () => boolean, step?: () => void): boolean {
  const deadline = Date.now() + limitMs;
  while (!done()) {
    if (Atomics.load(ctl, S_VIOLATION) !== 0 || Date.now() > deadline) return false;
    if (step) step();
    Atomics.wait(ctl, word, Atomics.load(ctl, word), 1);
  }
  return true;
}

/** CPU 0: the driver, its NAPI poll, its remove path, and the kworker. */
export function driver(ctx: CpuProgramContext): StressCpu0Result {
  const { sys, control: ctl } = ctx;
  const a = ctx.args as StressArgs;
  const { pps, dma, m } = sys;
  const mem = m.mem;
  const build = resolveBuild(sys.build.name)!;
  const nr = ctx.nrCpus;
  const owner = ownerIdx(nr);
  const rnd = prng(a.seed ^ 0x9e3779b9);
  const end = Date.now() + a.seconds * 1000;
  let rounds = 0;
  let handedOut = 0;
  let recycledDirect = 0;
  let returnedBeforeDestroy = 0;
  let unmapsAfterUnbind = 0;
  let syncsAfterUnbind = 0;
  let outlivedDriver = 0;
  let stalledWarnings = 0;
  let kernelEvents = 0;
  let kernelRounds = 0;
  let firstKernel: string | null = null;
  let violation: string | null = null;
  let violationKind: ViolationKind | null = null;
  let violationRound = 0;
  const fail = (msg: string, kind: ViolationKind = "invariant"): void => {
    if (violation !== null) return;
    violation = msg;
    violationKind = kind;
    violationRound = rounds;
    violate(ctl);
  };
  let baseline = diagBaseline(mem);
  const returned = (): number => {
    let n = 0;
    for (let cpu = 1; cpu < nr; cpu++) n += Atomics.load(ctl, queueIdx(cpu) + Q_RETURNED);
    return n;
  };

  try {
    while (Date.now() < end && violation === null && Atomics.load(ctl, S_VIOLATION) === 0) {
      rounds++;
      const dev = dma.deviceCreate(`0000:03:00.${rounds & 7}`);
      const napi = pps.o.napi >= 0 ? pps.napiCreate(-1) : 0;
      const pool = dev === 0 ? -12 : pps.create({ flags: PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV, poolSize: a.poolSize, dev, dmaDir: DMA_FROM_DEVICE, maxLen: mem.pageSize, napi });
      if (pool < 0) {
        fail(`round ${rounds}: page_pool_create failed (${pool})`);
        break;
      }
      Atomics.store(ctl, S_POOL, pool);
      Atomics.store(ctl, S_DEV, dev);
      Atomics.store(ctl, S_ROUND, rounds);
      Atomics.store(ctl, S_PHASE, Phase.RUN);
      Atomics.notify(ctl, S_PHASE);
      const returned0 = returned();

      // NAPI polls on this CPU.
      const runEnd = Date.now() + a.roundMs;
      while (Date.now() < runEnd && violation === null) {
        pps.napiPollBegin(napi);
        for (let k = 0; k < a.batch; k++) {
          const page = pps.allocPages(pool);
          if (page === 0) break;
          const cpu = 1 + ((rnd() * (nr - 1)) | 0);
          if (rnd() < 0.1) {
            pps.recycleDirect(pool, page);
            recycledDirect++;
            continue;
          }
          const pfn = page >>> STRUCT_PAGE_SHIFT;
          const had = Atomics.compareExchange(ctl, owner + pfn, 0, cpu + 1);
          if (had !== 0) {
            fail(`round ${rounds}: page ${hex(page)} handed out twice (CPU ${had - 1} still holds it)`);
            break;
          }
          if (queuePush(ctl, queueIdx(cpu), page)) {
            handedOut++;
            // The self-test: the same page up the stack twice, as a driver bug would send it.
            if (a.inject === "hand-out-twice" && rounds === 2 && k === 0) queuePush(ctl, queueIdx(cpu), page);
          } else {
            Atomics.store(ctl, owner + pfn, 0);
            pps.recycleDirect(pool, page);
            recycledDirect++;
          }
        }
        pps.napiPollEnd(napi);
        rcuPoll(m);
      }
      if (violation !== null) break;

      // Pause the returners once: hold - release must be exactly the cache, the ring and the CPUs' pages.
      Atomics.store(ctl, S_PAUSED, 0);
      Atomics.store(ctl, S_PHASE, Phase.PAUSE);
      Atomics.notify(ctl, S_PHASE);
      if (!waitFor(ctl, S_PAUSED, PAUSE_LIMIT_MS, () => Atomics.load(ctl, S_PAUSED) === nr - 1)) {
        // A returner that saw a violation stopped: its report is the one to keep.
        if (Atomics.load(ctl, S_VIOLATION) === 0) fail(`round ${rounds}: the returners did not pause within ${PAUSE_LIMIT_MS} ms`);
        break;
      }
      let held = 0;
      for (let cpu = 1; cpu < nr; cpu++) held += queueLength(ctl, queueIdx(cpu)) + Atomics.load(ctl, queueIdx(cpu) + Q_HELD);
      const inflight = pps.inflight(pool);
      const cache = pps.cacheCount(pool);
      const ring = pps.ringCount(pool);
      if (inflight !== cache + ring + held) {
        fail(`round ${rounds}: hold - release = ${inflight}, but the cache holds ${cache}, the ring ${ring} and the CPUs ${held}`);
        break;
      }
      let owned = 0;
      for (let pfn = 0; pfn < mem.nrFrames; pfn++) if (ctl[owner + pfn] !== 0) owned++;
      if (owned !== held) {
        fail(`round ${rounds}: the owner table says ${owned} pages are out, the queues and stashes hold ${held}`);
        break;
      }
      returnedBeforeDestroy += returned() - returned0;
      // One more poll while they are paused, so pages are in flight when the destroy comes however
      // fast the returners kept up (on a loaded machine they may have emptied every queue).
      pps.napiPollBegin(napi);
      for (let k = 0; k < a.batch; k++) {
        const page = pps.allocPages(pool);
        if (page === 0) break;
        const cpu = 1 + (k % (nr - 1));
        const pfn = page >>> STRUCT_PAGE_SHIFT;
        if (Atomics.compareExchange(ctl, owner + pfn, 0, cpu + 1) !== 0) {
          fail(`round ${rounds}: page ${hex(page)} handed out twice`);
          break;
        }
        if (queuePush(ctl, queueIdx(cpu), page)) handedOut++;
        else {
          Atomics.store(ctl, owner + pfn, 0);
          pps.recycleDirect(pool, page);
          recycledDirect++;
        }
      }
      pps.napiPollEnd(napi);
      if (violation !== null) break;

      // The remove path while the returners go on: unregister_netdev() closes the device
      // (napi_disable(), page_pool_destroy()) and waits a grace period (synchronize_net()); then
      // the driver unbinds from the device.
      Atomics.store(ctl, S_PHASE, Phase.RUN);
      Atomics.notify(ctl, S_PHASE);
      pps.napiDisable(napi);
      pps.destroy(pool);
      synchronizeNet(mem);
      dma.deviceUnbind(dev);
      Atomics.store(ctl, S_PHASE, Phase.DRAIN);
      Atomics.notify(ctl, S_PHASE);

      // The kworker: page_pool_release_retry() every DEFER_TIME while they drain.
      const acked = (): boolean => {
        for (let cpu = 1; cpu < nr; cpu++) if (Atomics.load(ctl, queueIdx(cpu) + Q_ACKED) !== rounds) return false;
        return true;
      };
      // One retry per 10 ms of real time, so a drain of a second is 100 s of virtual time at most.
      let nextRetry = 0;
      const kworker = (): void => {
        const now = Date.now();
        if (now < nextRetry) return;
        nextRetry = now + 10;
        pps.advance(DEFER_TIME_MS);
      };
      if (!waitFor(ctl, S_PHASE, DRAIN_LIMIT_MS, acked, kworker)) {
        if (Atomics.load(ctl, S_VIOLATION) === 0) fail(`round ${rounds}: the returners did not drain within ${DRAIN_LIMIT_MS} ms`);
        break;
      }
      for (let i = 0; i < RETRIES_AFTER_DRAIN && pps.isLive(pool); i++) pps.advance(DEFER_TIME_MS);
      rcuBarrier(m);
      const r: RoundCheck = checkRound(sys, build, ctl, nr, dev, pool, baseline);
      unmapsAfterUnbind += r.unmapsAfterUnbind;
      syncsAfterUnbind += r.syncsAfterUnbind;
      outlivedDriver += r.outlivedDriver;
      stalledWarnings += r.stalledWarnings;
      if (r.invariants.length > 0) {
        fail(`round ${rounds}: ${[...r.invariants, ...r.kernel].join("; ")}`);
        break;
      }
      if (r.kernel.length > 0) {
        kernelEvents += r.kernelEvents;
        kernelRounds++;
        firstKernel ??= `round ${rounds}: ${r.kernel.join("; ")}`;
        if (!a.keepGoing) {
          fail(firstKernel, "kernel");
          break;
        }
      }
      baseline = r.baseline;
      dma.deviceDestroy(dev);
      if (napi !== 0) m.slab.kfree(napi);
      Atomics.store(ctl, S_PHASE, Phase.IDLE);
    }
  } catch (e) {
    fail(`round ${rounds}: CPU 0: ${crashText(e)}`, "crash");
  }
  Atomics.store(ctl, CTRL_STOP, 1);
  Atomics.notify(ctl, S_PHASE);
  return {
    rounds,
    handedOut,
    recycledDirect,
    returnedBeforeDestroy,
    unmapsAfterUnbind,
    syncsAfterUnbind,
    outlivedDriver,
    stalledWarnings,
    kernelEvents,
    kernelRounds,
    firstKernel,
    violation,
    violationKind,
    violationRound,
  };
}

/** CPUs 1…N−1: the stack, returning pages from another CPU. */
export function returner(ctx: CpuProgramContext): StressReturnerResult {
  const { sys, control: ctl, cpu } = ctx;
  const a = ctx.args as StressArgs;
  const { pps, m } = sys;
  const mem = m.mem;
  const q = queueIdx(cpu);
  const owner = ownerIdx(ctx.nrCpus);
  const rnd = prng(a.seed + cpu * 7919);
  const stash: number[] = [];
  const voluntary = a.preempt === "voluntary";
  let pausedRound = 0;
  let ackedRound = 0;
  let returned = 0;
  let inSoftirq = 0;
  let violation: string | null = null;
  let crashed = false;
  let pool = 0;
  const give = (page: number): void => {
    const pfn = page >>> STRUCT_PAGE_SHIFT;
    const had = Atomics.compareExchange(ctl, owner + pfn, cpu + 1, 0);
    if (had !== cpu + 1) {
      violation ??= `CPU ${cpu} returned page ${hex(page)}, which ${had === 0 ? "nobody" : `CPU ${had - 1}`} held`;
      violate(ctl);
      return;
    }
    if (rnd() < 0.5) {
      softirqEnter(mem);
      pps.putFullPage(pool, page, false);
      softirqExit(mem);
      inSoftirq++;
      Atomics.add(ctl, q + Q_RETURNED_SOFTIRQ, 1);
    } else if (voluntary) {
      preemptDisable(mem);
      pps.putFullPage(pool, page, false);
      preemptEnable(mem);
    } else {
      pps.putFullPage(pool, page, false);
    }
    returned++;
    Atomics.add(ctl, q + Q_RETURNED, 1);
  };
  try {
    while (!ctx.stopRequested() && Atomics.load(ctl, S_VIOLATION) === 0) {
      const phase = Atomics.load(ctl, S_PHASE);
      const round = Atomics.load(ctl, S_ROUND);
      if (phase === Phase.IDLE || (phase === Phase.DRAIN && ackedRound === round)) {
        Atomics.wait(ctl, S_PHASE, phase, 2);
        continue;
      }
      if (phase === Phase.PAUSE) {
        if (pausedRound !== round) {
          pausedRound = round;
          Atomics.store(ctl, q + Q_HELD, stash.length);
          Atomics.add(ctl, S_PAUSED, 1);
          Atomics.notify(ctl, S_PAUSED);
        }
        Atomics.wait(ctl, S_PHASE, Phase.PAUSE, 2);
        continue;
      }
      pool = Atomics.load(ctl, S_POOL);
      let n = 0;
      for (; n < 32; n++) {
        const page = queuePop(ctl, q);
        if (page === 0) break;
        if (phase === Phase.RUN && stash.length < 16 && rnd() < 0.25) stash.push(page);
        else give(page);
      }
      if (stash.length > 0 && (n === 0 || stash.length >= 16 || phase === Phase.DRAIN)) {
        while (stash.length > 0) give(stash.splice((rnd() * stash.length) | 0, 1)[0]!);
      }
      Atomics.store(ctl, q + Q_HELD, stash.length);
      if (n === 0) {
        if (phase === Phase.DRAIN && stash.length === 0 && queueLength(ctl, q) === 0) {
          // Done with the round: this CPU's RCU callbacks (xarray nodes) run first, so the machine
          // is still while CPU 0 checks it.
          rcuBarrier(m);
          ackedRound = round;
          Atomics.store(ctl, q + Q_ACKED, round);
          Atomics.notify(ctl, S_PHASE);
          continue;
        }
        rcuPoll(m);
        Atomics.wait(ctl, S_PHASE, phase, 0.2);
      }
    }
  } catch (e) {
    violation ??= `CPU ${cpu}: ${crashText(e)}`;
    crashed = true;
    violate(ctl);
  }
  // Stopped (end of run or a violation): what is still held goes back, so the machine is whole.
  if (pool !== 0 && Atomics.load(ctl, S_VIOLATION) === 0) for (const page of stash) give(page);
  if (!crashed) rcuBarrier(m);
  return { cpu, returned, inSoftirq, violation, crashed };
}
