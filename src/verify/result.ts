/**
 * What a verifier check reports: what it covered (how many values), PASS/FAIL, and on FAIL the first
 * counterexample it met. Every check is a pure function of the geometry object it is given, so a test
 * can hand it a deliberately wrong geometry and watch it fail.
 *
 * Coverage is split in two: values `enumerated` (each one evaluated) and values `counted` (covered by
 * a closed-form count, proved without visiting them). A check that covers neither is SKIP, not PASS.
 *
 * A check may be marked `expectFail`: it states a claim the kernel once made and that is known to be
 * false (the v6.16 PP_MAGIC_MASK on a 32-bit arch with a low PAGE_OFFSET). It prints XFAIL when the
 * counterexample is found, and counts as a failure only if it unexpectedly passes.
 */

export type VerifyGroup = "items" | "masks" | "netmem";
export const VERIFY_GROUPS: readonly VerifyGroup[] = ["items", "masks", "netmem"];

export interface CheckResult {
  readonly group: VerifyGroup;
  /** Stable, unique name: `items v11 lp64 4k`, `masks ilp32 v6.16 round-trip`. */
  readonly name: string;
  /** How many values the claim covers: `enumerated + counted`. */
  readonly covered: number;
  /** Of those, how many were evaluated one by one (each value run through the kernel's expression). */
  readonly enumerated: number;
  /**
   * …and how many are covered by a closed-form count instead (proved by counting, never visited:
   * the false-positive analysis). 0 for every purely enumerating check.
   */
  readonly counted: number;
  /** What one covered value is, for the printout: `item slots (254 × 5 block bases)`. */
  readonly unit: string;
  readonly pass: boolean;
  /** The claim is a known kernel bug; a FAIL is the expected outcome. */
  readonly expectFail?: boolean;
  /** The first value that broke the claim, in kernel terms. */
  readonly counterexample?: string;
  /** Facts the check established on the way (free low bits, false-positive counts, …). */
  readonly notes: readonly string[];
  /** Wall-clock time of the check, filled in by the runner (never asserted by tests). */
  readonly elapsedMs?: number;
  /** Structured findings for `--json` (the false-positive table). */
  readonly data?: unknown;
}

export function pass(
  group: VerifyGroup,
  name: string,
  covered: number,
  unit: string,
  notes: readonly string[] = [],
): CheckResult {
  return { group, name, covered, enumerated: covered, counted: 0, unit, pass: true, notes };
}

export function fail(
  group: VerifyGroup,
  name: string,
  covered: number,
  unit: string,
  counterexample: string,
  notes: readonly string[] = [],
): CheckResult {
  return { group, name, covered, enumerated: covered, counted: 0, unit, pass: false, counterexample, notes };
}

/** A result whose covered values split as `enumerated` one by one and `covered - enumerated` counted. */
export function withCounted(r: CheckResult, enumerated: number): CheckResult {
  return { ...r, enumerated, counted: r.covered - enumerated };
}

export type CheckStatus = "PASS" | "FAIL" | "XFAIL" | "XPASS" | "SKIP";
export const CHECK_STATUSES: readonly CheckStatus[] = ["PASS", "FAIL", "XFAIL", "XPASS", "SKIP"];

/**
 * PASS, FAIL, XFAIL (expected failure reproduced), XPASS (an expected failure did not happen), or
 * SKIP: the check held over no value at all (nothing enumerated, nothing counted), which proves
 * nothing and is never shown as PASS.
 */
export function status(r: CheckResult): CheckStatus {
  if (r.pass && r.enumerated + r.counted === 0) return "SKIP";
  if (r.expectFail) return r.pass ? "XPASS" : "XFAIL";
  return r.pass ? "PASS" : "FAIL";
}

/**
 * True when the result is what the verifier expects: PASS, XFAIL for a known kernel bug, or SKIP (a
 * check with nothing to check fails nothing; it is reported apart, not counted as a PASS).
 */
export function asExpected(r: CheckResult): boolean {
  if (status(r) === "SKIP") return true;
  return r.expectFail ? !r.pass : r.pass;
}

/** A 32-bit value as 8 hex digits. */
export function hex8(v: number): string {
  return "0x" + (v >>> 0).toString(16).padStart(8, "0");
}

/** A 64-bit value from two words, as the kernel prints an lp64 pointer. */
export function hexHiLo(hi: number, lo: number, bits: 32 | 64): string {
  if (bits === 32) return hex8(lo);
  return "0x" + (hi >>> 0).toString(16).padStart(8, "0") + (lo >>> 0).toString(16).padStart(8, "0");
}

/** Trailing zero bits of a u32 (32 for 0): the free low bits of an address. */
export function ctz32(x: number): number {
  return x === 0 ? 32 : 31 - Math.clz32(x & -x);
}

/** Run a check and record its wall-clock time. */
export function timed(run: () => CheckResult): CheckResult {
  const t0 = performance.now();
  const r = run();
  return { ...r, elapsedMs: performance.now() - t0 };
}
