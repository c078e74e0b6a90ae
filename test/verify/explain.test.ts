import { describe, expect, it } from "vitest";
import { runUnbind, type UnbindStep, type UnbindOptions } from "../../src/scenario/unbind.js";
import { Explainer, parseAddress, fieldAt, type Explanation } from "../../src/verify/explain.js";
import { decodePpMagic, decodeNetmem } from "../../src/verify/explain_fields.js";
import { PAGE_LAYOUT, PAGE_PP, PAGE_DMA_ADDR, STRUCT_PAGE_SHIFT } from "../../src/mem/page.js";
import { MACHINE_LAYOUT } from "../../src/mem/physmem.js";
import { layoutOf } from "../../src/mem/ctype.js";
import { ITEM_BLOCK_OF } from "../../src/mem/structs.js";
import { LP64 } from "../../src/arch.js";
import { u64 } from "../../src/u64.js";

const MEM = 32 << 20;
const SMALL = { pages: 40, inflight: 8, poolSize: 64, memBytes: MEM };

/** A machine of `kernel` (a build name, or a layout name for its default build) run to `at`. */
function machine(kernel: string, at: UnbindStep, o: Partial<UnbindOptions> = {}) {
  const run = runUnbind({ kernel, ...SMALL, ...o }, at);
  return { run, x: new Explainer({ sys: run.sys, stack: run.stack }) };
}

function ex(x: Explainer, addr: string | number): Explanation {
  const p = parseAddress(typeof addr === "number" ? "0x" + addr.toString(16) : addr, MEM);
  if (typeof p === "string") throw new Error(p);
  return x.explain(p);
}

function held(run: ReturnType<typeof runUnbind>): number[] {
  const pages: number[] = [];
  run.stack.forEachHeld((p) => pages.push(p));
  return pages;
}

describe("parseAddress", () => {
  it("accepts physical, vmemmap and direct-map forms, with or without 0x and underscores", () => {
    expect(parseAddress("1040", MEM)).toEqual({ input: "1040", addr: 0x1040, region: "physical" });
    expect(parseAddress("0x1_040", MEM)).toEqual({ input: "0x1_040", addr: 0x1040, region: "physical" });
    expect(parseAddress("0xffffea0000001040", MEM)).toEqual({ input: "0xffffea0000001040", addr: 0x1040, region: "vmemmap" });
    expect(parseAddress("0xffff8880_00412000", MEM)).toEqual({ input: "0xffff8880_00412000", addr: 0x412000, region: "direct map" });
  });

  it("rejects malformed input, foreign high words and addresses past the end", () => {
    expect(parseAddress("zz", MEM)).toBe("'zz' is not a hex address");
    expect(parseAddress("0x", MEM)).toBe("'0x' is not a hex address");
    expect(parseAddress("0x02000000", MEM)).toBe("'0x02000000' is past the end of memory (33554432 bytes: last address 0x01ffffff)");
    expect(parseAddress("0x01ffffff", MEM)).toEqual({ input: "0x01ffffff", addr: 0x1ffffff, region: "physical" });
    expect(parseAddress("0xdead000000000040", MEM)).toContain("is not an address of this machine (high word 0xdead0000");
  });
});

describe("fieldAt", () => {
  it("names struct page fields, joining union alternatives", () => {
    expect(fieldAt(PAGE_LAYOUT, 8)).toMatchObject({ name: "pp_magic", alias: "lru.next / compound_head", start: 8, size: 8 });
    expect(fieldAt(PAGE_LAYOUT, 20)).toMatchObject({ name: "pp / pp_item", start: 16, size: 8 });
    expect(fieldAt(PAGE_LAYOUT, 50)).toMatchObject({ name: "_mapcount / page_type", start: 48, size: 4 });
    expect(fieldAt(PAGE_LAYOUT, 64)).toMatchObject({ padding: true, name: "(past struct page, 64 bytes)" });
    expect(fieldAt(layoutOf(ITEM_BLOCK_OF.v11, LP64), 4096 - 8)).toMatchObject({ name: "items[253].pp_netmem / lentry.next", start: 4088 });
  });

  it("descends arrays of structs and flexible arrays", () => {
    expect(fieldAt(MACHINE_LAYOUT, 0x3c0)).toMatchObject({ name: "free_area[3].free_list.prev", start: 960, size: 8 });
    const blk = layoutOf(ITEM_BLOCK_OF.v11, LP64);
    expect(fieldAt(blk, 28)).toMatchObject({ name: "ref", start: 28, size: 4 });
    // items[] is flexible (size 0 in the layout), yet every item is named by index.
    expect(fieldAt(blk, 32 + 5 * 16 + 8)).toMatchObject({ name: "items[5].pp_netmem / lentry.next", start: 120, size: 8 });
  });
});

