/**
 * `struct netmem_desc` as the mechanism's view of a page (include/net/netmem.h, v6.17+, f3d85c9ee510
 * "netmem: introduce struct netmem_desc mirroring struct page"; the 2026 accessors as in the
 * sjp38/linux tree, search id 4059490063):
 *
 *   __pp_page_to_nmdesc(p)   a plain cast: netmem_desc overlays struct page
 *   pp_page_to_nmdesc(p)     the same, after DEBUG_NET_WARN_ON_ONCE(!page_pool_page_is_pp(p))
 *                            (`!PageNetpp(p)` in v7.1-rc)
 *   netmem_to_nmdesc(n)      `&niov->desc` for a net_iov (bit 0, NET_IOV), else __pp_page_to_nmdesc
 *
 * page_pool reads and writes a page's pool fields (pp_magic, pp, dma_addr, pp_ref_count) at
 * `desc + NMDESC_*`. Every build up to mainline has `desc == page`; netmem.h says "How to extract
 * netmem_desc from page must be changed, once netmem_desc no longer overlays on page and will be
 * allocated through slab" — that is the memdesc-item build, whose layout returns the page's item
 * (`Tracking.nmdesc`). The allocator's own words (flags, _refcount, buddy links) stay in struct page.
 *
 * The offsets are derived from STRUCT_NETMEM_DESC; NETMEM_DESC_ASSERT_OFFSET is checked here at load
 * time for the machine's arch (lp64), and for every arch by `netmemDescAssertFailures` (tests, verify).
 */
import { type Arch, LP64 } from "../arch.js";
import { type RecordType, type StructLayout, layoutOf, offsetOf } from "../mem/ctype.js";
import { STRUCT_NETMEM_DESC, STRUCT_PAGE } from "../mem/structs.js";

export const NMDESC_LAYOUT = layoutOf(STRUCT_NETMEM_DESC, LP64);
export const NETMEM_DESC_SIZE = NMDESC_LAYOUT.size;
export const NMDESC_FLAGS = offsetOf(NMDESC_LAYOUT, "_flags");
export const NMDESC_PP_MAGIC = offsetOf(NMDESC_LAYOUT, "pp_magic");
export const NMDESC_PP = offsetOf(NMDESC_LAYOUT, "pp");
export const NMDESC_PP_MAPPING_PAD = offsetOf(NMDESC_LAYOUT, "_pp_mapping_pad");
export const NMDESC_DMA_ADDR = offsetOf(NMDESC_LAYOUT, "dma_addr");
export const NMDESC_PP_REF_COUNT = offsetOf(NMDESC_LAYOUT, "pp_ref_count");

/** `NET_IOV`: bit 0 of a netmem_ref marks a net_iov. */
export const NET_IOV = 0x1;

/** The `NETMEM_DESC_ASSERT_OFFSET(pg, desc)` pairs of netmem.h: struct page member, netmem_desc member. */
export const NETMEM_DESC_ASSERT_PAIRS: readonly (readonly [string, string])[] = [
  ["flags", "_flags"],
  ["pp_magic", "pp_magic"],
  ["pp", "pp"],
  ["_pp_mapping_pad", "_pp_mapping_pad"],
  ["dma_addr", "dma_addr"],
  ["pp_ref_count", "pp_ref_count"],
];

/**
 * The netmem.h static_asserts for an arch, as failure texts (empty: all hold): each
 * NETMEM_DESC_ASSERT_OFFSET, and `sizeof(struct netmem_desc) <= offsetof(struct page, _refcount)`.
 */
export function netmemDescAssertFailures(arch: Arch, pageT: RecordType = STRUCT_PAGE, descT: RecordType = STRUCT_NETMEM_DESC): string[] {
  const page = layoutOf(pageT, arch);
  const desc = layoutOf(descT, arch);
  const out: string[] = [];
  for (const [pg, d] of NETMEM_DESC_ASSERT_PAIRS) {
    const a = offsetOrNone(page, pg);
    const b = offsetOrNone(desc, d);
    if (a !== b) out.push(`NETMEM_DESC_ASSERT_OFFSET(${pg}, ${d}) on ${arch.name}: page ${a} != netmem_desc ${b}`);
  }
  const rc = offsetOf(page, "_refcount");
  if (desc.size > rc) out.push(`sizeof(struct netmem_desc) ${desc.size} > offsetof(struct page, _refcount) ${rc} on ${arch.name}`);
  return out;
}

/** A member's offset, or -1 when the struct has no such member (a broken declaration under test). */
function offsetOrNone(l: StructLayout, path: string): number {
  try {
    return offsetOf(l, path);
  } catch {
    return -1;
  }
}

// The kernel's static_assert, at load time for the machine's arch: the cast below depends on it.
{
  const f = netmemDescAssertFailures(LP64);
  if (f.length !== 0) throw new Error(`ppemu: ${f.join("; ")}`);
}

/** `__pp_page_to_nmdesc(p)`: the page itself, while netmem_desc overlays struct page. */
export function __ppPageToNmdesc(page: number): number {
  return page;
}

// `pp_page_to_nmdesc()` (the WARN under the machine's checks) is PagePools.ppPageToNmdesc, and the
// build's `netmem_to_nmdesc()` of a page is PagePools.nmdesc: both need the running build's layout.

/**
 * `netmem_to_nmdesc(netmem)`: a net_iov's `desc` is at offset 0 of the net_iov (NET_IOV_ASSERT_OFFSET),
 * so clearing NET_IOV gives it; a page goes through the build's descriptor.
 */
export function netmemToNmdesc(ctx: { nmdesc(page: number): number }, netmem: number): number {
  if ((netmem & NET_IOV) !== 0) return (netmem & ~NET_IOV) >>> 0;
  return ctx.nmdesc(netmem);
}
