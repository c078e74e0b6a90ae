/**
 * The report's verification section: every masking and encoding check at its default coverage
 * (`ppemu verify all`), one line each.
 */
import type { ReportSection } from "./section.js";
import { verifySummary } from "../verify/index.js";
import { renderTable } from "./table.js";

export function verifySections(): ReportSection[] {
  const rows = verifySummary();
  const status = (r: (typeof rows)[number]) => (r.pass ? (r.expectFail ? "XPASS" : "PASS") : r.expectFail ? "XFAIL (the known bug)" : "FAIL");
  const covered = rows.reduce((a, r) => a + r.covered, 0);
  const bad = rows.filter((r) => r.pass === r.expectFail).length;
  const text = [
    `${rows.length} checks over ${covered.toLocaleString("en-US")} values; ${bad === 0 ? "all as expected" : `${bad} NOT as expected`} (ppemu verify all; --exhaustive for all 2^32 lp64 ids)`,
    "",
    renderTable(
      ["check", { header: "values", align: "right" }, "result"],
      rows.map((r) => [r.name, r.covered.toLocaleString("en-US"), status(r)]),
    ),
  ]
    .join("\n")
    .split("\n")
    .map((l) => (l ? "  " + l : l))
    .join("\n");
  return [{ id: "verify", title: "Verification of the masking and encoding math", text, json: { checks: rows } }];
}
