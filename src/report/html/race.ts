/**
 * Figure (e): a race trace as per-CPU swim lanes — the first violation the race explorer
 * (src/explore/race.ts runRace) finds on v6.15 in destroy-vs-ring-produce (CVE-2025-38129's shape),
 * shrunk to its fewest preemptions. Each trace line ("CPU n  where it stopped") is one step: a box
 * in CPU n's lane at its step number.
 */
import { runRace } from "../../explore/race.js";
import { REPORT_RACE } from "../race.js";
import { line, rect, svg, text } from "./svg.js";

export interface RaceStep {
  readonly step: number;
  readonly cpu: number;
  readonly where: string;
}

export interface RaceLanes {
  readonly kernel: string;
  readonly program: string;
  readonly kind: string;
  /** The report's first line (`BUG: KASAN: …`). */
  readonly headline: string;
  readonly replay: string;
  readonly steps: readonly RaceStep[];
}

const TRACE_LINE = /^CPU (\d+)  (.*)$/;

export function parseTrace(trace: readonly string[]): RaceStep[] {
  return trace.map((l, i) => {
    const m = TRACE_LINE.exec(l);
    if (!m) throw new Error(`race trace line ${i + 1} is not "CPU n  point": ${l}`);
    return { step: i + 1, cpu: Number(m[1]), where: m[2]! };
  });
}

/** The first violation of `program` on `kernel`, with the report's explorer settings (PCT, seed 1). */
export async function raceLanes(kernel = "v6.15", program: string = REPORT_RACE.program): Promise<RaceLanes | null> {
  const r = await runRace({ kernel, program, scheduler: REPORT_RACE.scheduler, schedules: REPORT_RACE.schedules, seed: REPORT_RACE.seed, depth: REPORT_RACE.depth });
  const v = r.violations[0];
  if (!v) return null;
  const headline = v.text.split("\n").find((l) => /^(BUG|WARNING|ppemu)/.test(l)) ?? v.text.split("\n")[0]!;
  return { kernel: r.kernel, program: r.program, kind: v.kind, headline, replay: v.replay, steps: parseTrace(v.trace) };
}

const CPU_COLORS = ["#2171b5", "#cb181d", "#31a354", "#6a51a3"];

export function raceSvg(l: RaceLanes | null): string {
  if (l === null) return svg("fig-race", 600, 30, "race trace", [text(0, 18, "the explorer found no violation to draw", { class: "caption" })]);
  const cpus = [...new Set(l.steps.map((s) => s.cpu))].sort((a, b) => a - b);
  const left = 60;
  const stepW = 64;
  const laneH = 215;
  const top = 50;
  const body: string[] = [
    text(0, 14, `${l.kernel}, ${l.program}: ${l.headline} (${l.steps.length} steps)`, { class: "caption" }),
    text(0, 32, `replay: ${l.replay}`, { class: "mono small" }),
  ];
  cpus.forEach((c, i) => {
    const y = top + i * laneH;
    body.push(rect(0, y, left + l.steps.length * stepW + 10, laneH - 6, { fill: i % 2 === 0 ? "#f7f7f7" : "#efefef" }));
    body.push(text(6, y + 20, `CPU ${c}`, { class: "bold" }));
  });
  for (const s of l.steps) {
    const lane = cpus.indexOf(s.cpu);
    const x = left + (s.step - 1) * stepW;
    const y = top + lane * laneH;
    const tip = `step ${s.step}: CPU ${s.cpu} stopped at ${s.where}`;
    body.push(rect(x + 2, y + 6, stepW - 4, 16, { fill: CPU_COLORS[s.cpu % CPU_COLORS.length], class: "step", "data-step": s.step, "data-tip": tip }, tip));
    body.push(text(x + stepW / 2, y + 18, String(s.step), { class: "tiny light", "text-anchor": "middle" }));
    // The point's name, turned so that long kernel names fit under the box.
    body.push(text(x + stepW / 2 - 4, y + 30, s.where, { transform: `rotate(55 ${x + stepW / 2 - 4} ${y + 30})`, class: "tiny" }));
    const prev = l.steps[s.step - 2];
    if (prev && prev.cpu !== s.cpu) {
      const py = top + cpus.indexOf(prev.cpu) * laneH + 14;
      body.push(line(x - 2, py, x + 2, y + 14, { stroke: "#000", "stroke-dasharray": "3 2", class: "switch" }));
    }
  }
  return svg("fig-race", left + l.steps.length * stepW + 20, top + cpus.length * laneH, `race trace of ${l.kernel}`, body);
}