describe("decodePpMagic / decodeNetmem", () => {
  it("decodes signatures under both masks, the DMA index and bits 0–1", () => {
    expect(decodePpMagic(u64(0xdead0000, 0x40))).toMatchObject({ signature_classic: true, signature_v6_16: true, dma_index: 0, bit0_tail: false, bit1_pfmemalloc: false });
    expect(decodePpMagic(u64(0xdead0000, 0xc0))).toMatchObject({ signature_classic: false, signature_v6_16: true, dma_index: 1 });
    expect(decodePpMagic(u64(0xdead0000, 0x43))).toMatchObject({ signature_classic: true, signature_v6_16: true, bit0_tail: true, bit1_pfmemalloc: true });
    expect(decodePpMagic(u64(0xffffea00, 0x2201))).toMatchObject({ signature_classic: false, bit0_tail: true, compound_head: "0xffffea0000002200" });
    expect(decodePpMagic(u64(0xdead007f, 0xffffffc0))).toMatchObject({ signature_v6_16: true, dma_index: 0xffffffff });
    expect(decodePpMagic(u64(0, 0x01111040))).toMatchObject({ signature_classic: false, signature_v6_16: false, dma_index: 0x22220 });
  });

  it("strips NET_IOV from a netmem_ref", () => {
    expect(decodeNetmem(u64(0xffffea00, 0x1041))).toMatchObject({ net_iov: true, cleared: "0xffffea0000001040" });
    expect(decodeNetmem(u64(0xffffea00, 0x1040))).toMatchObject({ net_iov: false, cleared: "0xffffea0000001040" });
  });
});

