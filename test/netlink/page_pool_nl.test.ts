import { describe, expect, it } from "vitest";
import { bootPpSystem, NetStack, type PpSystem } from "../../src/pool/index.js";
import { PP_FLAG_DMA_MAP, PP_FLAG_DMA_SYNC_DEV } from "../../src/pool/page_pool.js";
import { netdevCreate, netdevUnregister } from "../../src/pool/netdev.js";
import { DMA_FROM_DEVICE } from "../../src/dma/index.js";
import { setServingSoftirq } from "../../src/smp/percpu.js";
import { runUnbind, UNBIND_PROBE_MS } from "../../src/scenario/unbind.js";
import { BufferIo, UsageError } from "../../src/cli/common.js";
import { netlinkCommand } from "../../src/cli/cmd-netlink.js";
import { ethtoolCommand } from "../../src/cli/cmd-ethtool.js";
import { pagePoolGetDump, pagePoolStatsDump, pagePoolGetDo, netlinkUnsupported, visiblePools } from "../../src/netlink/page_pool_nl.js";
import { pagePoolSummary, cFixed1 } from "../../src/netlink/summary.js";
import { pprint, pyJsonDumps } from "../../src/netlink/pprint.js";

/**
 * Two drivers on one v6.16 machine, 5 s after boot: eth0's driver unbinds with 3 of its 8 pages
 * held by the stack (napi_disable, return the rest, page_pool_destroy, unregister_netdev: its pool
 * is orphaned to lo); eth1's pool stays live with 4 pages out and 60 in its alloc cache (one bulk
 * slow-path refill of 64: in flight too, as the kernel counts `hold_cnt - release_cnt`).
 */
function twoDrivers(kernel = "v6.16"): { sys: PpSystem; orphan: number; live: number } {
  const sys = bootPpSystem(kernel, { bytes: 32 << 20 });
  const { m, dma, pps } = sys;
  const mem = m.mem;
  const dev0 = dma.deviceCreate("0000:03:00.0");
  const dev1 = dma.deviceCreate("0000:04:00.0");
  const eth0 = netdevCreate(pps, "eth0");
  const eth1 = netdevCreate(pps, "eth1");
  const params = (dev: number, netdev: number) => ({
    flags: PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV,
    poolSize: 256,
    dev,
    dmaDir: DMA_FROM_DEVICE,
    maxLen: mem.pageSize,
    napiCpu: 0,
    netdev,
  });
  const orphan = pps.create(params(dev0, eth0));
  const live = pps.create(params(dev1, eth1));
  const stack = new NetStack(pps, 64, { cpu: 1, inSoftirq: true });
  mem.bindCpu(0);
  setServingSoftirq(mem, true);
  const a = Array.from({ length: 8 }, () => pps.allocPages(orphan));
  const b = Array.from({ length: 4 }, () => pps.allocPages(live));
  for (const p of a.slice(0, 3)) stack.hold(p);
  for (const p of b) stack.hold(p);
  pps.runUntil(5_250);
  setServingSoftirq(mem, false);
  pps.napiDisable(pps.napiOf(orphan));
  for (const p of a.slice(3)) pps.putFullPage(orphan, p, false);
  pps.destroy(orphan);
  netdevUnregister(pps, eth0);
  dma.deviceUnbind(dev0);
  return { sys, orphan, live };
}

function run(cmd: typeof netlinkCommand, ...argv: string[]): { code: number; out: string } {
  const io = new BufferIo();
  const code = cmd.run(argv, io) as number;
  return { code, out: io.stdout };
}

