/**
 * PhysMem: the machine. One ArrayBuffer (or SharedArrayBuffer) of 4 KiB frames; everything mutable
 * lives in it, the JS object holds only views and geometry.
 *
 *   physical 0                                                                          nr_frames
 *   ├──────────── memmap ────────────┼─ boot ─┼─ diag ─┼──────── page allocator ───────────────┤
 *   │ struct page[nr_frames], 64 B   │ struct │ diag   │ buddy free lists, slab, page_pool     │
 *   │ each; page(pfn) = pfn << 6     │ ppemu_ │ record │ pages, item blocks, xa nodes, rings,  │
 *   │ (frame 0 is here: never handed │ machine│ ring   │ IOMMU tables …                         │
 *   │  out, so address 0 is NULL)    │        │        │                                        │
 *
 * A pointer is a byte offset into the buffer; 0 is NULL. The memmap sits at physical 0, so a
 * `struct page *` is `pfn * sizeof(struct page)` and `page_to_pfn` is a shift, as with the kernel's
 * vmemmap; a direct-map address equals the physical offset. 64-bit pointer fields hold the offset in
 * their low word and a region tag in their high word (0xffffea00 vmemmap, 0xffff8880 direct map), so
 * a dump reads like a kernel pointer while masking by PAGE_MASK stays exact on the low word.
 */
import { LP64, PAGE_SHIFT_OF, PAGE_SIZE_NAMES, archConsts, type PageSizeName } from "../arch.js";
import { PpemuError, checkInt, showValue } from "../errors.js";
import { layoutOf, offsetOf, m, struct, array, ptr, U16, U32, U64T, ULONG, LIST_HEAD, SPINLOCK_T } from "./ctype.js";
import { STRUCT_PPEMU_CPU, MAX_NR_CPUS, DEFAULT_NR_CPUS, CPU_ID, cpuSlotOffset } from "../smp/percpu.js";
import {
  STRUCT_PAGE_SHIFT,
  STRUCT_PAGE_SIZE,
  PAGE_FLAGS,
  PAGE_TYPE,
  PAGE_REFCOUNT,
  PAGE_TYPE_NONE,
  PG_reserved,
  VMEMMAP_HI,
  DIRECT_MAP_HI,
} from "./page.js";
import { Diag, KernelFault, NR_DIAG_KINDS, formatDiag, type DiagResolver } from "./diag.js";
import { spinLock, spinUnlock } from "../smp/spinlock.js";

/** Buddy orders 0..MAX_PAGE_ORDER (the kernel's default MAX_PAGE_ORDER is 10: 4 MiB blocks). */
export const MAX_PAGE_ORDER = 10;
export const NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1;

/** Failure-injection sites (like the kernel's fail_page_alloc / failslab / should_fail). */
export const enum FailSite {
  PAGE_ALLOC = 0,
  KMALLOC = 1,
  XA_ALLOC = 2,
}
export const NR_FAIL_SITES = 3;

/** `struct free_area`: one circular list of free blocks per order (mm/page_alloc.c). */
export const STRUCT_FREE_AREA = struct("free_area", [m("free_list", LIST_HEAD), m("nr_free", ULONG)]);

/**
 * One failure-injection site: after `interval - 1` passing calls the next fails, `times` times in
 * all (0xffffffff = forever); `space` calls pass first. `injected` counts failures so far.
 */
export const STRUCT_PPEMU_FAIL = struct("ppemu_fail", [
  m("space", U32),
  m("interval", U32),
  m("times", U32),
  m("calls", U32),
  m("injected", U32),
]);

/** One diagnostic record (src/mem/diag.ts): the log ring's slot, and each kind's first record. */
export const STRUCT_PPEMU_DIAG = struct("ppemu_diag", [
  m("kind", U16),
  m("c", U16),
  m("a", U32),
  m("b", U32),
  m("time_ms", U32),
]);

/**
 * The machine header: the first frame after the memmap. Subsystems that need more state allocate
 * it and hang it off a root pointer here, so every piece of state is reachable from this frame.
 */
