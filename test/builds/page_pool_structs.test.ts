/**
 * struct page_pool per kernel build, x86-64 (CONFIG_PAGE_POOL_STATS=y, CONFIG_SMP=y, 64-byte cache
 * lines, no lock debugging). Every number below was derived by hand from the declarations in
 * src/builds/*_structs.ts (which cite the kernel sources they were read from) and then checked
 * against layoutOf(); two anchors come from the kernel side:
 *  - Lobakin's 06d0fbdad612 ("page_pool: place frag_* fields in one cacheline", the v6.6 order)
 *    says `::alloc_stats` "still starts at 200-byte offset" after the move: v6.6 alloc_stats = 200.
 *  - DepSurf's BTF member list of Ubuntu 6.2 / 6.5 / 6.8 kernels gives the v6.1 and v6.8 order.
 * No pahole dump of struct page_pool for any of these kernels was found on netdev/bpf with the
 * search tools (searched for pahole output lines of the struct), so nothing is compared to one.
 */
import { describe, expect, it } from "vitest";
import { LP64 } from "../../src/arch.js";
import { bitOf, layoutOf, offsetOf, sizeOf } from "../../src/mem/ctype.js";
import {
  POOL_STRUCTS_V6_1,
  POOL_STRUCTS_V6_6,
  POOL_STRUCTS_V6_12,
  POOL_STRUCTS_V6_15,
} from "../../src/builds/classic_structs.js";
import { POOL_STRUCTS_MAINLINE, POOL_STRUCTS_V6_16, POOL_STRUCTS_V6_18 } from "../../src/builds/xarray_structs.js";
import { POOL_STRUCTS_V11 } from "../../src/builds/item_block_structs.js";
import {
  STRUCT_DELAYED_WORK,
  STRUCT_HLIST_NODE,
  STRUCT_TIMER_LIST,
  STRUCT_WORK_STRUCT,
  memberNames,
  type PoolStructs,
} from "../../src/builds/structs_common.js";

const BUILDS: readonly PoolStructs[] = [
  POOL_STRUCTS_V6_1,
  POOL_STRUCTS_V6_6,
  POOL_STRUCTS_V6_12,
  POOL_STRUCTS_V6_15,
  POOL_STRUCTS_V11,
  POOL_STRUCTS_V6_16,
  POOL_STRUCTS_V6_18,
  POOL_STRUCTS_MAINLINE,
];

const lp = (b: PoolStructs) => layoutOf(b.pagePool, LP64);

describe("embedded kernel structs (x86-64, no lockdep / debug objects)", () => {
  it("hlist_node 16, work_struct 32, timer_list 40, delayed_work 88", () => {
    expect(sizeOf(STRUCT_HLIST_NODE, LP64)).toBe(16);
    expect(sizeOf(STRUCT_WORK_STRUCT, LP64)).toBe(32);
    expect(sizeOf(STRUCT_TIMER_LIST, LP64)).toBe(40);
    expect(sizeOf(STRUCT_DELAYED_WORK, LP64)).toBe(88);
    const dw = layoutOf(STRUCT_DELAYED_WORK, LP64);
    expect(offsetOf(dw, "timer")).toBe(32);
    expect(offsetOf(dw, "timer.expires")).toBe(48);
    expect(offsetOf(dw, "wq")).toBe(72);
    expect(offsetOf(dw, "cpu")).toBe(80);
  });

  it("params: v6.1 56 B (no napi), v6.6 64 B, fast 48 B + slow 32 B later", () => {
    expect(POOL_STRUCTS_V6_1.params.map((p) => [p.name, sizeOf(p, LP64)])).toEqual([["page_pool_params", 56]]);
    expect(POOL_STRUCTS_V6_6.params.map((p) => [p.name, sizeOf(p, LP64)])).toEqual([["page_pool_params", 64]]);
    for (const b of BUILDS.slice(2)) {
      expect(b.params.map((p) => [p.name, sizeOf(p, LP64)])).toEqual([
        ["page_pool_params_fast", 48],
        ["page_pool_params_slow", 32],
      ]);
    }
  });

  it("stats: alloc 48 B (v11: 64 B with item_fast_empty, item_slow_failed), recycle 40 B", () => {
    for (const b of BUILDS) {
      expect(sizeOf(b.recycleStats, LP64)).toBe(40);
      expect(sizeOf(b.allocStats, LP64)).toBe(b.kernel === "v11" ? 64 : 48);
    }
    const v11 = layoutOf(POOL_STRUCTS_V11.allocStats, LP64);
    expect(offsetOf(v11, "item_fast_empty")).toBe(48);
    expect(offsetOf(v11, "item_slow_failed")).toBe(56);
  });
});

