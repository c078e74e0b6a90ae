/**
 * The XArray (include/linux/xarray.h, lib/xarray.c), as the v6.16 page_pool uses it for `dma_mapped`:
 * a radix tree of 64-slot `struct xa_node`s in the buffer, ids handed out by xa_alloc() from the
 * XA_FREE_MARK bitmaps, entries swapped out by xa_cmpxchg(), nodes from a `radix_tree_node` slab cache.
 *
 *   struct xarray (16 B): xa_lock @0, xa_flags @4, xa_head @8 ──► NULL | the entry at index 0 | root|2
 *   struct xa_node (576 B): see src/mem/xarray_node.ts
 *
 * Entries. A slot is a 64-bit `void *`: low word the emulator pointer, high word the region tag
 * (vmemmap for struct page pointers, else direct map); only the low word is compared. Low bits 00: a
 * pointer; 10: internal — `node | 2` (xa_mk_node) or XA_ZERO_ENTRY 0x406 (an id allocated with a
 * NULL entry, and the busy index 0 of an ALLOC1 array).
 *
 * Shape, exactly as lib/xarray.c: a node of `shift` s covers 64 << s indices; xas_expand() adds roots
 * above until the index fits, xas_create() allocates the missing levels down to the leaf, a node
 * whose `count` reaches 0 is freed bottom-up (xas_delete_node) and a root with only slot 0 in use is
 * replaced by its child (xas_shrink). With XA_FLAGS_ALLOC1 index 0 is held by XA_ZERO_ENTRY in the
 * first leaf, so ids 1..63 fit one node and id 64 already needs three (a shift-6 root and two leaves).
 *
 * Free ids. In an ALLOC array (XA_FLAGS_TRACK_FREE) mark 0 is XA_FREE_MARK: a leaf bit is set when
 * its slot is NULL, an interior bit when the slot is NULL or the child has any bit set, and the
 * array-level bit (`XA_FLAGS_MARK(0)` in xa_flags) when the root has any. xa_alloc() descends
 * along set bits (xas_find_marked), so finding the lowest free id costs one 64-bit scan per level.
 *
 * Emulator choices, documented where they differ from the C API:
 *  - Indices are u32 (0 … 2^32-1, so at most 6 levels: shifts 30, 24, …, 0); entries are non-NULL,
 *    4-aligned u32 pointers (value entries and tagged pointers are not supported → -EINVAL).
 *  - Errors are negative numbers (-ENOMEM, -EBUSY, -EINVAL) instead of xa_err() pointers; `xaAlloc`
 *    returns the id instead of writing it through `u32 *id`.
 *  - The nodes a store needs are counted first and allocated together before the tree is touched
 *    (what xas_nomem() preallocation achieves), so an allocation failure leaves the tree unchanged.
 *  - Writers take `xa_lock` (a spin lock word, Atomics). Readers (xaLoad, xaFind, xaForEach) take
 *    no lock: each lookup runs inside rcu_read_lock()/rcu_read_unlock() as xa_load() and xa_find()
 *    do, reads slots, `xa_head` and `parent` with Atomics.load (rcu_dereference) and restarts from
 *    the head on XA_RETRY_ENTRY (xas_retry). Writers publish a slot, the head or a parent link with
 *    Atomics.store after the node behind it is initialised (rcu_assign_pointer).
 *  - A node leaves the tree through `xa_node_free()`: `array` = XA_RCU_FREE, then call_rcu() on its
 *    rcu_head; the callback (radix_tree_node_rcu_free) clears slots, marks and private_list and
 *    kmem_cache_frees it. Until a grace period has passed the node keeps shift, offset, parent and
 *    its slots, so a reader inside it finishes its walk (xas_shrink and xas_free_nodes leave
 *    XA_RETRY_ENTRY where an entry moved or went away). On one CPU with no other CPU in a read
 *    section the grace period ends at once and the node is freed inside call_rcu(), as before.
 *    Kernel writers call call_rcu() before unlinking the node, safe there because xa_lock disables
 *    preemption and so holds off the grace period; here a grace period may end inside call_rcu(),
 *    so each node is unlinked (and a new root's parent cleared) before it is queued.
 */
