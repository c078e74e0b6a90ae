/**
 * The page_pool mechanism (net/core/page_pool.c), written once for every kernel build.
 *
 * What differs between layouts — how a page names its pool, and who unmaps an in-flight page when the
 * driver goes away — is the build's `Tracking` strategy (src/builds/). What differs between kernel
 * versions of the mechanism itself is a `BuildSwitches` value read once here (pool_size limits, NAPI
 * locality, release order, the stalled-shutdown warning, the negative-inflight retry, device syncs,
 * the release barrier). Everything else is here, in the kernel's order and with its names: the alloc
 * cache and its refill from the ptr_ring, the slow path (bulk order-0 or one compound page), DMA map
 * and sync, set/clear pp info, the put paths, return/release, stats, destroy with scrub and the
 * deferred retry on the virtual clock (jiffies are virtual ms: HZ 1000).
 *
 * State lives in the build's own `struct page_pool` in the buffer; this object holds only the
 * machine, the DMA model, the strategy and offsets derived from the declaration. Hot paths
 * (allocPages, putPage, recycleDirect) are integer code over one Uint32Array.
 */
import type { Machine } from "../mem/machine.js";
import type { PhysMem } from "../mem/physmem.js";
import * as PHYS from "../mem/physmem.js";
const { MACH_PP_CHECKS } = PHYS;
import { SOFTIRQ_MASK, CPU_PREEMPT_COUNT, softirqEnter, softirqExit } from "../smp/percpu.js";
import { spinLock, spinUnlock } from "../smp/spinlock.js";
import { rcuReadLock, rcuReadUnlock } from "../smp/rcu.js";
import { pointHook, Point } from "../explore/points.js";
import { traceHook, TP_RELEASE, TP_STATE_RELEASE, TP_STATE_HOLD, TP_UPDATE_NID } from "../trace/tracepoints.js";
import { Diag } from "../mem/diag.js";
import * as PAGE from "../mem/page.js";
const { PAGE_REFCOUNT, PAGE_FLAGS, PG_pp_in_pool, VMEMMAP_HI } = PAGE;
// A page's pool fields (pp_magic, dma_addr, pp_ref_count) are its netmem_desc's: `nmdesc(page) + NMDESC_*`.
import * as NMDESC from "./nmdesc.js";
const { NMDESC_PP_MAGIC, NMDESC_PP_REF_COUNT, NMDESC_DMA_ADDR } = NMDESC;
import { GFP_ZERO } from "../mem/buddy.js";
import { MAX_PAGE_ORDER, MACH_PAGE_POOL_MEM_PROVIDERS } from "../mem/physmem.js";
import * as STRUCTS from "../mem/structs.js";
// Module-local copies: TurboFan folds a local const, but loads an imported binding from its cell
// and checks it for the hole at every use on a hot path.
const { PP_ALLOC_CACHE_SIZE, PP_ALLOC_CACHE_REFILL, STRUCT_PP_ALLOC_CACHE } = STRUCTS;
import { STRUCT_PAGE_POOL_ALLOC_STATS, STRUCT_PAGE_POOL_RECYCLE_STATS, KTIME_T } from "../builds/structs_common.js";
import { type Dma, DMA_BIDIRECTIONAL, DMA_FROM_DEVICE } from "../dma/index.js";
import { PP_DMA_ATTRS } from "./pp_dma.js";
import * as PP_INFO from "./pp_info.js";
const { PP_MAGIC_PFMEMALLOC } = PP_INFO;
import {
  ptrRingInit,
  ptrRingProduce,
  ptrRingConsume,
  ptrRingConsumeLocked,
  ptrRingProduceLocked,
  ptrRingEmpty,
  ptrRingCount,
  ptrRingForEach,
  PTR_RING_QUEUE,
  PTR_RING_SIZE,
  PTR_RING_SLOT,
  PTR_RING_PRODUCER_LOCK,
} from "./ptr_ring.js";
import {
  ALLOC_STAT_NAMES,
  RECYCLE_STAT_NAMES,
  PP_FLAG_DMA_MAP,
  PP_FLAG_DMA_SYNC_DEV,
  PP_FLAG_SYSTEM_POOL,
  PP_FLAG_ALLOW_UNREADABLE_NETMEM,
  poolOffsetsOf,
  type PoolBit,
  type PoolOffsets,
} from "./pool_offsets.js";
import {
  poolListAdd,
  poolListDel,
  poolRecord,
  poolRecordId,
  poolRecordGeneration,
  wasFreedPool,
  nextPoolId,
  forEachPoolOnMachine,
  STRUCT_PPEMU_NAPI,
  NAPI_LIST_OWNER,
  NAPI_STATE,
  NAPI_STATE_SCHED,
} from "./pool_list.js";
import { DEV_NODE, IOMMU_DEVICES } from "../dma/index.js";
import { PpemuError, checkInt, showValue } from "../errors.js";
import { layoutOf, memberAt, offsetOf } from "../mem/ctype.js";
import { LP64 } from "../arch.js";
import type { KernelBuild, RingOps, Tracking } from "../builds/types.js";
import { PP_FLAG_PAGE_FRAG, unrefNetmem, unrefWarnSite, fragPutOnceTooOften, pagePoolFreeFrag } from "./frag.js";
import { staticBranchInc, staticBranchDec } from "../smp/static_key.js";
import { poolMpOps, netifGetRxQueue, RXQ_MP_OPS, RXQ_MP_PRIV } from "./memory_provider.js";
const { NET_IOV } = NMDESC;

export const PP_FLAG_ALL = PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV | PP_FLAG_SYSTEM_POOL | PP_FLAG_ALLOW_UNREADABLE_NETMEM;
/** The ring-size limits: ≤ v6.17 `-E2BIG` above 32768; the clamp patch: `min(pool_size, 16384)`. */
export const PP_POOL_SIZE_MAX = 32768;
export const PP_RING_SIZE_MAX = 16384;
export const PP_DEFAULT_POOL_SIZE = 1024;
/** `DEFER_TIME` (msecs_to_jiffies(1000)) and `DEFER_WARN_INTERVAL` (60 * HZ), in jiffies = virtual ms. */
export const DEFER_TIME_MS = 1000;
export const DEFER_WARN_INTERVAL_MS = 60_000;
/** HZ: the virtual clock's jiffies are milliseconds. */
export const HZ = 1000;

export const EINVAL = 22;
export const ENOMEM = 12;
export const E2BIG = 7;
export const EOPNOTSUPP = 95;

const FLAG_IN_POOL = 1 << PG_pp_in_pool;
// Inside the structs every build embeds unchanged (struct pp_alloc_cache, the stats structs): module
// constants from the declarations, so a hot path adds them to one per-build offset.
const AC_LAYOUT = layoutOf(STRUCT_PP_ALLOC_CACHE, LP64);
const AC_COUNT = offsetOf(AC_LAYOUT, "count");
const AC_CACHE = offsetOf(AC_LAYOUT, "cache");
/** `sizeof(netmem_ref)`: the alloc cache's slot stride. */
const NETMEM_REF_SIZE = AC_LAYOUT.sz.cache! / PP_ALLOC_CACHE_SIZE;
const RS_LAYOUT = layoutOf(STRUCT_PAGE_POOL_RECYCLE_STATS, LP64);
const RS_SIZE = RS_LAYOUT.size;
const RS_CACHED = offsetOf(RS_LAYOUT, "cached");
const AS_FAST = offsetOf(layoutOf(STRUCT_PAGE_POOL_ALLOC_STATS, LP64), "fast");
const NAPI_SIZE = layoutOf(STRUCT_PPEMU_NAPI, LP64).size;
/** PagePools.flatDirect: recycleDirect's flat path never, always, or in softirq only (before v6.10). */
const FLAT_NONE = 0;
const FLAT_ALWAYS = 1;
const FLAT_IN_SOFTIRQ = 2;

/**
 * `struct page_pool_params`, the emulator's way. Every field is an integer (a pointer is a buffer
 * offset): a value of another type (NaN, 1.5, a string) is a PpemuError "EINVAL_ARG" from `create`;
 * an integer the kernel refuses is its errno (-EINVAL, -E2BIG), as `page_pool_create()` returns it.
 * `napiCpu` must be -1 or one of the machine's CPUs.
 *
 * `create` returns a bare pool pointer, as the kernel does. The memory of a freed pool is reused by
 * the next kmalloc of its size (often the next pool), so a bare pointer kept past `destroy` may name
 * another pool: take `PagePools.handle(pool)` (pointer and generation) and hand the handle to the
 * non-hot entry points (`destroy`, `stats`, `inflight`, …), or `checkHandle(h)` before a hot call.
 */
export interface PagePoolParams {
  /** `p.order`: pages are `PAGE_SIZE << order`. @defaultValue 0 */
  readonly order?: number;
  /** `p.pool_size`: the ring's size (0 = 1024). @defaultValue 1024 */
  readonly poolSize?: number;
  /** PP_FLAG_* (`p.flags`, later `slow.flags`). @defaultValue 0 */
  readonly flags?: number;
  /** `p.dev`: a `struct ppemu_device *` (0 for a pool that does not map). */
  readonly dev?: number;
  /** `p.dma_dir`. @defaultValue DMA_FROM_DEVICE */
  readonly dmaDir?: number;
  /** `p.max_len`: bytes synced for device on recycle. MUST be non-zero with PP_FLAG_DMA_SYNC_DEV (else -EINVAL, as the kernel). @defaultValue 0 */
  readonly maxLen?: number;
  /** `p.offset`. @defaultValue 0 */
  readonly offset?: number;
  readonly nid?: number;
  /** `p.napi`: a `struct ppemu_napi *` from `napiCreate()` (builds with `p.napi`, v6.5+). */
  readonly napi?: number;
  /**
   * Shorthand: a NAPI instance polled on this CPU (`list_owner = napiCpu` until `napiDisable`),
   * made and freed with the pool. Ignored by builds without `p.napi`. @defaultValue -1 (none)
   */
  readonly napiCpu?: number;
  /** `pool->cpuid` (page_pool_create_percpu; v6.9+). @defaultValue -1 */
  readonly cpuid?: number;
  /** `slow.netdev`: a `struct ppemu_netdev *` (v6.8+), or 0. */
  readonly netdev?: number;
  /**
   * `slow.queue_idx` (v6.12+): with PP_FLAG_ALLOW_UNREADABLE_NETMEM the pool takes the memory
   * provider of rx queue `queueIdx` of `netdev` (src/pool/devmem.ts binds one). @defaultValue 0
   */
  readonly queueIdx?: number;
}

