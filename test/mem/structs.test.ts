import { describe, expect, it } from "vitest";
import { ILP32, LP64, type Arch } from "../../src/arch.js";
import { layoutOf, offsetOf, sizeOf } from "../../src/mem/ctype.js";
import {
  ITEM_BLOCK_OF,
  STRUCT_NET_IOV,
  STRUCT_NETMEM_DESC,
  STRUCT_NETMEM_ITEM_BLOCK,
  STRUCT_PAGE,
  STRUCT_PAGE_POOL_ITEM,
  STRUCT_PAGE_POOL_ITEM_BLOCK_RFCV5,
  STRUCT_PAGE_POOL_ITEM_BLOCK_V11,
  STRUCT_PAGE_POOL_ITEM_BLOCK_V9P2,
  STRUCT_PAGE_POOL_SLOW_ITEM,
  STRUCT_PP_ALLOC_CACHE,
  STRUCT_PTR_RING,
  STRUCT_XA_NODE,
  STRUCT_XARRAY,
  XA_CHUNK_SIZE,
} from "../../src/mem/structs.js";
import { initialBlocks, itemGeometry, itemTarget } from "../../src/mem/item_geometry.js";
import * as page from "../../src/mem/page.js";

const offsets = (l: ReturnType<typeof layoutOf>, names: string[]) => Object.fromEntries(names.map((n) => [n, offsetOf(l, n)]));

describe("struct page (KERNEL-FACTS §1)", () => {
  it("lp64: the page_pool view", () => {
    const l = layoutOf(STRUCT_PAGE, LP64);
    expect(l.size).toBe(64);
    expect(
      offsets(l, ["flags", "pp_magic", "pp", "pp_item", "_pp_mapping_pad", "dma_addr", "pp_ref_count", "_mapcount", "page_type", "_refcount", "memcg_data"]),
    ).toEqual({
      flags: 0,
      pp_magic: 8,
      pp: 16,
      pp_item: 16,
      _pp_mapping_pad: 24,
      dma_addr: 32,
      pp_ref_count: 40,
      _mapcount: 48,
      page_type: 48,
      _refcount: 52,
      memcg_data: 56,
    });
    expect(l.sz.pp_magic).toBe(8);
    expect(l.sz.pp_ref_count).toBe(8);
    expect(l.sz._refcount).toBe(4);
    expect(l.holes).toEqual([]);
    expect(l.padding).toBe(0);
  });

  it("ilp32: 4-byte words, 32 bytes, no memcg_data", () => {
    const l = layoutOf(STRUCT_PAGE, ILP32);
    expect(l.size).toBe(32);
    expect(offsets(l, ["flags", "pp_magic", "pp", "pp_item", "_pp_mapping_pad", "dma_addr", "pp_ref_count", "_mapcount", "_refcount"])).toEqual({
      flags: 0,
      pp_magic: 4,
      pp: 8,
      pp_item: 8,
      _pp_mapping_pad: 12,
      dma_addr: 16,
      pp_ref_count: 20,
      _mapcount: 24,
      _refcount: 28,
    });
    expect(l.off.memcg_data).toBeUndefined();
  });

  it("page.ts constants come from the lp64 layout", () => {
    expect(page.STRUCT_PAGE_SIZE).toBe(64);
    expect(page.STRUCT_PAGE_SHIFT).toBe(6);
    expect([page.PAGE_PP_MAGIC, page.PAGE_PP, page.PAGE_PP_ITEM, page.PAGE_MAPPING, page.PAGE_DMA_ADDR]).toEqual([8, 16, 16, 24, 32]);
    expect([page.PAGE_PP_REF_COUNT, page.PAGE_MAPCOUNT, page.PAGE_REFCOUNT, page.PAGE_MEMCG]).toEqual([40, 48, 52, 56]);
    expect(page.PAGE_LRU_NEXT).toBe(8);
    expect(page.PAGE_LRU_PREV).toBe(16);
  });
});