// The default machine (classic = v6.15, 40 pages, 8 with the stack, pool_size 64, 32 MiB), "allocated":
//   pfn 0x83, 0x84, 0x86, 0x87, 0x8c, 0x8d  kmalloc slabs (0x87000: the ring queue, kmalloc-512);
//                               0x85 the IOMMU pgd
//   pfn 0x88–0x8b              kmalloc-2k (order 2): struct page_pool at 0x88000
//   pfn 0x8e–0xcd              the 64 pages of the first alloc-cache refill, IOVA 0x1000…0x40000:
//                               0x8e–0xa5 alloc cache (24), 0xa6–0xc5 the driver (32), 0xc6–0xcd the stack (8)
//   pfn 0xce                   the IOMMU leaf table
// Pool ids come from the machine's one id counter: device 1, lo 2, eth0 3, the pool 4.
describe("explain: classic, pages allocated", () => {
  const { run, x } = machine("classic", "allocated");
  const pool = run.pool;

  it("a struct page field in the memmap: pp_magic of a page in the alloc cache", () => {
    const e = ex(x, "0xffffea0000002388");
    expect(e).toMatchObject({ region: "vmemmap", address: "0x00002388", pfn: 2, offset: 0x388, role: "memmap" });
    expect(e.page).toEqual({ page: "0x00002380", pfn: 0x8e, class: "page_pool: cache" });
    expect(e.field).toEqual({
      struct: "page",
      base: "0x00002380",
      offset: 8,
      field: "pp_magic",
      alias: "lru.next / compound_head",
      field_offset: 8,
      size: 8,
      value: "0xdead000000000040",
    });
    expect(e.lines[2]).toBe(
      "    pp_magic: PP_SIGNATURE 0xdead000000000040: a page_pool page under both the classic ~0x3 mask and the v6.16 mask; dma index id 0 (untracked); bit 0 clear; bit 1 clear",
    );
  });

  it("pp / pp_item and the high word of dma_addr", () => {
    const pp = ex(x, 0x2380 + PAGE_PP + 4);
    expect(pp.field).toMatchObject({ field: "pp / pp_item", field_offset: 16, offset: 20, value: "0xffff888000088000" });
    expect(pp.lines[2]).toBe("    pp → struct page_pool 0x00088000 (id 1)");
    const dma = ex(x, 0x2380 + PAGE_DMA_ADDR + 4);
    expect(dma.field).toMatchObject({ field: "dma_addr", alias: "index", field_offset: 32, offset: 36, value: "0x0000000000001000" });
  });

  it("a page in the alloc cache, by its data address", () => {
    expect(pool).toBe(0x88000);
    const e = ex(x, 0x8e000);
    expect(e.role).toBe("page_pool page");
    expect(e.pp).toEqual({
      pool: "0x00088000",
      pool_id: 1,
      pool_live: true,
      pool_destroyed: false,
      where: "alloc cache",
      slot: 0,
      pp_ref_count: 1,
      refcount: 1,
      dma_addr: "0x00001000",
      mapped: true,
      device: "0000:03:00.0",
      device_bound: true,
    });
    expect(e.lines[2]).toBe("  page_pool page of pool 0x00088000 (id 1): alloc cache slot 0 of 24; pp_ref_count 1, _refcount 1");
  });

  it("the machine header", () => {
    const e = ex(x, "0xffff8880000803c0");
    expect(e.role).toBe("machine header");
    expect(e.field).toMatchObject({ struct: "ppemu_machine", field: "free_area[3].free_list.prev", field_offset: 960, size: 8 });
    expect(ex(x, 0x80000).field).toMatchObject({ field: "magic", value: "0x6d657070" });
    expect(ex(x, 0x81000).role).toBe("diag log");
  });

  // v6.15's struct page_pool: alloc (struct pp_alloc_cache, 64-aligned) at 320, count then cache[128]
  // from 328, so alloc.cache[23] is at 328 + 23 * 8 = 0x200; it holds slot 23's page (pfn 0xa5).
  it("slab objects: the page_pool struct (alloc.cache[23]) and a free object", () => {
    const e = ex(x, 0x88200);
    expect(e.slab).toEqual({ cache: "0x000822d0", name: "kmalloc-2k", object: 0, object_addr: "0x00088000", offset: 0x200, object_size: 2048, free: false });
    expect(e.field).toMatchObject({ struct: "page_pool", base: "0x00088000", offset: 0x200 });
    // The slot's own field line (a vmemmap pointer to pfn 0xa5), then where it sits in the cache.
    expect(e.lines.slice(3, 5)).toEqual(["    struct page * (vmemmap) → pfn 0xa5", "    alloc cache slot 23: live (below alloc.count 24)"]);
    const f = ex(x, 0x88800);
    expect(f.slab).toMatchObject({ name: "kmalloc-2k", object: 1, free: true });
  });

  // A zero-length array in the middle of a struct (v6.15's `__cacheline_group_begin__frag[0]` at
  // offset 64) covers no bytes: only a last member is a flexible array.
  it("slab objects: the page_pool field at alloc.cache[23] is named alloc.cache[23] (fieldAt and cacheline-group markers)", () => {
    expect(ex(x, 0x88200).field).toMatchObject({ struct: "page_pool", field: "alloc.cache[23]", size: 8, value: "0xffffea0000002940" });
    expect(ex(x, 0x88140).field).toMatchObject({ struct: "page_pool", field: "alloc.count", size: 4, value: "0x00000018" });
  });

  it("a tail page of a compound slab: pp_magic is compound_head | 1", () => {
    const e = ex(x, 0x2248);
    expect(e.page).toEqual({ page: "0x00002240", pfn: 0x89, class: "slab" });
    expect(e.field).toMatchObject({ field: "pp_magic", value: "0xffffea0000002201" });
    expect(e.lines[2]).toBe("    compound_head: a tail page; head struct page 0x00002200 (pfn 0x88)");
  });

  it("an IOMMU leaf entry", () => {
    const e = ex(x, 0xce010);
    expect(e.role).toBe("iommu table");
    expect(e.iommu).toEqual({ device: "0000:03:00.0", table: "leaf", slot: 1, iova: "0x00001000", pfn: 0x8e, flags: ["PRESENT", "HEAD", "SKIP_CPU_SYNC"] });
  });

  it("every frame is classified, and the classes match the accounting", () => {
    expect(x.accountingErrors).toEqual([]);
    expect(x.classes.filter((c) => c === "page_pool: cache").length).toBe(24);
    expect(x.classes.filter((c) => c === "page_pool: in flight (stack)").length).toBe(8);
    expect(x.classes.filter((c) => c === "page_pool: in flight (driver)").length).toBe(32);
  });
});