import { offsetOf } from "./ctype.js";
import { XA_CHUNK_SHIFT, XA_CHUNK_SIZE } from "./structs.js";
import { FailSite, MACHINE_LAYOUT, type PhysMem } from "./physmem.js";
import { DIRECT_MAP_HI, VMEMMAP_HI } from "./page.js";
import { GFP_ZERO } from "./buddy.js";
import type { Machine } from "./machine.js";
import { xaCheck, xaCountNodes, xaRcuPendingNodes } from "./xarray_check.js";
import { rcuReadLock, rcuReadUnlock, callRcu, setRcuCallback, RCU_CB_BASE, RcuCallback } from "../smp/rcu.js";
import {
  XA_LOCK, XA_FLAGS, XA_HEAD, XA_NODE_SIZE, XA_NODE_SHIFT, XA_NODE_OFFSET, XA_NODE_COUNT,
  XA_NODE_NR_VALUES, XA_NODE_PARENT, XA_NODE_ARRAY, XA_NODE_PRIVATE_LIST, XA_NODE_RCU_HEAD, XA_NODE_SLOTS as SLOTS,
  XA_NODE_MARKS, XA_MARK_BYTES, XA_CHUNK_MASK, XA_FLAGS_TRACK_FREE, XA_FLAGS_ZERO_BUSY, XA_FLAGS_FREE as FLAGS_FREE,
  XA_FLAGS_ALL_MARKS, XA_FREE_MARK, XA_ZERO_ENTRY, XA_RETRY_ENTRY, XA_RCU_FREE, ENOMEM, EBUSY, EINVAL, POW2,
  xaIsNode, xaMkNode, xaMaxIndex,
  nodeGetMark, nodeSetMark, nodeClearMark, nodeAnyMark, nodeMarkAll, nodeFindMark, xaLock, xaUnlock,
} from "./xarray_node.js";

export * from "./xarray_node.js";

const MACH_XA_NODE_CACHE = offsetOf(MACHINE_LAYOUT, "xa_node_cache");
const XA_NODE_FREE_FUNC = RCU_CB_BASE + RcuCallback.XA_NODE_FREE;
const SLOTS_BYTES = XA_CHUNK_SIZE * 8;
const MARKS_BYTES = XA_MARK_BYTES * 3;

/**
 * `radix_tree_node_rcu_free()` (lib/radix-tree.c): "Must only free zeroed nodes into the slab":
 * clear the slots and the marks (tags), re-init private_list (the rcu_head overlaid it), then
 * kmem_cache_free to radix_tree_node_cachep, whose pointer the machine header keeps.
 */
function radixTreeNodeRcuFree(m: { mem: PhysMem; slab: { kmemCacheFree(cache: number, obj: number): void } }, head: number): void {
  const mem = m.mem;
  const node = head - XA_NODE_RCU_HEAD;
  mem.u8.fill(0, node + SLOTS, node + SLOTS + SLOTS_BYTES);
  mem.u8.fill(0, node + XA_NODE_MARKS, node + XA_NODE_MARKS + MARKS_BYTES);
  mem.listInit(node + XA_NODE_PRIVATE_LIST);
  m.slab.kmemCacheFree(mem.rdPtr(mem.machine + MACH_XA_NODE_CACHE), node);
}
setRcuCallback(RcuCallback.XA_NODE_FREE, radixTreeNodeRcuFree);

type Slab = Machine["slab"];

export class XArray {
  readonly mem: PhysMem;
  /** `radix_tree_node_cachep`: created once per machine, its pointer kept in the machine header. */
  readonly nodeCache: number;
  private readonly m: Machine;
  private readonly slab: Slab;
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  /** Addresses below this are in the memmap: a stored entry there is a `struct page *`. */
  private readonly memmapEnd: number;
  /** Out-parameter of `find()`: the entry at the index it returned (this thread's, never shared). */
  private found = 0;
  /** Out-parameter of a lookup that met XA_RETRY_ENTRY: the index to restart from. */
  private retryAt = 0;

  constructor(m: Machine) {
    this.mem = m.mem;
    this.m = m;
    this.slab = m.slab;
    this.u8 = m.mem.u8;
    this.u32 = m.mem.u32;
    this.memmapEnd = m.mem.memmapFrames << m.mem.pageShift;
    const root = m.mem.machine + MACH_XA_NODE_CACHE;
    let cache = m.mem.rdPtr(root);
    if (cache === 0) {
      cache = m.slab.kmemCacheCreate("radix_tree_node", XA_NODE_SIZE);
      if (cache === 0) throw new Error("xarray: cannot create the radix_tree_node cache");
      m.mem.wrPtr(root, cache);
    }
    this.nodeCache = cache;
  }

  // ---- the public API (include/linux/xarray.h) ----

  /** `xa_init_flags()`. */
  xaInit(xa: number, flags: number): void {
    this.u32[(xa + XA_LOCK) >>> 2] = 0;
    this.u32[(xa + XA_FLAGS) >>> 2] = flags >>> 0;
    this.wrEntry(xa + XA_HEAD, 0);
  }

  /** `xa_empty()`. */
  xaEmpty(xa: number): boolean {
    return Atomics.load(this.u32, (xa + XA_HEAD) >>> 2) === 0;
  }

  xaFlags(xa: number): number {
    return this.u32[(xa + XA_FLAGS) >>> 2]!;
  }

