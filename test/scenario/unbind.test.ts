import { describe, it, expect } from "vitest";
import { runUnbind, UNBIND_DEFAULTS, type UnbindOptions } from "../../src/scenario/unbind.js";
import { ppClaimers } from "../../src/pool/index.js";
import { accountFrames, assertAccounted } from "../../src/mem/accounting.js";
import { Diag } from "../../src/mem/diag.js";
import { NMDESC_DMA_ADDR } from "../../src/pool/nmdesc.js";
import { allLayouts, defaultBuildOf, BuildError } from "../../src/builds/index.js";
import { PpemuError } from "../../src/errors.js";

const small: Partial<UnbindOptions> = { memBytes: 8 << 20 };

// `kernel: "classic"` is the classic layout's default build (v6.15). Its pool names the driver's
// netdev (the default), which moves to loopback at unregister: v6.8+ mutes the stalled-shutdown
// warning for such pools, so the default run has none; `netdev: false` brings it back.
describe("unbind scenario, classic layout: the bug", () => {
  it("M pages in flight at unbind: M mappings outlive the driver, each of the K late returns unmaps after unbind", () => {
    const run = runUnbind({ kernel: "classic", pages: 128, inflight: 32, lateReturns: 32, ...small });
    const r = run.result;
    expect(r).toMatchObject({
      kernel: "v6.15",
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
      // dma-debug's one report for the device ([count=32]); the emulator's 32 syncs + 32 unmaps after
      // unbind. No stalled-shutdown warning: the pool moved to loopback with its netdev.
      kernel_log_lines: 1,
      ppemu_lines: 64,
      verdict: "SHOWN",
    });
    // The stack holds the refill's last 32 pages, oldest first: IOVA 0x40000 (the 64th mapped) comes
    // back first, and dma-debug names the entry in its highest hash bucket, the same 0x40000.
    expect(r.diagnostics).toEqual([
      {
        kind: "dma_debug_pending",
        count: 1,
        first:
          "DMA-API: ppemu 0000:03:00.0: device driver has pending DMA allocations while released from device [count=32]\n" +
          "One of leaked entries details: [device address=0x0000000000040000] [size=4096 bytes] [mapped with DMA_FROM_DEVICE] [mapped as single]\n" +
          "WARNING: CPU: 0 PID: 1 at kernel/dma/debug.c dma_debug_device_change",
      },
      { kind: "sync_after_unbind", count: 32, first: "ppemu: iommu: device 0x1: DMA sync after driver unbind (iova 0x40000)" },
      { kind: "unmap_after_unbind", count: 32, first: "ppemu: iommu: device 0x1: DMA unmap after driver unbind (iova 0x40000)" },
    ]);
    const { m } = run.sys;
    expect(m.mem.diagCount(Diag.DMA_UNMAP_AFTER_UNBIND)).toBe(32);
    expect(run.sys.pps.isLive(run.pool)).toBe(false);
    expect(run.stack.count).toBe(0);
    expect(run.stack.returned).toBe(32);
    assertAccounted(accountFrames(m.mem, ppClaimers(run.sys, run.stack)));
    expect(r.frames["allocated"]).toBe(0);

    // Without a netdev the pool warns at 60 s, when 16 of the 32 have come back (v6.8+ text, the pool's id).
    const bare = runUnbind({ kernel: "classic", pages: 128, inflight: 32, lateReturns: 32, netdev: false, ...small }).result;
    expect(bare).toMatchObject({ unmaps_after_unbind: 32, syncs_after_unbind: 32, pool_freed_at_ms: 117_000, kernel_log_lines: 2, ppemu_lines: 64 });
    expect(bare.diagnostics.map((d) => [d.kind, d.count])).toEqual([
      ["dma_debug_pending", 1],
      ["sync_after_unbind", 32],
      ["unmap_after_unbind", 32],
      ["stalled_pool_shutdown", 1],
    ]);
    expect(bare.diagnostics[3]!.first).toBe("page_pool_release_retry() stalled pool shutdown: id 1, 16 inflight 60 sec");
  });

  it("K < M late returns: M - K mappings leak and the pool is never freed", () => {
    const r = runUnbind({ kernel: "classic", pages: 128, inflight: 32, lateReturns: 10, ...small }).result;
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
      // dma-debug's report, then 10 syncs + 10 unmaps; the stall is muted (netdev → loopback).
      kernel_log_lines: 1,
      ppemu_lines: 20,
      verdict: "SHOWN",
    });
    expect(r.frames["page_pool: in flight (stack)"]).toBe(22);
    // Without a netdev the pool stalls at 60 s and 120 s (the run ends at 122 s): two warnings, 27 left at the first.
    const bare = runUnbind({ kernel: "classic", pages: 128, inflight: 32, lateReturns: 10, netdev: false, ...small }).result;
    expect([bare.kernel_log_lines, bare.ppemu_lines, bare.pool_freed_at_ms]).toEqual([3, 20, null]);
    expect(bare.diagnostics.find((d) => d.kind === "stalled_pool_shutdown")).toEqual({
      kind: "stalled_pool_shutdown",
      count: 2,
      first: "page_pool_release_retry() stalled pool shutdown: id 1, 27 inflight 60 sec",
    });
  });

  it("M = 0: the pool is freed by page_pool_destroy itself", () => {
    const r = runUnbind({ kernel: "classic", pages: 100, inflight: 0, ...small }).result;
    expect(r).toMatchObject({
      pages_allocated: 100,
      inflight_at_unbind: 0,
      mappings_alive_at_unbind: 0,
      late_returns: 0,
      unmaps_after_unbind: 0,
      mappings_leaked: 0,
      frames_lost: 0,
      pool_freed_at_ms: 0,
      kernel_log_lines: 0,
      ppemu_lines: 0,
      verdict: "not exercised",
    });
    expect(r.diagnostics).toEqual([]);
  });

  it("all returns at the moment of unbind (window 0): freed at the first retry", () => {
    const r = runUnbind({ kernel: "classic", pages: 16, inflight: 16, windowMs: 0, ...small }).result;
    expect(r.pool_freed_at_ms).toBe(1000);
    expect(r.unmaps_after_unbind).toBe(16);
    // One dma-debug report for the 16 mappings; 16 syncs + 16 unmaps after unbind.
    expect([r.kernel_log_lines, r.ppemu_lines]).toEqual([1, 16 * 2]);
  });

  it("more pages than the ring holds: the driver's extra returns are released at once", () => {
    const r = runUnbind({ kernel: "classic", pages: 300, inflight: 8, poolSize: 64, ...small }).result;
    expect(r).toMatchObject({ pages_allocated: 300, inflight_at_unbind: 8, mappings_alive_at_unbind: 8, unmaps_after_unbind: 8, frames_lost: 0 });
  });
});

