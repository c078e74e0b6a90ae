/**
 * `struct ptr_ring` (include/linux/ptr_ring.h) in the buffer: a fixed array of pointer slots where
 * NULL means empty. The producer writes at `producer` if that slot is NULL; the consumer reads at
 * `consumer_head` and invalidates slots in batches (`consumer_tail` .. `consumer_head`) so it does
 * not bounce the producer's cache line on every entry — the same layout and algorithm the kernel
 * uses for page_pool's recycle ring.
 *
 *   queue (kmalloc'd, size × 8 B):
 *   ┌──────┬──────┬──────┬──────┬──────┬──────┬──────┬──────┐
 *   │ NULL │ NULL │ pg A │ pg B │ pg C │ NULL │ NULL │ NULL │
 *   └──────┴──────┴──────┴──────┴──────┴──────┴──────┴──────┘
 *            tail ▲  head ▲             producer ▲
 *   (slots tail..head-1 are consumed but not yet zeroed: the producer still sees them as full)
 *
 * Locks are Atomics spin-lock words (spinlock_t, src/smp/spinlock.ts), so a worker thread on the
 * same SharedArrayBuffer is a real second CPU. Slots hold 64-bit `netmem_ref` values; only the low
 * word carries the pointer, and it is the word that publishes: the producer stores the high word,
 * then the low word with Atomics.store (the kernel's `smp_wmb()` + `WRITE_ONCE()`); the lockless
 * consumer peeks it with Atomics.load (`READ_ONCE()`) and zeroes it last with Atomics.store, so a
 * producer that sees NULL sees a slot whose high word is already clear.
 */
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf } from "../mem/ctype.js";
import { STRUCT_PTR_RING } from "../mem/structs.js";
import type { PhysMem } from "../mem/physmem.js";
import * as PAGE from "../mem/page.js";
import { spinLock, spinUnlock } from "../smp/spinlock.js";
const { VMEMMAP_HI } = PAGE;

export const PTR_RING_LAYOUT = layoutOf(STRUCT_PTR_RING, LP64);
export const PTR_RING_PRODUCER = offsetOf(PTR_RING_LAYOUT, "producer");
export const PTR_RING_PRODUCER_LOCK = offsetOf(PTR_RING_LAYOUT, "producer_lock");
export const PTR_RING_CONSUMER_HEAD = offsetOf(PTR_RING_LAYOUT, "consumer_head");
export const PTR_RING_CONSUMER_TAIL = offsetOf(PTR_RING_LAYOUT, "consumer_tail");
export const PTR_RING_CONSUMER_LOCK = offsetOf(PTR_RING_LAYOUT, "consumer_lock");
export const PTR_RING_SIZE = offsetOf(PTR_RING_LAYOUT, "size");
export const PTR_RING_BATCH = offsetOf(PTR_RING_LAYOUT, "batch");
export const PTR_RING_QUEUE = offsetOf(PTR_RING_LAYOUT, "queue");

/** Bytes per slot: a `void *` on lp64. */
export const PTR_RING_SLOT = 8;
/** `SMP_CACHE_BYTES` on x86-64. */
const SMP_CACHE_BYTES = 64;


/**
 * `__ptr_ring_set_size()` + `ptr_ring_init()`: the batch is two cache lines of pointers (16), or 1
 * when that would be more than half the ring.
 */
export function ptrRingInit(mem: PhysMem, r: number, size: number, queue: number): void {
  mem.wr32(r + PTR_RING_PRODUCER, 0);
  mem.wr32(r + PTR_RING_PRODUCER_LOCK, 0);
  mem.wr32(r + PTR_RING_CONSUMER_HEAD, 0);
  mem.wr32(r + PTR_RING_CONSUMER_TAIL, 0);
  mem.wr32(r + PTR_RING_CONSUMER_LOCK, 0);
  mem.wr32(r + PTR_RING_SIZE, size);
  let batch = (SMP_CACHE_BYTES * 2) / PTR_RING_SLOT;
  if (batch > size / 2 || batch === 0) batch = 1;
  mem.wr32(r + PTR_RING_BATCH, batch);
  mem.wrPtr(r + PTR_RING_QUEUE, queue);
  mem.u8.fill(0, queue, queue + size * PTR_RING_SLOT);
}