describe("net_iov and netmem_desc mirror struct page's page_pool words", () => {
  for (const arch of [LP64, ILP32] as Arch[]) {
    it(arch.name, () => {
      const pg = layoutOf(STRUCT_PAGE, arch);
      const desc = layoutOf(STRUCT_NETMEM_DESC, arch);
      const iov = layoutOf(STRUCT_NET_IOV, arch);
      for (const f of ["pp_magic", "pp", "_pp_mapping_pad", "dma_addr", "pp_ref_count"]) {
        expect([f, offsetOf(desc, f)]).toEqual([f, offsetOf(pg, f)]);
        expect([f, offsetOf(iov, f)]).toEqual([f, offsetOf(pg, f)]);
        expect([f, offsetOf(iov, `desc.${f}`)]).toEqual([f, offsetOf(pg, f)]);
      }
      expect(offsetOf(desc, "_flags")).toBe(offsetOf(pg, "flags"));
      expect(offsetOf(iov, "_flags")).toBe(offsetOf(pg, "flags"));
    });
  }
  it("sizes", () => {
    expect(layoutOf(STRUCT_NETMEM_DESC, LP64).size).toBe(48);
    expect(offsetOf(layoutOf(STRUCT_NET_IOV, LP64), "owner")).toBe(48);
    expect(layoutOf(STRUCT_NETMEM_DESC, ILP32).size).toBe(24);
  });
});

describe("item blocks (KERNEL-FACTS §3)", () => {
  it("page_pool_item: 16 bytes on lp64, 8 on ilp32", () => {
    const l = layoutOf(STRUCT_PAGE_POOL_ITEM, LP64);
    expect(l.size).toBe(16);
    expect(offsets(l, ["state", "pp_netmem", "lentry", "lentry.next"])).toEqual({ state: 0, pp_netmem: 8, lentry: 8, "lentry.next": 8 });
    expect(layoutOf(STRUCT_PAGE_POOL_ITEM, ILP32).size).toBe(8);
  });

  it("v11 header: pp@0, list@8, flags@24, ref@28, items@32", () => {
    const l = layoutOf(STRUCT_PAGE_POOL_ITEM_BLOCK_V11, LP64);
    expect(offsets(l, ["pp", "list", "list.next", "list.prev", "flags", "ref", "items"])).toEqual({
      pp: 0,
      list: 8,
      "list.next": 8,
      "list.prev": 16,
      flags: 24,
      ref: 28,
      items: 32,
    });
    expect(l.size).toBe(32);
    expect(l.sz.items).toBe(0);
    expect(ITEM_BLOCK_OF.v11).toBe(STRUCT_PAGE_POOL_ITEM_BLOCK_V11);
  });

  it("v9 patch 2: a 24-byte header", () => {
    const l = layoutOf(STRUCT_PAGE_POOL_ITEM_BLOCK_V9P2, LP64);
    expect(offsets(l, ["pp", "list", "items"])).toEqual({ pp: 0, list: 8, items: 24 });
    expect(l.size).toBe(24);
  });

  it("RFCv5 order: list@0, pp@16, ref@24, flags@28, items@32", () => {
    const l = layoutOf(STRUCT_PAGE_POOL_ITEM_BLOCK_RFCV5, LP64);
    expect(offsets(l, ["list", "pp", "ref", "flags", "items"])).toEqual({ list: 0, pp: 16, ref: 24, flags: 28, items: 32 });
  });

  it("ilp32 v11: 20-byte header", () => {
    const l = layoutOf(STRUCT_PAGE_POOL_ITEM_BLOCK_V11, ILP32);
    expect(offsets(l, ["pp", "list", "flags", "ref", "items"])).toEqual({ pp: 0, list: 4, flags: 12, ref: 16, items: 20 });
  });

  it("netmem_item_block.pp sits where page_pool_item_block.pp does (v11 static_assert)", () => {
    for (const a of [LP64, ILP32]) {
      expect(offsetOf(layoutOf(STRUCT_NETMEM_ITEM_BLOCK, a), "pp")).toBe(offsetOf(layoutOf(STRUCT_PAGE_POOL_ITEM_BLOCK_V11, a), "pp"));
    }
  });

  it("page_pool_slow_item: block@0, next_to_use@8, 16 bytes", () => {
    const l = layoutOf(STRUCT_PAGE_POOL_SLOW_ITEM, LP64);
    expect(offsets(l, ["block", "next_to_use"])).toEqual({ block: 0, next_to_use: 8 });
    expect(l.size).toBe(16);
    expect(l.padding).toBe(4);
  });

  it("ITEMS_PER_PAGE per variant, arch and page size", () => {
    const ipp = (v: "v11" | "v9p2" | "rfcv5", a: Arch, p: "4k" | "16k" | "64k") => itemGeometry(v, a, p).ITEMS_PER_PAGE;
    expect(ipp("v11", LP64, "4k")).toBe(254);
    expect(ipp("v11", LP64, "16k")).toBe(1022);
    expect(ipp("v11", LP64, "64k")).toBe(4094);
    expect(ipp("v9p2", LP64, "4k")).toBe(254);
    expect(ipp("rfcv5", LP64, "4k")).toBe(254);
    expect(ipp("v11", ILP32, "4k")).toBe(509);
    const g = itemGeometry("v11", LP64, "4k");
    expect([g.itemsOffset, g.itemSize, g.itemAlign, g.tailBytes, g.ppOffset]).toEqual([32, 16, 8, 0, 0]);
    const g9 = itemGeometry("v9p2", LP64, "4k");
    expect([g9.itemsOffset, g9.tailBytes]).toEqual([24, 8]);
    const gi = itemGeometry("v11", ILP32, "4k");
    expect([gi.itemsOffset, gi.itemSize, gi.tailBytes]).toEqual([20, 8, 4]);
  });

  it("v11 pool init sizing", () => {
    const g = itemGeometry("v11", LP64, "4k");
    expect(itemTarget(1024)).toBe(2688);
    expect(initialBlocks(1024, g)).toBe(11);
    expect(initialBlocks(1024, g) * g.ITEMS_PER_PAGE).toBe(2794);
    expect(initialBlocks(256, g)).toBe(5);
    expect(initialBlocks(0, g)).toBe(3);
    expect(initialBlocks(4096, g)).toBe(35);
  });
});

