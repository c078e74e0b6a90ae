import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { structPageBytes } from "../../src/scenario/tracking_cost.js";
import { buildCompare, renderCompare, compareReport, compareSections, compareDocument, defaultCompareBuilds, type CompareData } from "../../src/report/compare.js";
import type { TrackingCostRow } from "../../src/scenario/tracking_cost.js";
import { allLayouts, buildNames, defaultBuildOf, findBuild } from "../../src/builds/index.js";

async function run(...argv: string[]): Promise<{ code: number; io: BufferIo }> {
  const io = new BufferIo();
  const code = await main(["compare", ...argv], io);
  return { code, io };
}

const row = (d: CompareData, layout: string, kase: string, poolSize: number, inFlight: number): TrackingCostRow =>
  d.rows.find((x) => x.layout === layout && x.case === kase && x.pool_size === poolSize && x.in_flight === inFlight)!;

/** Each layout's default build: what compare measures when no build is named. */
const DEFAULTS = allLayouts().map(defaultBuildOf);
const TRACKING = DEFAULTS.filter((b) => b.layout.tracksInflight);

/** The registry's per-build facts compare carries (checked against the text in "per build: …" below). */
const PP_IS_PP_PRE_6_16 = "(page->pp_magic & ~0x3UL) == PP_SIGNATURE";
const facts = (k: "v6.15" | "v11" | "v6.16") => ({
  struct_page_bytes: 64,
  membership: k === "v6.16" ? "(page->pp_magic & PP_MAGIC_MASK) == PP_SIGNATURE" : PP_IS_PP_PRE_6_16,
  user_mappable: true,
});

