/**
 * The simulated device and the DMA API over it: dma_map_page_attrs, dma_unmap_page_attrs,
 * dma_sync_single_for_{device,cpu}, dma_mapping_error, and the driver unbind that tears the IOMMU
 * domain down.
 *
 *  struct ppemu_device (kmalloc'ed; on iommu->devices):
 *  ╒════════════════════════════════╤══════════════════════════════════════════════════════════╕
 *  │ node (list_head)               │ link on the IOMMU's device list                          │
 *  │ id, bound, name[16]            │ bound = 0 once the driver unbound (the struct stays)     │
 *  │ domain (ppemu_iommu_domain)    │ pgd, IOVA high-water mark, free lists (see iommu.ts)     │
 *  │ maps, unmaps, syncs (u64)      │ successful DMA API calls                                 │
 *  │ live                           │ mappings present in the table                            │
 *  │ unmap_after_unbind … outlived  │ violations, one counter per kind (every one counted)     │
 *  │ dd_leak_addr, dd_leak_size     │ the entry dma-debug named in the unbind report           │
 *  │ need_sync                      │ dma_dev_need_sync()                                      │
 *  │ iova_rbtree_lock (spinlock_t)  │ the domain's lock (SMP, below); in the tail padding      │
 *  ╘════════════════════════════════╧══════════════════════════════════════════════════════════╛
 *
 * DMA_MAPPING_ERROR is 0 here, not the kernel's ~0: page_pool stores the dma address in
 * `page->dma_addr`, where 0 means "not mapped", and IOVA 0 is never allocated, so 0 can be nothing
 * but a failure. `dmaMappingError()` tests for it. dma_addr_t values are u32 (IOVAs stay below 2^32).
 *
 * Violations are recorded, never thrown (except in strict mode, by mem.diag): after unbind the
 * translation is gone, so an unmap or sync is counted and touches nothing; an unmap of an IOVA whose
 * head entry says "was mapped, now unmapped" is a double unmap; anything else not present is an
 * unknown IOVA (counted with the unmaps; a sync has its own dma-debug text). The diag's `b` is the
 * device id.
 *
 * Two sources of diagnostics, kept apart (src/mem/diag.ts origins):
 *  - dma-debug (CONFIG_DMA_API_DEBUG, kernel/dma/debug.c): double / unknown unmaps (check_unmap),
 *    unknown syncs (check_sync), and at unbind ONE report per device (dma_debug_device_change on
 *    BUS_NOTIFY_UNBOUND_DRIVER: "[count=N]" and one of the entries). All of them go through
 *    err_printk(): error_count++, printed only while show_num_errors > 0 (1 at boot, decremented by
 *    each error) or all_errors is set — so by default only the first dma-debug error of the whole
 *    machine is printed. That state lives in the IOMMU root (`dd_*`); a diag is recorded only for
 *    what is printed, the device counters count everything. dma-debug does not remove the entries
 *    it reports at unbind: in the kernel a later unmap of one of them finds it and is silent (and
 *    a second unmap of it would be an error the emulator does not report, its domain being gone).
 *  - the emulator's IOMMU: any DMA call through an unbound device, a `ppemu:` line each, always.
 *
 * SMP (a worker thread attached to the same SharedArrayBuffer is another CPU):
 *  - `iova_rbtree_lock` (the kernel's `iova_domain.iova_rbtree_lock`, per domain; it also stands
 *    for dma-debug's hash-bucket lock, because the emulator's dma-debug entries ARE the domain's
 *    head ioptes — HEAD|UNMAPPED is dma-debug remembering a freed entry) serialises, per device:
 *    the `bound` test and its clearing at unbind, IOVA allocation and free, the high-water mark, the
 *    iopte writes of map and unmap, the lookup an unmap or sync makes, `live`, and the teardown.
 *    So two CPUs unmapping one IOVA are ordered: the second finds the entry HEAD|UNMAPPED under the
 *    lock and is counted as a double unmap; an unmap racing unbind is either before it (a normal
 *    unmap, `live` - 1) or after it (unmap_after_unbind, `live` untouched): `live` cannot wrap.
 *    Diagnostics are recorded after the lock is dropped (a strict machine throws from mem.diag).
 *    Lock order: caller's locks (item_lock, xa_lock) → iova_rbtree_lock → zone->lock.
 *  - counters: every read-modify-write is an Atomics operation. `maps`, `unmaps`, `syncs` stay u64
 *    (lo/hi): Atomics.add on the low word, and the one CPU whose add returned 0xffffffff carries
 *    into the high word, so the count is exact; a reader racing that carry could see it 2^32 short
 *    for an instant (deviceStats retries while the high word moves). They are bumped after the lock
 *    is dropped. `live` (u32) changes only under the lock, with Atomics so lockless readers load
 *    it whole. The violation counters are u32 (Atomics.add); the IOMMU's machine-wide counters
 *    (nr_devices, nr_bound, table_pages, dma-debug's error_count / show_num_errors) are shared by
 *    every device's lock and change with Atomics only (show_num_errors with a CAS, so exactly the
 *    first num_errors errors of the machine print).
 *  - not locked: the IOMMU's device list (deviceCreate / deviceDestroy, control path, one CPU).
 */
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf, m, struct, array, U8, U32, U64T, LIST_HEAD, SPINLOCK_T } from "../mem/ctype.js";
import { spinLock, spinUnlock } from "../smp/spinlock.js";
import { Diag, encodeDiagSize, type DiagResolver } from "../mem/diag.js";
import { MACH_IOMMU, type PhysMem } from "../mem/physmem.js";
import type { PageAlloc } from "../mem/buddy.js";
import type { Slab } from "../mem/slab.js";
import type { Machine } from "../mem/machine.js";
import type { FrameClaimer, FrameClaims } from "../mem/accounting.js";
import {
  STRUCT_PPEMU_IOMMU_DOMAIN,
  DOMAIN_PGD,
  DOMAIN_IOVA_HWM,
  DOMAIN_TABLE_PAGES,
  IOMMU_DEVICES,
  IOMMU_NR_DEVICES,
  IOMMU_NR_BOUND,
  IOMMU_DD_ERROR_COUNT,
  IOMMU_DD_ALL_ERRORS,
  IOMMU_DD_NUM_ERRORS,
  IOPTE_PFN,
  IOPTE_LEN,
  IOPTE_FLAGS,
  IOPTE_NEXT,
  IOPTE_PRESENT,
  IOPTE_HEAD,
  IOPTE_UNMAPPED,
  IOPTE_SKIP_CPU_SYNC,
  IOPTE_DIR_SHIFT,
  IOPTE_DIR_MASK,
  IOPTE_ORDER_SHIFT,
  IOPTE_ORDER_MASK,
  IOPTE_OFFSET_SHIFT,
  NR_IOVA_ORDERS,
  IommuTable,
  iommuInit,
  iommuGeometry,
  pgdOrder,
  PGD_SLOT_SIZE,
} from "./iommu.js";