export const STRUCT_PPEMU_MACHINE = struct("ppemu_machine", [
  m("magic", U32),
  m("version", U32),
  m("nr_frames", U32),
  m("page_shift", U32),
  m("memmap_frames", U32),
  m("boot_pfn", U32),
  m("nr_boot_frames", U32),
  m("strict", U32),
  m("page_poison", U32),
  /** This build's `page_pool_page_is_pp()` mask (pre-v6.16 `~0x3UL`, or v6.16's PP_MAGIC_MASK). */
  m("pp_magic_mask", U64T),
  m("pp_checks", U32),
  m("clock_ms", U64T),
  m("diag_log_pfn", U32),
  m("diag_log_cap", U32),
  m("diag_log_head", U32),
  m("diag_total", U32),
  m("diag_count", array(U32, NR_DIAG_KINDS)),
  /** Each kind's first record: kept when the ring has long overwritten it. */
  m("diag_first", array(STRUCT_PPEMU_DIAG, NR_DIAG_KINDS)),
  m("free_area", array(STRUCT_FREE_AREA, NR_PAGE_ORDERS)),
  m("nr_free_pages", U32),
  m("next_id", U32),
  /** page_pool_user.c's `page_pools` ids: `xa_alloc_cyclic(…, XA_LIMIT(1, UINT_MAX))`, from 1. */
  m("next_pool_id", U32),
  /** The kernel build (src/builds): its registry id, item-block variant (0: none), switches word. */
  m("build", U32),
  m("build_variant", U32),
  m("build_config", U32),
  /** A hash of what else defines the build (its layout's switches, its membership mask). */
  m("build_extra", U32),
  /** `nr_cpu_ids`: CPUs of the machine (per-CPU data is sized by it). */
  m("nr_cpus", U32),
  /** `zone->lock`: the page allocator's free lists and counts (src/mem/buddy.ts). */
  m("zone_lock", SPINLOCK_T),
  /** `page_pools_lock` (net/core/page_pool_user.c, a mutex there): the machine's pool list. */
  m("page_pools_lock", SPINLOCK_T),
  m("fail", array(STRUCT_PPEMU_FAIL, NR_FAIL_SITES)),
  m("kmalloc_caches", ptr("struct kmem_cache")),
  m("iommu", ptr("struct ppemu_iommu")),
  m("stack", ptr("struct ppemu_stack")),
  m("pools", LIST_HEAD),
  m("xa_node_cache", ptr("struct kmem_cache")),
  /** `init_net.loopback_dev`: where an unregistered netdev's page_pools move (v6.8+). */
  m("loopback", ptr("struct ppemu_netdev")),
  /**
   * The next `struct ppemu_pool.generation` (from 1; 0 in an image older than the field): a pool
   * handle carries it, so a handle to a freed pool is told from the pool now at its address.
   */
  m("next_pool_generation", U32),
  /**
   * The last NR_FREED_POOLS pools freed (pointers; a ring, `freed_pools_head` the next slot), so a
   * misuse check can tell "destroyed and freed" from "never a pool" (src/pool/pool_list.ts).
   */
  m("freed_pools", array(U32, 16)),
  m("freed_pools_head", U32),
  /**
   * Per-CPU context (src/smp/percpu.ts), interleaved so CPUs 0…31 own a cache line each: slot 2k
   * is CPU k, slot 2k+1 is CPU k+32 (`cpuSlotOffset`); each slot names its CPU in `cpu`.
   */
  m("cpu_slots", array(STRUCT_PPEMU_CPU, MAX_NR_CPUS), { alignAttr: 64 }),
  /** Serialises the diagnostic counters and log ring (the emulator's printk). */
  m("diag_lock", SPINLOCK_T),
  /** RCU (src/smp/rcu.ts): `rcu_state.gp_seq`, odd while a grace period runs. */
  m("rcu_gp_seq", U32),
  /** The furthest `gp_seq` some CPU waits for (`rcu_state.gp_seq_needed`). */
  m("rcu_gp_seq_needed", U32),
  /** Taken (trylock) by whichever CPU advances the grace period. */
  m("rcu_gp_lock", SPINLOCK_T),
  /** CPUs the running grace period still waits for (`rcu_node.qsmask`), a 64-bit mask. */
  m("rcu_qsmask", array(U32, 2)),
  /** Each waited-for CPU's `rcu_qs_ctr` when the grace period began. */
  m("rcu_qs_snap", array(U32, MAX_NR_CPUS)),
  /**
   * Memory providers (src/pool/devmem.ts): the rx queues that have had one installed (a list through
   * `netdev_rx_queue.ppemu_next`), and the devmem bindings (the kernel's `net_devmem_dmabuf_bindings`
   * xarray, as a list through `binding.ppemu_next`).
   */
  m("rx_queues", ptr("struct netdev_rx_queue")),
  m("devmem_bindings", ptr("struct net_devmem_dmabuf_binding")),
  /**
   * `DEFINE_STATIC_KEY_FALSE(page_pool_mem_providers)`: the key's `enabled` count, raised by each
   * provider pool's page_pool_init() and dropped by its page_pool_uninit(). Read only through
   * `staticBranchUnlikely` (src/smp/static_key.ts): a static branch is patched text, not a load.
   */
  m("page_pool_mem_providers", U32),
]);

export const MACHINE_LAYOUT = layoutOf(STRUCT_PPEMU_MACHINE, LP64);
export const FREE_AREA_LAYOUT = layoutOf(STRUCT_FREE_AREA, LP64);
export const FAIL_LAYOUT = layoutOf(STRUCT_PPEMU_FAIL, LP64);
const MACH = MACHINE_LAYOUT.off;

/** "ppem" */
export const MACHINE_MAGIC = 0x6d657070;
/**
 * 2: the build (id, variant, switches) and nr_cpus in the header; 3: per-CPU context, locks, RCU state;
 * 4: memory providers (rx queues, devmem bindings, the page_pool_mem_providers key), line-aligned CPUs.
 */
export const MACHINE_VERSION = 4;
/** Default `nr_cpu_ids`: the driver's NAPI CPU and the stack's CPU. */
export { DEFAULT_NR_CPUS, MAX_NR_CPUS };

