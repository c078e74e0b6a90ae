import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootPpSystem, ppClaimers, type PpSystem } from "../../src/pool/index.js";
import {
  ItemBlockTracking,
  ITEM_STATE,
  ITEM_PP_NETMEM,
  ITEM_LENTRY,
  PAGE_POOL_ITEM_USED,
  PAGE_POOL_ITEM_MAPPED,
  PAGE_POOL_SLOW_ITEM_BLOCK_BIT,
} from "../../src/builds/item_block.js";
import { PP_FLAG_DMA_MAP, ENOMEM } from "../../src/pool/page_pool.js";
import { poolOffsetsOf } from "../../src/pool/pool_offsets.js";
import { findBuild, registerBuild, unregisterBuild, type KernelBuild } from "../../src/builds/index.js";
import { itemTarget } from "../../src/mem/item_geometry.js";
import { FailSite } from "../../src/mem/physmem.js";
import { PAGE_PP_ITEM, PAGE_PP_MAGIC, PAGE_DMA_ADDR } from "../../src/mem/page.js";
import { accountFrames, assertAccounted } from "../../src/mem/accounting.js";
import { DMA_FROM_DEVICE } from "../../src/dma/index.js";
import type { BlockVariant } from "../../src/mem/structs.js";

const PAGE = 4096;

/**
 * The v11 build and, registered for this file only, the same kernel with the other block headers
 * (the variant is part of the build: it is in the machine header).
 */
const V11 = findBuild("v11")!;
const VARIANT_BUILDS = new Map<BlockVariant, KernelBuild>([["v11", V11]]);
beforeAll(() => {
  for (const [variant, id] of [["v9p2", 0xf192], ["rfcv5", 0xf105]] as const) {
    VARIANT_BUILDS.set(variant, registerBuild({ ...V11, name: `v11-${variant}`, id, variant, isLayoutDefault: false }));
  }
});
afterAll(() => {
  for (const [variant, b] of VARIANT_BUILDS) if (variant !== "v11") unregisterBuild(b);
});

/** The v11 pool's own members of struct page_pool. */
const O = poolOffsetsOf(V11.structs);
const PP_HOLD_ITEMS = O.need("hold_items");
const PP_RELEASE_ITEMS = O.need("release_items");
const PP_SLOW_BLOCK = O.need("slow_items.block");
const PP_SLOW_NEXT_TO_USE = O.need("slow_items.next_to_use");
const PP_HOLD_CNT = O.holdCnt;

interface Rig {
  sys: PpSystem;
  t: ItemBlockTracking;
  pool: number;
  dev: number;
  u32: Uint32Array;
}

function rig(o: { poolSize?: number; dma?: boolean; variant?: BlockVariant; strict?: boolean } = {}): Rig {
  const sys = bootPpSystem(VARIANT_BUILDS.get(o.variant ?? "v11")!, { bytes: 32 << 20, strict: o.strict ?? true });
  expect(sys.build.variant).toBe(o.variant ?? "v11");
  const dev = o.dma ? sys.dma.deviceCreate("eth0") : 0;
  const pool = sys.pps.create({ poolSize: o.poolSize ?? 1024, flags: o.dma ? PP_FLAG_DMA_MAP : 0, dev, dmaDir: DMA_FROM_DEVICE });
  expect(pool).toBeGreaterThan(0);
  return { sys, t: sys.pps.t as ItemBlockTracking, pool, dev, u32: sys.m.mem.u32 };
}

/** Items on an llist (hold_items / release_items), first to last. */
function llistItems(r: Rig, head: number): number[] {
  const out: number[] = [];
  for (let p = r.u32[head >>> 2]!; p !== 0; p = r.u32[p >>> 2]!) out.push(p - ITEM_LENTRY);
  return out;
}
const hold = (r: Rig) => llistItems(r, r.pool + PP_HOLD_ITEMS);
const released = (r: Rig) => llistItems(r, r.pool + PP_RELEASE_ITEMS);

function blocks(r: Rig): { block: number; slow: boolean }[] {
  const out: { block: number; slow: boolean }[] = [];
  r.t.forEachBlock(r.pool, (block, slow) => out.push({ block, slow }));
  return out;
}

