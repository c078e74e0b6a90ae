// A CPU returning DMA mappings: dma_unmap_page for each address of each round, in order, while
// the main thread unbinds the round's device. After every unmap
// it reads the device's `live` and keeps the largest value seen (a wrapped count shows as ~2^32).
//
// Per round r, in the shared control words (Int32Array over `ctl`):
//   c[0]            start flag (main stores 1)
//   c[1 + 2r]       this CPU stores 1 once it has unmapped `signalAt` addresses of round r
//   c[2 + 2r]       before unmapping address `pauseAt` of round r, this CPU waits for it to be 1
import { parentPort, workerData } from "node:worker_threads";
import { attachPpSystem, DMA_FROM_DEVICE } from "../../../dist/src/index.js";

const { buffer, ctl, cpu, rounds, signalAt, pauseAt } = workerData;
const sys = attachPpSystem(buffer);
sys.m.mem.bindCpu(cpu);
const dma = sys.dma;
const c = new Int32Array(ctl);
const WAIT_MS = 10_000;

function waitFor(idx) {
  const deadline = Date.now() + WAIT_MS;
  while (Atomics.load(c, idx) === 0) {
    if (Date.now() > deadline) throw new Error(`dma_unmapper cpu ${cpu}: control word ${idx} never set`);
    Atomics.wait(c, idx, 0, 50);
  }
}

parentPort.postMessage({ ready: cpu });
waitFor(0);

const out = [];
for (let r = 0; r < rounds.length; r++) {
  const { dev, addrs } = rounds[r];
  let calls = 0;
  let maxLive = 0;
  for (let i = 0; i < addrs.length; i++) {
    if (i === pauseAt) waitFor(2 + 2 * r);
    dma.dmaUnmapPage(dev, addrs[i], 4096, DMA_FROM_DEVICE, 0);
    calls++;
    const live = dma.liveMappings(dev);
    if (live > maxLive) maxLive = live;
    if (calls === signalAt) {
      Atomics.store(c, 1 + 2 * r, 1);
      Atomics.notify(c, 1 + 2 * r);
    }
  }
  out.push({ calls, maxLive });
}
parentPort.postMessage({ cpu, rounds: out });
