/**
 * `struct net_iov` of every kernel that has one, `struct net_iov_area`, and the `static_assert`s
 * include/net/netmem.h makes over them, as data a test (or `verify`) can replay against the
 * declarations (x86-64 offsets are in the comments; ilp32 is derived from the same declarations).
 *
 * net_iov is the page_pool's view of memory that has no `struct page` (devmem TCP dma-bufs, io_uring
 * zcrx areas). It must put the page_pool words where struct page has them, so that a `netmem_ref`
 * with bit 0 (NET_IOV) cleared can be read as either. How that is guaranteed changed four times:
 *
 *   v6.12–v6.16   net_iov mirrors struct page's words directly (48 B); NET_IOV_ASSERT_OFFSET(page ↔ net_iov)
 *   v6.17–v6.18   union { netmem_desc desc; mirror } (48) · owner@48 · 8-byte type@56 (NET_IOV_MAX = ULONG_MAX)
 *   v6.19         same, `type` 4 bytes + 4 padding (NET_IOV_MAX removed)
 *   v7.1-rc1..rc4 desc@0 · page_type@48 (== page->page_type, for PGTY_netpp) · type@52 · owner@56
 *   after revert  desc@0 · type@48 · 4-byte hole · owner@56 (the hole the PGTY patch had filled)
 *
 * `struct netmem_desc` itself (v6.17+) is declared once in src/mem/structs.ts (STRUCT_NETMEM_DESC),
 * and so is the v6.17 net_iov (STRUCT_NET_IOV, which the verifier and the library export use).
 */
import { NETMEM_DESC_ASSERT_PAIRS } from "../pool/nmdesc.js";
import { type RecordType, layoutOf, m, offsetOf, prim, ptr, struct, ULONG, UINT, ATOMIC_LONG_T } from "../mem/ctype.js";
import type { Arch } from "../arch.js";
import { STRUCT_NETMEM_DESC, STRUCT_NET_IOV, STRUCT_PAGE } from "../mem/structs.js";

/** `enum net_iov_type` while it ends in `NET_IOV_MAX = ULONG_MAX`: as wide as a long (v6.16–v6.18). */
const ENUM_NET_IOV_TYPE_LONG = prim("enum net_iov_type", "long");
/** `enum net_iov_type` after "net: netmem: remove NET_IOV_MAX from net_iov_type enum": an int. */
const ENUM_NET_IOV_TYPE = prim("enum net_iov_type", 4);

/** The page_pool words of struct page, mirrored by the pre-netmem_desc net_iov (v6.12–v6.16). */
function mirror(first: ReturnType<typeof m>, owner: string, pool = m("pp", ptr("struct page_pool"))) {
  return [
    first,
    m("pp_magic", ULONG),
    pool,
    m("owner", ptr(owner)),
    m("dma_addr", ULONG),
    m("pp_ref_count", ATOMIC_LONG_T),
  ];
}

/**
 * v6.12–v6.14: devmem TCP's net_iov (Mina Almasry, "netmem: add net_iov", v6.12; search id
 * 12181999691). `__unused_padding` stands where struct page has `flags`; `owner` (where struct page
 * has `mapping`) names the dma-buf chunk. 48 bytes.
 */
export const STRUCT_NET_IOV_V6_12 = struct("net_iov", mirror(m("__unused_padding", ULONG), "struct dmabuf_genpool_chunk_owner"));

/**
 * v6.15: `owner` becomes a `struct net_iov_area *` for io_uring zcrx ("net: prepare for non devmem
 * TCP memory providers", Pavel Begunkov; search id 9309134229). Offsets unchanged. Yunsheng Lin's v11
 * base (net-next, 7 Mar 2025) has this form too.
 */
export const STRUCT_NET_IOV_V6_15 = struct("net_iov", mirror(m("__unused_padding", ULONG), "struct net_iov_area"));

