/**
 * Figure (c): the unbind scenario's timeline per kernel build, in virtual ms after unbind: the
 * unbind (napi_disable, page_pool_destroy, the IOMMU domain torn down) at 0, each late return, each
 * unmap and sync through the unbound device (the IOMMU's records in the machine's diag log, with
 * their virtual time), and the moment the pool was freed (UnbindResult.pool_freed_at_ms).
 */
import { allBuilds } from "../../builds/index.js";
import { Diag } from "../../mem/diag.js";
import { runUnbind, UNBIND_DEFAULTS, type UnbindResult } from "../../scenario/unbind.js";
import { el, legend, line, niceTicks, rect, svg, text } from "./svg.js";

export interface BuildTimeline {
  readonly kernel: string;
  readonly layout: string;
  readonly verdict: UnbindResult["verdict"];
  readonly windowMs: number;
  readonly lateReturnsMs: readonly number[];
  readonly unmapsMs: readonly number[];
  readonly syncsMs: readonly number[];
  /** Records the diag log's ring no longer holds (the counts are exact; the times of these are lost). */
  readonly dropped: number;
  readonly poolFreedMs: number | null;
}

/**
 * The late returns' times: the scenario spreads the K returns evenly over the window, return j at
 * `floor((j + 1) * windowMs / (K + 1))` after unbind (src/scenario/unbind.ts, "Late returns, evenly
 * spread over the window"); on classic each is witnessed by its sync at that very ms.
 */
export function lateReturnTimes(k: number, windowMs: number): number[] {
  return Array.from({ length: k }, (_, j) => Math.floor(((j + 1) * windowMs) / (k + 1)));
}

export function buildTimeline(kernel: string): BuildTimeline {
  const unbindAt = runUnbind({ kernel }, "destroyed").sys.m.mem.nowMs;
  const run = runUnbind({ kernel });
  const mem = run.sys.m.mem;
  const log = mem.diagLog();
  const times = (kind: Diag) => log.filter((d) => d.kind === kind).map((d) => d.timeMs - unbindAt);
  const unmapsMs = times(Diag.DMA_UNMAP_AFTER_UNBIND);
  const syncsMs = times(Diag.DMA_SYNC_AFTER_UNBIND);
  const r = run.result;
  return {
    kernel: r.kernel,
    layout: r.layout,
    verdict: r.verdict,
    windowMs: UNBIND_DEFAULTS.windowMs,
    lateReturnsMs: lateReturnTimes(r.late_returns, UNBIND_DEFAULTS.windowMs),
    unmapsMs,
    syncsMs,
    dropped: r.unmaps_after_unbind - unmapsMs.length + (r.syncs_after_unbind - syncsMs.length),
    poolFreedMs: r.pool_freed_at_ms,
  };
}

export function timelines(kernels: readonly string[] = allBuilds().map((b) => b.name)): BuildTimeline[] {
  return kernels.map(buildTimeline);
}

const COLORS = { unbind: "#000", ret: "#6baed6", unmap: "#cb181d", sync: "#fd8d3c", freed: "#31a354" };

export function timelineSvg(ts: readonly BuildTimeline[]): string {
  const left = 150;
  const width = 720;
  const rowH = 26;
  const top = 40;
  const maxMs = Math.max(...ts.map((t) => Math.max(t.windowMs, t.poolFreedMs ?? 0)));
  const ticks = niceTicks(maxMs / 1000, 8);
  const span = ticks[ticks.length - 1]! * 1000;
  const x = (ms: number) => left + (ms / span) * width;
  const body: string[] = [text(0, 14, `the unbind scenario per build (${ts[0]?.lateReturnsMs.length ?? 0} late returns spread over ${maxMs / 1000} s of virtual time); x: seconds after unbind`, { class: "caption" })];
  for (const s of ticks) {
    body.push(line(x(s * 1000), top - 6, x(s * 1000), top + ts.length * rowH, { stroke: "#ddd" }));
    body.push(text(x(s * 1000), top - 10, `${s}`, { class: "small", "text-anchor": "middle" }));
  }
  ts.forEach((t, i) => {
    const y = top + i * rowH;
    const mid = y + rowH / 2;
    const g: string[] = [text(0, mid + 4, `${t.kernel} (${t.verdict})`, { class: t.verdict === "SHOWN" ? "small bad" : "small" })];
    g.push(line(left, mid, x(t.poolFreedMs ?? t.windowMs), mid, { stroke: "#999" }));
    const tip = (what: string, ms: number) => `${t.kernel}: ${what} at ${ms} ms after unbind`;
    g.push(rect(x(0) - 1.5, y + 3, 3, rowH - 6, { fill: COLORS.unbind, class: "ev unbind", "data-tip": tip("unbind + page_pool_destroy()", 0) }));
    for (const ms of t.lateReturnsMs) g.push(rect(x(ms) - 1, mid - 6, 2, 5, { fill: COLORS.ret, class: "ev ret", "data-tip": tip("late return", ms) }));
    for (const ms of t.syncsMs) g.push(rect(x(ms) - 1, mid + 1, 2, 5, { fill: COLORS.sync, class: "ev sync", "data-tip": tip("dma_sync after unbind", ms) }));
    for (const ms of t.unmapsMs) g.push(rect(x(ms) - 1, mid + 1, 2, 8, { fill: COLORS.unmap, class: "ev unmap", "data-tip": tip("dma_unmap after unbind", ms) }));
    if (t.poolFreedMs !== null) g.push(el("circle", { cx: x(t.poolFreedMs), cy: mid, r: 5, fill: COLORS.freed, class: "ev freed", "data-tip": tip("pool freed", t.poolFreedMs) }));
    else g.push(text(x(t.windowMs) + 6, mid + 4, "pool never freed in the run", { class: "small bad" }));
    if (t.dropped > 0) g.push(text(left + width + 8, mid + 4, `+${t.dropped} DMA calls the log ring dropped`, { class: "small" }));
    body.push(el("g", { class: "tl-row", "data-kernel": t.kernel }, g));
  });
  const ly = top + ts.length * rowH + 14;
  body.push(
    ...legend(left, ly, [
      { color: COLORS.unbind, label: "unbind: napi_disable, page_pool_destroy(), the IOMMU domain torn down" },
      { color: COLORS.ret, label: "a late return (the stack frees a page it held)" },
      { color: COLORS.sync, label: "dma_sync through the unbound device" },
      { color: COLORS.unmap, label: "dma_unmap through the unbound device (the bug)" },
      { color: COLORS.freed, label: "the pool freed (nothing in flight)" },
    ]),
  );
  return svg("fig-timeline", left + width + 200, ly + 5 * 16 + 6, "unbind timeline per build", body);
}
