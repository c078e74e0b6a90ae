/**
 * `struct page_pool` of the classic-layout kernels: v6.1, v6.6, v6.12, v6.15 (x86-64,
 * CONFIG_PAGE_POOL_STATS=y, CONFIG_SMP=y, 64-byte cache lines, no lock debugging).
 *
 * Member order is the kernel's; every member is declared, including the ones the emulator never
 * touches (frag_*, disconnect, xdp_mem_id, …), so the offsets are the kernel's. Changes from one
 * build to the next are listed above each declaration. How each was read is in its comment and in
 * `source`.
 */
import {
  ATOMIC_T,
  INT,
  LONG,
  REFCOUNT_T,
  U32,
  U64T,
  UINT,
  m,
  ptr,
  struct,
} from "../mem/ctype.js";
import { STRUCT_PP_ALLOC_CACHE, STRUCT_PTR_RING } from "../mem/structs.js";
import { STRUCT_NET_IOV_AREA, STRUCT_NET_IOV_V6_12, STRUCT_NET_IOV_V6_15 } from "./netmem_desc_structs.js";
import {
  type PoolStructs,
  RECYCLE_STATS_PTR,
  STRUCT_PAGE_POOL_ALLOC_STATS,
  STRUCT_PAGE_POOL_PARAMS_FAST,
  STRUCT_PAGE_POOL_PARAMS_SLOW,
  STRUCT_PAGE_POOL_PARAMS_V6_1,
  STRUCT_PAGE_POOL_PARAMS_V6_6,
  STRUCT_PAGE_POOL_RECYCLE_STATS,
  fragGroupAligned,
  poolFlagBits,
  fragGroupV69,
  fragMembers,
  releaseMembers,
  userStruct,
} from "./structs_common.js";

const ALLOC = m("alloc", STRUCT_PP_ALLOC_CACHE, { alignAttr: 64 }); // ____cacheline_aligned_in_smp
const RING = m("ring", STRUCT_PTR_RING);

/**
 * v6.1: include/net/page_pool.h (the struct moved to include/net/page_pool/types.h in v6.6).
 * Read: torvalds/linux include/net/page_pool.h @03c601927b67 (a v6.4/v6.5 version whose only
 * difference in these structs is `p.napi`, added in v6.4: the v6.1 params were read separately
 * from a v6.1-era copy of the header, search id 106888926, and the napi hunk in id 8456795706).
 * Cross-checked: DepSurf's BTF dump of Ubuntu 6.2.0-20-generic lists the same member order.
 * pp_alloc_cache is `struct page *cache[128]` here (same size as netmem_ref).
 */
export const STRUCT_PAGE_POOL_V6_1 = struct("page_pool", [
  m("p", STRUCT_PAGE_POOL_PARAMS_V6_1),
  ...releaseMembers(),
  m("pages_state_hold_cnt", U32),
  m("frag_offset", UINT),
  m("frag_page", ptr("struct page")),
  m("frag_users", LONG),
  m("alloc_stats", STRUCT_PAGE_POOL_ALLOC_STATS),
  m("xdp_mem_id", U32),
  ALLOC,
  RING,
  m("recycle_stats", RECYCLE_STATS_PTR),
  m("pages_state_release_cnt", ATOMIC_T),
  m("user_cnt", REFCOUNT_T),
  m("destroy_cnt", U64T),
]);

export const POOL_STRUCTS_V6_1: PoolStructs = {
  kernel: "v6.1",
  source:
    "torvalds/linux include/net/page_pool.h @03c601927b67 (v6.4-era; v6.1 params without napi from a v6.1-era copy), " +
    "member order cross-checked with DepSurf BTF of Ubuntu 6.2",
  pagePool: STRUCT_PAGE_POOL_V6_1,
  params: [STRUCT_PAGE_POOL_PARAMS_V6_1],
  allocStats: STRUCT_PAGE_POOL_ALLOC_STATS,
  recycleStats: STRUCT_PAGE_POOL_RECYCLE_STATS,
};

