/**
 * Emulated kernel faults: typed, counted, logged in the buffer, printed in kernel wording.
 *
 * Like hardware, the emulator keeps running when the emulated kernel misbehaves. Each fault bumps a
 * per-kind u32 counter in the machine header and appends a 16-byte record to a ring in the diag frame:
 *
 *   ╒══════════ struct ppemu_diag (16 B) ══════════╕
 *   │ 0: u16 kind, u16 c │ 4: u32 a │ 8: u32 b │ 12: u32 time_ms │
 *   ╘══════════════════════════════════════════════╛
 *
 * Counters are exact; the ring keeps the most recent records. The text is rebuilt from the record,
 * so a saved image or another worker reads the same diagnostics. Counters, first records and ring
 * change under the header's `diag_lock` (PhysMem.diag), so reports from several CPUs are each
 * counted once and each get their own slot. In strict mode the first fault throws a `KernelFault`
 * instead, before the lock is taken or anything is counted.
 *
 * Every kind has an origin. Kernel kinds print what the kernel prints, verbatim (each entry of
 * DIAG_INFO names the function it comes from; WARN()s are rendered as `warnLine` says). Emulator
 * kinds — its own checks, which no kernel prints — start with `ppemu:` so they are never taken for
 * kernel text. A record is one report: a multi-line kernel report (dma-debug's, a WARN with its
 * message) is one record and counts once in `diagLineCounts`. A record holds a device id, not its
 * name: pass a `DiagResolver` to `formatDiag` for the name (and dma-debug's entry line).
 */

