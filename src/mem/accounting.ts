/**
 * Frame accounting: every frame of the machine in exactly one class, found by walking the
 * structures that own it — never inferred from a counter.
 *
 *   memmap     the struct page array (frames 0 … memmap_frames-1)
 *   boot       the machine header and the diag frame
 *   free       inside a buddy block on free_area[o].free_list (walked, every order)
 *   slab       the slab root and every slab on a kmem_cache's partial/full list
 *   allocated  everything else: handed out by the page allocator and not claimed below
 *
 * Later subsystems add claimers: functions that walk their own in-buffer structures (a page_pool's
 * alloc cache, its ring, pages in flight, item blocks, IOMMU tables …) and move frames from
 * "allocated" to a class they name. A claim on a frame that is not "allocated" (free, slab, already
 * claimed …) is an error in the result, so a structure that points at memory it does not own, or
 * two owners of one frame, show up here.
 */
import type { PhysMem } from "./physmem.js";
import {
  MAX_PAGE_ORDER,
  MACH_MEMMAP_FRAMES,
  MACH_BOOT_PFN,
  MACH_NR_BOOT_FRAMES,
  MACH_NR_FREE_PAGES,
  MACH_FREE_AREA,
  FREE_AREA_SIZE,
  FREE_AREA_FREE_LIST,
  FREE_AREA_NR_FREE,
} from "./physmem.js";
import { PAGE_LRU_NEXT, PAGE_PRIVATE, PAGE_TYPE, STRUCT_PAGE_SHIFT } from "./page.js";
import { PageAlloc, PAGE_TYPE_BUDDY } from "./buddy.js";
import { walkSlabFrames, PAGE_TYPE_SLAB } from "./slab.js";

export const CLASS_MEMMAP = "memmap";
export const CLASS_BOOT = "boot";
export const CLASS_FREE = "free";
export const CLASS_SLAB = "slab";
export const CLASS_ALLOCATED = "allocated";
export const BASE_CLASSES: readonly string[] = [CLASS_MEMMAP, CLASS_BOOT, CLASS_FREE, CLASS_SLAB, CLASS_ALLOCATED];

/** Errors kept in a result; more are counted in one closing line. */
export const MAX_ERRORS = 50;

/** What a claimer gets: the machine and ways to claim frames. */
export interface FrameClaims {
  readonly mem: PhysMem;
  readonly pa: PageAlloc;
  /** Claim `count` frames from `pfn` for class `cls`. */
  claim(pfn: number, count: number, cls: string): void;
  /** Claim a whole (compound) page allocation by its head struct page. */
  claimPage(page: number, cls: string): void;
  /** Claim the frame holding a direct-map address. */
  claimAddr(addr: number, cls: string): void;
  /** The class a frame has right now. */
  classOf(pfn: number): string;
}

export type FrameClaimer = (c: FrameClaims) => void;

export interface FrameAccount {
  /** Frames in the machine. */
  readonly total: number;
  /** Frames per class; the base classes are always present, claimers' classes when they claimed. */
  readonly byClass: Record<string, number>;
  readonly errors: string[];
}

const hex = (n: number) => "0x" + (n >>> 0).toString(16);