/**
 * Yunsheng Lin's v11 2/4 (<20250307092356.638242-3-linyunsheng@huawei.com>, search id 1334420349):
 * the v6.15 net_iov with `pp` renamed `pp_item` (`struct page_pool_item *`), as struct page's word is.
 */
export const STRUCT_NET_IOV_V11 = struct(
  "net_iov",
  mirror(m("__unused_padding", ULONG), "struct net_iov_area", m("pp_item", ptr("struct page_pool_item"))),
);

/**
 * v6.16: `__unused_padding` becomes `enum net_iov_type type` ("netmem: add niov->type attribute to
 * distinguish different net_iov types", Mina Almasry, <20250415224756.152002-1-almasrymina@google.com>,
 * search id 19713758849); `NET_IOV_MAX = ULONG_MAX` keeps it 8 bytes "to make the NET_IOV_ASSERTS below
 * pass". Read: torvalds/linux include/net/netmem.h @03e96b8c11d1 (search id 19405319183).
 */
export const STRUCT_NET_IOV_V6_16 = struct("net_iov", mirror(m("type", ENUM_NET_IOV_TYPE_LONG), "struct net_iov_area"));

/**
 * v6.17–v6.18: f3d85c9ee510 "netmem: introduce struct netmem_desc mirroring struct page": the mirror
 * moves into a union with `desc`, `owner`@48, 8-byte `type`@56. Read: 6952350/linux-6.18.y
 * include/net/netmem.h @20fa05ab56b2 (search id 52143520918). Declared in src/mem/structs.ts.
 */
export const STRUCT_NET_IOV_V6_17 = STRUCT_NET_IOV;

/**
 * v6.19: "net: netmem: remove NET_IOV_MAX from net_iov_type enum" (Bobby Eshleman, net-next
 * 24 Oct 2025, <20251024-b4-devmem-remove-niov-max-v1-1-ba72c68bc869@meta.com>, search id
 * 13990763443): `type`@56 is 4 bytes, 4 bytes of tail padding; the mail quotes pahole's
 * "size: 64, cachelines: 1, members: 3" and "padding: 4".
 */
export const STRUCT_NET_IOV_V6_19 = struct("net_iov", [
  STRUCT_NET_IOV.members[0]!, // the same union { desc; mirror } as v6.17
  m("owner", ptr("struct net_iov_area")),
  m("type", ENUM_NET_IOV_TYPE),
]);

/**
 * v7.1-rc1..rc4: db359fccf212 "mm: introduce a new page type for page pool in page type" (Byungchul
 * Park, <20260224051347.19621-1-byungchul@sk.com>, search id 54594879099): the mirror union is gone
 * (plain `desc`), `unsigned int page_type` at struct page's page_type offset so `__SetPageNetpp()` on a
 * niov cast to a page works, and `type`/`owner` reordered "to avoid a hole". The reverted form's
 * context lines (search id 54516512277) show the same member order.
 */
export const STRUCT_NET_IOV_NETPP = struct("net_iov", [
  m("desc", STRUCT_NETMEM_DESC),
  m("page_type", UINT),
  m("type", ENUM_NET_IOV_TYPE),
  m("owner", ptr("struct net_iov_area")),
]);

/**
 * Mainline after 54cf41c969da (Revert "mm: introduce a new page type for page pool in page type",
 * <20260515034701.17027-1-byungchul@sk.com>, search id 54516512277): `desc`, `type`, `owner` — so
 * `type` (4 bytes) at 48 leaves a 4-byte hole before the 8-aligned `owner`@56.
 */
export const STRUCT_NET_IOV_MAINLINE = struct("net_iov", [
  m("desc", STRUCT_NETMEM_DESC),
  m("type", ENUM_NET_IOV_TYPE),
  m("owner", ptr("struct net_iov_area")),
]);

/**
 * `struct net_iov_area` (v6.15+, unchanged since): the array of a provider's niovs. 24 bytes.
 * Read: search id 52143520918 (v6.18) and id 9309134229 (where it was introduced).
 */
