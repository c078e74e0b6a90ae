/**
 * The netmem_desc kernels: v6.17 and v6.19, xarray tracking as merged in v6.16, with `struct
 * netmem_desc` (f3d85c9ee510, v6.17) as the page_pool's view of a page and each version's `struct
 * net_iov` (src/builds/netmem_desc_structs.ts). They list between the xarray family's own builds:
 *
 *   v6.16 ─ v6.17 ─ v6.18 ─ v6.19 ─ mainline          (all the XARRAY layout)
 *           netmem_desc      NET_IOV_MAX removed
 *           (union w/ mirror, 8-byte net_iov type)   (4-byte type + 4 padding)
 *
 * netmem_desc is a 48-byte overlay of struct page's page_pool words (`_flags`@0, `pp_magic`@8, `pp`@16,
 * `_pp_mapping_pad`@24, `dma_addr`@32, `pp_ref_count`@40; static_assert'd to end before `_refcount`@52),
 * so `__pp_page_to_nmdesc(page)` is a plain cast and the words the mechanism reads are where they
 * were: the tracking strategy is the xarray one, unchanged. What the builds add is their declarations
 * and their version boundaries:
 *
 * - v6.17 behaves as v6.16: its page_pool.c changes are the netmem_desc conversions
 *   (`netmem_to_nmdesc()`, `pp_page_to_nmdesc()`), no change of behaviour; the pool-size clamp is
 *   v6.18 (a1b501a8c6a8); struct page_pool is v6.16's (see xarray_structs.ts).
 * - v6.19 adds "net: page_pool: sanitise allocation order" (9954464d737d: `order > MAX_PAGE_ORDER`
 *   is -EINVAL at init; in the v6.19 merge-window listing, search id 65731850298, beside "Merge tag
 *   'ras_core_for_v6.19_rc1'"), keeps the clamp, and has the v6.19 net_iov (Bobby Eshleman's NET_IOV_MAX
 *   removal, <20251024-b4-devmem-remove-niov-max-v1-1-ba72c68bc869@meta.com>).
 * - The scrub stays `"release"` (`__page_pool_release_netmem_dma()` from page_pool_scrub(), clearing
 *   `dma_addr` and the id): a 6.18.y tree has it (leftymods/linux-6.18.y net/core/page_pool.c
 *   @02ebe6b2e340, search id 55697717286). The unmap-only `__page_pool_unmap_netmem_dma()` ("Cache
 *   dma_addr before xa_cmpxchg") is only in the 2026 tree (search id 57621740185); the commit that
 *   made it was not found in the index, so v6.19 is given the release form (UNCONFIRMED for v6.19).
 */
import { registerBuild } from "./registry.js";
import { V6_16_SWITCHES, XA_MASK, XARRAY } from "./xarray.js";
import type { PoolStructs } from "./structs_common.js";
import { POOL_STRUCTS_V6_16, POOL_STRUCTS_V6_18 } from "./xarray_structs.js";
import { STRUCT_NETMEM_DESC } from "../mem/structs.js";
import { STRUCT_NET_IOV_AREA, STRUCT_NET_IOV_V6_17, STRUCT_NET_IOV_V6_19 } from "./netmem_desc_structs.js";

/** v6.17: v6.16's struct page_pool; netmem_desc and the union-with-mirror net_iov. */
export const POOL_STRUCTS_V6_17: PoolStructs = {
  ...POOL_STRUCTS_V6_16,
  kernel: "v6.17",
  source:
    "Kingxukai/linux @9b44fff655e2 include/net/page_pool/types.h (struct page_pool unchanged v6.16 → v6.18; " +
    "netmem_desc f3d85c9ee510 touches netmem.h only); v6.17 tag not in the index",
  netIov: STRUCT_NET_IOV_V6_17,
  netmemDesc: STRUCT_NETMEM_DESC,
  netIovArea: STRUCT_NET_IOV_AREA,
};

/**
 * v6.19: v6.18's struct page_pool (the next change to it is the March 2026 `ktime_t detach_time`,
 * <20260310003907.3540019-1-kuba@kernel.org>, whose diff base still has `u64 detach_time`); the
 * v6.19 net_iov.
 */
export const POOL_STRUCTS_V6_19: PoolStructs = {
  ...POOL_STRUCTS_V6_18,
  kernel: "v6.19",
  source:
    "Kingxukai/linux @9b44fff655e2 include/net/page_pool/types.h (struct page_pool as v6.18; u64 detach_time " +
    "until 20260310003907.3540019-1-kuba@kernel.org); v6.19 tag not in the index",
  netIov: STRUCT_NET_IOV_V6_19,
  netmemDesc: STRUCT_NETMEM_DESC,
  netIovArea: STRUCT_NET_IOV_AREA,
};

export const V6_17 = registerBuild({
  name: "v6.17",
  id: 17,
  layout: XARRAY,
  isLayoutDefault: false,
  summary: "v6.17: xarray; struct netmem_desc (f3d85c9ee510), net_iov = union { desc; mirror } + owner + 8-byte type",
  structs: POOL_STRUCTS_V6_17,
  ppMagicMask: XA_MASK,
  // As v6.16: e2big pool-size rule (the 16K clamp a1b501a8c6a8 is v6.18), no order check.
  switches: V6_16_SWITCHES,
  layoutSwitches: { scrub: "release" },
  listBefore: "v6.18",
});

export const V6_19 = registerBuild({
  name: "v6.19",
  id: 19,
  layout: XARRAY,
  isLayoutDefault: false,
  summary: "v6.19: xarray; netmem_desc, net_iov type 4 bytes (NET_IOV_MAX removed), order > MAX_PAGE_ORDER is -EINVAL",
  structs: POOL_STRUCTS_V6_19,
  ppMagicMask: XA_MASK,
  // a1b501a8c6a8 (v6.18) clamp; 9954464d737d "net: page_pool: sanitise allocation order" (v6.19).
  switches: { ...V6_16_SWITCHES, poolSizeRule: "clamp", orderCheck: true },
  layoutSwitches: { scrub: "release" },
  listBefore: "mainline",
});
