/**
 * The buddy page allocator (mm/page_alloc.c), with every bit of its state in the machine buffer.
 *
 *   machine header                                   memmap (struct page, 64 B each)
 *   ┌─ free_area[0] ─┬─ free_area[1] ─┬ … ┬─ [10] ─┐
 *   │ free_list  ────┼──┐             │   │        │   head page of a free block of order o:
 *   │ nr_free        │  │             │   │        │   ┌────────┬───────────┬──────────┬─────────┐
 *   └────────────────┴──┼─────────────┴───┴────────┘   │ flags  │ lru.next  │ lru.prev │ …       │
 *                       └──────────────────────────────►│        │ (page+8)  │          │         │
 *                                                       ├────────┴───────────┴──────────┴─────────┤
 *                                                       │ private = o │ page_type = PGTY_buddy<<24 │
 *                                                       └─────────────────────────────────────────┘
 *
 * A free block of order o is 2^o frames starting at a pfn aligned to 2^o; only its head page is on
 * `free_area[o].free_list` (threaded through `lru`, pointers at page+8 as list_head does) and marked
 * PageBuddy with its order in `private`. Its buddy is `pfn ^ (1 << o)`; freeing merges with a free
 * buddy of the same order, order by order, as __free_one_page does.
 *
 * An allocation of order > 0 is a compound page (__GFP_COMP is what every caller here wants): PG_head
 * on the head, the order in page[1].flags bits 0–7 (folio `_flags_1`), and on every tail page
 * `compound_head = head | 1` (bit 0 = PageTail) in the word page_pool calls `pp_magic`.
 *
 * The hot paths (order-0 alloc and free, bulk alloc) are integer arithmetic on the buffer's u32 view:
 * no objects, no closures.
 *
 * SMP. `zone->lock` (the header's `zone_lock` word, a spinlock_t: src/smp/spinlock.ts) serialises
 * every free-list, `nr_free` and NR_FREE_PAGES change: __rmqueue_smallest() with its expand(),
 * __free_one_page() with its merges, the bulk allocator's loop. As in mm/page_alloc.c, what only
 * touches a page its caller owns runs outside it: prep_new_page() after the block left the lists,
 * free_pages_prepare()'s checks and poisoning before it goes back. Nothing inside the lock reports
 * a diagnostic (a strict machine throws from diag()), so no path leaves with the lock held; an
 * uncontended lock is one CAS and one exchange. `_refcount` is an atomic_t (Atomics on its word,
 * page.ts): the CPU whose put_page_testzero() drops the last reference is the one that frees.
 *
 *   lock order: xa_lock → kmem_cache.list_lock → zone->lock → diag_lock
 */
import { LP64, archConsts } from "../arch.js";
import { layoutOf, offsetOf, LIST_HEAD } from "./ctype.js";
import {
  type PhysMem,
  FailSite,
  MAX_PAGE_ORDER,
  MACH_FREE_AREA,
  MACH_NR_FREE_PAGES,
  MACH_PAGE_POISON,
  MACH_PP_MAGIC_MASK,
  MACH_ZONE_LOCK,
  FREE_AREA_SIZE,
  FREE_AREA_FREE_LIST,
  FREE_AREA_NR_FREE,
} from "./physmem.js";
import {
  STRUCT_PAGE_SHIFT,
  STRUCT_PAGE_SIZE,
  PAGE_FLAGS,
  PAGE_PP_MAGIC,
  PAGE_LRU_NEXT,
  PAGE_LRU_PREV,
  PAGE_COMPOUND_HEAD,
  PAGE_MAPPING,
  PAGE_PRIVATE,
  PAGE_TYPE,
  PAGE_REFCOUNT,
  PAGE_MEMCG,
  PAGE_TYPE_NONE,
  PAGE_POISON,
  PGTY_buddy,
  PGTY_netpp,
  PAGE_TYPE_SHIFT,
  PG_head,
  PG_reserved,
  pageTypeWord,
  pageRefCount,
  setPageCount,
  VMEMMAP_HI,
  DIRECT_MAP_HI,
} from "./page.js";
import { Diag } from "./diag.js";
import { MEMDESC_TYPE_MASK, MEMDESC_TYPE_NETPOOL } from "../builds/memdesc_item_structs.js";
import { spinLock, spinUnlock } from "../smp/spinlock.js";
import { pointHook, Point } from "../explore/points.js";

