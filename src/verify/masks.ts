/**
 * The DMA index in `pp_magic` (v6.16+, ee62ce7a1d90): every id the pool's xarray can hand out must
 * survive the trip through `pp_magic` and keep the page recognisable as a page_pool page.
 *
 *   lp64 pp_magic:  63            48 47          39 38                     7 6     2 1 0
 *                  ├─ 0xdead ──────┼── 0 ─────────┼──── id (32 bits) ──────┼ 1 0000┼ x x┤
 *                   POISON_POINTER_DELTA            PP_DMA_INDEX_MASK        0x40    PageTail, pfmemalloc
 *   ilp32 (v6.16): 31 30 29                      7 6     2 1 0
 *                  ├ 0 0┼──── id (23 bits) ───────┼ 1 0000┼ x x┤          PP_MAGIC_MASK 0xc000007c
 *
 * For each id and each of the four values of bits 0–1 (set before the id, as page_pool_set_pp_info()
 * ORs PP_SIGNATURE into what is there), the check runs the kernel's own expressions:
 *   netmem_set_dma_index():  magic = (pp_magic & ~PP_DMA_INDEX_MASK) | (id << PP_DMA_INDEX_SHIFT)
 *   netmem_get_dma_index():  (magic & PP_DMA_INDEX_MASK) >> PP_DMA_INDEX_SHIFT  == id
 *   page_pool_page_is_pp():  (magic & PP_MAGIC_MASK) == PP_SIGNATURE
 *   bits 0–1 are untouched, and setting id 0 again gives back PP_SIGNATURE | bits 0–1.
 * All of it on u32 lo/hi words in one loop, no BigInt and no allocation per id, so the lp64 run over
 * all 2^32 - 1 ids is feasible.
 */
import { type Arch, type ArchName, ARCHES, type DmaIndexRule, dmaIndexGeometry, archConsts, toLong } from "../arch.js";
import { type U64, u64, genmask64, hex64 } from "../u64.js";
import { type CheckResult, fail, pass } from "./result.js";

export interface MaskGeometry {
  /** `lp64 v6.16`, `ilp32 v6.18 PAGE_OFFSET 0x10000000`. */
  readonly label: string;
  readonly bitsPerLong: 32 | 64;
  readonly PP_SIGNATURE: U64;
  readonly PP_DMA_INDEX_SHIFT: number;
  readonly PP_DMA_INDEX_BITS: number;
  readonly PP_DMA_INDEX_MASK: U64;
  readonly PP_MAGIC_MASK: U64;
  /** Other rules/PAGE_OFFSETs that give exactly this geometry (checked once, named in the notes). */
  readonly sameAs?: readonly string[];
}

/** The kernel's geometry for an arch and rule (src/arch.ts computes it from the kernel's formulas). */
export function maskGeometry(
  arch: Arch,
  rule: DmaIndexRule = "v6.16",
  pageOffset: U64 = arch.PAGE_OFFSET,
  pageOffsetConstant = true,
): MaskGeometry {
  const d = dmaIndexGeometry(arch, rule, pageOffset, pageOffsetConstant);
  const po = arch.BITS_PER_LONG === 32 && rule === "v6.18" ? ` PAGE_OFFSET ${hex64(pageOffset, 8)}` : "";
  return {
    label: `${arch.name} ${rule}${po}${pageOffsetConstant ? "" : " (runtime)"}`,
    bitsPerLong: arch.BITS_PER_LONG,
    PP_SIGNATURE: archConsts(arch).PP_SIGNATURE,
    PP_DMA_INDEX_SHIFT: d.PP_DMA_INDEX_SHIFT,
    PP_DMA_INDEX_BITS: d.PP_DMA_INDEX_BITS,
    PP_DMA_INDEX_MASK: d.PP_DMA_INDEX_MASK,
    PP_MAGIC_MASK: d.PP_MAGIC_MASK,
  };
}

/**
 * A geometry from raw parameters, by the same formulas (GENMASK(bits + shift - 1, shift);
 * `~(mask | 0x3)`): for tests that need a wrong one, and for what-if questions.
 */
