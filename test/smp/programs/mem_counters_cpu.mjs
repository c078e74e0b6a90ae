// A CPU hammering the machine's shared counters: diag() (the diagnostic counters and log ring under
// diag_lock), nextId() (an atomic add) and shouldFail() on an armed failure-injection site (atomic
// read-modify-writes). Marks each id it got in a shared table (`seen[id - firstId]`, Atomics.add) and
// reports how many of its calls were told to fail.
import { parentPort, workerData } from "node:worker_threads";
import { attachMachine } from "../../../dist/src/mem/machine.js";

const { buffer, ctl, seen, firstId, cpu, nrCpus, kind, site, diags, ids, failCalls } = workerData;
const m = attachMachine(buffer);
m.mem.bindCpu(cpu);
const mem = m.mem;

const c32 = new Int32Array(ctl);
Atomics.add(c32, 0, 1);
Atomics.notify(c32, 0);
for (let v = Atomics.load(c32, 0); v < nrCpus; v = Atomics.load(c32, 0)) Atomics.wait(c32, 0, v, 5);

const seen8 = new Uint8Array(seen);
let outOfRange = 0;
let failed = 0;
const n = Math.max(diags, ids, failCalls);
for (let i = 0; i < n; i++) {
  if (i < diags) mem.diag(kind, cpu, i, 0);
  if (i < ids) {
    const k = mem.nextId() - firstId;
    if (k >= 0 && k < seen8.length) Atomics.add(seen8, k, 1);
    else outOfRange++;
  }
  if (i < failCalls && mem.shouldFail(site)) failed++;
}
parentPort.postMessage({ cpu, outOfRange, failed });
