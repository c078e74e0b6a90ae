/**
 * Whole-tree walks: the invariants lib/xarray.c keeps for a single-index xarray (tests, `verify`,
 * debugging a memory image) and the node count. Not hot paths: they recurse and allocate freely.
 *
 *  - links: every node's `parent`, `offset` (slot in the parent), `array`, and `shift` = parent's - 6;
 *  - `count` = non-NULL slots, `nr_values` = 0 (no value entries), no node is empty;
 *  - interior slots hold NULL or a node; leaves never hold a node;
 *  - XA_FREE_MARK (ALLOC arrays): a leaf bit is set exactly when its slot is NULL, an interior bit
 *    when the slot is NULL or the child has any bit set, the array bit when the root has any;
 *    other arrays, and marks 1 and 2, have no bit set at all.
 *
 * A node that left its tree and waits for a grace period (`xa_node_free()` → call_rcu) is in no
 * tree and not yet free: it is on some CPU's RCU callback list, `rcu-pending`. So the
 * radix_tree_node cache's objects in use = the nodes of every tree + `xaRcuPendingNodes()`.
 */
import { XA_CHUNK_SHIFT, XA_CHUNK_SIZE } from "./structs.js";
import type { XArray } from "./xarray.js";
import type { PhysMem } from "./physmem.js";
import { forEachRcuCallback, RCU_CB_BASE, RcuCallback } from "../smp/rcu.js";
import {
  XA_FLAGS,
  XA_HEAD,
  XA_NODE_SHIFT,
  XA_NODE_OFFSET,
  XA_NODE_COUNT,
  XA_NODE_NR_VALUES,
  XA_NODE_PARENT,
  XA_NODE_ARRAY,
  XA_NODE_RCU_HEAD,
  XA_NODE_SLOTS,
  XA_RCU_FREE,
  XA_FLAGS_TRACK_FREE,
  XA_FLAGS_FREE,
  XA_FREE_MARK,
  XA_MARK_1,
  XA_MARK_2,
  xaIsNode,
  nodeGetMark,
  nodeAnyMark,
} from "./xarray_node.js";

/** The first violated invariant of the xarray at `xa`, or null when the tree is consistent. */
export function xaCheck(x: XArray, xa: number): string | null {
  const mem = x.mem;
  const u8 = mem.u8;
  const u32 = mem.u32;
  const flags = mem.rd32(xa + XA_FLAGS);
  const trackFree = (flags & XA_FLAGS_TRACK_FREE) !== 0;
  const head = mem.rdPtr(xa + XA_HEAD);
  if (!xaIsNode(head)) {
    if (trackFree && head !== 0 && (flags & XA_FLAGS_FREE) !== 0) return "free mark set on an occupied head";
    return null;
  }

  const visit = (node: number, parent: number, offset: number, shift: number): string | null => {
    if (mem.rdPtr(node + XA_NODE_PARENT) !== parent) return `node ${node}: parent`;
    if (parent !== 0 && u8[node + XA_NODE_OFFSET] !== offset) return `node ${node}: offset`;
    if (mem.rdPtr(node + XA_NODE_ARRAY) !== xa) return `node ${node}: array`;
    const s = u8[node + XA_NODE_SHIFT]!;
    if ((shift >= 0 && s !== shift) || s % XA_CHUNK_SHIFT !== 0 || s > 30) return `node ${node}: shift ${s}`;
    if (u8[node + XA_NODE_NR_VALUES] !== 0) return `node ${node}: nr_values`;
    let count = 0;
    for (let i = 0; i < XA_CHUNK_SIZE; i++) {
      const e = mem.rdPtr(node + XA_NODE_SLOTS + i * 8);
      if (e !== 0) count++;
      let free = e === 0;
      if (s > 0 && e !== 0) {
        if (!xaIsNode(e)) return `node ${node}: slot ${i} is not a node`;
        const err = visit(e - 2, node, i, s - XA_CHUNK_SHIFT);
        if (err) return err;
        free = nodeAnyMark(u32, e - 2, XA_FREE_MARK);
      } else if (s === 0 && xaIsNode(e)) {
        return `leaf ${node}: slot ${i} holds a node`;
      }
      const marked = nodeGetMark(u32, node, i, XA_FREE_MARK);
      if (trackFree ? marked !== free : marked) return `node ${node}: free mark of slot ${i}`;
      if (nodeGetMark(u32, node, i, XA_MARK_1) || nodeGetMark(u32, node, i, XA_MARK_2)) return `node ${node}: mark`;
    }
    if (count === 0) return `node ${node}: empty`;
    if (u8[node + XA_NODE_COUNT] !== count) return `node ${node}: count ${u8[node + XA_NODE_COUNT]} != ${count}`;
    return null;
  };

  const err = visit(head - 2, 0, 0, -1);
  if (err) return err;
  if (trackFree && ((flags & XA_FLAGS_FREE) !== 0) !== nodeAnyMark(u32, head - 2, XA_FREE_MARK)) {
    return "array free mark disagrees with the root";
  }
  return null;
}

/** Nodes reachable from `xa_head`, counted by a walk. */
export function xaCountNodes(mem: PhysMem, xa: number): number {
  const head = mem.rdPtr(xa + XA_HEAD);
  if (!xaIsNode(head)) return 0;
  let n = 0;
  const stack = [head - 2];
  while (stack.length > 0) {
    const node = stack.pop()!;
    n++;
    if (mem.u8[node + XA_NODE_SHIFT] === 0) continue;
    for (let i = 0; i < XA_CHUNK_SIZE; i++) {
      const e = mem.rdPtr(node + XA_NODE_SLOTS + i * 8);
      if (xaIsNode(e)) stack.push(e - 2);
    }
  }
  return n;
}

/**
 * Each node queued by `xa_node_free()` and not yet freed, on every CPU's RCU callback list (node
 * addresses, in list order per CPU). Read at a quiescent point: another CPU's list is read plainly.
 */
export function xaRcuPendingNodeList(mem: PhysMem): number[] {
  const out: number[] = [];
  const func = RCU_CB_BASE + RcuCallback.XA_NODE_FREE;
  for (let cpu = 0; cpu < mem.nrCpus; cpu++) {
    forEachRcuCallback(mem, cpu, (head, f) => {
      if (f === func) out.push(head - XA_NODE_RCU_HEAD);
    });
  }
  return out;
}

/** How many xarray nodes are rcu-pending (see `xaRcuPendingNodeList`). */
export function xaRcuPendingNodes(mem: PhysMem): number {
  return xaRcuPendingNodeList(mem).length;
}

/**
 * The first inconsistency of an rcu-pending node, or null: each must be marked XA_RCU_FREE, have
 * count 0 and appear once (a node queued twice would be freed twice).
 */
export function xaCheckRcuPending(mem: PhysMem): string | null {
  const seen = new Set<number>();
  for (const node of xaRcuPendingNodeList(mem)) {
    if (seen.has(node)) return `rcu-pending node ${node}: queued twice`;
    seen.add(node);
    if (mem.rdPtr(node + XA_NODE_ARRAY) !== XA_RCU_FREE) return `rcu-pending node ${node}: array is not XA_RCU_FREE`;
    if (mem.u8[node + XA_NODE_COUNT] !== 0) return `rcu-pending node ${node}: count ${mem.u8[node + XA_NODE_COUNT]}`;
  }
  return null;
}