/**
 * A pool and the generation its `struct ppemu_pool` record got at create (a machine-wide counter in
 * the header, so it holds in a saved image and across workers). Plain data: it can be posted to a
 * worker or kept in JSON. `PagePools.checkHandle(h)` says whether it still names the same pool.
 */
export interface PoolHandle {
  readonly pool: number;
  readonly generation: number;
}

/** What the non-hot entry points take: a bare pool pointer, or a handle (which also catches a stale one). */
export type PoolRef = number | PoolHandle;

/**
 * Most deferred retries (`page_pool_release_retry()`, one a second per stalled pool) one `advance`
 * or `runUntil` call may run: 2^22, about 48 virtual days of one stalled pool, well under a second
 * of real time (2^20 take 0.1–0.15 s). See `runUntil`.
 */
export const MAX_RETRIES_PER_CALL = 1 << 22;

const PARAM_INTS = ["order", "poolSize", "flags", "dmaDir", "maxLen", "offset", "nid", "cpuid", "queueIdx"] as const;
const PARAM_PTRS = ["dev", "napi", "netdev"] as const;

export interface PoolStats {
  readonly alloc: Readonly<Record<string, number>>;
  readonly recycle: Readonly<Record<(typeof RECYCLE_STAT_NAMES)[number], number>>;
}

/**
 * The machine's page_pools. Hot paths (`allocPages`, `putPage`, `putFullPage`, `recycleDirect`)
 * take a bare pool pointer and check nothing (with `checks` on, misuse is a `ppemu:` diagnostic).
 * The other entry points (`destroy`, `stats`, `inflight`, `cacheCount`, `ringCount`, `napiOf`,
 * `timerExpires`, `poolId`, `forEachPooledPage`) take a PoolRef — a pointer or a PoolHandle from
 * `handle(pool)` — and refuse one that names no live pool with a PpemuError, changing nothing; a
 * handle also catches a pool freed and replaced at the same address ("STALE_POOL").
 * `checkHandle(h)` turns a handle into the pointer for the hot paths.
 */
export class PagePools {
  readonly mem: PhysMem;
  readonly t: Tracking;
  readonly o: PoolOffsets;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  /** Misuse checks (like CONFIG_DEBUG_NET): fixed at boot in the machine header. */
  readonly checks: boolean;
  /** The layout syncs for device only once a page is back in the cache or ring (v11 patch 4). */
  private readonly syncAfterRecycle: boolean;
  // The build's switches, read once (the hot paths test plain booleans).
  private readonly refCounted: boolean;
  private readonly napiLocalEveryPut: boolean;
  private readonly countThenClear: boolean;
  /** v6.16+: `recycle_stat_inc(pool, ring)` inside the producer lock (271683bb2cf3). */
  private readonly statInRingLock: boolean;
  /** When `recycleDirect` may take its flat path: FLAT_NONE, FLAT_ALWAYS or FLAT_IN_SOFTIRQ. */
  private readonly flatDirect: number;
  // Offsets of the build's struct page_pool, copied out of `o` for the hot paths.
  /** `alloc` (struct pp_alloc_cache): count at AC_COUNT, cache at AC_CACHE. */
  private readonly oAlloc: number;
  private readonly oAllocCount: number;
  private readonly oAllocCache: number;
  private readonly cacheSlot: number;
  private readonly oRing: number;
  /** The layout's replacement for the ptr_ring (v7 encoded_next list), or null: the ptr_ring, inline. */
  private readonly ringOps: RingOps | null;
  private readonly oHoldCnt: number;
  private readonly oReleaseCnt: number;
  private readonly oRecycleStats: number;
  private readonly recycleStatsSize: number;
  /** `alloc_stats`: `fast` at AS_FAST. */
  private readonly oAllocStats: number;
  private readonly oStatSlow: number;
  private readonly oStatSlowHighOrder: number;
  private readonly oStatEmpty: number;
  private readonly oStatRefill: number;
  private readonly oDmaSync: number;
  private readonly mDmaSync: number;
  private readonly oDmaMap: number;
  private readonly mDmaMap: number;
  private readonly oCpuid: number;
  private readonly oNapi: number;
  /** The user's flags word (≤ v6.6 puts count pp_frag_count only in a PP_FLAG_PAGE_FRAG pool). */
  private readonly oFlags: number;
  /** `mp_ops` (v6.12: `mp_priv`), non-zero in a memory-provider pool; -1 before v6.12. */
  private readonly oMpKey: number;
  /** `user.detach_time` (v6.8+; -1 before), and whether it is a `ktime_t` (ns) rather than seconds. */
  private readonly oDetachTime: number;
  private readonly detachKtime: boolean;
  /** `page_pool_mem_providers`: the static key's word in `text32`. */
  private readonly wMemProviders: number;
  private readonly text32: Uint32Array;
  /** FRAG_WARN_SITES index of this build's `WARN_ON(ret < 0)` (src/pool/frag.ts). */
  private readonly fragWarnSite: number;
  /** The layout's netmem_desc of a page is the page itself (no `Tracking.nmdesc`): every build but memdesc-item. */
  private readonly nmdescIsPage: boolean;

  constructor(
    readonly m: Machine,
    readonly dma: Dma,
    readonly build: KernelBuild,
  ) {
    this.mem = m.mem;
    this.u32 = m.mem.u32;
    this.i32 = m.mem.i32;
    this.checks = m.mem.rd32(m.mem.machine + MACH_PP_CHECKS) !== 0;
    const o = poolOffsetsOf(build.structs);
    this.o = o;
    this.t = build.layout.make({ m, dma, build, pool: o });
    this.syncAfterRecycle = this.t.syncAfterRecycle;
    const sw = build.switches;
    this.refCounted = sw.ppRefCountInit;
    this.napiLocalEveryPut = sw.napiLocality === "napi_local" || sw.napiLocality === "napi_local_rt";
    this.countThenClear = sw.releaseOrder === "count-then-clear";
    this.statInRingLock = sw.releaseProducerBarrier;
    // Misuse checks need the general path; before v6.10 a direct put recycles only in softirq.
    // The flat path reads the page's pool fields in the page itself: not when the layout's netmem_desc is elsewhere.
    this.nmdescIsPage = this.t.nmdesc === undefined;
    this.flatDirect = this.checks || !this.nmdescIsPage ? FLAT_NONE : this.napiLocalEveryPut ? FLAT_ALWAYS : FLAT_IN_SOFTIRQ;
    // The hot paths add module constants to `alloc`, `alloc_stats` and the per-CPU stats: the build
    // must embed the shared declarations (every build here does; a new one that differs says so now).
    if (layoutOf(build.structs.recycleStats, LP64).size !== RS_SIZE || o.recycleStat.cached !== RS_CACHED) {
      throw new Error(`build ${build.name}: struct page_pool_recycle_stats differs from the shared declaration`);
    }
    if (o.allocStats.fast !== offsetOf(o.layout, "alloc_stats") + AS_FAST || o.allocCache !== offsetOf(o.layout, "alloc") + AC_CACHE) {
      throw new Error(`build ${build.name}: alloc_stats or pp_alloc_cache differ from the shared declarations`);
    }
    this.oAlloc = offsetOf(o.layout, "alloc");
    this.oAllocCount = o.allocCount;
    this.oAllocCache = o.allocCache;
    this.cacheSlot = o.cacheSlot;
    this.oRing = o.ring;
    this.ringOps = this.t.ring ?? null;
    this.oHoldCnt = o.holdCnt;
    this.oReleaseCnt = o.releaseCnt;
    this.oRecycleStats = o.recycleStats;
    this.recycleStatsSize = o.recycleStatsSize;
    this.oAllocStats = offsetOf(o.layout, "alloc_stats");
    this.oStatSlow = o.allocStats.slow!;
    this.oStatSlowHighOrder = o.allocStats.slow_high_order!;
    this.oStatEmpty = o.allocStats.empty!;
    this.oStatRefill = o.allocStats.refill!;
    this.oDmaSync = o.dmaSync.off;
    this.mDmaSync = o.dmaSync.mask;
    this.oDmaMap = o.dmaMap.off;
    this.mDmaMap = o.dmaMap.mask;
    this.oCpuid = o.cpuid;
    this.oNapi = o.napi;
    this.oFlags = o.flags;
    this.fragWarnSite = unrefWarnSite(build);
    // The word that says "this pool has a memory provider": mp_ops (v6.15+), mp_priv on v6.12.
    this.oMpKey = o.has("mp_ops") >= 0 ? o.has("mp_ops") : o.has("mp_priv");
    this.oDetachTime = o.has("user.detach_time");
    this.detachKtime = this.oDetachTime >= 0 && memberAt(o.layout, "user.detach_time")!.type === KTIME_T;
    this.text32 = this.mem.text32;
    this.wMemProviders = (this.mem.machine + MACH_PAGE_POOL_MEM_PROVIDERS) >>> 2;
  }

  /**
   * `netmem_to_nmdesc()` of a page (src/pool/nmdesc.ts): the page itself while netmem_desc overlays
   * struct page (one test of a constant field), else the layout's descriptor (memdesc-item: the item).
   */
  nmdesc(page: number): number {
    return this.nmdescIsPage === true ? page : this.t.nmdesc!(page);
  }

  /**
   * `pp_page_to_nmdesc()`: the descriptor after `DEBUG_NET_WARN_ON_ONCE(!page_pool_page_is_pp(p))`,
   * which warns only on a checked machine (CONFIG_DEBUG_NET). Not for the hot paths.
   */
  ppPageToNmdesc(page: number): number {
    if (this.checks && !this.t.isPpPage(page)) this.mem.diag(Diag.PP_NMDESC_NOT_PP, page, 0);
    return this.nmdesc(page);
  }

  // ------------------------------------------------------------------ create