/** `__GFP_ZERO`: hand the memory out zeroed. */
export const GFP_ZERO = 1;

/** `page_type` of the head page of a free block (PageBuddy). */
export const PAGE_TYPE_BUDDY = pageTypeWord(PGTY_buddy);
/** Folio `_flags_1` (page[1].flags) bits that hold the compound order. */
export const COMPOUND_ORDER_MASK = 0xff;

const C = archConsts(LP64);
const PP_SIGNATURE_LO = C.PP_SIGNATURE.lo;
const PP_SIGNATURE_HI = C.PP_SIGNATURE.hi;

const HEAD_FLAG = 1 << PG_head;
const RESERVED_FLAG = 1 << PG_reserved;

// u32 word offsets inside struct page.
const W_FLAGS = PAGE_FLAGS >>> 2;
const W_LRU_NEXT = PAGE_LRU_NEXT >>> 2;
const W_LRU_PREV = PAGE_LRU_PREV >>> 2;
/** `offsetof(struct list_head, prev)`. */
const LIST_PREV = offsetOf(layoutOf(LIST_HEAD, LP64), "prev");
const W_COMPOUND_HEAD = PAGE_COMPOUND_HEAD >>> 2;
const W_PP_MAGIC = PAGE_PP_MAGIC >>> 2;
const W_MAPPING = PAGE_MAPPING >>> 2;
const W_PRIVATE = PAGE_PRIVATE >>> 2;
const W_TYPE = PAGE_TYPE >>> 2;
const W_REFCOUNT = PAGE_REFCOUNT >>> 2;
const W_MEMCG = PAGE_MEMCG >>> 2;
const PAGE_WORDS = STRUCT_PAGE_SIZE >>> 2;

export class PageAlloc {
  readonly mem: PhysMem;
  private readonly u32: Uint32Array;
  private readonly nrFrames: number;
  private readonly pageShift: number;
  /** Address of free_area[0] in the machine header. */
  private readonly freeArea: number;
  private readonly nrFreePagesW: number;
  private readonly poisonW: number;
  /** Byte address of `zone->lock`. */
  private readonly zoneLock: number;

  /** Attach to a machine whose page allocator is already initialised. */
  constructor(mem: PhysMem) {
    this.mem = mem;
    this.u32 = mem.u32;
    this.nrFrames = mem.nrFrames;
    this.pageShift = mem.pageShift;
    this.freeArea = mem.machine + MACH_FREE_AREA;
    this.nrFreePagesW = (mem.machine + MACH_NR_FREE_PAGES) >>> 2;
    this.poisonW = (mem.machine + MACH_PAGE_POISON) >>> 2;
    this.zoneLock = mem.machine + MACH_ZONE_LOCK;
  }

  /**
   * memblock_free_all(): hand every frame from the first allocatable one to the end to the buddy
   * lists, as naturally aligned blocks of the largest order that fits. Like __free_pages_core the
   * blocks go to the list tails (FPI_TO_TAIL), so the lowest pfns are handed out first.
   */
  static init(mem: PhysMem): PageAlloc {
    const pa = new PageAlloc(mem);
    for (let o = 0; o <= MAX_PAGE_ORDER; o++) {
      mem.listInit(pa.freeList(o));
      mem.wr64(pa.freeArea + o * FREE_AREA_SIZE + FREE_AREA_NR_FREE, 0, 0);
    }
    mem.wr32(mem.machine + MACH_NR_FREE_PAGES, 0);
    let pfn = mem.firstAllocatablePfn;
    spinLock(mem, pa.zoneLock);
    while (pfn < mem.nrFrames) {
      let order = pfn === 0 ? MAX_PAGE_ORDER : Math.min(MAX_PAGE_ORDER, 31 - Math.clz32(pfn & -pfn));
      while (pfn + (1 << order) > mem.nrFrames) order--;
      pa.freeOne(pfn, order, true);
      pfn += 1 << order;
    }
    spinUnlock(mem, pa.zoneLock);
    return pa;
  }

