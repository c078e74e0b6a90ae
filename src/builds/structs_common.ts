/**
 * The kernel structs that `struct page_pool` embeds, shared by the per-build declarations in
 * classic_structs.ts (v6.1, v6.6, v6.12, v6.15), xarray_structs.ts (v6.16, v6.18, mainline) and
 * item_block_structs.ts (Yunsheng Lin's v11).
 *
 * Configuration assumed everywhere (the one the emulator models): x86-64, CONFIG_SMP=y with 64-byte
 * cache lines (`____cacheline_aligned_in_smp` = 64), CONFIG_PAGE_POOL_STATS=y, no spinlock/lock
 * debugging (spinlock_t is 4 bytes), no CONFIG_LOCKDEP (no `lockdep_map` in timer_list /
 * work_struct), no CONFIG_DEBUG_OBJECTS_TIMERS. The same declarations lay out on ilp32 too, but only
 * the lp64 numbers were checked against a kernel.
 *
 * Type names are the ones pahole prints from DWARF, so `pahole(layoutOf(...))` reads like
 * `pahole -C page_pool vmlinux`.
 */
import {
  BOOL,
  type Member,
  type RecordType,
  ATOMIC_LONG_T,
  INT,
  LIST_HEAD,
  LONG,
  NETMEM_REF,
  U32,
  U64T,
  UINT,
  ULONG,
  array,
  m,
  prim,
  ptr,
  struct,
  union,
} from "../mem/ctype.js";

/** One kernel build's `struct page_pool` and the structs whose sizes it depends on. */
export interface PoolStructs {
  /** The build's name, e.g. "v6.16". */
  readonly kernel: string;
  /** Where the declaration was read: "torvalds/linux v6.16 include/net/page_pool/types.h" or a lore Message-ID. */
  readonly source: string;
  /** struct page_pool */
  readonly pagePool: RecordType;
  /** page_pool_params (v6.1, v6.6: one struct with `flags` inside) or page_pool_params_fast + page_pool_params_slow */
  readonly params: readonly RecordType[];
  /** struct page_pool_alloc_stats of that build */
  readonly allocStats: RecordType;
  /** struct page_pool_recycle_stats (the pool holds a `__percpu` pointer to it) */
  readonly recycleStats: RecordType;
  /**
   * struct net_iov as this kernel declares it (src/builds/netmem_desc_structs.ts); absent before
   * v6.12 (devmem TCP brought net_iov).
   */
  readonly netIov?: RecordType;
  /** struct netmem_desc (v6.17+); absent before it, and in layouts that have no such overlay. */
  readonly netmemDesc?: RecordType;
  /** struct net_iov_area (v6.15+: io_uring zcrx's generalisation of the devmem chunk owner). */
  readonly netIovArea?: RecordType;
  /** Structs only this build declares (memdesc-item's item and block): `ppemu layout` prints them in place of the shared ones of the same name. */
  readonly layoutOwn?: readonly RecordType[];
}

/** The names of a record's top-level members, in declaration order (anonymous ones as ""). */
export function memberNames(t: RecordType): string[] {
  return t.members.map((x) => x.name);
}

// ---------------------------------------------------------------------------------------------
// Scalars pahole names by their typedef or enum.

/** `_Bool` as pahole prints it. Re-exported for the declarations' convenience. */
export { BOOL } from "../mem/ctype.js";
/** `__u8`: the element type of the `__cacheline_group_{begin,end}__*[0]` markers. */
export const __U8 = prim("__u8", 1);
/** `enum dma_data_direction`: an int-sized enum. */
export const ENUM_DMA_DATA_DIRECTION = prim("enum dma_data_direction", 4);
/** `typedef void (*work_func_t)(struct work_struct *work);` */
export const WORK_FUNC_T = prim("work_func_t", "long");
/** `typedef s64 ktime_t;` */
export const KTIME_T = prim("ktime_t", 8, "u64");

// ---------------------------------------------------------------------------------------------
// include/linux/types.h, include/linux/workqueue_types.h (include/linux/workqueue.h before v6.9),
// include/linux/timer_types.h (include/linux/timer.h before v6.8). Unchanged in the kernels used
// here as far as layout goes (v6.1 … 2026 mainline; the lockdep_map members are config-gated off).

