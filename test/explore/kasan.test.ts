/**
 * The explorer's KASAN shadow fed by the allocators' point hooks, single-threaded: the reports are
 * pinned whole (mm/kasan/report.c's format), and with no hook the allocators behave as before.
 */
import { afterEach, describe, expect, test } from "vitest";
import { bootMachine, type Machine } from "../../src/mem/machine.js";
import { bootPpSystem } from "../../src/pool/index.js";
import { GFP_ZERO } from "../../src/mem/buddy.js";
import { Point, pointHook, setPointHook } from "../../src/explore/points.js";
import {
  KASAN_PAGE_FREE,
  KASAN_SLAB_FREE,
  KASAN_SLAB_REDZONE,
  KasanRec,
  KasanShadow,
} from "../../src/explore/kasan.js";
import { kasanPointHook, kasanPoisonFree, type KasanHookOptions } from "../../src/explore/kasan_hook.js";

const MiB = 1 << 20;

/** A booted machine with a shadow fed by the hook (what was free at boot poisoned first). */
function kasanMachine(opts: KasanHookOptions = {}): { m: Machine; sh: KasanShadow } {
  const m = bootMachine({ bytes: 4 * MiB });
  const sh = new KasanShadow(m.mem.bytes, undefined, { machine: m });
  kasanPoisonFree(sh, m);
  setPointHook(kasanPointHook(sh, m, opts));
  return { m, sh };
}

afterEach(() => setPointHook(null));

describe("slab objects", () => {
  test("a write into a kfree'd object is a slab-use-after-free with its cache and both tracks", () => {
    const { m, sh } = kasanMachine();
    const obj = m.slab.kmalloc(2000);
    expect(obj).toBe(0x14000);
    expect(sh.check(obj + 64, 8, true, 0, "x")).toBeNull(); // live: fine
    m.slab.kfree(obj);
    m.mem.bindCpu(1);
    expect(sh.check(obj + 64, 8, true, 1, "page_pool_recycle_in_ring")).toBe(
      [
        "==================================================================",
        "BUG: KASAN: slab-use-after-free in page_pool_recycle_in_ring",
        "Write of size 8 at addr ffff888000014040 by task ppemu/1",
        "",
        "Allocated by task 0 on cpu 0:",
        " kmem_cache_alloc",
        "",
        "Freed by task 0 on cpu 0:",
        " kmem_cache_free",
        "",
        "The buggy address belongs to the object at ffff888000014000",
        " which belongs to the cache kmalloc-2k of size 2048",
        "The buggy address is located 64 bytes inside of",
        " freed 2048-byte region [ffff888000014000, ffff888000014800)",
        "",
        "Memory state around the buggy address:",
        " ffff888000013f00: ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff",
        " ffff888000013f80: ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff",
        ">ffff888000014000: fb fb fb fb fb fb fb fb fb fb fb fb fb fb fb fb",
        "                                           ^",
        " ffff888000014080: fb fb fb fb fb fb fb fb fb fb fb fb fb fb fb fb",
        " ffff888000014100: fb fb fb fb fb fb fb fb fb fb fb fb fb fb fb fb",
        "==================================================================",
      ].join("\n"),
    );
    // The slab went back to the page allocator with its only object; the freed object's granules
    // stay KASAN_SLAB_FREE (the quarantine stand-in), the rest of the slab is a free page.
    expect(sh.shadowByte(obj)).toBe(KASAN_SLAB_FREE);
    expect(sh.shadowByte(obj + 2048)).toBe(KASAN_PAGE_FREE);
    // Reallocation makes it accessible again.
    expect(m.slab.kmalloc(2000)).toBe(obj);
    expect(sh.check(obj + 64, 8, true, 1, "x")).toBeNull();
    expect(sh.check(obj, 2048, false, 1, "x")).toBeNull();
  });

  test("a live object is accessible to its object_size; past it, and a never-allocated neighbour, are slab-out-of-bounds", () => {
    const { m, sh } = kasanMachine();
    const cache = m.slab.kmemCacheCreate("ppemu_test", 60);
    const a = m.slab.kmemCacheAlloc(cache);
    expect(sh.check(a, 60, false, 0, "x")).toBeNull();
    expect(sh.check(a + 56, 4, true, 0, "x")).toBeNull();
    expect(sh.check(a + 60, 4, false, 0, "f")).toBe(
      [
        "==================================================================",
        "BUG: KASAN: slab-out-of-bounds in f",
        "Read of size 4 at addr ffff88800001303c by task ppemu/0",
        "",
        "Allocated by task 0 on cpu 0:",
        " kmem_cache_alloc",
        "",
        "The buggy address belongs to the object at ffff888000013000",
        " which belongs to the cache ppemu_test of size 60",
        "The buggy address is located 0 bytes to the right of",
        " allocated 60-byte region [ffff888000013000, ffff88800001303c)",
        "",
        "Memory state around the buggy address:",
        " ffff888000012f00: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
        " ffff888000012f80: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
        ">ffff888000013000: 00 00 00 00 00 00 00 04 fc fc fc fc fc fc fc fc",
        "                                        ^",
        " ffff888000013080: fc fc fc fc fc fc fc fc fc fc fc fc fc fc fc fc",
        " ffff888000013100: fc fc fc fc fc fc fc fc fc fc fc fc fc fc fc fc",
        "==================================================================",
      ].join("\n"),
    );
    // The next object of the new slab was never allocated (kasan_poison_slab()).
    expect(sh.shadowByte(a + 64)).toBe(KASAN_SLAB_REDZONE);
    expect(sh.check(a + 64, 8, false, 0, "g")!.split("\n")[1]).toBe("BUG: KASAN: slab-out-of-bounds in g");
  });

  test("NULL plus an offset is a null-ptr-deref, past the machine a wild-memory-access", () => {
    const { m, sh } = kasanMachine();
    expect(sh.check(0x10, 8, false, 2, Point.RELEASE_INFLIGHT)).toBe(
      [
        "==================================================================",
        "BUG: KASAN: null-ptr-deref in page_pool_release:inflight",
        "Read of size 8 at addr 0000000000000010 by task ppemu/2",
        "",
        "==================================================================",
      ].join("\n"),
    );
    // The memmap sits at physical 0: struct pages of allocatable frames in the first page are
    // memory (pfn 18 is the first of this 4 MiB machine); only the memmap frames' own are NULL.
    expect(sh.nullLimit).toBe(16 * 64);
    expect(sh.check(m.mem.pfnToPage(m.mem.firstAllocatablePfn), 64, true, 0, "x")).toBeNull();
    expect(sh.check(1016, 8, false, 0, "n")!.split("\n")[2]).toBe("Read of size 8 at addr 00000000000003f8 by task ppemu/0");
    expect(sh.check(4 * MiB - 4, 8, true, 0, "h")!.split("\n").slice(1, 3)).toEqual([
      "BUG: KASAN: wild-memory-access in h",
      "Write of size 8 at addr ffff8880003ffffc by task ppemu/0",
    ]);
  });
});