/** enum dma_data_direction (include/linux/dma-direction.h). */
export const DMA_BIDIRECTIONAL = 0;
export const DMA_TO_DEVICE = 1;
export const DMA_FROM_DEVICE = 2;
export const DMA_NONE = 3;
/** include/linux/dma-mapping.h: `#define DMA_ATTR_SKIP_CPU_SYNC (1UL << 5)`. */
export const DMA_ATTR_SKIP_CPU_SYNC = 1 << 5;
/** The emulator's mapping error: 0 (the kernel's is ~0; see the file comment). */
export const DMA_MAPPING_ERROR = 0;

export const DEVICE_NAME_LEN = 16;

export const STRUCT_PPEMU_DEVICE = struct("ppemu_device", [
  m("node", LIST_HEAD),
  m("id", U32),
  m("bound", U32),
  m("name", array(U8, DEVICE_NAME_LEN)),
  m("domain", STRUCT_PPEMU_IOMMU_DOMAIN),
  m("maps", U64T),
  m("unmaps", U64T),
  m("syncs", U64T),
  m("live", U32),
  m("unmap_after_unbind", U32),
  m("sync_after_unbind", U32),
  m("double_unmap", U32),
  m("unmap_unknown", U32),
  m("outlived_driver", U32),
  m("dd_leak_addr", U32),
  m("dd_leak_size", U32),
  /**
   * `dma_dev_need_sync()`: non-zero for a device whose DMA needs explicit syncs (non-coherent, or
   * bouncing through swiotlb); 0 for a cache-coherent device, which v6.11+ page_pool never syncs.
   */
  m("need_sync", U32),
  /**
   * `iova_domain.iova_rbtree_lock` of `domain` (see the file comment for what it covers). It sits in
   * what was the struct's tail padding, so no other offset moved, and an older image reads 0
   * (unlocked) here.
   */
  m("iova_rbtree_lock", SPINLOCK_T),
]);

export const DEVICE_LAYOUT = layoutOf(STRUCT_PPEMU_DEVICE, LP64);
export const DEVICE_SIZE = DEVICE_LAYOUT.size;
export const DEV_NODE = offsetOf(DEVICE_LAYOUT, "node");
export const DEV_ID = offsetOf(DEVICE_LAYOUT, "id");
export const DEV_BOUND = offsetOf(DEVICE_LAYOUT, "bound");
export const DEV_NAME = offsetOf(DEVICE_LAYOUT, "name");
export const DEV_DOMAIN = offsetOf(DEVICE_LAYOUT, "domain");
export const DEV_MAPS = offsetOf(DEVICE_LAYOUT, "maps");
export const DEV_UNMAPS = offsetOf(DEVICE_LAYOUT, "unmaps");
export const DEV_SYNCS = offsetOf(DEVICE_LAYOUT, "syncs");
export const DEV_LIVE = offsetOf(DEVICE_LAYOUT, "live");
export const DEV_NEED_SYNC = offsetOf(DEVICE_LAYOUT, "need_sync");
export const DEV_UNMAP_AFTER_UNBIND = offsetOf(DEVICE_LAYOUT, "unmap_after_unbind");
export const DEV_SYNC_AFTER_UNBIND = offsetOf(DEVICE_LAYOUT, "sync_after_unbind");
export const DEV_DOUBLE_UNMAP = offsetOf(DEVICE_LAYOUT, "double_unmap");
export const DEV_UNMAP_UNKNOWN = offsetOf(DEVICE_LAYOUT, "unmap_unknown");
export const DEV_OUTLIVED_DRIVER = offsetOf(DEVICE_LAYOUT, "outlived_driver");
export const DEV_DD_LEAK_ADDR = offsetOf(DEVICE_LAYOUT, "dd_leak_addr");
export const DEV_DD_LEAK_SIZE = offsetOf(DEVICE_LAYOUT, "dd_leak_size");
export const DEV_IOVA_LOCK = offsetOf(DEVICE_LAYOUT, "iova_rbtree_lock");

