// Two CPUs unmapping the same IOVAs at the same moment: for each batch, both CPUs meet at a
// spinning barrier (c[1] counts arrivals) and then unmap the batch's addresses in the same order,
// so they are neck and neck on every entry. One of each pair of unmaps must find the entry gone.
// After every unmap it reads `live` and keeps the largest value seen (a wrap shows as ~2^32).
import { parentPort, workerData } from "node:worker_threads";
import { attachPpSystem, DMA_FROM_DEVICE } from "../../../dist/src/index.js";

const { buffer, ctl, cpu, dev, batches, nrCpus } = workerData;
const sys = attachPpSystem(buffer);
sys.m.mem.bindCpu(cpu);
const dma = sys.dma;
const c = new Int32Array(ctl);

parentPort.postMessage({ ready: cpu });
while (Atomics.load(c, 0) === 0) Atomics.wait(c, 0, 0, 100);

let calls = 0;
let maxLive = 0;
for (let b = 0; b < batches.length; b++) {
  Atomics.add(c, 1, 1);
  Atomics.notify(c, 1);
  // Spin, not sleep: a sleeper wakes tens of µs late and would find the batch done. If the partner
  // does not come soon (it is not running), sleep until its arrival notifies.
  const target = nrCpus * (b + 1);
  for (let spins = 0; ; spins++) {
    const seen = Atomics.load(c, 1);
    if (seen >= target) break;
    if (spins > 20_000) Atomics.wait(c, 1, seen, 5);
  }
  const addrs = batches[b];
  for (let i = 0; i < addrs.length; i++) {
    dma.dmaUnmapPage(dev, addrs[i], 4096, DMA_FROM_DEVICE, 0);
    calls++;
    const live = dma.liveMappings(dev);
    if (live > maxLive) maxLive = live;
  }
}
parentPort.postMessage({ cpu, calls, maxLive });