  /** The raw `xa_head` low word (NULL, an entry for index 0, or a node | 2). */
  xaHead(xa: number): number {
    return Atomics.load(this.u32, (xa + XA_HEAD) >>> 2);
  }

  /**
   * `xa_load()`: the entry at `index`, 0 when absent (a reserved/zero entry reads as 0 too). Takes
   * and releases the RCU read lock; lockless against writers on other CPUs.
   */
  xaLoad(xa: number, index: number): number {
    rcuReadLock(this.mem);
    try {
      let e: number;
      do e = this.loadRcu(xa, index);
      while (e === XA_RETRY_ENTRY);
      return e === XA_ZERO_ENTRY ? 0 : e;
    } finally {
      rcuReadUnlock(this.mem);
    }
  }

  /**
   * `xa_alloc(xa, &id, entry, XA_LIMIT(min, max), gfp)`: store `entry` at the lowest free index in
   * [min, max] and return that index; -ENOMEM when a node cannot be allocated (or the XA_ALLOC
   * failure-injection site fires), -EBUSY when [min, max] is full, -EINVAL for a bad argument.
   * `entry` 0 reserves the id (XA_ZERO_ENTRY), as in the kernel.
   */
  xaAlloc(xa: number, entry: number, min: number, max: number): number {
    if (this.mem.shouldFail(FailSite.XA_ALLOC)) return -ENOMEM;
    if ((entry & 3) !== 0 || entry >>> 0 !== entry || min >>> 0 !== min || max >>> 0 !== max) return -EINVAL;
    if ((this.u32[(xa + XA_FLAGS) >>> 2]! & XA_FLAGS_TRACK_FREE) === 0) return -EINVAL;
    const e = entry === 0 ? XA_ZERO_ENTRY : entry;
    xaLock(this.mem, xa);
    try {
      const id = this.findFree(xa, min, max);
      if (id < 0) return -EBUSY;
      const node = this.xasCreate(xa, id, e !== XA_ZERO_ENTRY);
      if (node < 0) return node;
      this.storeAt(xa, node, id, e);
      this.clearFreeMark(xa, node, id & XA_CHUNK_MASK);
      return id;
    } finally {
      xaUnlock(this.mem, xa);
    }
  }

  /**
   * `xa_store()`: the previous entry (0 if none), or -ENOMEM / -EINVAL. Storing 0 erases, except in
   * an ALLOC array where, as in the kernel, it keeps the index allocated (XA_ZERO_ENTRY).
   */
  xaStore(xa: number, index: number, entry: number): number {
    if ((entry & 3) !== 0 || entry >>> 0 !== entry || index >>> 0 !== index) return -EINVAL;
    const trackFree = (this.u32[(xa + XA_FLAGS) >>> 2]! & XA_FLAGS_TRACK_FREE) !== 0;
    const e = entry === 0 && trackFree ? XA_ZERO_ENTRY : entry;
    xaLock(this.mem, xa);
    try {
      let first: number;
      if (e === 0) {
        first = this.eraseIndex(xa, index);
      } else {
        const allowRoot = e !== XA_ZERO_ENTRY;
        let node = this.walk(xa, index);
        if (node < 0 || (node === 0 && !allowRoot)) node = this.xasCreate(xa, index, allowRoot);
        if (node < 0) return node;
        first = this.storeAt(xa, node, index, e);
        if (trackFree) this.clearFreeMark(xa, node, index & XA_CHUNK_MASK);
      }
      return first === XA_ZERO_ENTRY ? 0 : first;
    } finally {
      xaUnlock(this.mem, xa);
    }
  }

  /**
   * `xa_cmpxchg()`: if the entry at `index` is `old`, replace it with `entry` (0 erases). Returns the
   * entry that was there (equal to `old` exactly when the exchange happened), or -ENOMEM / -EINVAL.
   */
  xaCmpxchg(xa: number, index: number, old: number, entry: number): number {
    if ((entry & 3) !== 0 || entry >>> 0 !== entry || (old & 3) !== 0 || index >>> 0 !== index) return -EINVAL;
    xaLock(this.mem, xa);
    try {
      let node = this.walk(xa, index);
      const curr = node < 0 ? 0 : this.u32[this.slotAddr(xa, node, index) >>> 2]!;
      if (curr === old && curr !== entry) {
        if (entry === 0) {
          this.eraseIndex(xa, index);
        } else {
          if (node < 0) node = this.xasCreate(xa, index, true);
          if (node < 0) return node;
          this.storeAt(xa, node, index, entry);
          if (curr === 0 && (this.u32[(xa + XA_FLAGS) >>> 2]! & XA_FLAGS_TRACK_FREE) !== 0) {
            this.clearFreeMark(xa, node, index & XA_CHUNK_MASK);
          }
        }
      }
      return curr === XA_ZERO_ENTRY ? 0 : curr;
    } finally {
      xaUnlock(this.mem, xa);
    }
  }

