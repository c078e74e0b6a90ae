/**
 * Figure (d): benchmark bars per build, one panel per page_pool test, with the kernel's own ratios
 * (the builds' bench_page_pool anchors, src/report/bench.ts kernelNs) beside them. From a bench JSON
 * document (`ppemu bench --json FILE`, passed as `--bench-json FILE`): ns per element, the median
 * across processes with the min–max of the processes as the error bar and the paired ratio to the
 * reference build with its bootstrap interval — the benchmark method's own figures. Without one the
 * deterministic cost model (bench/cost_model.ts costRun): emulated loads, stores and atomics per
 * element, stacked, and their ratio to the reference build.
 */
import { costRun } from "../../../bench/cost_model.js";
import type { BenchJson, BenchSummary, LayoutTest } from "../../../bench/catalog.js";
import { kernelNs } from "../bench.js";
import { defaultBenchBuilds } from "../bench.js";
import { referenceBuild } from "../../builds/index.js";
import { legend, line, niceTicks, rect, svg, text } from "./svg.js";

/** The tests the kernel's bench_page_pool_simple has figures for. */
export const BAR_TESTS: readonly LayoutTest[] = ["page_pool01_fast_path", "page_pool02_ptr_ring", "page_pool03_slow"];

export interface Bar {
  readonly kernel: string;
  /** Stacked segments (cost model: loads, stores, atomics; bench: one, ns). */
  readonly parts: readonly number[];
  /** Bench: [min, max] across processes. */
  readonly range: readonly [number, number] | null;
  /** The text beside the bar: the ratio to the reference and the kernel's ratio. */
  readonly note: string;
  readonly tip: string;
}

export interface BarPanel {
  readonly test: string;
  readonly unit: string;
  readonly bars: readonly Bar[];
}

export interface BenchFigure {
  readonly source: "cost model" | "bench";
  readonly reference: string;
  readonly partNames: readonly string[];
  readonly panels: readonly BarPanel[];
}

const fx = (v: number) => `×${v.toFixed(2)}`;

/** The kernel's ratio of `kernel` to the reference on `test`, as text ("" without anchors). */
function kernelRatio(kernel: string, ref: string, test: LayoutTest): string {
  const k = kernelNs(kernel, test);
  const r = kernelNs(ref, test);
  if (k === undefined || r === undefined) return "kernel: no figure";
  return `kernel ${fx(k / r)} (${k} / ${r} ns)`;
}

export function costFigure(kernels: readonly string[] = defaultBenchBuilds()): BenchFigure {
  const ref = referenceBuild().name;
  const { rows } = costRun(kernels.includes(ref) ? kernels : [ref, ...kernels], BAR_TESTS);
  const panels = BAR_TESTS.map((test) => {
    const of = (k: string) => rows.find((r) => r.kernel === k && r.test === test);
    const refRow = of(ref);
    const refSum = refRow ? refRow.loads + refRow.stores + refRow.atomics : NaN;
    const bars = kernels.flatMap((k) => {
      const r = of(k);
      if (!r) return [];
      const sum = r.loads + r.stores + r.atomics;
      return [
        {
          kernel: k,
          parts: [r.loads, r.stores, r.atomics],
          range: null,
          note: `model ${fx(sum / refSum)}; ${kernelRatio(k, ref, test)}`,
          tip: `${k} ${test}: ${r.loads.toFixed(2)} loads, ${r.stores.toFixed(2)} stores, ${r.atomics.toFixed(2)} atomics, ${r.locks.toFixed(2)} locks, ${r.cache_lines.toFixed(2)} cache lines per element`,
        },
      ];
    });
    return { test, unit: "emulated accesses per element", bars };
  });
  return { source: "cost model", reference: ref, partNames: ["loads", "stores", "atomics"], panels };
}

