/**
 * Model-based test of the page_pool mechanism: random sequences of driver, stack and clock
 * operations against a small reference model that knows where every page is — the driver, the
 * stack, the alloc cache (LIFO), the ring (FIFO, exact capacity: pool_size 16 < 32 gives batch 1; v7's
 * encoded_next list: LIFO, pool_size + 1),
 * somebody else's extra reference — and predicts in-flight counts, recycling, the deferred release,
 * the warnings, and the device's live mappings. After every step the whole machine's frames must
 * account with no error (nothing lost, nothing owned twice).
 */
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { rig, accounted, context, cachePages, ringPages, FC_SEED, type Rig } from "./helpers.js";
import { NetStack } from "../../src/pool/stack.js";
import { Diag } from "../../src/mem/diag.js";
import { allLayouts, defaultBuildOf, resolveBuild, type KernelBuild } from "../../src/builds/index.js";
import { PAGE_REFCOUNT, PAGE_PP_REF_COUNT, PAGE_DMA_ADDR } from "../../src/mem/page.js";

const RING = 16;
const CACHE = 128;
/** Bound on pages outside the pool, so the 8 MiB machine never runs out. */
const MAX_OUT = 400;

type Op =
  | { k: "alloc"; n: number }
  | { k: "put"; i: number; direct: boolean }
  | { k: "putAll"; direct: boolean }
  | { k: "give"; i: number }
  | { k: "ret"; n: number }
  | { k: "extra"; i: number; direct: boolean }
  | { k: "drop" }
  | { k: "destroy" }
  | { k: "advance"; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant("alloc" as const), n: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 140 })) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant("put" as const), i: fc.nat(), direct: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("putAll" as const), direct: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant("give" as const), i: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("ret" as const), n: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("extra" as const), i: fc.nat(), direct: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ k: "drop" as const }) },
  { weight: 1, arbitrary: fc.constant({ k: "destroy" as const }) },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant("advance" as const), ms: fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 55_000, max: 70_000 })) }),
  },
);

