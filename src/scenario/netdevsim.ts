/**
 * The kernel's own selftest of the unbind case, on the emulated kernel: the steps of
 * tools/testing/selftests/net/nl_netdev.py `page_pool_check()` (torvalds/linux, read_file id
 * 51858511652), driving a netdevsim netdev's link state and its debugfs `pp_hold` knob, with the
 * selftest's own checks, printed as KTAP.
 *
 *   page_pool_check(nf):                       the netdevsim side (drivers/net/netdevsim/netdev.c)
 *     down; 0 pools                            ndo_stop: napi_disable(), page_pool_destroy()
 *     up; ≥ 0 pools, inflight 0                ndo_open: nsim_create_page_pool() per rx queue
 *     down; 0 pools
 *     up; pp_hold y; inflight ≥ 1              nsim_pp_hold_write(): page_pool_dev_alloc_pages(rq[0])
 *     down; 1 pool, inflight 1, none attached  the destroyed pool lingers with its page (detach-time)
 *     up; 1 attached, 1 detached               a new pool beside the old one
 *     pp_hold n; busy-wait (2 s) for 1 pool    page_pool_put_full_page(…, false): the retry frees it
 *     down; 0 pools
 *     up; pp_hold y                            then nsim_destroy(): unregister (pools move to lo),
 *                                              the held page put "intentionally late to exercise
 *                                              the orphaning path"
 *
 * The pool netdevsim creates (nsim_create_page_pool(), id 327052229): order 0, pool_size
 * NSIM_RING_SIZE (256), NUMA_NO_NODE, `.napi = &rq->napi`, DMA_BIDIRECTIONAL, `.netdev`, no
 * PP_FLAG_* (netdevsim maps nothing). NetdevSimDev() has one queue, so one pool per `up`.
 *
 * The selftest reads `nf.page_pool_get({}, dump=True)` filtered on `pp.get("ifindex") ==
 * nsim.ifindex`. Here the same view comes from the machine's pool list (PagePools.forEachPool):
 * a pool is listed when its `slow.netdev` is a registered netdev other than loopback (an orphaned
 * pool's dump has no ifindex); `inflight` is `max(0, page_pool_inflight())` as
 * page_pool_nl_fill() puts it; "detach-time" is present on a live pool page_pool_destroy() ran on
 * (`user_cnt == 0`: page_pool_detached() stamped it because pages were in flight). The busy wait
 * is ksft_busy_wait(sleep=0.005, deadline=2) in virtual time, the deferred retry running between.
 *
 * Output: ksft_run() (tools/testing/selftests/net/lib/py/ksft.py, id 61085828) prints
 * `KTAP version 1`, `1..N`, one `ok N nl_netdev.<case>` per case (`# SKIP reason` as a directive),
 * failed checks as `# Check failed a != b` lines, and `# Totals: pass:… fail:… xfail:0 xpass:0
 * skip:… error:0`. The one case here is page_pool_check; its checks are listed as a KTAP subtest
 * (indented four spaces) before the case's result line, so each step shows ok / not ok. Builds
 * without the page-pool netlink family (before v6.8: no `user.id`, no `slow.netdev`) skip the case,
 * as the selftest cannot run there.
 */
import { dmesgText } from "../report/dmesg.js";
import { bootPpSystem, type PpSystem } from "../pool/index.js";
import { netdevCreate, netdevUnregister } from "../pool/netdev.js";
import { DMA_BIDIRECTIONAL } from "../dma/index.js";
import { pagePoolGetDump } from "../netlink/page_pool_nl.js";
import { UNBIND_PROBE_MS } from "./unbind.js";
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf } from "../mem/ctype.js";
import { STRUCT_PPEMU_NETDEV } from "../pool/netdev.js";
import { resolveBuild } from "../builds/index.js";
import type { KernelBuild } from "../builds/types.js";
import { PpemuError, showValue } from "../errors.js";

const ND = layoutOf(STRUCT_PPEMU_NETDEV, LP64);
const ND_IFINDEX = offsetOf(ND, "ifindex");

/** drivers/net/netdevsim/netdev.c `#define NSIM_RING_SIZE 256`. */
export const NSIM_RING_SIZE = 256;
/** KSFT_MAIN_NAME: the script's name without `.py`. */
export const KSFT_MAIN_NAME = "nl_netdev";
/** ksft_busy_wait()'s defaults as page_pool_check() calls it: sleep 0.005 s, deadline 2 s. */
const BUSY_WAIT_SLEEP_MS = 5;
const BUSY_WAIT_DEADLINE_MS = 2000;

export interface NetdevsimCheck {
  /** The step, in the words of the selftest's comment before it. */
  readonly step: string;
  /** The check as the selftest writes it (`ksft_eq(len(get_pp()), 0)`). */
  readonly check: string;
  readonly ok: boolean;
  /** ksft's `Check failed …` line when not ok. */
  readonly failure?: string;
}

