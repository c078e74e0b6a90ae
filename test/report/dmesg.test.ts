/** The machine's log as dmesg prints it: printk timestamps, one prefix a line, bad_page()'s dump_page(). */
import { describe, expect, it } from "vitest";
import { dmesgLines, dmesgText, printkTime } from "../../src/report/dmesg.js";
import { dumpPageText, formatPageFlags } from "../../src/mem/dump_page.js";
import { runUnbind } from "../../src/scenario/unbind.js";
import { bootPpSystem } from "../../src/pool/index.js";
import { PP_FLAG_DMA_MAP, PP_FLAG_DMA_SYNC_DEV } from "../../src/pool/page_pool.js";
import { DMA_FROM_DEVICE } from "../../src/dma/index.js";
import { Diag, formatDiag } from "../../src/mem/diag.js";
import { PAGE_MAPPING, PAGE_PP_MAGIC } from "../../src/mem/page.js";

/** A pool page on `kernel`, put_page()d behind the pool's back at 1.234 s: bad_page "page_pool leak". */
function leakOn(kernel: string) {
  const sys = bootPpSystem(kernel, { bytes: 8 << 20 });
  const dev = sys.dma.deviceCreate("0000:03:00.0", { coherent: false });
  const pool = sys.pps.create({ flags: PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV, poolSize: 64, dev, dmaDir: DMA_FROM_DEVICE, maxLen: sys.m.mem.pageSize, napiCpu: 0, netdev: 0 });
  const page = sys.pps.allocPages(pool);
  sys.m.mem.advanceMs(1234);
  sys.m.pa.putPage(page);
  return { sys, page };
}

describe("printk timestamps", () => {
  it("print_time(): [%5lu.%06lu] of the virtual clock's milliseconds", () => {
    expect(printkTime(0)).toBe("[    0.000000]");
    expect(printkTime(1234)).toBe("[    1.234000]");
    expect(printkTime(60_000)).toBe("[   60.000000]");
    expect(printkTime(86_400_000)).toBe("[86400.000000]");
    expect(printkTime(123_456_789)).toBe("[123456.789000]"); // %5lu widens, never truncates
  });
});

describe("dmesg of a classic-build unbind", () => {
  // No netdev: v6.8+ page_pool_release_retry() warns at 60 s for a pool with pages in flight. The driver
  // probes UNBIND_PROBE_MS (5 s) into boot: every line is 5 s after the scenario's own times.
  const run = runUnbind({ kernel: "classic", pages: 8, inflight: 2, windowMs: 150_000, netdev: false });

  it("the dma-debug report (each of its lines prefixed), the late DMA API use, the stalled shutdown warning", () => {
    expect(run.sys.build.name).toBe("v6.15");
    expect(dmesgLines(run.sys.m.mem)).toEqual([
      "[    5.000000] DMA-API: ppemu 0000:03:00.0: device driver has pending DMA allocations while released from device [count=2]",
      "[    5.000000] One of leaked entries details: [device address=0x0000000000040000] [size=4096 bytes] [mapped with DMA_FROM_DEVICE] [mapped as single]",
      "[    5.000000] WARNING: CPU: 0 PID: 1 at kernel/dma/debug.c dma_debug_device_change",
      "[   55.000000] ppemu: iommu: device 0x1: DMA sync after driver unbind (iova 0x40000)",
      "[   56.000000] ppemu: iommu: device 0x1: DMA unmap after driver unbind (iova 0x40000)",
      "[   65.000000] page_pool_release_retry() stalled pool shutdown: id 1, 1 inflight 60 sec",
      "[  105.000000] ppemu: iommu: device 0x1: DMA sync after driver unbind (iova 0x3f000)",
      "[  106.000000] ppemu: iommu: device 0x1: DMA unmap after driver unbind (iova 0x3f000)",
    ]);
  });

  it("origin kernel: only what the kernel prints; the text ends in a newline", () => {
    const text = dmesgText(run.sys.m.mem, { origin: "kernel" });
    expect(text).toBe(
      "[    5.000000] DMA-API: ppemu 0000:03:00.0: device driver has pending DMA allocations while released from device [count=2]\n" +
        "[    5.000000] One of leaked entries details: [device address=0x0000000000040000] [size=4096 bytes] [mapped with DMA_FROM_DEVICE] [mapped as single]\n" +
        "[    5.000000] WARNING: CPU: 0 PID: 1 at kernel/dma/debug.c dma_debug_device_change\n" +
        "[   65.000000] page_pool_release_retry() stalled pool shutdown: id 1, 1 inflight 60 sec\n",
    );
  });

  it("an empty log is empty", () => {
    const sys = bootPpSystem("classic", { bytes: 8 << 20 });
    expect(dmesgText(sys.m.mem)).toBe("");
    expect(dmesgLines(sys.m.mem)).toEqual([]);
  });
});

