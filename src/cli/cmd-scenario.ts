/**
 * `ppemu scenario unbind`: the driver-unbind story on one layout or all three, side by side.
 */
import { type Command, parse, choice, intArg, UsageError } from "./common.js";
import { LAYOUT_NAMES, type LayoutName } from "../pool/types.js";
import { runUnbind, UNBIND_DEFAULTS, type UnbindResult } from "../scenario/unbind.js";
import { renderTable } from "../report/table.js";

const SCENARIOS = ["unbind"] as const;

const HELP = `usage: ppemu scenario unbind [--layout classic|item-block|xarray|all] [--pages N] [--inflight M]
                              [--late-returns K] [--pool-size S] [--window-ms MS] [--json]

A driver allocates N DMA-mapped pages from its page_pool, hands M to the network stack, and unbinds
(page_pool_destroy, then the device's IOMMU domain goes away). The stack returns K of the M pages
later, spread over the window (virtual time; page_pool_release_retry runs every second).

  --layout L        classic (default), item-block, xarray, or all (side by side)
  --pages N         pages the driver allocates (default ${UNBIND_DEFAULTS.pages})
  --inflight M      pages held by the stack at unbind (default ${UNBIND_DEFAULTS.inflight})
  --late-returns K  pages the stack returns after unbind (default M)
  --pool-size S     page_pool pool_size, 1..32768 (default ${UNBIND_DEFAULTS.poolSize})
  --window-ms MS    virtual time over which the late returns are spread (default ${UNBIND_DEFAULTS.windowMs})
  --json            one JSON object per layout (an array for --layout all)`;

/** SHOWN, fixed, or not exercised: with nothing in flight at unbind no layout can show the bug. */
export function unbindVerdict(r: UnbindResult): string {
  if (r.unmaps_after_unbind + r.syncs_after_unbind + r.mappings_alive_at_unbind > 0) return "SHOWN";
  return r.inflight_at_unbind === 0 ? "not exercised (0 in flight)" : "fixed";
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
  ["warnings printed", (r) => r.warnings],
  ["unbind bug", unbindVerdict],
];

export function unbindTable(results: readonly UnbindResult[]): string {
  const rows = UNBIND_ROWS.map(([label, get]) => [label, ...results.map(get)]);
  return renderTable(["", ...results.map((r) => r.layout)], rows);
}

export function unbindWarnings(results: readonly UnbindResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    for (const d of r.diagnostics) lines.push(`  ${r.layout}: ${d.count} × ${d.first}`);
  }
  return lines.length ? "kernel log (first of each kind):\n" + lines.join("\n") : "kernel log: (empty)";
}

/** The options that shape an unbind scenario, shared by `scenario` and `explain`. */
export const SCENARIO_OPTIONS = {
  layout: { type: "string" },
  pages: { type: "string" },
  inflight: { type: "string" },
  "late-returns": { type: "string" },
  "pool-size": { type: "string" },
} as const;

export const scenarioCommand: Command = {
  name: "scenario",
  summary: "run the driver-unbind scenario on a layout (or all): the bug and the fixes",
  help: HELP,
  run(argv, io) {
    const { values, positionals } = parse("scenario", argv, {
      ...SCENARIO_OPTIONS,
      "window-ms": { type: "string" },
      json: { type: "boolean" },
    });
    if (positionals.length !== 1) throw new UsageError(`ppemu scenario: name one scenario (valid: ${SCENARIOS.join(", ")})`);
    choice("scenario", "scenario", positionals[0]!, SCENARIOS);
    const layoutArg = choice("scenario", "layout", (values.layout as string | undefined) ?? "classic", [...LAYOUT_NAMES, "all"] as const);
    const layouts: LayoutName[] = layoutArg === "all" ? [...LAYOUT_NAMES] : [layoutArg as LayoutName];
    const pages = intArg("scenario", "pages", values.pages as string | undefined, UNBIND_DEFAULTS.pages, 0, 4096);
    const inflight = intArg("scenario", "inflight", values.inflight as string | undefined, Math.min(UNBIND_DEFAULTS.inflight, pages), 0, pages);
    const late = intArg("scenario", "late-returns", values["late-returns"] as string | undefined, inflight, 0, inflight);
    const poolSize = intArg("scenario", "pool-size", values["pool-size"] as string | undefined, UNBIND_DEFAULTS.poolSize, 1, 32768);
    const windowMs = intArg("scenario", "window-ms", values["window-ms"] as string | undefined, UNBIND_DEFAULTS.windowMs, 0, 86_400_000);
    const results = layouts.map((layout) =>
      runUnbind({ layout, pages, inflight, lateReturns: late, poolSize, windowMs }).result,
    );
    if (values.json) {
      io.out(JSON.stringify(layoutArg === "all" ? results : results[0], null, 2));
      return 0;
    }
    // The header, a blank line, the table (io.out adds no newline to text that ends in one).
    io.out(`scenario unbind: ${pages} pages allocated, ${inflight} held by the stack at unbind, ${late} returned over ${windowMs / 1000} s\n\n`);
    io.out(unbindTable(results));
    io.out("\n" + unbindWarnings(results));
    return 0;
  },
};
