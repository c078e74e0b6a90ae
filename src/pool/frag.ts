/**
 * The page_pool frag API: `page_pool_alloc_frag()` / `page_pool_alloc()` (and their `_netmem` forms),
 * `page_pool_fragment_netmem()`, `page_pool_unref_netmem()` and the destroy-time
 * `page_pool_free_frag()`, over the pool's `frag_users` / `frag_page` / `frag_offset` in the buffer.
 *
 * A page is split by setting `pp_ref_count = BIAS_MAX` (LONG_MAX) and handing out fragments while
 * `frag_users` counts them; every put drops one pp reference. When the page is exhausted (or the pool
 * is destroyed) the pool drains its bias: `page_pool_unref_netmem(page, BIAS_MAX - frag_users)`
 * leaves exactly the fragments still out, and whoever brings the count to 0 owns the page.
 *
 * What the builds differ in (sources: ≤ v6.6 include/net/page_pool.h, search id 2293352650, and
 * net/core/page_pool.c, id 20576709; v6.12-era page_pool.c, id 728053; mainline torvalds/linux
 * net/core/page_pool.c @039f248a6cc1 and include/net/page_pool/helpers.h @07cf71bf25cd):
 *
 *   "flag" (v6.1, v6.6)   the pool needs PP_FLAG_PAGE_FRAG (page_pool_alloc_frag WARNs and returns
 *                         NULL without it) and only such a pool counts pp_frag_count on put; a page
 *                         from page_pool_alloc_pages() gets no count at set_pp_info, so a driver
 *                         that puts one without page_pool_fragment_page() underflows it;
 *                         page_pool_defrag_page() never resets the count to 1; every fragment
 *                         counts `alloc_stats.fast`, a drained page reused counts `fast`.
 *   "unified" (v6.7+)     "page_pool: unify frag_count handling in page_pool_is_last_frag()" (id
 *                         20695163992): set_pp_info sets the count to 1, every put counts, the
 *                         flag is gone (bit 2 became PP_FLAG_SYSTEM_POOL in v6.9), a drained or
 *                         raced-to-zero count is reset to 1; page_pool_alloc() exists; a drained
 *                         page reused counts `recycle_stats.cached` and `alloc_stats.fast`, further
 *                         fragments count nothing.
 *
 * `pp_ref_count` is an atomic_long: two u32 words (lo, hi). A put subtracts 1 from the low word and
 * borrows from the high word (after 2^32 puts of one page only); the drain — the pool's owner, the
 * one caller that subtracts more than 1 — takes the high word first, then the low word with its
 * borrow, so a put racing with it never sees a count of 0 that is not one (see `unrefNetmem`).
 *
 * Allocation-free: `allocFrag`/`alloc` return the netmem and leave the offset (and size) in the
 * `offset`/`size` fields, the out-parameters of the C calls, valid until the next call.
 */
import { type U64, u64, hex64 } from "../u64.js";
import type { PhysMem } from "../mem/physmem.js";
import { Diag } from "../mem/diag.js";
import * as PAGE from "../mem/page.js";
import { PP_MAGIC_PFMEMALLOC } from "./pp_info.js";
import { NMDESC_PP_MAGIC, NMDESC_PP_REF_COUNT } from "./nmdesc.js";
import type { PagePools } from "./page_pool.js";
import type { PoolOffsets } from "./pool_offsets.js";
import type { KernelBuild } from "../builds/types.js";
import { PpemuError, checkInt } from "../errors.js";

const { PAGE_REFCOUNT } = PAGE;

/** ≤ v6.6 include/net/page_pool.h: `#define PP_FLAG_PAGE_FRAG BIT(2) /* for page frag feature *\/`. */
export const PP_FLAG_PAGE_FRAG = 1 << 2;
/** `BIAS_MAX` = LONG_MAX (net/core/page_pool.c), as the two words of a long. */
export const BIAS_MAX_HI = 0x7fffffff;
export const BIAS_MAX_LO = 0xffffffff;
/**
 * `dma_get_cache_alignment()` on x86-64: no ARCH_DMA_MINALIGN, so 1 (include/linux/dma-mapping.h);
 * arm64 would be 128. page_pool_alloc_frag() rounds every size up to it.
 */
