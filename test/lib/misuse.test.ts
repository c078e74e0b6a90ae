/**
 * Misuse of the library's public entry points: each is refused with one PpemuError (code and
 * message pinned) and leaves the machine's buffer as it was, or — where the kernel itself carries
 * on — records one diagnostic in the kernel's or the emulator's words. Every case has a short
 * timeout: several of them used to spin for ever.
 */
import { describe, expect, it } from "vitest";
import {
  bootPpSystem,
  bootMachine,
  runUnbind,
  NetStack,
  PpemuError,
  BuildError,
  Diag,
  formatDiag,
  PP_FLAG_DMA_MAP,
  MAX_RETRIES_PER_CALL,
  type PpSystem,
  type PpemuErrorCode,
} from "../../src/index.js";
import { DEFAULT_NR_CPUS } from "../../src/mem/physmem.js";

const T = 2000;
const MiB = 1 << 20;
const VALID_BUILDS =
  "valid: v6.1, v6.6, v6.12, v6.15, v11, v6.16, v6.17, v6.18, v6.19, mainline, v7-encoded-next, v7.1-rc-netpp, memdesc-item; " +
  "or a layout: classic, item-block, xarray, encoded-next, netpp, memdesc-item";

/** `fn` throws a PpemuError with exactly this code and message. */
function refused(fn: () => unknown, code: PpemuErrorCode, message: string): PpemuError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(PpemuError);
  const e = err as PpemuError;
  expect({ code: e.code, message: e.message }).toEqual({ code, message });
  return e;
}

/** `fn` is refused as above and the buffer is byte for byte what it was. */
function refusedUnchanged(sys: PpSystem, fn: () => unknown, code: PpemuErrorCode, message: string): void {
  const before = sys.m.mem.u8.slice();
  refused(fn, code, message);
  expect(Buffer.compare(Buffer.from(sys.m.mem.u8), Buffer.from(before))).toBe(0);
}

const hex = (v: number) => "0x" + v.toString(16);

/** A v6.12 machine (the v6.8+ stall warning, pools without a netdev warn) with a device and a DMA pool. */
function machine(build = "v6.12") {
  const sys = bootPpSystem(build, { bytes: 8 * MiB });
  const dev = sys.dma.deviceCreate("eth0");
  const pool = sys.pps.create({ flags: PP_FLAG_DMA_MAP, dev });
  expect(pool).toBeGreaterThan(0);
  return { ...sys, dev, pool };
}

/** A pool destroyed with one page still with the driver: alive, `user_cnt` 0, retrying every second. */
function stalled(build = "v6.12") {
  const r = machine(build);
  const page = r.pps.allocPages(r.pool);
  expect(page).toBeGreaterThan(0);
  r.pps.destroy(r.pool);
  expect(r.pps.isLive(r.pool)).toBe(true);
  expect(r.pps.inflight(r.pool)).toBe(1);
  return { ...r, page };
}

