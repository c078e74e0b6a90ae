import { describe, it, expect } from "vitest";
import { rig, accounted, context, allocN, ringPages, cachePages } from "./helpers.js";
import { NetStack, STACK_LAYOUT } from "../../src/pool/stack.js";
import { MACH_STACK } from "../../src/mem/physmem.js";
import { inSoftirq } from "../../src/smp/percpu.js";
import { Diag } from "../../src/mem/diag.js";
import { PAGE_REFCOUNT } from "../../src/mem/page.js";

const ZERO_RECYCLE = { cached: 0, cache_full: 0, ring: 0, ring_full: 0, released_refcnt: 0 };

describe("struct ppemu_stack", () => {
  it("lives in the buffer, hung off the machine header; a second NetStack attaches to it", () => {
    expect(STACK_LAYOUT.size).toBe(40);
    const r = rig({});
    expect(r.m.mem.rdPtr(r.m.mem.machine + MACH_STACK)).toBe(0);
    const s = new NetStack(r.pps, 8);
    expect(s.st).toBeGreaterThan(0);
    expect(r.m.mem.rdPtr(r.m.mem.machine + MACH_STACK)).toBe(s.st);
    const again = new NetStack(r.pps, 99, { cpu: 7 });
    expect(again.st).toBe(s.st);
    const [p] = allocN(r, r.pool, 1);
    s.hold(p!);
    expect(again.count).toBe(1);
  });
});

describe("hold / return", () => {
  it("FIFO: the oldest skb is freed first; counters in the buffer", () => {
    const r = rig({});
    const s = new NetStack(r.pps, 8);
    const pages = allocN(r, r.pool, 5);
    for (const p of pages) expect(s.hold(p)).toBe(true);
    expect(s.count).toBe(5);
    const held: number[] = [];
    s.forEachHeld((p) => held.push(p));
    expect(held).toEqual(pages);
    expect(s.returnOldest()).toBe(pages[0]);
    expect(s.returnOldest()).toBe(pages[1]);
    expect(s.count).toBe(3);
    expect(s.returned).toBe(2);
    expect(s.returnAll()).toBe(3);
    expect(s.returnOldest()).toBe(0);
    expect(s.count).toBe(0);
    expect(s.returned).toBe(5);
    expect(s.freedNonPp).toBe(0);
    // Default context: CPU 1 in softirq, not the pool's (no NAPI CPU): into the ring.
    expect(ringPages(r, r.pool)).toEqual(pages);
    expect(r.pps.stats(r.pool).recycle).toEqual({ ...ZERO_RECYCLE, ring: 5 });
    accounted(r, s);
  });

  it("a full stack refuses; the slots wrap around", () => {
    const r = rig({});
    const s = new NetStack(r.pps, 4);
    const pages = allocN(r, r.pool, 7);
    for (let i = 0; i < 4; i++) expect(s.hold(pages[i]!)).toBe(true);
    expect(s.hold(pages[4]!)).toBe(false);
    expect(s.count).toBe(4);
    s.returnOldest();
    s.returnOldest();
    expect(s.hold(pages[4]!)).toBe(true);
    expect(s.hold(pages[5]!)).toBe(true);
    expect(s.hold(pages[6]!)).toBe(false);
    const held: number[] = [];
    s.forEachHeld((p) => held.push(p));
    expect(held).toEqual([pages[2], pages[3], pages[4], pages[5]]);
    const a = accounted(r, s);
    expect(a.byClass["page_pool: in flight (stack)"]).toBe(4);
    expect(a.byClass["page_pool: in flight (driver)"]).toBe(1);
    expect(s.returnAll()).toBe(4);
  });

  it("pages that are not page_pool pages are freed with put_page", () => {
    const r = rig({});
    const s = new NetStack(r.pps, 8);
    const page = r.m.pa.allocPages(0);
    const compound = r.m.pa.allocPages(2);
    s.hold(page);
    s.hold(compound + 3 * 64); // a tail page of a plain compound page
    s.returnAll();
    expect(s.freedNonPp).toBe(2);
    expect(r.m.pa.inFreeBlock(r.m.mem.pageToPfn(page))).toBe(true);
    for (let i = 0; i < 4; i++) expect(r.m.pa.inFreeBlock(r.m.mem.pageToPfn(compound) + i)).toBe(true);
    expect(r.pps.stats(r.pool).recycle).toEqual(ZERO_RECYCLE);
    expect(r.m.mem.diagTotal).toBe(0);
    accounted(r, s);
  });

  it("a compound tail page is resolved to its head, which goes back to its pool", () => {
    const r = rig({ order: 2, dma: true });
    const s = new NetStack(r.pps, 8);
    const head = r.pps.allocPages(r.pool);
    s.hold(head + 2 * 64);
    s.returnOldest();
    expect(ringPages(r, r.pool)).toEqual([head]);
    expect(s.freedNonPp).toBe(0);
    expect(r.m.mem.diagTotal).toBe(0);
    accounted(r, s);
  });

  it("a page with another reference is released by the pool and survives", () => {
    const r = rig({ dma: true });
    const s = new NetStack(r.pps, 8);
    const [p] = allocN(r, r.pool, 1);
    r.m.pa.getPage(p!);
    s.hold(p!);
    s.returnOldest();
    expect(r.pps.stats(r.pool).recycle).toEqual({ ...ZERO_RECYCLE, released_refcnt: 1 });
    expect(r.m.mem.rd32(p! + PAGE_REFCOUNT)).toBe(1);
    expect(r.dma.deviceStats(r.dev).unmaps).toBe(1);
    r.m.pa.putPage(p!);
    expect(r.m.mem.diagTotal).toBe(0);
    accounted(r, s);
  });
});

