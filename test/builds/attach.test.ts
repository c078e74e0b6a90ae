import { describe, expect, it } from "vitest";
import { Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import { bootPpSystem, attachPpSystem } from "../../src/pool/index.js";
import { PP_FLAG_DMA_MAP } from "../../src/pool/page_pool.js";
import { DMA_FROM_DEVICE } from "../../src/dma/index.js";
import { allBuilds, registerBuild, unregisterBuild, findBuild } from "../../src/builds/index.js";
import { MACH_BUILD, MACH_BUILD_CONFIG, MACH_BUILD_VARIANT } from "../../src/mem/physmem.js";

/** Boot `kernel`, make a DMA pool and move pages through every stat: the state a worker must see. */
function bootBusy(kernel: string) {
  const sys = bootPpSystem(kernel, { bytes: 16 << 20, shared: true });
  const dev = sys.dma.deviceCreate("0000:03:00.0");
  const pool = sys.pps.create({ flags: PP_FLAG_DMA_MAP, dev, dmaDir: DMA_FROM_DEVICE, poolSize: 256, napiCpu: 0 });
  expect(pool).toBeGreaterThan(0);
  const pages: number[] = [];
  for (let i = 0; i < 100; i++) pages.push(sys.pps.allocPages(pool));
  for (let i = 0; i < 40; i++) sys.pps.recycleDirect(pool, pages[i]!);
  for (let i = 40; i < 70; i++) sys.pps.putFullPage(pool, pages[i]!, false);
  return { sys, pool };
}

function runWorker(buffer: SharedArrayBuffer): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const w = new Worker(fileURLToPath(new URL("./attach_worker.mjs", import.meta.url)), { workerData: { buffer } });
    w.once("message", (m) => {
      void w.terminate();
      resolve(m as Record<string, unknown>);
    });
    w.once("error", reject);
  });
}

describe("the build lives in the buffer", () => {
  it("a worker thread attaches to a booted v11 machine and reads the same pool stats as the main thread", async () => {
    const { sys, pool } = bootBusy("v11");
    const got = await runWorker(sys.m.mem.buffer as SharedArrayBuffer);
    expect(got.kernel).toBe("v11");
    expect(got.layout).toBe("item-block");
    expect(got.pools).toEqual([pool]);
    expect(got.stats).toEqual([sys.pps.stats(pool)]);
    // 100 allocated from one slow bulk of 64 and a second of 64; 40 back in the cache, 30 in the ring.
    expect(got.inflight).toEqual([128]);
    expect(got.cache).toEqual([sys.pps.cacheCount(pool)]);
    expect(got.ring).toEqual([30]);
    const st = sys.pps.stats(pool);
    expect(st.alloc.slow).toBe(2);
    expect(st.recycle.cached).toBe(40);
    expect(st.recycle.ring).toBe(30);
  });

  it("attach in the same thread rebuilds every build from the header alone", () => {
    for (const b of allBuilds()) {
      const { sys, pool } = bootBusy(b.name);
      const image = Buffer.from(sys.m.mem.u8);
      const again = attachPpSystem(sys.m.mem.buffer);
      // Nothing was allocated or written by attaching.
      expect(Buffer.compare(image, Buffer.from(sys.m.mem.u8))).toBe(0);
      expect(again.build).toBe(b);
      expect(again.pps.stats(pool)).toEqual(sys.pps.stats(pool));
      expect(again.pps.inflight(pool)).toBe(sys.pps.inflight(pool));
      // The attached system drives the same pool: one more page comes from the same cache.
      const before = sys.pps.cacheCount(pool);
      expect(again.pps.allocPages(pool)).toBeGreaterThan(0);
      expect(sys.pps.cacheCount(pool)).toBe(before - 1);
    }
  });

  it("the header records build id, variant and switches; attach refuses what it cannot reproduce", () => {
    const { sys } = bootBusy("v11");
    const mem = sys.m.mem;
    const h = mem.machine;
    expect(mem.rd32(h + MACH_BUILD)).toBe(11);
    expect(mem.rd32(h + MACH_BUILD_VARIANT)).toBe(1); // BLOCK_VARIANTS[0] = "v11"
    const config = mem.rd32(h + MACH_BUILD_CONFIG);
    mem.wr32(h + MACH_BUILD_VARIANT, 2);
    expect(() => attachPpSystem(mem.buffer)).toThrow("ppemu: image of build v11 has item-block variant v9p2, the registry says v11");
    mem.wr32(h + MACH_BUILD_VARIANT, 1);
    mem.wr32(h + MACH_BUILD_CONFIG, config ^ 1);
    expect(() => attachPpSystem(mem.buffer)).toThrow(`ppemu: image of build v11 has switches 0x${(config ^ 1).toString(16)}, this ppemu's v11 has 0x${config.toString(16)}`);
    mem.wr32(h + MACH_BUILD_CONFIG, config);
    mem.wr32(h + MACH_BUILD, 999);
    expect(() => attachPpSystem(mem.buffer)).toThrow("ppemu: this image was booted as kernel build id 999, which this ppemu does not know");
  });

  it("an image of a build registered only where it was made is refused elsewhere", () => {
    const base = findBuild("v6.16")!;
    const extra = registerBuild({ ...base, name: "v6.16-local", id: 4242, isLayoutDefault: false });
    const { sys } = bootBusy("v6.16-local");
    unregisterBuild(extra);
    expect(() => attachPpSystem(sys.m.mem.buffer)).toThrow("kernel build id 4242");
  });
});
