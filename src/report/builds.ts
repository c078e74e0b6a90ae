/**
 * The report's build section: every kernel build side by side, grouped by layout — what each one
 * does at each version boundary of page_pool.c (its switches, in words), and the size of its own
 * `struct page_pool`. Read from the registry; nothing here knows a build by name.
 */
import { LP64 } from "../arch.js";
import { layoutOf } from "../mem/ctype.js";
import { allBuilds } from "../builds/index.js";
import type { BuildSwitches, KernelBuild } from "../builds/types.js";
import { PoolOffsets } from "../pool/pool_offsets.js";
import { renderTable, wrapByGroup } from "./table.js";
import { buildHeaders } from "./unbind.js";
import type { ReportSection } from "./section.js";

/** One row per boundary: its label and how a build's switches read there. */
export const SWITCH_ROWS: readonly [string, (s: BuildSwitches) => string][] = [
  ["pool_size > 32768", (s) => (s.poolSizeRule === "e2big" ? "-E2BIG" : "clamp 16K")],
  ["order > MAX_PAGE_ORDER at init", (s) => (s.orderCheck ? "-EINVAL" : "accepted")],
  ["pp_ref_count = 1 in set_pp_info", (s) => (s.ppRefCountInit ? "yes" : "no")],
  ["release: clear pp info, release_cnt++", (s) => (s.releaseOrder === "clear-then-count" ? "clear, ++" : "++, clear")],
  [
    "direct recycling decided in",
    (s) =>
      ({ softirq: "caller only", napi_pp_put_page: "skb path", cpuid: "skb path", napi_local: "every put", napi_local_rt: "every put" })[
        s.napiLocality
      ],
  ],
  ["… not on PREEMPT_RT", (s) => (s.napiLocality === "napi_local_rt" ? "yes" : "—")],
  ["destroy unlinks the NAPI", (s) => ({ none: "—", unlink: "unlink", disable: "disable" })[s.destroyNapi]],
  ["… and sets cpuid = -1", (s) => (s.destroyResetsCpuid ? "yes" : "no")],
  ["stalled-shutdown warning", (s) => (s.stallWarning === "every-pool" ? "every pool" : "no netdev")],
  ["negative in-flight retry", (s) => (s.negativeRetryStops ? "stops" : "forever")],
  ["syncs need dma_dev_need_sync()", (s) => (s.syncNeedsDevice ? "yes" : "no")],
  ["release takes the producer lock", (s) => (s.releaseProducerBarrier ? "yes" : "no")],
  ["sync re-tests dma_sync under RCU", (s) => (s.syncUnderRcu ? "yes" : "no")],
  ["pool ids (user.id, netlink)", (s) => (s.userId ? "yes" : "no")],
  ["PP_FLAG_ALL", (s) => `0x${s.ppFlagAll.toString(16)}`],
];

/**
 * The builds side by side, wrapped at layout boundaries into tables of at most TABLE_WIDTH columns
 * (src/report/table.ts wrapByGroup).
 */
export function buildsTable(builds: readonly KernelBuild[]): string {
  return wrapByGroup(builds, (b) => b.layout, oneTable);
}

function oneTable(builds: readonly KernelBuild[]): string {
  const rows: (string | number)[][] = SWITCH_ROWS.map(([label, get]) => [label, ...builds.map((b) => get(b.switches))]);
  rows.push(["sizeof(struct page_pool)", ...builds.map((b) => layoutOf(b.structs.pagePool, LP64).size)]);
  rows.push(["offsetof(alloc)", ...builds.map((b) => new PoolOffsets(b.structs).layout.off.alloc!)]);
  rows.push(["offsetof(ring)", ...builds.map((b) => new PoolOffsets(b.structs).ring)]);
  return renderTable(["", ...buildHeaders(builds.map((b) => ({ kernel: b.name, layout: b.layout.name })))], rows);
}

export function buildsSections(): ReportSection[] {
  const builds = allBuilds();
  const text = [
    "Each column is one kernel build (ppemu --kernel B), grouped by its tracking layout (--layout L is",
    "the layout's default build); each row a version boundary of net/core/page_pool.c (the commits are",
    "cited in src/builds/*.ts). lp64 offsets of the build's own struct page_pool.",
    "",
    buildsTable(builds),
    "",
    ...builds.map((b) => `${b.name.padEnd(Math.max(...builds.map((x) => x.name.length)))}  ${b.summary}`),
  ]
    .join("\n")
    .split("\n")
    .map((l) => (l ? "  " + l : l))
    .join("\n");
  return [
    {
      id: "builds",
      title: "Kernel builds: what changed where",
      text,
      json: {
        builds: builds.map((b) => ({
          kernel: b.name,
          id: b.id,
          layout: b.layout.name,
          layout_default: b.isLayoutDefault,
          summary: b.summary,
          variant: b.variant ?? null,
          switches: b.switches,
          layout_switches: b.layoutSwitches ?? {},
          struct_page_pool_size: layoutOf(b.structs.pagePool, LP64).size,
          struct_page_pool_source: b.structs.source,
        })),
      },
    },
  ];
}