function allocN(r: Rig, n: number): number[] {
  const pages: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = r.sys.pps.allocPages(r.pool);
    if (p === 0) throw new Error(`allocation ${i} failed`);
    pages.push(p);
  }
  return pages;
}

/** The page leaves the pool (an extra page reference makes the put release it), then is freed. */
function release(r: Rig, page: number): void {
  r.sys.m.pa.getPage(page);
  r.sys.pps.putFullPage(r.pool, page, false);
  r.sys.m.pa.putPage(page);
}

const itemOf = (r: Rig, page: number) => r.u32[(page + PAGE_PP_ITEM) >>> 2]!;
const state = (r: Rig, item: number) => r.u32[(item + ITEM_STATE) >>> 2]!;
const stats = (r: Rig) => r.sys.pps.stats(r.pool).alloc;
const account = (r: Rig) => accountFrames(r.sys.m.mem, ppClaimers(r.sys));

/**
 * The n-th allocated page of a run of whole 64-page batches got the s-th item handed out: a batch
 * attaches items to cache slots 0..63 in order, and the cache is a LIFO, so slot 63 is allocated first.
 */
const seqOf = (j: number) => 64 * Math.floor(j / 64) + 63 - (j % 64);

/** Every slot of every block of the pool: the masking, the pool, the index round trip, the checker. */
function checkAllSlots(r: Rig): { slots: number; bad: string[] } {
  const { t, pool } = r;
  const bad: string[] = [];
  let slots = 0;
  for (const { block } of blocks(r)) {
    if (r.sys.m.mem.rdPtr(block + t.BLK_PP) !== pool) bad.push(`block ${block}: pp`);
    for (let i = 0; i < t.ITEMS_PER_PAGE; i++) {
      const item = t.itemAt(block, i);
      slots++;
      if ((item & ~(PAGE - 1)) !== block || t.itemToBlock(item) !== block) bad.push(`item ${item}: & PAGE_MASK`);
      if (r.u32[(t.itemToBlock(item) + t.BLK_PP) >>> 2] !== pool) bad.push(`item ${item}: block->pp`);
      if (t.itemIndex(item) !== i || t.itemAt(t.itemToBlock(item), t.itemIndex(item)) !== item) bad.push(`item ${item}: index`);
      if (t.itemToBlockChecked(item) !== block) bad.push(`item ${item}: checked rejects a real slot`);
      for (let d = 1; d < t.ITEM_SIZE; d++) {
        if (t.itemToBlockChecked(item + d) !== 0) bad.push(`item ${item}+${d}: checked accepts a misaligned address`);
      }
    }
    for (let off = 0; off < t.ITEMS_OFF; off++) {
      if (t.itemToBlockChecked(block + off) !== 0) bad.push(`block ${block}+${off}: checked accepts a header address`);
    }
    const tail = block + t.ITEMS_OFF + t.ITEMS_PER_PAGE * t.ITEM_SIZE;
    if ((tail & (PAGE - 1)) !== 0 && t.itemToBlockChecked(tail) !== 0) bad.push(`block ${block}: checked accepts the tail`);
  }
  return { slots, bad };
}

