/**
 * 32-bit false positives of `page_pool_page_is_pp()`: how many ordinary kernel pointers, sitting in
 * the word that is `pp_magic` for a page_pool page (`lru.next`, `compound_head`, …), pass
 * `(pp_magic & PP_MAGIC_MASK) == PP_SIGNATURE` although the page is not a page_pool page.
 *
 * With POISON_POINTER_DELTA == 0 the signature is plain 0x40. Before v6.16 the mask was ~0x3, so only
 * 0x40..0x43 matched. v6.16 carved a 23-bit id out of the mask (0xc000007c), so every word-aligned
 * value with bits 30–31 clear and low byte 0x40/0xc0 matches: 2^23 values, the Sep 2025 parisc crash
 * (Helge Deller's examples 0x01111040, 0x082330c0, …). v6.18 (95920c2ed02b) bounds the id below the
 * lowest set bit of PAGE_OFFSET, so a pointer >= PAGE_OFFSET always has a bit set that the mask keeps
 * and the signature lacks — or turns tracking off (BITS = 0, mask back to ~0x3).
 *
 * Counting is exact and closed-form: the values x with `x & M == S` are S plus any combination of the
 * bits outside M, so the count below a bound N is a walk down N's bits (a digit DP). A brute-force
 * counter over a sub-range cross-checks it on every run.
 */
import { ILP32, type DmaIndexRule } from "../arch.js";
import { u64, popcount32 } from "../u64.js";
import { maskGeometry, ILP32_PAGE_OFFSETS } from "./masks.js";
import { type CheckResult, fail, pass, hex8, withCounted } from "./result.js";

/** Word-aligned: bits 0–1 of a kernel pointer to a long-aligned object are 0. */
export const WORD_ALIGN_MASK = 0x3;

/** The example from the Sep 2025 report (Helge Deller, parisc). */
export const REPORTED_EXAMPLE = 0x01111040;
export const REPORTED_EXAMPLES: readonly number[] = [0x01111040, 0x082330c0, 0x03264040, 0x0ad686c0];

/** Bits of a 32-bit mask below bit b (b in 0..32). */
function below(b: number): number {
  return b >= 32 ? 0xffffffff : ((1 << b) - 1) >>> 0;
}

/**
 * Number of x in [0, n) (0 <= n <= 2^32) with `(x & mask) == sig`. Closed form: O(32).
 * For each 1-bit b of n, the x that agree with n above b and have bit b clear are all below n; they
 * match iff n's prefix matches `sig` on the mask bits and bit b may be 0; their low bits are free
 * except the masked ones, which are forced.
 */
export function countBelow(mask: number, sig: number, n: number): number {
  mask >>>= 0;
  sig >>>= 0;
  if ((sig & ~mask) >>> 0 !== 0) return 0;
  const free = ~mask >>> 0;
  if (n >= 2 ** 32) return 2 ** popcount32(free);
  let count = 0;
  for (let b = 31; b >= 0; b--) {
    const bit = 2 ** b;
    const nb = Math.floor(n / bit) % 2;
    const mb = (mask >>> b) & 1;
    const sb = (sig >>> b) & 1;
    if (nb === 1) {
      // x_b = 0 here: allowed if the bit is free or the signature wants 0.
      if (mb === 0 || sb === 0) count += 2 ** popcount32((free & below(b)) >>> 0);
      // Continue along n (x_b = 1) only if allowed.
      if (mb === 1 && sb === 0) return count;
    } else if (mb === 1 && sb === 1) {
      // n's prefix has 0 where the signature needs 1: every longer prefix is out.
      return count;
    }
  }
  return count;
}

/** Number of x in [lo, hi] (inclusive, 0 <= lo <= hi <= 2^32 - 1) with `(x & mask) == sig`. */
export function countInRange(mask: number, sig: number, lo: number, hi: number): number {
  if (hi < lo) return 0;
  return countBelow(mask, sig, hi + 1) - countBelow(mask, sig, lo);
}

/** Word-aligned x in [lo, hi] passing `(x & magicMask) == signature`. */
export function countFalsePositives(magicMask: number, signature: number, lo: number, hi: number): number {
  if ((signature & ~magicMask) >>> 0 !== 0) return 0;
  if ((signature & WORD_ALIGN_MASK) !== 0) return 0;
  return countInRange((magicMask | WORD_ALIGN_MASK) >>> 0, signature >>> 0, lo, hi);
}

/** How many multiples of 4 lie in [lo, hi] (what bruteFalsePositives visits). */
export function wordAlignedIn(lo: number, hi: number): number {
  return hi < lo ? 0 : Math.max(0, Math.floor(hi / 4) - Math.ceil(lo / 4) + 1);
}

/** The same by brute force, every 4th value of [lo, hi] (tests and the built-in cross-check). */
export function bruteFalsePositives(magicMask: number, signature: number, lo: number, hi: number): number {
  const m = magicMask | 0;
  const s = signature | 0;
  let n = 0;
  for (let x = Math.ceil(lo / 4) * 4; x <= hi; x += 4) if ((x & m) === s) n++;
  return n;
}

