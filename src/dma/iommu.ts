/**
 * The IOMMU: one machine-wide `struct ppemu_iommu`, and per device an IOVA domain with a two-level
 * translation table and an IOVA allocator, all in the buffer.
 *
 *   domain.pgd ──► top page: u64 pointers          leaf page: struct ppemu_iopte[PAGE_SIZE / 16]
 *                 ┌────────────────────┐          ┌──────┬──────┬───────┬──────┐
 *   iova_pfn ─┬─► │ [iova_pfn >> LEAF] │ ───────► │ pfn  │ size │ flags │ next │ [iova_pfn & LEAF_MASK]
 *             │   └────────────────────┘          └──────┴──────┴───────┴──────┘
 *             └ iova = iova_pfn << PAGE_SHIFT | offset
 *
 *  struct ppemu_iopte (16 B):
 *  ╒═════╤═══════╤═══════════════════════════════════════════════════════════════════════════╕
 *  │ off │ field │ meaning                                                                   │
 *  ├─────┼───────┼───────────────────────────────────────────────────────────────────────────┤
 *  │  0  │ pfn   │ physical pfn this IOVA page translates to (kept after unmap, for reports) │
 *  │  4  │ size  │ head of a mapping: the bytes passed to dma_map_page; tails: 0             │
 *  │  8  │ flags │ bit 0 PRESENT, 1 HEAD, 2 UNMAPPED, 3 FREE, 4 SKIP_CPU_SYNC, 5–6 dir,      │
 *  │     │       │ 8–11 order of the IOVA block, 16–31 offset of the dma address in its page │
 *  │ 12  │ next  │ FREE block heads: IOVA pfn of the next free block of the same order       │
 *  ╘═════╧═══════╧═══════════════════════════════════════════════════════════════════════════╛
 *
 * IOVA allocation follows the kernel's iommu_dma_alloc_iova(): a mapping of n pages takes an
 * IOVA block of roundup_pow_of_two(n) pages aligned to its size. Freed blocks go on a LIFO list per
 * order (like the iova rcache), so the next mapping of that order reuses the most recently freed
 * IOVA; a larger free block is split before fresh space is taken; fresh space grows upward from
 * IOVA pfn 1 (`iova_hwm`), so IOVA 0 is never handed out and a dma_addr of 0 keeps meaning "not
 * mapped" in struct page. (The kernel allocates downward from the DMA limit; upward reads better in
 * dumps and changes nothing the emulator measures.) The IOVA space is at least one pgd page's reach
 * (2^17 IOVA pfns with 4 KiB pages) and always more than the machine has frames, so a device can
 * have every frame of the machine mapped at once, as a 32-bit DMA mask allows up to 4 GiB: a 4k
 * machine of 512 MiB or more gets a pgd of 2^k contiguous pages (order 1 for 512 MiB, 2 for 1 GiB,
 * 3 for 2 GiB; the geometry is fixed at iommuInit and kept in struct ppemu_iommu, which an
 * attached machine or a saved image reads back). Blocks are never merged back: page_pool maps one
 * order per pool. Every leaf covering [0, iova_hwm) exists — leaves are allocated (zeroed) when
 * the high-water mark moves over them — so a free block's `next` link always has an entry to live
 * in, and a lookup below the mark never finds a hole. Leaves are freed only when the domain is torn
 * down, at unbind.
 *
 * Locking (SMP: a worker thread on the same SharedArrayBuffer is another CPU). Every domain
 * operation that changes state — allocIova, freeIova (the free lists and `iova_hwm`: the kernel's
 * rbtree and rcache), the iopte writes of a map or unmap, and domainTeardown — runs with the
 * owning device's `iova_rbtree_lock` held (struct ppemu_device, src/dma/device.ts: the domain is
 * embedded there, as the kernel's iova_domain is in the DMA cookie; the caller takes it).
 * domainInit runs before the device is published, so no other CPU can see the domain yet. The
 * lock nests outside `zone->lock` (a leaf is allocated, and at teardown freed, under it), and
 * nothing the IOMMU calls takes a DMA lock, so the order is fixed. The machine-wide counters of
 * struct ppemu_iommu are shared by every device's lock and change with Atomics only.
 *
 * Lockless readers (iommu_iova_to_phys, explain, reports) load the pgd pointer, a pgd slot and an
 * iopte's flags word with Atomics: a leaf is zeroed before its slot is published, an iopte's flags
 * word (PRESENT) is stored with Atomics after its pfn, and teardown unpublishes the pgd before
 * freeing anything. (Without RCU a lockless reader racing a teardown can still read a just-freed
 * table page; the kernel's iova_to_phys against a concurrent unmap is no better defined.)
 */
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf, m, struct, array, ptr, U32, LIST_HEAD } from "../mem/ctype.js";
import { MAX_PAGE_ORDER, MACH_IOMMU, type PhysMem } from "../mem/physmem.js";
import { DIRECT_MAP_HI } from "../mem/page.js";
import { GFP_ZERO, type PageAlloc } from "../mem/buddy.js";
import type { Machine } from "../mem/machine.js";

