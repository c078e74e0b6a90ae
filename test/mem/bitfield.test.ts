import { describe, expect, it } from "vitest";
import { ILP32, LP64 } from "../../src/arch.js";
import { array, bitOf, BOOL, layoutOf, m, offsetOf, prim, struct, union, U8, U16, U32, U64T, UINT, UCHAR, INT } from "../../src/mem/ctype.js";
import { pahole } from "../../src/mem/pahole.js";
import { STRUCT_PAGE_POOL_V6_16 } from "../../src/builds/xarray_structs.js";

const lines = (...l: string[]) => l.join("\n") + "\n";

describe("bitfields: GCC x86-64 SysV placement", () => {
  it("consecutive bools share one byte; the next member starts at its own alignment", () => {
    const s = struct("s", [m("a", BOOL, { bits: 1 }), m("b", BOOL, { bits: 1 }), m("c", INT)]);
    const l = layoutOf(s, LP64);
    expect(l.bits).toEqual({ a: { pos: 0, size: 1 }, b: { pos: 1, size: 1 } });
    expect(offsetOf(l, "a")).toBe(0);
    expect(offsetOf(l, "b")).toBe(0);
    expect(offsetOf(l, "c")).toBe(4);
    expect(l.size).toBe(8);
    expect(l.align).toBe(4);
  });

  it("a bitfield that would straddle its storage unit starts the next one", () => {
    const l = layoutOf(struct("s", [m("x", U32, { bits: 30 }), m("y", U32, { bits: 4 })]), LP64);
    expect(l.bits["y"]).toEqual({ pos: 32, size: 4 });
    expect(offsetOf(l, "y")).toBe(4);
    expect(l.size).toBe(8);
  });

  it("bitfields pack across the bytes of one unit; a char bitfield may not straddle a byte", () => {
    const l = layoutOf(
      struct("s", [m("i", INT), m("a", UCHAR, { bits: 3 }), m("b", UCHAR, { bits: 6 }), m("c", U16, { bits: 9 })]),
      LP64,
    );
    expect(l.bits["a"]).toEqual({ pos: 32, size: 3 });
    expect(l.bits["b"]).toEqual({ pos: 40, size: 6 }); // 35..40 would cross into byte 5
    expect(l.bits["c"]).toEqual({ pos: 48, size: 9 }); // u16 unit 48..63
    expect(offsetOf(l, "c")).toBe(6);
    expect(l.size).toBe(8);
  });

  it("a plain member after an int bitfield takes the next byte, not the next int", () => {
    const l = layoutOf(struct("s", [m("a", UINT, { bits: 3 }), m("c", U8)]), LP64);
    expect(offsetOf(l, "c")).toBe(1);
    expect(l.size).toBe(4); // the unsigned int bitfield still aligns the struct to 4
  });

  it("an unnamed zero-width bitfield closes the unit and does not align the struct", () => {
    const l = layoutOf(struct("s", [m("a", UCHAR, { bits: 3 }), m("", INT, { bits: 0 }), m("b", UCHAR)]), LP64);
    expect(offsetOf(l, "b")).toBe(4);
    expect(l.members.map((x) => x.name)).toEqual(["a", "b"]);
    expect(l.size).toBe(5);
  });

  it("in a union every bitfield starts at bit 0", () => {
    const l = layoutOf(union("u", [m("a", U32, { bits: 3 }), m("b", U8)]), LP64);
    expect(l.bits["a"]).toEqual({ pos: 0, size: 3 });
    expect(l.size).toBe(4);
  });

  it("nested records report bit positions from the outermost struct", () => {
    const inner = struct("", [m("x", U8), m("f", BOOL, { bits: 1 }), m("g", BOOL, { bits: 2 })]);
    const l = layoutOf(struct("outer", [m("pad", U32), m("in", inner)]), LP64);
    expect(l.bits["in.f"]).toEqual({ pos: 40, size: 1 });
    expect(l.bits["in.g"]).toEqual({ pos: 41, size: 2 });
    expect(offsetOf(l, "in.g")).toBe(5);
  });

  it("rejects widths wider than the type and alignment attributes on bitfields", () => {
    expect(() => layoutOf(struct("bad", [m("a", U8, { bits: 9 })]), LP64)).toThrow(/does not fit/);
    expect(() => layoutOf(struct("bad2", [m("a", U32, { bits: 1, alignAttr: 8 })]), LP64)).toThrow(/alignment/);
    expect(() => layoutOf(struct("bad3", [m("a", array(U8, 2), { bits: 1 })]), LP64)).toThrow(/scalar/);
  });

  it("existing layouts without bitfields have no bit state", () => {
    // ilp32 is 32-bit ARM EABI here: alignof(u64) == 8.
    const l = layoutOf(struct("plain", [m("a", U8), m("b", U64T)]), ILP32);
    expect(l.bits).toEqual({});
    expect(l.bitPadding).toBe(0);
    expect(l.holes).toEqual([{ before: "b", offset: 1, size: 7 }]);
  });
});

