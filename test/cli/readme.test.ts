import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { ratioTable } from "../../src/report/bench.js";

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

  it("the bench table's ratio columns are named as ppemu bench names them", () => {
    const printed = ratioTable([]).split("\n")[0]!.trim().split(/ {2,}/);
    expect(printed).toEqual(["kernel", "test", "ns/elem", "rme", "÷v6.15", "k ÷v6.15", "÷01 fast", "k ÷01", "kernel ns", "heap Δ B"]);
    const head = README.split("\n").find((l) => l.startsWith("| kernel | test | run 1 ns"))!;
    const cells = head.split("|").map((c) => c.trim()).filter(Boolean);
    expect(cells).toEqual(["kernel", "test", "run 1 ns", "run 2 ns", "÷v6.15", "÷01 fast", "kernel ns", "k ÷v6.15", "k ÷01"]);
    for (const c of cells.slice(4)) expect(printed).toContain(c);
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
