/**
 * The race explorer's KASAN: a shadow of the machine's memory kept from the allocators' events, and
 * checked by the point that is about to touch an address (mm/kasan, the Generic mode).
 *
 * As Generic KASAN, one shadow byte describes one 8-byte granule: 0 = all 8 bytes accessible,
 * 1…7 = only the first N are, anything else = none, and the value says why (mm/kasan/kasan.h):
 *
 *   0xff KASAN_PAGE_FREE      a page on the buddy free lists (use-after-free)
 *   0xfe KASAN_PAGE_REDZONE   the tail of a large kmalloc past the requested size
 *   0xfc KASAN_SLAB_REDZONE   a slab object's tail past object_size, or an object of a slab that
 *                             was never allocated (kasan_poison_slab() of a new slab)
 *   0xfb KASAN_SLAB_FREE      a freed slab object (slab-use-after-free)
 *
 * The shadow is the explorer's own memory, never the machine's: one SharedArrayBuffer that every
 * CPU worker maps (`.buffer`), laid out as
 *
 *   ┌ header (64 B) ─────────────┬ records[nr_records] (16 B each) ─┬ shadow[machine_bytes / 8] ┐
 *   │ magic version machine_bytes│ a ring of alloc/free records:    │ one byte per granule      │
 *   │ page_shift nr_records head │ start size cache kind|cpu|site   │                           │
 *   └────────────────────────────┴──────────────────────────────────┴───────────────────────────┘
 *
 * The records stand in for KASAN's alloc/free tracks (kasan_alloc_meta, kasan_free_meta) and for
 * page_owner: who allocated and who freed a region, on which CPU, at which site (a Point id, so it
 * fits a word; POINT_NAMES names it). A report searches the ring from the newest record back, so a
 * record overwritten by 2^k later events is simply not shown, as a KASAN track evicted from the
 * stack depot would not be.
 *
 * KASAN's quarantine keeps a freed object's memory out of reuse for a while; the emulator's slab
 * hands an empty slab straight back to the page allocator. So that a stale pointer into a freed
 * object still reads as slab-use-after-free, not as a freed page, freeing a page keeps the
 * granules already marked KASAN_SLAB_FREE (markPageFree); allocating the page again clears them.
 *
 * Everything here is explorer-only: the allocators reach it through src/explore/points.ts, whose
 * hook is null otherwise. Single-writer at a time (the explorer runs one CPU per step), so plain
 * stores suffice; the record head is an Atomics.add all the same, so workers never share a slot.
 */
import { POINT_NAMES } from "./points.js";
import type { Machine } from "../mem/machine.js";
import { STRUCT_PAGE_SHIFT, STRUCT_PAGE_SIZE } from "../mem/page.js";
import { formatAccessReport } from "./kasan_report.js";

export const KASAN_SHADOW_SCALE_SHIFT = 3;
export const KASAN_GRANULE_SIZE = 1 << KASAN_SHADOW_SCALE_SHIFT;
const GRANULE_MASK = KASAN_GRANULE_SIZE - 1;

export const KASAN_PAGE_FREE = 0xff;
export const KASAN_PAGE_REDZONE = 0xfe;
export const KASAN_SLAB_REDZONE = 0xfc;
export const KASAN_SLAB_FREE = 0xfb;

/**
 * `cache` of a record for a large kmalloc (no kmem_cache: its pages come from the page allocator);
 * 0 means a slab object whose cache the caller does not know. No kmem_cache lives at address 1.
 */
export const KASAN_LARGE_KMALLOC = 1;

/** What a record says happened. */
export const enum KasanRec {
  SLAB_ALLOC = 1,
  SLAB_FREE = 2,
  PAGE_ALLOC = 3,
  PAGE_FREE = 4,
}

/** One alloc/free record, as a report reads it back. */
export interface KasanRecord {
  readonly kind: KasanRec;
  readonly start: number;
  readonly size: number;
  /** kmem_cache pointer, 0 (unknown) or KASAN_LARGE_KMALLOC; for pages, the order. */
  readonly cache: number;
  readonly cpu: number;
  readonly site: number;
}

export interface KasanShadowOptions {
  /** Machine page shift (12 for 4 KiB, the default); taken from `machine` when given. */
  readonly pageShift?: number;
  /** Records in the ring (a power of two; default 8192 = 128 KiB). Ignored when attaching. */
  readonly records?: number;
  /** This worker's view of the machine: names caches and finds live slab objects in reports. */
  readonly machine?: Machine;
}

