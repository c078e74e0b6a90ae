/**
 * The story the emulator exists to tell: a NIC driver with a DMA-mapping page_pool hands pages to
 * the stack, the driver unbinds (VF disabled) while the stack still holds some, and the stack
 * returns them later while the pool lingers.
 *
 *   t=0      driver fills its RX ring: N pages from the pool (mapped through the device's IOMMU)
 *            M of them go up the stack (held as skbs on another CPU)
 *   unbind   driver returns its other N-M pages, page_pool_destroy(), then the device unbinds:
 *            its IOMMU domain is torn down
 *   later    the stack frees K of the M pages, spread over the window; page_pool_release_retry()
 *            runs every second and warns every 60 s; the pool is freed when nothing is in flight
 *
 * Classic shows the bug: M mappings outlive the driver and each late return unmaps (and syncs)
 * through a device that is gone. Item-block and xarray unmap the M pages at destroy; late returns
 * skip the DMA API. Every frame is accounted for at the end.
 */
import { bootPpSystem, ppClaimers, type PpSystem } from "../pool/index.js";
import { NetStack } from "../pool/stack.js";
import { PP_FLAG_DMA_MAP, PP_FLAG_DMA_SYNC_DEV, DEFER_TIME_MS } from "../pool/page_pool.js";
import { netdevCreate, netdevUnregister } from "../pool/netdev.js";
import { DMA_FROM_DEVICE } from "../dma/index.js";
import { setServingSoftirq } from "../smp/percpu.js";
import { PAGE_DMA_ADDR } from "../mem/page.js";
import { GFP_ZERO } from "../mem/buddy.js";
import { accountFrames, type FrameAccount } from "../mem/accounting.js";
import { DIAG_INFO, NR_DIAG_KINDS, diagLineCounts } from "../mem/diag.js";
import { resolveBuild } from "../builds/index.js";
import type { KernelBuild } from "../builds/types.js";
import { PpemuError, checkInt, showValue } from "../errors.js";
import { checkMemBytes } from "../mem/physmem.js";
import { checkProvider, providerAlive, providerResult, providerSetup, providerUnregister, providerUserClose, type UnbindProvider, type UnbindProviderResult } from "./unbind_provider.js";

/** Whether the run showed the bug: a mapping outlived the driver, or the DMA API was used after unbind. */
export type UnbindVerdict = "SHOWN" | "fixed" | "not exercised";

export interface UnbindOptions {
  /** The kernel build: a KernelBuild, a build name (`v6.12`) or a layout name for its default build. */
  readonly kernel: KernelBuild | string;
  /** Pages the driver allocates (N). */
  readonly pages?: number;
  /** Pages handed to the stack and still there at unbind (M <= N). */
  readonly inflight?: number;
  /** Pages the stack returns after unbind (K <= M); the rest stay held (leaked by the stack). */
  readonly lateReturns?: number;
  readonly poolSize?: number;
  /** Virtual ms after unbind over which the late returns are spread. */
  readonly windowMs?: number;
  readonly memBytes?: number;
  /** A cache-coherent device (`dma_dev_need_sync()` false: v6.11+ never syncs). Default false. */
  readonly coherent?: boolean;
  /** The pool names the driver's netdev (`pp_params.netdev`, v6.8+), unregistered at unbind. Default true. */
  readonly netdev?: boolean;
  /**
   * A memory provider on the driver's rx queue (src/scenario/unbind_provider.ts): the pool hands out
   * net_iovs of a devmem dma-buf instead of pages (v6.12+ builds). Default none.
   */
  readonly provider?: UnbindProvider;
}

export interface UnbindResult {
  readonly kernel: string;
  readonly layout: string;
  readonly pages_allocated: number;
  readonly inflight_at_unbind: number;
  readonly mappings_alive_at_unbind: number;
  readonly unmapped_by_destroy: number;
  readonly late_returns: number;
  readonly late_returns_without_dma: number;
  readonly unmaps_after_unbind: number;
  readonly syncs_after_unbind: number;
  readonly double_unmaps: number;
  readonly mappings_leaked: number;
  readonly frames_lost: number;
  /** Virtual ms from unbind until the pool was freed; null if it never was in the run. */
  readonly pool_freed_at_ms: number | null;
  /** Lines the emulated kernel printed (a multi-line report counts once). */
  readonly kernel_log_lines: number;
  /** The emulator's own `ppemu:` lines (the IOMMU's reports, misuse checks). */
  readonly ppemu_lines: number;
  /** The bug, shown or not: the one verdict `scenario`, `compare` and the report print. */
  readonly verdict: UnbindVerdict;
  /** The warnings by text template, with counts. */
  readonly diagnostics: readonly { readonly kind: string; readonly count: number; readonly first: string }[];
  readonly frames: Readonly<Record<string, number>>;
  /** With `provider`: the net_iovs and the binding (absent without one). */
  readonly provider?: UnbindProviderResult;
}