/** `struct hlist_node { struct hlist_node *next, **pprev; }`: 16 bytes. */
export const STRUCT_HLIST_NODE = struct("hlist_node", [
  m("next", ptr("struct hlist_node")),
  m("pprev", ptr("struct hlist_node *")),
]);

/** `struct work_struct { atomic_long_t data; struct list_head entry; work_func_t func; }`: 32 bytes. */
export const STRUCT_WORK_STRUCT = struct("work_struct", [
  m("data", ATOMIC_LONG_T),
  m("entry", LIST_HEAD),
  m("func", WORK_FUNC_T),
]);

/** `struct timer_list { entry; expires; function; flags; }`: 40 bytes (36 + tail padding). */
export const STRUCT_TIMER_LIST = struct("timer_list", [
  m("entry", STRUCT_HLIST_NODE),
  m("expires", ULONG),
  m("function", ptr("void (*)(struct timer_list *)")),
  m("flags", U32),
]);

/** `struct delayed_work { work; timer; wq; cpu; }`: 88 bytes (84 + tail padding). */
export const STRUCT_DELAYED_WORK = struct("delayed_work", [
  m("work", STRUCT_WORK_STRUCT),
  m("timer", STRUCT_TIMER_LIST),
  m("wq", ptr("struct workqueue_struct")),
  m("cpu", INT),
]);

// ---------------------------------------------------------------------------------------------
// struct page_pool_params.

/**
 * v6.1 (include/net/page_pool.h, torvalds/linux; no `napi` yet: it arrived in v6.4 with
 * "page_pool: allow caching from safely localized NAPI"). 56 bytes.
 */
export const STRUCT_PAGE_POOL_PARAMS_V6_1 = struct("page_pool_params", [
  m("flags", UINT),
  m("order", UINT),
  m("pool_size", UINT),
  m("nid", INT),
  m("dev", ptr("struct device")),
  m("dma_dir", ENUM_DMA_DATA_DIRECTION),
  m("max_len", UINT),
  m("offset", UINT),
  m("init_callback", ptr("void (*)(struct page *, void *)")),
  m("init_arg", ptr("void")),
]);

/**
 * v6.4 – v6.7 (include/net/page_pool/types.h from v6.6): `napi` after `dev`, flags still first.
 * 64 bytes.
 */
export const STRUCT_PAGE_POOL_PARAMS_V6_6 = struct(
  "page_pool_params",
  patchMembers(STRUCT_PAGE_POOL_PARAMS_V6_1, [{ after: "dev", add: [m("napi", ptr("struct napi_struct"))] }]),
);

/**
 * `struct_group_tagged(page_pool_params_fast, fast, …)` (v6.8 – 2026 mainline, unchanged): what the
 * pool copies into `pool->p`. 48 bytes.
 */
export const STRUCT_PAGE_POOL_PARAMS_FAST = struct("page_pool_params_fast", [
  m("order", UINT),
  m("pool_size", UINT),
  m("nid", INT),
  m("dev", ptr("struct device")),
  m("napi", ptr("struct napi_struct")),
  m("dma_dir", ENUM_DMA_DATA_DIRECTION),
  m("max_len", UINT),
  m("offset", UINT),
]);

/**
 * `struct_group_tagged(page_pool_params_slow, slow, …)` since v6.12 (devmem TCP added `queue_idx`;
 * v6.8 – v6.11 had netdev, flags, init_callback, init_arg), unchanged through 2026 mainline.
 * 32 bytes.
 */
export const STRUCT_PAGE_POOL_PARAMS_SLOW = struct("page_pool_params_slow", [
  m("netdev", ptr("struct net_device")),
  m("queue_idx", UINT),
  m("flags", UINT),
  m("init_callback", ptr("void (*)(netmem_ref, void *)")),
  m("init_arg", ptr("void")),
]);

// ---------------------------------------------------------------------------------------------
// CONFIG_PAGE_POOL_STATS.

const ALLOC_STAT_MEMBERS: readonly Member[] = [
  m("fast", U64T),
  m("slow", U64T),
  m("slow_high_order", U64T),
  m("empty", U64T),
  m("refill", U64T),
  m("waive", U64T),
];

