/**
 * CPUs as worker threads on one SharedArrayBuffer: the runner, the llist and the ptr_ring under
 * real contention, and the rule that only the NAPI CPU writes the lockless alloc cache.
 */
import { describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { bootPpSystem } from "../../src/pool/index.js";
import { allBuilds } from "../../src/builds/index.js";
import { runCpus, startCpus, CpuError, CTRL_USER } from "../../src/smp/runner.js";
import { PP_ALLOC_CACHE_SIZE } from "../../src/mem/structs.js";
import { llistDelAll } from "../../src/mem/llist.js";
import { GFP_ZERO } from "../../src/mem/buddy.js";
import { setServingSoftirq } from "../../src/smp/percpu.js";
import { Diag } from "../../src/mem/diag.js";

const program = (name: string): string => fileURLToPath(new URL(`./programs/${name}`, import.meta.url));

describe("runCpus", () => {
  it("runs each task as its CPU on the machine and returns results in task order", async () => {
    const sys = bootPpSystem("v6.16", { bytes: 8 << 20, shared: true, cpus: 4 });
    const buffer = sys.m.mem.buffer as SharedArrayBuffer;
    const got = await runCpus({
      buffer,
      tasks: [3, 1].map((cpu) => ({ cpu, program: program("pp_throw.mjs"), export: "answer", args: { k: cpu * 10 } })),
    });
    expect(got).toEqual([
      { cpu: 3, nrCpus: 4, args: { k: 30 }, build: "v6.16" },
      { cpu: 1, nrCpus: 4, args: { k: 10 }, build: "v6.16" },
    ]);
  });

  it("a program's throw comes back as a CpuError naming its CPU, and the other CPU is stopped", async () => {
    const sys = bootPpSystem("v6.15", { bytes: 8 << 20, shared: true, cpus: 2 });
    const run = runCpus({
      buffer: sys.m.mem.buffer as SharedArrayBuffer,
      tasks: [
        { cpu: 0, program: program("pp_throw.mjs"), args: { fail: false } },
        { cpu: 1, program: program("pp_throw.mjs"), args: { fail: true } },
      ],
    });
    const err = await run.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(CpuError);
    expect((err as CpuError).cpu).toBe(1);
    expect((err as CpuError).message).toBe("CPU 1: program failed on purpose (cpu 1)");
  });

  it("refuses a buffer that is not shared, and a CPU named twice", async () => {
    const sys = bootPpSystem("v6.15", { bytes: 8 << 20 });
    await expect(runCpus({ buffer: sys.m.mem.buffer as SharedArrayBuffer, tasks: [] })).rejects.toThrow(/SharedArrayBuffer/);
    const shared = bootPpSystem("v6.15", { bytes: 8 << 20, shared: true });
    const t = { cpu: 1, program: program("pp_throw.mjs") };
    await expect(runCpus({ buffer: shared.m.mem.buffer as SharedArrayBuffer, tasks: [t, t] })).rejects.toThrow(/distinct CPU/);
  });
});

describe("llist_add from two CPUs, llist_del_all on a third", () => {
  it("every node arrives exactly once", async () => {
    const sys = bootPpSystem("v11", { bytes: 16 << 20, shared: true, cpus: 3 });
    const { slab, mem } = sys.m;
    const head = slab.kmalloc(8, GFP_ZERO);
    const PER_CPU = 20_000;
    const nodes: number[] = [];
    // Nodes in a few large buffers, 16 bytes apart (allocated here, before any other CPU runs).
    for (let b = 0; b < 2 * PER_CPU / 200; b++) {
      const buf = slab.kmalloc(200 * 16, GFP_ZERO);
      for (let k = 0; k < 200; k++) nodes.push(buf + k * 16);
    }
    const seenBase = CTRL_USER * 4;
    const [c0, c1, c2] = (await runCpus({
      buffer: mem.buffer as SharedArrayBuffer,
      control: new SharedArrayBuffer(seenBase + nodes.length * 4),
      tasks: [
        { cpu: 0, program: program("pp_llist_consumer.mjs"), args: { head, total: nodes.length, seenBase, nodes } },
        { cpu: 1, program: program("pp_llist.mjs"), args: { head, nodes: nodes.slice(0, PER_CPU) } },
        { cpu: 2, program: program("pp_llist.mjs"), args: { head, nodes: nodes.slice(PER_CPU) } },
      ],
      timeoutMs: 30_000,
    })) as [{ got: number; twice: number; batches: number }, { pushed: number }, { pushed: number }];
    expect(c1.pushed + c2.pushed).toBe(2 * PER_CPU);
    expect(c0.got).toBe(2 * PER_CPU);
    expect(c0.twice).toBe(0);
    expect(llistDelAll(mem.u32, head)).toBe(0);
  });
});

/** Pages allocated on CPU 0 and handed to CPUs 1 and 2. */
function poolWithPages(kernel: string, perCpu: number) {
  const sys = bootPpSystem(kernel, { bytes: 32 << 20, shared: true, cpus: 3, ppChecks: true });
  const { pps, m } = sys;
  m.mem.bindCpu(0);
  const pool = pps.create({ poolSize: 4 * perCpu, napiCpu: 0 });
  expect(pool).toBeGreaterThan(0);
  const pages: number[] = [];
  for (let i = 0; i < 2 * perCpu; i++) pages.push(pps.allocPages(pool));
  expect(new Set(pages).size).toBe(2 * perCpu);
  return { sys, pool, pages };
}

describe("the ptr_ring: two producer CPUs, the NAPI CPU consuming at the same time", () => {
  // v7-encoded-next: two CPUs push onto its lock-free list while the NAPI CPU pops.
  for (const kernel of ["v6.15", "v11", "v6.16", "v7-encoded-next"]) {
    it(`${kernel}: each page comes back once, the ring stats are per CPU and exact`, async () => {
      const PER_CPU = 3000;
      const { sys, pool, pages } = poolWithPages(kernel, PER_CPU);
      const { pps, m } = sys;
      const holdBefore = pps.inflight(pool);
      // The slow path's bulk left pages in the cache: they come back first.
      const cached: number[] = [];
      pps.forEachPooledPage(pool, (page) => cached.push(page));
      const want = [...pages, ...cached].sort((a, b) => a - b);
      // Started (not awaited): the workers run while this thread, CPU 0, consumes.
      const run = await startCpus({
        buffer: m.mem.buffer as SharedArrayBuffer,
        tasks: [1, 2].map((cpu) => ({
          cpu,
          program: program("pp_returner.mjs"),
          args: { pool, pages: pages.slice((cpu - 1) * PER_CPU, cpu * PER_CPU), allowDirect: false, inSoftirq: false },
        })),
        timeoutMs: 30_000,
      });
      // CPU 0 (this thread) consumes while they produce: alloc only when the cache or the ring has
      // a page, so nothing is allocated anew.
      setServingSoftirq(m.mem, true);
      const back: number[] = [];
      const deadline = Date.now() + 30_000;
      while (back.length < want.length && Date.now() < deadline) {
        if (pps.cacheCount(pool) > 0 || !pps.ringEmpty(pool)) back.push(pps.allocPages(pool));
      }
      setServingSoftirq(m.mem, false);
      await run.done;
      expect(back.length).toBe(want.length);
      expect(new Set(back).size).toBe(want.length);
      expect([...back].sort((a, b) => a - b)).toEqual(want);
      expect(pps.inflight(pool)).toBe(holdBefore);
      const st = pps.stats(pool);
      expect(st.recycle.ring).toBe(2 * PER_CPU);
      expect(st.recycle.ring_full).toBe(0);
      expect(st.recycle.cached).toBe(0);
      expect(pps.ringCount(pool)).toBe(0);
      // encoded_next's atomic count ends where the list does (a lost push or pop would leave it off).
      const ring = sys.pps.t.ring as { count(pool: number): number } | undefined;
      if (ring !== undefined) expect(ring.count(pool)).toBe(0);
      expect(m.mem.diagCount(Diag.PP_DOUBLE_PUT)).toBe(0);
      expect(m.mem.diagTotal).toBe(0);
    });
  }
});

describe("a remote CPU never writes the NAPI CPU's alloc cache", () => {
  for (const b of allBuilds()) {
    it(`${b.name}: CPU 1 in softirq returning with allow_direct=false goes to the ring; the cache bytes do not change`, async () => {
      const PER_CPU = 500;
      const { sys, pool, pages } = poolWithPages(b.name, PER_CPU);
      const { pps, m } = sys;
      // Leave some pages in the cache, so a wrong recycle would have room to land there.
      setServingSoftirq(m.mem, true);
      for (let i = 0; i < 10; i++) pps.recycleDirect(pool, pages.pop()!);
      setServingSoftirq(m.mem, false);
      expect(pps.cacheCount(pool)).toBeLessThan(PP_ALLOC_CACHE_SIZE);
      const alloc = pool + pps.o.allocCount;
      const cacheBytes = (): Buffer => Buffer.from(m.mem.u8.subarray(alloc, pool + pps.o.allocCache + PP_ALLOC_CACHE_SIZE * 8));
      const before = cacheBytes();
      const statsBefore = pps.stats(pool).recycle;
      await runCpus({
        buffer: m.mem.buffer as SharedArrayBuffer,
        tasks: [{ cpu: 1, program: program("pp_returner.mjs"), args: { pool, pages, allowDirect: false, inSoftirq: true } }],
        timeoutMs: 30_000,
      });
      expect(cacheBytes().equals(before)).toBe(true);
      const st = pps.stats(pool).recycle;
      expect(st.cached).toBe(statsBefore.cached);
      expect(st.ring).toBe(statsBefore.ring + pages.length);
      // The ring stat was counted on CPU 1's copy of the per-CPU stats.
      const o = pps.o;
      const stats1 = m.mem.rdPtr(pool + o.recycleStats) + 1 * o.recycleStatsSize;
      expect(m.mem.rd64(stats1 + o.recycleStat.ring!)).toBe(pages.length);
      expect(m.mem.rd64(stats1 + o.recycleStat.cached!)).toBe(0);
    });
  }
});
