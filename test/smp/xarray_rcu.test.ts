/**
 * The xarray as an RCU structure: nodes a writer frees wait on its CPU's callback list until every
 * reader that could be inside them has left its read-side section (lib/xarray.c xa_node_free →
 * call_rcu → radix_tree_node_rcu_free), and lockless xa_for_each walks on another CPU see every
 * entry that stays in the tree while they walk.
 */
import { describe, expect, it } from "vitest";
import { Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import { bootPpSystem, ppClaimers, type PpSystem } from "../../src/pool/index.js";
import { PP_FLAG_DMA_MAP, PP_FLAG_DMA_SYNC_DEV } from "../../src/pool/page_pool.js";
import { DMA_FROM_DEVICE } from "../../src/dma/index.js";
import { GFP_ZERO } from "../../src/mem/buddy.js";
import { accountFrames, assertAccounted } from "../../src/mem/accounting.js";
import {
  XArray,
  XARRAY_SIZE,
  XA_NODE_SHIFT,
  XA_NODE_OFFSET,
  XA_NODE_COUNT,
  XA_NODE_PARENT,
  XA_NODE_ARRAY,
  XA_NODE_PRIVATE_LIST,
  XA_NODE_SLOTS,
  XA_NODE_MARKS,
  XA_FLAGS_ALLOC1,
  XA_RETRY_ENTRY,
  XA_RCU_FREE,
  XA_ZERO_ENTRY,
  XA_LIMIT_U32_MAX,
} from "../../src/mem/xarray.js";
import { xaCheck, xaCheckRcuPending, xaRcuPendingNodeList, xaRcuPendingNodes } from "../../src/mem/xarray_check.js";
import { rcuReadLock, rcuReadUnlock, rcuPoll, rcuBarrier, rcuPendingCallbacks, RCU_CB_BASE, RcuCallback } from "../../src/smp/rcu.js";
import { READY, DONE, WALKS, TOK, controlWords, entryOf } from "./programs/xa_common.mjs";

const program = (name: string): string => fileURLToPath(new URL(`./programs/${name}`, import.meta.url));

function xarrayOn(sys: PpSystem): { x: XArray; xa: number; inUse: () => number } {
  const x = new XArray(sys.m);
  const xa = sys.m.slab.kmalloc(XARRAY_SIZE, GFP_ZERO);
  x.xaInit(xa, XA_FLAGS_ALLOC1);
  return { x, xa, inUse: () => sys.m.slab.cacheStats(x.nodeCache).inUse };
}

const slotOf = (mem: PpSystem["m"]["mem"], node: number, k: number) => mem.rdPtr(node + XA_NODE_SLOTS + k * 8);

describe("xa_node_free() waits for a grace period (one thread playing two CPUs)", () => {
  it("nodes erased on CPU 1 while CPU 0 reads stay intact on CPU 1's callback list, then go back to the cache", () => {
    const sys = bootPpSystem("v6.16", { bytes: 16 << 20, cpus: 2 });
    const mem = sys.m.mem;
    const { x, xa, inUse } = xarrayOn(sys);
    // One object held throughout, so the nodes' slab is never discarded when they come back.
    const pin = sys.m.slab.kmemCacheAlloc(x.nodeCache, GFP_ZERO);
    expect(pin).toBeGreaterThan(0);
    const base = inUse();
    const entry = (id: number) => (0x0100_0000 + id * 4) >>> 0;
    for (let id = 1; id <= 200; id++) expect(x.xaAlloc(xa, entry(id), 1, XA_LIMIT_U32_MAX)).toBe(id);
    // A shift-6 root and leaves for 0..63 (XA_ZERO_ENTRY at 0), 64..127, 128..191, 192..200.
    const root = x.xaHead(xa) - 2;
    const leaves = [0, 1, 2, 3].map((k) => slotOf(mem, root, k) - 2);
    expect(x.xaNodeCount(xa)).toBe(5);
    expect(inUse()).toBe(base + 5);

    // CPU 0 is a reader inside rcu_read_lock(), standing in leaf 1 as xas_find() would.
    expect(mem.cpu).toBe(0);
    rcuReadLock(mem);
    const leaf1 = leaves[1]!;
    expect(slotOf(mem, leaf1, 5)).toBe(entry(69));

    // CPU 1 erases 64..200 the way page_pool unregisters a page: leaves 1, 2, 3 empty and are
    // freed, then the root holds only leaf 0 and is shrunk away (leaf 0 becomes the head).
    mem.bindCpu(1);
    for (let id = 64; id <= 200; id++) expect(x.xaCmpxchg(xa, id, entry(id), 0)).toBe(entry(id));
    expect(x.xaHead(xa) - 2).toBe(leaves[0]);
    expect(x.xaNodeCount(xa)).toBe(1);
    expect(xaCheck(x, xa)).toBeNull();
    // Freed means queued: 4 callbacks on CPU 1, none run, none on CPU 0; the objects are still in use.
    expect(rcuPendingCallbacks(mem, 1)).toBe(4);
    expect(rcuPendingCallbacks(mem, 0)).toBe(0);
    expect(xaRcuPendingNodes(mem)).toBe(4);
    expect(x.xaRcuPending()).toBe(4);
    expect(new Set(xaRcuPendingNodeList(mem))).toEqual(new Set([leaves[1], leaves[2], leaves[3], root]));
    expect(xaCheckRcuPending(mem)).toBeNull();
    expect(inUse()).toBe(base + 5);
    expect(inUse() - base).toBe(x.xaNodeCount(xa) + x.xaRcuPending());

    // What CPU 0 can still read: the leaf is not poisoned or reused. Shift, offset and parent are
    // as they were (the slab's freelist pointer would sit on bytes 0..7), count 0, every slot
    // NULL (erased before the free), array = XA_RCU_FREE, and the rcu_head (over private_list)
    // names radix_tree_node_rcu_free.
    for (const [k, leaf] of leaves.slice(1).entries()) {
      expect(mem.u8[leaf + XA_NODE_SHIFT]).toBe(0);
      expect(mem.u8[leaf + XA_NODE_OFFSET]).toBe(k + 1);
      expect(mem.u8[leaf + XA_NODE_COUNT]).toBe(0);
      expect(mem.rdPtr(leaf + XA_NODE_PARENT)).toBe(root);
      expect(mem.rdPtr(leaf + XA_NODE_ARRAY)).toBe(XA_RCU_FREE);
      expect(mem.rd32(leaf + XA_NODE_PRIVATE_LIST + 8)).toBe(RCU_CB_BASE + RcuCallback.XA_NODE_FREE);
      for (let s = 0; s < 64; s++) expect(slotOf(mem, leaf, s)).toBe(0);
    }
    // The old root: count 0, still pointing at leaf 0 in slot 0 (a node entry is no retry case),
    // shift 6, no parent; leaf 0 is the new root with its parent cleared.
    expect(mem.u8[root + XA_NODE_SHIFT]).toBe(6);
    expect(mem.u8[root + XA_NODE_COUNT]).toBe(0);
    expect(slotOf(mem, root, 0)).toBe(leaves[0]! + 2);
    expect(mem.rdPtr(leaves[0]! + XA_NODE_PARENT)).toBe(0);
    // CPU 0's own lookups (nested read sections) see the tree as it is now.
    mem.bindCpu(0);
    expect(x.xaLoad(xa, 69)).toBe(0);
    expect(x.xaFind(xa, 64)).toBe(-1);
    expect(x.xaFind(xa, 63)).toBe(63);

    // xa_destroy on CPU 1 with the reader still inside: leaf 0 is queued too, and every slot that
    // held something (XA_ZERO_ENTRY at 0, ids 1..63) now holds XA_RETRY_ENTRY.
    mem.bindCpu(1);
    x.xaDestroy(xa);
    expect(x.xaHead(xa)).toBe(0);
    expect(rcuPendingCallbacks(mem, 1)).toBe(5);
    for (let s = 0; s < 64; s++) expect(slotOf(mem, leaves[0]!, s)).toBe(XA_RETRY_ENTRY);
    expect(inUse()).toBe(base + 5);
    expect(rcuPoll(sys.m)).toBe(0); // CPU 0 is still reading
    expect(rcuPendingCallbacks(mem, 1)).toBe(5);

    // The reader leaves; CPU 1's callbacks run once grace periods have passed.
    mem.bindCpu(0);
    rcuReadUnlock(mem);
    mem.bindCpu(1);
    let ran = 0;
    for (let k = 0; k < 4 && rcuPendingCallbacks(mem, 1) !== 0; k++) ran += rcuPoll(sys.m);
    expect(ran).toBe(5);
    expect(rcuPendingCallbacks(mem, 1)).toBe(0);
    expect(xaRcuPendingNodes(mem)).toBe(0);
    expect(inUse()).toBe(base);
    // radix_tree_node_rcu_free() zeroed slots and marks and re-inited private_list before
    // kmem_cache_free (which wrote only the freelist pointer, bytes 0..7).
    for (const node of [...leaves, root]) {
      for (let s = 0; s < 64; s++) expect(slotOf(mem, node, s)).toBe(0);
      for (let w = 0; w < 6; w++) expect(mem.rd32(node + XA_NODE_MARKS + w * 4)).toBe(0);
      expect(mem.rdPtr(node + XA_NODE_PRIVATE_LIST)).toBe(node + XA_NODE_PRIVATE_LIST);
    }
    // Back on the cache's freelist: the next five node allocations are exactly these five objects.
    const again = Array.from({ length: 5 }, () => sys.m.slab.kmemCacheAlloc(x.nodeCache, GFP_ZERO));
    expect(new Set(again)).toEqual(new Set([...leaves, root]));
    assertAccounted(accountFrames(mem, ppClaimers(sys)));
  });

  it("with no reader anywhere the node is freed inside call_rcu(), as on one CPU before", () => {
    const sys = bootPpSystem("v6.16", { bytes: 16 << 20, cpus: 2 });
    const { x, xa, inUse } = xarrayOn(sys);
    const base = inUse();
    for (let id = 1; id <= 64; id++) expect(x.xaAlloc(xa, 0x0100_0000 + id * 4, 1, XA_LIMIT_U32_MAX)).toBe(id);
    expect(inUse()).toBe(base + 3);
    expect(x.xaErase(xa, 64)).toBe(0x0100_0000 + 64 * 4);
    // Leaf 1 and the root went at once; leaf 0 is the head again.
    expect(rcuPendingCallbacks(sys.m.mem, 0)).toBe(0);
    expect(inUse()).toBe(base + 1);
    expect(x.xaNodeCount(xa)).toBe(1);
    expect(x.xaLoad(xa, 0)).toBe(0);
    expect(sys.m.mem.rdPtr(x.xaHead(xa) - 2 + XA_NODE_SLOTS)).toBe(XA_ZERO_ENTRY);
  });
});

describe("the v6.16 scrub: synchronize_net() where page_pool_scrub() has it, nodes freed under RCU", () => {
  /** A DMA_MAP | DMA_SYNC_DEV pool on a v6.16 machine, `inflight` pages held by the "stack", CPU 1 reading. */
  function destroyWhileReading(coherent: boolean, inflight: number) {
    const sys = bootPpSystem("v6.16", { bytes: 16 << 20, cpus: 2 });
    const mem = sys.m.mem;
    const dev = sys.dma.deviceCreate("eth0", { coherent });
    const pool = sys.pps.create({ flags: PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV, maxLen: 4096, dev, dmaDir: DMA_FROM_DEVICE, poolSize: 256 });
    expect(pool).toBeGreaterThan(0);
    const x = new XArray(sys.m);
    const xa = pool + sys.pps.o.need("dma_mapped");
    const pages = Array.from({ length: 64 }, () => sys.pps.allocPages(pool));
    for (const p of pages.slice(inflight)) sys.pps.recycleDirect(pool, p);
    expect(x.xaNodeCount(xa)).toBe(3); // ids 1..64: a root and two leaves
    mem.bindCpu(1);
    rcuReadLock(mem);
    mem.bindCpu(0);
    return { sys, mem, pool, x, xa, destroy: () => sys.pps.destroy(pool) };
  }

  it("dma_sync set, the device needs syncs, mappings left: destroy waits for CPU 1's read section", () => {
    const r = destroyWhileReading(false, 10);
    // On a buffer no other thread can reach, a grace period CPU 1 never ends is a stall at once.
    expect(r.destroy).toThrow("INFO: rcu_sched detected stalls on CPUs/tasks: { 1 } (detected by 0, g=1)");
  });

  it("a coherent device: no synchronize_net; xa_for_each unmaps the 10 in flight and the nodes wait for CPU 1", () => {
    const r = destroyWhileReading(true, 10);
    const base = r.sys.m.slab.cacheStats(r.x.nodeCache).inUse;
    r.destroy();
    expect(r.sys.pps.inflight(r.pool)).toBe(10);
    expect(r.x.xaEmpty(r.xa)).toBe(true);
    // The 54 cached pages' returns and the scan's 10 cmpxchgs emptied both leaves and the root:
    // three nodes queued on CPU 0, still in use.
    expect(rcuPendingCallbacks(r.mem, 0)).toBe(3);
    expect(xaRcuPendingNodes(r.mem)).toBe(3);
    expect(r.sys.m.slab.cacheStats(r.x.nodeCache).inUse).toBe(base);
    r.mem.bindCpu(1);
    rcuReadUnlock(r.mem);
    r.mem.bindCpu(0);
    rcuBarrier(r.sys.m);
    expect(xaRcuPendingNodes(r.mem)).toBe(0);
    expect(r.sys.m.slab.cacheStats(r.x.nodeCache).inUse).toBe(base - 3);
  });

  it("every page back before destroy: the xarray is empty at the scrub, so no synchronize_net", () => {
    const r = destroyWhileReading(false, 0);
    // page_pool_empty_alloc_cache_once() returned all 64 before the first scrub's test; nothing is
    // in flight, so the pool is freed at once (its xarray with it). The three nodes wait for CPU 1.
    expect(r.destroy).not.toThrow();
    let pools = 0;
    r.sys.pps.forEachPool(() => pools++);
    expect(pools).toBe(0);
    expect(rcuPendingCallbacks(r.mem, 0)).toBe(3);
  });
});

interface ReaderResult {
  walks: number;
  stable: number;
  missed: number;
  wrongEntry: number;
  bogus: number;
  entries: number;
}
interface WriterResult {
  allocs: number;
  erases: number;
  present: [number, number][];
}

function start(file: string, workerData: Record<string, unknown>): { done: Promise<unknown>; worker: Worker } {
  const worker = new Worker(program(file), { workerData });
  const done = new Promise((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`${file} exited with ${code} before reporting`)));
  });
  return { done, worker };
}

