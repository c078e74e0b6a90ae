/**
 * The library's one error type for a caller's mistake: a bad argument, an unknown build, a pointer
 * that is no pool. Each carries a stable `code` (for programs) and a one-line `message` naming the
 * bad value and the valid ones (for people). The emulated kernel's own faults are not errors of
 * this kind: they are diagnostics (src/mem/diag.ts), or a `KernelFault` on a strict machine.
 *
 * A refused call changes nothing in the machine's buffer.
 */

/**
 * What went wrong:
 *  - `EINVAL_ARG`: an argument of the wrong type, or out of its range (a page size that is none of
 *    4k/16k/64k, a NaN pool size, a CPU the machine does not have, a scenario option that is no
 *    integer in range, a negative or non-finite time);
 *  - `UNKNOWN_BUILD`: a kernel build or layout name the registry does not know, or an image whose
 *    build it does not know (`BuildError`, which keeps its own name);
 *  - `NOT_A_POOL`: a pointer that is no live page_pool of this machine (never one, or freed before
 *    the machine's last 16 freed pools, which it remembers);
 *  - `POOL_FREED`: a pool that was destroyed and freed: a handle (`PagePools.handle`) whose pool is
 *    gone, or a bare pointer to one of the machine's last 16 freed pools;
 *  - `STALE_POOL`: a pool handle whose pool was freed and whose memory now holds another pool;
 *  - `TIME_LIMIT`: `advance` / `runUntil` would run more deferred retries in one call than the
 *    emulator allows (see `PagePools.runUntil`);
 *  - `CORRUPT_MACHINE`: the machine's own structures do not hold together (a pool list that does not
 *    end, a record that names no pool): a memory image edited behind its checksums;
 *  - `DEADLOCK`: the emulated kernel cannot go on: a spinlock taken twice on one CPU or never
 *    released (`BUG: spinlock recursion` / `lockup suspected`), a grace period that cannot end
 *    (`synchronize_rcu()` inside a read-side section, a reader on a CPU no thread runs);
 *  - the image codes of `ImageError` (src/mem/image.ts): a file this ppemu will not load.
 */
export type PpemuErrorCode =
  | "EINVAL_ARG"
  | "UNKNOWN_BUILD"
  | "NOT_A_POOL"
  | "POOL_FREED"
  | "STALE_POOL"
  | "TIME_LIMIT"
  | "CORRUPT_MACHINE"
  | "DEADLOCK"
  | "truncated"
  | "magic"
  | "version"
  | "header-crc"
  | "body-crc"
  | "decompress"
  | "size"
  | "build";

export class PpemuError extends Error {
  constructor(
    readonly code: PpemuErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "PpemuError";
  }
}

/** How a bad value reads in a message: strings quoted, everything else as JavaScript prints it. */
export function showValue(v: unknown): string {
  let t: string;
  if (typeof v === "string") t = JSON.stringify(v);
  else if (typeof v === "bigint") t = `${v}n`;
  else if (v === null || typeof v !== "object") t = String(v);
  else {
    try {
      t = JSON.stringify(v) ?? String(v);
    } catch {
      t = String(v);
    }
  }
  return t.length > 80 ? `${t.slice(0, 77)}...` : t;
}

/**
 * `value` must be an integer in `min … max` (a safe integer: every count and size here is one).
 * `what` names it as the caller wrote it, e.g. `bootMachine: cpus`.
 */
export function checkInt(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new PpemuError("EINVAL_ARG", `${what} must be an integer ${min} … ${max}, got ${showValue(value)}`);
  }
  return value;
}
