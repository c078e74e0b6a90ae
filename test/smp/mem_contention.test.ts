/**
 * The page allocator and the slab under real contention: two worker threads on one
 * SharedArrayBuffer, CPUs 0 and 1 (the main thread only sets up, waits and checks), each running a
 * seeded plan of allocations and frees (test/smp/programs/mem_plan.mjs) against `zone->lock` and
 * the caches' `list_lock`. The plans never look at each other, so every count they report is known
 * exactly from a dry run of the same plan; the end state is checked by walking the structures
 * (frame accounting, free lists, cache lists), never from counters alone. No timing is asserted.
 *
 * Workers import dist/: `npm test` builds first (run `npx tsc -p tsconfig.json` before vitest).
 */
import { describe, expect, it } from "vitest";
import { Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import { bootMachine } from "../../src/mem/machine.js";
import { MAX_PAGE_ORDER, MACH_ZONE_LOCK, MACH_DIAG_LOCK, FailSite } from "../../src/mem/physmem.js";
import { Diag, KernelFault } from "../../src/mem/diag.js";
import { accountFrames, assertAccounted } from "../../src/mem/accounting.js";
import { PAGE_TYPE, PAGE_PP_MAGIC } from "../../src/mem/page.js";
import { KC_LIST_LOCK, PAGE_TYPE_LARGE_KMALLOC, kmallocName } from "../../src/mem/slab.js";
import { spinIsLocked } from "../../src/smp/spinlock.js";
import { runBuddyPlan, runSlabPlan, TEST_CACHE_NAME, TEST_CACHE_SIZE } from "./programs/mem_plan.mjs";

const program = (name: string): string => fileURLToPath(new URL(`./programs/${name}`, import.meta.url));

/** Run one worker per task; all must post a result and exit 0 within `ms`, else every one is stopped. */
async function runWorkers(file: string, tasks: Record<string, unknown>[], ms = 30_000): Promise<any[]> {
  const workers = tasks.map((workerData) => new Worker(program(file), { workerData }));
  const done = workers.map(
    (w, i) =>
      new Promise<unknown>((resolve, reject) => {
        let result: unknown;
        w.once("message", (m) => (result = m));
        w.once("error", (e) => reject(new Error(`cpu ${String(tasks[i]!.cpu)}: ${e instanceof Error ? e.stack : String(e)}`)));
        w.once("exit", (code) => (code === 0 && result !== undefined ? resolve(result) : reject(new Error(`cpu ${String(tasks[i]!.cpu)} exited ${code} without a result`))));
      }),
  );
  let timer: NodeJS.Timeout | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`CPUs still running after ${ms} ms (a lockup?)`)), ms);
  });
  try {
    return await Promise.race([Promise.all(done), watchdog]);
  } finally {
    clearTimeout(timer);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

const NR_CPUS = 2;

describe("zone->lock: two CPUs hammer the page allocator", () => {
  const plans = [
    { seed: 0x5eed0001, iters: 60_000, window: 48 },
    { seed: 0x5eed0002, iters: 60_000, window: 48 },
  ];
  const stub = { alloc: () => ({}), bulk: (n: number) => new Array(n).fill({}), free: () => {}, getPut: () => {} };

  it("the plans are what the exact counts below pin", () => {
    const [a, b] = plans.map((p) => runBuddyPlan(p, stub));
    expect(a).toEqual({ allocs: [9409, 4759, 2298, 2209], bulkCalls: 4118, bulkPages: 18579, frees: 37254, getPuts: 7500, failed: 0 });
    expect(b).toEqual({ allocs: [9362, 4651, 2374, 2278], bulkCalls: 4119, bulkPages: 18597, frees: 37262, getPuts: 7500, failed: 0 });
  });

  it("every block is handed to one CPU at a time and all come back: free lists, nr_free and NR_FREE_PAGES as at boot", async () => {
    const m = bootMachine({ bytes: 16 << 20, shared: true, cpus: NR_CPUS });
    const { mem, pa } = m;
    // Set up on the main thread (CPU 0, before the workers run): a bulk page array per CPU and
    // pages both CPUs take and drop references on (one a tail page of an order-2 compound).
    const arrays = [pa.allocPages(0), pa.allocPages(0)];
    const shared = [pa.allocPages(0), pa.allocPages(0), pa.allocPages(0)];
    const compound = pa.allocPages(2);
    const sharedRefs = [...shared, compound + 2 * 64];
    const bootFree = pa.nrFree();
    const bootByOrder = Array.from({ length: MAX_PAGE_ORDER + 1 }, (_, o) => pa.nrFreeByOrder(o));
    const owners = new SharedArrayBuffer(mem.nrFrames * 4);
    const ctl = new SharedArrayBuffer(16);

    const results = await runWorkers(
      "mem_buddy_cpu.mjs",
      plans.map((plan, cpu) => ({
        buffer: mem.buffer,
        owners,
        ctl,
        cpu,
        nrCpus: NR_CPUS,
        plan,
        bulkArray: mem.pageAddress(arrays[cpu]!),
        shared: sharedRefs,
      })),
    );

    // Each CPU did exactly its plan: no allocation failed, none was given a frame the other held
    // (owner table), no held frame was written by the other (stamps), every new page had _refcount 1.
    for (const [cpu, plan] of plans.entries()) {
      expect(results[cpu].counts).toEqual(runBuddyPlan(plan, stub));
      expect(results[cpu].errors).toEqual({ dup: 0, notOwner: 0, stamp: 0, refcount: 0 });
    }
    const blocks = results.map((r) => r.counts.allocs.reduce((s: number, n: number) => s + n, 0) + r.counts.bulkPages);
    expect(blocks).toEqual([9409 + 4759 + 2298 + 2209 + 18579, 9362 + 4651 + 2374 + 2278 + 18597]); // 37254, 37262
    expect(results.map((r) => r.counts.frees)).toEqual(blocks);
    expect(new Int32Array(owners).every((o) => o === 0)).toBe(true);

    // 7500 rounds × 4 get_page + 4 put_page per CPU on each shared page: the atomic _refcount
    // lost no update, so each is back at the main thread's one reference.
    for (const p of sharedRefs) expect(pa.pageCount(p)).toBe(1);
    expect(spinIsLocked(mem.i32, mem.machine + MACH_ZONE_LOCK)).toBe(false);
    expect(mem.diagTotal).toBe(0);

    for (const p of [...arrays, ...shared]) pa.freePages(p, 0);
    pa.putPage(compound + 2 * 64); // the last reference, through the tail
    // 4096 frames − 64 memmap − 2 boot − 1 slab root: the boot value, coalesced into the same
    // blocks per order as a machine that never ran (the 2 + 3 + 4 setup frames are back too).
    expect(pa.nrFree()).toBe(bootFree + 2 + 3 + 4);
    expect(pa.nrFree()).toBe(4029);
    const fresh = bootMachine({ bytes: 16 << 20 });
    const byOrder = Array.from({ length: MAX_PAGE_ORDER + 1 }, (_, o) => pa.nrFreeByOrder(o));
    expect(byOrder).toEqual([1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 3]);
    expect(byOrder).toEqual(Array.from({ length: MAX_PAGE_ORDER + 1 }, (_, o) => fresh.pa.nrFreeByOrder(o)));
    expect(bootByOrder.reduce((s, n, o) => s + (n << o), 0)).toBe(bootFree);

    const acc = accountFrames(mem);
    expect(acc.errors).toEqual([]);
    expect(acc.byClass.free).toBe(4029);
    assertAccounted(acc);
    expect(mem.diagTotal).toBe(0);
  });
});

describe("list_lock: two CPUs hammer kmalloc, kfree and a kmem_cache", () => {
  const plans = [
    { seed: 0x51ab0001, iters: 60_000, window: 160, keep: 40 },
    { seed: 0x51ab0002, iters: 60_000, window: 160, keep: 40 },
  ];
  const stub = { alloc: () => ({}), free: () => {} };
  /** The cache a plan kind is served from ("large" for the page allocator). */
  const cacheOf = (kind: number): string => {
    if (kind === -1) return TEST_CACHE_NAME;
    if (kind > 2048) return "large";
    return kmallocName(Math.max(8, 2 ** Math.ceil(Math.log2(kind))));
  };
  const expectedInUse = (): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const p of plans) for (const k of runSlabPlan(p, stub).kept) out[cacheOf(k)] = (out[cacheOf(k)] ?? 0) + 1;
    return out;
  };

  it("the plans are what the exact counts below pin", () => {
    // allocs: per SLAB_KINDS entry (mem_plan.mjs); zeroed: how many of them asked for __GFP_ZERO.
    const [a, b] = plans.map((p) => runSlabPlan(p, stub));
    expect(a!.counts).toEqual({
      allocs: [1266, 1299, 1269, 1172, 1266, 1241, 1277, 1215, 1226, 1241, 1291, 1278, 1213, 1231, 1241, 1282, 1276, 1225, 1271, 1212, 1278, 1247, 1235, 1326],
      frees: 30038,
      failed: 0,
      zeroed: 7107,
    });
    expect(b!.counts).toEqual({
      allocs: [1223, 1203, 1230, 1259, 1268, 1305, 1209, 1287, 1339, 1239, 1179, 1278, 1309, 1224, 1253, 1206, 1255, 1255, 1236, 1209, 1290, 1276, 1273, 1275],
      frees: 30040,
      failed: 0,
      zeroed: 7127,
    });
    expect(expectedInUse()).toEqual({
      "kmalloc-8": 6,
      "kmalloc-16": 2,
      "kmalloc-32": 5,
      [TEST_CACHE_NAME]: 11,
      "kmalloc-64": 22,
      "kmalloc-128": 6,
      "kmalloc-256": 5,
      "kmalloc-512": 1,
      "kmalloc-1k": 1,
      "kmalloc-2k": 11,
      large: 10,
    });
  });

  it("no object is handed to both CPUs, and every cache's in-use count is exactly the objects still held", async () => {
    const m = bootMachine({ bytes: 16 << 20, shared: true, cpus: NR_CPUS });
    const { mem, pa, slab } = m;
    const testCache = slab.kmemCacheCreate(TEST_CACHE_NAME, TEST_CACHE_SIZE);
    const bootFree = pa.nrFree();
    const owners = new SharedArrayBuffer(mem.bytes >>> 3);
    const ctl = new SharedArrayBuffer(16);

    const results = await runWorkers(
      "mem_slab_cpu.mjs",
      plans.map((plan, cpu) => ({ buffer: mem.buffer, owners, ctl, cpu, nrCpus: NR_CPUS, plan, testCache })),
    );

    for (const [cpu, plan] of plans.entries()) {
      const dry = runSlabPlan(plan, stub);
      expect(results[cpu].counts).toEqual(dry.counts);
      expect(results[cpu].kept.map((k: { kind: number }) => k.kind)).toEqual(dry.kept);
      expect(results[cpu].errors).toEqual({ dup: 0, notOwner: 0, stamp: 0, notZero: 0, ksize: 0 });
    }
    expect(results.map((r) => r.counts.allocs.reduce((s: number, n: number) => s + n, 0))).toEqual([30078, 30080]);

    // With 80 objects still out: each cache counts exactly its share, the large ones are typed
    // pages, and the owner table holds exactly those 80 claims.
    const want = expectedInUse();
    const inUse: Record<string, number> = {};
    for (let i = 0; i < slab.nrCaches(); i++) {
      const s = slab.cacheStats(slab.cacheAt(i));
      if (s.inUse !== 0) inUse[s.name] = s.inUse;
      expect(spinIsLocked(mem.i32, slab.cacheAt(i) + KC_LIST_LOCK)).toBe(false);
    }
    let large = 0;
    for (let pfn = 0; pfn < mem.nrFrames; pfn++) if (mem.rd32(mem.pfnToPage(pfn) + PAGE_TYPE) === PAGE_TYPE_LARGE_KMALLOC) large++;
    expect({ ...inUse, large }).toEqual(want);
    const own = new Uint8Array(owners);
    expect(own.reduce((n, o) => n + (o !== 0 ? 1 : 0), 0)).toBe(80);
    for (const r of results) for (const k of r.kept) expect(own[k.addr >>> 3]).toBe(r.cpu + 1);
    const mid = accountFrames(mem);
    expect(mid.errors).toEqual([]);
    assertAccounted(mid);
    expect(mem.diagTotal).toBe(0);

    // The main thread frees what the CPUs kept: every slab goes back, nothing is left over.
    for (const r of results) for (const k of r.kept) (k.kind === -1 ? slab.kmemCacheFree(testCache, k.addr) : slab.kfree(k.addr));
    for (let i = 0; i < slab.nrCaches(); i++) {
      const s = slab.cacheStats(slab.cacheAt(i));
      expect([s.name, s.inUse, s.slabs]).toEqual([s.name, 0, 0]);
    }
    expect(pa.nrFree()).toBe(bootFree);
    expect(bootFree).toBe(4029);
    const end = accountFrames(mem);
    expect(end.errors).toEqual([]);
    expect(end.byClass.free).toBe(4029);
    assertAccounted(end);
    expect(mem.diagTotal).toBe(0);
    expect(spinIsLocked(mem.i32, mem.machine + MACH_ZONE_LOCK)).toBe(false);
    expect(spinIsLocked(mem.i32, mem.machine + MACH_DIAG_LOCK)).toBe(false);
  });
});

