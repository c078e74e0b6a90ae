/**
 * Memory providers (include/net/page_pool/memory_provider.h; net/core/page_pool.c,
 * net/core/netdev_rx_queue.c; torvalds/linux page_pool.c @039f248a6cc1, search id 57621740185):
 *
 *   struct memory_provider_ops {
 *       netmem_ref (*alloc_netmems)(struct page_pool *pool, gfp_t gfp);
 *       bool (*release_netmem)(struct page_pool *pool, netmem_ref netmem);
 *       int (*init)(struct page_pool *pool);
 *       void (*destroy)(struct page_pool *pool);
 *       int (*nl_fill)(void *mp_priv, struct sk_buff *rsp, struct netdev_rx_queue *rxq);
 *       void (*uninstall)(void *mp_priv, struct netdev_rx_queue *rxq);
 *   };
 *
 * An rx queue carries `struct pp_memory_provider_params { mp_priv, mp_ops }`; a pool created with
 * PP_FLAG_ALLOW_UNREADABLE_NETMEM copies both from `__netif_get_rx_queue(slow.netdev,
 * slow.queue_idx)` (page_pool_init()). The ops are code: in the buffer `mp_ops` holds a provider id
 * (the kernel's pointer into rodata), and this module's table maps it to the functions. The
 * `is_kernel_rodata(mp_ops)` WARN cannot fire: only this table's ids are ever written.
 *
 * v6.12 (devmem TCP) has `mp_priv` only: page_pool.c called the devmem provider directly when
 * `pool->mp_priv` was set ("net: page_pool: create hooks for custom memory providers", Pavel
 * Begunkov, added `mp_ops`). `poolMpOps()` takes that into account from the build's declaration.
 *
 * The provider helpers of page_pool.c / memory_provider.h are here: net_mp_niov_set_dma_addr(),
 * net_mp_niov_set_page_pool() (set_pp_info + hold_cnt++), net_mp_niov_clear_page_pool(),
 * net_mp_netmem_place_in_cache() (`pool->alloc.cache[pool->alloc.count++] = netmem`).
 */
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf, m, struct, ptr, U32 } from "../mem/ctype.js";
import { GFP_ZERO } from "../mem/buddy.js";
import { MACH_RX_QUEUES } from "../mem/physmem.js";
import type { PagePools } from "./page_pool.js";
import { PP_ALLOC_CACHE_SIZE } from "../mem/structs.js";
import { netIovGeometry, netIovToNetmem } from "./net_iov.js";
import { traceHook, TP_STATE_HOLD } from "../trace/tracepoints.js";

/** `struct memory_provider_ops`: declared for `ppemu layout`; the buffer holds a provider id instead. */
export const STRUCT_MEMORY_PROVIDER_OPS = struct("memory_provider_ops", [
  m("alloc_netmems", ptr("netmem_ref (*)(struct page_pool *, gfp_t)")),
  m("release_netmem", ptr("bool (*)(struct page_pool *, netmem_ref)")),
  m("init", ptr("int (*)(struct page_pool *)")),
  m("destroy", ptr("void (*)(struct page_pool *)")),
  m("nl_fill", ptr("int (*)(void *, struct sk_buff *, struct netdev_rx_queue *)")),
  m("uninstall", ptr("void (*)(void *, struct netdev_rx_queue *)")),
]);

/** `struct pp_memory_provider_params` (include/net/page_pool/types.h). */
export const STRUCT_PP_MEMORY_PROVIDER_PARAMS = struct("pp_memory_provider_params", [
  m("mp_priv", ptr("void")),
  m("mp_ops", ptr("const struct memory_provider_ops")),
]);

/**
 * `struct netdev_rx_queue`, the emulator's subset (include/net/netdev_rx_queue.h): the device, the
 * provider params; `ppemu_index` is the queue's index (`get_netdev_rx_queue_index()`), `ppemu_next`
 * links the machine's rx queues (the kernel's is `dev->_rx[]`).
 */
export const STRUCT_NETDEV_RX_QUEUE = struct("netdev_rx_queue", [
  m("dev", ptr("struct net_device")),
  m("mp_params", STRUCT_PP_MEMORY_PROVIDER_PARAMS),
  m("ppemu_index", U32),
  m("ppemu_next", ptr("struct netdev_rx_queue")),
]);
const RXQ = layoutOf(STRUCT_NETDEV_RX_QUEUE, LP64);
export const RXQ_DEV = offsetOf(RXQ, "dev");
export const RXQ_MP_PRIV = offsetOf(RXQ, "mp_params.mp_priv");
export const RXQ_MP_OPS = offsetOf(RXQ, "mp_params.mp_ops");
export const RXQ_INDEX = offsetOf(RXQ, "ppemu_index");
export const RXQ_NEXT = offsetOf(RXQ, "ppemu_next");

/** A memory provider: the functions of its `memory_provider_ops`, under the id `mp_ops` holds. */
export interface MemoryProviderOps {
  /** Stored in `mp_ops` (never 0). */
  readonly id: number;
  /** The kernel's name of the ops struct (`dmabuf_devmem_ops`). */
  readonly name: string;
  /** The function name each op has in this provider, for messages and `explain`. */
  readonly fnNames: Readonly<Record<"alloc_netmems" | "release_netmem" | "init" | "destroy", string>>;
  alloc_netmems(pps: PagePools, pool: number): number;
  release_netmem(pps: PagePools, pool: number, netmem: number): boolean;
  init(pps: PagePools, pool: number): number;
  destroy(pps: PagePools, pool: number): void;
  uninstall(pps: PagePools, mpPriv: number, rxq: number): void;
}

const providers: MemoryProviderOps[] = [];