function runModel(build: KernelBuild, ops: readonly Op[], stackCpu: number): Rig {
  const r = rig({ dma: true, poolSize: RING, napiCpu: 0 }, build);
  const { mem, pa } = r.m;
  const { pps, pool } = r;
  const stack = new NetStack(pps, 4096, { cpu: stackCpu, inSoftirq: true });

  // ---- the model
  const driver: number[] = [];
  const held: number[] = []; // the stack, oldest first
  const other: number[] = []; // released pages somebody else still references
  let cache: number[] = [];
  let ring: number[] = [];
  let hold = 0;
  let release = 0;
  let destroyed = false;
  let freed = false;
  let destroyAt = 0;
  let nextWarn = 0;
  let diags = 0;
  let warnings = 0;
  /** Pages whose DMA mapping the layout undid at destroy (item-block, xarray). */
  let unmappedAtDestroy = false;
  const known = () => new Set([...driver, ...held, ...other, ...cache, ...ring]);
  // v7 6/8's encoded_next list replaces the ptr_ring: LIFO (the newest page on top), and full only when
  // `count > pool_size`, so it holds one page more. `ring` is then the list bottom first.
  const lifo = pps.t.ring !== undefined;
  const ringCap = lifo ? RING + 1 : RING;
  // The mainline scrub only unmaps: a page out at destroy keeps its dma_addr until its own return.
  const unmapOnly = build.layoutSwitches?.scrub === "unmap-only";

  /** __page_pool_put_page() + page_pool_recycle_in_ring() for a sole-owner page. */
  const put = (page: number, allowDirect: boolean) => {
    if (allowDirect && cache.length < CACHE) cache.push(page);
    else if (ring.length < ringCap) ring.push(page);
    else release++;
  };
  const napiLocal = (cpu: number) => !destroyed && cpu === 0;

  const step = (op: Op) => {
    switch (op.k) {
      case "alloc":
        for (let j = 0; j < op.n; j++) {
          context(r, 0, true);
          if (destroyed) {
            expect(pps.allocPages(pool)).toBe(0);
            diags++;
            continue;
          }
          if (driver.length + held.length + other.length >= MAX_OUT) return;
          const before = known();
          const page = pps.allocPages(pool);
          expect(page).toBeGreaterThan(0);
          if (cache.length > 0) {
            expect(page).toBe(cache.pop());
          } else if (ring.length > 0) {
            const n = Math.min(64, ring.length);
            cache = lifo ? ring.splice(ring.length - n, n).reverse() : ring.splice(0, n);
            expect(page).toBe(cache.pop());
          } else {
            hold += 64;
            cache = cachePages(r, pool);
            expect(cache.length).toBe(63);
            for (const p of [...cache, page]) expect(before.has(p)).toBe(false);
          }
          driver.push(page);
        }
        return;
      case "put": {
        if (driver.length === 0) return;
        const page = driver.splice(op.i % driver.length, 1)[0]!;
        if (op.direct) {
          context(r, 0, true);
          pps.recycleDirect(pool, page);
        } else {
          context(r, 0, false);
          pps.putPage(pool, page, -1, false);
        }
        put(page, op.direct);
        return;
      }
      case "putAll":
        context(r, 0, op.direct);
        while (driver.length > 0) {
          const page = driver.shift()!;
          pps.putFullPage(pool, page, false);
          put(page, op.direct && napiLocal(0));
        }
        return;
      case "give": {
        if (driver.length === 0) return;
        const page = driver.splice(op.i % driver.length, 1)[0]!;
        expect(stack.hold(page)).toBe(true);
        held.push(page);
        return;
      }
      case "ret":
        // The stack frees in its own context: napi-local only on CPU 0, and only before destroy.
        for (let j = 0; j < op.n && held.length > 0; j++) {
          const page = held.shift()!;
          expect(stack.returnOldest()).toBe(page);
          put(page, napiLocal(stackCpu));
        }
        return;
      case "extra": {
        if (driver.length === 0) return;
        const page = driver.splice(op.i % driver.length, 1)[0]!;
        pa.getPage(page);
        context(r, 0, op.direct);
        pps.putPage(pool, page, -1, op.direct);
        release++; // _refcount 2: the pool lets go of it (released_refcnt)
        other.push(page);
        return;
      }
      case "drop":
        if (other.length > 0) pa.putPage(other.shift()!);
        return;
      case "destroy":
        if (destroyed) return;
        // The driver's remove path, in process context: napi_disable(), then page_pool_destroy() (no WARN).
        context(r, 0, false);
        pps.napiDisable(pps.napiOf(pool));
        pps.destroy(pool);
        destroyed = true;
        release += cache.length + ring.length;
        cache = [];
        ring = [];
        unmappedAtDestroy = build.layout.tracksInflight;
        if (hold - release === 0) freed = true;
        destroyAt = mem.nowMs;
        nextWarn = destroyAt + 60_000;
        return;
      case "advance": {
        const from = mem.nowMs;
        const to = from + op.ms;
        pps.advance(op.ms);
        if (!destroyed || freed) return;
        // page_pool_release_retry() at destroyAt + 1000 k: drain the ring, free at 0, else warn.
        for (let t = destroyAt + 1000 * Math.ceil((from + 1 - destroyAt) / 1000); t <= to; t += 1000) {
          release += ring.length;
          ring = [];
          if (hold - release === 0) {
            freed = true;
            return;
          }
          if (t >= nextWarn) {
            warnings++;
            nextWarn = t + 60_000;
          }
        }
        return;
      }
    }
  };

  const check = () => {
    const a = accounted(r, stack);
    const cls = (k: string) => a.byClass[k] ?? 0;
    expect(cls("page_pool: in flight (stack)")).toBe(held.length);
    expect(cls("page_pool: in flight (driver)")).toBe(driver.length);
    expect(cls("page_pool: cache")).toBe(cache.length);
    expect(cls("page_pool: ring")).toBe(ring.length);
    expect(pps.isLive(pool)).toBe(!freed);
    expect(mem.diagCount(Diag.PP_ALLOC_AFTER_DESTROY)).toBe(diags);
    expect(mem.diagCount(Diag.PP_STALLED_SHUTDOWN)).toBe(warnings);
    expect(mem.diagTotal).toBe(diags + warnings);
    const inflight = hold - release;
    expect(inflight).toBe(driver.length + held.length + cache.length + ring.length);
    if (freed) {
      expect(inflight).toBe(0);
    } else {
      expect(pps.inflight(pool)).toBe(inflight);
      expect(cachePages(r, pool)).toEqual(cache);
      expect(ringPages(r, pool)).toEqual(lifo ? [...ring].reverse() : ring);
    }
    // Every page the pool owns is mapped until destroy (or for ever, in the classic layout).
    expect(r.dma.deviceStats(r.dev).live).toBe(unmappedAtDestroy ? 0 : inflight);
    for (const p of [...driver, ...held]) {
      expect(pps.t.isPpPage(p)).toBe(true);
      expect(pps.t.poolOf(p)).toBe(pool);
      expect(mem.rd32(p + PAGE_REFCOUNT)).toBe(1);
      // The pool fields are the page's netmem_desc's (the page itself, memdesc-item's item): same offsets.
      expect(mem.rd64(pps.nmdesc(p) + PAGE_PP_REF_COUNT)).toBe(1);
      expect(mem.rd64(pps.nmdesc(p) + PAGE_DMA_ADDR) !== 0).toBe(!unmappedAtDestroy || unmapOnly);
    }
    for (const p of other) {
      expect(pps.t.isPpPage(p)).toBe(false);
      expect(mem.rd32(p + PAGE_REFCOUNT)).toBe(1);
    }
  };

  for (const op of ops) {
    step(op);
    check();
  }
  return r;
}