  /** Address of `free_area[order].free_list`. */
  freeList(order: number): number {
    return this.freeArea + order * FREE_AREA_SIZE + FREE_AREA_FREE_LIST;
  }

  /** `free_area[order].nr_free`: free blocks of that order. */
  nrFreeByOrder(order: number): number {
    return this.u32[(this.freeArea + order * FREE_AREA_SIZE + FREE_AREA_NR_FREE) >>> 2]!;
  }

  /** NR_FREE_PAGES: free frames in all orders. */
  nrFree(): number {
    return this.u32[this.nrFreePagesW]!;
  }

  // ---- alloc ----

  /** `alloc_pages(gfp, order)`: a struct page pointer, or 0 (NULL). */
  allocPages(order: number, gfp = 0): number {
    if (this.mem.shouldFail(FailSite.PAGE_ALLOC)) return 0;
    // WARN_ON_ONCE_GFP(order > MAX_PAGE_ORDER) and NULL, as __alloc_pages does.
    if (!(order >= 0 && order <= MAX_PAGE_ORDER)) return 0;
    // rmqueue_buddy(): the lists under zone->lock; prep_new_page() on the block, now ours, after.
    const mem = this.mem;
    spinLock(mem, this.zoneLock);
    const page = this.rmqueue(order | 0);
    spinUnlock(mem, this.zoneLock);
    if (page !== 0) {
      this.prepNewPage(page, order | 0, gfp);
      // kasan_unpoison_pages() in post_alloc_hook(): the explorer's shadow (null off it).
      if (pointHook !== null) pointHook(Point.PAGE_ALLOC, page, order | 0);
    }
    return page;
  }

  /**
   * `alloc_pages_bulk(gfp, nr, page_array)` (order 0): `pageArray` is an in-buffer array of 64-bit
   * `struct page *` slots. NULL slots are filled left to right; populated ones are skipped. Returns
   * the kernel's `nr_populated`: the index of the first slot it could not fill (nr when it filled
   * them all), so every slot below it is populated.
   */
  allocPagesBulk(nr: number, pageArray: number, gfp = 0): number {
    const u32 = this.u32;
    let i = 0;
    while (i < nr && u32[(pageArray + i * 8) >>> 2] !== 0) i++;
    if (i >= nr) return i;
    // prepare_alloc_pages() runs should_fail_alloc_page() once per bulk call.
    if (this.mem.shouldFail(FailSite.PAGE_ALLOC)) return i;
    // One lock round for the whole batch, as the kernel's bulk loop holds its pcp lock; the slot
    // and the new page's own words are written inside it (they belong to this caller).
    const mem = this.mem;
    // The explorer's shadow hears of each new page after the loop; so that the loop stays free of
    // the hook, the slots the caller had already filled are noted first (explorer only).
    const prefilled = pointHook !== null ? this.populatedSlots(nr, pageArray, i) : null;
    const first = i;
    spinLock(mem, this.zoneLock);
    while (i < nr) {
      const w = (pageArray + i * 8) >>> 2;
      if (u32[w] !== 0) {
        i++;
        continue;
      }
      const page = this.rmqueue(0);
      if (page === 0) break;
      this.prepNewPage(page, 0, gfp);
      u32[w] = page;
      u32[w + 1] = VMEMMAP_HI; // the slot holds a struct page *
      i++;
    }
    spinUnlock(mem, this.zoneLock);
    if (prefilled !== null) this.reportBulk(pageArray, first, i, prefilled);
    return i;
  }

  /** Indices of the populated slots in [from, nr) of a bulk page array (explorer only). */
  private populatedSlots(nr: number, pageArray: number, from: number): Set<number> {
    const set = new Set<number>();
    for (let j = from; j < nr; j++) if (this.u32[(pageArray + j * 8) >>> 2] !== 0) set.add(j);
    return set;
  }

  /** PAGE_ALLOC for each slot in [from, to) the bulk call filled (explorer only). */
  private reportBulk(pageArray: number, from: number, to: number, prefilled: Set<number>): void {
    for (let j = from; j < to; j++) {
      if (prefilled.has(j)) continue;
      const hook = pointHook;
      if (hook !== null) hook(Point.PAGE_ALLOC, this.u32[(pageArray + j * 8) >>> 2]!, 0);
    }
  }