export const MACH_MAGIC = offsetOf(MACHINE_LAYOUT, "magic");
export const MACH_NR_FRAMES = MACH.nr_frames!;
export const MACH_PAGE_SHIFT = MACH.page_shift!;
export const MACH_MEMMAP_FRAMES = MACH.memmap_frames!;
export const MACH_BOOT_PFN = MACH.boot_pfn!;
export const MACH_NR_BOOT_FRAMES = MACH.nr_boot_frames!;
export const MACH_STRICT = MACH.strict!;
/** Non-zero: freed frames are filled with PAGE_POISON (CONFIG_PAGE_POISONING with page_poison=1). */
export const MACH_PAGE_POISON = MACH.page_poison!;
export const MACH_PP_MAGIC_MASK = MACH.pp_magic_mask!;
/** Non-zero: page_pool misuse checks (foreign/non-pp/double put, alloc after destroy) are on. */
export const MACH_PP_CHECKS = MACH.pp_checks!;
export const MACH_CLOCK_MS = MACH.clock_ms!;
export const MACH_DIAG_LOG_PFN = MACH.diag_log_pfn!;
export const MACH_DIAG_LOG_CAP = MACH.diag_log_cap!;
export const MACH_DIAG_LOG_HEAD = MACH.diag_log_head!;
export const MACH_DIAG_TOTAL = MACH.diag_total!;
export const MACH_DIAG_COUNT = MACH.diag_count!;
export const MACH_DIAG_FIRST = MACH.diag_first!;
export const MACH_FREE_AREA = MACH.free_area!;
export const MACH_NR_FREE_PAGES = MACH.nr_free_pages!;
export const MACH_NEXT_ID = MACH.next_id!;
export const MACH_NEXT_POOL_ID = offsetOf(MACHINE_LAYOUT, "next_pool_id");
export const MACH_NEXT_POOL_GENERATION = offsetOf(MACHINE_LAYOUT, "next_pool_generation");
export const MACH_FREED_POOLS = offsetOf(MACHINE_LAYOUT, "freed_pools");
export const MACH_FREED_POOLS_HEAD = offsetOf(MACHINE_LAYOUT, "freed_pools_head");
export const NR_FREED_POOLS = 16;
/** The kernel build this machine emulates (src/builds/registry.ts). */
export const MACH_BUILD = offsetOf(MACHINE_LAYOUT, "build");
export const MACH_BUILD_VARIANT = offsetOf(MACHINE_LAYOUT, "build_variant");
export const MACH_BUILD_CONFIG = offsetOf(MACHINE_LAYOUT, "build_config");
export const MACH_BUILD_EXTRA = offsetOf(MACHINE_LAYOUT, "build_extra");
export const MACH_NR_CPUS = offsetOf(MACHINE_LAYOUT, "nr_cpus");
export const MACH_LOOPBACK = offsetOf(MACHINE_LAYOUT, "loopback");
export const MACH_RX_QUEUES = offsetOf(MACHINE_LAYOUT, "rx_queues");
export const MACH_DEVMEM_BINDINGS = offsetOf(MACHINE_LAYOUT, "devmem_bindings");
export const MACH_PAGE_POOL_MEM_PROVIDERS = offsetOf(MACHINE_LAYOUT, "page_pool_mem_providers");
export const MACH_ZONE_LOCK = offsetOf(MACHINE_LAYOUT, "zone_lock");
export const MACH_PAGE_POOLS_LOCK = offsetOf(MACHINE_LAYOUT, "page_pools_lock");
export const MACH_CPUS = offsetOf(MACHINE_LAYOUT, "cpu_slots");
export const MACH_DIAG_LOCK = offsetOf(MACHINE_LAYOUT, "diag_lock");
export const MACH_RCU_GP_SEQ = offsetOf(MACHINE_LAYOUT, "rcu_gp_seq");
export const MACH_RCU_GP_SEQ_NEEDED = offsetOf(MACHINE_LAYOUT, "rcu_gp_seq_needed");
export const MACH_RCU_GP_LOCK = offsetOf(MACHINE_LAYOUT, "rcu_gp_lock");
export const MACH_RCU_QSMASK = offsetOf(MACHINE_LAYOUT, "rcu_qsmask");
export const MACH_RCU_QS_SNAP = offsetOf(MACHINE_LAYOUT, "rcu_qs_snap");
export const MACH_FAIL = MACH.fail!;
export const MACH_KMALLOC_CACHES = MACH.kmalloc_caches!;
export const MACH_IOMMU = MACH.iommu!;
export const MACH_STACK = MACH.stack!;
export const MACH_POOLS = MACH.pools!;
export const FREE_AREA_SIZE = FREE_AREA_LAYOUT.size;
export const FREE_AREA_FREE_LIST = offsetOf(FREE_AREA_LAYOUT, "free_list");
export const FREE_AREA_NR_FREE = offsetOf(FREE_AREA_LAYOUT, "nr_free");
export const FAIL_SIZE = FAIL_LAYOUT.size;
/** `offsetof(struct list_head, prev)`. */
const LIST_PREV = offsetOf(layoutOf(LIST_HEAD, LP64), "prev");
const FAIL_SPACE = offsetOf(FAIL_LAYOUT, "space");
const FAIL_INTERVAL = offsetOf(FAIL_LAYOUT, "interval");
const FAIL_TIMES = offsetOf(FAIL_LAYOUT, "times");
const FAIL_CALLS = offsetOf(FAIL_LAYOUT, "calls");
const FAIL_INJECTED = offsetOf(FAIL_LAYOUT, "injected");