  /**
   * `page_pool_create()` / `page_pool_init()`: a pool pointer, or a negative errno (-EINVAL, -E2BIG,
   * -ENOMEM), with this build's checks in the kernel's order. Params of the wrong type: a
   * PpemuError "EINVAL_ARG" (see PagePoolParams), before anything is allocated.
   */
  create(params: PagePoolParams = {}): number {
    this.checkParams(params);
    const mem = this.mem;
    const o = this.o;
    const sw = this.build.switches;
    const order = params.order ?? 0;
    const poolSize = params.poolSize ?? PP_DEFAULT_POOL_SIZE;
    const flags = params.flags ?? 0;
    const dmaDir = params.dmaDir ?? DMA_FROM_DEVICE;
    const maxLen = params.maxLen ?? 0;
    if (!Number.isInteger(poolSize) || poolSize < 0 || poolSize > 0xffffffff) return -EINVAL;
    if (!Number.isInteger(order) || order < 0) return -EINVAL;
    if (flags & ~sw.ppFlagAll) return -EINVAL;
    let ringSize = poolSize === 0 ? PP_DEFAULT_POOL_SIZE : poolSize;
    if (sw.poolSizeRule === "e2big") {
      // "Sanity limit mem that can be pinned down"
      if (ringSize > PP_POOL_SIZE_MAX) return -E2BIG;
    } else ringSize = Math.min(ringSize, PP_RING_SIZE_MAX);
    if (flags & PP_FLAG_DMA_MAP && dmaDir !== DMA_FROM_DEVICE && dmaDir !== DMA_BIDIRECTIONAL) return -EINVAL;
    if (flags & PP_FLAG_DMA_SYNC_DEV && (!(flags & PP_FLAG_DMA_MAP) || maxLen === 0)) return -EINVAL;
    if (sw.orderCheck && order > MAX_PAGE_ORDER) return -EINVAL;
    // netdev_assert_locked(pool->slow.netdev) and __netif_get_rx_queue() dereference the netdev.
    if (flags & PP_FLAG_ALLOW_UNREADABLE_NETMEM && (params.netdev ?? 0) === 0) {
      throw new PpemuError("EINVAL_ARG", "PagePoolParams: PP_FLAG_ALLOW_UNREADABLE_NETMEM needs netdev (and queueIdx): page_pool_init() takes the rx queue's memory provider");
    }
    const pool = this.m.slab.kmalloc(o.size, GFP_ZERO);
    if (pool === 0) return -ENOMEM;
    // A layout with its own ring (v7 6/8 dropped ptr_ring_init()) allocates no queue.
    const queue = this.ringOps === null ? this.m.slab.kmalloc(ringSize * PTR_RING_SLOT, GFP_ZERO) : 0;
    // alloc_percpu(struct page_pool_recycle_stats): one copy per possible CPU.
    const stats = this.m.slab.kmalloc(mem.nrCpus * this.recycleStatsSize, GFP_ZERO);
    // `napiCpu` asks the emulator for a NAPI instance of its own (a build without p.napi has none).
    const wantOwnNapi = (params.napi ?? 0) === 0 && (params.napiCpu ?? -1) >= 0 && o.napi >= 0;
    const ownNapi = wantOwnNapi ? this.napiCreate(params.napiCpu!) : 0;
    const napi = wantOwnNapi ? ownNapi : (params.napi ?? 0);
    const fail = (err: number): number => {
      for (const p of [queue, stats, ownNapi, pool]) if (p !== 0) this.m.slab.kfree(p);
      return err;
    };
    if ((queue === 0 && this.ringOps === null) || stats === 0 || (wantOwnNapi && ownNapi === 0)) return fail(-ENOMEM);
    mem.wr32(pool + o.order, order);
    mem.wr32(pool + o.poolSize, poolSize);
    mem.wr32(pool + o.nid, params.nid ?? 0);
    mem.wr32(pool + o.flags, flags);
    mem.wrPtr(pool + o.dev, params.dev ?? 0);
    mem.wr32(pool + o.dmaDir, dmaDir);
    mem.wr32(pool + o.maxLen, maxLen);
    mem.wr32(pool + o.offset, params.offset ?? 0);
    if (o.napi >= 0) mem.wrPtr(pool + o.napi, napi);
    if (o.cpuid >= 0) mem.wr32(pool + o.cpuid, params.cpuid ?? -1);
    if (o.netdev >= 0) mem.wrPtr(pool + o.netdev, params.netdev ?? 0);
    if (flags & PP_FLAG_DMA_MAP) setBit(mem.u32, pool, o.dmaMap);
    if (flags & PP_FLAG_DMA_SYNC_DEV) setBit(mem.u32, pool, o.dmaSync);
    mem.wr32(pool + o.userCnt, 1);
    mem.wrPtr(pool + o.recycleStats, stats);
    if (this.ringOps === null) ptrRingInit(mem, pool + o.ring, ringSize, queue);
    else this.ringOps.init(pool);
    const err = this.t.init(pool);
    if (err < 0) return fail(err);
    const mpErr = this.initMemoryProvider(pool, flags, params.queueIdx ?? 0);
    if (mpErr < 0) {
      this.t.uninit(pool);
      return fail(mpErr);
    }
    // page_pool_list(): the netlink id (xa_alloc_cyclic from 1) where the build has one.
    const id = nextPoolId(mem);
    if (o.userId >= 0) mem.wr32(pool + o.userId, id);
    if (poolListAdd(this.m, pool, id, ownNapi) === 0) {
      // err_uninit: page_pool_uninit() runs the provider's destroy too.
      this.t.uninit(pool);
      this.mpUninit(pool);
      return fail(-ENOMEM);
    }
    return pool;
  }

  /**
   * page_pool_init()'s memory-provider part (v6.12+; search id 57621740185): with
   * PP_FLAG_ALLOW_UNREADABLE_NETMEM, `mp_priv`/`mp_ops` from `__netif_get_rx_queue(slow.netdev,
   * slow.queue_idx)`; a provider pool needs `dma_map && dma_sync` (-EOPNOTSUPP; on v6.12 devmem's
   * init checks instead), then `mp_ops->init()`, whose failure prints "%s() mem-provider init failed %d".
   */
  private initMemoryProvider(pool: number, flags: number, queueIdx: number): number {
    const mem = this.mem;
    const o = this.o;
    const qi = o.has("slow.queue_idx");
    if (qi >= 0) mem.wr32(pool + qi, queueIdx);
    const privOff = o.has("mp_priv");
    const opsOff = o.has("mp_ops");
    if (flags & PP_FLAG_ALLOW_UNREADABLE_NETMEM && privOff >= 0 && o.netdev >= 0) {
      const rxq = netifGetRxQueue(this, mem.rdPtr(pool + o.netdev), queueIdx, false);
      if (rxq !== 0) {
        mem.wrPtr(pool + privOff, mem.rdPtr(rxq + RXQ_MP_PRIV));
        if (opsOff >= 0) mem.wr32(pool + opsOff, mem.rd32(rxq + RXQ_MP_OPS));
      }
    }
    const ops = poolMpOps(this, pool);
    if (ops === null) return 0;
    if (opsOff >= 0 && !(bitSet(mem.u32, pool, o.dmaMap) && bitSet(mem.u32, pool, o.dmaSync))) return -EOPNOTSUPP;
    const err = ops.init(this, pool);
    if (err < 0) mem.diag(Diag.MP_INIT_FAILED, pool, err >>> 0);
    else staticBranchInc(mem, mem.machine + MACH_PAGE_POOL_MEM_PROVIDERS);
    return err;
  }

  /** page_pool_uninit()'s provider part: `if (pool->mp_ops) { mp_ops->destroy(pool); static_branch_dec(&page_pool_mem_providers); }`. */
  private mpUninit(pool: number): void {
    const ops = poolMpOps(this, pool);
    if (ops === null) return;
    ops.destroy(this, pool);
    staticBranchDec(this.mem, this.mem.machine + MACH_PAGE_POOL_MEM_PROVIDERS);
  }

  /** PagePoolParams' types (the kernel's errnos for values are `create`'s). */
  private checkParams(params: PagePoolParams): void {
    if (params === null || typeof params !== "object") throw new PpemuError("EINVAL_ARG", `PagePools.create: params must be a PagePoolParams object, got ${showValue(params)}`);
    for (const k of PARAM_INTS) {
      const v = params[k];
      if (v !== undefined && (typeof v !== "number" || !Number.isSafeInteger(v))) {
        throw new PpemuError("EINVAL_ARG", `PagePoolParams.${k} must be an integer, got ${showValue(v)}`);
      }
    }
    for (const k of PARAM_PTRS) {
      const v = params[k];
      if (v !== undefined) checkInt(`PagePoolParams.${k} (a pointer; 0 for none)`, v, 0, 0xffffffff);
    }
    const cpu = params.napiCpu;
    if (cpu !== undefined && (typeof cpu !== "number" || !Number.isSafeInteger(cpu) || cpu < -1 || cpu >= this.mem.nrCpus)) {
      throw new PpemuError("EINVAL_ARG", `PagePoolParams.napiCpu must be -1 (none) or one of the machine's CPUs 0 … ${this.mem.nrCpus - 1}, got ${showValue(cpu)}`);
    }
  }

  /**
   * A NAPI instance (`struct ppemu_napi`); 0 when out of memory. `cpu` >= 0: one that stays
   * scheduled on that CPU (`list_owner = cpu`, a single-thread shorthand); -1: idle until a
   * `napiPollBegin` on the polling CPU.
   */
  napiCreate(cpu: number): number {
    const napi = this.m.slab.kmalloc(NAPI_SIZE, GFP_ZERO);
    if (napi === 0) return 0;
    this.mem.wr32(napi + NAPI_LIST_OWNER, cpu);
    return napi;
  }

  /**
   * A NAPI poll on this CPU begins: `____napi_schedule()` sets `list_owner = smp_processor_id()`
   * and the poll runs in softirq (`net_rx_action()`). Pair with `napiPollEnd`.
   */
  napiPollBegin(napi: number): void {
    softirqEnter(this.mem);
    if (napi !== 0) Atomics.store(this.i32, (napi + NAPI_LIST_OWNER) >>> 2, this.mem.cpu);
  }