/**
 * v6.6: include/net/page_pool/types.h (split out by a9ca9f9ceff3, Yunsheng Lin).
 * Changes from v6.1:
 *  - `p.napi` (v6.4, "page_pool: allow caching from safely localized NAPI"): params 56 → 64 bytes;
 *  - frag_users / frag_page / frag_offset / pages_state_hold_cnt moved up, right after `p`
 *    (06d0fbdad612, Lobakin, "page_pool: place frag_* fields in one cacheline", net-next Aug 2023).
 * Read: the 06d0fbdad612 diff (netdev v2 3/6, Message-ID
 * <20230803164014.993838-4-aleksander.lobakin@intel.com>) applied to the v6.4-era struct above;
 * its commit message says alloc_stats "still starts at 200-byte offset", which this layout gives.
 */
export const STRUCT_PAGE_POOL_V6_6 = struct("page_pool", [
  m("p", STRUCT_PAGE_POOL_PARAMS_V6_6),
  ...fragMembers("struct page *"),
  m("pages_state_hold_cnt", U32),
  ...releaseMembers(),
  m("alloc_stats", STRUCT_PAGE_POOL_ALLOC_STATS),
  m("xdp_mem_id", U32),
  ALLOC,
  RING,
  m("recycle_stats", RECYCLE_STATS_PTR),
  m("pages_state_release_cnt", ATOMIC_T),
  m("user_cnt", REFCOUNT_T),
  m("destroy_cnt", U64T),
]);

export const POOL_STRUCTS_V6_6: PoolStructs = {
  kernel: "v6.6",
  source:
    "include/net/page_pool/types.h: v6.4-era torvalds/linux include/net/page_pool.h @03c601927b67 + 06d0fbdad612 " +
    "(<20230803164014.993838-4-aleksander.lobakin@intel.com>)",
  pagePool: STRUCT_PAGE_POOL_V6_6,
  params: [STRUCT_PAGE_POOL_PARAMS_V6_6],
  allocStats: STRUCT_PAGE_POOL_ALLOC_STATS,
  recycleStats: STRUCT_PAGE_POOL_RECYCLE_STATS,
};

/**
 * v6.12: include/net/page_pool/types.h.
 * Changes from v6.6:
 *  - v6.8 (Jakub Kicinski's page-pool netlink series): params split into `page_pool_params_fast p`
 *    (flags moved to `slow.flags`), `bool has_init_callback`, and at the end
 *    `struct page_pool_params_slow slow` and the `user` struct (list, detach_time, napi_id, id);
 *  - v6.9 (Lobakin, "make sure frag API fields don't span between cachelines" and "don't use
 *    driver-set flags field directly"; Lorenzo Bianconi's system page pools): `int cpuid` and
 *    pages_state_hold_cnt first, `has_init_callback:1 dma_map:1 dma_sync:1 system:1` bitfields,
 *    the frag group `__cacheline_group_begin(frag) __aligned(4 * sizeof(long))` … `end(frag)`;
 *  - v6.10: frag_page and the alloc cache became netmem_ref (same size);
 *  - v6.12 (devmem TCP): `void *mp_priv` after `ring`, `slow.queue_idx`.
 * Read: the frag-group diffs (search ids 34757388690, 47268558717) and torvalds/linux
 * include/net/page_pool/types.h @024bfd2e9d80 (a v6.14-cycle version, id 926158988), minus the
 * v6.14 `__cacheline_group_{begin,end}_aligned` conversion that id 47268558717 shows replacing
 * exactly the v6.9 form. No file at the v6.12 tag itself was in the index.
 */
export const STRUCT_PAGE_POOL_V6_12 = struct("page_pool", [
  m("p", STRUCT_PAGE_POOL_PARAMS_FAST),
  m("cpuid", INT),
  m("pages_state_hold_cnt", U32),
  ...poolFlagBits(false),
  ...fragGroupV69("netmem_ref"),
  ...releaseMembers(),
  m("alloc_stats", STRUCT_PAGE_POOL_ALLOC_STATS),
  m("xdp_mem_id", U32),
  ALLOC,
  RING,
  m("mp_priv", ptr("void")),
  m("recycle_stats", RECYCLE_STATS_PTR),
  m("pages_state_release_cnt", ATOMIC_T),
  m("user_cnt", REFCOUNT_T),
  m("destroy_cnt", U64T),
  m("slow", STRUCT_PAGE_POOL_PARAMS_SLOW),
  userStruct({ napiId: true, detachTime: "u64" }),
]);