/** Bytes of one diag record. */
export const DIAG_LAYOUT = layoutOf(STRUCT_PPEMU_DIAG, LP64);
export const DIAG_RECORD_SIZE = DIAG_LAYOUT.size;
/** `kind` and `c` share the record's first word (u16 each). */
const DIAG_KIND = offsetOf(DIAG_LAYOUT, "kind");
const DIAG_A = offsetOf(DIAG_LAYOUT, "a");
const DIAG_B = offsetOf(DIAG_LAYOUT, "b");
const DIAG_TIME = offsetOf(DIAG_LAYOUT, "time_ms");

export const MIN_MEM_BYTES = 1 << 20;
export const MAX_MEM_BYTES = 2 ** 31;
export const DEFAULT_MEM_BYTES = 64 << 20;

export interface PhysMemOptions {
  /** Bytes of simulated memory: a multiple of the page size, 1 MiB … 2 GiB. Default 64 MiB. */
  readonly bytes?: number;
  readonly pageSize?: PageSizeName;
  /** Back the machine with a SharedArrayBuffer so workers can attach to it. */
  readonly shared?: boolean;
  /** Throw a KernelFault on the first emulated fault instead of recording it. */
  readonly strict?: boolean;
  /**
   * Poison freed frames with PAGE_POISON (CONFIG_PAGE_POISONING). Off by default, as in the kernel,
   * where it takes `page_poison=1` on the command line; the emulator's analogue of that boot
   * parameter is the environment variable `PPEMU_PAGE_POISON=1` ("0" or unset: off), which sets the
   * default when this is not given. The test suite (vitest.config.ts), the race explorer and the
   * stress scenario turn it on; benchmarks keep it off. The machine header's `page_poison` word
   * records what the machine was booted with.
   */
  readonly poison?: boolean;
  /** page_pool misuse checks, like CONFIG_DEBUG_NET (default true; benchmarks turn them off). */
  readonly ppChecks?: boolean;
  /** `nr_cpu_ids`, 1 … 64. Default 2. */
  readonly cpus?: number;
}

export interface DiagRecord {
  readonly kind: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly timeMs: number;
  readonly text: string;
}

/**
 * Instrumentation (the cost model, bench/cost_view.ts): when set, the constructor passes each of its
 * three views through it, so every class that caches `mem.u8 / u32 / i32` caches what it returns (a
 * counting view). Null except while the cost model boots a machine; the only cost when off is one
 * compare per view in the constructor, which is no hot path.
 */
export type ViewWrapper = <T extends Uint8Array | Uint32Array | Int32Array>(view: T) => T;
let viewWrapper: ViewWrapper | null = null;
/** Set (or, with null, clear) the wrapper the next PhysMem constructors apply. The cost model's only. */
export function setViewWrapper(w: ViewWrapper | null): void {
  viewWrapper = w;
}

export class PhysMem {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  /** Same bytes as `u32`, for Atomics.wait/notify and signed reads. */
  readonly i32: Int32Array;
  /**
   * Same bytes again, never wrapped by the cost model: for static keys only (src/smp/static_key.ts).
   * The kernel tests a static branch by executing a patched jump, with no data load, so the
   * emulator's test of the key's word must not count as one.
   */
  readonly text32: Uint32Array;
  readonly pageShift: number;
  readonly pageSize: number;
  /** `PAGE_MASK` low word: `addr & pageMaskLo` is the frame's base address. */
  readonly pageMaskLo: number;
  readonly nrFrames: number;
  readonly memmapFrames: number;
  /** Address of the machine header (struct ppemu_machine). */
  readonly machine: number;
  /** Byte size of the whole machine. */
  readonly bytes: number;
  /**
   * Names for diagnostic texts (device names, dma-debug's leaked entry), read from the buffer; set
   * by the DMA model when it attaches. Not state: a function over the same buffer.
   */
  diagResolver: DiagResolver | undefined = undefined;
  /**
   * This thread's CPU, `smp_processor_id()`, and the byte address of its `struct ppemu_cpu`: the
   * thread's identity (what the kernel's per-CPU base register is), not machine state. A worker
   * binds once at start; a single thread playing several CPUs rebinds between steps.
   */
  cpu = 0;
  cpuArea = 0;

