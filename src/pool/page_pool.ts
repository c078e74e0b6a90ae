/**
 * The page_pool mechanism (net/core/page_pool.c), written once for every layout.
 *
 * What differs between layouts — how a page names its pool, and who unmaps an in-flight page when the
 * driver goes away — is a `Tracking` strategy (classic, item-block, xarray). Everything else is here,
 * in the kernel's order and with its names: the alloc cache and its refill from the ptr_ring, the
 * slow path (bulk order-0 or one compound page), DMA map and sync, set/clear pp info, the put paths,
 * return/release, stats, destroy with scrub and the deferred retry on the virtual clock.
 *
 * State lives in `struct page_pool` in the buffer (src/mem/structs.ts); this object only holds
 * references to the machine, the DMA model and the strategy. Hot paths (allocPages, putPage,
 * recycleDirect) are integer code over one Uint32Array.
 */
import type { Machine } from "../mem/machine.js";
import type { PhysMem } from "../mem/physmem.js";
import * as PHYS from "../mem/physmem.js";
const { MACH_CPU, MACH_IN_SOFTIRQ, MACH_POOLS, MACH_PP_CHECKS } = PHYS;
import { Diag } from "../mem/diag.js";
import {
  PAGE_PP_MAGIC,
  PAGE_PP_REF_COUNT,
  PAGE_REFCOUNT,
  PAGE_DMA_ADDR,
  PAGE_FLAGS,
  PG_pp_in_pool,
  VMEMMAP_HI,
} from "../mem/page.js";
import { GFP_ZERO } from "../mem/buddy.js";
import { type Dma, DMA_BIDIRECTIONAL, DMA_FROM_DEVICE } from "../dma/index.js";
import { PP_DMA_ATTRS } from "./pp_dma.js";
import {
  ptrRingInit,
  ptrRingProduce,
  ptrRingConsume,
  ptrRingConsumeLocked,
  ptrRingEmpty,
  ptrRingCount,
  ptrRingForEach,
  PTR_RING_QUEUE,
  PTR_RING_SLOT,
} from "./ptr_ring.js";
import * as T from "./types.js";

// Offsets as module-local consts: V8 folds immutable module-local bindings into the code it
// generates, while every use of an imported binding stays a load from its module cell.
const {
  ALLOC_STAT_NAMES,
  DEFER_TIME_MS,
  DEFER_WARN_INTERVAL_MS,
  E2BIG,
  EINVAL,
  ENOMEM,
  POOL_LAYOUT,
  PP_ALLOC_CACHE,
  PP_ALLOC_CACHE_REFILL,
  PP_ALLOC_CACHE_SIZE,
  PP_ALLOC_COUNT,
  PP_CPUID,
  PP_DEFAULT_POOL_SIZE,
  PP_DEFER_NEXT,
  PP_DEFER_START,
  PP_DEFER_WARN,
  PP_DESTROY_CNT,
  PP_DEV,
  PP_DMA_DIR,
  PP_DMA_MAP,
  PP_DMA_SYNC,
  PP_FLAGS,
  PP_FLAG_ALL,
  PP_FLAG_DMA_MAP,
  PP_FLAG_DMA_SYNC_DEV,
  PP_HOLD_CNT,
  PP_LIST,
  PP_MAX_LEN,
  PP_NAPI_CPU,
  PP_NID,
  PP_OFFSET,
  PP_ORDER,
  PP_POOL_SIZE,
  PP_POOL_SIZE_MAX,
  PP_RELEASE_CNT,
  PP_RING,
  PP_RING_SIZE_MAX,
  PP_STAT_CACHED,
  PP_STAT_CACHE_FULL,
  PP_STAT_EMPTY,
  PP_STAT_FAST,
  PP_STAT_REFILL,
  PP_STAT_RELEASED_REFCNT,
  PP_STAT_RING,
  PP_STAT_RING_FULL,
  PP_STAT_SLOW,
  PP_STAT_SLOW_HIGH_ORDER,
  PP_USER_CNT,
  PP_USER_ID,
  RECYCLE_STAT_NAMES,
} = T;
import type { Tracking } from "./types.js";

