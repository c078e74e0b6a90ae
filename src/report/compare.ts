/**
 * `ppemu compare`: what each fix costs in tracking memory, MEASURED on the emulator — a machine is
 * booted per layout and pool size, a driver takes DMA-mapped pages from a real pool, and the bytes
 * are read back from the layout's own structures: the item blocks on `pool->item_blocks` (one page
 * each), or the `dma_mapped` xarray's nodes, counted by walking the tree (576 bytes each). Nothing
 * here is computed on paper.
 *
 *   dense   the driver holds N pages: ids 1..N (plus what the alloc cache's 64-page refill left in the
 *           cache: nothing at the default counts, all multiples of 64), blocks filled in order
 *   sparse  4096 pages taken, then 63 of every 64 given back: one page left per xa leaf, a few per
 *           slow item block, so both layouts keep memory alive for pages that are gone
 *
 * Whether a layout fixes the unbind bug is read from the unbind scenario at its defaults (the same
 * run as `ppemu scenario unbind` and the report's unbind section), per layout.
 */
import { bootPpSystem, type PpSystem } from "../pool/index.js";
import { ItemBlockTracking } from "../pool/item_block.js";
import { XarrayTracking } from "../pool/xarray.js";
import { PP_FLAG_DMA_MAP, PP_DMA_MAPPED, LAYOUT_NAMES, type LayoutName } from "../pool/types.js";
import { XA_NODE_SIZE } from "../mem/xarray.js";
import { MACH_CPU, MACH_IN_SOFTIRQ } from "../mem/physmem.js";
import { DMA_FROM_DEVICE } from "../dma/index.js";
import { runUnbind, UNBIND_DEFAULTS } from "../scenario/unbind.js";
import { renderTable } from "./table.js";
import type { ReportSection } from "./layouts.js";

export interface CompareOptions {
  readonly poolSizes?: readonly number[];
  /** In-flight page counts measured, ascending (each run grows to the next). */
  readonly inflight?: readonly number[];
  /** Pages taken before the sparse case returns 63 of every 64. */
  readonly sparsePages?: number;
  readonly sparsePoolSize?: number;
}

export const COMPARE_DEFAULTS = {
  poolSizes: [256, 1024, 4096],
  inflight: [64, 1024, 4096, 16384],
  sparsePages: 4096,
  sparsePoolSize: 1024,
} as const;

/** One measurement: a pool after the driver took `in_flight` pages. */
export interface CompareRow {
  readonly layout: "item-block" | "xarray";
  readonly case: "dense" | "sparse";
  readonly pool_size: number;
  /** Pages the driver holds. */
  readonly in_flight: number;
  /** Pages the layout tracks now: the driver's plus the alloc cache's (item-block: items attached; xarray: xa entries). */
  readonly tracked_pages: number;
  readonly tracking_bytes: number;
  readonly bytes_per_tracked_page: number;
  readonly items_per_block: number | null;
  readonly item_blocks_fast: number | null;
  readonly item_blocks_slow: number | null;
  readonly xa_nodes: number | null;
}

export interface LayoutSummary {
  readonly layout: LayoutName;
  readonly items_per_block: number | null;
  /** Measured on the largest dense row for pool_size 1024 (0 for classic: it tracks nothing). */
  readonly bytes_per_tracked_page_dense: number;
  readonly bytes_per_tracked_page_sparse: number | null;
  readonly unbind_bug_fixed: boolean;
  readonly unmaps_after_unbind: number;
  readonly mappings_alive_at_unbind: number;
}

export interface CompareData {
  readonly arch: "lp64";
  readonly page_size: number;
  readonly xa_node_size: number;
  /** Pages taken before the sparse case gave back 63 of every 64. */
  readonly sparse_pages: number;
  readonly rows: readonly CompareRow[];
  readonly layouts: readonly LayoutSummary[];
}

const round1 = (x: number) => Math.round(x * 10) / 10;

interface Rig {
  readonly sys: PpSystem;
  readonly pool: number;
  readonly held: number[];
}