  private constructor(buffer: ArrayBuffer | SharedArrayBuffer, pageShift: number) {
    this.buffer = buffer;
    this.u8 = viewWrapper === null ? new Uint8Array(buffer) : viewWrapper(new Uint8Array(buffer));
    this.u32 = viewWrapper === null ? new Uint32Array(buffer) : viewWrapper(new Uint32Array(buffer));
    this.i32 = viewWrapper === null ? new Int32Array(buffer) : viewWrapper(new Int32Array(buffer));
    this.text32 = new Uint32Array(buffer);
    this.bytes = buffer.byteLength;
    this.pageShift = pageShift;
    this.pageSize = 1 << pageShift;
    this.pageMaskLo = ~(this.pageSize - 1);
    this.nrFrames = this.bytes >>> pageShift;
    this.memmapFrames = Math.ceil((this.nrFrames * STRUCT_PAGE_SIZE) / this.pageSize);
    this.machine = this.memmapFrames << pageShift;
    this.cpuArea = this.machine + MACH_CPUS + cpuSlotOffset(0);
  }

  /** Run this thread as CPU `cpu` from now on (`0 … nr_cpu_ids - 1`). */
  bindCpu(cpu: number): void {
    checkInt("bindCpu: cpu", cpu, 0, this.nrCpus - 1);
    this.cpu = cpu;
    this.cpuArea = this.cpuAreaOf(cpu);
  }

  /** Byte address of CPU `cpu`'s `struct ppemu_cpu`. */
  cpuAreaOf(cpu: number): number {
    return this.machine + MACH_CPUS + cpuSlotOffset(cpu);
  }

  /** Boot a new machine: zeroed memory, memmap initialised, header written. Bad options: a PpemuError ("EINVAL_ARG"). */
  static create(opts: PhysMemOptions = {}): PhysMem {
    checkPhysMemOptions(opts);
    const bytes = opts.bytes ?? DEFAULT_MEM_BYTES;
    const pageShift = PAGE_SHIFT_OF[opts.pageSize ?? "4k"];
    const buffer = opts.shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
    const mem = new PhysMem(buffer, pageShift);
    const cpus = opts.cpus ?? DEFAULT_NR_CPUS;
    // page_poison=1: PPEMU_PAGE_POISON=1 in the environment (where there is a `process`).
    const poisonEnv = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.["PPEMU_PAGE_POISON"];
    mem.boot(opts.strict ?? false, opts.poison ?? poisonEnv === "1", opts.ppChecks ?? true);
    mem.wr32(mem.machine + MACH_NR_CPUS, cpus);
    return mem;
  }

  /** Attach to a machine another thread booted (or a saved image): geometry comes from the header. */
  static attach(buffer: ArrayBuffer | SharedArrayBuffer): PhysMem {
    const u32 = new Uint32Array(buffer);
    for (const shift of [12, 14, 16]) {
      const frames = buffer.byteLength >>> shift;
      const memmapFrames = Math.ceil((frames * STRUCT_PAGE_SIZE) / (1 << shift));
      const hdr = (memmapFrames << shift) >>> 2;
      if (hdr < u32.length && u32[hdr + (MACH_MAGIC >>> 2)] === MACHINE_MAGIC && u32[hdr + (MACH_PAGE_SHIFT >>> 2)] === shift) {
        return new PhysMem(buffer, shift);
      }
    }
    throw new Error("not a ppemu memory image (no machine header found)");
  }

  private boot(strict: boolean, poison: boolean, ppChecks: boolean): void {
    const h = this.machine;
    const bootPfn = this.memmapFrames;
    const nrBoot = 2;
    this.wr32(h + MACH_MAGIC, MACHINE_MAGIC);
    this.wr32(h + MACHINE_LAYOUT.off.version!, MACHINE_VERSION);
    this.wr32(h + MACH_NR_FRAMES, this.nrFrames);
    this.wr32(h + MACH_PAGE_SHIFT, this.pageShift);
    this.wr32(h + MACH_MEMMAP_FRAMES, this.memmapFrames);
    this.wr32(h + MACH_BOOT_PFN, bootPfn);
    this.wr32(h + MACH_NR_BOOT_FRAMES, nrBoot);
    this.wr32(h + MACH_STRICT, strict ? 1 : 0);
    this.wr32(h + MACH_PAGE_POISON, poison ? 1 : 0);
    // Until a layout says otherwise the machine checks with v6.16's mask (see src/pool/index.ts).
    const mask = archConsts(LP64).dmaIndex.PP_MAGIC_MASK;
    this.wr64(h + MACH_PP_MAGIC_MASK, mask.hi, mask.lo);
    this.wr32(h + MACH_PP_CHECKS, ppChecks ? 1 : 0);
    this.wr32(h + MACH_DIAG_LOG_PFN, bootPfn + 1);
    this.wr32(h + MACH_DIAG_LOG_CAP, this.pageSize / DIAG_RECORD_SIZE);
    this.wr32(h + MACH_NEXT_ID, 1);
    this.wr32(h + MACH_NEXT_POOL_ID, 1);
    this.wr32(h + MACH_NEXT_POOL_GENERATION, 1);
    this.listInit(h + MACH_POOLS);
    for (let cpu = 0; cpu < MAX_NR_CPUS; cpu++) this.wr32(this.cpuAreaOf(cpu) + CPU_ID, cpu);
    // Every struct page: untyped (_mapcount -1), refcount 0. memmap and boot frames are reserved
    // and hold a reference, so no allocator path can ever free them.
    for (let pfn = 0; pfn < this.nrFrames; pfn++) {
      const page = pfn << STRUCT_PAGE_SHIFT;
      this.wr32(page + PAGE_TYPE, PAGE_TYPE_NONE);
      if (pfn < bootPfn + nrBoot) {
        this.wr32(page + PAGE_FLAGS, 1 << PG_reserved);
        this.wr32(page + PAGE_REFCOUNT, 1);
      }
    }
  }

