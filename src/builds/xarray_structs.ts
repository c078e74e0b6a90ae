/**
 * `struct page_pool` of the xarray-layout kernels: v6.16, v6.18 and 2026 mainline (x86-64,
 * CONFIG_PAGE_POOL_STATS=y, CONFIG_SMP=y, 64-byte cache lines, no lock debugging).
 *
 * Toke Høiland-Jørgensen's "page_pool: Track DMA-mapped pages and unmap them when destroying the
 * pool" (ee62ce7a1d90, v6.16) adds `struct xarray dma_mapped` right after `mp_ops`; nothing else in
 * the struct moved. Changes after that are listed above each declaration.
 */
import { m, struct, type Member } from "../mem/ctype.js";
import { STRUCT_NETMEM_DESC, STRUCT_XARRAY } from "../mem/structs.js";
import { STRUCT_NET_IOV_AREA, STRUCT_NET_IOV_MAINLINE, STRUCT_NET_IOV_V6_16, STRUCT_NET_IOV_V6_17 } from "./netmem_desc_structs.js";
import {
  type PoolStructs,
  STRUCT_PAGE_POOL_ALLOC_STATS,
  STRUCT_PAGE_POOL_PARAMS_FAST,
  STRUCT_PAGE_POOL_PARAMS_SLOW,
  STRUCT_PAGE_POOL_RECYCLE_STATS,
  patchMembers,
  userStruct,
} from "./structs_common.js";
import { STRUCT_PAGE_POOL_V6_15 } from "./classic_structs.js";

/** v6.15's struct page_pool with `struct xarray dma_mapped` after `mp_ops` (ee62ce7a1d90). */
function xarrayPool(detachTime: "u64" | "ktime_t"): Member[] {
  return patchMembers(STRUCT_PAGE_POOL_V6_15, [
    { after: "mp_ops", add: [m("dma_mapped", STRUCT_XARRAY)] },
    { replace: "user", with: userStruct({ napiId: false, detachTime }) },
  ]);
}

/**
 * v6.16: include/net/page_pool/types.h.
 * Change from v6.15: `struct xarray dma_mapped` after `mp_ops` (ee62ce7a1d90).
 * Read: Kingxukai/linux include/net/page_pool/types.h @9b44fff655e2 (search id 8242056853; a
 * v6.16-or-later mainline copy: dma_mapped, page_pool_enable_direct_recycling, `u64 detach_time`),
 * and the types.h hunk of Toke's v8 2/2 (7 Apr 2025, search id 33617727468), which adds exactly
 * `struct xarray dma_mapped;` between mp_ops and recycle_stats; v9 was merged as ee62ce7a1d90.
 */
export const STRUCT_PAGE_POOL_V6_16 = struct("page_pool", xarrayPool("u64"));

export const POOL_STRUCTS_V6_16: PoolStructs = {
  kernel: "v6.16",
  source:
    "Kingxukai/linux @9b44fff655e2 include/net/page_pool/types.h (= v6.15 + ee62ce7a1d90 dma_mapped, " +
    "per Toke's v8 2/2 diff); v6.16 tag not in the index",
  pagePool: STRUCT_PAGE_POOL_V6_16,
  params: [STRUCT_PAGE_POOL_PARAMS_FAST, STRUCT_PAGE_POOL_PARAMS_SLOW],
  allocStats: STRUCT_PAGE_POOL_ALLOC_STATS,
  recycleStats: STRUCT_PAGE_POOL_RECYCLE_STATS,
  netIov: STRUCT_NET_IOV_V6_16,
  netIovArea: STRUCT_NET_IOV_AREA,
};

/**
 * v6.18: the same struct page_pool as v6.16. The v6.17/v6.18 page_pool changes (netmem_desc,
 * the 16K pool-size clamp, the 32-bit PP_MAGIC_MASK fix 95920c2ed02b) did not touch it; the next
 * change to the struct is the March 2026 `ktime_t detach_time` (see MAINLINE), whose stable
 * backport a 6.18.y tree may carry (same size and offsets either way).
 * Read: Kingxukai/linux @9b44fff655e2 (as v6.16); the ktime_t fix's diff
 * (patch.msgid.link/20260310003907.3540019-1-kuba@kernel.org, search id 57407859649) shows its base
 * still with `u64 detach_time` and the v6.16 member list around it.
 */
export const STRUCT_PAGE_POOL_V6_18 = struct("page_pool", xarrayPool("u64"));

export const POOL_STRUCTS_V6_18: PoolStructs = {
  kernel: "v6.18",
  source:
    "Kingxukai/linux @9b44fff655e2 include/net/page_pool/types.h (struct unchanged v6.16 → v6.18; " +
    "u64 detach_time until 20260310003907.3540019-1-kuba@kernel.org); v6.18 tag not in the index",
  pagePool: STRUCT_PAGE_POOL_V6_18,
  params: [STRUCT_PAGE_POOL_PARAMS_FAST, STRUCT_PAGE_POOL_PARAMS_SLOW],
  allocStats: STRUCT_PAGE_POOL_ALLOC_STATS,
  recycleStats: STRUCT_PAGE_POOL_RECYCLE_STATS,
  // v6.18 still has NET_IOV_MAX (removed for v6.19): the v6.17 net_iov.
  netIov: STRUCT_NET_IOV_V6_17,
  netmemDesc: STRUCT_NETMEM_DESC,
  netIovArea: STRUCT_NET_IOV_AREA,
};

/**
 * 2026 mainline: include/net/page_pool/types.h.
 * Changes from v6.18: `user.detach_time` is `ktime_t` ("net: page_pool: ... store the raw ktime_t",
 * Jakub Kicinski, Message-ID <20260310003907.3540019-1-kuba@kernel.org>): same size and offset.
 * Outside struct page_pool: PP_ALLOC_CACHE_REFILL depends on PAGE_SIZE (64 on 4K pages, so the
 * alloc cache is still 128 entries on x86-64) and pp_memory_provider_params gained rx_page_size.
 * Read: linux-netdev/testing-bpf-ci include/net/page_pool/types.h @3cfb31a1feee (search id
 * 70718677173) and Aarav90-cpu/linux-kotlin @a663adb68e0e (id 56771630313), identical in struct
 * page_pool. (linux-mm/linux-mm @6a48ca58f667 has an extra `struct dma_pmd_pool *dma_pmd_pool` after
 * mp_ops from an unmerged mm patch; not modelled.) The newest torvalds/linux copy of this header
 * in the index is older (@7dba339faae9), so mainline is taken from these trees.
 */
export const STRUCT_PAGE_POOL_MAINLINE = struct("page_pool", xarrayPool("ktime_t"));

export const POOL_STRUCTS_MAINLINE: PoolStructs = {
  kernel: "mainline",
  source:
    "linux-netdev/testing-bpf-ci @3cfb31a1feee include/net/page_pool/types.h (2026 net-next on mainline; " +
    "= Aarav90-cpu/linux-kotlin @a663adb68e0e)",
  pagePool: STRUCT_PAGE_POOL_MAINLINE,
  params: [STRUCT_PAGE_POOL_PARAMS_FAST, STRUCT_PAGE_POOL_PARAMS_SLOW],
  allocStats: STRUCT_PAGE_POOL_ALLOC_STATS,
  recycleStats: STRUCT_PAGE_POOL_RECYCLE_STATS,
  // After the PGTY_netpp revert 54cf41c969da: desc, type, a 4-byte hole, owner.
  netIov: STRUCT_NET_IOV_MAINLINE,
  netmemDesc: STRUCT_NETMEM_DESC,
  netIovArea: STRUCT_NET_IOV_AREA,
};