/**
 * The smallest x >= from with `(x & mask) == sig`, or -1. The answer either is `from` or leaves it at
 * the lowest bit b where from has a 0 that may become 1 with from's higher bits still matching; below
 * b it takes the signature's bits and zeros.
 */
export function nextMatch(mask: number, sig: number, from: number): number {
  mask >>>= 0;
  sig >>>= 0;
  from >>>= 0;
  if ((sig & ~mask) >>> 0 !== 0) return -1;
  if (((from & mask) >>> 0) === sig) return from;
  for (let b = 0; b < 32; b++) {
    if ((from >>> b) & 1) continue;
    const mb = (mask >>> b) & 1;
    if (mb === 1 && ((sig >>> b) & 1) === 0) continue;
    const above = b === 31 ? 0 : (~below(b + 1)) >>> 0;
    if (((from ^ sig) & mask & above) >>> 0 !== 0) continue;
    return ((from & above) | (2 ** b) | (sig & below(b))) >>> 0;
  }
  return -1;
}

/** The k-th (from 0) value whose bits outside `mask` spell k, low to high: the kernel's pdep. */
function deposit(k: number, free: number): number {
  let x = 0;
  let bit = 0;
  for (let b = 0; b < 32; b++) {
    if (((free >>> b) & 1) === 0) continue;
    if (Math.floor(k / 2 ** bit) % 2 === 1) x += 2 ** b;
    bit++;
  }
  return x;
}

/**
 * The j-th (from 0) x >= from with `(x & mask) == sig`, exactly: the matches in increasing order are
 * sig | deposit(0), sig | deposit(1), …, so skip the countBelow(from) that lie below `from`.
 */
export function nthMatchFrom(mask: number, sig: number, from: number, j: number): number {
  const k = countBelow(mask, sig, from) + j;
  const free = ~mask >>> 0;
  if (k >= 2 ** popcount32(free)) return -1;
  return (sig | deposit(k, free)) >>> 0;
}

/** Word-aligned false positives >= from: the first, two spread through the range, and the last. */
export function exampleFalsePositives(magicMask: number, signature: number, from: number, total: number): number[] {
  const mask = (magicMask | WORD_ALIGN_MASK) >>> 0;
  const js = [...new Set([0, Math.floor(total / 3), Math.floor((2 * total) / 3), total - 1])].filter((j) => j >= 0 && j < total);
  return js.map((j) => nthMatchFrom(mask, signature, from, j)).filter((x) => x >= 0);
}

export interface FalsePositiveRow {
  readonly rule: DmaIndexRule;
  readonly pageOffset: number;
  /** False models a PAGE_OFFSET that is not a compile-time constant (v6.18 then turns tracking off). */
  readonly pageOffsetConstant: boolean;
  readonly bits: number;
  readonly magicMask: number;
  readonly signature: number;
  /** Word-aligned values in [PAGE_OFFSET, 2^32). */
  readonly candidates: number;
  /** …of which pass page_pool_page_is_pp(). */
  readonly falsePositives: number;
  /** Word-aligned values in the whole 32-bit space that pass (below PAGE_OFFSET included). */
  readonly matchesAnywhere: number;
  readonly examples: readonly number[];
  /** Whether Helge's 0x01111040 passes this mask. */
  readonly reportedExamplePasses: boolean;
  /** A brute-force count over the first CROSS_CHECK_SPAN values >= PAGE_OFFSET agreed with the closed form. */
  readonly crossChecked: boolean;
  /** Word-aligned candidates that brute force enumerated (the cross-check span); the rest are counted only. */
  readonly enumerated: number;
}

/** Candidates brute-forced per row as a built-in cross-check of the closed form. */
export const CROSS_CHECK_SPAN = 1 << 24;

export function falsePositiveRow(
  rule: DmaIndexRule,
  pageOffset: number,
  pageOffsetConstant = true,
  crossCheckSpan = CROSS_CHECK_SPAN,
): FalsePositiveRow {
  const g = maskGeometry(ILP32, rule, u64(0, pageOffset), pageOffsetConstant);
  return falsePositiveRowFor(rule, pageOffset, pageOffsetConstant, g.PP_DMA_INDEX_BITS, g.PP_MAGIC_MASK.lo, g.PP_SIGNATURE.lo, crossCheckSpan);
}

