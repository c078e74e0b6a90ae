/**
 * The SMP benchmarks, for ONE kernel build per process (bench/smp_worker.ts runs this in a child;
 * `ppemu bench --inline` calls it in-process). First the single-CPU page_pool02_ptr_ring of
 * bench/pp_suite.ts in this process (the reference the ratios use), then the SMP test on a shared
 * machine whose CPUs are worker threads (programs: bench/cross_cpu_cpu.ts).
 *
 * cross_cpu follows bench_page_pool_cross_cpu (netoptimizer/prototype-kernel
 * kernel/lib/bench_page_pool_cross_cpu.c @d5548a5222a66b464698ba68d8b8b8f0fc4aed6a),
 * run_bench_pp_cpus(): pp_create(MY_POOL_SIZE = 32000, prefill 256) — order 0, no DMA,
 * DMA_BIDIRECTIONAL, 256 allocs then 256 puts with allow_direct=false into the ring — then one
 * kzalloc'd array of `struct ptr_ring`, one per returning CPU, each ptr_ring_init(1024) with no
 * pre-fill; the CPUs start together (time_bench_run_concurrent); afterwards empty_ptr_ring() puts
 * what is left in the queues back (ptr_ring_consume_bh + put, allow_direct=false), the queues and
 * the array are freed and the pool destroyed. The counts must add up (checkCross) or the run fails.
 */
import { bootPpSystem, type PpSystem } from "../src/pool/index.js";
import { startCpus, compiledModule, type CpuTask } from "../src/smp/runner.js";
import { localBhDisable, localBhEnable } from "../src/smp/percpu.js";
import { ptrRingInit, ptrRingConsume, ptrRingCount, PTR_RING_LAYOUT, PTR_RING_QUEUE, PTR_RING_SLOT } from "../src/pool/ptr_ring.js";
import { DMA_BIDIRECTIONAL } from "../src/dma/index.js";
import { GFP_ZERO } from "../src/mem/buddy.js";
import { runSuite } from "./pp_suite.js";
import { C_READY, C_START, MIN_OVERLAP, type ContendedArgs, type ContendedHelperResult, type ContendedOwnerResult, type CrossArgs, type CrossReturnResult, type CrossRxResult } from "./cross_cpu_cpu.js";
import { CONTENDED, CROSS_CPU, DEFAULT_BENCH_BYTES, type ContendedRun, type CrossCpuRecord, type CrossCpuRun, type RefResult, type SmpRequest, type SmpRun } from "./catalog.js";

const PROGRAM = compiledModule(import.meta.url, "./cross_cpu_cpu.js");

/** Machine memory: the default, plus room for every queue full of pages twice over. */
export function smpMachineBytes(cpus: number): number {
  return Math.min(2 ** 31, DEFAULT_BENCH_BYTES + (cpus - 1) * (8 << 20));
}

/** The single-CPU page_pool02_ptr_ring, tinybench, in this process. */
async function reference(req: SmpRequest): Promise<RefResult> {
  const r = await runSuite({ kernel: req.kernel, test: "page_pool02_ptr_ring", timeMs: req.timeMs, warmupMs: req.warmupMs, bytes: DEFAULT_BENCH_BYTES, run: req.run });
  return { ns_per_elem: r.ns_per_elem, rme_pct: r.rme_pct, samples: r.samples };
}

/** A no-DMA pool with `prefill` pages put into its ring from process context (pp_prefill / pp_fill_ptr_ring). */
function createPool(sys: PpSystem, poolSize: number, prefill: number): number {
  const { pps } = sys;
  const pool = pps.create({ order: 0, poolSize, flags: 0, dev: 0, dmaDir: DMA_BIDIRECTIONAL });
  if (pool < 0) throw new Error(`bench: page_pool_create failed (${pool})`);
  const pages: number[] = [];
  for (let i = 0; i < prefill; i++) {
    const page = pps.allocPages(pool);
    if (page === 0) throw new Error("bench: pre-fill allocation failed");
    pages.push(page);
  }
  for (const page of pages) pps.putPage(pool, page, -1, false);
  if (pps.ringCount(pool) !== prefill) throw new Error(`bench: ring holds ${pps.ringCount(pool)} pages after pre-fill, not ${prefill}`);
  return pool;
}