describe("page-pool-get: page_pool_nl_fill()'s attributes and presence rules (v6.16)", () => {
  it("an orphaned pool (no ifindex, detach-time, 3 pages in flight) and a live one, lo first", () => {
    const { sys } = twoDrivers();
    expect(visiblePools(sys).map((p) => [p.id, p.ifindex, p.orphaned])).toEqual([
      [1, 3, true],
      [2, 5, false],
    ]);
    expect(pprint(pagePoolGetDump(sys))).toBe(
      "[{'detach-time': 5, 'id': 1, 'inflight': 3, 'inflight-mem': 12288},\n" + " {'id': 2, 'ifindex': 5, 'inflight': 64, 'inflight-mem': 262144}]\n",
    );
    // --output-json: the kernel's fill order (id, ifindex, napi-id, inflight, inflight-mem, detach-time).
    expect(pyJsonDumps(pagePoolGetDump(sys))).toBe(
      '[{"id": 1, "inflight": 3, "inflight-mem": 12288, "detach-time": 5}, {"id": 2, "ifindex": 5, "inflight": 64, "inflight-mem": 262144}]',
    );
    expect(pagePoolGetDo(sys, 2)).toEqual({ id: 2, ifindex: 5, inflight: 64, "inflight-mem": 262144 });
    expect(pagePoolGetDo(sys, 3)).toBeNull();
  });

  it("detach-time: user.detach_time as page_pool_detached() writes it (u64 seconds; mainline's ktime_t ns, divided)", () => {
    for (const kernel of ["v6.16", "mainline"]) expect(pagePoolGetDo(twoDrivers(kernel).sys, 1)!["detach-time"]).toBe(5);
    const v616 = twoDrivers("v6.16");
    v616.sys.m.mem.wr64num(v616.orphan + v616.sys.pps.o.has("user.detach_time"), 7);
    expect(pagePoolGetDo(v616.sys, 1)!["detach-time"]).toBe(7);
    const main = twoDrivers("mainline");
    main.sys.m.mem.wr64num(main.orphan + main.sys.pps.o.has("user.detach_time"), 7_999_999_999);
    expect(pagePoolGetDo(main.sys, 1)!["detach-time"]).toBe(7);
    // The live pool was never destroyed: no detach-time.
    expect(pagePoolGetDo(main.sys, 2)!["detach-time"]).toBeUndefined();
  });

  it("page-pool-stats-get: the info nest (no ifindex for the orphan) and the 11 counters", () => {
    const { sys } = twoDrivers();
    expect(pyJsonDumps(pagePoolStatsDump(sys))).toBe(
      '[{"info": {"id": 1}, "alloc-fast": 7, "alloc-slow": 1, "alloc-slow-high-order": 0, "alloc-empty": 1, "alloc-refill": 0, ' +
        '"alloc-waive": 0, "recycle-cached": 0, "recycle-cache-full": 0, "recycle-ring": 5, "recycle-ring-full": 0, "recycle-released-refcnt": 0}, ' +
        '{"info": {"id": 2, "ifindex": 5}, "alloc-fast": 3, "alloc-slow": 1, "alloc-slow-high-order": 0, "alloc-empty": 1, "alloc-refill": 0, ' +
        '"alloc-waive": 0, "recycle-cached": 0, "recycle-cache-full": 0, "recycle-ring": 0, "recycle-ring-full": 0, "recycle-released-refcnt": 0}]',
    );
  });

  it("summary: the ynl sample's lines, orphans under <orphan>, zombies counted", () => {
    const { sys } = twoDrivers();
    expect(pagePoolSummary(sys)).toBe(
      "<orphan>\tpage pools: 1 (zombies: 1)\n" +
        "\t\trefs: 3 bytes: 12288 (refs: 3 bytes: 12288)\n" +
        "\t\trecycling: 62.5% (alloc: 1:7 recycle: 5:0)\n" +
        "    eth1[5]\tpage pools: 1 (zombies: 0)\n" +
        "\t\trefs: 64 bytes: 262144 (refs: 0 bytes: 0)\n" +
        "\t\trecycling: 0.0% (alloc: 1:3 recycle: 0:0)\n",
    );
    expect([cFixed1(0 / 0), cFixed1(0.25 * 100), cFixed1(0.125), cFixed1(0.375)]).toEqual(["-nan", "25.0", "0.1", "0.4"]);
  });
});