  /**
   * __rmqueue_smallest(): take the first block of the smallest order >= `order`, split the rest.
   * Caller holds zone->lock.
   */
  private rmqueue(order: number): number {
    const u32 = this.u32;
    for (let cur = order; cur <= MAX_PAGE_ORDER; cur++) {
      const head = this.freeArea + cur * FREE_AREA_SIZE + FREE_AREA_FREE_LIST;
      const first = u32[head >>> 2]!;
      if (first === head) continue;
      const page = first - PAGE_LRU_NEXT;
      this.delFromFreeList(page, cur);
      // expand(): keep the low half, give each high half back at its order.
      let high = cur;
      while (high > order) {
        high--;
        this.addToFreeList(page + ((1 << high) << STRUCT_PAGE_SHIFT), high, false);
      }
      return page;
    }
    return 0;
  }

  /** prep_new_page(): one reference, zeroing for __GFP_ZERO, compound metadata for order > 0. */
  private prepNewPage(page: number, order: number, gfp: number): void {
    const u32 = this.u32;
    setPageCount(u32, page, 1); // set_page_refcounted()
    if ((gfp & GFP_ZERO) !== 0) {
      const base = (page >>> STRUCT_PAGE_SHIFT) << this.pageShift;
      this.mem.u8.fill(0, base, base + ((1 << this.pageShift) << order));
    }
    if (order > 0) this.prepCompound(page, order);
  }

  /** prep_compound_page(). */
  private prepCompound(page: number, order: number): void {
    const u32 = this.u32;
    const w = page >>> 2;
    u32[w + W_FLAGS] = (u32[w + W_FLAGS]! | HEAD_FLAG) >>> 0;
    const w1 = w + PAGE_WORDS;
    u32[w1 + W_FLAGS] = ((u32[w1 + W_FLAGS]! & ~COMPOUND_ORDER_MASK) | order) >>> 0;
    const n = 1 << order;
    for (let i = 1; i < n; i++) {
      const tail = page + (i << STRUCT_PAGE_SHIFT);
      this.mem.wrPagePtr(tail + PAGE_COMPOUND_HEAD, page);
      u32[(tail + PAGE_COMPOUND_HEAD) >>> 2] = (page | 1) >>> 0;
    }
  }

  // ---- free ----

  /**
   * `__free_pages(page, order)`: drop a reference; the last one frees the block after
   * free_pages_prepare()'s checks. A bad page is reported and leaked, as bad_page() leaves it.
   */
  freePages(page: number, order: number): void {
    const u32 = this.u32;
    const mem = this.mem;
    const pfn = page >>> STRUCT_PAGE_SHIFT;
    if (page <= 0 || (page & (STRUCT_PAGE_SIZE - 1)) !== 0 || pfn >= this.nrFrames) {
      mem.diag(Diag.BAD_PAGE_STATE, pfn, page);
      return;
    }
    const w = page >>> 2;
    if (u32[w + W_TYPE] === PAGE_TYPE_BUDDY) {
      mem.diag(Diag.DOUBLE_FREE, pfn, order);
      return;
    }
    const ch = u32[w + W_COMPOUND_HEAD]!;
    if ((ch & 1) !== 0) {
      // A tail page handed to __free_pages on its own.
      mem.diag(Diag.BAD_PAGE_STATE, pfn, ch);
      return;
    }
    // put_page_testzero(): VM_BUG_ON_PAGE(page_ref_count(page) == 0), then one atomic decrement;
    // only the CPU that dropped the last reference goes on to free the block.
    const rw = w + W_REFCOUNT;
    if (Atomics.load(u32, rw) === 0) {
      this.reportFreeOfFree(pfn);
      return;
    }
    const ref = Atomics.sub(u32, rw, 1);
    if (ref !== 1) {
      if (ref === 0) {
        // Another CPU dropped the last reference between the test and the decrement: undo.
        Atomics.add(u32, rw, 1);
        this.reportFreeOfFree(pfn);
      }
      return;
    }
    if (!this.freePagesPrepare(page, order)) return;
    // kasan_poison_pages() in free_pages_prepare(): a page that passed the checks, before it goes
    // back on the free lists (a refused page is leaked, not freed, so it stays unpoisoned).
    if (pointHook !== null) pointHook(Point.PAGE_FREE, page, order);
    const zl = this.zoneLock;
    spinLock(mem, zl);
    this.freeOne(pfn, order, false);
    spinUnlock(mem, zl);
  }

