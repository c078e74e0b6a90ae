/** Diagnostic texts: kernel kinds verbatim, emulator kinds prefixed, counts by origin. */
import { describe, expect, it } from "vitest";
import {
  Diag,
  DIAG_INFO,
  NR_DIAG_KINDS,
  diagLineCounts,
  diagOrigin,
  formatDiag,
  encodeDiagSize,
  decodeDiagSize,
  KernelFault,
  type DiagResolver,
} from "../../src/mem/diag.js";

const W = (file: string, fn: string) => `WARNING: CPU: 0 PID: 1 at ${file} ${fn}`;

describe("diag origins", () => {
  const KERNEL = [
    Diag.BAD_PAGE_STATE,
    Diag.PAGE_POOL_LEAK,
    Diag.DMA_DOUBLE_UNMAP,
    Diag.DMA_UNMAP_UNKNOWN,
    Diag.PP_STALLED_SHUTDOWN,
    Diag.PP_NEGATIVE_INFLIGHT,
    Diag.PP_REFCNT_VIOLATION,
    Diag.PP_STALLED_SHUTDOWN_OLD,
    Diag.PP_DMA_TRACK_FAIL,
    Diag.PP_CLEAR_MAGIC_INDEX,
    Diag.PP_ITEM_STATE,
    Diag.PP_UNLINK_NAPI,
    Diag.DMA_DEBUG_PENDING,
    Diag.DMA_SYNC_UNKNOWN,
    Diag.PP_REFCOUNT_UNDERFLOW,
    Diag.VM_BUG_ON_PAGE,
    Diag.PP_FRAG_WARN,
    Diag.MP_INIT_FAILED,
    Diag.DEVMEM_WARN,
    Diag.PP_NMDESC_NOT_PP,
  ];
  const PPEMU = [
    Diag.DOUBLE_FREE,
    Diag.DMA_UNMAP_AFTER_UNBIND,
    Diag.DMA_SYNC_AFTER_UNBIND,
    Diag.DMA_MAPPING_OUTLIVES_DRIVER,
    Diag.PP_PUT_FOREIGN,
    Diag.PP_PUT_NOT_PP,
    Diag.PP_DOUBLE_PUT,
    Diag.PP_ALLOC_AFTER_DESTROY,
    Diag.PP_ITEM_BLOCK_REF,
    Diag.KFREE_INVALID,
    Diag.ALLOC_FAILED,
    Diag.PP_WARN,
    Diag.PP_DEV_NOT_DEVICE,
    Diag.PP_ALLOC_NO_POOL,
  ];

  it("every kind has exactly one origin, and the enum numbers are the stored ones", () => {
    const kinds = Object.keys(DIAG_INFO).map(Number).sort((x, y) => x - y);
    expect(kinds).toEqual(Array.from({ length: 34 }, (_, i) => i));
    expect([...KERNEL, ...PPEMU].sort((x, y) => x - y)).toEqual(kinds);
    for (const k of KERNEL) expect([k, diagOrigin(k)]).toEqual([k, "kernel"]);
    for (const k of PPEMU) expect([k, diagOrigin(k)]).toEqual([k, "ppemu"]);
    expect(kinds.every((k) => k < NR_DIAG_KINDS)).toBe(true);
    expect([Diag.DMA_DEBUG_PENDING, Diag.DMA_SYNC_UNKNOWN, Diag.PP_UNLINK_NAPI, Diag.DMA_MAPPING_OUTLIVES_DRIVER]).toEqual([24, 25, 23, 7]);
    expect([Diag.PP_REFCOUNT_UNDERFLOW, Diag.PP_DEV_NOT_DEVICE, Diag.PP_ALLOC_NO_POOL]).toEqual([26, 27, 28]);
    expect(new Set(kinds.map((k) => DIAG_INFO[k]!.name)).size).toBe(kinds.length);
  });

  it("emulator lines, and only they, start with ppemu:", () => {
    for (const k of PPEMU) expect(formatDiag(k, 0x1000, 7, 3)).toMatch(/^ppemu: /);
    for (const k of KERNEL) expect(formatDiag(k, 0x1000, 7, 3)).not.toMatch(/^ppemu/);
    expect(formatDiag(39, 1, 2, 3)).toBe("ppemu: unknown diagnostic 39 (1, 2, 3)");
    expect(diagOrigin(39)).toBe("ppemu");
  });
});

