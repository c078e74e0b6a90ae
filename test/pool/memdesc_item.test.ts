/**
 * The memdesc-item build (src/builds/memdesc_item.ts): struct page as one memdesc word `item | 10`,
 * the item as the page's netmem_desc, and the mechanism reaching a page's pool fields through
 * `netmem_to_nmdesc()` (src/pool/nmdesc.ts) — the item here, the page itself on every other build.
 */
import { describe, expect, it } from "vitest";
import { ILP32, LP64 } from "../../src/arch.js";
import { layoutOf, offsetOf } from "../../src/mem/ctype.js";
import { STRUCT_NETMEM_DESC } from "../../src/mem/structs.js";
import { PAGE_DMA_ADDR, PAGE_PP_MAGIC, PAGE_PP_REF_COUNT, DIRECT_MAP_HI } from "../../src/mem/page.js";
import { Diag } from "../../src/mem/diag.js";
import { findBuild } from "../../src/builds/index.js";
import {
  MEMDESC_TYPE_NETPOOL,
  STRUCT_PAGE_MEMDESC,
  STRUCT_PP_MEMDESC_ITEM,
  STRUCT_PP_MEMDESC_ITEM_BLOCK,
  memdescItemGeometry,
  memdescWordOffset,
} from "../../src/builds/memdesc_item_structs.js";
import { MemdescItemTracking, MD_ITEM_MAPPED, MD_ITEM_USED } from "../../src/builds/memdesc_item.js";
import { NMDESC_DMA_ADDR, NMDESC_PP, NMDESC_PP_REF_COUNT } from "../../src/pool/nmdesc.js";
import { runUnbind } from "../../src/scenario/unbind.js";
import { Explainer, parseAddress } from "../../src/verify/explain.js";
import { accounted, allocN, rig } from "./helpers.js";

const B = findBuild("memdesc-item")!;

describe("memdesc-item declarations", () => {
  it("the build is registered with id 200 and its layout says what compare prints", () => {
    expect(B.id).toBe(200);
    expect(B.layout.name).toBe("memdesc-item");
    expect(B.layout.userMappable).toBe(true);
    expect(B.layout.structPageBytes!(LP64)).toBe(8);
    expect(B.layout.structPageBytes!(ILP32)).toBe(4);
    expect(B.layout.membershipText(B)).toBe("memdesc_type(page->memdesc) == MEMDESC_NETPOOL (10)");
  });

  it("struct page shrinks to the memdesc word; the word is compound_head's (offset 8 / 4)", () => {
    expect(layoutOf(STRUCT_PAGE_MEMDESC, LP64).size).toBe(8);
    expect(memdescWordOffset(LP64)).toBe(8);
    expect(memdescWordOffset(ILP32)).toBe(4);
  });

  it("the item is netmem_desc at offset 0, 48 bytes (lp64) / 32 (ilp32), 16-aligned", () => {
    const l = layoutOf(STRUCT_PP_MEMDESC_ITEM, LP64);
    expect([l.size, l.align]).toEqual([48, 16]);
    const d = layoutOf(STRUCT_NETMEM_DESC, LP64);
    for (const mem of STRUCT_NETMEM_DESC.members) expect(offsetOf(l, `desc.${mem.name}`), mem.name).toBe(offsetOf(d, mem.name));
    expect([offsetOf(l, "state"), offsetOf(l, "pp_magic"), offsetOf(l, "pp"), offsetOf(l, "page"), offsetOf(l, "lentry"), offsetOf(l, "dma_addr"), offsetOf(l, "pp_ref_count")]).toEqual([0, 8, 16, 24, 24, 32, 40]);
    const i = layoutOf(STRUCT_PP_MEMDESC_ITEM, ILP32);
    expect([i.size, i.align, offsetOf(i, "page"), offsetOf(i, "dma_addr")]).toEqual([32, 16, 12, 16]);
  });

  it("blocks: items at 32 (lp64: 24-byte header rounded to 16) and 16 (ilp32); ITEMS_PER_PAGE from the sizes", () => {
    expect(offsetOf(layoutOf(STRUCT_PP_MEMDESC_ITEM_BLOCK, LP64), "items")).toBe(32);
    expect(offsetOf(layoutOf(STRUCT_PP_MEMDESC_ITEM_BLOCK, ILP32), "items")).toBe(16);
    // floor((4096 - 32) / 48) = 84; floor((16384 - 32) / 48) = 340; floor((4096 - 16) / 32) = 127.
    expect(memdescItemGeometry(LP64, 4096).ITEMS_PER_PAGE).toBe(84);
    expect(memdescItemGeometry(LP64, 16384).ITEMS_PER_PAGE).toBe(340);
    expect(memdescItemGeometry(ILP32, 4096).ITEMS_PER_PAGE).toBe(127);
  });
});

