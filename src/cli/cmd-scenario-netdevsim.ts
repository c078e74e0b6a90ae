/**
 * `ppemu scenario netdevsim-pp-hold`: nl_netdev.py page_pool_check() on kernel builds
 * (src/scenario/netdevsim.ts), printed as ksft_run() prints it. `cmd-scenario.ts` hands this name
 * here after parsing.
 */
import { type Io, type ParsedValues, buildsArg, UsageError } from "./common.js";
import { jsonDocument, jsonText } from "../report/json.js";
import { runNetdevsimPpHold, type NetdevsimResult } from "../scenario/netdevsim.js";

export const NETDEVSIM_SCENARIO = "netdevsim-pp-hold";

export const NETDEVSIM_SCENARIO_HELP = `
ppemu scenario netdevsim-pp-hold [--kernel B|B,C|all | --layout L|all] [--dmesg] [--json]
  The kernel's selftest of the unbind case, tools/testing/selftests/net/nl_netdev.py
  page_pool_check(): a netdevsim netdev goes down and up, its debugfs pp_hold holds a page of its
  rx queue's page_pool across a down (the pool lingers, detached, and a new one comes up beside it),
  then lets it go (the deferred retry frees the old pool within the 2 s busy wait), and the netdev is
  destroyed with a page held (the orphaning path). The selftest's checks read the page-pool dump;
  here the machine's pool list. Output: ksft_run()'s KTAP (each check an ok / not ok line of a
  subtest, then "ok 1 nl_netdev.page_pool_check"); builds before v6.8 have no page-pool netlink and
  SKIP. Several builds: each build's KTAP follows a "# kernel B" line. Exit status 1 if a check
  fails (ksft_exit()). Default build: the reference build.
  --json            {"schema": 1, "command": "scenario", "scenario": "netdevsim-pp-hold", "results":
                    [one object per build: kernel, layout, skip, checks, ok, busy_wait_ms,
                    pools_left, ktap]}`;

export const NETDEVSIM_OPTIONS = {
  kernel: { type: "string" },
  layout: { type: "string" },
  dmesg: { type: "boolean" },
  json: { type: "boolean" },
} as const;

/** Run the scenario on the builds named (default `dflt`); 0 when every check passed, 1 otherwise. */
export function runNetdevsimCommand(values: ParsedValues, io: Io, dflt: string): number {
  const builds = buildsArg("scenario", values, { multi: true, dflt });
  if (values.dmesg === true && values.json === true) throw new UsageError("ppemu scenario netdevsim-pp-hold: --dmesg prints the kernel log after the KTAP: drop --json");
  const logs: string[] = [];
  const onDmesg = (name: string) => (values.dmesg === true ? { onDmesg: (t: string) => logs.push(`dmesg (${name}):\n${t || "(empty)\n"}`) } : {});
  const results: NetdevsimResult[] = builds.map((kernel) => runNetdevsimPpHold({ kernel, ...onDmesg(kernel.name) }));
  const status = results.every((r) => r.ok) ? 0 : 1;
  if (values.json === true) {
    io.out(jsonText(jsonDocument("scenario", { scenario: NETDEVSIM_SCENARIO, results })));
    return status;
  }
  io.out(results.map((r) => (results.length > 1 ? `# kernel ${r.kernel}\n` : "") + r.ktap).join(""));
  for (const log of logs) io.out("\n" + log);
  return status;
}