export function maskGeometryFrom(label: string, arch: Arch, signature: U64, shift: number, bits: number): MaskGeometry {
  const mask = bits > 0 ? toLong(arch, genmask64(bits + shift - 1, shift)) : u64(0, 0);
  const magic = toLong(arch, u64(~(mask.hi | 0), ~(mask.lo | 0x3)));
  return {
    label,
    bitsPerLong: arch.BITS_PER_LONG,
    PP_SIGNATURE: toLong(arch, signature),
    PP_DMA_INDEX_SHIFT: shift,
    PP_DMA_INDEX_BITS: bits,
    PP_DMA_INDEX_MASK: mask,
    PP_MAGIC_MASK: magic,
  };
}

/** Which ids a run covers: a full range, explicit boundaries, and a deterministic pseudo-random sample. */
export interface IdPlan {
  /** Every id in [1, rangeEnd]; 0 for none. */
  readonly rangeEnd: number;
  /** Explicit ids (boundaries), each in [1, limit]. */
  readonly boundaries: readonly number[];
  /** How many xorshift32 ids to draw from [1, limit]. */
  readonly sample: number;
  readonly seed: number;
}

/** Ids an lp64 run samples by default: 2^22, enough to hit every bit of the id many times. */
export const DEFAULT_SAMPLE = 1 << 22;
export const SAMPLE_SEED = 0x9e3779b9;
/** Up to this many index bits, every id is checked by default (ilp32: 21–24 bits). */
export const FULL_RANGE_MAX_BITS = 24;

/** Largest id: `BIT(PP_DMA_INDEX_BITS) - 1`. */
export function idLimit(g: MaskGeometry): number {
  return g.PP_DMA_INDEX_BITS <= 0 ? 0 : 2 ** Math.min(g.PP_DMA_INDEX_BITS, 32) - 1;
}

/** 1, 2, 2^k - 1, 2^k, 2^k + 1 for every k, and the limit, inside [1, limit]. */
export function boundaryIds(limit: number): number[] {
  const s = new Set<number>([1, 2, limit]);
  for (let k = 1; k <= 32; k++) for (const v of [2 ** k - 1, 2 ** k, 2 ** k + 1]) s.add(v);
  return [...s].filter((v) => v >= 1 && v <= limit).sort((a, b) => a - b);
}

export function idPlan(g: MaskGeometry, exhaustive = false, sample = DEFAULT_SAMPLE): IdPlan {
  const limit = idLimit(g);
  if (limit === 0) return { rangeEnd: 0, boundaries: [], sample: 0, seed: SAMPLE_SEED };
  if (exhaustive || g.PP_DMA_INDEX_BITS <= FULL_RANGE_MAX_BITS) {
    return { rangeEnd: limit, boundaries: [], sample: 0, seed: SAMPLE_SEED };
  }
  return { rangeEnd: 0, boundaries: boundaryIds(limit), sample, seed: SAMPLE_SEED };
}

export function planSize(p: IdPlan): number {
  return p.rangeEnd + p.boundaries.length + p.sample;
}

/** The geometry as int32 words, so the loop compares int32 with int32 and never boxes. */
class MaskWords {
  readonly s: number;
  readonly longHi: number;
  readonly sigLo: number;
  readonly sigHi: number;
  readonly maskLo: number;
  readonly maskHi: number;
  readonly nMaskLo: number;
  readonly nMaskHi: number;
  readonly mmLo: number;
  readonly mmHi: number;
  constructor(g: MaskGeometry) {
    this.s = g.PP_DMA_INDEX_SHIFT;
    this.longHi = g.bitsPerLong === 64 ? -1 : 0;
    this.sigLo = g.PP_SIGNATURE.lo | 0;
    this.sigHi = g.PP_SIGNATURE.hi & this.longHi;
    this.maskLo = g.PP_DMA_INDEX_MASK.lo | 0;
    this.maskHi = g.PP_DMA_INDEX_MASK.hi & this.longHi;
    this.nMaskLo = ~this.maskLo;
    this.nMaskHi = ~this.maskHi & this.longHi;
    this.mmLo = g.PP_MAGIC_MASK.lo | 0;
    this.mmHi = g.PP_MAGIC_MASK.hi & this.longHi;
  }
}

/** Property codes of a failure, in the order they are checked. */
const P_LOW_BITS = 0;
const P_DECODE = 1;
const P_MEMBER = 2;
const P_CLEAR = 3;