const KASAN_MAGIC = 0x6e73616b; // "kasn"
const KASAN_VERSION = 1;
const HDR_BYTES = 64;
const H_MAGIC = 0;
const H_VERSION = 1;
const H_MACHINE_BYTES = 2;
const H_PAGE_SHIFT = 3;
const H_NR_RECORDS = 4;
/** Records written so far (monotonic); the next goes to slot head & (nr_records - 1). */
const H_HEAD = 5;
const REC_BYTES = 16;
const REC_WORDS = REC_BYTES >>> 2;
const DEFAULT_RECORDS = 8192;
/** word 3 of a record: kind in bits 0–7, cpu in 8–15, site in 16–31. */
const REC_CPU_SHIFT = 8;
const REC_SITE_SHIFT = 16;

/** Name of a site: a Point id through POINT_NAMES, or a name as given. */
export function siteName(site: number | string): string {
  if (typeof site === "string") return site;
  return POINT_NAMES[site] ?? `point#${site}`;
}

export class KasanShadow {
  /** The whole shadow state (header, records, shadow bytes): hand it to the other workers. */
  readonly buffer: SharedArrayBuffer;
  readonly machineBytes: number;
  readonly pageShift: number;
  readonly pageSize: number;
  readonly nrRecords: number;
  /** Bytes of the memmap (struct page[], from physical 0, as PhysMem lays it out). */
  readonly memmapBytes: number;
  /**
   * Below this an address is NULL plus an offset (null-ptr-deref). The memmap sits at physical 0,
   * so the first page also holds real struct pages: only those of the memmap's own frames, which no
   * code touches, count as NULL (at most the first page, as the kernel's PAGE_SIZE test).
   */
  readonly nullLimit: number;
  /** Optional machine view for reports (cache names, live slab objects, page refcounts). */
  machine: Machine | undefined;
  private readonly all: Uint8Array;
  private readonly u32: Uint32Array;
  /** The shadow bytes: `shadow[addr >>> 3]`. */
  private readonly shadow: Uint8Array;
  private readonly recWord: number;

  constructor(machineBytes: number, shadow?: SharedArrayBuffer, opts: KasanShadowOptions = {}) {
    if (!Number.isInteger(machineBytes) || machineBytes <= 0 || (machineBytes & GRANULE_MASK) !== 0) {
      throw new RangeError(`KasanShadow: machine size ${machineBytes} is not a positive multiple of ${KASAN_GRANULE_SIZE}`);
    }
    this.machine = opts.machine;
    if (shadow !== undefined) {
      const u32 = new Uint32Array(shadow, 0, HDR_BYTES >>> 2);
      if (u32[H_MAGIC] !== KASAN_MAGIC || u32[H_VERSION] !== KASAN_VERSION || u32[H_MACHINE_BYTES] !== machineBytes) {
        throw new RangeError(`KasanShadow: the buffer is no KASAN shadow of a ${machineBytes}-byte machine`);
      }
      this.buffer = shadow;
      this.pageShift = u32[H_PAGE_SHIFT]!;
      this.nrRecords = u32[H_NR_RECORDS]!;
    } else {
      const records = opts.records ?? DEFAULT_RECORDS;
      if (!Number.isInteger(records) || records < 1 || (records & (records - 1)) !== 0 || records > 1 << 24) {
        throw new RangeError(`KasanShadow: records ${records} is not a power of two up to 2^24`);
      }
      this.pageShift = opts.machine?.mem.pageShift ?? opts.pageShift ?? 12;
      this.nrRecords = records;
      this.buffer = new SharedArrayBuffer(KasanShadow.bytesFor(machineBytes, records));
      const u32 = new Uint32Array(this.buffer, 0, HDR_BYTES >>> 2);
      u32[H_MAGIC] = KASAN_MAGIC;
      u32[H_VERSION] = KASAN_VERSION;
      u32[H_MACHINE_BYTES] = machineBytes;
      u32[H_PAGE_SHIFT] = this.pageShift;
      u32[H_NR_RECORDS] = records;
    }
    this.machineBytes = machineBytes;
    this.pageSize = 1 << this.pageShift;
    const memmapFrames = Math.ceil(((machineBytes >>> this.pageShift) * STRUCT_PAGE_SIZE) / this.pageSize);
    this.memmapBytes = memmapFrames << this.pageShift;
    this.nullLimit = Math.min(this.pageSize, memmapFrames << STRUCT_PAGE_SHIFT);
    this.all = new Uint8Array(this.buffer);
    this.u32 = new Uint32Array(this.buffer);
    this.recWord = HDR_BYTES >>> 2;
    this.shadow = new Uint8Array(this.buffer, HDR_BYTES + this.nrRecords * REC_BYTES, machineBytes >>> KASAN_SHADOW_SCALE_SHIFT);
  }

