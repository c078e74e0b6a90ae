/**
 * When the pool syncs a returned page for the device: page_pool.c (classic, xarray) syncs before it
 * decides where the page goes; v11 patch 4/4 syncs only a page that made it into the cache or ring.
 */
import { describe, expect, it } from "vitest";
import { rig, context } from "./helpers.js";
import { PP_FLAG_DMA_SYNC_DEV } from "../../src/pool/page_pool.js";
import { buildsOf, findLayout, type KernelBuild } from "../../src/builds/index.js";

function putSix(build: KernelBuild) {
  // max_len 4096: PP_FLAG_DMA_SYNC_DEV with max_len 0 is -EINVAL, as in the kernel.
  const r = rig({ dma: true, flags: PP_FLAG_DMA_SYNC_DEV, maxLen: 4096, poolSize: 4 }, build);
  context(r, 1, false); // not the pool's NAPI context: every put goes to the ring
  const pages = Array.from({ length: 6 }, () => r.pps.allocPages(r.pool));
  const before = r.dma.deviceStats(r.dev).syncs;
  for (const p of pages) r.pps.putPage(r.pool, p, -1, false);
  const rec = r.pps.stats(r.pool).recycle;
  return { syncs: r.dma.deviceStats(r.dev).syncs - before, ring: rec.ring, ringFull: rec.ring_full };
}

const builds = (layout: string) => buildsOf(findLayout(layout)!);

describe("dma sync on put", () => {
  it("classic and xarray builds sync every recyclable page, even one the full ring then releases", () => {
    const all = [...builds("classic"), ...builds("xarray"), ...builds("netpp"), ...builds("memdesc-item")];
    expect(all.map((b) => b.name)).toEqual(["v6.1", "v6.6", "v6.12", "v6.15", "v6.16", "v6.17", "v6.18", "v6.19", "mainline", "v7.1-rc-netpp", "memdesc-item"]);
    for (const b of all) expect(putSix(b), b.name).toEqual({ syncs: 6, ring: 4, ringFull: 2 });
  });

  it("item-block (v11) syncs only the 4 pages the ring took", () => {
    expect(builds("item-block").map((b) => b.name)).toEqual(["v11"]);
    for (const b of builds("item-block")) expect(putSix(b), b.name).toEqual({ syncs: 4, ring: 4, ringFull: 2 });
  });

  it("v7-encoded-next keeps the v11 order; its list holds pool_size + 1 (count > pool_size is full)", () => {
    expect(builds("encoded-next").map((b) => b.name)).toEqual(["v7-encoded-next"]);
    expect(putSix(builds("encoded-next")[0]!)).toEqual({ syncs: 5, ring: 5, ringFull: 1 });
  });
});