  /** A free of a page whose `_refcount` is 0: a double free if it lies in a free block. Cold path. */
  private reportFreeOfFree(pfn: number): void {
    const mem = this.mem;
    spinLock(mem, this.zoneLock);
    const free = this.inFreeBlock(pfn);
    spinUnlock(mem, this.zoneLock); // before diag(): a strict machine throws from it
    mem.diag(free ? Diag.DOUBLE_FREE : Diag.BAD_PAGE_STATE, pfn, 0);
  }

  /**
   * free_pages_prepare(): refuse bad pages, undo compound metadata, poison. Runs without
   * zone->lock: the last reference is gone, so the block belongs to this CPU alone.
   */
  private freePagesPrepare(page: number, order: number): boolean {
    const u32 = this.u32;
    const mem = this.mem;
    const w = page >>> 2;
    const pfn = page >>> STRUCT_PAGE_SHIFT;
    const magicLo = u32[w + W_PP_MAGIC]!;
    const type = u32[w + W_TYPE]!; // read once: the netpp test and the bad-page test below share it
    // v7.1-rc1..rc4 (db359fccf212) moved the check into __free_pages_prepare(), ahead of the others:
    // `if (page_has_type(page)) { if (PageNetpp(page)) { bad_page(page, "page_pool leak"); return false; } … }`.
    // Keyed on the page type, so it is live on whichever build types its pages.
    if (type >>> PAGE_TYPE_SHIFT === PGTY_netpp) {
      mem.diag(Diag.PAGE_POOL_LEAK, pfn, magicLo);
      return false;
    }
    // memdesc-item: a page whose memdesc word (compound_head's word) still says NetPool is a pool page
    // freed without page_pool_clear_pp_info(). No other word there has type bits 10 (pp_magic's low
    // nibble is 0–3, buddy links 8, tails 1 or 9), so the check is live on every build.
    if ((magicLo & MEMDESC_TYPE_MASK) === MEMDESC_TYPE_NETPOOL) {
      mem.diag(Diag.PAGE_POOL_LEAK, pfn, magicLo);
      return false;
    }
    // page_bad_reason() tests "page_pool leak" last, so it is the reason that wins. The mask is the
    // build's `page_pool_page_is_pp()` one, kept in the machine header.
    const mask = (mem.machine + MACH_PP_MAGIC_MASK) >>> 2;
    if ((magicLo & u32[mask]!) >>> 0 === PP_SIGNATURE_LO && (u32[w + W_PP_MAGIC + 1]! & u32[mask + 1]!) >>> 0 === PP_SIGNATURE_HI) {
      mem.diag(Diag.PAGE_POOL_LEAK, pfn, magicLo);
      return false;
    }
    if (type !== PAGE_TYPE_NONE) {
      mem.diag(Diag.BAD_PAGE_STATE, pfn, type); // "nonzero mapcount" / a type its owner did not clear
      return false;
    }
    if (u32[w + W_MAPPING] !== 0) {
      mem.diag(Diag.BAD_PAGE_STATE, pfn, u32[w + W_MAPPING]!); // "non-NULL mapping"
      return false;
    }
    if (u32[w + W_MEMCG] !== 0) {
      mem.diag(Diag.BAD_PAGE_STATE, pfn, u32[w + W_MEMCG]!); // "page still charged to cgroup"
      return false;
    }
    const flags = u32[w + W_FLAGS]!;
    if ((flags & RESERVED_FLAG) !== 0) {
      mem.diag(Diag.BAD_PAGE_STATE, pfn, flags); // "PAGE_FLAGS_CHECK_AT_FREE flag(s) set"
      return false;
    }
    const isHead = (flags & HEAD_FLAG) !== 0;
    const compound = isHead ? u32[w + PAGE_WORDS + W_FLAGS]! & COMPOUND_ORDER_MASK : 0;
    if (order !== compound || order > MAX_PAGE_ORDER || pfn + (1 << order) > this.nrFrames) {
      mem.diag(Diag.BAD_PAGE_STATE, pfn, order); // compound order does not match the free order
      return false;
    }
    if (order > 0) {
      const n = 1 << order;
      const want = (page | 1) >>> 0;
      for (let i = 1; i < n; i++) {
        const tw = w + i * PAGE_WORDS;
        if (u32[tw + W_COMPOUND_HEAD] !== want) {
          mem.diag(Diag.BAD_PAGE_STATE, pfn + i, u32[tw + W_COMPOUND_HEAD]!); // "corrupted compound_head"
          return false;
        }
      }
      u32[w + W_FLAGS] = (flags & ~HEAD_FLAG) >>> 0;
      u32[w + PAGE_WORDS + W_FLAGS] = (u32[w + PAGE_WORDS + W_FLAGS]! & ~COMPOUND_ORDER_MASK) >>> 0;
      for (let i = 1; i < n; i++) {
        const tw = w + i * PAGE_WORDS;
        u32[tw + W_COMPOUND_HEAD] = 0;
        u32[tw + W_COMPOUND_HEAD + 1] = 0;
      }
    }
    if (u32[this.poisonW] !== 0) {
      const base = pfn << this.pageShift;
      mem.u8.fill(PAGE_POISON, base, base + ((1 << this.pageShift) << order));
    }
    return true;
  }