describe("diag_lock, next_id and fail injection: two CPUs on the machine's shared counters", () => {
  it("every diagnostic is counted and logged once, ids are unique, an armed site fails exactly `times` calls", async () => {
    const m = bootMachine({ bytes: 4 << 20, shared: true, cpus: NR_CPUS });
    const { mem } = m;
    const DIAGS = 1_000_000;
    const IDS = 1_000_000;
    const FAIL_CALLS = 1_000_000;
    // Every 3rd call of 2 000 000 is a candidate (666 667), but the site is armed for 100 000 failures.
    mem.setFail(FailSite.KMALLOC, { interval: 3, times: 100_000 });
    const firstId = mem.nextId() + 1;
    const ctl = new SharedArrayBuffer(16);
    const seen = new SharedArrayBuffer(2 * IDS + 1);
    const results = await runWorkers(
      "mem_counters_cpu.mjs",
      [0, 1].map((cpu) => ({ buffer: mem.buffer, ctl, seen, firstId, cpu, nrCpus: NR_CPUS, kind: Diag.PP_WARN, site: FailSite.KMALLOC, diags: DIAGS, ids: IDS, failCalls: FAIL_CALLS })),
    );

    expect(mem.diagCount(Diag.PP_WARN)).toBe(2 * DIAGS);
    expect(mem.diagTotal).toBe(2 * DIAGS);
    const first = mem.diagFirst(Diag.PP_WARN)!;
    expect([0, 1]).toContain(first.a);
    expect(first.b).toBe(0);
    // The ring (256 slots) holds the last 256 reports: each CPU's last k, in its own order, no slot
    // written twice or skipped.
    const log = mem.diagLog();
    expect(log.length).toBe(256);
    const perCpu = [0, 1].map((cpu) => log.filter((r) => r.a === cpu).map((r) => r.b));
    expect(perCpu[0]!.length + perCpu[1]!.length).toBe(256);
    expect(log.every((r) => r.kind === Diag.PP_WARN && r.c === 0)).toBe(true);
    for (const bs of perCpu) expect(bs).toEqual(Array.from({ length: bs.length }, (_, i) => DIAGS - bs.length + i));

    // 2 000 000 ids, each handed out once: firstId … firstId + 1 999 999, none twice, none skipped.
    expect(results.map((r) => r.outOfRange)).toEqual([0, 0]);
    const seen8 = new Uint8Array(seen);
    expect(seen8.subarray(0, 2 * IDS).every((n) => n === 1)).toBe(true);
    expect(seen8[2 * IDS]).toBe(0);
    expect(mem.nextId()).toBe(firstId + 2 * IDS);

    expect(results[0].failed + results[1].failed).toBe(100_000);
    expect(mem.failInjected(FailSite.KMALLOC)).toBe(100_000);
    expect(spinIsLocked(mem.i32, mem.machine + MACH_DIAG_LOCK)).toBe(false);
  });
});

