import { describe, it, expect } from "vitest";
import { bootMachine, type Machine } from "../../src/mem/machine.js";
import { VMEMMAP_HI } from "../../src/mem/page.js";
import {
  PTR_RING_LAYOUT,
  PTR_RING_PRODUCER,
  PTR_RING_PRODUCER_LOCK,
  PTR_RING_CONSUMER_HEAD,
  PTR_RING_CONSUMER_TAIL,
  PTR_RING_CONSUMER_LOCK,
  PTR_RING_SIZE,
  PTR_RING_BATCH,
  PTR_RING_QUEUE,
  PTR_RING_SLOT,
  ptrRingInit,
  ptrRingProduce,
  ptrRingProduceLocked,
  ptrRingConsume,
  ptrRingConsumeLocked,
  ptrRingEmpty,
  ptrRingForEach,
  ptrRingCount,
} from "../../src/pool/ptr_ring.js";

const ENOSPC = -28;

interface Ring {
  m: Machine;
  r: number;
  queue: number;
}

function ring(size: number): Ring {
  const m = bootMachine({ bytes: 4 << 20 });
  const r = m.slab.kmalloc(PTR_RING_LAYOUT.size, 1);
  const queue = m.slab.kmalloc(Math.max(8, size * PTR_RING_SLOT), 1);
  // Dirty the queue first: init must zero it.
  m.mem.u8.fill(0x5a, queue, queue + size * PTR_RING_SLOT);
  ptrRingInit(m.mem, r, size, queue);
  return { m, r, queue };
}

/** A fake non-NULL pointer for entry i (struct page pointers are multiples of 64). */
const P = (i: number) => (i + 1) * 64;

const rd = (x: Ring, off: number) => x.m.mem.rd32(x.r + off);
const slot = (x: Ring, i: number) => x.m.mem.rd32(x.queue + i * PTR_RING_SLOT);
const items = (x: Ring) => {
  const out: number[] = [];
  ptrRingForEach(x.m.mem, x.r, (p) => out.push(p));
  return out;
};

describe("struct ptr_ring layout", () => {
  it("has the kernel's cache-line-aligned groups (lp64)", () => {
    expect(PTR_RING_PRODUCER).toBe(0);
    expect(PTR_RING_PRODUCER_LOCK).toBe(4);
    expect(PTR_RING_CONSUMER_HEAD).toBe(64);
    expect(PTR_RING_CONSUMER_TAIL).toBe(68);
    expect(PTR_RING_CONSUMER_LOCK).toBe(72);
    expect(PTR_RING_SIZE).toBe(128);
    expect(PTR_RING_BATCH).toBe(132);
    expect(PTR_RING_QUEUE).toBe(136);
    expect(PTR_RING_LAYOUT.size).toBe(192);
  });
});

describe("ptr_ring_init", () => {
  it("batch is 16 pointers (two 64-byte cache lines) for 1024 entries", () => {
    const x = ring(1024);
    expect(rd(x, PTR_RING_SIZE)).toBe(1024);
    expect(rd(x, PTR_RING_BATCH)).toBe(16);
    expect(x.m.mem.rdPtr(x.r + PTR_RING_QUEUE)).toBe(x.queue);
    for (let i = 0; i < 1024; i++) expect(x.m.mem.rd64hi(x.queue + i * 8) + slot(x, i)).toBe(0);
    expect(rd(x, PTR_RING_PRODUCER)).toBe(0);
    expect(rd(x, PTR_RING_CONSUMER_HEAD)).toBe(0);
    expect(rd(x, PTR_RING_CONSUMER_TAIL)).toBe(0);
  });

  it("batch 1 when 16 would be more than half the ring (size < 32)", () => {
    expect(rd(ring(32), PTR_RING_BATCH)).toBe(16);
    expect(rd(ring(33), PTR_RING_BATCH)).toBe(16);
    expect(rd(ring(31), PTR_RING_BATCH)).toBe(1);
    expect(rd(ring(4), PTR_RING_BATCH)).toBe(1);
    expect(rd(ring(1), PTR_RING_BATCH)).toBe(1);
  });
});

