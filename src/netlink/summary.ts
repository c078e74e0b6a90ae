/**
 * `tools/net/ynl/samples/page-pool.c`: the page-pool dump and the stats dump, aggregated per ifindex
 * (Kingxukai/linux @0291023e7330, search id 8240059636). Per interface, in the order `find_ifc()`
 * first meets it (the pool dump, then the stats dump):
 *
 *   printf("%8s", ifname) (when if_indextoname() knows it); printf("[%u]\t", ifindex)
 *       — or "<orphan>\t" for ifindex 0 (ynl leaves an absent ifindex 0: orphaned pools)
 *   printf("page pools: %u (zombies: %u)\n", live[1].cnt, live[0].cnt)
 *   printf("\t\trefs: %zu bytes: %zu (refs: %zu bytes: %zu)\n", live[1].refs, live[1].bytes, live[0]…)
 *   printf("\t\trecycling: %.1lf%% (alloc: %zu:%zu recycle: %zu:%zu)\n",
 *          (ring + cache) / (fast + slow) * 100, alloc_slow, alloc_fast, recycle_ring, recycle_cache)
 *
 * live[1] counts every pool, live[0] the zombies (pools with `detach-time`); alloc_fast includes
 * alloc-refill. v11's patch adds `"\t\titem_mem_resident: %zu item_mem_used: %zu (item_mem_resident:
 * %zu item_mem_used: %zu)\n"` after the refs line (id 40153551872), printed on that build.
 */
import { netdevName } from "../pool/netdev.js";
import type { PpSystem } from "../pool/index.js";
import { netdevRegistered, pagePoolGetDump, pagePoolStatsDump, visiblePools, type NlMsg } from "./page_pool_nl.js";

interface IfStat {
  ifc: number;
  live: [{ cnt: number; refs: number; bytes: number; res: number; used: number }, { cnt: number; refs: number; bytes: number; res: number; used: number }];
  allocSlow: number;
  allocFast: number;
  recycleRing: number;
  recycleCache: number;
}

const num = (m: NlMsg, k: string): number | undefined => (typeof m[k] === "number" ? (m[k] as number) : undefined);

/** C's `printf("%.1lf", x)`: the exact binary value rounded, ties to even; x86's 0.0/0.0 is "-nan". */
export function cFixed1(x: number): string {
  if (Number.isNaN(x)) return "-nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const t = x * 10;
  if (Number.isInteger(t * 2) && !Number.isInteger(t) && t / 10 === x) {
    // An exact tie: to even.
    const lo = Math.floor(t);
    const n = lo % 2 === 0 ? lo : lo + 1;
    return (n / 10).toFixed(1);
  }
  return x.toFixed(1);
}

/** The sample's output for the machine. */
export function pagePoolSummary(sys: PpSystem): string {
  const stats: IfStat[] = [];
  const find = (ifc: number): IfStat => {
    let s = stats.find((x) => x.ifc === ifc);
    if (!s) {
      const z = () => ({ cnt: 0, refs: 0, bytes: 0, res: 0, used: 0 });
      s = { ifc, live: [z(), z()], allocSlow: 0, allocFast: 0, recycleRing: 0, recycleCache: 0 };
      stats.push(s);
    }
    return s;
  };
  const count = (s: IfStat, l: 0 | 1, pp: NlMsg) => {
    const c = s.live[l];
    c.cnt++;
    c.refs += num(pp, "inflight") ?? 0;
    c.bytes += num(pp, "inflight-mem") ?? 0;
    c.res += num(pp, "item_mem_resident") ?? 0;
    c.used += num(pp, "item_mem_used") ?? 0;
  };
  const itemMem = sys.pps.t.nlFill !== undefined;
  for (const pp of pagePoolGetDump(sys)) {
    const s = find(num(pp, "ifindex") ?? 0);
    count(s, 1, pp);
    if (pp["detach-time"] !== undefined) count(s, 0, pp);
  }
  for (const pp of pagePoolStatsDump(sys)) {
    const s = find(num(pp.info as NlMsg, "ifindex") ?? 0);
    s.allocFast += (num(pp, "alloc-fast") ?? 0) + (num(pp, "alloc-refill") ?? 0);
    s.allocSlow += num(pp, "alloc-slow") ?? 0;
    s.recycleRing += num(pp, "recycle-ring") ?? 0;
    s.recycleCache += num(pp, "recycle-cached") ?? 0;
  }
  // if_indextoname(): the registered netdevs the pools name.
  const names = new Map<number, string>();
  for (const p of visiblePools(sys)) if (netdevRegistered(sys, p.netdev)) names.set(p.ifindex, netdevName(sys.pps, p.netdev));
  let out = "";
  for (const s of stats) {
    if (s.ifc === 0) out += "<orphan>\t";
    else {
      const name = names.get(s.ifc);
      if (name !== undefined) out += name.padStart(8);
      out += `[${s.ifc}]\t`;
    }
    out += `page pools: ${s.live[1].cnt} (zombies: ${s.live[0].cnt})\n`;
    out += `\t\trefs: ${s.live[1].refs} bytes: ${s.live[1].bytes} (refs: ${s.live[0].refs} bytes: ${s.live[0].bytes})\n`;
    if (itemMem) {
      out += `\t\titem_mem_resident: ${s.live[1].res} item_mem_used: ${s.live[1].used} (item_mem_resident: ${s.live[0].res} item_mem_used: ${s.live[0].used})\n`;
    }
    const recycle = ((s.recycleRing + s.recycleCache) / (s.allocFast + s.allocSlow)) * 100;
    out += `\t\trecycling: ${cFixed1(recycle)}% (alloc: ${s.allocSlow}:${s.allocFast} recycle: ${s.recycleRing}:${s.recycleCache})\n`;
  }
  return out;
}
