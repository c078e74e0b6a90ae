import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { FC_SEED, fcParams } from "../fc_seed.js";
import { ILP32, LP64 } from "../../src/arch.js";
import { hex64, u64 } from "../../src/u64.js";
import {
  DEFAULT_SAMPLE,
  boundaryIds,
  checkMaskRoundTrip,
  encodeMagic,
  idLimit,
  idPlan,
  maskGeometries,
  maskGeometry,
  maskGeometryFrom,
  planSize,
  sampleIds,
  SAMPLE_SEED,
} from "../../src/verify/masks.js";

describe("masks: real geometries", () => {
  it("ilp32 (v6.16) covers exactly 2^23 - 1 ids × 4 and passes", () => {
    const g = maskGeometry(ILP32);
    const r = checkMaskRoundTrip(g, idPlan(g));
    expect(r.pass).toBe(true);
    expect(r.covered).toBe((2 ** 23 - 1) * 4);
    expect(r.unit).toBe("id × bits 0–1 states (all 8388607 ids × 4)");
    expect(r.notes[0]).toBe(
      "PP_DMA_INDEX_SHIFT 7, PP_DMA_INDEX_BITS 23, PP_DMA_INDEX_MASK 0x3fffff80, PP_MAGIC_MASK 0xc000007c, PP_SIGNATURE 0x00000040",
    );
  });

  it("lp64 by default: 93 boundary ids + 2^22 sampled ids, × 4", () => {
    const g = maskGeometry(LP64);
    const plan = idPlan(g);
    expect(plan.boundaries.length).toBe(93);
    expect(plan.sample).toBe(DEFAULT_SAMPLE);
    const r = checkMaskRoundTrip(g, plan);
    expect(r.pass).toBe(true);
    expect(r.covered).toBe((93 + 2 ** 22) * 4);
    expect(r.notes[0]).toContain("PP_DMA_INDEX_MASK 0x0000007fffffff80, PP_MAGIC_MASK 0xffffff800000007c");
    expect(r.notes[1]).toBe("id 1 → pp_magic 0xdead0000000000c0; id 4294967295 → 0xdead007fffffffc0");
  });

  it("lp64 --exhaustive plans every id in [1, 2^32 - 1]", () => {
    const plan = idPlan(maskGeometry(LP64), true);
    expect(plan.rangeEnd).toBe(0xffffffff);
    expect(planSize(plan)).toBe(0xffffffff);
  });

  it("boundary ids are 1, 2, 2^k - 1, 2^k, 2^k + 1 and the limit, inside the range", () => {
    const b = boundaryIds(0xffffffff);
    expect(b.slice(0, 8)).toEqual([1, 2, 3, 4, 5, 7, 8, 9]);
    expect(b.slice(-3)).toEqual([2 ** 31, 2 ** 31 + 1, 0xffffffff]);
    expect(boundaryIds(2 ** 23 - 1).at(-1)).toBe(2 ** 23 - 1);
  });

  it("the sample is deterministic, non-zero and inside the limit", () => {
    const a = sampleIds(1000, SAMPLE_SEED, 0xffffffff);
    expect(sampleIds(1000, SAMPLE_SEED, 0xffffffff)).toEqual(a);
    expect(a.every((x) => x >= 1 && x <= 0xffffffff)).toBe(true);
    expect(new Set(a).size).toBe(1000);
    expect(sampleIds(1000, SAMPLE_SEED, 100).every((x) => x >= 1 && x <= 100)).toBe(true);
  });

  it("ilp32 v6.18: one check per distinct mask, and BITS 0 stores no id (the 4 states of bits 0–1 are checked)", () => {
    const gs = maskGeometries("ilp32");
    expect(gs.map((g) => [g.label, g.PP_DMA_INDEX_BITS, g.PP_MAGIC_MASK.lo])).toEqual([
      ["ilp32 v6.16", 23, 0xc000007c],
      ["ilp32 v6.18 PAGE_OFFSET 0x80000000", 24, 0x8000007c],
      ["ilp32 v6.18 PAGE_OFFSET 0x10000000", 21, 0xf000007c],
      ["ilp32 v6.18 PAGE_OFFSET 0xc0000000 (runtime)", 0, 0xfffffffc],
    ]);
    expect(gs[0]!.sameAs).toEqual(["ilp32 v6.18 PAGE_OFFSET 0xc0000000", "ilp32 v6.18 PAGE_OFFSET 0x40000000"]);
    const covered = gs.map((g) => checkMaskRoundTrip(g, idPlan(g))).map((r) => [r.pass, r.covered, r.enumerated, r.counted]);
    expect(covered).toEqual([
      [true, (2 ** 23 - 1) * 4, (2 ** 23 - 1) * 4, 0],
      [true, (2 ** 24 - 1) * 4, (2 ** 24 - 1) * 4, 0],
      [true, (2 ** 21 - 1) * 4, (2 ** 21 - 1) * 4, 0],
      // No id with tracking off; PP_SIGNATURE | bits 0–1 must still pass (pp_magic & ~0x3) == PP_SIGNATURE.
      [true, 4, 4, 0],
    ]);
    const off = checkMaskRoundTrip(gs[3]!, idPlan(gs[3]!));
    expect(off.notes[1]).toContain("tracking is off");
    expect(idLimit(gs[3]!)).toBe(0);
  });

  it("encodeMagic gives the kernel's pp_magic", () => {
    const g = maskGeometry(LP64);
    expect(hex64(encodeMagic(g, 1, 0))).toBe("0xdead0000000000c0");
    expect(hex64(encodeMagic(g, 1, 3))).toBe("0xdead0000000000c3");
    expect(hex64(encodeMagic(g, 0xffffffff, 2))).toBe("0xdead007fffffffc2");
    expect(hex64(encodeMagic(g, 2 ** 25, 0))).toBe("0xdead000100000040");
    expect(hex64(encodeMagic(maskGeometry(ILP32), 2 ** 23 - 1, 1), 8)).toBe("0x3fffffc1");
  });
});

