/**
 * `struct llist_head` (include/linux/llist.h) in the buffer: a lock-less singly linked list whose
 * producers push with cmpxchg from any CPU and whose single consumer takes everything at once with
 * xchg. Pointers point at the `llist_node` member, as in the kernel (`llist_entry()` subtracts its
 * offset). The 64-bit pointer's low word carries the address and is what the atomics act on; the
 * high word is the region tag, a function of the low word (0 for NULL), rewritten after each store.
 */
import * as PAGE from "./page.js";
const { DIRECT_MAP_HI } = PAGE;

/** `llist_add()`: push `node` onto `head`; true if the list was empty before. */
export function llistAdd(u32: Uint32Array, node: number, head: number): boolean {
  const h = head >>> 2;
  const n = node >>> 2;
  let first: number;
  do {
    first = Atomics.load(u32, h);
    u32[n] = first;
    u32[n + 1] = first === 0 ? 0 : DIRECT_MAP_HI;
  } while (Atomics.compareExchange(u32, h, first, node) !== first);
  u32[h + 1] = DIRECT_MAP_HI;
  return first === 0;
}

/** `__llist_add()`: the same without atomics, for a list only its owner touches. */
export function llistAddLocked(u32: Uint32Array, node: number, head: number): void {
  const h = head >>> 2;
  const n = node >>> 2;
  const first = u32[h]!;
  u32[n] = first;
  u32[n + 1] = first === 0 ? 0 : DIRECT_MAP_HI;
  u32[h] = node;
  u32[h + 1] = DIRECT_MAP_HI;
}

/** `llist_del_all()`: take the whole list (newest first); 0 when empty. */
export function llistDelAll(u32: Uint32Array, head: number): number {
  const h = head >>> 2;
  const first = Atomics.exchange(u32, h, 0);
  u32[h + 1] = 0;
  return first;
}

/**
 * The owner-only half of v11's `hold_items` / `release_items` pair: the first node of the private
 * list at `hold`, refilled from the shared `release` llist (`llist_del_all()`) when empty. 0 when
 * both are empty: the caller decides what that costs (a stat, a new block), then `llistTake()`.
 */
export function llistHoldFirst(u32: Uint32Array, hold: number, release: number): number {
  const first = u32[hold >>> 2]!;
  return first !== 0 ? first : llistDelAll(u32, release);
}

/** Take `first` (the chain's head, from `llistHoldFirst` or a new block's) off it: `hold` = its next. */
export function llistTake(u32: Uint32Array, hold: number, first: number): number {
  const next = u32[first >>> 2]!;
  const h = hold >>> 2;
  u32[h] = next;
  u32[h + 1] = next === 0 ? 0 : DIRECT_MAP_HI;
  return first;
}
