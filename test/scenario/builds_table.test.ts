/**
 * The unbind scenario on every kernel build, side by side, and the version boundaries that make a
 * row differ between builds of one layout.
 *
 * At the defaults (256 pages, 64 with the stack, all returned over 120 s; a device that needs syncs;
 * the pool names the driver's netdev, which unregisters at unbind) the layouts split the table
 * (classic shows the bug, item-block and xarray fix it), and within classic two boundaries split it
 * again: the stalled-shutdown warning (v6.8) and, on a coherent device, dma_dev_need_sync (v6.11).
 * Each boundary test names the boundary and its commit: the id in src/builds/*.ts where the build
 * files give one; be0096676e23 and 4321de4497b2 are not in the build files (their switches are
 * documented by version only in src/builds/types.ts) and are cited from netdev's patchwork bot and
 * linux-next.
 */
import { describe, expect, it } from "vitest";
import { runUnbind, type UnbindResult, type UnbindRun } from "../../src/scenario/unbind.js";
import { UNBIND_ROWS } from "../../src/report/unbind.js";
import { allBuilds, findBuild } from "../../src/builds/index.js";
import type { KernelBuild } from "../../src/builds/types.js";
import { xarrayScrubOf } from "../../src/builds/xarray.js";
import { PAGE_DMA_ADDR } from "../../src/mem/page.js";
import { PTR_RING_SIZE } from "../../src/pool/ptr_ring.js";

/** One run per build at the defaults, shared by the tests below. */
const defaults = new Map<string, UnbindRun>();
function atDefaults(b: KernelBuild): UnbindResult {
  let run = defaults.get(b.name);
  if (!run) {
    run = runUnbind({ kernel: b });
    defaults.set(b.name, run);
  }
  return run.result;
}

/** The stalled-shutdown lines of a run: [kind, count, first text]. */
function stalls(r: UnbindResult): [string, number, string][] {
  return r.diagnostics.filter((d) => d.kind.startsWith("stalled_pool_shutdown")).map((d) => [d.kind, d.count, d.first]);
}

/** The two builds before the v6.8 mute and the v6.11 sync shortcut. */
const PRE_V6_8 = ["v6.1", "v6.6"];

const OLD_STALL = "page_pool_release_retry() stalled pool shutdown 32 inflight 60 sec";
// Pool ids come from the machine's one id counter; without netdevs (lo, eth0) the device is 1, the pool 2.
const NEW_STALL = "page_pool_release_retry() stalled pool shutdown: id 1, 32 inflight 60 sec";

describe("scenario unbind at its defaults, every build", () => {
  it("the rows that differ between builds, pinned per build", () => {
    const builds = allBuilds();
    const results = builds.map(atDefaults);
    const rowsOf = (pick: (label: string) => boolean) =>
      Object.fromEntries(builds.map((b, i) => [b.name, Object.fromEntries(UNBIND_ROWS.filter(([l]) => pick(l)).map(([l, get]) => [l, get(results[i]!)]))]));
    // The table's rows (src/report/unbind.ts) whose value is not the same on every build.
    const differing = UNBIND_ROWS.filter(([, get]) => new Set(results.map((r) => String(get(r)))).size > 1).map(([l]) => l);
    expect(differing).toEqual([
      "mappings alive at unbind",
      "in-flight pages unmapped by destroy",
      "late returns that skipped the DMA API",
      "unmaps after unbind",
      "syncs after unbind",
      "stalled-shutdown warnings",
      "kernel log lines",
      "ppemu: lines (the emulator's own)",
      "unbind bug",
    ]);
    // classic: 64 mappings outlive the driver; each late return syncs and unmaps through the dead
    // device (2 × 64 ppemu: lines); dma-debug reports the device once. v6.1 and v6.6 also warn once
    // at 60 s (32 still out). item-block and xarray: destroy unmapped the 64, returns skip the DMA API.
    const classic = (stall: number) => ({
      "mappings alive at unbind": 64,
      "in-flight pages unmapped by destroy": 0,
      "late returns that skipped the DMA API": 0,
      "unmaps after unbind": 64,
      "syncs after unbind": 64,
      "stalled-shutdown warnings": stall,
      "kernel log lines": 1 + stall,
      "ppemu: lines (the emulator's own)": 128,
      "unbind bug": "SHOWN",
    });
    const fixed = {
      "mappings alive at unbind": 0,
      "in-flight pages unmapped by destroy": 64,
      "late returns that skipped the DMA API": 64,
      "unmaps after unbind": 0,
      "syncs after unbind": 0,
      "stalled-shutdown warnings": 0,
      "kernel log lines": 0,
      "ppemu: lines (the emulator's own)": 0,
      "unbind bug": "fixed",
    };
    expect(rowsOf((l) => differing.includes(l))).toEqual({
      "v6.1": classic(1),
      "v6.6": classic(1),
      "v6.12": classic(0),
      "v6.15": classic(0),
      v11: fixed,
      "v7-encoded-next": fixed,
      "v6.16": fixed,
      "v6.17": fixed,
      "v6.18": fixed,
      "v6.19": fixed,
      mainline: fixed,
      "v7.1-rc-netpp": fixed,
      "memdesc-item": fixed,
    });
    // The other rows, the same on every build: the 64th return at floor(64 * 120000 / 65) = 118153 ms,
    // freed at the next retry.
    const same = {
      "pages allocated": 256,
      "in flight at unbind": 64,
      "late returns": 64,
      "double unmaps": 0,
      "mappings leaked": 0,
      "frames lost": 0,
      "pool freed at (virtual ms after unbind)": 119_000,
    };
    expect(UNBIND_ROWS.map(([l]) => l).filter((l) => !differing.includes(l))).toEqual(Object.keys(same));
    expect(rowsOf((l) => !differing.includes(l))).toEqual(Object.fromEntries(builds.map((b) => [b.name, same])));
  });

  it("dma-debug's report is the same on every classic build: one per device, [count=64], the highest-bucket entry", () => {
    for (const b of allBuilds()) {
      const pending = atDefaults(b).diagnostics.filter((d) => d.kind === "dma_debug_pending");
      expect(pending, b.name).toEqual(
        b.layout.tracksInflight
          ? []
          : [
              {
                kind: "dma_debug_pending",
                count: 1,
                first:
                  "DMA-API: ppemu 0000:03:00.0: device driver has pending DMA allocations while released from device [count=64]\n" +
                  "One of leaked entries details: [device address=0x0000000000040000] [size=4096 bytes] [mapped with DMA_FROM_DEVICE] [mapped as single]\n" +
                  "WARNING: CPU: 0 PID: 1 at kernel/dma/debug.c dma_debug_device_change",
              },
            ],
      );
    }
  });
});