/** Virtual ms from boot to the driver's probe. */
export const UNBIND_PROBE_MS = 5000;

export const UNBIND_DEFAULTS = { pages: 256, inflight: 64, poolSize: 1024, windowMs: 120_000, memBytes: 32 << 20 };

/** The state a scenario run leaves behind, for `explain` and the tests. */
export interface UnbindRun {
  readonly sys: PpSystem;
  readonly stack: NetStack;
  readonly pool: number;
  readonly dev: number;
  readonly result: UnbindResult;
}

export type UnbindStep = "allocated" | "destroyed" | "unbound" | "end";
const UNBIND_STEPS: readonly UnbindStep[] = ["allocated", "destroyed", "unbound", "end"];
/** Largest `pages`: the RX ring's pointers in one 4 MiB kmalloc (order MAX_PAGE_ORDER of 4 KiB pages). */
export const UNBIND_PAGES_MAX = (4096 << 10) / 8;
/** Largest `windowMs`: one virtual day (86400 deferred retries at most), as `--window-ms`. */
export const UNBIND_WINDOW_MS_MAX = 86_400_000;

/**
 * Every option checked before the machine boots: a PpemuError ("EINVAL_ARG") naming the option,
 * the bad value and the valid range; an unknown build is a BuildError ("UNKNOWN_BUILD").
 */