  /** `xa_erase()`: the entry that was at `index` (0 if none); frees nodes that become empty. */
  xaErase(xa: number, index: number): number {
    if (index >>> 0 !== index) return 0;
    xaLock(this.mem, xa);
    try {
      const first = this.eraseIndex(xa, index);
      return first === XA_ZERO_ENTRY ? 0 : first;
    } finally {
      xaUnlock(this.mem, xa);
    }
  }

  /**
   * The lowest index >= `start` holding an entry, or -1 (`xa_find(xa, &index, ULONG_MAX,
   * XA_PRESENT)`; reserved ids are skipped). Allocation-free: iterate with `xaFind(xa, i + 1)`
   * (`xa_find_after()`). Takes and releases the RCU read lock, as xa_find() does.
   */
  xaFind(xa: number, start: number): number {
    return this.find(xa, start);
  }

  /**
   * `xa_for_each()`: every (index, entry) in index order, each step an `xa_find()` /
   * `xa_find_after()` under the RCU read lock; `cb` runs outside it and may modify the array. An
   * entry present for the whole walk is always seen, whatever other CPUs store, erase or free
   * meanwhile; entries stored during the walk may or may not be. Not a hot path.
   */
  xaForEach(xa: number, cb: (index: number, entry: number) => void): void {
    for (let i = this.find(xa, 0); i >= 0; ) {
      cb(i, this.found);
      if (i === 0xffffffff) return;
      i = this.find(xa, i + 1);
    }
  }

  /** `xa_destroy()`: free every node; the array is empty afterwards (entries are the caller's). */
  xaDestroy(xa: number): void {
    xaLock(this.mem, xa);
    try {
      const head = this.u32[(xa + XA_HEAD) >>> 2]!;
      this.wrEntry(xa + XA_HEAD, 0);
      // xas_init_marks() at the head, then ZERO_BUSY arrays drop the free mark again.
      let flags = this.u32[(xa + XA_FLAGS) >>> 2]! & ~XA_FLAGS_ALL_MARKS;
      if ((flags & XA_FLAGS_TRACK_FREE) !== 0 && (flags & XA_FLAGS_ZERO_BUSY) === 0) flags |= FLAGS_FREE;
      this.u32[(xa + XA_FLAGS) >>> 2] = flags >>> 0;
      if (xaIsNode(head)) this.freeNodes(head - 2);
    } finally {
      xaUnlock(this.mem, xa);
    }
  }

  /** Nodes in the tree, counted by a walk (compare with the radix_tree_node cache's objects in use). */
  xaNodeCount(xa: number): number {
    return xaCountNodes(this.mem, xa);
  }

  /**
   * Nodes of every xarray on the machine that have left their tree and wait for a grace period on
   * some CPU's callback list: still slab objects, in no tree. The radix_tree_node cache's objects
   * in use = the nodes of all trees + these.
   */
  xaRcuPending(): number {
    return xaRcuPendingNodes(this.mem);
  }

  /** The first violated tree invariant, or null (src/mem/xarray_check.ts). */
  xaCheck(xa: number): string | null {
    return xaCheck(this, xa);
  }

  // ---- RCU readers (lib/xarray.c: xa_find, xas_find, xas_load, xas_retry) ----

  /** `xa_find()`: rcu_read_lock, `xas_find()` until it returns no retry entry, rcu_read_unlock. */
  private find(xa: number, start: number): number {
    rcuReadLock(this.mem);
    try {
      for (;;) {
        const i = this.findOnce(xa, start);
        if (i !== -2) return i;
        start = this.retryAt; // xas_retry(): xas_reset(), the walk restarts from the head
      }
    } finally {
      rcuReadUnlock(this.mem);
    }
  }

