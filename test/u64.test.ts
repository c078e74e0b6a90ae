import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { FC_SEED, fcParams } from "./fc_seed.js";
import {
  bit64,
  genmask64,
  hex32,
  hex64,
  parseHex64,
  popcount32,
  u64,
  u64Add,
  u64And,
  u64Eq,
  u64Ffs,
  u64Fls,
  u64FromNumber,
  u64IsZero,
  u64Not,
  u64Or,
  u64Shl,
  u64Shr,
  u64ToNumber,
} from "../src/u64.js";

const h = (v: { hi: number; lo: number }) => hex64(v);

describe("u64 pairs", () => {
  it("normalises halves to unsigned 32-bit", () => {
    expect(u64(-1, -2)).toEqual({ hi: 0xffffffff, lo: 0xfffffffe });
    expect(u64FromNumber(2 ** 40 + 5)).toEqual({ hi: 0x100, lo: 5 });
    expect(u64ToNumber(u64(0x100, 5))).toBe(2 ** 40 + 5);
    expect(() => u64FromNumber(-1)).toThrow(RangeError);
    expect(() => u64FromNumber(1.5)).toThrow(RangeError);
  });

  it("GENMASK matches the kernel's", () => {
    expect(h(genmask64(38, 7))).toBe("0x0000007fffffff80");
    expect(h(genmask64(29, 7))).toBe("0x000000003fffff80");
    expect(h(genmask64(63, 0))).toBe("0xffffffffffffffff");
    expect(h(genmask64(31, 31))).toBe("0x0000000080000000");
    expect(h(genmask64(32, 32))).toBe("0x0000000100000000");
    expect(h(genmask64(63, 63))).toBe("0x8000000000000000");
    expect(h(genmask64(0, 0))).toBe("0x0000000000000001");
    expect(() => genmask64(6, 7)).toThrow(RangeError);
    expect(() => genmask64(64, 0)).toThrow(RangeError);
  });

  it("shifts across the word boundary", () => {
    expect(h(u64Shl(u64(0, 1), 32))).toBe("0x0000000100000000");
    expect(h(u64Shl(u64(0, 0x80000001), 1))).toBe("0x0000000100000002");
    expect(h(u64Shl(u64(0, 0xffffffff), 7))).toBe("0x0000007fffffff80");
    expect(h(u64Shl(u64(1, 0), 63))).toBe("0x0000000000000000");
    expect(h(u64Shl(u64(0, 1), 64))).toBe("0x0000000000000000");
    expect(h(u64Shr(u64(0x7f, 0xffffff80), 7))).toBe("0x00000000ffffffff");
    expect(h(u64Shr(u64(0xdead0000, 0), 48))).toBe("0x000000000000dead");
    expect(h(u64Shr(u64(1, 0), 1))).toBe("0x0000000080000000");
    expect(h(u64Shr(u64(5, 5), 0))).toBe("0x0000000500000005");
    expect(h(bit64(38))).toBe("0x0000004000000000");
  });

  it(`shl then shr by the same amount keeps the bits that fit (seed ${FC_SEED})`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 31 }), (lo, n) => {
        const v = u64(0, lo);
        expect(u64Eq(u64Shr(u64Shl(v, n), n), v)).toBe(true);
      }),
      fcParams(100),
    );
  });

  it("__ffs and __fls", () => {
    expect(u64Ffs(u64(0xdead0000, 0))).toBe(48);
    expect(u64Ffs(u64(0, 0x40))).toBe(6);
    expect(u64Ffs(u64(0, 0xc0000000))).toBe(30);
    expect(u64Ffs(u64(0x80000000, 0))).toBe(63);
    expect(u64Ffs(u64(0, 0))).toBe(-1);
    expect(u64Fls(u64(0, 0x40))).toBe(6);
    expect(u64Fls(u64(0xdead0000, 0x40))).toBe(63);
    expect(u64Fls(u64(0x7f, 0))).toBe(38);
    expect(u64Fls(u64(0, 0))).toBe(-1);
  });

  it("bitwise ops, add, popcount", () => {
    expect(h(u64Or(u64(0xdead0000, 0), u64(0, 0x40)))).toBe("0xdead000000000040");
    expect(h(u64And(u64(0xffffffff, 0xffffff83), u64(0x7f, 0xffffff80)))).toBe("0x0000007fffffff80");
    expect(h(u64Not(u64(0x7f, 0xffffff83)))).toBe("0xffffff800000007c");
    expect(h(u64Add(u64(0, 0xffffffff), u64(0, 1)))).toBe("0x0000000100000000");
    expect(h(u64Add(u64(0xffffffff, 0xffffffff), u64(0, 1)))).toBe("0x0000000000000000");
    expect(u64IsZero(u64(0, 0))).toBe(true);
    expect(u64IsZero(u64(1, 0))).toBe(false);
    expect(popcount32(0xffffffff)).toBe(32);
    expect(popcount32(0xc000007c)).toBe(7);
    expect(popcount32(0)).toBe(0);
  });

  it("hex formatting", () => {
    expect(hex64(u64(0xdead0000, 0xc0))).toBe("0xdead0000000000c0");
    expect(hex64(u64(0, 0xc000007c), 8)).toBe("0xc000007c");
    expect(hex32(-1)).toBe("0xffffffff");
    expect(hex32(0x40)).toBe("0x00000040");
  });

  it("parseHex64 accepts 0x, underscores and up to 16 digits", () => {
    expect(parseHex64("0xdead0000_000000c0")).toEqual({ hi: 0xdead0000, lo: 0xc0 });
    expect(parseHex64("0XDEAD000000000040")).toEqual({ hi: 0xdead0000, lo: 0x40 });
    expect(parseHex64("  ffff_ea00_0000_1000 ")).toEqual({ hi: 0xffffea00, lo: 0x1000 });
    expect(parseHex64("c0")).toEqual({ hi: 0, lo: 0xc0 });
    expect(parseHex64("0x1_0000_0000")).toEqual({ hi: 1, lo: 0 });
  });

  it("parseHex64 rejects malformed or too-wide input", () => {
    expect(parseHex64("")).toBeNull();
    expect(parseHex64("0x")).toBeNull();
    expect(parseHex64("0x_")).toBeNull();
    expect(parseHex64("0xg0")).toBeNull();
    expect(parseHex64("-0x1")).toBeNull();
    expect(parseHex64("0x1_0000_0000_0000_0000")).toBeNull();
    expect(parseHex64("12 34")).toBeNull();
  });

  it(`parseHex64 round-trips hex64 (seed ${FC_SEED})`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (hi, lo) => {
        expect(parseHex64(hex64(u64(hi, lo)))).toEqual(u64(hi, lo));
      }),
      fcParams(100),
    );
  });
});
