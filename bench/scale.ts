/**
 * The scale benchmark: what it costs per page to hold N DMA-mapped pages of one
 * pool and to give them all back, from a 64 MiB machine with 10^3 pages in flight to a 2 GiB machine
 * with as many as fit. The criterion: the per-page cost of the largest case stays within
 * 1.5× of the smallest's.
 *
 * One case = one kernel build × one machine size × one N, in its own fresh child process
 * (`node --expose-gc dist/bench/scale_worker.js`: runScaleBench → forkScaleCase → bench/fork.ts), so no case sees
 * another's heap, JIT feedback or memory. The machine is the benchmark machine of bench/pp_suite.ts
 * (`bootBenchSystem`): page poisoning off, page_pool misuse checks off.
 *
 * One cycle, as a driver does it:
 *   setup    page_pool_create() with PP_FLAG_DMA_MAP, order 0, pool_size SCALE_POOL_SIZE, a device
 *            behind the IOMMU, no NAPI (so page_pool_napi_local() is false and no put goes to the
 *            lockless cache), DMA_FROM_DEVICE; the CPU then runs in softirq as a NAPI poll would
 *   alloc    N × page_pool_alloc_pages(), every page held (timed: alloc ns/page = time / N). The
 *            pool is new, so every allocation is the slow path's: one alloc_pages_bulk() of 64 per
 *            64 pages, each page set_pp_info'd, dma_map_page'd (an IOVA and an iopte) and tracked
 *            by the layout (classic: nothing; item-block: an item; xarray: an id in dma_mapped), the
 *            other 63 of each bulk handed out from the alloc cache
 *   return   N × page_pool_put_full_page(pool, page, false), in allocation order (timed: return
 *            ns/page = time / N). No NAPI, so allow_direct stays false: the first min(N, ring size)
 *            pages go into the ptr_ring (recycle_stats.ring); every later one finds the ring full
 *            (ring_full) and is released — page_pool_return_page(): dma_unmap_page (the IOVA back
 *            on the domain's free list), the layout untracks it, pp info cleared, release_cnt++,
 *            put_page() → __free_pages() → the buddy allocator (no poisoning). The two parts are
 *            also timed apart: ring ns/page and release ns/page.
 *   teardown page_pool_destroy() (the scrub frees the ring's pages and what the last bulk left in
 *            the alloc cache; nothing is in flight, so the pool is freed at once), rcu_barrier()
 *            for the xarray's nodes. Not timed.
 *
 * Why a new pool every cycle: a pool kept across cycles would start the next with its ring full and
 * up to 63 pages in its cache, so the next cycle's first ~pool_size allocations would come from the
 * ring instead of the slow path — at N = 10^3 most of them would — and the small cases would look
 * cheaper for a reason that has nothing to do with scale. Destroying it also gives every cycle the
 * same starting state of the tracking structures (no item blocks, an empty dma_mapped xarray), so
 * each cycle pays their growth to N as a fresh pool does. The device (its IOMMU domain) stays: a
 * driver's device outlives its pools, and the IOVA allocator's LIFO free lists hand the same IOVAs
 * back.
 *
 * Why pool_size 64 and not the kernel's default 1024: the ring is a fixed number of cheap returns
 * in front of N − ring expensive ones. With 1024, N = 10^3 would never release a page at all and
 * its "return" would be a ring push while 5×10^5's is a release: a ratio of paths, not of scale.
 * With 64 the ring's share is 6.4 % of the returns at N = 10^3 and ~0 at the largest N, and release
 * ns/page (the released pages alone) has no mix at all.
 *
 * Rounds: a round is `ceil(minPagesPerRound / N)` cycles (one for N ≥ minPagesPerRound), so a
 * small N is timed over enough pages to be above the clock's noise. Before the first round, untimed:
 * cycles of min(N, 1000) pages until `warmupPages` went through — the same functions on the same
 * paths, called often enough that V8 optimises them as functions and not only their long loops
 * by on-stack replacement (with one cycle per round and no such warm-up, the 64 ring pushes after
 * a long alloc loop ran interpreted, at ~2.6 µs each) — then one cycle of N, which also grows the
 * IOMMU domain to N mappings once. Each figure is the median over rounds, with the min–max range.
 *
 * Checks (loud: an Error, never a quiet number): each cycle takes exactly N distinct pages; the
 * pool's stats say the allocations were slow-path refills and the returns exactly min(N, ring) ring
 * pushes and the rest ring_full releases; the free page count after every teardown equals the one
 * after the first (nothing leaks per cycle); no emulated fault was recorded; after the case every
 * frame is accounted for (src/mem/accounting.ts with every page_pool claimer) and, compared with
 * the account taken before the first cycle, the free frames differ by exactly what the structures
 * keep (IOMMU leaves the domain grew, slabs the kmalloc caches hold) and nothing else moved.
 */
