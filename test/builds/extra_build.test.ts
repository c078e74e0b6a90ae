/**
 * A new layout or build is one file plus its struct declarations: register a minimal extra build
 * here, in the test, and it appears in every command that lists builds — scenario, compare, explain,
 * bench — with no other source file touched.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { registerBuild, unregisterBuild, findBuild, allBuilds, allLayouts, type KernelBuild, type TrackingLayout } from "../../src/builds/index.js";
import { ClassicTracking } from "../../src/builds/classic.js";
import { runUnbind } from "../../src/scenario/unbind.js";
import { Explainer, parseAddress } from "../../src/verify/explain.js";

/** The smallest layout there is: classic's strategy under another name. */
const TOY: TrackingLayout = {
  name: "toy-layout",
  summary: "a test layout: classic's page->pp under another name",
  tracksInflight: false,
  pageWords: { pp_magic: "PP_SIGNATURE", pp: "pp: the pool", _pp_mapping_pad: "never written", dma_addr: "DMA address", pp_ref_count: "refs", _refcount: "1 to recycle" },
  poolOfText: "page->pp",
  atDestroy: "left to late returns",
  inflightTracking: "none",
  paperBytesPerPage: () => "0",
  status: "a test",
  membershipText: () => "(page->pp_magic & ~0x3UL) == PP_SIGNATURE",
  userMappable: true,
  make: (ctx) => new ToyTracking(TOY, ctx),
};

/** Its own explain line: what `describePage` of a layout's file says shows up in `explain`. */
class ToyTracking extends ClassicTracking {
  override describePage(page: number): readonly string[] {
    return [`toy layout: struct page 0x${page.toString(16)} seen by its own decoder`];
  }
}

let toy: KernelBuild;

beforeAll(() => {
  const base = findBuild("v6.15")!;
  toy = registerBuild({ ...base, name: "v0-toy", id: 9000, layout: TOY, isLayoutDefault: true, summary: "a build registered by a test" });
});
afterAll(() => unregisterBuild(toy));

/** The "unbind bug" cells of every table in `out`, in order (the tables wrap at layout boundaries). */
function unbindBugCells(out: string): string[] {
  return out
    .split("\n")
    .filter((l) => l.startsWith("unbind bug "))
    .flatMap((l) => l.slice("unbind bug".length).trim().split(/\s{2,}/));
}

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

describe("an extra build registered in a test", () => {
  it("is in the registry, after the built-in layouts", () => {
    expect(allBuilds().at(-1)).toBe(toy);
    expect(allLayouts().at(-1)).toBe(TOY);
  });

  it("scenario unbind --kernel all has its column, under its layout", async () => {
    const r = await run("scenario", "unbind", "--kernel", "all");
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    // The tables wrap at layout boundaries: the toy's column is the last one of the last table.
    const at = lines.findIndex((l) => /toy-layout$/.test(l));
    expect(lines[at + 1]).toMatch(/\sv0-toy$/);
    expect(lines[at + 2]).toMatch(/^─/);
    expect(unbindBugCells(r.out)).toEqual(allBuilds().map((b) => (b.layout.tracksInflight ? "fixed" : "SHOWN")));
    expect(unbindBugCells(r.out).at(-1)).toBe("SHOWN");
  });

  it("scenario --layout toy-layout runs its default build; --help lists it", async () => {
    const r = await run("scenario", "unbind", "--layout", "toy-layout", "--json");
    expect(JSON.parse(r.out)).toMatchObject({ schema: 1, command: "scenario", scenario: "unbind" });
    expect(JSON.parse(r.out).results.map((x: { kernel: string; verdict: string }) => [x.kernel, x.verdict])).toEqual([["v0-toy", "SHOWN"]]);
    const h = await run("scenario", "--help");
    expect(h.out).toContain("v0-toy*");
    expect(h.out).toContain("toy-layout");
  });

  it("compare measures it and gives its verdict", async () => {
    const r = await run("compare", "--kernel", "v0-toy,v11", "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { command: string; builds: { kernel: string; unbind_verdict: string }[] };
    expect(j.command).toBe("compare");
    expect(j.builds.map((b) => [b.kernel, b.unbind_verdict])).toEqual([["v0-toy", "SHOWN"], ["v11", "fixed"]]);
    // The default compare: each layout's default build, the toy's last.
    const t = await run("compare");
    expect(unbindBugCells(t.out)).toEqual(allLayouts().map((l) => (l.tracksInflight ? "fixed" : "SHOWN")));
  });

  it("explain runs the scenario on it", async () => {
    const r = await run("explain", "--kernel", "v0-toy", "0x1040");
    expect(r.code).toBe(0);
    expect(r.out.split("\n")[0]).toBe('machine: scenario unbind, kernel v0-toy (toy-layout), at "destroyed" (40 pages, 8 with the stack, pool_size 64, 32 MiB)');
  });

  it("explain prints the layout's own decoding of a page_pool page (describePage)", () => {
    const run = runUnbind({ kernel: toy, pages: 40, inflight: 8, poolSize: 64 }, "destroyed");
    let page = 0;
    run.stack.forEachHeld((p) => (page = page || p));
    const x = new Explainer({ sys: run.sys, stack: run.stack });
    const e = x.explain(parseAddress(`0x${page.toString(16)}`, run.sys.m.mem.bytes) as Exclude<ReturnType<typeof parseAddress>, string>);
    expect(e.lines).toContain(`  toy layout: struct page 0x${page.toString(16)} seen by its own decoder`);
  });

  it("bench --layout toy-layout benchmarks it (inline: a child process would not have the test's registry)", async () => {
    const r = await run("bench", "--layout", "toy-layout", "--test", "page_pool01_fast_path", "--time", "5", "--runs", "2", "--inline", "--json", "-");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { schema: number; command: string; results: { kernel: string; layout: string; test: string }[] };
    expect([j.schema, j.command]).toEqual([4, "bench"]);
    const round = [["baseline", "baseline", "js_floor"], ["v0-toy", "toy-layout", "page_pool01_fast_path"]];
    expect(j.results.map((x) => [x.kernel, x.layout, x.test])).toEqual([...round, ...round]);
  });

  it("an unknown build is one line naming the valid ones, the extra one included", async () => {
    const r = await run("scenario", "unbind", "--kernel", "v9.9");
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      "ppemu scenario: unknown kernel build 'v9.9' (valid: v6.1, v6.6, v6.12, v6.15, v11, v6.16, v6.17, v6.18, v6.19, mainline, " +
        "v7-encoded-next, v7.1-rc-netpp, memdesc-item, v0-toy; or a layout: classic, item-block, xarray, encoded-next, netpp, memdesc-item, toy-layout)\n",
    );
  });
});

/** Every `.ts` file below `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

describe("layout names live in src/builds only", () => {
  it("no source file outside src/builds/ names a layout as a string (the C type `struct xarray` aside)", () => {
    const names = allLayouts()
      .filter((l) => l !== TOY)
      .map((l) => l.name);
    const re = new RegExp(`['"\`](${names.join("|")})['"\`]`);
    const hits: string[] = [];
    for (const f of [...sources("src"), ...sources("bench")]) {
      if (f.startsWith(join("src", "builds"))) continue;
      readFileSync(f, "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (re.test(line) && !/struct\("xarray"/.test(line)) hits.push(`${f}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(hits).toEqual([]);
  });
});