/** `kzalloc(sizeof(struct ptr_ring) * n)`, then ptr_ring_init(size) on each: the queues' addresses. */
function createQueues(sys: PpSystem, n: number, size: number): { array: number; queues: number[] } {
  const slab = sys.m.slab;
  const array = slab.kmalloc(PTR_RING_LAYOUT.size * n, GFP_ZERO);
  if (array === 0) throw new Error("bench: kzalloc of the queues failed");
  const queues: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = array + i * PTR_RING_LAYOUT.size;
    const q = slab.kmalloc(size * PTR_RING_SLOT, GFP_ZERO);
    if (q === 0) throw new Error("bench: ptr_ring_init: allocation failed");
    ptrRingInit(sys.m.mem, r, size, q);
    queues.push(r);
  }
  return { array, queues };
}

/** ptr_ring_cleanup() + kfree(cpu_queues). */
function freeQueues(sys: PpSystem, array: number, queues: readonly number[]): void {
  const { mem, slab } = sys.m;
  for (const r of queues) slab.kfree(mem.rdPtr(r + PTR_RING_QUEUE));
  slab.kfree(array);
}

/** Per CPU, the pool's recycle_stats copy. */
function recycleByCpu(sys: PpSystem, pool: number): Record<string, number>[] {
  const { pps } = sys;
  const mem = sys.m.mem;
  const o = pps.o;
  const base = mem.rdPtr(pool + o.recycleStats);
  const out: Record<string, number>[] = [];
  for (let cpu = 0; cpu < mem.nrCpus; cpu++) {
    const s: Record<string, number> = {};
    for (const [n, off] of Object.entries(o.recycleStat)) s[n] = mem.rd64(base + cpu * o.recycleStatsSize + off);
    out.push(s);
  }
  return out;
}

function allocCount(sys: PpSystem, pool: number): number {
  const a = sys.pps.stats(pool).alloc;
  return a.fast! + a.slow! + a.refill! + (a.slow_high_order ?? 0);
}

