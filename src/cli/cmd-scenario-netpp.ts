/**
 * `ppemu scenario zerocopy` and `ppemu scenario niov-init`: the two failures of the PGTY_netpp
 * layout (src/scenario/netpp.ts), run side by side on kernel builds. `cmd-scenario.ts` hands these
 * two names here after parsing.
 */
import { dmesgText } from "../report/dmesg.js";
import type { PhysMem } from "../mem/physmem.js";
import { type Io, type ParsedValues, UsageError, intArg, buildsArg } from "./common.js";
import { findBuild } from "../builds/index.js";
import { renderTable, wrapByGroup } from "../report/table.js";
import { buildHeaders } from "../report/unbind.js";
import { jsonDocument, jsonText } from "../report/json.js";
import {
  runZerocopy,
  runNiovInit,
  ZEROCOPY_DEFAULTS,
  NIOV_INIT_DEFAULTS,
  NETPP_PAGES_MAX,
  TCP_ZEROCOPY_PAGE_BATCH_SIZE,
  type ZerocopyResult,
  type NiovInitResult,
  type NetppDiag,
} from "../scenario/netpp.js";

export const NETPP_SCENARIOS = ["zerocopy", "niov-init"] as const;
export type NetppScenario = (typeof NETPP_SCENARIOS)[number];

/** The default builds: the netpp build beside the one before it and the revert after it (those registered). */
const NETPP_SCENARIO_DEFAULT_KERNEL = "v6.19,v7.1-rc-netpp,mainline";
export function netppDefaultKernel(): string {
  return NETPP_SCENARIO_DEFAULT_KERNEL.split(",").filter((n) => findBuild(n) !== undefined).join(",");
}

export const NETPP_SCENARIO_HELP = `
ppemu scenario zerocopy [--kernel B|B,C|all] [--pages N] [--skip-netpp-check] [--dmesg] [--json]
  TCP zerocopy receive of page_pool pages: the driver's RX pages sit in the socket's receive queue
  as full-page frags; getsockopt(TCP_ZEROCOPY_RECEIVE) maps them with vm_insert_pages(), ${TCP_ZEROCOPY_PAGE_BATCH_SIZE} per batch.
  On v7.1-rc-netpp validate_page_before_insert() refuses a typed page: -EINVAL (why db359fccf212
  was reverted). Then the skbs are freed, the VMA unmapped, the pool destroyed.
  --pages N         pages received, 1..${NETPP_PAGES_MAX} (default ${ZEROCOPY_DEFAULTS.pages})
  --skip-netpp-check  map netpp pages anyway (the validate_page_before_insert() change proposed with
                    the report, refused): the rmap's _mapcount++ lands on page_type, and the page is
                    a bad page when munmap frees it

ppemu scenario niov-init [--kernel B|B,C|all] [--niovs N] [--fixed] [--dmesg] [--json]
  An io_uring zcrx area's net_iovs (zeroed) enter a pool through page_pool_set_pp_info(). On
  v7.1-rc-netpp __SetPageNetpp() finds page_type 0, not UINT_MAX: VM_BUG_ON_PAGE, kernel BUG.
  --niovs N         net_iovs in the area, 1..${NETPP_PAGES_MAX} (default ${NIOV_INIT_DEFAULTS.niovs})
  --fixed           with 735a309b4bfb: net_iov_init() stamps page_type = UINT_MAX

  Default builds for both: ${NETPP_SCENARIO_DEFAULT_KERNEL}. --json: {"schema": 1, "command": "scenario",
  "scenario": "zerocopy"|"niov-init", "results": [one object per build]}
  (schemas/scenario.schema.json: the scenario key picks the results' shape)`;

/** Each scenario's options (`cmd-scenario.ts` parses with them, so an error names these). */
export const ZEROCOPY_OPTIONS = {
  kernel: { type: "string" },
  layout: { type: "string" },
  pages: { type: "string" },
  "skip-netpp-check": { type: "boolean" },
  dmesg: { type: "boolean" },
  json: { type: "boolean" },
} as const;
export const NIOV_INIT_OPTIONS = {
  kernel: { type: "string" },
  layout: { type: "string" },
  niovs: { type: "string" },
  fixed: { type: "boolean" },
  dmesg: { type: "boolean" },
  json: { type: "boolean" },
} as const;

function strip<T extends { readonly sys: unknown }>(r: T): Omit<T, "sys"> {
  const { sys: _sys, ...rest } = r;
  return rest;
}

export const ZEROCOPY_ROWS: readonly [string, (r: ZerocopyResult) => string | number][] = [
  ["pages received (full-page frags)", (r) => r.pages_received],
  ["page_type of a received page", (r) => `${r.page_type_at_insert}\n${r.page_type_meaning}`],
  ["getsockopt(TCP_ZEROCOPY_RECEIVE)", (r) => r.getsockopt_errno],
  ["pages mapped into the VMA", (r) => r.pages_mapped],
  ["page_type while mapped (_mapcount++)", (r) => r.page_type_while_mapped ?? "-"],
  ["pool pages mappable to user space", (r) => (r.user_mappable ? "yes" : "no")],
  ["bad pages at munmap (type corrupted)", (r) => r.bad_pages_at_free],
  ["frames lost", (r) => r.frames_lost],
  ["kernel log lines", (r) => r.kernel_log_lines],
  ["zerocopy receive", (r) => r.verdict],
];

