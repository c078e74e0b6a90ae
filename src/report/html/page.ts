/**
 * `ppemu report --html FILE`: one self-contained HTML page (no external resource: styles, the
 * tooltip script and every figure inline) with five SVG figures — the memory map of a scenario
 * machine, one item block byte-exact, the unbind timeline per build, benchmark bars per build with
 * the kernel's ratios, a race trace as per-CPU swim lanes — then the text report's sections.
 * Hovering anything that stands for an address shows its decoded address (`data-tip`) in `#tip`.
 */
import type { BenchJson } from "../../../bench/catalog.js";
import type { ReportSection } from "../section.js";
import { esc } from "./svg.js";
import { frameMap, frameMapSvg } from "./memmap.js";
import { itemBlockSvg, itemBlockView } from "./item_block.js";
import { timelineSvg, timelines } from "./timeline.js";
import { benchFigure, benchSvg, costFigure } from "./bench.js";
import { raceLanes, raceSvg } from "./race.js";

export interface HtmlReportOptions {
  readonly title: string;
  /** A `ppemu bench --json` document for figure (d); without it the cost model. */
  readonly bench?: BenchJson;
  /** The text report's sections, appended (each in a <details>). */
  readonly sections?: readonly ReportSection[];
}

/** The figures' ids, in page order (the browser test checks each is present and non-empty). */
export const FIGURE_IDS = ["fig-memmap", "fig-itemblock", "fig-timeline", "fig-bench", "fig-race"] as const;

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1500px; }
h1 { font-size: 20px; } h2 { font-size: 17px; margin-top: 32px; }
figure { margin: 0 0 16px; overflow-x: auto; } figcaption { color: #444; max-width: 1100px; }
svg text { font: 11px system-ui, sans-serif; fill: #222; pointer-events: none; }
svg text.caption { font-size: 13px; } svg text.small { font-size: 11px; } svg text.tiny { font-size: 9px; }
svg text.mono { font-family: ui-monospace, monospace; } svg text.bold { font-weight: 600; }
svg text.light { fill: #fff; } svg text.bad { fill: #b00; font-weight: 600; }
svg [data-tip]:hover { stroke: #000; stroke-width: 1; }
#tip { position: absolute; pointer-events: none; background: #ffffe0; border: 1px solid #888; padding: 3px 6px;
  font: 12px ui-monospace, monospace; white-space: pre; z-index: 10; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }
`;

const SCRIPT = `
(function () {
  var tip = document.getElementById("tip");
  document.addEventListener("mouseover", function (e) {
    var t = e.target && e.target.closest ? e.target.closest("[data-tip]") : null;
    if (!t) { tip.hidden = true; return; }
    tip.textContent = t.getAttribute("data-tip");
    tip.hidden = false;
  });
  document.addEventListener("mousemove", function (e) {
    tip.style.left = (e.pageX + 14) + "px";
    tip.style.top = (e.pageY + 14) + "px";
  });
})();
`;

function figure(id: string, heading: string, caption: string, svgText: string): string {
  return `<section id="${id}-section"><h2>${esc(heading)}</h2><figure>${svgText}<figcaption>${esc(caption)}</figcaption></figure></section>`;
}

export async function htmlReport(o: HtmlReportOptions): Promise<string> {
  const map = frameMap("v11", "destroyed");
  const block = itemBlockView("v11", "destroyed");
  const blockBefore = itemBlockView("v11", "allocated");
  const tl = timelines();
  const bars = o.bench ? benchFigure(o.bench) : costFigure();
  const race = await raceLanes("v6.15");
  const figs = [
    figure("fig-memmap", "(a) Physical memory map of a scenario machine", `Every frame of the ${map.kernel} machine after page_pool_destroy() in the unbind scenario, coloured by the class frame accounting gives it (src/mem/accounting.ts with the scenario's claimers). Hover a frame for its pfn, direct-map address and struct page.`, frameMapSvg(map)),
    figure("fig-itemblock", "(b) One item block, byte-exact", `The ${block.kernel} item block that holds the stack's oldest page's item: header fields at their declared offsets, ${block.items.length} items coloured by item->state (destroy cleared MAPPED on the in-flight items; the strip under it is the same block before the unbind), and the masking from a real pp_item to its block and pool. Hover an item for its address and state.`, itemBlockSvg(block, blockBefore)),
    figure("fig-timeline", "(c) The unbind timeline per build", "Virtual time after the unbind: each late return, each DMA call through the unbound device (the IOMMU's own records), and when the pool was freed.", timelineSvg(tl)),
    figure("fig-bench", "(d) Benchmark bars per build", bars.source === "bench" ? "From the bench document given with --bench-json: the median ns per element across processes, min–max as the error bar, the paired ratio to the reference build with its bootstrap interval, and the kernel's ratio from its bench_page_pool figures." : "No --bench-json given: the deterministic cost model (emulated loads, stores and atomics per element of the benchmark loop), its ratio to the reference build, and the kernel's ratio from its bench_page_pool figures. `ppemu bench --json FILE` then `ppemu report --html PAGE --bench-json FILE` draws measured times.", benchSvg(bars)),
    figure("fig-race", "(e) A race as per-CPU swim lanes", "The race explorer's first violation on v6.15 in destroy-vs-ring-produce (the shape of CVE-2025-38129), shrunk: one box per step in the lane of the CPU that ran, where it stopped; dashed lines are CPU switches.", raceSvg(race)),
  ];
  const sections = (o.sections ?? []).map((s) => `<details id="text-${esc(s.id)}"><summary>${esc(s.title)}</summary><pre>${esc(s.text)}</pre></details>`);
  return [
    "<!DOCTYPE html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${esc(o.title)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<h1>${esc(o.title)}</h1>`,
    ...figs,
    ...(sections.length > 0 ? ["<h2>The text report</h2>", ...sections] : []),
    '<div id="tip" hidden></div>',
    `<script>${SCRIPT}</script>`,
    "</body></html>",
    "",
  ].join("\n");
}
