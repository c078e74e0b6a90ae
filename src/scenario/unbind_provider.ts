/**
 * The unbind scenario with a memory provider (`ppemu scenario unbind --provider devmem`): the
 * driver's rx queue 0 is bound to a devmem dma-buf (net_devmem_bind_dmabuf_to_queue), its pool is
 * created with PP_FLAG_ALLOW_UNREADABLE_NETMEM, and the "pages" the driver allocates and the stack
 * holds are net_iovs.
 *
 *   unregister_netdev   dev_memory_provider_uninstall(): mp_dmabuf_devmem_uninstall(), binding->dev = NULL
 *   device unbind       the IOMMU domain goes; the pool never mapped a niov, so nothing of the pool's
 *                       outlives the driver on any build
 *   socket close        net_devmem_unbind_dmabuf(): the user's ref goes; the pool's ref keeps the
 *                       binding until the last niov is back and the pool is freed
 *
 * What the scenario shows per build: the niovs in flight at unbind, that their late returns go back
 * to the gen_pool without the DMA API, and when the binding itself is freed — the binding (and with
 * it the exporter's dma-buf mapping, dma_buf_map_attachment(), which the emulator does not model)
 * lives as long as the pool's last niov is out.
 */
import type { PpSystem } from "../pool/index.js";
import type { KernelBuild } from "../builds/types.js";
import { PP_FLAG_DMA_MAP, PP_FLAG_DMA_SYNC_DEV } from "../pool/page_pool.js";
import { PP_FLAG_ALLOW_UNREADABLE_NETMEM } from "../pool/pool_offsets.js";
import { netDevmemBindDmabuf, netDevmemBindDmabufToQueue, netDevmemUnbindDmabuf, devmemBindingInfo, isBinding } from "../pool/devmem.js";
import { devMemoryProviderUninstall } from "../pool/memory_provider.js";
import { poolOffsetsOf } from "../pool/pool_offsets.js";
import { PpemuError } from "../errors.js";
import { renderTable } from "../report/table.js";
import type { UnbindResult } from "./unbind.js";

export const UNBIND_PROVIDERS = ["devmem"] as const;
export type UnbindProvider = (typeof UNBIND_PROVIDERS)[number];

/** What `--provider` adds to a result. */
export interface UnbindProviderResult {
  readonly name: UnbindProvider;
  /** net_iovs of the dma-buf (one per page the driver allocates). */
  readonly niovs: number;
  /** niovs with the stack when the device unbound. */
  readonly niovs_in_flight_at_unbind: number;
  /** niovs back in the binding's gen_pool at the end (all of them once the pool is freed). */
  readonly niovs_free_at_end: number;
  /** Virtual ms from unbind until the binding was freed (its last ref: the pool's); null if never. */
  readonly binding_freed_at_ms: number | null;
}

/** The provider's part of a run. */
export interface ProviderRun {
  readonly binding: number;
  readonly niovs: number;
  /** The pool's flags: v6.12's devmem refuses dma_sync; later page_pool_init() requires it. */
  readonly flags: number;
  readonly queueIdx: number;
}

/** Can `b` run a provider pool at all (PP_FLAG_ALLOW_UNREADABLE_NETMEM and `mp_priv`: v6.12+)? */
export function buildHasProviders(b: KernelBuild): boolean {
  return (b.switches.ppFlagAll & PP_FLAG_ALLOW_UNREADABLE_NETMEM) !== 0 && poolOffsetsOf(b.structs).has("mp_priv") >= 0;
}

/** Checked before the machine boots: the provider's name and the build. */
export function checkProvider(provider: unknown, b: KernelBuild, netdev: boolean): UnbindProvider | undefined {
  if (provider === undefined) return undefined;
  if (!(UNBIND_PROVIDERS as readonly unknown[]).includes(provider)) {
    throw new PpemuError("EINVAL_ARG", `runUnbind: provider must be one of ${UNBIND_PROVIDERS.join(", ")}, got ${String(provider)}`);
  }
  if (!buildHasProviders(b)) throw new PpemuError("EINVAL_ARG", `runUnbind: kernel ${b.name} has no memory providers (PP_FLAG_ALLOW_UNREADABLE_NETMEM and mp_priv are v6.12+)`);
  if (!netdev) throw new PpemuError("EINVAL_ARG", "runUnbind: a memory provider is bound to an rx queue of the netdev: drop netdev: false");
  return provider as UnbindProvider;
}