/** `u64 += 1` from any CPU (see the file comment): exact, the carry applied once by whoever wrapped the low word. */
function atomicInc64(u32: Uint32Array, addr: number): void {
  const i = addr >>> 2;
  if (Atomics.add(u32, i, 1) === 0xffffffff) Atomics.add(u32, i + 1, 1);
}

/** A u64 counter below 2^53 read while other CPUs may bump it: the high word is read until it holds still. */
function atomicRd64(u32: Uint32Array, addr: number): number {
  const i = addr >>> 2;
  for (;;) {
    const hi = Atomics.load(u32, i + 1);
    const lo = Atomics.load(u32, i);
    if (Atomics.load(u32, i + 1) === hi) return hi * 0x1_0000_0000 + lo;
  }
}

/** What an unmap or sync found under the lock; the counters and diags follow after the unlock. */
const OUTCOME_OK = 0;
const OUTCOME_AFTER_UNBIND = 1;
const OUTCOME_DOUBLE = 2;
const OUTCOME_UNKNOWN = 3;

/** dma-debug's hash (kernel/dma/debug.c): `HASH_SIZE` 16384 buckets, index `(dev_addr >> 13) & 16383`. */
const DD_HASH_FN_SHIFT = 13;
const DD_HASH_FN_MASK = 16384 - 1;

/** The machine's dma-debug state (debugfs dma-api/error_count, all_errors, num_errors). */
export interface DmaDebugState {
  readonly errorCount: number;
  readonly allErrors: boolean;
  readonly numErrors: number;
}

export interface DeviceStats {
  readonly id: number;
  readonly name: string;
  readonly bound: boolean;
  readonly maps: number;
  readonly unmaps: number;
  readonly syncs: number;
  readonly live: number;
  readonly unmapAfterUnbind: number;
  readonly syncAfterUnbind: number;
  readonly doubleUnmap: number;
  readonly unmapUnknown: number;
  /** Mappings present when the driver unbound (the dma-debug report's count). */
  readonly outlivedDriver: number;
  /** Pages of IOMMU table the domain holds now (0 after unbind). */
  readonly tablePages: number;
}

/** One live mapping, as `forEachMapping` reports it. */
export interface MappingInfo {
  /** The dma address dma_map_page returned. */
  readonly dmaAddr: number;
  /** First physical pfn translated. */
  readonly pfn: number;
  readonly size: number;
  readonly dir: number;
  /** Order of the IOVA block (2^order IOVA pages). */
  readonly order: number;
  /** The iopte address of the head entry. */
  readonly pte: number;
}

/** The DMA API of the machine. Holds geometry only; every device's state is in the buffer. */
export class Dma {
  readonly mem: PhysMem;
  readonly pa: PageAlloc;
  readonly slab: Slab;
  /** The machine's struct ppemu_iommu. */
  readonly iommu: number;
  readonly table: IommuTable;
  readonly pageShift: number;
  readonly pageSize: number;

  constructor(mach: Machine) {
    this.mem = mach.mem;
    this.pa = mach.pa;
    this.slab = mach.slab;
    const existing = mach.mem.rdPtr(mach.mem.machine + MACH_IOMMU);
    this.iommu = existing !== 0 ? existing : iommuInit(mach);
    if (this.iommu === 0) throw new Error("ppemu: out of memory allocating the IOMMU");
    this.table = new IommuTable(mach.mem, mach.pa, this.iommu);
    this.pageShift = mach.mem.pageShift;
    mach.mem.diagResolver = dmaDiagResolver(mach.mem);
    this.pageSize = mach.mem.pageSize;
  }

  // ---- device lifetime ----