  /** `nr_cpu_ids`. */
  get nrCpus(): number {
    return this.rd32(this.machine + MACH_NR_CPUS);
  }

  /** First pfn the page allocator may hand out. */
  get firstAllocatablePfn(): number {
    return this.rd32(this.machine + MACH_BOOT_PFN) + this.rd32(this.machine + MACH_NR_BOOT_FRAMES);
  }

  // ---- pfn / page / virt (include/asm-generic/memory_model.h, vmemmap flavour) ----

  pfnToPage(pfn: number): number {
    return pfn << STRUCT_PAGE_SHIFT;
  }
  pageToPfn(page: number): number {
    return page >>> STRUCT_PAGE_SHIFT;
  }
  /** `page_address()`: the direct-map address of the page's frame. */
  pageAddress(page: number): number {
    return (page >>> STRUCT_PAGE_SHIFT) << this.pageShift;
  }
  virtToPage(addr: number): number {
    return (addr >>> this.pageShift) << STRUCT_PAGE_SHIFT;
  }
  virtToPfn(addr: number): number {
    return addr >>> this.pageShift;
  }
  pfnValid(pfn: number): boolean {
    return pfn >= 0 && pfn < this.nrFrames;
  }
  /** Is this a struct page address inside the memmap (aligned to a struct page)? */
  isPagePtr(p: number): boolean {
    return (p & (STRUCT_PAGE_SIZE - 1)) === 0 && p >>> STRUCT_PAGE_SHIFT < this.nrFrames;
  }

  // ---- word access: `addr` is a byte address, 4-byte aligned ----

  rd32(addr: number): number {
    return this.u32[addr >>> 2]!;
  }
  wr32(addr: number, v: number): void {
    this.u32[addr >>> 2] = v;
  }
  /** Low word of a 64-bit field. */
  rd64lo(addr: number): number {
    return this.u32[addr >>> 2]!;
  }
  rd64hi(addr: number): number {
    return this.u32[(addr >>> 2) + 1]!;
  }
  wr64(addr: number, hi: number, lo: number): void {
    const i = addr >>> 2;
    this.u32[i] = lo;
    this.u32[i + 1] = hi;
  }
  /** A u64 counter below 2^53, read as a number. */
  rd64(addr: number): number {
    const i = addr >>> 2;
    return this.u32[i + 1]! * 0x1_0000_0000 + this.u32[i]!;
  }
  /** `u64 += 1` with carry, the lo/hi way. */
  inc64(addr: number): void {
    const i = addr >>> 2;
    const lo = (this.u32[i]! + 1) >>> 0;
    this.u32[i] = lo;
    if (lo === 0) this.u32[i + 1] = (this.u32[i + 1]! + 1) >>> 0;
  }
  /** `u64 += n` for 0 <= n < 2^32. */
  add64(addr: number, n: number): void {
    const i = addr >>> 2;
    const sum = this.u32[i]! + n;
    this.u32[i] = sum >>> 0;
    if (sum > 0xffffffff) this.u32[i + 1] = (this.u32[i + 1]! + 1) >>> 0;
  }
  wr64num(addr: number, n: number): void {
    this.wr64(addr, Math.floor(n / 0x1_0000_0000), n >>> 0);
  }

  // ---- 64-bit pointer fields: offset in lo, region tag in hi ----

  /** The pointer stored at `addr` (its low word; 0 = NULL). */
  rdPtr(addr: number): number {
    return this.u32[addr >>> 2]!;
  }
  /** Store a `struct page *` (vmemmap tag). */
  wrPagePtr(addr: number, page: number): void {
    const i = addr >>> 2;
    this.u32[i] = page;
    this.u32[i + 1] = page === 0 ? 0 : VMEMMAP_HI;
  }
  /** Store a direct-map pointer (struct page_pool *, item, list node, …). */
  wrPtr(addr: number, p: number): void {
    const i = addr >>> 2;
    this.u32[i] = p;
    this.u32[i + 1] = p === 0 ? 0 : DIRECT_MAP_HI;
  }

  // ---- list_head (include/linux/list.h), circular, pointers to the list_head member ----

