/**
 * `ppemu report` (what `npm start` runs): the comparison on one page. Each part of the report is a
 * section builder; later parts (unbind scenario, verification summary, quick benchmark) append a
 * builder to REPORT_SECTIONS.
 */
import { type ReportSection, layoutSections, renderSections, sectionsJson } from "../report/layouts.js";
import { type Command, type Io, parse } from "./common.js";
import { unbindSections } from "../report/unbind.js";

const NAME = "report";

export type SectionBuilder = () => ReportSection[] | Promise<ReportSection[]>;

/** In report order. */
export const REPORT_SECTIONS: SectionBuilder[] = [layoutSections, unbindSections];

export const REPORT_TITLE = "ppemu report: page_pool layouts side by side (classic, item-block v11, xarray v6.16)";

export async function buildReport(): Promise<ReportSection[]> {
  const out: ReportSection[] = [];
  for (const b of REPORT_SECTIONS) out.push(...(await b()));
  return out;
}

const HELP = `usage: ppemu report [--json]

The whole comparison in one page: struct page's page_pool words per layout, the three layouts side by
side (tracking structure, bytes per tracked page, items per block per page size and variant, v11
pool-init sizing), and the derived constants per arch (PP_SIGNATURE, PP_DMA_INDEX_*, PP_MAGIC_MASK,
the v6.18 PAGE_OFFSET rule).

options:
  --json       the same facts as one JSON object, keyed by section
  -h, --help   this text`;

export const reportCommand: Command = {
  name: NAME,
  summary: "the layouts compared side by side (what npm start prints)",
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const { values } = parse(NAME, argv, { json: { type: "boolean" } }, false);
    const sections = await buildReport();
    if (values.json === true) {
      io.out(JSON.stringify({ title: REPORT_TITLE, ...sectionsJson(sections) }, null, 2));
      return 0;
    }
    io.out(renderSections(REPORT_TITLE, sections));
    return 0;
  },
};
