/**
 * What each fix costs in tracking memory, MEASURED: a machine is booted per build and pool size, a
 * driver takes DMA-mapped pages from a real pool, and the bytes are read back from the layout's own
 * structures through `Tracking.usage()` (item blocks on `pool->item_blocks`, one page each; the
 * `dma_mapped` xarray's nodes, counted by walking the tree). Nothing here is computed on paper.
 *
 *   dense   the driver holds N pages (plus what the alloc cache's 64-page refill left in the cache:
 *           nothing when N is a multiple of 64)
 *   sparse  `sparsePages` taken, then 63 of every 64 given back: one page left per xa leaf, a few per
 *           slow item block, so both layouts keep memory alive for pages that are gone
 *
 * Whether a build fixes the unbind bug is the unbind scenario's own verdict at its defaults.
 */
import { bootPpSystem, type PpSystem } from "../pool/index.js";
import { PP_FLAG_DMA_MAP } from "../pool/page_pool.js";
import { setServingSoftirq } from "../smp/percpu.js";
import { DMA_FROM_DEVICE } from "../dma/index.js";
import { runUnbind, UNBIND_DEFAULTS, type UnbindVerdict } from "./unbind.js";
import type { KernelBuild } from "../builds/types.js";
import { LP64 } from "../arch.js";
import { layoutOf } from "../mem/ctype.js";
import { STRUCT_PAGE } from "../mem/structs.js";

export interface TrackingCostOptions {
  readonly poolSizes?: readonly number[];
  /** In-flight page counts measured, ascending (each run grows to the next). */
  readonly inflight?: readonly number[];
  /** Pages taken before the sparse case returns 63 of every 64. */
  readonly sparsePages?: number;
  readonly sparsePoolSize?: number;
}

export const TRACKING_COST_DEFAULTS = {
  poolSizes: [256, 1024, 4096],
  inflight: [64, 1024, 4096, 16384],
  sparsePages: 4096,
  sparsePoolSize: 1024,
} as const;

/** The sparse case keeps one page of every this many. */
export const SPARSE_KEEP_EVERY = 64;

/** One measurement: a pool after the driver took `in_flight` pages. */
export interface TrackingCostRow {
  readonly kernel: string;
  readonly layout: string;
  readonly case: "dense" | "sparse";
  readonly pool_size: number;
  /** Pages the driver holds. */
  readonly in_flight: number;
  /** Pages the layout tracks now: the driver's plus the alloc cache's. */
  readonly tracked_pages: number;
  readonly tracking_bytes: number;
  readonly bytes_per_tracked_page: number;
  /** Tracking slots per unit of memory (ITEMS_PER_PAGE; slots per xa_node). */
  readonly slots_per_unit: number | null;
  /** The layout's units in use, e.g. `{"item blocks (fast)": 11, "item blocks (slow)": 0}`. */
  readonly units: Readonly<Record<string, number>>;
}

export interface BuildCostSummary {
  readonly kernel: string;
  readonly layout: string;
  readonly tracks_inflight: boolean;
  readonly slots_per_unit: number | null;
  /** Measured on the largest dense row for pool_size 1024 (0 for a layout that tracks nothing). */
  readonly bytes_per_tracked_page_dense: number;
  readonly bytes_per_tracked_page_sparse: number;
  readonly unbind_verdict: UnbindVerdict;
  readonly unmaps_after_unbind: number;
  readonly mappings_alive_at_unbind: number;
  /** sizeof(struct page) in the build's world (lp64): 64, or the layout's own (memdesc-item: 8). */
  readonly struct_page_bytes: number;
  /** `page_pool_page_is_pp()` as the build writes it, in C. */
  readonly membership: string;
  /** Whether a pool page can be mapped to user space (vm_insert_page(); a typed page cannot). */
  readonly user_mappable: boolean;
}

export interface TrackingCost {
  readonly arch: "lp64";
  readonly page_size: number;
  readonly sparse_pages: number;
  readonly rows: readonly TrackingCostRow[];
  readonly builds: readonly BuildCostSummary[];
}

const round1 = (x: number) => Math.round(x * 10) / 10;

interface Rig {
  readonly sys: PpSystem;
  readonly pool: number;
  readonly held: number[];
}

function bootRig(build: KernelBuild, poolSize: number, pages: number): Rig {
  // Room for the pages, a quarter more for the alloc cache, IOMMU tables, blocks or nodes, plus
  // 16 MiB for the memmap and boot frames: rounded up to whole MiB.
  const bytes = Math.ceil((pages * 1.25 * 4096 + (16 << 20)) / (1 << 20)) << 20;
  const sys = bootPpSystem(build, { bytes, poison: false, ppChecks: false });
  const dev = sys.dma.deviceCreate("0000:03:00.0");
  const pool = sys.pps.create({ flags: PP_FLAG_DMA_MAP, poolSize, dev, dmaDir: DMA_FROM_DEVICE, napiCpu: 0 });
  if (pool < 0) throw new Error(`page_pool_create(pool_size ${poolSize}) failed: ${pool}`);
  const mem = sys.m.mem;
  mem.bindCpu(0);
  setServingSoftirq(mem, true);
  return { sys, pool, held: [] };
}

