/**
 * The DMA model on more than one CPU: worker threads attached to the machine's SharedArrayBuffer
 * map, sync and unmap through one device at the same time, or race the driver unbind, or unmap the
 * same IOVAs twice. Every count is exact; nothing is timed. The page allocator is never entered by
 * a worker: pages are allocated, and the IOMMU leaves the workers' IOVAs need are created, on the
 * main thread before any worker starts.
 */
import { describe, expect, it } from "vitest";
import { Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import { bootPpSystem, type PpSystem } from "../../src/pool/index.js";
import { Diag } from "../../src/mem/physmem.js";
import { NR_DIAG_KINDS } from "../../src/mem/diag.js";
import { DMA_FROM_DEVICE, DEV_DOMAIN, DEV_IOVA_LOCK, DOMAIN_IOVA_HWM, IOMMU_TABLE_PAGES } from "../../src/dma/index.js";
import { KernelFault } from "../../src/mem/diag.js";

type Msg = Record<string, unknown>;

interface Started {
  readonly ready: Promise<void>;
  readonly done: Promise<Msg>;
}

/** Start a worker program: `ready` once it has attached and bound its CPU, `done` with its result. */
function start(program: string, workerData: Msg): Started {
  let onReady!: () => void;
  const ready = new Promise<void>((res) => (onReady = res));
  const done = new Promise<Msg>((resolve, reject) => {
    const w = new Worker(fileURLToPath(new URL(`./programs/${program}`, import.meta.url)), { workerData });
    w.on("message", (m: Msg) => {
      if ("ready" in m) return onReady();
      resolve(m);
      void w.terminate();
    });
    w.once("error", reject);
    w.once("exit", (code) => reject(new Error(`${program} exited (${code}) before reporting`)));
  });
  return { ready, done };
}

/**
 * Run one worker per `data` entry; once every one is attached and bound, store 1 in ctl[0] (the
 * start flag), run `whileRunning` on the main thread, then collect the results.
 */
async function runAll(program: string, ctl: SharedArrayBuffer, data: Msg[], whileRunning?: () => void): Promise<Msg[]> {
  const c = new Int32Array(ctl);
  const ws = data.map((d) => start(program, { ...d, ctl }));
  // A worker that dies before it is ready must fail the run, not hang it.
  await Promise.race([Promise.all(ws.map((w) => w.ready)), Promise.all(ws.map((w) => w.done))]);
  Atomics.store(c, 0, 1);
  Atomics.notify(c, 0);
  whileRunning?.();
  return Promise.all(ws.map((w) => w.done));
}

/**
 * Main-thread wait for a control word: spinning, so the unbind that follows starts while the
 * worker is still unmapping (a sleeper wakes tens of µs late, by which time it would have reached
 * its pause point). Bounded, so a dead worker fails the test instead of hanging it.
 */
function spinWord(c: Int32Array, idx: number): void {
  const deadline = Date.now() + 10_000;
  for (let spins = 0; Atomics.load(c, idx) === 0; spins++) {
    if ((spins & 0xffff) === 0 && Date.now() > deadline) throw new Error(`control word ${idx} never set`);
  }
}

/** Every diag kind's count: `expected` for the kinds named, 0 for every other. Per-kind counts, not the total. */
function expectDiags(sys: PpSystem, expected: Partial<Record<Diag, number>>): void {
  const got: Record<number, number> = {};
  const want: Record<number, number> = {};
  for (let k = 0; k < NR_DIAG_KINDS; k++) {
    got[k] = sys.m.mem.diagCount(k as Diag);
    want[k] = expected[k as Diag] ?? 0;
  }
  expect(got).toEqual(want);
}

function allocPages(sys: PpSystem, n: number): number[] {
  const pages: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = sys.m.pa.allocPages(0);
    expect(p).toBeGreaterThan(0);
    pages.push(p);
  }
  return pages;
}

/** Map `n` IOVAs on the main thread and unmap them again: the leaves exist, the order-0 free list holds n. */
function warmIovas(sys: PpSystem, dev: number, page: number, n: number): void {
  const a: number[] = [];
  for (let i = 0; i < n; i++) a.push(sys.dma.dmaMapPage(dev, page, 0, 4096, DMA_FROM_DEVICE, 0));
  for (const x of a) sys.dma.dmaUnmapPage(dev, x, 4096, DMA_FROM_DEVICE, 0);
}