export interface NetdevsimResult {
  readonly kernel: string;
  readonly layout: string;
  /** Why the case is skipped (no page-pool netlink), else null. */
  readonly skip: string | null;
  readonly checks: readonly NetdevsimCheck[];
  /** Every check ok (a skipped case counts as ok, as ksft counts a SKIP). */
  readonly ok: boolean;
  /** Virtual ms the busy wait after `pp_hold n` took until one pool was left (null: timed out or skipped). */
  readonly busy_wait_ms: number | null;
  /** Pools still on the machine after nsim_destroy() and its late put (the orphaning path). */
  readonly pools_left: number;
  /** The KTAP text ksft_run() would print for this case. */
  readonly ktap: string;
}

/** A pool as the selftest's dump shows it. */
interface PpView {
  readonly ifindex: number | undefined;
  readonly inflight: number;
  readonly detached: boolean;
}

function unsupported(sys: PpSystem): string | null {
  const o = sys.pps.o;
  if (o.userId >= 0 && o.netdev >= 0) return null;
  return `kernel ${sys.build.name} has no page-pool netlink (the netdev family's page-pool objects came in v6.8)`;
}

/**
 * `nf.page_pool_get({}, dump=True)`: the netdev family's dump as `ppemu netlink page-pool-get --dump`
 * builds it (src/netlink/page_pool_nl.ts), so the selftest's view and netlink's are one; "detached"
 * is the selftest's `"detach-time" in pp`.
 */
function dumpPools(sys: PpSystem): PpView[] {
  return pagePoolGetDump(sys).map((m) => ({
    ifindex: m["ifindex"] as number | undefined,
    inflight: m["inflight"] as number,
    detached: "detach-time" in m,
  }));
}

/** ksft's `repr` of a value in a Check failed line. */
const repr = (v: number | boolean): string => (typeof v === "boolean" ? (v ? "True" : "False") : String(v));