describe("item-block geometry and pool init (v11, lp64, 4 KiB)", () => {
  it("block header offsets and items per page", () => {
    const { t } = rig({ poolSize: 1 });
    expect([t.BLK_PP, t.BLK_LIST, t.BLK_FLAGS, t.BLK_REF, t.ITEMS_OFF, t.ITEM_SIZE, t.ITEMS_PER_PAGE]).toEqual([0, 8, 24, 28, 32, 16, 254]);
    expect([ITEM_STATE, ITEM_PP_NETMEM, ITEM_LENTRY]).toEqual([0, 8, 8]);
    expect([PAGE_POOL_ITEM_USED, PAGE_POOL_ITEM_MAPPED, PAGE_POOL_SLOW_ITEM_BLOCK_BIT]).toEqual([1, 2, 1]);
  });

  it.each([
    [1024, 2688, 11, 2794],
    [256, 1152, 5, 1270],
    [1, 642, 3, 762],
  ])("pool_size %i: target %i items → %i blocks, %i items on hold_items", (poolSize, target, nBlocks, items) => {
    const r = rig({ poolSize });
    expect(itemTarget(poolSize)).toBe(target);
    const bl = blocks(r);
    expect(bl.length).toBe(nBlocks);
    expect(bl.every((b) => !b.slow)).toBe(true);
    const h = hold(r);
    expect(h.length).toBe(items);
    expect(new Set(h).size).toBe(items);
    expect(released(r)).toEqual([]);
    // list_add puts the newest block first; __llist_add makes its last item the head of hold_items.
    expect(h[0]).toBe(r.t.itemAt(bl[0]!.block, 253));
    expect(h[items - 1]).toBe(r.t.itemAt(bl[nBlocks - 1]!.block, 0));
    for (const { block } of bl) {
      expect(r.u32[(block + r.t.BLK_FLAGS) >>> 2]).toBe(0);
      expect(r.u32[(block + r.t.BLK_REF) >>> 2]).toBe(0);
    }
    expect(r.t.itemMemResident(r.pool)).toBe(nBlocks * PAGE);
    expect(r.t.itemMemUsed(r.pool)).toBe(nBlocks * PAGE);
    expect(r.t.usage(r.pool)).toEqual({
      trackedPages: 0,
      bytes: nBlocks * PAGE,
      units: { "item blocks (fast)": nBlocks, "item blocks (slow)": 0 },
      slotsPerUnit: 254,
    });
    const a = account(r);
    expect(a.errors).toEqual([]);
    expect(a.byClass["item blocks"]).toBe(nBlocks);
  });

  it("-ENOMEM at create when a block allocation fails, with nothing leaked", () => {
    // page_pool_create() allocates 3 pages before the blocks (the pool's kmalloc slab, the ring
    // queue, and the slab of the per-CPU recycle stats: 2 CPUs x 40 bytes), then 11 blocks for
    // pool_size 1024: the 4th..14th page allocations are blocks 1..11. (The 40-byte struct
    // ppemu_pool record, kmalloc'ed after the blocks, fits in a slab page the machine already has.)
    for (const space of [2, 3, 4, 8, 13]) {
      const sys = bootPpSystem("item-block", { bytes: 32 << 20, strict: true });
      const free = sys.m.pa.nrFree();
      sys.m.mem.setFail(FailSite.PAGE_ALLOC, { space, times: 1 });
      expect(sys.pps.create({ poolSize: 1024 })).toBe(-ENOMEM);
      expect(sys.m.mem.failInjected(FailSite.PAGE_ALLOC)).toBe(1);
      expect(sys.m.pa.nrFree()).toBe(free);
      let pools = 0;
      sys.pps.forEachPool(() => pools++);
      expect(pools).toBe(0);
      const a = accountFrames(sys.m.mem, ppClaimers(sys));
      expect(a.errors).toEqual([]);
      expect(a.byClass.allocated).toBe(0);
      expect(a.byClass["item blocks"]).toBeUndefined();
    }
    const sys = bootPpSystem("item-block", { bytes: 32 << 20, strict: true });
    sys.m.mem.setFail(FailSite.PAGE_ALLOC, { space: 14, times: 1 });
    const pool = sys.pps.create({ poolSize: 1024 });
    expect(pool).toBeGreaterThan(0);
    expect(sys.m.mem.failInjected(FailSite.PAGE_ALLOC)).toBe(0);
    expect((sys.pps.t as ItemBlockTracking).itemMemResident(pool)).toBe(11 * PAGE);
  });
});