describe("PhysMemOptions", () => {
  const PS = 'PhysMemOptions.pageSize must be one of "4k", "16k", "64k", got';
  it("a page size that is none of 4k, 16k, 64k: refused (it used to boot a 1-byte page for ever)", () => {
    refused(() => bootPpSystem("classic", { pageSize: "8k" as never }), "EINVAL_ARG", `${PS} "8k"`);
    refused(() => bootMachine({ pageSize: 4096 as never }), "EINVAL_ARG", `${PS} 4096`);
    refused(() => bootMachine({ pageSize: "bogus" as never }), "EINVAL_ARG", `${PS} "bogus"`);
    refused(() => bootMachine({ pageSize: "4K" as never }), "EINVAL_ARG", `${PS} "4K"`);
    expect(bootMachine({ bytes: 4 * MiB, pageSize: "16k" }).mem.pageSize).toBe(16384);
  }, T);

  it("bytes and cpus out of range, flags of the wrong type", () => {
    refused(() => bootMachine({ bytes: 1000 }), "EINVAL_ARG", "PhysMemOptions.bytes: memory size must be between 1 MiB and 2 GiB, got 1000 bytes");
    refused(() => bootMachine({ bytes: NaN }), "EINVAL_ARG", "PhysMemOptions.bytes: memory size must be between 1 MiB and 2 GiB, got NaN bytes");
    refused(() => bootMachine({ bytes: "8M" as never }), "EINVAL_ARG", 'PhysMemOptions.bytes: memory size must be a number of bytes, got "8M"');
    refused(() => bootMachine({ bytes: MiB + 4096, pageSize: "64k" }), "EINVAL_ARG", "PhysMemOptions.bytes: memory size must be a multiple of the page size (65536)");
    refused(() => bootMachine({ bytes: 2 * MiB, cpus: 0 }), "EINVAL_ARG", "PhysMemOptions.cpus must be an integer 1 … 64, got 0");
    refused(() => bootMachine({ bytes: 2 * MiB, cpus: 1.5 }), "EINVAL_ARG", "PhysMemOptions.cpus must be an integer 1 … 64, got 1.5");
    refused(() => bootMachine({ bytes: 2 * MiB, strict: "yes" as never }), "EINVAL_ARG", 'PhysMemOptions.strict must be true or false, got "yes"');
    refused(() => bootMachine(null as never), "EINVAL_ARG", "PhysMemOptions must be an object, got null");
  }, T);
});

describe("builds", () => {
  it("an unknown build name is a BuildError (a PpemuError, UNKNOWN_BUILD); no build at all is EINVAL_ARG", () => {
    const e = refused(() => bootPpSystem("Classic"), "UNKNOWN_BUILD", `unknown kernel build 'Classic' (${VALID_BUILDS})`);
    expect(e).toBeInstanceOf(BuildError);
    expect(e.name).toBe("BuildError");
    refused(() => runUnbind({ kernel: "bogus" }), "UNKNOWN_BUILD", `unknown kernel build 'bogus' (${VALID_BUILDS})`);
    refused(() => bootPpSystem(undefined as never), "EINVAL_ARG", "bootPpSystem: build must be a KernelBuild, a build name or a layout name, got undefined");
    refused(() => bootPpSystem(42 as never), "EINVAL_ARG", "bootPpSystem: build must be a KernelBuild, a build name or a layout name, got 42");
  }, T);
});

describe("runUnbind options", () => {
  it("every count an integer in range, checked before the machine boots", () => {
    const k = { kernel: "classic" };
    refused(() => runUnbind({ ...k, pages: -1 }), "EINVAL_ARG", "runUnbind: pages must be an integer 0 … 524288, got -1");
    refused(() => runUnbind({ ...k, pages: 1.5 }), "EINVAL_ARG", "runUnbind: pages must be an integer 0 … 524288, got 1.5");
    refused(() => runUnbind({ ...k, pages: NaN }), "EINVAL_ARG", "runUnbind: pages must be an integer 0 … 524288, got NaN");
    refused(() => runUnbind({ ...k, pages: 2, inflight: 5 }), "EINVAL_ARG", "runUnbind: inflight (at most pages) must be an integer 0 … 2, got 5");
    refused(() => runUnbind({ ...k, pages: 8, inflight: 4, lateReturns: 5 }), "EINVAL_ARG", "runUnbind: lateReturns (at most inflight) must be an integer 0 … 4, got 5");
    refused(() => runUnbind({ ...k, poolSize: NaN }), "EINVAL_ARG", "runUnbind: poolSize must be an integer 0 … 4294967295, got NaN");
    refused(() => runUnbind({ ...k, windowMs: 1e12 }), "EINVAL_ARG", "runUnbind: windowMs must be an integer 0 … 86400000, got 1000000000000");
    refused(() => runUnbind({ ...k, windowMs: Infinity }), "EINVAL_ARG", "runUnbind: windowMs must be an integer 0 … 86400000, got Infinity");
    refused(() => runUnbind({ ...k, memBytes: 3 }), "EINVAL_ARG", "runUnbind: memBytes: memory size must be between 1 MiB and 2 GiB, got 3 bytes");
    refused(() => runUnbind({ ...k, coherent: 1 as never }), "EINVAL_ARG", "runUnbind: coherent must be true or false, got 1");
    refused(() => runUnbind({ kernel: undefined as never }), "EINVAL_ARG", "runUnbind: kernel must be a KernelBuild, a build name or a layout name, got undefined");
    refused(() => runUnbind(k, "later" as never), "EINVAL_ARG", 'runUnbind: stopAt must be one of allocated, destroyed, unbound, end, got "later"');
    // In range, the kernel's own refusal stays the kernel's (page_pool_create: -E2BIG).
    expect(() => runUnbind({ kernel: "v6.12", poolSize: 40_000 }, "allocated")).toThrow("page_pool_create failed: -7");
  }, T);
});

