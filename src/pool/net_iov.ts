/**
 * `struct net_iov` as the page_pool and its memory providers see it (include/net/netmem.h), for the
 * build's own declaration (`build.structs.netIov`, src/builds/netmem_desc_structs.ts; the v6.17 one
 * when a build declares none):
 *
 *   netmem_ref = (unsigned long)niov | NET_IOV          net_iov_to_netmem() / netmem_to_net_iov()
 *   niov->owner → struct net_iov_area { niovs, num_niovs, base_virtual }
 *   net_iov_idx(niov) = niov - net_iov_owner(niov)->niovs
 *
 * The page_pool words of a net_iov (pp_magic, pp, dma_addr, pp_ref_count) sit where struct page has
 * them (NET_IOV_ASSERT_OFFSET / NETMEM_DESC_ASSERT_OFFSET), and the emulator's memory words are
 * u32-indexed (`addr >>> 2`): the mechanism reads a niov's word at `netmem + PAGE_*` with NET_IOV still
 * set and gets the right word, as `netmem_to_nmdesc()` does by clearing the bit.
 *
 * `netIovInit()` is 735a309b4bfb "net: add net_iov_init() and use it to initialize ->page_type"
 * (Jakub Kicinski, search id 57994800446): owner, type, and on a kernel whose net_iov has `page_type`
 * (v7.1-rc PGTY_netpp, db359fccf212) the "no type" sentinel UINT_MAX, so that
 * `page_pool_set_pp_info()` → `__SetPageNetpp()` on the niov does not hit its VM_BUG_ON. The revert
 * 54cf41c969da drops the page_type line again (search id 54516512277). `NetIovInitMode` "none" is
 * db359fccf212 alone: devmem.c stamped only owner and type, and `kvmalloc_array()` does not zero, so
 * page_type is whatever the allocation held.
 */
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf, m, struct, ptr, ULONG, DMA_ADDR_T, type RecordType, type StructLayout } from "../mem/ctype.js";
import { STRUCT_NET_IOV } from "../mem/structs.js";
import { STRUCT_NET_IOV_AREA } from "../builds/netmem_desc_structs.js";
import type { KernelBuild } from "../builds/types.js";
import type { PhysMem } from "../mem/physmem.js";
import { NET_IOV } from "./nmdesc.js";

export { NET_IOV };

/** `enum net_iov_type` (v6.16+): NET_IOV_DMABUF = 0, NET_IOV_IOURING = 1. */
export const NET_IOV_DMABUF = 0;
export const NET_IOV_IOURING = 1;
export const NET_IOV_TYPE_NAMES: readonly string[] = ["NET_IOV_DMABUF", "NET_IOV_IOURING"];

/** `UINT_MAX`: page_type "no type" (= `_mapcount == -1`). */
export const PAGE_TYPE_UINT_MAX = 0xffffffff;

/**
 * How the provider stamps a new niov: `"net_iov_init"` (735a309b4bfb: owner, type, page_type =
 * UINT_MAX where declared), or `"none"`: owner and type only, as devmem.c had it before 735a309b4bfb,
 * page_type left as allocated.
 */
export type NetIovInitMode = "net_iov_init" | "none";

/** Offsets of one build's struct net_iov (lp64). `-1` for a member the build's net_iov lacks. */
export interface NetIovGeometry {
  readonly type: RecordType;
  readonly layout: StructLayout;
  readonly size: number;
  readonly ppMagic: number;
  /** `pp` (or v11's `pp_item`: the same word). */
  readonly pp: number;
  readonly dmaAddr: number;
  readonly ppRefCount: number;
  /** `owner`: a `struct net_iov_area *` (v6.12–v6.14: a `struct dmabuf_genpool_chunk_owner *`). */
  readonly owner: number;
  /** `enum net_iov_type type`: -1 before v6.16; 4 or 8 bytes (`typeSize`). */
  readonly niovType: number;
  readonly typeSize: number;
  /** `unsigned int page_type` (v7.1-rc PGTY_netpp only). */
  readonly pageType: number;
  /**
   * Where the owner keeps `niovs` and `num_niovs`: a `struct net_iov_area` (v6.15+), or v6.12's
   * `struct dmabuf_genpool_chunk_owner` (niovs@16, num_niovs@24) that `owner` pointed to then.
   */
  readonly ownerNiovs: number;
  readonly ownerNumNiovs: number;
}

/** `struct net_iov_area` (lp64). */
export const NIA_LAYOUT = layoutOf(STRUCT_NET_IOV_AREA, LP64);
export const NIA_SIZE = NIA_LAYOUT.size;
export const NIA_NIOVS = offsetOf(NIA_LAYOUT, "niovs");
export const NIA_NUM_NIOVS = offsetOf(NIA_LAYOUT, "num_niovs");
export const NIA_BASE_VIRTUAL = offsetOf(NIA_LAYOUT, "base_virtual");

/*
 * What `niov->owner` points to for devmem (net/core/devmem.h): its `struct dmabuf_genpool_chunk_owner`,
 * the owner of one dma-buf chunk in the binding's gen_pool. From v6.15 the chunk owner starts with the
 * `struct net_iov_area` that owner names; on v6.12–v6.14 owner named the chunk owner itself.
 */
