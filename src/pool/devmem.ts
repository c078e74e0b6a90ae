/**
 * The devmem TCP memory provider (net/core/devmem.c, net/core/devmem.h; read at
 * 6952350/linux-6.18.y @20fa05ab56b2, search id 52180246923, and the net_iov_area refactor diff,
 * search id 9785552796): a dma-buf bound to an rx queue hands the page_pool `struct net_iov`s
 * instead of pages.
 *
 *   net_devmem_bind_dmabuf()          binding + gen_pool + one chunk owner per sg entry, whose
 *                                     kvmalloc'd niovs get owner, type and dma_addr
 *   net_devmem_bind_dmabuf_to_queue() rxq->mp_params = { binding, &dmabuf_devmem_ops }
 *   page_pool_init()                  mp_dmabuf_devmem_init(): dma_sync forced off, order 0, binding ref
 *   slow alloc                        mp_dmabuf_devmem_alloc_netmems(): one niov from the gen_pool,
 *                                     page_pool_set_pp_info(), hold_cnt++
 *   return                            mp_dmabuf_devmem_release_page(): clear pp info, back to the
 *                                     gen_pool, "we don't want the page pool put_page()ing our net_iovs"
 *   __page_pool_destroy()             mp_dmabuf_devmem_destroy(): binding ref dropped
 *   net_devmem_unbind_dmabuf()        rx queues closed, the user's ref killed; the last ref frees the
 *                                     binding (__net_devmem_dmabuf_binding_free)
 *
 * The emulator's dma-buf is device memory (a peer device's BAR, as a GPU exports it): its bus
 * addresses are the sg entry's, not host frames, and the exporter's mapping is not modelled. One sg
 * entry, so one chunk. `struct gen_pool` is a first-fit bitmap over the chunk's pages
 * (`struct ppemu_gen_pool`), as lib/genalloc.c's default gen_pool_first_fit allocates.
 * `percpu_ref` is one atomic count plus its killed state.
 */
import { LP64 } from "../arch.js";
import { bitOf, layoutOf, offsetOf, m, struct, ptr, U32, UINT, ATOMIC_LONG_T, type RecordType, type StructLayout } from "../mem/ctype.js";
import { GFP_ZERO } from "../mem/buddy.js";
import { MACH_DEVMEM_BINDINGS } from "../mem/physmem.js";
import { Diag } from "../mem/diag.js";
import type { FrameClaimer } from "../mem/accounting.js";
import { PAGE_FLAGS, PG_pp_in_pool } from "../mem/page.js";
import type { PagePools } from "./page_pool.js";
import { PpemuError, checkInt } from "../errors.js";
import {
  registerMemoryProvider,
  netifGetRxQueue,
  netMpNiovSetDmaAddr,
  netMpNiovSetPagePool,
  netMpNiovClearPagePool,
  RXQ_MP_OPS,
  RXQ_MP_PRIV,
  type MemoryProviderOps,
} from "./memory_provider.js";
import { STRUCT_DMABUF_GENPOOL_CHUNK_OWNER, STRUCT_DMABUF_GENPOOL_CHUNK_OWNER_V6_12, NET_IOV_DMABUF, netIovGeometry, netIovInit, netmemIsNetIov, netmemToNetIov, type NetIovGeometry, type NetIovInitMode } from "./net_iov.js";

const EINVAL = 22;
const ENOMEM = 12;
const E2BIG = 7;
const EEXIST = 17;
const EBUSY = 16;
const EOPNOTSUPP = 95;
/** enum dma_data_direction */
const DMA_FROM_DEVICE = 2;

/** The `mp_ops` id of `dmabuf_devmem_ops`. */
export const MP_DMABUF_DEVMEM = 1;

export { STRUCT_DMABUF_GENPOOL_CHUNK_OWNER, STRUCT_DMABUF_GENPOOL_CHUNK_OWNER_V6_12 } from "./net_iov.js";