/** IOVA blocks of order 0..MAX_PAGE_ORDER: one mapping covers at most a max-order buddy block. */
export const NR_IOVA_ORDERS = MAX_PAGE_ORDER + 1;

export const STRUCT_PPEMU_IOPTE = struct("ppemu_iopte", [
  m("pfn", U32),
  m("size", U32),
  m("flags", U32),
  m("next", U32),
]);

/** The IOVA space and translation table of one device (the emulator's struct iommu_domain). */
export const STRUCT_PPEMU_IOMMU_DOMAIN = struct("ppemu_iommu_domain", [
  m("pgd", ptr("struct ppemu_iopte *")),
  m("iova_hwm", U32),
  m("iova_limit", U32),
  m("table_pages", U32),
  m("free_iova", array(U32, NR_IOVA_ORDERS)),
]);

/** The machine's IOMMU, hung off the machine header's `iommu`. Geometry is stored for image readers. */
export const STRUCT_PPEMU_IOMMU = struct("ppemu_iommu", [
  m("devices", LIST_HEAD),
  m("nr_devices", U32),
  m("nr_bound", U32),
  m("page_shift", U32),
  m("leaf_shift", U32),
  m("pgd_entries", U32),
  m("iova_limit", U32),
  m("table_pages", U32),
  /**
   * dma-debug's globals (kernel/dma/debug.c; debugfs dma-api/error_count, all_errors, num_errors):
   * every error counts, but only `num_errors` (1 at boot) are printed, unless all_errors is set.
   */
  m("dd_error_count", U32),
  m("dd_all_errors", U32),
  m("dd_num_errors", U32),
]);

export const IOPTE_LAYOUT = layoutOf(STRUCT_PPEMU_IOPTE, LP64);
export const DOMAIN_LAYOUT = layoutOf(STRUCT_PPEMU_IOMMU_DOMAIN, LP64);
export const IOMMU_LAYOUT = layoutOf(STRUCT_PPEMU_IOMMU, LP64);

export const IOPTE_SIZE = IOPTE_LAYOUT.size;
export const IOPTE_SHIFT = 31 - Math.clz32(IOPTE_SIZE);
export const IOPTE_PFN = offsetOf(IOPTE_LAYOUT, "pfn");
export const IOPTE_LEN = offsetOf(IOPTE_LAYOUT, "size");
export const IOPTE_FLAGS = offsetOf(IOPTE_LAYOUT, "flags");
export const IOPTE_NEXT = offsetOf(IOPTE_LAYOUT, "next");

export const DOMAIN_SIZE = DOMAIN_LAYOUT.size;
export const DOMAIN_PGD = offsetOf(DOMAIN_LAYOUT, "pgd");
export const DOMAIN_IOVA_HWM = offsetOf(DOMAIN_LAYOUT, "iova_hwm");
export const DOMAIN_IOVA_LIMIT = offsetOf(DOMAIN_LAYOUT, "iova_limit");
export const DOMAIN_TABLE_PAGES = offsetOf(DOMAIN_LAYOUT, "table_pages");
export const DOMAIN_FREE_IOVA = offsetOf(DOMAIN_LAYOUT, "free_iova");

