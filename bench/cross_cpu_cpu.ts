/**
 * The CPU programs of the SMP benchmarks (bench/cross_cpu.ts starts them with startCpus; each runs
 * in its own worker thread, attached to the machine's SharedArrayBuffer, bound to its CPU).
 *
 * cross_cpu — bench_page_pool_cross_cpu (netoptimizer/prototype-kernel
 * kernel/lib/bench_page_pool_cross_cpu.c @d5548a5222a66b464698ba68d8b8b8f0fc4aed6a):
 *   crossRx      CPU 0, the tasklet pp_tasklet_simulate_rx_napi() in softirq: allocate, round-robin
 *                into the returning CPUs' SPSC queues with __ptr_ring_produce(); a full queue →
 *                page_pool_recycle_direct(), counted as `full`. Its record is the tasklet CPU's
 *                branch of time_pp_put_page_recycle(): invoke count nr_cpus × loops + nr_cpus.
 *   crossReturn  CPU k ≥ 1, a returning kthread (process context): spin on ptr_ring_consume() for
 *                the first page, ndelay(400), put it, then time `loops` × (ptr_ring_consume +
 *                page_pool_put_page(pool, page, -1, false)): the pool's ring as a contended MPSC
 *                ring under its producer_lock. Gives up after loops × 100 empty queues, as the
 *                module does.
 *   The module's kthread CPUs are 0…nr−1 and the tasklet's CPU nr; here the tasklet is CPU 0 and
 *   CPU k returns from queue k − 1.
 *
 * page_pool02_ptr_ring_contended — what the kernel never measured:
 *   contendedOwner   CPU 0, in softirq (a tasklet, as bench_page_pool_simple): rounds of (hand
 *                    each other CPU `share` pages from the pool through its SPSC queue, untimed;
 *                    then time page_pool02_ptr_ring's loop — alloc + put allow_direct=false — in
 *                    chunks). Contended rounds release the other CPUs before the timed loop and
 *                    stop it at the first chunk after one of them has put its last page; each is
 *                    followed by an uncontended round of the same element count with the other
 *                    CPUs released only after it. Same code, pool and worker: the difference is
 *                    the other CPUs' puts into the same ring.
 *   contendedHelper  CPU k ≥ 1 (process context): when released, consume its queue and
 *                    page_pool_put_page(pool, page, -1, false) every page: real pool pages.
 *
 * Synchronisation lives in the run's control area (harness memory); the queues, the pool and the
 * pages are machine memory.
 */
import type { CpuProgramContext } from "../src/smp/runner.js";
import { CTRL_USER } from "../src/smp/runner.js";
import { softirqEnter, softirqExit } from "../src/smp/percpu.js";
import { ptrRingConsume, ptrRingProduceLocked } from "../src/pool/ptr_ring.js";
import type { PagePools } from "../src/pool/page_pool.js";
import type { PhysMem } from "../src/mem/physmem.js";

/** Control words (Int32 indices). */
export const C_READY = CTRL_USER; // CPUs waiting for the start (time_bench_sync.nr_tests_running)
export const C_START = CTRL_USER + 1; // complete_all(&sync->start_event)
export const C_DONE = CTRL_USER + 2; // returning CPUs finished (cross_cpu) / helpers done this round (contended)
export const C_ROUND = CTRL_USER + 3; // contended: the round the helpers may drain
export const C_QUIT = CTRL_USER + 4; // contended: no more rounds
export const C_KIND = CTRL_USER + 5; // contended: 1 contended round, 2 uncontended, 0 warm-up
/** contended: helper k's puts so far this round, one 64-byte line per helper. */
export const C_PROGRESS = CTRL_USER + 16;
const progressIdx = (cpu: number): number => C_PROGRESS + 16 * (cpu - 1);

export interface CrossArgs {
  readonly pool: number;
  /** The SPSC `struct ptr_ring`s, queue k − 1 for CPU k. */
  readonly queues: readonly number[];
  readonly loops: number;
  readonly queueSize: number;
  readonly firstPageDelayNs: number;
}

export interface CrossRxResult {
  readonly invokeCount: number;
  readonly timeNs: number;
  readonly produced: number;
  readonly full: number;
  readonly outOfPages: number;
  readonly stalled: boolean;
}

export interface CrossReturnResult {
  readonly invokeCount: number;
  readonly timeNs: number;
  /** Pages put back, the first one included. */
  readonly returned: number;
  readonly empty: number;
  readonly aborted: boolean;
}

