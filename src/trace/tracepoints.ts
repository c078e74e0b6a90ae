/**
 * The four `page_pool` tracepoints (include/trace/events/page_pool.h, TRACE_SYSTEM page_pool), with
 * each build's `TP_printk` format, and the hook the mechanism calls where the kernel calls
 * `trace_page_pool_*()`.
 *
 * Off, the hook is null and a call site is one load of a module binding and a compare
 * (`if (traceHook !== null) traceHook(TP_STATE_HOLD, this, pool, page)`), as src/explore/points.ts.
 * On, the hook reads what the kernel's `TP_fast_assign()` stores — the pool, the netmem, the
 * hold/release counters, `destroy_cnt`, the pfn — from the machine, with the CPU context
 * (src/smp/percpu.ts) and the virtual clock; src/trace/ftrace.ts frames the records as trace_pipe
 * prints them.
 *
 * Where the kernel fires each one (net/core/page_pool.c; ../shared/reference/after-6.16.md §2.3):
 *   page_pool_release        page_pool_inflight(pool, strict=true), i.e. every page_pool_release()
 *                            (destroy and each 1-s retry), after page_pool_scrub() bumped destroy_cnt
 *   page_pool_state_hold     each slow-path page, after `pages_state_hold_cnt++` (bulk or high order),
 *                            and net_mp_niov_set_page_pool()
 *   page_pool_state_release  page_pool_return_page()/_netmem(), after
 *                            `atomic_inc_return_relaxed(&pool->pages_state_release_cnt)`
 *   page_pool_update_nid     page_pool_update_nid(), before `pool->p.nid = new_nid`
 */
import type { KernelBuild } from "../builds/types.js";
import type { PagePools } from "../pool/page_pool.js";
import { DIRECT_MAP_HI, VMEMMAP_HI } from "../mem/page.js";

// ---- the events ----

export const TP_RELEASE = 0;
export const TP_STATE_RELEASE = 1;
export const TP_STATE_HOLD = 2;
export const TP_UPDATE_NID = 3;

/** The event names, indexed by TP_*: what `--trace-filter` takes and trace_pipe prints. */
export const TRACE_EVENTS = ["page_pool_release", "page_pool_state_release", "page_pool_state_hold", "page_pool_update_nid"] as const;
export type TraceEventName = (typeof TRACE_EVENTS)[number];

/**
 * `tp` is a TP_*; `pool` the `struct page_pool *`; `arg` the netmem (hold, state_release), the new
 * nid (update_nid) or 0 (release).
 */
export type TraceHook = (tp: number, pps: PagePools, pool: number, arg: number) => void;

/** The tracer's hook, or null (always, unless a Tracer is started). A live binding: read it at each call site. */
export let traceHook: TraceHook | null = null;

/** Install (or, with null, remove) the hook for this thread. */
export function setTraceHook(h: TraceHook | null): void {
  traceHook = h;
}

// ---- the formats, per era ----

/**
 * The eras of the header's formats:
 *   page     ~v5.5 … v6.9: `page=%p pfn=0x%lx` (torvalds/linux @66244337512f, read_file id 302191137;
 *            the same TP_printk strings in the v6.1 tree, which includes <net/page_pool.h>)
 *   netmem   v6.10 … v6.11: `netmem=%p pfn=0x%lx` (the minus-lines of the devmem patch, find_string
 *            "netmem=%p is_net_iov=%lu, pfn=0x%lx hold=%u", id 13100641106)
 *   net_iov  v6.12+: `netmem=%p is_net_iov=%lu[,] pfn=0x%lx` (the plus-lines there, and the current
 *            header, id 66498455164). The comma after is_net_iov in state_hold is the kernel's.
 * page_pool_release (`… cnt=%llu`, cnt = pool->destroy_cnt) and page_pool_update_nid are the same
 * in every era (id 302191137, id 66498455164).
 */
export type TraceEra = "page" | "netmem" | "net_iov";

export interface TraceFormat {
  readonly event: TraceEventName;
  /** The TP_printk format string, verbatim. */
  readonly fmt: string;
  /** The TP_printk arguments, by the names `traceArgs` gives them, in order. */
  readonly args: readonly string[];
}

const RELEASE_FMT: TraceFormat = {
  event: "page_pool_release",
  fmt: "page_pool=%p inflight=%d hold=%u release=%u cnt=%llu",
  args: ["pool", "inflight", "hold", "release", "cnt"],
};
const UPDATE_NID_FMT: TraceFormat = {
  event: "page_pool_update_nid",
  fmt: "page_pool=%p pool_nid=%d new_nid=%d",
  args: ["pool", "pool_nid", "new_nid"],
};

