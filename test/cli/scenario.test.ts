import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

const KEYS = [
  "layout",
  "pages_allocated",
  "inflight_at_unbind",
  "mappings_alive_at_unbind",
  "unmaps_after_unbind",
  "double_unmaps",
  "mappings_leaked",
  "frames_lost",
  "pool_freed_at_ms",
  "warnings",
];

describe("ppemu scenario: usage errors are one line on stderr, exit 2", () => {
  it.each([
    [["scenario", "unbind", "--layout", "nosuch"], "ppemu scenario: unknown layout 'nosuch' (valid: classic, item-block, xarray, all)"],
    [["scenario", "unbind", "--pages", "abc"], "ppemu scenario: --pages must be a whole number from 0 to 4096, got 'abc'"],
    [["scenario", "unbind", "--pool-size", "40000"], "ppemu scenario: --pool-size must be a whole number from 1 to 32768, got '40000'"],
    [["scenario", "unbind", "--inflight", "5", "--pages", "2"], "ppemu scenario: --inflight must be a whole number from 0 to 2, got '5'"],
    [["scenario", "unbind", "--inflight", "4", "--late-returns", "5"], "ppemu scenario: --late-returns must be a whole number from 0 to 4, got '5'"],
    [["scenario"], "ppemu scenario: name one scenario (valid: unbind)"],
    [["scenario", "rebind"], "ppemu scenario: unknown scenario 'rebind' (valid: unbind)"],
    [["scenario", "unbind", "extra"], "ppemu scenario: name one scenario (valid: unbind)"],
  ])("%j", async (argv, line) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toBe(line + "\n");
  });

  const VALID = "(valid: --layout, --pages, --inflight, --late-returns, --pool-size, --window-ms, --json)";
  it.each([
    // Negative numbers reach the command's own range check, not parseArgs' "ambiguous".
    [["scenario", "unbind", "--pages", "-1"], "ppemu scenario: --pages must be a whole number from 0 to 4096, got '-1'"],
    [["scenario", "unbind", "--inflight", "-5"], "ppemu scenario: --inflight must be a whole number from 0 to 256, got '-5'"],
    [["scenario", "unbind", "--window-ms=-3"], "ppemu scenario: --window-ms must be a whole number from 0 to 86400000, got '-3'"],
    [["scenario", "unbind", "--bogus"], `ppemu scenario: unknown option '--bogus' ${VALID}`],
    [["scenario", "unbind", "--pages"], `ppemu scenario: option '--pages' needs a value ${VALID}`],
    [["scenario", "unbind", "--layout", "--json"], `ppemu scenario: option '--layout' needs a value ${VALID}`],
    [["scenario", "unbind", "--json=yes"], `ppemu scenario: option '--json' takes no value ${VALID}`],
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
    const o = JSON.parse(r.out) as Record<string, unknown>;
    for (const k of KEYS) expect(o).toHaveProperty(k);
    expect(Object.keys(o).slice(0, 3)).toEqual(["layout", "pages_allocated", "inflight_at_unbind"]);
    expect(o).toMatchObject({
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
      warnings: 49,
    });
  });

  it("--layout all --json: an array, one object per layout", async () => {
    const r = await run("scenario", "unbind", "--layout", "all", "--pages", "32", "--inflight", "8", "--late-returns", "3", "--json");
    expect(r.code).toBe(0);
    const a = JSON.parse(r.out) as Record<string, unknown>[];
    expect(a.map((o) => o["layout"])).toEqual(["classic", "item-block", "xarray"]);
    for (const o of a) for (const k of KEYS) expect(o).toHaveProperty(k);
    expect(a.map((o) => [o["mappings_alive_at_unbind"], o["unmaps_after_unbind"], o["mappings_leaked"], o["pool_freed_at_ms"]])).toEqual([
      [8, 3, 5, null],
      [0, 0, 0, null],
      [0, 0, 0, null],
    ]);
  });

  it("prints the table: the bug shown for classic, fixed for the others", async () => {
    const r = await run("scenario", "unbind", "--layout", "all", "--pages", "32", "--inflight", "4");
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).toContain("scenario unbind: 32 pages allocated, 4 held by the stack at unbind, 4 returned over 120 s\n\n ");
    const bug = r.out.split("\n").find((l) => l.includes("unbind bug"))!;
    expect(bug.replace(/\s+/g, " ").trim()).toMatch(/unbind bug.*SHOWN.*fixed.*fixed/);
    expect(r.out).toContain("classic: 4 × ppemu-iommu: device 0x1: DMA unmap after driver unbind (iova 0x");
  });

  it("nothing in flight at unbind: the bug is not exercised, on any layout", async () => {
    const r = await run("scenario", "unbind", "--layout", "all", "--pages", "32", "--inflight", "0");
    expect(r.code).toBe(0);
    const bug = r.out.split("\n").find((l) => l.startsWith("unbind bug"))!;
    expect(bug.replace(/\s{2,}/g, "|")).toBe("unbind bug|not exercised (0 in flight)|not exercised (0 in flight)|not exercised (0 in flight)");
  });

  it("--help", async () => {
    const r = await run("scenario", "--help");
    expect(r.code).toBe(0);
    expect(r.out.startsWith("usage: ppemu scenario unbind")).toBe(true);
  });
});