/**
 * `struct net_devmem_dmabuf_binding`, the emulator's subset (devmem.h v6.18: dmabuf, attachment,
 * sgt, dev, vdev, chunk_pool, lock, ref, list, bound_rxqs, id, direction, vec, unbind_w): `dev`,
 * `chunk_pool`, `ref` (percpu_ref: a count), `bound_rxq` (the xarray bound_rxqs, one queue here),
 * `id`, `direction`; `ppemu_killed` is percpu_ref_kill()'s state, `ppemu_next` links the machine's
 * bindings (the global `net_devmem_dmabuf_bindings` xarray).
 */
export const STRUCT_NET_DEVMEM_DMABUF_BINDING = struct("net_devmem_dmabuf_binding", [
  m("dev", ptr("struct net_device")),
  m("chunk_pool", ptr("struct gen_pool")),
  m("ref", ATOMIC_LONG_T),
  m("bound_rxq", ptr("struct netdev_rx_queue")),
  m("id", U32),
  m("direction", UINT),
  m("ppemu_killed", U32),
  m("ppemu_next", ptr("struct net_devmem_dmabuf_binding")),
]);

/** `struct gen_pool` with one chunk: the chunk's owner, its pages, the free count, a first-fit bitmap. */
export const STRUCT_PPEMU_GEN_POOL = struct("ppemu_gen_pool", [
  m("owner", ptr("struct dmabuf_genpool_chunk_owner")),
  m("nbits", U32),
  m("avail", U32),
  m("bits", ptr("unsigned long")),
]);

const B = layoutOf(STRUCT_NET_DEVMEM_DMABUF_BINDING, LP64);
const B_DEV = offsetOf(B, "dev");
const B_POOL = offsetOf(B, "chunk_pool");
const B_REF = offsetOf(B, "ref");
const B_RXQ = offsetOf(B, "bound_rxq");
const B_ID = offsetOf(B, "id");
const B_DIR = offsetOf(B, "direction");
const B_KILLED = offsetOf(B, "ppemu_killed");
const B_NEXT = offsetOf(B, "ppemu_next");
const G = layoutOf(STRUCT_PPEMU_GEN_POOL, LP64);
const G_OWNER = offsetOf(G, "owner");
const G_NBITS = offsetOf(G, "nbits");
const G_AVAIL = offsetOf(G, "avail");
const G_BITS = offsetOf(G, "bits");

/** Offsets of the build's chunk owner: the net_iov_area view (niovs, num_niovs, base_virtual), binding, base_dma_addr. */
export interface ChunkOwnerGeometry {
  readonly type: RecordType;
  readonly layout: StructLayout;
  readonly niovs: number;
  readonly numNiovs: number;
  readonly baseVirtual: number;
  readonly binding: number;
  readonly baseDmaAddr: number;
  /** Where `struct net_iov_area` starts (-1 before it existed: niov->owner is the chunk owner). */
  readonly area: number;
}

function ownerGeometry(t: RecordType): ChunkOwnerGeometry {
  const l = layoutOf(t, LP64);
  const areaOff = l.off.area ?? -1;
  const f = (p: string): number => l.off[areaOff >= 0 ? `area.${p}` : p]!;
  return { type: t, layout: l, niovs: f("niovs"), numNiovs: f("num_niovs"), baseVirtual: f("base_virtual"), binding: offsetOf(l, "binding"), baseDmaAddr: offsetOf(l, "base_dma_addr"), area: areaOff };
}
const OWNER_V6_15 = ownerGeometry(STRUCT_DMABUF_GENPOOL_CHUNK_OWNER);
const OWNER_V6_12 = ownerGeometry(STRUCT_DMABUF_GENPOOL_CHUNK_OWNER_V6_12);

/** The chunk owner of the build: v6.12's when its net_iov names `struct dmabuf_genpool_chunk_owner *owner`. */
export function chunkOwnerGeometry(pps: PagePools): ChunkOwnerGeometry {
  const owner = netIovGeometry(pps.build).type.members.find((x) => x.name === "owner");
  const cname = owner && owner.type.kind === "prim" ? owner.type.cname : "";
  return cname.startsWith("struct dmabuf_genpool_chunk_owner") ? OWNER_V6_12 : OWNER_V6_15;
}

