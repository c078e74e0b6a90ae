import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { summaryTable } from "../../src/report/bench_text.js";
import { costRun, costTable } from "../../bench/cost_model.js";
import { LAYOUT_TESTS } from "../../bench/catalog.js";
import { allBuilds } from "../../src/builds/index.js";

const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("README", () => {
  it("the `scenario unbind --kernel all` example is the command's output, byte for byte", async () => {
    const start = "```\n$ npx ppemu scenario unbind --kernel all\n";
    const i = README.indexOf(start);
    expect(i).toBeGreaterThan(0);
    const shown = README.slice(i + start.length, README.indexOf("```\n", i + start.length));
    const io = new BufferIo();
    expect(await main(["scenario", "unbind", "--kernel", "all"], io)).toBe(0);
    expect(shown).toBe(io.stdout);
  });

  it("the bench table's columns are ppemu bench's, less the ones it leaves out", () => {
    const printed = summaryTable([]).split("\n")[0]!.trim().split(/ {2,}/);
    expect(printed).toEqual(["kernel", "test", "ns/elem", "min–max", "spread", "runs", "cycles", "÷v6.15 (95% CI)", "k ÷v6.15", "÷js_floor (95% CI)", "kernel ns"]);
    const head = README.split("\n").find((l) => l.startsWith("| kernel | test | ns/elem | min–max"))!;
    const cells = head.split("|").map((c) => c.trim()).filter(Boolean);
    expect(cells).toEqual(["kernel", "test", "ns/elem", "min–max", "cycles", "÷v6.15 (95 % CI)", "÷js_floor", "kernel ns"]);
    for (const c of ["ns/elem", "min–max", "cycles", "kernel ns"]) expect(printed).toContain(c);
  });

  it("the cost model table is the model's output for every build and test, byte for byte", () => {
    const { rows, skipped } = costRun();
    const start = "### The cost model";
    const i = README.indexOf(start);
    const open = README.indexOf("```\n", i) + 4;
    const shown = README.slice(open, README.indexOf("```\n", open));
    expect(shown).toBe(costTable(rows, skipped) + "\n");
    expect(rows.length).toBe(allBuilds().length * LAYOUT_TESTS.length);
  });
});

describe("README: the kernel builds table", () => {
  it("is the report's builds section, byte for byte", async () => {
    const { buildsTable } = await import("../../src/report/builds.js");
    const { allBuilds } = await import("../../src/builds/index.js");
    const start = "## Kernel builds";
    const i = README.indexOf(start);
    const open = README.indexOf("```\n", i) + 4;
    const shown = README.slice(open, README.indexOf("```\n", open));
    expect(shown.startsWith(buildsTable(allBuilds()) + "\n")).toBe(true);
  });

  it.each([
    ["netlink", "page-pool-get", "--kernel", "v6.16"],
    ["scenario", "netdevsim-pp-hold", "--kernel", "v6.16"],
  ])("the `%s %s` example is the command's output, byte for byte", async (...argv: string[]) => {
    const start = "```\n$ npx ppemu " + argv.join(" ") + "\n";
    const i = README.indexOf(start);
    expect(i).toBeGreaterThan(0);
    const shown = README.slice(i + start.length, README.indexOf("```\n", i + start.length));
    const io = new BufferIo();
    expect(await main(argv, io)).toBe(0);
    expect(shown).toBe(io.stdout);
  });

  it("the explain example is the command's output", async () => {
    const start = "```\n$ npx ppemu explain --kernel v11 --at allocated 0x91ff0\n";
    const i = README.indexOf(start);
    expect(i).toBeGreaterThan(0);
    const shown = README.slice(i + start.length, README.indexOf("```\n", i + start.length));
    const io = new BufferIo();
    expect(await main(["explain", "--kernel", "v11", "--at", "allocated", "0x91ff0"], io)).toBe(0);
    expect(shown).toBe(io.stdout);
  });
});
