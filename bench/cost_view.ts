/**
 * The cost model's counting memory (bench/cost_model.ts drives it): what the emulated kernel does to
 * memory, counted per access, with nothing on the timed path.
 *
 * The mechanism reads and writes memory only through `mem.u8 / mem.u32 / mem.i32` (PhysMem's views,
 * which PagePools, the layouts, buddy, slab, DMA … cache at construction) and through `Atomics.*`
 * on them. So a counting session
 *   1. installs a view wrapper in PhysMem (`setViewWrapper`): every machine booted inside the session
 *      gets Proxies over its three typed arrays, and every class caches the Proxy;
 *   2. replaces `globalThis.Atomics` with a shim (Atomics refuses a Proxy): it unwraps a counting
 *      view, counts, and calls the real operation; any other typed array passes straight through;
 *   3. restores both in `finally`, so nothing outlives the session (a machine booted inside must not
 *      be used after it: its views are Proxies and the real Atomics would throw on them).
 *
 * What is counted (only while `rec.counting`; boot, prepare and warm-up run uncounted):
 *   loads    a numeric-index read of a view (one per element: a u32 read is one load, a 64-bit
 *            pointer two), and `Atomics.load`; `copyWithin`'s source words
 *   stores   a numeric-index write, `Atomics.store`, and `fill` / `set` / `copyWithin` as one store per
 *            4-byte word of the bytes they cover (the unit every other access is counted in)
 *   atomics  the read-modify-write operations: add, sub, and, or, xor, exchange, compareExchange
 *            (each one atomic, not also a load and a store)
 *   locks    spin lock acquisitions, spin_trylock() successes included: see `isSpinAcquire`
 *   lines    distinct 64-byte cache lines any of the above touched since `beginOp()`
 * `Atomics.wait` / `notify` (a contended lock's sleep and wake) are in `waitNotify`, in no column:
 * no single-CPU benchmark path reaches them, and a test pins that.
 *
 * Lock acquisitions are not counted with the explorer's `pointHook` (src/explore/points.ts), though
 * spin_lock() reports `Point.SPIN_LOCK` there: with a hook set, code on these very paths reads
 * memory it otherwise does not (buddy's bulk allocator notes every pre-filled slot and reads every
 * filled one back for PAGE_ALLOC, `returnPage` reads hold_cnt/release_cnt for RETURN_AFTER_RELEASE_CNT,
 * slab reads the cache's object size for SLAB_ALLOC/SLAB_FREE), so the loads would be the
 * explorer's, not the kernel's. Instead the shim recognises spin_lock()'s own CAS; the test suite
 * checks it against the hook's SPIN_LOCK count on every build and test (`countHookLocks`).
 *
 * The session also keeps a trace of the current operation's accesses (address, and the value a load
 * or an atomic returned) for the dependent-load chain (cost_model.ts `ppChain`).
 */
import { setViewWrapper, type ViewWrapper } from "../src/mem/physmem.js";
import { SPIN_OWNER_MASK } from "../src/smp/spinlock.js";
import { MAX_NR_CPUS } from "../src/smp/percpu.js";
import { setPointHook, pointHook, Point } from "../src/explore/points.js";

/** What one trace entry was. */
export const enum Access {
  LOAD = 0,
  STORE = 1,
  ATOMIC = 2,
}

type View = Uint8Array | Uint32Array | Int32Array;

/** A counting view's real typed array, its element size, and the session it counts into. */
interface ViewEntry {
  readonly target: View;
  readonly bpe: number;
  readonly signed32: boolean;
  readonly rec: CostRecorder;
}

/** Counting view → what it wraps. Weak: a session's machines are garbage once it ends. */
const views = new WeakMap<object, ViewEntry>();

const realAtomics: typeof Atomics = Atomics;
let active: CostRecorder | null = null;

/** The counters and the current operation's trace of one session (one machine). */
export class CostRecorder {
  /** Count (and trace) accesses now; off during boot, prepare and warm-up. */
  counting = false;
  /** Keep the per-operation trace too (the chain analysis); off, only the counters run. */
  tracing = false;
  loads = 0;
  stores = 0;
  atomics = 0;
  locks = 0;
  waitNotify = 0;
  /** Lock acquisitions per lock word (byte address): few words, so a Map costs nothing that matters. */
  readonly lockWords = new Map<number, number>();
  /** Distinct 64-byte lines touched since the last `beginOp()`. */
  lines = 0;
  /** Per cache line, the operation number that last touched it: a line is new when it differs. */
  private stamp = new Uint32Array(0);
  private epoch = 1;
  /** The trace of the current operation: kind, byte address, value (loads and atomics; else 0). */
  traceLen = 0;
  traceKind = new Uint8Array(1024);
  traceAddr = new Uint32Array(1024);
  traceVal = new Uint32Array(1024);

