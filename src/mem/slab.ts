/**
 * A small SLUB-like slab allocator (mm/slub.c) and kmalloc, with all state in the machine buffer.
 *
 *   MACH_KMALLOC_CACHES ──► struct ppemu_slab_root (one page allocation, made at boot)
 *   ┌──────────────────────────────────────────────────────────────────────────────────────────┐
 *   │ nr_caches │ max_caches │ names_used │ names_cap │ kmalloc_caches[shift] (shift 3 … 15)     │
 *   │ caches[0..MAX_KMEM_CACHES): struct kmem_cache                                             │
 *   │ names[]: NUL-terminated cache names, kmem_cache.name points here                          │
 *   └──────────────────────────────────────────────────────────────────────────────────────────┘
 *
 *   a slab = one (compound) page allocation of order oo>>16, struct page of its head:
 *   ┌ lru (8/16) ───────────┬ mapping (24) ──┬ index (32) ──────────┬ page_type ─┬ memcg_data (56) ┐
 *   │ on cache partial/full │ struct         │ freelist: first free │ PGTY_slab  │ objects in use  │
 *   │ list                  │ kmem_cache *   │ object, 0 = none     │ << 24      │                 │
 *   └───────────────────────┴────────────────┴──────────────────────┴────────────┴─────────────────┘
 *   objects at page_address(head) + i * size; a free object's first 8 bytes point at the next
 *   free object (the free pointer at offset 0, unhardened).
 *
 * The kernel keeps slab lists in `kmem_cache_node`; with one node they are folded into the cache.
 * A slab with free objects is on `partial`, a full one on `full` (SLUB keeps that list only for
 * debugging; here it lets the frame accounting find every slab). An empty slab goes straight back
 * to the page allocator (min_partial = 0). kmalloc size classes are powers of two from 8 to
 * PAGE_SIZE/2; bigger requests are a page allocation typed PGTY_large_kmalloc (___kmalloc_large_node).
 *
 * SMP. Each cache has one `list_lock` (kmem_cache_node's, folded in with the lists; a spinlock_t
 * word, src/smp/spinlock.ts). It covers every slab's freelist, `inuse`, the partial/full lists and
 * the cache counters: kmem_cache_alloc()/kmem_cache_free()/kmalloc()/kfree() take it once. As in
 * mm/slub.c the page allocator is never entered under it: a new slab is allocated and its
 * freelist built with the lock dropped (allocate_slab()), then linked under it; an empty slab is
 * unlinked and untyped under it and freed after the unlock (discard_slab()). Large kmallocs are
 * the page allocator's alone. Diagnostics are reported after the unlock.
 *
 *   lock order: xa_lock → list_lock → zone->lock → diag_lock
 */
import {
  type PhysMem,
  FailSite,
  MAX_PAGE_ORDER,
  MACH_KMALLOC_CACHES,
} from "./physmem.js";
import { type PageAlloc, GFP_ZERO } from "./buddy.js";
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf, m, struct, array, ptr, UINT, UCHAR, LIST_HEAD, SPINLOCK_T } from "./ctype.js";
import {
  PAGE_LRU_NEXT,
  PAGE_MAPPING,
  PAGE_INDEX,
  PAGE_TYPE,
  PAGE_MEMCG,
  PAGE_TYPE_NONE,
  PGTY_slab,
  pageTypeWord,
} from "./page.js";
import { Diag } from "./diag.js";
import { spinLock, spinUnlock } from "../smp/spinlock.js";
import { pointHook, Point } from "../explore/points.js";