export const STRUCT_NET_IOV_AREA = struct("net_iov_area", [
  m("niovs", ptr("struct net_iov")),
  m("num_niovs", prim("size_t", "long")),
  m("base_virtual", ULONG),
]);

/** One `static_assert(offsetof(A, a) == offsetof(B, b))` of include/net/netmem.h. */
export interface OffsetAssert {
  /** The macro as the header names it. */
  readonly macro: "NET_IOV_ASSERT_OFFSET" | "NETMEM_DESC_ASSERT_OFFSET";
  readonly a: RecordType;
  readonly aField: string;
  readonly b: RecordType;
  readonly bField: string;
}

/** The netmem.h asserts of one kernel, and whether it asserts `sizeof(netmem_desc) <= offsetof(page, _refcount)`. */
export interface NetmemAsserts {
  readonly offsets: readonly OffsetAssert[];
  readonly descFitsBeforeRefcount: boolean;
}

const pairs = (macro: OffsetAssert["macro"], a: RecordType, b: RecordType, fields: readonly (readonly [string, string])[]): OffsetAssert[] =>
  fields.map(([aField, bField]) => ({ macro, a, aField, b, bField }));

const PP_WORDS = ["pp_magic", "pp", "dma_addr", "pp_ref_count"] as const;
const PP_ITEM_WORDS = ["pp_magic", "pp_item", "dma_addr", "pp_ref_count"] as const;
const DESC_WORDS = ["_flags", "pp_magic", "pp", "_pp_mapping_pad", "dma_addr", "pp_ref_count"] as const;
/** NETMEM_DESC_ASSERT_OFFSET(page field, desc field), v6.17+ (search id 52143520918). */
const NETMEM_DESC_ASSERTS = pairs("NETMEM_DESC_ASSERT_OFFSET", STRUCT_PAGE, STRUCT_NETMEM_DESC, NETMEM_DESC_ASSERT_PAIRS);

const ASSERTS = new Map<RecordType, NetmemAsserts>([
  // v6.12–v6.16: NET_IOV_ASSERT_OFFSET(pg, iov) compares struct page with struct net_iov.
  ...[STRUCT_NET_IOV_V6_12, STRUCT_NET_IOV_V6_15, STRUCT_NET_IOV_V6_16].map(
    (t) => [t, { offsets: pairs("NET_IOV_ASSERT_OFFSET", STRUCT_PAGE, t, PP_WORDS.map((f) => [f, f] as const)), descFitsBeforeRefcount: false }] as const,
  ),
  // v11 2/4: NET_IOV_ASSERT_OFFSET(pp_item, pp_item) in place of (pp, pp).
  [STRUCT_NET_IOV_V11, { offsets: pairs("NET_IOV_ASSERT_OFFSET", STRUCT_PAGE, STRUCT_NET_IOV_V11, PP_ITEM_WORDS.map((f) => [f, f] as const)), descFitsBeforeRefcount: false }],
  // v6.17–v6.19: the page ↔ desc asserts, and NET_IOV_ASSERT_OFFSET(desc, iov) for the mirror.
  ...[STRUCT_NET_IOV_V6_17, STRUCT_NET_IOV_V6_19].map(
    (t) =>
      [
        t,
        {
          offsets: [...NETMEM_DESC_ASSERTS, ...pairs("NET_IOV_ASSERT_OFFSET", STRUCT_NETMEM_DESC, t, DESC_WORDS.map((f) => [f, f] as const))],
          descFitsBeforeRefcount: true,
        },
      ] as const,
  ),
  // v7.1-rc: NET_IOV_ASSERT_OFFSET(page_type, page_type) compares struct page with net_iov again.
  [
    STRUCT_NET_IOV_NETPP,
    { offsets: [...NETMEM_DESC_ASSERTS, ...pairs("NET_IOV_ASSERT_OFFSET", STRUCT_PAGE, STRUCT_NET_IOV_NETPP, [["page_type", "page_type"]])], descFitsBeforeRefcount: true },
  ],
  // After the revert: no net_iov assert is left (the revert deletes the page_type one).
  [STRUCT_NET_IOV_MAINLINE, { offsets: NETMEM_DESC_ASSERTS, descFitsBeforeRefcount: true }],
]);

