// The operation sequences the mem_contention CPUs run, as pure functions of a seed: a CPU runs a plan
// with real allocator calls, the test runs the same plan with stand-ins (a "dry run") and so knows
// every exact count the CPU must report. A plan never looks at the other CPU, so its sequence is the
// same however the two interleave; only an allocation failure could change it, and it is counted.

import { mulberry32 } from "../../../dist/src/prng.js";
export { mulberry32 };

/** Orders a buddy CPU allocates (order 0 most often, as page_pool and slab do). */
export const BUDDY_ORDERS = [0, 0, 0, 0, 1, 1, 2, 3];
export const BUDDY_MAX_ORDER = 3;
/** Most pages one alloc_pages_bulk() call of the plan asks for. */
export const BUDDY_MAX_BULK = 8;

/**
 * The page-allocator plan. `ops.alloc(order)` → handle | null, `ops.bulk(n)` → handles (fewer than n
 * when it ran out), `ops.free(handle)`, `ops.getPut()`: get_page/put_page rounds on the shared pages.
 * Keeps at most `window` blocks (+ one bulk) and frees every block at the end.
 */
export function runBuddyPlan({ seed, iters, window }, ops) {
  const rnd = mulberry32(seed);
  const held = [];
  const c = { allocs: [0, 0, 0, 0], bulkCalls: 0, bulkPages: 0, frees: 0, getPuts: 0, failed: 0 };
  const free = (k) => {
    const h = held[k];
    held[k] = held[held.length - 1];
    held.pop();
    ops.free(h);
    c.frees++;
  };
  for (let i = 0; i < iters; i++) {
    const r = rnd();
    if (held.length >= window || (held.length > 0 && r < 0.45)) {
      free((rnd() * held.length) | 0);
    } else if (r < 0.55) {
      const n = 1 + ((rnd() * BUDDY_MAX_BULK) | 0);
      const got = ops.bulk(n);
      c.bulkCalls++;
      c.bulkPages += got.length;
      if (got.length !== n) c.failed++;
      for (const h of got) held.push(h);
    } else {
      const order = BUDDY_ORDERS[(rnd() * BUDDY_ORDERS.length) | 0];
      const h = ops.alloc(order);
      if (h === null) c.failed++;
      else {
        c.allocs[order]++;
        held.push(h);
      }
    }
    if ((i & 7) === 0) {
      ops.getPut();
      c.getPuts++;
    }
  }
  while (held.length > 0) free(held.length - 1);
  return c;
}

/**
 * What a slab CPU allocates: kmalloc sizes (the kmalloc-8 … kmalloc-2k caches and large kmallocs of
 * order 0, 1 and 2 with 4 KiB pages), and -1 = kmem_cache_alloc() from the test's own cache. Half
 * the picks go to two hot caches (kmalloc-64 and the test's), so both CPUs are often in one cache.
 */
export const SLAB_KINDS = [64, 64, 64, 64, 50, 60, -1, -1, -1, -1, 8, 16, 24, 96, 192, 256, 500, 1024, 2000, 2048, 3000, 4096, 6000, 12000];
/** Object size of the test's own cache ("mem_test_40"). */
export const TEST_CACHE_SIZE = 40;
export const TEST_CACHE_NAME = "mem_test_40";

/**
 * The slab plan. `ops.alloc(kind, zero)` → handle | null, `ops.free(handle)`. Keeps at most `window`
 * objects; at the end frees (in plan order) down to `keep` objects and returns them, so the caller
 * can check the caches' in-use counts with objects still out. `kept` is the kinds left, in order.
 */
export function runSlabPlan({ seed, iters, window, keep }, ops) {
  const rnd = mulberry32(seed);
  const held = [];
  const allocs = new Array(SLAB_KINDS.length).fill(0);
  const c = { allocs, frees: 0, failed: 0, zeroed: 0 };
  const free = (k) => {
    const h = held[k].h;
    held[k] = held[held.length - 1];
    held.pop();
    ops.free(h);
    c.frees++;
  };
  for (let i = 0; i < iters; i++) {
    const r = rnd();
    if (held.length >= window || (held.length > 0 && r < 0.47)) {
      free((rnd() * held.length) | 0);
    } else {
      const k = (rnd() * SLAB_KINDS.length) | 0;
      const zero = (i & 3) === 0;
      const h = ops.alloc(SLAB_KINDS[k], zero);
      if (h === null) c.failed++;
      else {
        allocs[k]++;
        if (zero) c.zeroed++;
        held.push({ h, kind: SLAB_KINDS[k] });
      }
    }
  }
  while (held.length > keep) free((rnd() * held.length) | 0);
  return { counts: c, kept: held.map((e) => e.kind), handles: held.map((e) => e.h) };
}
