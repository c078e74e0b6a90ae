import { describe, expect, it } from "vitest";
import {
  ILP32,
  LP64,
  PP_DMA_INDEX_SHIFT,
  archConsts,
  dmaIndexGeometry,
  encodePpMagic,
  hexLong,
  parseArch,
  parsePageSize,
  ppDmaIndexBits,
} from "../src/arch.js";
import { hex64, u64 } from "../src/u64.js";

describe("lp64 (x86-64) derived constants", () => {
  const c = archConsts(LP64);
  it("PAGE_* for 4 KiB", () => {
    expect(c.PAGE_SHIFT).toBe(12);
    expect(c.PAGE_SIZE).toBe(4096);
    expect(hex64(c.PAGE_MASK)).toBe("0xfffffffffffff000");
    expect(c.PAGE_MASK_LO).toBe(0xfffff000 | 0);
  });
  it("PAGE_MASK per page size", () => {
    expect(hex64(archConsts(LP64, "16k").PAGE_MASK)).toBe("0xffffffffffffc000");
    expect(hex64(archConsts(LP64, "64k").PAGE_MASK)).toBe("0xffffffffffff0000");
    expect(archConsts(LP64, "64k").PAGE_SIZE).toBe(65536);
  });
  it("PP_SIGNATURE = 0x40 + POISON_POINTER_DELTA", () => {
    expect(hex64(c.POISON_POINTER_DELTA)).toBe("0xdead000000000000");
    expect(hex64(c.PP_SIGNATURE)).toBe("0xdead000000000040");
    expect(hex64(c.PP_MAGIC_MASK_CLASSIC)).toBe("0xfffffffffffffffc");
    expect(c.NET_IOV).toBe(1);
  });
  it("PP_DMA_INDEX_* as merged in v6.16", () => {
    expect(PP_DMA_INDEX_SHIFT).toBe(7);
    expect(c.dmaIndex.PP_DMA_INDEX_SHIFT).toBe(7);
    expect(c.dmaIndex.PP_DMA_INDEX_BITS).toBe(32);
    expect(hex64(c.dmaIndex.PP_DMA_INDEX_MASK)).toBe("0x0000007fffffff80");
    expect(hex64(c.dmaIndex.PP_MAGIC_MASK)).toBe("0xffffff800000007c");
    expect(c.dmaIndex.PP_DMA_INDEX_LIMIT).toBe(0xffffffff);
  });
  it("the v6.18 rule does not change an arch with a poison delta", () => {
    expect(ppDmaIndexBits(LP64, "v6.18")).toBe(32);
    expect(ppDmaIndexBits(LP64, "v6.18", u64(0, 0x4000), false)).toBe(32);
  });
  it("encodePpMagic puts the id at bit 7, across the word boundary", () => {
    expect(hex64(encodePpMagic(c, 1))).toBe("0xdead0000000000c0");
    expect(hex64(encodePpMagic(c, 0))).toBe("0xdead000000000040");
    expect(hex64(encodePpMagic(c, 1, 2))).toBe("0xdead0000000000c2");
    expect(hex64(encodePpMagic(c, 0x2000000))).toBe("0xdead000100000040");
    expect(hex64(encodePpMagic(c, 0xffffffff))).toBe("0xdead007fffffffc0");
  });
});

describe("ilp32 (32-bit ARM) derived constants", () => {
  const c = archConsts(ILP32);
  it("PP_SIGNATURE is 0x40 with no poison delta", () => {
    expect(hexLong(ILP32, c.POISON_POINTER_DELTA)).toBe("0x00000000");
    expect(hexLong(ILP32, c.PP_SIGNATURE)).toBe("0x00000040");
    expect(hexLong(ILP32, c.PAGE_MASK)).toBe("0xfffff000");
    expect(c.PAGE_MASK.hi).toBe(0);
  });
  it("as merged (v6.16): BITS = MIN(32, BITS_PER_LONG - 7 - 2) = 23", () => {
    expect(c.dmaIndex.rule).toBe("v6.16");
    expect(c.dmaIndex.PP_DMA_INDEX_BITS).toBe(23);
    expect(hexLong(ILP32, c.dmaIndex.PP_DMA_INDEX_MASK)).toBe("0x3fffff80");
    expect(hexLong(ILP32, c.dmaIndex.PP_MAGIC_MASK)).toBe("0xc000007c");
    expect(c.dmaIndex.PP_MAGIC_MASK.hi).toBe(0);
    expect(c.dmaIndex.PP_DMA_INDEX_LIMIT).toBe(0x7fffff);
    expect(hexLong(ILP32, encodePpMagic(c, 1))).toBe("0x000000c0");
  });
  it("v6.18: BITS from __ffs(PAGE_OFFSET) when PAGE_OFFSET is a constant >= 1 << 15", () => {
    const bits = (po: number, constant = true) => ppDmaIndexBits(ILP32, "v6.18", u64(0, po), constant);
    expect(bits(0xc0000000)).toBe(23);
    expect(bits(0x80000000)).toBe(24);
    expect(bits(0x40000000)).toBe(23);
    expect(bits(0x10000000)).toBe(21);
    expect(bits(0x8000)).toBe(8);
    expect(bits(0x4000)).toBe(0);
    expect(bits(0xc0000000, false)).toBe(0);
    expect(ppDmaIndexBits(ILP32, "v6.18")).toBe(23);
  });
  it("v6.18 masks", () => {
    const g = dmaIndexGeometry(ILP32, "v6.18", u64(0, 0x80000000));
    expect(hexLong(ILP32, g.PP_DMA_INDEX_MASK)).toBe("0x7fffff80");
    expect(hexLong(ILP32, g.PP_MAGIC_MASK)).toBe("0x8000007c");
    const off = dmaIndexGeometry(ILP32, "v6.18", u64(0, 0x4000));
    expect(off.PP_DMA_INDEX_BITS).toBe(0);
    expect(hexLong(ILP32, off.PP_DMA_INDEX_MASK)).toBe("0x00000000");
    expect(hexLong(ILP32, off.PP_MAGIC_MASK)).toBe("0xfffffffc");
    expect(off.PP_DMA_INDEX_LIMIT).toBe(0);
  });
});

describe("parsing arch and page size", () => {
  it("accepts the known names only", () => {
    expect(parseArch("lp64")).toBe(LP64);
    expect(parseArch("ilp32")).toBe(ILP32);
    expect(parseArch("sparc")).toBeNull();
    expect(parsePageSize("64K")).toBe("64k");
    expect(parsePageSize("8k")).toBeNull();
  });
});
