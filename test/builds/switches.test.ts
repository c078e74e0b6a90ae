/**
 * Each version boundary of page_pool.c the builds encode, shown on the two builds either side of it.
 * The commit named in each test is the one the build files cite (src/builds/*.ts).
 */
import { afterAll, describe, expect, it } from "vitest";
import { bootPpSystem, type PpSystem } from "../../src/pool/index.js";
import { PP_FLAG_DMA_MAP, PP_FLAG_DMA_SYNC_DEV, E2BIG, EINVAL } from "../../src/pool/page_pool.js";
import { NetStack } from "../../src/pool/stack.js";
import { netdevCreate, netdevUnregister } from "../../src/pool/netdev.js";
import { DMA_FROM_DEVICE } from "../../src/dma/index.js";
import { setServingSoftirq } from "../../src/smp/percpu.js";
import { PAGE_PP_REF_COUNT } from "../../src/mem/page.js";
import { PTR_RING_SIZE } from "../../src/pool/ptr_ring.js";
import { Diag } from "../../src/mem/diag.js";
import { allBuilds, findBuild, registerBuild, unregisterBuild, type KernelBuild, type TrackingLayout } from "../../src/builds/index.js";

function boot(kernel: string): PpSystem {
  return bootPpSystem(kernel, { bytes: 16 << 20 });
}

function ctx(sys: PpSystem, cpu: number, softirq: boolean): void {
  const mem = sys.m.mem;
  mem.bindCpu(cpu);
  setServingSoftirq(mem, softirq);
}

describe("page_pool_init()", () => {
  it("pool_size > 32768: -E2BIG through v6.16, clamped to 16384 from v6.18 (a1b501a8c6a8)", () => {
    const old = boot("v6.16");
    expect(old.pps.create({ poolSize: 32769 })).toBe(-E2BIG);
    const p = old.pps.create({ poolSize: 20000 });
    expect(old.m.mem.rd32(old.pps.ringOf(p) + PTR_RING_SIZE)).toBe(20000);
    const neu = boot("v6.18");
    const q = neu.pps.create({ poolSize: 32769 });
    expect(q).toBeGreaterThan(0);
    expect(neu.m.mem.rd32(neu.pps.ringOf(q) + PTR_RING_SIZE)).toBe(16384);
  });

  it("order > MAX_PAGE_ORDER: accepted by v6.18, -EINVAL on mainline (9954464d737d)", () => {
    expect(boot("v6.18").pps.create({ order: 11 })).toBeGreaterThan(0);
    expect(boot("mainline").pps.create({ order: 11 })).toBe(-EINVAL);
  });

  it("PP_FLAG_DMA_SYNC_DEV needs max_len on every build: 0 (unset) is -EINVAL", () => {
    for (const b of allBuilds()) {
      const sys = bootPpSystem(b, { bytes: 16 << 20 });
      const dev = sys.dma.deviceCreate("d");
      expect(sys.pps.create({ flags: PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV, dev }), b.name).toBe(-EINVAL);
      expect(sys.pps.create({ flags: PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV, dev, maxLen: 4096 }), b.name).toBeGreaterThan(0);
    }
  });
});

describe("page_pool_set_pp_info() and page_pool_return_page()", () => {
  it("pp_ref_count = 1: not on v6.6, set on v6.12 (v6.7: 'page_pool: unify frag_count handling')", () => {
    for (const [k, want] of [["v6.6", 0], ["v6.12", 1]] as const) {
      const sys = boot(k);
      const pool = sys.pps.create({});
      const page = sys.pps.allocPages(pool);
      expect(sys.m.mem.rd32(page + PAGE_PP_REF_COUNT), k).toBe(want);
    }
  });

  it("release order: v6.6 clears pp info before release_cnt++, v6.12 after (8ab79ed50cf1, devmem support)", () => {
    // A test build whose strategy records pages_state_release_cnt when clearPpInfo runs.
    const seen: number[] = [];
    const spy = (base: KernelBuild, id: number): KernelBuild => {
      const layout: TrackingLayout = {
        ...base.layout,
        name: `spy-${base.name}`,
        make: (c) => {
          const t = base.layout.make(c);
          const clear = t.clearPpInfo.bind(t);
          t.clearPpInfo = (pool, page) => {
            seen.push(c.m.mem.rd32(pool + c.pool.releaseCnt));
            clear(pool, page);
          };
          return t;
        },
      };
      return registerBuild({ ...base, name: `spy-${base.name}`, id, layout, isLayoutDefault: false });
    };
    const b66 = spy(findBuild("v6.6")!, 9101);
    const b612 = spy(findBuild("v6.12")!, 9102);
    try {
      for (const b of [b66, b612]) {
        const sys = bootPpSystem(b, { bytes: 16 << 20 });
        const pool = sys.pps.create({});
        const page = sys.pps.allocPages(pool);
        sys.m.pa.getPage(page);
        sys.pps.putFullPage(pool, page, false); // refcount 2: the pool releases it
        sys.m.pa.putPage(page);
      }
      expect(seen).toEqual([0, 1]);
    } finally {
      unregisterBuild(b66);
      unregisterBuild(b612);
    }
  });
});

