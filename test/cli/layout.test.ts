import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { allBuilds, allLayouts, defaultBuildOf } from "../../src/builds/index.js";

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

describe("ppemu layout", () => {
  it("prints one struct by name, `struct page` accepted", async () => {
    const a = await run("layout", "page");
    expect(a.code).toBe(0);
    expect(a.err).toBe("");
    expect(a.out.startsWith("struct page {\n")).toBe(true);
    expect(a.out).toContain("\tlong unsigned int          pp_magic;             /*     8     8 */\n");
    expect(a.out).toContain("\t/* size: 64, cachelines: 1, members: 9 */\n");
    const b = await run("layout", "struct page");
    expect(b.out).toBe(a.out);
    const c = await run("layout", "struct", "page");
    expect(c.out).toBe(a.out);
  });

  it("every struct without a name, the machine's included", async () => {
    const r = await run("layout");
    expect(r.code).toBe(0);
    for (const s of ["page", "net_iov", "page_pool_item_block", "xa_node", "ptr_ring", "page_pool", "ppemu_machine", "free_area"]) {
      expect(r.out).toContain(`struct ${s} {\n`);
    }
    expect(r.out).toContain("ITEMS_PER_PAGE    254");
  });

  it("--arch ilp32", async () => {
    const r = await run("layout", "page", "--arch", "ilp32");
    expect(r.code).toBe(0);
    expect(r.out).toContain("\tatomic_t                   _refcount;            /*    28     4 */\n");
    expect(r.out).toContain("/* size: 32, cachelines: 1, members: 8 */");
  });

  it("item block geometry follows --page-size and --variant", async () => {
    const big = await run("layout", "page_pool_item_block", "--page-size", "64k");
    expect(big.code).toBe(0);
    expect(big.out).toContain("ITEMS_PER_PAGE    4094  = (65536 - 32) / 16\n");
    expect(big.out).toContain("item & PAGE_MASK (0xffffffffffff0000)");
    const small = await run("layout", "page_pool_item_block");
    expect(small.out).toContain("ITEMS_PER_PAGE    254  = (4096 - 32) / 16\n");
    expect(small.out).toContain("item alignment     16  items at 32 + 16 * i in a page-aligned block: 4 free low bits\n");
    expect(small.out).toMatch(/\n +1024 +2688 +11 +2794 +45056\n/);
    expect(small.out).toMatch(/\n +256 +1152 +5 +1270 +20480\n/);
    expect(small.out).toMatch(/\n +4096 +8832 +35 +8890 +143360\n/);
    const v9 = await run("layout", "page_pool_item_block", "--variant", "v9p2");
    expect(v9.out).toContain("\tstruct page_pool_item      items[];              /*    24     0 */\n");
    expect(v9.out).toContain("ITEMS_PER_PAGE    254  = (4096 - 24) / 16\n");
    const rfc = await run("layout", "page_pool_item_block", "--variant", "rfcv5");
    expect(rfc.out).toContain("\tstruct list_head           list;                 /*     0    16 */\n");
    expect(rfc.out).toContain("\tstruct page_pool *         pp;                   /*    16     8 */\n");
    const il = await run("layout", "page_pool_item_block", "--arch", "ilp32");
    expect(il.out).toContain("ITEMS_PER_PAGE    509  = (4096 - 20) / 8\n");
  });

  it("--json: one object with members, holes, padding and geometry", async () => {
    const r = await run("layout", "page_pool_item_block", "--json");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    // One document even for one struct: {schema, command, kernel, structs: [it]}.
    expect(Object.keys(doc)).toEqual(["schema", "command", "kernel", "structs"]);
    expect([doc.schema, doc.command, doc.kernel, doc.structs.length]).toEqual([1, "layout", "v6.15", 1]);
    const j = doc.structs[0];
    expect(j.name).toBe("page_pool_item_block");
    expect(j.size).toBe(32);
    expect(j.align).toBe(8);
    expect(j.members.map((x: { path: string; offset: number }) => [x.path, x.offset])).toEqual([
      ["pp", 0],
      ["list", 8],
      ["list.next", 8],
      ["list.prev", 16],
      ["flags", 24],
      ["ref", 28],
      ["items", 32],
    ]);
    expect(j.members[6]).toEqual({ path: "items", offset: 32, size: 0, type: "struct page_pool_item[]" });
    expect(j.holes).toEqual([]);
    expect(j.padding).toBe(0);
    expect(j.geometry.items_per_page).toBe(254);
    expect(j.geometry.pool_init[1]).toEqual({ pool_size: 1024, items_target: 2688, blocks: 11, items: 2794, bytes: 45056 });
    const ring = JSON.parse((await run("layout", "ptr_ring", "--json")).out).structs[0];
    expect(ring.holes).toEqual([
      { before: "consumer_head", offset: 8, size: 56 },
      { before: "size", offset: 76, size: 52 },
    ]);
    expect(ring.padding).toBe(48);
    expect(ring.geometry).toBeUndefined();
  });

  it("--json without a struct: every struct, in the same document", async () => {
    const doc = JSON.parse((await run("layout", "--json")).out);
    expect([doc.schema, doc.command, doc.kernel]).toEqual([1, "layout", "v6.15"]);
    const j = doc.structs;
    expect(Array.isArray(j)).toBe(true);
    expect(j[0].name).toBe("page");
    expect(j.find((s: { name: string }) => s.name === "xa_node").size).toBe(576);
  });

  it("unknown struct: exit 2, one line naming the valid structs", async () => {
    const r = await run("layout", "nosuch");
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err.split("\n").filter(Boolean)).toHaveLength(1);
    expect(r.err).toMatch(/^ppemu layout: unknown struct 'nosuch' \(valid: page, netmem_desc, .*page_pool_item_block.*ppemu_machine.*\)\n$/);
  });

  it("unknown arch, page size, variant, option: exit 2", async () => {
    const arch = await run("layout", "page", "--arch", "sparc");
    expect(arch.code).toBe(2);
    expect(arch.err).toBe("ppemu layout: unknown arch 'sparc' (valid: lp64, ilp32)\n");
    const ps = await run("layout", "--page-size", "8k");
    expect(ps.code).toBe(2);
    expect(ps.err).toBe("ppemu layout: unknown page size '8k' (valid: 4k, 16k, 64k)\n");
    const v = await run("layout", "--variant", "v12");
    expect(v.code).toBe(2);
    expect(v.err).toBe("ppemu layout: unknown variant 'v12' (valid: v11, v9p2, rfcv5)\n");
    const o = await run("layout", "--frobnicate");
    expect(o.code).toBe(2);
    expect(o.err).toMatch(/^ppemu layout: unknown option '--frobnicate' \(valid: --[a-z-]+(, --[a-z-]+)*\)\n$/);
  });

  it("--help lists the options", async () => {
    const r = await run("layout", "--help");
    expect(r.code).toBe(0);
    for (const opt of ["--arch", "--page-size", "--variant", "--json", "--aliases"]) expect(r.out).toContain(opt);
  });
});

