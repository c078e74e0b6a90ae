/** Defects a review of the kernel-builds change found, each pinned where it was fixed. */
import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootPpSystem, attachPpSystem } from "../../src/pool/index.js";
import { PP_FLAG_DMA_MAP, EINVAL } from "../../src/pool/page_pool.js";
import { DMA_FROM_DEVICE } from "../../src/dma/index.js";
import { MACH_STRICT, MACH_BUILD_EXTRA, MACH_POOLS } from "../../src/mem/physmem.js";
import { PAGE_REFCOUNT } from "../../src/mem/page.js";
import { KernelFault } from "../../src/mem/diag.js";
import { PpemuError } from "../../src/errors.js";
import { forEachPoolOnMachine } from "../../src/pool/pool_list.js";
import { netdevCreate } from "../../src/pool/netdev.js";
import { openOutputFile, writeOutputFile, abandonOutputFiles } from "../../src/cli/common.js";

describe("item_lock is released when a strict machine throws from inside it", () => {
  it("v11: destroy after unbind throws the IOMMU fault; the next return under item_lock does not spin", () => {
    const sys = bootPpSystem("v11", { bytes: 16 << 20 });
    const { pps, dma, m } = sys;
    const dev = dma.deviceCreate("0000:03:00.0");
    const pool = pps.create({ flags: PP_FLAG_DMA_MAP, dev, dmaDir: DMA_FROM_DEVICE, poolSize: 64 });
    const pages: number[] = [];
    for (let i = 0; i < 64; i++) pages.push(pps.allocPages(pool));
    dma.deviceUnbind(dev);
    m.mem.wr32(m.mem.machine + MACH_STRICT, 1);
    expect(() => pps.destroy(pool)).toThrow(KernelFault);
    const lock = pool + pps.o.need("item_lock");
    expect(m.mem.rd32(lock)).toBe(0);
    m.mem.wr32(m.mem.machine + MACH_STRICT, 0);
    m.mem.wr32(pages[1]! + PAGE_REFCOUNT, 2); // released, not recycled: through item_lock again
    pps.putFullPage(pool, pages[1]!, false);
    expect(m.mem.rd32(lock)).toBe(0);
  });
});

describe("the flags page_pool_init() accepts are the build's", () => {
  it("PP_FLAG_ALLOW_UNREADABLE_NETMEM (0x8): -EINVAL on v6.6 (PP_FLAG_ALL 0x7), accepted from v6.12", () => {
    expect(bootPpSystem("v6.6", { bytes: 16 << 20 }).pps.create({ flags: 0x8 })).toBe(-EINVAL);
    // The flag makes page_pool_init() read the rx queue of slow.netdev (a NULL netdev would oops in
    // the kernel: here a typed error); a queue without a provider gives an ordinary pool.
    const sys = bootPpSystem("v6.12", { bytes: 16 << 20 });
    expect(sys.pps.create({ flags: 0x8, netdev: netdevCreate(sys.pps, "eth0") })).toBeGreaterThan(0);
    expect(() => sys.pps.create({ flags: 0x8 })).toThrow("PP_FLAG_ALLOW_UNREADABLE_NETMEM needs netdev");
  });
});

describe("attach compares everything that defines the build", () => {
  it("another layout configuration or membership mask in the header is refused", () => {
    const sys = bootPpSystem("mainline", { bytes: 16 << 20 });
    const mem = sys.m.mem;
    mem.wr32(mem.machine + MACH_BUILD_EXTRA, mem.rd32(mem.machine + MACH_BUILD_EXTRA) ^ 1);
    expect(() => attachPpSystem(mem.buffer)).toThrow(
      "ppemu: image of build mainline has another layout configuration or membership mask than this ppemu's mainline",
    );
  });
});

describe("a pool list that does not end", () => {
  it("is a CORRUPT_MACHINE error, not a hang", () => {
    const sys = bootPpSystem("v6.16", { bytes: 16 << 20 });
    const pool = sys.pps.create({});
    expect(pool).toBeGreaterThan(0);
    const mem = sys.m.mem;
    const rec = mem.rdPtr(mem.machine + MACH_POOLS);
    mem.wrPtr(rec, rec); // the record's next points at itself
    let err: unknown;
    try {
      forEachPoolOnMachine(mem, () => undefined);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PpemuError);
    expect((err as PpemuError).code).toBe("CORRUPT_MACHINE");
  });
});

describe("output files: written beside and renamed, so a failed or interrupted command keeps the old one", () => {
  it("an abandoned output leaves FILE as it was and no temp file; a complete one replaces it", () => {
    const dir = mkdtempSync(join(tmpdir(), "ppemu-out-"));
    const file = join(dir, "keep.json");
    writeFileSync(file, '{"old":1}\n');
    openOutputFile("bench", "--json", file);
    abandonOutputFiles();
    expect(readFileSync(file, "utf8")).toBe('{"old":1}\n');
    expect(readdirSync(dir)).toEqual(["keep.json"]);
    const fd = openOutputFile("bench", "--json", file);
    writeOutputFile("bench", "--json", file, fd, '{"new":2}\n');
    expect(readFileSync(file, "utf8")).toBe('{"new":2}\n');
    expect(readdirSync(dir)).toEqual(["keep.json"]);
  });
});
