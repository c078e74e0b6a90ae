/**
 * The scale benchmark's text (bench/scale.ts measures; this prints). The JSON document is
 * `ScaleJson` (bench/scale.ts):
 *
 *   { test: "scale", node, cpu, date, method, pool_size, rounds, min_pages_per_round, warmup_pages,
 *     criterion,
 *     combos:  [{ machine, machine_bytes, pages, pages_name, fits, frames_needed, frames_allocatable, extra }],
 *     not_fitting: ["10^6 pages on 2 GiB: needs …", …],
 *     cases:   [{ kernel, layout, machine, machine_bytes, pages, pool_size, rounds, cycles_per_round,
 *                 warmup_cycles, alloc_ns, return_ns, release_ns|null, ring_ns   (each {median, min, max, rounds[]}),
 *                 returns: {ring, released}, allocs: {slow, fast},
 *                 frames: {total, free_before, free_after, kept: {iommu_tables, slab}, by_class}, elapsed_ms }],
 *     summary: [{ kernel, layout, smallest: {machine, pages}, largest: {machine, pages}, alloc_ratio,
 *                 return_ratio, release_ratio|null, alloc_ratio_range, return_ratio_range, criterion, holds }],
 *     elapsed_ms }
 *
 * All times are ns per page; ratios are the largest case's median over the smallest's.
 */
import { renderTable } from "../src/report/table.js";
import { pagesName, type ScaleCase, type ScaleJson, type ScaleStat } from "./scale.js";

const ns = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

/** "212 (205–230)". */
export function statText(s: ScaleStat | null): string {
  if (s === null) return "—";
  return `${ns(s.median)} (${ns(s.min)}–${ns(s.max)})`;
}

const ratio = (r: number | null) => (r === null ? "—" : `${r.toFixed(2)}×`);

/** One row per case, grouped by build (machines, then N, ascending). */
export function scaleCaseTable(cases: readonly ScaleCase[]): string {
  const kernels = [...new Set(cases.map((c) => c.kernel))];
  const rows: (string | number)[][] = [];
  for (const k of kernels) {
    const mine = cases.filter((c) => c.kernel === k).sort((a, b) => a.machine_bytes - b.machine_bytes || a.pages - b.pages);
    for (const c of mine) {
      rows.push([
        c.kernel,
        c.layout,
        c.machine,
        pagesName(c.pages),
        statText(c.alloc_ns),
        statText(c.return_ns),
        statText(c.release_ns),
        statText(c.ring_ns),
        `${c.returns.ring}/${c.returns.released}`,
        `${c.cycles_per_round}×${c.rounds}`,
      ]);
    }
  }
  return renderTable(
    [
      "kernel",
      "layout",
      { header: "machine", align: "right" },
      { header: "pages", align: "right" },
      { header: "alloc ns/page", align: "right" },
      { header: "return ns/page", align: "right" },
      { header: "release ns/page", align: "right" },
      { header: "ring ns/page", align: "right" },
      { header: "ring/released", align: "right" },
      { header: "cycles×rounds", align: "right" },
    ],
    rows,
  );
}

/** Per build: largest ÷ smallest, and whether the criterion holds. */
export function scaleSummaryTable(json: Pick<ScaleJson, "summary" | "criterion">): string {
  const rows = json.summary.map((s) => [
    s.kernel,
    s.layout,
    `${s.smallest.machine} × ${pagesName(s.smallest.pages)}`,
    `${s.largest.machine} × ${pagesName(s.largest.pages)}`,
    `${ratio(s.alloc_ratio)} (${s.alloc_ratio_range[0].toFixed(2)}–${s.alloc_ratio_range[1].toFixed(2)})`,
    `${ratio(s.return_ratio)} (${s.return_ratio_range[0].toFixed(2)}–${s.return_ratio_range[1].toFixed(2)})`,
    ratio(s.release_ratio),
    s.holds ? `holds (≤ ${s.criterion}×)` : `FAILS (> ${s.criterion}×)`,
    `alloc ${ratio(s.alloc_worst.ratio)} at ${s.alloc_worst.machine} × ${pagesName(s.alloc_worst.pages)}, return ${ratio(s.return_worst.ratio)} at ${s.return_worst.machine} × ${pagesName(s.return_worst.pages)}`,
  ]);
  return renderTable(
    [
      "kernel",
      "layout",
      "smallest",
      "largest",
      { header: "alloc", align: "right" },
      { header: "return", align: "right" },
      { header: "release", align: "right" },
      "criterion",
      "dearest case ÷ smallest",
    ],
    rows,
  );
}

/** The whole text: how it was measured, the cases, what did not fit, the verdict per build. */
export function scaleText(json: ScaleJson): string {
  const out: string[] = [];
  out.push(
    `scale: ns per page to take N DMA-mapped pages from a new pool and hold them (alloc), then give all N back ` +
      `with page_pool_put_full_page(pool, page, false) (return = the first ${json.pool_size} into the ring + the rest ` +
      `released: unmapped, untracked, freed to the page allocator). Page poisoning off, misuse checks off. ` +
      `Median over ${json.rounds} rounds (min–max); a round is cycles×N ≥ ${json.min_pages_per_round} pages; each case in its own process.`,
  );
  out.push("");
  out.push(scaleCaseTable(json.cases));
  if (json.not_fitting.length > 0) {
    out.push("");
    out.push("not run, because the pages do not fit in the machine (MAX_MEM_BYTES is 2 GiB):");
    for (const s of json.not_fitting) out.push(`  ${s}`);
  }
  const extra = json.combos.find((c) => c.extra);
  if (extra) out.push(`  added instead: ${extra.pages_name} pages on ${extra.machine}, the largest m×10^k that fits there`);
  out.push("");
  out.push(`largest case ÷ smallest case, per page (median ÷ median; in brackets the rounds' extremes); the criterion is ≤ ${json.criterion}×:`);
  out.push(scaleSummaryTable(json));
  out.push("");
  out.push(`${json.cases.length} cases in ${(json.elapsed_ms / 1000).toFixed(1)} s (node ${json.node}, ${json.cpu})`);
  return out.join("\n");
}