/** Caches the root table has room for (kmalloc uses 9–13 of them). */
export const MAX_KMEM_CACHES = 32;
/** Bytes for cache names, NUL terminators included. */
export const KMEM_NAMES_CAP = 1024;
/** Longest cache name accepted. */
export const KMEM_NAME_MAX = 31;
/** Smallest kmalloc class: KMALLOC_SHIFT_LOW = 3 (kmalloc-8). */
export const KMALLOC_SHIFT_LOW = 3;
/** Room for kmalloc classes up to shift 15 (kmalloc-32k, PAGE_SIZE/2 with 64 KiB pages). */
export const KMALLOC_SLOTS = 16;
/** `slub_max_order` = PAGE_ALLOC_COSTLY_ORDER. */
export const SLUB_MAX_ORDER = 3;
/** SLUB's min_objects for one CPU: `4 * (fls(nr_cpus) + 1)` = 8. */
export const SLUB_MIN_OBJECTS = 8;
/** `ZERO_SIZE_PTR`: what kmalloc(0) returns; kfree ignores it and NULL. */
export const ZERO_SIZE_PTR = 16;
/** `page_type` of a large kmalloc (PGTY_large_kmalloc = 0xf8 in include/linux/page-flags.h). */
export const PGTY_large_kmalloc = 0xf8;
export const PAGE_TYPE_SLAB = pageTypeWord(PGTY_slab);
export const PAGE_TYPE_LARGE_KMALLOC = pageTypeWord(PGTY_large_kmalloc);
/** `struct kmem_cache_order_objects`: order in the high 16 bits, objects in the low 16. */
export const OO_SHIFT = 16;
const OO_MASK = (1 << OO_SHIFT) - 1;

/** `struct kmem_cache`, with node 0's `kmem_cache_node` lists folded in. */
export const STRUCT_KMEM_CACHE = struct("kmem_cache", [
  m("name", ptr("const char")),
  m("object_size", UINT),
  m("size", UINT),
  m("oo", UINT),
  m("nr_slabs", UINT),
  m("nr_partial", UINT),
  m("nr_full", UINT),
  m("inuse", UINT),
  /**
   * `kmem_cache_node.list_lock`: the lists, every slab's freelist and the counters above. In what
   * was padding before `partial`, so the struct keeps its size and older images read it unlocked.
   */
  m("list_lock", SPINLOCK_T),
  m("partial", LIST_HEAD),
  m("full", LIST_HEAD),
]);

/** The emulator's slab root: every cache and the kmalloc index, reachable from the header. */
export const STRUCT_PPEMU_SLAB_ROOT = struct("ppemu_slab_root", [
  m("nr_caches", UINT),
  m("max_caches", UINT),
  m("names_used", UINT),
  m("names_cap", UINT),
  m("kmalloc_caches", array(ptr("struct kmem_cache"), KMALLOC_SLOTS)),
  m("caches", array(STRUCT_KMEM_CACHE, MAX_KMEM_CACHES)),
  m("names", array(UCHAR, KMEM_NAMES_CAP)),
]);

export const KMEM_CACHE_LAYOUT = layoutOf(STRUCT_KMEM_CACHE, LP64);
export const SLAB_ROOT_LAYOUT = layoutOf(STRUCT_PPEMU_SLAB_ROOT, LP64);
export const KMEM_CACHE_SIZE = KMEM_CACHE_LAYOUT.size;
const KC_NAME = offsetOf(KMEM_CACHE_LAYOUT, "name");
const KC_OBJECT_SIZE = offsetOf(KMEM_CACHE_LAYOUT, "object_size");
const KC_SIZE = offsetOf(KMEM_CACHE_LAYOUT, "size");
const KC_OO = offsetOf(KMEM_CACHE_LAYOUT, "oo");
const KC_NR_SLABS = offsetOf(KMEM_CACHE_LAYOUT, "nr_slabs");
const KC_NR_PARTIAL = offsetOf(KMEM_CACHE_LAYOUT, "nr_partial");
const KC_NR_FULL = offsetOf(KMEM_CACHE_LAYOUT, "nr_full");
const KC_INUSE = offsetOf(KMEM_CACHE_LAYOUT, "inuse");
export const KC_LIST_LOCK = offsetOf(KMEM_CACHE_LAYOUT, "list_lock");
export const KC_PARTIAL = offsetOf(KMEM_CACHE_LAYOUT, "partial");
export const KC_FULL = offsetOf(KMEM_CACHE_LAYOUT, "full");
const SR_NR_CACHES = offsetOf(SLAB_ROOT_LAYOUT, "nr_caches");
const SR_MAX_CACHES = offsetOf(SLAB_ROOT_LAYOUT, "max_caches");
const SR_NAMES_USED = offsetOf(SLAB_ROOT_LAYOUT, "names_used");
const SR_NAMES_CAP = offsetOf(SLAB_ROOT_LAYOUT, "names_cap");
const SR_KMALLOC = offsetOf(SLAB_ROOT_LAYOUT, "kmalloc_caches");
const SR_CACHES = offsetOf(SLAB_ROOT_LAYOUT, "caches");
const SR_NAMES = offsetOf(SLAB_ROOT_LAYOUT, "names");

