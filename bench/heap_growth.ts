/**
 * Does a hot loop allocate on the JS heap? Runs the DMA slow path (alloc, get_page, put, put_page: the
 * allocator, map, track, untrack, unmap and free on every element) 10^5, 10^6 and 3·10^6 times per
 * layout between gc()'d heapUsed readings. Retained allocation per element would grow with the count;
 * JIT code and warm-up garbage do not. Run: node --expose-gc dist/bench/heap_growth.js
 */
import { bootPpSystem } from "../src/pool/index.js";
import { PP_FLAG_DMA_MAP } from "../src/pool/page_pool.js";
import { allLayouts, defaultBuildOf } from "../src/builds/index.js";
import { DMA_BIDIRECTIONAL } from "../src/dma/index.js";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error("heap_growth: run with node --expose-gc");
  process.exit(2);
}

for (const build of allLayouts().map(defaultBuildOf)) {
  const layout = build.name;
  const { pps, m, dma } = bootPpSystem(build, { bytes: 64 << 20, poison: false, ppChecks: false });
  const dev = dma.deviceCreate("eth0");
  const pool = pps.create({ poolSize: 1024, flags: PP_FLAG_DMA_MAP, dev, dmaDir: DMA_BIDIRECTIONAL });
  const loop = (n: number) => {
    for (let i = 0; i < n; i++) {
      const page = pps.allocPages(pool);
      m.pa.getPage(page);
      pps.putPage(pool, page, -1, false);
      m.pa.putPage(page);
    }
  };
  loop(200_000);
  const out: string[] = [];
  for (const n of [100_000, 1_000_000, 3_000_000]) {
    gc();
    const before = process.memoryUsage().heapUsed;
    loop(n);
    gc();
    out.push(`${n}: ${process.memoryUsage().heapUsed - before} B`);
  }
  console.log(`${layout.padEnd(10)} heapUsed delta after ${out.join(", ")}`);
}