describe("PagePoolParams and NetStack", () => {
  it("params of the wrong type are refused before anything is allocated; the kernel's errnos stay", () => {
    const sys = bootPpSystem("classic", { bytes: 8 * MiB });
    const { pps } = sys;
    refusedUnchanged(sys, () => pps.create({ poolSize: NaN }), "EINVAL_ARG", "PagePoolParams.poolSize must be an integer, got NaN");
    refusedUnchanged(sys, () => pps.create({ poolSize: 1.5 }), "EINVAL_ARG", "PagePoolParams.poolSize must be an integer, got 1.5");
    refusedUnchanged(sys, () => pps.create({ order: 0.5 }), "EINVAL_ARG", "PagePoolParams.order must be an integer, got 0.5");
    refusedUnchanged(sys, () => pps.create({ flags: "1" as never }), "EINVAL_ARG", 'PagePoolParams.flags must be an integer, got "1"');
    refusedUnchanged(sys, () => pps.create({ maxLen: Infinity }), "EINVAL_ARG", "PagePoolParams.maxLen must be an integer, got Infinity");
    refusedUnchanged(sys, () => pps.create({ dev: -1 }), "EINVAL_ARG", "PagePoolParams.dev (a pointer; 0 for none) must be an integer 0 … 4294967295, got -1");
    refusedUnchanged(sys, () => pps.create({ napiCpu: 5 }), "EINVAL_ARG", "PagePoolParams.napiCpu must be -1 (none) or one of the machine's CPUs 0 … 1, got 5");
    refusedUnchanged(sys, () => pps.create(null as never), "EINVAL_ARG", "PagePools.create: params must be a PagePoolParams object, got null");
    const free = sys.m.pa.nrFree();
    expect(pps.create({ poolSize: -1 })).toBe(-22);
    expect(pps.create({ order: -1 })).toBe(-22);
    expect(sys.m.pa.nrFree()).toBe(free);
  }, T);

  it("NetStack: a CPU the machine does not have, a bad cap", () => {
    const sys = bootPpSystem("classic", { bytes: 8 * MiB });
    expect(DEFAULT_NR_CPUS).toBe(2);
    refusedUnchanged(sys, () => new NetStack(sys.pps, 64, { cpu: 7 }), "EINVAL_ARG", "NetStack: cpu 7 is not one of the machine's 2 CPUs (0 … 1)");
    refusedUnchanged(sys, () => new NetStack(sys.pps, 64, { cpu: -1 }), "EINVAL_ARG", "NetStack: cpu -1 is not one of the machine's 2 CPUs (0 … 1)");
    refusedUnchanged(sys, () => new NetStack(sys.pps, 0), "EINVAL_ARG", "NetStack: cap must be an integer 1 … 524288, got 0");
    refusedUnchanged(sys, () => new NetStack(sys.pps, 64, { inSoftirq: 1 as never }), "EINVAL_ARG", "NetStack: inSoftirq must be true or false, got 1");
    expect(new NetStack(sys.pps, 64, { cpu: 1 }).count).toBe(0);
  }, T);
});