describe("bad_page() \"page_pool leak\" with dump_page()", () => {
  it("v6.16+ (PP_MAGIC_MASK): page:, flags:, the struct page's 8 words as raw:, the reason", () => {
    const { sys, page } = leakOn("v6.16");
    const mem = sys.m.mem;
    expect(mem.diagCount(Diag.PAGE_POOL_LEAK)).toBe(1);
    expect(page >>> 6).toBe(0x6c);
    expect(dmesgLines(mem)).toEqual([
      "[    1.234000] BUG: Bad page state in process ppemu  pfn:0006c",
      "[    1.234000] page: refcount:0 mapcount:0 mapping:0000000000000000 index:0x40000 pfn:0x6c",
      "[    1.234000] flags: 0x0(node=0|zone=0|lastcpupid=0x0)",
      // flags, pp_magic (PP_SIGNATURE | xarray id 1 << 13), pp (a direct-map pointer), pad;
      // dma_addr (the IOVA, never unmapped), pp_ref_count 1, _mapcount -1 | _refcount 0, memcg_data.
      "[    1.234000] raw: 0000000000000000 dead000000002040 ffff888000028000 0000000000000000",
      "[    1.234000] raw: 0000000000040000 0000000000000001 00000000ffffffff 0000000000000000",
      "[    1.234000] page dumped because: page_pool leak",
    ]);
    // The record's own text (no dump_page resolver) is unchanged: the first line and the reason.
    expect(mem.diagFirst(Diag.PAGE_POOL_LEAK)!.text).toBe("BUG: Bad page state in process ppemu  pfn:0006c\npage dumped because: page_pool leak");
  });

  it("v7.1-rc-netpp: the page is typed, so mapcount reads 0 and page_type: f9(unknown) follows flags:", () => {
    const { sys } = leakOn("v7.1-rc-netpp");
    expect(dmesgLines(sys.m.mem)).toEqual([
      "[    1.234000] BUG: Bad page state in process ppemu  pfn:0006c",
      "[    1.234000] page: refcount:0 mapcount:0 mapping:0000000000000000 index:0x40000 pfn:0x6c",
      "[    1.234000] flags: 0x0(node=0|zone=0|lastcpupid=0x0)",
      "[    1.234000] page_type: f9(unknown)",
      // pp_magic holds only the DMA index (1 << 13), no PP_SIGNATURE; page_type 0xf9000000.
      "[    1.234000] raw: 0000000000000000 0000000000002000 ffff888000028000 0000000000000000",
      "[    1.234000] raw: 0000000000040000 0000000000000001 00000000f9000000 0000000000000000",
      "[    1.234000] page dumped because: page_pool leak",
    ]);
  });

  it("the pre-v6.16 mask (classic, ~0x3UL): a hand-written PP_SIGNATURE in a freed page", () => {
    const sys = bootPpSystem("classic", { bytes: 8 << 20 });
    const mem = sys.m.mem;
    const p = sys.m.pa.allocPages(0);
    mem.wr64(p + PAGE_PP_MAGIC, 0xdead0000, 0x40);
    mem.advanceMs(7);
    sys.m.pa.freePages(p, 0);
    expect(dmesgText(mem)).toBe(
      [
        `[    0.007000] BUG: Bad page state in process ppemu  pfn:${(p >>> 6).toString(16).padStart(5, "0")}`,
        `[    0.007000] page: refcount:0 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x${(p >>> 6).toString(16)}`,
        "[    0.007000] flags: 0x0(node=0|zone=0|lastcpupid=0x0)",
        "[    0.007000] raw: 0000000000000000 dead000000000040 0000000000000000 0000000000000000",
        "[    0.007000] raw: 0000000000000000 0000000000000000 00000000ffffffff 0000000000000000",
        "[    0.007000] page dumped because: page_pool leak",
        "",
      ].join("\n"),
    );
  });
});

