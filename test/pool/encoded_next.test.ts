/**
 * v7-encoded-next (Yunsheng Lin's v7 6/8, <20250110130703.3814407-7-linyunsheng@huawei.com>): the
 * encoded_next encoding, the declarations, the ring as a LIFO list of items against pool_size, and
 * the same operations on a ptr_ring build beside it where the two differ.
 */
import { describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { LP64, ILP32 } from "../../src/arch.js";
import { layoutOf, offsetOf } from "../../src/mem/ctype.js";
import { findBuild } from "../../src/builds/index.js";
import { EncodedNextTracking, ENCODED_NEXT, encodedNextText } from "../../src/builds/encoded_next.js";
import {
  PAGE_POOL_ITEM_STATE_MASK,
  STRUCT_PAGE_POOL_ITEM_V7,
  STRUCT_PAGE_POOL_V7,
  STRUCT_PP_RING_CACHE,
  decodeNext,
  decodeState,
  encodeNext,
} from "../../src/builds/encoded_next_structs.js";
import { STRUCT_PAGE_POOL_V11 } from "../../src/builds/item_block_structs.js";
import { ITEM_BLOCK, PAGE_POOL_ITEM_MAPPED, PAGE_POOL_ITEM_USED } from "../../src/builds/item_block.js";
import { poolOffsetsOf } from "../../src/pool/pool_offsets.js";
import { PAGE_PP_ITEM, DIRECT_MAP_HI } from "../../src/mem/page.js";
import { PP_ALLOC_CACHE_SIZE } from "../../src/mem/structs.js";
import { bootPpSystem, type PpSystem } from "../../src/pool/index.js";
import { startCpus } from "../../src/smp/runner.js";
import { setServingSoftirq } from "../../src/smp/percpu.js";
import { Diag } from "../../src/mem/diag.js";
import { accounted, allocN, rig } from "./helpers.js";

const V7 = findBuild("v7-encoded-next")!;
const program = (name: string): string => fileURLToPath(new URL(`../smp/programs/${name}`, import.meta.url));

describe("encoded_next: next item | 2-bit state", () => {
  it("PAGE_POOL_ITEM_STATE_MASK is USED | MAPPED = 0x3, the same bits v11's state uses", () => {
    expect(PAGE_POOL_ITEM_STATE_MASK).toBe(0x3);
    expect(PAGE_POOL_ITEM_USED | PAGE_POOL_ITEM_MAPPED).toBe(PAGE_POOL_ITEM_STATE_MASK);
  });

  it("set_next keeps the state and replaces the old next; get_next drops the state", () => {
    // An item whose word holds an old next (0x00102040) and MAPPED, given a new next 0x00203010.
    expect(encodeNext(0x00102042, 0x00203010)).toBe(0x00203012);
    expect(encodeNext(0x00102043, 0)).toBe(0x3);
    expect(encodeNext(0, 0x00203010)).toBe(0x00203010);
    expect(encodeNext(0x1, 0xfffffff0)).toBe(0xfffffff1);
    expect(decodeNext(0x00203013)).toBe(0x00203010);
    expect(decodeNext(0x3)).toBe(0);
    expect(decodeState(0x00203013)).toBe(3);
    expect(decodeState(0x00203012)).toBe(PAGE_POOL_ITEM_MAPPED);
    expect(decodeNext(0xffffffff)).toBe(0xfffffffc);
  });

  it("explain's text decodes both halves", () => {
    expect(encodedNextText(0x00203013)).toBe("encoded_next 0x00203013: next 0x00203010, state USED|MAPPED");
    expect(encodedNextText(0x2)).toBe("encoded_next 0x00000002: next NULL, state MAPPED");
  });
});

describe("the v7 declarations", () => {
  it("struct page_pool_item: encoded_next where v11 had state, the union after it", () => {
    const lp = layoutOf(STRUCT_PAGE_POOL_ITEM_V7, LP64);
    expect([offsetOf(lp, "encoded_next"), offsetOf(lp, "pp_netmem"), offsetOf(lp, "lentry"), lp.size, lp.align]).toEqual([0, 8, 8, 16, 8]);
    const il = layoutOf(STRUCT_PAGE_POOL_ITEM_V7, ILP32);
    expect([offsetOf(il, "encoded_next"), offsetOf(il, "pp_netmem"), il.size, il.align]).toEqual([0, 4, 8, 4]);
  });

  it("struct pp_ring_cache: list, then the atomic count", () => {
    const l = layoutOf(STRUCT_PP_RING_CACHE, LP64);
    expect([offsetOf(l, "list"), offsetOf(l, "count"), l.size]).toEqual([0, 8, 16]);
  });

  it("struct page_pool: the ring on a cache line of its own start, item_blk/item_blk_idx after hold_items, no ptr_ring, no mp_ops", () => {
    const l = layoutOf(STRUCT_PAGE_POOL_V7, LP64);
    const ring = offsetOf(l, "ring");
    expect(ring % 64).toBe(0);
    expect(offsetOf(l, "ring.list")).toBe(ring);
    expect(offsetOf(l, "ring.count")).toBe(ring + 8);
    // The 16-byte ring is followed directly by mp_priv: they share the ring's cache line, as do
    // recycle_stats and pages_state_release_cnt (which every page's release increments).
    expect(offsetOf(l, "mp_priv")).toBe(ring + 16);
    expect(offsetOf(l, "recycle_stats")).toBe(ring + 24);
    expect(offsetOf(l, "pages_state_release_cnt")).toBe(ring + 32);
    expect(offsetOf(l, "item_blk")).toBe(offsetOf(l, "hold_items") + 8);
    expect(offsetOf(l, "item_blk_idx")).toBe(offsetOf(l, "item_blk") + 8);
    expect(l.off["ring.producer_lock"]).toBeUndefined();
    expect(l.off["mp_ops"]).toBeUndefined();
    expect(l.off["slow_items"]).toBeUndefined();
    // v11 has the ptr_ring, mp_ops and slow_items the v7 struct lacks.
    const v11 = layoutOf(STRUCT_PAGE_POOL_V11, LP64);
    expect(v11.off["ring.producer_lock"]).toBeDefined();
    expect(v11.off["mp_ops"]).toBeDefined();
  });

  it("the build: id 107, its own layout reusing v11's item blocks, offsets read by the mechanism", () => {
    expect(V7.id).toBe(107);
    expect(V7.layout).toBe(ENCODED_NEXT);
    expect(V7.variant).toBe("v11");
    expect(ENCODED_NEXT.pageWords).toEqual(ITEM_BLOCK.pageWords);
    const o = poolOffsetsOf(V7.structs);
    expect(o.ring).toBe(offsetOf(layoutOf(STRUCT_PAGE_POOL_V7, LP64), "ring"));
    expect(o.need("item_blk")).toBe(offsetOf(layoutOf(STRUCT_PAGE_POOL_V7, LP64), "item_blk"));
  });
});

/** The ring of a v7 pool, and the item the page names. */
function ringOf(sys: PpSystem) {
  expect(sys.pps.t).toBeInstanceOf(EncodedNextTracking);
  return (sys.pps.t as EncodedNextTracking).ring;
}
const itemOf = (sys: PpSystem, page: number): number => sys.m.mem.u32[(page + PAGE_PP_ITEM) >>> 2]!;

/** A pool whose alloc cache is empty: the first 64 allocations leave nothing in it. */
function emptyCache(build: string, poolSize: number, dma = false) {
  const r = rig({ poolSize, dma }, build);
  const pages = allocN(r, r.pool, PP_ALLOC_CACHE_SIZE / 2);
  expect(r.pps.cacheCount(r.pool)).toBe(0);
  return { r, pages };
}

describe("the ring: a LIFO of items through encoded_next", () => {
  it("after 5 puts the list is the items newest first, each encoded_next = the previous item | USED|MAPPED", () => {
    const { r, pages } = emptyCache("v7-encoded-next", 1024, true);
    const put = pages.slice(0, 5);
    for (const p of put) r.pps.putPage(r.pool, p, -1, false);
    const ring = ringOf(r);
    const items = put.map((p) => itemOf(r, p));
    expect(ring.items(r.pool).map((x) => x.item)).toEqual([...items].reverse());
    // DMA pool with the debug checks on: every item is MAPPED and USED.
    const enc = ring.items(r.pool).map((x) => x.encoded);
    expect(enc).toEqual([items[3]! | 3, items[2]! | 3, items[1]! | 3, items[0]! | 3, 3]);
    const u32 = r.m.mem.u32;
    // The high words: the region tag of a pointer, 0 for the tail's NULL.
    expect(items.map((it) => u32[((it + 4) >>> 2)])).toEqual([0, DIRECT_MAP_HI, DIRECT_MAP_HI, DIRECT_MAP_HI, DIRECT_MAP_HI]);
    expect(u32[(r.pool + ring.RING_LIST) >>> 2]).toBe(items[4]);
    expect(u32[(r.pool + ring.RING_LIST + 4) >>> 2]).toBe(DIRECT_MAP_HI);
    expect(ring.count(r.pool)).toBe(5);
    expect(r.pps.ringCount(r.pool)).toBe(5);
    expect(r.pps.stats(r.pool).recycle.ring).toBe(5);
    // explain's view of the newest page: its item, then the decoded word.
    const lines = (r.pps.t as EncodedNextTracking).describePage(put[4]!);
    expect(lines[lines.length - 1]).toBe(encodedNextText(items[3]! | 3));
    accounted(r);
  });

  it("without DMA the state is USED only (checks on), and the item's state bits survive the trip", () => {
    const { r, pages } = emptyCache("v7-encoded-next", 1024);
    for (const p of pages.slice(0, 3)) r.pps.putPage(r.pool, p, -1, false);
    expect(ringOf(r).items(r.pool).map((x) => decodeState(x.encoded))).toEqual([1, 1, 1]);
  });

  it("the refill pops newest first into the cache, so the page put first comes back first (ptr_ring: last)", () => {
    for (const [build, order] of [["v7-encoded-next", [0, 1, 2, 3, 4]], ["v11", [4, 3, 2, 1, 0]]] as const) {
      const { r, pages } = emptyCache(build, 1024);
      const put = pages.slice(0, 5);
      for (const p of put) r.pps.putPage(r.pool, p, -1, false);
      const back = allocN(r, r.pool, 5);
      expect(back, build).toEqual(order.map((i) => put[i]));
      expect(r.pps.ringCount(r.pool)).toBe(0);
      expect(r.pps.stats(r.pool).alloc.refill, build).toBe(1);
    }
    const { r } = emptyCache("v7-encoded-next", 1024);
    expect(ringOf(r).count(r.pool)).toBe(0);
  });

  it("an empty ring: the refill counts `empty` and goes to the page allocator", () => {
    const { r } = emptyCache("v7-encoded-next", 1024);
    expect(ringOf(r).empty(r.pool)).toBe(true);
    const { slow: slowBefore, empty: emptyBefore } = r.pps.stats(r.pool).alloc;
    expect(r.pps.allocPages(r.pool)).toBeGreaterThan(0);
    expect(r.pps.stats(r.pool).alloc.empty).toBe(emptyBefore! + 1);
    expect(r.pps.stats(r.pool).alloc.slow).toBe(slowBefore + 1);
  });
});

describe("full: atomic_read(&ring.count) > pool->p.pool_size", () => {
  it("pool_size 8 holds 9 pages (the test is >, not >=); the ptr_ring of 8 holds 8", () => {
    for (const [build, held] of [["v7-encoded-next", 9], ["v11", 8]] as const) {
      const { r, pages } = emptyCache(build, 8);
      const inflight = r.pps.inflight(r.pool);
      for (const p of pages.slice(0, 10)) r.pps.putPage(r.pool, p, -1, false);
      const st = r.pps.stats(r.pool).recycle;
      expect([r.pps.ringCount(r.pool), st.ring, st.ring_full], build).toEqual([held, held, 10 - held]);
      // The pages that found the ring full went back to the page allocator (the ring's are still held).
      expect(r.pps.inflight(r.pool)).toBe(inflight - (10 - held));
      accounted(r);
    }
  });

  it("pool_size 0 (ptr_ring: 1024 slots) leaves p.pool_size 0, so the list takes one page", () => {
    const { r, pages } = emptyCache("v7-encoded-next", 0);
    for (const p of pages.slice(0, 3)) r.pps.putPage(r.pool, p, -1, false);
    expect([r.pps.ringCount(r.pool), r.pps.stats(r.pool).recycle.ring_full]).toEqual([1, 2]);
    const v11 = emptyCache("v11", 0);
    for (const p of v11.pages.slice(0, 3)) v11.r.pps.putPage(v11.r.pool, p, -1, false);
    expect([v11.r.pps.ringCount(v11.r.pool), v11.r.pps.stats(v11.r.pool).recycle.ring_full]).toEqual([3, 0]);
  });

  it("a count that went negative (a pop's decrement before a push's increment) compares unsigned: full", () => {
    const { r, pages } = emptyCache("v7-encoded-next", 1024);
    const ring = ringOf(r);
    const c = (r.pool + ring.RING_COUNT) >>> 2;
    r.m.mem.u32[c] = 0xffffffff; // atomic_t -1
    expect(ring.count(r.pool)).toBe(-1);
    expect(ring.produce(r.pool, pages[0]!)).toBe(false);
    expect(ring.empty(r.pool)).toBe(true);
    r.m.mem.u32[c] = 0;
    expect(ring.produce(r.pool, pages[0]!)).toBe(true);
    expect(ring.consume(r.pool)).toBe(pages[0]);
    expect(ring.count(r.pool)).toBe(0);
    r.pps.putPage(r.pool, pages[0]!, -1, false);
  });
});

describe("destroy drains the list", () => {
  it("every page in the ring goes back; the pool is freed; every frame accounted for", () => {
    const { r, pages } = emptyCache("v7-encoded-next", 1024, true);
    for (const p of pages) r.pps.putPage(r.pool, p, -1, false);
    expect(r.pps.ringCount(r.pool)).toBe(pages.length);
    accounted(r);
    const freeBefore = r.m.pa.nrFree();
    r.pps.destroy(r.pool);
    expect(r.pps.isLive(r.pool)).toBe(false);
    // The 64 pages and the item blocks (2 * 1024 + 128 + 512 items: 11 blocks of 254), and the
    // slab pages the pool's kfree()s emptied.
    expect(r.m.pa.nrFree()).toBeGreaterThanOrEqual(freeBefore + pages.length + 11);
    expect(r.m.mem.diagTotal).toBe(0);
    accounted(r);
  });
});