import { cpus } from "node:os";
import { benchCpu, forkOnce, setBenchCpu, type ChildReply } from "./fork.js";
import { spreadOf } from "./stats.js";
import { bootBenchSystem } from "./pp_suite.js";
import { ppClaimers, type PagePools, type PpSystem } from "../src/pool/index.js";
import { PP_FLAG_DMA_MAP } from "../src/pool/page_pool.js";
import { DMA_FROM_DEVICE } from "../src/dma/index.js";
import { CLASS_IOMMU_TABLES } from "../src/dma/device.js";
import { setServingSoftirq } from "../src/smp/percpu.js";
import { rcuBarrier } from "../src/smp/rcu.js";
import { accountFrames, assertAccounted, CLASS_FREE, CLASS_SLAB, type FrameAccount } from "../src/mem/accounting.js";
import { MAX_MEM_BYTES } from "../src/mem/physmem.js";
import { STRUCT_PAGE_SIZE } from "../src/mem/page.js";

// ─── the plan ──────────────────────────────────────────────────────────────────────────────────

const MiB = 1 << 20;
/** Machine sizes, smallest first (MAX_MEM_BYTES, 2 GiB, is the largest a machine can be). */
export const SCALE_MACHINES: readonly number[] = [64 * MiB, 256 * MiB, 1024 * MiB, MAX_MEM_BYTES];
/** Pages in flight, smallest first. */
export const SCALE_PAGES: readonly number[] = [1_000, 10_000, 100_000, 1_000_000];
/** The ring size of the benchmark's pool (see the file comment for why not 1024). */
export const SCALE_POOL_SIZE = 64;
export const SCALE_DEFAULT_ROUNDS = 7;
/** A round of a small N repeats the cycle until this many pages went through. */
export const SCALE_MIN_PAGES_PER_ROUND = 100_000;
/** Untimed pages before the first round, in cycles of at most SCALE_WARMUP_CYCLE_PAGES. */
export const SCALE_WARMUP_PAGES = 100_000;
export const SCALE_WARMUP_CYCLE_PAGES = 1_000;
/** The criterion: largest case ÷ smallest case, per page. */
export const SCALE_CRITERION = 1.5;
/** Frames the machine's own structures take at boot besides the memmap (header, diag log). */
const BOOT_FRAMES = 2;
/** The page allocator's bulk refill: pages a slow-path allocation brings into the pool at once. */
const BULK = 64;

/** Page size of every scale machine (the benchmark's machines are 4k). */
const PAGE_SIZE = 4096;

/** "64 MiB", "2 GiB". */
export function machineName(bytes: number): string {
  return bytes >= 1 << 30 && bytes % (1 << 30) === 0 ? `${bytes / (1 << 30)} GiB` : `${bytes / MiB} MiB`;
}

/** "10^3", "5×10^5", "12345". */
export function pagesName(n: number): string {
  const k = Math.floor(Math.log10(n));
  const m = n / 10 ** k;
  if (!Number.isInteger(m) || k < 3) return String(n);
  return m === 1 ? `10^${k}` : `${m}×10^${k}`;
}

/** Frames the page allocator can hand out on a freshly booted machine of `bytes` (before any pool). */
export function allocatableFrames(bytes: number): number {
  const frames = Math.floor(bytes / PAGE_SIZE);
  return frames - Math.ceil((frames * STRUCT_PAGE_SIZE) / PAGE_SIZE) - BOOT_FRAMES;
}

/**
 * Frames a case of N pages in flight needs: the N pages, the rest of the last bulk in the alloc
 * cache, and an allowance for every structure that grows with N — IOMMU leaves (16 B an iopte:
 * N/256 frames), item blocks (v11: a page per ~250 items) or xarray nodes (576 B per 64 ids), the
 * slabs they come from — of N/50 + 1024 frames. Measured at N = 5×10^5 on 2 GiB (ScaleFrames.
 * peak_in_use − N): v6.15 1,992 frames (IOMMU leaves), v6.16 3,128 (+ xarray nodes), v11 3,961
 * (+ item blocks), against an allowance of 11,087; scale.test.ts checks it on small machines.
 */
