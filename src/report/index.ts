/**
 * `ppemu report` assembled: each part of the report is a section builder, in report order. The CLI
 * only parses its options and prints what `buildReport` returns.
 */
import { type ReportSection, renderSections, sectionsJson } from "./section.js";
import { layoutSections } from "./layouts.js";
import { buildsSections } from "./builds.js";
import { unbindSections } from "./unbind.js";
import { verifySections } from "./verify.js";
import { compareSections } from "./compare.js";
import { raceSections } from "./race.js";
import { allBuilds, allLayouts } from "../builds/index.js";
import { jsonDocument, type JsonDocument } from "./json.js";

export interface ReportOptions {
  /** Run the quick benchmark (in child processes on the built code). */
  readonly bench: boolean;
}

export type SectionBuilder = (o: ReportOptions) => ReportSection[] | Promise<ReportSection[]>;

/** In report order. The benchmark is loaded only when it runs (it forks child processes). */
export const REPORT_SECTIONS: SectionBuilder[] = [
  buildsSections,
  layoutSections,
  unbindSections,
  () => compareSections(),
  verifySections,
  () => raceSections(),
  async (o) => (o.bench ? [await (await import("./bench.js")).benchSection()] : []),
];

export function reportTitle(): string {
  return `ppemu report: page_pool on ${allBuilds().length} kernel builds of ${allLayouts().length} layouts, side by side`;
}

export async function buildReport(o: ReportOptions = { bench: true }): Promise<ReportSection[]> {
  const out: ReportSection[] = [];
  for (const b of REPORT_SECTIONS) out.push(...(await b(o)));
  return out;
}

/**
 * `ppemu report --json`: `{schema, command: "report", title, contents: [{id, title}], sections: {id:
 * its JSON}}`; the sections of a command (unbind, compare, verify, bench) are that command's document.
 */
export function reportDocument(title: string, sections: readonly ReportSection[]): JsonDocument {
  return jsonDocument("report", {
    title,
    contents: sections.map((s) => ({ id: s.id, title: s.title })),
    sections: sectionsJson(sections),
  });
}

export { renderSections, sectionsJson, type ReportSection };
