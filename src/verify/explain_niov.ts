/**
 * `explain` of memory-provider memory (src/pool/devmem.ts): a `struct net_iov` of a devmem binding,
 * its `struct net_iov_area` (the chunk owner's first member), the chunk owner, the binding, its
 * gen_pool, an rx queue with its `pp_memory_provider_params`.
 *
 * For a niov it says what the kernel would compute from it: `net_iov_owner(niov)` → the area,
 * `net_iov_idx(niov) = niov - area->niovs`, the dma address `owner->base_dma_addr + (idx <<
 * PAGE_SHIFT)` (net_devmem_get_dma_addr()) beside the `dma_addr` word the binding stored, the
 * `netmem_ref` (`niov | NET_IOV`), and where the niov is: free in the gen_pool, in a pool's alloc
 * cache or ring, or in flight with the driver or the stack.
 */
import type { StructLayout } from "../mem/ctype.js";
import { layoutOf } from "../mem/ctype.js";
import { LP64 } from "../arch.js";
import type { PpSystem } from "../pool/index.js";
import {
  bindingOfArea,
  bindingOfNiovAddr,
  chunkOwnerGeometry,
  forEachBinding,
  devmemBindingInfo,
  STRUCT_NET_DEVMEM_DMABUF_BINDING,
  STRUCT_PPEMU_GEN_POOL,
  type DevmemBindingInfo,
} from "../pool/devmem.js";
import { forEachRxQueue, memoryProviderById, RXQ_MP_OPS, RXQ_MP_PRIV, RXQ_INDEX, STRUCT_NETDEV_RX_QUEUE } from "../pool/memory_provider.js";
import { netIovGeometry, netIovIdx, netIovType, NET_IOV_TYPE_NAMES, NIA_NIOVS, NIA_BASE_VIRTUAL } from "../pool/net_iov.js";
import { fieldText, hex32, type FieldInfo } from "./explain_fields.js";
import { u64, hex64 } from "../u64.js";

/** What the page_pool explainer lends: its field reader and where it found a netmem. */
export interface NiovExplainHost {
  readField(layout: StructLayout, base: number, off: number): { readonly info: FieldInfo; readonly notes: string[] };
  /** "alloc cache slot 3 of pool 0x…", "ring entry 7 of pool 0x…", "stack slot 2", or null. */
  whereIs(netmem: number): string | null;
}

interface Target {
  role: string;
  field?: FieldInfo;
}

const BINDING_LAYOUT = layoutOf(STRUCT_NET_DEVMEM_DMABUF_BINDING, LP64);
const GEN_POOL_LAYOUT = layoutOf(STRUCT_PPEMU_GEN_POOL, LP64);
const RXQ_LAYOUT = layoutOf(STRUCT_NETDEV_RX_QUEUE, LP64);

/** Does the machine have any net_iov (a live devmem binding)? */
export function machineHasNetIovs(sys: PpSystem): boolean {
  let any = false;
  forEachBinding(sys.pps, () => (any = true));
  return any;
}

/**
 * Explain `addr` inside the kmalloc'd object `obj` if it is memory-provider memory; false when it
 * is none of it (the caller goes on).
 */
export function explainNetIovObject(sys: PpSystem, host: NiovExplainHost, e: Target, obj: number, addr: number, out: string[]): boolean {
  const pps = sys.pps;
  const arr = bindingOfNiovAddr(pps, addr);
  if (arr !== null && obj === arr.niovs) {
    const g = netIovGeometry(pps.build);
    const niov = arr.niovs + Math.floor((addr - arr.niovs) / g.size) * g.size;
    explainNiov(sys, host, e, arr, niov, addr, out);
    return true;
  }
  const area = bindingOfArea(pps, obj);
  if (area !== null) {
    explainOwner(sys, host, e, area, addr, out);
    return true;
  }
  let done = false;
  forEachBinding(pps, (b) => {
    if (done) return;
    const info = devmemBindingInfo(pps, b);
    if (obj === b) {
      at(host, e, BINDING_LAYOUT, b, addr, `struct net_devmem_dmabuf_binding id ${info.id}`, out);
      out.push(`  ${info.numNiovs} net_iovs, ${info.free} free in its gen_pool; ref ${info.ref}${info.killed ? " (unbound: the user's ref is gone)" : ""}`);
      done = true;
    } else if (obj === sys.m.mem.rdPtr(b + BINDING_LAYOUT.off.chunk_pool!)) {
      at(host, e, GEN_POOL_LAYOUT, obj, addr, `the gen_pool of devmem binding id ${info.id} (struct ppemu_gen_pool)`, out);
      done = true;
    }
  });
  if (done) return true;
  forEachRxQueue(pps, (q) => {
    if (done || obj !== q) return;
    const mem = sys.m.mem;
    const ops = memoryProviderById(mem.rd32(q + RXQ_MP_OPS));
    at(host, e, RXQ_LAYOUT, q, addr, `struct netdev_rx_queue ${mem.rd32(q + RXQ_INDEX)}`, out);
    out.push(`  mp_params: ${ops ? `${ops.name}, mp_priv ${hex32(mem.rdPtr(q + RXQ_MP_PRIV))}` : "no memory provider"}`);
    done = true;
  });
  return done;
}