export function framesNeeded(pages: number): number {
  return pages + (BULK - 1) + Math.ceil(pages / 50) + 1024;
}

export function fits(bytes: number, pages: number): boolean {
  return framesNeeded(pages) <= allocatableFrames(bytes);
}

/** One combination of the plan, run or not. */
export interface ScaleCombo {
  readonly machine: string;
  readonly machine_bytes: number;
  readonly pages: number;
  readonly pages_name: string;
  readonly fits: boolean;
  /** Frames the case needs (framesNeeded) and the machine has (allocatableFrames). */
  readonly frames_needed: number;
  readonly frames_allocatable: number;
  /** The round count added as the largest case (in no machine × pages row of the plan). */
  readonly extra: boolean;
}

/** What one child runs. */
export interface ScaleRequest {
  readonly kernel: string;
  readonly bytes: number;
  readonly pages: number;
  readonly rounds: number;
  /** The pool's pool_size (ring size). Default SCALE_POOL_SIZE. */
  readonly poolSize?: number;
  /** Default SCALE_MIN_PAGES_PER_ROUND. */
  readonly minPagesPerRound?: number;
  /** Default SCALE_WARMUP_PAGES; 0 = no untimed cycle. */
  readonly warmupPages?: number;
}

export interface ScalePlanOptions {
  readonly kernels: readonly string[];
  readonly rounds?: number;
  readonly machines?: readonly number[];
  readonly pages?: readonly number[];
  readonly poolSize?: number;
  readonly minPagesPerRound?: number;
  readonly warmupPages?: number;
}

export interface ScalePlan {
  /** Every machine × pages combination, and the extra largest case; those that do not fit say so. */
  readonly combos: readonly ScaleCombo[];
  /** The children to run, in order: per combination that fits, every build (builds interleaved). */
  readonly requests: readonly ScaleRequest[];
  /** The largest round count m×10^k (m 1…9) that fits on the largest machine, added as its largest case (0 if none is needed). */
  readonly extra_pages: number;
}

/** The largest m×10^k (m = 1…9, k ≥ 3) that fits on a machine of `bytes`. */
export function largestRoundCount(bytes: number): number {
  for (let k = 9; k >= 3; k--) for (let m = 9; m >= 1; m--) if (fits(bytes, m * 10 ** k)) return m * 10 ** k;
  return 0;
}

/**
 * The plan: machines × pages, only the combinations that fit; on the largest machine, the largest
 * round count that fits, when it is larger than every listed N that does (10^6 fits on no machine
 * here: 2 GiB has 516,094 allocatable frames).
 */
export function planScale(opts: ScalePlanOptions): ScalePlan {
  const machines = [...(opts.machines ?? SCALE_MACHINES)].sort((a, b) => a - b);
  const pages = [...(opts.pages ?? SCALE_PAGES)].sort((a, b) => a - b);
  const combo = (bytes: number, n: number, extra: boolean): ScaleCombo => ({
    machine: machineName(bytes),
    machine_bytes: bytes,
    pages: n,
    pages_name: pagesName(n),
    fits: fits(bytes, n),
    frames_needed: framesNeeded(n),
    frames_allocatable: allocatableFrames(bytes),
    extra,
  });
  const combos: ScaleCombo[] = [];
  let extraPages = 0;
  for (const bytes of machines) {
    const row = pages.map((n) => combo(bytes, n, false));
    if (bytes === machines[machines.length - 1]) {
      const biggest = Math.max(0, ...row.filter((c) => c.fits).map((c) => c.pages));
      const r = largestRoundCount(bytes);
      if (r > biggest && !pages.includes(r)) {
        extraPages = r;
        const at = row.findIndex((c) => c.pages > r);
        row.splice(at < 0 ? row.length : at, 0, combo(bytes, r, true));
      }
    }
    combos.push(...row);
  }
  const requests: ScaleRequest[] = [];
  for (const c of combos) {
    if (!c.fits) continue;
    for (const kernel of opts.kernels) {
      requests.push({
        kernel,
        bytes: c.machine_bytes,
        pages: c.pages,
        rounds: opts.rounds ?? SCALE_DEFAULT_ROUNDS,
        ...(opts.poolSize !== undefined ? { poolSize: opts.poolSize } : {}),
        ...(opts.minPagesPerRound !== undefined ? { minPagesPerRound: opts.minPagesPerRound } : {}),
        ...(opts.warmupPages !== undefined ? { warmupPages: opts.warmupPages } : {}),
      });
    }
  }
  return { combos, requests, extra_pages: extraPages };
}