  /** `napi_complete_done()`: `list_owner = -1`, and the softirq ends. */
  napiPollEnd(napi: number): void {
    if (napi !== 0) Atomics.store(this.i32, (napi + NAPI_LIST_OWNER) >>> 2, -1);
    softirqExit(this.mem);
  }

  /** `napi_disable()`: NAPI_STATE_SCHED held, `list_owner = -1` (the driver does this before destroy). */
  napiDisable(napi: number): void {
    if (napi === 0) return;
    this.mem.wr32(napi + NAPI_STATE, this.mem.rd32(napi + NAPI_STATE) | NAPI_STATE_SCHED);
    this.mem.wr32(napi + NAPI_LIST_OWNER, -1);
  }

  /** The pool's `p.napi` (0 when the build has no such member, or none is set). */
  napiOf(ref: PoolRef): number {
    const pool = this.checkHandle(ref, "napiOf");
    return this.oNapi < 0 ? 0 : this.mem.rdPtr(pool + this.oNapi);
  }

  // ------------------------------------------------------------------ alloc

  /** `page_pool_alloc_pages()`: a page (head page for order > 0), or 0. */
  allocPages(pool: number): number {
    // A checked machine takes its own entry, so the unchecked one tests the switch once.
    if (this.checks === true) return this.allocPagesChecked(pool);
    const page = this.getCached(pool);
    return page !== 0 ? page : this.allocPagesCold(pool);
  }

  /**
   * `__page_pool_get_cached()`'s fast case: pop the lockless LIFO of the owning NAPI context and
   * count `alloc_stat_inc(pool, fast)` (the u64's low word, carrying into the high one); 0 if empty.
   */
  private getCached(pool: number): number {
    const u32 = this.u32;
    const countIdx = (pool + this.oAlloc + AC_COUNT) >>> 2;
    const count = u32[countIdx]!;
    if (count === 0) return 0;
    u32[countIdx] = count - 1;
    const page = u32[(pool + this.oAlloc + AC_CACHE + (count - 1) * NETMEM_REF_SIZE) >>> 2]!;
    const statIdx = (pool + this.oAllocStats + AS_FAST) >>> 2;
    if ((u32[statIdx] = (u32[statIdx]! + 1) >>> 0) === 0) u32[statIdx + 1]!++;
    return page;
  }

  /** allocPages with the misuse checks: a page a driver recycled into the cache after destroy is no excuse. */
  private allocPagesChecked(pool: number): number {
    if (!this.checkAlloc(pool)) return 0;
    const page = this.getCached(pool);
    if (page === 0) return this.allocPagesCold(pool);
    this.u32[(page + PAGE_FLAGS) >>> 2]! &= ~FLAG_IN_POOL;
    return page;
  }

  /** The alloc cache was empty: refill it from the ring, else go to the page allocator. */
  private allocPagesCold(pool: number): number {
    const page = this.refillAllocCache(pool);
    if (page !== 0) {
      if (this.checks === true) this.u32[(page + PAGE_FLAGS) >>> 2]! &= ~FLAG_IN_POOL;
      return page;
    }
    // "Slow-path: cache empty, do real allocation": the memory provider's alloc_netmems(), or pages.
    // `static_branch_unlikely(&page_pool_mem_providers) && pool->mp_ops`: no load until a provider pool exists.
    if (this.text32[this.wMemProviders] !== 0 && this.oMpKey >= 0 && this.u32[(pool + this.oMpKey) >>> 2] !== 0) {
      return poolMpOps(this, pool)!.alloc_netmems(this, pool);
    }
    return this.allocPagesSlow(pool);
  }

  /** `page_pool_refill_alloc_cache()`: move up to PP_ALLOC_CACHE_REFILL pages from the ring. */
  private refillAllocCache(pool: number): number {
    const mem = this.mem;
    const u32 = this.u32;
    const r = pool + this.oRing;
    const ringOps = this.ringOps;
    if (ringOps === null ? ptrRingEmpty(mem, r) : ringOps.empty(pool)) {
      mem.inc64(pool + this.oStatEmpty);
      return 0;
    }
    const countIdx = (pool + this.oAllocCount) >>> 2;
    const cache = pool + this.oAllocCache;
    // One NUMA node in the emulator: every page is on the preferred node, so no waive path.
    let count = u32[countIdx]!;
    do {
      // __ptr_ring_consume(): the alloc side is the ring's only consumer, so no consumer lock.
      const page = ringOps === null ? ptrRingConsumeLocked(mem, r) : ringOps.consume(pool);
      if (page === 0) break;
      // A page moving from the ring to the cache stays "in the pool" (FLAG_IN_POOL kept).
      mem.wrPagePtr(cache + count * this.cacheSlot, page);
      count++;
    } while (count < PP_ALLOC_CACHE_REFILL);
    if (count > 0) {
      count--;
      u32[countIdx] = count;
      mem.inc64(pool + this.oStatRefill);
      return u32[(cache + count * this.cacheSlot) >>> 2]!;
    }
    u32[countIdx] = 0;
    return 0;
  }

  /** `__page_pool_alloc_netmems_slow()`: from the page allocator, mapped and tracked. */
  private allocPagesSlow(pool: number): number {
    const mem = this.mem;
    const u32 = this.u32;
    const order = u32[(pool + this.o.order) >>> 2]!;
    const dmaMap = (u32[(pool + this.oDmaMap) >>> 2]! & this.mDmaMap) !== 0;
    const holdIdx = (pool + this.oHoldCnt) >>> 2;
    if (order !== 0) {
      // __page_pool_alloc_page_order(): no bulk for high-order pages.
      const page = this.m.pa.allocPages(order);
      if (page === 0) return 0;
      if (!this.t.setPpInfo(pool, page)) {
        this.m.pa.putPage(page);
        return 0;
      }
      if (dmaMap && !this.dmaMap(pool, page)) {
        this.t.clearPpInfo(pool, page);
        this.m.pa.putPage(page);
        return 0;
      }
      mem.inc64(pool + this.oStatSlowHighOrder);
      u32[holdIdx] = (u32[holdIdx]! + 1) >>> 0;
      if (traceHook !== null) traceHook(TP_STATE_HOLD, this, pool, page);
      return page;
    }
    const slot = this.cacheSlot;
    const cache = pool + this.oAllocCache;
    // Mark the first `bulk` slots empty for alloc_pages_bulk(), which fills only NULL slots.
    mem.u8.fill(0, cache, cache + PP_ALLOC_CACHE_REFILL * slot);
    const nr = this.m.pa.allocPagesBulk(PP_ALLOC_CACHE_REFILL, cache);
    if (nr === 0) return 0;
    let count = 0;
    for (let i = 0; i < nr; i++) {
      const page = u32[(cache + i * slot) >>> 2]!;
      if (!this.t.setPpInfo(pool, page)) {
        this.m.pa.putPage(page);
        continue;
      }
      if (dmaMap && !this.dmaMap(pool, page)) {
        this.t.clearPpInfo(pool, page);
        this.m.pa.putPage(page);
        continue;
      }
      mem.wrPagePtr(cache + count * slot, page);
      if (this.checks === true) u32[(page + PAGE_FLAGS) >>> 2]! |= FLAG_IN_POOL;
      count++;
      u32[holdIdx] = (u32[holdIdx]! + 1) >>> 0;
      if (traceHook !== null) traceHook(TP_STATE_HOLD, this, pool, page);
    }
    if (count === 0) {
      u32[(pool + this.oAllocCount) >>> 2] = 0;
      return 0;
    }
    count--;
    u32[(pool + this.oAllocCount) >>> 2] = count;
    mem.inc64(pool + this.oStatSlow);
    const page = u32[(cache + count * slot) >>> 2]!;
    if (this.checks === true) u32[(page + PAGE_FLAGS) >>> 2]! &= ~FLAG_IN_POOL;
    return page;
  }

  /** `page_pool_dma_map()`: map PAGE_SIZE << order, store dma_addr, let the layout track it. */
  private dmaMap(pool: number, page: number): boolean {
    const mem = this.mem;
    const o = this.o;
    const dev = mem.rdPtr(pool + o.dev);
    if (dev === 0 || !this.isDevice(dev)) {
      // No kernel checks p.dev; dma_map_page_attrs() on NULL or on what is no device would oops.
      // The emulator refuses the map, and says why.
      mem.diag(Diag.PP_DEV_NOT_DEVICE, pool, dev);
      return false;
    }
    const size = mem.pageSize << mem.rd32(pool + o.order);
    const dir = mem.rd32(pool + o.dmaDir);
    const dma = this.dma.dmaMapPage(dev, page, 0, size, dir, PP_DMA_ATTRS);
    if (this.dma.dmaMappingError(dev, dma)) return false;
    const desc = this.nmdesc(page);
    mem.wr64(desc + NMDESC_DMA_ADDR, 0, dma);
    if (!this.t.onMapped(pool, page)) {
      this.dma.dmaUnmapPage(dev, dma, size, dir, PP_DMA_ATTRS);
      mem.wr64(desc + NMDESC_DMA_ADDR, 0, 0);
      return false;
    }
    this.syncForDevice(pool, page, mem.rd32(pool + o.maxLen));
    return true;
  }

  /**
   * `page_pool_dma_sync_for_device()`: only while `pool->dma_sync` is set, and (v6.11+) only when
   * `dma_dev_need_sync(dev)`: a coherent device without bouncing is never synced.
   */
  syncForDevice(pool: number, page: number, dmaSyncSize: number): void {
    const u32 = this.u32;
    if ((u32[(pool + this.oDmaSync) >>> 2]! & this.mDmaSync) === 0) return;
    const o = this.o;
    const dev = this.mem.rdPtr(pool + o.dev);
    if (this.build.switches.syncNeedsDevice && !this.dma.dmaDevNeedSync(dev)) return;
    if (this.build.switches.syncUnderRcu) {
      rcuReadLock(this.mem);
      try {
        if ((Atomics.load(u32, (pool + this.oDmaSync) >>> 2) & this.mDmaSync) !== 0) this.syncNow(pool, page, dmaSyncSize, dev);
      } finally {
        rcuReadUnlock(this.mem);
      }
      return;
    }
    this.syncNow(pool, page, dmaSyncSize, dev);
  }