describe("ppemu netlink on the unbind scenario", () => {
  it("v6.16 after unbind: the pool is orphaned to lo with the stack's 64 pages in flight", () => {
    const r = runUnbind({ kernel: "v6.16" }, "unbound");
    // page_pool_detached() ran at destroy, UNBIND_PROBE_MS into boot: detach-time 5 (seconds of CLOCK_BOOTTIME).
    expect(r.sys.m.mem.rd64(r.pool + r.sys.pps.o.has("user.detach_time"))).toBe(UNBIND_PROBE_MS / 1000);
    expect(run(netlinkCommand, "page-pool-get", "--kernel", "v6.16")).toEqual({
      code: 0,
      out: "[{'detach-time': 5, 'id': 1, 'inflight': 64, 'inflight-mem': 262144}]\n",
    });
    expect(run(netlinkCommand, "page-pool-get", "--kernel", "v6.16", "--id", "1", "--output-json").out).toBe(
      '{"id": 1, "inflight": 64, "inflight-mem": 262144, "detach-time": 5}\n',
    );
  });

  it("v6.16, a live pool (--at allocated): ifindex, all 256 pages out", () => {
    expect(run(netlinkCommand, "page-pool-get", "--kernel", "v6.16", "--at", "allocated")).toEqual({
      code: 0,
      out: "[{'id': 1, 'ifindex': 3, 'inflight': 256, 'inflight-mem': 1048576}]\n",
    });
    expect(run(netlinkCommand, "page-pool-stats-get", "--kernel", "v6.16", "--at", "allocated").out).toBe(
      "[{'alloc-empty': 4,\n  'alloc-fast': 252,\n  'alloc-refill': 0,\n  'alloc-slow': 4,\n  'alloc-slow-high-order': 0,\n" +
        "  'alloc-waive': 0,\n  'info': {'id': 1, 'ifindex': 3},\n  'recycle-cache-full': 0,\n  'recycle-cached': 0,\n" +
        "  'recycle-released-refcnt': 0,\n  'recycle-ring': 0,\n  'recycle-ring-full': 0}]\n",
    );
    expect(run(netlinkCommand, "summary", "--kernel", "v6.16", "--at", "allocated").out).toBe(
      "    eth0[3]\tpage pools: 1 (zombies: 0)\n\t\trefs: 256 bytes: 1048576 (refs: 0 bytes: 0)\n\t\trecycling: 0.0% (alloc: 4:252 recycle: 0:0)\n",
    );
  });

  it("the pool freed at the end: an empty dump; an unknown id is ynl's ENOENT, exit 1", () => {
    expect(run(netlinkCommand, "page-pool-get", "--kernel", "v6.16", "--at", "end")).toEqual({ code: 0, out: "[]\n" });
    expect(run(netlinkCommand, "page-pool-get", "--kernel", "v6.16", "--id", "9")).toEqual({ code: 1, out: "Netlink error: No such file or directory\n" });
  });

  it("a devmem provider pool shows dmabuf; v11 adds item_mem_resident / item_mem_used", () => {
    expect(run(netlinkCommand, "page-pool-get", "--kernel", "v6.16", "--provider", "devmem", "--at", "allocated").out).toBe(
      "[{'dmabuf': 1, 'id': 1, 'ifindex': 3, 'inflight': 256, 'inflight-mem': 1048576}]\n",
    );
    expect(run(netlinkCommand, "page-pool-get", "--kernel", "v11", "--at", "destroyed").out).toBe(
      "[{'detach-time': 5,\n  'id': 1,\n  'ifindex': 3,\n  'inflight': 64,\n  'inflight-mem': 262144,\n  'item_mem_resident': 45056,\n  'item_mem_used': 45056}]\n",
    );
  });

  it("builds before v6.8 have no page-pool netlink: one line, exit 2", () => {
    const r = runUnbind({ kernel: "v6.6" }, "allocated");
    expect(netlinkUnsupported(r.sys)).toBe("kernel v6.6 has no page-pool netlink (the netdev family's page-pool objects came in v6.8)");
    expect(() => run(netlinkCommand, "page-pool-get", "--kernel", "v6.6")).toThrow(UsageError);
    expect(() => run(netlinkCommand, "page-pool-get", "--dump", "--id", "1")).toThrow("ppemu netlink: give --dump or --id N, not both");
    expect(() => run(netlinkCommand, "bogus")).toThrow("ppemu netlink: unknown operation 'bogus' (valid: page-pool-get, page-pool-stats-get, summary)");
  });
});

describe("ppemu ethtool -S", () => {
  const lines = (extra: string[] = []) =>
    [
      "NIC statistics:",
      "     rx_pp_alloc_fast: 252",
      "     rx_pp_alloc_slow: 4",
      "     rx_pp_alloc_slow_ho: 0",
      "     rx_pp_alloc_empty: 4",
      "     rx_pp_alloc_refill: 0",
      "     rx_pp_alloc_waive: 0",
      ...extra,
      "     rx_pp_recycle_cached: 0",
      "     rx_pp_recycle_cache_full: 0",
      "     rx_pp_recycle_ring: 0",
      "     rx_pp_recycle_ring_full: 0",
      "     rx_pp_recycle_released_ref: 0",
    ].join("\n") + "\n";

  it("the 11 rx_pp_* strings of the driver's live pool (v6.16), v11's two more after rx_pp_alloc_waive", () => {
    expect(run(ethtoolCommand, "-S", "--kernel", "v6.16")).toEqual({ code: 0, out: lines() });
    expect(run(ethtoolCommand, "-S", "eth0", "--kernel", "v11").out).toBe(lines(["     rx_pp_alloc_item_fast_empty: 0", "     rx_pp_alloc_item_slow_failed: 0"]));
  });

  it("a device the machine does not have (gone after unbind): one line, exit 2", () => {
    expect(() => run(ethtoolCommand, "-S", "--kernel", "v6.16", "--at", "unbound")).toThrow(
      'ppemu ethtool: eth0: no such device on the machine (scenario unbind, kernel v6.16, at "unbound": the driver unregistered it)',
    );
    expect(() => run(ethtoolCommand, "--kernel", "v6.16")).toThrow("ppemu ethtool: only -S (--statistics) is emulated: ppemu ethtool -S [DEV]");
  });
});
