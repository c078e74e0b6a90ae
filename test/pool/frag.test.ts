/**
 * The frag API (src/pool/frag.ts): offsets and pp_ref_count per step, the drain when a page is
 * exhausted, v6.6's PP_FLAG_PAGE_FRAG/pp_frag_count against v6.7+'s pp_ref_count, destroy with a
 * partial frag page, the double put (emulator check and kernel WARN), every frame accounted.
 */
import { type U64, u64 } from "../../src/u64.js";
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import Ajv2020Module from "ajv/dist/2020.js";
import { rig, accounted } from "./helpers.js";
import { bootPpSystem } from "../../src/pool/index.js";
import { PageFrags, PP_FLAG_PAGE_FRAG, BIAS_MAX_HI, BIAS_MAX_LO, unrefNetmem, fragApiOf, ppRefCountText } from "../../src/pool/frag.js";
import { poolOffsetsOf } from "../../src/pool/pool_offsets.js";
import { DEFER_TIME_MS } from "../../src/pool/page_pool.js";
import { Diag } from "../../src/mem/diag.js";
import { PAGE_PP_REF_COUNT } from "../../src/mem/page.js";
import { allBuilds, findBuild } from "../../src/builds/index.js";
import { runFrag } from "../../src/scenario/frag.js";
import { setServingSoftirq } from "../../src/smp/percpu.js";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";

const BIAS = (1n << 63n) - 1n;
/** A pp_ref_count's two words as the signed long they are (the test's arithmetic; the emulator keeps words). */
const big = (v: U64): bigint => BigInt.asIntN(64, (BigInt(v.hi) << 32n) | BigInt(v.lo));

/** A DMA-mapping pool on `build` that may split pages (PP_FLAG_PAGE_FRAG where the build needs it). */
function fragRig(build: string, opts: { checks?: boolean; flag?: boolean } = {}) {
  const b = findBuild(build)!;
  const needFlag = !b.switches.ppRefCountInit;
  const r = rig({ dma: true, flags: (opts.flag ?? needFlag) ? PP_FLAG_PAGE_FRAG : 0, poolSize: 256 }, build, { ppChecks: opts.checks ?? true });
  r.m.mem.bindCpu(0);
  return { ...r, f: new PageFrags(r.pps) };
}

const refWords = (mem: { u32: Uint32Array }, page: number) => [mem.u32[(page + PAGE_PP_REF_COUNT + 4) >>> 2], mem.u32[(page + PAGE_PP_REF_COUNT) >>> 2]];

describe("struct page_pool frag state", () => {
  // v6.1: p (56 bytes: 4 ints, dev, dma_dir, max_len, offset, pad, init_callback, init_arg), then
  // release_dw (88), disconnect, defer_start, defer_warn, pages_state_hold_cnt @168: frag_offset @172,
  // frag_page @176, frag_users @184. v6.6+: the frag group right after the 64-byte-aligned params
  // (06d0fbdad612; v6.9+ the 32-aligned group): frag_users @64, frag_page @72, frag_offset @80.
  it.each([
    ["v6.1", 184, 176, 172],
    ["v6.6", 64, 72, 80],
    ["v6.12", 64, 72, 80],
    ["v6.16", 64, 72, 80],
    ["mainline", 64, 72, 80],
  ])("%s: frag_users @%i, frag_page @%i, frag_offset @%i", (name, users, page, offset) => {
    const o = poolOffsetsOf(findBuild(name)!.structs);
    expect([o.fragUsers, o.fragPage, o.fragOffset]).toEqual([users, page, offset]);
  });

  it("the API: flag for v6.1/v6.6, unified for every v6.7+ build (v11 included)", () => {
    for (const b of allBuilds()) {
      const api = fragApiOf(b, poolOffsetsOf(b.structs));
      expect(api, b.name).toBe(b.switches.ppRefCountInit ? "unified" : "flag");
    }
    expect(fragApiOf(findBuild("v11")!, poolOffsetsOf(findBuild("v11")!.structs))).toBe("unified");
  });
});

