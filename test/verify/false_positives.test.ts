import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { FC_SEED, fcParams } from "../fc_seed.js";
import {
  REPORTED_EXAMPLE,
  REPORTED_EXAMPLES,
  bruteFalsePositives,
  checkFalsePositives,
  countBelow,
  countFalsePositives,
  exampleFalsePositives,
  falsePositiveRow,
  falsePositiveRowFor,
  nextMatch,
  nthMatchFrom,
  verifyFalsePositives,
} from "../../src/verify/false_positives.js";

const V616 = 0xc000007c;

describe("closed-form counting agrees with brute force", () => {
  it(`countBelow on random 16-bit masks, signatures and bounds (seed ${FC_SEED})`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0x10000 }), (m, s, n) => {
        const mask = (0xffff0000 | m) >>> 0;
        const sig = s & m;
        let brute = 0;
        for (let x = 0; x < n; x++) if (((x & mask) >>> 0) === sig) brute++;
        return countBelow(mask, sig, n) === brute;
      }),
      fcParams(200),
    );
  });

  it("a signature with bits outside the mask never matches", () => {
    expect(countBelow(0xfffffffc, 0x41, 2 ** 32)).toBe(0);
    expect(countBelow(0xfffffffc, 0x40, 2 ** 32)).toBe(4);
  });

  it("v6.16 mask, PAGE_OFFSET 0x10000000: closed form = brute force on a 2^24 sub-range", () => {
    const lo = 0x10000000;
    const hi = lo + 2 ** 24 - 1;
    expect(bruteFalsePositives(V616, 0x40, lo, hi)).toBe(131072);
    expect(countFalsePositives(V616, 0x40, lo, hi)).toBe(131072);
    // and across the 0x3fffffff/0x40000000 edge, where the matches stop
    const e0 = 0x40000000 - 2 ** 20;
    const e1 = 0x40000000 + 2 ** 20 - 1;
    expect(bruteFalsePositives(V616, 0x40, e0, e1)).toBe(8192);
    expect(countFalsePositives(V616, 0x40, e0, e1)).toBe(8192);
  });

  it(`nthMatchFrom(…, 0) is nextMatch, and both match (seed ${FC_SEED})`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (from) => {
        const mask = (V616 | 3) >>> 0;
        const a = nextMatch(mask, 0x40, from);
        const b = nthMatchFrom(mask, 0x40, from, 0);
        return a === b && (a === -1 || (a >= from && ((a & mask) >>> 0) === 0x40));
      }),
      fcParams(500),
    );
  });
});

describe("false positives of page_pool_page_is_pp() on 32-bit", () => {
  it("v6.16 mask 0xc000007c: exact counts per PAGE_OFFSET", () => {
    const rows = [0xc0000000, 0x80000000, 0x40000000, 0x10000000].map((po) => falsePositiveRow("v6.16", po));
    expect(rows.map((r) => [r.magicMask, r.bits, r.candidates, r.falsePositives, r.matchesAnywhere])).toEqual([
      [V616, 23, 2 ** 28, 0, 2 ** 23],
      [V616, 23, 2 ** 29, 0, 2 ** 23],
      [V616, 23, 3 * 2 ** 28, 0, 2 ** 23],
      [V616, 23, 15 * 2 ** 26, 6291456, 2 ** 23],
    ]);
    expect(rows.every((r) => r.crossChecked)).toBe(true);
    expect(rows[3]!.examples).toEqual([0x10000040, 0x20000040, 0x30000040, 0x3fffffc0]);
  });

  it("v6.18 rule: no false positive at or above any PAGE_OFFSET; runtime PAGE_OFFSET turns tracking off", () => {
    const rows = [0xc0000000, 0x80000000, 0x40000000, 0x10000000].map((po) => falsePositiveRow("v6.18", po));
    expect(rows.map((r) => [r.magicMask, r.bits, r.falsePositives, r.matchesAnywhere])).toEqual([
      [0xc000007c, 23, 0, 2 ** 23],
      [0x8000007c, 24, 0, 2 ** 24],
      [0xc000007c, 23, 0, 2 ** 23],
      [0xf000007c, 21, 0, 2 ** 21],
    ]);
    const off = falsePositiveRow("v6.18", 0xc0000000, false);
    expect([off.bits, off.magicMask, off.falsePositives, off.matchesAnywhere]).toEqual([0, 0xfffffffc, 0, 1]);
    expect(off.reportedExamplePasses).toBe(false);
  });

  it("the Sep 2025 report's examples pass 0xc000007c and lie below PAGE_OFFSET 0x10000000", () => {
    expect(REPORTED_EXAMPLE).toBe(0x01111040);
    for (const x of REPORTED_EXAMPLES) {
      expect(((x & V616) >>> 0).toString(16)).toBe("40");
      expect(x < 0x10000000).toBe(true);
    }
    expect(falsePositiveRow("v6.18", 0x10000000).reportedExamplePasses).toBe(true);
  });

  it("examples are real false positives at or above PAGE_OFFSET", () => {
    const xs = exampleFalsePositives(V616, 0x40, 0x10000000, 6291456);
    expect(xs.length).toBe(4);
    for (const x of xs) {
      expect(x >= 0x10000000).toBe(true);
      expect(x % 4).toBe(0);
      expect(((x & V616) >>> 0)).toBe(0x40);
    }
  });

  it("the check: v6.16 is an XFAIL with a counterexample, v6.18 passes", () => {
    const [v616, v618] = verifyFalsePositives();
    expect(v616!.expectFail).toBe(true);
    expect(v616!.pass).toBe(false);
    expect(v616!.counterexample).toBe(
      "0x10000040 >= PAGE_OFFSET 0x10000000 passes (x & 0xc000007c) == 0x00000040: one of 6291456 such pointers",
    );
    expect(v616!.covered).toBe(2 ** 28 + 2 ** 29 + 3 * 2 ** 28 + 15 * 2 ** 26);
    // The brute-force cross-check enumerates 2^22 word-aligned pointers above each of the 4 PAGE_OFFSETs.
    expect([v616!.enumerated, v616!.counted]).toEqual([4 * 2 ** 22, v616!.covered - 4 * 2 ** 22]);
    expect(v616!.counted).toBe(2600468480);
    expect(v618!.pass).toBe(true);
    expect(v618!.expectFail).toBeUndefined();
    expect(v618!.covered).toBe(2 ** 28 + 2 ** 29 + 3 * 2 ** 28 + 15 * 2 ** 26 + 2 ** 28);
    expect([v618!.enumerated, v618!.counted]).toEqual([5 * 2 ** 22, 2864709632]);
  });

  it("the check fails for a deliberately wrong mask (no bit above the id kept)", () => {
    const row = falsePositiveRowFor("v6.18", 0xc0000000, true, 25, 0x0000007c, 0x40);
    expect(row.falsePositives).toBe(2 ** 23);
    const r = checkFalsePositives("v6.18", [row]);
    expect(r.pass).toBe(false);
    expect(r.counterexample).toBe(
      "0xc0000040 >= PAGE_OFFSET 0xc0000000 passes (x & 0x0000007c) == 0x00000040: one of 8388608 such pointers",
    );
  });
});