describe("item-block masking, exhaustively", () => {
  it("every slot of 3 fast and 2 slow blocks: & PAGE_MASK, block->pp, index round trip, checked accessor", () => {
    const r = rig({ poolSize: 1 });
    const pages = allocN(r, 1024);
    const bl = blocks(r);
    expect(bl.map((b) => b.slow)).toEqual([true, true, false, false, false]);
    const { slots, bad } = checkAllSlots(r);
    expect(slots).toBe(5 * 254);
    expect(bad).toEqual([]);
    // Every page names its item, the item names the page, and the page's pool is found by masking.
    let ok = 0;
    for (const page of pages) {
      const item = itemOf(r, page);
      if (r.sys.m.mem.rdPtr(item + ITEM_PP_NETMEM) === page && r.t.poolOf(page) === r.pool && r.t.isPpPage(page)) ok++;
    }
    expect(ok).toBe(1024);
    // Addresses that are no item: NULL, a free frame, the struct page array.
    expect(r.t.itemToBlockChecked(0)).toBe(0);
    const freeFrame = r.sys.m.mem.pageAddress(r.sys.m.pa.allocPages(0, 1));
    expect(r.t.itemToBlockChecked(freeFrame + 32)).toBe(0);
    expect(r.t.itemToBlockChecked(pages[0]!)).toBe(0);
  });
});

describe("fast items: hold_items, release_items, llist_del_all", () => {
  it("drains hold_items, refills from returns newest first, counts item_fast_empty when both are empty", () => {
    const r = rig({ poolSize: 1 });
    const pages = allocN(r, 704); // 11 whole batches
    expect(hold(r).length).toBe(762 - 704);
    expect(released(r)).toEqual([]);
    const items = pages.slice(0, 10).map((p) => itemOf(r, p));
    for (const p of pages.slice(0, 10)) release(r, p);
    // llist_add pushes on the head: the newest return first.
    expect(released(r)).toEqual([...items].reverse());
    expect(hold(r).length).toBe(58);

    // The 12th batch takes the 58 held items, then llist_del_all() moves the 10 returns to hold.
    const p705 = r.sys.pps.allocPages(r.pool);
    expect(released(r)).toEqual([]);
    expect(hold(r)).toEqual([items[3], items[2], items[1], items[0]]);
    expect(itemOf(r, p705)).toBe(items[4]);
    const cache: number[] = [];
    r.sys.pps.forEachPooledPage(r.pool, (p) => cache.push(itemOf(r, p)));
    expect(cache.length).toBe(63);
    expect(cache.slice(58)).toEqual([items[9], items[8], items[7], items[6], items[5]]);
    expect(stats(r).item_fast_empty).toBe(0);

    // Drain the cache, then a batch finds 4 held items and nothing released: 60 slow items.
    allocN(r, 63);
    r.sys.pps.allocPages(r.pool);
    expect(hold(r)).toEqual([]);
    expect(stats(r).item_fast_empty).toBe(60);
    expect(stats(r).item_slow_failed).toBe(0);
    expect(r.u32[(r.pool + PP_SLOW_NEXT_TO_USE) >>> 2]).toBe(60);
    expect(blocks(r).filter((b) => b.slow).length).toBe(1);
  });
});