/** `struct page_pool_alloc_stats` of every merged kernel (v5.18 – 2026): 48 bytes. */
export const STRUCT_PAGE_POOL_ALLOC_STATS = struct("page_pool_alloc_stats", ALLOC_STAT_MEMBERS);

/**
 * v11: patch 2/4 appends `item_fast_empty`, patch 3/4 `item_slow_failed` (Message-IDs
 * <20250307092356.638242-3-linyunsheng@huawei.com>, <…-4-…>). 64 bytes.
 */
export const STRUCT_PAGE_POOL_ALLOC_STATS_V11 = struct("page_pool_alloc_stats", [
  ...ALLOC_STAT_MEMBERS,
  m("item_fast_empty", U64T),
  m("item_slow_failed", U64T),
]);

/** `struct page_pool_recycle_stats` (v5.18 – 2026, unchanged): 40 bytes. */
export const STRUCT_PAGE_POOL_RECYCLE_STATS = struct("page_pool_recycle_stats", [
  m("cached", U64T),
  m("cache_full", U64T),
  m("ring", U64T),
  m("ring_full", U64T),
  m("released_refcnt", U64T),
]);

/** `struct page_pool_recycle_stats __percpu *recycle_stats;` */
export const RECYCLE_STATS_PTR = ptr("struct page_pool_recycle_stats");

// ---------------------------------------------------------------------------------------------
// The frag cache-line group (include/linux/cache.h).

/**
 * v6.9 – v6.13 (Lobakin, "page_pool: make sure frag API fields don't span between cachelines"):
 *
 *     __cacheline_group_begin(frag) __aligned(4 * sizeof(long));
 *     long frag_users; netmem_ref frag_page; unsigned int frag_offset;
 *     __cacheline_group_end(frag);
 *
 * `__cacheline_group_begin(GROUP)` is `__u8 __cacheline_group_begin__##GROUP[0]`. The alignment is
 * `4 * sizeof(long)`: 32 on lp64, 16 on ilp32 (declared per arch).
 */
export function fragGroupV69(fragPage: "struct page *" | "netmem_ref"): Member[] {
  return [
    m("__cacheline_group_begin__frag", array(__U8, 0), { alignAttr: 32, only: "lp64" }),
    m("__cacheline_group_begin__frag", array(__U8, 0), { alignAttr: 16, only: "ilp32" }),
    ...fragMembers(fragPage),
    m("__cacheline_group_end__frag", array(__U8, 0)),
  ];
}

/**
 * The pool's 1-bit flags after `pages_state_hold_cnt`: v6.9 made `has_init_callback`, `dma_map`,
 * `dma_sync` and `system` bitfields; v6.14 added `dma_sync_for_cpu` after `dma_sync`.
 */
export function poolFlagBits(withSyncForCpu: boolean): Member[] {
  return [
    m("has_init_callback", BOOL, { bits: 1 }),
    m("dma_map", BOOL, { bits: 1 }),
    m("dma_sync", BOOL, { bits: 1 }),
    ...(withSyncForCpu ? [m("dma_sync_for_cpu", BOOL, { bits: 1 })] : []),
    m("system", BOOL, { bits: 1 }),
  ];
}

/**
 * v6.14 – 2026 mainline (and v11's base): `__cacheline_group_{begin,end}_aligned(frag,
 * PAGE_POOL_FRAG_GROUP_ALIGN)` with PAGE_POOL_FRAG_GROUP_ALIGN = 4 * sizeof(long). The end marker is
 * `__aligned(sizeof(long))` and is followed by `struct { } __cacheline_group_pad__frag
 * __aligned(PAGE_POOL_FRAG_GROUP_ALIGN)`, an empty struct that pushes the next member (release_dw)
 * to the next 32-byte boundary (cache.h: "declares a padding at the end to avoid next field falling
 * into this cacheline").
 */