/** The asserts netmem.h makes for a kernel whose net_iov is `netIov`; null for a net_iov declared elsewhere. */
export function netmemAssertsOf(netIov: RecordType): NetmemAsserts | null {
  return ASSERTS.get(netIov) ?? null;
}

/**
 * Replay the asserts on an arch: the ones that do not hold, in the kernel's words (empty: the
 * declarations compile). `desc` is the netmem_desc the size assert measures.
 */
export function brokenNetmemAsserts(a: NetmemAsserts, arch: Arch, desc: RecordType = STRUCT_NETMEM_DESC): string[] {
  const out: string[] = [];
  for (const x of a.offsets) {
    const l = offsetOf(layoutOf(x.a, arch), x.aField);
    const r = offsetOf(layoutOf(x.b, arch), x.bField);
    if (l !== r) out.push(`${x.macro}(${x.aField}, ${x.bField}): offsetof(struct ${x.a.name}, ${x.aField}) = ${l} != offsetof(struct ${x.b.name}, ${x.bField}) = ${r}`);
  }
  if (a.descFitsBeforeRefcount) {
    const size = layoutOf(desc, arch).size;
    const refcount = offsetOf(layoutOf(STRUCT_PAGE, arch), "_refcount");
    if (size > refcount) out.push(`sizeof(struct netmem_desc) = ${size} > offsetof(struct page, _refcount) = ${refcount}`);
  }
  return out;
}

/** Where each declaration above was read (printed above it by `ppemu layout`). */
const SOURCES = new Map<RecordType, string>([
  [STRUCT_NET_IOV_V6_12, "include/net/netmem.h as devmem TCP added it (v6.12; search id 12181999691)"],
  [STRUCT_NET_IOV_V6_15, "include/net/netmem.h with struct net_iov_area (v6.15, io_uring zcrx; search id 9309134229)"],
  [STRUCT_NET_IOV_V11, "include/net/netmem.h of v11 2/4 <20250307092356.638242-3-linyunsheng@huawei.com> (search id 1334420349)"],
  [STRUCT_NET_IOV_V6_16, "torvalds/linux include/net/netmem.h @03e96b8c11d1 (niov->type, <20250415224756.152002-1-almasrymina@google.com>)"],
  [STRUCT_NET_IOV_V6_17, "6952350/linux-6.18.y include/net/netmem.h @20fa05ab56b2 (f3d85c9ee510 netmem_desc; NET_IOV_MAX = ULONG_MAX)"],
  [STRUCT_NET_IOV_V6_19, "include/net/netmem.h after <20251024-b4-devmem-remove-niov-max-v1-1-ba72c68bc869@meta.com> (NET_IOV_MAX removed)"],
  [STRUCT_NET_IOV_NETPP, "include/net/netmem.h of db359fccf212 <20260224051347.19621-1-byungchul@sk.com> (PGTY_netpp, v7.1-rc1..rc4)"],
  [STRUCT_NET_IOV_MAINLINE, "include/net/netmem.h after revert 54cf41c969da <20260515034701.17027-1-byungchul@sk.com>"],
  [STRUCT_NET_IOV_AREA, "include/net/netmem.h (v6.15+; 6952350/linux-6.18.y @20fa05ab56b2)"],
  [STRUCT_NETMEM_DESC, "include/net/netmem.h (f3d85c9ee510, v6.17+; 6952350/linux-6.18.y @20fa05ab56b2)"],
]);

/** Where a netmem declaration of this file (or netmem_desc) was read; null for any other struct. */
export function netmemStructSource(t: RecordType): string | null {
  return SOURCES.get(t) ?? null;
}