/** Start the CPUs; once all have signed in, start them together (complete_all). */
async function runTogether(sys: PpSystem, tasks: CpuTask[], timeoutMs: number): Promise<unknown[]> {
  const control = new SharedArrayBuffer(64 << 10);
  const ctl = new Int32Array(control);
  const run = await startCpus({ buffer: sys.m.mem.buffer as SharedArrayBuffer, control, tasks, timeoutMs });
  let failed = false;
  run.done.catch(() => void (failed = true));
  while (Atomics.load(ctl, C_READY) < tasks.length && !failed) await new Promise((r) => setTimeout(r, 1));
  Atomics.store(ctl, C_START, 1);
  Atomics.notify(ctl, C_START);
  return run.done;
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

import { median } from "./stats.js";

/** What must hold after a cross_cpu run (each a count, exactly), or the first that does not. */
export function checkCross(r: CrossCpuRun): string | null {
  const back = r.per_cpu.filter((c) => c.role === "return");
  if (r.returned + r.left_in_queues !== r.produced) return `returned ${r.returned} + left in queues ${r.left_in_queues} != produced ${r.produced}`;
  if (r.ring + r.ring_full !== r.returned) return `recycle_stats ring ${r.ring} + ring_full ${r.ring_full} != pages returned ${r.returned}`;
  if (r.cached !== r.full) return `recycle_stats cached ${r.cached} != queue full ${r.full} (page_pool_recycle_direct)`;
  if (r.allocs !== r.produced + r.full) return `alloc_stats fast+slow+refill ${r.allocs} != produced ${r.produced} + full ${r.full}`;
  for (const c of back) {
    if (c.ring + c.ring_full !== c.returned) return `CPU ${c.cpu}: ring ${c.ring} + ring_full ${c.ring_full} != returned ${c.returned}`;
    if (!c.aborted && c.invoke_count !== r.loops) return `CPU ${c.cpu}: ${c.invoke_count} pages in the timed loop, not ${r.loops}`;
  }
  return null;
}

async function crossCpu(req: SmpRequest, ref: RefResult): Promise<CrossCpuRun> {
  const nr = req.cpus - 1;
  const sys = bootPpSystem(req.kernel, { bytes: smpMachineBytes(req.cpus), shared: true, cpus: req.cpus, poison: false, ppChecks: false });
  const { pps, m } = sys;
  const pool = createPool(sys, CROSS_CPU.poolSize, CROSS_CPU.poolPrefill);
  const { array, queues } = createQueues(sys, nr, CROSS_CPU.queueSize);
  const diags = m.mem.diagTotal;
  const args: CrossArgs = { pool, queues, loops: req.loops, queueSize: CROSS_CPU.queueSize, firstPageDelayNs: CROSS_CPU.firstPageDelayNs };
  const tasks: CpuTask[] = [{ cpu: 0, program: PROGRAM, export: "crossRx", args }];
  for (let cpu = 1; cpu <= nr; cpu++) tasks.push({ cpu, program: PROGRAM, export: "crossReturn", args });
  const before = recycleByCpu(sys, pool);
  const allocs0 = allocCount(sys, pool);
  const results = await runTogether(sys, tasks, 120_000 + nr * req.loops * 0.05);
  const after = recycleByCpu(sys, pool);
  const allocs = allocCount(sys, pool) - allocs0;
  const d = (cpu: number, k: string): number => after[cpu]![k]! - before[cpu]![k]!;
  const rx = results[0] as CrossRxResult;
  const per: CrossCpuRecord[] = [
    { cpu: 0, role: "rx", invoke_count: rx.invokeCount, time_interval_ns: rx.timeNs, ns_per_elem: rx.timeNs / rx.invokeCount, returned: 0, empty: 0, aborted: rx.stalled, ring: d(0, "ring"), ring_full: d(0, "ring_full") },
  ];
  for (let cpu = 1; cpu <= nr; cpu++) {
    const b = results[cpu] as CrossReturnResult;
    per.push({ cpu, role: "return", invoke_count: b.invokeCount, time_interval_ns: b.timeNs, ns_per_elem: b.invokeCount > 0 ? b.timeNs / b.invokeCount : 0, returned: b.returned, empty: b.empty, aborted: b.aborted, ring: d(cpu, "ring"), ring_full: d(cpu, "ring_full") });
  }
  const total = (k: string): number => sum(after.map((_, cpu) => d(cpu, k)));
  const left = sum(queues.map((q) => ptrRingCount(m.mem, q)));
  const back = per.slice(1);
  const nsPerPage = sum(back.map((c) => c.ns_per_elem)) / back.length;
  const run: CrossCpuRun = {
    test: "cross_cpu",
    kernel: sys.build.name,
    layout: sys.build.layout.name,
    run: req.run,
    cpus: req.cpus,
    loops: req.loops,
    ref_02: ref,
    per_cpu: per,
    produced: rx.produced,
    full: rx.full,
    out_of_pages: rx.outOfPages,
    returned: sum(back.map((c) => c.returned)),
    left_in_queues: left,
    ring: total("ring"),
    ring_full: total("ring_full"),
    cached: total("cached"),
    allocs,
    ns_per_returned_page: nsPerPage,
    ratio_to_02: nsPerPage / ref.ns_per_elem,
  };
  // empty_ptr_ring(): what the tasklet left in the queues goes back to the pool.
  for (const q of queues) {
    for (;;) {
      localBhDisable(m.mem);
      const page = ptrRingConsume(m.mem, q);
      localBhEnable(m.mem);
      if (page === 0) break;
      pps.putPage(pool, page, -1, false);
    }
  }
  freeQueues(sys, array, queues);
  const bad = checkCross(run) ?? (m.mem.diagTotal !== diags ? `${m.mem.diagTotal - diags} emulated faults: ${m.mem.diagLog().slice(-1)[0]?.text}` : null) ?? leakCheck(sys, pool);
  if (bad !== null) throw new Error(`bench: ${sys.build.name}:cross_cpu: ${bad}`);
  return run;
}

/** Every page is back in the pool (cache or ring), and page_pool_destroy() frees the pool at once. */
function leakCheck(sys: PpSystem, pool: number): string | null {
  const { pps } = sys;
  const held = pps.cacheCount(pool) + pps.ringCount(pool);
  const inflight = pps.inflight(pool);
  if (inflight !== held) return `${inflight} pages in flight, ${held} in the pool`;
  pps.destroy(pool);
  return pps.isLive(pool) ? "page_pool_destroy() left the pool alive (pages still in flight)" : null;
}

async function contended(req: SmpRequest, ref: RefResult): Promise<ContendedRun> {
  const helpers = req.cpus - 1;
  const sys = bootPpSystem(req.kernel, { bytes: smpMachineBytes(req.cpus), shared: true, cpus: req.cpus, poison: false, ppChecks: false });
  const { m } = sys;
  const pool = createPool(sys, CONTENDED.poolSize, CONTENDED.prefill);
  const share = Math.max(1, Math.floor(CONTENDED.share / helpers));
  const { array, queues } = createQueues(sys, helpers, CROSS_CPU.queueSize);
  const diags = m.mem.diagTotal;
  const args: ContendedArgs = { pool, queues, share, maxBatch: CONTENDED.maxBatch, chunk: CONTENDED.chunk, warmupMs: req.warmupMs, timeMs: req.timeMs };
  const tasks: CpuTask[] = [{ cpu: 0, program: PROGRAM, export: "contendedOwner", args }];
  for (let cpu = 1; cpu <= helpers; cpu++) tasks.push({ cpu, program: PROGRAM, export: "contendedHelper", args });
  const s0 = sys.pps.stats(pool).recycle;
  const results = await runTogether(sys, tasks, 120_000 + 10 * (req.warmupMs + req.timeMs));
  const s1 = sys.pps.stats(pool).recycle;
  const owner = results[0] as ContendedOwnerResult;
  const hs = results.slice(1) as ContendedHelperResult[];
  const helperPuts = sum(hs.map((h) => h.puts));
  // The rounds whose CPUs really ran at the same time, and their uncontended twins; all if none did.
  const keep = owner.overlap.map((o) => o >= MIN_OVERLAP);
  const counted = keep.filter(Boolean).length;
  const pick = (xs: readonly number[]): number[] => (counted > 0 ? xs.filter((_, i) => keep[i]) : [...xs]);
  const c = median(pick(owner.contended));
  const u = median(pick(owner.uncontended));
  const run: ContendedRun = {
    test: "page_pool02_ptr_ring_contended",
    kernel: sys.build.name,
    layout: sys.build.layout.name,
    run: req.run,
    cpus: req.cpus,
    ref_02: ref,
    contended_ns: c,
    uncontended_ns: u,
    ratio: c / u,
    ratio_to_02: c / ref.ns_per_elem,
    rounds: owner.contended.length,
    overlapped_rounds: counted,
    elements: owner.elements,
    helper_puts: helperPuts,
    helper_ns_per_put: sum(hs.map((h) => h.timeNs)) / helperPuts,
    overlap: median(pick(owner.overlap)),
    ring: s1.ring - s0.ring,
    ring_full: s1.ring_full - s0.ring_full,
    cached: s1.cached - s0.cached,
  };
  const puts = owner.puts + sum(hs.map((h) => h.allPuts));
  const left = sum(queues.map((q) => ptrRingCount(m.mem, q)));
  freeQueues(sys, array, queues);
  const bad =
    owner.allocFailures !== 0
      ? `${owner.allocFailures} page_pool_alloc_pages() failures`
      : run.rounds === 0
        ? "no measured rounds"
        : run.ring + run.ring_full !== puts
          ? `recycle_stats ring ${run.ring} + ring_full ${run.ring_full} != puts ${puts}`
          : run.cached !== 0
            ? `${run.cached} pages recycled direct (the loop must go to the ring)`
            : left !== 0
              ? `${left} pages left in the helpers' queues`
              : m.mem.diagTotal !== diags
                ? `${m.mem.diagTotal - diags} emulated faults`
                : leakCheck(sys, pool);
  if (bad !== null) throw new Error(`bench: ${sys.build.name}:page_pool02_ptr_ring_contended: ${bad}`);
  return run;
}

/** Run one SMP request in this process: the single-CPU reference, then the test. */
export async function runSmp(req: SmpRequest): Promise<SmpRun> {
  const ref = await reference(req);
  return req.test === "cross_cpu" ? crossCpu(req, ref) : contended(req, ref);
}