  /**
   * One `xas_find()` walk from the head: the lowest index >= `start` with an entry (its entry in
   * `found`), -1 when there is none, -2 on XA_RETRY_ENTRY (restart from `retryAt`). Slots, the
   * head and parent links are read with Atomics.load (rcu_dereference); a node reached here stays
   * valid until this CPU's rcu_read_unlock().
   */
  private findOnce(xa: number, start: number): number {
    const u8 = this.u8;
    const u32 = this.u32;
    const head = Atomics.load(u32, (xa + XA_HEAD) >>> 2);
    if (!xaIsNode(head)) {
      if (start !== 0 || head === 0 || head === XA_ZERO_ENTRY) return -1;
      this.found = head;
      return 0;
    }
    let node = head - 2;
    let shift = u8[node + XA_NODE_SHIFT]!;
    if (start > xaMaxIndex(shift)) return -1;
    let base = 0;
    let offset = Math.floor(start / POW2[shift]!);
    for (;;) {
      if (offset === XA_CHUNK_SIZE) {
        // xa_parent(): a node freed meanwhile still has its parent and offset until the grace period.
        const parent = Atomics.load(u32, (node + XA_NODE_PARENT) >>> 2);
        if (parent === 0) return -1;
        const off = u8[node + XA_NODE_OFFSET]!;
        node = parent;
        shift = u8[node + XA_NODE_SHIFT]!;
        base -= off * POW2[shift]!;
        offset = off + 1;
        continue;
      }
      const e = Atomics.load(u32, (node + SLOTS + offset * 8) >>> 2);
      if (e === 0 || e === XA_ZERO_ENTRY) {
        offset++;
        continue;
      }
      const at = base + offset * POW2[shift]!;
      if (e === XA_RETRY_ENTRY) {
        this.retryAt = at > start ? at : start;
        return -2;
      }
      if (shift === 0) {
        this.found = e;
        return at;
      }
      if (!xaIsNode(e)) {
        offset++; // a multi-index entry: not made by this emulator
        continue;
      }
      node = e - 2;
      base = at;
      shift = u8[node + XA_NODE_SHIFT]!;
      offset = at < start ? Math.floor((start - at) / POW2[shift]!) : 0;
    }
  }

  /** One `xas_load()` walk: the slot's entry for `index` (0 if no slot), or XA_RETRY_ENTRY. */
  private loadRcu(xa: number, index: number): number {
    const u32 = this.u32;
    let e = Atomics.load(u32, (xa + XA_HEAD) >>> 2);
    if (!xaIsNode(e)) return index === 0 ? e : 0;
    let node = e - 2;
    let shift = this.u8[node + XA_NODE_SHIFT]!;
    if (index >>> shift > XA_CHUNK_MASK) return 0;
    for (;;) {
      e = Atomics.load(u32, (node + SLOTS + ((index >>> shift) & XA_CHUNK_MASK) * 8) >>> 2);
      if (shift === 0 || !xaIsNode(e)) return e;
      node = e - 2;
      shift = this.u8[node + XA_NODE_SHIFT]!;
    }
  }

  // ---- the tree (lib/xarray.c) ----

  /** The leaf node holding `index` (0 = the head slot), or -1 when no slot exists for it. */
  private walk(xa: number, index: number): number {
    const u32 = this.u32;
    let e = u32[(xa + XA_HEAD) >>> 2]!;
    if (!xaIsNode(e)) return index === 0 ? 0 : -1;
    let node = e - 2;
    let shift = this.u8[node + XA_NODE_SHIFT]!;
    if (index >>> shift > XA_CHUNK_MASK) return -1;
    for (;;) {
      if (shift === 0) return node;
      e = u32[(node + SLOTS + ((index >>> shift) & XA_CHUNK_MASK) * 8) >>> 2]!;
      if (!xaIsNode(e)) return -1;
      node = e - 2;
      shift = this.u8[node + XA_NODE_SHIFT]!;
    }
  }

  private slotAddr(xa: number, node: number, index: number): number {
    return node === 0 ? xa + XA_HEAD : node + SLOTS + (index & XA_CHUNK_MASK) * 8;
  }

  /**
   * Write a slot or xa_head: high word the region tag, then the low word (the pointer readers
   * compare) with Atomics.store — `rcu_assign_pointer()`: a node's initialisation is visible to a
   * reader that loads the pointer.
   */
  private wrEntry(addr: number, e: number): void {
    const i = addr >>> 2;
    this.u32[i + 1] =
      e === 0 ? 0 : (e & 3) === 2 ? (e > 4096 ? DIRECT_MAP_HI : 0) : e < this.memmapEnd ? VMEMMAP_HI : DIRECT_MAP_HI;
    Atomics.store(this.u32, i, e);
  }

  /** `rcu_assign_pointer(node->parent, p)` / `node->parent = NULL` where readers climb. */
  private wrParent(node: number, p: number): void {
    const i = (node + XA_NODE_PARENT) >>> 2;
    this.u32[i + 1] = p === 0 ? 0 : DIRECT_MAP_HI;
    Atomics.store(this.u32, i, p);
  }

  /**
   * `xa_node_free()`: mark the node XA_RCU_FREE and call_rcu() it; radix_tree_node_rcu_free()
   * returns it to the cache after a grace period (at once when no other CPU is reading). The node
   * must already be out of the tree.
   */
  private nodeFree(node: number): void {
    this.mem.wr64(node + XA_NODE_ARRAY, 0, XA_RCU_FREE);
    callRcu(this.m, node + XA_NODE_RCU_HEAD, XA_NODE_FREE_FUNC);
  }