/** Indexed by TP_*. */
export const TRACE_FORMATS: Readonly<Record<TraceEra, readonly TraceFormat[]>> = {
  page: [
    RELEASE_FMT,
    { event: "page_pool_state_release", fmt: "page_pool=%p page=%p pfn=0x%lx release=%u", args: ["pool", "netmem", "pfn", "release"] },
    { event: "page_pool_state_hold", fmt: "page_pool=%p page=%p pfn=0x%lx hold=%u", args: ["pool", "netmem", "pfn", "hold"] },
    UPDATE_NID_FMT,
  ],
  netmem: [
    RELEASE_FMT,
    { event: "page_pool_state_release", fmt: "page_pool=%p netmem=%p pfn=0x%lx release=%u", args: ["pool", "netmem", "pfn", "release"] },
    { event: "page_pool_state_hold", fmt: "page_pool=%p netmem=%p pfn=0x%lx hold=%u", args: ["pool", "netmem", "pfn", "hold"] },
    UPDATE_NID_FMT,
  ],
  net_iov: [
    RELEASE_FMT,
    {
      event: "page_pool_state_release",
      fmt: "page_pool=%p netmem=%p is_net_iov=%lu pfn=0x%lx release=%u",
      args: ["pool", "netmem", "is_net_iov", "pfn", "release"],
    },
    {
      event: "page_pool_state_hold",
      fmt: "page_pool=%p netmem=%p is_net_iov=%lu, pfn=0x%lx hold=%u",
      args: ["pool", "netmem", "is_net_iov", "pfn", "hold"],
    },
    UPDATE_NID_FMT,
  ],
};

/**
 * A build's era, derived from what it declares: `frag_page` a `struct page *` is the page era
 * (v6.1, v6.6); a `netmem_ref` one is v6.12+ here (every registered netmem build is v6.12 or
 * later, or a series based on one), so the net_iov era. The netmem era (v6.10–v6.11) has no
 * registered build; such a build would need its own rule here.
 */
export function traceEraOf(build: KernelBuild): TraceEra {
  const frag = build.structs.pagePool.members.find((x) => x.name === "frag_page");
  const fragIsPage = frag !== undefined && frag.type.kind === "prim" && (frag.type as { cname?: string }).cname === "struct page *";
  if (fragIsPage) return "page";
  return "net_iov";
}

export function traceFormatsOf(build: KernelBuild): readonly TraceFormat[] {
  return TRACE_FORMATS[traceEraOf(build)];
}

// ---- rendering TP_printk ----

/** `%p` of a kernel pointer, unhashed (the `hash-ptr` trace option off): lower-case hex, no 0x. */
export function kptr(hi: number, lo: number): string {
  if (hi === 0 && lo === 0) return "(null)";
  return hi === 0 ? (lo >>> 0).toString(16) : (hi >>> 0).toString(16) + (lo >>> 0).toString(16).padStart(8, "0");
}

/**
 * The subset of vsnprintf the four formats use: %p (a string, already rendered), %d, %u, %lu,
 * %lx, %llu (numbers). Anything else in a format is a programming error.
 */
export function tpPrintf(fmt: string, args: readonly (string | number)[]): string {
  let out = "";
  let a = 0;
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!;
    if (c !== "%") {
      out += c;
      continue;
    }
    const m = /^(p|d|u|lu|lx|llu)/.exec(fmt.slice(i + 1));
    if (m === null) throw new Error(`tpPrintf: unsupported conversion at ${fmt.slice(i)}`);
    const v = args[a++]!;
    switch (m[1]) {
      case "p":
        out += String(v);
        break;
      case "d":
        out += String((v as number) | 0);
        break;
      case "u":
        out += String((v as number) >>> 0);
        break;
      case "lx":
        out += (v as number).toString(16);
        break;
      default:
        out += String(v);
    }
    i += m[1]!.length;
  }
  return out;
}

/** The values of one record by TP_printk argument name (see TraceFormat.args). */
export interface TraceArgs {
  pool: string;
  netmem: string;
  is_net_iov: number;
  pfn: number;
  hold: number;
  release: number;
  inflight: number;
  cnt: number;
  pool_nid: number;
  new_nid: number;
}

/** The text after `event: ` for one record. */
export function renderTp(f: TraceFormat, v: TraceArgs): string {
  return tpPrintf(
    f.fmt,
    f.args.map((k) => v[k as keyof TraceArgs]),
  );
}

/** `%p` of the pool: a kmalloc'd struct page_pool, in the direct map. */
export function poolPtr(pool: number): string {
  return kptr(DIRECT_MAP_HI, pool);
}

/**
 * `(void *)netmem`: a page is its `struct page *` in the vmemmap; a net_iov (NET_IOV, bit 0 set) is
 * its slab address in the direct map, printed with bit 0 still set, as the kernel does.
 */
export function netmemPtr(netmem: number): string {
  return kptr((netmem & 1) !== 0 ? DIRECT_MAP_HI : VMEMMAP_HI, netmem);
}