describe("page_pool_alloc_frag", () => {
  it("splits a page: offsets, frag_users, frag_offset, pp_ref_count = BIAS_MAX", () => {
    const { m, pool, f } = fragRig("v6.12");
    const mem = m.mem;
    const seen: [number, number, number, number][] = [];
    let page = 0;
    for (let i = 0; i < 4; i++) {
      const p = f.allocFrag(pool, 1024);
      if (i === 0) page = p;
      expect(p).toBe(page);
      const s = f.state(pool);
      seen.push([f.offset, s.fragUsers, s.fragOffset, s.fragPage]);
      expect(refWords(mem, p)).toEqual([BIAS_MAX_HI, BIAS_MAX_LO]);
    }
    expect(seen).toEqual([
      [0, 1, 1024, page],
      [1024, 2, 2048, page],
      [2048, 3, 3072, page],
      [3072, 4, 4096, page],
    ]);
    expect(big(f.ppRefCount(page))).toBe(BIAS);
  });

  it("size 1500: offsets 0, 1500, then a new page at 0 while fragments are out", () => {
    const { pool, f } = fragRig("mainline");
    const a = f.allocFrag(pool, 1500);
    const offs = [f.offset];
    const b = f.allocFrag(pool, 1500);
    offs.push(f.offset);
    const c = f.allocFrag(pool, 1500); // 3000 + 1500 > 4096
    offs.push(f.offset);
    expect(offs).toEqual([0, 1500, 0]);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    // The drain left the two fragments still out: BIAS_MAX - (BIAS_MAX - 2) = 2.
    expect(big(f.ppRefCount(a))).toBe(2n);
    expect(f.state(pool)).toEqual({ fragUsers: 1, fragPage: c, fragOffset: 1500 });
  });

  it("a page whose fragments all came back is drained and reused; the stats differ v6.6 → v6.12", () => {
    const stat = (build: string) => {
      const { pps, pool, f } = fragRig(build);
      const a = f.allocFrag(pool, 2048);
      f.allocFrag(pool, 2048);
      pps.putFullPage(pool, a, false);
      pps.putFullPage(pool, a, false);
      expect(big(f.ppRefCount(a))).toBe(BIAS - 2n);
      const before = pps.stats(pool);
      const again = f.allocFrag(pool, 2048);
      expect(again).toBe(a);
      expect(f.offset).toBe(0);
      const after = pps.stats(pool);
      return { fast: after.alloc.fast! - before.alloc.fast!, cached: after.recycle.cached - before.recycle.cached, total: after.alloc.fast };
    };
    // v6.1/v6.6 page_pool_alloc_frag(): alloc_stat_inc(fast) for every fragment after the first and
    // for the reused page; v6.12+: recycle_stat_inc(cached) + alloc_stat_inc(fast) for the reuse only.
    expect(stat("v6.6")).toEqual({ fast: 1, cached: 0, total: 2 });
    expect(stat("v6.12")).toEqual({ fast: 1, cached: 1, total: 1 });
  });

  it("v6.6 WARNs without PP_FLAG_PAGE_FRAG; v6.12 needs no flag; size > PAGE_SIZE WARNs on both", () => {
    const old = fragRig("v6.6", { flag: false });
    expect(old.f.allocFrag(old.pool, 512)).toBe(0);
    expect(old.m.mem.diagFirst(Diag.PP_FRAG_WARN)!.text).toBe("WARNING: CPU: 0 PID: 1 at net/core/page_pool.c page_pool_alloc_frag");
    const now = fragRig("v6.12", { flag: false });
    expect(now.f.allocFrag(now.pool, 512)).not.toBe(0);
    expect(now.f.allocFrag(now.pool, 4097)).toBe(0);
    expect(now.m.mem.diagFirst(Diag.PP_FRAG_WARN)!.text).toBe("WARNING: CPU: 0 PID: 1 at net/core/page_pool.c page_pool_alloc_frag_netmem");
  });
});