describe("unbind scenario: the fixes", () => {
  // Every layout that tracks in-flight pages, at its default build.
  for (const build of allLayouts()
    .filter((l) => l.tracksInflight)
    .map(defaultBuildOf)) {
    const layout = build.layout.name;
    it(`${layout}: destroy unmaps the M in-flight pages; late returns skip the DMA API`, () => {
      const run = runUnbind({ kernel: build, pages: 128, inflight: 32, lateReturns: 32, ...small });
      expect(run.result).toMatchObject({
        kernel: build.name,
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
        // Nothing mapped at unbind, so dma-debug has nothing to report; the stall is muted (netdev → loopback).
        kernel_log_lines: 0,
        ppemu_lines: 0,
        verdict: "fixed",
      });
      expect(run.result.diagnostics).toEqual([]);
      assertAccounted(accountFrames(run.sys.m.mem, ppClaimers(run.sys, run.stack)));
      // Without a netdev the only line is the stalled-shutdown warning.
      const bare = runUnbind({ kernel: build, pages: 128, inflight: 32, lateReturns: 32, netdev: false, ...small }).result;
      expect(bare.diagnostics.map((d) => d.kind)).toEqual(["stalled_pool_shutdown"]);
      expect([bare.kernel_log_lines, bare.ppemu_lines, bare.verdict]).toEqual([1, 0, "fixed"]);
    });

    it(`${layout}: K < M leaves pages with the stack but no mapping`, () => {
      const run = runUnbind({ kernel: build, pages: 128, inflight: 32, lateReturns: 10, ...small });
      expect(run.result).toMatchObject({ unmaps_after_unbind: 0, mappings_leaked: 0, pool_freed_at_ms: null, frames_lost: 0, kernel_log_lines: 0, ppemu_lines: 0 });
      // The page's dma_addr (read through netmem_to_nmdesc(): the item on memdesc-item): cleared by
      // destroy's release, or, where the scrub only unmaps (mainline, v7.1-rc-netpp), left for the
      // page's own return to clear; either way no mapping is alive (mappings_leaked 0 above).
      const unmapOnly = build.layoutSwitches?.scrub === "unmap-only";
      run.stack.forEachHeld((p) => expect(run.sys.m.mem.rd64(run.sys.pps.nmdesc(p) + NMDESC_DMA_ADDR) !== 0).toBe(unmapOnly));
      // Without a netdev: the two stalls (60 s, 120 s) and nothing else.
      const bare = runUnbind({ kernel: build, pages: 128, inflight: 32, lateReturns: 10, netdev: false, ...small }).result;
      expect([bare.kernel_log_lines, bare.ppemu_lines]).toEqual([2, 0]);
    });
  }
});

describe("runUnbind options and steps", () => {
  it("defaults: 256 pages, 64 in flight, all returned over 120 s", () => {
    expect(UNBIND_DEFAULTS).toEqual({ pages: 256, inflight: 64, poolSize: 1024, windowMs: 120_000, memBytes: 32 << 20 });
    const r = runUnbind({ kernel: "classic" }).result;
    expect(r).toMatchObject({ pages_allocated: 256, inflight_at_unbind: 64, late_returns: 64, unmaps_after_unbind: 64, pool_freed_at_ms: 119_000 });
  });

  it("stops at a step, for explain and the tests", () => {
    const a = runUnbind({ kernel: "classic", pages: 64, inflight: 8, ...small }, "allocated");
    expect(a.sys.pps.inflight(a.pool)).toBe(64);
    expect(a.stack.count).toBe(8);
    expect(a.result.frames_lost).toBe(0);
    const d = runUnbind({ kernel: "xarray", pages: 64, inflight: 8, ...small }, "destroyed");
    expect(d.result.inflight_at_unbind).toBe(8);
    expect(d.result.unmapped_by_destroy).toBe(8);
    expect(d.sys.dma.isBound(d.dev)).toBe(true);
    const u = runUnbind({ kernel: "classic", pages: 64, inflight: 8, ...small }, "unbound");
    expect(u.result.mappings_alive_at_unbind).toBe(8);
    expect(u.sys.dma.isBound(u.dev)).toBe(false);
    expect(u.stack.count).toBe(8);
  });

  it("rejects impossible counts", () => {
    expect(() => runUnbind({ kernel: "classic", pages: 2, inflight: 5 })).toThrow(PpemuError);
    expect(() => runUnbind({ kernel: "classic", pages: 8, inflight: 4, lateReturns: 5 })).toThrow(PpemuError);
    expect(() => runUnbind({ kernel: "v5.15" })).toThrow(BuildError);
  });
});