describe("slow items", () => {
  it("next_to_use, flags bit 0, ref from ITEMS_PER_PAGE down, freed at 0, drained at destroy", () => {
    const r = rig({ poolSize: 1, dma: true });
    const mem = r.sys.m.mem;
    const pages = allocN(r, 1024); // 762 fast + 262 slow items
    expect(stats(r).item_fast_empty).toBe(262);
    const bl = blocks(r);
    const [B, A] = [bl[0]!.block, bl[1]!.block]; // newest first
    expect(bl.map((b) => b.slow)).toEqual([true, true, false, false, false]);
    expect(mem.rdPtr(r.pool + PP_SLOW_BLOCK)).toBe(B);
    expect(r.u32[(r.pool + PP_SLOW_NEXT_TO_USE) >>> 2]).toBe(8);
    for (const blk of [A, B]) {
      expect(r.u32[(blk + r.t.BLK_FLAGS) >>> 2]).toBe(PAGE_POOL_SLOW_ITEM_BLOCK_BIT);
      expect(r.u32[(blk + r.t.BLK_REF) >>> 2]).toBe(254);
    }
    // Slow items are handed out in order: item s - 762 of A, then of B.
    const inA: number[] = [];
    const inB: number[] = [];
    pages.forEach((p, j) => {
      const s = seqOf(j);
      if (s < 762) return;
      const want = s - 762 < 254 ? r.t.itemAt(A, s - 762) : r.t.itemAt(B, s - 762 - 254);
      expect(itemOf(r, p)).toBe(want);
      (s - 762 < 254 ? inA : inB).push(p);
    });
    expect([inA.length, inB.length]).toEqual([254, 8]);
    expect(r.t.itemMemResident(r.pool)).toBe(5 * PAGE);
    expect(r.t.itemMemUsed(r.pool)).toBe(3 * PAGE + 2 * (PAGE - 16 * 254));

    // ref-- per returned slow item; at 0 the block is unlinked and its frame goes back.
    for (const p of inA.slice(0, 253)) release(r, p);
    expect(r.u32[(A + r.t.BLK_REF) >>> 2]).toBe(1);
    const free = r.sys.m.pa.nrFree();
    release(r, inA[253]!);
    expect(r.sys.m.pa.nrFree()).toBe(free + 2); // the page and the block
    expect(r.sys.m.pa.isBuddy(mem.virtToPage(A)) || r.sys.m.pa.inFreeBlock(mem.virtToPfn(A))).toBe(true);
    expect(blocks(r).map((b) => b.block)).not.toContain(A);
    expect(r.t.itemMemResident(r.pool)).toBe(4 * PAGE);
    for (const p of inB.slice(0, 3)) release(r, p);
    expect(r.u32[(B + r.t.BLK_REF) >>> 2]).toBe(251);
    expect(r.t.itemMemUsed(r.pool)).toBe(3 * PAGE + (PAGE - 16 * 251));

    // Everything but 5 slow pages goes back; destroy drains B's 246 unused items: ref = 5.
    pages.forEach((p) => {
      if (!inA.includes(p) && !inB.includes(p)) release(r, p);
    });
    r.sys.pps.destroy(r.pool);
    expect(r.sys.pps.inflight(r.pool)).toBe(5);
    expect(r.u32[(B + r.t.BLK_REF) >>> 2]).toBe(5);
    for (const p of inB.slice(3)) release(r, p);
    expect(blocks(r).map((b) => b.block)).not.toContain(B);
    r.sys.pps.advance(1000);
    expect(r.sys.pps.isLive(r.pool)).toBe(false);
    const a = account(r);
    assertAccounted(a);
    expect(a.byClass["item blocks"]).toBeUndefined();
    expect(a.byClass.allocated).toBe(0);
  });

  it("a pool that does not map DMA drains its slow block too: no ref warning at teardown", () => {
    const r = rig({ poolSize: 1 }); // strict: a PP_ITEM_BLOCK_REF warning would throw
    const pages = allocN(r, 770); // 13 batches: 832 items, 70 of them slow
    expect(r.u32[(r.pool + PP_SLOW_NEXT_TO_USE) >>> 2]).toBe(70);
    for (const p of pages) release(r, p);
    const slow = blocks(r).find((b) => b.slow)!.block;
    expect(r.u32[(slow + r.t.BLK_REF) >>> 2]).toBe(254 - 8); // 8 slow items still in the cache
    r.sys.pps.destroy(r.pool);
    expect(r.sys.pps.isLive(r.pool)).toBe(false);
    expect(r.sys.m.mem.diagTotal).toBe(0);
    const a = account(r);
    assertAccounted(a);
    expect(a.byClass.allocated).toBe(0);
  });

  it("item_slow_failed under page-allocation failure: the page allocation fails, nothing leaks", () => {
    const r = rig({ poolSize: 1 });
    const pages = allocN(r, 704);
    for (const p of pages.slice(0, 6)) release(r, p);
    allocN(r, 64); // the 12th batch takes the last 58 held + 6 released items
    expect(hold(r)).toEqual([]);
    expect(released(r)).toEqual([]);
    const free = r.sys.m.pa.nrFree();
    // The bulk allocation passes; every slow-block page allocation after it fails.
    r.sys.m.mem.setFail(FailSite.PAGE_ALLOC, { space: 1, times: 0 });
    expect(r.sys.pps.allocPages(r.pool)).toBe(0);
    expect(stats(r).item_fast_empty).toBe(64);
    expect(stats(r).item_slow_failed).toBe(64);
    expect(stats(r).slow).toBe(12);
    expect(r.sys.m.mem.failInjected(FailSite.PAGE_ALLOC)).toBe(64);
    expect(r.sys.m.pa.nrFree()).toBe(free);
    expect(r.u32[(r.pool + PP_HOLD_CNT) >>> 2]).toBe(768);
    expect(r.u32[(r.pool + PP_SLOW_BLOCK) >>> 2]).toBe(0);
    expect(blocks(r).length).toBe(3);
    r.sys.m.mem.clearFail(FailSite.PAGE_ALLOC);
    expect(r.sys.pps.allocPages(r.pool)).not.toBe(0);
    expect(stats(r).item_fast_empty).toBe(128);
    expect(stats(r).item_slow_failed).toBe(64);
    expect(r.u32[(r.pool + PP_SLOW_NEXT_TO_USE) >>> 2]).toBe(64);
    assertAccounted(account(r));
  });
});

