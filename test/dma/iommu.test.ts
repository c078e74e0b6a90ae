import { describe, expect, it } from "vitest";
import { bootMachine } from "../../src/mem/machine.js";
import { Diag, FailSite, MACH_IOMMU } from "../../src/mem/physmem.js";
import {
  Dma,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_MAPPING_ERROR,
  DOMAIN_LAYOUT,
  IOMMU_LAYOUT,
  IOPTE_LAYOUT,
  DEVICE_LAYOUT,
  DEV_DOMAIN,
  IOMMU_TABLE_PAGES,
  iovaGeometry,
  DMA_STRUCTS,
  IOMMU_DD_NUM_ERRORS,
  DEV_DD_LEAK_ADDR,
  dmaDiagResolver,
} from "../../src/dma/index.js";
import { formatDiag, DMA_BUS_NAME, DMA_DRIVER_NAME } from "../../src/mem/diag.js";

function boot(bytes = 8 << 20) {
  const m = bootMachine({ bytes });
  return { m, dma: new Dma(m) };
}

describe("dma structs", () => {
  it("iopte is 16 bytes: pfn, size, flags, next", () => {
    expect(IOPTE_LAYOUT.size).toBe(16);
    expect(IOPTE_LAYOUT.off).toEqual({ pfn: 0, size: 4, flags: 8, next: 12 });
  });
  it("domain: pgd pointer, mark, limit, table pages, 11 free lists", () => {
    expect(DOMAIN_LAYOUT.off).toEqual({ pgd: 0, iova_hwm: 8, iova_limit: 12, table_pages: 16, free_iova: 20 });
    expect(DOMAIN_LAYOUT.size).toBe(64);
  });
  it("iommu and device offsets", () => {
    expect(IOMMU_LAYOUT.off.nr_devices).toBe(16);
    expect(IOMMU_LAYOUT.off.table_pages).toBe(40);
    expect([IOMMU_LAYOUT.off.dd_error_count, IOMMU_LAYOUT.off.dd_all_errors, IOMMU_LAYOUT.off.dd_num_errors]).toEqual([44, 48, 52]);
    expect(IOMMU_LAYOUT.size).toBe(56);
    expect(DEVICE_LAYOUT.off.id).toBe(16);
    expect(DEVICE_LAYOUT.off.name).toBe(24);
    expect(DEVICE_LAYOUT.off.domain).toBe(40);
    expect(DEVICE_LAYOUT.off["domain.pgd"]).toBe(40);
    expect(DEVICE_LAYOUT.off.maps).toBe(104);
    expect(DEVICE_LAYOUT.off.live).toBe(128);
    expect(DEVICE_LAYOUT.off.outlived_driver).toBe(148);
    expect([DEVICE_LAYOUT.off.dd_leak_addr, DEVICE_LAYOUT.off.dd_leak_size]).toEqual([152, 156]);
    expect(DEVICE_LAYOUT.size).toBe(168);
    expect(DMA_STRUCTS.map((s) => s.name)).toEqual(["ppemu_iommu", "ppemu_device", "ppemu_iommu_domain", "ppemu_iopte"]);
  });
  it("IOVA geometry per page size keeps every IOVA below 2^32", () => {
    expect(iovaGeometry(12)).toEqual({ leafShift: 8, pgdEntries: 512, limit: 131072 });
    expect(iovaGeometry(14)).toEqual({ leafShift: 10, pgdEntries: 256, limit: 262144 });
    expect(iovaGeometry(16)).toEqual({ leafShift: 12, pgdEntries: 16, limit: 65536 });
  });
  it("the IOMMU hangs off the machine header and is created once", () => {
    const { m, dma } = boot();
    expect(m.mem.rdPtr(m.mem.machine + MACH_IOMMU)).toBe(dma.iommu);
    expect(new Dma(m).iommu).toBe(dma.iommu);
    // dma-debug's boot state: show_num_errors = 1, show_all_errors = 0, error_count = 0.
    expect(m.mem.rd32(dma.iommu + IOMMU_DD_NUM_ERRORS)).toBe(1);
    expect(dma.dmaDebugState()).toEqual({ errorCount: 0, allErrors: false, numErrors: 1 });
  });
  it("config constants are the kernel's", () => {
    expect([DMA_BIDIRECTIONAL, DMA_TO_DEVICE, DMA_FROM_DEVICE]).toEqual([0, 1, 2]);
    expect(DMA_ATTR_SKIP_CPU_SYNC).toBe(0x20);
    expect(DMA_MAPPING_ERROR).toBe(0);
  });
});

