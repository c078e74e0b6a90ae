import { describe, expect, it } from "vitest";
import { ILP32, LP64 } from "../../src/arch.js";
import { BLOCK_VARIANTS } from "../../src/mem/structs.js";
import { blockBases, checkItems, itemCheckInput, verifyItems } from "../../src/verify/items.js";

describe("items: real geometries", () => {
  it("every variant × arch × page size passes, with exact coverage", () => {
    const rs = verifyItems();
    expect(rs.length).toBe(18);
    expect(rs.every((r) => r.pass)).toBe(true);
    const byName = Object.fromEntries(rs.map((r) => [r.name, r.covered]));
    expect(byName["items v11 lp64 4k"]).toBe(254 * 5);
    expect(byName["items v11 lp64 64k"]).toBe(4094 * 5);
    expect(byName["items v11 ilp32 4k"]).toBe(509 * 5);
    expect(byName["items v9p2 lp64 4k"]).toBe(254 * 5);
    expect(byName["items v9p2 ilp32 4k"]).toBe(510 * 5);
    expect(byName["items rfcv5 lp64 16k"]).toBe(1022 * 5);
  });

  it("reports the free low bits: alignof and what every slot address has", () => {
    const v11 = checkItems(itemCheckInput("v11", LP64, "4k"));
    expect(v11.notes[1]).toBe(
      "alignof(item) 8 → 3 free low bits guaranteed, 4 free in every slot address; encoded_next needs 2",
    );
    const v9 = checkItems(itemCheckInput("v9p2", LP64, "4k"));
    expect(v9.notes[1]).toContain("3 free in every slot address");
    const i32 = checkItems(itemCheckInput("v11", ILP32, "4k"));
    expect(i32.notes[1]).toBe(
      "alignof(item) 4 → 2 free low bits guaranteed, 2 free in every slot address; encoded_next needs 2",
    );
  });

  it("rfcv5 has no netmem_item_block: pp@16 is reported, not compared", () => {
    const r = checkItems(itemCheckInput("rfcv5", LP64, "4k"));
    expect(r.pass).toBe(true);
    expect(r.notes[2]).toBe("pp@16 (no netmem_item_block in rfcv5: the pool is read as block->pp)");
    for (const v of BLOCK_VARIANTS.filter((x) => x !== "rfcv5")) {
      expect(checkItems(itemCheckInput(v, LP64, "4k")).notes[2]).toBe("pp@0 = netmem_item_block.pp@0");
    }
  });

  it("block bases include the top frame of 2 GiB and of 4 GiB-1", () => {
    expect(blockBases(LP64, 4096).map((b) => [b.hi, b.lo])).toEqual([
      [0xffff8880, 0x1000],
      [0xffff8880, 0x12345000],
      [0xffff8880, 0x7ffff000],
      [0xffff8880, 0xc0000000],
      [0xffff8880, 0xfffff000],
    ]);
    expect(blockBases(ILP32, 65536).map((b) => b.lo)).toEqual([0x10000, 0x12340000, 0x7fff0000, 0xc0000000, 0xffff0000]);
    expect(blockBases(ILP32, 65536).every((b) => b.hi === 0)).toBe(true);
  });
});

describe("items: wrong geometries fail with the right counterexample", () => {
  it("ITEMS_PER_PAGE one too many: items[254] lands on the next frame", () => {
    const input = itemCheckInput("v11", LP64, "4k");
    const r = checkItems({ ...input, g: { ...input.g, ITEMS_PER_PAGE: 255 } });
    expect(r.pass).toBe(false);
    expect(r.counterexample).toBe(
      "items[254] at 0xffff888000002000 masks to 0xffff888000002000, not its block 0xffff888000001000 (the second frame)",
    );
  });

  it("a header that lets the last item cross the frame end", () => {
    const input = itemCheckInput("v11", LP64, "4k");
    const r = checkItems({ ...input, g: { ...input.g, itemsOffset: 40 } });
    expect(r.pass).toBe(false);
    expect(r.counterexample).toBe(
      "items[253] at 0xffff888000001ff8 ends at 0xffff888000002007, past the end of its frame 0xffff888000001000 (the second frame)",
    );
  });

  it("lp64: one item too many in the top frame below 4 GiB carries into the high word", () => {
    const input = itemCheckInput("v11", LP64, "4k");
    const top = input.bases[4]!;
    const r = checkItems({ ...input, bases: [top], g: { ...input.g, ITEMS_PER_PAGE: 255 } });
    expect(r.counterexample).toBe(
      "items[254] at 0xffff888100000000 masks to 0xffff888100000000, not its block 0xffff8880fffff000 (the highest frame of 4 GiB-1)",
    );
  });

  it("ilp32: one item too many in the top frame wraps around 2^32", () => {
    const input = itemCheckInput("v11", ILP32, "4k");
    const top = input.bases[4]!;
    const r = checkItems({ ...input, bases: [top], g: { ...input.g, ITEMS_PER_PAGE: 510 } });
    expect(r.counterexample).toBe(
      "items[509] at 0xfffffffc ends at 0x00000003, past the end of its frame 0xfffff000 (the highest frame of 4 GiB-1)",
    );
  });

  it("item alignment too small for the 2-bit encoding", () => {
    const input = itemCheckInput("v11", ILP32, "4k");
    const r = checkItems({ ...input, g: { ...input.g, itemAlign: 2 } });
    expect(r.pass).toBe(false);
    expect(r.counterexample).toBe(
      "alignof(struct page_pool_item) = 2 guarantees 1 free low bit(s); encoded_next needs 2 (PAGE_POOL_ITEM_STATE_MASK 0x3)",
    );
    // And when the slot addresses themselves have bit 1 set (an 18-byte header of 2-aligned items):
    const odd = checkItems({ ...input, g: { ...input.g, itemAlign: 2, itemsOffset: 18, ITEMS_PER_PAGE: 509 } });
    expect(odd.counterexample).toBe(
      "items[0] at 0x00001012 has bits 0–1 = 2: encoded_next needs them free (PAGE_POOL_ITEM_STATE_MASK 0x3)",
    );
  });

  it("ITEMS_PER_PAGE one too few is not maximal", () => {
    const input = itemCheckInput("v11", LP64, "4k");
    const r = checkItems({ ...input, g: { ...input.g, ITEMS_PER_PAGE: 253 } });
    expect(r.counterexample).toBe("ITEMS_PER_PAGE = 253 is not maximal: 254 items end at byte 4096 <= PAGE_SIZE 4096");
  });

  it("pp away from netmem_item_block's pp", () => {
    const input = itemCheckInput("v11", LP64, "4k");
    const r = checkItems({ ...input, g: { ...input.g, ppOffset: 16 } });
    expect(r.counterexample).toBe("offsetof(page_pool_item_block, pp) = 16 but offsetof(netmem_item_block, pp) = 0");
  });
});