/** `get_order(size)` for a page shift. */
export function getOrder(size: number, pageShift: number): number {
  let order = 0;
  while ((1 << (pageShift + order)) < size) order++;
  return order;
}

/** Order of the page allocation that holds the slab root. */
export function slabRootOrder(pageShift: number): number {
  return getOrder(SLAB_ROOT_LAYOUT.size, pageShift);
}

/**
 * calculate_order() (mm/slub.c): the smallest order from get_order(min_objects * size) up to
 * slub_max_order whose leftover is at most 1/16 of the slab, relaxing to 1/8, 1/4, 1/2.
 */
export function slabOrder(size: number, pageShift: number): number {
  const pageSize = 1 << pageShift;
  const maxObjects = Math.max(Math.floor((pageSize << SLUB_MAX_ORDER) / size), 1);
  const minObjects = Math.min(SLUB_MIN_OBJECTS, maxObjects);
  const minOrder = getOrder(minObjects * size, pageShift);
  for (let fraction = 16; fraction > 1; fraction /= 2) {
    for (let order = minOrder; order <= SLUB_MAX_ORDER; order++) {
      const slabSize = pageSize << order;
      if (slabSize % size <= slabSize / fraction) return order;
    }
  }
  return getOrder(size, pageShift);
}

/** kmalloc's name for a size class: kmalloc-8 … kmalloc-512, kmalloc-1k, kmalloc-2k … */
export function kmallocName(size: number): string {
  return size >= 1024 ? `kmalloc-${size / 1024}k` : `kmalloc-${size}`;
}

export interface CacheStats {
  readonly name: string;
  /** Bytes the user asked for (`object_size`). */
  readonly objSize: number;
  /** Stride between objects (`size`, object_size rounded up to 8). */
  readonly size: number;
  readonly order: number;
  readonly objsPerSlab: number;
  readonly slabs: number;
  readonly inUse: number;
}

const W_MAPPING = PAGE_MAPPING >>> 2;
const W_FREELIST = PAGE_INDEX >>> 2;
const W_TYPE = PAGE_TYPE >>> 2;
const W_INUSE = PAGE_MEMCG >>> 2;

export class Slab {
  readonly mem: PhysMem;
  readonly pa: PageAlloc;
  /** Address of the struct ppemu_slab_root (fixed at boot). */
  readonly root: number;
  private readonly u32: Uint32Array;
  private readonly pageShift: number;
  private readonly largeMin: number;
  private readonly firstAddr: number;

  /** Attach to a machine whose slab allocator is already initialised. */
  constructor(mem: PhysMem, pa: PageAlloc) {
    this.mem = mem;
    this.pa = pa;
    this.u32 = mem.u32;
    this.pageShift = mem.pageShift;
    this.root = mem.rdPtr(mem.machine + MACH_KMALLOC_CACHES);
    if (this.root === 0) throw new Error("slab allocator not initialised on this machine");
    this.largeMin = (mem.pageSize >>> 1) + 1;
    this.firstAddr = mem.firstAllocatablePfn << mem.pageShift;
  }