describe("pool pointers that are no pool", () => {
  it("destroy / stats / inflight / cacheCount / ringCount of what was never a pool: NOT_A_POOL, nothing written", () => {
    const r = machine();
    const live = `live pools: ${hex(r.pool)}`;
    for (const fn of ["destroy", "stats", "inflight", "cacheCount", "ringCount", "napiOf", "timerExpires", "poolId"] as const) {
      refusedUnchanged(r, () => r.pps[fn](0x4040), "NOT_A_POOL", `PagePools.${fn}: 0x4040 is no live page_pool of this machine (${live})`);
    }
    refusedUnchanged(r, () => r.pps.forEachPooledPage(0x4040, () => {}), "NOT_A_POOL", `PagePools.forEachPooledPage: 0x4040 is no live page_pool of this machine (${live})`);
    refusedUnchanged(r, () => r.pps.stats("pool" as never), "EINVAL_ARG", 'PagePools.stats: a pool must be a pool pointer or a PoolHandle, got "pool"');
    refusedUnchanged(r, () => r.pps.stats(-1), "EINVAL_ARG", "PagePools.stats: a pool must be a pool pointer or a PoolHandle, got -1");
    // NULL stays the kernel's no-op.
    const before = r.m.mem.u8.slice();
    r.pps.destroy(0);
    expect(Buffer.compare(Buffer.from(r.m.mem.u8), Buffer.from(before))).toBe(0);
    const empty = bootPpSystem("classic", { bytes: 8 * MiB });
    refusedUnchanged(empty, () => empty.pps.stats(0x4040), "NOT_A_POOL", "PagePools.stats: 0x4040 is no live page_pool of this machine (it has no live pool)");
  }, T);

  it("a freed pool: POOL_FREED (stats used to read poison as counters, destroy to decrement it)", () => {
    const r = machine();
    r.pps.destroy(r.pool);
    expect(r.pps.isLive(r.pool)).toBe(false);
    for (const fn of ["destroy", "stats", "inflight", "cacheCount", "ringCount"] as const) {
      refusedUnchanged(r, () => r.pps[fn](r.pool), "POOL_FREED", `PagePools.${fn}: pool ${hex(r.pool)} was destroyed and freed`);
    }
  }, T);

  it("allocPages (checks on) of what was never a pool says so; of a freed pool, that it is destroyed", () => {
    const r = machine();
    const free = r.m.pa.nrFree();
    expect(r.pps.allocPages(12345)).toBe(0);
    expect(r.m.mem.diagCount(Diag.PP_ALLOC_NO_POOL)).toBe(1);
    expect(r.m.mem.diagCount(Diag.PP_ALLOC_AFTER_DESTROY)).toBe(0);
    expect(r.m.mem.diagLog().at(-1)!.text).toBe("ppemu: page_pool_alloc_pages: 0x3039 is no page_pool");
    expect(formatDiag(Diag.PP_ALLOC_NO_POOL, 0x3039, 0)).toBe("ppemu: page_pool_alloc_pages: 0x3039 is no page_pool");
    r.pps.destroy(r.pool);
    expect(r.pps.allocPages(r.pool)).toBe(0);
    expect(r.m.mem.diagCount(Diag.PP_ALLOC_AFTER_DESTROY)).toBe(1);
    expect(r.m.mem.diagLog().at(-1)!.text).toBe(`ppemu: page_pool_alloc_pages: pool ${hex(r.pool)} is destroyed`);
    expect(r.m.pa.nrFree()).toBeGreaterThanOrEqual(free);
  }, T);
});