  listInit(head: number): void {
    this.wrPtr(head, head);
    this.wrPtr(head + LIST_PREV, head);
  }
  listEmpty(head: number): boolean {
    return this.rdPtr(head) === head;
  }
  /** `list_add(entry, head)`: insert after head. */
  listAdd(entry: number, head: number): void {
    const next = this.rdPtr(head);
    this.wrPtr(next + LIST_PREV, entry);
    this.wrPtr(entry, next);
    this.wrPtr(entry + LIST_PREV, head);
    this.wrPtr(head, entry);
  }
  /** `list_add_tail(entry, head)`. */
  listAddTail(entry: number, head: number): void {
    const prev = this.rdPtr(head + LIST_PREV);
    this.wrPtr(prev, entry);
    this.wrPtr(entry, head);
    this.wrPtr(entry + LIST_PREV, prev);
    this.wrPtr(head + LIST_PREV, entry);
  }
  /** `list_del(entry)`, poisoning the entry's pointers to 0 (the emulator's LIST_POISON). */
  listDel(entry: number): void {
    const next = this.rdPtr(entry);
    const prev = this.rdPtr(entry + LIST_PREV);
    this.wrPtr(next + LIST_PREV, prev);
    this.wrPtr(prev, next);
    this.wrPtr(entry, 0);
    this.wrPtr(entry + LIST_PREV, 0);
  }

  // ---- the virtual clock ----

  get nowMs(): number {
    return this.rd64(this.machine + MACH_CLOCK_MS);
  }
  advanceMs(ms: number): void {
    this.wr64num(this.machine + MACH_CLOCK_MS, this.nowMs + ms);
  }

  // ---- ids (pools, devices) ----

  /** A machine-wide id, unique across CPUs (`atomic_inc_return() - 1`). */
  nextId(): number {
    return Atomics.add(this.u32, (this.machine + MACH_NEXT_ID) >>> 2, 1);
  }

  // ---- failure injection ----

  /**
   * Arm a failure-injection site: the call after `space` passing calls fails, then every
   * `interval`-th, `times` times (0 = forever).
   */
  setFail(site: FailSite, opts: { space?: number; interval?: number; times?: number }): void {
    const f = this.machine + MACH_FAIL + site * FAIL_SIZE;
    this.wr32(f + FAIL_SPACE, opts.space ?? 0);
    this.wr32(f + FAIL_INTERVAL, Math.max(1, opts.interval ?? 1));
    this.wr32(f + FAIL_CALLS, 0);
    // Armed last: a CPU that sees `times` sees the rest of the site.
    Atomics.store(this.u32, (f + FAIL_TIMES) >>> 2, opts.times === 0 ? 0xffffffff : (opts.times ?? 1));
  }
  clearFail(site: FailSite): void {
    Atomics.store(this.u32, (this.machine + MACH_FAIL + site * FAIL_SIZE + FAIL_TIMES) >>> 2, 0);
  }
  /**
   * `should_fail()`: true when this call at `site` is to fail. Cheap when the site is disarmed.
   * Every counter is an atomic read-modify-write, so calls from several CPUs are each counted
   * once and a site armed for `times` failures injects exactly that many.
   */
  shouldFail(site: FailSite): boolean {
    const f = this.machine + MACH_FAIL + site * FAIL_SIZE;
    const u32 = this.u32;
    const tw = (f + FAIL_TIMES) >>> 2;
    if (u32[tw] === 0) return false; // disarmed: one load on the hot path
    const calls = Atomics.add(u32, (f + FAIL_CALLS) >>> 2, 1) + 1;
    const space = u32[(f + FAIL_SPACE) >>> 2]!;
    if (calls <= space) return false;
    if ((calls - space - 1) % u32[(f + FAIL_INTERVAL) >>> 2]! !== 0) return false;
    // atomic_dec_not_zero(&attr->times), unless it is forever (-1).
    for (let times = Atomics.load(u32, tw); times !== 0xffffffff; ) {
      if (times === 0) return false; // another CPU took the last one
      const seen = Atomics.compareExchange(u32, tw, times, times - 1);
      if (seen === times) break;
      times = seen;
    }
    Atomics.add(u32, (f + FAIL_INJECTED) >>> 2, 1);
    return true;
  }
  failInjected(site: FailSite): number {
    return Atomics.load(this.u32, (this.machine + MACH_FAIL + site * FAIL_SIZE + FAIL_INJECTED) >>> 2);
  }

  // ---- diagnostics ----

  get strict(): boolean {
    return this.rd32(this.machine + MACH_STRICT) !== 0;
  }
  set strict(on: boolean) {
    this.wr32(this.machine + MACH_STRICT, on ? 1 : 0);
  }

  /**
   * Record an emulated kernel fault (or throw it, when strict: before any lock or counter). The
   * counters, first records and log ring change under `diag_lock`, so two CPUs' reports are each
   * counted and each get their own slot. Nothing is called inside it that could throw or report.
   */
  diag(kind: Diag, a: number, b: number, c = 0): void {
    const h = this.machine;
    if (this.rd32(h + MACH_STRICT) !== 0) throw new KernelFault(kind, a, b, c, this.diagResolver);
    const lock = h + MACH_DIAG_LOCK;
    spinLock(this, lock);
    const cnt = h + MACH_DIAG_COUNT + kind * 4;
    const count = this.rd32(cnt);
    this.wr32(cnt, count + 1);
    if (count === 0) this.writeDiagRecord(h + MACH_DIAG_FIRST + kind * DIAG_RECORD_SIZE, kind, a, b, c);
    const total = this.rd32(h + MACH_DIAG_TOTAL);
    this.wr32(h + MACH_DIAG_TOTAL, total + 1);
    const cap = this.rd32(h + MACH_DIAG_LOG_CAP);
    const head = this.rd32(h + MACH_DIAG_LOG_HEAD);
    this.writeDiagRecord((this.rd32(h + MACH_DIAG_LOG_PFN) << this.pageShift) + head * DIAG_RECORD_SIZE, kind, a, b, c);
    this.wr32(h + MACH_DIAG_LOG_HEAD, head + 1 === cap ? 0 : head + 1);
    spinUnlock(this, lock);
  }