describe("produce / consume", () => {
  it("FIFO order; slots hold struct page * with the vmemmap tag", () => {
    const x = ring(8);
    for (let i = 0; i < 5; i++) expect(ptrRingProduce(x.m.mem, x.r, P(i))).toBe(0);
    expect(rd(x, PTR_RING_PRODUCER)).toBe(5);
    expect(slot(x, 2)).toBe(P(2));
    expect(x.m.mem.rd64hi(x.queue + 2 * 8)).toBe(VMEMMAP_HI);
    expect(ptrRingEmpty(x.m.mem, x.r)).toBe(false);
    const got: number[] = [];
    for (let i = 0; i < 5; i++) got.push(ptrRingConsume(x.m.mem, x.r));
    expect(got).toEqual([P(0), P(1), P(2), P(3), P(4)]);
    expect(ptrRingEmpty(x.m.mem, x.r)).toBe(true);
    expect(ptrRingConsume(x.m.mem, x.r)).toBe(0);
    // The locks are released.
    expect(rd(x, PTR_RING_PRODUCER_LOCK)).toBe(0);
    expect(rd(x, PTR_RING_CONSUMER_LOCK)).toBe(0);
  });

  it("-ENOSPC when the slot at producer is still full", () => {
    const x = ring(4);
    for (let i = 0; i < 4; i++) expect(ptrRingProduceLocked(x.m.mem, x.r, P(i))).toBe(0);
    expect(rd(x, PTR_RING_PRODUCER)).toBe(0); // wrapped
    expect(ptrRingProduce(x.m.mem, x.r, P(9))).toBe(ENOSPC);
    expect(slot(x, 0)).toBe(P(0)); // untouched
    expect(ptrRingConsumeLocked(x.m.mem, x.r)).toBe(P(0));
    // batch 1: the consumed slot is zeroed at once, so the producer can reuse it.
    expect(slot(x, 0)).toBe(0);
    expect(ptrRingProduce(x.m.mem, x.r, P(4))).toBe(0);
    expect(ptrRingProduce(x.m.mem, x.r, P(5))).toBe(ENOSPC);
  });

  it("a size-0 ring is always full and always empty", () => {
    const x = ring(0);
    expect(ptrRingProduce(x.m.mem, x.r, P(0))).toBe(ENOSPC);
    expect(ptrRingEmpty(x.m.mem, x.r)).toBe(true);
    expect(ptrRingConsume(x.m.mem, x.r)).toBe(0);
    expect(ptrRingCount(x.m.mem, x.r)).toBe(0);
  });

  it("wraps around, keeping FIFO order", () => {
    const x = ring(4);
    const m = x.m.mem;
    const got: number[] = [];
    let next = 0;
    for (let round = 0; round < 10; round++) {
      while (ptrRingProduce(m, x.r, P(next)) === 0) next++;
      got.push(ptrRingConsume(m, x.r), ptrRingConsume(m, x.r), ptrRingConsume(m, x.r));
    }
    while (!ptrRingEmpty(m, x.r)) got.push(ptrRingConsume(m, x.r));
    expect(got).toEqual(Array.from({ length: next }, (_, i) => P(i)));
    expect(next).toBe(4 + 9 * 3);
  });
});