describe('v6.8: be0096676e23 "net: page_pool: mute the periodic warning for visible page pools"', () => {
  it("v6.1 and v6.6 warn at 60 s in the old words; v6.12+ stay silent: the pool's netdev moved to loopback", () => {
    for (const b of allBuilds()) {
      const old = PRE_V6_8.includes(b.name);
      expect(b.switches.stallWarning, b.name).toBe(old ? "every-pool" : "netdev-less");
      expect(stalls(atDefaults(b)), b.name).toEqual(old ? [["stalled_pool_shutdown_old", 1, OLD_STALL]] : []);
    }
  });

  it("without a netdev every v6.8+ build warns, in the new words with the pool's id (classic v6.12 and v6.15 included)", () => {
    const classicNew = allBuilds().filter((b) => b.layout.name === "classic" && !PRE_V6_8.includes(b.name));
    expect(classicNew.map((b) => b.name)).toEqual(["v6.12", "v6.15"]);
    for (const b of allBuilds()) {
      const r = runUnbind({ kernel: b, netdev: false }).result;
      const old = PRE_V6_8.includes(b.name);
      expect(stalls(r), b.name).toEqual([old ? ["stalled_pool_shutdown_old", 1, OLD_STALL] : ["stalled_pool_shutdown", 1, NEW_STALL]]);
      // Only the warning changes: the DMA story is the default run's.
      const d = atDefaults(b);
      expect([r.unmaps_after_unbind, r.syncs_after_unbind, r.pool_freed_at_ms, r.verdict], b.name).toEqual([d.unmaps_after_unbind, d.syncs_after_unbind, d.pool_freed_at_ms, d.verdict]);
      expect(r.kernel_log_lines, b.name).toBe(old ? d.kernel_log_lines : d.kernel_log_lines + 1);
    }
  });
});

describe('v6.11: 4321de4497b2 "page_pool: check for DMA sync shortcut earlier" (dma_dev_need_sync)', () => {
  it("on a coherent device v6.12+ never syncs, so not after unbind either; v6.1 and v6.6 still sync 64 times after unbind", () => {
    for (const b of allBuilds()) {
      const old = PRE_V6_8.includes(b.name);
      expect(b.switches.syncNeedsDevice, b.name).toBe(!old);
      const run = runUnbind({ kernel: b, coherent: true });
      const r = run.result;
      const s = run.sys.dma.deviceStats(run.dev);
      // Every sync the pool issues: 256 at allocation + 192 on the driver's returns before unbind.
      expect([r.syncs_after_unbind, s.syncs], b.name).toEqual(old ? [64, 448] : [0, 0]);
      // The sync was never the bug: classic still unmaps through the dead device.
      expect(r.unmaps_after_unbind, b.name).toBe(b.layout.tracksInflight ? 0 : 64);
      expect(r.verdict, b.name).toBe(b.layout.tracksInflight ? "fixed" : "SHOWN");
      expect(r.ppemu_lines, b.name).toBe(b.layout.tracksInflight ? 0 : old ? 128 : 64);
    }
  });
});