describe("NAPI locality", () => {
  function pool(sys: PpSystem): number {
    return sys.pps.create({ poolSize: 256, napiCpu: 0 });
  }

  it("v6.1 has no NAPI tie: only an explicit allow_direct in softirq reaches the cache", () => {
    const sys = boot("v6.1");
    const p = pool(sys);
    const a = sys.pps.allocPages(p);
    const b = sys.pps.allocPages(p);
    const c = sys.pps.allocPages(p);
    const cached = sys.pps.cacheCount(p);
    ctx(sys, 0, false);
    sys.pps.recycleDirect(p, a); // process context: __page_pool_put_page() wants in_softirq()
    expect(sys.pps.ringCount(p)).toBe(1);
    ctx(sys, 0, true);
    sys.pps.recycleDirect(p, b);
    expect(sys.pps.cacheCount(p)).toBe(cached + 1);
    new NetStack(sys.pps, 8, { cpu: 0, inSoftirq: true }).skbFreePage(c); // the skb path: allow_direct false
    expect(sys.pps.ringCount(p)).toBe(2);
  });

  it("v6.6 decides locality only in napi_pp_put_page() (8c48eea3adf3); v6.12 in every put (4a96a4e807c3, v6.10)", () => {
    for (const [k, ringAfterPut] of [["v6.6", 1], ["v6.12", 0]] as const) {
      const sys = boot(k);
      const p = pool(sys);
      const a = sys.pps.allocPages(p);
      const b = sys.pps.allocPages(p);
      ctx(sys, 0, true); // softirq on the CPU polling the pool's NAPI
      const cached = sys.pps.cacheCount(p);
      sys.pps.putFullPage(p, a, false);
      expect(sys.pps.ringCount(p), k).toBe(ringAfterPut);
      // The skb free path on the NAPI CPU recycles directly on both.
      new NetStack(sys.pps, 8, { cpu: 0, inSoftirq: true }).skbFreePage(b);
      expect(sys.pps.cacheCount(p), k).toBe(cached + 2 - ringAfterPut);
      // From another CPU it never does (napi_pp_put_page() there; the machine has one stack stand-in).
      const c = sys.pps.allocPages(p);
      ctx(sys, 1, true);
      expect(sys.pps.napiPpPutPage(c)).toBe(true);
      expect(sys.pps.ringCount(p), k).toBe(ringAfterPut + 1);
    }
  });

  it("napi->list_owner is -1 once the NAPI is disabled: no direct recycling from then on", () => {
    const sys = boot("v6.12");
    const p = pool(sys);
    const a = sys.pps.allocPages(p);
    ctx(sys, 0, true);
    sys.pps.napiDisable(sys.pps.napiOf(p));
    sys.pps.putFullPage(p, a, false);
    expect(sys.pps.ringCount(p)).toBe(1);
  });

  it("destroy: v6.6 page_pool_unlink_napi() WARNs on a NAPI still polling; v6.12 disable_direct_recycling() too; v6.1 has no NAPI", () => {
    for (const [k, warns] of [["v6.1", 0], ["v6.6", 1], ["v6.12", 1]] as const) {
      const sys = boot(k);
      const p = pool(sys);
      sys.pps.destroy(p);
      expect(sys.m.mem.diagCount(Diag.PP_UNLINK_NAPI), k).toBe(warns);
    }
    const sys = boot("v6.6");
    const p = pool(sys);
    sys.pps.napiDisable(sys.pps.napiOf(p));
    sys.pps.destroy(p);
    expect(sys.m.mem.diagCount(Diag.PP_UNLINK_NAPI)).toBe(0);
  });
});