function at(host: NiovExplainHost, e: Target, layout: StructLayout, obj: number, addr: number, label: string, out: string[]): void {
  const f = host.readField(layout, obj, addr - obj);
  e.field = f.info;
  out.push(`${label} at ${hex32(obj)}: ${fieldText(f.info)}`);
  for (const n of f.notes) out.push("  " + n);
}

function explainNiov(sys: PpSystem, host: NiovExplainHost, e: Target, info: DevmemBindingInfo, niov: number, addr: number, out: string[]): void {
  const mem = sys.m.mem;
  const g = netIovGeometry(sys.pps.build);
  const idx = netIovIdx(mem, g, niov);
  e.role = "net_iov";
  at(host, e, g.layout, niov, addr, `struct net_iov niovs[${idx}] of devmem binding id ${info.id}`, out);
  const area = mem.rdPtr(niov + g.owner);
  out.push(
    `net_iov_owner() → ${g.ownerNiovs === NIA_NIOVS ? "struct net_iov_area" : "struct dmabuf_genpool_chunk_owner"} ${hex32(area)} (niovs ${hex32(mem.rdPtr(area + g.ownerNiovs))}, num_niovs ${mem.rd32(area + g.ownerNumNiovs)}); net_iov_idx() = (niov - niovs) / ${g.size} = ${idx}`,
  );
  const dma = info.baseDma + idx * 4096;
  const stored = mem.rd64(niov + g.dmaAddr);
  out.push(
    `dma address: base_dma_addr ${hex64(u64(Math.floor(info.baseDma / 2 ** 32), info.baseDma >>> 0))} + (${idx} << PAGE_SHIFT) = ${hex64(u64(Math.floor(dma / 2 ** 32), dma >>> 0))}${stored === dma ? " (= its dma_addr word)" : `, but its dma_addr word holds ${hex64(u64(Math.floor(stored / 2 ** 32), stored >>> 0))}`}`,
  );
  const type = netIovType(mem, g, niov);
  const pt = g.pageType >= 0 ? `; page_type ${hex32(mem.rd32(niov + g.pageType))}${mem.rd32(niov + g.pageType) === 0xffffffff ? " (no type, as net_iov_init() leaves it)" : ""}` : "";
  out.push(`type ${NET_IOV_TYPE_NAMES[type] ?? type}${pt}; netmem_ref ${hex32((niov | 1) >>> 0)} (niov | NET_IOV)`);
  const pool = mem.rdPtr(niov + g.pp);
  if (pool === 0) {
    out.push("free: in the binding's gen_pool (pp NULL, pp_magic 0), no page_pool holds it");
    return;
  }
  const where = host.whereIs((niov | 1) >>> 0);
  out.push(`page_pool ${hex32(pool)}, pp_ref_count ${mem.rd32(niov + g.ppRefCount)}: ${where ?? "in flight (with the driver or the stack)"}`);
}

function explainOwner(sys: PpSystem, host: NiovExplainHost, e: Target, info: DevmemBindingInfo, addr: number, out: string[]): void {
  const mem = sys.m.mem;
  const og = chunkOwnerGeometry(sys.pps);
  e.role = "net_iov_area";
  at(host, e, og.layout, info.owner, addr, `struct dmabuf_genpool_chunk_owner of devmem binding id ${info.id}`, out);
  const view = og.area >= 0 ? `struct net_iov_area at +${og.area}` : "no struct net_iov_area yet (v6.12: niov->owner is the chunk owner)";
  const bv = og.area >= 0 ? mem.rd64(info.area + NIA_BASE_VIRTUAL) : mem.rd64(info.owner + og.baseVirtual);
  out.push(`${view}: niovs ${hex32(info.niovs)} … ${hex32(info.niovs + (info.numNiovs - 1) * netIovGeometry(sys.pps.build).size)}, num_niovs ${info.numNiovs}, base_virtual ${bv}`);
  out.push(`${info.free} of ${info.numNiovs} net_iovs free in the gen_pool; base_dma_addr ${hex64(u64(Math.floor(info.baseDma / 2 ** 32), info.baseDma >>> 0))}`);
}