export const DMA_CACHE_ALIGNMENT = 1;

/** FRAG_WARN_SITES indexes (src/mem/diag.ts). */
const SITE_DEFRAG_V61 = 0;
const SITE_DEFRAG_V66 = 1;
const SITE_UNREF_NETMEM = 2;
const SITE_ALLOC_FRAG_OLD = 3;
const SITE_ALLOC_FRAG_NETMEM = 4;

export type FragApi = "flag" | "unified";

/** Which frag API a build has, or null when its struct page_pool has no frag state. */
export function fragApiOf(build: KernelBuild, o: PoolOffsets): FragApi | null {
  if (o.fragUsers < 0 || o.fragPage < 0 || o.fragOffset < 0) return null;
  if (build.switches.ppRefCountInit) return "unified";
  return (build.switches.ppFlagAll & PP_FLAG_PAGE_FRAG) !== 0 ? "flag" : null;
}

/** FRAG_WARN_SITES index of the build's `WARN_ON(ret < 0)`. */
export function unrefWarnSite(build: KernelBuild): number {
  if (build.switches.ppRefCountInit) return SITE_UNREF_NETMEM;
  // v6.1 is the one build without p.napi (v6.5+): its header is still include/net/page_pool.h.
  return build.switches.napiLocality === "softirq" ? SITE_DEFRAG_V61 : SITE_DEFRAG_V66;
}

/**
 * `page_pool_unref_netmem(netmem, nr)` (≤ v6.6 `page_pool_defrag_page()`) on the atomic_long at
 * `refAddr`, nr = (nrHi, nrLo): -1 when the count went below 0 (the kernel's `WARN_ON(ret < 0)`,
 * reported here), 0 when the caller dropped the last reference, 1 when references remain.
 * `unified`: reset the count to 1 when it reached 0 (v6.7+); ≤ v6.6 leaves it.
 */
export function unrefNetmem(mem: PhysMem, page: number, refAddr: number, nrHi: number, nrLo: number, unified: boolean, site: number): number {
  const u32 = mem.u32;
  const lo = refAddr >>> 2;
  const hi = lo + 1;
  // "If nr == pp_ref_count then we have cleared all remaining references to the page"
  if (Atomics.load(u32, lo) === nrLo && Atomics.load(u32, hi) === nrHi) {
    // v6.7+: "overwrite it with one, which is the rare case for pp_ref_count draining".
    if (unified && (nrHi !== 0 || nrLo !== 1)) {
      Atomics.store(u32, hi, 0);
      Atomics.store(u32, lo, 1);
    }
    return 0;
  }
  // atomic_long_sub_return(nr, pp_ref_count): the high word first (only a drain has one).
  if (nrHi !== 0) Atomics.sub(u32, hi, nrHi);
  const oldLo = Atomics.sub(u32, lo, nrLo);
  const newLo = (oldLo - nrLo) >>> 0;
  const newHi = oldLo >>> 0 < nrLo >>> 0 ? (Atomics.sub(u32, hi, 1) - 1) | 0 : Atomics.load(u32, hi) | 0;
  if (newHi < 0) {
    mem.diag(Diag.PP_FRAG_WARN, page, newLo, site);
    return -1;
  }
  if (newHi !== 0 || newLo !== 0) return 1;
  // "We are the last user here too, reset pp_ref_count back to 1" (v6.7+).
  if (unified) Atomics.store(u32, lo, 1);
  return 0;
}

