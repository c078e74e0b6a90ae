import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { FC_SEED, fcParams } from "../fc_seed.js";
import { bootMachine } from "../../src/mem/machine.js";
import { GFP_ZERO } from "../../src/mem/buddy.js";
import { FailSite } from "../../src/mem/physmem.js";
import {
  XArray,
  XARRAY_SIZE,
  XA_FLAGS_ALLOC,
  XA_FLAGS_ALLOC1,
  XA_LIMIT_U32_MAX,
  ENOMEM,
  EBUSY,
} from "../../src/mem/xarray.js";
import { xaCheck } from "../../src/mem/xarray_check.js";

/**
 * Model: a Map index → entry plus the set of reserved ids (XA_ZERO_ENTRY: allocated, reads NULL).
 * Indices come from clusters that hit the interesting shapes: the first leaves, the 4096 boundary
 * (shift 6 → 12), around 2^25 and the top of the u32 range (six levels).
 */
const CLUSTERS = [0, 60, 4090, 2 ** 25 - 8, 0xffff_ffff - 140];
const arbIndex = fc
  .tuple(fc.constantFrom(...CLUSTERS), fc.nat(140))
  .map(([base, d]) => Math.min(base + d, XA_LIMIT_U32_MAX));
const arbEntry = fc.integer({ min: 1, max: 0x3f_ffff }).map((k) => (k * 4) >>> 0);

type Op =
  | { op: "alloc"; entry: number; min: number; span: number }
  | { op: "erase"; index: number }
  | { op: "cmpxchg"; index: number; useCurrent: boolean; old: number; entry: number }
  | { op: "store"; index: number; entry: number }
  | { op: "load"; index: number }
  | { op: "failNextNode" };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("alloc" as const),
      entry: fc.oneof({ weight: 9, arbitrary: arbEntry }, { weight: 1, arbitrary: fc.constant(0) }),
      min: arbIndex,
      span: fc.oneof(fc.nat(80), fc.constant(XA_LIMIT_U32_MAX)),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("erase" as const), index: arbIndex }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("cmpxchg" as const),
      index: arbIndex,
      useCurrent: fc.boolean(),
      old: fc.oneof(arbEntry, fc.constant(0)),
      entry: fc.oneof(arbEntry, fc.constant(0)),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("store" as const),
      index: arbIndex,
      entry: fc.oneof({ weight: 4, arbitrary: arbEntry }, { weight: 1, arbitrary: fc.constant(0) }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("load" as const), index: arbIndex }) },
  { weight: 1, arbitrary: fc.constant({ op: "failNextNode" as const }) },
);