  /**
   * __free_one_page(): merge with free buddies as far as they go, then put the block on its list —
   * at the tail when the next-order buddy is free too (buddy_merge_likely), or when `toTail`
   * (FPI_TO_TAIL) says so. Caller holds zone->lock.
   */
  private freeOne(pfn: number, order: number, toTail: boolean): void {
    const u32 = this.u32;
    while (order < MAX_PAGE_ORDER) {
      const buddyPfn = pfn ^ (1 << order);
      if (buddyPfn >= this.nrFrames) break;
      const bw = (buddyPfn << STRUCT_PAGE_SHIFT) >>> 2;
      if (u32[bw + W_TYPE] !== PAGE_TYPE_BUDDY || u32[bw + W_PRIVATE] !== order) break;
      this.delFromFreeList(buddyPfn << STRUCT_PAGE_SHIFT, order);
      pfn &= buddyPfn;
      order++;
    }
    if (!toTail && order < MAX_PAGE_ORDER - 1) {
      const higherPfn = pfn & ~(1 << order);
      const higherBuddy = higherPfn ^ (1 << (order + 1));
      if (higherBuddy < this.nrFrames) {
        const hw = (higherBuddy << STRUCT_PAGE_SHIFT) >>> 2;
        toTail = u32[hw + W_TYPE] === PAGE_TYPE_BUDDY && u32[hw + W_PRIVATE] === order + 1;
      }
    }
    this.addToFreeList(pfn << STRUCT_PAGE_SHIFT, order, toTail);
  }

  /** __add_to_free_list() + set_buddy_order(). Caller holds zone->lock. */
  private addToFreeList(page: number, order: number, tail: boolean): void {
    const u32 = this.u32;
    const w = page >>> 2;
    u32[w + W_TYPE] = PAGE_TYPE_BUDDY;
    u32[w + W_PRIVATE] = order;
    u32[w + W_PRIVATE + 1] = 0;
    const head = this.freeArea + order * FREE_AREA_SIZE;
    // list_add / list_add_tail on the u32 view (the same words mem.listAdd writes; inlined for
    // the hot path): an entry is page+8, every pointer carries the direct-map tag.
    const entry = page + PAGE_LRU_NEXT;
    const list = head + FREE_AREA_FREE_LIST;
    const prev = tail ? u32[(list + LIST_PREV) >>> 2]! : list;
    const next = tail ? list : u32[list >>> 2]!;
    const ew = entry >>> 2;
    u32[ew] = next;
    u32[ew + 1] = DIRECT_MAP_HI;
    u32[ew + (LIST_PREV >>> 2)] = prev;
    u32[ew + (LIST_PREV >>> 2) + 1] = DIRECT_MAP_HI;
    u32[(next + LIST_PREV) >>> 2] = entry;
    u32[prev >>> 2] = entry;
    const nw = (head + FREE_AREA_NR_FREE) >>> 2;
    u32[nw] = u32[nw]! + 1;
    u32[this.nrFreePagesW] = u32[this.nrFreePagesW]! + (1 << order);
  }

