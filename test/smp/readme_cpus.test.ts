/**
 * The README's "Many CPUs" example, run as a user would run it: the program and the script as .mjs
 * files inside the package importing "ppemu", on the built dist/. Its output must be the README's.
 */
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const SECTION = README.slice(README.indexOf("## Many CPUs"));

function block(lang: string, after = ""): string {
  const i = after === "" ? 0 : SECTION.indexOf(after);
  const open = "```" + lang + "\n";
  const start = SECTION.indexOf(open, i) + open.length;
  expect(start).toBeGreaterThan(open.length);
  return SECTION.slice(start, SECTION.indexOf("```\n", start));
}

describe("README: Many CPUs", () => {
  it("the runner example prints what the README says it prints", () => {
    mkdirSync(`${ROOT}tmp`, { recursive: true });
    writeFileSync(`${ROOT}tmp/returner.mjs`, block("js"));
    const script = block("ts");
    expect(script).toContain('from "ppemu"');
    writeFileSync(`${ROOT}tmp/readme-cpus.mjs`, script);
    const out = execFileSync(process.execPath, [`${ROOT}tmp/readme-cpus.mjs`], { cwd: ROOT, encoding: "utf8" });
    expect(out).toBe(block("", "\nprints\n"));
  });
});