describe("xarray and ptr_ring", () => {
  it("xa_node: 576 bytes, 64 slots at 40", () => {
    const l = layoutOf(STRUCT_XA_NODE, LP64);
    expect(l.size).toBe(576);
    expect(XA_CHUNK_SIZE).toBe(64);
    expect(offsetOf(l, "slots")).toBe(40);
    expect(l.sz.slots).toBe(64 * 8);
    expect(offsets(l, ["shift", "offset", "count", "nr_values", "parent", "array", "private_list", "rcu_head", "marks"])).toEqual({
      shift: 0,
      offset: 1,
      count: 2,
      nr_values: 3,
      parent: 8,
      array: 16,
      private_list: 24,
      rcu_head: 24,
      marks: 552,
    });
    expect(l.holes).toEqual([{ before: "parent", offset: 4, size: 4 }]);
  });

  it("xa_node on ilp32: 300 bytes, marks take two longs each", () => {
    const l = layoutOf(STRUCT_XA_NODE, ILP32);
    expect(l.size).toBe(300);
    expect(offsetOf(l, "slots")).toBe(20);
    expect(l.sz.marks).toBe(24);
  });

  it("xarray: 16 bytes", () => {
    const l = layoutOf(STRUCT_XARRAY, LP64);
    expect(offsets(l, ["xa_lock", "xa_flags", "xa_head"])).toEqual({ xa_lock: 0, xa_flags: 4, xa_head: 8 });
    expect(l.size).toBe(16);
  });

  it("ptr_ring: three cache lines, 192 bytes", () => {
    const l = layoutOf(STRUCT_PTR_RING, LP64);
    expect(l.size).toBe(192);
    expect(l.align).toBe(64);
    expect(offsets(l, ["producer", "producer_lock", "consumer_head", "consumer_tail", "consumer_lock", "size", "batch", "queue"])).toEqual({
      producer: 0,
      producer_lock: 4,
      consumer_head: 64,
      consumer_tail: 68,
      consumer_lock: 72,
      size: 128,
      batch: 132,
      queue: 136,
    });
    expect(l.holes).toEqual([
      { before: "consumer_head", offset: 8, size: 56 },
      { before: "size", offset: 76, size: 52 },
    ]);
    expect(l.padding).toBe(48);
    expect(l.sumMembers).toBe(36);
  });

  it("pp_alloc_cache: 128 netmem_refs after a u32", () => {
    const l = layoutOf(STRUCT_PP_ALLOC_CACHE, LP64);
    expect(offsetOf(l, "cache")).toBe(8);
    expect(l.size).toBe(1032);
    expect(sizeOf(STRUCT_PP_ALLOC_CACHE, ILP32)).toBe(516);
  });
});