  /**
   * The lowest free index in [min, max], or -1: xas_find_marked(XA_FREE_MARK) as __xa_alloc() uses
   * it. An index past the top of the tree is free (the store will expand the tree).
   */
  private findFree(xa: number, min: number, max: number): number {
    if (min > max) return -1;
    const u32 = this.u32;
    const head = u32[(xa + XA_HEAD) >>> 2]!;
    if (!xaIsNode(head)) {
      if (min > 0) return min;
      if ((u32[(xa + XA_FLAGS) >>> 2]! & FLAGS_FREE) !== 0) return 0;
      return max >= 1 ? 1 : -1;
    }
    let node = head - 2;
    let shift = this.u8[node + XA_NODE_SHIFT]!;
    if (min > xaMaxIndex(shift)) return min;
    let index = min;
    let offset = (index >>> shift) & XA_CHUNK_MASK;
    for (;;) {
      if (offset === XA_CHUNK_SIZE) {
        // Nothing free in this node from here on: carry on in the parent, after this node.
        const parent = u32[(node + XA_NODE_PARENT) >>> 2]!;
        if (parent === 0) return index;
        offset = this.u8[node + XA_NODE_OFFSET]! + 1;
        node = parent;
        shift = this.u8[node + XA_NODE_SHIFT]!;
        continue;
      }
      const bit = nodeFindMark(this.u32, node, offset, XA_FREE_MARK);
      if (bit > offset) {
        const span = POW2[shift]!;
        index = index - (index % (span * XA_CHUNK_SIZE)) + bit * span;
        if (index > max) return -1;
        offset = bit;
        if (bit === XA_CHUNK_SIZE) continue;
      }
      const e = u32[(node + SLOTS + offset * 8) >>> 2]!;
      if (!xaIsNode(e)) return index; // a free leaf slot, or a whole subtree not yet allocated
      node = e - 2;
      shift = this.u8[node + XA_NODE_SHIFT]!;
      offset = (index >>> shift) & XA_CHUNK_MASK;
    }
  }

  /**
   * `xas_create()` with `xas_expand()`: make the slot for `index` exist and return its leaf node (0:
   * the head slot), or -ENOMEM. The nodes needed are counted and allocated first, chained through
   * their `parent` field as `xas->xa_alloc` is, so a failure leaves the tree untouched.
   */
  private xasCreate(xa: number, index: number, allowRoot: boolean): number {
    const u8 = this.u8;
    const u32 = this.u32;
    const fw = (xa + XA_FLAGS) >>> 2;
    const trackFree = (u32[fw]! & XA_FLAGS_TRACK_FREE) !== 0;
    const headAddr = xa + XA_HEAD;
    const head = u32[headAddr >>> 2]!;
    // What xas_expand() sees: an empty ZERO_BUSY array behaves as if index 0 were taken.
    const top = head === 0 && (u32[fw]! & XA_FLAGS_ZERO_BUSY) !== 0 ? XA_ZERO_ENTRY : head;

    // 1. Count: roots to add above, then missing levels on the way down.
    let shift = 0; // the shift just above the level xas_create() starts from
    let grow = 0;
    let need = 0;
    if (top === 0) {
      if (index !== 0) {
        while (index >>> shift > XA_CHUNK_MASK) shift += XA_CHUNK_SHIFT;
        shift += XA_CHUNK_SHIFT;
      }
      if (shift === 0 && !allowRoot) shift = XA_CHUNK_SHIFT;
      need = shift / XA_CHUNK_SHIFT;
    } else {
      let maxIndex = 0;
      if (xaIsNode(top)) {
        shift = u8[top - 2 + XA_NODE_SHIFT]!;
        maxIndex = xaMaxIndex(shift);
        shift += XA_CHUNK_SHIFT;
      }
      while (index > maxIndex) {
        grow++;
        maxIndex = xaMaxIndex(shift);
        shift += XA_CHUNK_SHIFT;
      }
      if (shift === 0 && !allowRoot) shift = XA_CHUNK_SHIFT;
      if (grow > 0) {
        // The new top's slot for `index` is not slot 0 (else a lower root would have sufficed),
        // so every level below it is new.
        need = grow + (shift - XA_CHUNK_SHIFT) / XA_CHUNK_SHIFT;
      } else {
        let e = head;
        for (let s = shift; s > 0; ) {
          s -= XA_CHUNK_SHIFT;
          if (e === 0) {
            need = s / XA_CHUNK_SHIFT + 1;
            break;
          }
          if (!xaIsNode(e)) break;
          e = u32[(e - 2 + SLOTS + ((index >>> s) & XA_CHUNK_MASK) * 8) >>> 2]!;
        }
      }
    }
    let spare = 0;
    for (let i = 0; i < need; i++) {
      const n = this.slab.kmemCacheAlloc(this.nodeCache, GFP_ZERO);
      if (n === 0) {
        while (spare !== 0) {
          const next = u32[(spare + XA_NODE_PARENT) >>> 2]!;
          this.slab.kmemCacheFree(this.nodeCache, spare);
          spare = next;
        }
        return -ENOMEM;
      }
      u32[(n + XA_NODE_PARENT) >>> 2] = spare;
      spare = n;
    }

    // 2. xas_expand(): new roots, each holding the old head in slot 0.
    let h = top;
    for (let g = 0, s = xaIsNode(top) ? u8[top - 2 + XA_NODE_SHIFT]! + XA_CHUNK_SHIFT : 0; g < grow; g++) {
      const n = spare;
      spare = u32[(n + XA_NODE_PARENT) >>> 2]!;
      this.initNode(n, xa, s, 0, 0);
      u8[n + XA_NODE_COUNT] = 1;
      this.wrEntry(n + SLOTS, h);
      if (trackFree) {
        nodeMarkAll(this.u32, n, XA_FREE_MARK);
        if ((u32[fw]! & FLAGS_FREE) === 0) {
          nodeClearMark(this.u32, n, 0, XA_FREE_MARK);
          u32[fw] = (u32[fw]! | FLAGS_FREE) >>> 0;
        }
      }
      if (xaIsNode(h)) {
        u8[h - 2 + XA_NODE_OFFSET] = 0;
        this.wrParent(h - 2, n);
      }
      h = xaMkNode(n);
      this.wrEntry(headAddr, h);
      s += XA_CHUNK_SHIFT;
    }

    // 3. Walk down from the head, allocating each missing level (new nodes start all-free).
    let node = 0;
    let offset = 0;
    let slot = headAddr;
    let e = u32[headAddr >>> 2]!;
    while (shift > 0) {
      shift -= XA_CHUNK_SHIFT;
      if (e === 0) {
        const n = spare;
        spare = u32[(n + XA_NODE_PARENT) >>> 2]!;
        this.initNode(n, xa, shift, offset, node);
        if (node !== 0) u8[node + XA_NODE_COUNT]++;
        if (trackFree) nodeMarkAll(this.u32, n, XA_FREE_MARK);
        this.wrEntry(slot, xaMkNode(n));
        node = n;
      } else if (xaIsNode(e)) {
        node = e - 2;
      } else {
        break;
      }
      offset = (index >>> shift) & XA_CHUNK_MASK;
      slot = node + SLOTS + offset * 8;
      e = u32[slot >>> 2]!;
    }
    if (spare !== 0) throw new Error("xarray: node preallocation out of step with xas_create");
    return node;
  }