const FLAG_IN_POOL = 1 << PG_pp_in_pool;
/** `sizeof(netmem_ref)`: the alloc cache's slot stride, from the declaration. */
const NETMEM_REF_SIZE = POOL_LAYOUT.sz["alloc.cache"]! / PP_ALLOC_CACHE_SIZE;

export interface PagePoolParams {
  readonly order?: number;
  readonly poolSize?: number;
  readonly flags?: number;
  /** `struct ppemu_device *` (0 for a pool that does not map). */
  readonly dev?: number;
  readonly dmaDir?: number;
  /** Bytes synced for device on recycle (PP_FLAG_DMA_SYNC_DEV); default PAGE_SIZE << order. */
  readonly maxLen?: number;
  readonly offset?: number;
  readonly nid?: number;
  /** The CPU the pool's NAPI instance runs on (`pool->p.napi->list_owner`); -1 for none. */
  readonly napiCpu?: number;
  /** `pool->cpuid` (page_pool_create_percpu); -1 for none. */
  readonly cpuid?: number;
}

export interface PoolStats {
  readonly alloc: Record<(typeof ALLOC_STAT_NAMES)[number], number>;
  readonly recycle: Record<(typeof RECYCLE_STAT_NAMES)[number], number>;
}

export class PagePools {
  readonly mem: PhysMem;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  /** Misuse checks (like CONFIG_DEBUG_NET): fixed at boot in the machine header. */
  readonly checks: boolean;
  /** The layout syncs for device only once a page is back in the cache or ring (v11 patch 4). */
  private readonly syncAfterRecycle: boolean;

  constructor(
    readonly m: Machine,
    readonly dma: Dma,
    readonly t: Tracking,
  ) {
    this.mem = m.mem;
    this.u32 = m.mem.u32;
    this.i32 = m.mem.i32;
    this.checks = m.mem.rd32(m.mem.machine + MACH_PP_CHECKS) !== 0;
    this.syncAfterRecycle = t.syncAfterRecycle;
  }

  // ------------------------------------------------------------------ create

  /** `page_pool_create()`: a pool pointer, or a negative errno (-EINVAL, -E2BIG, -ENOMEM). */
  create(params: PagePoolParams = {}): number {
    const mem = this.mem;
    const order = params.order ?? 0;
    const poolSize = params.poolSize ?? PP_DEFAULT_POOL_SIZE;
    const flags = params.flags ?? 0;
    const dmaDir = params.dmaDir ?? DMA_FROM_DEVICE;
    const maxLen = params.maxLen ?? mem.pageSize << order;
    if (flags & ~PP_FLAG_ALL) return -EINVAL;
    if (poolSize > PP_POOL_SIZE_MAX) return -E2BIG;
    // pool_size is an unsigned int; 0 asks for the default ring (`ring_qsize = 1024`).
    if (!Number.isInteger(poolSize) || poolSize < 0 || order < 0 || order > 10) return -EINVAL;
    if (flags & PP_FLAG_DMA_MAP) {
      if (dmaDir !== DMA_FROM_DEVICE && dmaDir !== DMA_BIDIRECTIONAL) return -EINVAL;
      if (!params.dev) return -EINVAL;
    }
    if (flags & PP_FLAG_DMA_SYNC_DEV) {
      if (!(flags & PP_FLAG_DMA_MAP) || maxLen === 0) return -EINVAL;
    }
    const pool = this.m.slab.kmalloc(POOL_LAYOUT.size, GFP_ZERO);
    if (pool === 0) return -ENOMEM;
    const ringSize = Math.min(poolSize === 0 ? PP_DEFAULT_POOL_SIZE : poolSize, PP_RING_SIZE_MAX);
    const queue = this.m.slab.kmalloc(ringSize * PTR_RING_SLOT, GFP_ZERO);
    if (queue === 0) {
      this.m.slab.kfree(pool);
      return -ENOMEM;
    }
    mem.wr32(pool + PP_ORDER, order);
    mem.wr32(pool + PP_POOL_SIZE, poolSize);
    mem.wr32(pool + PP_NID, params.nid ?? 0);
    mem.wr32(pool + PP_FLAGS, flags);
    mem.wrPtr(pool + PP_DEV, params.dev ?? 0);
    mem.wr32(pool + PP_DMA_DIR, dmaDir);
    mem.wr32(pool + PP_MAX_LEN, maxLen);
    mem.wr32(pool + PP_OFFSET, params.offset ?? 0);
    mem.wr32(pool + PP_NAPI_CPU, params.napiCpu ?? -1);
    mem.wr32(pool + PP_CPUID, params.cpuid ?? -1);
    mem.wr32(pool + PP_DMA_MAP, flags & PP_FLAG_DMA_MAP ? 1 : 0);
    mem.wr32(pool + PP_DMA_SYNC, flags & PP_FLAG_DMA_SYNC_DEV ? 1 : 0);
    mem.wr32(pool + PP_USER_CNT, 1);
    mem.wr32(pool + PP_USER_ID, mem.nextId());
    ptrRingInit(mem, pool + PP_RING, ringSize, queue);
    const err = this.t.init(pool);
    if (err < 0) {
      this.m.slab.kfree(queue);
      this.m.slab.kfree(pool);
      return err;
    }
    mem.listAddTail(pool + PP_LIST, mem.machine + MACH_POOLS);
    return pool;
  }

