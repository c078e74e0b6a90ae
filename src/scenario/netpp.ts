/**
 * The two failures that sank PGTY_netpp (db359fccf212, v7.1-rc1; reverted by 54cf41c969da), as
 * scenarios that run on every build and show the failure on `v7.1-rc-netpp` only:
 *
 * 1. `zerocopy` — TCP zerocopy receive of page_pool pages (Dragos Tatulea, 2026-05-13, search id
 *    54754990943): getsockopt(TCP_ZEROCOPY_RECEIVE) → tcp_zerocopy_receive() →
 *    tcp_zerocopy_vm_insert_batch() → vm_insert_pages() → … → validate_page_before_insert()
 *    returns -EINVAL "because page_has_type(page) is now true". Every other build maps the pages.
 *
 *        t=0   the driver fills its RX ring from the pool (DMA-mapped); every page goes up the stack
 *              as a full-page frag of an skb in the socket's receive queue
 *        rx    the application's getsockopt maps the frags into its VMA, 32 pages per
 *              vm_insert_pages() batch (TCP_ZEROCOPY_PAGE_BATCH_SIZE); on an error the call stops
 *              and returns it
 *        then  the skbs are consumed (the stack frees them: pool pages still mapped are released
 *              from the pool, the mapping keeps its reference), the application munmaps, the
 *              driver destroys the pool. Every frame is accounted for at the end.
 *
 * 2. `niov-init` — a net_iov entering a pool with its `page_type` never set to UINT_MAX (io_uring
 *    zcrx allocates niovs with __GFP_ZERO, so it is 0): `page_pool_set_pp_info()` → `__SetPageNetpp()`
 *    → VM_BUG_ON_PAGE → "kernel BUG at ./include/linux/page-flags.h:1062!" (the report that led to
 *    735a309b4bfb, <20260428025320.853452-1-kuba@kernel.org>, search id 57994800446). With the fix
 *    (`net_iov_init()` stamps `page_type = UINT_MAX`) it does not fire; builds without the page type
 *    have no such check at all. The niovs are set up as `io_zcrx_create_area()` does and enter the
 *    pool as `net_mp_niov_set_page_pool()` puts them (page_pool_set_pp_info()).
 */
import { bootPpSystem, ppClaimers, type PpSystem } from "../pool/index.js";
import { NetStack } from "../pool/stack.js";
import { PP_FLAG_DMA_MAP, PP_FLAG_DMA_SYNC_DEV } from "../pool/page_pool.js";
import { DMA_FROM_DEVICE } from "../dma/index.js";
import { setServingSoftirq } from "../smp/percpu.js";
import { GFP_ZERO } from "../mem/buddy.js";
import { accountFrames } from "../mem/accounting.js";
import { DIAG_INFO, Diag, NR_DIAG_KINDS, diagLineCounts } from "../mem/diag.js";
import { PAGE_TYPE } from "../mem/page.js";
import { UINT_MAX, pageTypeName } from "../mem/page_type.js";
import { vmaCreate, vmaDestroy, vmaMapped, vmInsertPages, EINVAL } from "../mem/vm_insert.js";
import { resolveBuild } from "../builds/index.js";
import type { KernelBuild } from "../builds/types.js";
import { netIovGeometry, netIovInit, netIovToNetmem, NIA_SIZE, NIA_NIOVS, NIA_NUM_NIOVS, NET_IOV_IOURING } from "../pool/net_iov.js";
import { PpemuError, checkInt, showValue } from "../errors.js";
import { framesLost } from "./unbind.js";

/** `TCP_ZEROCOPY_PAGE_BATCH_SIZE` (net/ipv4/tcp.c): pages per vm_insert_pages() call. */
export const TCP_ZEROCOPY_PAGE_BATCH_SIZE = 32;
/** Where the application's VMA starts (page aligned). */
const USER_ADDR = 0x10000000;
const MEM_BYTES = 16 << 20;

/** Errno names the scenarios print. */
const ERRNO: Readonly<Record<number, string>> = { 0: "0", [-EINVAL]: "-EINVAL", [-16]: "-EBUSY", [-14]: "-EFAULT", [-12]: "-ENOMEM" };
export const errnoName = (e: number): string => ERRNO[e] ?? String(e);

export interface NetppDiag {
  readonly kind: string;
  readonly count: number;
  readonly first: string;
}