describe("struct page_pool: size and the offsets the mechanism uses", () => {
  const expected: Record<string, Record<string, number>> = {
    "v6.1": { size: 1600, alloc: 256, ring: 1344, recycle_stats: 1536, pages_state_release_cnt: 1544, user_cnt: 1548, destroy_cnt: 1552 },
    "v6.6": { size: 1600, alloc: 256, ring: 1344, recycle_stats: 1536, pages_state_release_cnt: 1544, user_cnt: 1548, destroy_cnt: 1552 },
    "v6.12": { size: 1664, alloc: 256, ring: 1344, recycle_stats: 1544, pages_state_release_cnt: 1552, user_cnt: 1556, destroy_cnt: 1560 },
    "v6.15": { size: 1728, alloc: 320, ring: 1408, recycle_stats: 1616, pages_state_release_cnt: 1624, user_cnt: 1628, destroy_cnt: 1632 },
    v11: {
      size: 1792,
      alloc: 320,
      ring: 1408,
      recycle_stats: 1616,
      pages_state_release_cnt: 1624,
      user_cnt: 1656,
      destroy_cnt: 1664,
      hold_items: 56,
      item_blocks: 1632,
      release_items: 1648,
    },
    "v6.16": { size: 1728, alloc: 320, ring: 1408, recycle_stats: 1632, pages_state_release_cnt: 1640, user_cnt: 1644, destroy_cnt: 1648, dma_mapped: 1616 },
    "v6.18": { size: 1728, alloc: 320, ring: 1408, recycle_stats: 1632, pages_state_release_cnt: 1640, user_cnt: 1644, destroy_cnt: 1648, dma_mapped: 1616 },
    mainline: { size: 1728, alloc: 320, ring: 1408, recycle_stats: 1632, pages_state_release_cnt: 1640, user_cnt: 1644, destroy_cnt: 1648, dma_mapped: 1616 },
  };

  for (const b of BUILDS) {
    it(`${b.kernel}`, () => {
      const l = lp(b);
      const want = expected[b.kernel]!;
      const got: Record<string, number> = { size: l.size };
      for (const k of Object.keys(want)) if (k !== "size") got[k] = offsetOf(l, k);
      expect(got).toEqual(want);
      expect(l.align).toBe(64);
    });
  }

  it("release_dw, alloc_stats and the deferred-release timer", () => {
    const at = (b: PoolStructs) => {
      const l = lp(b);
      return [offsetOf(l, "release_dw"), offsetOf(l, "alloc_stats"), offsetOf(l, "release_dw.timer.expires")];
    };
    expect(at(POOL_STRUCTS_V6_1)).toEqual([56, 192, 104]);
    // 06d0fbdad612's commit message: alloc_stats "still starts at 200-byte offset".
    expect(at(POOL_STRUCTS_V6_6)).toEqual([88, 200, 136]);
    expect(at(POOL_STRUCTS_V6_12)).toEqual([88, 200, 136]);
    // v6.14's __cacheline_group_end_aligned pad moves release_dw to the next 32-byte boundary.
    expect(at(POOL_STRUCTS_V6_15)).toEqual([96, 208, 144]);
    expect(at(POOL_STRUCTS_V11)).toEqual([128, 240, 176]);
    expect(at(POOL_STRUCTS_V6_16)).toEqual([96, 208, 144]);
  });

  it("v11: slow_items, item_lock and the v11 alloc stats", () => {
    const l = lp(POOL_STRUCTS_V11);
    expect(offsetOf(l, "slow_items")).toBe(64);
    expect(offsetOf(l, "slow_items.block")).toBe(64);
    expect(offsetOf(l, "slow_items.next_to_use")).toBe(72);
    expect(offsetOf(l, "item_lock")).toBe(1628);
    expect(offsetOf(l, "alloc_stats.item_fast_empty")).toBe(288);
    expect(offsetOf(l, "alloc_stats.item_slow_failed")).toBe(296);
  });
});

describe("bitfields", () => {
  it("dma_map / dma_sync: bits 1 and 2 of byte 56 (v6.12, v6.15, xarray builds), of byte 80 in v11", () => {
    for (const b of [POOL_STRUCTS_V6_12, POOL_STRUCTS_V6_15, POOL_STRUCTS_V6_16, POOL_STRUCTS_V6_18, POOL_STRUCTS_MAINLINE]) {
      const l = lp(b);
      expect(bitOf(l, "dma_map")).toEqual({ off: 56, mask: 0b10 });
      expect(bitOf(l, "dma_sync")).toEqual({ off: 56, mask: 0b100 });
      expect(offsetOf(l, "dma_sync")).toBe(56);
    }
    const v11 = lp(POOL_STRUCTS_V11);
    expect(bitOf(v11, "dma_map")).toEqual({ off: 80, mask: 0b10 });
    expect(bitOf(v11, "dma_sync")).toEqual({ off: 80, mask: 0b100 });
    expect(v11.bits["system"]).toEqual({ pos: 80 * 8 + 4, size: 1 });
  });

  it("v6.1 and v6.6 have no bitfields: dma_map/dma_sync are p.flags bits there", () => {
    for (const b of [POOL_STRUCTS_V6_1, POOL_STRUCTS_V6_6]) {
      const l = lp(b);
      expect(l.bits).toEqual({});
      expect(() => bitOf(l, "dma_sync")).toThrow();
      expect(offsetOf(l, "p.flags")).toBe(0);
    }
  });
});