describe("destroying a pool twice", () => {
  it("while it lingers (user_cnt 0): the kernel's refcount_t underflow WARN, and the pool is left as it was", () => {
    const r = stalled();
    const o = r.pps.o;
    const pool = r.m.mem.u8.slice(r.pool, r.pool + o.size);
    const users = r.m.mem.rd32(r.pool + o.userCnt);
    expect(users).toBe(0);
    const total = r.m.mem.diagTotal;
    r.pps.destroy(r.pool);
    expect(r.m.mem.diagCount(Diag.PP_REFCOUNT_UNDERFLOW)).toBe(1);
    expect(r.m.mem.diagTotal).toBe(total + 1);
    const text = "refcount_t: underflow; use-after-free.\nWARNING: CPU: 0 PID: 1 at lib/refcount.c refcount_warn_saturate";
    expect(r.m.mem.diagLog().at(-1)!.text).toBe(text);
    expect(formatDiag(Diag.PP_REFCOUNT_UNDERFLOW, r.pool, 0)).toBe(text);
    expect(Buffer.compare(Buffer.from(r.m.mem.u8.slice(r.pool, r.pool + o.size)), Buffer.from(pool))).toBe(0);
    expect(r.pps.isLive(r.pool)).toBe(true);
    expect(r.pps.inflight(r.pool)).toBe(1);
  }, T);
});

describe("pool handles", () => {
  it("a stale handle is caught after its pool's memory is reused by a new pool", () => {
    const r = machine();
    const h = r.pps.handle(r.pool);
    expect(h.pool).toBe(r.pool);
    expect(r.pps.checkHandle(h)).toBe(r.pool);
    expect(r.pps.stats(h)).toEqual(r.pps.stats(r.pool));
    r.pps.destroy(h);
    refusedUnchanged(r, () => r.pps.checkHandle(h), "POOL_FREED", `PagePools.checkHandle: pool ${hex(r.pool)} (generation ${h.generation}) was destroyed and freed`);
    // The next pool of the same size gets the same slab object.
    const again = r.pps.create({ flags: PP_FLAG_DMA_MAP, dev: r.dev });
    expect(again).toBe(r.pool);
    const h2 = r.pps.handle(again);
    expect(h2.generation).toBeGreaterThan(h.generation);
    const stale = (fn: string) => `PagePools.${fn}: stale handle: pool ${hex(r.pool)} generation ${h.generation} was freed; its memory now holds pool generation ${h2.generation}`;
    for (const fn of ["checkHandle", "destroy", "stats", "inflight", "cacheCount", "ringCount"] as const) {
      refusedUnchanged(r, () => r.pps[fn](h), "STALE_POOL", stale(fn));
    }
    expect(r.pps.checkHandle(h2)).toBe(again);
    refusedUnchanged(r, () => r.pps.handle(0x4040), "NOT_A_POOL", `PagePools.handle: 0x4040 is no live page_pool of this machine (live pools: ${hex(again)})`);
    refusedUnchanged(r, () => r.pps.checkHandle({ pool: again, generation: -1 }), "EINVAL_ARG", `PagePools.checkHandle: a pool must be a pool pointer or a PoolHandle, got {"pool":${again},"generation":-1}`);
  }, T);
});

describe("p.dev that is no device", () => {
  const why = (pool: number) => `ppemu: page_pool ${hex(pool)}: p.dev is no device: dma_map_page_attrs() would oops`;

  it("dev 0: create succeeds (the kernel does not check), every map is refused with the reason", () => {
    const sys = bootPpSystem("classic", { bytes: 8 * MiB });
    const pool = sys.pps.create({ flags: PP_FLAG_DMA_MAP });
    expect(pool).toBeGreaterThan(0);
    expect(sys.pps.allocPages(pool)).toBe(0);
    expect(sys.m.mem.diagCount(Diag.PP_DEV_NOT_DEVICE)).toBe(64);
    expect(sys.m.mem.diagCount(Diag.PP_WARN)).toBe(0);
    expect(sys.m.mem.diagLog()[0]!.text).toBe(why(pool));
    expect(sys.pps.inflight(pool)).toBe(0);
  }, T);

  it("a pointer that is no device (here: a kmalloc'ed buffer) is refused the same way, nothing mapped", () => {
    const sys = bootPpSystem("classic", { bytes: 8 * MiB });
    const dev = sys.dma.deviceCreate("eth0");
    const notDev = sys.m.slab.kmalloc(256);
    const pool = sys.pps.create({ flags: PP_FLAG_DMA_MAP, dev: notDev });
    expect(pool).toBeGreaterThan(0);
    expect(sys.pps.allocPages(pool)).toBe(0);
    expect(sys.m.mem.diagCount(Diag.PP_DEV_NOT_DEVICE)).toBe(64);
    expect(sys.m.mem.diagLog()[0]!).toMatchObject({ a: pool, b: notDev, text: why(pool) });
    expect(sys.dma.deviceStats(dev).maps).toBe(0);
  }, T);
});

