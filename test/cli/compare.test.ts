import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { buildCompare, renderCompare, compareReport, compareSections, type CompareData, type CompareRow } from "../../src/report/compare.js";

async function run(...argv: string[]): Promise<{ code: number; io: BufferIo }> {
  const io = new BufferIo();
  const code = await main(["compare", ...argv], io);
  return { code, io };
}

const row = (d: CompareData, layout: string, kase: string, poolSize: number, inFlight: number): CompareRow =>
  d.rows.find((x) => x.layout === layout && x.case === kase && x.pool_size === poolSize && x.in_flight === inFlight)!;

describe("ppemu compare", () => {
  it("bad arguments exit 2; --help", async () => {
    const a = await run("--frobnicate");
    expect(a.code).toBe(2);
    expect(a.io.stderr).toMatch(/^ppemu compare: /);
    expect((await run("extra")).code).toBe(2);
    const h = await run("--help");
    expect(h.code).toBe(0);
    expect(h.io.stdout).toMatch(/^usage: ppemu compare \[--json\]/);
  });

  it("--json: measured rows for every pool size and in-flight count, the sparse case, the summary", async () => {
    const { code, io } = await run("--json");
    expect(code).toBe(0);
    const d = JSON.parse(io.stdout) as CompareData;
    expect([d.arch, d.page_size, d.xa_node_size, d.sparse_pages]).toEqual(["lp64", 4096, 576, 4096]);
    expect(d.rows.length).toBe(2 * 3 * 4 + 2);

    // Item blocks: the v11 init sizing, then slow blocks as pages outgrow the fast items.
    expect(row(d, "item-block", "dense", 1024, 64)).toEqual({
      layout: "item-block",
      case: "dense",
      pool_size: 1024,
      in_flight: 64,
      tracked_pages: 64,
      tracking_bytes: 11 * 4096,
      bytes_per_tracked_page: 704,
      items_per_block: 254,
      item_blocks_fast: 11,
      item_blocks_slow: 0,
      xa_nodes: null,
    });
    expect(row(d, "item-block", "dense", 256, 64).item_blocks_fast).toBe(5);
    expect(row(d, "item-block", "dense", 4096, 64).item_blocks_fast).toBe(35);
    // 16384 pages: 2794 fast items, the rest on ceil(13590 / 254) = 54 slow blocks.
    const big = row(d, "item-block", "dense", 1024, 16384);
    expect([big.item_blocks_fast, big.item_blocks_slow, big.tracking_bytes, big.bytes_per_tracked_page]).toEqual([11, 54, 65 * 4096, 16.3]);

    // The xarray: ids 0..N under a radix tree of 64-slot nodes.
    expect([row(d, "xarray", "dense", 1024, 64).xa_nodes, row(d, "xarray", "dense", 1024, 1024).xa_nodes]).toEqual([3, 18]);
    const xbig = row(d, "xarray", "dense", 256, 16384);
    expect([xbig.xa_nodes, xbig.tracking_bytes, xbig.bytes_per_tracked_page]).toEqual([263, 263 * 576, 9.2]);
    // The pool size does not change the xarray.
    expect(row(d, "xarray", "dense", 4096, 4096).xa_nodes).toBe(row(d, "xarray", "dense", 256, 4096).xa_nodes);

    // Sparse: 64 pages left of 4096, one per xa leaf.
    const xs = row(d, "xarray", "sparse", 1024, 64);
    const is = row(d, "item-block", "sparse", 1024, 64);
    expect([xs.tracked_pages, xs.xa_nodes, xs.bytes_per_tracked_page]).toEqual([64, 68, 612]);
    expect([is.tracked_pages, is.item_blocks_fast, is.item_blocks_slow, is.bytes_per_tracked_page]).toEqual([64, 11, 6, 1088]);

    expect(d.layouts).toEqual([
      { layout: "classic", items_per_block: null, bytes_per_tracked_page_dense: 0, bytes_per_tracked_page_sparse: 0, unbind_bug_fixed: false, unmaps_after_unbind: 64, mappings_alive_at_unbind: 64 },
      { layout: "item-block", items_per_block: 254, bytes_per_tracked_page_dense: 16.3, bytes_per_tracked_page_sparse: 1088, unbind_bug_fixed: true, unmaps_after_unbind: 0, mappings_alive_at_unbind: 0 },
      { layout: "xarray", items_per_block: null, bytes_per_tracked_page_dense: 9.2, bytes_per_tracked_page_sparse: 612, unbind_bug_fixed: true, unmaps_after_unbind: 0, mappings_alive_at_unbind: 0 },
    ]);
  });

  it("text: both tables and the summary", async () => {
    const { code, io } = await run();
    expect(code).toBe(0);
    const out = io.stdout;
    expect(out).toContain("dense: the driver holds N DMA-mapped pages");
    expect(out).toMatch(/^item-block +1024 +16384 +16384 +11 \+ 54 +— +266240 +16\.3$/m);
    expect(out).toMatch(/^xarray +1024 +16384 +16384 +— +263 +151488 +9\.2$/m);
    expect(out).toContain("sparse: 4096 pages taken on pool_size 1024, then 63 of every 64 returned");
    expect(out).toMatch(/^unbind bug fixed\? +NO +yes +yes$/m);
    expect(out).toMatch(/^items per block \(one 4 KiB page\) +— +254 +—$/m);
    // The same scenario run as `ppemu scenario unbind` (its defaults), named as the user runs it.
    expect(out).toMatch(/^unmaps after unbind \(scenario unbind, 64 in flight\) +64 +0 +0$/m);
    expect(out).not.toContain("runUnbind");
  });

  it('"tracked" includes what the 64-page alloc-cache refill left in the cache, as the legend says', () => {
    const d = buildCompare({ poolSizes: [1024], inflight: [1, 65, 128], sparsePages: 128 });
    expect(d.rows.filter((x) => x.case === "dense").map((x) => [x.layout, x.in_flight, x.tracked_pages])).toEqual([
      ["item-block", 1, 64],
      ["item-block", 65, 128],
      ["item-block", 128, 128],
      ["xarray", 1, 64],
      ["xarray", 65, 128],
      ["xarray", 128, 128],
    ]);
    expect(renderCompare(d)).toContain('holds a multiple of 64 (every row here) the cache is empty and "tracked" equals "in flight".');
  });

  it("the library entry points: smaller runs, text and JSON agree, a report section", () => {
    const opts = { poolSizes: [1], inflight: [128, 64], sparsePages: 256, sparsePoolSize: 1 };
    const d = buildCompare(opts);
    expect(d.rows.map((x) => [x.layout, x.case, x.in_flight, x.tracked_pages])).toEqual([
      ["item-block", "dense", 64, 64],
      ["item-block", "dense", 128, 128],
      ["item-block", "sparse", 4, 4],
      ["xarray", "dense", 64, 64],
      ["xarray", "dense", 128, 128],
      ["xarray", "sparse", 4, 4],
    ]);
    const { text, json } = compareReport(opts);
    expect(json).toEqual(d);
    expect(text).toBe(renderCompare(d));
    const [section] = compareSections(opts);
    expect(section!.id).toBe("compare");
    expect(section!.text).toBe(text);
  });
});