// ─── one case ──────────────────────────────────────────────────────────────────────────────────

/** Median and range over rounds, ns per page. */
export interface ScaleStat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Every round's figure, in order. */
  readonly rounds: readonly number[];
}

/** One case's result (one child). */
export interface ScaleCase {
  readonly kernel: string;
  readonly layout: string;
  readonly machine: string;
  readonly machine_bytes: number;
  readonly pages: number;
  readonly pool_size: number;
  readonly rounds: number;
  /** Alloc/return cycles per round (each N pages). */
  readonly cycles_per_round: number;
  /** Untimed cycles before the first round. */
  readonly warmup_cycles: number;
  readonly alloc_ns: ScaleStat;
  /** All N returns (ring pushes and releases) / N. */
  readonly return_ns: ScaleStat;
  /** The released returns alone / their count (null when N ≤ the ring: nothing is released). */
  readonly release_ns: ScaleStat | null;
  /** The ring pushes alone / their count. */
  readonly ring_ns: ScaleStat;
  /** What the N returns of one cycle did (from the pool's recycle stats). */
  readonly returns: { readonly ring: number; readonly released: number };
  /** What one cycle's N allocations were (alloc stats): slow-path bulk refills and pages from the cache. */
  readonly allocs: { readonly slow: number; readonly fast: number };
  readonly frames: ScaleFrames;
  /** Wall time of the whole case in its process (boot included), ms. */
  readonly elapsed_ms: number;
}

/** The frame accounting around a case. */
export interface ScaleFrames {
  readonly total: number;
  /** Free frames before the first cycle (device probed, no pool yet), and after the last teardown. */
  readonly free_before: number;
  readonly free_after: number;
  /**
   * Frames in use with all N pages held, beyond what was in use before the first cycle: the N pages,
   * the rest of the last bulk in the alloc cache, and every structure grown for them (the most over
   * all cycles; framesNeeded(N) is the plan's allowance for it).
   */
  readonly peak_in_use: number;
  /** What the structures keep after the case: IOMMU leaves the domain grew, slab frames the caches hold. */
  readonly kept: { readonly iommu_tables: number; readonly slab: number };
  /** Frames per class after the case (every frame in one class; assertAccounted passed). */
  readonly by_class: Readonly<Record<string, number>>;
}

/** The loops: module-level functions over integers, so the one PagePools class is all V8 sees. */
function allocAll(pps: PagePools, pool: number, held: Uint32Array, n: number): number {
  for (let i = 0; i < n; i++) {
    const page = pps.allocPages(pool);
    if (page === 0) return i;
    held[i] = page;
  }
  return n;
}

function returnRange(pps: PagePools, pool: number, held: Uint32Array, from: number, to: number): void {
  for (let i = from; i < to; i++) pps.putFullPage(pool, held[i]!, false);
}

const gc = (globalThis as { gc?: () => void }).gc;
const now = (): bigint => process.hrtime.bigint();

function stat(xs: readonly number[]): ScaleStat {
  return { ...spreadOf(xs), rounds: xs };
}

function fail(req: ScaleRequest, what: string): never {
  throw new Error(`scale ${req.kernel} ${machineName(req.bytes)} N=${req.pages}: ${what}`);
}

interface CycleTimes {
  alloc: number;
  ring: number;
  release: number;
}

/** The rig of one case: machine, device, the held-pages array. */
interface Rig {
  readonly sys: PpSystem;
  readonly dev: number;
  readonly held: Uint32Array;
  readonly poolSize: number;
  readonly req: ScaleRequest;
  /** Free frames + the domain's IOMMU table frames + slab frames before the first cycle: every teardown comes back to it. */
  readonly frames0: number;
  /** The fewest free frames seen, with all N pages held. */
  minFree: number;
  diags: number;
}

function statsOf(pps: PagePools, pool: number): { slow: number; fast: number; ring: number; ringFull: number; releasedRefcnt: number; cached: number } {
  const s = pps.stats(pool);
  return { slow: s.alloc.slow!, fast: s.alloc.fast!, ring: s.recycle.ring!, ringFull: s.recycle.ring_full!, releasedRefcnt: s.recycle.released_refcnt!, cached: s.recycle.cached! };
}

