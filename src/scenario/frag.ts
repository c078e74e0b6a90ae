/**
 * `ppemu scenario frag`: the frag API on one kernel build, step by step (src/pool/frag.ts).
 *
 *   split    a driver takes fragments of `size` bytes (page_pool_alloc_frag); the page's
 *            pp_ref_count is BIAS_MAX and frag_users counts the fragments handed out
 *   return   the stack puts half of them; the next allocation finds the page exhausted, drains its
 *            bias (BIAS_MAX - frag_users: the fragments still out remain) and takes a new page;
 *            the last fragment of the old page recycles it
 *   destroy  page_pool_destroy() with fragments of the current page still out: page_pool_free_frag()
 *            drains it, the pool waits; the fragments come back later and the pool is freed
 *   full     a whole page (page_pool_alloc_pages) from the same kind of pool, put once: v6.7+ set
 *            pp_ref_count = 1 at set_pp_info; ≤ v6.6 left pp_frag_count 0, so the put underflows it
 *            (WARN_ON(ret < 0)) and the page never comes back
 *   double   a fragment put twice: with the machine's checks the emulator refuses the second put
 *            (ppemu: … put once too often); without, the kernel WARNs when destroy drains the page,
 *            which then stays in flight for ever
 *
 * Every frame is accounted for on every machine at the end.
 */
import { dmesgText } from "../report/dmesg.js";
import { bootPpSystem, ppClaimers, type PpSystem } from "../pool/index.js";
import { PP_FLAG_DMA_MAP, DEFER_TIME_MS } from "../pool/page_pool.js";
import { PageFrags, PP_FLAG_PAGE_FRAG, ppRefCountText, fragApiOf, type FragApi } from "../pool/frag.js";
import { DMA_FROM_DEVICE } from "../dma/index.js";
import { accountFrames } from "../mem/accounting.js";
import { DIAG_INFO, Diag } from "../mem/diag.js";
import { poolOffsetsOf } from "../pool/pool_offsets.js";
import { framesLost } from "./unbind.js";
import { resolveBuild } from "../builds/index.js";
import type { KernelBuild } from "../builds/types.js";
import { PpemuError, checkInt } from "../errors.js";

export const FRAG_DEFAULTS = { size: 1024, memBytes: 8 << 20 };

/** One step: the call, the page it touched (P0, P1, … in order of first use) and the state after it. */
export interface FragStep {
  readonly part: "split" | "destroy" | "full" | "double-checked" | "double-unchecked";
  readonly call: string;
  readonly page: string | null;
  readonly offset: number | null;
  /** The page's pp_ref_count after the call ("BIAS_MAX-2", "1", "-1"). */
  readonly pp_ref_count: string | null;
  readonly frag_users: number;
  readonly frag_offset: number;
  readonly inflight: number | null;
  /** Lines the call printed (kernel or ppemu), in order. */
  readonly printed: readonly string[];
}

export interface FragResult {
  readonly kernel: string;
  readonly layout: string;
  readonly api: FragApi;
  readonly size: number;
  readonly fragments_per_page: number;
  readonly steps: readonly FragStep[];
  /** Was the pool of the split/destroy part freed once every fragment came back? */
  readonly pool_freed: boolean;
  /** The full-page put: recycled (v6.7+) or stuck in flight after the WARN (≤ v6.6). */
  readonly full_page_put: "recycled" | "stuck";
  /** The double put with checks on: refused at the put. */
  readonly double_put_caught_at_put: boolean;
  /** The double put without checks: WARNed when destroy drained the page. */
  readonly double_put_warned_at_destroy: boolean;
  /** Pages left in flight on the unchecked machine (the double-put page). */
  readonly pages_stuck: number;
  readonly frames_lost: number;
  readonly diagnostics: readonly { readonly kind: string; readonly count: number }[];
}

export interface FragOptions {
  readonly kernel: KernelBuild | string;
  /** Fragment size in bytes, 1 … PAGE_SIZE / 2 (default 1024). */
  readonly size?: number;
  /** Gets the kernel log of each machine the scenario ran (with checks, then without), as dmesg prints it. */
  readonly onDmesg?: (text: string) => void;
}

/** Builds that have a frag API (every registered one with frag state in its struct page_pool). */
export function hasFragApi(b: KernelBuild): boolean {
  return fragApiOf(b, poolOffsetsOf(b.structs)) !== null;
}