/**
 * One id, all four states of bits 0–1. 0 when every property holds, else 1 + (property << 2 | low).
 * `id` is a whole number in [1, 2^32 - 1] (a double above 2^31; the bit operators truncate it).
 */
function checkId(id: number, w: MaskWords): number {
  const s = w.s;
  const idLo = id << s;
  const idHi = (id >>> (32 - s)) & w.longHi;
  const id32 = id | 0;
  for (let low = 0; low < 4; low++) {
    const oldLo = w.sigLo | low;
    const oldHi = w.sigHi;
    const mLo = (oldLo & w.nMaskLo) | idLo;
    const mHi = (oldHi & w.nMaskHi) | idHi;
    if ((mLo & 3) !== low) return 1 + ((P_LOW_BITS << 2) | low);
    const dLo = ((mLo & w.maskLo) >>> s) | ((mHi & w.maskHi) << (32 - s));
    const dHi = (mHi & w.maskHi) >>> s;
    if ((dLo | 0) !== id32 || dHi !== 0) return 1 + ((P_DECODE << 2) | low);
    if ((mLo & w.mmLo) !== w.sigLo || (mHi & w.mmHi) !== w.sigHi) return 1 + ((P_MEMBER << 2) | low);
    if ((mLo & w.nMaskLo) !== oldLo || (mHi & w.nMaskHi) !== oldHi) return 1 + ((P_CLEAR << 2) | low);
  }
  return 0;
}

/*
 * The two scanners below inline checkId() with the geometry in locals: 2.3× faster, which makes the
 * exhaustive lp64 run (2^32 - 1 ids) take under a minute. They only find the first failing id;
 * checkId() then says which property broke.
 */

/** Every id in [from, to] (to <= 2^32 - 1); returns the first failing id, or -1. */
function scanRange(from: number, to: number, w: MaskWords): number {
  const s = w.s;
  const rs = 32 - s;
  const longHi = w.longHi;
  const sigLo = w.sigLo;
  const sigHi = w.sigHi;
  const maskLo = w.maskLo;
  const maskHi = w.maskHi;
  const nMaskLo = w.nMaskLo;
  const nMaskHi = w.nMaskHi;
  const mmLo = w.mmLo;
  const mmHi = w.mmHi;
  for (let id = from; id <= to; id++) {
    const idLo = id << s;
    const idHi = (id >>> rs) & longHi;
    const id32 = id | 0;
    for (let low = 0; low < 4; low++) {
      const oldLo = sigLo | low;
      const mLo = (oldLo & nMaskLo) | idLo;
      const mHi = (sigHi & nMaskHi) | idHi;
      if ((mLo & 3) !== low) return id;
      if ((((mLo & maskLo) >>> s) | ((mHi & maskHi) << rs)) !== id32 || (mHi & maskHi) >>> s !== 0) return id;
      if ((mLo & mmLo) !== sigLo || (mHi & mmHi) !== sigHi) return id;
      if ((mLo & nMaskLo) !== oldLo || (mHi & nMaskHi) !== sigHi) return id;
    }
  }
  return -1;
}

/** The first `n` ids of `ids`; returns the first failing id, or -1. */
function scanList(ids: Uint32Array, n: number, w: MaskWords): number {
  const s = w.s;
  const rs = 32 - s;
  const longHi = w.longHi;
  const sigLo = w.sigLo;
  const sigHi = w.sigHi;
  const maskLo = w.maskLo;
  const maskHi = w.maskHi;
  const nMaskLo = w.nMaskLo;
  const nMaskHi = w.nMaskHi;
  const mmLo = w.mmLo;
  const mmHi = w.mmHi;
  for (let k = 0; k < n; k++) {
    const id = ids[k]!;
    const idLo = id << s;
    const idHi = (id >>> rs) & longHi;
    const id32 = id | 0;
    for (let low = 0; low < 4; low++) {
      const oldLo = sigLo | low;
      const mLo = (oldLo & nMaskLo) | idLo;
      const mHi = (sigHi & nMaskHi) | idHi;
      if ((mLo & 3) !== low) return id;
      if ((((mLo & maskLo) >>> s) | ((mHi & maskHi) << rs)) !== id32 || (mHi & maskHi) >>> s !== 0) return id;
      if ((mLo & mmLo) !== sigLo || (mHi & mmHi) !== sigHi) return id;
      if ((mLo & nMaskLo) !== oldLo || (mHi & nMaskHi) !== sigHi) return id;
    }
  }
  return -1;
}

