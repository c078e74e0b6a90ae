/**
 * `ppemu scenario frag`: the frag API step by step on kernel builds (src/scenario/frag.ts).
 * Dispatched from `ppemu scenario` (src/cli/cmd-scenario.ts) when the scenario named is `frag`.
 */
import { type Io, type ParsedValues, intArg, buildsArg, buildsHelp, UsageError } from "./common.js";
import { allBuilds, referenceBuild } from "../builds/index.js";
import { runFrag, hasFragApi, FRAG_DEFAULTS, type FragResult } from "../scenario/frag.js";
import { jsonText } from "../report/json.js";

export const fragHelp = (): string => `usage: ppemu scenario frag [--kernel B|B,C|all | --layout L|all] [--size N] [--dmesg] [--json]

A driver splits pages with page_pool_alloc_frag(): fragments of N bytes, pp_ref_count = BIAS_MAX
and frag_users per step; half come back, the exhausted page is drained and a new one taken; the pool
is destroyed with fragments out (page_pool_free_frag) and freed when they return. Then a whole page
from a splitting pool put once (v6.6: pp_frag_count was never set, the put underflows it), and one
fragment put twice: caught at the put with the machine's checks, WARN_ON(ret < 0) at destroy and a
page stuck in flight without. Builds without a frag API are listed and skipped.

${buildsHelp(true)}
                    (default: ${referenceBuild().name})
  --size N          fragment size in bytes, 1..2048 (default ${FRAG_DEFAULTS.size})
  --json            {"schema": 1, "command": "scenario", "scenario": "frag", "results": [one object
                    per build]} (schemas/scenario.schema.json)`;

/** `ppemu scenario frag`'s options. */
export const FRAG_OPTIONS = {
  kernel: { type: "string" },
  layout: { type: "string" },
  size: { type: "string" },
  dmesg: { type: "boolean" },
  json: { type: "boolean" },
} as const;

/** Run `ppemu scenario frag` with its parsed options (`cmd-scenario.ts` parses them). */
export function runFragCommand(values: ParsedValues, io: Io): number {
  const builds = buildsArg("scenario", values, { multi: true, dflt: referenceBuild().name });
  const size = intArg("scenario", "size", values.size as string | undefined, FRAG_DEFAULTS.size, 1, 2048);
  const skipped = builds.filter((b) => !hasFragApi(b)).map((b) => b.name);
  if (values.dmesg === true && values.json === true) throw new UsageError("ppemu scenario frag: --dmesg prints the kernel log after the steps: drop --json");
  const logs: string[] = [];
  const results = builds.filter(hasFragApi).map((kernel) =>
    runFrag({ kernel, size, ...(values.dmesg === true ? { onDmesg: (t: string) => logs.push(`dmesg (${kernel.name}, ${logs.length % 2 === 0 ? "checks on" : "checks off"}):\n${t || "(empty)\n"}`) } : {}) }),
  );
  if (values.json) {
    io.out(jsonText({ schema: 1, command: "scenario", scenario: "frag", results, skipped }));
    return 0;
  }
  io.out(results.map(fragText).join("\n"));
  if (skipped.length) io.out(`\nno frag API (skipped): ${skipped.join(", ")}\n`);
  for (const log of logs) io.out("\n" + log);
  return 0;
}

/** Every build with a frag API, for tests and docs. */
export function fragBuilds(): string[] {
  return allBuilds()
    .filter(hasFragApi)
    .map((b) => b.name);
}

/** The text `ppemu scenario frag` prints for one build. */
export function fragText(r: FragResult): string {
  const rows = r.steps.map((s) => [
    s.part,
    s.call,
    s.page ?? "-",
    s.offset === null ? "-" : String(s.offset),
    s.pp_ref_count ?? "-",
    String(s.frag_users),
    String(s.frag_offset),
    s.inflight === null ? "-" : String(s.inflight),
  ]);
  const head = ["part", "call", "page", "offset", "pp_ref_count", "frag_users", "frag_offset", "inflight"];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(w[i]!)).join("  ").trimEnd();
  const out = [`kernel ${r.kernel} (${r.layout}; frag API: ${r.api === "flag" ? "PP_FLAG_PAGE_FRAG, pp_frag_count" : "pp_ref_count, v6.7+"}): fragments of ${r.size} bytes, ${r.fragments_per_page} per page`, line(head)];
  for (let i = 0; i < rows.length; i++) {
    out.push(line(rows[i]!));
    for (const p of r.steps[i]!.printed) for (const l of p.split("\n")) out.push(`    | ${l}`);
  }
  out.push(
    `pool freed after the last fragment: ${r.pool_freed ? "yes" : "NO"}; whole page put once: ${r.full_page_put}; ` +
      `double put: ${r.double_put_caught_at_put ? "caught at the put (checks)" : "not caught at the put"}, ` +
      `${r.double_put_warned_at_destroy ? `WARN at destroy without checks, ${r.pages_stuck} page stuck in flight` : "no WARN without checks"}; frames lost: ${r.frames_lost}`,
  );
  return out.join("\n") + "\n";
}