/** Bind a dma-buf of `niovs` pages to rx queue 0 of `netdev`. */
export function providerSetup(sys: PpSystem, netdev: number, niovs: number): ProviderRun {
  const pps = sys.pps;
  const binding = netDevmemBindDmabuf(pps, { netdev, niovs });
  if (binding < 0) throw new Error(`net_devmem_bind_dmabuf failed: ${binding}`);
  const err = netDevmemBindDmabufToQueue(pps, binding, netdev, 0);
  if (err < 0) throw new Error(`net_devmem_bind_dmabuf_to_queue failed: ${err}`);
  const sync = pps.o.has("mp_ops") >= 0 ? PP_FLAG_DMA_SYNC_DEV : 0;
  return { binding, niovs, flags: PP_FLAG_DMA_MAP | sync | PP_FLAG_ALLOW_UNREADABLE_NETMEM, queueIdx: 0 };
}

/** unregister_netdev()'s provider part; the device unbinds after it. */
export function providerUnregister(sys: PpSystem, netdev: number): void {
  devMemoryProviderUninstall(sys.pps, netdev);
}

/** The user's netlink socket closes: net_devmem_unbind_dmabuf(). */
export function providerUserClose(sys: PpSystem, p: ProviderRun): void {
  netDevmemUnbindDmabuf(sys.pps, p.binding);
}

export function providerAlive(sys: PpSystem, p: ProviderRun): boolean {
  return isBinding(sys.pps, p.binding);
}

export function providerResult(sys: PpSystem, p: ProviderRun, inFlight: number, freedAt: number | null): UnbindProviderResult {
  const alive = providerAlive(sys, p);
  return {
    name: "devmem",
    niovs: p.niovs,
    niovs_in_flight_at_unbind: inFlight,
    niovs_free_at_end: alive ? devmemBindingInfo(sys.pps, p.binding).free : p.niovs,
    binding_freed_at_ms: alive ? null : freedAt,
  };
}

// ---- `ppemu scenario unbind --provider`: the lines and rows the provider adds ----

/** The header line under the scenario's: what the provider is, which builds were left out. */
export function providerHeader(provider: UnbindProvider, skipped: readonly string[]): string {
  const skip = skipped.length === 0 ? "" : `; skipped (no memory providers before v6.12): ${skipped.join(", ")}`;
  return (
    `memory provider ${provider}: rx queue 0 bound to a dma-buf, one net_iov per page; the pool never DMA-maps a net_iov${skip};\n` +
    "the binding (with the exporter's dma-buf mapping, which the emulator does not model) lives until its last ref, the pool's\n"
  );
}

export const PROVIDER_ROWS: readonly [string, (r: UnbindResult) => string | number][] = [
  ["net_iovs in the dma-buf", (r) => r.provider?.niovs ?? "-"],
  ["net_iovs in flight at unbind", (r) => r.provider?.niovs_in_flight_at_unbind ?? "-"],
  ["net_iovs back in the gen_pool at the end", (r) => r.provider?.niovs_free_at_end ?? "-"],
  ["binding freed at (virtual ms after unbind)", (r) => (r.provider === undefined ? "-" : r.provider.binding_freed_at_ms === null ? "never" : r.provider.binding_freed_at_ms)],
];

/** The provider's rows under the unbind table, with the unbind table's column headers. */
export function providerTable(results: readonly UnbindResult[], headers: readonly string[]): string {
  const rows = PROVIDER_ROWS.map(([label, get]) => [label, ...results.map(get)]);
  return "devmem binding:\n" + renderTable(["", ...headers], rows, {});
}