describe("advance / runUntil", () => {
  it("non-finite, negative or fractional time: refused, nothing changes", () => {
    const r = stalled();
    const now = r.m.mem.nowMs;
    const adv = (v: string) => `PagePools.advance: ms must be an integer 0 … ${Number.MAX_SAFE_INTEGER - now} (virtual ms from now, ${now}), got ${v}`;
    refusedUnchanged(r, () => r.pps.advance(Infinity), "EINVAL_ARG", adv("Infinity"));
    refusedUnchanged(r, () => r.pps.advance(1e300), "EINVAL_ARG", adv("1e+300"));
    refusedUnchanged(r, () => r.pps.advance(-1), "EINVAL_ARG", adv("-1"));
    refusedUnchanged(r, () => r.pps.advance(NaN), "EINVAL_ARG", adv("NaN"));
    refusedUnchanged(r, () => r.pps.advance(0.5), "EINVAL_ARG", adv("0.5"));
    const until = (v: string) => `PagePools.runUntil: the time must be an integer number of virtual ms 0 … ${Number.MAX_SAFE_INTEGER}, got ${v}`;
    refusedUnchanged(r, () => r.pps.runUntil(Infinity), "EINVAL_ARG", until("Infinity"));
    refusedUnchanged(r, () => r.pps.runUntil(-5), "EINVAL_ARG", until("-5"));
  }, T);

  it("a huge advance with a stalled pool returns at once: TIME_LIMIT, nothing changes", () => {
    const r = stalled();
    const t0 = performance.now();
    const due = Math.floor((1e12 - 1000) / 1000) + 1;
    refusedUnchanged(
      r,
      () => r.pps.advance(1e12),
      "TIME_LIMIT",
      `PagePools.advance(1000000000000): up to ${due} page_pool_release_retry() runs would fall due (pools with pages in flight: ${hex(r.pool)}); one call runs at most ${MAX_RETRIES_PER_CALL} (advance in shorter steps, or return the pages)`,
    );
    expect(performance.now() - t0).toBeLessThan(200);
    // With no pool stalled, any distance is one step.
    const idle = bootPpSystem("classic", { bytes: 8 * MiB });
    idle.pps.advance(1e12);
    expect(idle.m.mem.nowMs).toBe(1e12);
  }, T);

  it("an hour of a stalled pool runs every retry, a warning every 60 s, fast", () => {
    const r = stalled();
    const t0 = performance.now();
    r.pps.advance(3_600_000);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(r.m.mem.nowMs).toBe(3_600_000);
    expect(r.m.mem.diagCount(Diag.PP_STALLED_SHUTDOWN)).toBe(60);
    expect(r.m.mem.rd64(r.pool + r.pps.o.destroyCnt)).toBe(1 + 3600);
    expect(r.pps.timerExpires(r.pool)).toBe(3_601_000);
    // The page comes back: the next retry frees the pool.
    r.pps.putFullPage(r.pool, r.page, false);
    r.pps.advance(1000);
    expect(r.pps.isLive(r.pool)).toBe(false);
  }, T);
});
