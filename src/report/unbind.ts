/**
 * The report's unbind section: the same driver-unbind story on all three layouts, side by side.
 */
import type { ReportSection } from "./layouts.js";
import { LAYOUT_NAMES } from "../pool/types.js";
import { runUnbind, UNBIND_DEFAULTS } from "../scenario/unbind.js";
import { unbindTable, unbindWarnings } from "../cli/cmd-scenario.js";

export function unbindSections(): ReportSection[] {
  const results = LAYOUT_NAMES.map((layout) => runUnbind({ layout }).result);
  const { pages, inflight, windowMs } = UNBIND_DEFAULTS;
  const text = [
    `A driver allocates ${pages} DMA-mapped pages, hands ${inflight} to the stack, and unbinds; the stack`,
    `returns them over ${windowMs / 1000} s of virtual time (ppemu scenario unbind --layout all).`,
    "",
    unbindTable(results),
    "",
    unbindWarnings(results),
  ]
    .join("\n")
    .split("\n")
    .map((l) => (l ? "  " + l : l))
    .join("\n");
  return [{ id: "unbind", title: "The driver-unbind scenario", text, json: results }];
}