describe("masks: wrong geometries fail with the right counterexample", () => {
  it("an id mask overlapping bits 0–1 (shift 1 instead of 7), ilp32", () => {
    const g = maskGeometryFrom("ilp32 shift 1", ILP32, u64(0, 0x40), 1, 23);
    const r = checkMaskRoundTrip(g, idPlan(g));
    expect(r.pass).toBe(false);
    expect(r.counterexample).toBe(
      "id 1 (0x1) with bits 0–1 = 0: pp_magic 0x00000002 has bits 0–1 = 2: the id overlaps PageTail/pfmemalloc",
    );
  });

  it("an id mask overlapping bits 0–1 (shift 1 instead of 7), lp64", () => {
    const g = maskGeometryFrom("lp64 shift 1", LP64, u64(0xdead0000, 0x40), 1, 32);
    const r = checkMaskRoundTrip(g, idPlan(g));
    expect(r.counterexample).toBe(
      "id 1 (0x1) with bits 0–1 = 0: pp_magic 0xdead000000000002 has bits 0–1 = 2: the id overlaps PageTail/pfmemalloc",
    );
  });

  it("an index mask reaching into POISON_POINTER_DELTA breaks the membership test", () => {
    const g = maskGeometryFrom("lp64 42 bits", LP64, u64(0xdead0000, 0x40), 7, 42);
    const r = checkMaskRoundTrip(g, { rangeEnd: 0, boundaries: [1], sample: 0, seed: 1 });
    expect(r.counterexample).toBe(
      "id 1 (0x1) with bits 0–1 = 0: pp_magic 0xdeac0000000000c0 & PP_MAGIC_MASK = 0xdeac000000000040 != " +
        "PP_SIGNATURE 0xdead000000000040: page_pool_page_is_pp() says no",
    );
  });

  it("an index mask narrower than the id range loses the top id bit", () => {
    const real = maskGeometry(ILP32);
    const g = { ...real, label: "ilp32 24 ids, 23-bit mask", PP_DMA_INDEX_BITS: 24 };
    const r = checkMaskRoundTrip(g, idPlan(g));
    expect(r.counterexample).toBe("id 8388608 (0x800000) with bits 0–1 = 0: pp_magic 0x40000040 decodes to 0x00000000, not 8388608");
  });

  it("a shift of 0 is refused", () => {
    const g = { ...maskGeometry(ILP32), PP_DMA_INDEX_SHIFT: 0 };
    expect(checkMaskRoundTrip(g, idPlan(g)).counterexample).toBe("PP_DMA_INDEX_SHIFT 0 is outside 1..31");
  });

  it(`property: shift >= 7 clear of the signature passes; shift < 2 always fails (seed ${FC_SEED})`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 7, max: 16 }), fc.integer({ min: 1, max: 32 }), (shift, bits) => {
        fc.pre(shift + bits <= 48);
        const g = maskGeometryFrom("p", LP64, u64(0xdead0000, 0x40), shift, bits);
        const plan = { rangeEnd: 0, boundaries: boundaryIds(idLimit(g)), sample: 2000, seed: SAMPLE_SEED };
        return checkMaskRoundTrip(g, plan).pass;
      }),
      fcParams(60),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 1, max: 24 }), (shift, bits) => {
        const g = maskGeometryFrom("p", ILP32, u64(0, 0x40), shift, bits);
        return !checkMaskRoundTrip(g, { rangeEnd: 0, boundaries: [1, 2, 3], sample: 0, seed: 1 }).pass;
      }),
      fcParams(40),
    );
  });
});