/** Register a provider's ops (once per module load). */
export function registerMemoryProvider(ops: MemoryProviderOps): void {
  if (ops.id === 0 || providers.some((p) => p.id === ops.id)) throw new Error(`memory provider id ${ops.id} taken`);
  providers.push(ops);
}

/** The ops under `id`, or null (what `is_kernel_rodata()` would refuse). */
export function memoryProviderById(id: number): MemoryProviderOps | null {
  for (const p of providers) if (p.id === id) return p;
  return null;
}

/**
 * The ops a pool runs: `pool->mp_ops` where the build declares it; on a build with `mp_priv` only
 * (v6.12) the devmem provider whenever `mp_priv` is set, as page_pool.c called it directly.
 */
export function poolMpOps(pps: PagePools, pool: number): MemoryProviderOps | null {
  const mem = pps.mem;
  const ops = pps.o.has("mp_ops");
  if (ops >= 0) {
    const id = mem.rd32(pool + ops);
    return id === 0 ? null : memoryProviderById(id);
  }
  const priv = pps.o.has("mp_priv");
  if (priv < 0 || mem.rdPtr(pool + priv) === 0) return null;
  return providers[0] ?? null;
}

/**
 * `__netif_get_rx_queue(dev, rxq_idx)`: the emulator's rx queue `idx` of `dev`, made (zeroed, no
 * provider) on first use when `create`; 0 when absent or out of memory.
 */
export function netifGetRxQueue(pps: PagePools, dev: number, idx: number, create: boolean): number {
  const mem = pps.mem;
  const head = mem.machine + MACH_RX_QUEUES;
  for (let q = mem.rdPtr(head); q !== 0; q = mem.rdPtr(q + RXQ_NEXT)) {
    if (mem.rdPtr(q + RXQ_DEV) === dev && mem.rd32(q + RXQ_INDEX) === idx) return q;
  }
  if (!create) return 0;
  const q = pps.m.slab.kmalloc(RXQ.size, GFP_ZERO);
  if (q === 0) return 0;
  mem.wrPtr(q + RXQ_DEV, dev);
  mem.wr32(q + RXQ_INDEX, idx);
  mem.wrPtr(q + RXQ_NEXT, mem.rdPtr(head));
  mem.wrPtr(head, q);
  return q;
}

/** Every rx queue the machine has made. */
export function forEachRxQueue(pps: PagePools, cb: (rxq: number) => void): void {
  const mem = pps.mem;
  for (let q = mem.rdPtr(mem.machine + MACH_RX_QUEUES); q !== 0; q = mem.rdPtr(q + RXQ_NEXT)) cb(q);
}

/** `page_pool_set_dma_addr_netmem()` for a niov (LP64: the address itself); false = it fits. */
export function netMpNiovSetDmaAddr(pps: PagePools, niov: number, hi: number, lo: number): boolean {
  // page_pool_set_dma_addr_netmem() stores the full dma_addr_t on 64-bit and never fails there.
  pps.mem.wr64(niov + netIovGeometry(pps.build).dmaAddr, hi, lo);
  return false;
}

/**
 * `net_mp_niov_set_page_pool()`: `page_pool_set_pp_info(pool, netmem)` through the build's layout,
 * then `pool->pages_state_hold_cnt++`. False when the layout had no tracking slot for it.
 */
export function netMpNiovSetPagePool(pps: PagePools, pool: number, niov: number): boolean {
  if (!pps.t.setPpInfo(pool, netIovToNetmem(niov))) return false;
  const hold = pool + pps.o.holdCnt;
  pps.mem.wr32(hold, (pps.mem.rd32(hold) + 1) >>> 0);
  if (traceHook !== null) traceHook(TP_STATE_HOLD, pps, pool, netIovToNetmem(niov)); // trace_page_pool_state_hold()
  return true;
}

/** `net_mp_niov_clear_page_pool()`: `page_pool_clear_pp_info(netmem)` (the ->release_netmem() path only). */
export function netMpNiovClearPagePool(pps: PagePools, pool: number, niov: number): void {
  pps.t.clearPpInfo(pool, netIovToNetmem(niov));
}

/**
 * `net_mp_netmem_place_in_cache()`: `pool->alloc.cache[pool->alloc.count++] = netmem`; the caller
 * (an alloc_netmems() refilling in bulk) keeps the count below PP_ALLOC_CACHE_SIZE. False if full.
 */
export function netMpNetmemPlaceInCache(pps: PagePools, pool: number, netmem: number): boolean {
  const mem = pps.mem;
  const o = pps.o;
  const count = mem.rd32(pool + o.allocCount);
  if (count >= PP_ALLOC_CACHE_SIZE) return false;
  mem.wrPtr(pool + o.allocCache + count * o.cacheSlot, netmem);
  mem.wr32(pool + o.allocCount, count + 1);
  return true;
}

/**
 * `dev_memory_provider_uninstall()` (net/core/dev.c, from unregister_netdevice_many_notify(); search
 * id 9488126835): every rx queue of `dev` with `mp_ops->uninstall` gets `uninstall(mp_priv, rxq)`; the
 * params themselves stay (the queue goes away with the device). Returns the queues uninstalled.
 */
export function devMemoryProviderUninstall(pps: PagePools, dev: number): number {
  const mem = pps.mem;
  let n = 0;
  forEachRxQueue(pps, (q) => {
    if (mem.rdPtr(q + RXQ_DEV) !== dev) return;
    const ops = memoryProviderById(mem.rd32(q + RXQ_MP_OPS));
    if (ops === null) return;
    ops.uninstall(pps, mem.rdPtr(q + RXQ_MP_PRIV), q);
    n++;
  });
  return n;
}