  /** kmem_cache_init() + create_kmalloc_caches(). */
  static init(mem: PhysMem, pa: PageAlloc): Slab {
    const order = slabRootOrder(mem.pageShift);
    const page = pa.allocPages(order, GFP_ZERO);
    if (page === 0) throw new Error("slab init: no memory for the slab root");
    const root = mem.pageAddress(page);
    mem.wr32(root + SR_MAX_CACHES, MAX_KMEM_CACHES);
    mem.wr32(root + SR_NAMES_CAP, KMEM_NAMES_CAP);
    mem.wrPtr(mem.machine + MACH_KMALLOC_CACHES, root);
    const slab = new Slab(mem, pa);
    for (let shift = KMALLOC_SHIFT_LOW; shift < mem.pageShift; shift++) {
      const cache = slab.kmemCacheCreate(kmallocName(1 << shift), 1 << shift);
      mem.wrPtr(root + SR_KMALLOC + shift * 8, cache);
    }
    return slab;
  }

  // ---- caches ----

  /** `kmem_cache_create(name, size)`: a cache pointer. Throws on misuse (bad size, table full). */
  kmemCacheCreate(name: string, size: number): number {
    const mem = this.mem;
    const root = this.root;
    if (!Number.isInteger(size) || size < 1 || size > mem.pageSize << SLUB_MAX_ORDER) {
      throw new RangeError(`kmem_cache_create(${name}): object size ${size} out of range 1..${mem.pageSize << SLUB_MAX_ORDER}`);
    }
    if (name.length === 0 || name.length > KMEM_NAME_MAX || !/^[\x20-\x7e]+$/.test(name)) {
      throw new RangeError(`kmem_cache_create: bad cache name ${JSON.stringify(name)}`);
    }
    const nr = mem.rd32(root + SR_NR_CACHES);
    const used = mem.rd32(root + SR_NAMES_USED);
    if (nr >= mem.rd32(root + SR_MAX_CACHES) || used + name.length + 1 > mem.rd32(root + SR_NAMES_CAP)) {
      throw new RangeError(`kmem_cache_create(${name}): the slab root is full`);
    }
    const str = root + SR_NAMES + used;
    for (let i = 0; i < name.length; i++) mem.u8[str + i] = name.charCodeAt(i);
    mem.u8[str + name.length] = 0;
    mem.wr32(root + SR_NAMES_USED, used + name.length + 1);

    const cache = root + SR_CACHES + nr * KMEM_CACHE_SIZE;
    const stride = (size + 7) & ~7; // ALIGN(size, sizeof(void *)): room for the free pointer
    const order = slabOrder(stride, this.pageShift);
    const objects = Math.floor((mem.pageSize << order) / stride);
    mem.wrPtr(cache + KC_NAME, str);
    mem.wr32(cache + KC_OBJECT_SIZE, size);
    mem.wr32(cache + KC_SIZE, stride);
    mem.wr32(cache + KC_OO, (order << OO_SHIFT) | objects);
    mem.wr32(cache + KC_LIST_LOCK, 0); // spin_lock_init()
    mem.listInit(cache + KC_PARTIAL);
    mem.listInit(cache + KC_FULL);
    mem.wr32(root + SR_NR_CACHES, nr + 1);
    return cache;
  }

  /** Number of caches, and the i-th cache pointer (for walkers). */
  nrCaches(): number {
    return this.mem.rd32(this.root + SR_NR_CACHES);
  }
  cacheAt(i: number): number {
    return this.root + SR_CACHES + i * KMEM_CACHE_SIZE;
  }

  /** The cache with this name, or 0. */
  cacheByName(name: string): number {
    const n = this.nrCaches();
    for (let i = 0; i < n; i++) if (this.cacheName(this.cacheAt(i)) === name) return this.cacheAt(i);
    return 0;
  }

  cacheName(cache: number): string {
    const u8 = this.mem.u8;
    let p = this.mem.rdPtr(cache + KC_NAME);
    let s = "";
    while (u8[p] !== 0) s += String.fromCharCode(u8[p++]!);
    return s;
  }

  cacheStats(cache: number): CacheStats {
    const mem = this.mem;
    const oo = mem.rd32(cache + KC_OO);
    return {
      name: this.cacheName(cache),
      objSize: mem.rd32(cache + KC_OBJECT_SIZE),
      size: mem.rd32(cache + KC_SIZE),
      order: oo >>> OO_SHIFT,
      objsPerSlab: oo & OO_MASK,
      slabs: mem.rd32(cache + KC_NR_SLABS),
      inUse: mem.rd32(cache + KC_INUSE),
    };
  }