describe("no path leaves a lock held: a strict machine throws from every report", () => {
  it("zone->lock, list_lock and diag_lock are free after each KernelFault, and the allocators go on", () => {
    // Not shared: a lock left held would be "BUG: spinlock lockup suspected" at the next use.
    const { mem, pa, slab } = bootMachine({ bytes: 4 << 20, strict: true });
    const locks = () => [mem.machine + MACH_ZONE_LOCK, mem.machine + MACH_DIAG_LOCK, ...Array.from({ length: slab.nrCaches() }, (_, i) => slab.cacheAt(i) + KC_LIST_LOCK)];
    const throwsFault = (kind: Diag, f: () => void) => {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KernelFault);
      expect((err as KernelFault).kind).toBe(kind);
      for (const l of locks()) expect(spinIsLocked(mem.i32, l)).toBe(false);
    };
    const p = pa.allocPages(0);
    pa.freePages(p, 0);
    throwsFault(Diag.DOUBLE_FREE, () => pa.freePages(p, 0)); // reported after zone->lock is dropped
    throwsFault(Diag.BAD_PAGE_STATE, () => pa.getPage(p));
    const q = pa.allocPages(1);
    mem.wr64(q + PAGE_PP_MAGIC, 0xdead0000, 0xc0); // a page_pool page: free_pages_prepare() refuses it
    throwsFault(Diag.PAGE_POOL_LEAK, () => pa.freePages(q, 1));
    const obj = slab.kmalloc(64);
    slab.kfree(obj);
    throwsFault(Diag.KFREE_INVALID, () => slab.kfree(obj)); // reported after list_lock is dropped
    const big = slab.kmalloc(3 * 4096);
    slab.kfree(big);
    throwsFault(Diag.KFREE_INVALID, () => slab.kfree(big));
    const o2 = slab.kmalloc(32);
    throwsFault(Diag.KFREE_INVALID, () => slab.kmemCacheFree(slab.kmallocCache(64), o2));
    // Everything still works: the locks are really free.
    const r = pa.allocPages(0);
    expect(r).not.toBe(0);
    pa.freePages(r, 0);
    slab.kfree(o2);
    expect(slab.kmalloc(64)).not.toBe(0);
    mem.strict = false;
    mem.diag(Diag.PP_WARN, 1, 2);
    expect(mem.diagCount(Diag.PP_WARN)).toBe(1);
  });
});