  // ------------------------------------------------------------------ alloc

  /** `page_pool_alloc_pages()`: a page (head page for order > 0), or 0. */
  allocPages(pool: number): number {
    const u32 = this.u32;
    // Before the fast path: a page a driver recycled into the cache after destroy is no excuse.
    if (this.checks && !this.checkAlloc(pool)) return 0;
    const ci = (pool + PP_ALLOC_COUNT) >>> 2;
    const count = u32[ci]!;
    if (count !== 0) {
      // __page_pool_get_cached(): the lockless LIFO of the owning NAPI context.
      u32[ci] = count - 1;
      const page = u32[(pool + PP_ALLOC_CACHE + (count - 1) * NETMEM_REF_SIZE) >>> 2]!;
      this.mem.inc64(pool + PP_STAT_FAST);
      if (this.checks) u32[(page + PAGE_FLAGS) >>> 2]! &= ~FLAG_IN_POOL;
      return page;
    }
    const page = this.refillAllocCache(pool);
    if (page !== 0) {
      if (this.checks) u32[(page + PAGE_FLAGS) >>> 2]! &= ~FLAG_IN_POOL;
      return page;
    }
    return this.allocPagesSlow(pool);
  }

  /** `page_pool_refill_alloc_cache()`: move up to PP_ALLOC_CACHE_REFILL pages from the ring. */
  private refillAllocCache(pool: number): number {
    const mem = this.mem;
    const u32 = this.u32;
    const r = pool + PP_RING;
    if (ptrRingEmpty(mem, r)) {
      mem.inc64(pool + PP_STAT_EMPTY);
      return 0;
    }
    const ci = (pool + PP_ALLOC_COUNT) >>> 2;
    // One NUMA node in the emulator: every page is on the preferred node, so no waive path.
    let count = u32[ci]!;
    do {
      // __ptr_ring_consume(): the alloc side is the ring's only consumer, so no consumer lock.
      const page = ptrRingConsumeLocked(mem, r);
      if (page === 0) break;
      // A page moving from the ring to the cache stays "in the pool" (FLAG_IN_POOL kept).
      mem.wrPagePtr(pool + PP_ALLOC_CACHE + count * NETMEM_REF_SIZE, page);
      count++;
    } while (count < PP_ALLOC_CACHE_REFILL);
    if (count > 0) {
      count--;
      u32[ci] = count;
      mem.inc64(pool + PP_STAT_REFILL);
      return u32[(pool + PP_ALLOC_CACHE + count * NETMEM_REF_SIZE) >>> 2]!;
    }
    u32[ci] = 0;
    return 0;
  }

