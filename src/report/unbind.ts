/**
 * The unbind scenario rendered: one column per kernel build, the builds grouped by layout (a header
 * line names the layout above its first build), and the kernel log's first line of each kind.
 */
import type { ReportSection } from "./section.js";
import { allBuilds } from "../builds/index.js";
import { runUnbind, UNBIND_DEFAULTS, type UnbindResult } from "../scenario/unbind.js";
import { wrapByGroup, renderTable } from "./table.js";
import { jsonDocument, type JsonDocument } from "./json.js";

/** `ppemu scenario unbind --json`: `{schema, command: "scenario", scenario: "unbind", results}`. */
export function scenarioDocument(results: readonly UnbindResult[]): JsonDocument {
  return jsonDocument("scenario", { scenario: "unbind", results });
}

/** Table rows: label and how to read it from a result. */
export const UNBIND_ROWS: readonly [string, (r: UnbindResult) => string | number][] = [
  ["pages allocated", (r) => r.pages_allocated],
  ["in flight at unbind", (r) => r.inflight_at_unbind],
  ["mappings alive at unbind", (r) => r.mappings_alive_at_unbind],
  ["in-flight pages unmapped by destroy", (r) => r.unmapped_by_destroy],
  ["late returns", (r) => r.late_returns],
  ["late returns that skipped the DMA API", (r) => r.late_returns_without_dma],
  ["unmaps after unbind", (r) => r.unmaps_after_unbind],
  ["syncs after unbind", (r) => r.syncs_after_unbind],
  ["double unmaps", (r) => r.double_unmaps],
  ["mappings leaked", (r) => r.mappings_leaked],
  ["frames lost", (r) => r.frames_lost],
  ["pool freed at (virtual ms after unbind)", (r) => (r.pool_freed_at_ms === null ? "never" : r.pool_freed_at_ms)],
  ["stalled-shutdown warnings", (r) => r.diagnostics.filter((d) => d.kind.startsWith("stalled_pool_shutdown")).reduce((a, d) => a + d.count, 0)],
  ["kernel log lines", (r) => r.kernel_log_lines],
  ["ppemu: lines (the emulator's own)", (r) => r.ppemu_lines],
  ["unbind bug", (r) => r.verdict],
];

/** Column headers: the layout over the first build of each layout group, the build under it. */
export function buildHeaders(results: readonly { readonly kernel: string; readonly layout: string }[]): string[] {
  const grouped = new Set(results.map((r) => r.layout)).size < results.length;
  return results.map((r, i) => {
    // Two lines always (memdesc-item's build has its layout's name): the layout row, the build row.
    if (!grouped) return `${r.layout}\n${r.kernel}`;
    const first = i === 0 || results[i - 1]!.layout !== r.layout;
    return `${first ? r.layout : ""}\n${r.kernel}`;
  });
}

/** The scenario's rows, builds side by side, wrapped at layout boundaries (wrapByGroup). */
export function unbindTable(results: readonly UnbindResult[], indent = 0): string {
  return wrapByGroup(results, (r) => r.layout, (chunk) => {
    const rows = UNBIND_ROWS.map(([label, get]) => [label, ...chunk.map(get)]);
    return renderTable(["", ...buildHeaders(chunk)], rows, { indent });
  });
}

/** The first line of each kind, per build; builds whose log is the same as the previous one's share it. */
export function unbindWarnings(results: readonly UnbindResult[]): string {
  const lines: string[] = [];
  let prev = "";
  for (const r of results) {
    const mine = r.diagnostics.map((d) => `${d.count} × ${d.first.split("\n")[0]}`);
    const key = mine.join("\n");
    if (mine.length === 0) lines.push(`  ${r.kernel}: (empty)`);
    else if (key === prev) lines.push(`  ${r.kernel}: as above`);
    else for (const l of mine) lines.push(`  ${r.kernel}: ${l}`);
    prev = key;
  }
  return "kernel log (first line of each kind):\n" + lines.join("\n");
}

/** The report's section: the scenario at its defaults on every build. */
export function unbindSections(): ReportSection[] {
  const results = allBuilds().map((b) => runUnbind({ kernel: b }).result);
  const { pages, inflight, windowMs } = UNBIND_DEFAULTS;
  const text = [
    `A driver allocates ${pages} DMA-mapped pages, hands ${inflight} to the stack, and unbinds; the stack`,
    `returns them over ${windowMs / 1000} s of virtual time (ppemu scenario unbind --kernel all). The device needs`,
    `syncs (non-coherent); the pool names the driver's netdev, which unregisters at unbind.`,
    "",
    unbindTable(results),
    "",
    unbindWarnings(results),
  ]
    .join("\n")
    .split("\n")
    .map((l) => (l ? "  " + l : l))
    .join("\n");
  return [{ id: "unbind", title: "The driver-unbind scenario, per kernel build", text, json: scenarioDocument(results) }];
}