  /** Start a new operation: its distinct lines and its trace start empty. */
  beginOp(): void {
    this.epoch = (this.epoch + 1) >>> 0;
    this.lines = 0;
    this.traceLen = 0;
  }

  /** Make room for a machine of `bytes` bytes (one stamp per cache line). */
  attach(bytes: number): void {
    const n = Math.ceil(bytes / 64);
    if (this.stamp.length < n) this.stamp = new Uint32Array(n);
  }

  private line(addr: number): void {
    const l = addr >>> 6;
    if (this.stamp[l] !== this.epoch) {
      this.stamp[l] = this.epoch;
      this.lines++;
    }
  }

  private trace(kind: Access, addr: number, value: number): void {
    const n = this.traceLen;
    if (n === this.traceKind.length) {
      const grow = <T extends Uint8Array | Uint32Array>(a: T, make: (len: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.traceKind = grow(this.traceKind, (l) => new Uint8Array(l));
      this.traceAddr = grow(this.traceAddr, (l) => new Uint32Array(l));
      this.traceVal = grow(this.traceVal, (l) => new Uint32Array(l));
    }
    this.traceKind[n] = kind;
    this.traceAddr[n] = addr;
    this.traceVal[n] = value >>> 0;
    this.traceLen = n + 1;
  }

  load(addr: number, value: number): void {
    this.loads++;
    this.line(addr);
    if (this.tracing) this.trace(Access.LOAD, addr, value);
  }

  store(addr: number): void {
    this.stores++;
    this.line(addr);
    if (this.tracing) this.trace(Access.STORE, addr, 0);
  }

  atomic(addr: number, old: number): void {
    this.atomics++;
    this.line(addr);
    if (this.tracing) this.trace(Access.ATOMIC, addr, old);
  }

  /** Bytes [from, to) read or written as a block: one access per 4-byte word, each word's line. */
  range(from: number, to: number, kind: Access.LOAD | Access.STORE): void {
    for (let w = from & ~3; w < to; w += 4) {
      if (kind === Access.LOAD) this.load(w, 0);
      else this.store(w);
    }
  }
}

/** `fill` / `copyWithin`'s start and end (elements, negatives from the end), clamped as the spec does. */
function clampIndex(v: number | undefined, len: number, dflt: number): number {
  if (v === undefined) return dflt;
  const i = Math.trunc(Number(v)) || 0;
  return i < 0 ? Math.max(len + i, 0) : Math.min(i, len);
}

/** A Proxy over `target` that counts into `rec`; its methods still work (bound to the target). */
function countingView<T extends View>(target: T, rec: CostRecorder): T {
  const bpe = target.BYTES_PER_ELEMENT;
  const members = new Map<PropertyKey, unknown>();
  const method = (p: PropertyKey, fn: (...a: unknown[]) => unknown): unknown => {
    const t = target as unknown as { length: number };
    if (p === "fill") {
      return (value: number, start?: number, end?: number) => {
        const s = clampIndex(start, t.length, 0);
        const e = clampIndex(end, t.length, t.length);
        if (rec.counting && e > s) rec.range(s * bpe, e * bpe, Access.STORE);
        target.fill(value, s, e);
        return proxy;
      };
    }
    if (p === "set") {
      return (src: ArrayLike<number>, offset = 0) => {
        if (rec.counting && src.length > 0) rec.range(offset * bpe, (offset + src.length) * bpe, Access.STORE);
        target.set(src, offset);
      };
    }
    if (p === "copyWithin") {
      return (to: number, start: number, end?: number) => {
        const len = t.length;
        const d = clampIndex(to, len, 0);
        const s = clampIndex(start, len, 0);
        const e = clampIndex(end, len, len);
        const n = Math.min(e - s, len - d);
        if (rec.counting && n > 0) {
          rec.range(s * bpe, (s + n) * bpe, Access.LOAD);
          rec.range(d * bpe, (d + n) * bpe, Access.STORE);
        }
        target.copyWithin(d, s, e);
        return proxy;
      };
    }
    return fn.bind(target);
  };
  const proxy = new Proxy(target, {
    get(t, p) {
      if (typeof p === "string") {
        const c = p.charCodeAt(0);
        if (c >= 48 && c <= 57) {
          const i = +p;
          const v = t[i]!;
          if (rec.counting) rec.load(i * bpe, v);
          return v;
        }
      }
      let m = members.get(p);
      if (m !== undefined) return m;
      const v: unknown = Reflect.get(t, p, t);
      if (typeof v !== "function") return v;
      m = method(p, v as (...a: unknown[]) => unknown);
      members.set(p, m);
      return m;
    },
    set(t, p, value) {
      if (typeof p === "string") {
        const c = p.charCodeAt(0);
        if (c >= 48 && c <= 57) {
          const i = +p;
          t[i] = value;
          if (rec.counting) rec.store(i * bpe);
          return true;
        }
      }
      return Reflect.set(t, p, value, t);
    },
  });
  views.set(proxy, { target, bpe, signed32: target instanceof Int32Array, rec });
  return proxy;
}

/**
 * spin_lock() / spin_trylock() taking the lock: a compareExchange on the machine's Int32Array view
 * (spinlock.ts is the only code that CASes that view from 0) that found 0 and stored an owner
 * (`smp_processor_id() + 1`, perhaps with SPIN_WAITERS). Every other CAS in the mechanism goes
 * through the Uint32Array view (refcounts, llist, fail sites, IOMMU) or expects a non-zero value.
 * A successful trylock is an acquisition too (RCU's grace-period lock, which call_rcu() tries);
 * the explorer's SPIN_LOCK point does not report trylocks, hence `lockWords` for the cross-check.
 */
function isSpinAcquire(e: ViewEntry, expected: number, replacement: number, old: number): boolean {
  if (!e.signed32 || expected !== 0 || old !== 0) return false;
  const owner = replacement & SPIN_OWNER_MASK;
  return owner >= 1 && owner <= MAX_NR_CPUS;
}

type AnyAtomicFn = (ta: View, ...rest: number[]) => number;

/** The Atomics object installed during a session: counts on counting views, forwards the rest. */
function atomicsShim(): typeof Atomics {
  const shim: Record<PropertyKey, unknown> = {};
  for (const k of Reflect.ownKeys(realAtomics)) {
    const v = (realAtomics as unknown as Record<PropertyKey, unknown>)[k];
    if (typeof v !== "function") {
      shim[k] = v;
      continue;
    }
    const real = v as AnyAtomicFn;
    const name = String(k);
    shim[k] = (ta: View, ...rest: number[]): unknown => {
      const e = views.get(ta);
      if (e === undefined) return real.call(realAtomics, ta, ...rest);
      const r = real.call(realAtomics, e.target, ...rest);
      if (!e.rec.counting) return r;
      const addr = rest[0]! * e.bpe;
      if (name === "load") e.rec.load(addr, r);
      else if (name === "store") e.rec.store(addr);
      else if (name === "wait" || name === "waitAsync" || name === "notify") e.rec.waitNotify++;
      else if (name === "isLockFree") return r;
      else {
        e.rec.atomic(addr, r);
        if (name === "compareExchange" && isSpinAcquire(e, rest[1]!, rest[2]!, r)) {
          e.rec.locks++;
          e.rec.lockWords.set(addr, (e.rec.lockWords.get(addr) ?? 0) + 1);
        }
      }
      return r;
    };
  }
  return shim as unknown as typeof Atomics;
}

/**
 * Run `fn` with counting views and the Atomics shim in place: every PhysMem constructed inside
 * (bootBenchSystem …) counts into the recorder `fn` gets; counting starts off. Synchronous on
 * purpose: no other code of this thread runs while `globalThis.Atomics` is the shim. Not reentrant.
 */
export function withCounting<T>(fn: (rec: CostRecorder) => T): T {
  if (active !== null) throw new Error("cost model: a counting session is already running");
  const rec = new CostRecorder();
  const wrap: ViewWrapper = (v) => {
    rec.attach(v.byteLength);
    return countingView(v, rec);
  };
  const g = globalThis as { Atomics: typeof Atomics };
  active = rec;
  setViewWrapper(wrap);
  g.Atomics = atomicsShim();
  try {
    return fn(rec);
  } finally {
    g.Atomics = realAtomics;
    setViewWrapper(null);
    active = null;
  }
}

/** Whether `v` is one of the counting views (tests: a machine booted outside a session has none). */
export function isCountingView(v: object): boolean {
  return views.has(v);
}

/** The real Atomics object, as it was when this module loaded (tests check it is back). */
export const REAL_ATOMICS: typeof Atomics = realAtomics;

/**
 * Run `fn` with the explorer's hook counting `Point.SPIN_LOCK` (and nothing else), for checking the
 * shim's lock count against spin_lock()'s own report. Not used for the figures: see the header.
 */
export function countHookLocks(fn: () => void): number {
  if (pointHook !== null) throw new Error("cost model: the explorer's hook is already set");
  let n = 0;
  setPointHook((point) => {
    if (point === Point.SPIN_LOCK) n++;
  });
  try {
    fn();
  } finally {
    setPointHook(null);
  }
  return n;
}