const now = (): bigint => process.hrtime.bigint();

/** Every CPU signs in, then waits for the start (time_bench_run_concurrent's completion). */
function waitForStart(ctx: CpuProgramContext): void {
  const ctl = ctx.control;
  Atomics.add(ctl, C_READY, 1);
  while (Atomics.load(ctl, C_START) === 0) Atomics.wait(ctl, C_START, 0, 50);
}

/** `ndelay(ns)`: a busy wait. */
function ndelay(ns: number): void {
  const until = now() + BigInt(ns);
  while (now() < until);
}

/** Out-of-pages before the tasklet gives up (the module would print "out-of-pages" and retry on). */
const MAX_OUT_OF_PAGES = 1_000_000;

/** pp_tasklet_simulate_rx_napi()'s loop; returns [cnt, full, outOfPages, stalled]. */
function rxLoop(pps: PagePools, mem: PhysMem, ctl: Int32Array, a: CrossArgs): [number, number, number, boolean] {
  const pool = a.pool;
  const queues = a.queues;
  const nr = queues.length;
  // "How many pages does bench loops expect to get", plus a queue's worth each once consumers stop.
  const nrProduce = nr * a.loops + a.queueSize * nr;
  let maxAttempts = nrProduce * 1000;
  let cnt = 0;
  let full = 0;
  let oop = 0;
  let rr = 0;
  // Every queue found full after every returning CPU had finished (C_DONE read before each
  // attempt that follows a failed one, so a queue drained meanwhile never counts): nobody will
  // drain them. The module spins on (counting `full`) until max_attempts and prints FAIL; stop.
  let lastFailed = false;
  let doneStreak = 0;
  while (cnt < nrProduce && --maxAttempts) {
    const page = pps.allocPages(pool);
    if (page === 0) {
      if (++oop >= MAX_OUT_OF_PAGES) throw new Error(`pp_tasklet_simulate_rx_napi(): out-of-pages ${oop} times`);
      continue;
    }
    const q = queues[rr++ % nr]!;
    const done = lastFailed && Atomics.load(ctl, C_DONE) === nr;
    if (ptrRingProduceLocked(mem, q, page) < 0) {
      full++;
      pps.recycleDirect(pool, page);
      lastFailed = true;
      if (!done) doneStreak = 0;
      else if (++doneStreak >= nr) return [cnt, full, oop, true];
      continue;
    }
    lastFailed = false;
    doneStreak = 0;
    cnt++;
  }
  return [cnt, full, oop, maxAttempts === 0];
}

/** CPU 0: the RX tasklet. */
export function crossRx(ctx: CpuProgramContext): CrossRxResult {
  const a = ctx.args as CrossArgs;
  const { pps, m } = ctx.sys;
  const mem = m.mem;
  const nr = a.queues.length;
  waitForStart(ctx);
  // The tasklet CPU's record: time_bench_start, tasklet_schedule, mutex_lock until the tasklet is done.
  const t0 = now();
  softirqEnter(mem);
  const [produced, full, outOfPages, stalled] = rxLoop(pps, mem, ctx.control, a);
  softirqExit(mem);
  const t1 = now();
  return { invokeCount: nr * a.loops + nr, timeNs: Number(t1 - t0), produced, full, outOfPages, stalled };
}

/** time_pp_put_page_recycle()'s timed loop; returns [loops_cnt, retry_cnt, aborted]. */
function returnLoop(pps: PagePools, mem: PhysMem, pool: number, queue: number, loops: number): [number, number, boolean] {
  let retry = 0;
  let cnt = 0;
  const maxRetry = loops * 100;
  for (let i = 0; i < loops; i++) {
    let page = ptrRingConsume(mem, queue);
    while (page === 0) {
      if (++retry > maxRetry) return [cnt, retry, true]; // "abort on retries"
      page = ptrRingConsume(mem, queue);
    }
    pps.putPage(pool, page, -1, false);
    cnt++;
  }
  return [cnt, retry, false];
}