function bootRig(layout: "item-block" | "xarray", poolSize: number, pages: number): Rig {
  // Room for the pages, the alloc cache, IOMMU tables, blocks or nodes, memmap: 1 MiB multiples.
  const frames = Math.ceil((pages * 1.25 + 4096) / 256) * 256;
  const sys = bootPpSystem(layout, { bytes: frames * 4096, poison: false, ppChecks: false });
  const dev = sys.dma.deviceCreate("eth0");
  const pool = sys.pps.create({ flags: PP_FLAG_DMA_MAP, poolSize, dev, dmaDir: DMA_FROM_DEVICE, napiCpu: 0 });
  if (pool < 0) throw new Error(`page_pool_create(pool_size ${poolSize}) failed: ${pool}`);
  const mem = sys.m.mem;
  mem.wr32(mem.machine + MACH_CPU, 0);
  mem.wr32(mem.machine + MACH_IN_SOFTIRQ, 1);
  return { sys, pool, held: [] };
}

function takePages(r: Rig, upTo: number): void {
  while (r.held.length < upTo) {
    const page = r.sys.pps.allocPages(r.pool);
    if (page === 0) throw new Error(`compare: allocation ${r.held.length} failed`);
    r.held.push(page);
  }
}

/** The page leaves the pool: another reference is held across the put, as page_pool03_slow does. */
function releasePage(r: Rig, page: number): void {
  r.sys.m.pa.getPage(page);
  r.sys.pps.putFullPage(r.pool, page, false);
  r.sys.m.pa.putPage(page);
}

function measure(r: Rig, kase: "dense" | "sparse", poolSize: number): CompareRow {
  const t = r.sys.pps.t;
  let tracked = 0;
  let bytes = 0;
  let fast: number | null = null;
  let slow: number | null = null;
  let nodes: number | null = null;
  let perBlock: number | null = null;
  if (t instanceof ItemBlockTracking) {
    let nf = 0;
    let ns = 0;
    t.forEachBlock(r.pool, (_b, isSlow) => (isSlow ? ns++ : nf++));
    fast = nf;
    slow = ns;
    bytes = t.itemMemResident(r.pool);
    perBlock = t.ITEMS_PER_PAGE;
    // Every page the pool holds or has out carries one item.
    tracked = r.sys.pps.inflight(r.pool);
  } else if (t instanceof XarrayTracking) {
    const xa = r.pool + PP_DMA_MAPPED;
    nodes = t.xa.xaNodeCount(xa);
    bytes = nodes * XA_NODE_SIZE;
    t.xa.xaForEach(xa, () => tracked++);
  }
  return {
    layout: t.name as "item-block" | "xarray",
    case: kase,
    pool_size: poolSize,
    in_flight: r.held.length,
    tracked_pages: tracked,
    tracking_bytes: bytes,
    bytes_per_tracked_page: tracked === 0 ? 0 : round1(bytes / tracked),
    items_per_block: perBlock,
    item_blocks_fast: fast,
    item_blocks_slow: slow,
    xa_nodes: nodes,
  };
}

export function buildCompare(opts: CompareOptions = {}): CompareData {
  const poolSizes = opts.poolSizes ?? COMPARE_DEFAULTS.poolSizes;
  const inflight = [...(opts.inflight ?? COMPARE_DEFAULTS.inflight)].sort((a, b) => a - b);
  const sparsePages = opts.sparsePages ?? COMPARE_DEFAULTS.sparsePages;
  const sparsePool = opts.sparsePoolSize ?? COMPARE_DEFAULTS.sparsePoolSize;
  const rows: CompareRow[] = [];
  const tracking = ["item-block", "xarray"] as const;
  for (const layout of tracking) {
    for (const poolSize of poolSizes) {
      const r = bootRig(layout, poolSize, inflight[inflight.length - 1] ?? 0);
      for (const n of inflight) {
        takePages(r, n);
        rows.push(measure(r, "dense", poolSize));
      }
    }
    const r = bootRig(layout, sparsePool, sparsePages);
    takePages(r, sparsePages);
    const kept: number[] = [];
    r.held.forEach((p, j) => (j % 64 === 0 ? kept.push(p) : releasePage(r, p)));
    r.held.length = 0;
    r.held.push(...kept);
    rows.push(measure(r, "sparse", sparsePool));
  }

  const layouts: LayoutSummary[] = LAYOUT_NAMES.map((layout) => {
    const u = runUnbind({ layout }).result;
    const mine = rows.filter((x) => x.layout === layout);
    const dense = mine.filter((x) => x.case === "dense");
    const ref = dense.filter((x) => x.pool_size === 1024);
    const best = (ref.length ? ref : dense).reduce<CompareRow | null>((a, b) => (a === null || b.in_flight > a.in_flight ? b : a), null);
    const sparse = mine.find((x) => x.case === "sparse");
    return {
      layout,
      items_per_block: mine[0]?.items_per_block ?? null,
      bytes_per_tracked_page_dense: best ? best.bytes_per_tracked_page : 0,
      bytes_per_tracked_page_sparse: layout === "classic" ? 0 : (sparse?.bytes_per_tracked_page ?? null),
      unbind_bug_fixed: u.unmaps_after_unbind === 0 && u.syncs_after_unbind === 0 && u.mappings_alive_at_unbind === 0,
      unmaps_after_unbind: u.unmaps_after_unbind,
      mappings_alive_at_unbind: u.mappings_alive_at_unbind,
    };
  });
  return { arch: "lp64", page_size: 4096, xa_node_size: XA_NODE_SIZE, sparse_pages: sparsePages, rows, layouts };
}