/** `__ptr_ring_produce()`: 0, or -ENOSPC (-28) when the slot at `producer` is still full. */
export function ptrRingProduceLocked(mem: PhysMem, r: number, ptr: number): number {
  const u32 = mem.u32;
  const size = u32[(r + PTR_RING_SIZE) >>> 2]!;
  const producer = u32[(r + PTR_RING_PRODUCER) >>> 2]!;
  const slot = (u32[(r + PTR_RING_QUEUE) >>> 2]! + producer * PTR_RING_SLOT) >>> 2;
  if (size === 0 || Atomics.load(u32, slot) !== 0) return -28;
  u32[slot + 1] = VMEMMAP_HI;
  Atomics.store(u32, slot, ptr);
  u32[(r + PTR_RING_PRODUCER) >>> 2] = producer + 1 >= size ? 0 : producer + 1;
  return 0;
}

/** `ptr_ring_produce()`: takes the producer lock. */
export function ptrRingProduce(mem: PhysMem, r: number, ptr: number): number {
  spinLock(mem, r + PTR_RING_PRODUCER_LOCK);
  const ret = ptrRingProduceLocked(mem, r, ptr);
  spinUnlock(mem, r + PTR_RING_PRODUCER_LOCK);
  return ret;
}

/** `__ptr_ring_empty()`: the slot at consumer_head is NULL. */
export function ptrRingEmpty(mem: PhysMem, r: number): boolean {
  const u32 = mem.u32;
  const size = u32[(r + PTR_RING_SIZE) >>> 2]!;
  if (size === 0) return true;
  const head = u32[(r + PTR_RING_CONSUMER_HEAD) >>> 2]!;
  return Atomics.load(u32, (u32[(r + PTR_RING_QUEUE) >>> 2]! + head * PTR_RING_SLOT) >>> 2) === 0;
}

/**
 * `__ptr_ring_consume()` (peek + discard_one): returns the pointer or 0. Slots are zeroed in
 * batches, in reverse order, so the producer never sees a hole before the whole batch is free.
 */
export function ptrRingConsumeLocked(mem: PhysMem, r: number): number {
  const u32 = mem.u32;
  const size = u32[(r + PTR_RING_SIZE) >>> 2]!;
  if (size === 0) return 0;
  const queue = u32[(r + PTR_RING_QUEUE) >>> 2]!;
  const head = u32[(r + PTR_RING_CONSUMER_HEAD) >>> 2]!;
  const ptr = Atomics.load(u32, (queue + head * PTR_RING_SLOT) >>> 2);
  if (ptr === 0) return 0;
  // __ptr_ring_discard_one()
  const tail = u32[(r + PTR_RING_CONSUMER_TAIL) >>> 2]!;
  let next = head + 1;
  if (next - tail >= u32[(r + PTR_RING_BATCH) >>> 2]! || next >= size) {
    for (let h = next - 1; h >= tail; h--) {
      const s = (queue + h * PTR_RING_SLOT) >>> 2;
      u32[s + 1] = 0;
      Atomics.store(u32, s, 0);
    }
    u32[(r + PTR_RING_CONSUMER_TAIL) >>> 2] = next >= size ? 0 : next;
  }
  if (next >= size) next = 0;
  u32[(r + PTR_RING_CONSUMER_HEAD) >>> 2] = next;
  return ptr;
}

/** `ptr_ring_consume()`: takes the consumer lock. */
export function ptrRingConsume(mem: PhysMem, r: number): number {
  spinLock(mem, r + PTR_RING_CONSUMER_LOCK);
  const ptr = ptrRingConsumeLocked(mem, r);
  spinUnlock(mem, r + PTR_RING_CONSUMER_LOCK);
  return ptr;
}

/** Entries currently in the ring (walks it; for reports and accounting, not the hot path). */
export function ptrRingForEach(mem: PhysMem, r: number, cb: (ptr: number) => void): void {
  const size = mem.rd32(r + PTR_RING_SIZE);
  const queue = mem.rdPtr(r + PTR_RING_QUEUE);
  if (size === 0) return;
  const head = mem.rd32(r + PTR_RING_CONSUMER_HEAD);
  const tail = mem.rd32(r + PTR_RING_CONSUMER_TAIL);
  for (let k = 0; k < size; k++) {
    const idx = (head + k) % size;
    // Slots tail..head-1 are consumed but not yet zeroed: reaching them means the end.
    if (k > 0 && idx === tail && tail !== head) break;
    const ptr = mem.rd32(queue + idx * PTR_RING_SLOT);
    if (ptr === 0) break;
    cb(ptr);
  }
}

export function ptrRingCount(mem: PhysMem, r: number): number {
  let n = 0;
  ptrRingForEach(mem, r, () => n++);
  return n;
}
