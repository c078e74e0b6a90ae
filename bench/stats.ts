/**
 * The statistics `ppemu bench` reports across processes: per (build, test) the median and range of
 * the processes' figures, and ratios to the reference build over PAIRED runs with a percentile
 * bootstrap interval.
 *
 * Why paired and across processes: on a shared 2-core machine the figure of one process moves with
 * the JIT's choices in that process and with whatever else runs at the time; a margin computed inside
 * one process (tinybench's samples) hides both. Run r of every build ran in the same round, one
 * after the other, so drift hits the pair alike; the ratio of the pair cancels most of it, and the
 * spread of the pairs' ratios is the honest uncertainty.
 */
import { mulberry32 } from "../src/prng.js";
import type { RatioCi, Spread } from "./catalog.js";

/** Bootstrap resamples per interval. */
export const BOOTSTRAP_ITERATIONS = 4000;
/** The bootstrap's seed: the same runs give the same interval on every machine. */
export const BOOTSTRAP_SEED = 0x5eed;

/** The median of values already sorted ascending (mean of the middle two for an even count); NaN for none. */
export function medianSorted(s: ArrayLike<number>): number {
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** The median (mean of the middle two for an even count); NaN for none. */
export function median(xs: ArrayLike<number>): number {
  return medianSorted(Float64Array.from(xs).sort());
}

/** Median and range. */
export function spreadOf(xs: ArrayLike<number>): Spread {
  const s = Float64Array.from(xs).sort();
  return { median: medianSorted(s), min: s.length > 0 ? s[0]! : NaN, max: s.length > 0 ? s[s.length - 1]! : NaN };
}

/** The q-quantile (0…1) of sorted values, linear between order statistics. */
export function quantileSorted(s: ArrayLike<number>, q: number): number {
  const n = s.length;
  if (n === 0) return NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/**
 * The median of `ratios` (one per pair of runs) and its 95 % percentile-bootstrap interval: resample
 * the pairs with replacement, take each resample's median, report the 2.5 % and 97.5 % quantiles.
 * With 3–5 pairs the interval is coarse (it cannot be narrower than the pairs' own spread allows), and
 * says so by being wide: that is the point.
 */
export function ratioCi(ratios: readonly number[], seed = BOOTSTRAP_SEED, iterations = BOOTSTRAP_ITERATIONS): RatioCi {
  const n = ratios.length;
  if (n === 0) return { median: NaN, ci_lo: NaN, ci_hi: NaN, approx_one: false, pairs: 0 };
  const rnd = mulberry32(seed);
  const meds = new Float64Array(iterations);
  const pick = new Float64Array(n);
  for (let i = 0; i < iterations; i++) {
    for (let j = 0; j < n; j++) pick[j] = ratios[Math.floor(rnd() * n)]!;
    meds[i] = median(pick);
  }
  meds.sort();
  const lo = quantileSorted(meds, 0.025);
  const hi = quantileSorted(meds, 0.975);
  return { median: median(ratios), ci_lo: lo, ci_hi: hi, approx_one: lo <= 1 && hi >= 1, pairs: n };
}

/** `0.98–1.03`, or `≈` when the interval contains 1.0, with the median: `1.012 (0.98–1.03)`. */
export function ratioText(r: RatioCi | null): string {
  if (r === null || !Number.isFinite(r.median)) return "—";
  if (r.approx_one) return `≈ (${r.ci_lo.toFixed(2)}–${r.ci_hi.toFixed(2)})`;
  return `${r.median.toFixed(3)} (${r.ci_lo.toFixed(2)}–${r.ci_hi.toFixed(2)})`;
}