/** CPU k ≥ 1: a returning kthread. */
export function crossReturn(ctx: CpuProgramContext): CrossReturnResult {
  const a = ctx.args as CrossArgs;
  const { pps, m } = ctx.sys;
  const mem = m.mem;
  const queue = a.queues[ctx.cpu - 1]!;
  waitForStart(ctx);
  // Spin waiting for the first page.
  let page = ptrRingConsume(mem, queue);
  for (let wait = 1; page === 0; wait++) {
    if (wait % 1_000_000 === 0 && ctx.stopRequested()) throw new Error(`time_pp_put_page_recycle(cpu:${ctx.cpu}): no first page`);
    page = ptrRingConsume(mem, queue);
  }
  ndelay(a.firstPageDelayNs); // "Small delay to get more objects in queue"
  pps.putPage(a.pool, page, -1, false);
  const t0 = now();
  const [cnt, empty, aborted] = returnLoop(pps, mem, a.pool, queue, a.loops);
  const t1 = now();
  Atomics.add(ctx.control, C_DONE, 1);
  return { invokeCount: cnt, timeNs: Number(t1 - t0), returned: cnt + 1, empty, aborted };
}

// ─── page_pool02_ptr_ring_contended ────────────────────────────────────────────────────────────

export interface ContendedArgs {
  readonly pool: number;
  readonly queues: readonly number[];
  /** Pages handed to each other CPU per round. */
  readonly share: number;
  readonly maxBatch: number;
  readonly chunk: number;
  readonly warmupMs: number;
  readonly timeMs: number;
}

export interface ContendedOwnerResult {
  /** ns per element of each measured round: contended, and the uncontended round that followed it. */
  readonly contended: number[];
  readonly uncontended: number[];
  readonly elements: number;
  /** Per measured contended round: the other CPUs' puts while CPU 0's loop ran, per CPU-0 element. */
  readonly overlap: number[];
  /** Every page_pool_put_page() of CPU 0 (warm-up included): each one a ring produce or ring_full. */
  readonly puts: number;
  readonly allocFailures: number;
}

export interface ContendedHelperResult {
  /** Puts and their time during measured contended rounds. */
  readonly puts: number;
  readonly timeNs: number;
  /** Every put of the run. */
  readonly allPuts: number;
}

let allocFailures = 0;
/** Measured rounds of each kind however short the time (tinybench's minimum of samples). */
const MIN_ROUNDS = 16;
/**
 * A contended round counts as contended when the other CPUs put at least one page per 4 of CPU 0's
 * elements while its loop ran. On a loaded machine the CPUs' threads may share one core and take
 * turns; the owner then keeps going (up to 10 × the time) until MIN_ROUNDS rounds overlapped.
 */
export const MIN_OVERLAP = 0.25;

/**
 * page_pool02_ptr_ring's loop (bench/pp_suite.ts ptrRing) in chunks, stopping at the first chunk
 * after a helper finished (never in an uncontended round: no helper runs) or at `max` elements.
 */
function ptrRingChunked(pps: PagePools, pool: number, max: number, chunk: number, ctl: Int32Array): number {
  let n = 0;
  while (n < max) {
    for (let i = 0; i < chunk; i++) {
      const page = pps.allocPages(pool);
      if (page === 0) {
        allocFailures++;
        return n + i;
      }
      pps.putPage(pool, page, -1, false);
    }
    n += chunk;
    if (Atomics.load(ctl, C_DONE) !== 0) break;
  }
  return n;
}

/** Hand every helper `share` pages (untimed): allocations from the pool, __ptr_ring_produce into its queue. */
function handOut(pps: PagePools, mem: PhysMem, a: ContendedArgs): void {
  for (const q of a.queues) {
    for (let j = 0; j < a.share; j++) {
      const page = pps.allocPages(a.pool);
      if (page === 0) throw new Error("contended: page_pool_alloc_pages() failed handing out pages");
      if (ptrRingProduceLocked(mem, q, page) < 0) throw new Error("contended: a helper's queue is full");
    }
  }
}

/** Release the helpers for a new round and wait until every one has put all its pages. */
function releaseAndWait(ctx: CpuProgramContext, helpers: number, round: number): void {
  const ctl = ctx.control;
  Atomics.store(ctl, C_ROUND, round);
  for (let spins = 1; Atomics.load(ctl, C_DONE) < helpers; spins++) {
    if (spins % 1_000_000 === 0 && ctx.stopRequested()) throw new Error("contended: helpers did not finish a round");
  }
}

