import { describe, it, expect } from "vitest";
import { rig, accounted, allocN } from "./helpers.js";
import { ClassicTracking } from "../../src/builds/classic.js";
import { PP_SIGNATURE_HI, PP_SIGNATURE_LO, orPpSignature } from "../../src/pool/pp_info.js";
import * as T from "../../src/pool/page_pool.js";
import { Diag } from "../../src/mem/diag.js";
import { PAGE_PP_MAGIC, PAGE_PP, PAGE_PP_REF_COUNT, PAGE_DMA_ADDR, DIRECT_MAP_HI } from "../../src/mem/page.js";

describe("classic layout: page->pp and PP_SIGNATURE", () => {
  it("PP_SIGNATURE is 0x40 + POISON_POINTER_DELTA = 0xdead000000000040", () => {
    expect(PP_SIGNATURE_HI).toBe(0xdead0000);
    expect(PP_SIGNATURE_LO).toBe(0x40);
  });

  it("set_pp_info ORs the signature (keeping bits 0-1), points pp at the pool, pp_ref_count = 1", () => {
    const r = rig({});
    const t = r.pps.t;
    expect(t).toBeInstanceOf(ClassicTracking);
    expect(t.layout.name).toBe("classic");
    expect(r.build.name).toBe("v6.15"); // the classic layout's default build: pp_ref_count = 1 (v6.7+)
    const { mem } = r.m;
    const page = r.m.pa.allocPages(0);
    mem.wr64(page + PAGE_PP_MAGIC, 0, 0x2); // pfmemalloc
    mem.wr64(page + PAGE_PP_REF_COUNT, 0x1234, 0x5678);
    expect(t.setPpInfo(r.pool, page)).toBe(true);
    expect(mem.rd64hi(page + PAGE_PP_MAGIC)).toBe(0xdead0000);
    expect(mem.rd64lo(page + PAGE_PP_MAGIC)).toBe(0x42);
    expect(mem.rdPtr(page + PAGE_PP)).toBe(r.pool);
    expect(mem.rd64hi(page + PAGE_PP)).toBe(DIRECT_MAP_HI);
    expect(mem.rd64lo(page + PAGE_PP_REF_COUNT)).toBe(1);
    expect(mem.rd64hi(page + PAGE_PP_REF_COUNT)).toBe(0);
    expect(t.isPpPage(page)).toBe(true);
    expect(t.poolOf(page)).toBe(r.pool);
    t.clearPpInfo(r.pool, page);
    expect(mem.rd64(page + PAGE_PP_MAGIC)).toBe(0);
    expect(mem.rd64(page + PAGE_PP)).toBe(0);
    expect(t.isPpPage(page)).toBe(false);
    expect(t.poolOf(page)).toBe(0);
    r.m.pa.putPage(page);
    expect(mem.diagTotal).toBe(0);
  });

  it("membership is (pp_magic & ~0x3) == PP_SIGNATURE: bits 0-1 ignored, anything else not", () => {
    const r = rig({});
    const { mem } = r.m;
    const page = r.m.pa.allocPages(0);
    const is = (hi: number, lo: number) => {
      mem.wr64(page + PAGE_PP_MAGIC, hi, lo);
      return r.pps.t.isPpPage(page);
    };
    expect(is(0xdead0000, 0x40)).toBe(true);
    expect(is(0xdead0000, 0x41)).toBe(true);
    expect(is(0xdead0000, 0x43)).toBe(true);
    expect(is(0xdead0000, 0x44)).toBe(false);
    expect(is(0xdead0000, 0xc0)).toBe(false); // a v6.16 page with dma index 1: not classic
    expect(is(0xdead0001, 0x40)).toBe(false);
    expect(is(0, 0x40)).toBe(false); // the ilp32 signature is not the lp64 one
    expect(is(0, 0)).toBe(false);
    mem.wr64(page + PAGE_PP_MAGIC, 0, 0);
    r.m.pa.putPage(page);
    // A free page (buddy list pointers in pp_magic) is not one either.
    expect(r.pps.t.isPpPage(page)).toBe(false);
  });

  it("orPpSignature is the shared part of set_pp_info", () => {
    const r = rig({});
    const page = r.m.pa.allocPages(0);
    orPpSignature(r.m.mem.u32, page, true);
    expect(r.m.mem.rd64hi(page + PAGE_PP_MAGIC)).toBe(0xdead0000);
    expect(r.m.mem.rd64lo(page + PAGE_PP_MAGIC)).toBe(0x40);
    expect(r.m.mem.rd64(page + PAGE_PP_REF_COUNT)).toBe(1);
    // Without refInit (≤ v6.6: pp_frag_count is left alone) only the signature is written.
    const q = r.m.pa.allocPages(0);
    r.m.mem.wr64(q + PAGE_PP_REF_COUNT, 0, 7);
    orPpSignature(r.m.mem.u32, q, false);
    expect(r.m.mem.rd64hi(q + PAGE_PP_MAGIC)).toBe(0xdead0000);
    expect(r.m.mem.rd64lo(q + PAGE_PP_MAGIC)).toBe(0x40);
    expect(r.m.mem.rd64(q + PAGE_PP_REF_COUNT)).toBe(7);
  });

  it("tracks nothing: init 0, onMapped true, no tracking bytes, scrub does nothing", () => {
    const r = rig({ dma: true });
    const t = r.pps.t;
    expect(t.init(r.pool)).toBe(0);
    const pages = allocN(r, r.pool, 2);
    expect(t.onMapped(r.pool, pages[0]!)).toBe(true);
    expect(t.usage(r.pool)).toEqual({ trackedPages: 0, bytes: 0, units: {}, slotsPerUnit: null });
    t.onFirstScrub(r.pool);
    expect(r.dma.deviceStats(r.dev).unmaps).toBe(0);
  });

  it("releaseDma unmaps only for a pool that maps", () => {
    const d = rig({ dma: true });
    const page = d.pps.allocPages(d.pool);
    const dma = d.m.mem.rd64(page + PAGE_DMA_ADDR);
    d.pps.t.releaseDma(d.pool, page);
    expect(d.m.mem.rd64(page + PAGE_DMA_ADDR)).toBe(0);
    expect(d.dma.iovaToPhys(d.dev, dma)).toBe(0);
    expect(d.dma.deviceStats(d.dev).unmaps).toBe(1);

    const n = rig({});
    const q = n.pps.allocPages(n.pool);
    n.pps.t.releaseDma(n.pool, q);
    expect(n.dma.deviceStats(n.dev).unmaps).toBe(0);
    expect(n.m.mem.diagTotal).toBe(0);
  });
});