  /** Probe a device: kmalloc its struct, attach an empty IOMMU domain, mark it bound. 0 on ENOMEM. */
  /**
   * A device behind the IOMMU, its driver bound. `coherent: true` is a cache-coherent device
   * (typical x86): `dma_dev_need_sync()` is false for it. Default false: a device that needs syncs.
   */
  deviceCreate(name = "", opts: { readonly coherent?: boolean } = {}): number {
    const mem = this.mem;
    const dev = this.slab.kmalloc(DEVICE_SIZE);
    if (dev === 0) return 0;
    for (let o = 0; o < DEVICE_SIZE; o += 4) mem.wr32(dev + o, 0);
    if (!this.table.domainInit(dev + DEV_DOMAIN)) {
      this.slab.kfree(dev);
      return 0;
    }
    const id = mem.nextId();
    mem.wr32(dev + DEV_ID, id);
    const label = name || `ppemu${id}`;
    for (let i = 0; i < DEVICE_NAME_LEN - 1 && i < label.length; i++) mem.u8[dev + DEV_NAME + i] = label.charCodeAt(i) & 0x7f;
    mem.wr32(dev + DEV_BOUND, 1);
    mem.wr32(dev + DEV_NEED_SYNC, opts.coherent === true ? 0 : 1);
    mem.listAddTail(dev + DEV_NODE, this.iommu + IOMMU_DEVICES);
    this.bumpIommu(IOMMU_NR_DEVICES, 1);
    this.bumpIommu(IOMMU_NR_BOUND, 1);
    return dev;
  }

  // ---- dma-debug's err_printk() ----

  /**
   * `err_printk()`: error_count += 1; print (record the diag) if all_errors or num_errors > 0;
   * then, unless all_errors, num_errors -= 1 while above 0. (The driver filter is not modelled.)
   */
  private dmaDebugError(kind: Diag, a: number, b: number, c: number): void {
    const u32 = this.mem.u32;
    const io = this.iommu;
    Atomics.add(u32, (io + IOMMU_DD_ERROR_COUNT) >>> 2, 1);
    let print = Atomics.load(u32, (io + IOMMU_DD_ALL_ERRORS) >>> 2) !== 0;
    if (!print) {
      // show_num_errors -= 1 while above 0, as one step: of CPUs erring at once, exactly as many
      // print as there were errors left to show.
      const w = (io + IOMMU_DD_NUM_ERRORS) >>> 2;
      for (let num = Atomics.load(u32, w); num !== 0; ) {
        const seen = Atomics.compareExchange(u32, w, num, num - 1);
        if (seen === num) {
          print = true;
          break;
        }
        num = seen;
      }
    }
    if (print) this.mem.diag(kind, a, b, c);
  }

  /** debugfs `dma-api/all_errors`: print every dma-debug error, not only the first `num_errors`. */
  setDmaDebugAllErrors(on: boolean): void {
    Atomics.store(this.mem.u32, (this.iommu + IOMMU_DD_ALL_ERRORS) >>> 2, on ? 1 : 0);
  }

  /** debugfs `dma-api/num_errors`: how many more dma-debug errors to print. */
  setDmaDebugNumErrors(n: number): void {
    Atomics.store(this.mem.u32, (this.iommu + IOMMU_DD_NUM_ERRORS) >>> 2, Math.max(0, Math.floor(n)) >>> 0);
  }

  dmaDebugState(): DmaDebugState {
    const u32 = this.mem.u32;
    return {
      errorCount: Atomics.load(u32, (this.iommu + IOMMU_DD_ERROR_COUNT) >>> 2),
      allErrors: Atomics.load(u32, (this.iommu + IOMMU_DD_ALL_ERRORS) >>> 2) !== 0,
      numErrors: Atomics.load(u32, (this.iommu + IOMMU_DD_NUM_ERRORS) >>> 2),
    };
  }

  /** Resolves device ids in diag records (names, dma-debug's entry) from the buffer. */
  diagResolver(): DiagResolver {
    return dmaDiagResolver(this.mem);
  }

  /** nr_devices / nr_bound: machine-wide, so atomic. */
  private bumpIommu(off: number, n: number): void {
    if (n >= 0) Atomics.add(this.mem.u32, (this.iommu + off) >>> 2, n);
    else Atomics.sub(this.mem.u32, (this.iommu + off) >>> 2, -n);
  }

  isBound(dev: number): boolean {
    return Atomics.load(this.mem.u32, (dev + DEV_BOUND) >>> 2) !== 0;
  }

  deviceId(dev: number): number {
    return this.mem.rd32(dev + DEV_ID);
  }

  deviceName(dev: number): string {
    return readDeviceName(this.mem, dev);
  }

  /** `dma_dev_need_sync(dev)`: whether a sync through this device does anything. */
  dmaDevNeedSync(dev: number): boolean {
    return dev !== 0 && this.mem.rd32(dev + DEV_NEED_SYNC) !== 0;
  }