  /** The kmalloc cache serving `size` (1 … PAGE_SIZE/2), or 0. */
  kmallocCache(size: number): number {
    if (size <= 0 || size >= this.largeMin) return 0;
    const shift = size <= 8 ? KMALLOC_SHIFT_LOW : 32 - Math.clz32(size - 1);
    return this.u32[(this.root + SR_KMALLOC + shift * 8) >>> 2]!;
  }

  // ---- objects ----

  /** `kmem_cache_alloc(cache, gfp)`: an object address or 0. */
  kmemCacheAlloc(cache: number, gfp = 0): number {
    const mem = this.mem;
    if (mem.shouldFail(FailSite.KMALLOC)) return 0;
    const u32 = this.u32;
    const partial = cache + KC_PARTIAL;
    const lock = cache + KC_LIST_LOCK;
    spinLock(mem, lock);
    let first = u32[partial >>> 2]!;
    if (first === partial) {
      // ___slab_alloc() → new_slab(): the page allocator without the list lock.
      spinUnlock(mem, lock);
      const page = this.newSlab(cache);
      if (page === 0) return 0;
      spinLock(mem, lock);
      this.addSlab(cache, page);
      first = u32[partial >>> 2]!;
    }
    const slab = first - PAGE_LRU_NEXT;
    const sw = slab >>> 2;
    const obj = u32[sw + W_FREELIST]!;
    const next = u32[obj >>> 2]!;
    u32[sw + W_FREELIST] = next;
    u32[sw + W_FREELIST + 1] = next === 0 ? 0 : u32[(obj >>> 2) + 1]!;
    const inuse = u32[sw + W_INUSE]! + 1;
    u32[sw + W_INUSE] = inuse;
    u32[(cache + KC_INUSE) >>> 2] = u32[(cache + KC_INUSE) >>> 2]! + 1;
    if (inuse === (u32[(cache + KC_OO) >>> 2]! & OO_MASK)) {
      this.mem.listDel(slab + PAGE_LRU_NEXT);
      this.mem.listAdd(slab + PAGE_LRU_NEXT, cache + KC_FULL);
      u32[(cache + KC_NR_PARTIAL) >>> 2] = u32[(cache + KC_NR_PARTIAL) >>> 2]! - 1;
      u32[(cache + KC_NR_FULL) >>> 2] = u32[(cache + KC_NR_FULL) >>> 2]! + 1;
    }
    spinUnlock(mem, lock);
    if ((gfp & GFP_ZERO) !== 0) mem.u8.fill(0, obj, obj + u32[(cache + KC_SIZE) >>> 2]!);
    // kasan_slab_alloc(): the explorer's shadow unpoisons the object (a live binding, null off it).
    if (pointHook !== null) pointHook(Point.SLAB_ALLOC, obj, u32[(cache + KC_OBJECT_SIZE) >>> 2]!);
    return obj;
  }

  /**
   * allocate_slab(): a new slab with every object on its freelist, in address order. Runs without
   * the list lock (the page is this CPU's until addSlab() links it); 0 when the page allocator fails.
   */
  private newSlab(cache: number): number {
    const mem = this.mem;
    const u32 = this.u32;
    const oo = u32[(cache + KC_OO) >>> 2]!;
    const page = this.pa.allocPages(oo >>> OO_SHIFT, 0);
    if (page === 0) return 0;
    const objects = oo & OO_MASK;
    const size = u32[(cache + KC_SIZE) >>> 2]!;
    const base = mem.pageAddress(page);
    for (let i = 0; i < objects; i++) {
      const obj = base + i * size;
      mem.wrPtr(obj, i + 1 < objects ? obj + size : 0);
    }
    const sw = page >>> 2;
    u32[sw + W_TYPE] = PAGE_TYPE_SLAB;
    mem.wrPtr(page + PAGE_MAPPING, cache);
    mem.wrPtr(page + PAGE_INDEX, base);
    u32[sw + W_INUSE] = 0;
    // kasan_poison_slab(): no object of a new slab is accessible until it is allocated.
    if (pointHook !== null) pointHook(Point.SLAB_NEW, base, oo >>> OO_SHIFT);
    return page;
  }

