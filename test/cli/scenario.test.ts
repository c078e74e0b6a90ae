import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { allBuilds, allLayouts, buildNames, defaultBuildOf, layoutNames } from "../../src/builds/index.js";

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

const KEYS = [
  "kernel",
  "layout",
  "pages_allocated",
  "inflight_at_unbind",
  "mappings_alive_at_unbind",
  "unmapped_by_destroy",
  "late_returns",
  "late_returns_without_dma",
  "unmaps_after_unbind",
  "syncs_after_unbind",
  "double_unmaps",
  "mappings_leaked",
  "frames_lost",
  "pool_freed_at_ms",
  "kernel_log_lines",
  "ppemu_lines",
  "verdict",
  "diagnostics",
  "frames",
];

/** `scenario --json` always prints one object: the scenario's name and one result per build. */
function results(out: string): Record<string, unknown>[] {
  const o = JSON.parse(out) as { schema: number; command: string; scenario: string; results: Record<string, unknown>[] };
  expect(Object.keys(o)).toEqual(["schema", "command", "scenario", "results"]);
  expect([o.schema, o.command]).toEqual([1, "scenario"]);
  expect(o.scenario).toBe("unbind");
  return o.results;
}

describe("ppemu scenario: usage errors are one line on stderr, exit 2", () => {
  it.each([
    [["scenario", "unbind", "--layout", "nosuch"], `ppemu scenario: unknown layout 'nosuch' (valid: ${layoutNames().join(", ")}, all)`],
    [
      ["scenario", "unbind", "--kernel", "v5.15"],
      `ppemu scenario: unknown kernel build 'v5.15' (valid: ${buildNames().join(", ")}; or a layout: ${layoutNames().join(", ")})`,
    ],
    [["scenario", "unbind", "--kernel", "v6.1,"], "ppemu scenario: empty name in --kernel 'v6.1,'"],
    [["scenario", "unbind", "--kernel", "v6.1", "--layout", "classic"], "ppemu scenario: give --kernel or --layout, not both"],
    [["scenario", "unbind", "--pages", "abc"], "ppemu scenario: --pages must be a whole number from 0 to 4096, got 'abc'"],
    [["scenario", "unbind", "--pool-size", "40000"], "ppemu scenario: --pool-size must be a whole number from 1 to 32768, got '40000'"],
    [["scenario", "unbind", "--inflight", "5", "--pages", "2"], "ppemu scenario: --inflight must be a whole number from 0 to 2, got '5'"],
    [["scenario", "unbind", "--inflight", "4", "--late-returns", "5"], "ppemu scenario: --late-returns must be a whole number from 0 to 4, got '5'"],
    [["scenario"], "ppemu scenario: name one scenario (valid: unbind, frag, zerocopy, niov-init, netdevsim-pp-hold)"],
    [["scenario", "rebind"], "ppemu scenario: unknown scenario 'rebind' (valid: unbind, frag, zerocopy, niov-init, netdevsim-pp-hold)"],
    [["scenario", "unbind", "extra"], "ppemu scenario: unexpected argument 'extra'"],
  ])("%j", async (argv, line) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toBe(line + "\n");
  });

  const VALID = "(valid: --kernel, --layout, --pages, --inflight, --late-returns, --pool-size, --window-ms, --coherent, --no-netdev, --provider, --save, --at, --trace, --trace-filter, --dmesg, --json)";
  it.each([
    // Negative numbers reach the command's own range check, not parseArgs' "ambiguous".
    [["scenario", "unbind", "--pages", "-1"], "ppemu scenario: --pages must be a whole number from 0 to 4096, got '-1'"],
    [["scenario", "unbind", "--inflight", "-5"], "ppemu scenario: --inflight must be a whole number from 0 to 256, got '-5'"],
    [["scenario", "unbind", "--window-ms=-3"], "ppemu scenario: --window-ms must be a whole number from 0 to 86400000, got '-3'"],
    [["scenario", "unbind", "--bogus"], `ppemu scenario: unknown option '--bogus' ${VALID}`],
    [["scenario", "unbind", "--pages"], `ppemu scenario: option '--pages' needs a value ${VALID}`],
    [["scenario", "unbind", "--layout", "--json"], `ppemu scenario: option '--layout' needs a value ${VALID}`],
    [["scenario", "unbind", "--json=yes"], `ppemu scenario: option '--json' takes no value ${VALID}`],
    // Each scenario parses with its own options: another scenario's is unknown here, and the list is this one's.
    [["scenario", "unbind", "--niovs", "4"], `ppemu scenario: unknown option '--niovs' ${VALID}`],
    [["scenario", "frag", "--pages", "4"], "ppemu scenario: unknown option '--pages' (valid: --kernel, --layout, --size, --dmesg, --json)"],
    [["scenario", "niov-init", "--pages", "4"], "ppemu scenario: unknown option '--pages' (valid: --kernel, --layout, --niovs, --fixed, --dmesg, --json)"],
    [["scenario", "zerocopy", "--fixed"], "ppemu scenario: unknown option '--fixed' (valid: --kernel, --layout, --pages, --skip-netpp-check, --dmesg, --json)"],
  ])("option errors name the valid options: %j", async (argv, line) => {
    const r = await run(...argv);
    expect([r.code, r.out, r.err]).toEqual([2, "", line + "\n"]);
  });
});

