/**
 * `ppemu compare`: tracking memory per layout, measured (bytes per tracked page, items per block,
 * item blocks and xa nodes in use, the sparse case), and whether the unbind bug is fixed.
 */
import { type Command, type Io, parse } from "./common.js";
import { compareReport, COMPARE_DEFAULTS } from "../report/compare.js";
import { UNBIND_DEFAULTS } from "../scenario/unbind.js";

const NAME = "compare";

const HELP = `usage: ppemu compare [--json]

What each fix costs, measured on the emulator: for pool_size ${COMPARE_DEFAULTS.poolSizes.join(", ")} a driver takes
${COMPARE_DEFAULTS.inflight.join(", ")} DMA-mapped pages, and the tracking memory is read back from the layout's
own structures (item blocks on pool->item_blocks, one page each; the dma_mapped xarray's nodes,
576 bytes each). A sparse case takes ${COMPARE_DEFAULTS.sparsePages} pages and gives back 63 of every 64. The unbind
scenario at its defaults (as ppemu scenario unbind runs it: ${UNBIND_DEFAULTS.pages} pages, ${UNBIND_DEFAULTS.inflight} in flight) answers
"unbind bug fixed?" per layout.

options:
  --json       the rows and the per-layout summary as one JSON object
  -h, --help   this text`;

export const compareCommand: Command = {
  name: NAME,
  summary: "tracking memory per layout (bytes per tracked page, blocks, xa nodes), measured; bug fixed?",
  help: HELP,
  run(argv: string[], io: Io): number {
    const { values } = parse(NAME, argv, { json: { type: "boolean" } }, false);
    const { text, json } = compareReport();
    io.out(values.json === true ? JSON.stringify(json, null, 2) : text);
    return 0;
  },
};