  /** Link a new slab at the head of `partial` and count it. Caller holds the list lock. */
  private addSlab(cache: number, page: number): void {
    const u32 = this.u32;
    this.mem.listAdd(page + PAGE_LRU_NEXT, cache + KC_PARTIAL);
    u32[(cache + KC_NR_PARTIAL) >>> 2] = u32[(cache + KC_NR_PARTIAL) >>> 2]! + 1;
    u32[(cache + KC_NR_SLABS) >>> 2] = u32[(cache + KC_NR_SLABS) >>> 2]! + 1;
  }

  /** `kmem_cache_free(cache, obj)`. An object of another cache, or no live object, is reported. */
  kmemCacheFree(cache: number, obj: number): void {
    const slab = this.objToSlab(obj);
    if (slab === 0 || this.u32[(slab + PAGE_MAPPING) >>> 2] !== cache) {
      this.mem.diag(Diag.KFREE_INVALID, obj, cache);
      return;
    }
    this.slabFree(cache, slab, obj);
  }

  /** `kmalloc(size, gfp)`: an address, ZERO_SIZE_PTR for 0 bytes, or 0 on failure. */
  kmalloc(size: number, gfp = 0): number {
    if (size <= 0) return size === 0 ? ZERO_SIZE_PTR : 0;
    if (size < this.largeMin) {
      const shift = size <= 8 ? KMALLOC_SHIFT_LOW : 32 - Math.clz32(size - 1);
      return this.kmemCacheAlloc(this.u32[(this.root + SR_KMALLOC + shift * 8) >>> 2]!, gfp);
    }
    // ___kmalloc_large_node(): the page allocator directly (its own fail site, not failslab's).
    const order = getOrder(size, this.pageShift);
    if (order > MAX_PAGE_ORDER) return 0;
    const page = this.pa.allocPages(order, gfp);
    if (page === 0) return 0;
    this.u32[(page + PAGE_TYPE) >>> 2] = PAGE_TYPE_LARGE_KMALLOC;
    // kasan_kmalloc_large(): the requested bytes accessible, the rest of the block a redzone.
    if (pointHook !== null) pointHook(Point.SLAB_ALLOC, this.mem.pageAddress(page), size);
    return this.mem.pageAddress(page);
  }

  /** `kfree(addr)`: NULL and ZERO_SIZE_PTR are ignored; anything that is no live object is reported. */
  kfree(addr: number): void {
    if (addr <= ZERO_SIZE_PTR && addr >= 0) return;
    const slab = this.objToSlab(addr);
    if (slab !== 0) {
      this.slabFree(this.u32[(slab + PAGE_MAPPING) >>> 2]!, slab, addr);
      return;
    }
    const head = this.largeHead(addr);
    // free_large_kmalloc(): untype, then the page allocator. The untyping is a compare-exchange,
    // so of two CPUs kfreeing the same large allocation only one frees it.
    if (head === 0 || Atomics.compareExchange(this.u32, (head + PAGE_TYPE) >>> 2, PAGE_TYPE_LARGE_KMALLOC, PAGE_TYPE_NONE) !== PAGE_TYPE_LARGE_KMALLOC) {
      this.mem.diag(Diag.KFREE_INVALID, addr, 0);
      return;
    }
    // kasan_kfree_large(): the whole block, before the page allocator poisons it as a free page.
    if (pointHook !== null) pointHook(Point.SLAB_FREE, addr, this.mem.pageSize << this.pa.compoundOrder(head));
    this.pa.freePages(head, this.pa.compoundOrder(head));
  }

  /** `ksize(addr)`: usable bytes of a live allocation; 0 for anything else. */
  ksize(addr: number): number {
    const slab = this.objToSlab(addr);
    if (slab !== 0) return this.u32[(this.u32[(slab + PAGE_MAPPING) >>> 2]! + KC_SIZE) >>> 2]!;
    const head = this.largeHead(addr);
    return head === 0 ? 0 : this.mem.pageSize << this.pa.compoundOrder(head);
  }