describe("pages", () => {
  test("a read of a page freed to the allocator is a use-after-free with page_owner's tracks; reallocating it clears it", () => {
    const { m, sh } = kasanMachine();
    const page = m.pa.allocPages(0);
    const addr = m.mem.pageAddress(page);
    expect(sh.check(addr, 4096, true, 0, "x")).toBeNull();
    m.mem.bindCpu(1);
    m.pa.freePages(page, 0);
    expect(sh.check(addr + 16, 4, false, 1, "page_pool_alloc_pages")).toBe(
      [
        "==================================================================",
        "BUG: KASAN: use-after-free in page_pool_alloc_pages",
        "Read of size 4 at addr ffff888000013010 by task ppemu/1",
        "",
        "The buggy address belongs to the physical page:",
        "page: refcount:0 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x13",
        "page dumped because: kasan: bad access detected",
        "page_owner tracks the page as freed",
        "page last allocated via order 0, pid 0, tgid 0 (ppemu)",
        " alloc_pages",
        "page last free pid 1 tgid 1 stack trace:",
        " __free_pages",
        "",
        "Memory state around the buggy address:",
        " ffff888000012f00: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
        " ffff888000012f80: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
        ">ffff888000013000: ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff",
        "                         ^",
        " ffff888000013080: ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff",
        " ffff888000013100: ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff",
        "==================================================================",
      ].join("\n"),
    );
    expect(m.pa.allocPages(0)).toBe(page);
    expect(sh.check(addr + 16, 4, false, 1, "x")).toBeNull();
  });

  test("a put that does not drop the last reference frees nothing; a large kfree poisons the whole block", () => {
    const { m, sh } = kasanMachine();
    const page = m.pa.allocPages(0);
    m.pa.getPage(page);
    m.pa.putPage(page);
    expect(sh.check(m.mem.pageAddress(page), 8, false, 0, "x")).toBeNull();
    const big = m.slab.kmalloc(3 * 4096 + 100);
    expect(sh.check(big, 3 * 4096 + 100, true, 0, "x")).toBeNull();
    // kasan_kmalloc_large(): the rest of the order-2 block is a redzone.
    expect(sh.check(big + 3 * 4096 + 104, 8, true, 0, "y")!.split("\n")[1]).toBe("BUG: KASAN: slab-out-of-bounds in y");
    m.slab.kfree(big);
    expect(sh.check(big, 8, false, 0, "z")!.split("\n")[1]).toBe("BUG: KASAN: use-after-free in z");
  });

  test("alloc_pages_bulk reports each page it filled, not the slots already populated", () => {
    const { m, sh } = kasanMachine();
    const arr = m.slab.kmalloc(4 * 8, GFP_ZERO);
    const pre = m.pa.allocPages(0);
    m.mem.wrPagePtr(arr + 8, pre);
    const before = sh.recordsWritten;
    expect(m.pa.allocPagesBulk(4, arr)).toBe(4);
    expect(sh.recordsWritten - before).toBe(3);
    for (const i of [0, 2, 3]) {
      const page = m.mem.rd32(arr + i * 8);
      expect(sh.findRecord((r) => r.kind === KasanRec.PAGE_ALLOC && r.start === m.mem.pageAddress(page))).not.toBeNull();
      expect(sh.check(m.mem.pageAddress(page), 4096, true, 0, "x")).toBeNull();
    }
  });
});

