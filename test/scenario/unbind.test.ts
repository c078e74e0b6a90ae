import { describe, it, expect } from "vitest";
import { runUnbind, UNBIND_DEFAULTS, type UnbindOptions } from "../../src/scenario/unbind.js";
import { ppClaimers } from "../../src/pool/index.js";
import { accountFrames, assertAccounted } from "../../src/mem/accounting.js";
import { Diag } from "../../src/mem/diag.js";
import { PAGE_DMA_ADDR } from "../../src/mem/page.js";

const small: Partial<UnbindOptions> = { memBytes: 8 << 20 };

describe("unbind scenario, classic layout: the bug", () => {
  it("M pages in flight at unbind: M mappings outlive the driver, each of the K late returns unmaps after unbind", () => {
    const run = runUnbind({ layout: "classic", pages: 128, inflight: 32, lateReturns: 32, ...small });
    const r = run.result;
    expect(r).toMatchObject({
      layout: "classic",
      pages_allocated: 128,
      inflight_at_unbind: 32,
      mappings_alive_at_unbind: 32,
      unmapped_by_destroy: 0,
      late_returns: 32,
      late_returns_without_dma: 0,
      unmaps_after_unbind: 32,
      syncs_after_unbind: 32,
      double_unmaps: 0,
      mappings_leaked: 0,
      frames_lost: 0,
      // The 32nd return at floor(32 * 120000 / 33) = 116363 ms; the next retry frees the pool.
      pool_freed_at_ms: 117_000,
      // 32 outlived + 32 syncs + 32 unmaps after unbind + one stalled-shutdown warning at 60 s.
      warnings: 97,
    });
    expect(r.diagnostics).toEqual([
      { kind: "mapping_outlives_driver", count: 32, first: expect.stringContaining("device driver has pending DMA allocations while released from device") },
      { kind: "sync_after_unbind", count: 32, first: expect.stringMatching(/^ppemu-iommu: device 0x1: DMA sync after driver unbind \(iova 0x[0-9a-f]+\)$/) },
      { kind: "unmap_after_unbind", count: 32, first: expect.stringMatching(/^ppemu-iommu: device 0x1: DMA unmap after driver unbind \(iova 0x[0-9a-f]+\)$/) },
      { kind: "stalled_pool_shutdown", count: 1, first: "page_pool_release_retry() stalled pool shutdown: id 2, 16 inflight 60 sec" }, // 16 returned by then
    ]);
    const { m } = run.sys;
    expect(m.mem.diagCount(Diag.DMA_UNMAP_AFTER_UNBIND)).toBe(32);
    expect(run.sys.pps.isLive(run.pool)).toBe(false);
    expect(run.stack.count).toBe(0);
    expect(run.stack.returned).toBe(32);
    assertAccounted(accountFrames(m.mem, ppClaimers(run.sys, run.stack)));
    expect(r.frames["allocated"]).toBe(0);
  });

  it("K < M late returns: M - K mappings leak and the pool is never freed", () => {
    const r = runUnbind({ layout: "classic", pages: 128, inflight: 32, lateReturns: 10, ...small }).result;
    expect(r).toMatchObject({
      inflight_at_unbind: 32,
      mappings_alive_at_unbind: 32,
      late_returns: 10,
      unmaps_after_unbind: 10,
      syncs_after_unbind: 10,
      double_unmaps: 0,
      mappings_leaked: 22,
      frames_lost: 0,
      pool_freed_at_ms: null,
      // 32 + 10 + 10, and the pool stalls at 60 s and 120 s (the run ends at 122 s).
      warnings: 54,
    });
    expect(r.frames["page_pool: in flight (stack)"]).toBe(22);
  });

  it("M = 0: the pool is freed by page_pool_destroy itself", () => {
    const r = runUnbind({ layout: "classic", pages: 100, inflight: 0, ...small }).result;
    expect(r).toMatchObject({
      pages_allocated: 100,
      inflight_at_unbind: 0,
      mappings_alive_at_unbind: 0,
      late_returns: 0,
      unmaps_after_unbind: 0,
      mappings_leaked: 0,
      frames_lost: 0,
      pool_freed_at_ms: 0,
      warnings: 0,
    });
    expect(r.diagnostics).toEqual([]);
  });

  it("all returns at the moment of unbind (window 0): freed at the first retry", () => {
    const r = runUnbind({ layout: "classic", pages: 16, inflight: 16, windowMs: 0, ...small }).result;
    expect(r.pool_freed_at_ms).toBe(1000);
    expect(r.unmaps_after_unbind).toBe(16);
    expect(r.warnings).toBe(16 * 3);
  });

  it("more pages than the ring holds: the driver's extra returns are released at once", () => {
    const r = runUnbind({ layout: "classic", pages: 300, inflight: 8, poolSize: 64, ...small }).result;
    expect(r).toMatchObject({ pages_allocated: 300, inflight_at_unbind: 8, mappings_alive_at_unbind: 8, unmaps_after_unbind: 8, frames_lost: 0 });
  });
});

