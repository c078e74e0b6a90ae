/** The scenario's kernel log and frame count survive a diag ring that wrapped long ago. */
import { describe, expect, it } from "vitest";
import { runUnbind, scenarioFrames, framesLost } from "../../src/scenario/unbind.js";
import { Diag } from "../../src/mem/diag.js";

describe("unbind scenario diagnostics", () => {
  it("lists every kind with its exact count and first record, though the 256-record ring wrapped", () => {
    const run = runUnbind({ kernel: "classic", pages: 300, inflight: 300, poolSize: 16, windowMs: 1000 });
    const r = run.result;
    // dma-debug's one report for the device; 300 syncs + 300 unmaps after unbind (the emulator's
    // lines). The pool is freed within the window, so no stalled-shutdown warning.
    expect([r.kernel_log_lines, r.ppemu_lines]).toEqual([1, 300 * 2]);
    expect(run.sys.m.mem.diagLog()).toHaveLength(256);
    expect(r.diagnostics.map((d) => [d.kind, d.count])).toEqual([
      ["dma_debug_pending", 1],
      ["sync_after_unbind", 300],
      ["unmap_after_unbind", 300],
    ]);
    const first = run.sys.m.mem.diagFirst(Diag.DMA_DEBUG_PENDING)!;
    expect(r.diagnostics[0]!.first).toBe(first.text);
    // a = the device id, b = [count=N]: every one of the 300 mappings.
    expect([first.a, first.b]).toEqual([1, 300]);
    // Five 64-page refills mapped IOVAs 0x1000…0x140000 (the 20 left in the alloc cache were unmapped by
    // destroy); dma-debug names the entry in the highest hash bucket: 0x140000 >> 13 = 160.
    expect(first.text).toContain("[device address=0x0000000000140000] [size=4096 bytes]");
    // The ring (pool_size 16) takes the first 16 late returns back: the first unmap is the 17th page's.
    expect(r.diagnostics[1]!.first).toBe("ppemu: iommu: device 0x1: DMA sync after driver unbind (iova 0x40000)");
    expect(r.diagnostics[2]!.first).toBe("ppemu: iommu: device 0x1: DMA unmap after driver unbind (iova 0x30000)");
  });

  it("counts a frame nobody owns as lost", () => {
    const run = runUnbind({ kernel: "xarray", pages: 8, inflight: 2 });
    expect(run.result.frames_lost).toBe(0);
    expect(framesLost(scenarioFrames(run.sys, run.stack))).toBe(0);
    const page = run.sys.m.pa.allocPages(1); // two frames, claimed by no owner
    expect(page).toBeGreaterThan(0);
    expect(framesLost(scenarioFrames(run.sys, run.stack))).toBe(2);
  });
});