  /** `__page_pool_dma_sync_for_device()`. */
  private syncNow(pool: number, page: number, dmaSyncSize: number, dev: number): void {
    const u32 = this.u32;
    const o = this.o;
    const maxLen = u32[(pool + o.maxLen) >>> 2]!;
    const size = dmaSyncSize >>> 0 < maxLen ? dmaSyncSize >>> 0 : maxLen;
    const dma = u32[(this.nmdesc(page) + NMDESC_DMA_ADDR) >>> 2]!;
    this.dma.dmaSyncSingleForDevice(dev, dma + u32[(pool + o.offset) >>> 2]!, size, u32[(pool + o.dmaDir) >>> 2]!);
  }

  /**
   * v11 patch 4/4's `page_pool_dma_sync_for_device_rcu()`, after the page is already in the ring:
   * test `dma_sync`, then re-test it inside `rcu_read_lock()`, paired with the `synchronize_net()`
   * that follows destroy's clearing of `dma_sync` (page_pool_item_unmap()). The ring drain of
   * destroy's first scrub runs before that clearing.
   */
  private syncForDeviceRcu(pool: number, page: number, dmaSyncSize: number): void {
    const w = (pool + this.oDmaSync) >>> 2;
    if ((Atomics.load(this.u32, w) & this.mDmaSync) === 0) return;
    if (this.build.switches.syncNeedsDevice && !this.dma.dmaDevNeedSync(this.mem.rdPtr(pool + this.o.dev))) return;
    rcuReadLock(this.mem);
    try {
      if ((Atomics.load(this.u32, w) & this.mDmaSync) !== 0) this.syncForDevice(pool, page, dmaSyncSize);
    } finally {
      rcuReadUnlock(this.mem);
    }
  }

  // ------------------------------------------------------------------ put

  /**
   * `page_pool_put_page()` / `page_pool_put_netmem()`: drop a pp reference; the last one recycles
   * into the alloc cache (allow_direct), else the ring, else releases the page. `dmaSyncSize` -1
   * means "the whole max_len".
   */
  putPage(pool: number, page: number, dmaSyncSize: number, allowDirect: boolean): void {
    const u32 = this.u32;
    if (this.checks === true && !this.checkPut(pool, page)) return;
    // page_pool_unref_and_test(): the fast case is pp_ref_count == 1 (both words of the long),
    // which stays 1 for recycling. ≤ v6.6 (page_pool_is_last_frag()): only a PP_FLAG_PAGE_FRAG pool
    // counts pp_frag_count. Anything else drops one reference in src/pool/frag.ts.
    const refAddr = this.nmdesc(page) + NMDESC_PP_REF_COUNT;
    const refIdx = refAddr >>> 2;
    if (this.refCounted ? u32[refIdx] !== 1 || u32[refIdx + 1] !== 0 : (u32[(pool + this.oFlags) >>> 2]! & PP_FLAG_PAGE_FRAG) !== 0) {
      if (unrefNetmem(this.mem, page, refAddr, 0, 1, this.refCounted, this.fragWarnSite) !== 0) return;
    }
    this.putUnrefedPage(pool, page, dmaSyncSize, allowDirect);
  }

  /**
   * `page_pool_put_unrefed_netmem()` + `__page_pool_put_page()`. Kept under V8's inlining budget
   * (460 bytecodes): everything off the recycle-into-cache path is a call.
   */
  private putUnrefedPage(pool: number, page: number, dmaSyncSize: number, allowDirect: boolean): void {
    const u32 = this.u32;
    // v6.10+ promotes allow_direct (page_pool_napi_local()); before, it needs softirq.
    if (this.napiLocalEveryPut !== allowDirect) allowDirect = this.directAllowed(pool);
    // __page_pool_page_can_be_recycled(): a net_iov, or the page's sole owner and not pfmemalloc.
    if ((page & NET_IOV) !== 0 || (u32[(page + PAGE_REFCOUNT) >>> 2] === 1 && (u32[(this.nmdesc(page) + NMDESC_PP_MAGIC) >>> 2]! & PP_MAGIC_PFMEMALLOC) === 0)) {
      // The test is inlined so the no-sync pool pays no call.
      const sync = (u32[(pool + this.oDmaSync) >>> 2]! & this.mDmaSync) !== 0;
      if (sync && !this.syncAfterRecycle) this.syncForDevice(pool, page, dmaSyncSize);
      if (allowDirect && this.recycleInCache(pool, page)) {
        if (sync || this.checks === true) this.cachedSlowPart(pool, page, dmaSyncSize, sync);
        return;
      }
      this.recycleInRing(pool, page, dmaSyncSize);
      return;
    }
    this.releaseRefcnt(pool, page);
  }

  /**
   * `page_pool_recycle_in_cache()`: push onto the lockless alloc cache of the pool's NAPI context;
   * false (and `cache_full` counted) when it holds PP_ALLOC_CACHE_SIZE. The caller has verified
   * `page_ref_count(page) == 1`.
   */
  private recycleInCache(pool: number, page: number): boolean {
    const u32 = this.u32;
    const countIdx = (pool + this.oAlloc + AC_COUNT) >>> 2;
    const count = u32[countIdx]!;
    if (count === PP_ALLOC_CACHE_SIZE) {
      this.mem.inc64(this.recycleStat(pool) + this.o.recycleStat.cache_full!);
      return false;
    }
    const slotIdx = (pool + this.oAlloc + AC_CACHE + count * NETMEM_REF_SIZE) >>> 2;
    u32[slotIdx] = page;
    u32[slotIdx + 1] = VMEMMAP_HI;
    u32[countIdx] = count + 1;
    // recycle_stat_inc(pool, cached): this_cpu_inc() on the current CPU's copy.
    const statIdx = (u32[(pool + this.oRecycleStats) >>> 2]! + this.mem.cpu * RS_SIZE + RS_CACHED) >>> 2;
    if ((u32[statIdx] = (u32[statIdx]! + 1) >>> 0) === 0) u32[statIdx + 1]!++;
    return true;
  }

  /** After a recycle into the cache: the debug mark, and v11's sync after recycling. */
  private cachedSlowPart(pool: number, page: number, dmaSyncSize: number, sync: boolean): void {
    if (this.checks === true) this.u32[(page + PAGE_FLAGS) >>> 2]! |= FLAG_IN_POOL;
    // The explorer asks whose CPU just used the lockless cache (a checked machine only: off the fast path).
    if (pointHook !== null) pointHook(Point.ALLOC_CACHE_RECYCLED, pool, page);
    if (sync && this.syncAfterRecycle) this.syncForDevice(pool, page, dmaSyncSize);
  }

  /**
   * The allow_direct the build's put path ends up with, when it may differ from the caller's:
   * v6.10+ promotes a false one through `page_pool_napi_local()`; before, a true one holds only in
   * softirq (`__page_pool_put_page()`'s `allow_direct && in_softirq()`).
   */
  private directAllowed(pool: number): boolean {
    const direct = this.napiLocalEveryPut ? this.napiLocal(pool) : this.inSoftirq();
    // The explorer's point between the decision and the push into the lockless cache.
    if (pointHook !== null && direct) pointHook(Point.NAPI_LOCAL, pool, 0);
    return direct;
  }

  /** Someone else holds a page reference: the page leaves the pool. */
  private releaseRefcnt(pool: number, page: number): void {
    this.mem.inc64(this.recycleStat(pool) + this.o.recycleStat.released_refcnt!);
    this.returnPage(pool, page);
  }

  /** Address of the current CPU's `recycle_stats.<name>` (the frag API counts `cached`). */
  recycleStatOf(pool: number, name: (typeof RECYCLE_STAT_NAMES)[number]): number {
    return this.recycleStat(pool) + this.o.recycleStat[name]!;
  }

  /** `this_cpu_ptr(pool->recycle_stats)`: the current CPU's copy. */
  private recycleStat(pool: number): number {
    const u32 = this.u32;
    return u32[(pool + this.oRecycleStats) >>> 2]! + this.mem.cpu * this.recycleStatsSize;
  }

  /**
   * `page_pool_recycle_in_ring()`, and the ring-full fallback of `page_pool_put_unrefed_netmem()`.
   * From v6.16 (271683bb2cf3) the producer lock covers `recycle_stat_inc(pool, ring)` too, so
   * `page_pool_release()`'s lock/unlock barrier waits for it; before, the stat came after the unlock.
   * The emulator's debug mark goes on before the page is visible in the ring.
   */
  private recycleInRing(pool: number, page: number, dmaSyncSize: number): void {
    const u32 = this.u32;
    if (this.checks === true) u32[(page + PAGE_FLAGS) >>> 2]! |= FLAG_IN_POOL;
    const ring = pool + this.oRing;
    let ok: boolean;
    if (this.ringOps !== null) {
      // v7 6/8: no producer lock; the stat follows a successful cmpxchg push.
      ok = this.ringOps.produce(pool, page);
      if (ok) this.mem.inc64(this.recycleStat(pool) + this.o.recycleStat.ring!);
    } else if (this.statInRingLock) {
      spinLock(this.mem, ring + PTR_RING_PRODUCER_LOCK);
      ok = ptrRingProduceLocked(this.mem, ring, page) === 0;
      if (ok) this.mem.inc64(this.recycleStat(pool) + this.o.recycleStat.ring!);
      spinUnlock(this.mem, ring + PTR_RING_PRODUCER_LOCK);
    } else {
      ok = ptrRingProduce(this.mem, ring, page) === 0;
      if (ok) {
        // Before 271683bb2cf3 the stat comes after the producer lock is dropped.
        const stat = this.recycleStat(pool) + this.o.recycleStat.ring!;
        if (pointHook !== null) this.pointAfterProduce(pool, stat);
        this.mem.inc64(stat);
      }
    }
    if (ok) {
      if (this.syncAfterRecycle) this.syncForDeviceRcu(pool, page, dmaSyncSize);
      return;
    }
    if (this.checks === true) u32[(page + PAGE_FLAGS) >>> 2]! &= ~FLAG_IN_POOL;
    this.mem.inc64(this.recycleStat(pool) + this.o.recycleStat.ring_full!);
    this.returnPage(pool, page);
  }