  /** Bytes of a shadow buffer for a machine of `machineBytes` with `records` records. */
  static bytesFor(machineBytes: number, records = DEFAULT_RECORDS): number {
    return HDR_BYTES + records * REC_BYTES + (machineBytes >>> KASAN_SHADOW_SCALE_SHIFT);
  }

  // ---- state as a whole: the explorer resets it with the machine, one copy each ----

  /** Everything accessible, no records (the header stays). */
  reset(): void {
    this.all.fill(0, HDR_BYTES);
    this.u32[H_HEAD] = 0;
  }

  /** A copy of the whole shadow state, for `restore`. */
  snapshot(): Uint8Array {
    return this.all.slice();
  }

  /** Put back a `snapshot()` of this shadow (one set(), as the machine's own reset). */
  restore(snap: Uint8Array): void {
    if (snap.length !== this.all.length) throw new RangeError(`KasanShadow.restore: snapshot of ${snap.length} bytes, shadow has ${this.all.length}`);
    this.all.set(snap);
  }

  // ---- marking (kasan_unpoison / kasan_poison) ----

  /**
   * kasan_slab_alloc() / kasan_kmalloc(): `size` bytes at `addr` (granule-aligned) accessible, the
   * last granule partly; [addr + size, addr + region) a redzone (KASAN_PAGE_REDZONE for a large
   * kmalloc, KASAN_SLAB_REDZONE otherwise). Records who allocated it.
   */
  markAlloc(addr: number, size: number, cpu: number, site: number, cache = 0, region = size): void {
    this.unpoison(addr, size);
    const end = (addr + size + GRANULE_MASK) & ~GRANULE_MASK;
    if (addr + region > end) this.poison(end, addr + region - end, cache === KASAN_LARGE_KMALLOC ? KASAN_PAGE_REDZONE : KASAN_SLAB_REDZONE);
    this.record(KasanRec.SLAB_ALLOC, addr, size, cache, cpu, site);
  }

  /**
   * kasan_slab_free() (KASAN_SLAB_FREE), or kasan_kfree_large() for KASAN_LARGE_KMALLOC
   * (KASAN_PAGE_FREE): the object's `size` bytes, rounded up to the granule. Records who freed it.
   */
  markFree(addr: number, size: number, cpu: number, site: number, cache = 0): void {
    this.poison(addr, size, cache === KASAN_LARGE_KMALLOC ? KASAN_PAGE_FREE : KASAN_SLAB_FREE);
    this.record(KasanRec.SLAB_FREE, addr, size, cache, cpu, site);
  }

  /** kasan_unpoison_pages(): a block of 2^order pages at `pageAddr` (its direct-map address). */
  markPageAlloc(pageAddr: number, order: number, cpu: number, site: number): void {
    const bytes = this.pageSize << order;
    this.unpoison(pageAddr, bytes);
    this.record(KasanRec.PAGE_ALLOC, pageAddr, bytes, order, cpu, site);
  }

  /**
   * kasan_poison_pages(): KASAN_PAGE_FREE over the block, except granules already KASAN_SLAB_FREE
   * (the quarantine stand-in: see the file comment).
   */
  markPageFree(pageAddr: number, order: number, cpu: number, site: number): void {
    const bytes = this.pageSize << order;
    this.checkRange(pageAddr, bytes);
    const sh = this.shadow;
    const g1 = (pageAddr + bytes) >>> KASAN_SHADOW_SCALE_SHIFT;
    for (let g = pageAddr >>> KASAN_SHADOW_SCALE_SHIFT; g < g1; g++) if (sh[g] !== KASAN_SLAB_FREE) sh[g] = KASAN_PAGE_FREE;
    this.record(KasanRec.PAGE_FREE, pageAddr, bytes, order, cpu, site);
  }

  /** kasan_poison_slab(): a new slab of 2^order pages at `addr`, every object a redzone until allocated. */
  markSlabNew(addr: number, order: number): void {
    this.poison(addr, this.pageSize << order, KASAN_SLAB_REDZONE);
  }