/** What `net_devmem_bind_dmabuf()` is given. */
export interface DevmemBindParams {
  /** The `struct ppemu_netdev *` the binding is for (`binding->dev`). */
  readonly netdev: number;
  /** Pages of the dma-buf: one net_iov each. */
  readonly niovs: number;
  /** The sg entry's bus address (4 KiB aligned, below 2^52). @defaultValue 0x4_0000_0000 */
  readonly baseDma?: number;
  /** How each niov is stamped (see NetIovInitMode). @defaultValue "net_iov_init" */
  readonly init?: NetIovInitMode;
}

/** Largest dma-buf the emulator binds: 2^20 pages (4 GiB; the niov array alone is 64 MiB). */
export const DEVMEM_NIOVS_MAX = 1 << 20;
export const DEVMEM_DEFAULT_BASE_DMA = 0x4_0000_0000;

/**
 * `net_devmem_bind_dmabuf()`: the binding pointer, or a negative errno (-ENOMEM). Arguments of the
 * wrong kind are a PpemuError "EINVAL_ARG" before anything is allocated.
 */
export function netDevmemBindDmabuf(pps: PagePools, p: DevmemBindParams): number {
  if (p === null || typeof p !== "object") throw new PpemuError("EINVAL_ARG", "netDevmemBindDmabuf: params must be a DevmemBindParams object");
  checkInt("netDevmemBindDmabuf: netdev (a struct ppemu_netdev pointer)", p.netdev, 1, 0xffffffff);
  const n = checkInt("netDevmemBindDmabuf: niovs", p.niovs, 1, DEVMEM_NIOVS_MAX);
  const base = p.baseDma ?? DEVMEM_DEFAULT_BASE_DMA;
  if (typeof base !== "number" || !Number.isSafeInteger(base) || base < 0 || base % 4096 !== 0 || base + n * 4096 > 2 ** 52) {
    throw new PpemuError("EINVAL_ARG", `netDevmemBindDmabuf: baseDma must be a 4 KiB-aligned bus address below 2^52 - niovs * 4096, got ${String(base)}`);
  }
  const mode = p.init ?? "net_iov_init";
  if (mode !== "net_iov_init" && mode !== "none") throw new PpemuError("EINVAL_ARG", `netDevmemBindDmabuf: init must be "net_iov_init" or "none", got ${String(mode)}`);
  const mem = pps.mem;
  const slab = pps.m.slab;
  const g = netIovGeometry(pps.build);
  const og = chunkOwnerGeometry(pps);
  const binding = slab.kmalloc(B.size, GFP_ZERO);
  const gp = slab.kmalloc(G.size, GFP_ZERO);
  const owner = slab.kmalloc(og.layout.size, GFP_ZERO);
  const bits = slab.kmalloc(Math.ceil(n / 32) * 4, GFP_ZERO);
  // kvmalloc_array(): not zeroed.
  const niovs = slab.kmalloc(n * g.size, 0);
  if (binding === 0 || gp === 0 || owner === 0 || bits === 0 || niovs === 0) {
    for (const x of [niovs, bits, owner, gp, binding]) if (x !== 0) slab.kfree(x);
    return -ENOMEM;
  }
  mem.wrPtr(binding + B_DEV, p.netdev);
  mem.wr64(binding + B_REF, 0, 1); // percpu_ref_init(): the user's (netlink socket's) ref
  mem.wr32(binding + B_DIR, DMA_FROM_DEVICE);
  mem.wrPtr(binding + B_POOL, gp);
  mem.wrPtr(gp + G_OWNER, owner);
  mem.wr32(gp + G_NBITS, n);
  mem.wr32(gp + G_AVAIL, n);
  mem.wrPtr(gp + G_BITS, bits);
  mem.wr64(owner + og.baseVirtual, 0, 0);
  mem.wr64num(owner + og.baseDmaAddr, base);
  mem.wr64(owner + og.numNiovs, 0, n);
  mem.wrPtr(owner + og.binding, binding);
  mem.wrPtr(owner + og.niovs, niovs);
  // niov->owner = &owner->area (v6.15+), or the chunk owner itself (v6.12).
  const area = og.area >= 0 ? owner + og.area : owner;
  for (let i = 0; i < n; i++) {
    const niov = niovs + i * g.size;
    netIovInit(mem, g, niov, area, NET_IOV_DMABUF, mode);
    const dma = base + i * 4096;
    netMpNiovSetDmaAddr(pps, niov, Math.floor(dma / 2 ** 32), dma >>> 0);
  }
  // xa_alloc_cyclic(&net_devmem_dmabuf_bindings, &binding->id, …): ids from 1.
  let id = 0;
  forEachBinding(pps, (b) => (id = Math.max(id, mem.rd32(b + B_ID))));
  mem.wr32(binding + B_ID, id + 1);
  const head = mem.machine + MACH_DEVMEM_BINDINGS;
  mem.wrPtr(binding + B_NEXT, mem.rdPtr(head));
  mem.wrPtr(head, binding);
  return binding;
}

