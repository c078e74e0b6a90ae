/**
 * Feeding a KasanShadow: the point hook that turns the allocators' events into shadow marks, and
 * the one-time poisoning of what was already free when the shadow was made.
 *
 * Each CPU worker installs its own hook (`setPointHook(kasanPointHook(shadow, machine, …))`) over its
 * own Machine view and KasanShadow view of the shared buffers; the hook reads the CPU from
 * `mem.cpu`. The allocators' points carry only an address and a size or order, so the hook asks the
 * machine what the address is (a slab object and its cache, or a large kmalloc) — explorer-only
 * work, never on the plain emulator's paths.
 */
import { Point, type PointHook } from "./points.js";
import { KASAN_LARGE_KMALLOC, KASAN_PAGE_FREE, KASAN_SLAB_REDZONE, type KasanShadow } from "./kasan.js";
import type { Machine } from "../mem/machine.js";
import { MAX_PAGE_ORDER } from "../mem/physmem.js";
import { PAGE_LRU_NEXT, PAGE_MAPPING, PAGE_INDEX } from "../mem/page.js";
import { KC_FULL, KC_PARTIAL } from "../mem/slab.js";

export interface KasanHookOptions {
  /**
   * The site to record for an event or report for an access on `cpu` at `point` — the explorer
   * knows which kernel function the CPU is in. Default: the point itself (kmem_cache_alloc,
   * kmem_cache_free, alloc_pages, __free_pages, read, write).
   */
  readonly site?: (cpu: number, point: number) => number | string;
  /** Receives the report of a bad ACCESS_READ / ACCESS_WRITE; without it accesses are not checked. */
  readonly onReport?: (report: string, cpu: number) => void;
  /** Every point goes on to this hook (the explorer's) after the shadow has seen it. */
  readonly next?: PointHook | null;
}

/** A numeric site for the side table: a name has no id, so it is stored as its point. */
function siteId(site: number | string, point: number): number {
  return typeof site === "number" ? site : point;
}

/**
 * The hook: SLAB_ALLOC / SLAB_FREE / SLAB_NEW / PAGE_ALLOC / PAGE_FREE mark `shadow`;
 * ACCESS_READ / ACCESS_WRITE (a = address, b = size) are checked when `onReport` is given.
 */
export function kasanPointHook(shadow: KasanShadow, m: Machine, opts: KasanHookOptions = {}): PointHook {
  const { mem, pa, slab } = m;
  const siteOf = opts.site ?? ((_cpu: number, point: number) => point);
  const onReport = opts.onReport;
  const next = opts.next ?? null;
  if (shadow.machine === undefined) shadow.machine = m;
  return (point: number, a: number, b: number): void => {
    const cpu = mem.cpu;
    switch (point) {
      case Point.SLAB_ALLOC: {
        const head = slab.objToSlab(a);
        if (head !== 0) shadow.markAlloc(a, b, cpu, siteId(siteOf(cpu, point), point), mem.rd32(head + PAGE_MAPPING), slab.ksize(a));
        else shadow.markAlloc(a, b, cpu, siteId(siteOf(cpu, point), point), KASAN_LARGE_KMALLOC, mem.pageSize << pa.compoundOrder(mem.virtToPage(a)));
        break;
      }
      case Point.SLAB_FREE: {
        // A large kmalloc is already untyped when kfree() reports it: anything not a slab object is one.
        const head = slab.objToSlab(a);
        shadow.markFree(a, b, cpu, siteId(siteOf(cpu, point), point), head !== 0 ? mem.rd32(head + PAGE_MAPPING) : KASAN_LARGE_KMALLOC);
        break;
      }
      case Point.SLAB_NEW:
        shadow.markSlabNew(a, b);
        break;
      case Point.PAGE_ALLOC:
        shadow.markPageAlloc(mem.pageAddress(a), b, cpu, siteId(siteOf(cpu, point), point));
        break;
      case Point.PAGE_FREE:
        shadow.markPageFree(mem.pageAddress(a), b, cpu, siteId(siteOf(cpu, point), point));
        break;
      case Point.ACCESS_READ:
      case Point.ACCESS_WRITE:
        if (onReport !== undefined) {
          const report = shadow.check(a, b, point === Point.ACCESS_WRITE, cpu, siteOf(cpu, point));
          if (report !== null) onReport(report, cpu);
        }
        break;
    }
    if (next !== null) next(point, a, b);
  };
}

/**
 * What a booted KASAN kernel's shadow says before the shadow existed: every block on the buddy
 * free lists KASAN_PAGE_FREE (memblock_free_all() hands them over through free_pages_prepare()),
 * every slab KASAN_SLAB_REDZONE (kasan_poison_slab()) but for its allocated objects'
 * object_size bytes. Large kmallocs and other allocated pages stay accessible. Objects on a
 * freelist may have been freed or never used; the shadow cannot tell and calls them redzone.
 * Run on a quiescent machine (no CPU inside the allocators).
 */
export function kasanPoisonFree(shadow: KasanShadow, m: Machine): void {
  const { mem, pa, slab } = m;
  for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
    const head = pa.freeList(order);
    let n = 0;
    for (let e = mem.rd32(head); e !== head && n <= mem.nrFrames; e = mem.rd32(e), n++) {
      shadow.poison(mem.pageAddress(e - PAGE_LRU_NEXT), mem.pageSize << order, KASAN_PAGE_FREE);
    }
  }
  const nr = slab.nrCaches();
  for (let i = 0; i < nr; i++) {
    const cache = slab.cacheAt(i);
    const st = slab.cacheStats(cache);
    for (const list of [KC_PARTIAL, KC_FULL]) {
      const head = cache + list;
      let n = 0;
      for (let e = mem.rd32(head); e !== head && n <= mem.nrFrames; e = mem.rd32(e), n++) {
        const page = e - PAGE_LRU_NEXT;
        const base = mem.pageAddress(page);
        shadow.poison(base, mem.pageSize << st.order, KASAN_SLAB_REDZONE);
        const free = new Set<number>();
        for (let p = mem.rd32(page + PAGE_INDEX), k = 0; p !== 0 && k < st.objsPerSlab; p = mem.rd32(p), k++) free.add(p);
        for (let k = 0; k < st.objsPerSlab; k++) {
          const obj = base + k * st.size;
          if (!free.has(obj)) shadow.unpoison(obj, st.objSize);
        }
      }
    }
  }
}
