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
 * so a saved image or another worker reads the same diagnostics. In strict mode the first fault
 * throws a `KernelFault` instead.
 */

/** Diagnostic kinds. Numbers are stored in the buffer: append only, never renumber. */
export const enum Diag {
  /** A free of a frame that is already free. a = pfn. */
  DOUBLE_FREE = 0,
  /** A free of a frame in a state the allocator refuses (refcount, type, tail). a = pfn, b = value. */
  BAD_PAGE_STATE = 1,
  /** A freed frame still carries a page_pool signature in pp_magic. a = pfn, b = pp_magic lo. */
  PAGE_POOL_LEAK = 2,
  /** dma_unmap through a device whose driver unbound. a = iova, b = device. */
  DMA_UNMAP_AFTER_UNBIND = 3,
  /** dma_sync through a device whose driver unbound. a = iova, b = device. */
  DMA_SYNC_AFTER_UNBIND = 4,
  /** dma_unmap of an IOVA already unmapped. a = iova, b = device. */
  DMA_DOUBLE_UNMAP = 5,
  /** dma_unmap or sync of an IOVA never mapped. a = iova, b = device. */
  DMA_UNMAP_UNKNOWN = 6,
  /** A mapping still present when the device unbound. a = iova, b = device. */
  DMA_MAPPING_OUTLIVES_DRIVER = 7,
  /** page_pool_release_retry(): in-flight pages keep the pool alive. a = pool id, b = inflight, c = sec. */
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
  /** ≤ v6.7 page_pool_release_retry(): the warning without an id, for every pool. a = inflight, b = sec. */
  PP_STALLED_SHUTDOWN_OLD = 19,
  /** v6.16 page_pool_register_dma_index(): `WARN_ONCE(err != -ENOMEM, "couldn't track DMA mapping, please report to netdev@")`. a = page, b = err. */
  PP_DMA_TRACK_FAIL = 20,
  /** netmem_clear_pp_magic(): `WARN_ON_ONCE(magic & PP_DMA_INDEX_MASK)`, a page leaving with its DMA index. a = page, b = id. */
  PP_CLEAR_MAGIC_INDEX = 21,
  /** v11 page_pool_clear_item_info(): DEBUG_NET_WARN_ON_ONCE on the item's state or netmem. a = item, b = state. */
  PP_ITEM_STATE = 22,
  /** v6.6 page_pool_unlink_napi(): `WARN_ON(!test_bit(NAPI_STATE_SCHED, &napi->state))` (NAPI not disabled). a = pool. */
  PP_UNLINK_NAPI = 23,
  /** dma-debug at driver release: one report per device with `[count=N]`. a = device, b = count, c = first leaked iova's index. */
  DMA_DEBUG_PENDING = 24,
}

export const NR_DIAG_KINDS = 32;

export interface DiagInfo {
  readonly name: string;
  /** printk-style text; `%a`/`%b` are the record's args in hex, `%A`/`%B`/`%C` in decimal (c is 16-bit). */
  readonly format: string;
}