export interface ZerocopyResult {
  readonly kernel: string;
  readonly layout: string;
  /** Whether the build's layout says its pool pages can be mapped to user space (TrackingLayout.userMappable). */
  readonly user_mappable: boolean;
  readonly pages_received: number;
  /** What getsockopt(TCP_ZEROCOPY_RECEIVE) returns: 0 or a negative errno. */
  readonly getsockopt_ret: number;
  readonly getsockopt_errno: string;
  /** The refused validate_page_before_insert() change was applied (netpp pages mapped anyway). */
  readonly skip_netpp_check: boolean;
  readonly pages_mapped: number;
  /** `page_type` of the first received page at the insert (hex): 0xf9000000 on the netpp build. */
  readonly page_type_at_insert: string;
  readonly page_type_meaning: string;
  /** `page_type` of the first page while it is mapped (the rmap's _mapcount++), or null when nothing was mapped. */
  readonly page_type_while_mapped: string | null;
  readonly frames_lost: number;
  readonly kernel_log_lines: number;
  readonly ppemu_lines: number;
  /** Pages the allocator refused at munmap because their page_type no longer read UINT_MAX (bad_page). */
  readonly bad_pages_at_free: number;
  /** EINVAL: refused; mapped: mapped and unmapped cleanly; corrupted: mapped, and the rmap's _mapcount++/-- broke the type. */
  readonly verdict: "EINVAL" | "mapped" | "corrupted";
  readonly diagnostics: readonly NetppDiag[];
}

export interface ZerocopyOptions {
  readonly kernel: KernelBuild | string;
  /** Pages received (full-page frags), 1..1024. Default 64. */
  readonly pages?: number;
  /**
   * Map typed netpp pages anyway: the validate_page_before_insert() change proposed with the
   * report (search id 54754990943) and refused, because the rmap's `_mapcount++` lands on the type.
   */
  readonly skipNetppCheck?: boolean;
}

export const ZEROCOPY_DEFAULTS = { pages: 64 };
export const NETPP_PAGES_MAX = 1024;

function buildOf(kernel: unknown, fn: string): KernelBuild {
  if (typeof kernel === "string") return resolveBuild(kernel);
  if (kernel === null || typeof kernel !== "object") throw new PpemuError("EINVAL_ARG", `${fn}: kernel must be a KernelBuild or a build name, got ${showValue(kernel)}`);
  return kernel as KernelBuild;
}

const hex8 = (v: number): string => "0x" + (v >>> 0).toString(16).padStart(8, "0");