describe("the context frees run in", () => {
  it("on the pool's NAPI CPU in softirq the put is napi-local: into the cache", () => {
    const r = rig({ napiCpu: 1 });
    const s = new NetStack(r.pps, 8, { cpu: 1, inSoftirq: true });
    const [p] = allocN(r, r.pool, 1);
    s.hold(p!);
    s.returnOldest();
    expect(cachePages(r, r.pool).at(-1)).toBe(p);
    expect(r.pps.stats(r.pool).recycle).toEqual({ ...ZERO_RECYCLE, cached: 1 });
  });

  it("outside softirq it is not, even on that CPU", () => {
    const r = rig({ napiCpu: 1 });
    const s = new NetStack(r.pps, 8, { cpu: 1, inSoftirq: false });
    const [p] = allocN(r, r.pool, 1);
    s.hold(p!);
    s.returnOldest();
    expect(ringPages(r, r.pool)).toEqual([p]);
  });

  it("the caller's CPU and softirq state are restored after each free", () => {
    // Four CPUs: the stack frees on CPU 3, and recycle stats are per CPU (nr_cpu_ids copies).
    const r = rig({ napiCpu: 0 }, "classic", { cpus: 4 });
    const s = new NetStack(r.pps, 8, { cpu: 3, inSoftirq: true });
    context(r, 0, false);
    const [p, q] = allocN(r, r.pool, 2);
    s.hold(p!);
    s.returnOldest();
    s.skbFreePage(q!);
    expect(r.m.mem.cpu).toBe(0);
    expect(inSoftirq(r.m.mem)).toBe(false);
    expect(r.pps.stats(r.pool).recycle).toEqual({ ...ZERO_RECYCLE, ring: 2 });
  });

  it("napiPpPutPage says whether the page was a page_pool page", () => {
    const r = rig({});
    const s = new NetStack(r.pps, 8);
    const [p] = allocN(r, r.pool, 1);
    expect(s.napiPpPutPage(p!)).toBe(true);
    const plain = r.m.pa.allocPages(0);
    expect(s.napiPpPutPage(plain)).toBe(false);
    expect(r.m.mem.rd32(plain + PAGE_REFCOUNT)).toBe(1);
    expect(r.m.mem.diagCount(Diag.PP_PUT_NOT_PP)).toBe(0);
  });
});