/** The row for explicit mask values (a test can pass a wrong mask). */
export function falsePositiveRowFor(
  rule: DmaIndexRule,
  pageOffset: number,
  pageOffsetConstant: boolean,
  bits: number,
  magicMask: number,
  signature: number,
  crossCheckSpan = CROSS_CHECK_SPAN,
): FalsePositiveRow {
  const top = 0xffffffff;
  const fp = countFalsePositives(magicMask, signature, pageOffset, top);
  const crossHi = Math.min(top, pageOffset + crossCheckSpan - 1);
  const crossChecked =
    bruteFalsePositives(magicMask, signature, pageOffset, crossHi) ===
    countFalsePositives(magicMask, signature, pageOffset, crossHi);
  return {
    rule,
    pageOffset,
    pageOffsetConstant,
    bits,
    magicMask: magicMask >>> 0,
    signature: signature >>> 0,
    candidates: Math.floor((2 ** 32 - pageOffset + 3) / 4),
    falsePositives: fp,
    matchesAnywhere: countFalsePositives(magicMask, signature, 0, top),
    examples: fp > 0 ? exampleFalsePositives(magicMask, signature, pageOffset, fp) : [],
    reportedExamplePasses: ((REPORTED_EXAMPLE & magicMask) >>> 0) === signature >>> 0,
    crossChecked,
    enumerated: wordAlignedIn(pageOffset, crossHi),
  };
}

function rowLine(r: FalsePositiveRow): string {
  const po = `PAGE_OFFSET ${hex8(r.pageOffset)}${r.pageOffsetConstant ? "" : " (runtime)"}`;
  const mask = `mask ${hex8(r.magicMask)} (BITS ${r.bits}${r.bits === 0 ? ": tracking off" : ""})`;
  const ex = r.examples.length ? `, e.g. ${r.examples.map(hex8).join(", ")}` : "";
  return (
    `${po}: ${mask}: ${r.falsePositives} of ${r.candidates} word-aligned pointers >= PAGE_OFFSET pass${ex}; ` +
    `${r.matchesAnywhere} word-aligned value(s) pass in all of 0..0xffffffff`
  );
}

/**
 * The check for one rule: "no word-aligned pointer at or above PAGE_OFFSET passes the membership
 * test", for every PAGE_OFFSET. v6.16 claimed this "regardless of the VMSPLIT setting"; it fails for
 * PAGE_OFFSET 0x10000000 (parisc32), so that check is marked expectFail.
 */
export function checkFalsePositives(rule: DmaIndexRule, rows: readonly FalsePositiveRow[]): CheckResult {
  const name = `masks ilp32 ${rule} false positives >= PAGE_OFFSET`;
  const covered = rows.reduce((s, r) => s + r.candidates, 0);
  const enumerated = rows.reduce((s, r) => s + r.enumerated, 0);
  const unit =
    `word-aligned pointers >= PAGE_OFFSET (${rows.length} PAGE_OFFSETs; counted in closed form, ` +
    `the lowest ones of each enumerated by brute force as a cross-check)`;
  const notes = rows.map(rowLine);
  notes.push(
    `${hex8(REPORTED_EXAMPLE)} (the Sep 2025 report's example) ${
      ((REPORTED_EXAMPLE & 0xc000007c) >>> 0) === 0x40 ? "passes" : "does not pass"
    } 0xc000007c; it lies below every PAGE_OFFSET here (0x10000000 included), so it is outside what the v6.18 ` +
      `rule reasons about; with the ${rule} masks it passes for PAGE_OFFSET ${rows
        .filter((r) => r.reportedExamplePasses)
        .map((r) => hex8(r.pageOffset))
        .join(", ") || "no PAGE_OFFSET"}`,
  );
  const extra = { data: rows, ...(rule === "v6.16" ? { expectFail: true } : {}) };
  const unchecked = rows.find((r) => !r.crossChecked);
  if (unchecked) {
    const why = `closed-form count disagrees with brute force above ${hex8(unchecked.pageOffset)}`;
    // A broken counter is never the expected kernel bug.
    return { ...withCounted(fail("masks", name, covered, unit, why, notes), enumerated), data: rows };
  }
  const bad = rows.find((r) => r.falsePositives > 0);
  const r = bad
    ? fail(
        "masks",
        name,
        covered,
        unit,
        `${hex8(bad.examples[0] ?? 0)} >= PAGE_OFFSET ${hex8(bad.pageOffset)} passes (x & ${hex8(bad.magicMask)}) == ` +
          `${hex8(bad.signature)}: one of ${bad.falsePositives} such pointers`,
        notes,
      )
    : pass("masks", name, covered, unit, notes);
  return { ...withCounted(r, enumerated), ...extra };
}

/** The rows of one rule over the four PAGE_OFFSETs; v6.18 also with a runtime PAGE_OFFSET (tracking off). */
export function falsePositiveRows(rule: DmaIndexRule): FalsePositiveRow[] {
  const rows = ILP32_PAGE_OFFSETS.map((po) => falsePositiveRow(rule, po));
  if (rule === "v6.18") rows.push(falsePositiveRow(rule, 0xc0000000, false));
  return rows;
}

/** Both rules: [v6.16 (XFAIL), v6.18]. */
export function verifyFalsePositives(): CheckResult[] {
  return [checkFalsePositives("v6.16", falsePositiveRows("v6.16")), checkFalsePositives("v6.18", falsePositiveRows("v6.18"))];
}