/** One cycle: a new pool, n allocations held, n returns, teardown. `check` verifies the stats. */
function cycle(r: Rig, n: number, t: CycleTimes, check: boolean): { slow: number; fast: number; ring: number; released: number } {
  const { sys, held, req } = r;
  const { pps, m } = sys;
  const mem = m.mem;
  setServingSoftirq(mem, false);
  const pool = pps.create({ order: 0, poolSize: r.poolSize, flags: PP_FLAG_DMA_MAP, dev: r.dev, dmaDir: DMA_FROM_DEVICE, napiCpu: -1 });
  if (pool < 0) fail(req, `page_pool_create failed (${pool})`);
  const ringSize = pps.ringCapacity(pool); // the ptr_ring is pool_size (≤ 16384, runScaleCase checks); encoded_next takes one more
  // The driver's NAPI poll: softirq on this CPU (no NAPI is tied to the pool, so nothing recycles direct).
  setServingSoftirq(mem, true);
  if (pps.napiLocal(pool)) fail(req, "page_pool_napi_local() is true: returns would go to the alloc cache");
  const t0 = now();
  const got = allocAll(pps, pool, held, n);
  const t1 = now();
  if (got !== n) fail(req, `page_pool_alloc_pages() failed after ${got} pages (free ${m.pa.nrFree()})`);
  const freeHeld = m.pa.nrFree();
  if (freeHeld < r.minFree) r.minFree = freeHeld;
  const inRing = Math.min(n, ringSize);
  const t1r = now();
  returnRange(pps, pool, held, 0, inRing);
  const t2 = now();
  returnRange(pps, pool, held, inRing, n);
  const t3 = now();
  t.alloc += Number(t1 - t0);
  t.ring += Number(t2 - t1r);
  t.release += Number(t3 - t2);
  let out = { slow: 0, fast: 0, ring: inRing, released: n - inRing };
  if (check) {
    const s = statsOf(pps, pool);
    const refills = Math.ceil(n / BULK);
    if (s.slow !== refills || s.fast !== n - refills) fail(req, `alloc stats slow ${s.slow} fast ${s.fast}, want ${refills} slow-path refills and ${n - refills} from the cache`);
    if (s.ring !== inRing || s.ringFull !== n - inRing || s.cached !== 0 || s.releasedRefcnt !== 0) {
      fail(req, `recycle stats ring ${s.ring} ring_full ${s.ringFull} cached ${s.cached} released_refcnt ${s.releasedRefcnt}, want ${inRing} / ${n - inRing} / 0 / 0`);
    }
    if (pps.ringCount(pool) !== inRing) fail(req, `the ring holds ${pps.ringCount(pool)} pages, not ${inRing}`);
    const distinct = new Set(held.subarray(0, n)).size;
    if (distinct !== n) fail(req, `${n} allocations returned ${distinct} distinct pages`);
    out = { slow: s.slow, fast: s.fast, ring: s.ring, released: s.ringFull };
  }
  // Every page not in the pool went back to the page allocator: in flight = ring + cache leftovers.
  const inflight = pps.inflight(pool);
  const want = inRing + pps.cacheCount(pool);
  if (inflight !== want) fail(req, `page_pool_inflight() ${inflight} after the returns, want ${want} (ring ${inRing} + cache ${pps.cacheCount(pool)})`);
  setServingSoftirq(mem, false);
  pps.destroy(pool);
  if (pps.isLive(pool)) fail(req, "the pool outlived page_pool_destroy() with nothing in flight");
  rcuBarrier(m);
  if (sys.dma.liveMappings(r.dev) !== 0) fail(req, `${sys.dma.liveMappings(r.dev)} DMA mappings left after destroy`);
  const frames = framesOutsidePages(sys, r.dev);
  if (frames !== r.frames0) fail(req, `free + IOMMU table + slab frames ${frames} after a cycle, ${r.frames0} before the first: ${r.frames0 - frames} frames leaked`);
  if (mem.diagTotal !== r.diags) fail(req, `${mem.diagTotal - r.diags} emulated faults: ${mem.diagLog().slice(-1)[0]?.text}`);
  return out;
}

const cls = (a: FrameAccount, k: string): number => a.byClass[k] ?? 0;

/** Free frames, plus what may legitimately stay allocated across cycles: the device's IOMMU tables and every slab. */
function framesOutsidePages(sys: PpSystem, dev: number): number {
  const slab = sys.m.slab;
  let slabFrames = 0;
  for (let i = 0; i < slab.nrCaches(); i++) {
    const s = slab.cacheStats(slab.cacheAt(i));
    slabFrames += s.slabs << s.order;
  }
  return sys.m.pa.nrFree() + sys.dma.deviceStats(dev).tablePages + slabFrames;
}

