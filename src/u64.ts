/**
 * 64-bit values as two u32 halves.
 *
 * The emulator never uses BigInt: a kernel `unsigned long` on lp64 is a {hi, lo} pair here, exactly as
 * it sits in the buffer (little-endian: lo word at the lower address). These helpers are for deriving
 * constants and for the verifier; hot paths read and write the two words directly.
 *
 *    6                   4 4                   3 3                   1
 *    3                   8 7                   2 1                   6                             0
 *   ├─┴─┴─ ─ ─ ─ ─ ─ ─ ─┴─┴─┴─ ─ ─ ─ ─ ─ ─ ─┴─┴─┼─┴─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ┤
 *   │                     hi                    │                     lo                        │
 *   └───────────────────────────────────────────┴───────────────────────────────────────────────┘
 */
export interface U64 {
  readonly hi: number;
  readonly lo: number;
}

export function u64(hi: number, lo: number): U64 {
  return { hi: hi >>> 0, lo: lo >>> 0 };
}

export const U64_ZERO: U64 = u64(0, 0);

/** A non-negative integer below 2^53 as a pair. */
export function u64FromNumber(n: number): U64 {
  if (!Number.isInteger(n) || n < 0 || n > Number.MAX_SAFE_INTEGER) throw new RangeError(`not a u53: ${n}`);
  return u64(Math.floor(n / 0x1_0000_0000), n >>> 0);
}

/** The pair as a number; exact only below 2^53. */
export function u64ToNumber(v: U64): number {
  return v.hi * 0x1_0000_0000 + v.lo;
}

export function u64Or(a: U64, b: U64): U64 {
  return u64(a.hi | b.hi, a.lo | b.lo);
}

export function u64And(a: U64, b: U64): U64 {
  return u64(a.hi & b.hi, a.lo & b.lo);
}

export function u64Not(a: U64): U64 {
  return u64(~a.hi, ~a.lo);
}

export function u64Eq(a: U64, b: U64): boolean {
  return a.hi === b.hi && a.lo === b.lo;
}

export function u64IsZero(a: U64): boolean {
  return a.hi === 0 && a.lo === 0;
}

/** `x << n` for 0 <= n < 64, truncated to 64 bits. */
export function u64Shl(a: U64, n: number): U64 {
  if (n === 0) return a;
  if (n >= 64) return U64_ZERO;
  if (n >= 32) return u64(a.lo << (n - 32), 0);
  return u64((a.hi << n) | (a.lo >>> (32 - n)), a.lo << n);
}

/** `x >> n` (logical) for 0 <= n < 64. */
export function u64Shr(a: U64, n: number): U64 {
  if (n === 0) return a;
  if (n >= 64) return U64_ZERO;
  if (n >= 32) return u64(0, a.hi >>> (n - 32));
  return u64(a.hi >>> n, (a.lo >>> n) | (a.hi << (32 - n)));
}

/** `BIT(n)`. */
export function bit64(n: number): U64 {
  return u64Shl(u64(0, 1), n);
}

/** The kernel's `GENMASK(h, l)`: bits l..h set, h >= l, both in 0..63. */
export function genmask64(h: number, l: number): U64 {
  if (!(h >= l && l >= 0 && h < 64)) throw new RangeError(`GENMASK(${h}, ${l})`);
  const ALL = u64(~0, ~0);
  return u64And(u64Shl(ALL, l), u64Shr(ALL, 63 - h));
}

/** Index of the least significant set bit (the kernel's `__ffs`); -1 for 0. */
export function u64Ffs(a: U64): number {
  if (a.lo !== 0) return 31 - Math.clz32(a.lo & -a.lo);
  if (a.hi !== 0) return 32 + 31 - Math.clz32(a.hi & -a.hi);
  return -1;
}

/** Index of the most significant set bit (the kernel's `__fls`); -1 for 0. */
export function u64Fls(a: U64): number {
  if (a.hi !== 0) return 63 - Math.clz32(a.hi);
  if (a.lo !== 0) return 31 - Math.clz32(a.lo);
  return -1;
}

/** Number of set bits. */
export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Add two pairs, truncated to 64 bits. */
export function u64Add(a: U64, b: U64): U64 {
  const lo = a.lo + b.lo;
  return u64(a.hi + b.hi + (lo > 0xffffffff ? 1 : 0), lo);
}

/** `0xdead0000_000000c0` style: 16 hex digits for lp64 values, 8 when `digits` is 8. */
export function hex64(v: U64, digits: 8 | 16 = 16): string {
  const lo = v.lo.toString(16).padStart(8, "0");
  if (digits === 8) return "0x" + lo;
  return "0x" + v.hi.toString(16).padStart(8, "0") + lo;
}

export function hex32(v: number): string {
  return "0x" + (v >>> 0).toString(16).padStart(8, "0");
}

/**
 * Parse a hex string ("0x…", "…", underscores allowed) into a pair; returns null when malformed or
 * wider than 64 bits.
 */
export function parseHex64(text: string): U64 | null {
  let s = text.trim().replace(/_/g, "");
  if (s.startsWith("0x") || s.startsWith("0X")) s = s.slice(2);
  if (s.length === 0 || s.length > 16 || !/^[0-9a-fA-F]+$/.test(s)) return null;
  const lo = s.length > 8 ? s.slice(-8) : s;
  const hi = s.length > 8 ? s.slice(0, -8) : "0";
  return u64(parseInt(hi, 16), parseInt(lo, 16));
}