describe("a page_pool destroyed", () => {
  test("a write to the freed struct page_pool is reported with its cache, freed by __page_pool_destroy", () => {
    const sys = bootPpSystem("v6.15", { bytes: 8 * MiB });
    const m = sys.m;
    const sh = new KasanShadow(m.mem.bytes, undefined, { machine: m });
    kasanPoisonFree(sh, m);
    // The explorer names the kernel function a CPU is in; here, every kfree is the pool's destroy.
    setPointHook(kasanPointHook(sh, m, { site: (_cpu, point) => (point === Point.SLAB_FREE ? Point.BEFORE_FREE_POOL : point) }));
    const pool = sys.pps.create({});
    expect(pool).toBeGreaterThan(0);
    expect(sh.check(pool, 8, true, 0, "x")).toBeNull();
    sys.pps.destroy(pool); // no pages in flight: freed at once
    const report = sh.check(pool + 64, 8, true, 1, Point.RECYCLE_STAT_RING)!;
    expect(report.split("\n").slice(0, 15)).toEqual([
      "==================================================================",
      "BUG: KASAN: slab-use-after-free in page_pool_recycle_in_ring:recycle_stat_inc",
      "Write of size 8 at addr ffff888000024040 by task ppemu/1",
      "",
      "Allocated by task 0 on cpu 0:",
      " kmem_cache_alloc",
      "",
      "Freed by task 0 on cpu 0:",
      " __page_pool_destroy",
      "",
      "The buggy address belongs to the object at ffff888000024000",
      " which belongs to the cache kmalloc-2k of size 2048",
      "The buggy address is located 64 bytes inside of",
      " freed 2048-byte region [ffff888000024000, ffff888000024800)",
      "",
    ]);
  });
});

describe("the shadow as a whole", () => {
  test("another view of the buffer sees the same shadow and records; snapshot/restore and reset", () => {
    const { m, sh } = kasanMachine();
    const obj = m.slab.kmalloc(100);
    const other = new KasanShadow(m.mem.bytes, sh.buffer, { machine: m });
    expect(other.recordsWritten).toBe(sh.recordsWritten);
    const snap = sh.snapshot();
    m.slab.kfree(obj);
    expect(other.check(obj, 8, false, 0, "x")).not.toBeNull();
    sh.restore(snap);
    expect(other.check(obj, 8, false, 0, "x")).toBeNull();
    expect(other.findRecord((r) => r.kind === KasanRec.SLAB_FREE && r.start === obj)).toBeNull();
    expect(sh.shadowByte(2 * MiB)).toBe(KASAN_PAGE_FREE); // free since boot (kasanPoisonFree)
    sh.reset();
    expect(sh.recordsWritten).toBe(0);
    expect(sh.shadowByte(2 * MiB)).toBe(0);
    expect(sh.check(2 * MiB, 8, false, 0, "x")).toBeNull();
    expect(() => new KasanShadow(2 * MiB, sh.buffer)).toThrow(RangeError);
  });

  test("with the hook null (outside the explorer) the allocators change the machine exactly as before", () => {
    expect(pointHook).toBeNull();
    const run = (m: Machine): void => {
      const a = m.slab.kmalloc(2000);
      const b = m.slab.kmalloc(24, GFP_ZERO);
      const big = m.slab.kmalloc(20000);
      const p = m.pa.allocPages(2);
      const arr = m.slab.kmalloc(64, GFP_ZERO);
      m.pa.allocPagesBulk(8, arr);
      for (let i = 0; i < 8; i++) m.pa.putPage(m.mem.rd32(arr + i * 8));
      m.slab.kfree(a);
      m.slab.kfree(big);
      m.pa.freePages(p, 2);
      m.slab.kfree(b);
      m.slab.kfree(arr);
    };
    const plain = bootMachine({ bytes: 4 * MiB });
    run(plain);
    const { m: hooked } = kasanMachine();
    run(hooked);
    setPointHook(null);
    const bare = bootMachine({ bytes: 4 * MiB });
    run(bare);
    expect(Buffer.compare(new Uint8Array(plain.mem.buffer), new Uint8Array(hooked.mem.buffer))).toBe(0);
    expect(Buffer.compare(new Uint8Array(plain.mem.buffer), new Uint8Array(bare.mem.buffer))).toBe(0);
  });
});