describe("page_pool_alloc (v6.7+)", () => {
  it("more than half a page: a whole page; else a fragment that takes the rest when no other fits", () => {
    const { pool, f, m } = fragRig("v6.16");
    const whole = f.alloc(pool, 2049);
    expect([f.offset, f.size]).toEqual([0, 4096]);
    expect(refWords(m.mem, whole)).toEqual([0, 1]);
    const a = f.alloc(pool, 1500);
    expect([f.offset, f.size]).toEqual([0, 1500]);
    const b = f.alloc(pool, 1500);
    // 1500 + 1500 + 1500 > 4096: the second fragment gets 4096 - 1500 and frag_offset = max_size.
    expect(b).toBe(a);
    expect([f.offset, f.size, f.state(pool).fragOffset]).toEqual([1500, 2596, 4096]);
  });

  it("is not in v6.6", () => {
    const { pool, f } = fragRig("v6.6");
    expect(() => f.alloc(pool, 100)).toThrow(/page_pool_alloc\(\) is v6\.7\+/);
  });
});

describe("the put path with pp_ref_count > 1", () => {
  it("v6.6: a whole page from a PP_FLAG_PAGE_FRAG pool underflows pp_frag_count; v6.12 recycles it", () => {
    const old = fragRig("v6.6");
    const p = old.pps.allocPages(old.pool);
    expect(refWords(old.m.mem, p)).toEqual([0, 0]); // set_pp_info() leaves pp_frag_count alone
    old.pps.putFullPage(old.pool, p, false);
    expect(big(old.f.ppRefCount(p))).toBe(-1n);
    expect(old.m.mem.diagFirst(Diag.PP_FRAG_WARN)!.text).toBe("WARNING: CPU: 0 PID: 1 at include/net/page_pool/helpers.h page_pool_defrag_page");
    expect(old.pps.ringCount(old.pool)).toBe(0);
    const now = fragRig("v6.12");
    const q = now.pps.allocPages(now.pool);
    now.pps.putFullPage(now.pool, q, false);
    expect(now.pps.ringCount(now.pool)).toBe(1);
    expect(now.m.mem.diagCount(Diag.PP_FRAG_WARN)).toBe(0);
  });

  it("page_pool_ref_netmem takes one more reference: a page put twice comes back on the second put", () => {
    const { pps, pool, f } = fragRig("v6.16");
    const p = pps.allocPages(pool);
    f.refNetmem(p);
    expect(big(f.ppRefCount(p))).toBe(2n);
    pps.putFullPage(pool, p, false);
    expect(pps.ringCount(pool)).toBe(0);
    pps.putFullPage(pool, p, false);
    expect(pps.ringCount(pool)).toBe(1);
    expect(big(f.ppRefCount(p))).toBe(1n);
  });

  it("v6.6 without checks: page_pool_recycle_direct() of a fragment drops one pp_frag_count, no flat recycle", () => {
    const { pps, pool, f, m } = fragRig("v6.6", { checks: false });
    const a = f.allocFrag(pool, 2048);
    f.allocFrag(pool, 2048);
    const cached = pps.cacheCount(pool);
    setServingSoftirq(m.mem, true);
    pps.recycleDirect(pool, a);
    setServingSoftirq(m.mem, false);
    expect(big(f.ppRefCount(a))).toBe(BIAS - 1n);
    expect(pps.cacheCount(pool)).toBe(cached);
  });

  it("v6.6 pool without the flag never touches pp_frag_count on put", () => {
    const { pps, pool, m } = fragRig("v6.6", { flag: false });
    const p = pps.allocPages(pool);
    m.mem.wr64(p + PAGE_PP_REF_COUNT, 0, 7);
    pps.recycleDirect(pool, p);
    pps.putFullPage(pool, pps.allocPages(pool), false);
    expect(refWords(m.mem, p)).toEqual([0, 7]);
    expect(m.mem.diagCount(Diag.PP_FRAG_WARN)).toBe(0);
  });

  it("unrefNetmem: borrow across the words, the drain takes the high word first, negative WARNs", () => {
    const sys = bootPpSystem("mainline", { bytes: 1 << 22 });
    const mem = sys.m.mem;
    const w = sys.m.slab.kmalloc(8, 0);
    mem.wr64(w, 1, 0);
    expect(unrefNetmem(mem, 0, w, 0, 1, true, 2)).toBe(1);
    expect([mem.u32[(w + 4) >>> 2], mem.u32[w >>> 2]]).toEqual([0, 0xffffffff]);
    mem.wr64(w, BIAS_MAX_HI, BIAS_MAX_LO - 5);
    expect(unrefNetmem(mem, 0, w, BIAS_MAX_HI, BIAS_MAX_LO - 5, true, 2)).toBe(0); // read == nr
    expect([mem.u32[(w + 4) >>> 2], mem.u32[w >>> 2]]).toEqual([0, 1]); // v6.7+: reset to 1
    mem.wr64(w, BIAS_MAX_HI, BIAS_MAX_LO - 5);
    expect(unrefNetmem(mem, 0, w, BIAS_MAX_HI, BIAS_MAX_LO - 5, false, 1)).toBe(0);
    expect([mem.u32[(w + 4) >>> 2], mem.u32[w >>> 2]]).toEqual([BIAS_MAX_HI, BIAS_MAX_LO - 5]); // ≤ v6.6: left as it is
    mem.wr64(w, BIAS_MAX_HI, BIAS_MAX_LO - 3);
    expect(unrefNetmem(mem, 0, w, BIAS_MAX_HI, BIAS_MAX_LO - 2, false, 1)).toBe(-1); // one put too many
    expect([mem.u32[(w + 4) >>> 2], mem.u32[w >>> 2]]).toEqual([0xffffffff, 0xffffffff]);
    expect(mem.diagFirst(Diag.PP_FRAG_WARN)!.text).toBe("WARNING: CPU: 0 PID: 1 at include/net/page_pool/helpers.h page_pool_defrag_page");
    expect(ppRefCountText(u64(BIAS_MAX_HI, BIAS_MAX_LO - 3))).toBe("BIAS_MAX-3");
  });
});