describe("batched invalidation (__ptr_ring_discard_one)", () => {
  it("consumer_tail moves in batches of 16 on a 1024 ring; slots are zeroed only then", () => {
    const x = ring(1024);
    const m = x.m.mem;
    for (let i = 0; i < 40; i++) ptrRingProduce(m, x.r, P(i));
    for (let i = 0; i < 15; i++) expect(ptrRingConsume(m, x.r)).toBe(P(i));
    expect(rd(x, PTR_RING_CONSUMER_HEAD)).toBe(15);
    expect(rd(x, PTR_RING_CONSUMER_TAIL)).toBe(0);
    for (let i = 0; i < 15; i++) expect(slot(x, i)).toBe(P(i)); // consumed, not zeroed
    expect(ptrRingConsume(m, x.r)).toBe(P(15));
    expect(rd(x, PTR_RING_CONSUMER_HEAD)).toBe(16);
    expect(rd(x, PTR_RING_CONSUMER_TAIL)).toBe(16);
    for (let i = 0; i < 16; i++) expect(slot(x, i)).toBe(0);
    expect(slot(x, 16)).toBe(P(16));
    for (let i = 16; i < 32; i++) ptrRingConsume(m, x.r);
    expect(rd(x, PTR_RING_CONSUMER_TAIL)).toBe(32);
    ptrRingConsume(m, x.r);
    expect(rd(x, PTR_RING_CONSUMER_TAIL)).toBe(32);
    expect(rd(x, PTR_RING_CONSUMER_HEAD)).toBe(33);
  });

  it("a full ring stays full for the producer until a whole batch is consumed", () => {
    const x = ring(1024);
    const m = x.m.mem;
    for (let i = 0; i < 1024; i++) expect(ptrRingProduce(m, x.r, P(i))).toBe(0);
    expect(ptrRingProduce(m, x.r, P(5000))).toBe(ENOSPC);
    for (let i = 0; i < 15; i++) {
      ptrRingConsume(m, x.r);
      expect(ptrRingProduce(m, x.r, P(5000))).toBe(ENOSPC);
    }
    ptrRingConsume(m, x.r);
    for (let i = 0; i < 16; i++) expect(ptrRingProduce(m, x.r, P(1024 + i))).toBe(0);
    expect(ptrRingProduce(m, x.r, P(5000))).toBe(ENOSPC);
  });

  it("reaching the end of the ring flushes the partial batch and resets head and tail to 0", () => {
    const x = ring(1024);
    const m = x.m.mem;
    for (let i = 0; i < 1024; i++) ptrRingProduce(m, x.r, P(i));
    for (let i = 0; i < 1020; i++) ptrRingConsume(m, x.r);
    expect(rd(x, PTR_RING_CONSUMER_TAIL)).toBe(1008);
    expect(rd(x, PTR_RING_CONSUMER_HEAD)).toBe(1020);
    for (let i = 1020; i < 1024; i++) expect(ptrRingConsume(m, x.r)).toBe(P(i));
    expect(rd(x, PTR_RING_CONSUMER_HEAD)).toBe(0);
    expect(rd(x, PTR_RING_CONSUMER_TAIL)).toBe(0);
    for (let i = 1008; i < 1024; i++) expect(slot(x, i)).toBe(0);
    expect(ptrRingEmpty(m, x.r)).toBe(true);
  });
});

describe("ptrRingForEach / ptrRingCount", () => {
  it("skip consumed-but-not-zeroed slots", () => {
    const x = ring(1024);
    const m = x.m.mem;
    for (let i = 0; i < 40; i++) ptrRingProduce(m, x.r, P(i));
    for (let i = 0; i < 10; i++) ptrRingConsume(m, x.r);
    expect(slot(x, 0)).toBe(P(0)); // still there, but consumed
    expect(ptrRingCount(m, x.r)).toBe(30);
    expect(items(x)).toEqual(Array.from({ length: 30 }, (_, i) => P(10 + i)));
  });

  it("across wraparound, stopping at consumer_tail", () => {
    const x = ring(1024);
    const m = x.m.mem;
    for (let i = 0; i < 1024; i++) ptrRingProduce(m, x.r, P(i));
    expect(ptrRingCount(m, x.r)).toBe(1024);
    for (let i = 0; i < 20; i++) ptrRingConsume(m, x.r);
    // tail 16, head 20: slots 16..19 consumed, not zeroed; slots 0..15 free again.
    expect(rd(x, PTR_RING_CONSUMER_TAIL)).toBe(16);
    expect(ptrRingCount(m, x.r)).toBe(1004);
    for (let i = 0; i < 16; i++) expect(ptrRingProduce(m, x.r, P(1024 + i))).toBe(0);
    expect(ptrRingProduce(m, x.r, P(9999))).toBe(ENOSPC);
    expect(ptrRingCount(m, x.r)).toBe(1020);
    expect(items(x)).toEqual(Array.from({ length: 1020 }, (_, i) => P(20 + i)));
  });

  it("empty ring: nothing", () => {
    const x = ring(16);
    expect(ptrRingCount(x.m.mem, x.r)).toBe(0);
    ptrRingProduce(x.m.mem, x.r, P(0));
    ptrRingConsume(x.m.mem, x.r);
    expect(ptrRingCount(x.m.mem, x.r)).toBe(0);
  });
});