  /**
   * The driver unbinds: every mapping still in the table outlives its driver (counted in
   * `outlived_driver`), and dma-debug reports them once, as dma_debug_device_change() does:
   * "[count=N]" plus the last entry device_dma_allocations() met walking its hash (highest bucket;
   * within a bucket the kernel keeps map order, the emulator takes the higher address). Then the
   * domain is torn down and its table pages go back to the page allocator. The device struct stays,
   * marked unbound, so later DMA calls through it are counted as violations.
   *
   * All of it, from the `bound` test to the teardown, runs under the device's iova_rbtree_lock: an
   * unmap on another CPU is wholly before (its mapping is not counted, `live` already lower) or
   * wholly after (unmap_after_unbind; it finds the domain gone and touches nothing), so the count
   * plus the unmaps before it is every mapping, and `live` ends at 0 without wrapping. The report
   * is printed after the unlock.
   */
  deviceUnbind(dev: number): void {
    const mem = this.mem;
    const u32 = mem.u32;
    const lock = dev + DEV_IOVA_LOCK;
    let count = 0;
    let pick: MappingInfo | null = null;
    spinLock(mem, lock);
    try {
      if (Atomics.load(u32, (dev + DEV_BOUND) >>> 2) === 0) return;
      let pickKey = -1;
      this.forEachMapping(dev, (mp) => {
        count++;
        const key = ((mp.dmaAddr >>> DD_HASH_FN_SHIFT) & DD_HASH_FN_MASK) * 2 ** 32 + mp.dmaAddr;
        if (key > pickKey) {
          pickKey = key;
          pick = mp;
        }
      });
      Atomics.add(u32, (dev + DEV_OUTLIVED_DRIVER) >>> 2, count);
      if (pick !== null) {
        const e: MappingInfo = pick;
        mem.wr32(dev + DEV_DD_LEAK_ADDR, e.dmaAddr);
        mem.wr32(dev + DEV_DD_LEAK_SIZE, e.size);
      }
      Atomics.store(u32, (dev + DEV_BOUND) >>> 2, 0);
      // Every mapping the table held is gone with the domain (they are in outlived_driver now).
      Atomics.store(u32, (dev + DEV_LIVE) >>> 2, 0);
      this.table.domainTeardown(dev + DEV_DOMAIN);
    } finally {
      spinUnlock(mem, lock);
    }
    this.bumpIommu(IOMMU_NR_BOUND, -1);
    if (pick !== null) {
      const e: MappingInfo = pick;
      this.dmaDebugError(Diag.DMA_DEBUG_PENDING, mem.rd32(dev + DEV_ID), count, e.dir & 3);
    }
  }

  /** Release the device struct (unbinding first if still bound). */
  deviceDestroy(dev: number): void {
    this.deviceUnbind(dev);
    this.mem.listDel(dev + DEV_NODE);
    this.bumpIommu(IOMMU_NR_DEVICES, -1);
    this.slab.kfree(dev);
  }

  /** Every device on the IOMMU's list, in creation order. */
  devices(): number[] {
    const mem = this.mem;
    const head = this.iommu + IOMMU_DEVICES;
    const out: number[] = [];
    for (let n = mem.rdPtr(head); n !== head; n = mem.rdPtr(n)) out.push(n - DEV_NODE);
    return out;
  }

  // ---- the DMA API (hot: no allocation, integer math on the buffer) ----

  /**
   * `dma_map_page_attrs()`: translate `size` bytes at `offset` in `page` through a fresh IOVA block
   * of roundup_pow_of_two(pages) pages. Returns the dma address (IOVA + offset in page) or
   * DMA_MAPPING_ERROR (0) when the device is unbound, the size is 0 or too large, or IOVA space or
   * table memory ran out.
   */
  dmaMapPage(dev: number, page: number, offset: number, size: number, dir: number, attrs: number): number {
    const mem = this.mem;
    const u32 = mem.u32;
    if (size <= 0) return DMA_MAPPING_ERROR;
    const shift = this.pageShift;
    const inPage = offset & (this.pageSize - 1);
    const pfn = mem.pageToPfn(page) + (offset >>> shift);
    const nrPages = (inPage + size + this.pageSize - 1) >>> shift;
    const order = nrPages === 1 ? 0 : 32 - Math.clz32(nrPages - 1);
    if (order >= NR_IOVA_ORDERS) return DMA_MAPPING_ERROR;
    const dom = dev + DEV_DOMAIN;
    const lock = dev + DEV_IOVA_LOCK;
    let iovaPfn = 0;
    spinLock(mem, lock);
    try {
      // `bound` is tested under the lock: unbind clears it and tears the domain down under it.
      if (Atomics.load(u32, (dev + DEV_BOUND) >>> 2) !== 0) iovaPfn = this.table.allocIova(dom, order);
      if (iovaPfn !== 0) {
        const pgd = mem.rdPtr(dom + DOMAIN_PGD);
        const common = ((dir & 0x3) << IOPTE_DIR_SHIFT) | (order << IOPTE_ORDER_SHIFT);
        const n = 1 << order;
        for (let i = 0; i < n; i++) {
          const e = this.table.pteBelowHwm(pgd, iovaPfn + i);
          mem.wr32(e + IOPTE_LEN, 0);
          mem.wr32(e + IOPTE_NEXT, 0);
          if (i < nrPages) {
            mem.wr32(e + IOPTE_PFN, pfn + i);
            if (i !== 0) Atomics.store(u32, (e + IOPTE_FLAGS) >>> 2, IOPTE_PRESENT | common);
          } else {
            // Padding of the power-of-two block: reserved, nothing translates here.
            mem.wr32(e + IOPTE_PFN, 0);
            Atomics.store(u32, (e + IOPTE_FLAGS) >>> 2, common);
          }
        }
        const head = this.table.pteBelowHwm(pgd, iovaPfn);
        mem.wr32(head + IOPTE_LEN, size);
        const skip = (attrs & DMA_ATTR_SKIP_CPU_SYNC) !== 0 ? IOPTE_SKIP_CPU_SYNC : 0;
        // The head's flags word publishes the mapping (dma-debug's entry): stored last.
        Atomics.store(u32, (head + IOPTE_FLAGS) >>> 2, (IOPTE_PRESENT | IOPTE_HEAD | skip | common | (inPage << IOPTE_OFFSET_SHIFT)) >>> 0);
        Atomics.add(u32, (dev + DEV_LIVE) >>> 2, 1);
      }
    } finally {
      spinUnlock(mem, lock);
    }
    if (iovaPfn === 0) return DMA_MAPPING_ERROR;
    atomicInc64(u32, dev + DEV_MAPS);
    return (((iovaPfn << shift) >>> 0) + inPage) >>> 0;
  }

