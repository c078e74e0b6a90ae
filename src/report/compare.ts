/**
 * `ppemu compare` rendered: the tracking memory each layout's default build (or the builds asked
 * for) holds, measured by src/scenario/tracking_cost.ts, and the unbind scenario's verdict per build.
 */
import { measureTrackingCost, type TrackingCost, type TrackingCostOptions, type TrackingCostRow, type BuildCostSummary, UNBIND_DEFAULTS } from "../scenario/tracking_cost.js";
import { XA_NODE_SIZE } from "../mem/xarray.js";
import { allLayouts, defaultBuildOf } from "../builds/index.js";
import type { KernelBuild } from "../builds/types.js";
import { renderTable, wrapByGroup } from "./table.js";
import type { ReportSection } from "./section.js";
import { buildHeaders } from "./unbind.js";
import { jsonDocument, type JsonDocument } from "./json.js";

/** `ppemu compare --json`: `{schema, command: "compare", arch, page_size, sparse_pages, rows, builds}`. */
export function compareDocument(d: TrackingCost): JsonDocument {
  return jsonDocument("compare", { ...d });
}

export type { TrackingCost as CompareData, TrackingCostOptions as CompareOptions };

/** What `compare` measures when no build is named: each layout's default build. */
export function defaultCompareBuilds(): KernelBuild[] {
  return allLayouts().map(defaultBuildOf);
}

export function buildCompare(opts: TrackingCostOptions = {}, builds: readonly KernelBuild[] = defaultCompareBuilds()): TrackingCost {
  return measureTrackingCost(builds, opts);
}

function unitsText(u: Readonly<Record<string, number>>): string {
  return Object.entries(u)
    .map(([k, v]) => `${v} ${k}`)
    .join("\n");
}

function rowCells(x: TrackingCostRow): (string | number)[] {
  return [x.kernel, x.pool_size, x.in_flight, x.tracked_pages, unitsText(x.units), x.tracking_bytes, x.bytes_per_tracked_page.toFixed(1)];
}

const HEAD = ["build", "pool_size", "in flight", "tracked", "tracking units", "tracking\nbytes", "bytes per\ntracked page"];
const ALIGN = HEAD.map((h, i) => ({ header: h, align: (i === 0 || i === 4 ? "left" : "right") as "left" | "right" }));

/** A C expression broken at spaces into lines of at most `width` characters, for a table cell. */
function wrapCell(text: string, width = 18): string {
  const lines: string[] = [];
  for (const w of text.split(" ")) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last]!.length + 1 + w.length <= width) lines[last] += ` ${w}`;
    else lines.push(w);
  }
  return lines.join("\n");
}

export function renderCompare(d: TrackingCost): string {
  const dense = d.rows.filter((x) => x.case === "dense");
  const sparse = d.rows.filter((x) => x.case === "sparse");
  const sp = sparse[0];
  // Builds side by side, wrapped at layout boundaries into tables of TABLE_WIDTH.
  const summary = wrapByGroup(d.builds, (s) => s.layout, (chunk) => {
    const by = (f: (s: BuildCostSummary) => string | number) => chunk.map(f);
    return renderTable(
    ["", ...buildHeaders(chunk.map((s) => ({ kernel: s.kernel, layout: s.layout })))],
    [
      ["tracking slots per unit (page or xa_node)", ...by((s) => s.slots_per_unit ?? "—")],
      ["bytes per tracked page, dense (most pages, pool 1024)", ...by((s) => (s.tracks_inflight ? s.bytes_per_tracked_page_dense.toFixed(1) : "0 (none)"))],
      ["bytes per tracked page, sparse", ...by((s) => (s.tracks_inflight ? s.bytes_per_tracked_page_sparse.toFixed(1) : "0 (none)"))],
      // What a reviewer weighs a layout by: the memmap's bytes per page plus the tracking's (dense).
      ["struct page + tracking, bytes per page (dense)", ...by((s) => {
        const tracking = s.tracks_inflight ? s.bytes_per_tracked_page_dense : 0;
        return `${(s.struct_page_bytes + tracking).toFixed(1)}\n(${s.struct_page_bytes} + ${tracking.toFixed(1)})`;
      })],
      ["is a page_pool page (page_pool_page_is_pp)", ...by((s) => wrapCell(s.membership))],
      ["mappable to user space (vm_insert_page)", ...by((s) => (s.user_mappable ? "yes" : "no (page type)"))],
      [`unmaps after unbind (scenario unbind, ${UNBIND_DEFAULTS.inflight} in flight)`, ...by((s) => s.unmaps_after_unbind)],
      ["mappings alive at unbind", ...by((s) => s.mappings_alive_at_unbind)],
      ["unbind bug", ...by((s) => s.unbind_verdict)],
    ],
  );
  });
  return [
    `Tracking memory, measured from the emulator's own allocations (${d.arch}, ${d.page_size}-byte pages):`,
    `item blocks on pool->item_blocks × PAGE_SIZE; the dma_mapped xarray's nodes × ${XA_NODE_SIZE} B.`,
    `"tracked": pages the layout's structures track (pages carrying an item; xa entries), the driver's`,
    `plus those left in the alloc cache. The cache refills 64 pages at a time, so when the driver holds`,
    `a multiple of 64 (every row here) the cache is empty and "tracked" equals "in flight".`,
    "",
    "dense: the driver holds N DMA-mapped pages",
    renderTable(ALIGN, dense.map(rowCells)),
    "",
    sp ? `sparse: ${d.sparse_pages} pages taken on pool_size ${sp.pool_size}, then 63 of every 64 returned` : "sparse: (not measured)",
    renderTable(ALIGN, sparse.map(rowCells)),
    "",
    "struct page + tracking: sizeof(struct page) in the build's world (64 on x86-64) plus the dense",
    "tracking bytes per page; the membership test is the build's page_pool_page_is_pp() (netmem_is_pp());",
    "mappable: vm_insert_page() (TCP zerocopy receive) takes a pool page, which a page type forbids.",
    "",
    summary,
  ].join("\n");
}

/** Text and JSON together, for `ppemu compare` and the report. */
export function compareReport(opts: TrackingCostOptions = {}, builds?: readonly KernelBuild[]): { text: string; json: TrackingCost } {
  const json = buildCompare(opts, builds);
  return { text: renderCompare(json), json };
}

/** The comparison as a report section (for `ppemu report`). */
export function compareSections(opts: TrackingCostOptions = {}): ReportSection[] {
  const { text, json } = compareReport(opts);
  return [{ id: "compare", title: "Tracking memory and the unbind bug, measured", text, json: compareDocument(json) }];
}
