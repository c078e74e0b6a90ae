/**
 * The v7.1-rc-netpp build's struct page words through a pool's life: PGTY_netpp while the page is
 * the pool's, pp_magic with the xarray id and no PP_SIGNATURE, membership by the type.
 */
import { describe, it, expect } from "vitest";
import { bootPpSystem } from "../../src/pool/index.js";
import { PP_FLAG_DMA_MAP, PP_FLAG_DMA_SYNC_DEV } from "../../src/pool/page_pool.js";
import { DMA_FROM_DEVICE } from "../../src/dma/index.js";
import { PAGE_TYPE, PAGE_PP_MAGIC, PAGE_PP } from "../../src/mem/page.js";
import { Diag } from "../../src/mem/diag.js";
import { getDmaIndex, PP_DMA_INDEX_SHIFT } from "../../src/builds/xarray.js";
import { runUnbind } from "../../src/scenario/unbind.js";

function poolOn(kernel: string) {
  const sys = bootPpSystem(kernel, { bytes: 8 << 20 });
  const dev = sys.dma.deviceCreate("0000:03:00.0", { coherent: false });
  const pool = sys.pps.create({ flags: PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV, poolSize: 64, dev, dmaDir: DMA_FROM_DEVICE, maxLen: sys.m.mem.pageSize, napiCpu: 0, netdev: 0 });
  expect(pool).toBeGreaterThan(0);
  return { sys, pool };
}

describe("v7.1-rc-netpp: a pool page", () => {
  it("is typed 0xf9000000 while out of the pool, its pp_magic holds only the DMA id (no 0x40), and PageNetpp is the membership test", () => {
    const { sys, pool } = poolOn("v7.1-rc-netpp");
    const mem = sys.m.mem;
    const page = sys.pps.allocPages(pool);
    expect(mem.rd32(page + PAGE_TYPE)).toBe(0xf9000000);
    const id = getDmaIndex(mem.u32, page);
    expect(id).toBeGreaterThan(0);
    expect(mem.rd32(page + PAGE_PP_MAGIC)).toBe((id << PP_DMA_INDEX_SHIFT) >>> 0);
    expect(mem.rd32(page + PAGE_PP_MAGIC) & 0x40).toBe(0);
    expect(mem.rd32(page + PAGE_PP)).toBe(pool);
    expect(sys.pps.t.isPpPage(page)).toBe(true);
    // The same words on mainline: untyped, PP_SIGNATURE in pp_magic.
    const ml = poolOn("mainline");
    const p2 = ml.sys.pps.allocPages(ml.pool);
    expect(ml.sys.m.mem.rd32(p2 + PAGE_TYPE)).toBe(0xffffffff);
    expect(ml.sys.m.mem.rd32(p2 + PAGE_PP_MAGIC) & 0xff).toBe(0x40 | ((getDmaIndex(ml.sys.m.mem.u32, p2) << PP_DMA_INDEX_SHIFT) & 0xff));
  });

  it("leaves the pool untyped: page_pool_clear_pp_info() → __ClearPageNetpp(), then the page allocator takes it without a report", () => {
    const { sys, pool } = poolOn("v7.1-rc-netpp");
    const mem = sys.m.mem;
    const page = sys.pps.allocPages(pool);
    sys.pps.napiDisable(sys.pps.napiOf(pool));
    sys.pps.putFullPage(pool, page, false);
    sys.pps.destroy(pool);
    expect(sys.pps.isLive(pool)).toBe(false);
    expect(sys.m.pa.isBuddy(page) || mem.rd32(page + PAGE_TYPE) === 0xffffffff).toBe(true);
    expect(mem.diagCount(Diag.PAGE_POOL_LEAK)).toBe(0);
    expect(mem.diagCount(Diag.VM_BUG_ON_PAGE)).toBe(0);
  });

  it("a driver that put_page()s a pool page behind the pool's back: bad_page \"page_pool leak\" from __free_pages_prepare()", () => {
    const { sys, pool } = poolOn("v7.1-rc-netpp");
    const mem = sys.m.mem;
    const page = sys.pps.allocPages(pool);
    sys.m.pa.putPage(page);
    expect(mem.diagCount(Diag.PAGE_POOL_LEAK)).toBe(1);
    expect(mem.diagFirst(Diag.PAGE_POOL_LEAK)!.a).toBe(page >>> 6);
    expect(mem.rd32(page + PAGE_TYPE)).toBe(0xf9000000);
  });

  it("runs the unbind scenario like its xarray parent: the in-flight pages are unmapped at destroy, no frame lost", () => {
    const r = runUnbind({ kernel: "v7.1-rc-netpp", pages: 64, inflight: 16, memBytes: 8 << 20 }).result;
    expect(r).toMatchObject({ layout: "netpp", pages_allocated: 64, inflight_at_unbind: 16, unmapped_by_destroy: 16, unmaps_after_unbind: 0, frames_lost: 0, verdict: "fixed" });
  });
});