export const POOL_STRUCTS_V6_12: PoolStructs = {
  kernel: "v6.12",
  source:
    "torvalds/linux include/net/page_pool/types.h @024bfd2e9d80 with the v6.9 frag-group form restored " +
    "(the _aligned conversion is v6.14); v6.12 tag not in the index",
  pagePool: STRUCT_PAGE_POOL_V6_12,
  params: [STRUCT_PAGE_POOL_PARAMS_FAST, STRUCT_PAGE_POOL_PARAMS_SLOW],
  allocStats: STRUCT_PAGE_POOL_ALLOC_STATS,
  recycleStats: STRUCT_PAGE_POOL_RECYCLE_STATS,
  netIov: STRUCT_NET_IOV_V6_12,
};

/**
 * v6.15: include/net/page_pool/types.h.
 * Changes from v6.12:
 *  - v6.14 (Lobakin, "xdp: a fistful of generic changes"): the frag group became
 *    `__cacheline_group_{begin,end}_aligned(frag, PAGE_POOL_FRAG_GROUP_ALIGN)`: the end marker is
 *    long-aligned and an empty 32-aligned `__cacheline_group_pad__frag` follows, so release_dw moves
 *    from 88 to 96 and everything after it by 8 (alloc from 256 to 320);
 *  - v6.14: `bool dma_sync_for_cpu:1` after dma_sync;
 *  - v6.14-rc (Jakub Kicinski, "net: page_pool: don't try to stash the napi id"): `user.napi_id` gone;
 *  - v6.15 (Pavel Begunkov, memory provider hooks): `const struct memory_provider_ops *mp_ops` after mp_priv.
 * Read: torvalds/linux include/net/page_pool/types.h @7dba339faae9 (v6.14 cycle: _aligned group,
 * dma_sync_for_cpu; id 13413591) and Kingxukai/linux @9b44fff655e2 (v6.16+: mp_ops, no napi_id,
 * id 8242056853) minus its `struct xarray dma_mapped` (ee62ce7a1d90, v6.16). Yunsheng Lin's v11
 * (based on net-next of 7 Mar 2025, after mp_ops) and Toke's v8 diff context agree on the
 * mp_priv/mp_ops/recycle_stats order.
 */
export const STRUCT_PAGE_POOL_V6_15 = struct("page_pool", [
  m("p", STRUCT_PAGE_POOL_PARAMS_FAST),
  m("cpuid", INT),
  m("pages_state_hold_cnt", U32),
  ...poolFlagBits(true),
  ...fragGroupAligned(),
  ...releaseMembers(),
  m("alloc_stats", STRUCT_PAGE_POOL_ALLOC_STATS),
  m("xdp_mem_id", U32),
  ALLOC,
  RING,
  m("mp_priv", ptr("void")),
  m("mp_ops", ptr("const struct memory_provider_ops")),
  m("recycle_stats", RECYCLE_STATS_PTR),
  m("pages_state_release_cnt", ATOMIC_T),
  m("user_cnt", REFCOUNT_T),
  m("destroy_cnt", U64T),
  m("slow", STRUCT_PAGE_POOL_PARAMS_SLOW),
  userStruct({ napiId: false, detachTime: "u64" }),
]);

export const POOL_STRUCTS_V6_15: PoolStructs = {
  kernel: "v6.15",
  source:
    "torvalds/linux include/net/page_pool/types.h @7dba339faae9 + mp_ops, - user.napi_id " +
    "(= Kingxukai/linux @9b44fff655e2 without dma_mapped); v6.15 tag not in the index",
  pagePool: STRUCT_PAGE_POOL_V6_15,
  params: [STRUCT_PAGE_POOL_PARAMS_FAST, STRUCT_PAGE_POOL_PARAMS_SLOW],
  allocStats: STRUCT_PAGE_POOL_ALLOC_STATS,
  recycleStats: STRUCT_PAGE_POOL_RECYCLE_STATS,
  netIov: STRUCT_NET_IOV_V6_15,
  netIovArea: STRUCT_NET_IOV_AREA,
};
