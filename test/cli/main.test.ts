import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { main, mainHelp, packageVersion } from "../../src/cli/main.js";
import { BufferIo, normalizeArgv } from "../../src/cli/common.js";
import { scenarioCommand } from "../../src/cli/cmd-scenario.js";
import { COMMANDS } from "../../src/cli/commands.js";

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

const PKG = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

describe("ppemu: dispatch", () => {
  it("--version prints package.json's version", async () => {
    expect(PKG.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(packageVersion()).toBe(PKG.version);
    expect(await run("--version")).toEqual({ code: 0, out: `ppemu ${PKG.version}\n`, err: "" });
  });

  it("help CMD prints that command's help, exit 0", async () => {
    expect(await run("help", "scenario")).toEqual({ code: 0, out: scenarioCommand.help + "\n", err: "" });
    for (const c of COMMANDS) expect((await run("help", c.name)).out).toBe(c.help + "\n");
  });

  it("help alone, --help: the command list, exit 0; nothing: the list, exit 2", async () => {
    expect(await run("help")).toEqual({ code: 0, out: mainHelp() + "\n", err: "" });
    expect((await run("--help")).code).toBe(0);
    expect((await run()).code).toBe(2);
  });

  it("help or a command that does not exist: one line, exit 2", async () => {
    const line = "ppemu: unknown command 'nosuch' (valid: report, layout, scenario, verify, bench, compare, explain, stress, race, netlink, ethtool)\n";
    expect(await run("help", "nosuch")).toEqual({ code: 2, out: "", err: line });
    expect(await run("nosuch")).toEqual({ code: 2, out: "", err: line });
  });

  it("an unknown option names the command's valid options", async () => {
    expect(await run("report", "--bogus")).toEqual({ code: 2, out: "", err: "ppemu report: unknown option '--bogus' (valid: --json, --no-bench, --html, --bench-json)\n" });
    expect(await run("compare", "--json", "extra")).toEqual({
      code: 2,
      out: "",
      err: "ppemu compare: unexpected argument 'extra' (this command takes options only: --kernel, --layout, --json)\n",
    });
  });
});

describe("normalizeArgv", () => {
  const opts = { pages: { type: "string" }, json: { type: "boolean" }, magic: { type: "string", multiple: true } } as const;
  it("joins a string option with a negative number; positionals go behind --, in order", () => {
    expect(normalizeArgv(["--pages", "-1", "a", "--json", "-2", "b"], opts)).toEqual(["--pages=-1", "--json", "--", "a", "-2", "b"]);
    expect(normalizeArgv(["--magic", "0x40", "--magic", "-7"], opts)).toEqual(["--magic", "0x40", "--magic=-7"]);
    expect(normalizeArgv(["x", "--", "--json"], opts)).toEqual(["--", "x", "--json"]);
    // A boolean never takes the next token; an option-like value is left for parseArgs to refuse.
    expect(normalizeArgv(["--json", "-3"], opts)).toEqual(["--json", "--", "-3"]);
    expect(normalizeArgv(["--pages", "--json"], opts)).toEqual(["--pages", "--json"]);
    expect(normalizeArgv(["--pages=-9", "-"], opts)).toEqual(["--pages=-9", "--", "-"]);
    expect(normalizeArgv(["--pages", "-", "x"], opts)).toEqual(["--pages", "-", "--", "x"]);
  });
});