describe("classic layout: the unbind bug", () => {
  it("destroy cannot reach in-flight pages; their late return unmaps and syncs through the unbound device", () => {
    const r = rig({ dma: true, flags: T.PP_FLAG_DMA_SYNC_DEV, maxLen: 4096 });
    const { mem } = r.m;
    const pages = allocN(r, r.pool, 4);
    r.pps.destroy(r.pool);
    // The four pages still carry their mappings; the pool lingers.
    for (const p of pages) expect(mem.rd64(p + PAGE_DMA_ADDR)).toBeGreaterThan(0);
    expect(r.pps.inflight(r.pool)).toBe(4);
    expect(r.dma.deviceStats(r.dev).live).toBe(4);
    r.dma.deviceUnbind(r.dev);
    // dma-debug reports the device once, "[count=4]" (no longer one line per mapping).
    expect(mem.diagCount(Diag.DMA_DEBUG_PENDING)).toBe(1);
    expect(mem.diagLog().find((d) => d.kind === Diag.DMA_DEBUG_PENDING)!.b).toBe(4);
    expect(r.dma.deviceStats(r.dev).outlivedDriver).toBe(4);
    expect(mem.diagCount(Diag.DMA_MAPPING_OUTLIVES_DRIVER)).toBe(0);
    for (const p of pages) r.pps.putFullPage(r.pool, p, false);
    expect(mem.diagCount(Diag.DMA_SYNC_AFTER_UNBIND)).toBe(4); // sync for device on recycle
    expect(mem.diagCount(Diag.DMA_UNMAP_AFTER_UNBIND)).toBe(0); // still in the ring
    r.pps.advance(1000);
    expect(mem.diagCount(Diag.DMA_UNMAP_AFTER_UNBIND)).toBe(4);
    expect(r.pps.isLive(r.pool)).toBe(false);
    const ds = r.dma.deviceStats(r.dev);
    expect(ds.unmapAfterUnbind).toBe(4);
    expect(ds.syncAfterUnbind).toBe(4);
    expect(ds.doubleUnmap).toBe(0);
    accounted(r);
  });
});