describe("memdesc-item pool pages", () => {
  it("the memdesc word is item | 10 with the direct-map high word; the item describes the page", () => {
    const r = rig({ dma: true, poolSize: 64 }, B);
    const t = r.pps.t as MemdescItemTracking;
    const pages = allocN(r, r.pool, 3);
    const u32 = r.m.mem.u32;
    const items = pages.map((p) => r.pps.nmdesc(p));
    // One block, the first three slots (the bulk refill attached 64 items: slots 0..63 of block 0).
    const block = items[0]! & ~(r.m.mem.pageSize - 1);
    for (const [k, page] of pages.entries()) {
      const item = items[k]!;
      expect((item - block - 32) % 48).toBe(0);
      expect(u32[(page + PAGE_PP_MAGIC) >>> 2]).toBe((item | MEMDESC_TYPE_NETPOOL) >>> 0);
      expect(u32[((page + PAGE_PP_MAGIC) >>> 2) + 1]).toBe(DIRECT_MAP_HI);
      expect(r.m.mem.rd32(item + 24)).toBe(page); // item->page
      expect(r.m.mem.rd32(item + NMDESC_PP)).toBe(r.pool);
      // state: MAPPED after the map, USED because the rig's machine has the page_pool checks on.
      expect(r.m.mem.rd32(item)).toBe(MD_ITEM_USED | MD_ITEM_MAPPED);
      expect(t.isPpPage(page)).toBe(true);
      expect(t.poolOf(page)).toBe(r.pool);
    }
    expect(new Set(items.map((i) => i & ~(r.m.mem.pageSize - 1)))).toEqual(new Set([block]));
    expect(r.m.mem.rd32(block)).toBe(r.pool); // block->pp
    accounted(r);
  });

  it("dma_addr and pp_ref_count are read through the item here, through the page on v6.16", () => {
    for (const name of ["memdesc-item", "v6.16"]) {
      const r = rig({ dma: true, poolSize: 64 }, name);
      const [page] = allocN(r, r.pool, 1);
      const desc = r.pps.nmdesc(page!);
      const mem = r.m.mem;
      const dma = mem.rd32(desc + NMDESC_DMA_ADDR);
      expect(dma, name).not.toBe(0);
      expect(r.dma.iovaToPhys(r.dev, dma), name).toBe(mem.pageAddress(page!));
      expect(mem.rd32(desc + NMDESC_PP_REF_COUNT), name).toBe(1);
      if (name === "v6.16") {
        expect(desc).toBe(page);
      } else {
        expect(desc).not.toBe(page);
        // The struct page words the memdesc plan removes are never written by the pool.
        expect([mem.rd32(page! + PAGE_DMA_ADDR), mem.rd32(page! + PAGE_PP_REF_COUNT)]).toEqual([0, 0]);
      }
      r.pps.recycleDirect(r.pool, page!);
      r.pps.destroy(r.pool);
      accounted(r);
    }
  });

  it("a return clears the memdesc word and the item; destroy frees every block", () => {
    const r = rig({ dma: true, poolSize: 64 }, B);
    const pages = allocN(r, r.pool, 100);
    for (const p of pages) r.pps.putFullPage(r.pool, p, false);
    const blocksBefore = accounted(r).byClass["item blocks"];
    // 100 pages in flight at once + the 64-page refills: ceil(128 / 84) = 2 blocks.
    expect(blocksBefore).toBe(2);
    r.pps.destroy(r.pool);
    for (const p of pages) expect(r.m.mem.rd32(p + PAGE_PP_MAGIC) & 0xf, "memdesc type after free").not.toBe(MEMDESC_TYPE_NETPOOL);
    expect(accounted(r).byClass["item blocks"] ?? 0).toBe(0);
    expect(r.m.mem.diagLog()).toEqual([]);
  });

  it("a pool page freed without page_pool_clear_pp_info() is a page_pool leak, keyed on the memdesc type", () => {
    const r = rig({ poolSize: 64 }, B);
    const [page] = allocN(r, r.pool, 1);
    expect(r.m.mem.rd32(page! + PAGE_PP_MAGIC) & 0xf).toBe(MEMDESC_TYPE_NETPOOL);
    r.m.pa.putPage(page!);
    expect(r.m.mem.diagCount(Diag.PAGE_POOL_LEAK)).toBe(1);
  });

  it("pp_page_to_nmdesc() WARNs on a non-pool page only with the machine's checks", () => {
    for (const checks of [true, false]) {
      const r = rig({ poolSize: 64 }, B, { ppChecks: checks });
      const other = r.m.pa.allocPages(0);
      expect(r.pps.ppPageToNmdesc(other)).toBe(0); // memdesc word 0: no descriptor
      const [page] = allocN(r, r.pool, 1);
      expect(r.pps.ppPageToNmdesc(page!)).toBe(r.pps.nmdesc(page!));
      expect(r.m.mem.diagCount(Diag.PP_NMDESC_NOT_PP), `checks ${checks}`).toBe(checks ? 1 : 0);
    }
  });
});