/** `atomic_long_set(pp_ref_count, nr)`: `page_pool_fragment_netmem()`. */
export function setPpRefCount(mem: PhysMem, refAddr: number, nrHi: number, nrLo: number): void {
  const i = refAddr >>> 2;
  Atomics.store(mem.u32, i + 1, nrHi);
  Atomics.store(mem.u32, i, nrLo);
}

/**
 * For `checks` (src/pool/page_pool.ts checkPut): is this put of `page` one more than the fragments
 * the pool handed out of it? Only the pool's current frag page can be told (its bias is still on);
 * returns `frag_users` when so, else 0. A drained page put once too often reaches 0 early and is
 * caught as an ordinary double put at the next one.
 */
export function fragPutOnceTooOften(mem: PhysMem, o: PoolOffsets, pool: number, page: number, refAddr: number): number {
  if (o.fragPage < 0 || mem.rdPtr(pool + o.fragPage) !== page) return 0;
  const i = refAddr >>> 2;
  if (mem.u32[i + 1] !== BIAS_MAX_HI) return 0;
  const puts = (BIAS_MAX_LO - mem.u32[i]!) >>> 0;
  const users = mem.rd32(pool + o.fragUsers);
  return puts >= users ? users || 1 : 0;
}

/** A pool's frag state, for scenarios and tests (not hot). */
export interface FragState {
  readonly fragUsers: number;
  readonly fragPage: number;
  readonly fragOffset: number;
}

/**
 * The frag API of one PagePools. Hot calls (`allocFrag`, `alloc`) take a bare pool pointer, as
 * `PagePools.allocPages` does; the put side is `PagePools.putPage` (pp_ref_count > 1 drops one
 * reference there, through `unrefNetmem`).
 */
export class PageFrags {
  /** `*offset` of the last allocFrag/alloc. */
  offset = 0;
  /** `*size` of the last alloc (in: requested; out: what the caller may use). */
  size = 0;
  readonly api: FragApi;
  private readonly mem: PhysMem;
  private readonly o: PoolOffsets;
  private readonly unified: boolean;
  private readonly site: number;

  constructor(readonly pps: PagePools) {
    const api = fragApiOf(pps.build, pps.o);
    if (api === null) throw new PpemuError("EINVAL_ARG", `PageFrags: kernel build ${pps.build.name} has no page_pool frag API`);
    this.api = api;
    this.mem = pps.mem;
    this.o = pps.o;
    this.unified = api === "unified";
    this.site = unrefWarnSite(pps.build);
  }

  /** `PAGE_SIZE << pool->p.order`. */
  private maxSize(pool: number): number {
    return this.mem.pageSize << this.mem.rd32(pool + this.o.order);
  }

  /**
   * `page_pool_alloc_frag_netmem()` / `page_pool_alloc_frag()`: a fragment of `size` bytes of the
   * pool's current frag page (offset in `this.offset`), the page drained and reused or a new one
   * when it is exhausted; 0 when the allocator fails or the kernel WARNs (size > PAGE_SIZE << order;
   * ≤ v6.6 also a pool without PP_FLAG_PAGE_FRAG).
   */
  allocFrag(pool: number, size: number): number {
    const mem = this.mem;
    const o = this.o;
    const maxSize = this.maxSize(pool);
    let netmem = mem.rdPtr(pool + o.fragPage);
    const flagless = !this.unified && (mem.rd32(pool + o.flags) & PP_FLAG_PAGE_FRAG) === 0;
    if (flagless || size >>> 0 > maxSize) {
      mem.diag(Diag.PP_FRAG_WARN, pool, size >>> 0, this.unified ? SITE_ALLOC_FRAG_NETMEM : SITE_ALLOC_FRAG_OLD);
      return 0;
    }
    size = Math.ceil(size / DMA_CACHE_ALIGNMENT) * DMA_CACHE_ALIGNMENT;
    let offset = mem.rd32(pool + o.fragOffset);
    this.offset = offset;
    let reused = false;
    if (netmem !== 0 && offset + size > maxSize) {
      netmem = this.drainFrag(pool, netmem);
      if (netmem !== 0) {
        if (this.unified) mem.inc64(this.pps.recycleStatOf(pool, "cached"));
        mem.inc64(pool + o.allocStats.fast!);
        reused = true;
      }
    }
    if (netmem === 0 || reused) {
      if (!reused) {
        netmem = this.pps.allocPages(pool);
        if (netmem === 0) {
          mem.wrPagePtr(pool + o.fragPage, 0);
          return 0;
        }
        mem.wrPagePtr(pool + o.fragPage, netmem);
      }
      // frag_reset:
      mem.wr64(pool + o.fragUsers, 0, 1);
      this.offset = offset = 0;
      mem.wr32(pool + o.fragOffset, size);
      setPpRefCount(mem, this.pps.nmdesc(netmem) + NMDESC_PP_REF_COUNT, BIAS_MAX_HI, BIAS_MAX_LO);
      return netmem;
    }
    mem.wr64(pool + o.fragUsers, 0, mem.rd32(pool + o.fragUsers) + 1);
    mem.wr32(pool + o.fragOffset, offset + size);
    if (!this.unified) mem.inc64(pool + o.allocStats.fast!);
    return netmem;
  }