describe("explain: classic, a page in the ring", () => {
  it("a page the stack returned from another CPU sits in the ring", () => {
    const run = runUnbind({ kernel: "classic", ...SMALL }, "allocated");
    const page = run.stack.returnOldest();
    const x = new Explainer({ sys: run.sys, stack: run.stack });
    expect(page).toBe(0x3340); // pfn 0xcd: the stack's oldest, the last page of the refill (IOVA 0x40000)
    const e = ex(x, (page >>> STRUCT_PAGE_SHIFT) << 12);
    expect(e.class).toBe("page_pool: ring");
    expect(e.pp).toMatchObject({ where: "ring", slot: 0, mapped: true, dma_addr: "0x00040000" });
    const q = ex(x, 0x87000);
    expect(q.field).toMatchObject({ struct: "ptr_ring queue", field: "queue[0]", value: "0xffffea0000003340" });
  });
});

describe("explain: classic, destroyed", () => {
  const { x } = machine("classic", "destroyed");
  it("a free frame", () => {
    const e = ex(x, "0xffff888000412000");
    expect(e).toMatchObject({ role: "free", pfn: 0x412, buddy: { head_pfn: 0x400, order: 10 } });
    expect(e.lines[1]).toBe("  inside a free buddy block of order 10: pfn 0x400–0x7ff, head struct page 0x00010000 on free_area[10].free_list");
  });
});

describe("explain: item-block", () => {
  it("an item in a fast block, and the page's pp_item pointing at it", () => {
    const { run, x } = machine("item-block", "allocated");
    const page = held(run)[7]!;
    const item = run.sys.m.mem.rd32(page + PAGE_PP);
    const e = ex(x, item);
    expect(e.role).toBe("item block");
    expect(e.item).toEqual({
      block: "0x00091000",
      pool: "0x00088000",
      slow: false,
      ref: 0,
      index: 197,
      item: "0x00091c70",
      state: 3,
      used: true,
      mapped: true,
      status: "tracking a page",
      page: "0x00003280",
      page_pfn: 0xca,
    });
    expect(e.field).toMatchObject({ struct: "page_pool_item", field: "state", value: "0x0000000000000003" });
    const hdr = ex(x, 0x91000);
    expect(hdr.item).toMatchObject({ index: null, status: "header" });
    expect(hdr.field).toMatchObject({ struct: "page_pool_item_block", field: "pp", value: "0xffff888000088000" });
    const viaPage = ex(x, page + PAGE_PP);
    expect(viaPage.field).toMatchObject({ field: "pp / pp_item", value: "0xffff888000091c70" });
    expect(viaPage.item).toMatchObject({ index: 197, block: "0x00091000" });
  });

  it("an item in a SLOW block: fast items exhausted by 800 pages never released (pool_size 1: 3 blocks, 762 items)", () => {
    const { run, x } = machine("item-block", "destroyed", { pages: 800, inflight: 800, poolSize: 1 });
    const e = ex(x, 0x398070);
    expect(e.item).toEqual({
      block: "0x00398000",
      pool: "0x00088000",
      slow: true,
      ref: 38,
      index: 5,
      item: "0x00398070",
      state: 1,
      used: true,
      mapped: false,
      status: "tracking a page",
      page: "0x0000e5c0",
      page_pfn: 0x397,
    });
    expect(e.lines[1]).toBe(
      "  slow item block 0x00398000 of pool 0x00088000 (id 1, destroyed, lingering with pages in flight), ref 38 (254 items of 16 bytes from offset 32)",
    );
    expect(ex(x, 0x398ff0).item).toMatchObject({ index: 253, status: "never used", state: 0 });
    expect(ex(x, 0x398018).field).toMatchObject({ field: "flags", value: "0x00000001" });
    expect(run.sys.m.mem.rd32(0xe5c0 + PAGE_PP)).toBe(0x398070);
  });

  it("a page in flight after unbind was unmapped by destroy", () => {
    const { run, x } = machine("item-block", "unbound");
    const page = held(run)[7]!;
    const e = ex(x, (page >>> STRUCT_PAGE_SHIFT) << 12);
    expect(e.pp).toMatchObject({ where: "in flight (stack)", slot: 7, dma_addr: "0x00000000", mapped: false, pool_destroyed: true, device_bound: false });
    expect(e.item).toMatchObject({ used: true, mapped: false, status: "tracking a page" });
    expect(e.lines).toContain("  dma_addr 0: unmapped by page_pool_destroy() (v11, item-block): its late return will skip the DMA API");
  });
});

