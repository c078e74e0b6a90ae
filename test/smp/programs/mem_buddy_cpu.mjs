// A CPU hammering the page allocator: attaches to the machine's SharedArrayBuffer, binds its CPU and
// runs the buddy plan (mem_plan.mjs) with real alloc_pages / alloc_pages_bulk / __free_pages, plus
// get_page/put_page rounds on pages every CPU shares.
//
// Every frame it is handed is claimed in the owner table (one Int32 per pfn, owner cpu+1) with
// Atomics.compareExchange, and stamped in its first word; both are checked when it gives the block
// back. A frame handed to two CPUs at once, or changed by someone else while held, is counted.
import { parentPort, workerData } from "node:worker_threads";
import { attachMachine } from "../../../dist/src/mem/machine.js";
import { runBuddyPlan } from "./mem_plan.mjs";

const { buffer, owners, ctl, cpu, nrCpus, plan, bulkArray, shared } = workerData;
const m = attachMachine(buffer);
m.mem.bindCpu(cpu);
const { mem, pa } = m;
const u32 = mem.u32;
const own = new Int32Array(owners);
const me = cpu + 1;
const errors = { dup: 0, notOwner: 0, stamp: 0, refcount: 0 };
let serial = 0;

function claim(page, order) {
  const pfn = page >>> 6;
  const tag = ((me << 24) | (serial++ & 0xffffff)) >>> 0;
  for (let k = 0; k < 1 << order; k++) {
    if (Atomics.compareExchange(own, pfn + k, 0, me) !== 0) errors.dup++;
    u32[((pfn + k) << mem.pageShift) >>> 2] = tag;
  }
  if (pa.pageCount(page) !== 1) errors.refcount++;
  return { page, order, tag };
}

function release(h) {
  const pfn = h.page >>> 6;
  for (let k = 0; k < 1 << h.order; k++) {
    if (u32[((pfn + k) << mem.pageShift) >>> 2] !== h.tag) errors.stamp++;
    if (Atomics.compareExchange(own, pfn + k, me, 0) !== me) errors.notOwner++;
  }
  pa.freePages(h.page, h.order);
}

const ops = {
  alloc(order) {
    const page = pa.allocPages(order);
    return page === 0 ? null : claim(page, order);
  },
  bulk(n) {
    for (let i = 0; i < n; i++) mem.wr64(bulkArray + i * 8, 0, 0);
    const got = pa.allocPagesBulk(n, bulkArray);
    const out = [];
    for (let i = 0; i < got; i++) out.push(claim(mem.rdPtr(bulkArray + i * 8), 0));
    return out;
  },
  free: release,
  getPut() {
    for (const p of shared) for (let k = 0; k < 4; k++) pa.getPage(p);
    for (const p of shared) for (let k = 0; k < 4; k++) pa.putPage(p);
  },
};

// Start together: each CPU checks in, then waits for the others.
const c32 = new Int32Array(ctl);
Atomics.add(c32, 0, 1);
Atomics.notify(c32, 0);
for (let v = Atomics.load(c32, 0); v < nrCpus; v = Atomics.load(c32, 0)) Atomics.wait(c32, 0, v, 5);

const counts = runBuddyPlan(plan, ops);
parentPort.postMessage({ cpu, counts, errors });