export function accountFrames(mem: PhysMem, claimers: readonly FrameClaimer[] = []): FrameAccount {
  const pa = new PageAlloc(mem);
  const total = mem.nrFrames;
  const names: string[] = ["(unclassified)", ...BASE_CLASSES];
  const idOf = new Map<string, number>(names.map((n, i) => [n, i]));
  const cls = new Uint8Array(total);
  const errors: string[] = [];
  let dropped = 0;
  const error = (msg: string) => {
    if (errors.length < MAX_ERRORS) errors.push(msg);
    else dropped++;
  };
  const ID_FREE = idOf.get(CLASS_FREE)!;
  const ID_ALLOCATED = idOf.get(CLASS_ALLOCATED)!;

  const mark = (pfn: number, count: number, id: number, what: string) => {
    for (let p = pfn; p < pfn + count; p++) {
      if (!(p >= 0 && p < total)) {
        error(`${what}: pfn ${hex(p)} is outside the machine (${total} frames)`);
        return;
      }
      if (cls[p] !== 0) error(`${what}: pfn ${hex(p)} already counted as ${names[cls[p]!]}`);
      else cls[p] = id;
    }
  };

  const h = mem.machine;
  mark(0, mem.rd32(h + MACH_MEMMAP_FRAMES), idOf.get(CLASS_MEMMAP)!, "memmap");
  mark(mem.rd32(h + MACH_BOOT_PFN), mem.rd32(h + MACH_NR_BOOT_FRAMES), idOf.get(CLASS_BOOT)!, "boot");

  // Free: every block on every free list, checked against PageBuddy, its order and the counters.
  let freePages = 0;
  for (let o = 0; o <= MAX_PAGE_ORDER; o++) {
    const area = h + MACH_FREE_AREA + o * FREE_AREA_SIZE;
    const head = area + FREE_AREA_FREE_LIST;
    let entry = mem.rdPtr(head);
    let prev = head;
    let blocks = 0;
    while (entry !== head) {
      const page = entry - PAGE_LRU_NEXT;
      if (blocks > total || !mem.isPagePtr(page) || mem.rdPtr(entry + 8) !== prev) {
        error(`free_area[${o}]: free list broken at ${hex(entry)}`);
        break;
      }
      const pfn = mem.pageToPfn(page);
      if (mem.rd32(page + PAGE_TYPE) !== PAGE_TYPE_BUDDY || mem.rd32(page + PAGE_PRIVATE) !== o) {
        error(`free_area[${o}]: pfn ${hex(pfn)} is on the list but is not a free block of order ${o}`);
      }
      if ((pfn & ((1 << o) - 1)) !== 0) error(`free_area[${o}]: pfn ${hex(pfn)} is not aligned to its order`);
      mark(pfn, 1 << o, ID_FREE, `free_area[${o}]`);
      blocks++;
      freePages += 1 << o;
      prev = entry;
      entry = mem.rdPtr(entry);
    }
    const nrFree = mem.rd32(area + FREE_AREA_NR_FREE);
    if (nrFree !== blocks) error(`free_area[${o}]: nr_free is ${nrFree}, the list holds ${blocks}`);
  }
  const nrFreePages = mem.rd32(h + MACH_NR_FREE_PAGES);
  if (nrFreePages !== freePages) error(`NR_FREE_PAGES is ${nrFreePages}, the free lists hold ${freePages}`);

  const ID_SLAB = idOf.get(CLASS_SLAB)!;
  walkSlabFrames(mem, pa, (pfn, n, what) => mark(pfn, n, ID_SLAB, what), error);

  // Whatever is left was handed out by the page allocator; a typed page no walk reached is lost.
  for (let pfn = 0; pfn < total; pfn++) {
    if (cls[pfn] !== 0) continue;
    const type = mem.rd32((pfn << STRUCT_PAGE_SHIFT) + PAGE_TYPE);
    if (type === PAGE_TYPE_BUDDY) error(`pfn ${hex(pfn)} is PageBuddy but on no free list`);
    else if (type === PAGE_TYPE_SLAB) error(`pfn ${hex(pfn)} is a slab on no cache list`);
    cls[pfn] = ID_ALLOCATED;
  }

  const claimedBy = (id: number) => id > ID_ALLOCATED;
  const claims: FrameClaims = {
    mem,
    pa,
    claim(pfn, count, name) {
      let id = idOf.get(name);
      if (id === undefined) {
        if (BASE_CLASSES.includes(name) || names.length >= 255) throw new Error(`cannot claim frames as "${name}"`);
        id = names.length;
        names.push(name);
        idOf.set(name, id);
      }
      if (id <= ID_ALLOCATED) throw new Error(`cannot claim frames as base class "${name}"`);
      for (let p = pfn; p < pfn + count; p++) {
        if (!(p >= 0 && p < total)) {
          error(`${name}: claims pfn ${hex(p)} outside the machine`);
          return;
        }
        const cur = cls[p]!;
        if (cur === ID_ALLOCATED) cls[p] = id;
        else if (cur === ID_FREE) error(`${name}: claims pfn ${hex(p)}, which is free`);
        else if (claimedBy(cur)) error(`${name}: claims pfn ${hex(p)}, already claimed by ${names[cur]}`);
        else error(`${name}: claims pfn ${hex(p)}, which is ${names[cur]}, not allocated`);
      }
    },
    claimPage(page, name) {
      if (!mem.isPagePtr(page)) {
        error(`${name}: claims ${hex(page)}, which is no struct page`);
        return;
      }
      this.claim(mem.pageToPfn(page), 1 << pa.compoundOrder(page), name);
    },
    claimAddr(addr, name) {
      this.claim(mem.virtToPfn(addr), 1, name);
    },
    classOf(pfn) {
      return names[cls[pfn] ?? 0]!;
    },
  };
  for (const claimer of claimers) claimer(claims);

  const counts = new Array<number>(names.length).fill(0);
  for (let pfn = 0; pfn < total; pfn++) counts[cls[pfn]!]!++;
  const byClass: Record<string, number> = {};
  for (let i = 1; i < names.length; i++) byClass[names[i]!] = counts[i]!;
  if (counts[0]! > 0) {
    byClass[names[0]!] = counts[0]!;
    error(`${counts[0]} frames are in no class`);
  }
  if (dropped > 0) errors.push(`… and ${dropped} more errors`);
  return { total, byClass, errors };
}

/** Throw a readable error unless every frame is in exactly one class and nothing is inconsistent. */
export function assertAccounted(r: FrameAccount): void {
  const sum = Object.values(r.byClass).reduce((a, b) => a + b, 0);
  if (sum === r.total && r.errors.length === 0) return;
  const classes = Object.entries(r.byClass)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const lines = [`frame accounting failed: ${sum} of ${r.total} frames classified (${classes})`, ...r.errors.map((e) => "  " + e)];
  throw new Error(lines.join("\n"));
}