  /** `dma_mapping_error()`. */
  dmaMappingError(_dev: number, dmaAddr: number): boolean {
    return dmaAddr === DMA_MAPPING_ERROR;
  }

  /**
   * `dma_unmap_page_attrs()`: drop the mapping whose head IOVA page holds `dmaAddr` and free its
   * IOVA block. Through an unbound device, on an IOVA already unmapped, or on one that heads no
   * mapping, it records the violation and changes nothing else. (dma-debug's size and direction
   * checks are not modelled.)
   */
  dmaUnmapPage(dev: number, dmaAddr: number, size: number, _dir: number, _attrs: number): void {
    const mem = this.mem;
    const u32 = mem.u32;
    const dom = dev + DEV_DOMAIN;
    const iovaPfn = dmaAddr >>> this.pageShift;
    const lock = dev + DEV_IOVA_LOCK;
    let outcome = OUTCOME_OK;
    spinLock(mem, lock);
    // Nothing in here can throw: plain loads and stores on the table, no allocation, no diag.
    if (Atomics.load(u32, (dev + DEV_BOUND) >>> 2) === 0) {
      outcome = OUTCOME_AFTER_UNBIND;
    } else {
      const e = this.headPte(dom, iovaPfn);
      const flags = e === 0 ? 0 : mem.rd32(e + IOPTE_FLAGS);
      if ((flags & (IOPTE_PRESENT | IOPTE_HEAD)) !== (IOPTE_PRESENT | IOPTE_HEAD)) {
        // dma-debug's check_unmap: an entry it remembers as freed, or none at all.
        outcome = (flags & (IOPTE_HEAD | IOPTE_UNMAPPED)) === (IOPTE_HEAD | IOPTE_UNMAPPED) ? OUTCOME_DOUBLE : OUTCOME_UNKNOWN;
      } else {
        const order = (flags & IOPTE_ORDER_MASK) >>> IOPTE_ORDER_SHIFT;
        const pgd = mem.rdPtr(dom + DOMAIN_PGD);
        const n = 1 << order;
        for (let i = 1; i < n; i++) {
          const t = this.table.pteBelowHwm(pgd, iovaPfn + i);
          Atomics.store(u32, (t + IOPTE_FLAGS) >>> 2, mem.rd32(t + IOPTE_FLAGS) & ~IOPTE_PRESENT);
        }
        Atomics.store(u32, (e + IOPTE_FLAGS) >>> 2, ((flags & ~IOPTE_PRESENT) | IOPTE_UNMAPPED) >>> 0);
        this.table.freeIova(dom, iovaPfn, order);
        Atomics.sub(u32, (dev + DEV_LIVE) >>> 2, 1);
      }
    }
    spinUnlock(mem, lock);
    if (outcome === OUTCOME_OK) {
      atomicInc64(u32, dev + DEV_UNMAPS);
    } else if (outcome === OUTCOME_AFTER_UNBIND) {
      Atomics.add(u32, (dev + DEV_UNMAP_AFTER_UNBIND) >>> 2, 1);
      mem.diag(Diag.DMA_UNMAP_AFTER_UNBIND, dmaAddr, mem.rd32(dev + DEV_ID));
    } else if (outcome === OUTCOME_DOUBLE) {
      Atomics.add(u32, (dev + DEV_DOUBLE_UNMAP) >>> 2, 1);
      this.dmaDebugError(Diag.DMA_DOUBLE_UNMAP, dmaAddr, mem.rd32(dev + DEV_ID), encodeDiagSize(size));
    } else {
      this.unknown(dev, Diag.DMA_UNMAP_UNKNOWN, dmaAddr, size);
    }
  }

  /** The iopte of IOVA page `iovaPfn` of the domain, or 0 when it lies outside what was ever allocated (under the lock). */
  private headPte(dom: number, iovaPfn: number): number {
    return iovaPfn === 0 || iovaPfn >= this.mem.rd32(dom + DOMAIN_IOVA_HWM) ? 0 : this.table.pte(dom, iovaPfn);
  }