  /**
   * `page_pool_alloc_netmem()` / `page_pool_alloc()` (v6.7+): a whole page when `size` is more than
   * half of one (`this.size` = PAGE_SIZE << order, `this.offset` = 0), else a fragment; when no
   * other fragment would fit after it, the fragment gets the rest of the page ("to avoid truesize
   * underestimate problem"). ≤ v6.6 has no page_pool_alloc(): a PpemuError.
   */
  alloc(pool: number, size: number): number {
    if (!this.unified) throw new PpemuError("EINVAL_ARG", `PageFrags.alloc: page_pool_alloc() is v6.7+; kernel build ${this.pps.build.name} has page_pool_alloc_frag() only`);
    const maxSize = this.maxSize(pool);
    if (size * 2 > maxSize) {
      this.size = maxSize;
      this.offset = 0;
      return this.pps.allocPages(pool);
    }
    const netmem = this.allocFrag(pool, size);
    if (netmem === 0) return 0;
    this.size = size;
    const o = this.o;
    if (this.mem.rd32(pool + o.fragOffset) + size > maxSize) {
      this.size = maxSize - this.offset;
      this.mem.wr32(pool + o.fragOffset, maxSize);
    }
    return netmem;
  }

  /** `page_pool_drain_frag()`: the exhausted page back to the caller if it was the last user, else 0. */
  private drainFrag(pool: number, netmem: number): number {
    const mem = this.mem;
    const users = mem.rd32(pool + this.o.fragUsers);
    // drain_count = BIAS_MAX - pool->frag_users; "Some user is still using the page frag"
    if (unrefNetmem(mem, netmem, this.pps.nmdesc(netmem) + NMDESC_PP_REF_COUNT, BIAS_MAX_HI, (BIAS_MAX_LO - users) >>> 0, this.unified, this.site) !== 0) return 0;
    // __page_pool_page_can_be_recycled() (≤ v6.6: page_ref_count(page) == 1 && !page_is_pfmemalloc(page))
    if (mem.rd32(netmem + PAGE_REFCOUNT) === 1 && (mem.rd32(this.pps.nmdesc(netmem) + NMDESC_PP_MAGIC) & PP_MAGIC_PFMEMALLOC) === 0) {
      this.pps.syncForDevice(pool, netmem, -1);
      return netmem;
    }
    this.pps.returnPage(pool, netmem);
    return 0;
  }

  /**
   * `page_pool_fragment_netmem()` / `page_pool_fragment_page()`: set pp_ref_count to `nr` on a
   * fresh page (a driver's own splitting). `nr` is an integer 1 … 2^53 - 1.
   */
  fragmentNetmem(netmem: number, nr: number): void {
    checkInt("PageFrags.fragmentNetmem: nr", nr, 1, Number.MAX_SAFE_INTEGER);
    setPpRefCount(this.mem, this.pps.nmdesc(netmem) + NMDESC_PP_REF_COUNT, Math.floor(nr / 0x1_0000_0000), nr >>> 0);
  }