/**
 * `net_devmem_bind_dmabuf_to_queue()` → `__net_mp_open_rxq()`: rx queue `rxqIdx` of `netdev` gets
 * `{ mp_priv = binding, mp_ops = &dmabuf_devmem_ops }`. -EEXIST when the queue has a provider
 * ("designated queue already memory provider bound"); -EBUSY when this binding is bound already
 * (the emulator keeps one queue per binding). The driver's queue restart is the caller's: create the
 * pool with PP_FLAG_ALLOW_UNREADABLE_NETMEM afterwards.
 */
export function netDevmemBindDmabufToQueue(pps: PagePools, binding: number, netdev: number, rxqIdx: number): number {
  checkBinding(pps, binding, "netDevmemBindDmabufToQueue");
  checkInt("netDevmemBindDmabufToQueue: netdev", netdev, 1, 0xffffffff);
  checkInt("netDevmemBindDmabufToQueue: rxqIdx", rxqIdx, 0, 0xffff);
  const mem = pps.mem;
  if (mem.rdPtr(binding + B_RXQ) !== 0) return -EBUSY;
  const rxq = netifGetRxQueue(pps, netdev, rxqIdx, true);
  if (rxq === 0) return -ENOMEM;
  if (mem.rd32(rxq + RXQ_MP_OPS) !== 0 || mem.rdPtr(rxq + RXQ_MP_PRIV) !== 0) return -EEXIST;
  mem.wrPtr(rxq + RXQ_MP_PRIV, binding);
  mem.wr32(rxq + RXQ_MP_OPS, MP_DMABUF_DEVMEM);
  mem.wrPtr(binding + B_RXQ, rxq);
  return 0;
}

/**
 * `net_devmem_unbind_dmabuf()` (the netlink socket closes): every bound rx queue is closed
 * (`__net_mp_close_rxq()`: its mp_params cleared), then `percpu_ref_kill()` drops the user's ref.
 * Pools created on the binding keep it alive until their `destroy` op runs.
 */
export function netDevmemUnbindDmabuf(pps: PagePools, binding: number): void {
  checkBinding(pps, binding, "netDevmemUnbindDmabuf");
  const mem = pps.mem;
  if (mem.rd32(binding + B_KILLED) !== 0) throw new PpemuError("EINVAL_ARG", `netDevmemUnbindDmabuf: binding ${hex(binding)} is unbound already`);
  const rxq = mem.rdPtr(binding + B_RXQ);
  if (rxq !== 0) {
    mem.wrPtr(rxq + RXQ_MP_PRIV, 0);
    mem.wr32(rxq + RXQ_MP_OPS, 0);
    mem.wr32(rxq + RXQ_MP_OPS + 4, 0);
    mem.wrPtr(binding + B_RXQ, 0);
  }
  mem.wr32(binding + B_KILLED, 1);
  bindingPut(pps, binding);
}

/** `net_devmem_dmabuf_binding_get()` = `percpu_ref_tryget()`: fails only once the count is 0. */
function bindingGet(pps: PagePools, binding: number): boolean {
  const mem = pps.mem;
  const ref = mem.rd32(binding + B_REF);
  if (ref === 0) return false;
  mem.wr32(binding + B_REF, ref + 1);
  return true;
}

/** `net_devmem_dmabuf_binding_put()`: the last ref frees the binding (its release work, run at once). */
function bindingPut(pps: PagePools, binding: number): void {
  const mem = pps.mem;
  const ref = mem.rd32(binding + B_REF) - 1;
  mem.wr32(binding + B_REF, ref);
  if (ref === 0) bindingFree(pps, binding);
}