  /** An unmap or sync of an IOVA dma-debug has no entry for: both count in `unmap_unknown`. */
  private unknown(dev: number, kind: Diag, dmaAddr: number, size: number): void {
    const mem = this.mem;
    Atomics.add(mem.u32, (dev + DEV_UNMAP_UNKNOWN) >>> 2, 1);
    this.dmaDebugError(kind, dmaAddr, mem.rd32(dev + DEV_ID), encodeDiagSize(size));
  }

  /**
   * The shared check of both sync directions: the IOVA page must translate. dma-debug's check_sync
   * looks its entry up under the bucket lock; here that is the iova_rbtree_lock, which also orders
   * the lookup against an unbind tearing the table down.
   */
  private sync(dev: number, dmaAddr: number, size: number): void {
    const mem = this.mem;
    const u32 = mem.u32;
    const dom = dev + DEV_DOMAIN;
    const iovaPfn = dmaAddr >>> this.pageShift;
    const lock = dev + DEV_IOVA_LOCK;
    let outcome = OUTCOME_OK;
    spinLock(mem, lock);
    if (Atomics.load(u32, (dev + DEV_BOUND) >>> 2) === 0) {
      outcome = OUTCOME_AFTER_UNBIND;
    } else {
      const e = this.headPte(dom, iovaPfn);
      if (e === 0 || (mem.rd32(e + IOPTE_FLAGS) & IOPTE_PRESENT) === 0) outcome = OUTCOME_UNKNOWN;
    }
    spinUnlock(mem, lock);
    if (outcome === OUTCOME_OK) {
      atomicInc64(u32, dev + DEV_SYNCS);
    } else if (outcome === OUTCOME_AFTER_UNBIND) {
      Atomics.add(u32, (dev + DEV_SYNC_AFTER_UNBIND) >>> 2, 1);
      mem.diag(Diag.DMA_SYNC_AFTER_UNBIND, dmaAddr, mem.rd32(dev + DEV_ID));
    } else {
      this.unknown(dev, Diag.DMA_SYNC_UNKNOWN, dmaAddr, size);
    }
  }

  /** `dma_sync_single_for_device()`. `dmaAddr` may point anywhere inside a live mapping. */
  dmaSyncSingleForDevice(dev: number, dmaAddr: number, size: number, _dir: number): void {
    this.sync(dev, dmaAddr, size);
  }

  /** `dma_sync_single_for_cpu()`. */
  dmaSyncSingleForCpu(dev: number, dmaAddr: number, size: number, _dir: number): void {
    this.sync(dev, dmaAddr, size);
  }

  /** `iommu_iova_to_phys()`: the physical address a dma address translates to, 0 when none. */
  iovaToPhys(dev: number, dmaAddr: number): number {
    const mem = this.mem;
    const u32 = mem.u32;
    const dom = dev + DEV_DOMAIN;
    const iovaPfn = dmaAddr >>> this.pageShift;
    // Lockless, like the kernel's page-table walk (see iommu.ts): the words that publish are loaded
    // with Atomics, the pfn after PRESENT.
    if (iovaPfn === 0 || iovaPfn >= Atomics.load(u32, (dom + DOMAIN_IOVA_HWM) >>> 2)) return 0;
    const e = this.table.pte(dom, iovaPfn);
    if (e === 0 || (Atomics.load(u32, (e + IOPTE_FLAGS) >>> 2) & IOPTE_PRESENT) === 0) return 0;
    return ((mem.rd32(e + IOPTE_PFN) << this.pageShift) >>> 0) + (dmaAddr & (this.pageSize - 1));
  }

  /** The iopte address for a dma address, 0 when the domain has no entry there. */
  ptePtr(dev: number, dmaAddr: number): number {
    return this.table.pte(dev + DEV_DOMAIN, dmaAddr >>> this.pageShift);
  }

  // ---- reports (not hot) ----

  /** The frame-accounting claimer of the IOMMU (see `iommuFrameClaimer`). */
  claimer(): FrameClaimer {
    return iommuFrameClaimer;
  }

  liveMappings(dev: number): number {
    return Atomics.load(this.mem.u32, (dev + DEV_LIVE) >>> 2);
  }