/** Run one case in this process (the child's body; tests call it directly with small cases). */
export function runScaleCase(req: ScaleRequest): ScaleCase {
  const started = performance.now();
  if (!Number.isInteger(req.pages) || req.pages < 1) throw new Error(`scale: pages must be a positive integer, got ${req.pages}`);
  if (!Number.isInteger(req.rounds) || req.rounds < 1) throw new Error(`scale: rounds must be a positive integer, got ${req.rounds}`);
  const poolSize = req.poolSize ?? SCALE_POOL_SIZE;
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 16384) throw new Error(`scale: poolSize must be 1 … 16384, got ${poolSize}`);
  const sys = bootBenchSystem(req.kernel, req.bytes);
  const mem = sys.m.mem;
  mem.bindCpu(0);
  const dev = sys.dma.deviceCreate("0000:03:00.0");
  if (dev === 0) fail(req, "deviceCreate failed");
  const before = accountFrames(mem, ppClaimers(sys));
  assertAccounted(before);
  const rig: Rig = { sys, dev, held: new Uint32Array(req.pages), poolSize, req, frames0: framesOutsidePages(sys, dev), minFree: Infinity, diags: mem.diagTotal };
  const cyclesPerRound = Math.max(1, Math.ceil((req.minPagesPerRound ?? SCALE_MIN_PAGES_PER_ROUND) / req.pages));
  const warm = req.warmupPages ?? SCALE_WARMUP_PAGES;
  const warmN = Math.min(req.pages, SCALE_WARMUP_CYCLE_PAGES);
  const small = warm <= 0 ? 0 : Math.max(1, Math.ceil(warm / warmN));
  const warmupCycles = warm <= 0 ? 0 : small + (warmN < req.pages ? 1 : 0);
  const scratch: CycleTimes = { alloc: 0, ring: 0, release: 0 };
  // What the first cycle of N did (the returns' and allocations' split; every round's first cycle is checked).
  let first: ReturnType<typeof cycle> | null = null;
  for (let i = 0; i < small; i++) cycle(rig, warmN, scratch, i === 0);
  if (warm > 0 && warmN < req.pages) first = cycle(rig, req.pages, scratch, true);
  const alloc: number[] = [];
  const ret: number[] = [];
  const ring: number[] = [];
  const release: number[] = [];
  const inRing = Math.min(req.pages, poolSize);
  for (let r = 0; r < req.rounds; r++) {
    gc?.();
    const t: CycleTimes = { alloc: 0, ring: 0, release: 0 };
    for (let i = 0; i < cyclesPerRound; i++) {
      const c = cycle(rig, req.pages, t, i === 0);
      first ??= c;
    }
    const pages = req.pages * cyclesPerRound;
    alloc.push(t.alloc / pages);
    ret.push((t.ring + t.release) / pages);
    ring.push(t.ring / (inRing * cyclesPerRound));
    if (req.pages > inRing) release.push(t.release / ((req.pages - inRing) * cyclesPerRound));
  }
  const after = accountFrames(mem, ppClaimers(sys));
  assertAccounted(after);
  const kept = { iommu_tables: cls(after, CLASS_IOMMU_TABLES) - cls(before, CLASS_IOMMU_TABLES), slab: cls(after, CLASS_SLAB) - cls(before, CLASS_SLAB) };
  const moved: string[] = [];
  for (const k of new Set([...Object.keys(before.byClass), ...Object.keys(after.byClass)])) {
    if (k === CLASS_FREE || k === CLASS_SLAB || k === CLASS_IOMMU_TABLES) continue;
    if (cls(after, k) !== cls(before, k)) moved.push(`${k} ${cls(before, k)} → ${cls(after, k)}`);
  }
  if (moved.length > 0) fail(req, `frames moved between classes across the case: ${moved.join(", ")}`);
  if (cls(after, CLASS_FREE) !== cls(before, CLASS_FREE) - kept.iommu_tables - kept.slab) {
    fail(req, `free frames ${cls(before, CLASS_FREE)} → ${cls(after, CLASS_FREE)}, but the structures keep only ${kept.iommu_tables} IOMMU table + ${kept.slab} slab frames`);
  }
  if (sys.m.pa.nrFree() !== cls(after, CLASS_FREE)) fail(req, `NR_FREE_PAGES ${sys.m.pa.nrFree()} but the free lists hold ${cls(after, CLASS_FREE)}`);
  return {
    kernel: sys.build.name,
    layout: sys.build.layout.name,
    machine: machineName(req.bytes),
    machine_bytes: req.bytes,
    pages: req.pages,
    pool_size: poolSize,
    rounds: req.rounds,
    cycles_per_round: cyclesPerRound,
    warmup_cycles: warmupCycles,
    alloc_ns: stat(alloc),
    return_ns: stat(ret),
    release_ns: release.length > 0 ? stat(release) : null,
    ring_ns: stat(ring),
    returns: { ring: first!.ring, released: first!.released },
    allocs: { slow: first!.slow, fast: first!.fast },
    frames: {
      total: after.total,
      free_before: cls(before, CLASS_FREE),
      free_after: cls(after, CLASS_FREE),
      peak_in_use: cls(before, CLASS_FREE) - rig.minFree,
      kept,
      by_class: after.byClass,
    },
    elapsed_ms: Math.round(performance.now() - started),
  };
}