export function fragGroupAligned(): Member[] {
  return [
    m("__cacheline_group_begin__frag", array(__U8, 0), { alignAttr: 32, only: "lp64" }),
    m("__cacheline_group_begin__frag", array(__U8, 0), { alignAttr: 16, only: "ilp32" }),
    ...fragMembers("netmem_ref"),
    m("__cacheline_group_end__frag", array(__U8, 0), { alignAttr: 8, only: "lp64" }),
    m("__cacheline_group_end__frag", array(__U8, 0), { alignAttr: 4, only: "ilp32" }),
    m("__cacheline_group_pad__frag", struct("", []), { alignAttr: 32, only: "lp64" }),
    m("__cacheline_group_pad__frag", struct("", []), { alignAttr: 16, only: "ilp32" }),
  ];
}

/** `long frag_users; <page or netmem> frag_page; unsigned int frag_offset;` */
export function fragMembers(fragPage: "struct page *" | "netmem_ref"): Member[] {
  return [
    m("frag_users", LONG),
    m("frag_page", fragPage === "netmem_ref" ? NETMEM_REF : ptr("struct page")),
    m("frag_offset", UINT),
  ];
}

/** `void (*disconnect)(void *pool); unsigned long defer_start; unsigned long defer_warn;` after release_dw. */
export function releaseMembers(): Member[] {
  return [
    m("release_dw", STRUCT_DELAYED_WORK),
    m("disconnect", ptr("void (*)(void *)")),
    m("defer_start", ULONG),
    m("defer_warn", ULONG),
  ];
}

/**
 * `struct { struct hlist_node list; u64 detach_time; [u32 napi_id;] u32 id; } user;` (v6.8+).
 * `napi_id` was removed by "net: page_pool: don't try to stash the napi id" (Jakub Kicinski, Jan 2025,
 * v6.14-rc); `detach_time` became `ktime_t` in March 2026 (patch.msgid.link/20260310003907.3540019-1-kuba@kernel.org).
 */
export function userStruct(opts: { napiId: boolean; detachTime: "u64" | "ktime_t" }): Member {
  return m(
    "user",
    struct("", [
      m("list", STRUCT_HLIST_NODE),
      m("detach_time", opts.detachTime === "u64" ? U64T : KTIME_T),
      ...(opts.napiId ? [m("napi_id", U32)] : []),
      m("id", U32),
    ]),
  );
}

/**
 * `struct page_pool_params` as drivers fill it from v6.8 on: the fast and slow halves as
 * `struct_group_tagged(page_pool_params_fast, fast, …)` and `(…_slow, slow, …)`, each an anonymous
 * union of the members themselves and the tagged struct.
 */
export function paramsFromGroups(fast: RecordType, slow: RecordType): RecordType {
  const group = (t: RecordType, name: string): Member => m("", union("", [m("", struct("", t.members)), m(name, t)]));
  return struct("page_pool_params", [group(fast, "fast"), group(slow, "slow")]);
}

const userParams = new Map<PoolStructs, RecordType>();

/** The build's `struct page_pool_params` (v6.1/v6.6: the one declared; v6.8+: the two groups). */
export function userParamsOf(s: PoolStructs): RecordType {
  const own = s.params.find((t) => t.name === "page_pool_params");
  if (own) return own;
  let u = userParams.get(s);
  if (!u) {
    const fast = s.params.find((t) => t.name === "page_pool_params_fast");
    const slow = s.params.find((t) => t.name === "page_pool_params_slow");
    if (!fast || !slow) throw new Error(`${s.kernel}: no page_pool_params declared`);
    userParams.set(s, (u = paramsFromGroups(fast, slow)));
  }
  return u;
}

/** One hunk of a patch to a struct's member list: insert after a member, or replace one. */
export type MemberEdit = { readonly after: string; readonly add: readonly Member[] } | { readonly replace: string; readonly with: Member };

/**
 * A struct as a later kernel (or a patch series) has it: an earlier build's member list with the
 * hunks its commits applied, so a declaration says what changed and the order stays the kernel's.
 * A hunk naming a member the base lacks throws at load.
 */
export function patchMembers(base: RecordType, edits: readonly MemberEdit[]): Member[] {
  const out = [...base.members];
  for (const e of edits) {
    const name = "after" in e ? e.after : e.replace;
    const i = out.findIndex((x) => x.name === name);
    if (i < 0) throw new Error(`struct ${base.name}: no member ${name} to patch`);
    if ("after" in e) out.splice(i + 1, 0, ...e.add);
    else out.splice(i, 1, e.with);
  }
  return out;
}
