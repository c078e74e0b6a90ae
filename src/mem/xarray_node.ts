/**
 * `struct xarray` and `struct xa_node` as the emulator lays them out (lp64), the xa_flags and
 * internal-entry encodings of include/linux/xarray.h, and the mark-bitmap primitives lib/xarray.c
 * builds xa_alloc() on. Used by src/mem/xarray.ts (the operations) and src/mem/xarray_check.ts.
 *
 *   struct xa_node (576 B)                       marks[m] is one `unsigned long` on lp64:
 *   ╒═════╤═════╤═════╤═════╤──────╤────────╕     ╒══════════════════╤══════════════════╕
 *   │shift│off- │count│nr_  │ pad  │ parent │     │ lo word: slots   │ hi word: slots   │
 *   │ u8  │set  │ u8  │vals │      │  @8    │     │ 0..31 (bit i)    │ 32..63 (bit i-32)│
 *   ├─────┴─────┴─────┴─────┴──────┴────────┤     ╘══════════════════╧══════════════════╛
 *   │ array @16 │ private_list/rcu_head @24  │
 *   │ slots[64] @40 (8 B each)               │
 *   │ marks[3][1] @552                       │
 *   ╘════════════════════════════════════════╛
 */
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf } from "./ctype.js";
import { STRUCT_XARRAY, STRUCT_XA_NODE, XA_CHUNK_SIZE, XA_MAX_MARKS } from "./structs.js";
import { spinLock, spinUnlock } from "../smp/spinlock.js";
import type { CpuView } from "../smp/percpu.js";

export const XARRAY_LAYOUT = layoutOf(STRUCT_XARRAY, LP64);
export const XA_NODE_LAYOUT = layoutOf(STRUCT_XA_NODE, LP64);
/** sizeof(struct xarray) = 16. */
export const XARRAY_SIZE = XARRAY_LAYOUT.size;
/** sizeof(struct xa_node) = 576: 7 per 4 KiB page. */
export const XA_NODE_SIZE = XA_NODE_LAYOUT.size;

export const XA_LOCK = offsetOf(XARRAY_LAYOUT, "xa_lock");
export const XA_FLAGS = offsetOf(XARRAY_LAYOUT, "xa_flags");
export const XA_HEAD = offsetOf(XARRAY_LAYOUT, "xa_head");
export const XA_NODE_SHIFT = offsetOf(XA_NODE_LAYOUT, "shift");
export const XA_NODE_OFFSET = offsetOf(XA_NODE_LAYOUT, "offset");
export const XA_NODE_COUNT = offsetOf(XA_NODE_LAYOUT, "count");
export const XA_NODE_NR_VALUES = offsetOf(XA_NODE_LAYOUT, "nr_values");
export const XA_NODE_PARENT = offsetOf(XA_NODE_LAYOUT, "parent");
export const XA_NODE_ARRAY = offsetOf(XA_NODE_LAYOUT, "array");
export const XA_NODE_PRIVATE_LIST = offsetOf(XA_NODE_LAYOUT, "private_list");
/** `rcu_head` shares the union with `private_list` (@24): `xa_node_free()` queues the node through it. */
export const XA_NODE_RCU_HEAD = offsetOf(XA_NODE_LAYOUT, "rcu_head");
export const XA_NODE_SLOTS = offsetOf(XA_NODE_LAYOUT, "slots");
export const XA_NODE_MARKS = offsetOf(XA_NODE_LAYOUT, "marks");
/** Bytes of one mark bitmap (`unsigned long marks[mark][XA_MARK_LONGS]`). */
export const XA_MARK_BYTES = XA_NODE_LAYOUT.sz.marks! / XA_MAX_MARKS;
export const XA_CHUNK_MASK = XA_CHUNK_SIZE - 1;

// ---- xa_flags (include/linux/xarray.h); the array-level marks sit above the gfp bits ----

export const XA_FLAGS_LOCK_IRQ = 1;
export const XA_FLAGS_LOCK_BH = 2;
export const XA_FLAGS_TRACK_FREE = 4;
export const XA_FLAGS_ZERO_BUSY = 8;
export const XA_FLAGS_ALLOC_WRAPPED = 16;
export const XA_FLAGS_ACCOUNT = 32;
/**
 * `__GFP_BITS_SHIFT` = `___GFP_LAST_BIT`, config dependent since v6.9: 25 on an x86-64 build with
 * CONFIG_SLAB_OBJ_EXT (memcg) and without LOCKDEP or KASAN_HW_TAGS.
 */
export const GFP_BITS_SHIFT = 25;
export const XA_MARK_0 = 0;
export const XA_MARK_1 = 1;
export const XA_MARK_2 = 2;
/** ALLOC arrays spend mark 0 on free-slot tracking. */
export const XA_FREE_MARK = XA_MARK_0;

/** `XA_FLAGS_MARK(mark)`: "some entry in the array has this mark". */
export function xaFlagsMark(mark: number): number {
  return (1 << (GFP_BITS_SHIFT + mark)) >>> 0;
}
export const XA_FLAGS_FREE = xaFlagsMark(XA_FREE_MARK);
export const XA_FLAGS_ALL_MARKS = (xaFlagsMark(0) | xaFlagsMark(1) | xaFlagsMark(2)) >>> 0;
/** ids from 0: every index starts free, so the array-level free mark starts set. */
export const XA_FLAGS_ALLOC = (XA_FLAGS_TRACK_FREE | XA_FLAGS_FREE) >>> 0;
/** ids from 1 (page_pool's `dma_mapped`): index 0 is busy, held by XA_ZERO_ENTRY once a node exists. */
export const XA_FLAGS_ALLOC1 = XA_FLAGS_TRACK_FREE | XA_FLAGS_ZERO_BUSY;