describe("DMA on two CPUs at once", () => {
  it("two CPUs map, sync and unmap through one device: every count exact, the table empty", async () => {
    // Three CPUs: the main thread (CPU 0) sets up and checks; CPUs 1 and 2 are the workers.
    const sys = bootPpSystem("v6.15", { bytes: 16 << 20, shared: true, cpus: 3 });
    const { dma } = sys;
    const dev = dma.deviceCreate("0000:03:00.0");
    const BATCH = 64;
    const ROUNDS = 1500;
    const pages = [allocPages(sys, BATCH), allocPages(sys, BATCH)];
    warmIovas(sys, dev, pages[0]![0]!, 2 * BATCH);
    const before = dma.deviceStats(dev);
    const hwm = sys.m.mem.rd32(dev + DEV_DOMAIN + DOMAIN_IOVA_HWM);
    expect(hwm).toBe(2 * BATCH + 1);

    const ctl = new SharedArrayBuffer(64);
    const res = await runAll(
      "dma_mapper.mjs",
      ctl,
      [1, 2].map((cpu) => ({ buffer: sys.m.mem.buffer, cpu, dev, pages: pages[cpu - 1], rounds: ROUNDS })),
    );

    const each = BATCH * ROUNDS;
    for (const r of res) expect(r).toMatchObject({ maps: each, unmaps: each, syncs: each, mapErrors: 0, wrongPhys: 0 });
    const s = dma.deviceStats(dev);
    expect(s.maps - before.maps).toBe(2 * each);
    expect(s.unmaps - before.unmaps).toBe(2 * each);
    expect(s.maps).toBe(s.unmaps);
    expect(s.syncs).toBe(2 * each);
    expect(s.live).toBe(0);
    expect([s.unmapAfterUnbind, s.syncAfterUnbind, s.doubleUnmap, s.unmapUnknown, s.outlivedDriver]).toEqual([0, 0, 0, 0, 0]);
    // The table is empty: no mapping present, every IOVA below the mark on a free list exactly once,
    // and the workers never needed fresh IOVA space or a table page.
    let present = 0;
    dma.forEachMapping(dev, () => present++);
    expect(present).toBe(0);
    expect(sys.m.mem.rd32(dev + DEV_DOMAIN + DOMAIN_IOVA_HWM)).toBe(hwm);
    const free = dma.table.freeBlocks(dev + DEV_DOMAIN);
    expect(free.reduce((sum, n, k) => sum + n * (1 << k), 0)).toBe(hwm - 1);
    expect(s.tablePages).toBe(before.tablePages);
    expectDiags(sys, {});
    expect(dma.dmaDebugState()).toEqual({ errorCount: 0, allErrors: false, numErrors: 1 });
  });

  it("one CPU unmaps while the main thread unbinds: every unmap counted once, before or after, live never wraps", async () => {
    const sys = bootPpSystem("v6.15", { bytes: 16 << 20, shared: true, cpus: 2 });
    const { dma } = sys;
    const N = 512;
    const ROUNDS = 64;
    const pages = allocPages(sys, 256);
    // One device per round, every mapping made on the main thread (which also creates the leaves).
    const rounds = Array.from({ length: ROUNDS }, (_, r) => {
      const dev = dma.deviceCreate(`vf${r}`);
      const addrs = Array.from({ length: N }, (_, i) => dma.dmaMapPage(dev, pages[i % pages.length]!, 0, 4096, DMA_FROM_DEVICE, 0));
      expect(addrs.every((a) => a !== 0)).toBe(true);
      return { dev, addrs };
    });
    const tableBefore = sys.m.mem.rd32(dma.iommu + IOMMU_TABLE_PAGES);
    expect(tableBefore).toBe(rounds.reduce((sum, r) => sum + dma.deviceStats(r.dev).tablePages, 0));

    // The unbind of round r races the unmaps from N/4 on; the worker waits at 7N/8 until it is
    // done, so at least N/4 unmaps come before it and at least N/8 after.
    const ctl = new SharedArrayBuffer(4 * (1 + 2 * ROUNDS));
    const c = new Int32Array(ctl);
    const [res] = await runAll(
      "dma_unmapper.mjs",
      ctl,
      [{ buffer: sys.m.mem.buffer, cpu: 1, rounds, signalAt: N / 4, pauseAt: (7 * N) / 8 }],
      () => {
        for (let r = 0; r < ROUNDS; r++) {
          spinWord(c, 1 + 2 * r);
          dma.deviceUnbind(rounds[r]!.dev);
          Atomics.store(c, 2 + 2 * r, 1);
          Atomics.notify(c, 2 + 2 * r);
        }
      },
    );

    const seen = (res as { rounds: { calls: number; maxLive: number }[] }).rounds;
    let afterUnbind = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const s = dma.deviceStats(rounds[r]!.dev);
      expect(seen[r]!.calls).toBe(N);
      // live only went down (N - i, then 0 at unbind): it never wrapped.
      expect(seen[r]!.maxLive).toBeLessThan(N);
      // Each unmap is exactly one of: a real unmap before the unbind, a violation after it.
      expect(s.unmaps + s.unmapAfterUnbind).toBe(N);
      // No mapping lost: those not unmapped before the unbind were found by it, and each was then
      // unmapped after it.
      expect(s.outlivedDriver).toBe(N - s.unmaps);
      expect(s.unmapAfterUnbind).toBe(s.outlivedDriver);
      expect(s.unmaps).toBeGreaterThanOrEqual(N / 4);
      expect(s.unmapAfterUnbind).toBeGreaterThanOrEqual(N / 8);
      expect([s.maps, s.live, s.bound, s.tablePages, s.doubleUnmap, s.unmapUnknown, s.syncAfterUnbind]).toEqual([N, 0, false, 0, 0, 0, 0]);
      afterUnbind += s.unmapAfterUnbind;
    }
    expect(sys.m.mem.rd32(dma.iommu + IOMMU_TABLE_PAGES)).toBe(0);
    // dma-debug counted one pending-allocations error per unbind and printed the first; the
    // emulator's line is there once per unmap after unbind.
    expect(dma.dmaDebugState()).toEqual({ errorCount: ROUNDS, allErrors: false, numErrors: 0 });
    expectDiags(sys, { [Diag.DMA_DEBUG_PENDING]: 1, [Diag.DMA_UNMAP_AFTER_UNBIND]: afterUnbind });
  });

  it("two CPUs unmap the same IOVAs: each is unmapped once, the other unmap of it is a double unmap", async () => {
    const sys = bootPpSystem("v6.15", { bytes: 16 << 20, shared: true, cpus: 3 });
    const { dma } = sys;
    const dev = dma.deviceCreate("0000:04:00.0");
    const BATCH = 16;
    const BATCHES = 256;
    const N = BATCH * BATCHES;
    const pages = allocPages(sys, 256);
    const addrs = Array.from({ length: N }, (_, i) => dma.dmaMapPage(dev, pages[i % pages.length]!, 0, 4096, DMA_FROM_DEVICE, 0));
    expect(new Set(addrs).size).toBe(N);
    const batches = Array.from({ length: BATCHES }, (_, b) => addrs.slice(b * BATCH, (b + 1) * BATCH));
    const ctl = new SharedArrayBuffer(64);
    const res = await runAll(
      "dma_double_unmapper.mjs",
      ctl,
      [1, 2].map((cpu) => ({ buffer: sys.m.mem.buffer, cpu, dev, batches, nrCpus: 2 })),
    );
    for (const r of res) expect(r).toMatchObject({ calls: N });
    // live only went down from N: it never wrapped.
    for (const r of res) expect(r.maxLive as number).toBeLessThan(N);
    const s = dma.deviceStats(dev);
    expect([s.maps, s.unmaps, s.doubleUnmap, s.live, s.unmapUnknown, s.unmapAfterUnbind]).toEqual([N, N, N, 0, 0, 0]);
    let present = 0;
    dma.forEachMapping(dev, () => present++);
    expect(present).toBe(0);
    const hwm = sys.m.mem.rd32(dev + DEV_DOMAIN + DOMAIN_IOVA_HWM);
    // Each IOVA went back to the free list once (a second free would make the list longer, or a cycle).
    expect(dma.table.freeBlocks(dev + DEV_DOMAIN).reduce((sum, n, k) => sum + n * (1 << k), 0)).toBe(hwm - 1);
    // err_printk: every double unmap counted, only the first of the machine printed.
    expect(dma.dmaDebugState()).toEqual({ errorCount: N, allErrors: false, numErrors: 0 });
    expectDiags(sys, { [Diag.DMA_DOUBLE_UNMAP]: 1 });
  });

  it("a strict machine throws its DMA fault with iova_rbtree_lock released", () => {
    const sys = bootPpSystem("v6.15", { bytes: 16 << 20, shared: true, cpus: 2 });
    const { dma, m } = sys;
    const dev = dma.deviceCreate("0000:05:00.0");
    const page = m.pa.allocPages(0);
    const a = dma.dmaMapPage(dev, page, 0, 4096, DMA_FROM_DEVICE, 0);
    const b = dma.dmaMapPage(dev, page, 0, 4096, DMA_FROM_DEVICE, 0);
    dma.dmaUnmapPage(dev, a, 4096, DMA_FROM_DEVICE, 0);
    dma.setDmaDebugAllErrors(true); // every dma-debug error prints (and so throws), not only the first
    m.mem.strict = true;
    expect(() => dma.dmaUnmapPage(dev, a, 4096, DMA_FROM_DEVICE, 0)).toThrow(KernelFault); // double unmap
    expect(m.mem.rd32(dev + DEV_IOVA_LOCK)).toBe(0);
    expect(() => dma.deviceUnbind(dev)).toThrow(KernelFault); // dma-debug: pending DMA allocations
    expect(m.mem.rd32(dev + DEV_IOVA_LOCK)).toBe(0);
    expect(() => dma.dmaUnmapPage(dev, b, 4096, DMA_FROM_DEVICE, 0)).toThrow(KernelFault); // after unbind
    expect(() => dma.dmaSyncSingleForCpu(dev, b, 64, DMA_FROM_DEVICE)).toThrow(KernelFault);
    expect(m.mem.rd32(dev + DEV_IOVA_LOCK)).toBe(0);
    const s = dma.deviceStats(dev);
    expect([s.maps, s.unmaps, s.doubleUnmap, s.outlivedDriver, s.unmapAfterUnbind, s.syncAfterUnbind, s.live, s.bound]).toEqual([2, 1, 1, 1, 1, 1, 0, false]);
  });
});
