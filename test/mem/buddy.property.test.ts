import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { FC_SEED, fcParams } from "../fc_seed.js";
import { bootMachine, type Machine } from "../../src/mem/machine.js";
import { accountFrames } from "../../src/mem/accounting.js";
import { GFP_ZERO } from "../../src/mem/buddy.js";
import { MAX_PAGE_ORDER } from "../../src/mem/physmem.js";
import { PAGE_TYPE } from "../../src/mem/page.js";
import { PAGE_TYPE_BUDDY } from "../../src/mem/buddy.js";

/** Free block pfns of each order, as a sorted list per order (walked from the free lists). */
function freeBlocks(m: Machine): number[][] {
  const out: number[][] = [];
  for (let o = 0; o <= MAX_PAGE_ORDER; o++) {
    const head = m.pa.freeList(o);
    const pfns: number[] = [];
    for (let e = m.mem.rdPtr(head); e !== head; e = m.mem.rdPtr(e)) pfns.push(m.mem.pageToPfn(e - 8));
    out.push(pfns.sort((a, b) => a - b));
  }
  return out;
}

type Op =
  | { kind: "alloc"; order: number }
  | { kind: "free"; pick: number; viaPut: boolean }
  | { kind: "bulk"; nr: number; holes: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("alloc" as const), order: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: MAX_PAGE_ORDER })) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("free" as const), pick: fc.nat(), viaPut: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("bulk" as const), nr: fc.integer({ min: 1, max: 64 }), holes: fc.nat(0xffff) }) },
);

describe("buddy allocator, random alloc/free sequences (8 MiB)", () => {
  it(`never hands out overlapping frames, keeps every frame accounted, and coalesces fully (seed ${FC_SEED})`, () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 150 }), (ops) => {
        const m = bootMachine({ bytes: 8 << 20, poison: false });
        const { mem, pa } = m;
        const initial = freeBlocks(m);
        const initialCounts = initial.map((l) => l.length);
        const initialFree = pa.nrFree();
        // the bulk page array lives in the buffer, in a page of its own
        const arrPage = pa.allocPages(0, GFP_ZERO);
        const arr = mem.pageAddress(arrPage);
        const owner = new Int32Array(mem.nrFrames).fill(-1);
        const live: { page: number; order: number }[] = [];
        let nextId = 0;
        const take = (page: number, order: number) => {
          const pfn = mem.pageToPfn(page);
          expect(pfn % (1 << order)).toBe(0);
          for (let p = pfn; p < pfn + (1 << order); p++) {
            expect(owner[p], `pfn ${p} handed out twice`).toBe(-1);
            owner[p] = nextId;
          }
          nextId++;
          live.push({ page, order });
        };
        const check = () => {
          const r = accountFrames(mem);
          expect(r.errors).toEqual([]);
          const sum = Object.values(r.byClass).reduce((a, b) => a + b, 0);
          expect(sum).toBe(r.total);
          const liveFrames = live.reduce((s, l) => s + (1 << l.order), 0);
          expect(r.byClass.allocated).toBe(liveFrames + 1);
          expect(r.byClass.free).toBe(pa.nrFree());
        };

        for (const op of ops) {
          if (op.kind === "alloc") {
            const page = pa.allocPages(op.order);
            if (page === 0) {
              // only when no block of that order or above is free
              for (let o = op.order; o <= MAX_PAGE_ORDER; o++) expect(pa.nrFreeByOrder(o)).toBe(0);
            } else {
              take(page, op.order);
              expect(pa.compoundOrder(page)).toBe(op.order);
            }
          } else if (op.kind === "free") {
            if (live.length === 0) continue;
            const i = op.pick % live.length;
            const { page, order } = live[i]!;
            live.splice(i, 1);
            const pfn = mem.pageToPfn(page);
            for (let p = pfn; p < pfn + (1 << order); p++) owner[p] = -1;
            if (op.viaPut) pa.putPage(page + (order > 0 ? (1 << order) - 1 : 0) * 64);
            else pa.freePages(page, order);
          } else {
            // pre-populate some slots with pages of our own: bulk must skip them
            const pre: number[] = [];
            for (let s = 0; s < op.nr; s++) {
              mem.wr64(arr + s * 8, 0, 0);
              if (s < 16 && (op.holes >> s) & 1) {
                const p = pa.allocPages(0);
                if (p !== 0) {
                  mem.wrPagePtr(arr + s * 8, p);
                  pre.push(p);
                }
              }
            }
            const n = pa.allocPagesBulk(op.nr, arr);
            expect(n).toBeLessThanOrEqual(op.nr);
            for (let s = 0; s < op.nr; s++) {
              const p = mem.rdPtr(arr + s * 8);
              if (s < n) expect(p).not.toBe(0);
              if (p !== 0) take(p, 0);
              mem.wr64(arr + s * 8, 0, 0);
            }
            expect(live.length).toBeGreaterThanOrEqual(pre.length);
          }
          check();
        }

        expect(mem.diagTotal).toBe(0);
        for (const { page, order } of live) pa.freePages(page, order);
        pa.freePages(arrPage, 0);
        expect(pa.nrFree()).toBe(initialFree);
        expect(freeBlocks(m)).toEqual(initial);
        expect(Array.from({ length: MAX_PAGE_ORDER + 1 }, (_, o) => pa.nrFreeByOrder(o))).toEqual(initialCounts);
        for (let pfn = 0; pfn < mem.nrFrames; pfn++) {
          const isHead = initial.some((l) => l.includes(pfn));
          expect(mem.rd32(mem.pfnToPage(pfn) + PAGE_TYPE) === PAGE_TYPE_BUDDY).toBe(isHead);
        }
      }),
      fcParams(120),
    );
  });
});