/** Fill `out` with the next ids of a xorshift32 stream in [1, limit]; returns the new state. */
function fillSample(out: Uint32Array, n: number, state: number, limit: number): number {
  let x = state;
  for (let k = 0; k < n; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const u = x >>> 0;
    out[k] = limit === 0xffffffff ? u : 1 + (u % limit);
  }
  return x;
}

/** The ids a sample run draws, in order (for tests). */
export function sampleIds(n: number, seed: number, limit: number): number[] {
  const buf = new Uint32Array(n);
  fillSample(buf, n, seed | 0 || 1, limit);
  return [...buf];
}

/** `pp_magic` for an id over PP_SIGNATURE | low, as the kernel's two stores leave it ({hi, lo}). */
export function encodeMagic(g: MaskGeometry, id: number, low: number): U64 {
  const w = new MaskWords(g);
  const idLo = id << w.s;
  const idHi = (id >>> (32 - w.s)) & w.longHi;
  return u64((w.sigHi & w.nMaskHi) | idHi, ((w.sigLo | low) & w.nMaskLo) | idLo);
}

function describeFailure(g: MaskGeometry, id: number, code: number): string {
  const prop = (code - 1) >> 2;
  const low = (code - 1) & 3;
  const d = g.bitsPerLong === 64 ? 16 : 8;
  const m = encodeMagic(g, id, low);
  const w = new MaskWords(g);
  const head = `id ${id} (0x${id.toString(16)}) with bits 0–1 = ${low}: pp_magic ${hex64(m, d)}`;
  switch (prop) {
    case P_LOW_BITS:
      return `${head} has bits 0–1 = ${m.lo & 3}: the id overlaps PageTail/pfmemalloc`;
    case P_DECODE: {
      const dLo = (((m.lo & w.maskLo) >>> w.s) | ((m.hi & w.maskHi) << (32 - w.s))) >>> 0;
      const dHi = (m.hi & w.maskHi) >>> w.s;
      return `${head} decodes to ${hex64(u64(dHi, dLo), dHi ? 16 : 8)}, not ${id}`;
    }
    case P_MEMBER: {
      const got = hex64(u64(m.hi & w.mmHi, m.lo & w.mmLo), d);
      return `${head} & PP_MAGIC_MASK = ${got} != PP_SIGNATURE ${hex64(g.PP_SIGNATURE, d)}: page_pool_page_is_pp() says no`;
    }
    default:
      return `${head}: storing id 0 again leaves ${hex64(u64(m.hi & w.nMaskHi, m.lo & w.nMaskLo), d)}, not PP_SIGNATURE | ${low}`;
  }
}