/** CPU 0: the page_pool02_ptr_ring loop, rounds with and without the other CPUs putting. */
export function contendedOwner(ctx: CpuProgramContext): ContendedOwnerResult {
  const a = ctx.args as ContendedArgs;
  const { pps, m } = ctx.sys;
  const mem = m.mem;
  const ctl = ctx.control;
  const helpers = a.queues.length;
  const contended: number[] = [];
  const uncontended: number[] = [];
  const overlap: number[] = [];
  let overlapped = 0;
  let elements = 0;
  let puts = 0;
  let round = 0;
  waitForStart(ctx);
  softirqEnter(mem); // the kernel bench runs its loops from a tasklet
  const start = performance.now();
  for (let warm = 0; ; ) {
    const elapsed = performance.now() - start;
    if (elapsed >= a.warmupMs + a.timeMs && contended.length >= MIN_ROUNDS && (overlapped >= MIN_ROUNDS || elapsed >= a.warmupMs + 10 * a.timeMs)) break;
    // At least one warm-up round, at least MIN_ROUNDS measured ones, whatever the times.
    const measuring = warm > 0 && elapsed >= a.warmupMs;
    if (!measuring) warm++;
    // Contended: the helpers go first, the loop stops once one of them is done.
    handOut(pps, mem, a);
    Atomics.store(ctl, C_DONE, 0);
    Atomics.store(ctl, C_KIND, measuring ? 1 : 0);
    Atomics.store(ctl, C_ROUND, ++round);
    let t0 = now();
    const n = ptrRingChunked(pps, a.pool, a.maxBatch, a.chunk, ctl);
    let t1 = now();
    let inWindow = 0;
    for (let k = 1; k <= helpers; k++) inWindow += Atomics.load(ctl, progressIdx(k));
    releaseAndWait(ctx, helpers, round);
    for (let k = 1; k <= helpers; k++) Atomics.store(ctl, progressIdx(k), 0);
    puts += n;
    if (n === 0) break;
    const c = Number(t1 - t0) / n;
    // Uncontended: the same number of elements, the helpers released only afterwards.
    handOut(pps, mem, a);
    Atomics.store(ctl, C_DONE, 0);
    Atomics.store(ctl, C_KIND, measuring ? 2 : 0);
    t0 = now();
    const n2 = ptrRingChunked(pps, a.pool, n, a.chunk, ctl);
    t1 = now();
    releaseAndWait(ctx, helpers, ++round);
    for (let k = 1; k <= helpers; k++) Atomics.store(ctl, progressIdx(k), 0);
    puts += n2;
    if (n2 !== n) break; // an allocation failed
    if (measuring) {
      contended.push(c);
      uncontended.push(Number(t1 - t0) / n2);
      overlap.push(inWindow / n);
      if (inWindow / n >= MIN_OVERLAP) overlapped++;
      elements += n;
    }
  }
  softirqExit(mem);
  Atomics.store(ctl, C_QUIT, 1);
  Atomics.store(ctl, C_ROUND, ++round);
  return { contended, uncontended, elements, overlap, puts, allocFailures };
}

/** CPU k ≥ 1: put the pages of each round's share into the pool's ring. */
export function contendedHelper(ctx: CpuProgramContext): ContendedHelperResult {
  const a = ctx.args as ContendedArgs;
  const { pps, m } = ctx.sys;
  const mem = m.mem;
  const ctl = ctx.control;
  const queue = a.queues[ctx.cpu - 1]!;
  const prog = progressIdx(ctx.cpu);
  let seen = 0;
  let puts = 0;
  let timeNs = 0;
  let allPuts = 0;
  waitForStart(ctx);
  for (;;) {
    let r = Atomics.load(ctl, C_ROUND);
    for (let spins = 1; r === seen; spins++) {
      if (spins % 1_000_000 === 0 && ctx.stopRequested()) return { puts, timeNs, allPuts };
      r = Atomics.load(ctl, C_ROUND);
    }
    seen = r;
    if (Atomics.load(ctl, C_QUIT) !== 0) break;
    const kind = Atomics.load(ctl, C_KIND);
    const t0 = now();
    for (let j = 0; j < a.share; j++) {
      const page = ptrRingConsume(mem, queue);
      if (page === 0) throw new Error(`contended helper CPU ${ctx.cpu}: queue empty after ${j} of ${a.share} pages`);
      pps.putPage(a.pool, page, -1, false);
      if ((j & 15) === 15) Atomics.store(ctl, prog, j + 1);
    }
    const t1 = now();
    Atomics.store(ctl, prog, a.share);
    allPuts += a.share;
    if (kind === 1) {
      puts += a.share;
      timeNs += Number(t1 - t0);
    }
    Atomics.add(ctl, C_DONE, 1);
  }
  return { puts, timeNs, allPuts };
}
