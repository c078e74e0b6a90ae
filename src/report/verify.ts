/**
 * `ppemu verify`'s output, text headline and JSON document, and the report's verification section:
 * every masking and encoding check at its default coverage (`ppemu verify all`), one line each.
 *
 * Coverage is always given in two figures: values enumerated (each one evaluated) and values counted
 * by formula (a closed-form count, proved without visiting them).
 */
import type { ReportSection } from "./section.js";
import { type CheckResult, CHECK_STATUSES, asExpected, status } from "../verify/result.js";
import { DEFAULT_VERIFY, exitCodeOf, runVerify, type VerifyOptions } from "../verify/run.js";
import { jsonDocument, type JsonDocument } from "./json.js";
import { renderTable } from "./table.js";

const n = (x: number): string => x.toLocaleString("en-US");

export interface VerifyTotals {
  readonly checks: number;
  readonly enumerated: number;
  readonly counted: number;
  readonly pass: number;
  readonly fail: number;
  readonly xfail: number;
  readonly xpass: number;
  readonly skip: number;
}

export function verifyTotals(results: readonly CheckResult[]): VerifyTotals {
  const count = (s: string) => results.filter((r) => status(r) === s).length;
  return {
    checks: results.length,
    enumerated: results.reduce((s, r) => s + r.enumerated, 0),
    counted: results.reduce((s, r) => s + r.counted, 0),
    pass: count("PASS"),
    fail: count("FAIL"),
    xfail: count("XFAIL"),
    xpass: count("XPASS"),
    skip: count("SKIP"),
  };
}

/** `33 checks: 165,589,428 values enumerated, 5,465,178,112 counted by formula` */
export function coverageHeadline(t: VerifyTotals): string {
  return `${t.checks} checks: ${n(t.enumerated)} values enumerated, ${n(t.counted)} counted by formula`;
}

/** `32 PASS, 0 FAIL, 1 XFAIL (known kernel bug reproduced), 0 XPASS` (and `, N SKIP (nothing to check)` when any). */
export function statusCounts(t: VerifyTotals): string {
  return (
    `${t.pass} PASS, ${t.fail} FAIL, ${t.xfail} XFAIL (known kernel bug reproduced), ${t.xpass} XPASS` +
    (t.skip > 0 ? `, ${t.skip} SKIP (nothing to check)` : "")
  );
}

/** `ppemu verify --json`. */
export function verifyDocument(results: readonly CheckResult[], o: VerifyOptions, totalMs: number): JsonDocument {
  const t = verifyTotals(results);
  return jsonDocument("verify", {
    options: { groups: o.groups, arches: o.arches, page_sizes: o.pageSizes, exhaustive: o.exhaustive },
    checks: results.map((r) => ({
      group: r.group,
      name: r.name,
      status: status(r),
      pass: r.pass,
      expect_fail: r.expectFail === true,
      enumerated: r.enumerated,
      counted: r.counted,
      covered: r.covered,
      unit: r.unit,
      counterexample: r.counterexample ?? null,
      notes: r.notes,
      elapsed_ms: r.elapsedMs ?? 0,
      data: r.data ?? null,
    })),
    summary: { ...t, elapsed_seconds: totalMs / 1000, exit_code: exitCodeOf(results) },
  });
}

const REPORT_STATUS: Readonly<Record<(typeof CHECK_STATUSES)[number], string>> = {
  PASS: "PASS",
  FAIL: "FAIL",
  XFAIL: "XFAIL (the known bug)",
  XPASS: "XPASS",
  SKIP: "SKIP (nothing to check)",
};

export function verifySections(): ReportSection[] {
  const t0 = performance.now();
  const results = runVerify(DEFAULT_VERIFY);
  const totalMs = performance.now() - t0;
  const t = verifyTotals(results);
  const bad = results.filter((r) => !asExpected(r)).length;
  const text = [
    `${coverageHeadline(t)}; ${bad === 0 ? "all as expected" : `${bad} NOT as expected`} (ppemu verify all; --exhaustive for all 2^32 lp64 ids)`,
    "",
    renderTable(
      ["check", { header: "enumerated", align: "right" }, { header: "counted", align: "right" }, "result"],
      results.map((r) => [r.name, n(r.enumerated), n(r.counted), REPORT_STATUS[status(r)]]),
    ),
  ]
    .join("\n")
    .split("\n")
    .map((l) => (l ? "  " + l : l))
    .join("\n");
  return [{ id: "verify", title: "Verification of the masking and encoding math", text, json: verifyDocument(results, DEFAULT_VERIFY, totalMs) }];
}