  private writeDiagRecord(rec: number, kind: number, a: number, b: number, c: number): void {
    this.wr32(rec + DIAG_KIND, (kind & 0xffff) | ((c & 0xffff) << 16));
    this.wr32(rec + DIAG_A, a);
    this.wr32(rec + DIAG_B, b);
    this.wr32(rec + DIAG_TIME, this.nowMs >>> 0);
  }

  private readDiagRecord(rec: number): DiagRecord {
    const w = this.rd32(rec + DIAG_KIND);
    const a = this.rd32(rec + DIAG_A);
    const b = this.rd32(rec + DIAG_B);
    const kind = w & 0xffff;
    const c = w >>> 16;
    return { kind, a, b, c, timeMs: this.rd32(rec + DIAG_TIME), text: formatDiag(kind, a, b, c, this.diagResolver) };
  }

  /** The first record of a kind (null if it never happened), however long ago the ring dropped it. */
  diagFirst(kind: Diag): DiagRecord | null {
    if (this.diagCount(kind) === 0) return null;
    return this.readDiagRecord(this.machine + MACH_DIAG_FIRST + kind * DIAG_RECORD_SIZE);
  }

  diagCount(kind: Diag): number {
    return this.rd32(this.machine + MACH_DIAG_COUNT + kind * 4);
  }

  get diagTotal(): number {
    return this.rd32(this.machine + MACH_DIAG_TOTAL);
  }

  /** The logged records, oldest first (at most the ring's capacity). */
  diagLog(): DiagRecord[] {
    const h = this.machine;
    const cap = this.rd32(h + MACH_DIAG_LOG_CAP);
    const total = this.rd32(h + MACH_DIAG_TOTAL);
    const head = this.rd32(h + MACH_DIAG_LOG_HEAD);
    const n = Math.min(total, cap);
    const base = this.rd32(h + MACH_DIAG_LOG_PFN) << this.pageShift;
    const out: DiagRecord[] = [];
    for (let k = 0; k < n; k++) {
      const slot = (head - n + k + cap) % cap;
      out.push(this.readDiagRecord(base + slot * DIAG_RECORD_SIZE));
    }
    return out;
  }
}

/** Validate a memory size; returns an error message or null. */
/**
 * Every PhysMemOptions field, before anything is allocated: a PpemuError ("EINVAL_ARG") naming the
 * field, the bad value and the valid ones. (An unknown page size used to fall back to a 1-byte page
 * and boot for ever.)
 */
export function checkPhysMemOptions(opts: PhysMemOptions): void {
  if (opts === null || typeof opts !== "object") throw new PpemuError("EINVAL_ARG", `PhysMemOptions must be an object, got ${showValue(opts)}`);
  const ps = opts.pageSize;
  if (ps !== undefined && !(PAGE_SIZE_NAMES as readonly unknown[]).includes(ps)) {
    throw new PpemuError("EINVAL_ARG", `PhysMemOptions.pageSize must be one of ${PAGE_SIZE_NAMES.map((n) => `"${n}"`).join(", ")}, got ${showValue(ps)}`);
  }
  const pageShift = PAGE_SHIFT_OF[ps ?? "4k"];
  const bytes = opts.bytes ?? DEFAULT_MEM_BYTES;
  const err = typeof bytes === "number" ? checkMemBytes(bytes, pageShift) : `memory size must be a number of bytes, got ${showValue(bytes)}`;
  if (err) throw new PpemuError("EINVAL_ARG", `PhysMemOptions.bytes: ${err}`);
  if (opts.cpus !== undefined) checkInt("PhysMemOptions.cpus", opts.cpus, 1, MAX_NR_CPUS);
  for (const k of ["shared", "strict", "poison", "ppChecks"] as const) {
    const v = opts[k];
    if (v !== undefined && typeof v !== "boolean") throw new PpemuError("EINVAL_ARG", `PhysMemOptions.${k} must be true or false, got ${showValue(v)}`);
  }
}

export function checkMemBytes(bytes: number, pageShift = 12): string | null {
  if (!Number.isInteger(bytes) || bytes < MIN_MEM_BYTES || bytes > MAX_MEM_BYTES) {
    return `memory size must be between 1 MiB and 2 GiB, got ${bytes} bytes`;
  }
  if (bytes % (1 << pageShift) !== 0) return `memory size must be a multiple of the page size (${1 << pageShift})`;
  return null;
}

export { Diag };