const dash = (v: number | null) => (v === null ? "—" : v);

function rowCells(x: CompareRow): (string | number)[] {
  return [
    x.layout,
    x.pool_size,
    x.in_flight,
    x.tracked_pages,
    x.item_blocks_fast === null ? "—" : `${x.item_blocks_fast} + ${x.item_blocks_slow}`,
    dash(x.xa_nodes),
    x.tracking_bytes,
    x.bytes_per_tracked_page.toFixed(1),
  ];
}

const HEAD = ["layout", "pool_size", "in flight", "tracked", "item blocks\nfast + slow", "xa nodes", "tracking\nbytes", "bytes per\ntracked page"];
const ALIGN = HEAD.map((h, i) => ({ header: h, align: (i === 0 || i === 4 ? "left" : "right") as "left" | "right" }));

export function renderCompare(d: CompareData): string {
  const dense = d.rows.filter((x) => x.case === "dense");
  const sparse = d.rows.filter((x) => x.case === "sparse");
  const sp = sparse[0];
  const byLayout = (f: (s: LayoutSummary) => string | number) => d.layouts.map(f);
  const summary = renderTable(
    ["", ...d.layouts.map((s) => s.layout)],
    [
      ["items per block (one 4 KiB page)", ...byLayout((s) => dash(s.items_per_block))],
      ["bytes per tracked page, dense (most pages, pool 1024)", ...byLayout((s) => s.bytes_per_tracked_page_dense.toFixed(1))],
      ["bytes per tracked page, sparse", ...byLayout((s) => (s.bytes_per_tracked_page_sparse === null ? "—" : s.bytes_per_tracked_page_sparse.toFixed(1)))],
      [`unmaps after unbind (scenario unbind, ${UNBIND_DEFAULTS.inflight} in flight)`, ...byLayout((s) => s.unmaps_after_unbind)],
      ["mappings alive at unbind", ...byLayout((s) => s.mappings_alive_at_unbind)],
      ["unbind bug fixed?", ...byLayout((s) => (s.unbind_bug_fixed ? "yes" : "NO"))],
    ],
  );
  return [
    `Tracking memory, measured from the emulator's own allocations (${d.arch}, ${d.page_size}-byte pages):`,
    `item-block = item blocks on pool->item_blocks × PAGE_SIZE; xarray = dma_mapped nodes × ${d.xa_node_size} B.`,
    `"tracked": pages the layout's structures track (item-block: pages carrying an item; xarray: xa entries),`,
    `the driver's plus those left in the alloc cache. The cache refills 64 pages at a time, so when the driver`,
    `holds a multiple of 64 (every row here) the cache is empty and "tracked" equals "in flight".`,
    "",
    "dense: the driver holds N DMA-mapped pages",
    renderTable(ALIGN, dense.map(rowCells)),
    "",
    sp ? `sparse: ${d.sparse_pages} pages taken on pool_size ${sp.pool_size}, then 63 of every 64 returned` : "sparse: (not measured)",
    renderTable(ALIGN, sparse.map(rowCells)),
    "",
    summary,
  ].join("\n");
}

/** Text and JSON together, for `ppemu compare` and the report. */
export function compareReport(opts: CompareOptions = {}): { text: string; json: CompareData } {
  const json = buildCompare(opts);
  return { text: renderCompare(json), json };
}

/** The comparison as a report section (for `ppemu report`). */
export function compareSections(opts: CompareOptions = {}): ReportSection[] {
  const { text, json } = compareReport(opts);
  return [{ id: "compare", title: "Tracking memory and the unbind bug, measured", text, json }];
}
