/**
 * The README's "Use it from TypeScript" script, run as a user would run it: a .mjs file inside the
 * package importing "ppemu" (the package's own export map), on the built dist/ (`npm test` builds
 * first). Its output must be the one the README shows.
 */
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

function block(after: string, lang: string): string {
  const i = README.indexOf(after);
  expect(i, `README has "${after}"`).toBeGreaterThan(0);
  const open = "```" + lang + "\n";
  const start = README.indexOf(open, i) + open.length;
  return README.slice(start, README.indexOf("```\n", start));
}

describe("README: Use it from TypeScript", () => {
  const code = block("## Use it from TypeScript", "ts");
  it("is at most 15 lines of code (comments and blank lines aside)", () => {
    const lines = code.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("//"));
    expect(lines.length).toBeLessThanOrEqual(15);
    expect(code).toContain('from "ppemu"');
  });

  it("prints what the README says it prints", () => {
    mkdirSync(`${ROOT}tmp`, { recursive: true });
    const file = `${ROOT}tmp/readme-example.mjs`;
    writeFileSync(file, code);
    const out = execFileSync(process.execPath, [file], { cwd: ROOT, encoding: "utf8" });
    expect(out).toBe(readmeOutput());
  });
});

/** The block after "prints" in the TypeScript section. */
function readmeOutput(): string {
  const sec = README.slice(README.indexOf("## Use it from TypeScript"));
  const i = sec.indexOf("\nprints\n");
  const start = sec.indexOf("```\n", i) + 4;
  return sec.slice(start, sec.indexOf("```\n", start));
}