describe("the deferred release", () => {
  /** A DMA pool with one page out, destroyed, and 61 s of retries. */
  function stalled(kernel: string, withNetdev: boolean): PpSystem {
    const sys = boot(kernel);
    const dev = sys.dma.deviceCreate("0000:03:00.0");
    const nd = withNetdev ? netdevCreate(sys.pps, "eth0") : 0;
    const p = sys.pps.create({ flags: PP_FLAG_DMA_MAP, dev, dmaDir: DMA_FROM_DEVICE, netdev: nd });
    sys.pps.allocPages(p);
    sys.pps.destroy(p);
    if (nd) netdevUnregister(sys.pps, nd);
    sys.pps.advance(61_000);
    return sys;
  }

  it("stalled-shutdown warning: every pool, no id, up to v6.6; only pools without a netdev, with the id, from v6.8 ('mute the periodic warning for visible page pools')", () => {
    const old = stalled("v6.6", true);
    expect(old.m.mem.diagFirst(Diag.PP_STALLED_SHUTDOWN_OLD)?.text).toBe("page_pool_release_retry() stalled pool shutdown 1 inflight 60 sec");
    const muted = stalled("v6.12", true);
    expect(muted.m.mem.diagCount(Diag.PP_STALLED_SHUTDOWN) + muted.m.mem.diagCount(Diag.PP_STALLED_SHUTDOWN_OLD)).toBe(0);
    const orphan = stalled("v6.12", false);
    expect(orphan.m.mem.diagFirst(Diag.PP_STALLED_SHUTDOWN)?.text).toMatch(/^page_pool_release_retry\(\) stalled pool shutdown: id \d+, 1 inflight 60 sec$/);
  });

  it("negative in-flight: v6.12 reschedules forever, v6.15 stops (43130d02baa1)", () => {
    for (const [k, pending] of [["v6.12", true], ["v6.15", false]] as const) {
      const sys = boot(k);
      const p = sys.pps.create({});
      sys.pps.allocPages(p);
      // A driver bug: one release too many (as in 'Negative(-51446) inflight').
      const rc = p + sys.pps.o.releaseCnt;
      sys.m.mem.wr32(rc, sys.m.mem.rd32(rc) + 2);
      sys.pps.destroy(p);
      sys.pps.advance(5_000);
      expect(sys.pps.isLive(p), k).toBe(true);
      expect(sys.pps.timerExpires(p) !== 0, k).toBe(pending);
      expect(sys.m.mem.diagFirst(Diag.PP_NEGATIVE_INFLIGHT)?.text.split("\n")[0], k).toBe("Negative(-1) inflight packet-pages");
    }
  });
});

describe("DMA syncs", () => {
  it("a coherent device: v6.6 still syncs on recycle, v6.12 skips it (dma_dev_need_sync, v6.11)", () => {
    for (const [k, syncs] of [["v6.6", 2], ["v6.12", 0]] as const) {
      const sys = boot(k);
      const dev = sys.dma.deviceCreate("d", { coherent: true });
      const p = sys.pps.create({ flags: PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV, dev, dmaDir: DMA_FROM_DEVICE, maxLen: 4096 });
      const page = sys.pps.allocPages(p);
      const mapSyncs = sys.dma.deviceStats(dev).syncs;
      sys.pps.putFullPage(p, page, false);
      sys.pps.putFullPage(p, sys.pps.allocPages(p), false);
      expect(sys.dma.deviceStats(dev).syncs - mapSyncs, k).toBe(syncs);
    }
  });
});

describe("the switches per build", () => {
  // What each build says at each boundary; a change here is a change of what a kernel does.
  const table = Object.fromEntries(allBuilds().filter((b) => !b.name.includes("-")).map((b) => [b.name, b.switches]));
  afterAll(() => undefined);
  it("release producer-lock barrier from v6.16 (271683bb2cf3), not in v11's base", () => {
    expect(Object.entries(table).map(([k, s]) => [k, s.releaseProducerBarrier])).toEqual([
      ["v6.1", false], ["v6.6", false], ["v6.12", false], ["v6.15", false], ["v11", false], ["v6.16", true], ["v6.17", true], ["v6.18", true], ["v6.19", true], ["mainline", true],
    ]);
  });
  it("PREEMPT_RT excluded from direct recycling from v6.16 (32471b2f481d)", () => {
    expect(Object.entries(table).map(([k, s]) => [k, s.napiLocality])).toEqual([
      ["v6.1", "softirq"], ["v6.6", "napi_pp_put_page"], ["v6.12", "napi_local"], ["v6.15", "napi_local"], ["v11", "napi_local"],
      ["v6.16", "napi_local_rt"], ["v6.17", "napi_local_rt"], ["v6.18", "napi_local_rt"], ["v6.19", "napi_local_rt"], ["mainline", "napi_local_rt"],
    ]);
  });
});