// ---- entries: 00 pointer, 10 internal (node | 2, sibling, retry, zero) ----

/** `xa_mk_internal(v)`. */
export function xaMkInternal(v: number): number {
  return ((v << 2) | 2) >>> 0;
}
/**
 * What a node being freed leaves in the slots an RCU reader may still look at (xas_shrink's slot 0
 * when the new head is not a node, every non-NULL non-node slot of xas_free_nodes): the reader
 * restarts its walk from the head (`xas_retry()`).
 */
export const XA_RETRY_ENTRY = xaMkInternal(256);
export const XA_ZERO_ENTRY = xaMkInternal(257);
/** `XA_RCU_FREE` (`(struct xarray *)1`): `xa_node_free()` writes it to `node->array` before call_rcu. */
export const XA_RCU_FREE = 1;
/** `xa_mk_node()`: a node pointer stored in a slot is tagged as an internal entry. */
export function xaMkNode(node: number): number {
  return (node | 2) >>> 0;
}
export function xaToNode(entry: number): number {
  return entry - 2;
}
/** `xa_is_node()`: internal and above 4096 (the small internal values are siblings, retry, zero). */
export function xaIsNode(entry: number): boolean {
  return (entry & 3) === 2 && entry > 4096;
}

export const ENOMEM = 12;
export const EBUSY = 16;
export const EINVAL = 22;
/** `XA_LIMIT(min, max)` bounds are inclusive u32s; this is U32_MAX. */
export const XA_LIMIT_U32_MAX = 0xffffffff;

/** 2^i for i in 0..42: index arithmetic above 2^32 (a shift-30 root spans 2^36) stays exact. */
export const POW2 = new Float64Array(43);
for (let i = 0; i < POW2.length; i++) POW2[i] = 2 ** i;

/** Highest index a root of this shift can hold: `(XA_CHUNK_SIZE << shift) - 1`. */
export function xaMaxIndex(shift: number): number {
  return XA_CHUNK_SIZE * POW2[shift]! - 1;
}

// ---- mark bitmaps (bit `offset` of marks[mark]) ----

function markWord(node: number, offset: number, mark: number): number {
  return (node + XA_NODE_MARKS + mark * XA_MARK_BYTES + ((offset >>> 5) << 2)) >>> 2;
}

/** `node_get_mark()`. */
export function nodeGetMark(u32: Uint32Array, node: number, offset: number, mark: number): boolean {
  return (u32[markWord(node, offset, mark)]! & (1 << (offset & 31))) !== 0;
}

/** `node_set_mark()` (`__test_and_set_bit`): true when it was set already. */
export function nodeSetMark(u32: Uint32Array, node: number, offset: number, mark: number): boolean {
  const w = markWord(node, offset, mark);
  const b = 1 << (offset & 31);
  const old = u32[w]!;
  u32[w] = (old | b) >>> 0;
  return (old & b) !== 0;
}

/** `node_clear_mark()` (`__test_and_clear_bit`): true when it was set. */
export function nodeClearMark(u32: Uint32Array, node: number, offset: number, mark: number): boolean {
  const w = markWord(node, offset, mark);
  const b = 1 << (offset & 31);
  const old = u32[w]!;
  u32[w] = (old & ~b) >>> 0;
  return (old & b) !== 0;
}

/** `node_any_mark()`. */
export function nodeAnyMark(u32: Uint32Array, node: number, mark: number): boolean {
  const w = (node + XA_NODE_MARKS + mark * XA_MARK_BYTES) >>> 2;
  return (u32[w]! | u32[w + 1]!) !== 0;
}

/** `node_mark_all()`. */
export function nodeMarkAll(u32: Uint32Array, node: number, mark: number): void {
  const w = (node + XA_NODE_MARKS + mark * XA_MARK_BYTES) >>> 2;
  u32[w] = 0xffffffff;
  u32[w + 1] = 0xffffffff;
}

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** `xas_find_chunk()`: the first slot >= offset with `mark` set, or XA_CHUNK_SIZE. */
export function nodeFindMark(u32: Uint32Array, node: number, offset: number, mark: number): number {
  const w = (node + XA_NODE_MARKS + mark * XA_MARK_BYTES) >>> 2;
  if (offset < 32) {
    const lo = u32[w]! & (-1 << offset);
    if (lo !== 0) return ctz32(lo);
    const hi = u32[w + 1]!;
    return hi !== 0 ? 32 + ctz32(hi) : XA_CHUNK_SIZE;
  }
  const hi = u32[w + 1]! & (-1 << (offset - 32));
  return hi !== 0 ? 32 + ctz32(hi) : XA_CHUNK_SIZE;
}

// ---- xa_lock: a spinlock_t word (src/smp/spinlock.ts), so a worker attached to the buffer is a CPU ----

export function xaLock(v: CpuView, xa: number): void {
  spinLock(v, xa + XA_LOCK);
}

export function xaUnlock(v: CpuView, xa: number): void {
  spinUnlock(v, xa + XA_LOCK);
}