/** Run page_pool_check() on one build. */
export function runNetdevsimPpHold(opts: { readonly kernel: KernelBuild | string; readonly memBytes?: number; readonly onDmesg?: (text: string) => void }): NetdevsimResult {
  if (opts === null || typeof opts !== "object") throw new PpemuError("EINVAL_ARG", `runNetdevsimPpHold: options must be an object, got ${showValue(opts)}`);
  const build = typeof opts.kernel === "string" ? resolveBuild(opts.kernel) : opts.kernel;
  const sys = bootPpSystem(build, { bytes: opts.memBytes ?? 8 << 20 });
  // The selftest runs on a booted machine: CLOCK_BOOTTIME is past 0, so a detach-time is printed.
  sys.m.mem.advanceMs(UNBIND_PROBE_MS);
  const skip = unsupported(sys);
  const checks: NetdevsimCheck[] = [];
  if (skip !== null) {
    opts.onDmesg?.(dmesgText(sys.m.mem));
    return finish(sys, skip, checks, null, 0);
  }

  const { pps } = sys;
  const mem = sys.m.mem;
  // NetdevSimDev(): one netdevsim port, registered (alloc_netdev_mq(…, "eth%d", …)), link down.
  const netdev = netdevCreate(pps, "eth0");
  const ifindex = mem.rd32(netdev + ND_IFINDEX);
  let pool = 0; // rq[0]->page_pool while the link is up
  let held = 0; // ns->page
  // The pool `page->pp` names (netmem_get_pp()): kept here, since the item-block layout's word is an item.
  let heldPool = 0;

  const up = (): void => {
    if (pool !== 0) return;
    // nsim_open() → nsim_init_napi() → nsim_create_page_pool().
    pool = pps.create({ order: 0, poolSize: NSIM_RING_SIZE, dmaDir: DMA_BIDIRECTIONAL, napiCpu: 0, netdev });
    if (pool <= 0) throw new Error(`page_pool_create failed: ${pool}`);
  };
  const down = (): void => {
    if (pool === 0) return;
    // nsim_stop() → nsim_del_napi(): napi_disable(), then page_pool_destroy().
    pps.napiDisable(pps.napiOf(pool));
    pps.destroy(pool);
    pool = 0;
  };
  const ppHold = (y: boolean): void => {
    if (y === (held !== 0)) return;
    if (y) {
      if (pool === 0) return; // -ENETDOWN
      held = pps.allocPages(pool);
      heldPool = held !== 0 ? pool : 0;
    } else {
      // page_pool_put_full_page(page->pp, page, false): the pool the page names, maybe a destroyed one.
      pps.putFullPage(heldPool, held, false);
      held = heldPool = 0;
    }
  };
  const getPp = (): PpView[] => dumpPools(sys).filter((p) => p.ifindex === ifindex);
  const eq = (step: string, check: string, a: number, b: number) =>
    checks.push(a === b ? { step, check, ok: true } : { step, check, ok: false, failure: `Check failed ${repr(a)} != ${repr(b)}` });
  const ge = (step: string, check: string, a: number, b: number) =>
    checks.push(a >= b ? { step, check, ok: true } : { step, check, ok: false, failure: `Check failed ${repr(a)} < ${repr(b)}` });
  const refsOf = (l: readonly PpView[]) => l.reduce((s, p) => s + p.inflight, 0);

  let step = "No page pools when down";
  down();
  eq(step, "ksft_eq(len(get_pp()), 0)", getPp().length, 0);

  step = "Up, empty page pool appears";
  up();
  let ppList = getPp();
  ge(step, "ksft_ge(len(pp_list), 0)", ppList.length, 0);
  eq(step, "ksft_eq(refs, 0)", refsOf(ppList), 0);

  step = "Down, it disappears, again";
  down();
  eq(step, "ksft_eq(len(pp_list), 0)", getPp().length, 0);

  step = "Up, allocate a page";
  up();
  ppHold(true);
  ge(step, "ksft_ge(refs, 1)", refsOf(getPp()), 1);

  step = "Now let's leak a page";
  down();
  ppList = getPp();
  eq(step, "ksft_eq(len(pp_list), 1)", ppList.length, 1);
  eq(step, "ksft_eq(refs, 1)", refsOf(ppList), 1);
  eq(step, "ksft_eq(len(attached), 0)", ppList.filter((p) => !p.detached).length, 0);

  step = "New pp can get created, and we'll have two";
  up();
  ppList = getPp();
  eq(step, "ksft_eq(len(attached), 1)", ppList.filter((p) => !p.detached).length, 1);
  eq(step, "ksft_eq(len(detached), 1)", ppList.filter((p) => p.detached).length, 1);

  step = "Free the old page and the old pp is gone";
  ppHold(false);
  // ksft_busy_wait(lambda: len(get_pp()) == 1, deadline=2): "Freeing check is once a second".
  const start = mem.nowMs;
  const end = start + BUSY_WAIT_DEADLINE_MS;
  let waited: number | null = null;
  for (;;) {
    if (getPp().length === 1) {
      waited = mem.nowMs - start;
      break;
    }
    if (mem.nowMs > end) break;
    pps.runUntil(mem.nowMs + BUSY_WAIT_SLEEP_MS);
  }
  checks.push(
    waited !== null
      ? { step, check: "ksft_busy_wait(lambda: len(get_pp()) == 1, deadline=2)", ok: true }
      : { step, check: "ksft_busy_wait(lambda: len(get_pp()) == 1, deadline=2)", ok: false, failure: "Waiting for condition timed out" },
  );

  step = "And down...";
  down();
  eq(step, "ksft_eq(len(get_pp()), 0)", getPp().length, 0);

  // "Last, leave the page hanging for destroy, nothing to check": up, pp_hold y, then the
  // NetdevSimDev context exits: nsim_destroy() unregisters the netdev (ndo_stop destroys the pool,
  // page_pool_unreg_netdev() moves it to loopback) and puts the held page last.
  up();
  ppHold(true);
  down();
  netdevUnregister(pps, netdev);
  if (held !== 0) ppHold(false);
  pps.runUntil(mem.nowMs + 2 * BUSY_WAIT_DEADLINE_MS);
  let left = 0;
  pps.forEachPool(() => void left++);
  opts.onDmesg?.(dmesgText(sys.m.mem));
  return finish(sys, null, checks, waited, left);
}

function finish(sys: PpSystem, skip: string | null, checks: readonly NetdevsimCheck[], busyWaitMs: number | null, left: number): NetdevsimResult {
  const ok = checks.every((c) => c.ok);
  return {
    kernel: sys.build.name,
    layout: sys.build.layout.name,
    skip,
    checks,
    ok,
    busy_wait_ms: busyWaitMs,
    pools_left: left,
    ktap: ktapText(skip, checks, ok),
  };
}

/**
 * ksft_run([page_pool_check]) as KTAP, with the case's checks as a subtest: the `Check failed`
 * lines of a failed check follow its `not ok` line, as ksft_pr() prints them (`# …`).
 */
export function ktapText(skip: string | null, checks: readonly NetdevsimCheck[], ok: boolean): string {
  const name = `${KSFT_MAIN_NAME}.page_pool_check`;
  const lines = ["KTAP version 1", "1..1"];
  if (skip !== null) {
    lines.push(`ok 1 ${name} # SKIP ${skip}`);
    lines.push("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0");
    return lines.join("\n") + "\n";
  }
  lines.push("    KTAP version 1", `    1..${checks.length}`);
  checks.forEach((c, i) => {
    lines.push(`    ${c.ok ? "" : "not "}ok ${i + 1} ${c.step}: ${c.check}`);
    if (!c.ok && c.failure !== undefined) lines.push(`    # ${c.failure}`);
  });
  lines.push(`${ok ? "" : "not "}ok 1 ${name}`);
  lines.push(`# Totals: pass:${ok ? 1 : 0} fail:${ok ? 0 : 1} xfail:0 xpass:0 skip:0 error:0`);
  return lines.join("\n") + "\n";
}
