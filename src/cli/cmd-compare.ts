/**
 * `ppemu compare`: tracking memory per build, measured (bytes per tracked page, item blocks and xa
 * nodes in use, the sparse case), and the unbind scenario's verdict per build.
 */
import { type Command, type Io, parse, buildsArg, buildsHelp } from "./common.js";
import { compareDocument, compareReport } from "../report/compare.js";
import { jsonText } from "../report/json.js";
import { TRACKING_COST_DEFAULTS, SPARSE_KEEP_EVERY } from "../scenario/tracking_cost.js";
import { UNBIND_DEFAULTS } from "../scenario/unbind.js";
import { XA_NODE_SIZE } from "../mem/xarray.js";
import { allLayouts, defaultBuildOf } from "../builds/index.js";

const NAME = "compare";

const help = (): string => `usage: ppemu compare [--kernel B|B,C|all | --layout L|all] [--json]

What each fix costs, measured on the emulator: for pool_size ${TRACKING_COST_DEFAULTS.poolSizes.join(", ")} a driver takes
${TRACKING_COST_DEFAULTS.inflight.join(", ")} DMA-mapped pages, and the tracking memory is read back from the layout's
own structures (item blocks on pool->item_blocks, one page each; the dma_mapped xarray's nodes,
${XA_NODE_SIZE} bytes each). A sparse case takes ${TRACKING_COST_DEFAULTS.sparsePages} pages and gives back ${SPARSE_KEEP_EVERY - 1} of every ${SPARSE_KEEP_EVERY}. The unbind
scenario at its defaults (as ppemu scenario unbind runs it: ${UNBIND_DEFAULTS.pages} pages, ${UNBIND_DEFAULTS.inflight} in flight) gives
each build's verdict. Per build it also shows struct page + tracking bytes per page, the test that
tells a page_pool page (page_pool_page_is_pp()) and whether a pool page can be mapped to user space.

${buildsHelp(true)}
                    (default: each layout's default build: ${allLayouts().map((l) => defaultBuildOf(l).name).join(", ")})
  --json            one JSON object: {schema, command: "compare", arch, page_size, sparse_pages, rows,
                    builds} (schemas/compare.schema.json)
  -h, --help        this text`;

export const compareCommand: Command = {
  name: NAME,
  summary: "tracking memory per build (bytes per tracked page, blocks, xa nodes), measured; bug fixed?",
  get help() {
    return help();
  },
  run(argv: string[], io: Io): number {
    const { values } = parse(NAME, argv, { kernel: { type: "string" }, layout: { type: "string" }, json: { type: "boolean" } }, false);
    const builds = buildsArg(NAME, values, { multi: true, dflt: "all" });
    const chosen = values.kernel === undefined && values.layout === undefined ? allLayouts().map(defaultBuildOf) : builds;
    const { text, json } = compareReport({}, chosen);
    io.out(values.json === true ? jsonText(compareDocument(json)) : text);
    return 0;
  },
};