function takePages(r: Rig, upTo: number): void {
  while (r.held.length < upTo) {
    const page = r.sys.pps.allocPages(r.pool);
    if (page === 0) throw new Error(`tracking cost: allocation ${r.held.length} failed`);
    r.held.push(page);
  }
}

/** The page leaves the pool: another reference is held across the put, as page_pool03_slow does. */
function releasePage(r: Rig, page: number): void {
  r.sys.m.pa.getPage(page);
  r.sys.pps.putFullPage(r.pool, page, false);
  r.sys.m.pa.putPage(page);
}

function measure(r: Rig, kase: "dense" | "sparse", poolSize: number): TrackingCostRow {
  const u = r.sys.pps.t.usage(r.pool);
  return {
    kernel: r.sys.build.name,
    layout: r.sys.build.layout.name,
    case: kase,
    pool_size: poolSize,
    in_flight: r.held.length,
    tracked_pages: u.trackedPages,
    tracking_bytes: u.bytes,
    bytes_per_tracked_page: u.trackedPages === 0 ? 0 : round1(u.bytes / u.trackedPages),
    slots_per_unit: u.slotsPerUnit,
    units: u.units,
  };
}

/** Measure `builds` (each layout that tracks in-flight pages gets rows; every build gets a summary). */
export function measureTrackingCost(builds: readonly KernelBuild[], opts: TrackingCostOptions = {}): TrackingCost {
  const poolSizes = opts.poolSizes ?? TRACKING_COST_DEFAULTS.poolSizes;
  const inflight = [...(opts.inflight ?? TRACKING_COST_DEFAULTS.inflight)].sort((a, b) => a - b);
  const sparsePages = opts.sparsePages ?? TRACKING_COST_DEFAULTS.sparsePages;
  const sparsePool = opts.sparsePoolSize ?? TRACKING_COST_DEFAULTS.sparsePoolSize;
  const rows: TrackingCostRow[] = [];
  let pageSize = 0;
  for (const b of builds) {
    if (!b.layout.tracksInflight) continue;
    for (const poolSize of poolSizes) {
      const r = bootRig(b, poolSize, inflight[inflight.length - 1] ?? 0);
      pageSize = r.sys.m.mem.pageSize;
      for (const n of inflight) {
        takePages(r, n);
        rows.push(measure(r, "dense", poolSize));
      }
    }
    const r = bootRig(b, sparsePool, sparsePages);
    takePages(r, sparsePages);
    const kept: number[] = [];
    r.held.forEach((p, j) => (j % SPARSE_KEEP_EVERY === 0 ? kept.push(p) : releasePage(r, p)));
    r.held.length = 0;
    r.held.push(...kept);
    rows.push(measure(r, "sparse", sparsePool));
  }
  const summaries: BuildCostSummary[] = builds.map((b) => {
    const u = runUnbind({ kernel: b }).result;
    const mine = rows.filter((x) => x.kernel === b.name);
    const dense = mine.filter((x) => x.case === "dense");
    const ref = dense.filter((x) => x.pool_size === 1024);
    const best = (ref.length ? ref : dense).reduce<TrackingCostRow | null>((a, x) => (a === null || x.in_flight > a.in_flight ? x : a), null);
    const sparse = mine.find((x) => x.case === "sparse");
    return {
      kernel: b.name,
      layout: b.layout.name,
      tracks_inflight: b.layout.tracksInflight,
      slots_per_unit: mine[0]?.slots_per_unit ?? null,
      bytes_per_tracked_page_dense: best ? best.bytes_per_tracked_page : 0,
      bytes_per_tracked_page_sparse: sparse ? sparse.bytes_per_tracked_page : 0,
      unbind_verdict: u.verdict,
      unmaps_after_unbind: u.unmaps_after_unbind,
      mappings_alive_at_unbind: u.mappings_alive_at_unbind,
      struct_page_bytes: structPageBytes(b),
      membership: b.layout.membershipText(b),
      user_mappable: b.layout.userMappable,
    };
  });
  return { arch: "lp64", page_size: pageSize || 4096, sparse_pages: sparsePages, rows, builds: summaries };
}

/** sizeof(struct page) in the build's world: the layout's own (memdesc) or the machine's (64 on lp64). */
export function structPageBytes(b: KernelBuild): number {
  return b.layout.structPageBytes?.(LP64) ?? layoutOf(STRUCT_PAGE, LP64).size;
}

export { UNBIND_DEFAULTS };