/** Diagnostic kinds. Numbers are stored in the buffer: append only, never renumber. */
export const enum Diag {
  /** A free of a frame that is already free (an emulator check: the kernel has no such message). a = pfn. */
  DOUBLE_FREE = 0,
  /** A free of a frame in a state the allocator refuses (refcount, type, tail). a = pfn, b = value. */
  BAD_PAGE_STATE = 1,
  /** A freed frame still carries a page_pool signature in pp_magic. a = pfn, b = pp_magic lo. */
  PAGE_POOL_LEAK = 2,
  /** dma_unmap through a device whose driver unbound. a = iova, b = device. */
  DMA_UNMAP_AFTER_UNBIND = 3,
  /** dma_sync through a device whose driver unbound. a = iova, b = device. */
  DMA_SYNC_AFTER_UNBIND = 4,
  /** dma_unmap of an IOVA already unmapped (dma-debug check_unmap: same text as unknown). a = iova, b = device, c = size (`encodeDiagSize`). */
  DMA_DOUBLE_UNMAP = 5,
  /** dma_unmap of an IOVA that heads no mapping (dma-debug check_unmap). a = iova, b = device, c = size (`encodeDiagSize`). Syncs: DMA_SYNC_UNKNOWN. */
  DMA_UNMAP_UNKNOWN = 6,
  /**
   * A mapping still present when the device unbound. a = iova, b = device. No longer recorded: the
   * kernel's report is DMA_DEBUG_PENDING (one per device), the per-mapping count is
   * `deviceStats(dev).outlivedDriver`. Kept (an emulator line) for records in older images.
   */
  DMA_MAPPING_OUTLIVES_DRIVER = 7,
  /** v6.8+ page_pool_release_retry(): in-flight pages keep the pool alive. a = pool id, b = inflight (s32), c = sec. */
  PP_STALLED_SHUTDOWN = 8,
  /** A page put to a pool that does not own it. a = page, b = pool. */
  PP_PUT_FOREIGN = 9,
  /** A page put to a pool that is no page_pool page at all. a = page, b = pool. */
  PP_PUT_NOT_PP = 10,
  /** A put after the last pp reference was dropped. a = page, b = pool. */
  PP_DOUBLE_PUT = 11,
  /** Allocation from a pool that page_pool_destroy() already ran on. a = pool. */
  PP_ALLOC_AFTER_DESTROY = 12,
  /** Final teardown found an item block whose ref is not 0. a = block, b = ref. */
  PP_ITEM_BLOCK_REF = 13,
  /** kfree of an address that is no live slab object. a = addr. */
  KFREE_INVALID = 14,
  /** The page allocator could not satisfy a request. a = order. */
  ALLOC_FAILED = 15,
  /** A page_pool fault that fits no other kind. a, b per call site. */
  PP_WARN = 16,
  /** page_pool_inflight(): `WARN(1, "Negative(%d) inflight packet-pages", inflight)`. a = pool, b = inflight (s32). */
  PP_NEGATIVE_INFLIGHT = 17,
  /** page_pool_empty_ring(): `pr_crit("%s() page_pool refcnt %d violation\n")`. a = page, b = refcount. */
  PP_REFCNT_VIOLATION = 18,
  /** ≤ v6.7 page_pool_release_retry(): the warning without an id, for every pool. a = inflight (s32), b = sec (s32). */
  PP_STALLED_SHUTDOWN_OLD = 19,
  /** v6.16 page_pool_register_dma_index(): `WARN_ONCE(err != -ENOMEM, "couldn't track DMA mapping, please report to netdev@")`. a = page, b = err. */
  PP_DMA_TRACK_FAIL = 20,
  /** netmem_clear_pp_magic(): `WARN_ON_ONCE(magic & PP_DMA_INDEX_MASK)`, a page leaving with its DMA index. a = page, b = id. */
  PP_CLEAR_MAGIC_INDEX = 21,
  /** v11 page_pool_clear_item_info(): DEBUG_NET_WARN_ON_ONCE on the item's state or netmem. a = item, b = state. */
  PP_ITEM_STATE = 22,
  /** v6.6 page_pool_unlink_napi(): `WARN_ON(!test_bit(NAPI_STATE_SCHED, &napi->state))` (NAPI not disabled). a = pool. */
  PP_UNLINK_NAPI = 23,
  /**
   * dma-debug at driver release (dma_debug_device_change, BUS_NOTIFY_UNBOUND_DRIVER): one report
   * per device with `[count=N]`. a = device id, b = count, c = the reported entry's direction. The
   * entry's address and size are kept in the device struct (`dd_leak_addr`, `dd_leak_size`) and
   * reach the text through a `DiagResolver`.
   */
  DMA_DEBUG_PENDING = 24,
  /** dma-debug check_sync(): a sync of an IOVA that heads or lies in no mapping. a = iova, b = device, c = size (see `encodeDiagSize`). */
  DMA_SYNC_UNKNOWN = 25,
  /**
   * page_pool_destroy() of a pool whose `user_cnt` is already 0 (destroyed twice):
   * `refcount_dec_and_test()` underflows and lib/refcount.c's refcount_warn_saturate() WARNs
   * (REFCOUNT_SUB_UAF). The kernel also saturates the count; the emulator leaves the pool as it is.
   * a = pool.
   */
  PP_REFCOUNT_UNDERFLOW = 26,
  /** page_pool_dma_map() with a `p.dev` that is NULL or no device: the kernel would oops; the emulator refuses the map. a = pool, b = p.dev. */
  PP_DEV_NOT_DEVICE = 27,
  /** page_pool_alloc_pages() (checks on) with a pointer that is no pool: not live, and none of the last pools freed (those are PP_ALLOC_AFTER_DESTROY). a = pointer. */
  PP_ALLOC_NO_POOL = 28,
  /**
   * include/linux/mmdebug.h VM_BUG_ON_PAGE() (CONFIG_DEBUG_VM) in a PAGE_TYPE_OPS op: dump_page()
   * then BUG(). a = pfn, b = page_type, c = condition (src/mem/page_type.ts VM_BUG_CONDITIONS).
   */
  VM_BUG_ON_PAGE = 29,
  /**
   * A WARN_ON of the frag API, c = the site (FRAG_WARN_SITES): 0–2 `WARN_ON(ret < 0)` in
   * page_pool_unref_netmem() (≤ v6.6 page_pool_defrag_page()), pp_ref_count (pp_frag_count) below 0 —
   * a fragment put once too often; a = page, b = ret's low word. 3–4 `WARN_ON(size > max_size)`
   * (≤ v6.6 also `!(p.flags & PP_FLAG_PAGE_FRAG)`) in page_pool_alloc_frag(); a = pool, b = size.
   */
  PP_FRAG_WARN = 30,
  /** page_pool_init(): `pr_warn("%s() mem-provider init failed %d\n", __func__, err)`. a = pool, b = err (s32). */
  MP_INIT_FAILED = 31,
  /** A WARN in net/core/devmem.c (the devmem memory provider). a = niov/binding, b = value, c = site (DEVMEM_WARN_SITES). */
  DEVMEM_WARN = 32,
  /** pp_page_to_nmdesc() (include/net/netmem.h): `DEBUG_NET_WARN_ON_ONCE(!page_pool_page_is_pp(p))`, checks on. a = page. */
  PP_NMDESC_NOT_PP = 33,
}
export const NR_DIAG_KINDS = 40;


/** Who prints a diagnostic: the emulated kernel (its words verbatim) or the emulator (`ppemu:` lines). */
export type DiagOrigin = "kernel" | "ppemu";

/**
 * What the text of a record may need beyond its 10 bytes: the device behind a device id. `Dma`
 * provides one that reads the buffer (`dmaDiagResolver`), so a saved image resolves the same way.
 */
