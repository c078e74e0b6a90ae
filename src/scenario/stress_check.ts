/**
 * The stress run's checks, on CPU 0 after every round, when the pool has been freed and every
 * returner is idle. Two kinds: the machine's invariants (a page lost or held, a frame nobody
 * accounts for, a pool never freed) and what the emulated kernel did wrong (DMA-API errors, WARNs:
 * a race the build has). The checks:
 *  - the pool was freed: every page came back (none lost), and no CPU holds one;
 *  - every frame of the machine is accounted for (src/mem/accounting.ts);
 *  - every mapping was unmapped exactly once: `maps = unmaps + outlived_driver`, no double or
 *    unknown unmap, nothing live; for a build that fixes the bug nothing outlived the driver and
 *    no unmap or sync came after the unbind; for classic, each outlived mapping was unmapped once
 *    after it (the bug, by design);
 *  - no diagnostic a correct run does not print (a double put, a foreign put, a bad page, …).
 */
import type { PpSystem } from "../pool/index.js";
import { ppClaimers } from "../pool/index.js";
import type { KernelBuild } from "../builds/types.js";
import type { PhysMem } from "../mem/physmem.js";
import { accountFrames } from "../mem/accounting.js";
import { Diag, DIAG_INFO, NR_DIAG_KINDS } from "../mem/diag.js";
import { ownerIdx } from "./stress_layout.js";

export interface RoundCheck {
  /** The machine's own invariants that broke (pages, frames, the pool's freeing): the run stops. */
  readonly invariants: string[];
  /** What the emulated kernel did wrong: DMA-API errors, WARNs and BUGs it printed this round. */
  readonly kernel: string[];
  /** Diagnostics behind `kernel` (each one the kernel printed counts). */
  readonly kernelEvents: number;
  readonly unmapsAfterUnbind: number;
  readonly syncsAfterUnbind: number;
  readonly outlivedDriver: number;
  readonly stalledWarnings: number;
  /** Diagnostic counts after this round (the next round's baseline). */
  readonly baseline: number[];
}

/** The diagnostics a round may print: the stalled-shutdown warnings, and classic's unbind bug. */
const ALWAYS_ALLOWED = new Set<number>([Diag.PP_STALLED_SHUTDOWN, Diag.PP_STALLED_SHUTDOWN_OLD]);
const CLASSIC_BUG = new Set<number>([
  Diag.DMA_UNMAP_AFTER_UNBIND,
  Diag.DMA_SYNC_AFTER_UNBIND,
  Diag.DMA_MAPPING_OUTLIVES_DRIVER,
  Diag.DMA_DEBUG_PENDING,
]);

/** dma-debug's and the IOMMU's reports: counted through the device's counters instead. */
const DMA_API = new Set<number>([
  Diag.DMA_UNMAP_AFTER_UNBIND,
  Diag.DMA_SYNC_AFTER_UNBIND,
  Diag.DMA_DOUBLE_UNMAP,
  Diag.DMA_UNMAP_UNKNOWN,
  Diag.DMA_MAPPING_OUTLIVES_DRIVER,
  Diag.DMA_DEBUG_PENDING,
  Diag.DMA_SYNC_UNKNOWN,
]);

export function diagBaseline(mem: PhysMem): number[] {
  const out: number[] = [];
  for (let k = 0; k < NR_DIAG_KINDS; k++) out.push(mem.diagCount(k));
  return out;
}

export function checkRound(sys: PpSystem, build: KernelBuild, ctl: Int32Array, nrCpus: number, dev: number, pool: number, before: number[]): RoundCheck {
  const { pps, dma, m } = sys;
  const mem = m.mem;
  const v: string[] = [];
  const k: string[] = [];
  let kernelEvents = 0;
  // A layout that tracks in-flight DMA unmaps it at destroy: nothing may reach the device after unbind.
  const fixes = build.layout.tracksInflight;
  if (pps.isLive(pool)) v.push(`the pool was not freed: ${pps.inflight(pool)} pages still in flight`);
  const owner = ownerIdx(nrCpus);
  let held = 0;
  for (let pfn = 0; pfn < mem.nrFrames; pfn++) if (Atomics.load(ctl, owner + pfn) !== 0) held++;
  if (held !== 0) v.push(`${held} pages still held by returner CPUs`);

  // The device: every mapping unmapped exactly once, and (fixed builds) none after the unbind.
  const ds = dma.deviceStats(dev);
  if (ds.maps !== ds.unmaps + ds.outlivedDriver) k.push(`${ds.maps} maps, but ${ds.unmaps} unmaps before the unbind and ${ds.outlivedDriver} mappings alive at it`);
  if (ds.doubleUnmap !== 0) k.push(`${ds.doubleUnmap} double unmaps`);
  if (ds.unmapUnknown !== 0) k.push(`${ds.unmapUnknown} unmaps or syncs of no mapping`);
  if (ds.live !== 0) k.push(`${ds.live} mappings live after the round`);
  if (fixes) {
    if (ds.outlivedDriver !== 0) k.push(`${ds.outlivedDriver} mappings outlived the driver`);
    if (ds.unmapAfterUnbind !== 0) k.push(`${ds.unmapAfterUnbind} unmaps after the unbind`);
    if (ds.syncAfterUnbind !== 0) k.push(`${ds.syncAfterUnbind} syncs after the unbind`);
  } else if (ds.unmapAfterUnbind !== ds.outlivedDriver) {
    k.push(`${ds.outlivedDriver} mappings outlived the driver, but ${ds.unmapAfterUnbind} unmaps came after the unbind`);
  }

  // dma-debug prints only its first errors (num_errors): the device's counters count every one.
  kernelEvents += ds.doubleUnmap + ds.unmapUnknown + (fixes ? ds.outlivedDriver + ds.unmapAfterUnbind + ds.syncAfterUnbind : 0);

  const acct = accountFrames(mem, ppClaimers(sys));
  if (acct.errors.length > 0) v.push(`frame accounting: ${acct.errors.slice(0, 3).join("; ")}${acct.errors.length > 3 ? ` (+${acct.errors.length - 3} more)` : ""}`);
  const inFlight = Object.entries(acct.byClass).filter(([cls, n]) => cls.startsWith("page_pool:") && n > 0);
  if (inFlight.length > 0) v.push(`frames still claimed by a pool: ${inFlight.map(([c, n]) => `${c} ${n}`).join(", ")}`);

  const after = diagBaseline(mem);
  let stalled = 0;
  for (let kind = 0; kind < NR_DIAG_KINDS; kind++) {
    const n = after[kind]! - before[kind]!;
    if (n === 0) continue;
    if (ALWAYS_ALLOWED.has(kind)) {
      stalled += n;
      continue;
    }
    if (!fixes && CLASSIC_BUG.has(kind)) continue;
    const last = mem.diagLog().filter((r) => r.kind === kind).pop();
    k.push(`${n} × ${DIAG_INFO[kind]?.name ?? `diag ${kind}`}${last ? `: ${last.text}` : ""}`);
    if (!DMA_API.has(kind)) kernelEvents += n;
  }
  return {
    invariants: v,
    kernel: k,
    kernelEvents,
    unmapsAfterUnbind: ds.unmapAfterUnbind,
    syncsAfterUnbind: ds.syncAfterUnbind,
    outlivedDriver: ds.outlivedDriver,
    stalledWarnings: stalled,
    baseline: after,
  };
}
