import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { ratioTable } from "../../src/report/bench.js";

const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("README", () => {
  it("the `scenario unbind --layout all` example is the command's output, byte for byte", async () => {
    const start = "```\n$ npx ppemu scenario unbind --layout all\n";
    const i = README.indexOf(start);
    expect(i).toBeGreaterThan(0);
    const shown = README.slice(i + start.length, README.indexOf("```\n", i + start.length));
    const io = new BufferIo();
    expect(await main(["scenario", "unbind", "--layout", "all"], io)).toBe(0);
    expect(shown).toBe(io.stdout);
  });

  it("the bench table's ratio columns are named as ppemu bench names them", () => {
    const printed = ratioTable([]).split("\n")[0]!.trim().split(/ {2,}/);
    expect(printed).toEqual(["layout", "test", "ns/elem", "rme", "÷classic", "k ÷classic", "÷01 fast", "k ÷01", "kernel ns", "heap Δ B"]);
    const head = README.split("\n").find((l) => l.startsWith("| layout | test | run 1 ns"))!;
    const cells = head.split("|").map((c) => c.trim()).filter(Boolean);
    expect(cells).toEqual(["layout", "test", "run 1 ns", "run 2 ns", "÷classic", "÷01 fast", "kernel ns", "k ÷classic", "k ÷01"]);
    for (const c of cells.slice(4)) expect(printed).toContain(c);
  });
});