  /** The explorer's point after the produce, and the stat write it may make into a freed pool. */
  private pointAfterProduce(pool: number, stat: number): void {
    pointHook!(Point.RING_AFTER_PRODUCE, pool, 0);
    pointHook!(Point.ACCESS_WRITE, stat, 8);
  }

  /** `page_pool_put_full_page()`. */
  putFullPage(pool: number, page: number, allowDirect: boolean): void {
    this.putPage(pool, page, -1, allowDirect);
  }

  /**
   * `page_pool_recycle_direct()` = `page_pool_put_full_page(pool, page, true)`: the NAPI-context
   * return into the alloc cache. The common case is one flat body small enough for V8 to inline
   * whole into the caller's loop: the tests of `putPage` and `__page_pool_put_page()` in the
   * kernel's order (pp_ref_count 1, the page's sole owner, not pfmemalloc, no sync for device,
   * direct allowed), then the push. Anything else goes through `putPage` from the top, nothing
   * changed yet; a full cache goes on as the kernel does, to the ring.
   */
  recycleDirect(pool: number, page: number): void {
    const u32 = this.u32;
    const flat = this.flatDirect;
    // Only a layout whose netmem_desc is the page has a flat path (nmdescIsPage): `page` is the desc.
    if (
      flat !== FLAT_NONE &&
      (this.refCounted ? u32[(page + NMDESC_PP_REF_COUNT) >>> 2] === 1 : (u32[(pool + this.oFlags) >>> 2]! & PP_FLAG_PAGE_FRAG) === 0) &&
      u32[(page + PAGE_REFCOUNT) >>> 2] === 1 &&
      (u32[(page + NMDESC_PP_MAGIC) >>> 2]! & PP_MAGIC_PFMEMALLOC) === 0 &&
      (u32[(pool + this.oDmaSync) >>> 2]! & this.mDmaSync) === 0 &&
      (flat === FLAT_ALWAYS || this.inSoftirq())
    ) {
      if (!this.recycleInCache(pool, page)) this.recycleInRing(pool, page, -1);
      return;
    }
    this.putPage(pool, page, -1, true);
  }

  /**
   * `page_pool_napi_local()` (v6.10+): in softirq, on the CPU that owns the pool (`pool->cpuid`) or
   * that is polling its NAPI right now (`napi->list_owner`). The newest mainline also says no on
   * PREEMPT_RT; the emulated kernel is not RT.
   */
  napiLocal(pool: number): boolean {
    if (!this.inSoftirq()) return false;
    return this.ownsCpu(pool, this.mem.cpu);
  }

  /** `in_softirq()` of this thread's CPU (src/smp/percpu.ts). */
  private inSoftirq(): boolean {
    return (this.i32[(this.mem.cpuArea + CPU_PREEMPT_COUNT) >>> 2]! & SOFTIRQ_MASK) !== 0;
  }

  /** `pool->cpuid == cpu || napi->list_owner == cpu`, with the members this build has. */
  private ownsCpu(pool: number, cpu: number): boolean {
    const i32 = this.i32;
    if (this.oCpuid >= 0 && i32[(pool + this.oCpuid) >>> 2] === cpu) return true;
    if (this.oNapi < 0) return false;
    const napi = i32[(pool + this.oNapi) >>> 2]!;
    return napi !== 0 && i32[(napi + NAPI_LIST_OWNER) >>> 2] === cpu;
  }

  /**
   * `napi_pp_put_page()` (net/core/skbuff.c), the skb free path: false when the page is no
   * page_pool page. Before v6.10 this is where NAPI locality is decided (`list_owner`, and from
   * v6.9 `pool->cpuid`); v6.10+ leaves it to `page_pool_napi_local()` in every put, and v6.1 has
   * no such path (the skb returns with `allow_direct = false`).
   */
  napiPpPutPage(page: number): boolean {
    // netmem_compound_head(): a net_iov is its own head.
    const head = (page & NET_IOV) !== 0 ? page : this.m.pa.compoundHead(page);
    const t = this.t;
    if (!t.isPpPage(head)) return false;
    const pool = t.poolOf(head);
    const loc = this.build.switches.napiLocality;
    let allowDirect = false;
    if (loc === "napi_pp_put_page" || loc === "cpuid") {
      if (this.inSoftirq()) allowDirect = this.ownsCpu(pool, this.mem.cpu);
    }
    this.putFullPage(pool, head, allowDirect);
    return true;
  }

  /**
   * `page_pool_return_page()`: unmap (if the layout says the pool still owns the mapping), count
   * the release, clear pp info — in this build's order — and give the page back to the allocator.
   */
  returnPage(pool: number, page: number): void {
    if (this.text32[this.wMemProviders] !== 0 && this.oMpKey >= 0 && this.u32[(pool + this.oMpKey) >>> 2] !== 0) {
      this.returnNetmemMp(pool, page);
      return;
    }
    this.t.releaseDma(pool, page);
    if (this.countThenClear) {
      Atomics.add(this.i32, (pool + this.oReleaseCnt) >>> 2, 1);
      if (traceHook !== null) traceHook(TP_STATE_RELEASE, this, pool, page);
      // "It is not safe to reference pool afterwards": once the last page is counted, the pool may go.
      if (pointHook !== null && this.rawInflight(pool) === 0) pointHook(Point.RETURN_AFTER_RELEASE_CNT, pool, page);
      this.t.clearPpInfo(pool, page);
    } else {
      this.t.clearPpInfo(pool, page);
      Atomics.add(this.i32, (pool + this.oReleaseCnt) >>> 2, 1);
      if (traceHook !== null) traceHook(TP_STATE_RELEASE, this, pool, page);
    }
    if (this.checks === true) this.u32[(page + PAGE_FLAGS) >>> 2]! &= ~FLAG_IN_POOL;
    this.m.pa.putPage(page);
  }

  /**
   * `page_pool_return_netmem()` of a memory-provider pool: `put = mp_ops->release_netmem()` instead
   * of the DMA release, `release_cnt++`, and only if `put`: clear pp info and put_page() (devmem
   * never puts: its niovs go back to the gen_pool inside release_netmem).
   */
  private returnNetmemMp(pool: number, netmem: number): void {
    const put = poolMpOps(this, pool)!.release_netmem(this, pool, netmem);
    Atomics.add(this.i32, (pool + this.oReleaseCnt) >>> 2, 1);
    if (traceHook !== null) traceHook(TP_STATE_RELEASE, this, pool, netmem);
    if (pointHook !== null && this.rawInflight(pool) === 0) pointHook(Point.RETURN_AFTER_RELEASE_CNT, pool, netmem);
    if (this.checks === true) this.u32[(netmem + PAGE_FLAGS) >>> 2]! &= ~FLAG_IN_POOL;
    if (!put) return;
    this.t.clearPpInfo(pool, netmem);
    this.m.pa.putPage(netmem);
  }

  // ------------------------------------------------------------------ misuse checks (ppemu's own)

  private checkPut(pool: number, page: number): boolean {
    const mem = this.mem;
    if (!this.t.isPpPage(page)) {
      mem.diag(Diag.PP_PUT_NOT_PP, page, pool);
      return false;
    }
    if (this.t.poolOf(page) !== pool) {
      mem.diag(Diag.PP_PUT_FOREIGN, page, pool);
      return false;
    }
    if (mem.rd32(page + PAGE_FLAGS) & FLAG_IN_POOL || (this.refCounted && mem.rd32(this.nmdesc(page) + NMDESC_PP_REF_COUNT) === 0)) {
      mem.diag(Diag.PP_DOUBLE_PUT, page, pool);
      return false;
    }
    // A fragment of the pool's current frag page put once more than were handed out (src/pool/frag.ts).
    const fragUsers = fragPutOnceTooOften(mem, this.o, pool, page, this.nmdesc(page) + NMDESC_PP_REF_COUNT);
    if (fragUsers !== 0) {
      mem.diag(Diag.PP_DOUBLE_PUT, page, pool, fragUsers);
      return false;
    }
    return true;
  }

  private checkAlloc(pool: number): boolean {
    // Destroyed: still alive with pages in flight, or one of the machine's last freed pools.
    const live = this.isLive(pool);
    if (!live && !wasFreedPool(this.mem, pool)) {
      this.mem.diag(Diag.PP_ALLOC_NO_POOL, pool, 0);
      return false;
    }
    if (!live || this.mem.rd64(pool + this.o.destroyCnt) !== 0) {
      this.mem.diag(Diag.PP_ALLOC_AFTER_DESTROY, pool, 0);
      return false;
    }
    return true;
  }

  // ------------------------------------------------------------------ in flight, destroy

  /** `page_pool_inflight()`: `(s32)(hold_cnt - release_cnt)`, exact across u32 wraparound. */
  inflight(ref: PoolRef): number {
    return this.rawInflight(this.checkHandle(ref, "inflight"));
  }

  private rawInflight(pool: number): number {
    return (this.u32[(pool + this.oHoldCnt) >>> 2]! - Atomics.load(this.u32, (pool + this.oReleaseCnt) >>> 2)) | 0;
  }