export function runZerocopy(opts: ZerocopyOptions): ZerocopyResult & { readonly sys: PpSystem } {
  if (opts === null || typeof opts !== "object") throw new PpemuError("EINVAL_ARG", `runZerocopy: options must be an object, got ${showValue(opts)}`);
  const n = checkInt("runZerocopy: pages", opts.pages ?? ZEROCOPY_DEFAULTS.pages, 1, NETPP_PAGES_MAX);
  if (opts.skipNetppCheck !== undefined && typeof opts.skipNetppCheck !== "boolean") {
    throw new PpemuError("EINVAL_ARG", `runZerocopy: skipNetppCheck must be true or false, got ${showValue(opts.skipNetppCheck)}`);
  }
  const skipCheck = opts.skipNetppCheck ?? false;
  const build = buildOf(opts.kernel, "runZerocopy");
  const sys = bootPpSystem(build, { bytes: MEM_BYTES });
  const { m, dma, pps } = sys;
  const mem = m.mem;
  const dev = dma.deviceCreate("0000:03:00.0", { coherent: false });
  const pool = pps.create({ flags: PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV, poolSize: 256, dev, dmaDir: DMA_FROM_DEVICE, maxLen: mem.pageSize, napiCpu: 0, netdev: 0 });
  if (pool < 0) throw new Error(`page_pool_create failed: ${pool}`);
  const stack = new NetStack(pps, n, { cpu: 1, inSoftirq: true });

  // NAPI poll on CPU 0: each RX page becomes an skb frag in the socket's receive queue.
  mem.bindCpu(0);
  setServingSoftirq(mem, true);
  let received = 0;
  for (let i = 0; i < n; i++) {
    const page = pps.allocPages(pool);
    if (page === 0) break;
    stack.hold(page);
    received++;
  }
  setServingSoftirq(mem, false);

  // The application, in process context: getsockopt(TCP_ZEROCOPY_RECEIVE) on its mmap()ed VMA.
  mem.bindCpu(1);
  const vma = vmaCreate(m, USER_ADDR, received);
  const batch = m.slab.kmalloc(TCP_ZEROCOPY_PAGE_BATCH_SIZE * 8, GFP_ZERO); // struct page *pages[32]
  const num = m.slab.kmalloc(8, GFP_ZERO); // unsigned long pages_remaining
  if (vma === 0 || batch === 0 || num === 0) throw new Error("out of memory setting up the zerocopy receive");
  const frags: number[] = [];
  stack.forEachHeld((p) => frags.push(p));
  const firstTypeAtInsert = received > 0 ? mem.rd32(frags[0]! + PAGE_TYPE) : UINT_MAX;
  let ret = 0;
  let addr = USER_ADDR;
  for (let at = 0; at < received && ret === 0; at += TCP_ZEROCOPY_PAGE_BATCH_SIZE) {
    const k = Math.min(TCP_ZEROCOPY_PAGE_BATCH_SIZE, received - at);
    for (let j = 0; j < k; j++) mem.wrPagePtr(batch + j * 8, frags[at + j]!);
    mem.wr64(num, 0, k);
    // tcp_zerocopy_vm_insert_batch(): only -EBUSY with TLB_CLEAN_HINT zaps and retries; anything
    // else ends the receive with that error (the unmapped bytes go back to recv_skip_hint).
    ret = vmInsertPages(m, vma, addr, batch, num, skipCheck);
    addr += (k - mem.rd32(num)) * mem.pageSize;
  }
  const mapped = vmaMapped(m, vma);
  const typeWhileMapped = mapped > 0 ? hex8(mem.rd32(frags[0]! + PAGE_TYPE)) : null;
  m.slab.kfree(batch);
  m.slab.kfree(num);

  // The data is consumed: the skbs are freed (a page still mapped leaves the pool, its _refcount > 1),
  // the application munmaps, the driver tears the pool down.
  stack.returnAll();
  vmaDestroy(m, vma);
  mem.bindCpu(0);
  pps.napiDisable(pps.napiOf(pool));
  pps.destroy(pool);

  const acct = accountFrames(mem, ppClaimers(sys, stack));
  const lines = diagLineCounts((kind) => mem.diagCount(kind));
  const badPages = mem.diagCount(Diag.BAD_PAGE_STATE);
  return {
    sys,
    kernel: build.name,
    layout: build.layout.name,
    user_mappable: build.layout.userMappable,
    pages_received: received,
    getsockopt_ret: ret,
    getsockopt_errno: errnoName(ret),
    skip_netpp_check: skipCheck,
    pages_mapped: mapped,
    page_type_at_insert: hex8(firstTypeAtInsert),
    page_type_meaning: pageTypeName(firstTypeAtInsert),
    page_type_while_mapped: typeWhileMapped,
    frames_lost: framesLost(acct),
    kernel_log_lines: lines.kernel,
    ppemu_lines: lines.ppemu,
    bad_pages_at_free: badPages,
    verdict: ret === -EINVAL ? "EINVAL" : badPages > 0 ? "corrupted" : "mapped",
    diagnostics: diagnosticsOf(sys),
  };
}

export interface NiovInitResult {
  readonly kernel: string;
  readonly layout: string;
  /** Whether the build's net_iov has a `page_type` (layout (c), v7.1-rc only). */
  readonly niov_has_page_type: boolean;
  /** `net_iov_init()` sets page_type = UINT_MAX (735a309b4bfb). */
  readonly fixed: boolean;
  readonly niovs: number;
  /** `page_type` of niov 0 before it enters the pool (hex), null when the layout has none. */
  readonly page_type_before: string | null;
  /** …and once page_pool_set_pp_info() has run. */
  readonly page_type_after: string | null;
  /** niovs whose page_pool_set_pp_info() completed. */
  readonly set_pp_info_done: number;
  /** VM_BUG_ON_PAGE reports (each one a BUG(): the task would die there). */
  readonly vm_bug_on: number;
  readonly frames_lost: number;
  readonly kernel_log_lines: number;
  readonly verdict: "BUG" | "ok";
  readonly diagnostics: readonly NetppDiag[];
}

export interface NiovInitOptions {
  readonly kernel: KernelBuild | string;
  /** niovs in the area, 1..1024. Default 8. */
  readonly niovs?: number;
  /** Apply 735a309b4bfb (net_iov_init() stamps page_type = UINT_MAX). Default false. */
  readonly fixed?: boolean;
}

export const NIOV_INIT_DEFAULTS = { niovs: 8 };

