/**
 * The offsets the mechanism uses, derived from one build's `struct page_pool` declaration
 * (src/builds/*_structs.ts). Kernels moved, added and removed members: a member the build lacks is
 * -1 here (e.g. `cpuid` before v6.9, `user.id` before v6.8, `p.napi` before v6.5), and the mechanism
 * takes the build's switch for it instead of reading it.
 *
 * Two of the pool's booleans changed representation: `dma_map` / `dma_sync` were tested as
 * `p.flags & PP_FLAG_DMA_*` until they became bitfields of `struct page_pool`. Either way the
 * mechanism tests one u32 word against a mask: `{ off, mask }` says which.
 *
 * `recycle_stats` is the kernel's `__percpu` pointer: the emulator allocates `nr_cpu_ids` copies in
 * one object (`alloc_percpu`), and `this_cpu_inc()` indexes it by the current CPU.
 */
import { LP64 } from "../arch.js";
import { bitOf, layoutOf, offsetOf, type StructLayout } from "../mem/ctype.js";
import { PP_ALLOC_CACHE_SIZE } from "../mem/structs.js";
import type { PoolStructs } from "../builds/structs_common.js";

/** include/net/page_pool/types.h */
export const PP_FLAG_DMA_MAP = 1 << 0;
export const PP_FLAG_DMA_SYNC_DEV = 1 << 1;
export const PP_FLAG_SYSTEM_POOL = 1 << 2;
export const PP_FLAG_ALLOW_UNREADABLE_NETMEM = 1 << 3;

/** A boolean of `struct page_pool`: `(u32[(pool + off) >>> 2] & mask) !== 0`. */
export interface PoolBit {
  readonly off: number;
  readonly mask: number;
}

export const ALLOC_STAT_NAMES = ["fast", "slow", "slow_high_order", "empty", "refill", "waive"] as const;
export const RECYCLE_STAT_NAMES = ["cached", "cache_full", "ring", "ring_full", "released_refcnt"] as const;

const opt = (l: StructLayout, path: string): number => l.off[path] ?? -1;

/** Offsets of one build's `struct page_pool`, and of what hangs off it. */
export class PoolOffsets {
  readonly layout: StructLayout;
  readonly size: number;
  readonly order: number;
  readonly poolSize: number;
  readonly nid: number;
  readonly dev: number;
  /** `p.napi` (a `struct napi_struct *`); -1 before v6.5. */
  readonly napi: number;
  readonly dmaDir: number;
  readonly maxLen: number;
  readonly offset: number;
  /** The user's flags word (`p.flags`, later `slow.flags`). */
  readonly flags: number;
  /** `slow.netdev`; -1 before v6.8. */
  readonly netdev: number;
  /** `cpuid`; -1 before v6.9. */
  readonly cpuid: number;
  readonly holdCnt: number;
  readonly dmaMap: PoolBit;
  readonly dmaSync: PoolBit;
  readonly allocCount: number;
  readonly allocCache: number;
  /** `sizeof(netmem_ref)`: the alloc cache's slot stride. */
  readonly cacheSlot: number;
  readonly ring: number;
  /** `recycle_stats`: the per-CPU pointer. */
  readonly recycleStats: number;
  /** `sizeof(struct page_pool_recycle_stats)`: the per-CPU copy's stride. */
  readonly recycleStatsSize: number;
  readonly releaseCnt: number;
  readonly userCnt: number;
  readonly destroyCnt: number;
  readonly deferStart: number;
  readonly deferWarn: number;
  /** `release_dw.timer.expires`: when the deferred release next runs (jiffies = virtual ms, HZ 1000). */
  readonly timerExpires: number;
  /** `user.id`; -1 before v6.8. */
  readonly userId: number;
  /** The frag API's state (page_pool_alloc_frag): `frag_users` (long), `frag_page`, `frag_offset`; -1 if absent. */
  readonly fragUsers: number;
  readonly fragPage: number;
  readonly fragOffset: number;
  /** `alloc_stats.<name>` offsets, in ALLOC_STAT_NAMES order plus the build's own (v11 items). */
  readonly allocStats: Readonly<Record<string, number>>;
  /** `page_pool_recycle_stats.<name>` offsets inside one per-CPU copy. */
  readonly recycleStat: Readonly<Record<string, number>>;