  /** kasan_poison(): `size` bytes from granule-aligned `addr`, rounded up to whole granules. */
  poison(addr: number, size: number, value: number): void {
    if (size <= 0) return;
    this.checkRange(addr, size);
    this.shadow.fill(value, addr >>> KASAN_SHADOW_SCALE_SHIFT, (addr + size + GRANULE_MASK) >>> KASAN_SHADOW_SCALE_SHIFT);
  }

  /** kasan_unpoison(): `size` bytes from granule-aligned `addr`; the last granule partly (1…7). */
  unpoison(addr: number, size: number): void {
    if (size <= 0) return;
    this.checkRange(addr, size);
    const g0 = addr >>> KASAN_SHADOW_SCALE_SHIFT;
    const whole = size >>> KASAN_SHADOW_SCALE_SHIFT;
    this.shadow.fill(0, g0, g0 + whole);
    if ((size & GRANULE_MASK) !== 0) this.shadow[g0 + whole] = size & GRANULE_MASK;
  }

  private checkRange(addr: number, size: number): void {
    if ((addr & GRANULE_MASK) !== 0 || addr < 0 || addr + size > this.machineBytes) {
      throw new RangeError(`KasanShadow: [0x${addr.toString(16)}, +${size}) is not a granule-aligned range of the machine`);
    }
  }

  // ---- the side table ----

  private record(kind: KasanRec, start: number, size: number, cache: number, cpu: number, site: number): void {
    const slot = Atomics.add(this.u32, H_HEAD, 1) & (this.nrRecords - 1);
    const w = this.recWord + slot * REC_WORDS;
    const u32 = this.u32;
    u32[w] = start;
    u32[w + 1] = size;
    u32[w + 2] = cache;
    u32[w + 3] = (kind | ((cpu & 0xff) << REC_CPU_SHIFT) | ((site & 0xffff) << REC_SITE_SHIFT)) >>> 0;
  }

  /** Records written since the last reset (the ring keeps the last nrRecords of them). */
  get recordsWritten(): number {
    return this.u32[H_HEAD]!;
  }

  /**
   * The newest record (skipping the first `skip` matches) for which `match` holds, searching back
   * from the last one written. For reports: a linear walk of the ring.
   */
  findRecord(match: (r: KasanRecord) => boolean, skip = 0): KasanRecord | null {
    const head = this.u32[H_HEAD]!;
    const n = Math.min(head, this.nrRecords);
    const u32 = this.u32;
    for (let i = 1; i <= n; i++) {
      const w = this.recWord + ((head - i) & (this.nrRecords - 1)) * REC_WORDS;
      const meta = u32[w + 3]!;
      const r: KasanRecord = {
        kind: (meta & 0xff) as KasanRec,
        start: u32[w]!,
        size: u32[w + 1]!,
        cache: u32[w + 2]!,
        cpu: (meta >>> REC_CPU_SHIFT) & 0xff,
        site: meta >>> REC_SITE_SHIFT,
      };
      if (match(r) && skip-- === 0) return r;
    }
    return null;
  }

  // ---- checking (kasan_check_range) ----

  /** The shadow byte of the granule holding `addr` (addr inside the machine). */
  shadowByte(addr: number): number {
    return this.shadow[addr >>> KASAN_SHADOW_SCALE_SHIFT]!;
  }

  /** memory_is_poisoned(): would an access of `size` bytes at `addr` touch a bad byte? */
  isPoisoned(addr: number, size: number): boolean {
    if (addr < this.nullLimit || addr + size > this.machineBytes) return true;
    const sh = this.shadow;
    const last = addr + size - 1;
    const g1 = last >>> KASAN_SHADOW_SCALE_SHIFT;
    for (let g = addr >>> KASAN_SHADOW_SCALE_SHIFT; g <= g1; g++) {
      const s = sh[g]!;
      if (s === 0) continue;
      // A partly accessible granule: bad if the access reaches byte s or beyond in it.
      if (s >= KASAN_GRANULE_SIZE) return true;
      const hi = g === g1 ? last & GRANULE_MASK : GRANULE_MASK;
      if (hi >= s) return true;
    }
    return false;
  }

  /**
   * kasan_check_range(): null when every byte of the access is accessible, else KASAN's report
   * text for it (mm/kasan/report.c). `cpu` is the accessing CPU (task ppemu/<cpu>); `site` the
   * function doing the access, a Point id or a name.
   */
  check(addr: number, size: number, write: boolean, cpu: number, site: number | string): string | null {
    if (size <= 0 || !this.isPoisoned(addr, size)) return null;
    return formatAccessReport(this, addr, size, write, cpu, siteName(site));
  }
}