describe("IOVA allocation", () => {
  it("order-0 maps get IOVAs 0x1000, 0x2000, 0x3000 in order; freed ones are reused LIFO", () => {
    const { m, dma } = boot();
    const dev = dma.deviceCreate("eth0");
    const pg = [1, 2, 3, 4, 5].map(() => m.pa.allocPages(0));
    const a = pg.slice(0, 3).map((p) => dma.dmaMapPage(dev, p, 0, 4096, DMA_FROM_DEVICE, 0));
    expect(a).toEqual([0x1000, 0x2000, 0x3000]);
    dma.dmaUnmapPage(dev, 0x2000, 4096, DMA_FROM_DEVICE, 0);
    expect(dma.dmaMapPage(dev, pg[3]!, 0, 4096, DMA_FROM_DEVICE, 0)).toBe(0x2000);
    dma.dmaUnmapPage(dev, 0x1000, 4096, DMA_FROM_DEVICE, 0);
    dma.dmaUnmapPage(dev, 0x3000, 4096, DMA_FROM_DEVICE, 0);
    expect(dma.dmaMapPage(dev, pg[4]!, 0, 4096, DMA_FROM_DEVICE, 0)).toBe(0x3000);
    expect(dma.dmaMapPage(dev, pg[0]!, 0, 4096, DMA_FROM_DEVICE, 0)).toBe(0x1000);
    expect(dma.dmaMapPage(dev, pg[1]!, 0, 4096, DMA_FROM_DEVICE, 0)).toBe(0x4000);
    expect(dma.liveMappings(dev)).toBe(4);
    expect(m.mem.diagTotal).toBe(0);
  });

  it("an order-2 map is size-aligned; the alignment gap and split halves are handed out next", () => {
    const { m, dma } = boot();
    const dev = dma.deviceCreate();
    const big = m.pa.allocPages(2);
    expect(dma.dmaMapPage(dev, big, 0, 4096 << 2, DMA_BIDIRECTIONAL, 0)).toBe(0x4000);
    expect(dma.table.freeBlocks(dev + DEV_DOMAIN).slice(0, 3)).toEqual([1, 1, 0]); // pfn 1, pfns 2–3
    const p = m.pa.allocPages(0);
    const got = [0, 1, 2, 3].map(() => dma.dmaMapPage(dev, p, 0, 100, DMA_TO_DEVICE, 0));
    expect(got).toEqual([0x1000, 0x2000, 0x3000, 0x8000]);
    // Free the order-2 block; an order-1 map splits it and leaves its upper half free.
    dma.dmaUnmapPage(dev, 0x4000, 4096 << 2, DMA_BIDIRECTIONAL, 0);
    expect(dma.dmaMapPage(dev, big, 0, 8192, DMA_BIDIRECTIONAL, 0)).toBe(0x4000);
    expect(dma.dmaMapPage(dev, big, 0, 8192, DMA_BIDIRECTIONAL, 0)).toBe(0x6000);
    expect(dma.dmaMapPage(dev, big, 0, 8192, DMA_BIDIRECTIONAL, 0)).toBe(0xa000);
    expect(dma.table.freeBlocks(dev + DEV_DOMAIN).slice(0, 3)).toEqual([1, 0, 0]); // pfn 9
  });

  it("an order-2 mapping covers 4 IOVA pages, each translating to its own frame", () => {
    const { m, dma } = boot();
    const dev = dma.deviceCreate();
    const page = m.pa.allocPages(2);
    const pfn = m.mem.pageToPfn(page);
    const iova = dma.dmaMapPage(dev, page, 0, 4096 << 2, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
    expect(iova).toBe(0x4000);
    for (let i = 0; i < 4; i++) {
      expect(dma.iovaToPhys(dev, iova + i * 4096 + 12)).toBe((pfn + i) * 4096 + 12);
    }
    expect(dma.iovaToPhys(dev, iova + 4 * 4096)).toBe(0);
    const seen: number[] = [];
    dma.forEachMapping(dev, (mp) => seen.push(mp.dmaAddr, mp.pfn, mp.size, mp.order, mp.dir));
    expect(seen).toEqual([0x4000, pfn, 16384, 2, DMA_BIDIRECTIONAL]);
    // Syncs anywhere inside the mapping are fine.
    dma.dmaSyncSingleForCpu(dev, iova + 3 * 4096 + 64, 64, DMA_BIDIRECTIONAL);
    expect(dma.deviceStats(dev).syncs).toBe(1);
    expect(m.mem.diagTotal).toBe(0);
  });

  it("a 3-page map takes an order-2 block whose 4th entry is reserved, not present", () => {
    const { m, dma } = boot();
    const dev = dma.deviceCreate();
    const page = m.pa.allocPages(2);
    const iova = dma.dmaMapPage(dev, page, 0, 3 * 4096, DMA_TO_DEVICE, 0);
    expect(iova).toBe(0x4000);
    const e3 = dma.ptePtr(dev, iova + 3 * 4096);
    expect([m.mem.rd32(e3), m.mem.rd32(e3 + 4), m.mem.rd32(e3 + 8), m.mem.rd32(e3 + 12)]).toEqual([0, 0, 0x220, 0]);
    expect(dma.iovaToPhys(dev, iova + 3 * 4096)).toBe(0);
  });

  it("running out of IOVA space is a mapping error, not a fault", () => {
    const { m, dma } = boot(16 << 20);
    const dev = dma.deviceCreate();
    const page = m.pa.allocPages(10);
    const addrs: number[] = [];
    for (;;) {
      const a = dma.dmaMapPage(dev, page, 0, 4096 << 10, DMA_FROM_DEVICE, 0);
      if (dma.dmaMappingError(dev, a)) break;
      addrs.push(a);
    }
    // IOVA pfns [1024, 131072): 127 blocks of 1024 pages; the gap below 1024 holds orders 0..9.
    expect(addrs.length).toBe(127);
    expect(addrs[0]).toBe(1024 * 4096);
    expect(addrs[126]).toBe(127 * 1024 * 4096);
    expect(dma.table.freeBlocks(dev + DEV_DOMAIN)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    expect(dma.deviceStats(dev).tablePages).toBe(1 + 512);
    expect(m.mem.diagTotal).toBe(0);
  });

  it("64 KiB pages: IOVAs are 64 KiB pages up to 0xffc00000, still unsigned u32", () => {
    const m = bootMachine({ bytes: 16 << 20, pageSize: "64k" });
    const dma = new Dma(m);
    const dev = dma.deviceCreate();
    const page = m.pa.allocPages(6);
    const pfn = m.mem.pageToPfn(page);
    const addrs: number[] = [];
    for (;;) {
      const a = dma.dmaMapPage(dev, page, 0, 65536 << 6, DMA_FROM_DEVICE, 0);
      if (a === DMA_MAPPING_ERROR) break;
      addrs.push(a);
    }
    expect(addrs.length).toBe(1023);
    expect(addrs[0]).toBe(0x400000);
    expect(addrs[1022]).toBe(0xffc00000);
    expect(dma.iovaToPhys(dev, 0xffc00000 + 5 * 65536 + 7)).toBe((pfn + 5) * 65536 + 7);
    expect(dma.deviceStats(dev).tablePages).toBe(1 + 16);
    dma.dmaUnmapPage(dev, 0xffc00000, 65536 << 6, DMA_FROM_DEVICE, 0);
    expect(dma.dmaMapPage(dev, page, 0, 65536 << 6, DMA_FROM_DEVICE, 0)).toBe(0xffc00000);
    expect(m.mem.diagTotal).toBe(0);
  });

  it("a failed leaf allocation fails the map and leaves the mark where it was", () => {
    const { m, dma } = boot();
    const dev = dma.deviceCreate();
    const page = m.pa.allocPages(0);
    m.mem.setFail(FailSite.PAGE_ALLOC, { times: 1 });
    expect(dma.dmaMapPage(dev, page, 0, 4096, DMA_FROM_DEVICE, 0)).toBe(DMA_MAPPING_ERROR);
    expect(dma.dmaMapPage(dev, page, 0, 4096, DMA_FROM_DEVICE, 0)).toBe(0x1000);
    expect(dma.deviceStats(dev).maps).toBe(1);
  });
});

describe("translation table entries (bit-exact)", () => {
  it("head entry: pfn, size, flags PRESENT|HEAD|SKIP|dir|order|offset; unmap keeps it stale", () => {
    const { m, dma } = boot();
    const dev = dma.deviceCreate();
    const page = m.pa.allocPages(0);
    const pfn = m.mem.pageToPfn(page);
    const iova = dma.dmaMapPage(dev, page, 0x80, 1500, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    expect(iova).toBe(0x1080);
    const e = dma.ptePtr(dev, iova);
    const word = (o: number) => m.mem.rd32(e + o);
    // PRESENT 0x1 | HEAD 0x2 | SKIP_CPU_SYNC 0x10 | FROM_DEVICE 2<<5 | order 0 | offset 0x80<<16
    expect([word(0), word(4), word(8), word(12)]).toEqual([pfn, 1500, 0x00800053, 0]);
    expect(dma.iovaToPhys(dev, iova)).toBe(pfn * 4096 + 0x80);
    dma.dmaUnmapPage(dev, iova, 1500, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    // PRESENT cleared, UNMAPPED 0x4 | FREE 0x8 set; pfn and size kept for reports.
    expect([word(0), word(4), word(8), word(12)]).toEqual([pfn, 1500, 0x0080005e, 0]);
    expect(dma.iovaToPhys(dev, iova)).toBe(0);
  });

  it("order-2 entries: head 0x203, tails 0x201 with consecutive pfns; pgd slot is a tagged pointer", () => {
    const { m, dma } = boot();
    const dev = dma.deviceCreate();
    const page = m.pa.allocPages(2);
    const pfn = m.mem.pageToPfn(page);
    const iova = dma.dmaMapPage(dev, page, 0, 16384, DMA_BIDIRECTIONAL, 0);
    const flags = [0, 1, 2, 3].map((i) => m.mem.rd32(dma.ptePtr(dev, iova + i * 4096) + 8));
    const pfns = [0, 1, 2, 3].map((i) => m.mem.rd32(dma.ptePtr(dev, iova + i * 4096)));
    expect(flags).toEqual([0x203, 0x201, 0x201, 0x201]);
    expect(pfns).toEqual([pfn, pfn + 1, pfn + 2, pfn + 3]);
    const pgd = m.mem.rdPtr(dev + DEV_DOMAIN);
    const leaf = m.mem.rdPtr(pgd);
    expect(m.mem.rd64hi(pgd)).toBe(0xffff8880);
    expect(dma.ptePtr(dev, iova)).toBe(leaf + 4 * 16);
    // The gap blocks: pfn 1 order 0 (next 0), pfn 2 order 1 — both FREE only.
    expect(m.mem.rd32(leaf + 16 + 8)).toBe(0x008);
    expect(m.mem.rd32(leaf + 32 + 8)).toBe(0x108);
    // Unmap: head 0x20e (UNMAPPED|FREE|HEAD), tails lose PRESENT only; nothing translates any more.
    dma.dmaUnmapPage(dev, iova, 16384, DMA_BIDIRECTIONAL, 0);
    const after = [0, 1, 2, 3].map((i) => m.mem.rd32(dma.ptePtr(dev, iova + i * 4096) + 8));
    expect(after).toEqual([0x20e, 0x200, 0x200, 0x200]);
    expect([0, 1, 2, 3].map((i) => dma.iovaToPhys(dev, iova + i * 4096))).toEqual([0, 0, 0, 0]);
    dma.dmaSyncSingleForDevice(dev, iova + 0x3000, 64, DMA_BIDIRECTIONAL);
    expect(m.mem.diagCount(Diag.DMA_SYNC_UNKNOWN)).toBe(1);
    expect(dma.deviceStats(dev).unmapUnknown).toBe(1);
  });
});

describe("violations: one diag and one counter each", () => {
  const kinds = ["unmapAfterUnbind", "syncAfterUnbind", "doubleUnmap", "unmapUnknown", "outlivedDriver"] as const;
  const only = (stats: Record<string, unknown>, kind: (typeof kinds)[number] | null) =>
    kinds.map((k) => stats[k] as number).join() === kinds.map((k) => (k === kind ? 1 : 0)).join();

  it("double unmap", () => {
    const { m, dma } = boot();
    const dev = dma.deviceCreate();
    const a = dma.dmaMapPage(dev, m.pa.allocPages(0), 0, 4096, DMA_FROM_DEVICE, 0);
    dma.dmaUnmapPage(dev, a, 4096, DMA_FROM_DEVICE, 0);
    expect(m.mem.diagTotal).toBe(0);
    dma.dmaUnmapPage(dev, a, 4096, DMA_FROM_DEVICE, 0);
    expect(m.mem.diagCount(Diag.DMA_DOUBLE_UNMAP)).toBe(1);
    expect(m.mem.diagTotal).toBe(1);
    const id = dma.deviceId(dev);
    expect(m.mem.diagLog()[0]!.text).toBe(
      `DMA-API: ${DMA_DRIVER_NAME} ppemu${id}: device driver tries to free DMA memory it has not allocated [device address=0x0000000000001000] [size=4096 bytes]\n` +
        "WARNING: CPU: 0 PID: 1 at kernel/dma/debug.c check_unmap",
    );
    const s = dma.deviceStats(dev);
    expect(only(s as unknown as Record<string, unknown>, "doubleUnmap")).toBe(true);
    expect([s.maps, s.unmaps, s.live]).toEqual([1, 1, 0]);
  });

  it("unknown IOVAs: never allocated, a free gap block, a tail page, zero, and a sync of one", () => {
    const { m, dma } = boot();
    const dev = dma.deviceCreate();
    dma.setDmaDebugAllErrors(true);
    const a = dma.dmaMapPage(dev, m.pa.allocPages(2), 0, 16384, DMA_FROM_DEVICE, 0); // 0x4000; gap 1..3
    for (const bad of [0x9000, 0x1000, a + 0x1000, 0, 0x7fff0000]) {
      const before = dma.deviceStats(dev).unmapUnknown;
      dma.dmaUnmapPage(dev, bad, 4096, DMA_FROM_DEVICE, 0);
      expect(dma.deviceStats(dev).unmapUnknown).toBe(before + 1);
    }
    expect(m.mem.diagCount(Diag.DMA_UNMAP_UNKNOWN)).toBe(5);
    dma.dmaSyncSingleForDevice(dev, 0x2000, 64, DMA_FROM_DEVICE);
    expect(m.mem.diagCount(Diag.DMA_UNMAP_UNKNOWN)).toBe(5);
    expect(m.mem.diagCount(Diag.DMA_SYNC_UNKNOWN)).toBe(1);
    expect(m.mem.diagTotal).toBe(6);
    const res = dma.diagResolver();
    const texts = m.mem.diagLog().map((d) => formatDiag(d.kind, d.a, d.b, d.c, res).split("\n")[0]);
    expect(texts[0]).toBe(`DMA-API: ${DMA_DRIVER_NAME} ppemu${dma.deviceId(dev)}: device driver tries to free DMA memory it has not allocated [device address=0x0000000000009000] [size=4096 bytes]`);
    // dma_mapping_error(): the address 0 gets its own text.
    expect(texts[3]).toBe(`DMA-API: ${DMA_DRIVER_NAME} ppemu${dma.deviceId(dev)}: device driver tries to free an invalid DMA memory address`);
    expect(m.mem.diagLog()[5]!.text).toBe(
      `DMA-API: ${DMA_DRIVER_NAME} ppemu${dma.deviceId(dev)}: device driver tries to sync DMA memory it has not allocated [device address=0x0000000000002000] [size=64 bytes]\n` +
        "WARNING: CPU: 0 PID: 1 at kernel/dma/debug.c check_sync",
    );
    const s = dma.deviceStats(dev);
    expect([s.unmapUnknown, s.doubleUnmap, s.unmaps, s.syncs, s.live]).toEqual([6, 0, 0, 0, 1]);
    // The tail unmap touched nothing: the mapping still translates.
    expect(dma.iovaToPhys(dev, a + 0x1000)).toBe(dma.iovaToPhys(dev, a) + 0x1000);
  });

  it("unmap after unbind: counted, the table is not touched", () => {
    const { m, dma } = boot();
    const dev = dma.deviceCreate();
    const a = dma.dmaMapPage(dev, m.pa.allocPages(0), 0, 4096, DMA_FROM_DEVICE, 0);
    dma.deviceUnbind(dev);
    expect(m.mem.diagCount(Diag.DMA_DEBUG_PENDING)).toBe(1);
    expect(m.mem.diagCount(Diag.DMA_MAPPING_OUTLIVES_DRIVER)).toBe(0);
    const free = m.pa.nrFree();
    dma.dmaUnmapPage(dev, a, 4096, DMA_FROM_DEVICE, 0);
    expect(m.mem.diagCount(Diag.DMA_UNMAP_AFTER_UNBIND)).toBe(1);
    expect(m.mem.diagTotal).toBe(2);
    expect(m.mem.diagLog()[1]!.text).toBe(`ppemu: iommu: device 0x${dma.deviceId(dev).toString(16)}: DMA unmap after driver unbind (iova 0x1000)`);
    const s = dma.deviceStats(dev);
    expect([s.unmapAfterUnbind, s.outlivedDriver, s.unmaps, s.live, s.bound]).toEqual([1, 1, 0, 0, false]);
    expect([s.syncAfterUnbind, s.doubleUnmap, s.unmapUnknown]).toEqual([0, 0, 0]);
    expect(m.pa.nrFree()).toBe(free);
  });

  it("sync after unbind, both directions", () => {
    const { m, dma } = boot();
    const dev = dma.deviceCreate();
    dma.deviceUnbind(dev);
    expect(m.mem.diagTotal).toBe(0);
    dma.dmaSyncSingleForDevice(dev, 0x1000, 64, DMA_TO_DEVICE);
    expect(m.mem.diagCount(Diag.DMA_SYNC_AFTER_UNBIND)).toBe(1);
    expect(only(dma.deviceStats(dev) as unknown as Record<string, unknown>, "syncAfterUnbind")).toBe(true);
    dma.dmaSyncSingleForCpu(dev, 0x1000, 64, DMA_FROM_DEVICE);
    expect(m.mem.diagCount(Diag.DMA_SYNC_AFTER_UNBIND)).toBe(2);
    expect(m.mem.diagTotal).toBe(2);
    expect(dma.deviceStats(dev).syncAfterUnbind).toBe(2);
  });

  it("a map through an unbound device fails without a diag", () => {
    const { m, dma } = boot();
    const dev = dma.deviceCreate();
    dma.deviceUnbind(dev);
    expect(dma.dmaMapPage(dev, m.pa.allocPages(0), 0, 4096, DMA_FROM_DEVICE, 0)).toBe(DMA_MAPPING_ERROR);
    expect(m.mem.diagTotal).toBe(0);
    expect(dma.deviceStats(dev).maps).toBe(0);
  });
});

describe("unbind", () => {
  const PENDING = (name: string, count: number) =>
    `DMA-API: ${DMA_BUS_NAME} ${name}: device driver has pending DMA allocations while released from device [count=${count}]`;
  const DD_WARN = "WARNING: CPU: 0 PID: 1 at kernel/dma/debug.c dma_debug_device_change";

  it("counts every mapping alive at unbind; dma-debug reports the device once, with [count=N] and one entry", () => {
    const { m, dma } = boot();
    const dev = dma.deviceCreate("vf0");
    const pages = Array.from({ length: 5 }, () => m.pa.allocPages(0));
    const addrs = pages.map((p, i) => dma.dmaMapPage(dev, p, i === 4 ? 0x40 : 0, 2048, DMA_FROM_DEVICE, 0));
    dma.dmaUnmapPage(dev, addrs[1]!, 2048, DMA_FROM_DEVICE, 0);
    dma.dmaUnmapPage(dev, addrs[2]!, 2048, DMA_FROM_DEVICE, 0);
    expect(dma.liveMappings(dev)).toBe(3); // 0x1000, 0x4000, 0x5040
    dma.deviceUnbind(dev);
    const s = dma.deviceStats(dev);
    expect([s.outlivedDriver, s.live, s.maps, s.unmaps, s.bound, s.name]).toEqual([3, 0, 5, 2, false, "vf0"]);
    expect(m.mem.diagCount(Diag.DMA_DEBUG_PENDING)).toBe(1);
    expect(m.mem.diagCount(Diag.DMA_MAPPING_OUTLIVES_DRIVER)).toBe(0);
    expect(m.mem.diagTotal).toBe(1);
    const d = m.mem.diagLog()[0]!;
    expect([d.kind, d.a, d.b, d.c]).toEqual([Diag.DMA_DEBUG_PENDING, dma.deviceId(dev), 3, DMA_FROM_DEVICE]);
    // device_dma_allocations() keeps the last entry of its hash walk: the highest bucket, 0x5040 >> 13 = 2.
    expect(m.mem.rd32(dev + DEV_DD_LEAK_ADDR)).toBe(0x5040);
    expect(formatDiag(d.kind, d.a, d.b, d.c, dma.diagResolver())).toBe(
      `${PENDING("vf0", 3)}\n` +
        "One of leaked entries details: [device address=0x0000000000005040] [size=2048 bytes] [mapped with DMA_FROM_DEVICE] [mapped as single]\n" +
        DD_WARN,
    );
    // The log's own text resolves through the machine's resolver (the DMA model installs it): the
    // device's name and the entry, as printed.
    expect(d.text).toBe(formatDiag(d.kind, d.a, d.b, d.c, dma.diagResolver()));
    // Without a resolver: the id stands for the name, and the entry line is left out.
    expect(formatDiag(d.kind, d.a, d.b, d.c)).toBe(`${PENDING(`ppemu${dma.deviceId(dev)}`, 3)}\n${DD_WARN}`);
    expect(dma.dmaDebugState()).toEqual({ errorCount: 1, allErrors: false, numErrors: 0 });
    // A second unbind is a no-op.
    dma.deviceUnbind(dev);
    expect(m.mem.diagTotal).toBe(1);
    expect(dma.dmaDebugState().errorCount).toBe(1);
  });

  it("only the first dma-debug error of the machine is printed, unless all_errors", () => {
    const { m, dma } = boot();
    const d1 = dma.deviceCreate("eth0");
    const d2 = dma.deviceCreate("eth1");
    const d3 = dma.deviceCreate("eth2");
    const p = m.pa.allocPages(0);
    for (let i = 0; i < 3; i++) dma.dmaMapPage(d1, p, 0, 4096, DMA_FROM_DEVICE, 0);
    for (let i = 0; i < 2; i++) dma.dmaMapPage(d2, p, 0, 4096, DMA_TO_DEVICE, 0);
    dma.dmaMapPage(d3, p, 0, 4096, DMA_BIDIRECTIONAL, 0);
    dma.deviceUnbind(d1);
    dma.deviceUnbind(d2); // counted (error_count), not printed: show_num_errors reached 0
    expect(m.mem.diagCount(Diag.DMA_DEBUG_PENDING)).toBe(1);
    expect(m.mem.diagFirst(Diag.DMA_DEBUG_PENDING)!.b).toBe(3);
    expect(dma.deviceStats(d2).outlivedDriver).toBe(2);
    expect(dma.dmaDebugState()).toEqual({ errorCount: 2, allErrors: false, numErrors: 0 });
    dma.setDmaDebugAllErrors(true);
    dma.deviceUnbind(d3);
    expect(m.mem.diagCount(Diag.DMA_DEBUG_PENDING)).toBe(2);
    const last = m.mem.diagLog().at(-1)!;
    expect([last.a, last.b]).toEqual([dma.deviceId(d3), 1]);
    expect(formatDiag(last.kind, last.a, last.b, last.c, dma.diagResolver()).split("\n")).toEqual([
      PENDING("eth2", 1),
      "One of leaked entries details: [device address=0x0000000000001000] [size=4096 bytes] [mapped with DMA_BIDIRECTIONAL] [mapped as single]",
      DD_WARN,
    ]);
    expect(dma.dmaDebugState()).toEqual({ errorCount: 3, allErrors: true, numErrors: 0 });
  });

  it("an earlier dma-debug error uses up the budget; a device with no mappings reports nothing", () => {
    const { m, dma } = boot();
    const dev = dma.deviceCreate("eth0");
    const empty = dma.deviceCreate("eth1");
    const a = dma.dmaMapPage(dev, m.pa.allocPages(0), 0, 4096, DMA_FROM_DEVICE, 0);
    dma.dmaMapPage(dev, m.pa.allocPages(0), 0, 4096, DMA_FROM_DEVICE, 0);
    dma.dmaUnmapPage(dev, a, 4096, DMA_FROM_DEVICE, 0);
    dma.dmaUnmapPage(dev, a, 4096, DMA_FROM_DEVICE, 0); // printed: the first error
    dma.dmaUnmapPage(dev, a, 4096, DMA_FROM_DEVICE, 0); // counted only
    dma.deviceUnbind(empty);
    dma.deviceUnbind(dev); // counted only
    expect(dma.deviceStats(dev).doubleUnmap).toBe(2);
    expect(dma.deviceStats(dev).outlivedDriver).toBe(1);
    expect([m.mem.diagCount(Diag.DMA_DOUBLE_UNMAP), m.mem.diagCount(Diag.DMA_DEBUG_PENDING), m.mem.diagTotal]).toEqual([1, 0, 1]);
    expect(dma.dmaDebugState().errorCount).toBe(3);
    // num_errors can be raised again, as through debugfs.
    dma.setDmaDebugNumErrors(1);
    dma.dmaUnmapPage(dev, a, 4096, DMA_FROM_DEVICE, 0); // through the unbound device: the emulator's line, not dma-debug's
    expect(m.mem.diagCount(Diag.DMA_UNMAP_AFTER_UNBIND)).toBe(1);
    expect(dma.dmaDebugState()).toEqual({ errorCount: 3, allErrors: false, numErrors: 1 });
  });

  it("the resolver reads names from the buffer; a destroyed device falls back to its id", () => {
    const { m, dma } = boot();
    const dev = dma.deviceCreate("eth0");
    dma.dmaMapPage(dev, m.pa.allocPages(0), 0, 4096, DMA_FROM_DEVICE, 0);
    const id = dma.deviceId(dev);
    const res = dmaDiagResolver(m.mem);
    expect(res.deviceName!(id)).toBe("eth0");
    expect(res.dmaDebugLeak!(id)).toBeUndefined();
    dma.deviceUnbind(dev);
    expect(res.dmaDebugLeak!(id)).toEqual({ dmaAddr: 0x1000, size: 4096 });
    dma.deviceDestroy(dev);
    expect(res.deviceName!(id)).toBeUndefined();
    const d = m.mem.diagFirst(Diag.DMA_DEBUG_PENDING)!;
    expect(formatDiag(d.kind, d.a, d.b, d.c, res)).toBe(`${PENDING(`ppemu${id}`, 1)}\n${DD_WARN}`);
  });

  it("returns every table page to the page allocator", () => {
    const { m, dma } = boot();
    const big = m.pa.allocPages(8);
    const small = m.pa.allocPages(0);
    const dev = dma.deviceCreate();
    const afterCreate = m.pa.nrFree();
    expect(dma.deviceStats(dev).tablePages).toBe(1);
    // 256 pages at IOVA pfn 256 move the mark over leaves 0 and 1; pfn 1 (the gap) needs no new leaf.
    expect(dma.dmaMapPage(dev, big, 0, 4096 << 8, DMA_FROM_DEVICE, 0)).toBe(256 * 4096);
    expect(dma.dmaMapPage(dev, small, 0, 4096, DMA_FROM_DEVICE, 0)).toBe(0x1000);
    expect(m.pa.nrFree()).toBe(afterCreate - 2);
    expect(dma.deviceStats(dev).tablePages).toBe(3);
    expect(m.mem.rd32(dma.iommu + IOMMU_TABLE_PAGES)).toBe(3);
    dma.deviceUnbind(dev);
    expect(m.pa.nrFree()).toBe(afterCreate + 1);
    expect(dma.deviceStats(dev).tablePages).toBe(0);
    expect(m.mem.rd32(dma.iommu + IOMMU_TABLE_PAGES)).toBe(0);
    expect(m.mem.rdPtr(dev + DEV_DOMAIN)).toBe(0);
    expect(dma.ptePtr(dev, 0x1000)).toBe(0);
    expect(dma.iovaToPhys(dev, 0x1000)).toBe(0);
  });

  it("deviceDestroy unlinks and frees the device; other devices keep their domains", () => {
    const { m, dma } = boot();
    const d1 = dma.deviceCreate("a");
    const d2 = dma.deviceCreate("b");
    expect(dma.devices()).toEqual([d1, d2]);
    expect(dma.deviceId(d2)).toBe(dma.deviceId(d1) + 1);
    const p = m.pa.allocPages(0);
    expect(dma.dmaMapPage(d1, p, 0, 4096, DMA_FROM_DEVICE, 0)).toBe(0x1000);
    expect(dma.dmaMapPage(d2, p, 0, 4096, DMA_FROM_DEVICE, 0)).toBe(0x1000);
    dma.deviceDestroy(d1);
    expect(dma.devices()).toEqual([d2]);
    expect(m.mem.diagCount(Diag.DMA_DEBUG_PENDING)).toBe(1);
    expect(dma.deviceStats(d2).live).toBe(1);
    expect(dma.iovaToPhys(d2, 0x1000)).toBe(m.mem.pageAddress(p));
  });
});
