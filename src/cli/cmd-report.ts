/**
 * `ppemu report` (what `npm start` runs): the comparison on one page. Each part of the report is a
 * section builder; later parts (unbind scenario, verification summary, quick benchmark) append a
 * builder to REPORT_SECTIONS.
 */
import { type ReportSection, layoutSections, renderSections, sectionsJson } from "../report/layouts.js";
import { type Command, type Io, parse } from "./common.js";
import { unbindSections } from "../report/unbind.js";
import { verifySections } from "../report/verify.js";
import { compareSections } from "../report/compare.js";
import { benchSection } from "../report/bench.js";

const NAME = "report";

export interface ReportOptions {
  /** Run the quick benchmark (about 7 s, in child processes on the built code). */
  readonly bench: boolean;
}

export type SectionBuilder = (o: ReportOptions) => ReportSection[] | Promise<ReportSection[]>;

/** In report order. */
export const REPORT_SECTIONS: SectionBuilder[] = [
  layoutSections,
  unbindSections,
  () => compareSections(),
  verifySections,
  async (o) => (o.bench ? [await benchSection()] : []),
];

export const REPORT_TITLE = "ppemu report: page_pool layouts side by side (classic, item-block v11, xarray v6.16)";

export async function buildReport(o: ReportOptions = { bench: true }): Promise<ReportSection[]> {
  const out: ReportSection[] = [];
  for (const b of REPORT_SECTIONS) out.push(...(await b(o)));
  return out;
}

const HELP = `usage: ppemu report [--json] [--no-bench]

The whole comparison in one page: struct page's page_pool words per layout, the three layouts side by
side (tracking structure, bytes per tracked page, items per block per page size and variant, v11
pool-init sizing), the derived constants per arch (PP_SIGNATURE, PP_DMA_INDEX_*, PP_MAGIC_MASK, the
v6.18 PAGE_OFFSET rule), the driver-unbind scenario on every layout, the verification summary, and a
quick benchmark with its ratios to classic and to the kernel's anchors.

options:
  --json       the same facts as one JSON object, keyed by section
  --no-bench   leave out the quick benchmark (about 7 s)
  -h, --help   this text`;

export const reportCommand: Command = {
  name: NAME,
  summary: "the layouts compared side by side (what npm start prints)",
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const { values } = parse(NAME, argv, { json: { type: "boolean" }, "no-bench": { type: "boolean" } }, false);
    const sections = await buildReport({ bench: values["no-bench"] !== true });
    if (values.json === true) {
      io.out(JSON.stringify({ title: REPORT_TITLE, ...sectionsJson(sections) }, null, 2));
      return 0;
    }
    io.out(renderSections(REPORT_TITLE, sections));
    return 0;
  },
};