export const DIAG_INFO: Readonly<Record<number, DiagInfo>> = {
  [Diag.DOUBLE_FREE]: { name: "double_free", format: "BUG: Bad page state in process ppemu  pfn:%a (double free)" },
  [Diag.BAD_PAGE_STATE]: { name: "bad_page_state", format: "BUG: Bad page state in process ppemu  pfn:%a (value %b)" },
  [Diag.PAGE_POOL_LEAK]: { name: "page_pool_leak", format: "BUG: Bad page state in process ppemu  pfn:%a page dumped because: page_pool leak" },
  [Diag.DMA_UNMAP_AFTER_UNBIND]: { name: "unmap_after_unbind", format: "ppemu-iommu: device %b: DMA unmap after driver unbind (iova %a)" },
  [Diag.DMA_SYNC_AFTER_UNBIND]: { name: "sync_after_unbind", format: "ppemu-iommu: device %b: DMA sync after driver unbind (iova %a)" },
  [Diag.DMA_DOUBLE_UNMAP]: { name: "double_unmap", format: "WARNING: DMA-API: device %b: device driver tries to free DMA memory it has not allocated [device address=%a] (double unmap)" },
  [Diag.DMA_UNMAP_UNKNOWN]: { name: "unmap_unknown", format: "WARNING: DMA-API: device %b: device driver tries to free DMA memory it has not allocated [device address=%a]" },
  [Diag.DMA_MAPPING_OUTLIVES_DRIVER]: { name: "mapping_outlives_driver", format: "WARNING: DMA-API: device %b: device driver has pending DMA allocations while released from device [device address=%a]" },
  [Diag.PP_STALLED_SHUTDOWN]: { name: "stalled_pool_shutdown", format: "page_pool_release_retry() stalled pool shutdown: id %A, %B inflight %C sec" },
  [Diag.PP_PUT_FOREIGN]: { name: "put_foreign_page", format: "WARNING: page_pool_put_page: page %a belongs to another pool (put to pool %b)" },
  [Diag.PP_PUT_NOT_PP]: { name: "put_not_pp_page", format: "WARNING: page_pool_put_page: page %a is not a page_pool page (put to pool %b)" },
  [Diag.PP_DOUBLE_PUT]: { name: "double_put", format: "WARNING: page_pool_put_page: page %a put with pp_ref_count 0 (pool %b)" },
  [Diag.PP_ALLOC_AFTER_DESTROY]: { name: "alloc_after_destroy", format: "WARNING: page_pool_alloc_pages: pool %a is destroyed" },
  [Diag.PP_ITEM_BLOCK_REF]: { name: "item_block_ref", format: "WARNING: page_pool item block %a freed with ref %B" },
  [Diag.KFREE_INVALID]: { name: "kfree_invalid", format: "BUG: kfree of invalid object %a" },
  [Diag.ALLOC_FAILED]: { name: "alloc_failed", format: "ppemu: page allocation failure: order:%A" },
  [Diag.PP_WARN]: { name: "page_pool_warn", format: "ppemu: page_pool: %a %b" },
  [Diag.PP_NEGATIVE_INFLIGHT]: { name: "negative_inflight", format: "Negative(%B) inflight packet-pages" },
  [Diag.PP_REFCNT_VIOLATION]: { name: "refcnt_violation", format: "page_pool_empty_ring() page_pool refcnt %B violation" },
  [Diag.PP_STALLED_SHUTDOWN_OLD]: { name: "stalled_pool_shutdown", format: "page_pool_release_retry() stalled pool shutdown %B inflight %A sec" },
  [Diag.PP_DMA_TRACK_FAIL]: { name: "dma_track_fail", format: "couldn't track DMA mapping, please report to netdev@" },
  [Diag.PP_CLEAR_MAGIC_INDEX]: { name: "clear_magic_index", format: "WARNING: at netmem_clear_pp_magic: page %a leaves with DMA index %B" },
  [Diag.PP_ITEM_STATE]: { name: "item_state", format: "WARNING: at page_pool_clear_item_info: item %a state %b" },
  [Diag.PP_UNLINK_NAPI]: { name: "unlink_napi", format: "WARNING: at page_pool_unlink_napi: pool %a NAPI not disabled" },
  [Diag.DMA_DEBUG_PENDING]: { name: "dma_debug_pending", format: "DMA-API: device %a: device driver has pending DMA allocations while released from device [count=%B]" },
};

/** Thrown instead of recording when the machine runs strict. */
export class KernelFault extends Error {
  constructor(
    readonly kind: number,
    readonly a: number,
    readonly b: number,
    readonly c = 0,
  ) {
    super(formatDiag(kind, a, b, c));
    this.name = "KernelFault";
  }
}

export function formatDiag(kind: number, a: number, b: number, c = 0): string {
  const info = DIAG_INFO[kind];
  if (!info) return `ppemu: unknown diagnostic ${kind} (${a}, ${b}, ${c})`;
  const hex = (v: number) => "0x" + (v >>> 0).toString(16);
  return info.format
    .replace("%a", hex(a))
    .replace("%b", hex(b))
    .replace("%A", String(a >>> 0))
    .replace("%B", String(b | 0))
    .replace("%C", String(c));
}