/** A booted machine with one DMA device and a pool that may split pages. */
function machine(build: KernelBuild, checks: boolean) {
  const sys = bootPpSystem(build, { bytes: FRAG_DEFAULTS.memBytes, ppChecks: checks });
  const dev = sys.dma.deviceCreate("0000:03:00.0", { coherent: false });
  const frags = new PageFrags(sys.pps);
  const flags = PP_FLAG_DMA_MAP | (frags.api === "flag" ? PP_FLAG_PAGE_FRAG : 0);
  const create = (): number => {
    const pool = sys.pps.create({ flags, dev, dmaDir: DMA_FROM_DEVICE, poolSize: 256 });
    if (pool < 0) throw new Error(`ppemu: page_pool_create failed: ${pool}`);
    return pool;
  };
  sys.m.mem.bindCpu(0);
  return { sys, frags, create };
}

export function runFrag(opts: FragOptions): FragResult {
  if (opts === null || typeof opts !== "object") throw new PpemuError("EINVAL_ARG", "runFrag: options must be an object");
  const build = typeof opts.kernel === "string" ? resolveBuild(opts.kernel) : opts.kernel;
  const { sys, frags, create } = machine(build, true);
  const { pps } = sys;
  const mem = sys.m.mem;
  const size = checkInt("runFrag: size (at most PAGE_SIZE / 2)", opts.size ?? FRAG_DEFAULTS.size, 1, mem.pageSize >>> 1);
  const n = Math.floor(mem.pageSize / size);
  const steps: FragStep[] = [];
  const labels = new Map<number, string>();
  const label = (p: number): string | null => {
    if (p === 0) return null;
    let l = labels.get(p);
    if (l === undefined) labels.set(p, (l = `P${labels.size}`));
    return l;
  };
  const record = (s: PpSystem, f: PageFrags, pool: number, part: FragStep["part"], call: string, page: number, offset: number | null, before: number): void => {
    const m = s.m.mem;
    const log = m.diagLog();
    const fresh = Math.min(log.length, m.diagTotal - before);
    const st = f.state(pool);
    steps.push({
      part,
      call,
      page: label(page),
      offset,
      pp_ref_count: page === 0 ? null : ppRefCountText(f.ppRefCount(page)),
      frag_users: st.fragUsers,
      frag_offset: st.fragOffset,
      inflight: s.pps.isLive(pool) ? s.pps.inflight(pool) : null,
      printed: log.slice(log.length - fresh).map((r) => r.text),
    });
  };
  const step = (s: PpSystem, f: PageFrags, pool: number, part: FragStep["part"], call: string, fn: () => number, withOffset: boolean): number => {
    const before = s.m.mem.diagTotal;
    const page = fn();
    record(s, f, pool, part, call, page, withOffset ? f.offset : null, before);
    return page;
  };
  const put = (s: PpSystem, f: PageFrags, pool: number, part: FragStep["part"], page: number, what: string): void => {
    step(s, f, pool, part, `page_pool_put_full_page(${what})`, () => (s.pps.putFullPage(pool, page, false), page), false);
  };

  // split / return: n fragments of page P0, half of them back, one more → P1.
  const pool = create();
  const got: number[] = [];
  for (let i = 0; i < n; i++) got.push(step(sys, frags, pool, "split", `page_pool_alloc_frag(${size})`, () => frags.allocFrag(pool, size), true));
  const half = Math.ceil(n / 2);
  for (let i = 0; i < half; i++) put(sys, frags, pool, "split", got[i]!, `frag ${i}`);
  const next: number[] = [];
  next.push(step(sys, frags, pool, "split", `page_pool_alloc_frag(${size})`, () => frags.allocFrag(pool, size), true));
  for (let i = half; i < n; i++) put(sys, frags, pool, "split", got[i]!, `frag ${i}`);
  if (n > 1) next.push(step(sys, frags, pool, "split", `page_pool_alloc_frag(${size})`, () => frags.allocFrag(pool, size), true));
  // destroy with the fragments of P1 out, then they come back.
  const handle = pps.handle(pool);
  step(sys, frags, pool, "destroy", "page_pool_destroy()", () => (pps.destroy(handle), next[0]!), false);
  for (let i = 0; i < next.length; i++) put(sys, frags, pool, "destroy", next[i]!, `frag ${n + i}`);
  pps.advance(DEFER_TIME_MS);
  const poolFreed = !pps.isLive(pool);
  steps.push({ part: "destroy", call: `page_pool_release_retry() after ${DEFER_TIME_MS} ms`, page: null, offset: null, pp_ref_count: null, frag_users: 0, frag_offset: 0, inflight: null, printed: [poolFreed ? "(pool freed)" : "(pool still waiting)"] });

  // full: a whole page from a pool that splits pages, put once.
  const fpool = create();
  const full = step(sys, frags, fpool, "full", "page_pool_alloc_pages()", () => pps.allocPages(fpool), false);
  put(sys, frags, fpool, "full", full, "whole page");
  // Recycled: back in the pool's cache or ring; stuck: still out, with nobody left to return it.
  let fullStuck = true;
  pps.forEachPooledPage(fpool, (p) => {
    if (p === full) fullStuck = false;
  });
  pps.destroy(fpool);

  // double-checked: a fragment put twice on this machine (checks on).
  const dpool = create();
  const d0 = step(sys, frags, dpool, "double-checked", `page_pool_alloc_frag(${size})`, () => frags.allocFrag(dpool, size), true);
  const d1 = n > 1 ? step(sys, frags, dpool, "double-checked", `page_pool_alloc_frag(${size})`, () => frags.allocFrag(dpool, size), true) : 0;
  put(sys, frags, dpool, "double-checked", d0, "frag 0");
  if (d1 !== 0) put(sys, frags, dpool, "double-checked", d1, "frag 1");
  const caughtBefore = mem.diagCount(Diag.PP_DOUBLE_PUT);
  put(sys, frags, dpool, "double-checked", d0, "frag 0 again");
  const caught = mem.diagCount(Diag.PP_DOUBLE_PUT) > caughtBefore;
  pps.destroy(dpool);
  pps.advance(DEFER_TIME_MS);

  // double-unchecked: the same on a machine without checks.
  const u = machine(build, false);
  const upool = u.create();
  const u0 = step(u.sys, u.frags, upool, "double-unchecked", `page_pool_alloc_frag(${size})`, () => u.frags.allocFrag(upool, size), true);
  const u1 = n > 1 ? step(u.sys, u.frags, upool, "double-unchecked", `page_pool_alloc_frag(${size})`, () => u.frags.allocFrag(upool, size), true) : 0;
  put(u.sys, u.frags, upool, "double-unchecked", u0, "frag 0");
  if (u1 !== 0) put(u.sys, u.frags, upool, "double-unchecked", u1, "frag 1");
  put(u.sys, u.frags, upool, "double-unchecked", u0, "frag 0 again");
  const warnBefore = u.sys.m.mem.diagCount(Diag.PP_FRAG_WARN);
  const uh = u.sys.pps.handle(upool);
  step(u.sys, u.frags, upool, "double-unchecked", "page_pool_destroy()", () => (u.sys.pps.destroy(uh), u0), false);
  const warned = u.sys.m.mem.diagCount(Diag.PP_FRAG_WARN) > warnBefore;
  u.sys.pps.advance(DEFER_TIME_MS);
  const stuck = u.sys.pps.isLive(upool) ? u.sys.pps.inflight(upool) : 0;

  const lost = framesLost(accountFrames(mem, ppClaimers(sys))) + framesLost(accountFrames(u.sys.m.mem, ppClaimers(u.sys)));
  if (opts.onDmesg) for (const m of [mem, u.sys.m.mem]) opts.onDmesg(dmesgText(m));
  const diagnostics: { kind: string; count: number }[] = [];
  for (const m of [mem, u.sys.m.mem]) {
    for (const [k, info] of Object.entries(DIAG_INFO)) {
      const c = m.diagCount(Number(k));
      if (c === 0) continue;
      const have = diagnostics.find((d) => d.kind === info.name);
      if (have) have.count += c;
      else diagnostics.push({ kind: info.name, count: c });
    }
  }
  return {
    kernel: build.name,
    layout: build.layout.name,
    api: frags.api,
    size,
    fragments_per_page: n,
    steps,
    pool_freed: poolFreed,
    full_page_put: fullStuck ? "stuck" : "recycled",
    double_put_caught_at_put: caught,
    double_put_warned_at_destroy: warned,
    pages_stuck: stuck,
    frames_lost: lost,
    diagnostics,
  };
}
