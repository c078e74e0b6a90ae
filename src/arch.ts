/**
 * Architecture and page size → every derived constant, computed once from the kernel's own formulas.
 *
 * Nothing here is typed twice: PAGE_MASK comes from PAGE_SHIFT, PP_SIGNATURE from
 * POISON_POINTER_DELTA, PP_DMA_INDEX_* from PP_SIGNATURE and the delta (include/linux/mm.h,
 * v6.16 as merged and v6.18 with 95920c2ed02b), PP_MAGIC_MASK from the index mask. Values that are
 * an `unsigned long` are {hi, lo} u32 pairs; on ilp32 `hi` is always 0.
 */
import {
  type U64,
  u64,
  u64And,
  u64Not,
  u64Or,
  u64Ffs,
  u64Add,
  u64IsZero,
  u64FromNumber,
  genmask64,
  hex64,
} from "./u64.js";

export type ArchName = "lp64" | "ilp32";
export const ARCH_NAMES: readonly ArchName[] = ["lp64", "ilp32"];

export type PageSizeName = "4k" | "16k" | "64k";
export const PAGE_SIZE_NAMES: readonly PageSizeName[] = ["4k", "16k", "64k"];
export const PAGE_SHIFT_OF: Readonly<Record<PageSizeName, number>> = { "4k": 12, "16k": 14, "64k": 16 };

/** The C ABI facts a struct layout needs, plus the arch's pointer-space constants. */
export interface Arch {
  readonly name: ArchName;
  /** What the arch stands for in this emulator. */
  readonly models: string;
  readonly BITS_PER_LONG: 32 | 64;
  /** sizeof(long) == sizeof(void *) == sizeof(dma_addr_t) in both models. */
  readonly longSize: 4 | 8;
  /** alignof(u64): 8 on x86-64 and on 32-bit ARM EABI (the 32-bit regression was reported there). */
  readonly u64Align: 4 | 8;
  /** include/linux/poison.h: CONFIG_ILLEGAL_POINTER_VALUE, 0 on 32-bit. */
  readonly POISON_POINTER_DELTA: U64;
  /** Start of the direct map (x86-64 __PAGE_OFFSET_BASE_L4; 32-bit VMSPLIT_3G default 0xC0000000). */
  readonly PAGE_OFFSET: U64;
}

export const LP64: Arch = {
  name: "lp64",
  models: "x86-64",
  BITS_PER_LONG: 64,
  longSize: 8,
  u64Align: 8,
  POISON_POINTER_DELTA: u64(0xdead0000, 0),
  PAGE_OFFSET: u64(0xffff8880, 0),
};

export const ILP32: Arch = {
  name: "ilp32",
  models: "32-bit ARM (EABI), VMSPLIT_3G",
  BITS_PER_LONG: 32,
  longSize: 4,
  u64Align: 8,
  POISON_POINTER_DELTA: u64(0, 0),
  PAGE_OFFSET: u64(0, 0xc0000000),
};

export const ARCHES: Readonly<Record<ArchName, Arch>> = { lp64: LP64, ilp32: ILP32 };

/** Truncate a pair to the arch's `unsigned long`. */
export function toLong(arch: Arch, v: U64): U64 {
  return arch.BITS_PER_LONG === 64 ? v : u64(0, v.lo);
}

/** `~x` as an `unsigned long`. */
export function notLong(arch: Arch, v: U64): U64 {
  return toLong(arch, u64Not(v));
}

/** Hex as the kernel prints an `unsigned long` on this arch (16 or 8 digits). */
export function hexLong(arch: Arch, v: U64): string {
  return hex64(v, arch.BITS_PER_LONG === 64 ? 16 : 8);
}

/** Which rule computes PP_DMA_INDEX_BITS when POISON_POINTER_DELTA is 0. */
export type DmaIndexRule = "v6.16" | "v6.18";

export interface DmaIndexGeometry {
  readonly rule: DmaIndexRule;
  readonly PP_DMA_INDEX_SHIFT: number;
  /** 0 means tracking is off (v6.18 rule with an unusable PAGE_OFFSET). */
  readonly PP_DMA_INDEX_BITS: number;
  readonly PP_DMA_INDEX_MASK: U64;
  /** `~(PP_DMA_INDEX_MASK | 0x3)`: what `page_pool_page_is_pp()` compares against PP_SIGNATURE. */
  readonly PP_MAGIC_MASK: U64;
  /** Largest id `xa_alloc` may hand out: `BIT(PP_DMA_INDEX_BITS) - 1`. */
  readonly PP_DMA_INDEX_LIMIT: number;
}

export interface ArchConsts {
  readonly arch: Arch;
  readonly PAGE_SHIFT: number;
  readonly PAGE_SIZE: number;
  /** `~(PAGE_SIZE - 1)` as an unsigned long. */
  readonly PAGE_MASK: U64;
  /** The low word of PAGE_MASK: all an in-buffer (< 4 GiB) address ever needs. */
  readonly PAGE_MASK_LO: number;
  readonly POISON_POINTER_DELTA: U64;
  /** `0x40 + POISON_POINTER_DELTA` (include/linux/poison.h). */
  readonly PP_SIGNATURE: U64;
  /** netmem_ref bit 0: the reference is a `struct net_iov *` (include/net/netmem.h). */
  readonly NET_IOV: 1;
  /** Before v6.16: `~0x3UL`, bits 0 (PageTail) and 1 (pfmemalloc) excluded. */
  readonly PP_MAGIC_MASK_CLASSIC: U64;
  /** The v6.16 (merged) index geometry. */
  readonly dmaIndex: DmaIndexGeometry;
}