describe("explain: xarray", () => {
  it("the DMA index id in pp_magic and its dma_mapped entry", () => {
    const { run, x } = machine("xarray", "allocated");
    const e = ex(x, "0xffffea0000002388");
    expect(e.field).toMatchObject({ field: "pp_magic", value: "0xdead0000000000c0" });
    expect(e.pp).toMatchObject({ where: "alloc cache", slot: 0, dma_index: 1, dma_index_registered: true });
    expect(e.lines[3]).toBe("    pool 0x00088000: dma_mapped[1] = this page (xa_load)");
    const page = held(run)[7]!;
    expect(page).toBe(0x3180);
    expect(ex(x, page + 8).pp).toMatchObject({ where: "in flight (stack)", dma_index: 57, dma_index_registered: true });
  });

  it("after unbind the id is 0 and the page is unmapped", () => {
    const { x } = machine("xarray", "unbound");
    const e = ex(x, 0xc6000);
    expect(e.pp).toMatchObject({ where: "in flight (stack)", dma_addr: "0x00000000", dma_index: 0, dma_index_registered: false, pool_destroyed: true });
  });
});

describe("explain: mainline's xarray scrub only unmaps", () => {
  // mainline's __page_pool_unmap_netmem_dma() unmaps and unregisters the id but leaves dma_addr and
  // the id bits in the page, for the page's own return to clear.
  it("after destroy the page keeps a stale dma_addr and an id the xarray no longer holds", () => {
    const { run, x } = machine("mainline", "destroyed");
    expect(held(run)[7]).toBe(0x3180);
    const e = ex(x, 0xc6000);
    expect(e.pp).toMatchObject({ where: "in flight (stack)", dma_addr: "0x00039000", mapped: false, dma_index: 57, dma_index_registered: false, pool_destroyed: true, device_bound: true });
    expect(e.lines).toContain("  dma_addr 0x00039000: 0000:03:00.0's IOMMU has no translation to this page (stale dma_addr)");
    expect(e.lines).toContain("  pp_magic DMA index id 57: pool->dma_mapped[57] does NOT hold this page");
  });

  // Once the device is unbound its IOMMU cannot tell; the layout can: mainline's xarray no longer
  // holds the page, so the dma_addr the scrub left is stale, not a mapping that outlived the driver.
  it("after unbind the stale dma_addr is not called the unbind bug", () => {
    const { x } = machine("mainline", "unbound");
    const e = ex(x, 0xc6000);
    expect(e.pp).toMatchObject({ dma_addr: "0x00039000", mapped: false, dma_index: 57, dma_index_registered: false, device_bound: false });
    expect(e.lines).toContain(
      "  dma_addr 0x00039000: stale — page_pool_destroy() already unmapped it (mainline leaves dma_addr until the page returns), so its return skips the DMA API",
    );
    expect(e.lines.join("\n")).not.toContain("the unbind bug");
  });
});

describe("explain: classic, in flight after unbind", () => {
  it("the page is still mapped through a device whose driver is gone", () => {
    const { x } = machine("classic", "unbound");
    const e = ex(x, 0xc6000);
    expect(e.pp).toEqual({
      pool: "0x00088000",
      pool_id: 1,
      pool_live: true,
      pool_destroyed: true,
      where: "in flight (stack)",
      slot: 7,
      pp_ref_count: 1,
      refcount: 1,
      dma_addr: "0x00039000",
      mapped: false,
      device: "0000:03:00.0",
      device_bound: false,
    });
    expect(e.lines[3]).toContain("still set, but 0000:03:00.0's driver unbound and its IOMMU domain is gone");
  });
});
