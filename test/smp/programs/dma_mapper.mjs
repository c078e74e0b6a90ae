// A CPU mapping and unmapping its own pages through a device another CPU maps through at the same
// time: `rounds` times, map `pages` (dma_map_page), check each translates to its page
// (iommu_iova_to_phys), sync it (dma_sync_single_for_device), then unmap them, odd slots first.
// The pages were allocated on the main thread: nothing here calls the page allocator (the IOVAs
// come from the free list the main thread warmed).
import { parentPort, workerData } from "node:worker_threads";
import { attachPpSystem, DMA_FROM_DEVICE } from "../../../dist/src/index.js";

const { buffer, ctl, cpu, dev, pages, rounds } = workerData;
const sys = attachPpSystem(buffer);
const mem = sys.m.mem;
mem.bindCpu(cpu);
const dma = sys.dma;
const c = new Int32Array(ctl);
const n = pages.length;
const addrs = new Uint32Array(n);
let maps = 0;
let unmaps = 0;
let syncs = 0;
let mapErrors = 0;
let wrongPhys = 0;

parentPort.postMessage({ ready: cpu });
// Start together: the main thread stores 1 in c[0] once every CPU is ready.
while (Atomics.load(c, 0) === 0) Atomics.wait(c, 0, 0, 100);

for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < n; i++) {
    const a = dma.dmaMapPage(dev, pages[i], 0, 4096, DMA_FROM_DEVICE, 0);
    if (a === 0) {
      mapErrors++;
      continue;
    }
    maps++;
    addrs[i] = a;
    if (dma.iovaToPhys(dev, a) !== mem.pageAddress(pages[i])) wrongPhys++;
    dma.dmaSyncSingleForDevice(dev, a, 4096, DMA_FROM_DEVICE);
    syncs++;
  }
  for (let pass = 1; pass >= 0; pass--) {
    for (let i = pass; i < n; i += 2) {
      if (addrs[i] === 0) continue;
      dma.dmaUnmapPage(dev, addrs[i], 4096, DMA_FROM_DEVICE, 0);
      addrs[i] = 0;
      unmaps++;
    }
  }
}
parentPort.postMessage({ cpu, maps, unmaps, syncs, mapErrors, wrongPhys });
