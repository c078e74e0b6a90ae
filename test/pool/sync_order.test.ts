/**
 * When the pool syncs a returned page for the device: page_pool.c (classic, xarray) syncs before it
 * decides where the page goes; v11 patch 4/4 syncs only a page that made it into the cache or ring.
 */
import { describe, expect, it } from "vitest";
import { rig, context } from "./helpers.js";
import { PP_FLAG_DMA_SYNC_DEV, type LayoutName } from "../../src/pool/types.js";

function putSix(layout: LayoutName) {
  const r = rig({ dma: true, flags: PP_FLAG_DMA_SYNC_DEV, poolSize: 4 }, layout);
  context(r, 1, false); // not the pool's NAPI context: every put goes to the ring
  const pages = Array.from({ length: 6 }, () => r.pps.allocPages(r.pool));
  const before = r.dma.deviceStats(r.dev).syncs;
  for (const p of pages) r.pps.putPage(r.pool, p, -1, false);
  const rec = r.pps.stats(r.pool).recycle;
  return { syncs: r.dma.deviceStats(r.dev).syncs - before, ring: rec.ring, ringFull: rec.ring_full };
}

describe("dma sync on put", () => {
  it("classic and xarray sync every recyclable page, even one the full ring then releases", () => {
    expect(putSix("classic")).toEqual({ syncs: 6, ring: 4, ringFull: 2 });
    expect(putSix("xarray")).toEqual({ syncs: 6, ring: 4, ringFull: 2 });
  });

  it("item-block (v11) syncs only the 4 pages the ring took", () => {
    expect(putSix("item-block")).toEqual({ syncs: 4, ring: 4, ringFull: 2 });
  });
});