describe("destroy with fragments out", () => {
  it.each(["v6.1", "v6.6", "v6.12", "v11", "mainline"])("%s: free_frag drains, the pool waits, the fragments return, every frame accounted", (build) => {
    const r = fragRig(build);
    const { pps, pool, f, m } = r;
    const a = f.allocFrag(pool, 1000);
    const b = f.allocFrag(pool, 1000);
    f.allocFrag(pool, 1000);
    pps.putFullPage(pool, b, false);
    const h = pps.handle(pool);
    pps.destroy(h);
    expect(big(f.ppRefCount(a))).toBe(2n); // BIAS_MAX - 1 put - (BIAS_MAX - 3 users)
    expect(m.mem.rdPtr(pool + pps.o.fragPage)).toBe(0);
    expect(pps.inflight(h)).toBe(1);
    pps.putFullPage(pool, a, false);
    pps.putFullPage(pool, a, false);
    pps.advance(DEFER_TIME_MS);
    expect(pps.isLive(pool)).toBe(false);
    expect(m.mem.diagTotal).toBe(0);
    expect(accounted(r).byClass["page_pool: in flight (driver)"]).toBeUndefined();
  });

  it("a frag page with every fragment back is returned by destroy itself", () => {
    const { pps, pool, f } = fragRig("v6.16");
    const a = f.allocFrag(pool, 100);
    pps.putFullPage(pool, a, false);
    pps.destroy(pool);
    expect(pps.isLive(pool)).toBe(false);
  });
});