describe("dump_page() of other frames", () => {
  it("a tail freed on its own: its folio's refcount and index + idx, the head: line and the folio's two struct pages", () => {
    const sys = bootPpSystem("classic", { bytes: 8 << 20 });
    const mem = sys.m.mem;
    const head = sys.m.pa.allocPages(1);
    const pfn = (head >>> 6) + 1;
    sys.m.pa.freePages(head + 64, 0);
    expect(mem.diagCount(Diag.BAD_PAGE_STATE)).toBe(1);
    const h = (head >>> 0).toString(16).padStart(8, "0");
    const t = ((head | 1) >>> 0).toString(16).padStart(8, "0");
    expect(dmesgLines(mem)).toEqual([
      `[    0.000000] BUG: Bad page state in process ppemu  pfn:${pfn.toString(16).padStart(5, "0")}`,
      `[    0.000000] page: refcount:1 mapcount:0 mapping:0000000000000000 index:0x1 pfn:0x${pfn.toString(16)}`,
      "[    0.000000] head: order:1 mapcount:0 entire_mapcount:0 nr_pages_mapped:0 pincount:0",
      "[    0.000000] flags: 0x40(head|node=0|zone=0|lastcpupid=0x0)",
      `[    0.000000] raw: 0000000000000001 ffffea00${t} 0000000000000000 0000000000000000`,
      "[    0.000000] raw: 0000000000000000 0000000000000000 00000000ffffffff 0000000000000000",
      "[    0.000000] head: 0000000000000040 0000000000000000 0000000000000000 0000000000000000",
      "[    0.000000] head: 0000000000000000 0000000000000000 00000001ffffffff 0000000000000000",
      `[    0.000000] head: 0000000000000001 ffffea00${t} 0000000000000000 0000000000000000`,
      "[    0.000000] head: 0000000000000000 0000000000000000 00000000ffffffff 0000000000000000",
    ]);
    expect(h).toBe(((pfn - 1) << 6).toString(16).padStart(8, "0"));
  });

  it("a non-NULL mapping prints unhashed (no_hash_pointers); no dump for a pfn past the memmap", () => {
    const sys = bootPpSystem("classic", { bytes: 8 << 20 });
    const mem = sys.m.mem;
    const p = sys.m.pa.allocPages(0);
    mem.wr64(p + PAGE_MAPPING, 0xffff8880, 0x1000);
    sys.m.pa.freePages(p, 0);
    expect(dmesgLines(mem)[1]).toBe(`[    0.000000] page: refcount:0 mapcount:0 mapping:ffff888000001000 index:0x0 pfn:0x${(p >>> 6).toString(16)}`);
    expect(dumpPageText(mem, mem.nrFrames)).toBeUndefined();
    expect(formatDiag(Diag.BAD_PAGE_STATE, mem.nrFrames, 0, 0, { dumpPage: (pfn) => dumpPageText(mem, pfn) })).toBe(
      `BUG: Bad page state in process ppemu  pfn:${mem.nrFrames.toString(16).padStart(5, "0")}`,
    );
  });

  it("%pGp: the flags' number, the named flags, then the fields; an unnamed main bit as %#lx", () => {
    expect(formatPageFlags(0x01fffe00, 0)).toBe("0x1fffe0000000000(node=0|zone=1|lastcpupid=0x7fff)"); // the v6.17 sample's word
    expect(formatPageFlags(0, (1 << 13) | (1 << 6))).toBe("0x2040(reserved|head|node=0|zone=0|lastcpupid=0x0)");
    expect(formatPageFlags(0, (1 << 6) | 1)).toBe("0x41(head|0x1|node=0|zone=0|lastcpupid=0x0)");
    // The emulator's own PG_pp_in_pool (bit 28) is no kernel flag: in the number only.
    expect(formatPageFlags(0, 1 << 28)).toBe("0x10000000(node=0|zone=0|lastcpupid=0x0)");
  });
});