  /**
   * virt_to_slab() plus the object checks slub_debug does: the slab head page for an address that
   * is an object boundary in a slab, else 0. Does not say whether the object is live.
   */
  objToSlab(addr: number): number {
    const mem = this.mem;
    if (!(addr >= this.firstAddr && addr < mem.bytes)) return 0;
    const head = this.pa.compoundHead(mem.virtToPage(addr));
    const u32 = this.u32;
    if (u32[(head + PAGE_TYPE) >>> 2] !== PAGE_TYPE_SLAB) return 0;
    const cache = u32[(head + PAGE_MAPPING) >>> 2]!;
    const size = u32[(cache + KC_SIZE) >>> 2]!;
    const off = addr - mem.pageAddress(head);
    if (off % size !== 0 || off / size >= (u32[(cache + KC_OO) >>> 2]! & OO_MASK)) return 0;
    return head;
  }

  /** The head page of the large kmalloc that starts at `addr`, or 0. */
  private largeHead(addr: number): number {
    const mem = this.mem;
    if (!(addr >= this.firstAddr && addr < mem.bytes) || (addr & (mem.pageSize - 1)) !== 0) return 0;
    const page = mem.virtToPage(addr);
    if (this.u32[(page + PAGE_TYPE) >>> 2] !== PAGE_TYPE_LARGE_KMALLOC) return 0;
    return page;
  }

  /** Is `obj` on the slab's freelist? (SLUB debug's "Object already free".) */
  private onFreelist(slab: number, obj: number, limit: number): boolean {
    const u32 = this.u32;
    let p = u32[(slab + PAGE_INDEX) >>> 2]!;
    for (let n = 0; p !== 0 && n <= limit; n++) {
      if (p === obj) return true;
      p = u32[p >>> 2]!;
    }
    return false;
  }

  /**
   * do_slab_free(): push on the freelist; full → partial; empty → back to the page allocator.
   * `slab` was found without the lock: under it, it must still be a slab of `cache` (a racing
   * kfree of the same object may have emptied and discarded it).
   */
  private slabFree(cache: number, slab: number, obj: number): void {
    const u32 = this.u32;
    const mem = this.mem;
    const objects = u32[(cache + KC_OO) >>> 2]! & OO_MASK;
    const sw = slab >>> 2;
    const lock = cache + KC_LIST_LOCK;
    spinLock(mem, lock);
    if (u32[sw + W_TYPE] !== PAGE_TYPE_SLAB || u32[sw + W_MAPPING] !== cache || this.onFreelist(slab, obj, objects)) {
      spinUnlock(mem, lock); // before diag(): a strict machine throws from it
      mem.diag(Diag.KFREE_INVALID, obj, cache);
      return;
    }
    // kasan_slab_free(): a valid free only (the checks above report the rest), before the free
    // pointer is written into the object; the shadow marks it freed.
    if (pointHook !== null) pointHook(Point.SLAB_FREE, obj, u32[(cache + KC_OBJECT_SIZE) >>> 2]!);
    mem.wrPtr(obj, u32[sw + W_FREELIST]!);
    mem.wrPtr(slab + PAGE_INDEX, obj);
    const inuse = u32[sw + W_INUSE]! - 1;
    u32[sw + W_INUSE] = inuse;
    u32[(cache + KC_INUSE) >>> 2] = u32[(cache + KC_INUSE) >>> 2]! - 1;
    if (inuse === 0) {
      this.removeSlab(cache, slab, objects === 1);
      spinUnlock(mem, lock);
      // discard_slab() after the unlock: the page allocator takes its own lock.
      this.pa.freePages(slab, u32[(cache + KC_OO) >>> 2]! >>> OO_SHIFT);
      return;
    }
    if (inuse === objects - 1) {
      mem.listDel(slab + PAGE_LRU_NEXT);
      mem.listAdd(slab + PAGE_LRU_NEXT, cache + KC_PARTIAL);
      u32[(cache + KC_NR_FULL) >>> 2] = u32[(cache + KC_NR_FULL) >>> 2]! - 1;
      u32[(cache + KC_NR_PARTIAL) >>> 2] = u32[(cache + KC_NR_PARTIAL) >>> 2]! + 1;
    }
    spinUnlock(mem, lock);
  }