describe("page_pool against a reference model", () => {
  // Each layout's default build (v6.15, v11, v6.16): the model is the same for all of them.
  for (const build of allLayouts().map(defaultBuildOf)) {
    it(`${build.layout.name} (${build.name}): random driver / stack / destroy / clock sequences (seed ${FC_SEED})`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), fc.constantFrom(0, 1), (ops, stackCpu) => {
          runModel(build, ops, stackCpu);
        }),
        { seed: FC_SEED, numRuns: 50 },
      );
    });
  }

  it("a hand-written sequence through every path, with the exact figures", () => {
    const r = runModel(
      resolveBuild("classic"), // v6.15
      [
        { k: "alloc", n: 130 }, // 3 slow paths: hold 192, 62 left in the cache
        { k: "give", i: 0 },
        { k: "give", i: 5 },
        { k: "extra", i: 3, direct: true }, // released_refcnt
        { k: "put", i: 0, direct: true }, // cache 63
        { k: "putAll", direct: true }, // 126 pages: 65 cached, 61 cache_full → 16 ring, 45 ring_full
        { k: "ret", n: 1 }, // from CPU 1, not napi-local: ring full → ring_full
        { k: "alloc", n: 70 }, // 70 fast from the cache
        { k: "putAll", direct: false }, // process context, ring still full: 70 released
        { k: "destroy" },
        { k: "alloc", n: 1 },
        { k: "advance", ms: 65_000 },
        { k: "ret", n: 5 },
        { k: "drop" },
        { k: "advance", ms: 1000 },
      ],
      1,
    );
    expect(r.pps.isLive(r.pool)).toBe(false);
    expect(r.m.mem.diagCount(Diag.PP_STALLED_SHUTDOWN)).toBe(1);
    expect(r.m.mem.diagCount(Diag.PP_ALLOC_AFTER_DESTROY)).toBe(1);
    expect(r.dma.deviceStats(r.dev)).toMatchObject({ maps: 192, unmaps: 192, live: 0 });
  });
});
