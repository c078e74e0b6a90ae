/**
 * `ethtool -S DEV` for a driver that exposes page_pool stats: page_pool_ethtool_stats_get_strings()
 * copies `pp_stats[][ETH_GSTRING_LEN]` (net/core/page_pool.c, search id 57621740185), in order:
 *
 *   rx_pp_alloc_fast rx_pp_alloc_slow rx_pp_alloc_slow_ho rx_pp_alloc_empty rx_pp_alloc_refill
 *   rx_pp_alloc_waive rx_pp_recycle_cached rx_pp_recycle_cache_full rx_pp_recycle_ring
 *   rx_pp_recycle_ring_full rx_pp_recycle_released_ref
 *
 * and page_pool_ethtool_stats_get() the values in the same order from a `struct page_pool_stats`
 * the driver summed with page_pool_get_stats() (`+=`) over its pools. The item-block series (v10/v11
 * 3/4, id 40153551872) adds "rx_pp_alloc_item_fast_empty" and "rx_pp_alloc_item_slow_failed" after
 * rx_pp_alloc_waive, with `alloc_stats.item_fast_empty` / `item_slow_failed`: here they follow from
 * the build's `struct page_pool_alloc_stats` (extra members after `waive`).
 *
 * ethtool prints (ethtool.c do_gstats(), id 2657617636): `fprintf(stdout, "%s statistics:\n", "NIC")`
 * then per stat `fprintf(stdout, "     %.*s: %llu\n", ETH_GSTRING_LEN, name, value)`.
 *
 * The emulated device has no counters of its own: a real driver's list (rx_packets, …) would come
 * first; only the page_pool strings are printed.
 */
import { ALLOC_STAT_NAMES, RECYCLE_STAT_NAMES } from "../pool/pool_offsets.js";
import type { PpSystem } from "../pool/index.js";

/** The base strings and the stats behind them (pp_stats[] order). */
const BASE_ALLOC: readonly (readonly [string, string])[] = [
  ["rx_pp_alloc_fast", "fast"],
  ["rx_pp_alloc_slow", "slow"],
  ["rx_pp_alloc_slow_ho", "slow_high_order"],
  ["rx_pp_alloc_empty", "empty"],
  ["rx_pp_alloc_refill", "refill"],
  ["rx_pp_alloc_waive", "waive"],
];
const RECYCLE: readonly (readonly [string, (typeof RECYCLE_STAT_NAMES)[number]])[] = [
  ["rx_pp_recycle_cached", "cached"],
  ["rx_pp_recycle_cache_full", "cache_full"],
  ["rx_pp_recycle_ring", "ring"],
  ["rx_pp_recycle_ring_full", "ring_full"],
  ["rx_pp_recycle_released_ref", "released_refcnt"],
];

/** `ETH_GSTRING_LEN`. */
export const ETH_GSTRING_LEN = 32;

/** The ethtool strings of this build, each with its stat (`alloc.<name>` or `recycle.<name>`). */
export function ppEthtoolStrings(sys: PpSystem): { name: string; group: "alloc" | "recycle"; field: string }[] {
  const extra = Object.keys(sys.pps.o.allocStats).filter((n) => !(ALLOC_STAT_NAMES as readonly string[]).includes(n));
  return [
    ...BASE_ALLOC.map(([name, field]) => ({ name, group: "alloc" as const, field })),
    ...extra.map((field) => ({ name: `rx_pp_alloc_${field}`, group: "alloc" as const, field })),
    ...RECYCLE.map(([name, field]) => ({ name, group: "recycle" as const, field })),
  ];
}

/**
 * The pools a driver of `dev` sums: the machine's live pools that name it and that the driver has
 * not destroyed yet (`user_cnt` > 0: after page_pool_destroy() the driver holds no pointer to it). On
 * a build without `slow.netdev` (before v6.8) every such pool of the machine (one driver per machine).
 */
export function driverPools(sys: PpSystem, dev: number): number[] {
  const { pps } = sys;
  const mem = sys.m.mem;
  const off = pps.o.netdev;
  const pools: number[] = [];
  pps.forEachPool((p) => {
    if (mem.rd32(p + pps.o.userCnt) === 0) return;
    if (off >= 0 && mem.rdPtr(p + off) !== dev) return;
    pools.push(p);
  });
  return pools;
}

/** page_pool_ethtool_stats_get(): each string and its value, summed over `pools`, in the strings' order. */
export function ethtoolValues(sys: PpSystem, pools: readonly number[]): { name: string; value: number }[] {
  const strings = ppEthtoolStrings(sys);
  const sums = strings.map(() => 0);
  for (const p of pools) {
    const st = sys.pps.stats(p);
    strings.forEach((s, i) => {
      sums[i]! += (s.group === "alloc" ? st.alloc[s.field] : st.recycle[s.field as (typeof RECYCLE_STAT_NAMES)[number]]) ?? 0;
    });
  }
  return strings.map((s, i) => ({ name: s.name.slice(0, ETH_GSTRING_LEN), value: sums[i]! }));
}

/** `ethtool -S`: the lines, summed over `pools`. */
export function ethtoolStats(sys: PpSystem, pools: readonly number[]): string {
  let out = "NIC statistics:\n";
  for (const { name, value } of ethtoolValues(sys, pools)) out += `     ${name}: ${value}\n`;
  return out;
}