  /**
   * Visit every live mapping (head entries with PRESENT), in IOVA order. Takes no lock (reports,
   * explain, and deviceUnbind, which calls it with the lock held): on a machine whose other CPUs are
   * mapping it is a snapshot of nothing in particular. The callback must not call the DMA API.
   */
  forEachMapping(dev: number, cb: (mp: MappingInfo) => void): void {
    const mem = this.mem;
    const dom = dev + DEV_DOMAIN;
    const pgd = mem.rdPtr(dom + DOMAIN_PGD);
    if (pgd === 0) return;
    const hwm = mem.rd32(dom + DOMAIN_IOVA_HWM);
    for (let p = 1; p < hwm; p++) {
      const e = this.table.pteBelowHwm(pgd, p);
      const f = mem.rd32(e + IOPTE_FLAGS);
      if ((f & (IOPTE_PRESENT | IOPTE_HEAD)) !== (IOPTE_PRESENT | IOPTE_HEAD)) continue;
      cb({
        dmaAddr: (((p << this.pageShift) >>> 0) + (f >>> IOPTE_OFFSET_SHIFT)) >>> 0,
        pfn: mem.rd32(e + IOPTE_PFN),
        size: mem.rd32(e + IOPTE_LEN),
        dir: (f & IOPTE_DIR_MASK) >>> IOPTE_DIR_SHIFT,
        order: (f & IOPTE_ORDER_MASK) >>> IOPTE_ORDER_SHIFT,
        pte: e,
      });
    }
  }

  /** Each counter loaded whole (Atomics); the set is not one snapshot while other CPUs run. */
  deviceStats(dev: number): DeviceStats {
    const mem = this.mem;
    const u32 = mem.u32;
    const ld = (off: number): number => Atomics.load(u32, (dev + off) >>> 2);
    return {
      id: ld(DEV_ID),
      name: this.deviceName(dev),
      bound: ld(DEV_BOUND) !== 0,
      maps: atomicRd64(u32, dev + DEV_MAPS),
      unmaps: atomicRd64(u32, dev + DEV_UNMAPS),
      syncs: atomicRd64(u32, dev + DEV_SYNCS),
      live: ld(DEV_LIVE),
      unmapAfterUnbind: ld(DEV_UNMAP_AFTER_UNBIND),
      syncAfterUnbind: ld(DEV_SYNC_AFTER_UNBIND),
      doubleUnmap: ld(DEV_DOUBLE_UNMAP),
      unmapUnknown: ld(DEV_UNMAP_UNKNOWN),
      outlivedDriver: ld(DEV_OUTLIVED_DRIVER),
      tablePages: ld(DEV_DOMAIN + DOMAIN_TABLE_PAGES),
    };
  }
}

function readDeviceName(mem: PhysMem, dev: number): string {
  let s = "";
  for (let i = 0; i < DEVICE_NAME_LEN; i++) {
    const c = mem.u8[dev + DEV_NAME + i]!;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * A `DiagResolver` over the buffer: walks the machine's iommu->devices for the id. A device
 * already destroyed (kfree'd) resolves to nothing, and formatDiag falls back to `ppemu<id>`.
 */
export function dmaDiagResolver(mem: PhysMem): DiagResolver {
  const find = (id: number): number => {
    const iommu = mem.rdPtr(mem.machine + MACH_IOMMU);
    if (iommu === 0) return 0;
    const head = iommu + IOMMU_DEVICES;
    let guard = 0;
    for (let n = mem.rdPtr(head); n !== head && n !== 0 && guard++ < mem.nrFrames; n = mem.rdPtr(n)) {
      if (mem.rd32(n - DEV_NODE + DEV_ID) === id >>> 0) return n - DEV_NODE;
    }
    return 0;
  };
  return {
    deviceName(id) {
      const dev = find(id);
      return dev === 0 ? undefined : readDeviceName(mem, dev);
    },
    dmaDebugLeak(id) {
      const dev = find(id);
      if (dev === 0 || mem.rd32(dev + DEV_DD_LEAK_ADDR) === 0) return undefined;
      return { dmaAddr: mem.rd32(dev + DEV_DD_LEAK_ADDR), size: mem.rd32(dev + DEV_DD_LEAK_SIZE) };
    },
  };
}

export const CLASS_IOMMU_TABLES = "iommu tables";

/**
 * Frame accounting (src/mem/accounting.ts): every table page (pgd and leaves) of every device on
 * the machine's IOMMU, found by walking iommu->devices and each domain's pgd, is claimed as
 * "iommu tables". The iommu and device structs are kmalloc objects (class "slab").
 */
export const iommuFrameClaimer: FrameClaimer = (c: FrameClaims) => {
  const mem = c.mem;
  const iommu = mem.rdPtr(mem.machine + MACH_IOMMU);
  if (iommu === 0) return;
  const { pgdEntries } = iommuGeometry(mem, iommu);
  const pgdFrames = 1 << pgdOrder(pgdEntries, mem.pageShift);
  const head = iommu + IOMMU_DEVICES;
  let guard = 0;
  for (let n = mem.rdPtr(head); n !== head && n !== 0 && guard++ < mem.nrFrames; n = mem.rdPtr(n)) {
    const pgd = mem.rdPtr(n - DEV_NODE + DEV_DOMAIN + DOMAIN_PGD);
    if (pgd === 0) continue;
    c.claim(mem.virtToPfn(pgd), pgdFrames, CLASS_IOMMU_TABLES);
    for (let l = 0; l < pgdEntries; l++) {
      const leaf = mem.rdPtr(pgd + PGD_SLOT_SIZE * l);
      if (leaf !== 0) c.claimAddr(leaf, CLASS_IOMMU_TABLES);
    }
  }
};
