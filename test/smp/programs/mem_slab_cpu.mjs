// A CPU hammering the slab allocator: attaches, binds its CPU and runs the slab plan (mem_plan.mjs)
// with real kmalloc / kfree (small sizes through the kmalloc caches, large ones straight from the
// page allocator) and kmem_cache_alloc / kmem_cache_free on the test's own cache.
//
// Each object it is handed is claimed in the owner table (one byte per 8-byte granule, indexed by
// addr >>> 3, owner cpu+1) with Atomics.compareExchange and stamped in its first and last word;
// both are checked when it frees the object. Objects it still holds at the end stay claimed and are
// reported, for the main thread to check against the caches' counts and free.
import { parentPort, workerData } from "node:worker_threads";
import { attachMachine } from "../../../dist/src/mem/machine.js";
import { GFP_ZERO } from "../../../dist/src/mem/buddy.js";
import { runSlabPlan, TEST_CACHE_SIZE } from "./mem_plan.mjs";

const { buffer, owners, ctl, cpu, nrCpus, plan, testCache } = workerData;
const m = attachMachine(buffer);
m.mem.bindCpu(cpu);
const { mem, slab } = m;
const u32 = mem.u32;
const own = new Uint8Array(owners);
const me = cpu + 1;
const errors = { dup: 0, notOwner: 0, stamp: 0, notZero: 0, ksize: 0 };
let serial = 0;

/** Byte offset of an object's last whole word. */
const lastWord = (size) => (size - 4) & ~3;

const ops = {
  alloc(kind, zero) {
    const size = kind === -1 ? TEST_CACHE_SIZE : kind;
    const gfp = zero ? GFP_ZERO : 0;
    const addr = kind === -1 ? slab.kmemCacheAlloc(testCache, gfp) : slab.kmalloc(size, gfp);
    if (addr === 0) return null;
    if (Atomics.compareExchange(own, addr >>> 3, 0, me) !== 0) errors.dup++;
    if (zero && (u32[addr >>> 2] !== 0 || u32[(addr + lastWord(size)) >>> 2] !== 0)) errors.notZero++;
    if (slab.ksize(addr) < size) errors.ksize++;
    const tag = ((me << 24) | (serial++ & 0xffffff)) >>> 0;
    u32[addr >>> 2] = tag;
    u32[(addr + lastWord(size)) >>> 2] = tag;
    return { addr, kind, size, tag };
  },
  free(h) {
    if (u32[h.addr >>> 2] !== h.tag || u32[(h.addr + lastWord(h.size)) >>> 2] !== h.tag) errors.stamp++;
    if (Atomics.compareExchange(own, h.addr >>> 3, me, 0) !== me) errors.notOwner++;
    if (h.kind === -1) slab.kmemCacheFree(testCache, h.addr);
    else slab.kfree(h.addr);
  },
};

const c32 = new Int32Array(ctl);
Atomics.add(c32, 0, 1);
Atomics.notify(c32, 0);
for (let v = Atomics.load(c32, 0); v < nrCpus; v = Atomics.load(c32, 0)) Atomics.wait(c32, 0, v, 5);

const { counts, handles } = runSlabPlan(plan, ops);
// Still held: stamps intact?
for (const h of handles) if (u32[h.addr >>> 2] !== h.tag || u32[(h.addr + lastWord(h.size)) >>> 2] !== h.tag) errors.stamp++;
parentPort.postMessage({ cpu, counts, errors, kept: handles.map((h) => ({ addr: h.addr, kind: h.kind })) });