export interface DiagResolver {
  /** `dev_name()` of a device id: `struct ppemu_device.name`. Undefined when unknown. */
  deviceName?(id: number): string | undefined;
  /** The entry dma-debug named in a device's DMA_DEBUG_PENDING report. Undefined when unknown. */
  dmaDebugLeak?(id: number): { readonly dmaAddr: number; readonly size: number } | undefined;
  /**
   * The lines mm/debug.c dump_page() prints for a frame before "page dumped because:" (page:,
   * flags:, raw: …), "\n"-joined, read from the buffer now (src/mem/dump_page.ts dumpPageText; a
   * page bad_page() refused is leaked as it was, so its words are the ones reported). Undefined when
   * the pfn is no frame. Without it bad_page()'s reports keep their first and last lines only.
   */
  dumpPage?(pfn: number): string | undefined;
}

export interface DiagInfo {
  readonly name: string;
  readonly origin: DiagOrigin;
  /**
   * The source format, for reading: kernel kinds give the kernel's printk/WARN format string(s)
   * verbatim (lines joined by "\n"), ppemu kinds the emulator's, with `%a`/`%b`/`%c` for the
   * record's args. `render` builds the text.
   */
  readonly format: string;
  /** The text of a record: one line, or one multi-line kernel report. */
  readonly render: (a: number, b: number, c: number, res: DiagResolver | undefined) => string;
}

// ---- printk conversions ----

/** `0x%x` of a u32: the emulator's own lines. */
const hex = (v: number): string => "0x" + (v >>> 0).toString(16);
/** `%05lx`: page_to_pfn() in bad_page(). */
const pfn05 = (v: number): string => (v >>> 0).toString(16).padStart(5, "0");
/** `0x%016llx`: a dma_addr_t in dma-debug (the emulator's are u32). */
const addr016 = (v: number): string => "0x" + (v >>> 0).toString(16).padStart(16, "0");
const s32 = (v: number): string => String(v | 0);
const u32 = (v: number): string => String(v >>> 0);

/**
 * A size in the record's 16-bit `c`: bytes below 0x8000, else 0x8000 | size / 4096 (exact for
 * multiples of 4 KiB, as page_pool's `PAGE_SIZE << order` always are; saturates at 128 MiB).
 */
export function encodeDiagSize(size: number): number {
  size = Math.max(0, Math.floor(size));
  if (size < 0x8000) return size;
  return 0x8000 | Math.min(0x7fff, Math.floor(size / 4096));
}

export function decodeDiagSize(c: number): number {
  c &= 0xffff;
  return c < 0x8000 ? c : (c & 0x7fff) * 4096;
}

// ---- the WARN() family, rendered deterministically ----

/**
 * The first line `__warn()` prints (kernel/panic.c, v4.x – v6.18: `"WARNING: CPU: %d PID: %d at
 * %s:%d %pS\n"`). Simplified: CPU 0 and PID 1 stand for whatever runs, the `:%d` line number and
 * the `%pS` offsets `+0x…/0x…` (build-dependent) are left out, and `%pS` is the source function
 * (with inlining the kernel names the caller it was inlined into). Not reproduced: the
 * `------------[ cut here ]------------` line before, the module list, registers, call trace and
 * `---[ end trace … ]---` after. (Newest mainline prints `WARNING: %s:%d at %pS, CPU#%d: %s/%d`.)
 */
export const WARN_CPU = 0;
export const WARN_PID = 1;
export function warnLine(file: string, fn: string): string {
  return `WARNING: CPU: ${WARN_CPU} PID: ${WARN_PID} at ${file} ${fn}`;
}

/**
 * `WARN(1, fmt, …)` / `WARN_ONCE`: on x86-64 and arm64 (`__WARN_FLAGS`) `__warn_printk()` prints
 * the message before the trap, so the message comes first and the WARNING line after it — as in
 * real logs ("Negative(-1) inflight packet-pages" / "WARNING: CPU: 1 PID: 5117 at
 * net/core/page_pool.c:617 page_pool_inflight+0x4c/0x90").
 */
function warnMsg(msg: string, file: string, fn: string): string {
  return `${msg}\n${warnLine(file, fn)}`;
}

// ---- dma-debug (kernel/dma/debug.c) ----

/** The emulated device's driver, `dev_driver_string()` while it is bound. */
export const DMA_DRIVER_NAME = "ppemu_net";
/**
 * The emulated device's bus, `dev_driver_string()` once `dev->driver` is NULL: drivers/base/dd.c
 * clears it before BUS_NOTIFY_UNBOUND_DRIVER, so the unbind report names the bus ("pci" on PCI).
 */
export const DMA_BUS_NAME = "ppemu";

/** enum dma_data_direction → dir2name[] (kernel/dma/debug.c). */
const DIR2NAME = ["DMA_BIDIRECTIONAL", "DMA_TO_DEVICE", "DMA_FROM_DEVICE", "DMA_NONE"];

function devName(id: number, res: DiagResolver | undefined): string {
  return res?.deviceName?.(id) ?? `ppemu${id >>> 0}`;
}