export function runUnbind(opts: UnbindOptions, stopAt: UnbindStep = "end"): UnbindRun {
  if (opts === null || typeof opts !== "object") throw new PpemuError("EINVAL_ARG", `runUnbind: options must be an object, got ${showValue(opts)}`);
  if (!UNBIND_STEPS.includes(stopAt)) throw new PpemuError("EINVAL_ARG", `runUnbind: stopAt must be one of ${UNBIND_STEPS.join(", ")}, got ${showValue(stopAt)}`);
  if (typeof opts.kernel !== "string" && (opts.kernel === null || typeof opts.kernel !== "object")) {
    throw new PpemuError("EINVAL_ARG", `runUnbind: kernel must be a KernelBuild, a build name or a layout name, got ${showValue(opts.kernel)}`);
  }
  const memBytes = opts.memBytes ?? UNBIND_DEFAULTS.memBytes;
  const memErr = typeof memBytes === "number" ? checkMemBytes(memBytes) : `memory size must be a number of bytes, got ${showValue(memBytes)}`;
  if (memErr) throw new PpemuError("EINVAL_ARG", `runUnbind: memBytes: ${memErr}`);
  // A machine too small for `pages` allocates what it can; the driver's RX ring is one kmalloc of
  // n pointers, at most MAX_PAGE_ORDER pages of them.
  const n = checkInt("runUnbind: pages", opts.pages ?? UNBIND_DEFAULTS.pages, 0, UNBIND_PAGES_MAX);
  const mInflight = checkInt("runUnbind: inflight (at most pages)", opts.inflight ?? Math.min(UNBIND_DEFAULTS.inflight, n), 0, n);
  const k = checkInt("runUnbind: lateReturns (at most inflight)", opts.lateReturns ?? mInflight, 0, mInflight);
  const windowMs = checkInt("runUnbind: windowMs", opts.windowMs ?? UNBIND_DEFAULTS.windowMs, 0, UNBIND_WINDOW_MS_MAX);
  // pool_size is the kernel's unsigned int: page_pool_create() itself refuses what it refuses.
  const poolSize = checkInt("runUnbind: poolSize", opts.poolSize ?? UNBIND_DEFAULTS.poolSize, 0, 0xffffffff);
  for (const key of ["coherent", "netdev"] as const) {
    const v = opts[key];
    if (v !== undefined && typeof v !== "boolean") throw new PpemuError("EINVAL_ARG", `runUnbind: ${key} must be true or false, got ${showValue(v)}`);
  }

  const build = typeof opts.kernel === "string" ? resolveBuild(opts.kernel) : opts.kernel;
  const provider = checkProvider(opts.provider, build, opts.netdev ?? true);
  const sys = bootPpSystem(build, { bytes: memBytes });
  const { m, dma, pps } = sys;
  const mem = m.mem;
  // The driver probes UNBIND_PROBE_MS into boot, not at 0: CLOCK_BOOTTIME is then non-zero, so
  // page_pool_detached()'s detach-time is one netlink prints (it omits a zero).
  mem.advanceMs(UNBIND_PROBE_MS);
  const dev = dma.deviceCreate("0000:03:00.0", { coherent: opts.coherent ?? false });
  const netdev = (opts.netdev ?? true) ? netdevCreate(pps, "eth0") : 0;
  // A provider's dma-buf has one net_iov per page the driver allocates (at least one).
  const mp = provider !== undefined ? providerSetup(sys, netdev, Math.max(1, n)) : null;
  const pool = pps.create({
    flags: mp !== null ? mp.flags : PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV,
    queueIdx: mp?.queueIdx,
    poolSize,
    dev,
    dmaDir: DMA_FROM_DEVICE,
    maxLen: mem.pageSize,
    napiCpu: 0,
    netdev,
  });
  if (pool < 0) throw new Error(`page_pool_create failed: ${pool}`);
  const stack = new NetStack(pps, Math.max(64, mInflight), { cpu: 1, inSoftirq: true });

  // The driver's RX ring lives in the buffer too.
  const rx = m.slab.kmalloc(Math.max(8, n * 8), GFP_ZERO);
  mem.bindCpu(0);
  setServingSoftirq(mem, true);
  let allocated = 0;
  for (let i = 0; i < n; i++) {
    const page = pps.allocPages(pool);
    if (page === 0) break;
    mem.wrPagePtr(rx + i * 8, page);
    allocated++;
  }
  for (let i = 0; i < Math.min(mInflight, allocated); i++) {
    stack.hold(mem.rdPtr(rx + i * 8));
    mem.wr64(rx + i * 8, 0, 0);
  }
  const finish = (step: UnbindStep, fields: Partial<UnbindResult>): UnbindRun => ({
    sys,
    stack,
    pool,
    dev,
    result: summarize(sys, stack, dev, allocated, step, fields),
  });
  if (stopAt === "allocated") return finish(stopAt, {});

  // Unbind: the driver's remove path, in process context: napi_disable(), return the RX ring,
  // page_pool_destroy(), then unregister_netdev() (its pools move to loopback) and the unbind.
  setServingSoftirq(mem, false);
  pps.napiDisable(pps.napiOf(pool));
  for (let i = 0; i < allocated; i++) {
    const page = mem.rdPtr(rx + i * 8);
    if (page !== 0) pps.putFullPage(pool, page, false);
  }
  m.slab.kfree(rx);
  const unbindAt = mem.nowMs;
  pps.destroy(pool);
  const inflightAtUnbind = pps.isLive(pool) ? pps.inflight(pool) : 0;
  // In-flight pages whose mapping destroy removed: the IOMMU no longer translates their dma_addr to
  // them (v6.16 also zeroed dma_addr; mainline's scrub leaves it for the page's return).
  let unmappedByDestroy = 0;
  stack.forEachHeld((page) => {
    // A net_iov (NET_IOV, bit 0) was never mapped by the pool: the binding owns its dma address.
    if ((page & 1) !== 0) return;
    const iova = mem.rd32(page + PAGE_DMA_ADDR);
    if (iova === 0 || dma.iovaToPhys(dev, iova) !== mem.pageAddress(page)) unmappedByDestroy++;
  });
  if (stopAt === "destroyed") return finish(stopAt, { inflight_at_unbind: inflightAtUnbind, unmapped_by_destroy: unmappedByDestroy });
  if (netdev !== 0) {
    if (mp !== null) providerUnregister(sys, netdev);
    netdevUnregister(pps, netdev);
  }
  dma.deviceUnbind(dev);
  // The devmem user (its netlink socket) goes with the device: the binding keeps only the pool's ref.
  if (mp !== null) providerUserClose(sys, mp);
  const mpResult = (freedAt: number | null) => (mp !== null ? { provider: providerResult(sys, mp, inflightAtUnbind, freedAt) } : {});
  const aliveAtUnbind = dma.deviceStats(dev).outlivedDriver;
  if (stopAt === "unbound") {
    return finish(stopAt, { inflight_at_unbind: inflightAtUnbind, unmapped_by_destroy: unmappedByDestroy, mappings_alive_at_unbind: aliveAtUnbind, ...mpResult(null) });
  }

  // Late returns, evenly spread over the window, with the deferred retry running in between.
  let freedAt: number | null = pps.isLive(pool) ? null : 0;
  let bindingFreedAt: number | null = mp === null || providerAlive(sys, mp) ? null : 0;
  const check = () => {
    if (freedAt === null && !pps.isLive(pool)) freedAt = mem.nowMs - unbindAt;
    if (mp !== null && bindingFreedAt === null && !providerAlive(sys, mp)) bindingFreedAt = mem.nowMs - unbindAt;
  };
  for (let j = 0; j < k; j++) {
    pps.runUntil(unbindAt + Math.floor(((j + 1) * windowMs) / (k + 1)));
    check();
    stack.returnOldest();
    check();
  }
  // Step retry by retry, so the time the pool is freed is exact; pages still out keep it alive.
  const end = unbindAt + windowMs + 2 * DEFER_TIME_MS;
  while (pps.isLive(pool) && mem.nowMs < end) {
    const next = pps.timerExpires(pool);
    pps.runUntil(next !== 0 && next <= end ? next : end);
    check();
  }
  pps.runUntil(end);
  // A late return reaches the DMA API when it is synced on its way into the ring, or unmapped then
  // or when a retry drains it from the ring. Destroy already returned every page but the stack's,
  // so each unmap after unbind is a distinct late-returned page (unmapped once), and each sync one
  // at its return: the pages that reached the DMA API number max(unmaps, syncs) after unbind.
  const ds = dma.deviceStats(dev);
  const withoutDma = k - Math.min(k, Math.max(ds.unmapAfterUnbind, ds.syncAfterUnbind));
  return finish("end", {
    inflight_at_unbind: inflightAtUnbind,
    unmapped_by_destroy: unmappedByDestroy,
    mappings_alive_at_unbind: aliveAtUnbind,
    late_returns: k,
    late_returns_without_dma: withoutDma,
    pool_freed_at_ms: freedAt,
    ...mpResult(bindingFreedAt),
  });
}