describe("ppemu report", () => {
  it("prints the three layout sections", async () => {
    const r = await run("report", "--no-bench");
    expect(r.code).toBe(0);
    // Section 1 is the kernel builds' table (src/report/builds.ts); the layout sections follow.
    expect(r.out).toContain("1. Kernel builds: what changed where\n");
    expect(r.out).toContain("2. struct page: the words page_pool uses\n");
    expect(r.out).toContain("3. The tracking layouts side by side\n");
    expect(r.out).toContain("4. Derived constants");
    // The page-words table wraps two layouts a table: classic and item-block, xarray and encoded-next, netpp and memdesc-item.
    expect(r.out).toMatch(/\n +8 +4 +pp_magic +lru\.next +PP_SIGNATURE +PP_SIGNATURE\n/);
    expect(r.out).toMatch(/\n +8 +4 +pp_magic +lru\.next +PP_SIGNATURE \| id << 7 +PP_SIGNATURE\n/);
    expect(r.out).toMatch(/\n +8 +4 +pp_magic +lru\.next +id << 7 \(no PP_SIGNATURE\) +memdesc word: item \| 10 \(NetPool\)\n/);
    expect(r.out).toMatch(/\n +16 +8 +pp \/ pp_item +lru\.prev /);
    expect(r.out).toContain("9 (xa_node 576 / 64)");
    expect(r.out).toContain("16 (item)");
    expect(r.out).toMatch(/\n +lp64 +v11 +32 +16 +254 +1022 +4094\n/);
    expect(r.out).toMatch(/\n +ilp32 +v11 +20 +8 +509 +2045 +8189\n/);
    expect(r.out).toMatch(/\n +PP_MAGIC_MASK +0xffffff800000007c +0xc000007c +0xc000007c\n/);
    expect(r.out).toMatch(/\n +0x80000000 +31 +24 +0x7fffff80 +0x8000007c\n/);
    expect(r.out).toMatch(/\n +runtime +— +0 +0x00000000 +0xfffffffc\n/);
    expect(r.out).toContain(
      "\n  v6.18 does not change this example: 0x01111040 & 0xc000007c = 0x00000040 == PP_SIGNATURE; it lies below PAGE_OFFSET 0xc0000000, and v6.18 only keeps pointers at or above PAGE_OFFSET from matching.\n",
    );
  });

  it("--json carries the same figures", async () => {
    const r = await run("report", "--json", "--no-bench");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(Object.keys(doc)).toEqual(["schema", "command", "title", "contents", "sections"]);
    expect([doc.schema, doc.command]).toEqual([1, "report"]);
    const j = doc.sections;
    expect(Object.keys(j).filter((k) => ["page_words", "layouts", "constants"].includes(k))).toEqual(["page_words", "layouts", "constants"]);
    // Every section's JSON is an object: the scenario's results per build, the verification's checks.
    expect(j.unbind.results.map((r: { kernel: string; layout: string }) => [r.kernel, r.layout])).toEqual(allBuilds().map((b) => [b.name, b.layout.name]));
    expect(j.unbind.results.map((r: { verdict: string }) => r.verdict)).toEqual(allBuilds().map((b) => (b.layout.tracksInflight ? "fixed" : "SHOWN")));
    expect(Array.isArray(j.verify.checks)).toBe(true);
    expect(j.verify.checks.length).toBeGreaterThan(0);
    expect(j.compare.builds.map((s: { kernel: string }) => s.kernel)).toEqual(allLayouts().map((l) => defaultBuildOf(l).name));
    expect(j.page_words.words[1]).toMatchObject({ field: "pp", offset: { lp64: 16, ilp32: 8 } });
    expect(j.layouts.paper_cost[0]).toEqual({
      arch: "lp64",
      item_bytes: 16,
      item_block_bytes_per_page: 16.13,
      xa_node_bytes: 576,
      xa_slots: 64,
      xa_bytes_per_page: 9,
    });
    const lp = j.constants.columns[0];
    expect(lp).toMatchObject({
      pp_signature: "0xdead000000000040",
      pp_dma_index_shift: 7,
      pp_dma_index_bits: 32,
      pp_dma_index_mask: "0x0000007fffffff80",
      pp_magic_mask: "0xffffff800000007c",
      pp_magic_id1: "0xdead0000000000c0",
    });
    expect(j.constants.columns[1]).toMatchObject({ rule: "v6.16", pp_dma_index_bits: 23, pp_magic_mask: "0xc000007c" });
    expect(j.constants.v6_18_rule.map((x: { pp_dma_index_bits: number }) => x.pp_dma_index_bits)).toEqual([23, 24, 23, 21, 0, 0]);
    expect(j.constants.ilp32_false_positive).toEqual({
      value: "0x01111040",
      masked: "0x00000040",
      matches_signature: true,
      v6_18_masked: "0x00000040",
      v6_18_matches_signature: true,
      below_page_offset: true,
    });
  });

  it("takes no positional arguments", async () => {
    const r = await run("report", "extra");
    expect(r.code).toBe(2);
  });
});