export function runNiovInit(opts: NiovInitOptions): NiovInitResult & { readonly sys: PpSystem } {
  if (opts === null || typeof opts !== "object") throw new PpemuError("EINVAL_ARG", `runNiovInit: options must be an object, got ${showValue(opts)}`);
  const n = checkInt("runNiovInit: niovs", opts.niovs ?? NIOV_INIT_DEFAULTS.niovs, 1, NETPP_PAGES_MAX);
  if (opts.fixed !== undefined && typeof opts.fixed !== "boolean") throw new PpemuError("EINVAL_ARG", `runNiovInit: fixed must be true or false, got ${showValue(opts.fixed)}`);
  const fixed = opts.fixed ?? false;
  const build = buildOf(opts.kernel, "runNiovInit");
  if (!build.structs.netIov) throw new PpemuError("EINVAL_ARG", `runNiovInit: build ${build.name} has no struct net_iov (net_iov came with devmem TCP, v6.12)`);
  const g = netIovGeometry(build);

  const sys = bootPpSystem(build, { bytes: MEM_BYTES });
  const { m, pps } = sys;
  const mem = m.mem;
  // An io_uring zcrx pool: the provider's niovs are never DMA-mapped by the pool.
  const pool = pps.create({ flags: 0, poolSize: 256, dev: 0, dmaDir: DMA_FROM_DEVICE, maxLen: mem.pageSize, napiCpu: 0, netdev: 0 });
  if (pool < 0) throw new Error(`page_pool_create failed: ${pool}`);

  // io_zcrx_create_area(): the area and its niovs, zeroed (kvmalloc_array(…, __GFP_ZERO)); each niov
  // stamped by net_iov_init() with 735a309b4bfb, by `owner = …; type = NET_IOV_IOURING` before it.
  const nia = m.slab.kmalloc(NIA_SIZE, GFP_ZERO);
  const niovs = m.slab.kmalloc(n * g.size, GFP_ZERO);
  if (nia === 0 || niovs === 0) throw new Error("out of memory creating the net_iov area");
  mem.wrPtr(nia + NIA_NIOVS, niovs);
  mem.wr64(nia + NIA_NUM_NIOVS, 0, n);
  for (let i = 0; i < n; i++) netIovInit(mem, g, niovs + i * g.size, nia, NET_IOV_IOURING, fixed ? "net_iov_init" : "none");
  const offPageType = g.pageType >= 0 ? g.pageType : undefined;
  const before = offPageType !== undefined ? hex8(mem.rd32(niovs + offPageType)) : null;

  // net_mp_niov_set_page_pool(pool, niov) from the provider's alloc_netmems: page_pool_set_pp_info().
  let done = 0;
  // (page_pool_set_pp_info() itself: net_mp_niov_set_page_pool() also counts hold_cnt, which this
  // run, tearing the niovs down right after, leaves alone.)
  // A VM_BUG_ON_PAGE is a BUG(): the registering task dies there, so the first one ends the loop.
  for (let i = 0; i < n; i++) {
    if (!pps.t.setPpInfo(pool, netIovToNetmem(niovs + i * g.size))) break;
    done++;
  }
  const after = offPageType !== undefined ? hex8(mem.rd32(niovs + offPageType)) : null;
  // net_mp_niov_clear_page_pool() at unbind, then the area is freed and the pool destroyed.
  for (let i = 0; i < n; i++) {
    const netmem = netIovToNetmem(niovs + i * g.size);
    if (pps.t.poolOf(netmem) === pool) pps.t.clearPpInfo(pool, netmem);
  }
  m.slab.kfree(niovs);
  m.slab.kfree(nia);
  pps.napiDisable(pps.napiOf(pool));
  pps.destroy(pool);

  const acct = accountFrames(mem, ppClaimers(sys));
  const lines = diagLineCounts((kind) => mem.diagCount(kind));
  const bugs = mem.diagCount(Diag.VM_BUG_ON_PAGE);
  return {
    sys,
    kernel: build.name,
    layout: build.layout.name,
    niov_has_page_type: offPageType !== undefined,
    fixed,
    niovs: n,
    page_type_before: before,
    page_type_after: after,
    set_pp_info_done: done,
    vm_bug_on: bugs,
    frames_lost: framesLost(acct),
    kernel_log_lines: lines.kernel,
    verdict: bugs > 0 ? "BUG" : "ok",
    diagnostics: diagnosticsOf(sys),
  };
}

/** The diagnostics of a run, in the order they first happened (count, first text). */
function diagnosticsOf(sys: PpSystem): NetppDiag[] {
  const mem = sys.m.mem;
  const firsts = [];
  for (let kind = 0; kind < NR_DIAG_KINDS; kind++) {
    const f = mem.diagFirst(kind);
    if (f) firsts.push(f);
  }
  firsts.sort((x, y) => x.timeMs - y.timeMs);
  return firsts.map((f) => ({ kind: DIAG_INFO[f.kind]?.name ?? String(f.kind), count: mem.diagCount(f.kind), first: f.text }));
}