describe("a fragment put once too often", () => {
  it("checks on: refused at the put with a ppemu: line; the pool is then freed normally", () => {
    const { pps, pool, f, m } = fragRig("v6.16");
    const a = f.allocFrag(pool, 2048);
    f.allocFrag(pool, 2048);
    pps.putFullPage(pool, a, false);
    pps.putFullPage(pool, a, false);
    pps.putFullPage(pool, a, false);
    expect(m.mem.diagCount(Diag.PP_DOUBLE_PUT)).toBe(1);
    expect(m.mem.diagFirst(Diag.PP_DOUBLE_PUT)!.text).toBe(
      `ppemu: page_pool_put_page: page 0x${a.toString(16)}: a fragment put once too often (2 handed out by page_pool_alloc_frag, pool 0x${pool.toString(16)})`,
    );
    expect(big(f.ppRefCount(a))).toBe(BIAS - 2n);
    pps.destroy(pool);
    expect(pps.isLive(pool)).toBe(false);
  });

  it("checks off: the kernel WARNs when destroy drains the page, which stays in flight (accounted)", () => {
    const r = fragRig("mainline", { checks: false });
    const { pps, pool, f, m } = r;
    const a = f.allocFrag(pool, 2048);
    f.allocFrag(pool, 2048);
    for (let i = 0; i < 3; i++) pps.putFullPage(pool, a, false);
    expect(m.mem.diagTotal).toBe(0);
    pps.destroy(pool);
    expect(m.mem.diagFirst(Diag.PP_FRAG_WARN)!.text).toBe("WARNING: CPU: 0 PID: 1 at include/net/page_pool/helpers.h page_pool_unref_netmem");
    expect(big(f.ppRefCount(a))).toBe(-1n);
    pps.advance(DEFER_TIME_MS * 3);
    expect(pps.inflight(pool)).toBe(1);
    expect(accounted(r).byClass["page_pool: in flight (driver)"]).toBe(1);
  });
});

describe("ppemu scenario frag", () => {
  it("every build with the API: the pool is freed, no frame lost; v6.1/v6.6 alone strand the whole page", () => {
    for (const b of allBuilds()) {
      if (fragApiOf(b, poolOffsetsOf(b.structs)) === null) continue;
      const r = runFrag({ kernel: b, size: 1024 });
      expect([r.kernel, r.pool_freed, r.frames_lost, r.double_put_caught_at_put, r.double_put_warned_at_destroy, r.pages_stuck]).toEqual([b.name, true, 0, true, true, 1]);
      expect(r.full_page_put, b.name).toBe(b.switches.ppRefCountInit ? "recycled" : "stuck");
      const split = r.steps.filter((s) => s.part === "split").map((s) => [s.page, s.offset, s.pp_ref_count]);
      expect(split, b.name).toEqual([
        ["P0", 0, "BIAS_MAX"],
        ["P0", 1024, "BIAS_MAX"],
        ["P0", 2048, "BIAS_MAX"],
        ["P0", 3072, "BIAS_MAX"],
        ["P0", null, "BIAS_MAX-1"],
        ["P0", null, "BIAS_MAX-2"],
        ["P1", 0, "BIAS_MAX"],
        ["P0", null, "1"],
        ["P0", null, "1"],
        ["P1", 1024, "BIAS_MAX"],
      ]);
    }
  });

  it("--json validates against schemas/scenario.schema.json (its frag shape); a bad --size is exit 2", async () => {
    const io = new BufferIo();
    expect(await main(["scenario", "frag", "--kernel", "v6.6,v6.16", "--json"], io)).toBe(0);
    const doc = JSON.parse(io.stdout) as { results: { kernel: string }[] };
    expect(doc.results.map((x) => x.kernel)).toEqual(["v6.6", "v6.16"]);
    const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof import("ajv/dist/2020.js").default;
    const schema = JSON.parse(readFileSync(new URL("../../schemas/scenario.schema.json", import.meta.url), "utf8")) as object;
    const v = new Ajv2020({ strict: true, allowUnionTypes: true }).compile(schema);
    expect(v(doc), JSON.stringify(v.errors)).toBe(true);
    expect(v({ ...doc, extra: 1 })).toBe(false);
    const bad = new BufferIo();
    expect(await main(["scenario", "frag", "--size", "5000"], bad)).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
  });
});