  constructor(readonly structs: PoolStructs) {
    const l = layoutOf(structs.pagePool, LP64);
    this.layout = l;
    this.size = l.size;
    this.order = offsetOf(l, "p.order");
    this.poolSize = offsetOf(l, "p.pool_size");
    this.nid = offsetOf(l, "p.nid");
    this.dev = offsetOf(l, "p.dev");
    this.napi = opt(l, "p.napi");
    this.dmaDir = offsetOf(l, "p.dma_dir");
    this.maxLen = offsetOf(l, "p.max_len");
    this.offset = offsetOf(l, "p.offset");
    this.flags = l.off["p.flags"] ?? offsetOf(l, "slow.flags");
    this.netdev = opt(l, "slow.netdev");
    this.cpuid = opt(l, "cpuid");
    this.holdCnt = offsetOf(l, "pages_state_hold_cnt");
    this.dmaMap = l.off.dma_map !== undefined ? bitOf(l, "dma_map") : flagBit(this.flags, PP_FLAG_DMA_MAP);
    this.dmaSync = l.off.dma_sync !== undefined ? bitOf(l, "dma_sync") : flagBit(this.flags, PP_FLAG_DMA_SYNC_DEV);
    this.allocCount = offsetOf(l, "alloc.count");
    this.allocCache = offsetOf(l, "alloc.cache");
    this.cacheSlot = l.sz["alloc.cache"]! / PP_ALLOC_CACHE_SIZE;
    this.ring = offsetOf(l, "ring");
    this.recycleStats = offsetOf(l, "recycle_stats");
    const rs = layoutOf(structs.recycleStats, LP64);
    this.recycleStatsSize = rs.size;
    this.releaseCnt = offsetOf(l, "pages_state_release_cnt");
    this.userCnt = offsetOf(l, "user_cnt");
    this.destroyCnt = offsetOf(l, "destroy_cnt");
    this.deferStart = offsetOf(l, "defer_start");
    this.deferWarn = offsetOf(l, "defer_warn");
    this.timerExpires = offsetOf(l, "release_dw.timer.expires");
    this.userId = opt(l, "user.id");
    this.fragUsers = opt(l, "frag_users");
    this.fragPage = opt(l, "frag_page");
    this.fragOffset = opt(l, "frag_offset");
    const as = layoutOf(structs.allocStats, LP64);
    const base = offsetOf(l, "alloc_stats");
    const allocStats: Record<string, number> = {};
    for (const mem of as.members) if (mem.name) allocStats[mem.name] = base + mem.offset;
    this.allocStats = allocStats;
    const recycleStat: Record<string, number> = {};
    for (const mem of rs.members) if (mem.name) recycleStat[mem.name] = mem.offset;
    this.recycleStat = recycleStat;
  }

  /** A member the build has (a layout-specific one: `dma_mapped`, `hold_items`, …), or -1. */
  has(path: string): number {
    return opt(this.layout, path);
  }

  /** A member the layout needs: throws (at boot, not later) if the build's declaration lacks it. */
  need(path: string): number {
    return offsetOf(this.layout, path);
  }
}

function flagBit(flagsOff: number, flag: number): PoolBit {
  // p.flags is an unsigned int: one aligned u32 word.
  return { off: flagsOff, mask: flag };
}

const cache = new Map<PoolStructs, PoolOffsets>();

/** One PoolOffsets per declaration (they are immutable geometry). */
export function poolOffsetsOf(structs: PoolStructs): PoolOffsets {
  let o = cache.get(structs);
  if (!o) cache.set(structs, (o = new PoolOffsets(structs)));
  return o;
}
