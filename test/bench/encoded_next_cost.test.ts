/**
 * The cost model (bench/cost_model.ts) for v7-encoded-next beside v11: the two builds share the item
 * blocks and every hot path except the recycle ring, so the difference per element of
 * page_pool02_ptr_ring is exactly the ptr_ring's cost replaced by the encoded_next list's.
 *
 * Per element of page_pool02_ptr_ring each page goes once through the ring: one produce (the put),
 * one consume (a refill of 64 pops it), and 1/64 of a refill's empty test.
 *
 *   ptr_ring (v11: ptr_ring_produce() takes the producer lock; the refill's __ptr_ring_consume() none)
 *     produce: spin_lock (cmpxchg), size, producer, queue, the slot (Atomics.load) = 4 loads;
 *              the slot's high and low word, producer = 3 stores; spin_unlock (xchg)
 *     consume: size, queue, consumer_head, the slot, consumer_tail, batch = 6 loads; consumer_head
 *              = 1 store; every 16 pops the batch of 16 slots is zeroed (2 words each) and
 *              consumer_tail written: 2 + 1/16 stores
 *     __ptr_ring_empty per refill: size, consumer_head, queue, the slot = 4/64 loads
 *     = 10 + 4/64 loads, 6 + 1/16 stores, 2 atomics, 1 lock
 *   encoded_next list (v7 6/8)
 *     produce: ring.count (Atomics.load), p.pool_size, page->pp_item, ring.list (READ_ONCE), the
 *              item's encoded_next = 5 loads; encoded_next low + high word, ring.list's high word =
 *              3 stores; try_cmpxchg + atomic_inc = 2 atomics
 *     consume: ring.list, the item's encoded_next, pp_netmem = 3 loads; ring.list's high word =
 *              1 store; try_cmpxchg + atomic_dec = 2 atomics
 *     the refill's !READ_ONCE(ring.list) = 1/64 loads
 *     = 8 + 1/64 loads, 4 stores, 4 atomics, 0 locks
 *   difference: −(2 + 3/64) loads, −(2 + 1/16) stores, +2 atomics, −1 lock.
 */
import { describe, expect, it } from "vitest";
import { costOf } from "../../bench/cost_model.js";

const fig = (k: string, t: Parameters<typeof costOf>[1]) => {
  const r = costOf(k, t);
  return { loads: r.loads, stores: r.stores, atomics: r.atomics, locks: r.locks, lines: r.cache_lines, chain: r.pp_chain };
};

describe("cost model: v7-encoded-next beside v11", () => {
  it("page_pool02_ptr_ring: the list instead of the ptr_ring, to the word", () => {
    const v7 = fig("v7-encoded-next", "page_pool02_ptr_ring");
    const v11 = fig("v11", "page_pool02_ptr_ring");
    expect(v7.loads - v11.loads).toBe(-(2 + 3 / 64));
    expect(v7.stores - v11.stores).toBe(-(2 + 1 / 16));
    expect(v7.atomics - v11.atomics).toBe(2);
    expect(v7.locks - v11.locks).toBe(-1);
    // Nothing else on the 02 path is atomic or locked: the ring's own figures.
    expect([v7.atomics, v7.locks, v11.atomics, v11.locks]).toEqual([4, 0, 2, 1]);
    // The list touches the ring's line and the items' lines instead of the ptr_ring's three pool
    // lines and its queue's: fewer lines per element.
    expect(v7.lines).toBeLessThan(v11.lines);
    expect(v7.chain).toBe(0);
  });

  it("the alloc-cache round trips do not touch the ring: the same figures as v11", () => {
    for (const t of ["page_pool01_fast_path", "page_pool01_via_page"] as const) {
      expect(fig("v7-encoded-next", t), t).toEqual(fig("v11", t));
    }
  });
});