describe("unbind scenario: the fixes", () => {
  for (const layout of ["item-block", "xarray"] as const) {
    it(`${layout}: destroy unmaps the M in-flight pages; late returns skip the DMA API`, () => {
      const run = runUnbind({ layout, pages: 128, inflight: 32, lateReturns: 32, ...small });
      expect(run.result).toMatchObject({
        layout,
        pages_allocated: 128,
        inflight_at_unbind: 32,
        mappings_alive_at_unbind: 0,
        unmapped_by_destroy: 32,
        late_returns: 32,
        late_returns_without_dma: 32,
        unmaps_after_unbind: 0,
        syncs_after_unbind: 0,
        double_unmaps: 0,
        mappings_leaked: 0,
        frames_lost: 0,
        pool_freed_at_ms: 117_000,
        warnings: 1,
      });
      expect(run.result.diagnostics.map((d) => d.kind)).toEqual(["stalled_pool_shutdown"]);
      assertAccounted(accountFrames(run.sys.m.mem, ppClaimers(run.sys, run.stack)));
    });

    it(`${layout}: K < M leaves pages with the stack but no mapping`, () => {
      const run = runUnbind({ layout, pages: 128, inflight: 32, lateReturns: 10, ...small });
      expect(run.result).toMatchObject({ unmaps_after_unbind: 0, mappings_leaked: 0, pool_freed_at_ms: null, frames_lost: 0, warnings: 2 });
      run.stack.forEachHeld((p) => expect(run.sys.m.mem.rd64(p + PAGE_DMA_ADDR)).toBe(0));
    });
  }
});

describe("runUnbind options and steps", () => {
  it("defaults: 256 pages, 64 in flight, all returned over 120 s", () => {
    expect(UNBIND_DEFAULTS).toEqual({ pages: 256, inflight: 64, poolSize: 1024, windowMs: 120_000, memBytes: 32 << 20 });
    const r = runUnbind({ layout: "classic" }).result;
    expect(r).toMatchObject({ pages_allocated: 256, inflight_at_unbind: 64, late_returns: 64, unmaps_after_unbind: 64, pool_freed_at_ms: 119_000 });
  });

  it("stops at a step, for explain and the tests", () => {
    const a = runUnbind({ layout: "classic", pages: 64, inflight: 8, ...small }, "allocated");
    expect(a.sys.pps.inflight(a.pool)).toBe(64);
    expect(a.stack.count).toBe(8);
    expect(a.result.frames_lost).toBe(0);
    const d = runUnbind({ layout: "xarray", pages: 64, inflight: 8, ...small }, "destroyed");
    expect(d.result.inflight_at_unbind).toBe(8);
    expect(d.result.unmapped_by_destroy).toBe(8);
    expect(d.sys.dma.isBound(d.dev)).toBe(true);
    const u = runUnbind({ layout: "classic", pages: 64, inflight: 8, ...small }, "unbound");
    expect(u.result.mappings_alive_at_unbind).toBe(8);
    expect(u.sys.dma.isBound(u.dev)).toBe(false);
    expect(u.stack.count).toBe(8);
  });

  it("rejects impossible counts", () => {
    expect(() => runUnbind({ layout: "classic", pages: 2, inflight: 5 })).toThrow(RangeError);
    expect(() => runUnbind({ layout: "classic", pages: 8, inflight: 4, lateReturns: 5 })).toThrow(RangeError);
  });
});