// ─── the whole benchmark: a child per case ─────────────────────────────────────────────────────

/** Per build: the largest case against the smallest, per page (median ÷ median; the range from the rounds' extremes). */
export interface ScaleSummary {
  readonly kernel: string;
  readonly layout: string;
  readonly smallest: { readonly machine: string; readonly pages: number };
  readonly largest: { readonly machine: string; readonly pages: number };
  readonly alloc_ratio: number;
  readonly return_ratio: number;
  /** Released returns alone (null when the smallest case released nothing). */
  readonly release_ratio: number | null;
  /** [best, worst] of largest ÷ smallest over the rounds' min and max. */
  readonly alloc_ratio_range: readonly [number, number];
  readonly return_ratio_range: readonly [number, number];
  /**
   * The dearest case of any size against the smallest (median ÷ median): the criterion is
   * about the largest case, but a middle case that costs more says the growth is not monotonic.
   */
  readonly alloc_worst: ScaleWorst;
  readonly return_worst: ScaleWorst;
  readonly criterion: number;
  /** alloc_ratio and return_ratio both ≤ criterion. */
  readonly holds: boolean;
}

export interface ScaleWorst {
  readonly machine: string;
  readonly pages: number;
  readonly ratio: number;
}

/** The scale benchmark's document (ppemu bench --test scale embeds it). */
export interface ScaleJson {
  readonly test: "scale";
  readonly node: string;
  readonly cpu: string;
  readonly date: string;
  /** What was measured, in one paragraph (the file comment's short form). */
  readonly method: string;
  readonly pool_size: number;
  readonly rounds: number;
  readonly min_pages_per_round: number;
  readonly warmup_pages: number;
  readonly criterion: number;
  readonly combos: readonly ScaleCombo[];
  /** The combinations that were not run because they do not fit, in words. */
  readonly not_fitting: readonly string[];
  readonly cases: readonly ScaleCase[];
  readonly summary: readonly ScaleSummary[];
  readonly elapsed_ms: number;
}

export const scaleMethod = (poolSize: number, minPagesPerRound: number): string =>
  "Per case (build × machine × N) a fresh child process boots the benchmark machine (page poisoning off, " +
  "misuse checks off) and probes a device behind the IOMMU. A cycle creates a PP_FLAG_DMA_MAP pool (order 0, " +
  `pool_size ${poolSize}, no NAPI), allocates N pages and holds them (alloc ns/page = time / N: all slow path, ` +
  "one alloc_pages_bulk of 64 per 64 pages, each mapped and tracked), then returns all N with " +
  "page_pool_put_full_page(pool, page, false) (return ns/page = time / N: the first pool_size go into the ring, " +
  "every other one is released: unmapped, untracked, freed to the buddy allocator; release ns/page is those alone), " +
  "then destroys the pool (untimed) so the next cycle starts again from the slow path. A round is enough cycles for " +
  `${minPagesPerRound} pages; figures are medians over rounds with the min–max range; frames are accounted after every case.`;

function worst(cases: readonly ScaleCase[], smallest: ScaleCase, f: (c: ScaleCase) => number): ScaleWorst {
  const w = cases.reduce((a, c) => (f(c) > f(a) ? c : a), smallest);
  return { machine: w.machine, pages: w.pages, ratio: f(w) / f(smallest) };
}