describe("kernel texts, verbatim", () => {
  it("mm bad_page(): pfn as %05lx, two spaces before pfn", () => {
    expect(formatDiag(Diag.BAD_PAGE_STATE, 0x1a, 5)).toBe("BUG: Bad page state in process ppemu  pfn:0001a");
    expect(formatDiag(Diag.BAD_PAGE_STATE, 0x11c98b, 0)).toBe("BUG: Bad page state in process ppemu  pfn:11c98b");
    expect(formatDiag(Diag.PAGE_POOL_LEAK, 0x123, 0x40)).toBe(
      "BUG: Bad page state in process ppemu  pfn:00123\npage dumped because: page_pool leak",
    );
  });

  it("page_pool: release_retry (new and old), refcnt violation, negative inflight, DMA tracking", () => {
    expect(formatDiag(Diag.PP_STALLED_SHUTDOWN, 968, 2, 120)).toBe("page_pool_release_retry() stalled pool shutdown: id 968, 2 inflight 120 sec");
    expect(formatDiag(Diag.PP_STALLED_SHUTDOWN_OLD, 48, 60)).toBe("page_pool_release_retry() stalled pool shutdown 48 inflight 60 sec");
    expect(formatDiag(Diag.PP_STALLED_SHUTDOWN_OLD, -3 >>> 0, 60)).toBe("page_pool_release_retry() stalled pool shutdown -3 inflight 60 sec");
    expect(formatDiag(Diag.PP_REFCNT_VIOLATION, 0xffff0000, -30528 >>> 0)).toBe("page_pool_empty_ring() page_pool refcnt -30528 violation");
    expect(formatDiag(Diag.PP_NEGATIVE_INFLIGHT, 0x5000, -51446 >>> 0)).toBe(
      `Negative(-51446) inflight packet-pages\n${W("net/core/page_pool.c", "page_pool_inflight")}`,
    );
    expect(formatDiag(Diag.PP_DMA_TRACK_FAIL, 0x5000, -16 >>> 0)).toBe(
      `couldn't track DMA mapping, please report to netdev@\n${W("net/core/page_pool.c", "page_pool_register_dma_index")}`,
    );
  });

  it("WARN_ON()s without a message print only the WARNING line", () => {
    expect(formatDiag(Diag.PP_CLEAR_MAGIC_INDEX, 0x5000, 3)).toBe(W("net/core/netmem_priv.h", "netmem_clear_pp_magic"));
    expect(formatDiag(Diag.PP_ITEM_STATE, 0x5000, 3)).toBe(W("net/core/page_pool.c", "page_pool_clear_item_info"));
    expect(formatDiag(Diag.PP_UNLINK_NAPI, 0x5000, 0)).toBe(W("net/core/page_pool.c", "page_pool_unlink_napi"));
  });

  it("dma-debug: driver and device names through the resolver, 0x%016llx addresses, sizes from c", () => {
    const res: DiagResolver = {
      deviceName: (id) => (id === 7 ? "eth0" : undefined),
      dmaDebugLeak: (id) => (id === 7 ? { dmaAddr: 0xffbda000, size: 4096 } : undefined),
    };
    const unk = "device driver tries to free DMA memory it has not allocated [device address=0x0000000000001000] [size=16384 bytes]";
    expect(formatDiag(Diag.DMA_UNMAP_UNKNOWN, 0x1000, 7, encodeDiagSize(16384), res)).toBe(
      `DMA-API: ppemu_net eth0: ${unk}\n${W("kernel/dma/debug.c", "check_unmap")}`,
    );
    expect(formatDiag(Diag.DMA_DOUBLE_UNMAP, 0x1000, 7, encodeDiagSize(16384), res)).toBe(formatDiag(Diag.DMA_UNMAP_UNKNOWN, 0x1000, 7, encodeDiagSize(16384), res));
    expect(formatDiag(Diag.DMA_UNMAP_UNKNOWN, 0x1000, 9, encodeDiagSize(16384), res).split("\n")[0]).toBe(`DMA-API: ppemu_net ppemu9: ${unk}`);
    expect(formatDiag(Diag.DMA_DEBUG_PENDING, 7, 21, 2, res)).toBe(
      "DMA-API: ppemu eth0: device driver has pending DMA allocations while released from device [count=21]\n" +
        "One of leaked entries details: [device address=0x00000000ffbda000] [size=4096 bytes] [mapped with DMA_FROM_DEVICE] [mapped as single]\n" +
        W("kernel/dma/debug.c", "dma_debug_device_change"),
    );
    // The optional argument: existing four-argument callers keep working.
    expect(formatDiag(Diag.DMA_DEBUG_PENDING, 7, 21, 2)).toBe(
      `DMA-API: ppemu ppemu7: device driver has pending DMA allocations while released from device [count=21]\n${W("kernel/dma/debug.c", "dma_debug_device_change")}`,
    );
    expect(new KernelFault(Diag.DMA_DEBUG_PENDING, 7, 21, 2).message).toBe(formatDiag(Diag.DMA_DEBUG_PENDING, 7, 21, 2));
  });

  it("sizes in the 16-bit c: bytes below 32 KiB, 4 KiB units above", () => {
    for (const n of [0, 1, 64, 2048, 4096, 0x7fff, 0x8000, 65536, 4096 << 10, 4096 << 14]) expect(decodeDiagSize(encodeDiagSize(n))).toBe(n);
    expect(encodeDiagSize(4096 << 10)).toBe(0x8000 | 1024);
    expect(encodeDiagSize(1 << 30)).toBe(0xffff);
  });

  it("emulator texts", () => {
    expect(formatDiag(Diag.DMA_UNMAP_AFTER_UNBIND, 0x1000, 0x2a)).toBe("ppemu: iommu: device 0x2a: DMA unmap after driver unbind (iova 0x1000)");
    expect(formatDiag(Diag.DMA_SYNC_AFTER_UNBIND, 0x1000, 0x2a)).toBe("ppemu: iommu: device 0x2a: DMA sync after driver unbind (iova 0x1000)");
    expect(formatDiag(Diag.ALLOC_FAILED, 3, 0)).toBe("ppemu: page allocation failure: order:3");
    expect(formatDiag(Diag.DOUBLE_FREE, 0x42, 0)).toBe("ppemu: page allocator: double free of pfn:00042");
  });
});

describe("diagLineCounts", () => {
  it("sums kernel reports and emulator lines separately; a multi-line report counts once", () => {
    const counts: Record<number, number> = {
      [Diag.DMA_DEBUG_PENDING]: 1,
      [Diag.DMA_SYNC_AFTER_UNBIND]: 64,
      [Diag.DMA_UNMAP_AFTER_UNBIND]: 64,
      [Diag.PP_STALLED_SHUTDOWN]: 2,
      [Diag.PP_PUT_FOREIGN]: 3,
    };
    expect(diagLineCounts((k) => counts[k] ?? 0)).toEqual({ kernel: 3, ppemu: 131 });
    expect(diagLineCounts(() => 0)).toEqual({ kernel: 0, ppemu: 0 });
  });
});