/** The round-trip check over the ids of `plan`. Pure: a function of `g` and `plan` only. */
export function checkMaskRoundTrip(g: MaskGeometry, plan: IdPlan): CheckResult {
  const name = `masks ${g.label} round-trip`;
  const n = planSize(plan);
  const covered = n * 4;
  const parts: string[] = [];
  if (plan.rangeEnd > 0) parts.push(`all ${plan.rangeEnd} ids`);
  if (plan.boundaries.length > 0) parts.push(`${plan.boundaries.length} boundary ids`);
  if (plan.sample > 0) parts.push(`${plan.sample} sampled ids`);
  const unit = `id × bits 0–1 states (${parts.join(" + ") || "no ids"} × 4)`;
  const d = g.bitsPerLong === 64 ? 16 : 8;
  const notes = [
    `PP_DMA_INDEX_SHIFT ${g.PP_DMA_INDEX_SHIFT}, PP_DMA_INDEX_BITS ${g.PP_DMA_INDEX_BITS}, ` +
      `PP_DMA_INDEX_MASK ${hex64(g.PP_DMA_INDEX_MASK, d)}, PP_MAGIC_MASK ${hex64(g.PP_MAGIC_MASK, d)}, ` +
      `PP_SIGNATURE ${hex64(g.PP_SIGNATURE, d)}`,
  ];
  if (g.sameAs && g.sameAs.length > 0) notes.push(`the same geometry as ${g.sameAs.join(", ")}`);
  if (g.PP_DMA_INDEX_BITS === 0) {
    notes.push(
      "PP_DMA_INDEX_BITS 0: tracking is off, page_pool_register_dma_index() stores no id; " +
        "page_pool_page_is_pp() still tests (pp_magic & ~0x3) == PP_SIGNATURE, the pre-v6.16 test",
    );
    // No id to store: what is left to check is that the page stays recognisable, for each of the 4
    // states of bits 0–1 (netmem_set_dma_index() with a 0 mask leaves pp_magic as it is).
    const disabledUnit = "pp_magic states (no id: tracking disabled; PP_SIGNATURE | bits 0–1, 4 values)";
    const c = checkId(0, new MaskWords(g));
    if (c !== 0) return fail("masks", name, 4, disabledUnit, describeFailure(g, 0, c), notes);
    return pass("masks", name, 4, disabledUnit, notes);
  }
  const s = g.PP_DMA_INDEX_SHIFT;
  if (!(Number.isInteger(s) && s >= 1 && s <= 31)) {
    return fail("masks", name, 0, unit, `PP_DMA_INDEX_SHIFT ${s} is outside 1..31`, notes);
  }
  const w = new MaskWords(g);
  const found = (id: number): CheckResult => {
    const c = checkId(id, w);
    const why = c !== 0 ? describeFailure(g, id, c) : `id ${id}: the fast scanner and checkId() disagree`;
    return fail("masks", name, covered, unit, why, notes);
  };
  const CHUNK = 1 << 16;
  const buf = new Uint32Array(CHUNK);
  for (let i = 0; i < plan.boundaries.length; i += CHUNK) {
    const n = Math.min(CHUNK, plan.boundaries.length - i);
    for (let k = 0; k < n; k++) buf[k] = plan.boundaries[i + k]!;
    const id = scanList(buf, n, w);
    if (id >= 0) return found(id);
  }
  if (plan.rangeEnd > 0) {
    const id = scanRange(1, plan.rangeEnd, w);
    if (id >= 0) return found(id);
  }
  let state = plan.seed | 0 || 1;
  for (let i = 0; i < plan.sample; i += CHUNK) {
    const n = Math.min(CHUNK, plan.sample - i);
    state = fillSample(buf, n, state, idLimit(g));
    const id = scanList(buf, n, w);
    if (id >= 0) return found(id);
  }
  const one = encodeMagic(g, 1, 0);
  const top = encodeMagic(g, idLimit(g), 0);
  notes.push(`id 1 → pp_magic ${hex64(one, d)}; id ${idLimit(g)} → ${hex64(top, d)}`);
  return pass("masks", name, covered, unit, notes);
}

/** 32-bit PAGE_OFFSETs examined: VMSPLIT_3G, VMSPLIT_2G, VMSPLIT_1G, parisc32 (0x10000000). */
export const ILP32_PAGE_OFFSETS: readonly number[] = [0xc0000000, 0x80000000, 0x40000000, 0x10000000];

/** The geometries the `masks` round-trip runs for an arch; one per distinct mask. */
export function maskGeometries(archName: ArchName): MaskGeometry[] {
  const arch = ARCHES[archName];
  if (arch.BITS_PER_LONG === 64) return [maskGeometry(arch, "v6.16")];
  const out: MaskGeometry[] = [maskGeometry(arch, "v6.16")];
  for (const po of ILP32_PAGE_OFFSETS) {
    const g = maskGeometry(arch, "v6.18", u64(0, po));
    const i = out.findIndex(
      (o) => o.PP_MAGIC_MASK.lo === g.PP_MAGIC_MASK.lo && o.PP_DMA_INDEX_BITS === g.PP_DMA_INDEX_BITS,
    );
    if (i < 0) out.push(g);
    else out[i] = { ...out[i]!, sameAs: [...(out[i]!.sameAs ?? []), g.label] };
  }
  out.push(maskGeometry(arch, "v6.18", u64(0, 0xc0000000), false));
  return out;
}

export function verifyMaskRoundTrips(arches: readonly ArchName[], exhaustive = false): CheckResult[] {
  const out: CheckResult[] = [];
  for (const a of arches) {
    for (const g of maskGeometries(a)) out.push(checkMaskRoundTrip(g, idPlan(g, exhaustive)));
  }
  return out;
}
