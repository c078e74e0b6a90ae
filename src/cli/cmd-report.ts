/** `ppemu report` (what `npm start` runs): the builds compared on one page. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { buildReport, renderSections, reportDocument, reportTitle } from "../report/index.js";
import { jsonText } from "../report/json.js";
import { htmlReport } from "../report/html/page.js";
import { benchFigure } from "../report/html/bench.js";
import type { BenchJson } from "../../bench/catalog.js";
import { type Command, type Io, UsageError, abandonOutputFiles, ioReason, openOutputFile, parse, writeOutputFile } from "./common.js";

const NAME = "report";

const HELP = `usage: ppemu report [--json] [--no-bench] [--html FILE [--bench-json FILE]]

The whole comparison in one page: struct page's page_pool words per layout, the layouts side by side
(tracking structure, bytes per tracked page, items per block per page size and variant, v11
pool-init sizing), the derived constants per arch (PP_SIGNATURE, PP_DMA_INDEX_*, PP_MAGIC_MASK, the
v6.18 PAGE_OFFSET rule), the driver-unbind scenario on every kernel build (grouped by layout), the
measured tracking memory, the verification summary, and a quick benchmark with its ratios to the
reference build and to the kernel's anchors.

options:
  --json             the same facts as one JSON object: {schema, command: "report", title, contents,
                     sections: {builds, …, unbind, compare, verify, bench}}; a command's section is that
                     command's own --json document (schemas/report.schema.json)
  --no-bench         leave out the quick benchmark
  --html FILE        also write one self-contained HTML page (inline SVG, no external resource) to FILE:
                     the memory map of the v11 unbind machine after page_pool_destroy(), one item block
                     byte-exact with the masking of a real item, the unbind timeline per build,
                     benchmark bars per build with the kernel's ratios, a race trace as per-CPU swim
                     lanes, then the text report; the last line printed names FILE (on stderr with --json)
  --bench-json FILE  with --html: draw the bars from this \`ppemu bench --json\` document (median ns,
                     min–max, ratios with intervals) instead of the deterministic cost model
  -h, --help         this text`;

/** The `--bench-json` document, read and checked before any work: a UsageError naming what is wrong. */
function readBenchJson(path: string): BenchJson {
  let doc: BenchJson;
  try {
    doc = JSON.parse(readFileSync(path, "utf8")) as BenchJson;
  } catch (e) {
    const why = e instanceof SyntaxError ? `not JSON (${e.message.split("\n")[0]})` : ioReason(e);
    throw new UsageError(`ppemu ${NAME}: --bench-json ${path}: ${why}`);
  }
  try {
    benchFigure(doc);
  } catch (e) {
    throw new UsageError(`ppemu ${NAME}: --bench-json ${path}: ${(e as Error).message}`);
  }
  return doc;
}

export const reportCommand: Command = {
  name: NAME,
  summary: "the kernel builds compared side by side (what npm start prints)",
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const { values } = parse(
      NAME,
      argv,
      { json: { type: "boolean" }, "no-bench": { type: "boolean" }, html: { type: "string" }, "bench-json": { type: "string" } },
      false,
    );
    const htmlPath = values.html as string | undefined;
    const benchPath = values["bench-json"] as string | undefined;
    if (benchPath !== undefined && htmlPath === undefined) throw new UsageError(`ppemu ${NAME}: --bench-json needs --html FILE (it feeds the HTML page's benchmark figure)`);
    if (benchPath !== undefined && benchPath.trim() === "") throw new UsageError(`ppemu ${NAME}: --bench-json needs a file name`);
    const bench = benchPath !== undefined ? readBenchJson(benchPath) : undefined;
    if (htmlPath === "-") throw new UsageError(`ppemu ${NAME}: --html needs a file name (the page is written beside the text report, not to stdout)`);
    const fd = htmlPath !== undefined ? openOutputFile(NAME, "--html", htmlPath) : -1;
    let page = "";
    let sections;
    const title = reportTitle();
    try {
      sections = await buildReport({ bench: values["no-bench"] !== true });
      if (htmlPath !== undefined) page = await htmlReport({ title, sections, ...(bench !== undefined ? { bench } : {}) });
    } catch (e) {
      // FILE is left as it was: its temp file goes.
      abandonOutputFiles();
      throw e;
    }
    if (values.json === true) io.out(jsonText(reportDocument(title, sections)));
    else io.out(renderSections(title, sections));
    if (htmlPath !== undefined) {
      writeOutputFile(NAME, "--html", htmlPath, fd, page);
      const msg = `HTML report written to ${resolve(htmlPath)} (${Buffer.byteLength(page)} bytes)`;
      if (values.json === true) io.err(msg);
      else io.out(msg);
    }
    return 0;
  },
};