/**
 * err_printk(): `WARN(1, pr_fmt("%s %s: ") format, dev_driver_string(dev), dev_name(dev), …)` with
 * pr_fmt "DMA-API: ". Whether it prints at all (show_num_errors / all_errors) is decided by the
 * caller (src/dma/device.ts), which records only what the kernel prints.
 */
function dmaErr(drv: string, id: number, res: DiagResolver | undefined, msg: string, fn: string): string {
  return warnMsg(`DMA-API: ${drv} ${devName(id, res)}: ${msg}`, "kernel/dma/debug.c", fn);
}

/**
 * Diag.PP_FRAG_WARN's `c`: the file and function of the WARN_ON in the build. `WARN_ON(ret < 0)`: v6.1
 * include/net/page_pool.h page_pool_defrag_page() (search id 2293352650); v6.6: the same function
 * in include/net/page_pool/helpers.h; v6.8+ renamed page_pool_unref_page() (Liang Chen's
 * "transition to reference count management after page draining", search id 48760950612), and
 * page_pool_unref_netmem() with netmem (torvalds/linux helpers.h @07cf71bf25cd).
 */
export const FRAG_WARN_SITES: readonly (readonly [string, string])[] = [
  ["include/net/page_pool.h", "page_pool_defrag_page"],
  ["include/net/page_pool/helpers.h", "page_pool_defrag_page"],
  ["include/net/page_pool/helpers.h", "page_pool_unref_netmem"],
  // page_pool_alloc_frag()'s WARN_ON: ≤ v6.6 (search id 20576709), then the netmem one (v6.12+, id 728053).
  ["net/core/page_pool.c", "page_pool_alloc_frag"],
  ["net/core/page_pool.c", "page_pool_alloc_frag_netmem"],
];

/** Diag.VM_BUG_ON_PAGE's `c`: which PAGE_TYPE_OPS condition fired, as `__stringify(cond)` prints it. */
export const VM_BUG_CONDITIONS: readonly string[] = [
  "VM_BUG_ON_PAGE(data_race(page->page_type) != UINT_MAX)",
  "VM_BUG_ON_PAGE(!PageNetpp(page))",
];

const BAD_PAGE = (pfn: number) => `BUG: Bad page state in process ppemu  pfn:${pfn05(pfn)}`;

/**
 * mm/debug.c __dump_folio()'s formats for an order-0 page (find_string id 24870276), for reading;
 * src/mem/dump_page.ts prints them (and a large folio's head: lines).
 */
const DUMP_PAGE_FORMAT =
  "page: refcount:%d mapcount:%d mapping:%p index:%#lx pfn:%#lx\n[memcg:%lx\n]%sflags: %pGp%s\n[page_type: %x(%s)\n]raw: %16.16llx %16.16llx %16.16llx %16.16llx (×2)";

/** bad_page()'s first line, then dump_page()'s lines when the resolver can read the frame. */
function withDump(head: string, pfn: number, res: DiagResolver | undefined): string {
  const dump = res?.dumpPage?.(pfn);
  return dump === undefined ? head : `${head}\n${dump}`;
}