describe("memdesc-item unbind", () => {
  it("fixed: destroy unmaps the 64 in flight, no DMA after unbind, every frame accounted", () => {
    const r = runUnbind({ kernel: "memdesc-item" }).result;
    expect(r.verdict).toBe("fixed");
    expect([r.inflight_at_unbind, r.unmapped_by_destroy, r.late_returns, r.late_returns_without_dma]).toEqual([64, 64, 64, 64]);
    expect([r.unmaps_after_unbind, r.syncs_after_unbind, r.double_unmaps, r.mappings_leaked, r.frames_lost]).toEqual([0, 0, 0, 0, 0]);
    expect(r.kernel_log_lines + r.ppemu_lines).toBe(0);
  });
});

describe("memdesc-item explain", () => {
  const MEM = 32 << 20;
  const run = runUnbind({ kernel: "memdesc-item", pages: 40, inflight: 8, poolSize: 64, memBytes: MEM }, "allocated");
  const x = new Explainer({ sys: run.sys, stack: run.stack });
  const ex = (addr: number) => {
    const p = parseAddress("0x" + addr.toString(16), MEM);
    if (typeof p === "string") throw new Error(p);
    return x.explain(p);
  };
  const held: number[] = [];
  run.stack.forEachHeld((p) => held.push(p));
  const page = held[0]!;
  const item = run.sys.pps.nmdesc(page);

  it("a pool page's memdesc word decodes to its item, and its pool fields are read through it", () => {
    const e = ex(page + PAGE_PP_MAGIC);
    const word = run.sys.m.mem.rd32(page + PAGE_PP_MAGIC);
    expect(word).toBe((item | MEMDESC_TYPE_NETPOOL) >>> 0);
    const hex = (n: number) => "0x" + n.toString(16).padStart(8, "0");
    expect(e.lines).toContain(`    memdesc word: type 10, descriptor ${hex(item)} (memdesc_type(page->memdesc) == MEMDESC_NETPOOL (10))`);
    const t = run.sys.pps.t as MemdescItemTracking;
    expect(e.lines).toContain(`  memdesc ${hex(word)}: type 10 (NetPool), descriptor ${hex(item)} = items[${t.itemIndex(item)}] of block ${hex(t.itemToBlock(item))}; item->page points back`);
    expect(e.pp).toMatchObject({ pp_ref_count: 1, mapped: true, dma_addr: hex(run.sys.m.mem.rd32(item + NMDESC_DMA_ADDR)) });
  });

  it("an address inside the item block names the item and what it describes", () => {
    const e = ex(item + 8);
    expect(e.role).toBe("item block");
    const t = run.sys.pps.t as MemdescItemTracking;
    expect(e.lines.some((l) => l.includes(`items[${t.itemIndex(item)}] of block`))).toBe(true);
    expect(e.lines.some((l) => l.includes(`state 0x00000003 (USED|MAPPED); page 0x${page.toString(16).padStart(8, "0")}`))).toBe(true);
  });
});
