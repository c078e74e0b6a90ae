/**
 * `verify`'s encoded_next check (src/verify/encoded_next.ts): it passes on the v7 declarations for
 * every arch × page size, covering exactly the triples it says, and fails on geometries where the
 * state bits would meet an item address.
 */
import { describe, expect, it } from "vitest";
import { ARCHES, LP64, ILP32 } from "../../src/arch.js";
import { checkEncodedNext, encodedNextInput, verifyEncodedNext } from "../../src/verify/encoded_next.js";
import { runVerify } from "../../src/verify/run.js";

describe("verify: encoded_next (v7 6/8)", () => {
  it("passes for lp64 and ilp32 at 4k/16k/64k; (N + 1) × 4 states × 2 previous words × 5 bases each", () => {
    const rs = verifyEncodedNext();
    expect(rs.map((r) => [r.name, r.pass, r.covered])).toEqual([
      // lp64: items@32 of 16 bytes → (4096 - 32) / 16 = 254; 16k: 1022; 64k: 4094.
      ["encoded_next v7 lp64 4k", true, 255 * 40],
      ["encoded_next v7 lp64 16k", true, 1023 * 40],
      ["encoded_next v7 lp64 64k", true, 4095 * 40],
      // ilp32: header pp 4 + list 8 + flags 4 + ref 4 = 20, items of 8 → 509, 2045, 8189.
      ["encoded_next v7 ilp32 4k", true, 510 * 40],
      ["encoded_next v7 ilp32 16k", true, 2046 * 40],
      ["encoded_next v7 ilp32 64k", true, 8190 * 40],
    ]);
    // The alignment is read from the declaration: 8 on lp64 (unsigned long), 4 on ilp32 — exactly
    // the 2 bits PAGE_POOL_ITEM_STATE_MASK needs there.
    expect(encodedNextInput(LP64, "4k").itemAlign).toBe(8);
    expect(encodedNextInput(ILP32, "4k").itemAlign).toBe(4);
    expect(rs[3]!.notes[0]).toContain("2 free in every item address");
  });

  it("fails when the alignment leaves fewer free bits than the mask needs", () => {
    const base = encodedNextInput(ARCHES.ilp32, "4k");
    const r = checkEncodedNext({ ...base, mask: 0x7 });
    expect(r.pass).toBe(false);
    expect(r.counterexample).toBe("alignof(struct page_pool_item) = 4 < 8: PAGE_POOL_ITEM_STATE_MASK 0x7 overlaps item addresses");
  });

  it("fails when the items array is not aligned in its block", () => {
    const r = checkEncodedNext({ ...encodedNextInput(LP64, "4k"), itemsOffset: 36 });
    expect(r.pass).toBe(false);
    expect(r.counterexample).toBe("items[] at 36 of a 4096-byte block is not 8-aligned");
  });

  it("fails when a claimed alignment does not hold for the addresses: an old next leaks into the state", () => {
    // A 6-byte item stride with a claimed alignment of 4 puts bit 1 into items[3] (0x1014 + 18 = 0x1026);
    // set_next on a word that still holds it as the old next keeps bit 1 as if it were MAPPED.
    const r = checkEncodedNext({ ...encodedNextInput(ILP32, "4k"), itemAlign: 4, itemSize: 6, v11ItemSize: 6, ITEMS_PER_PAGE: 4 });
    expect(r.pass).toBe(false);
    expect(r.counterexample).toBe("set_next(items[0] = 0x00001014 over 0x1026 (the second frame)) changed the state 0 to 2");
  });

  it("runs in `ppemu verify items`, after the block-variant checks", () => {
    const names = runVerify({ groups: ["items"], arches: ["lp64"], pageSizes: ["4k"], exhaustive: false }).map((r) => r.name);
    expect(names.slice(0, 4)).toEqual(["items v11 lp64 4k", "items v9p2 lp64 4k", "items rfcv5 lp64 4k", "encoded_next v7 lp64 4k"]);
  });
});