export const DIAG_INFO: Readonly<Record<number, DiagInfo>> = {
  [Diag.DOUBLE_FREE]: {
    name: "double_free",
    origin: "ppemu",
    format: "ppemu: page allocator: double free of pfn:%a",
    render: (a) => `ppemu: page allocator: double free of pfn:${pfn05(a)}`,
  },
  // mm/page_alloc.c bad_page(): pr_alert("BUG: Bad page state in process %s  pfn:%05lx\n", current->comm, …);
  // dump_page(page, reason); print_modules(); dump_stack() (find_string id 9778796123). The process is
  // the emulator ("ppemu"). With a resolver's dumpPage the dump_page() lines follow; the reason line is
  // left out (the record does not say which page_bad_reason() test fired), as are the modules and stack.
  [Diag.BAD_PAGE_STATE]: {
    name: "bad_page_state",
    origin: "kernel",
    format: "BUG: Bad page state in process %s  pfn:%05lx\n" + DUMP_PAGE_FORMAT,
    render: (a, _b, _c, res) => withDump(BAD_PAGE(a), a, res),
  },
  // bad_page() with reason "page_pool leak" (page_bad_reason() v6.16+, __free_pages_prepare() on
  // v7.1-rc's PGTY_netpp): the first line, dump_page()'s page:/flags:/raw: lines (with a resolver's
  // dumpPage; left out without one) and its last, "page dumped because: %s".
  [Diag.PAGE_POOL_LEAK]: {
    name: "page_pool_leak",
    origin: "kernel",
    format: "BUG: Bad page state in process %s  pfn:%05lx\n" + DUMP_PAGE_FORMAT + "\npage dumped because: %s",
    render: (a, _b, _c, res) => `${withDump(BAD_PAGE(a), a, res)}\npage dumped because: page_pool leak`,
  },
  [Diag.DMA_UNMAP_AFTER_UNBIND]: {
    name: "unmap_after_unbind",
    origin: "ppemu",
    format: "ppemu: iommu: device %b: DMA unmap after driver unbind (iova %a)",
    render: (a, b) => `ppemu: iommu: device ${hex(b)}: DMA unmap after driver unbind (iova ${hex(a)})`,
  },
  [Diag.DMA_SYNC_AFTER_UNBIND]: {
    name: "sync_after_unbind",
    origin: "ppemu",
    format: "ppemu: iommu: device %b: DMA sync after driver unbind (iova %a)",
    render: (a, b) => `ppemu: iommu: device ${hex(b)}: DMA sync after driver unbind (iova ${hex(a)})`,
  },
  // check_unmap(): dma-debug cannot tell a double unmap from an unknown address: same text.
  [Diag.DMA_DOUBLE_UNMAP]: {
    name: "double_unmap",
    origin: "kernel",
    format: "DMA-API: %s %s: device driver tries to free DMA memory it has not allocated [device address=0x%016llx] [size=%llu bytes]\nWARNING: CPU: %d PID: %d at %s:%d %pS",
    render: (a, b, c, res) => dmaErr(DMA_DRIVER_NAME, b, res, unmapUnknownMsg(a, c), "check_unmap"),
  },
  [Diag.DMA_UNMAP_UNKNOWN]: {
    name: "unmap_unknown",
    origin: "kernel",
    format: "DMA-API: %s %s: device driver tries to free DMA memory it has not allocated [device address=0x%016llx] [size=%llu bytes]\nWARNING: CPU: %d PID: %d at %s:%d %pS",
    render: (a, b, c, res) => dmaErr(DMA_DRIVER_NAME, b, res, unmapUnknownMsg(a, c), "check_unmap"),
  },
  [Diag.DMA_MAPPING_OUTLIVES_DRIVER]: {
    name: "mapping_outlives_driver",
    origin: "ppemu",
    format: "ppemu: iommu: device %b: mapping %a outlives its driver",
    render: (a, b) => `ppemu: iommu: device ${hex(b)}: mapping ${hex(a)} outlives its driver`,
  },
  // net/core/page_pool.c page_pool_release_retry(), v6.8+ (J-mute): pr_warn, no WARN.
  [Diag.PP_STALLED_SHUTDOWN]: {
    name: "stalled_pool_shutdown",
    origin: "kernel",
    format: "%s() stalled pool shutdown: id %u, %d inflight %d sec",
    render: (a, b, c) => `page_pool_release_retry() stalled pool shutdown: id ${u32(a)}, ${s32(b)} inflight ${c & 0xffff} sec`,
  },
  [Diag.PP_PUT_FOREIGN]: {
    name: "put_foreign_page",
    origin: "ppemu",
    format: "ppemu: page_pool_put_page: page %a belongs to another pool (put to pool %b)",
    render: (a, b) => `ppemu: page_pool_put_page: page ${hex(a)} belongs to another pool (put to pool ${hex(b)})`,
  },
  [Diag.PP_PUT_NOT_PP]: {
    name: "put_not_pp_page",
    origin: "ppemu",
    format: "ppemu: page_pool_put_page: page %a is not a page_pool page (put to pool %b)",
    render: (a, b) => `ppemu: page_pool_put_page: page ${hex(a)} is not a page_pool page (put to pool ${hex(b)})`,
  },
  [Diag.PP_DOUBLE_PUT]: {
    name: "double_put",
    origin: "ppemu",
    format: "ppemu: page_pool_put_page: page %a put with pp_ref_count 0 (pool %b)",
    // c != 0 (src/pool/frag.ts): a fragment of the pool's current frag page, c = frag_users.
    render: (a, b, c) =>
      c === 0
        ? `ppemu: page_pool_put_page: page ${hex(a)} put with pp_ref_count 0 (pool ${hex(b)})`
        : `ppemu: page_pool_put_page: page ${hex(a)}: a fragment put once too often (${c} handed out by page_pool_alloc_frag, pool ${hex(b)})`,
  },
  [Diag.PP_ALLOC_AFTER_DESTROY]: {
    name: "alloc_after_destroy",
    origin: "ppemu",
    format: "ppemu: page_pool_alloc_pages: pool %a is destroyed",
    render: (a) => `ppemu: page_pool_alloc_pages: pool ${hex(a)} is destroyed`,
  },
  // Not a message of the v11 series as far as the sources go: an emulator check.
  [Diag.PP_ITEM_BLOCK_REF]: {
    name: "item_block_ref",
    origin: "ppemu",
    format: "ppemu: page_pool: item block %a freed with ref %b",
    render: (a, b) => `ppemu: page_pool: item block ${hex(a)} freed with ref ${s32(b)}`,
  },
  // SLUB reports bad frees in several other ways (slab_err "Invalid object pointer", WARN in
  // free_large_kmalloc); the emulator's slab is not SLUB.
  [Diag.KFREE_INVALID]: {
    name: "kfree_invalid",
    origin: "ppemu",
    format: "ppemu: slab: kfree of invalid object %a",
    render: (a) => `ppemu: slab: kfree of invalid object ${hex(a)}`,
  },
  // warn_alloc() prints "%s: page allocation failure: order:%u, mode:%#x(%pGg), nodemask=%*pbl", and
  // page_pool allocates with __GFP_NOWARN: an emulator line.
  [Diag.ALLOC_FAILED]: {
    name: "alloc_failed",
    origin: "ppemu",
    format: "ppemu: page allocation failure: order:%a",
    render: (a) => `ppemu: page allocation failure: order:${u32(a)}`,
  },
  [Diag.PP_WARN]: {
    name: "page_pool_warn",
    origin: "ppemu",
    format: "ppemu: page_pool: %a %b",
    render: (a, b) => `ppemu: page_pool: ${hex(a)} ${hex(b)}`,
  },
  // page_pool_inflight(): WARN(inflight < 0, "Negative(%d) inflight packet-pages", inflight).
  [Diag.PP_NEGATIVE_INFLIGHT]: {
    name: "negative_inflight",
    origin: "kernel",
    format: "Negative(%d) inflight packet-pages\nWARNING: CPU: %d PID: %d at %s:%d %pS",
    render: (_a, b) => warnMsg(`Negative(${s32(b)}) inflight packet-pages`, "net/core/page_pool.c", "page_pool_inflight"),
  },
  // page_pool_empty_ring(): pr_crit("%s() page_pool refcnt %d violation\n", __func__, page_ref_count(page)).
  [Diag.PP_REFCNT_VIOLATION]: {
    name: "refcnt_violation",
    origin: "kernel",
    format: "%s() page_pool refcnt %d violation",
    render: (_a, b) => `page_pool_empty_ring() page_pool refcnt ${s32(b)} violation`,
  },
  // ≤ v6.7 page_pool_release_retry(): pr_warn("%s() stalled pool shutdown %d inflight %d sec\n", __func__, inflight, sec).
  [Diag.PP_STALLED_SHUTDOWN_OLD]: {
    name: "stalled_pool_shutdown_old",
    origin: "kernel",
    format: "%s() stalled pool shutdown %d inflight %d sec",
    render: (a, b) => `page_pool_release_retry() stalled pool shutdown ${s32(a)} inflight ${s32(b)} sec`,
  },
  // v6.16 page_pool_register_dma_index(): WARN_ONCE(err != -ENOMEM, "couldn't track DMA mapping, please report to netdev@").
  [Diag.PP_DMA_TRACK_FAIL]: {
    name: "dma_track_fail",
    origin: "kernel",
    format: "couldn't track DMA mapping, please report to netdev@\nWARNING: CPU: %d PID: %d at %s:%d %pS",
    render: () => warnMsg("couldn't track DMA mapping, please report to netdev@", "net/core/page_pool.c", "page_pool_register_dma_index"),
  },
  // net/core/netmem_priv.h netmem_clear_pp_magic(): WARN_ON_ONCE(pp_magic & PP_DMA_INDEX_MASK), no message.
  [Diag.PP_CLEAR_MAGIC_INDEX]: {
    name: "clear_magic_index",
    origin: "kernel",
    format: "WARNING: CPU: %d PID: %d at %s:%d %pS",
    render: () => warnLine("net/core/netmem_priv.h", "netmem_clear_pp_magic"),
  },
  // v11 page_pool_clear_item_info(): DEBUG_NET_WARN_ON_ONCE (CONFIG_DEBUG_NET), no message.
  [Diag.PP_ITEM_STATE]: {
    name: "item_state",
    origin: "kernel",
    format: "WARNING: CPU: %d PID: %d at %s:%d %pS",
    render: () => warnLine("net/core/page_pool.c", "page_pool_clear_item_info"),
  },
  // v6.6 page_pool_unlink_napi(): WARN_ON(!test_bit(NAPI_STATE_SCHED, …) || list_owner != -1), no message.
  [Diag.PP_UNLINK_NAPI]: {
    name: "unlink_napi",
    origin: "kernel",
    format: "WARNING: CPU: %d PID: %d at %s:%d %pS",
    render: () => warnLine("net/core/page_pool.c", "page_pool_unlink_napi"),
  },
  // dma_debug_device_change(): err_printk(dev, entry, "device driver has pending DMA allocations while
  // released from device [count=%d]\nOne of leaked entries details: [device address=0x%016llx]
  // [size=%llu bytes] [mapped with %s] [mapped as %s]\n", …). dev->driver is NULL by then, so the
  // first %s is the bus. dma_map_page entries are "single" (type2name[dma_debug_single]; newest
  // mainline's dma_map_phys says "phy"). Without a resolver the entry line cannot be rebuilt and
  // is left out.
  [Diag.DMA_DEBUG_PENDING]: {
    name: "dma_debug_pending",
    origin: "kernel",
    format:
      "DMA-API: %s %s: device driver has pending DMA allocations while released from device [count=%d]\n" +
      "One of leaked entries details: [device address=0x%016llx] [size=%llu bytes] [mapped with %s] [mapped as %s]\n" +
      "WARNING: CPU: %d PID: %d at %s:%d %pS",
    render: (a, b, c, res) => {
      const head = `DMA-API: ${DMA_BUS_NAME} ${devName(a, res)}: device driver has pending DMA allocations while released from device [count=${s32(b)}]`;
      const e = res?.dmaDebugLeak?.(a);
      const entry = e
        ? `\nOne of leaked entries details: [device address=${addr016(e.dmaAddr)}] [size=${e.size >>> 0} bytes] [mapped with ${DIR2NAME[c & 3]}] [mapped as single]`
        : "";
      return `${head}${entry}\n${warnLine("kernel/dma/debug.c", "dma_debug_device_change")}`;
    },
  },
  // check_sync(): "device driver tries to sync DMA memory it has not allocated [device address=0x%016llx] [size=%llu bytes]\n".
  [Diag.DMA_SYNC_UNKNOWN]: {
    name: "sync_unknown",
    origin: "kernel",
    format: "DMA-API: %s %s: device driver tries to sync DMA memory it has not allocated [device address=0x%016llx] [size=%llu bytes]\nWARNING: CPU: %d PID: %d at %s:%d %pS",
    render: (a, b, c, res) =>
      dmaErr(DMA_DRIVER_NAME, b, res, `device driver tries to sync DMA memory it has not allocated [device address=${addr016(a)}] [size=${decodeDiagSize(c)} bytes]`, "check_sync"),
  },
  // lib/refcount.c: #define REFCOUNT_WARN(str) WARN_ONCE(1, "refcount_t: " str ".\n"), from
  // refcount_warn_saturate(r, REFCOUNT_SUB_UAF) (page_pool_destroy() → refcount_dec_and_test(&pool->user_cnt)).
  [Diag.PP_REFCOUNT_UNDERFLOW]: {
    name: "refcount_underflow",
    origin: "kernel",
    format: "refcount_t: underflow; use-after-free.\nWARNING: CPU: %d PID: %d at %s:%d %pS",
    render: () => warnMsg("refcount_t: underflow; use-after-free.", "lib/refcount.c", "refcount_warn_saturate"),
  },
  [Diag.PP_DEV_NOT_DEVICE]: {
    name: "pp_dev_not_device",
    origin: "ppemu",
    format: "ppemu: page_pool %a: p.dev is no device: dma_map_page_attrs() would oops",
    render: (a) => `ppemu: page_pool ${hex(a)}: p.dev is no device: dma_map_page_attrs() would oops`,
  },
  // VM_BUG_ON_PAGE(cond, page): dump_page(page, "VM_BUG_ON_PAGE(" __stringify(cond) ")"); BUG().
  // dump_page()'s page:/flags:/raw: lines are left out (as for bad_page above). The line is the
  // PAGE_TYPE_OPS(Netpp, netpp, netpp) expansion in the v7.1-rc tree, as the report that led to
  // 735a309b4bfb quotes it: "kernel BUG at ./include/linux/page-flags.h:1062!"
  // (<20260428025320.853452-1-kuba@kernel.org>, search id 57994800446).
  [Diag.VM_BUG_ON_PAGE]: {
    name: "vm_bug_on_page",
    origin: "kernel",
    format: "page dumped because: %s\nkernel BUG at %s:%u!",
    render: (_a, _b, c) => `page dumped because: ${VM_BUG_CONDITIONS[c] ?? "VM_BUG_ON_PAGE(?)"}\nkernel BUG at ./include/linux/page-flags.h:1062!`,
  },
  [Diag.PP_ALLOC_NO_POOL]: {
    name: "alloc_no_pool",
    origin: "ppemu",
    format: "ppemu: page_pool_alloc_pages: %a is no page_pool",
    render: (a) => `ppemu: page_pool_alloc_pages: ${hex(a)} is no page_pool`,
  },
  // A WARN_ON without a message: the WARNING line only, at the build's site.
  [Diag.PP_FRAG_WARN]: {
    name: "frag_warn",
    origin: "kernel",
    format: "WARNING: CPU: %d PID: %d at %s:%d %pS",
    render: (_a, _b, c) => warnLine(FRAG_WARN_SITES[c]?.[0] ?? "include/net/page_pool/helpers.h", FRAG_WARN_SITES[c]?.[1] ?? "page_pool_unref_netmem"),
  },
  // page_pool_init() (v6.12+): pr_warn("%s() mem-provider init failed %d\n", __func__, err).
  [Diag.MP_INIT_FAILED]: {
    name: "mp_init_failed",
    origin: "kernel",
    format: "%s() mem-provider init failed %d",
    render: (_a, b) => `page_pool_init() mem-provider init failed ${s32(b)}`,
  },
  // net/core/devmem.c (6952350/linux-6.18.y @20fa05ab56b2, search id 52180246923): the WARNs of the
  // devmem provider, by site (DEVMEM_WARN_SITES); WARN_ON/WARN_ON_ONCE print the WARNING line only.
  [Diag.DEVMEM_WARN]: {
    name: "devmem_warn",
    origin: "kernel",
    format: "can't destroy genpool. size=%zu, avail=%zu\nWARNING: CPU: %d PID: %d at %s:%d %pS",
    render: (a, b, c) => {
      const [fn, msg] = DEVMEM_WARN_SITES[c] ?? DEVMEM_WARN_SITES[0]!;
      return msg === "" ? warnLine("net/core/devmem.c", fn) : warnMsg(msg.replace("%a", u32(a)).replace("%b", u32(b)), "net/core/devmem.c", fn);
    },
  },
  // pp_page_to_nmdesc(): DEBUG_NET_WARN_ON_ONCE (CONFIG_DEBUG_NET) prints the WARNING line only.
  [Diag.PP_NMDESC_NOT_PP]: {
    name: "nmdesc_not_pp",
    origin: "kernel",
    format: "WARNING: CPU: %d PID: %d at %s:%d %pS",
    render: () => warnLine("include/net/netmem.h", "pp_page_to_nmdesc"),
  },
};

