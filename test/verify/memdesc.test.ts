/**
 * `ppemu verify`'s memdesc checks (src/verify/memdesc.ts) and netmem.h's NETMEM_DESC_ASSERT_OFFSET
 * (src/pool/nmdesc.ts): each holds on the real declarations and fails on a geometry that breaks it.
 */
import { describe, expect, it } from "vitest";
import { ILP32, LP64 } from "../../src/arch.js";
import { m, ptr, struct } from "../../src/mem/ctype.js";
import { STRUCT_NETMEM_DESC, STRUCT_PAGE } from "../../src/mem/structs.js";
import { STRUCT_PP_MEMDESC_ITEM, MEMDESC_TYPE_NETPOOL } from "../../src/builds/memdesc_item_structs.js";
import { checkMemdescAlignments, checkMemdescItemDesc, checkMemdescTypeBits, memdescCheckInput } from "../../src/verify/memdesc.js";
import { planChecks, DEFAULT_VERIFY } from "../../src/verify/run.js";
import { NETMEM_DESC_ASSERT_PAIRS, NMDESC_DMA_ADDR, NMDESC_FLAGS, NMDESC_PP, NMDESC_PP_MAGIC, NMDESC_PP_REF_COUNT, NETMEM_DESC_SIZE, netmemDescAssertFailures, netmemToNmdesc, NET_IOV } from "../../src/pool/nmdesc.js";

describe("NETMEM_DESC_ASSERT_OFFSET (include/net/netmem.h)", () => {
  it("the NMDESC_* offsets are struct page's on lp64: 0, 8, 16, 32, 40; size 48 <= offsetof(_refcount) 52", () => {
    expect([NMDESC_FLAGS, NMDESC_PP_MAGIC, NMDESC_PP, NMDESC_DMA_ADDR, NMDESC_PP_REF_COUNT, NETMEM_DESC_SIZE]).toEqual([0, 8, 16, 32, 40, 48]);
    expect(NETMEM_DESC_ASSERT_PAIRS.map(([p]) => p)).toEqual(["flags", "pp_magic", "pp", "_pp_mapping_pad", "dma_addr", "pp_ref_count"]);
    expect(netmemDescAssertFailures(LP64)).toEqual([]);
    expect(netmemDescAssertFailures(ILP32)).toEqual([]);
  });

  it("a netmem_desc without _flags breaks every assert and is reported", () => {
    const shifted = struct("netmem_desc", STRUCT_NETMEM_DESC.members.slice(1));
    const f = netmemDescAssertFailures(LP64, STRUCT_PAGE, shifted);
    expect(f[0]).toBe("NETMEM_DESC_ASSERT_OFFSET(flags, _flags) on lp64: page 0 != netmem_desc -1");
  });

  it("netmem_to_nmdesc(): a net_iov's desc is the net_iov (NET_IOV cleared), a page goes through the build", () => {
    const ctx = { nmdesc: (p: number) => p + 0x100 };
    expect(netmemToNmdesc(ctx, 0x5000 | NET_IOV)).toBe(0x5000);
    expect(netmemToNmdesc(ctx, 0x5000)).toBe(0x5100);
  });
});

describe("memdesc checks", () => {
  it("pass on the declarations, every arch and page size, and are in the verify plan", () => {
    for (const a of [LP64, ILP32]) {
      expect(checkMemdescItemDesc(a).pass).toBe(true);
      for (const ps of ["4k", "16k", "64k"] as const) {
        const r = checkMemdescTypeBits(memdescCheckInput(a, ps));
        expect(r.pass, r.counterexample).toBe(true);
        expect(r.covered).toBe(memdescCheckInput(a, ps).g.ITEMS_PER_PAGE * 5);
        expect(checkMemdescAlignments(a, ps).pass).toBe(true);
      }
    }
    expect(checkMemdescTypeBits(memdescCheckInput(LP64, "4k")).covered).toBe(84 * 5);
    const plan = planChecks(DEFAULT_VERIFY).map((c) => c().name).filter((n) => n.startsWith("memdesc"));
    expect(plan).toHaveLength(2 * (1 + 3 * 2));
  });

  it("an item size that is not a multiple of 16 puts item addresses on the type bits", () => {
    const input = memdescCheckInput(LP64, "4k");
    const r = checkMemdescTypeBits({ ...input, g: { ...input.g, itemSize: 56, ITEMS_PER_PAGE: 72 } });
    expect(r.pass).toBe(false);
    expect(r.counterexample).toBe("items[1] of the block at 0xffff888000001000 (the second frame) = 0xffff888000001058: memdesc 0xffff88800000105a does not give the item and NetPool back");
  });

  it("a NetPool type with bit 0 set would read as PageTail", () => {
    const r = checkMemdescTypeBits({ ...memdescCheckInput(LP64, "4k"), netpool: MEMDESC_TYPE_NETPOOL | 1 });
    expect(r.counterexample).toBe("type 11 has bit 0 set: every pool page would read as PageTail");
  });

  it("an item that is not netmem_desc-shaped fails the descriptor check", () => {
    const bad = struct("page_pool_item", [m("page", ptr("struct page")), m("desc", STRUCT_NETMEM_DESC)], 16);
    expect(checkMemdescItemDesc(LP64, bad).pass).toBe(false);
    const unaligned = struct("page_pool_item", STRUCT_PP_MEMDESC_ITEM.members);
    const r = checkMemdescItemDesc(ILP32, unaligned);
    expect(r.counterexample).toBe("sizeof 24, alignof 4: a memdesc needs a multiple of 16");
  });

  it("with 5 type bits the alignment the plan gives (16) is not enough", () => {
    const r = checkMemdescAlignments(LP64, "4k", 5);
    expect(r.pass).toBe(false);
    expect(r.counterexample).toBe("alignof(struct page_pool_item) 16 leaves the type bits in use");
  });
});