describe("ppemu scenario unbind", () => {
  it("--json: one object with the documented keys", async () => {
    const r = await run("scenario", "unbind", "--pages", "64", "--inflight", "16", "--late-returns", "16", "--json");
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    const rs = results(r.out);
    expect(rs).toHaveLength(1);
    const o = rs[0]!;
    expect(Object.keys(o).sort()).toEqual([...KEYS].sort());
    expect(Object.keys(o).slice(0, 3)).toEqual(["kernel", "layout", "pages_allocated"]);
    expect(o).toMatchObject({
      // The default build: the classic layout's default.
      kernel: "v6.15",
      layout: "classic",
      pages_allocated: 64,
      inflight_at_unbind: 16,
      mappings_alive_at_unbind: 16,
      unmaps_after_unbind: 16,
      double_unmaps: 0,
      mappings_leaked: 0,
      frames_lost: 0,
      // the 16th return at floor(16 * 120000 / 17) = 112941 ms
      pool_freed_at_ms: 113_000,
      // dma-debug's one report; 16 syncs + 16 unmaps after unbind; the stall muted (netdev → loopback)
      kernel_log_lines: 1,
      ppemu_lines: 32,
      verdict: "SHOWN",
    });
  });

  it("--layout all --json: one object, a result per layout (its default build)", async () => {
    const r = await run("scenario", "unbind", "--layout", "all", "--pages", "32", "--inflight", "8", "--late-returns", "3", "--json");
    expect(r.code).toBe(0);
    const a = results(r.out);
    expect(a.map((o) => o["layout"])).toEqual(layoutNames());
    expect(a.map((o) => o["kernel"])).toEqual(allLayouts().map((l) => defaultBuildOf(l).name));
    for (const o of a) for (const k of KEYS) expect(o).toHaveProperty(k);
    // Classic: 8 mappings outlive the driver, 3 late returns unmap after unbind, 5 stay mapped.
    expect(a.map((o) => [o["mappings_alive_at_unbind"], o["unmaps_after_unbind"], o["mappings_leaked"], o["pool_freed_at_ms"], o["verdict"]])).toEqual(
      allLayouts().map((l) => (l.tracksInflight ? [0, 0, 0, null, "fixed"] : [8, 3, 5, null, "SHOWN"])),
    );
  });

  it("--kernel all --json: every build, in registry order", async () => {
    const r = await run("scenario", "unbind", "--kernel", "all", "--pages", "32", "--inflight", "8", "--late-returns", "3", "--json");
    expect(r.code).toBe(0);
    const a = results(r.out);
    expect(a.map((o) => [o["kernel"], o["layout"]])).toEqual(allBuilds().map((b) => [b.name, b.layout.name]));
    expect(a.map((o) => o["verdict"])).toEqual(allBuilds().map((b) => (b.layout.tracksInflight ? "fixed" : "SHOWN")));
    // --kernel B,C keeps the order given and drops duplicates.
    const two = results((await run("scenario", "unbind", "--kernel", "v6.16,v6.1,v6.16", "--pages", "8", "--inflight", "2", "--json")).out);
    expect(two.map((o) => o["kernel"])).toEqual(["v6.16", "v6.1"]);
  });

  it("prints the table: the bug shown for classic, fixed for the others", async () => {
    const r = await run("scenario", "unbind", "--layout", "all", "--pages", "32", "--inflight", "4");
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).toContain(
      "scenario unbind: 32 pages allocated, 4 held by the stack at unbind, 4 returned over 120 s;\n" +
        "a device that needs syncs, the pool names the driver's netdev\n\n ",
    );
    const lines = r.out.split("\n");
    const cells = (label: string) => lines.find((l) => l.startsWith(label))!.slice(label.length).trim().split(/\s{2,}/);
    // One layout per column: the layout's name over its default build.
    expect(lines[3]!.trim().split(/\s{2,}/)).toEqual(layoutNames());
    expect(lines[4]!.trim().split(/\s{2,}/)).toEqual(allLayouts().map((l) => defaultBuildOf(l).name));
    expect(cells("unbind bug")).toEqual(allLayouts().map((l) => (l.tracksInflight ? "fixed" : "SHOWN")));
    expect(cells("stalled-shutdown warnings")).toEqual(allLayouts().map(() => "0"));
    expect(cells("kernel log lines")).toEqual(allLayouts().map((l) => (l.tracksInflight ? "0" : "1")));
    expect(cells("ppemu: lines (the emulator's own)")).toEqual(allLayouts().map((l) => (l.tracksInflight ? "0" : "8")));
    expect(r.out).toContain(
      "\nkernel log (first line of each kind):\n" +
        "  v6.15: 1 × DMA-API: ppemu 0000:03:00.0: device driver has pending DMA allocations while released from device [count=4]\n" +
        "  v6.15: 4 × ppemu: iommu: device 0x1: DMA sync after driver unbind (iova 0x40000)\n" +
        "  v6.15: 4 × ppemu: iommu: device 0x1: DMA unmap after driver unbind (iova 0x40000)\n",
    );
    for (const l of allLayouts().filter((x) => x.tracksInflight)) expect(lines).toContain(`  ${defaultBuildOf(l).name}: (empty)`);
  });

  it("--kernel all: the layout on a header line above its first build, tables cut between layouts", async () => {
    const r = await run("scenario", "unbind", "--kernel", "all", "--pages", "16", "--inflight", "2");
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    // Each table's column starts from the rule under its headers; the tables together are every build.
    const rules = lines.flatMap((l, i) => (l.startsWith("───") ? [i] : []));
    expect(rules.length).toBeGreaterThan(1);
    const heads = rules.flatMap((rule) => {
      const starts = [...lines[rule]!.matchAll(/─+/g)].map((m) => m.index!).slice(1);
      const cell = (l: string, i: number) => l.slice(starts[i], starts[i + 1] ?? l.length).trim();
      return starts.map((_, i) => [cell(lines[rule - 2]!, i), cell(lines[rule - 1]!, i)]);
    });
    const builds = allBuilds();
    expect(heads.map((h) => h[1])).toEqual(builds.map((b) => b.name));
    // A table starts with a layout's first build: the layout names it, even when it continues one.
    expect(heads.map((h) => h[0])).toEqual(builds.map((b, i) => (i === 0 || builds[i - 1]!.layout !== b.layout ? b.layout.name : "")));
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(132);
  });

  it("--coherent and --no-netdev reach the scenario", async () => {
    const r = results((await run("scenario", "unbind", "--kernel", "v6.1,v6.12", "--coherent", "--no-netdev", "--json")).out);
    // v6.12 skips every sync on a coherent device (dma_dev_need_sync); v6.1 still syncs.
    expect(r.map((o) => [o["kernel"], o["syncs_after_unbind"], o["unmaps_after_unbind"]])).toEqual([
      ["v6.1", 64, 64],
      ["v6.12", 0, 64],
    ]);
    // Without a netdev both print the stalled-shutdown warning, each in its kernel's words.
    const stalls = r.map((o) => (o["diagnostics"] as { kind: string; first: string }[]).find((d) => d.kind.startsWith("stalled_pool_shutdown"))!.first);
    expect(stalls).toEqual([
      "page_pool_release_retry() stalled pool shutdown 32 inflight 60 sec",
      "page_pool_release_retry() stalled pool shutdown: id 1, 32 inflight 60 sec",
    ]);
    const text = (await run("scenario", "unbind", "--kernel", "v6.12", "--coherent", "--no-netdev")).out;
    expect(text).toContain("returned over 120 s;\na coherent device, no netdev\n\n");
  });

  it("nothing in flight at unbind: the bug is not exercised, on any layout", async () => {
    const r = await run("scenario", "unbind", "--layout", "all", "--pages", "32", "--inflight", "0");
    expect(r.code).toBe(0);
    const bug = r.out.split("\n").find((l) => l.startsWith("unbind bug"))!;
    expect(bug.replace(/\s{2,}/g, "|")).toBe(["unbind bug", ...allLayouts().map(() => "not exercised")].join("|"));
  });

  it("--help", async () => {
    const r = await run("scenario", "--help");
    expect(r.code).toBe(0);
    expect(r.out.startsWith("usage: ppemu scenario unbind")).toBe(true);
  });
});