describe("xarray scrub: v6.16 as merged (ee62ce7a1d90) releases; mainline's __page_pool_unmap_netmem_dma() only unmaps (no commit id in src/builds/xarray.ts)", () => {
  const xarrays = allBuilds().filter((b) => b.layout.name === "xarray");

  it("destroy unmaps all 64 in-flight pages on every xarray build; only mainline leaves dma_addr in the page", () => {
    expect(xarrays.map((b) => [b.name, xarrayScrubOf(b)])).toEqual([
      ["v6.16", "release"],
      ["v6.17", "release"],
      ["v6.18", "release"],
      ["v6.19", "release"],
      ["mainline", "unmap-only"],
    ]);
    for (const b of xarrays) {
      const run = runUnbind({ kernel: b }, "destroyed");
      expect(run.result.unmapped_by_destroy, b.name).toBe(64);
      const mem = run.sys.m.mem;
      let held = 0;
      run.stack.forEachHeld((page) => {
        held++;
        const iova = mem.rd32(page + PAGE_DMA_ADDR);
        if (xarrayScrubOf(b) === "unmap-only") {
          expect(iova, b.name).not.toBe(0);
          // …but the IOMMU no longer translates it to the page: the mapping is gone.
          expect(run.sys.dma.iovaToPhys(run.dev, iova), b.name).not.toBe(mem.pageAddress(page));
        } else {
          expect(mem.rd64(page + PAGE_DMA_ADDR), b.name).toBe(0);
        }
      });
      expect(held).toBe(64);
    }
    // The first page the stack holds, on mainline: dma_addr still 0x40000 (the refill's 64th IOVA).
    const main = runUnbind({ kernel: "mainline" }, "destroyed");
    let first = -1;
    main.stack.forEachHeld((page) => void (first = first < 0 ? main.sys.m.mem.rd32(page + PAGE_DMA_ADDR) : first));
    expect(first).toBe(0x40000);
  });

  it("mainline's late returns find the mapping gone and skip the DMA API, as v6.16's do", () => {
    for (const b of xarrays) {
      const run = runUnbind({ kernel: b });
      const r = run.result;
      expect([r.late_returns_without_dma, r.unmaps_after_unbind, r.double_unmaps, r.mappings_leaked], b.name).toEqual([64, 0, 0, 0]);
      // 256 maps, 256 unmaps: 192 as the driver's pages were released, 64 by destroy; none twice.
      const s = run.sys.dma.deviceStats(run.dev);
      expect([s.maps, s.unmaps, s.doubleUnmap], b.name).toEqual([256, 256, 0]);
    }
  });

  // "mappings leaked" must not read dma_addr: on mainline the 22 pages the stack keeps still carry
  // theirs, yet destroy unmapped them.
  it("mainline, K < M: the pages the stack keeps carry a dma_addr but hold no mapping (mappings leaked 0)", () => {
    const run = runUnbind({ kernel: "mainline", pages: 128, inflight: 32, lateReturns: 10, memBytes: 8 << 20 });
    const r = run.result;
    expect([r.unmapped_by_destroy, r.late_returns_without_dma, r.mappings_leaked, r.pool_freed_at_ms]).toEqual([32, 10, 0, null]);
    let stale = 0;
    run.stack.forEachHeld((page) => void (stale += run.sys.m.mem.rd32(page + PAGE_DMA_ADDR) !== 0 ? 1 : 0));
    expect([run.stack.count, stale]).toEqual([22, 22]);
  });
});

describe('v6.18: a1b501a8c6a8 "page_pool: Clamp pool size to max 16K pages"', () => {
  it("pool_size 40000 is -E2BIG (errno 7) up to v6.17; v6.18 and later clamp the ring to 16384", () => {
    for (const b of allBuilds()) {
      if (b.switches.poolSizeRule === "e2big") {
        expect(() => runUnbind({ kernel: b, poolSize: 40_000 }, "allocated"), b.name).toThrow("page_pool_create failed: -7");
        continue;
      }
      const run = runUnbind({ kernel: b, poolSize: 40_000 }, "allocated");
      expect(run.sys.m.mem.rd32(run.sys.pps.ringOf(run.pool) + PTR_RING_SIZE), b.name).toBe(16384);
    }
    expect(allBuilds().filter((b) => b.switches.poolSizeRule === "clamp").map((b) => b.name)).toEqual(["v6.18", "v6.19", "mainline", "v7.1-rc-netpp", "memdesc-item"]);
    expect(findBuild("v6.16")!.switches.poolSizeRule).toBe("e2big");
  });
});