/** `__net_devmem_dmabuf_binding_free()`. */
function bindingFree(pps: PagePools, binding: number): void {
  const mem = pps.mem;
  const slab = pps.m.slab;
  const og = chunkOwnerGeometry(pps);
  const gp = mem.rdPtr(binding + B_POOL);
  const owner = mem.rdPtr(gp + G_OWNER);
  // gen_pool_for_each_chunk(…, net_devmem_dmabuf_free_chunk_owner): kvfree(niovs), kfree(owner).
  slab.kfree(mem.rdPtr(owner + og.niovs));
  slab.kfree(owner);
  const size = mem.rd32(gp + G_NBITS) * 4096;
  const avail = mem.rd32(gp + G_AVAIL) * 4096;
  // if (!WARN(size != avail, "can't destroy genpool. …")) gen_pool_destroy(): else it leaks.
  if (size !== avail) mem.diag(Diag.DEVMEM_WARN, size, avail, 3);
  else {
    slab.kfree(mem.rdPtr(gp + G_BITS));
    slab.kfree(gp);
  }
  // xa_erase(&net_devmem_dmabuf_bindings, binding->id) and kfree(binding).
  const head = mem.machine + MACH_DEVMEM_BINDINGS;
  let prev = head;
  for (let b = mem.rdPtr(head); b !== 0; prev = b + B_NEXT, b = mem.rdPtr(b + B_NEXT)) {
    if (b === binding) {
      mem.wrPtr(prev, mem.rdPtr(b + B_NEXT));
      break;
    }
  }
  slab.kfree(binding);
}

/** `net_devmem_alloc_dmabuf()`: the lowest free niov of the gen_pool (its pp words cleared), or 0. */
function netDevmemAllocDmabuf(pps: PagePools, binding: number, g: NetIovGeometry): number {
  const mem = pps.mem;
  const gp = mem.rdPtr(binding + B_POOL);
  if (mem.rd32(gp + G_AVAIL) === 0) return 0;
  const bits = mem.rdPtr(gp + G_BITS);
  const nbits = mem.rd32(gp + G_NBITS);
  for (let w = 0; w * 32 < nbits; w++) {
    const word = mem.rd32(bits + w * 4);
    if (word === 0xffffffff) continue;
    const bit = 31 - Math.clz32(~word & (word + 1));
    const idx = w * 32 + bit;
    if (idx >= nbits) break;
    mem.wr32(bits + w * 4, (word | (1 << bit)) >>> 0);
    mem.wr32(gp + G_AVAIL, mem.rd32(gp + G_AVAIL) - 1);
    const owner = mem.rdPtr(gp + G_OWNER);
    const niov = mem.rdPtr(owner + chunkOwnerGeometry(pps).niovs) + idx * g.size;
    mem.wr64(niov + g.ppMagic, 0, 0);
    mem.wr64(niov + g.pp, 0, 0);
    mem.wr64(niov + g.ppRefCount, 0, 0);
    // The emulator's debug bit lives in the niov's unused _flags word: clear it (not kernel state).
    mem.wr32(niov + PAGE_FLAGS, mem.rd32(niov + PAGE_FLAGS) & ~(1 << PG_pp_in_pool));
    return niov;
  }
  return 0;
}

/** `net_devmem_free_dmabuf()`: back into the gen_pool; WARN_ON when the address is none of its. */
function netDevmemFreeDmabuf(pps: PagePools, niov: number, g: NetIovGeometry): void {
  const mem = pps.mem;
  const og = chunkOwnerGeometry(pps);
  const owner = mem.rdPtr(niov + g.owner) - Math.max(0, og.area);
  const binding = mem.rdPtr(owner + og.binding);
  const gp = mem.rdPtr(binding + B_POOL);
  const idx = (niov - mem.rdPtr(owner + og.niovs)) / g.size;
  const bits = mem.rdPtr(gp + G_BITS);
  const w = bits + (idx >>> 5) * 4;
  const bit = 1 << (idx & 31);
  if (!Number.isInteger(idx) || idx < 0 || idx >= mem.rd32(gp + G_NBITS) || (mem.rd32(w) & bit) === 0) {
    mem.diag(Diag.DEVMEM_WARN, niov, idx >>> 0, 2);
    return;
  }
  mem.wr32(w, (mem.rd32(w) & ~bit) >>> 0);
  mem.wr32(gp + G_AVAIL, mem.rd32(gp + G_AVAIL) + 1);
}