/** The 0x40 that PP_SIGNATURE adds to the poison delta. */
export const PP_SIGNATURE_BASE = 0x40;

/** `PP_DMA_INDEX_SHIFT = 1 + __fls(PP_SIGNATURE - POISON_POINTER_DELTA)` = 7. */
export const PP_DMA_INDEX_SHIFT = 1 + (31 - Math.clz32(PP_SIGNATURE_BASE));

/**
 * `PP_DMA_INDEX_BITS` for an arch.
 *  - delta > 0: `MIN(32, __ffs(POISON_POINTER_DELTA) - PP_DMA_INDEX_SHIFT)` (both rules);
 *  - delta == 0, v6.16: `MIN(32, BITS_PER_LONG - PP_DMA_INDEX_SHIFT - 2)`;
 *  - delta == 0, v6.18: with `PP_DMA_INDEX_MIN_OFFSET = 1 << (SHIFT + 8)`, if PAGE_OFFSET is a
 *    compile-time constant >= MIN_OFFSET and a multiple of it, `MIN(32, __ffs(PAGE_OFFSET) - SHIFT)`,
 *    else 0 (tracking off). `pageOffsetConstant = false` models a runtime PAGE_OFFSET.
 */
export function ppDmaIndexBits(
  arch: Arch,
  rule: DmaIndexRule,
  pageOffset: U64 = arch.PAGE_OFFSET,
  pageOffsetConstant = true,
): number {
  if (!u64IsZero(arch.POISON_POINTER_DELTA)) {
    return Math.min(32, u64Ffs(arch.POISON_POINTER_DELTA) - PP_DMA_INDEX_SHIFT);
  }
  if (rule === "v6.16") return Math.min(32, arch.BITS_PER_LONG - PP_DMA_INDEX_SHIFT - 2);
  const minOffsetShift = PP_DMA_INDEX_SHIFT + 8;
  const ffs = u64Ffs(pageOffset);
  // PAGE_OFFSET >= 1 << 15 and a multiple of it <=> its lowest set bit is at 15 or above.
  const usable = pageOffsetConstant && ffs >= minOffsetShift;
  return usable ? Math.min(32, ffs - PP_DMA_INDEX_SHIFT) : 0;
}

export function dmaIndexGeometry(
  arch: Arch,
  rule: DmaIndexRule = "v6.16",
  pageOffset: U64 = arch.PAGE_OFFSET,
  pageOffsetConstant = true,
): DmaIndexGeometry {
  const bits = ppDmaIndexBits(arch, rule, pageOffset, pageOffsetConstant);
  // GENMASK(BITS + SHIFT - 1, SHIFT); with BITS = 0 the kernel's GENMASK(6, 7) is empty.
  const mask = bits > 0 ? genmask64(bits + PP_DMA_INDEX_SHIFT - 1, PP_DMA_INDEX_SHIFT) : u64(0, 0);
  return {
    rule,
    PP_DMA_INDEX_SHIFT,
    PP_DMA_INDEX_BITS: bits,
    PP_DMA_INDEX_MASK: mask,
    PP_MAGIC_MASK: notLong(arch, u64Or(mask, u64(0, 0x3))),
    PP_DMA_INDEX_LIMIT: bits === 0 ? 0 : bits === 32 ? 0xffffffff : 2 ** bits - 1,
  };
}

export function archConsts(arch: Arch, pageSize: PageSizeName = "4k"): ArchConsts {
  const PAGE_SHIFT = PAGE_SHIFT_OF[pageSize];
  const PAGE_SIZE = 1 << PAGE_SHIFT;
  const PAGE_MASK = notLong(arch, u64FromNumber(PAGE_SIZE - 1));
  return {
    arch,
    PAGE_SHIFT,
    PAGE_SIZE,
    PAGE_MASK,
    PAGE_MASK_LO: PAGE_MASK.lo | 0,
    POISON_POINTER_DELTA: arch.POISON_POINTER_DELTA,
    PP_SIGNATURE: u64Add(arch.POISON_POINTER_DELTA, u64(0, PP_SIGNATURE_BASE)),
    NET_IOV: 1,
    PP_MAGIC_MASK_CLASSIC: notLong(arch, u64(0, 0x3)),
    dmaIndex: dmaIndexGeometry(arch, "v6.16"),
  };
}

/** `pp_magic` for an id: `PP_SIGNATURE | (id << PP_DMA_INDEX_SHIFT)` (plus the bits 0–1 kept). */
export function encodePpMagic(c: ArchConsts, id: number, keepLow2 = 0): U64 {
  const idBits = u64And(
    u64(Math.floor(id / 2 ** (32 - PP_DMA_INDEX_SHIFT)), (id << PP_DMA_INDEX_SHIFT) >>> 0),
    c.dmaIndex.PP_DMA_INDEX_MASK,
  );
  return toLong(c.arch, u64Or(u64Or(c.PP_SIGNATURE, idBits), u64(0, keepLow2 & 3)));
}

export function parseArch(name: string): Arch | null {
  return (ARCHES as Record<string, Arch>)[name] ?? null;
}

export function parsePageSize(name: string): PageSizeName | null {
  const n = name.toLowerCase();
  return (PAGE_SIZE_NAMES as readonly string[]).includes(n) ? (n as PageSizeName) : null;
}