function runModel(flags: number, ops: Op[]): void {
  const m = bootMachine({ bytes: 4 << 20, strict: true, poison: false });
  const x = new XArray(m);
  const xa = m.slab.kmalloc(XARRAY_SIZE, GFP_ZERO);
  x.xaInit(xa, flags);
  const base = flags === XA_FLAGS_ALLOC1 ? 1 : 0;
  const entries = new Map<number, number>();
  const reserved = new Set<number>();
  const busy = (i: number) => entries.has(i) || reserved.has(i) || (base === 1 && i === 0);
  const current = (i: number) => entries.get(i) ?? 0;
  const touched = new Set<number>();

  for (const o of ops) {
    const injected = m.mem.failInjected(FailSite.KMALLOC);
    // -ENOMEM is right exactly when the armed node allocation failure fired during this call.
    const nomem = (got: number) => {
      expect(got === -ENOMEM).toBe(m.mem.failInjected(FailSite.KMALLOC) > injected);
      return got === -ENOMEM;
    };
    // Index 0 of an ALLOC1 array is XA_ZERO_ENTRY once a node exists and a plain head slot before:
    // writing it directly is outside page_pool's use (ids from 1), so the model leaves it alone.
    if (base === 1 && o.op !== "alloc" && o.op !== "load" && o.op !== "failNextNode" && o.index === 0) continue;
    switch (o.op) {
      case "alloc": {
        const max = Math.min(o.min + o.span, XA_LIMIT_U32_MAX);
        let want = -EBUSY;
        for (let i = o.min; i <= max; i++) {
          if (!busy(i)) {
            want = i;
            break;
          }
        }
        const got = x.xaAlloc(xa, o.entry, o.min, max);
        if (nomem(got)) break;
        expect(got).toBe(want);
        if (got >= 0) {
          if (o.entry === 0) reserved.add(got);
          else entries.set(got, o.entry);
          touched.add(got);
        }
        break;
      }
      case "erase":
        expect(x.xaErase(xa, o.index)).toBe(current(o.index));
        expect(m.mem.failInjected(FailSite.KMALLOC)).toBe(injected);
        entries.delete(o.index);
        reserved.delete(o.index);
        break;
      case "cmpxchg": {
        const old = o.useCurrent ? current(o.index) : o.old;
        const curr = current(o.index);
        const got = x.xaCmpxchg(xa, o.index, old, o.entry);
        if (nomem(got)) break;
        expect(got).toBe(curr);
        // A reserved slot holds XA_ZERO_ENTRY, which never equals a pointer `old`.
        if (!reserved.has(o.index) && curr === old) {
          if (o.entry === 0) entries.delete(o.index);
          else entries.set(o.index, o.entry);
        }
        touched.add(o.index);
        break;
      }
      case "store": {
        const got = x.xaStore(xa, o.index, o.entry);
        if (nomem(got)) break;
        expect(got).toBe(current(o.index));
        entries.delete(o.index);
        reserved.delete(o.index);
        if (o.entry === 0) reserved.add(o.index); // ALLOC arrays keep the id (XA_ZERO_ENTRY)
        else entries.set(o.index, o.entry);
        touched.add(o.index);
        break;
      }
      case "load":
        expect(x.xaLoad(xa, o.index)).toBe(current(o.index));
        break;
      case "failNextNode":
        m.mem.setFail(FailSite.KMALLOC, { times: 1 });
        break;
    }
    expect(xaCheck(x, xa)).toBeNull();
    expect(x.xaNodeCount(xa)).toBe(m.slab.cacheStats(x.nodeCache).inUse);
  }
  m.mem.clearFail(FailSite.KMALLOC);

  for (const i of touched) expect(x.xaLoad(xa, i)).toBe(current(i));
  const present: number[] = [];
  x.xaForEach(xa, (i, e) => {
    present.push(i);
    expect(e).toBe(entries.get(i));
  });
  expect(present).toEqual([...entries.keys()].sort((a, b) => a - b));
  expect(x.xaEmpty(xa)).toBe(entries.size === 0 && reserved.size === 0);

  for (const i of [...entries.keys(), ...reserved]) x.xaErase(xa, i);
  expect(x.xaEmpty(xa)).toBe(true);
  expect(x.xaNodeCount(xa)).toBe(0);
  expect(m.slab.cacheStats(x.nodeCache).inUse).toBe(0);
}

describe("xarray against a Map model", () => {
  test(`XA_FLAGS_ALLOC1: alloc/erase/cmpxchg/store/load with node failures (seed ${FC_SEED})`, () => {
    fc.assert(
      fc.property(fc.array(arbOp, { minLength: 1, maxLength: 150 }), (ops) => runModel(XA_FLAGS_ALLOC1, ops)),
      fcParams(150),
    );
  });

  test(`XA_FLAGS_ALLOC: the same with ids from 0 (seed ${FC_SEED})`, () => {
    fc.assert(
      fc.property(fc.array(arbOp, { minLength: 1, maxLength: 150 }), (ops) => runModel(XA_FLAGS_ALLOC, ops)),
      fcParams(100),
    );
  });

  test(`xa_alloc with a small limit: dense reuse, -EBUSY exactly when full (seed ${FC_SEED})`, () => {
    const arb = fc.array(fc.oneof(fc.constant(-1), fc.integer({ min: 1, max: 31 })), { minLength: 1, maxLength: 300 });
    fc.assert(
      fc.property(arb, (steps) => {
        const m = bootMachine({ bytes: 2 << 20, strict: true, poison: false });
        const x = new XArray(m);
        const xa = m.slab.kmalloc(XARRAY_SIZE, GFP_ZERO);
        x.xaInit(xa, XA_FLAGS_ALLOC1);
        const used = new Set<number>();
        for (const s of steps) {
          if (s === -1) {
            let want = -EBUSY;
            for (let i = 1; i <= 31; i++) if (!used.has(i)) { want = i; break; }
            expect(x.xaAlloc(xa, 0x1000, 1, 31)).toBe(want);
            if (want > 0) used.add(want);
          } else {
            expect(x.xaErase(xa, s)).toBe(used.has(s) ? 0x1000 : 0);
            used.delete(s);
          }
          expect(x.xaNodeCount(xa)).toBe(used.size === 0 ? 0 : 1);
        }
      }),
      fcParams(100),
    );
  });
});