/**
 * Diag.DEVMEM_WARN's `c`: the function and message (empty: WARN_ON without one) of each WARN:
 * 0 mp_dmabuf_devmem_release_page() `WARN_ON_ONCE(!netmem_is_net_iov(netmem))`, 1 its
 * `WARN_ON_ONCE(refcount != 1)`, 2 net_devmem_free_dmabuf() `WARN_ON(!gen_pool_has_addr(…))`,
 * 3 __net_devmem_dmabuf_binding_free() `WARN(size != avail, "can't destroy genpool. size=%zu,
 * avail=%zu", …)` (a = size, b = avail, in bytes).
 */
export const DEVMEM_WARN_SITES: readonly (readonly [string, string])[] = [
  ["mp_dmabuf_devmem_release_page", ""],
  ["mp_dmabuf_devmem_release_page", ""],
  ["net_devmem_free_dmabuf", ""],
  ["__net_devmem_dmabuf_binding_free", "can't destroy genpool. size=%a, avail=%b"],
];

/** check_unmap() with no entry: dma_mapping_error() addresses get their own text. */
function unmapUnknownMsg(a: number, c: number): string {
  if (a >>> 0 === 0) return "device driver tries to free an invalid DMA memory address"; // our DMA_MAPPING_ERROR is 0
  return `device driver tries to free DMA memory it has not allocated [device address=${addr016(a)}] [size=${decodeDiagSize(c)} bytes]`;
}