  /** `__page_pool_alloc_netmems_slow()`: from the page allocator, mapped and tracked. */
  private allocPagesSlow(pool: number): number {
    const mem = this.mem;
    const u32 = this.u32;
    const order = u32[(pool + PP_ORDER) >>> 2]!;
    const dmaMap = u32[(pool + PP_DMA_MAP) >>> 2]! !== 0;
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
      mem.inc64(pool + PP_STAT_SLOW_HIGH_ORDER);
      u32[(pool + PP_HOLD_CNT) >>> 2] = (u32[(pool + PP_HOLD_CNT) >>> 2]! + 1) >>> 0;
      return page;
    }
    const cache = pool + PP_ALLOC_CACHE;
    // Mark the first `bulk` slots empty for alloc_pages_bulk(), which fills only NULL slots.
    mem.u8.fill(0, cache, cache + PP_ALLOC_CACHE_REFILL * NETMEM_REF_SIZE);
    const nr = this.m.pa.allocPagesBulk(PP_ALLOC_CACHE_REFILL, cache);
    if (nr === 0) return 0;
    let count = 0;
    for (let i = 0; i < nr; i++) {
      const page = u32[(cache + i * NETMEM_REF_SIZE) >>> 2]!;
      if (!this.t.setPpInfo(pool, page)) {
        this.m.pa.putPage(page);
        continue;
      }
      if (dmaMap && !this.dmaMap(pool, page)) {
        this.t.clearPpInfo(pool, page);
        this.m.pa.putPage(page);
        continue;
      }
      mem.wrPagePtr(cache + count * NETMEM_REF_SIZE, page);
      if (this.checks) u32[(page + PAGE_FLAGS) >>> 2]! |= FLAG_IN_POOL;
      count++;
      u32[(pool + PP_HOLD_CNT) >>> 2] = (u32[(pool + PP_HOLD_CNT) >>> 2]! + 1) >>> 0;
    }
    if (count === 0) {
      u32[(pool + PP_ALLOC_COUNT) >>> 2] = 0;
      return 0;
    }
    count--;
    u32[(pool + PP_ALLOC_COUNT) >>> 2] = count;
    mem.inc64(pool + PP_STAT_SLOW);
    const page = u32[(cache + count * NETMEM_REF_SIZE) >>> 2]!;
    if (this.checks) u32[(page + PAGE_FLAGS) >>> 2]! &= ~FLAG_IN_POOL;
    return page;
  }

  /** `page_pool_dma_map()`: map PAGE_SIZE << order, store dma_addr, let the layout track it. */
  private dmaMap(pool: number, page: number): boolean {
    const mem = this.mem;
    const dev = mem.rdPtr(pool + PP_DEV);
    const size = mem.pageSize << mem.rd32(pool + PP_ORDER);
    const dir = mem.rd32(pool + PP_DMA_DIR);
    const dma = this.dma.dmaMapPage(dev, page, 0, size, dir, PP_DMA_ATTRS);
    if (this.dma.dmaMappingError(dev, dma)) return false;
    mem.wr64(page + PAGE_DMA_ADDR, 0, dma);
    if (!this.t.onMapped(pool, page)) {
      this.dma.dmaUnmapPage(dev, dma, size, dir, PP_DMA_ATTRS);
      mem.wr64(page + PAGE_DMA_ADDR, 0, 0);
      return false;
    }
    this.syncForDevice(pool, page, mem.rd32(pool + PP_MAX_LEN));
    return true;
  }

  /** `page_pool_dma_sync_for_device()`: only while `pool->dma_sync` is set. */
  private syncForDevice(pool: number, page: number, dmaSyncSize: number): void {
    const u32 = this.u32;
    if (u32[(pool + PP_DMA_SYNC) >>> 2] === 0) return;
    const maxLen = u32[(pool + PP_MAX_LEN) >>> 2]!;
    const size = dmaSyncSize >>> 0 < maxLen ? dmaSyncSize >>> 0 : maxLen;
    const dma = u32[(page + PAGE_DMA_ADDR) >>> 2]!;
    this.dma.dmaSyncSingleForDevice(
      this.mem.rdPtr(pool + PP_DEV),
      dma + u32[(pool + PP_OFFSET) >>> 2]!,
      size,
      u32[(pool + PP_DMA_DIR) >>> 2]!,
    );
  }

  // ------------------------------------------------------------------ put

  /**
   * `page_pool_put_page()` / `page_pool_put_netmem()`: drop a pp reference; the last one recycles
   * into the alloc cache (allow_direct), else the ring, else releases the page. `dmaSyncSize` -1
   * means "the whole max_len".
   */
  putPage(pool: number, page: number, dmaSyncSize: number, allowDirect: boolean): void {
    const u32 = this.u32;
    if (this.checks && !this.checkPut(pool, page)) return;
    // page_pool_unref_and_test(): the fast case is pp_ref_count == 1, which stays 1 for recycling.
    const ri = (page + PAGE_PP_REF_COUNT) >>> 2;
    const ref = u32[ri]!;
    if (ref !== 1) {
      u32[ri] = ref - 1;
      if (ref - 1 !== 0) return;
      u32[ri] = 1;
    }
    this.putUnrefedPage(pool, page, dmaSyncSize, allowDirect);
  }

  /** `page_pool_put_unrefed_netmem()` + `__page_pool_put_page()`. */
  private putUnrefedPage(pool: number, page: number, dmaSyncSize: number, allowDirect: boolean): void {
    const u32 = this.u32;
    if (!allowDirect) allowDirect = this.napiLocal(pool);
    // __page_pool_page_can_be_recycled(): sole owner of the page and not pfmemalloc.
    if (u32[(page + PAGE_REFCOUNT) >>> 2] === 1 && (u32[(page + PAGE_PP_MAGIC) >>> 2]! & 2) === 0) {
      // The test is inlined so the no-sync pool pays no call (V8's inlining budget is small).
      const sync = u32[(pool + PP_DMA_SYNC) >>> 2] !== 0;
      if (sync && !this.syncAfterRecycle) this.syncForDevice(pool, page, dmaSyncSize);
      if (allowDirect) {
        // page_pool_recycle_in_cache()
        const ci = (pool + PP_ALLOC_COUNT) >>> 2;
        const count = u32[ci]!;
        if (count !== PP_ALLOC_CACHE_SIZE) {
          const slot = (pool + PP_ALLOC_CACHE + count * NETMEM_REF_SIZE) >>> 2;
          u32[slot] = page;
          u32[slot + 1] = VMEMMAP_HI;
          u32[ci] = count + 1;
          // recycle_stat_inc(pool, cached): the u64 counter's low word, carrying into the high one.
          const st = (pool + PP_STAT_CACHED) >>> 2;
          if ((u32[st] = (u32[st]! + 1) >>> 0) === 0) u32[st + 1]!++;
          if (this.checks) u32[(page + PAGE_FLAGS) >>> 2]! |= FLAG_IN_POOL;
          if (sync && this.syncAfterRecycle) this.syncForDevice(pool, page, dmaSyncSize);
          return;
        }
        this.mem.inc64(pool + PP_STAT_CACHE_FULL);
      }
      this.recycleInRing(pool, page, dmaSyncSize);
      return;
    }
    // Someone else holds a page reference: the page leaves the pool.
    this.mem.inc64(pool + PP_STAT_RELEASED_REFCNT);
    this.returnPage(pool, page);
  }

  /** `page_pool_recycle_in_ring()`, and the ring-full fallback of `page_pool_put_unrefed_netmem()`. */
  private recycleInRing(pool: number, page: number, dmaSyncSize: number): void {
    if (ptrRingProduce(this.mem, pool + PP_RING, page) === 0) {
      this.mem.inc64(pool + PP_STAT_RING);
      if (this.checks) this.u32[(page + PAGE_FLAGS) >>> 2]! |= FLAG_IN_POOL;
      if (this.syncAfterRecycle && this.u32[(pool + PP_DMA_SYNC) >>> 2] !== 0) this.syncForDevice(pool, page, dmaSyncSize);
      return;
    }
    this.mem.inc64(pool + PP_STAT_RING_FULL);
    this.returnPage(pool, page);
  }


  /** `page_pool_put_full_page()`. */
  putFullPage(pool: number, page: number, allowDirect: boolean): void {
    this.putPage(pool, page, -1, allowDirect);
  }

  /** `page_pool_recycle_direct()`: the NAPI-context return into the alloc cache. */
  recycleDirect(pool: number, page: number): void {
    this.putPage(pool, page, -1, true);
  }

  /** `page_pool_napi_local()`: in softirq on the CPU that owns the pool (or its NAPI). */
  napiLocal(pool: number): boolean {
    const mach = this.mem.machine;
    const i32 = this.i32;
    if (i32[(mach + MACH_IN_SOFTIRQ) >>> 2] === 0) return false;
    const cpu = i32[(mach + MACH_CPU) >>> 2]!;
    if (i32[(pool + PP_CPUID) >>> 2] === cpu) return true;
    return i32[(pool + PP_NAPI_CPU) >>> 2] === cpu;
  }

  /**
   * `page_pool_return_page()`: unmap (if the layout says the pool still owns the mapping), count
   * the release, clear pp info, and give the page back to the page allocator.
   */
  returnPage(pool: number, page: number): void {
    this.t.releaseDma(pool, page);
    Atomics.add(this.i32, (pool + PP_RELEASE_CNT) >>> 2, 1);
    this.t.clearPpInfo(pool, page);
    if (this.checks) this.u32[(page + PAGE_FLAGS) >>> 2]! &= ~FLAG_IN_POOL;
    this.m.pa.putPage(page);
  }

  // ------------------------------------------------------------------ misuse checks

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
    if (mem.rd32(page + PAGE_FLAGS) & FLAG_IN_POOL || mem.rd32(page + PAGE_PP_REF_COUNT) === 0) {
      mem.diag(Diag.PP_DOUBLE_PUT, page, pool);
      return false;
    }
    return true;
  }

  private checkAlloc(pool: number): boolean {
    if (!this.isLive(pool) || this.mem.rd64(pool + PP_DESTROY_CNT) !== 0) {
      this.mem.diag(Diag.PP_ALLOC_AFTER_DESTROY, pool, 0);
      return false;
    }
    return true;
  }

  // ------------------------------------------------------------------ in flight, destroy

  /** `page_pool_inflight()`: `(s32)(hold_cnt - release_cnt)`, exact across u32 wraparound. */
  inflight(pool: number): number {
    return (this.u32[(pool + PP_HOLD_CNT) >>> 2]! - this.u32[(pool + PP_RELEASE_CNT) >>> 2]!) | 0;
  }

  /** `page_pool_destroy()`: drop the user reference; release now or defer. */
  destroy(pool: number): void {
    const mem = this.mem;
    if (pool === 0) return;
    const users = mem.rd32(pool + PP_USER_CNT) - 1;
    mem.wr32(pool + PP_USER_CNT, users);
    if (users !== 0) return;
    // page_pool_disable_direct_recycling()
    mem.wr32(pool + PP_CPUID, -1);
    mem.wr32(pool + PP_NAPI_CPU, -1);
    // `if (!page_pool_release(pool)) return;`: only 0 frees; a negative count (already warned by
    // page_pool_inflight()) still schedules the retry, which then stops.
    if (this.release(pool) === 0) return;
    this.t.onDestroyInflight(pool);
    const now = mem.nowMs;
    mem.wr64num(pool + PP_DEFER_START, now);
    mem.wr64num(pool + PP_DEFER_WARN, now + DEFER_WARN_INTERVAL_MS);
    mem.wr64num(pool + PP_DEFER_NEXT, now + DEFER_TIME_MS);
  }

  /** `page_pool_release()`: scrub; free the pool if nothing is in flight. Returns in-flight. */
  private release(pool: number): number {
    this.scrub(pool);
    const inflight = this.inflight(pool);
    if (inflight < 0) this.mem.diag(Diag.PP_WARN, pool, inflight >>> 0);
    if (inflight === 0) this.freePool(pool);
    return inflight;
  }

  /** `page_pool_scrub()`: empty the cache once, count the scrub, let the layout unmap, drain the ring. */
  private scrub(pool: number): void {
    const mem = this.mem;
    // page_pool_empty_alloc_cache_once()
    if (mem.rd64(pool + PP_DESTROY_CNT) === 0) {
      let count = mem.rd32(pool + PP_ALLOC_COUNT);
      while (count !== 0) {
        count--;
        mem.wr32(pool + PP_ALLOC_COUNT, count);
        this.returnPage(pool, mem.rd32(pool + PP_ALLOC_CACHE + count * NETMEM_REF_SIZE));
      }
    }
    const first = mem.rd64(pool + PP_DESTROY_CNT) === 0;
    mem.inc64(pool + PP_DESTROY_CNT);
    if (first) this.t.onFirstScrub(pool);
    // page_pool_empty_ring()
    for (;;) {
      const page = ptrRingConsume(mem, pool + PP_RING);
      if (page === 0) break;
      if (mem.rd32(page + PAGE_REFCOUNT) !== 1) mem.diag(Diag.PP_WARN, page, mem.rd32(page + PAGE_REFCOUNT));
      this.returnPage(pool, page);
    }
  }

  /** `__page_pool_destroy()`: unlist, uninit (ring queue, layout state), kfree. */
  private freePool(pool: number): void {
    const mem = this.mem;
    mem.listDel(pool + PP_LIST);
    mem.wr64(pool + PP_DEFER_NEXT, 0, 0);
    this.t.uninit(pool);
    this.m.slab.kfree(mem.rdPtr(pool + PP_RING + PTR_RING_QUEUE));
    this.m.slab.kfree(pool);
  }

  /** `page_pool_release_retry()`: the deferred work, run by `runTimers` on the virtual clock. */
  releaseRetry(pool: number): void {
    const mem = this.mem;
    mem.wr64(pool + PP_DEFER_NEXT, 0, 0);
    const inflight = this.release(pool);
    // Since 20250214064250 (v6.14, stable): a negative count never recovers, so no reschedule.
    if (inflight <= 0) return;
    const now = mem.nowMs;
    if (now >= mem.rd64(pool + PP_DEFER_WARN)) {
      const sec = Math.floor((now - mem.rd64(pool + PP_DEFER_START)) / 1000);
      mem.diag(Diag.PP_STALLED_SHUTDOWN, mem.rd32(pool + PP_USER_ID), inflight, sec);
      mem.wr64num(pool + PP_DEFER_WARN, now + DEFER_WARN_INTERVAL_MS);
    }
    mem.wr64num(pool + PP_DEFER_NEXT, now + DEFER_TIME_MS);
  }

  /**
   * Advance the virtual clock to `untilMs`, running every deferred retry that falls due on the way,
   * in time order (the workqueue, without sleeping).
   */
  runUntil(untilMs: number): void {
    const mem = this.mem;
    for (;;) {
      let due = 0;
      let when = Infinity;
      this.forEachPool((pool) => {
        const next = mem.rd64(pool + PP_DEFER_NEXT);
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

  /** `advance(ms)`: `runUntil(now + ms)`. */
  advance(ms: number): void {
    this.runUntil(this.mem.nowMs + ms);
  }

  // ------------------------------------------------------------------ introspection (not hot)

  forEachPool(cb: (pool: number) => void): void {
    const mem = this.mem;
    const head = mem.machine + MACH_POOLS;
    for (let e = mem.rdPtr(head); e !== head; ) {
      const next = mem.rdPtr(e);
      cb(e - PP_LIST);
      e = next;
    }
  }

  /** Is `pool` a live pool (on the machine's list)? */
  isLive(pool: number): boolean {
    const mem = this.mem;
    const head = mem.machine + MACH_POOLS;
    for (let e = mem.rdPtr(head); e !== head; e = mem.rdPtr(e)) if (e - PP_LIST === pool) return true;
    return false;
  }

  stats(pool: number): PoolStats {
    const mem = this.mem;
    const alloc = {} as Record<(typeof ALLOC_STAT_NAMES)[number], number>;
    const recycle = {} as Record<(typeof RECYCLE_STAT_NAMES)[number], number>;
    for (const n of ALLOC_STAT_NAMES) alloc[n] = mem.rd64(pool + POOL_LAYOUT.off[`alloc_stats.${n}`]!);
    for (const n of RECYCLE_STAT_NAMES) recycle[n] = mem.rd64(pool + POOL_LAYOUT.off[`recycle_stats.${n}`]!);
    return { alloc, recycle };
  }

  cacheCount(pool: number): number {
    return this.mem.rd32(pool + PP_ALLOC_COUNT);
  }

  ringCount(pool: number): number {
    return ptrRingCount(this.mem, pool + PP_RING);
  }

  /** Pages sitting in the pool (alloc cache, then ring). */
  forEachPooledPage(pool: number, cb: (page: number, where: "cache" | "ring") => void): void {
    const mem = this.mem;
    const count = mem.rd32(pool + PP_ALLOC_COUNT);
    for (let k = 0; k < count; k++) cb(mem.rd32(pool + PP_ALLOC_CACHE + k * NETMEM_REF_SIZE), "cache");
    ptrRingForEach(mem, pool + PP_RING, (p) => cb(p, "ring"));
  }
}