  /** `page_pool_unref_netmem(netmem, nr)`: -1 (WARNed), 0 (last reference) or 1. `nr` 1 … 2^32 - 1. */
  unrefNetmem(netmem: number, nr: number): number {
    checkInt("PageFrags.unrefNetmem: nr", nr, 1, 0xffffffff);
    return unrefNetmem(this.mem, netmem, this.pps.nmdesc(netmem) + NMDESC_PP_REF_COUNT, 0, nr >>> 0, this.unified, this.site);
  }

  /** `page_pool_ref_netmem()` / `page_pool_ref_page()`: `atomic_long_inc(pp_ref_count)` (skb clones, v6.8+ users). */
  refNetmem(netmem: number): void {
    const i = (this.pps.nmdesc(netmem) + NMDESC_PP_REF_COUNT) >>> 2;
    // The carry into the high word only after 2^32 increments of one page's low word.
    if (Atomics.add(this.mem.u32, i, 1) === 0xffffffff) Atomics.add(this.mem.u32, i + 1, 1);
  }

  /**
   * `page_pool_free_frag()`, from page_pool_destroy() before the first release: drain the current
   * frag page's bias; return the page if no fragment of it is out.
   */
  freeFrag(pool: number): void {
    pagePoolFreeFrag(this.pps, pool);
  }

  /** The pool's frag state (not hot). */
  state(pool: number): FragState {
    const mem = this.mem;
    const o = this.o;
    return { fragUsers: mem.rd32(pool + o.fragUsers), fragPage: mem.rdPtr(pool + o.fragPage), fragOffset: mem.rd32(pool + o.fragOffset) };
  }

  /** pp_ref_count of a netmem: the kernel's long as its two words (display, tests; not hot). */
  ppRefCount(netmem: number): U64 {
    const i = (this.pps.nmdesc(netmem) + NMDESC_PP_REF_COUNT) >>> 2;
    return u64(this.mem.u32[i + 1]!, this.mem.u32[i]!);
  }
}

/** pp_ref_count as the scenario prints it: `BIAS_MAX - k` near the bias, else the number. */
export function ppRefCountText(v: U64): string {
  // Within 2^32 below BIAS_MAX the high word is BIAS_MAX's: the distance is in the low word.
  if (v.hi === BIAS_MAX_HI) return v.lo === BIAS_MAX_LO ? "BIAS_MAX" : `BIAS_MAX-${BIAS_MAX_LO - v.lo}`;
  const n = (v.hi | 0) * 2 ** 32 + v.lo; // the signed long, exact below 2^53
  return Number.isSafeInteger(n) ? String(n) : `0x${hex64(v)}`;
}

/**
 * `page_pool_free_frag()` for `PagePools.destroy`: `frag_page = 0`, then unref the bias; a page
 * with no fragment out goes back (page_pool_return_page). A no-op for a pool that never split a page.
 */
export function pagePoolFreeFrag(pps: PagePools, pool: number): void {
  const o = pps.o;
  const api = fragApiOf(pps.build, o);
  if (api === null) return;
  const mem = pps.mem;
  const netmem = mem.rdPtr(pool + o.fragPage);
  const users = mem.rd32(pool + o.fragUsers);
  mem.wrPagePtr(pool + o.fragPage, 0);
  if (netmem === 0) return;
  const r = unrefNetmem(mem, netmem, pps.nmdesc(netmem) + NMDESC_PP_REF_COUNT, BIAS_MAX_HI, (BIAS_MAX_LO - users) >>> 0, api === "unified", unrefWarnSite(pps.build));
  if (r !== 0) return;
  pps.returnPage(pool, netmem);
}