  /** `xas_alloc()`'s initialisation (the slab object came zeroed, as radix_tree_node_ctor leaves it). */
  private initNode(n: number, xa: number, shift: number, offset: number, parent: number): void {
    this.u8[n + XA_NODE_SHIFT] = shift;
    this.u8[n + XA_NODE_OFFSET] = offset;
    this.u8[n + XA_NODE_COUNT] = 0;
    this.u8[n + XA_NODE_NR_VALUES] = 0;
    this.mem.wrPtr(n + XA_NODE_PARENT, parent);
    this.mem.wrPtr(n + XA_NODE_ARRAY, xa);
    this.mem.listInit(n + XA_NODE_PRIVATE_LIST);
  }

  /** `xas_store()` of a non-NULL entry into an existing slot; returns the previous entry. */
  private storeAt(xa: number, node: number, index: number, entry: number): number {
    const slot = this.slotAddr(xa, node, index);
    const first = this.u32[slot >>> 2]!;
    if (first === entry) return first;
    this.wrEntry(slot, entry);
    if (node !== 0 && first === 0) this.u8[node + XA_NODE_COUNT]++;
    return first;
  }

  /** `xas_store(NULL)`: clear the slot, mark the id free, free emptied nodes, shrink the tree. */
  private eraseIndex(xa: number, index: number): number {
    const node = this.walk(xa, index);
    if (node < 0) return 0;
    const slot = this.slotAddr(xa, node, index);
    const first = this.u32[slot >>> 2]!;
    if (first === 0) return 0;
    if ((this.u32[(xa + XA_FLAGS) >>> 2]! & XA_FLAGS_TRACK_FREE) !== 0) {
      this.setFreeMark(xa, node, index & XA_CHUNK_MASK);
    }
    this.wrEntry(slot, 0);
    if (node === 0) return first;
    this.u8[node + XA_NODE_COUNT]--;
    this.deleteNode(xa, node);
    return first;
  }