/** Expected node count of an ALLOC1 xarray holding `ids` (index 0 held by XA_ZERO_ENTRY). */
function expectedNodes(ids: number[]): number {
  if (ids.length === 0) return 0;
  const max = Math.max(...ids);
  if (max < 64) return 1;
  return 1 + new Set([0, ...ids.map((id) => id >>> 6)]).size;
}

describe("xa_for_each on CPU 1 while CPU 0 stores and erases (two worker threads)", () => {
  it("every id registered for a whole walk is seen; afterwards tree, callbacks and slab agree exactly", async () => {
    const sys = bootPpSystem("v6.16", { bytes: 16 << 20, shared: true, cpus: 2 });
    const mem = sys.m.mem;
    const { x, xa, inUse } = xarrayOn(sys);
    const base = inUse();
    const maxId = 384; // the writer holds at most about 300 ids, the lowest free ones
    const ops = 120_000;
    const pace = 60;
    const control = new SharedArrayBuffer(4 * controlWords(maxId, ops));
    const data = { buffer: mem.buffer, control, xa, maxId, ops };
    const reader = start("xa_reader.mjs", data);
    const writer = start("xa_writer.mjs", { ...data, pace, seed: 0x5eed });
    let r: ReaderResult;
    let w: WriterResult;
    const timer = setTimeout(() => {
      void reader.worker.terminate();
      void writer.worker.terminate();
    }, 10_000); // a walk that never ends (a node freed under it) fails the test here
    try {
      [r, w] = (await Promise.all([reader.done, writer.done])) as [ReaderResult, WriterResult];
    } finally {
      clearTimeout(timer);
      await Promise.all([reader.worker.terminate(), writer.worker.terminate()]);
    }
    const ctl = new Int32Array(control);
    expect(Atomics.load(ctl, READY)).toBe(1);
    expect(Atomics.load(ctl, DONE)).toBe(1);
    expect(Atomics.load(ctl, WALKS)).toBe(r.walks);

    // The reader: no id that stayed registered through a walk was missed or read wrong.
    expect({ missed: r.missed, wrongEntry: r.wrongEntry, bogus: r.bogus }).toEqual({ missed: 0, wrongEntry: 0, bogus: 0 });
    expect(r.walks).toBeGreaterThanOrEqual(ops / pace); // the writer waited for a walk every `pace` ops
    expect(r.stable).toBeGreaterThan(0);
    // The writer's operations depend on its seed only, not on timing.
    expect({ allocs: w.allocs, erases: w.erases, left: w.present.length }).toEqual({ allocs: 60_028, erases: 59_972, left: 56 });

    // Back on the main thread as CPU 0 (the writer's CPU). The reader queued no callback; what the
    // writer queued is rcu-pending: in use in the slab, in no tree.
    expect(mem.cpu).toBe(0);
    expect(rcuPendingCallbacks(mem, 1)).toBe(0);
    const pending = xaRcuPendingNodes(mem);
    expect(pending).toBe(rcuPendingCallbacks(mem, 0));
    expect(xaCheckRcuPending(mem)).toBeNull();
    expect(inUse() - base).toBe(x.xaNodeCount(xa) + pending);
    assertAccounted(accountFrames(mem, ppClaimers(sys)));
    rcuBarrier(sys.m);
    expect(xaRcuPendingNodes(mem)).toBe(0);
    expect(inUse() - base).toBe(x.xaNodeCount(xa));
    assertAccounted(accountFrames(mem, ppClaimers(sys)));

    // The tree holds exactly what the writer left, with the entries its tokens name.
    expect(xaCheck(x, xa)).toBeNull();
    const got: [number, number][] = [];
    x.xaForEach(xa, (id, e) => got.push([id, e]));
    expect(got).toEqual(w.present.map(([id, t]) => [id, entryOf(t)]));
    for (const [id, t] of w.present) expect(Atomics.load(ctl, TOK + id)).toBe(t);
    expect(expectedNodes(w.present.map(([id]) => id))).toBe(1); // 56 ids, all below 64: one leaf
    expect(x.xaNodeCount(xa)).toBe(1);
  }, 30_000);
});