export function diagOrigin(kind: number): DiagOrigin {
  return DIAG_INFO[kind]?.origin ?? "ppemu";
}

/** Thrown instead of recording when the machine runs strict. */
export class KernelFault extends Error {
  constructor(
    readonly kind: number,
    readonly a: number,
    readonly b: number,
    readonly c = 0,
    res?: DiagResolver,
  ) {
    super(formatDiag(kind, a, b, c, res));
    this.name = "KernelFault";
  }
}

/**
 * The text of a record. `res` resolves device ids (names, the dma-debug entry); without it a device
 * is `ppemu<id>` (the name an unnamed device gets) and the dma-debug entry line is left out.
 */
export function formatDiag(kind: number, a: number, b: number, c = 0, res?: DiagResolver): string {
  const info = DIAG_INFO[kind];
  if (!info) return `ppemu: unknown diagnostic ${kind} (${a}, ${b}, ${c})`;
  return info.render(a, b, c & 0xffff, res);
}

/**
 * Lines printed, by origin, from the per-kind counters (`mem.diagCount`): `kernel` counts kernel
 * reports (a multi-line report such as dma-debug's, or a WARN with its message, is one), `ppemu`
 * counts the emulator's lines. Kinds without an entry count as ppemu.
 */
export function diagLineCounts(countOf: (kind: number) => number): { kernel: number; ppemu: number } {
  let kernel = 0;
  let ppemu = 0;
  for (let kind = 0; kind < NR_DIAG_KINDS; kind++) {
    const n = countOf(kind);
    if (!n) continue;
    if (diagOrigin(kind) === "kernel") kernel += n;
    else ppemu += n;
  }
  return { kernel, ppemu };
}