  /** __del_page_from_free_list(): unlink, clear PageBuddy and the order. Caller holds zone->lock. */
  private delFromFreeList(page: number, order: number): void {
    const u32 = this.u32;
    const w = page >>> 2;
    // list_del(), entry words cleared as mem.listDel does.
    const next = u32[w + W_LRU_NEXT]!;
    const prev = u32[w + W_LRU_PREV]!;
    u32[(next + LIST_PREV) >>> 2] = prev;
    u32[prev >>> 2] = next;
    u32[w + W_LRU_NEXT] = 0;
    u32[w + W_LRU_NEXT + 1] = 0;
    u32[w + W_LRU_PREV] = 0;
    u32[w + W_LRU_PREV + 1] = 0;
    u32[w + W_TYPE] = PAGE_TYPE_NONE;
    u32[w + W_PRIVATE] = 0;
    const nw = (this.freeArea + order * FREE_AREA_SIZE + FREE_AREA_NR_FREE) >>> 2;
    u32[nw] = u32[nw]! - 1;
    u32[this.nrFreePagesW] = u32[this.nrFreePagesW]! - (1 << order);
  }

  /**
   * Is the frame inside a free buddy block (its head or one of its tails)? Error paths and
   * quiescent inspection only: it reads the free blocks without zone->lock.
   */
  inFreeBlock(pfn: number): boolean {
    const u32 = this.u32;
    for (let o = 0; o <= MAX_PAGE_ORDER; o++) {
      const head = pfn & ~((1 << o) - 1);
      const hw = (head << STRUCT_PAGE_SHIFT) >>> 2;
      if (u32[hw + W_TYPE] === PAGE_TYPE_BUDDY && u32[hw + W_PRIVATE]! >= o) return true;
    }
    return false;
  }

  // ---- references and compound pages ----

  /** `compound_head()`: the head page of a tail, the page itself otherwise. */
  compoundHead(page: number): number {
    const ch = this.u32[(page + PAGE_COMPOUND_HEAD) >>> 2]!;
    return (ch & 1) !== 0 ? ch - 1 : page;
  }

  /** `compound_order()`: 0 unless `page` is a compound head. */
  compoundOrder(page: number): number {
    const w = page >>> 2;
    return (this.u32[w + W_FLAGS]! & HEAD_FLAG) !== 0 ? this.u32[w + PAGE_WORDS + W_FLAGS]! & COMPOUND_ORDER_MASK : 0;
  }

  /** `page_count()`: the head's `_refcount` (`atomic_read`). */
  pageCount(page: number): number {
    return pageRefCount(this.u32, this.compoundHead(page));
  }

  /**
   * `get_page()`: an atomic increment. Taking a reference on a page nobody holds is a use after
   * free (the kernel's VM_BUG_ON): reported, and the count is left at 0 — the test and the
   * increment are one compare-exchange, so a concurrent last put cannot be resurrected.
   */
  getPage(page: number): void {
    const u32 = this.u32;
    const head = this.compoundHead(page);
    const w = (head + PAGE_REFCOUNT) >>> 2;
    for (let ref = Atomics.load(u32, w); ; ) {
      if (ref === 0) {
        this.mem.diag(Diag.BAD_PAGE_STATE, head >>> STRUCT_PAGE_SHIFT, 0);
        return;
      }
      const seen = Atomics.compareExchange(u32, w, ref, ref + 1);
      if (seen === ref) return;
      ref = seen;
    }
  }

  /** `put_page()`: drop a reference on the head; the last one frees the whole compound page. */
  putPage(page: number): void {
    const head = this.compoundHead(page);
    this.freePages(head, this.compoundOrder(head));
  }

  /** `PageBuddy()`. */
  isBuddy(page: number): boolean {
    return this.u32[(page + PAGE_TYPE) >>> 2] === PAGE_TYPE_BUDDY;
  }
}
