/** `ppemu report` (what `npm start` runs): the builds compared on one page. */
import { buildReport, renderSections, reportDocument, reportTitle } from "../report/index.js";
import { jsonText } from "../report/json.js";
import { type Command, type Io, parse } from "./common.js";

const NAME = "report";

const HELP = `usage: ppemu report [--json] [--no-bench]

The whole comparison in one page: struct page's page_pool words per layout, the layouts side by side
(tracking structure, bytes per tracked page, items per block per page size and variant, v11
pool-init sizing), the derived constants per arch (PP_SIGNATURE, PP_DMA_INDEX_*, PP_MAGIC_MASK, the
v6.18 PAGE_OFFSET rule), the driver-unbind scenario on every kernel build (grouped by layout), the
measured tracking memory, the verification summary, and a quick benchmark with its ratios to the
reference build and to the kernel's anchors.

options:
  --json       the same facts as one JSON object: {schema, command: "report", title, contents,
               sections: {builds, …, unbind, compare, verify, bench}}; a command's section is that
               command's own --json document (schemas/report.schema.json)
  --no-bench   leave out the quick benchmark
  -h, --help   this text`;

export const reportCommand: Command = {
  name: NAME,
  summary: "the kernel builds compared side by side (what npm start prints)",
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const { values } = parse(NAME, argv, { json: { type: "boolean" }, "no-bench": { type: "boolean" } }, false);
    const sections = await buildReport({ bench: values["no-bench"] !== true });
    const title = reportTitle();
    if (values.json === true) {
      io.out(jsonText(reportDocument(title, sections)));
      return 0;
    }
    io.out(renderSections(title, sections));
    return 0;
  },
};