/** A bench document's summary as bars; an error naming what is missing when it is no such document. */
export function benchFigure(doc: BenchJson): BenchFigure {
  if (doc === null || typeof doc !== "object" || (doc as { command?: unknown }).command !== "bench" || !Array.isArray(doc.summary)) {
    throw new Error("not a `ppemu bench --json` document with a summary (its command must be \"bench\")");
  }
  const summary = doc.summary as BenchSummary[];
  const ref = doc.method?.reference ?? referenceBuild().name;
  const panels = BAR_TESTS.map((test) => ({
    test,
    unit: "ns per element (median of processes; bar: min–max)",
    bars: summary
      .filter((s) => s.test === test)
      .map((s) => {
        const r = s.ratio_to_ref;
        const ratio = r ? `${fx(r.median)} [${r.ci_lo.toFixed(2)}, ${r.ci_hi.toFixed(2)}]` : s.kernel === ref ? "reference" : "no ratio";
        return {
          kernel: s.kernel,
          parts: [s.ns_median],
          range: [s.ns_min, s.ns_max] as const,
          note: `${ratio}; ${kernelRatio(s.kernel, ref, test)}`,
          tip: `${s.kernel} ${test}: ${s.ns_median} ns median of ${s.runs} processes (${s.ns_min}–${s.ns_max}, spread ${s.spread_pct}%), ${s.cycles} cycles`,
        };
      }),
  })).filter((p) => p.bars.length > 0);
  if (panels.length === 0) throw new Error(`the bench document has no summary for ${BAR_TESTS.join(", ")}`);
  return { source: "bench", reference: ref, partNames: ["ns"], panels };
}

const PART_COLORS = ["#4292c6", "#fd8d3c", "#cb181d"];

export function benchSvg(f: BenchFigure): string {
  const left = 130;
  const barW = 360;
  const rowH = 20;
  const body: string[] = [
    text(0, 14, f.source === "bench" ? `measured (ppemu bench): ratios to ${f.reference} with 95% intervals; the kernel's ratios beside them` : `the deterministic cost model (bench/cost_model.ts): ratios to ${f.reference}; the kernel's ratios (bench_page_pool anchors) beside them`, { class: "caption" }),
  ];
  let y = 34;
  for (const p of f.panels) {
    const max = Math.max(...p.bars.map((b) => Math.max(b.parts.reduce((a, c) => a + c, 0), b.range?.[1] ?? 0)));
    const ticks = niceTicks(max, 5);
    const span = ticks[ticks.length - 1]!;
    const x = (v: number) => left + (v / span) * barW;
    body.push(text(0, y + 12, `${p.test} — ${p.unit}`, { class: "small bold" }));
    y += 20;
    for (const t of ticks) {
      body.push(line(x(t), y - 2, x(t), y + p.bars.length * rowH, { stroke: "#ddd" }));
      body.push(text(x(t), y + p.bars.length * rowH + 12, String(t), { class: "tiny", "text-anchor": "middle" }));
    }
    p.bars.forEach((b, i) => {
      const by = y + i * rowH;
      body.push(text(0, by + 13, b.kernel, { class: "small" }));
      let acc = 0;
      b.parts.forEach((v, j) => {
        body.push(rect(x(acc), by + 3, x(acc + v) - x(acc), rowH - 6, { fill: PART_COLORS[j % PART_COLORS.length], class: "bar", "data-tip": b.tip }, b.tip));
        acc += v;
      });
      if (b.range) {
        const [lo, hi] = b.range;
        body.push(line(x(lo), by + rowH / 2, x(hi), by + rowH / 2, { stroke: "#000", class: "errbar" }));
        body.push(line(x(lo), by + 5, x(lo), by + rowH - 5, { stroke: "#000" }), line(x(hi), by + 5, x(hi), by + rowH - 5, { stroke: "#000" }));
      }
      body.push(text(left + barW + 10, by + 13, b.note, { class: "small" }));
    });
    y += p.bars.length * rowH + 26;
  }
  body.push(...legend(left, y, f.partNames.map((n, i) => ({ color: PART_COLORS[i % PART_COLORS.length]!, label: n }))));
  y += f.partNames.length * 16 + 4;
  return svg("fig-bench", left + barW + 470, y, "benchmark bars per build", body);
}