const dmabufDevmemOps: MemoryProviderOps = {
  id: MP_DMABUF_DEVMEM,
  name: "dmabuf_devmem_ops",
  fnNames: { alloc_netmems: "mp_dmabuf_devmem_alloc_netmems", release_netmem: "mp_dmabuf_devmem_release_page", init: "mp_dmabuf_devmem_init", destroy: "mp_dmabuf_devmem_destroy" },
  /**
   * `mp_dmabuf_devmem_init()`. v6.12 (no `mp_ops`) refuses `!dma_map` and `dma_sync` itself; from
   * "page_pool: Set `dma_sync` to false for devmem memory provider" (Samiullah Khawaja,
   * <20241211212033.1684197-4-almasrymina@google.com>, search id 43339087159) page_pool_init()
   * requires both and the provider turns dma_sync (and v6.14's dma_sync_for_cpu) off.
   */
  init(pps, pool) {
    const mem = pps.mem;
    const binding = mem.rdPtr(pool + pps.o.need("mp_priv"));
    if (binding === 0) return -EINVAL;
    const o = pps.o;
    const bit = (b: { off: number; mask: number }): boolean => (mem.rd32(pool + b.off) & b.mask) !== 0;
    if (o.has("mp_ops") < 0) {
      if (!bit(o.dmaMap)) return -EOPNOTSUPP;
      if (bit(o.dmaSync)) return -EOPNOTSUPP;
    } else {
      mem.wr32(pool + o.dmaSync.off, mem.rd32(pool + o.dmaSync.off) & ~o.dmaSync.mask);
      if (o.has("dma_sync_for_cpu") >= 0) {
        const cpu = bitOf(o.layout, "dma_sync_for_cpu");
        mem.wr32(pool + cpu.off, mem.rd32(pool + cpu.off) & ~cpu.mask);
      }
    }
    if (mem.rd32(pool + o.order) !== 0) return -E2BIG;
    bindingGet(pps, binding);
    return 0;
  },
  alloc_netmems(pps, pool) {
    const g = netIovGeometry(pps.build);
    const binding = pps.mem.rdPtr(pool + pps.o.need("mp_priv"));
    const niov = netDevmemAllocDmabuf(pps, binding, g);
    if (niov === 0) return 0;
    // page_pool_set_pp_info(pool, netmem); pool->pages_state_hold_cnt++.
    if (!netMpNiovSetPagePool(pps, pool, niov)) {
      netDevmemFreeDmabuf(pps, niov, g);
      return 0;
    }
    return (niov | 1) >>> 0;
  },
  release_netmem(pps, pool, netmem) {
    const mem = pps.mem;
    if (!netmemIsNetIov(netmem)) {
      mem.diag(Diag.DEVMEM_WARN, netmem, pool, 0);
      return false;
    }
    const g = netIovGeometry(pps.build);
    const niov = netmemToNetIov(netmem);
    const refcount = mem.rd32(niov + g.ppRefCount);
    if (refcount !== 1 && pps.build.switches.ppRefCountInit) {
      mem.diag(Diag.DEVMEM_WARN, niov, refcount, 1);
      return false;
    }
    netMpNiovClearPagePool(pps, pool, niov);
    netDevmemFreeDmabuf(pps, niov, g);
    // "We don't want the page pool put_page()ing our net_iovs."
    return false;
  },
  destroy(pps, pool) {
    bindingPut(pps, pps.mem.rdPtr(pool + pps.o.need("mp_priv")));
  },
  /** `mp_dmabuf_devmem_uninstall()`: the queue leaves the binding; no queue left → `binding->dev = NULL`. */
  uninstall(pps, mpPriv, rxq) {
    const mem = pps.mem;
    if (mem.rdPtr(mpPriv + B_RXQ) !== rxq) return;
    mem.wrPtr(mpPriv + B_RXQ, 0);
    mem.wrPtr(mpPriv + B_DEV, 0);
  },
};
registerMemoryProvider(dmabufDevmemOps);