  /**
   * An empty slab leaves the cache: unlinked, uncounted, untyped and its slab words cleared, so no
   * other CPU can find it as a slab once the list lock drops. Caller holds the list lock and then
   * frees the pages.
   */
  private removeSlab(cache: number, slab: number, wasFull: boolean): void {
    const u32 = this.u32;
    const mem = this.mem;
    const sw = slab >>> 2;
    mem.listDel(slab + PAGE_LRU_NEXT);
    const counter = (cache + (wasFull ? KC_NR_FULL : KC_NR_PARTIAL)) >>> 2;
    u32[counter] = u32[counter]! - 1;
    u32[(cache + KC_NR_SLABS) >>> 2] = u32[(cache + KC_NR_SLABS) >>> 2]! - 1;
    u32[sw + W_TYPE] = PAGE_TYPE_NONE;
    u32[sw + W_MAPPING] = 0;
    u32[sw + W_MAPPING + 1] = 0;
    u32[sw + W_FREELIST] = 0;
    u32[sw + W_FREELIST + 1] = 0;
    u32[sw + W_INUSE] = 0;
    u32[sw + W_INUSE + 1] = 0;
  }
}

/**
 * Walk every frame the slab allocator owns: the root table and each slab of each cache, from the
 * cache lists. `visit(pfn, nrFrames, what)`; inconsistencies go to `report`. For the frame
 * accounting; not a hot path.
 */
export function walkSlabFrames(
  mem: PhysMem,
  pa: PageAlloc,
  visit: (pfn: number, nrFrames: number, what: string) => void,
  report: (msg: string) => void,
): void {
  const root = mem.rdPtr(mem.machine + MACH_KMALLOC_CACHES);
  if (root === 0) return;
  visit(mem.virtToPfn(root), 1 << slabRootOrder(mem.pageShift), "slab root");
  const nr = mem.rd32(root + SR_NR_CACHES);
  for (let i = 0; i < nr; i++) {
    const cache = root + SR_CACHES + i * KMEM_CACHE_SIZE;
    const oo = mem.rd32(cache + KC_OO);
    const order = oo >>> OO_SHIFT;
    let slabs = 0;
    for (const list of [KC_PARTIAL, KC_FULL]) {
      const head = cache + list;
      let entry = mem.rdPtr(head);
      let prev = head;
      while (entry !== head) {
        if (slabs > mem.nrFrames || !mem.isPagePtr(entry - PAGE_LRU_NEXT) || mem.rdPtr(entry + 8) !== prev) {
          report(`kmem_cache #${i}: slab list broken at 0x${entry.toString(16)}`);
          break;
        }
        const page = entry - PAGE_LRU_NEXT;
        if (mem.rd32(page + PAGE_TYPE) !== PAGE_TYPE_SLAB || mem.rdPtr(page + PAGE_MAPPING) !== cache) {
          report(`kmem_cache #${i}: pfn 0x${mem.pageToPfn(page).toString(16)} on its list is not one of its slabs`);
        }
        if (pa.compoundOrder(page) !== order) {
          report(`kmem_cache #${i}: slab pfn 0x${mem.pageToPfn(page).toString(16)} has order ${pa.compoundOrder(page)}, cache says ${order}`);
        }
        visit(mem.pageToPfn(page), 1 << order, "slab");
        slabs++;
        prev = entry;
        entry = mem.rdPtr(entry);
      }
    }
    if (slabs !== mem.rd32(cache + KC_NR_SLABS)) {
      report(`kmem_cache #${i}: ${slabs} slabs on its lists, nr_slabs says ${mem.rd32(cache + KC_NR_SLABS)}`);
    }
  }
}