/** Frame accounting with every claimer a scenario machine has (stack, pools, layout, IOMMU). */
export function scenarioFrames(sys: PpSystem, stack: NetStack): FrameAccount {
  return accountFrames(sys.m.mem, ppClaimers(sys, stack));
}

/**
 * Frames no owner accounts for: every owner of a scenario machine has a claimer, so a frame still
 * plain "allocated" has none — plus frames in no class, plus accounting errors (double owners).
 */
export function framesLost(acct: FrameAccount): number {
  const sum = Object.values(acct.byClass).reduce((a, b) => a + b, 0);
  return acct.total - sum + (acct.byClass.allocated ?? 0) + acct.errors.length;
}

/** SHOWN, fixed, or not exercised: with nothing in flight at unbind no build can show the bug. */
export function unbindVerdict(r: Pick<UnbindResult, "unmaps_after_unbind" | "syncs_after_unbind" | "mappings_alive_at_unbind" | "inflight_at_unbind">): UnbindVerdict {
  if (r.unmaps_after_unbind + r.syncs_after_unbind + r.mappings_alive_at_unbind > 0) return "SHOWN";
  return r.inflight_at_unbind === 0 ? "not exercised" : "fixed";
}

function summarize(
  sys: PpSystem,
  stack: NetStack,
  dev: number,
  allocated: number,
  step: UnbindStep,
  f: Partial<UnbindResult>,
): UnbindResult {
  const { m, dma } = sys;
  const mem = m.mem;
  const ds = dma.deviceStats(dev);
  // Mappings that outlived the driver and were never unmapped since (each late return unmaps once;
  // a page's dma_addr is no witness: mainline's scrub unmaps and leaves it).
  const leaked = step === "end" || step === "unbound" ? Math.max(0, ds.outlivedDriver - ds.unmapAfterUnbind) : 0;
  const acct = scenarioFrames(sys, stack);
  // From the per-kind counters and first records: the log ring keeps only the newest 256.
  const firsts = [];
  for (let kind = 0; kind < NR_DIAG_KINDS; kind++) {
    const first = mem.diagFirst(kind);
    if (first) firsts.push(first);
  }
  // In the order they first happened (a stable sort keeps kind order for ties).
  firsts.sort((x, y) => x.timeMs - y.timeMs);
  const diagnostics = firsts.map((f) => ({ kind: DIAG_INFO[f.kind]?.name ?? String(f.kind), count: mem.diagCount(f.kind), first: f.text }));
  const lines = diagLineCounts((k) => mem.diagCount(k));
  const r = {
    kernel: sys.build.name,
    layout: sys.build.layout.name,
    pages_allocated: allocated,
    inflight_at_unbind: f.inflight_at_unbind ?? 0,
    mappings_alive_at_unbind: f.mappings_alive_at_unbind ?? 0,
    unmapped_by_destroy: f.unmapped_by_destroy ?? 0,
    late_returns: f.late_returns ?? 0,
    late_returns_without_dma: f.late_returns_without_dma ?? 0,
    unmaps_after_unbind: ds.unmapAfterUnbind,
    syncs_after_unbind: ds.syncAfterUnbind,
    double_unmaps: ds.doubleUnmap,
    mappings_leaked: leaked,
    frames_lost: framesLost(acct),
    pool_freed_at_ms: f.pool_freed_at_ms === undefined ? null : f.pool_freed_at_ms,
    kernel_log_lines: lines.kernel,
    ppemu_lines: lines.ppemu,
    diagnostics,
    frames: acct.byClass,
  };
  return { ...r, verdict: unbindVerdict(r), ...(f.provider !== undefined ? { provider: f.provider } : {}) };
}