export const IOMMU_SIZE = IOMMU_LAYOUT.size;
export const IOMMU_DEVICES = offsetOf(IOMMU_LAYOUT, "devices");
export const IOMMU_NR_DEVICES = offsetOf(IOMMU_LAYOUT, "nr_devices");
export const IOMMU_NR_BOUND = offsetOf(IOMMU_LAYOUT, "nr_bound");
const IOMMU_PAGE_SHIFT = offsetOf(IOMMU_LAYOUT, "page_shift");
const IOMMU_LEAF_SHIFT = offsetOf(IOMMU_LAYOUT, "leaf_shift");
const IOMMU_PGD_ENTRIES = offsetOf(IOMMU_LAYOUT, "pgd_entries");
const IOMMU_IOVA_LIMIT = offsetOf(IOMMU_LAYOUT, "iova_limit");
export const IOMMU_TABLE_PAGES = offsetOf(IOMMU_LAYOUT, "table_pages");
export const IOMMU_DD_ERROR_COUNT = offsetOf(IOMMU_LAYOUT, "dd_error_count");
export const IOMMU_DD_ALL_ERRORS = offsetOf(IOMMU_LAYOUT, "dd_all_errors");
export const IOMMU_DD_NUM_ERRORS = offsetOf(IOMMU_LAYOUT, "dd_num_errors");
/** `static u32 show_num_errors = 1;` */
export const DMA_DEBUG_NUM_ERRORS_DEFAULT = 1;

/** A pgd slot is a 64-bit pointer (low word: offset, high word: direct-map tag). */
const PGD_SLOT_SHIFT = 3;
export const PGD_SLOT_SIZE = 1 << PGD_SLOT_SHIFT;

/** iopte flag bits. */
export const IOPTE_PRESENT = 1 << 0;
export const IOPTE_HEAD = 1 << 1;
export const IOPTE_UNMAPPED = 1 << 2;
export const IOPTE_FREE = 1 << 3;
export const IOPTE_SKIP_CPU_SYNC = 1 << 4;
export const IOPTE_DIR_SHIFT = 5;
export const IOPTE_DIR_MASK = 0x3 << IOPTE_DIR_SHIFT;
export const IOPTE_ORDER_SHIFT = 8;
export const IOPTE_ORDER_MASK = 0xf << IOPTE_ORDER_SHIFT;
export const IOPTE_OFFSET_SHIFT = 16;

/** IOVA geometry for a page size and machine size: entries per leaf, pgd slots used, IOVA pfns available. */
export interface IovaGeometry {
  readonly leafShift: number;
  readonly pgdEntries: number;
  /** IOVA pfns [1, limit) are allocatable; `limit << PAGE_SHIFT` never exceeds 2^32 so an IOVA is a u32. */
  readonly limit: number;
}

/**
 * The geometry of a machine of `nrFrames` frames (0: the smallest, a one-page pgd): IOVA pfns
 * [1, limit) with `limit` a power of two above `nrFrames` — room to map every frame at once, IOVA
 * pfn 0 never being handed out — and at least what one pgd page reaches, at most 2^32 bytes.
 */
export function iovaGeometry(pageShift: number, nrFrames = 0): IovaGeometry {
  const leafShift = pageShift - IOPTE_SHIFT;
  const topShift = pageShift - PGD_SLOT_SHIFT;
  const machineShift = nrFrames > 0 ? 32 - Math.clz32(nrFrames) : 0;
  const limitShift = Math.min(Math.max(leafShift + topShift, machineShift), 32 - pageShift);
  return { leafShift, pgdEntries: 1 << (limitShift - leafShift), limit: 2 ** limitShift };
}

/** The buddy order of a pgd of `pgdEntries` 8-byte slots (0 while it fits one page). */
export function pgdOrder(pgdEntries: number, pageShift: number): number {
  return Math.max(0, 31 - Math.clz32(pgdEntries << PGD_SLOT_SHIFT) - pageShift);
}

/** The geometry a machine's IOMMU was initialised with (struct ppemu_iommu), or 0s when it has none. */
export function iommuGeometry(mem: PhysMem, iommu: number): IovaGeometry {
  if (iommu === 0) return { leafShift: 0, pgdEntries: 0, limit: 0 };
  return { leafShift: mem.rd32(iommu + IOMMU_LEAF_SHIFT), pgdEntries: mem.rd32(iommu + IOMMU_PGD_ENTRIES), limit: mem.rd32(iommu + IOMMU_IOVA_LIMIT) };
}