/** A CLI run in this process: exit code, stdout, stderr. */
async function cli(...argv: string[]) {
  const { main } = await import("../../src/cli/main.js");
  const { BufferIo } = await import("../../src/cli/common.js");
  const io = new BufferIo();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

describe("--dmesg on explain and stress", () => {

  it("explain: the scenario machine's log after the explanations, as the scenario's own --dmesg prints it", async () => {
    const r = await cli("explain", "0x91ff0", "--kernel", "v6.15", "--at", "end", "--dmesg");
    expect(r.code).toBe(0);
    const log = r.out.slice(r.out.indexOf("\ndmesg:\n") + "\ndmesg:\n".length);
    const run = runUnbind({ kernel: "v6.15", pages: 40, inflight: 8, poolSize: 64 });
    expect(log).toBe(dmesgText(run.sys.m.mem));
    expect(log.split("\n")[0]).toBe("[    5.000000] DMA-API: ppemu 0000:03:00.0: device driver has pending DMA allocations while released from device [count=8]");
    expect(await cli("explain", "0x91ff0", "--dmesg", "--json")).toMatchObject({ code: 2, err: "ppemu explain: --dmesg prints the kernel log after the text: drop --json\n" });
  });

  it("stress: each build's log after the table; --json refuses it", { timeout: 60_000 }, async () => {
    const r = await cli("stress", "--kernel", "v6.15", "--seconds", "1", "--dmesg");
    const at = r.out.indexOf("\ndmesg (v6.15):\n");
    expect(at).toBeGreaterThan(0);
    const lines = r.out.slice(at + "\ndmesg (v6.15):\n".length).split("\n").filter((l) => l !== "");
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(/^\[ *\d+\.\d{6}\] /);
    expect((await cli("stress", "--dmesg", "--json")).code).toBe(2);
  });
});

describe("--dmesg on the other scenarios and race --replay", () => {
  const logOf = (out: string, head: string) => out.slice(out.indexOf(`\n${head}\n`) + head.length + 2);

  it("niov-init, frag, netdevsim-pp-hold: each machine's log after the output; --json refuses it", async () => {
    const n = await cli("scenario", "niov-init", "--kernel", "v7.1-rc-netpp", "--dmesg");
    expect(logOf(n.out, "dmesg (v7.1-rc-netpp):").split("\n").slice(0, 2)).toEqual([
      "[    0.000000] page dumped because: VM_BUG_ON_PAGE(data_race(page->page_type) != UINT_MAX)",
      "[    0.000000] kernel BUG at ./include/linux/page-flags.h:1062!",
    ]);
    const f = await cli("scenario", "frag", "--kernel", "v6.16", "--dmesg");
    expect(logOf(f.out, "dmesg (v6.16, checks off):")).toBe("[    0.000000] WARNING: CPU: 0 PID: 1 at include/net/page_pool/helpers.h page_pool_unref_netmem\n");
    expect(f.out).toContain("\ndmesg (v6.16, checks on):\n");
    const d = await cli("scenario", "netdevsim-pp-hold", "--kernel", "v6.16", "--dmesg");
    expect(logOf(d.out, "dmesg (v6.16):")).toBe("(empty)\n");
    for (const s of ["niov-init", "frag", "netdevsim-pp-hold", "zerocopy"]) expect((await cli("scenario", s, "--dmesg", "--json")).code).toBe(2);
  });

  it("race: with --replay, the machine's log after that schedule; without, a usage error", { timeout: 60_000 }, async () => {
    const r = await cli("race", "--kernel", "v6.15", "--program", "retry-vs-last-return", "--replay", "s0:0*10.1*6.0*9.1", "--dmesg");
    expect(logOf(r.out, "dmesg (v6.15):")).toBe("[    0.000000] WARNING: CPU: 0 PID: 1 at net/core/page_pool.c page_pool_unlink_napi\n");
    expect(await cli("race", "--kernel", "v6.15", "--dmesg")).toMatchObject({ code: 2, err: "ppemu race: --dmesg prints one schedule's kernel log: give it with --replay TRACE\n" });
  });
});