/** Every live binding of the machine, newest first. */
export function forEachBinding(pps: PagePools, cb: (binding: number) => void): void {
  const mem = pps.mem;
  for (let b = mem.rdPtr(mem.machine + MACH_DEVMEM_BINDINGS); b !== 0; b = mem.rdPtr(b + B_NEXT)) cb(b);
}

/** Is `binding` a live binding of this machine? */
export function isBinding(pps: PagePools, binding: number): boolean {
  let found = false;
  forEachBinding(pps, (b) => (found ||= b === binding));
  return found;
}

function checkBinding(pps: PagePools, binding: number, fn: string): void {
  if (typeof binding !== "number" || !isBinding(pps, binding)) throw new PpemuError("EINVAL_ARG", `${fn}: ${typeof binding === "number" ? hex(binding) : String(binding)} is no live devmem binding of this machine`);
}

/** A binding as `explain`, tests and the scenario read it. */
export interface DevmemBindingInfo {
  readonly binding: number;
  readonly id: number;
  readonly dev: number;
  readonly rxq: number;
  readonly ref: number;
  readonly killed: boolean;
  /** The chunk owner, and its net_iov_area (the same address from v6.15; the owner itself before). */
  readonly owner: number;
  readonly area: number;
  readonly niovs: number;
  readonly numNiovs: number;
  /** The gen_pool's free niovs. */
  readonly free: number;
  readonly baseDma: number;
}

export function devmemBindingInfo(pps: PagePools, binding: number): DevmemBindingInfo {
  checkBinding(pps, binding, "devmemBindingInfo");
  const mem = pps.mem;
  const og = chunkOwnerGeometry(pps);
  const gp = mem.rdPtr(binding + B_POOL);
  const owner = mem.rdPtr(gp + G_OWNER);
  return {
    binding,
    id: mem.rd32(binding + B_ID),
    dev: mem.rdPtr(binding + B_DEV),
    rxq: mem.rdPtr(binding + B_RXQ),
    ref: mem.rd32(binding + B_REF),
    killed: mem.rd32(binding + B_KILLED) !== 0,
    owner,
    area: og.area >= 0 ? owner + og.area : owner,
    niovs: mem.rdPtr(owner + og.niovs),
    numNiovs: mem.rd32(owner + og.numNiovs),
    free: mem.rd32(gp + G_AVAIL),
    baseDma: mem.rd64(owner + og.baseDmaAddr),
  };
}

/** The binding whose niov array holds `addr` (any byte of a niov), or null. */
export function bindingOfNiovAddr(pps: PagePools, addr: number): DevmemBindingInfo | null {
  let out: DevmemBindingInfo | null = null;
  const size = netIovGeometry(pps.build).size;
  forEachBinding(pps, (b) => {
    const i = devmemBindingInfo(pps, b);
    if (addr >= i.niovs && addr < i.niovs + i.numNiovs * size) out = i;
  });
  return out;
}

/** The binding whose chunk owner (net_iov_area) starts at `addr`, or null. */
export function bindingOfArea(pps: PagePools, addr: number): DevmemBindingInfo | null {
  let out: DevmemBindingInfo | null = null;
  forEachBinding(pps, (b) => {
    const i = devmemBindingInfo(pps, b);
    if (addr === i.area || addr === i.owner) out = i;
  });
  return out;
}

/** Frame accounting: a niov array or bitmap big enough to be a page allocation (a large kmalloc). */
export function devmemClaimer(pps: PagePools): FrameClaimer {
  return (c) => {
    const mem = c.mem;
    forEachBinding(pps, (b) => {
      const gp = mem.rdPtr(b + B_POOL);
      const owner = mem.rdPtr(gp + G_OWNER);
      const niovs = mem.rdPtr(owner + chunkOwnerGeometry(pps).niovs);
      for (const [addr, what] of [
        [niovs, "devmem: net_iov array"],
        [mem.rdPtr(gp + G_BITS), "devmem: gen_pool bitmap"],
      ] as const) {
        if (addr !== 0 && c.classOf(mem.virtToPfn(addr)) === "allocated") c.claimPage(mem.virtToPage(addr), what);
      }
    });
  };
}

function hex(v: number): string {
  return "0x" + (v >>> 0).toString(16);
}
