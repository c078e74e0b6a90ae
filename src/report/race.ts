/**
 * The report's race section: a small fixed-seed exploration per build (PCT, seed 1) of the
 * destroy-vs-ring-produce program, the shape of CVE-2025-38129, so the report shows which builds
 * the explorer breaks; `ppemu race` explores further.
 */
import type { ReportSection } from "./section.js";
import { allBuilds } from "../builds/index.js";
import { runRace, type RaceResult } from "../explore/race.js";
import { jsonDocument } from "./json.js";

export const REPORT_RACE = { program: "destroy-vs-ring-produce", scheduler: "pct", schedules: 40, seed: 1, depth: 2 } as const;

const COLUMNS: readonly [string, (r: RaceResult) => string][] = [
  ["kernel", (r) => r.kernel],
  ["layout", (r) => r.layout],
  ["schedules", (r) => `${r.schedules}${r.exhausted ? " (all)" : ""}`],
  ["distinct", (r) => String(r.distinct)],
  ["steps", (r) => String(r.steps)],
  ["by design", (r) => (r.by_design === 0 ? "0" : `${r.by_design} (the bug)`)],
  ["violations", (r) => (r.violations.length === 0 ? "0" : r.violations.map((v) => `${v.kind} ${v.count}`).join(", "))],
  ["ms", (r) => String(r.ms)],
];

/** `ppemu race`'s table: a row per build. */
export function raceTable(results: readonly RaceResult[]): string {
  const rows = [COLUMNS.map(([h]) => h), ...results.map((r) => COLUMNS.map(([, f]) => f(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => (i < 2 || i === 6 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd()).join("\n") + "\n";
}

/** The `race --json` document without the images. */
export function raceDocument(program: string, scheduler: string, results: readonly RaceResult[]) {
  const strip = results.map((r) => ({ ...r, violations: r.violations.map(({ image: _image, ...v }) => v) }));
  return jsonDocument("race", { program, scheduler, results: strip });
}

export async function raceSections(): Promise<ReportSection[]> {
  const results: RaceResult[] = [];
  for (const b of allBuilds()) results.push(await runRace({ kernel: b, ...REPORT_RACE, shrink: false }));
  const text = [
    `${REPORT_RACE.program} under PCT (depth ${REPORT_RACE.depth}, seed ${REPORT_RACE.seed}, ${REPORT_RACE.schedules} schedules per build): CPU 1 puts the last page into the ring while CPU 0's destroy drains it and frees the pool. \`ppemu race\` explores every program, every schedule within a bound, with traces.`,
    "",
    raceTable(results).trimEnd(),
  ].join("\n");
  return [{ id: "race", title: "Races explored: destroy against a ring producer (CVE-2025-38129's shape)", text, json: raceDocument(REPORT_RACE.program, REPORT_RACE.scheduler, results) }];
}