/** `iommu_init`: allocate the machine's IOMMU once and hang it off the header. Returns its address. */
export function iommuInit(mach: Machine): number {
  const mem = mach.mem;
  const hdr = mem.machine + MACH_IOMMU;
  const existing = mem.rdPtr(hdr);
  if (existing !== 0) return existing;
  const iommu = mach.slab.kmalloc(IOMMU_SIZE);
  if (iommu === 0) return 0;
  for (let o = 0; o < IOMMU_SIZE; o += 4) mem.wr32(iommu + o, 0);
  const g = iovaGeometry(mem.pageShift, mem.nrFrames);
  mem.listInit(iommu + IOMMU_DEVICES);
  mem.wr32(iommu + IOMMU_PAGE_SHIFT, mem.pageShift);
  mem.wr32(iommu + IOMMU_LEAF_SHIFT, g.leafShift);
  mem.wr32(iommu + IOMMU_PGD_ENTRIES, g.pgdEntries);
  mem.wr32(iommu + IOMMU_IOVA_LIMIT, g.limit);
  mem.wr32(iommu + IOMMU_DD_NUM_ERRORS, DMA_DEBUG_NUM_ERRORS_DEFAULT);
  mem.wrPtr(hdr, iommu);
  return iommu;
}

/**
 * Domain operations: the translation table and the IOVA allocator. Holds geometry only; every
 * piece of state is in the domain struct and its table pages. `iommu` is the machine's struct
 * ppemu_iommu (machine-wide table page count).
 */
export class IommuTable {
  readonly mem: PhysMem;
  readonly pa: PageAlloc;
  readonly iommu: number;
  readonly pageShift: number;
  readonly leafShift: number;
  readonly leafMask: number;
  readonly limit: number;
  readonly pgdEntries: number;
  /** Buddy order of a domain's pgd (0: one page). */
  readonly pgdOrder: number;

  constructor(mem: PhysMem, pa: PageAlloc, iommu: number) {
    this.mem = mem;
    this.pa = pa;
    this.iommu = iommu;
    this.pageShift = mem.pageShift;
    // The geometry the IOMMU was initialised with (an image keeps its own).
    const g = iommuGeometry(mem, iommu);
    this.leafShift = g.leafShift;
    this.leafMask = (1 << g.leafShift) - 1;
    this.limit = g.limit;
    this.pgdEntries = g.pgdEntries;
    this.pgdOrder = pgdOrder(g.pgdEntries, mem.pageShift);
  }

  /** Attach an empty domain: a zeroed pgd (one page, or 2^pgdOrder). Returns false when no memory is left. */
  domainInit(dom: number): boolean {
    const mem = this.mem;
    const page = this.pa.allocPages(this.pgdOrder, GFP_ZERO);
    if (page === 0) return false;
    const pages = 1 << this.pgdOrder;
    mem.wrPtr(dom + DOMAIN_PGD, mem.pageAddress(page));
    mem.wr32(dom + DOMAIN_IOVA_HWM, 1);
    mem.wr32(dom + DOMAIN_IOVA_LIMIT, this.limit);
    mem.wr32(dom + DOMAIN_TABLE_PAGES, pages);
    for (let k = 0; k < NR_IOVA_ORDERS; k++) mem.wr32(dom + DOMAIN_FREE_IOVA + 4 * k, 0);
    this.addTablePages(pages);
    return true;
  }

  /** Machine-wide table pages: every device's lock changes it, so it is an atomic u32. */
  private addTablePages(n: number): void {
    if (n >= 0) Atomics.add(this.mem.u32, (this.iommu + IOMMU_TABLE_PAGES) >>> 2, n);
    else Atomics.sub(this.mem.u32, (this.iommu + IOMMU_TABLE_PAGES) >>> 2, -n);
  }

