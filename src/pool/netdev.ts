/**
 * A network device as page_pool sees it (v6.8+): a pool created with `.netdev` names it in
 * `pool->slow.netdev`; when the netdev unregisters, `page_pool_unreg_netdev()` moves its pools to
 * the loopback device of its namespace (`pool->slow.netdev = lo`), so a lingering pool stays visible
 * to netlink and its stalled-shutdown warning stays muted (only pools without a netdev warn).
 *
 * `struct ppemu_netdev` stands in for `struct net_device`: its name, ifindex and registration state.
 * The per-netdev `page_pools` hlist is not modelled; unregister walks the machine's pool list.
 */
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf, struct, m, array, U8, U32 } from "../mem/ctype.js";
import { MACH_LOOPBACK } from "../mem/physmem.js";
import { GFP_ZERO } from "../mem/buddy.js";
import type { PagePools } from "./page_pool.js";

export const NETDEV_NAME_LEN = 16;

export const STRUCT_PPEMU_NETDEV = struct("ppemu_netdev", [
  m("name", array(U8, NETDEV_NAME_LEN)),
  m("ifindex", U32),
  m("registered", U32),
]);
const ND = layoutOf(STRUCT_PPEMU_NETDEV, LP64);
const ND_NAME = offsetOf(ND, "name");
const ND_IFINDEX = offsetOf(ND, "ifindex");
const ND_REGISTERED = offsetOf(ND, "registered");

/** `register_netdev()`: a registered netdev named `name` (the first one made is `lo`, ifindex 1). */
export function netdevCreate(pps: PagePools, name: string): number {
  const lo = loopbackDev(pps);
  return lo === 0 ? 0 : makeNetdev(pps, name);
}

/** `init_net.loopback_dev`, made on first use. */
export function loopbackDev(pps: PagePools): number {
  const mem = pps.mem;
  const have = mem.rdPtr(mem.machine + MACH_LOOPBACK);
  if (have !== 0) return have;
  const lo = makeNetdev(pps, "lo");
  if (lo !== 0) mem.wrPtr(mem.machine + MACH_LOOPBACK, lo);
  return lo;
}

function makeNetdev(pps: PagePools, name: string): number {
  const mem = pps.mem;
  const dev = pps.m.slab.kmalloc(ND.size, GFP_ZERO);
  if (dev === 0) return 0;
  const bytes = new TextEncoder().encode(name).subarray(0, NETDEV_NAME_LEN - 1);
  mem.u8.set(bytes, dev + ND_NAME);
  mem.wr32(dev + ND_IFINDEX, mem.nextId());
  mem.wr32(dev + ND_REGISTERED, 1);
  return dev;
}

export function netdevName(pps: PagePools, dev: number): string {
  const mem = pps.mem;
  const b = mem.u8.subarray(dev + ND_NAME, dev + ND_NAME + NETDEV_NAME_LEN);
  const end = b.indexOf(0);
  return new TextDecoder().decode(b.subarray(0, end < 0 ? b.length : end));
}

/**
 * `unregister_netdev()`: its page_pools move to loopback (`page_pool_unreg_netdev()`, v6.8+; a
 * build without `slow.netdev` has nothing to move). Returns the pools moved.
 */
export function netdevUnregister(pps: PagePools, dev: number): number {
  const mem = pps.mem;
  mem.wr32(dev + ND_REGISTERED, 0);
  const off = pps.o.netdev;
  if (off < 0) return 0;
  const lo = loopbackDev(pps);
  let moved = 0;
  pps.forEachPool((pool) => {
    if (mem.rdPtr(pool + off) !== dev) return;
    mem.wrPtr(pool + off, lo);
    moved++;
  });
  return moved;
}
