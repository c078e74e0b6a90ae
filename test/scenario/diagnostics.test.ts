/** The scenario's kernel log and frame count survive a diag ring that wrapped long ago. */
import { describe, expect, it } from "vitest";
import { runUnbind, scenarioFrames, framesLost } from "../../src/scenario/unbind.js";
import { Diag } from "../../src/mem/diag.js";

describe("unbind scenario diagnostics", () => {
  it("lists every kind with its exact count and first record, though the 256-record ring wrapped", () => {
    const run = runUnbind({ layout: "classic", pages: 300, inflight: 300, poolSize: 16, windowMs: 1000 });
    const r = run.result;
    expect(r.warnings).toBe(300 * 3 + 0); // outlives + sync + unmap; the pool is freed within the window
    expect(run.sys.m.mem.diagLog()).toHaveLength(256);
    expect(r.diagnostics.map((d) => [d.kind, d.count])).toEqual([
      ["mapping_outlives_driver", 300],
      ["sync_after_unbind", 300],
      ["unmap_after_unbind", 300],
    ]);
    const first = run.sys.m.mem.diagFirst(Diag.DMA_MAPPING_OUTLIVES_DRIVER)!;
    expect(r.diagnostics[0]!.first).toBe(first.text);
    expect(first.a).toBe(0x1000); // the first IOVA the device handed out
  });

  it("counts a frame nobody owns as lost", () => {
    const run = runUnbind({ layout: "xarray", pages: 8, inflight: 2 });
    expect(run.result.frames_lost).toBe(0);
    expect(framesLost(scenarioFrames(run.sys, run.stack))).toBe(0);
    const page = run.sys.m.pa.allocPages(1); // two frames, claimed by no owner
    expect(page).toBeGreaterThan(0);
    expect(framesLost(scenarioFrames(run.sys, run.stack))).toBe(2);
  });
});