describe("member paths per build", () => {
  const common = [
    "p.order",
    "p.pool_size",
    "p.nid",
    "p.dev",
    "p.dma_dir",
    "p.max_len",
    "p.offset",
    "pages_state_hold_cnt",
    "alloc.count",
    "alloc.cache",
    "alloc_stats.fast",
    "alloc_stats.slow",
    "alloc_stats.slow_high_order",
    "alloc_stats.empty",
    "alloc_stats.refill",
    "alloc_stats.waive",
    "ring",
    "ring.producer_lock",
    "ring.consumer_head",
    "ring.queue",
    "recycle_stats",
    "pages_state_release_cnt",
    "user_cnt",
    "destroy_cnt",
    "defer_start",
    "defer_warn",
    "release_dw.timer.expires",
  ];
  const later = ["p.napi", "slow.flags", "slow.netdev", "cpuid", "dma_map", "dma_sync", "user.id", "user.list", "mp_priv"];
  const has: Record<string, string[]> = {
    "v6.1": ["p.flags"],
    "v6.6": ["p.flags", "p.napi"],
    "v6.12": later,
    "v6.15": [...later, "mp_ops"],
    v11: [...later, "mp_ops", "hold_items", "release_items", "item_blocks", "item_lock", "slow_items.block", "slow_items.next_to_use", "alloc_stats.item_fast_empty", "alloc_stats.item_slow_failed"],
    "v6.16": [...later, "mp_ops", "dma_mapped"],
    "v6.18": [...later, "mp_ops", "dma_mapped"],
    mainline: [...later, "mp_ops", "dma_mapped"],
  };
  const all = [...new Set(Object.values(has).flat())];

  for (const b of BUILDS) {
    it(`${b.kernel}: has exactly the fields its kernel has`, () => {
      const l = lp(b);
      for (const p of [...common, ...has[b.kernel]!]) expect(() => offsetOf(l, p), p).not.toThrow();
      for (const p of all.filter((x) => !has[b.kernel]!.includes(x))) expect(l.off[p], `${b.kernel} ${p}`).toBeUndefined();
    });
  }
});

describe("member order", () => {
  it("v6.16 is exactly the kernel's (Kingxukai/linux @9b44fff655e2 include/net/page_pool/types.h)", () => {
    const names = memberNames(POOL_STRUCTS_V6_16.pagePool).filter((n, i, a) => a.indexOf(n) === i);
    expect(names).toEqual([
      "p",
      "cpuid",
      "pages_state_hold_cnt",
      "has_init_callback",
      "dma_map",
      "dma_sync",
      "dma_sync_for_cpu",
      "system",
      "__cacheline_group_begin__frag",
      "frag_users",
      "frag_page",
      "frag_offset",
      "__cacheline_group_end__frag",
      "__cacheline_group_pad__frag",
      "release_dw",
      "disconnect",
      "defer_start",
      "defer_warn",
      "alloc_stats",
      "xdp_mem_id",
      "alloc",
      "ring",
      "mp_priv",
      "mp_ops",
      "dma_mapped",
      "recycle_stats",
      "pages_state_release_cnt",
      "user_cnt",
      "destroy_cnt",
      "slow",
      "user",
    ]);
    // The per-arch duplicates (frag markers' alignment) lay out once.
    expect(lp(POOL_STRUCTS_V6_16).members.map((x) => x.name)).toEqual(names);
  });

  it("v6.1 (DepSurf BTF of Ubuntu 6.2/6.5 lists the same order)", () => {
    expect(memberNames(POOL_STRUCTS_V6_1.pagePool)).toEqual([
      "p",
      "release_dw",
      "disconnect",
      "defer_start",
      "defer_warn",
      "pages_state_hold_cnt",
      "frag_offset",
      "frag_page",
      "frag_users",
      "alloc_stats",
      "xdp_mem_id",
      "alloc",
      "ring",
      "recycle_stats",
      "pages_state_release_cnt",
      "user_cnt",
      "destroy_cnt",
    ]);
  });

  it("each build names its source", () => {
    for (const b of BUILDS) expect(b.source.length).toBeGreaterThan(20);
    expect(BUILDS.map((b) => b.kernel)).toEqual(["v6.1", "v6.6", "v6.12", "v6.15", "v11", "v6.16", "v6.18", "mainline"]);
  });
});