describe("MAPPED and the destroy scan", () => {
  it("USED|MAPPED after map, both clear after the page leaves; no MAPPED without DMA", () => {
    const r = rig({ poolSize: 64, dma: true });
    const page = r.sys.pps.allocPages(r.pool);
    const seen: number[] = [];
    r.sys.pps.forEachPooledPage(r.pool, (p) => seen.push(state(r, itemOf(r, p))));
    seen.push(state(r, itemOf(r, page)));
    expect(seen).toEqual(new Array(64).fill(PAGE_POOL_ITEM_USED | PAGE_POOL_ITEM_MAPPED));
    expect(r.u32[(page + PAGE_DMA_ADDR) >>> 2]).not.toBe(0);
    const item = itemOf(r, page);
    // Keep a page reference so the frame is not freed (a free frame reuses lru = pp_magic/pp_item).
    r.sys.m.pa.getPage(page);
    r.sys.pps.putFullPage(r.pool, page, false);
    expect(state(r, item)).toBe(0);
    expect(r.u32[(page + PAGE_DMA_ADDR) >>> 2]).toBe(0);
    expect(r.u32[(page + PAGE_PP_ITEM) >>> 2]).toBe(0);
    expect([r.u32[(page + PAGE_PP_MAGIC) >>> 2], r.u32[((page + PAGE_PP_MAGIC) >>> 2) + 1]]).toEqual([0, 0]);
    expect(released(r)).toEqual([item]);
    expect(r.sys.dma.deviceStats(r.dev).live).toBe(63);
    r.sys.m.pa.putPage(page);

    const n = rig({ poolSize: 64 });
    const q = n.sys.pps.allocPages(n.pool);
    expect(state(n, itemOf(n, q))).toBe(PAGE_POOL_ITEM_USED);
  });

  it("destroy unmaps every MAPPED item exactly once, fast and slow; late returns skip the DMA API", () => {
    const r = rig({ poolSize: 16, dma: true }); // 3 blocks, 762 fast items
    const pages = allocN(r, 900); // 15 batches: 960 mapped pages, 198 on slow items
    const ring = pages.splice(0, 16);
    for (const p of ring) r.sys.pps.putFullPage(r.pool, p, false);
    expect(r.sys.pps.ringCount(r.pool)).toBe(16);
    expect(r.sys.pps.cacheCount(r.pool)).toBe(60);
    let mapped = 0;
    for (const { block } of blocks(r)) {
      for (let i = 0; i < 254; i++) if (state(r, r.t.itemAt(block, i)) & PAGE_POOL_ITEM_MAPPED) mapped++;
    }
    expect(mapped).toBe(960);
    expect(r.sys.dma.deviceStats(r.dev).maps).toBe(960);

    r.sys.pps.destroy(r.pool);
    const ds = r.sys.dma.deviceStats(r.dev);
    expect([ds.unmaps, ds.live, ds.doubleUnmap, ds.unmapUnknown]).toEqual([960, 0, 0, 0]);
    expect(r.sys.pps.inflight(r.pool)).toBe(884);
    mapped = 0;
    for (const { block } of blocks(r)) {
      for (let i = 0; i < 254; i++) if (state(r, r.t.itemAt(block, i)) & PAGE_POOL_ITEM_MAPPED) mapped++;
    }
    expect(mapped).toBe(0);
    expect(pages.every((p) => r.u32[(p + PAGE_DMA_ADDR) >>> 2] === 0)).toBe(true);

    r.sys.dma.deviceUnbind(r.dev);
    expect(r.sys.dma.deviceStats(r.dev).outlivedDriver).toBe(0);
    for (const p of pages) r.sys.pps.putFullPage(r.pool, p, false);
    r.sys.pps.advance(1000);
    const after = r.sys.dma.deviceStats(r.dev);
    expect([after.unmaps, after.unmapAfterUnbind, after.syncAfterUnbind, after.doubleUnmap]).toEqual([960, 0, 0, 0]);
    expect(r.sys.pps.isLive(r.pool)).toBe(false);
    expect(r.sys.m.mem.diagTotal).toBe(0);
    assertAccounted(account(r));
  });
});