  /**
   * `page_pool_destroy()`: drop the user reference; release now or defer. NULL is ignored, as in the
   * kernel; anything else that is no live pool is a PpemuError (NOT_A_POOL, POOL_FREED, or
   * STALE_POOL for a handle; see checkHandle) and changes nothing. A second destroy of a pool still alive with pages
   * in flight (`user_cnt` already 0) is the kernel's refcount underflow WARN, and leaves the pool be.
   */
  destroy(ref: PoolRef): void {
    const mem = this.mem;
    const o = this.o;
    if (ref === 0) return;
    const pool = this.checkHandle(ref, "destroy");
    if (mem.rd32(pool + o.userCnt) === 0) {
      // refcount_dec_and_test(&pool->user_cnt) on 0: REFCOUNT_SUB_UAF. (The kernel would also set
      // user_cnt to REFCOUNT_SATURATED; the emulator keeps the pool's state as the first destroy left it.)
      mem.diag(Diag.PP_REFCOUNT_UNDERFLOW, pool, 0);
      return;
    }
    const users = mem.rd32(pool + o.userCnt) - 1;
    mem.wr32(pool + o.userCnt, users);
    if (users !== 0) return;
    this.unlinkNapi(pool);
    // page_pool_free_frag(): the current frag page's bias is dropped (src/pool/frag.ts).
    pagePoolFreeFrag(this, pool);
    // `if (!page_pool_release(pool)) return;`: only 0 frees; a negative count (already warned by
    // page_pool_inflight()) still schedules the retry.
    if (this.release(pool) === 0) return;
    this.t.onDestroyInflight(pool);
    const now = mem.nowMs;
    // page_pool_detached() (v6.8+): user.detach_time = ktime_get_boottime_seconds(), or the raw
    // ktime_get_boottime() where the member is a ktime_t (March 2026); the virtual clock is boot time.
    if (this.oDetachTime >= 0) mem.wr64num(pool + this.oDetachTime, this.detachKtime ? now * 1_000_000 : Math.floor(now / HZ));
    mem.wr64num(pool + o.deferStart, now);
    mem.wr64num(pool + o.deferWarn, now + DEFER_WARN_INTERVAL_MS);
    mem.wr64num(pool + o.timerExpires, now + DEFER_TIME_MS);
  }

  /**
   * v6.5 … v6.8 `page_pool_unlink_napi()` (one combined WARN_ON), or v6.9+
   * `page_pool_disable_direct_recycling()` (the same two conditions as two WARN_ONs, then
   * `p.napi = NULL`; `cpuid = -1` where the build has "disable direct recycling based on
   * pool->cpuid on destroy"). Either WARNs unless the driver disabled the NAPI first.
   */
  private unlinkNapi(pool: number): void {
    const mem = this.mem;
    const o = this.o;
    const sw = this.build.switches;
    if (sw.destroyNapi === "none") return;
    if (sw.destroyNapi === "disable" && sw.destroyResetsCpuid && o.cpuid >= 0) mem.wr32(pool + o.cpuid, -1);
    const napi = this.oNapi < 0 ? 0 : mem.rdPtr(pool + this.oNapi);
    if (napi === 0) return;
    const disabled = (mem.rd32(napi + NAPI_STATE) & NAPI_STATE_SCHED) !== 0 && (mem.rd32(napi + NAPI_LIST_OWNER) | 0) === -1;
    if (!disabled) mem.diag(Diag.PP_UNLINK_NAPI, pool, 0, sw.destroyNapi === "unlink" ? 0 : 1);
    mem.wrPtr(pool + o.napi, 0);
  }

  /** `page_pool_release()`: scrub; free the pool if nothing is in flight. Returns in-flight. */
  private release(pool: number): number {
    this.scrub(pool);
    const inflight = this.rawInflight(pool);
    if (pointHook !== null) pointHook(Point.RELEASE_INFLIGHT, pool, inflight);
    if (traceHook !== null) traceHook(TP_RELEASE, this, pool, 0);
    // WARN(inflight < 0, "Negative(%d) inflight packet-pages", inflight)
    if (inflight < 0) this.mem.diag(Diag.PP_NEGATIVE_INFLIGHT, pool, inflight >>> 0);
    if (this.build.switches.releaseProducerBarrier && this.ringOps === null) {
      // 271683bb2cf3: "Make sure all concurrent returns that may see the old value of destroy_cnt
      // have exited": take and drop the producer lock.
      const lock = pool + this.oRing + PTR_RING_PRODUCER_LOCK;
      spinLock(this.mem, lock);
      spinUnlock(this.mem, lock);
    }
    if (inflight === 0) this.freePool(pool);
    return inflight;
  }

  /** `page_pool_scrub()`: empty the cache once, count the scrub, let the layout unmap, drain the ring. */
  private scrub(pool: number): void {
    const mem = this.mem;
    const o = this.o;
    // page_pool_empty_alloc_cache_once()
    if (mem.rd64(pool + o.destroyCnt) === 0) {
      let count = mem.rd32(pool + o.allocCount);
      while (count !== 0) {
        count--;
        mem.wr32(pool + o.allocCount, count);
        this.returnPage(pool, mem.rd32(pool + o.allocCache + count * o.cacheSlot));
      }
    }
    const first = mem.rd64(pool + o.destroyCnt) === 0;
    // WRITE_ONCE(pool->destroy_cnt, pool->destroy_cnt + 1): returners on other CPUs read it.
    Atomics.store(this.u32, (pool + o.destroyCnt) >>> 2, mem.rd32(pool + o.destroyCnt) + 1);
    if (first) this.t.onFirstScrub(pool);
    // page_pool_empty_ring()
    if (pointHook !== null) pointHook(Point.SCRUB_EMPTY_RING, pool, 0);
    for (;;) {
      const page = this.ringOps === null ? ptrRingConsume(mem, pool + o.ring) : this.ringOps.consume(pool);
      if (page === 0) break;
      // pr_crit("%s() page_pool refcnt %d violation\n", __func__, page_ref_count(page))
      // netmem_ref_count() of a net_iov is 1: "We don't increase refcount of net_iov".
      if ((page & NET_IOV) === 0 && mem.rd32(page + PAGE_REFCOUNT) !== 1) mem.diag(Diag.PP_REFCNT_VIOLATION, page, mem.rd32(page + PAGE_REFCOUNT));
      this.returnPage(pool, page);
    }
  }

  /** `__page_pool_destroy()`: unlist, uninit (ring queue, per-CPU stats, layout state), kfree. */
  private freePool(pool: number): void {
    const mem = this.mem;
    const o = this.o;
    if (pointHook !== null) pointHook(Point.BEFORE_FREE_POOL, pool, 0);
    const rec = poolRecord(mem, pool);
    mem.wr64(pool + o.timerExpires, 0, 0);
    this.t.uninit(pool);
    if (rec !== 0) poolListDel(this.m, rec);
    if (this.ringOps === null) this.m.slab.kfree(mem.rdPtr(pool + o.ring + PTR_RING_QUEUE));
    else this.ringOps.uninit(pool);
    this.m.slab.kfree(mem.rdPtr(pool + o.recycleStats));
    this.mpUninit(pool);
    this.m.slab.kfree(pool);
  }

  /** `page_pool_release_retry()`: the deferred work, run by `runTimers` on the virtual clock. */
  releaseRetry(pool: number): void {
    const mem = this.mem;
    const o = this.o;
    const sw = this.build.switches;
    mem.wr64(pool + o.timerExpires, 0, 0);
    const inflight = this.release(pool);
    // 43130d02baa1 (v6.15): "if (inflight <= 0) return"; before it `if (!inflight) return`, so a
    // negative count reschedules forever.
    if (sw.negativeRetryStops ? inflight <= 0 : inflight === 0) return;
    const now = mem.nowMs;
    if (now >= mem.rd64(pool + o.deferWarn)) {
      const sec = Math.trunc((now - mem.rd64(pool + o.deferStart)) / HZ);
      if (sw.stallWarning === "every-pool") {
        mem.diag(Diag.PP_STALLED_SHUTDOWN_OLD, inflight >>> 0, sec >>> 0);
        mem.wr64num(pool + o.deferWarn, now + DEFER_WARN_INTERVAL_MS);
      } else if (o.netdev < 0 || mem.rdPtr(pool + o.netdev) === 0) {
        // v6.8+: only a pool no netdev can show (a netdev's pools moved to loopback are silent).
        mem.diag(Diag.PP_STALLED_SHUTDOWN, o.userId >= 0 ? mem.rd32(pool + o.userId) : 0, inflight >>> 0, sec);
        mem.wr64num(pool + o.deferWarn, now + DEFER_WARN_INTERVAL_MS);
      }
    }
    mem.wr64num(pool + o.timerExpires, now + DEFER_TIME_MS);
  }

  /** When the pool's deferred release runs next (virtual ms), or 0 when none is scheduled. */
  timerExpires(ref: PoolRef): number {
    return this.mem.rd64(this.checkHandle(ref, "timerExpires") + this.o.timerExpires);
  }

  /**
   * Advance the virtual clock to `untilMs`, running every deferred retry that falls due on the way,
   * in time order (the workqueue, without sleeping). A time in the past runs what is due and leaves
   * the clock alone.
   *
   * Refused with a PpemuError, before anything changes: a time that is no integer 0 … 2^53 - 1
   * ("EINVAL_ARG"), and a call that would run more than MAX_RETRIES_PER_CALL retries ("TIME_LIMIT").
   * The retry count is bounded up front: in a call nobody returns pages, so a pool due at `t`
   * retries at most once a second until `untilMs`. Why a cap and not a closed-form jump over a
   * stalled pool's retries: every retry does more than re-arm and warn every 60 s — it bumps
   * `destroy_cnt`, the diag ring keeps each warning with its time, a pre-v6.15 build WARNs
   * "Negative(%d) inflight" every second, a strict machine throws at the first — and running them
   * keeps all of it exact for every build, where a jump would have to re-derive each. The cap keeps
   * one call well under a second; a longer stall is advanced in several calls.
   */
  runUntil(untilMs: number): void {
    this.checkTime("runUntil", untilMs, untilMs);
    this.runTimers(untilMs);
  }

  /** `advance(ms)`: `runUntil(now + ms)`; `ms` an integer >= 0 (else a PpemuError, as runUntil's). */
  advance(ms: number): void {
    const now = this.mem.nowMs;
    if (typeof ms !== "number" || !Number.isSafeInteger(ms) || ms < 0 || now + ms > Number.MAX_SAFE_INTEGER) {
      throw new PpemuError("EINVAL_ARG", `PagePools.advance: ms must be an integer 0 … ${Number.MAX_SAFE_INTEGER - now} (virtual ms from now, ${now}), got ${showValue(ms)}`);
    }
    this.checkTime("advance", now + ms, ms);
    this.runTimers(now + ms);
  }