describe("ppemu compare", () => {
  it("bad arguments exit 2; --help", async () => {
    const a = await run("--frobnicate");
    expect(a.code).toBe(2);
    expect(a.io.stderr).toBe("ppemu compare: unknown option '--frobnicate' (valid: --kernel, --layout, --json)\n");
    expect((await run("extra")).code).toBe(2);
    const k = await run("--kernel", "v2.6");
    expect(k.code).toBe(2);
    expect(k.io.stderr).toMatch(/^ppemu compare: unknown kernel build 'v2\.6' \(valid: /);
    const h = await run("--help");
    expect(h.code).toBe(0);
    expect(h.io.stdout).toMatch(/^usage: ppemu compare \[--kernel B\|B,C\|all \| --layout L\|all\] \[--json\]/);
    expect(h.io.stdout).toContain(`(default: each layout's default build: ${DEFAULTS.map((b) => b.name).join(", ")})`);
  });

  it("--json: measured rows for every pool size and in-flight count, the sparse case, the summary", async () => {
    const { code, io } = await run("--json");
    expect(code).toBe(0);
    const d = JSON.parse(io.stdout) as CompareData;
    expect(Object.keys(d)).toEqual(["schema", "command", "arch", "page_size", "sparse_pages", "rows", "builds"]);
    expect(d).toMatchObject({ schema: 1, command: "compare" });
    expect([d.arch, d.page_size, d.sparse_pages]).toEqual(["lp64", 4096, 4096]);
    // Per tracking layout: 3 pool sizes × 4 in-flight counts, and the sparse case.
    expect(d.rows.length).toBe(TRACKING.length * (3 * 4 + 1));
    expect([...new Set(d.rows.map((x) => x.kernel))]).toEqual(TRACKING.map((b) => b.name));

    // Item blocks: the v11 init sizing, then slow blocks as pages outgrow the fast items.
    expect(row(d, "item-block", "dense", 1024, 64)).toEqual({
      kernel: "v11",
      layout: "item-block",
      case: "dense",
      pool_size: 1024,
      in_flight: 64,
      tracked_pages: 64,
      tracking_bytes: 11 * 4096,
      bytes_per_tracked_page: 704,
      slots_per_unit: 254,
      units: { item_blocks_fast: 11, item_blocks_slow: 0 },
    });
    expect(row(d, "item-block", "dense", 256, 64).units["item_blocks_fast"]).toBe(5);
    expect(row(d, "item-block", "dense", 4096, 64).units["item_blocks_fast"]).toBe(35);
    // 16384 pages: 2794 fast items, the rest on ceil(13590 / 254) = 54 slow blocks.
    const big = row(d, "item-block", "dense", 1024, 16384);
    expect([big.units["item_blocks_fast"], big.units["item_blocks_slow"], big.tracking_bytes, big.bytes_per_tracked_page]).toEqual([11, 54, 65 * 4096, 16.3]);

    // The xarray: ids 1..N under a radix tree of 64-slot nodes.
    expect(row(d, "xarray", "dense", 1024, 64)).toEqual({
      kernel: "v6.16",
      layout: "xarray",
      case: "dense",
      pool_size: 1024,
      in_flight: 64,
      tracked_pages: 64,
      tracking_bytes: 3 * 576,
      bytes_per_tracked_page: 27,
      slots_per_unit: 64,
      units: { xa_nodes: 3 },
    });
    expect(row(d, "xarray", "dense", 1024, 1024).units["xa_nodes"]).toBe(18);
    const xbig = row(d, "xarray", "dense", 256, 16384);
    expect([xbig.units["xa_nodes"], xbig.tracking_bytes, xbig.bytes_per_tracked_page]).toEqual([263, 263 * 576, 9.2]);
    // The pool size does not change the xarray.
    expect(row(d, "xarray", "dense", 4096, 4096).units).toEqual(row(d, "xarray", "dense", 256, 4096).units);

    // Sparse: 64 pages left of 4096, one per xa leaf.
    const xs = row(d, "xarray", "sparse", 1024, 64);
    const is = row(d, "item-block", "sparse", 1024, 64);
    expect([xs.tracked_pages, xs.units["xa_nodes"], xs.bytes_per_tracked_page]).toEqual([64, 68, 612]);
    expect([is.tracked_pages, is.units["item_blocks_fast"], is.units["item_blocks_slow"], is.bytes_per_tracked_page]).toEqual([64, 11, 6, 1088]);

    // The first three layouts' defaults (later layouts add their own columns after them).
    expect(d.builds.slice(0, 3)).toEqual([
      { kernel: "v6.15", layout: "classic", tracks_inflight: false, slots_per_unit: null, bytes_per_tracked_page_dense: 0, bytes_per_tracked_page_sparse: 0, unbind_verdict: "SHOWN", unmaps_after_unbind: 64, mappings_alive_at_unbind: 64, ...facts("v6.15") },
      { kernel: "v11", layout: "item-block", tracks_inflight: true, slots_per_unit: 254, bytes_per_tracked_page_dense: 16.3, bytes_per_tracked_page_sparse: 1088, unbind_verdict: "fixed", unmaps_after_unbind: 0, mappings_alive_at_unbind: 0, ...facts("v11") },
      { kernel: "v6.16", layout: "xarray", tracks_inflight: true, slots_per_unit: 64, bytes_per_tracked_page_dense: 9.2, bytes_per_tracked_page_sparse: 612, unbind_verdict: "fixed", unmaps_after_unbind: 0, mappings_alive_at_unbind: 0, ...facts("v6.16") },
    ]);
    expect(d.builds.map((s) => s.kernel)).toEqual(DEFAULTS.map((b) => b.name));
  });

  it("text: both tables and the summary", async () => {
    const { code, io } = await run();
    expect(code).toBe(0);
    const out = io.stdout;
    expect(out).toContain("item blocks on pool->item_blocks × PAGE_SIZE; the dma_mapped xarray's nodes × 576 B.");
    expect(out).toContain("dense: the driver holds N DMA-mapped pages");
    expect(out).toMatch(/^v11 +1024 +16384 +16384 +11 item blocks \(fast\) +266240 +16\.3\n +54 item blocks \(slow\)$/m);
    expect(out).toMatch(/^v6\.16 +1024 +16384 +16384 +263 xa nodes +151488 +9\.2$/m);
    expect(out).toContain("sparse: 4096 pages taken on pool_size 1024, then 63 of every 64 returned");
    // The summary: one column per build, the layout above it.
    expect(out).toMatch(/^ +classic +item-block +xarray(?: .*)?\n +v6\.15 +v11 +v6\.16(?: .*)?\n/m);
    expect(out).toMatch(/^unbind bug +SHOWN +fixed +fixed(?: |$)/m);
    expect(out).toMatch(/^tracking slots per unit \(page or xa_node\) +— +254 +64(?: |$)/m);
    expect(out).toMatch(/^bytes per tracked page, dense \(most pages, pool 1024\) +0 \(none\) +16\.3 +9\.2(?: |$)/m);
    // The same scenario run as `ppemu scenario unbind` (its defaults), named as the user runs it.
    expect(out).toMatch(/^unmaps after unbind \(scenario unbind, 64 in flight\) +64 +0 +0(?: |$)/m);
    expect(out).not.toContain("runUnbind");
  });

  it("per build: struct page + tracking bytes, the membership test, mappable to user space", async () => {
    const names = ["v6.15", "v6.16", "v6.17", "v6.19"];
    const j = JSON.parse((await run("--kernel", names.join(","), "--json")).io.stdout) as CompareData;
    const { io } = await run("--kernel", names.join(","));
    const lines = io.stdout.split("\n");
    const at = (label: string) => lines.findIndex((l) => l.startsWith(label));
    const cells = (i: number) => lines[i]!.slice(lines[i]!.search(/  \S/)).trim().split(/ {2,}/);
    // struct page is 64 bytes in all four; the tracking bytes are the measured dense figure.
    const sp = at("struct page + tracking, bytes per page (dense)");
    const dense = j.builds.map((s) => (s.tracks_inflight ? s.bytes_per_tracked_page_dense : 0));
    expect(structPageBytes(findBuild("v6.17")!)).toBe(64);
    expect(cells(sp)).toEqual(dense.map((x) => (64 + x).toFixed(1)));
    expect(cells(sp + 1)).toEqual(dense.map((x) => `(64 + ${x.toFixed(1)})`));
    expect(dense[0]).toBe(0);
    expect(dense.slice(1).every((x) => x > 0)).toBe(true);
    // page_pool_page_is_pp(): ~0x3UL before v6.16, PP_MAGIC_MASK from v6.16 (the DMA index excluded).
    const mem = at("is a page_pool page (page_pool_page_is_pp)");
    expect(cells(mem)).toEqual(Array(4).fill("(page->pp_magic &"));
    expect(cells(mem + 1)).toEqual(["~0x3UL) ==", "PP_MAGIC_MASK) ==", "PP_MAGIC_MASK) ==", "PP_MAGIC_MASK) =="]);
    expect(findBuild("v6.15")!.layout.membershipText(findBuild("v6.15")!)).toBe("(page->pp_magic & ~0x3UL) == PP_SIGNATURE");
    expect(findBuild("v6.19")!.layout.membershipText(findBuild("v6.19")!)).toBe("(page->pp_magic & PP_MAGIC_MASK) == PP_SIGNATURE");
    expect(cells(at("mappable to user space (vm_insert_page)"))).toEqual(["yes", "yes", "yes", "yes"]);
    // The same facts in the JSON, per build.
    expect(j.builds.map((s) => [s.kernel, s.struct_page_bytes, s.user_mappable])).toEqual(names.map((n) => [n, 64, true]));
    expect(j.builds.map((s) => s.membership)).toEqual(names.map((n) => findBuild(n)!.layout.membershipText(findBuild(n)!)));
  });

  it("--kernel all: every registered build has a column, in registry order", async () => {
    const j = JSON.parse((await run("--kernel", "all", "--json")).io.stdout) as CompareData;
    expect(j.builds.map((s) => s.kernel)).toEqual(buildNames());
    expect(buildNames()).toEqual(expect.arrayContaining(["v6.16", "v6.17", "v6.18", "v6.19", "mainline"]));
  });

  it("--kernel B,C: the builds named; a layout that tracks nothing gets a summary but no rows", async () => {
    const { code, io } = await run("--kernel", "v6.1,mainline", "--json");
    expect(code).toBe(0);
    const d = JSON.parse(io.stdout) as CompareData;
    expect([...new Set(d.rows.map((x) => x.kernel))]).toEqual(["mainline"]);
    // mainline's xarray is v6.16's: the same nodes for the same pages.
    expect(row(d, "xarray", "dense", 1024, 1024)).toMatchObject({ kernel: "mainline", units: { xa_nodes: 18 }, bytes_per_tracked_page: 10.1 });
    expect(d.builds.map((s) => [s.kernel, s.layout, s.unbind_verdict, s.unmaps_after_unbind])).toEqual([
      ["v6.1", "classic", "SHOWN", 64],
      ["mainline", "xarray", "fixed", 0],
    ]);
    expect(findBuild("v6.1")!.layout.tracksInflight).toBe(false);
  });

  it('"tracked" includes what the 64-page alloc-cache refill left in the cache, as the legend says', () => {
    const d = buildCompare({ poolSizes: [1024], inflight: [1, 65, 128], sparsePages: 128 });
    expect(d.rows.filter((x) => x.case === "dense").map((x) => [x.layout, x.in_flight, x.tracked_pages])).toEqual(
      TRACKING.flatMap((b) => [
        [b.layout.name, 1, 64],
        [b.layout.name, 65, 128],
        [b.layout.name, 128, 128],
      ]),
    );
    expect(renderCompare(d)).toContain('The cache refills 64 pages at a time, so when the driver holds\na multiple of 64 (every row here) the cache is empty and "tracked" equals "in flight".');
  });

  it("the library entry points: smaller runs, text and JSON agree, a report section", () => {
    const opts = { poolSizes: [1], inflight: [128, 64], sparsePages: 256, sparsePoolSize: 1 };
    expect(defaultCompareBuilds()).toEqual(DEFAULTS);
    const d = buildCompare(opts);
    expect(d.rows.map((x) => [x.layout, x.case, x.in_flight, x.tracked_pages])).toEqual(
      TRACKING.flatMap((b) => [
        [b.layout.name, "dense", 64, 64],
        [b.layout.name, "dense", 128, 128],
        [b.layout.name, "sparse", 4, 4],
      ]),
    );
    const { text, json } = compareReport(opts);
    expect(json).toEqual(d);
    expect(text).toBe(renderCompare(d));
    const [section] = compareSections(opts);
    expect(section!.id).toBe("compare");
    expect(section!.text).toBe(text);
    // The report's section is compare --json's document (snake_case unit names).
    expect(section!.json).toEqual(compareDocument(d));
    expect(section!.json).toMatchObject({ schema: 1, command: "compare", arch: d.arch, page_size: d.page_size, builds: d.builds });
  });
});
