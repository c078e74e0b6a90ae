/** nl_netdev.py page_pool_check() on the emulated kernel: netdevsim's link state and pp_hold, KTAP out. */
import { describe, expect, it } from "vitest";
import { runNetdevsimPpHold, ktapText, KSFT_MAIN_NAME } from "../../src/scenario/netdevsim.js";
import { allBuilds } from "../../src/builds/index.js";

const STEPS = [
  "ok 1 No page pools when down: ksft_eq(len(get_pp()), 0)",
  "ok 2 Up, empty page pool appears: ksft_ge(len(pp_list), 0)",
  "ok 3 Up, empty page pool appears: ksft_eq(refs, 0)",
  "ok 4 Down, it disappears, again: ksft_eq(len(pp_list), 0)",
  "ok 5 Up, allocate a page: ksft_ge(refs, 1)",
  "ok 6 Now let's leak a page: ksft_eq(len(pp_list), 1)",
  "ok 7 Now let's leak a page: ksft_eq(refs, 1)",
  "ok 8 Now let's leak a page: ksft_eq(len(attached), 0)",
  "ok 9 New pp can get created, and we'll have two: ksft_eq(len(attached), 1)",
  "ok 10 New pp can get created, and we'll have two: ksft_eq(len(detached), 1)",
  "ok 11 Free the old page and the old pp is gone: ksft_busy_wait(lambda: len(get_pp()) == 1, deadline=2)",
  "ok 12 And down...: ksft_eq(len(get_pp()), 0)",
];

describe("scenario netdevsim-pp-hold", () => {
  it("v6.15 (classic): every step ok, in ksft_run()'s KTAP with the steps as a subtest", () => {
    const r = runNetdevsimPpHold({ kernel: "v6.15" });
    expect(r).toMatchObject({ kernel: "v6.15", layout: "classic", skip: null, ok: true, busy_wait_ms: 1000, pools_left: 0 });
    expect(r.ktap).toBe(
      ["KTAP version 1", "1..1", "    KTAP version 1", "    1..12", ...STEPS.map((s) => "    " + s), "ok 1 nl_netdev.page_pool_check", "# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0", ""].join("\n"),
    );
  });

  it("every build with the page-pool netlink family passes; the old pool goes at the first deferred retry (1 s); destroy's orphan is freed", () => {
    const rows = allBuilds().map((b) => {
      const r = runNetdevsimPpHold({ kernel: b });
      return [r.kernel, r.skip === null ? "run" : "skip", r.ok, r.checks.length, r.busy_wait_ms, r.pools_left];
    });
    expect(rows).toEqual(
      allBuilds().map((b) =>
        b.name === "v6.1" || b.name === "v6.6" ? [b.name, "skip", true, 0, null, 0] : [b.name, "run", true, 12, 1000, 0],
      ),
    );
  });

  it("builds before v6.8 skip the case, saying why (no page-pool netlink to dump)", () => {
    const r = runNetdevsimPpHold({ kernel: "v6.6" });
    expect(r.ktap).toBe(
      "KTAP version 1\n1..1\n" +
        "ok 1 nl_netdev.page_pool_check # SKIP kernel v6.6 has no page-pool netlink (the netdev family's page-pool objects came in v6.8)\n" +
        "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0\n",
    );
  });

  it("a failed check is `not ok` with ksft's Check failed line, and fails the case", () => {
    expect(KSFT_MAIN_NAME).toBe("nl_netdev");
    const text = ktapText(
      null,
      [
        { step: "No page pools when down", check: "ksft_eq(len(get_pp()), 0)", ok: true },
        { step: "Now let's leak a page", check: "ksft_eq(len(pp_list), 1)", ok: false, failure: "Check failed 0 != 1" },
      ],
      false,
    );
    expect(text).toBe(
      [
        "KTAP version 1",
        "1..1",
        "    KTAP version 1",
        "    1..2",
        "    ok 1 No page pools when down: ksft_eq(len(get_pp()), 0)",
        "    not ok 2 Now let's leak a page: ksft_eq(len(pp_list), 1)",
        "    # Check failed 0 != 1",
        "not ok 1 nl_netdev.page_pool_check",
        "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0",
        "",
      ].join("\n"),
    );
  });

  it("refuses what is no options object", () => {
    expect(() => runNetdevsimPpHold(null as never)).toThrow(/options must be an object/);
  });
});

describe("scenario netdevsim-pp-hold --json", () => {
  it("validates against schemas/scenario.schema.json (its netdevsim-pp-hold shape); an extra key does not", async () => {
    const { readFileSync, readdirSync } = await import("node:fs");
    const Ajv2020Module = (await import("ajv/dist/2020.js")).default as unknown as { default?: unknown };
    const Ajv2020 = (Ajv2020Module.default ?? Ajv2020Module) as typeof import("ajv/dist/2020.js").default;
    const dir = new URL("../../schemas/", import.meta.url);
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
    for (const f of readdirSync(dir).filter((x) => x.endsWith(".schema.json"))) ajv.addSchema(JSON.parse(readFileSync(new URL(f, dir), "utf8")) as object);
    const v = ajv.getSchema("https://github.com/ppemu/ppemu/schemas/scenario.schema.json")!;
    const { main } = await import("../../src/cli/main.js");
    const { BufferIo } = await import("../../src/cli/common.js");
    const io = new BufferIo();
    expect(await main(["scenario", "netdevsim-pp-hold", "--kernel", "v6.6,v6.16", "--json"], io)).toBe(0);
    const d = JSON.parse(io.stdout) as { scenario: string; results: Record<string, unknown>[] };
    expect(v(d), JSON.stringify(v.errors)).toBe(true);
    expect(d.results.map((r) => [r["kernel"], r["ok"], r["skip"] === null])).toEqual([["v6.6", true, false], ["v6.16", true, true]]);
    d.results[1]!["extra"] = 1;
    expect(v(d)).toBe(false);
  });
});
