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
import { allLayouts, defaultBuildOf } from "../builds/index.js";

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
  async (o) => (o.bench ? [await (await import("./bench.js")).benchSection()] : []),
];

export function reportTitle(): string {
  const layouts = allLayouts()
    .map((l) => `${l.name} ${defaultBuildOf(l).name}`)
    .join(", ");
  return `ppemu report: page_pool kernel builds side by side (${layouts}, and the others)`;
}

export async function buildReport(o: ReportOptions = { bench: true }): Promise<ReportSection[]> {
  const out: ReportSection[] = [];
  for (const b of REPORT_SECTIONS) out.push(...(await b(o)));
  return out;
}

export { renderSections, sectionsJson, type ReportSection };