/** `struct dmabuf_genpool_chunk_owner` after the net_iov_area refactor (v6.15+): area@0, binding, base_dma_addr. */
export const STRUCT_DMABUF_GENPOOL_CHUNK_OWNER = struct("dmabuf_genpool_chunk_owner", [
  m("area", STRUCT_NET_IOV_AREA),
  m("binding", ptr("struct net_devmem_dmabuf_binding")),
  m("base_dma_addr", DMA_ADDR_T),
]);

/** v6.12–v6.14: the chunk owner before net_iov_area (search id 36931519207, 9785552796's minus lines). */
export const STRUCT_DMABUF_GENPOOL_CHUNK_OWNER_V6_12 = struct("dmabuf_genpool_chunk_owner", [
  m("base_virtual", ULONG),
  m("base_dma_addr", DMA_ADDR_T),
  m("niovs", ptr("struct net_iov")),
  m("num_niovs", ULONG),
  m("binding", ptr("struct net_devmem_dmabuf_binding")),
]);

const geometries = new Map<RecordType, NetIovGeometry>();

/** The build's `struct net_iov` (its own declaration, or the v6.17 one). */
export function netIovTypeOf(build: KernelBuild): RecordType {
  return build.structs.netIov ?? STRUCT_NET_IOV;
}

/** Offsets of the build's struct net_iov, derived from its declaration. */
export function netIovGeometry(build: KernelBuild): NetIovGeometry {
  const t = netIovTypeOf(build);
  let g = geometries.get(t);
  if (g) return g;
  const l = layoutOf(t, LP64);
  const opt = (p: string): number => l.off[p] ?? -1;
  const niovType = opt("type");
  const owner = t.members.find((x) => x.name === "owner");
  const chunkOwner = owner !== undefined && owner.type.kind === "prim" && owner.type.cname.startsWith("struct dmabuf_genpool_chunk_owner");
  const ol = chunkOwner ? layoutOf(STRUCT_DMABUF_GENPOOL_CHUNK_OWNER_V6_12, LP64) : NIA_LAYOUT;
  g = {
    type: t,
    layout: l,
    size: l.size,
    ppMagic: l.off.pp_magic ?? l.off["desc.pp_magic"] ?? -1,
    pp: l.off.pp ?? l.off["desc.pp"] ?? l.off.pp_item ?? -1,
    dmaAddr: l.off.dma_addr ?? l.off["desc.dma_addr"] ?? -1,
    ppRefCount: l.off.pp_ref_count ?? l.off["desc.pp_ref_count"] ?? -1,
    owner: opt("owner"),
    niovType,
    typeSize: niovType < 0 ? 0 : l.sz.type!,
    pageType: opt("page_type"),
    ownerNiovs: offsetOf(ol, "niovs"),
    ownerNumNiovs: offsetOf(ol, "num_niovs"),
  };
  geometries.set(t, g);
  return g;
}

/** `net_iov_to_netmem()`. */
export function netIovToNetmem(niov: number): number {
  return (niov | NET_IOV) >>> 0;
}

/** `netmem_is_net_iov()`. */
export function netmemIsNetIov(netmem: number): boolean {
  return (netmem & NET_IOV) !== 0;
}

/** `__netmem_clear_lsb()` / `netmem_to_net_iov()` (the caller has checked NET_IOV). */
export function netmemToNetIov(netmem: number): number {
  return (netmem & ~NET_IOV) >>> 0;
}

/**
 * `net_iov_init(niov, owner, type)` (735a309b4bfb), or with `mode` "none" the two stores devmem.c
 * made before it. A build whose net_iov has no `type` (v6.12–v6.15) stores the owner only.
 */
export function netIovInit(mem: PhysMem, g: NetIovGeometry, niov: number, owner: number, type: number, mode: NetIovInitMode = "net_iov_init"): void {
  mem.wrPtr(niov + g.owner, owner);
  if (g.niovType >= 0) {
    if (g.typeSize === 8) mem.wr64(niov + g.niovType, 0, type);
    else mem.wr32(niov + g.niovType, type);
  }
  if (mode === "net_iov_init" && g.pageType >= 0) mem.wr32(niov + g.pageType, PAGE_TYPE_UINT_MAX);
}

/** `net_iov_owner(niov)`: the niov's `struct net_iov_area`. */
export function netIovOwner(mem: PhysMem, g: NetIovGeometry, niov: number): number {
  return mem.rdPtr(niov + g.owner);
}

/** `net_iov_idx(niov)`: `niov - net_iov_owner(niov)->niovs`. */
export function netIovIdx(mem: PhysMem, g: NetIovGeometry, niov: number): number {
  const area = netIovOwner(mem, g, niov);
  return (niov - mem.rdPtr(area + g.ownerNiovs)) / g.size;
}

/** The niov's `type` (0 where the build has none: devmem was the only kind). */
export function netIovType(mem: PhysMem, g: NetIovGeometry, niov: number): number {
  return g.niovType < 0 ? NET_IOV_DMABUF : mem.rd32(niov + g.niovType);
}

/** Does `addr` fall on a niov of `area` (an element start)? The niov, or 0. */
export function netIovInArea(mem: PhysMem, g: NetIovGeometry, area: number, addr: number): number {
  const base = mem.rdPtr(area + g.ownerNiovs);
  const n = mem.rd32(area + g.ownerNumNiovs);
  if (base === 0 || addr < base || addr >= base + n * g.size) return 0;
  return base + Math.floor((addr - base) / g.size) * g.size;
}