describe("block variants", () => {
  it("v9 patch 2: 24-byte header, no slow blocks: an exhausted pool fails the allocation", () => {
    const r = rig({ poolSize: 1, variant: "v9p2" });
    expect([r.t.BLK_PP, r.t.BLK_LIST, r.t.BLK_FLAGS, r.t.BLK_REF, r.t.ITEMS_OFF, r.t.ITEMS_PER_PAGE]).toEqual([0, 8, -1, -1, 24, 254]);
    expect(r.t.geometry.tailBytes).toBe(8);
    expect(blocks(r).length).toBe(3);
    const { slots, bad } = checkAllSlots(r);
    expect(slots).toBe(762);
    expect(bad).toEqual([]);
    expect(r.t.itemToBlockChecked(blocks(r)[0]!.block + 24 + 254 * 16)).toBe(0);
    const free = r.sys.m.pa.nrFree();
    allocN(r, 762); // the 12th batch: 58 items, 6 pages given back
    expect(stats(r).item_fast_empty).toBe(6);
    expect(r.sys.m.pa.nrFree()).toBe(free - 762);
    expect(r.sys.pps.allocPages(r.pool)).toBe(0);
    expect(stats(r).item_fast_empty).toBe(70);
    expect(stats(r).item_slow_failed).toBe(0);
    expect(r.sys.m.pa.nrFree()).toBe(free - 762);
    expect(blocks(r).length).toBe(3);
    assertAccounted(account(r));
  });

  it("RFCv5: list first, pp at 16, ref at 24, flags at 28; masking and slow blocks work the same", () => {
    const r = rig({ poolSize: 1, variant: "rfcv5", dma: true });
    expect([r.t.BLK_LIST, r.t.BLK_PP, r.t.BLK_REF, r.t.BLK_FLAGS, r.t.ITEMS_OFF, r.t.ITEMS_PER_PAGE]).toEqual([0, 16, 24, 28, 32, 254]);
    const pages = allocN(r, 832); // 13 batches: 70 slow items
    const slow = blocks(r).find((b) => b.slow)!.block;
    expect(r.u32[(slow + 28) >>> 2]).toBe(PAGE_POOL_SLOW_ITEM_BLOCK_BIT);
    expect(r.u32[(slow + 24) >>> 2]).toBe(254);
    expect(r.sys.m.mem.rdPtr(slow + 16)).toBe(r.pool);
    expect(pages.every((p) => r.t.poolOf(p) === r.pool)).toBe(true);
    const { slots, bad } = checkAllSlots(r);
    expect(slots).toBe(4 * 254);
    expect(bad).toEqual([]);
    const onSlow = pages.filter((p) => (itemOf(r, p) & ~(PAGE - 1)) === slow);
    expect(onSlow.length).toBe(70);
    release(r, onSlow[0]!);
    expect(r.u32[(slow + 24) >>> 2]).toBe(253);
    r.sys.pps.destroy(r.pool);
    expect(r.u32[(slow + 24) >>> 2]).toBe(69);
    expect(r.sys.dma.deviceStats(r.dev).live).toBe(0);
    for (const p of pages) if (p !== onSlow[0]) release(r, p);
    r.sys.pps.advance(1000);
    expect(r.sys.pps.isLive(r.pool)).toBe(false);
    assertAccounted(account(r));
  });
});