  /**
   * The iopte of an IOVA pfn, or 0 when the domain has no leaf there (torn down or above the mark).
   * Safe without the lock: the pgd pointer and the slot are loaded with Atomics.
   */
  pte(dom: number, iovaPfn: number): number {
    const u32 = this.mem.u32;
    const pgd = Atomics.load(u32, (dom + DOMAIN_PGD) >>> 2);
    if (pgd === 0 || iovaPfn >= this.limit) return 0;
    const leaf = Atomics.load(u32, (pgd + ((iovaPfn >>> this.leafShift) << PGD_SLOT_SHIFT)) >>> 2);
    if (leaf === 0) return 0;
    return leaf + ((iovaPfn & this.leafMask) << IOPTE_SHIFT);
  }

  /** The iopte of a pfn known to be below the domain's high-water mark (its leaf exists). */
  pteBelowHwm(pgd: number, iovaPfn: number): number {
    const leaf = this.mem.rdPtr(pgd + ((iovaPfn >>> this.leafShift) << PGD_SLOT_SHIFT));
    return leaf + ((iovaPfn & this.leafMask) << IOPTE_SHIFT);
  }

  /** Put a block on its order's free list, recording the order in its head entry. */
  private pushFree(dom: number, pgd: number, iovaPfn: number, order: number): void {
    const mem = this.mem;
    const head = dom + DOMAIN_FREE_IOVA + 4 * order;
    const e = this.pteBelowHwm(pgd, iovaPfn);
    const keep = mem.rd32(e + IOPTE_FLAGS) & (IOPTE_HEAD | IOPTE_UNMAPPED | IOPTE_DIR_MASK | IOPTE_SKIP_CPU_SYNC);
    const keepOff = mem.rd32(e + IOPTE_FLAGS) >>> IOPTE_OFFSET_SHIFT;
    mem.wr32(e + IOPTE_FLAGS, (keep | IOPTE_FREE | (order << IOPTE_ORDER_SHIFT) | (keepOff << IOPTE_OFFSET_SHIFT)) >>> 0);
    mem.wr32(e + IOPTE_NEXT, mem.rd32(head));
    mem.wr32(head, iovaPfn);
  }

  /**
   * `alloc_iova_fast()`: an IOVA block of 2^order pages aligned to its size; 0 when the IOVA space
   * (or memory for a leaf) is exhausted. Exact-order free list first, then split a larger free
   * block, then fresh space above the high-water mark. Caller holds the device's iova_rbtree_lock.
   */
  allocIova(dom: number, order: number): number {
    const mem = this.mem;
    const pgd = mem.rdPtr(dom + DOMAIN_PGD);
    if (pgd === 0) return 0;
    for (let k = order; k < NR_IOVA_ORDERS; k++) {
      const head = dom + DOMAIN_FREE_IOVA + 4 * k;
      const pfn = mem.rd32(head);
      if (pfn === 0) continue;
      const e = this.pteBelowHwm(pgd, pfn);
      mem.wr32(head, mem.rd32(e + IOPTE_NEXT));
      mem.wr32(e + IOPTE_NEXT, 0);
      mem.wr32(e + IOPTE_FLAGS, mem.rd32(e + IOPTE_FLAGS) & ~IOPTE_FREE);
      // Split: keep the lower half, free the upper half, down to the wanted order.
      while (k > order) {
        k--;
        this.pushFree(dom, pgd, pfn + (1 << k), k);
      }
      return pfn;
    }
    const hwm = mem.rd32(dom + DOMAIN_IOVA_HWM);
    const size = 1 << order;
    const start = (hwm + size - 1) & ~(size - 1);
    const end = start + size;
    if (end > mem.rd32(dom + DOMAIN_IOVA_LIMIT)) return 0;
    // Every leaf covering [hwm, end) must exist before the mark moves over it.
    const firstLeaf = hwm >>> this.leafShift;
    const lastLeaf = (end - 1) >>> this.leafShift;
    for (let l = firstLeaf; l <= lastLeaf; l++) {
      const slot = pgd + (l << PGD_SLOT_SHIFT);
      if (mem.rdPtr(slot) !== 0) continue;
      const page = this.pa.allocPages(0, GFP_ZERO);
      if (page === 0) return 0;
      // Publish the zeroed leaf: tag word first, then the low word a lockless walker loads.
      const leaf = mem.pageAddress(page);
      mem.u32[(slot >>> 2) + 1] = DIRECT_MAP_HI;
      Atomics.store(mem.u32, slot >>> 2, leaf);
      mem.wr32(dom + DOMAIN_TABLE_PAGES, mem.rd32(dom + DOMAIN_TABLE_PAGES) + 1);
      this.addTablePages(1);
    }
    mem.wr32(dom + DOMAIN_IOVA_HWM, end);
    // The alignment gap [hwm, start) becomes free blocks, largest aligned first.
    let p = hwm;
    while (p < start) {
      let k = 31 - Math.clz32(p & -p);
      while (p + (1 << k) > start) k--;
      this.pushFree(dom, pgd, p, k);
      p += 1 << k;
    }
    return start;
  }