  /** runUntil's refusals (see there); `shown` is the argument as the caller gave it. */
  private checkTime(fn: string, untilMs: number, shown: number): void {
    const mem = this.mem;
    if (typeof untilMs !== "number" || !Number.isSafeInteger(untilMs) || untilMs < 0) {
      throw new PpemuError("EINVAL_ARG", `PagePools.${fn}: the time must be an integer number of virtual ms 0 … ${Number.MAX_SAFE_INTEGER}, got ${showValue(shown)}`);
    }
    const exp = this.o.timerExpires;
    let retries = 0;
    const stalled: number[] = [];
    forEachPoolOnMachine(mem, (pool) => {
      const next = mem.rd64(pool + exp);
      if (next === 0 || next > untilMs) return;
      retries += Math.floor((untilMs - next) / DEFER_TIME_MS) + 1;
      stalled.push(pool);
    });
    if (retries > MAX_RETRIES_PER_CALL) {
      throw new PpemuError(
        "TIME_LIMIT",
        `PagePools.${fn}(${shown}): up to ${retries} page_pool_release_retry() runs would fall due (pools with pages in flight: ${stalled.map(hex).join(", ")}); one call runs at most ${MAX_RETRIES_PER_CALL} (advance in shorter steps, or return the pages)`,
      );
    }
  }

  private runTimers(untilMs: number): void {
    const mem = this.mem;
    const exp = this.o.timerExpires;
    for (;;) {
      let due = 0;
      let when = Infinity;
      forEachPoolOnMachine(mem, (pool) => {
        const next = mem.rd64(pool + exp);
        if (next !== 0 && next <= untilMs && next < when) {
          when = next;
          due = pool;
        }
      });
      if (due === 0) break;
      if (when > mem.nowMs) mem.advanceMs(when - mem.nowMs);
      this.releaseRetry(due);
    }
    if (untilMs > mem.nowMs) mem.advanceMs(untilMs - mem.nowMs);
  }

  // ------------------------------------------------------------------ introspection (not hot)

  forEachPool(cb: (pool: number) => void): void {
    forEachPoolOnMachine(this.mem, cb);
  }

  /** Is `pool` a live pool (on the machine's list)? */
  isLive(pool: number): boolean {
    return poolRecord(this.mem, pool) !== 0;
  }

  /** A handle on a live pool: its pointer and its generation (PpemuError NOT_A_POOL for anything else). */
  handle(pool: number): PoolHandle {
    const p = this.checkHandle(pool, "handle");
    return { pool: p, generation: poolRecordGeneration(this.mem, poolRecord(this.mem, p)) };
  }

  /**
   * The live pool `ref` names, or a PpemuError: "NOT_A_POOL" for a pointer that is no live pool,
   * "POOL_FREED" for a handle whose pool is gone or a pointer to one of the last 16 pools freed,
   * "STALE_POOL" for a handle whose memory now holds a newer pool, "EINVAL_ARG" for what is neither
   * a pointer nor a handle. Walks the machine's pool list: for the non-hot entry points, or once
   * before a run of hot calls (allocPages, putPage … take a bare pointer and check nothing).
   */
  checkHandle(ref: PoolRef, fn = "checkHandle"): number {
    const mem = this.mem;
    if (typeof ref === "number") {
      if (!Number.isSafeInteger(ref) || ref < 0 || ref > 0xffffffff) {
        throw new PpemuError("EINVAL_ARG", `PagePools.${fn}: a pool must be a pool pointer or a PoolHandle, got ${showValue(ref)}`);
      }
      if (poolRecord(mem, ref) !== 0) return ref;
      if (wasFreedPool(mem, ref)) throw new PpemuError("POOL_FREED", `PagePools.${fn}: pool ${hex(ref)} was destroyed and freed`);
      throw new PpemuError("NOT_A_POOL", `PagePools.${fn}: ${hex(ref)} is no live page_pool of this machine (${this.livePoolsText()})`);
    }
    if (
      ref === null ||
      typeof ref !== "object" ||
      !Number.isSafeInteger(ref.pool) ||
      ref.pool <= 0 ||
      ref.pool > 0xffffffff ||
      !Number.isSafeInteger(ref.generation) ||
      ref.generation < 0 ||
      ref.generation > 0xffffffff
    ) {
      throw new PpemuError("EINVAL_ARG", `PagePools.${fn}: a pool must be a pool pointer or a PoolHandle, got ${showValue(ref)}`);
    }
    const rec = poolRecord(mem, ref.pool);
    if (rec === 0) throw new PpemuError("POOL_FREED", `PagePools.${fn}: pool ${hex(ref.pool)} (generation ${ref.generation}) was destroyed and freed`);
    const gen = poolRecordGeneration(mem, rec);
    if (gen !== ref.generation) {
      throw new PpemuError(
        "STALE_POOL",
        `PagePools.${fn}: stale handle: pool ${hex(ref.pool)} generation ${ref.generation} was freed; its memory now holds pool generation ${gen}`,
      );
    }
    return ref.pool;
  }

  /** "live pools: 0x…, 0x…" for a NOT_A_POOL message (the first 8). */
  private livePoolsText(): string {
    const pools: number[] = [];
    forEachPoolOnMachine(this.mem, (p) => pools.push(p));
    if (pools.length === 0) return "it has no live pool";
    const shown = pools.slice(0, 8).map(hex).join(", ");
    return `live pools: ${shown}${pools.length > 8 ? `, … (${pools.length} in all)` : ""}`;
  }

  /** Is `dev` a device of the machine's IOMMU (bound or not)? For the slow path's p.dev check. */
  private isDevice(dev: number): boolean {
    const mem = this.mem;
    const head = this.dma.iommu + IOMMU_DEVICES;
    for (let n = mem.rdPtr(head); n !== head; n = mem.rdPtr(n)) if (n - DEV_NODE === dev) return true;
    return false;
  }

  /** `page_pool_get_stats()`: alloc stats, and the recycle stats summed over every CPU. */
  stats(ref: PoolRef): PoolStats {
    const pool = this.checkHandle(ref, "stats");
    const mem = this.mem;
    const o = this.o;
    const alloc: Record<string, number> = {};
    for (const [n, off] of Object.entries(o.allocStats)) alloc[n] = mem.rd64(pool + off);
    const recycle = {} as Record<(typeof RECYCLE_STAT_NAMES)[number], number>;
    const base = mem.rdPtr(pool + o.recycleStats);
    for (const n of RECYCLE_STAT_NAMES) {
      let sum = 0;
      for (let cpu = 0; cpu < mem.nrCpus; cpu++) sum += mem.rd64(base + cpu * o.recycleStatsSize + o.recycleStat[n]!);
      recycle[n] = sum;
    }
    return { alloc, recycle };
  }

  cacheCount(ref: PoolRef): number {
    return this.mem.rd32(this.checkHandle(ref, "cacheCount") + this.oAllocCount);
  }

  ringCount(ref: PoolRef): number {
    const pool = this.checkHandle(ref, "ringCount");
    if (this.ringOps === null) return ptrRingCount(this.mem, pool + this.oRing);
    let n = 0;
    this.ringOps.forEach(pool, () => n++);
    return n;
  }

  /** The refill's test, `__ptr_ring_empty()` (encoded_next: `!READ_ONCE(ring.list)`): cheap, unlike `ringCount`. */
  ringEmpty(ref: PoolRef): boolean {
    const pool = this.checkHandle(ref, "ringEmpty");
    return this.ringOps === null ? ptrRingEmpty(this.mem, pool + this.oRing) : this.ringOps.empty(pool);
  }

  /** `page_pool_update_nid()`: trace it, then `pool->p.nid = new_nid` (a driver whose IRQ moved NUMA node). */
  updateNid(ref: PoolRef, newNid: number): void {
    const pool = this.checkHandle(ref, "updateNid");
    checkInt("PagePools.updateNid: nid", newNid, -1, 1023);
    if (traceHook !== null) traceHook(TP_UPDATE_NID, this, pool, newNid);
    this.mem.wr32(pool + this.o.nid, newNid >>> 0);
  }

  /** Most pages the ring takes from empty: the ptr_ring's size, or the layout's own limit. */
  ringCapacity(ref: PoolRef): number {
    const pool = this.checkHandle(ref, "ringCapacity");
    if (this.ringOps === null) return this.mem.rd32(pool + this.oRing + PTR_RING_SIZE);
    return this.ringOps.capacity(pool);
  }

  /** The ptr_ring's kmalloc'd queue (for frame accounting), or 0 when the layout has no ptr_ring. */
  ringQueueOf(pool: number): number {
    return this.ringOps === null ? this.mem.rdPtr(pool + this.oRing + PTR_RING_QUEUE) : 0;
  }

  /** Address of the pool's `struct ptr_ring`. */
  ringOf(pool: number): number {
    return pool + this.oRing;
  }

  /** The pool's netlink / warning id (`user.id`, or the emulator's record id before v6.8). */
  poolId(ref: PoolRef): number {
    const pool = this.checkHandle(ref, "poolId");
    if (this.o.userId >= 0) return this.mem.rd32(pool + this.o.userId);
    const rec = poolRecord(this.mem, pool);
    return rec === 0 ? 0 : poolRecordId(this.mem, rec);
  }

  /** Pages sitting in the pool (alloc cache, then ring). */
  forEachPooledPage(ref: PoolRef, cb: (page: number, where: "cache" | "ring") => void): void {
    const pool = this.checkHandle(ref, "forEachPooledPage");
    const mem = this.mem;
    const count = mem.rd32(pool + this.oAllocCount);
    for (let k = 0; k < count; k++) cb(mem.rd32(pool + this.oAllocCache + k * this.cacheSlot), "cache");
    if (this.ringOps === null) ptrRingForEach(mem, pool + this.oRing, (p) => cb(p, "ring"));
    else this.ringOps.forEach(pool, (p) => cb(p, "ring"));
  }
}

/** `0x%x` of a pointer, as the emulator's messages print one. */
function hex(v: number): string {
  return "0x" + (v >>> 0).toString(16);
}

function bitSet(u32: Uint32Array, pool: number, b: PoolBit): boolean {
  return (u32[(pool + b.off) >>> 2]! & b.mask) !== 0;
}

function setBit(u32: Uint32Array, pool: number, b: PoolBit): void {
  u32[(pool + b.off) >>> 2]! |= b.mask;
}

export { ALLOC_STAT_NAMES, RECYCLE_STAT_NAMES, PP_FLAG_DMA_MAP, PP_FLAG_DMA_SYNC_DEV };