describe("bitOf", () => {
  const s = struct("s", [m("w", U32), m("pad", U8), m("a", BOOL, { bits: 1 }), m("b", BOOL, { bits: 1 }), m("n", UINT, { bits: 5 })]);
  const l = layoutOf(s, LP64);

  it("gives the u32 word and the mask within it", () => {
    expect(bitOf(l, "a")).toEqual({ off: 4, mask: 1 << 8 });
    expect(bitOf(l, "b")).toEqual({ off: 4, mask: 1 << 9 });
    expect(bitOf(l, "n")).toEqual({ off: 4, mask: 0x1f << 10 });
  });

  it("reads like the emulator does: (u32[(base + off) >>> 2] & mask) !== 0", () => {
    const mem = new Uint8Array(64);
    const base = 16;
    mem[base + 5] = 0b10; // b set, a clear
    const u32 = new Uint32Array(mem.buffer);
    const test = (p: string) => {
      const { off, mask } = bitOf(l, p);
      return (u32[(base + off) >>> 2]! & mask) !== 0;
    };
    expect(test("a")).toBe(false);
    expect(test("b")).toBe(true);
  });

  it("a mask with bit 31 set is unsigned", () => {
    const l2 = layoutOf(struct("t", [m("lo", U32, { bits: 31 }), m("hi", U32, { bits: 1 })]), LP64);
    expect(bitOf(l2, "hi")).toEqual({ off: 0, mask: 0x80000000 });
    const l3 = layoutOf(struct("t3", [m("all", U32, { bits: 32 })]), LP64);
    expect(bitOf(l3, "all")).toEqual({ off: 0, mask: 0xffffffff });
  });

  it("throws for a member that is not a bitfield, an unknown path, or a field straddling two words", () => {
    expect(() => bitOf(l, "w")).toThrow(/not a bitfield/);
    expect(() => bitOf(l, "nope")).toThrow(/has no member nope/);
    expect(() => offsetOf(l, "nope")).toThrow(/has no member nope/);
    const wide = layoutOf(struct("wide", [m("a", U8), m("x", prim("u64", 8), { bits: 40 })]), LP64);
    expect(wide.bits["x"]).toEqual({ pos: 8, size: 40 });
    expect(() => bitOf(wide, "x")).toThrow(/straddles/);
  });
});

describe("pahole with bitfields", () => {
  it("prints OFF:BIT SIZE, bit holes and the bitfield summary", () => {
    const s = struct("bits", [m("a", UINT, { bits: 3 }), m("b", UINT, { bits: 9 }), m("c", U8)]);
    expect(pahole(layoutOf(s, LP64))).toBe(
      lines(
        "struct bits {",
        "\tunsigned int               a:3;                  /*     0: 0  4 */",
        "\tunsigned int               b:9;                  /*     0: 3  4 */",
        "",
        "\t/* XXX 4 bits hole, try to pack */",
        "",
        "\tu8                         c;                    /*     2     1 */",
        "",
        "\t/* size: 4, cachelines: 1, members: 3 */",
        "\t/* sum members: 1 */",
        "\t/* sum bitfield members: 12 bits, bit holes: 1, sum bit holes: 4 bits */",
        "\t/* padding: 1 */",
        "\t/* last cacheline: 4 bytes */",
        "};",
      ),
    );
  });

  it("trailing bitfields: bit_padding, and padding counted from the end of the storage unit", () => {
    const s = struct("tail", [m("x", INT), m("f", UINT, { bits: 1 })]);
    const l = layoutOf(s, LP64);
    expect(l.size).toBe(8);
    expect(l.bitPadding).toBe(31);
    expect(l.padding).toBe(0);
    expect(pahole(l)).toContain("\t/* size: 8, cachelines: 1, members: 2 */\n\t/* bit_padding: 31 bits */\n");
  });

  it("struct page_pool v6.16: the bool bitfields and the hole up to the 32-aligned frag group", () => {
    const text = pahole(layoutOf(STRUCT_PAGE_POOL_V6_16, LP64));
    expect(text).toContain(
      [
        "\tbool                       has_init_callback:1;  /*    56: 0  1 */",
        "\tbool                       dma_map:1;            /*    56: 1  1 */",
        "\tbool                       dma_sync:1;           /*    56: 2  1 */",
        "\tbool                       dma_sync_for_cpu:1;   /*    56: 3  1 */",
        "\tbool                       system:1;             /*    56: 4  1 */",
        "",
        "\t/* XXX 3 bits hole, try to pack */",
        "\t/* XXX 7 bytes hole, try to pack */",
        "",
        "\t/* --- cacheline 1 boundary (64 bytes) --- */",
        "\t__u8                       __cacheline_group_begin__frag[0] __attribute__((__aligned__(32))); /*    64     0 */",
      ].join("\n"),
    );
    expect(text).toContain("\t/* sum bitfield members: 5 bits, bit holes: 1, sum bit holes: 3 bits */\n");
  });
});
