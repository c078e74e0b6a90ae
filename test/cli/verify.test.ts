import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";

async function run(...argv: string[]): Promise<{ code: number; io: BufferIo }> {
  const io = new BufferIo();
  const code = await main(["verify", ...argv], io);
  return { code, io };
}

describe("ppemu verify", () => {
  it("bad arguments exit 2 and name the valid choices", async () => {
    const a = await run("items", "--arch", "sparc");
    expect(a.code).toBe(2);
    expect(a.io.stderr).toBe("ppemu verify: unknown arch 'sparc' (valid: lp64, ilp32, all)\n");
    const b = await run("bogus");
    expect(b.code).toBe(2);
    expect(b.io.stderr).toBe("ppemu verify: unknown target 'bogus' (valid: items, masks, netmem, all)\n");
    const c = await run("items", "--page-size", "8k");
    expect(c.code).toBe(2);
    expect(c.io.stderr).toBe("ppemu verify: unknown page size '8k' (valid: 4k, 16k, 64k, all)\n");
    const d = await run("items", "masks");
    expect(d.code).toBe(2);
    expect(d.io.stderr).toContain("one target at most");
    expect((await run("--frobnicate")).code).toBe(2);
  });

  it("options that do not apply to the target are refused in one line", async () => {
    const a = await run("masks", "--page-size", "16k");
    expect([a.code, a.io.stdout, a.io.stderr]).toEqual([
      2,
      "",
      "ppemu verify: --page-size does not apply to masks (pp_magic does not depend on the page size; it selects items and netmem)\n",
    ]);
    const b = await run("items", "--exhaustive");
    expect([b.code, b.io.stdout, b.io.stderr]).toEqual([
      2,
      "",
      "ppemu verify: --exhaustive does not apply to items (it widens the lp64 masks check only; items samples nothing)\n",
    ]);
    const c = await run("masks", "--arch", "ilp32", "--exhaustive");
    expect([c.code, c.io.stdout, c.io.stderr]).toEqual([
      2,
      "",
      "ppemu verify: --exhaustive does not apply to --arch ilp32 (every ilp32 id is always covered; it widens lp64 masks)\n",
    ]);
  });

  it("prints each check with its coverage and PASS", async () => {
    const { code, io } = await run("items", "--arch", "lp64", "--page-size", "4K");
    expect(code).toBe(0);
    expect(io.stdout).toMatch(/^ {2}PASS {3}items v11 lp64 4k +1,270 enumerated +0 counted {2}item slots \(254 × 5 block bases\)/m);
    // The items target holds the item-address checks of every item layout: v7's encoded_next and memdesc-item's too.
    expect(io.stdout).toMatch(/^ {2}PASS {3}encoded_next v7 lp64 4k +10,200 enumerated +0 counted {2}\(next, state, previous word\) triples \(\(254 items \+ NULL\) × 4 states × 2 × 5 block bases\)/m);
    expect(io.stdout).toMatch(/^ {2}PASS {3}memdesc item as netmem_desc lp64 +8 enumerated +0 counted {2}netmem_desc members and aliases/m);
    expect(io.stdout).toMatch(/^ {2}PASS {3}memdesc type bits lp64 4k +420 enumerated +0 counted {2}item slots \(84 × 5 block bases\)/m);
    expect(io.stdout).toMatch(/^ {2}PASS {3}memdesc alignments lp64 4k +8,191 enumerated +0 counted {2}descriptor addresses/m);
    // 3 × 1,270 item slots + 10,200 + 8 + 420 + 8,191.
    expect(io.stdout).toContain("summary: 7 checks: 22,629 values enumerated, 0 counted by formula; 7 PASS, 0 FAIL, 0 XFAIL (known kernel bug reproduced), 0 XPASS; ");
  });

  it("verify all: the headline gives values enumerated and values counted by formula apart", async () => {
    const { code, io } = await run("all");
    expect(code).toBe(0);
    expect(io.stdout).toContain(
      // test/verify/run.test.ts has every check's figures.
      "summary: 59 checks: 173,936,831 values enumerated, 5,465,178,112 counted by formula; " +
        "58 PASS, 0 FAIL, 1 XFAIL (known kernel bug reproduced), 0 XPASS; ",
    );
    expect(io.stdout).toMatch(/^ {2}XFAIL {2}masks ilp32 v6\.16 false positives >= PAGE_OFFSET +16,777,216 enumerated +2,600,468,480 counted {2}word-aligned/m);
    expect(io.stdout).toMatch(/^ {2}PASS {3}masks ilp32 v6\.18 PAGE_OFFSET 0xc0000000 \(runtime\) round-trip +4 enumerated +0 counted {2}pp_magic states/m);
    expect(io.stdout).not.toContain("SKIP");
  });

  it("--json", async () => {
    const { code, io } = await run("masks", "--arch", "ilp32", "--json");
    expect(code).toBe(0);
    const j = JSON.parse(io.stdout) as {
      schema: number;
      command: string;
      options: Record<string, unknown>;
      checks: { name: string; status: string; covered: number; enumerated: number; counted: number; expect_fail: boolean; counterexample: string | null; data: Record<string, unknown>[] | null }[];
      summary: Record<string, unknown>;
    };
    expect(Object.keys(j)).toEqual(["schema", "command", "options", "checks", "summary"]);
    expect([j.schema, j.command]).toEqual([1, "verify"]);
    expect(j.options).toEqual({ groups: ["masks"], arches: ["ilp32"], page_sizes: ["4k", "16k", "64k"], exhaustive: false });
    expect(j.summary).toMatchObject({ checks: 6, xfail: 1, fail: 0, skip: 0, exit_code: 0, enumerated: 33554428 + 67108860 + 8388604 + 4 + 16777216 + 20971520, counted: 2600468480 + 2864709632 });
    const x = j.checks.find((r) => r.status === "XFAIL")!;
    expect(x.name).toBe("masks ilp32 v6.16 false positives >= PAGE_OFFSET");
    expect(x.counterexample).toContain("0x10000040");
    expect([x.expect_fail, x.enumerated, x.counted, x.covered]).toEqual([true, 16777216, 2600468480, 2617245696]);
    expect(x.data![0]).toMatchObject({ rule: "v6.16", page_offset: 0xc0000000, page_offset_constant: true, cross_checked: true, enumerated: 2 ** 22 });
    expect(j.checks[0]).toMatchObject({ name: "masks ilp32 v6.16 round-trip", status: "PASS", covered: 33554428, enumerated: 33554428, counted: 0, expect_fail: false, counterexample: null, data: null });
  });

  it("--help", async () => {
    const { code, io } = await run("--help");
    expect(code).toBe(0);
    expect(io.stdout).toContain("usage: ppemu verify [items|masks|netmem|all]");
  });
});