export function summarizeScale(cases: readonly ScaleCase[], criterion = SCALE_CRITERION): ScaleSummary[] {
  const kernels = [...new Set(cases.map((c) => c.kernel))];
  const out: ScaleSummary[] = [];
  const size = (c: ScaleCase) => [c.machine_bytes, c.pages] as const;
  for (const k of kernels) {
    const mine = cases.filter((c) => c.kernel === k);
    if (mine.length === 0) continue;
    const byScale = [...mine].sort((a, b) => size(a)[0] - size(b)[0] || size(a)[1] - size(b)[1]);
    const s = byScale[0]!;
    const l = byScale[byScale.length - 1]!;
    const rel = s.release_ns && l.release_ns ? l.release_ns.median / s.release_ns.median : null;
    const alloc = l.alloc_ns.median / s.alloc_ns.median;
    const ret = l.return_ns.median / s.return_ns.median;
    out.push({
      kernel: k,
      layout: s.layout,
      smallest: { machine: s.machine, pages: s.pages },
      largest: { machine: l.machine, pages: l.pages },
      alloc_ratio: alloc,
      return_ratio: ret,
      release_ratio: rel,
      alloc_ratio_range: [l.alloc_ns.min / s.alloc_ns.max, l.alloc_ns.max / s.alloc_ns.min],
      return_ratio_range: [l.return_ns.min / s.return_ns.max, l.return_ns.max / s.return_ns.min],
      alloc_worst: worst(mine, s, (c) => c.alloc_ns.median),
      return_worst: worst(mine, s, (c) => c.return_ns.median),
      criterion,
      holds: alloc <= criterion && ret <= criterion,
    });
  }
  return out;
}

/** The combinations that do not fit, in words. */
export function notFitting(combos: readonly ScaleCombo[]): string[] {
  return combos
    .filter((c) => !c.fits)
    .map((c) => `${c.pages_name} pages on ${c.machine}: needs ~${c.frames_needed.toLocaleString("en-US")} frames, the machine has ${c.frames_allocatable.toLocaleString("en-US")} allocatable`);
}

export type ScaleReply = ChildReply<ScaleCase>;

/** One case in a fresh child (dist/bench/scale_worker.js), pinned as the other single-CPU benchmarks are. */
export async function forkScaleCase(req: ScaleRequest): Promise<ScaleCase> {
  const r = await forkOnce<ScaleRequest, ScaleReply>("scale_worker.js", req);
  if (r.ok) return r.result;
  throw new Error(r.error);
}

export interface ScaleBenchOptions extends ScalePlanOptions {
  /** Called before each case (`index` 0-based of `total`) and as each case arrives. */
  readonly onStart?: (req: ScaleRequest, index: number, total: number) => void;
  readonly onCase?: (c: ScaleCase) => void;
  /** The CPU to pin every child to (default the last; null: no pinning). */
  readonly cpu?: number | null;
  /** Run each case in this process instead of a child (tests; debugging). */
  readonly inline?: boolean;
  /** Rounds per case (default SCALE_DEFAULT_ROUNDS). */
  readonly rounds: number;
}

/** Run the plan, one child per case, sequentially (two at once would share cores). */
export async function runScaleBench(opts: ScaleBenchOptions): Promise<ScaleJson> {
  const started = performance.now();
  const plan = planScale(opts);
  const cases: ScaleCase[] = [];
  setBenchCpu(opts.inline ? null : benchCpu(opts.cpu));
  try {
    for (const [i, req] of plan.requests.entries()) {
      opts.onStart?.(req, i, plan.requests.length);
      const c = opts.inline ? runScaleCase(req) : await forkScaleCase(req);
      cases.push(c);
      opts.onCase?.(c);
    }
  } finally {
    setBenchCpu(null);
  }
  return {
    test: "scale",
    node: process.version,
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    date: new Date().toISOString(),
    method: scaleMethod(opts.poolSize ?? SCALE_POOL_SIZE, opts.minPagesPerRound ?? SCALE_MIN_PAGES_PER_ROUND),
    pool_size: opts.poolSize ?? SCALE_POOL_SIZE,
    rounds: opts.rounds,
    min_pages_per_round: opts.minPagesPerRound ?? SCALE_MIN_PAGES_PER_ROUND,
    warmup_pages: opts.warmupPages ?? SCALE_WARMUP_PAGES,
    criterion: SCALE_CRITERION,
    combos: plan.combos,
    not_fitting: notFitting(plan.combos),
    cases,
    summary: summarizeScale(cases),
    elapsed_ms: Math.round(performance.now() - started),
  };
}