  /** `free_iova_fast()`: return a block to its order's free list (LIFO: it is reused first). Caller holds the lock. */
  freeIova(dom: number, iovaPfn: number, order: number): void {
    const pgd = this.mem.rdPtr(dom + DOMAIN_PGD);
    if (pgd !== 0) this.pushFree(dom, pgd, iovaPfn, order);
  }

  /**
   * Number of blocks on each order's free list (reports and tests; walks the lists). A list longer
   * than the IOVA pfns below the mark can hold (a cycle: a block freed twice) or a link at or above
   * the mark stops the walk and counts as -1 for that order, so a corrupted domain cannot hang a
   * report.
   */
  freeBlocks(dom: number): number[] {
    const mem = this.mem;
    const pgd = mem.rdPtr(dom + DOMAIN_PGD);
    const hwm = mem.rd32(dom + DOMAIN_IOVA_HWM);
    const out: number[] = [];
    for (let k = 0; k < NR_IOVA_ORDERS; k++) {
      let n = 0;
      for (let p = mem.rd32(dom + DOMAIN_FREE_IOVA + 4 * k); p !== 0 && pgd !== 0; p = mem.rd32(this.pteBelowHwm(pgd, p) + IOPTE_NEXT)) {
        if (p >= hwm || ++n > hwm) {
          n = -1;
          break;
        }
      }
      out.push(n);
    }
    return out;
  }

  /** Visit every table page of a domain (the pgd's first page, then leaves by IOVA). Not a hot path. */
  forEachTablePage(dom: number, cb: (addr: number) => void): void {
    const mem = this.mem;
    const pgd = mem.rdPtr(dom + DOMAIN_PGD);
    if (pgd === 0) return;
    cb(pgd);
    for (let l = 0; l < this.pgdEntries; l++) {
      const leaf = mem.rdPtr(pgd + (l << PGD_SLOT_SHIFT));
      if (leaf !== 0) cb(leaf);
    }
  }

  /**
   * Tear the domain down: every table page back to the page allocator, the IOVA space forgotten.
   * Caller holds the lock. The pgd is unpublished first, so a lockless walker that starts now finds
   * no table.
   */
  domainTeardown(dom: number): void {
    const mem = this.mem;
    const pgd = mem.rdPtr(dom + DOMAIN_PGD);
    if (pgd === 0) return;
    Atomics.store(mem.u32, (dom + DOMAIN_PGD) >>> 2, 0);
    let freed = 0;
    for (let l = 0; l < this.pgdEntries; l++) {
      const slot = pgd + (l << PGD_SLOT_SHIFT);
      const leaf = mem.rdPtr(slot);
      if (leaf === 0) continue;
      Atomics.store(mem.u32, slot >>> 2, 0);
      mem.wrPtr(slot, 0);
      this.pa.freePages(mem.virtToPage(leaf), 0);
      freed++;
    }
    this.pa.freePages(mem.virtToPage(pgd), this.pgdOrder);
    freed += 1 << this.pgdOrder;
    mem.wrPtr(dom + DOMAIN_PGD, 0);
    mem.wr32(dom + DOMAIN_IOVA_HWM, 0);
    mem.wr32(dom + DOMAIN_TABLE_PAGES, 0);
    for (let k = 0; k < NR_IOVA_ORDERS; k++) mem.wr32(dom + DOMAIN_FREE_IOVA + 4 * k, 0);
    this.addTablePages(-freed);
  }
}