export const NIOV_INIT_ROWS: readonly [string, (r: NiovInitResult) => string | number][] = [
  ["net_iov has page_type", (r) => (r.niov_has_page_type ? "yes (@48)" : "no")],
  ["net_iov_init() (735a309b4bfb)", (r) => (r.fixed ? "yes" : "no")],
  ["niov page_type before set_pp_info", (r) => r.page_type_before ?? "-"],
  ["niov page_type after set_pp_info", (r) => r.page_type_after ?? "-"],
  ["niovs that entered the pool", (r) => `${r.set_pp_info_done} of ${r.niovs}`],
  ["VM_BUG_ON_PAGE (kernel BUG)", (r) => r.vm_bug_on],
  ["frames lost", (r) => r.frames_lost],
  ["kernel log lines", (r) => r.kernel_log_lines],
  ["niov registration", (r) => r.verdict],
];

/** The rows, builds side by side, wrapped at layout boundaries into tables of TABLE_WIDTH. */
function netppTable<R extends { readonly kernel: string; readonly layout: string }>(results: readonly R[], rows: readonly [string, (r: R) => string | number][]): string {
  return wrapByGroup(results, (r) => r.layout, (chunk) => renderTable(["", ...buildHeaders(chunk)], rows.map(([l, get]) => [l, ...chunk.map(get)])));
}

export function zerocopyTable(results: readonly ZerocopyResult[]): string {
  return netppTable(results, ZEROCOPY_ROWS);
}

export function niovInitTable(results: readonly NiovInitResult[]): string {
  return netppTable(results, NIOV_INIT_ROWS);
}

/** Every line of each kind's first report (a kernel BUG is several lines), per build. */
export function netppLog(results: readonly { readonly kernel: string; readonly diagnostics: readonly NetppDiag[] }[]): string {
  const lines: string[] = [];
  for (const r of results) {
    if (r.diagnostics.length === 0) lines.push(`  ${r.kernel}: (empty)`);
    for (const d of r.diagnostics) {
      const [first, ...more] = d.first.split("\n");
      lines.push(`  ${r.kernel}: ${d.count} × ${first}`, ...more.map((l) => `  ${" ".repeat(r.kernel.length)}      ${l}`));
    }
  }
  return "kernel log (first report of each kind):\n" + lines.join("\n") + "\n";
}

/** Run one of the two scenarios on `builds` and print it. */
export function runNetppScenario(name: NetppScenario, values: ParsedValues, io: Io): number {
  const builds = buildsArg("scenario", values, { multi: true, dflt: netppDefaultKernel() });
  if (values.dmesg === true && values.json === true) throw new UsageError(`ppemu scenario ${name}: --dmesg prints the kernel log after the table: drop --json`);
  // --dmesg: each build's log, read as its run ends (src/report/dmesg.ts).
  const logs: string[] = [];
  const logged = <T extends { readonly sys: { readonly build: { readonly name: string }; readonly m: { readonly mem: PhysMem } } }>(r: T): T => {
    if (values.dmesg === true) logs.push(`dmesg (${r.sys.build.name}):\n${dmesgText(r.sys.m.mem) || "(empty)\n"}`);
    return r;
  };
  if (name === "zerocopy") {
    const pages = intArg("scenario", "pages", values.pages as string | undefined, ZEROCOPY_DEFAULTS.pages, 1, NETPP_PAGES_MAX);
    const skipNetppCheck = values["skip-netpp-check"] === true;
    const results = builds.map((kernel) => strip(logged(runZerocopy({ kernel, pages, skipNetppCheck }))));
    if (values.json === true) {
      io.out(jsonText(jsonDocument("scenario", { scenario: name, results })));
      return 0;
    }
    io.out(
      `scenario zerocopy: ${pages} page_pool pages received, then getsockopt(TCP_ZEROCOPY_RECEIVE) maps them` +
        `${skipNetppCheck ? ";\nvalidate_page_before_insert() lets PageNetpp pages through (the refused change)" : ""}\n\n`,
    );
    io.out(zerocopyTable(results));
    io.out("\n" + netppLog(results));
    for (const log of logs) io.out("\n" + log);
    return 0;
  }
  const niovs = intArg("scenario", "niovs", values.niovs as string | undefined, NIOV_INIT_DEFAULTS.niovs, 1, NETPP_PAGES_MAX);
  const fixed = values.fixed === true;
  const withNiov = builds.filter((b) => b.structs.netIov !== undefined);
  const skipped = builds.filter((b) => b.structs.netIov === undefined).map((b) => b.name);
  if (withNiov.length === 0) throw new UsageError(`ppemu scenario niov-init: none of ${builds.map((b) => b.name).join(", ")} has a struct net_iov`);
  const results = withNiov.map((kernel) => strip(logged(runNiovInit({ kernel, niovs, fixed }))));
  if (values.json === true) {
    io.out(jsonText(jsonDocument("scenario", { scenario: name, results })));
    return 0;
  }
  io.out(`scenario niov-init: ${niovs} zeroed io_uring zcrx net_iovs enter a pool, ${fixed ? "with" : "without"} net_iov_init() (735a309b4bfb)\n`);
  if (skipped.length > 0) io.out(`(no struct net_iov, skipped: ${skipped.join(", ")})\n`);
  io.out("\n" + niovInitTable(results));
  io.out("\n" + netppLog(results));
  for (const log of logs) io.out("\n" + log);
  return 0;
}