  /**
   * `xas_delete_node()`: free nodes whose count reached 0, bottom-up; then `xas_shrink()`. Each node
   * is unlinked (its parent's slot or xa_head set to NULL) before it goes to `xa_node_free()`.
   */
  private deleteNode(xa: number, node: number): void {
    const u8 = this.u8;
    for (;;) {
      if (u8[node + XA_NODE_COUNT] !== 0) break;
      const parent = this.u32[(node + XA_NODE_PARENT) >>> 2]!;
      const offset = u8[node + XA_NODE_OFFSET]!;
      if (parent === 0) {
        this.wrEntry(xa + XA_HEAD, 0);
        this.nodeFree(node);
        return;
      }
      this.wrEntry(parent + SLOTS + offset * 8, 0);
      this.nodeFree(node);
      u8[parent + XA_NODE_COUNT]--;
      node = parent;
    }
    if (this.u32[(node + XA_NODE_PARENT) >>> 2] === 0) this.shrink(xa, node);
  }

  /**
   * `xas_shrink()`: while the root uses only slot 0, its child (or entry) becomes the head. The old
   * root gets count 0 and, when the new head is no node, XA_RETRY_ENTRY in slot 0 (a reader there
   * restarts); the new root's parent is cleared before the old root goes to `xa_node_free()`.
   */
  private shrink(xa: number, node: number): void {
    const u8 = this.u8;
    const fw = (xa + XA_FLAGS) >>> 2;
    for (;;) {
      if (u8[node + XA_NODE_COUNT] !== 1) break;
      let e = this.u32[(node + SLOTS) >>> 2]!;
      if (e === 0) break;
      if (!xaIsNode(e) && u8[node + XA_NODE_SHIFT] !== 0) break;
      const child = xaIsNode(e) ? e - 2 : 0;
      if (e === XA_ZERO_ENTRY && (this.u32[fw]! & XA_FLAGS_ZERO_BUSY) !== 0) e = 0;
      this.wrEntry(xa + XA_HEAD, e);
      if ((this.u32[fw]! & XA_FLAGS_TRACK_FREE) !== 0 && !nodeGetMark(this.u32, node, 0, XA_FREE_MARK)) {
        this.u32[fw] = (this.u32[fw]! & ~FLAGS_FREE) >>> 0;
      }
      u8[node + XA_NODE_COUNT] = 0;
      u8[node + XA_NODE_NR_VALUES] = 0;
      if (child === 0) this.wrEntry(node + SLOTS, XA_RETRY_ENTRY);
      else this.wrParent(child, 0);
      this.nodeFree(node);
      if (child === 0) break;
      node = child;
    }
  }

  /**
   * `xas_free_nodes()`: free a subtree already unlinked from the head, children before parents,
   * without recursion. "There may be RCU walkers with references into the tree, so we must replace
   * all entries with retry markers": every non-NULL slot that is not a child node.
   */
  private freeNodes(top: number): void {
    const u8 = this.u8;
    let node = top;
    let offset = 0;
    for (;;) {
      const slot = node + SLOTS + offset * 8;
      const e = this.u32[slot >>> 2]!;
      if (u8[node + XA_NODE_SHIFT] !== 0 && xaIsNode(e)) {
        node = e - 2;
        offset = 0;
        continue;
      }
      if (e !== 0) this.wrEntry(slot, XA_RETRY_ENTRY);
      offset++;
      while (offset === XA_CHUNK_SIZE) {
        const parent = this.u32[(node + XA_NODE_PARENT) >>> 2]!;
        offset = u8[node + XA_NODE_OFFSET]! + 1;
        const done = node === top;
        u8[node + XA_NODE_COUNT] = 0;
        u8[node + XA_NODE_NR_VALUES] = 0;
        this.nodeFree(node);
        if (done) return;
        node = parent;
      }
    }
  }

  // ---- XA_FREE_MARK ----

  /** `xas_set_mark(XA_FREE_MARK)`: up the tree until a node already had it, then the array bit. */
  private setFreeMark(xa: number, node: number, offset: number): void {
    while (node !== 0) {
      if (nodeSetMark(this.u32, node, offset, XA_FREE_MARK)) return;
      offset = this.u8[node + XA_NODE_OFFSET]!;
      node = this.u32[(node + XA_NODE_PARENT) >>> 2]!;
    }
    const fw = (xa + XA_FLAGS) >>> 2;
    this.u32[fw] = (this.u32[fw]! | FLAGS_FREE) >>> 0;
  }

  /** `xas_clear_mark(XA_FREE_MARK)`: up the tree while a node has no free slot left. */
  private clearFreeMark(xa: number, node: number, offset: number): void {
    while (node !== 0) {
      if (!nodeClearMark(this.u32, node, offset, XA_FREE_MARK)) return;
      if (nodeAnyMark(this.u32, node, XA_FREE_MARK)) return;
      offset = this.u8[node + XA_NODE_OFFSET]!;
      node = this.u32[(node + XA_NODE_PARENT) >>> 2]!;
    }
    const fw = (xa + XA_FLAGS) >>> 2;
    this.u32[fw] = (this.u32[fw]! & ~FLAGS_FREE) >>> 0;
  }
}
