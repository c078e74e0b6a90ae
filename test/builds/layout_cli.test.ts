import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";

async function layout(...argv: string[]): Promise<string> {
  const io = new BufferIo();
  expect(await main(["layout", ...argv], io)).toBe(0);
  return io.stdout;
}

/** The top-level members of `ppemu layout STRUCT --kernel B --json`, as `name offset size`. */
async function members(kernel: string): Promise<string[]> {
  const j = JSON.parse(await layout("page_pool", "--kernel", kernel, "--json")) as {
    command: string;
    kernel: string;
    structs: { name: string; members: { path: string; offset: number; size: number }[] }[];
  };
  expect([j.command, j.kernel, j.structs.map((t) => t.name)]).toEqual(["layout", kernel, ["page_pool"]]);
  return j.structs[0]!.members.filter((x) => !x.path.includes(".")).map((x) => `${x.path} ${x.offset} ${x.size}`);
}

describe("ppemu layout page_pool --kernel B: the build's own struct, in the kernel's member order", () => {
  it("v6.16: alloc at 320, ring at 1408, dma_mapped after mp_ops at 1616; size 1728", async () => {
    const t = await layout("page_pool", "--kernel", "v6.16");
    expect(t.split("\n")[0]).toMatch(/^\/\* kernel v6\.16 \(xarray\): .*; x86-64, CONFIG_PAGE_POOL_STATS=y, CONFIG_SMP=y \(64-byte cache lines\), no lock debugging or lockdep \*\/$/);
    expect(await members("v6.16")).toEqual([
      "p 0 48",
      "cpuid 48 4",
      "pages_state_hold_cnt 52 4",
      "has_init_callback 56 1",
      "dma_map 56 1",
      "dma_sync 56 1",
      "dma_sync_for_cpu 56 1",
      "system 56 1",
      "__cacheline_group_begin__frag 64 0",
      "frag_users 64 8",
      "frag_page 72 8",
      "frag_offset 80 4",
      "__cacheline_group_end__frag 88 0",
      "__cacheline_group_pad__frag 96 0",
      "release_dw 96 88",
      "disconnect 184 8",
      "defer_start 192 8",
      "defer_warn 200 8",
      "alloc_stats 208 48",
      "xdp_mem_id 256 4",
      "alloc 320 1032",
      "ring 1408 192",
      "mp_priv 1600 8",
      "mp_ops 1608 8",
      "dma_mapped 1616 16",
      "recycle_stats 1632 8",
      "pages_state_release_cnt 1640 4",
      "user_cnt 1644 4",
      "destroy_cnt 1648 8",
      "slow 1656 32",
      "user 1688 32",
    ]);
    expect(t).toContain("/* size: 1728, cachelines: 27, members: 31 */");
  });

  it("v11: hold_items and slow_items after pages_state_hold_cnt, item_lock / item_blocks / release_items after pages_state_release_cnt", async () => {
    const m = await members("v11");
    const at = (n: string) => m.find((x) => x.startsWith(n + " "));
    expect([at("pages_state_hold_cnt"), at("hold_items"), at("slow_items")]).toEqual(["pages_state_hold_cnt 52 4", "hold_items 56 8", "slow_items 64 16"]);
    expect([at("alloc"), at("ring")]).toEqual(["alloc 320 1032", "ring 1408 192"]);
    expect([at("pages_state_release_cnt"), at("item_lock"), at("item_blocks"), at("release_items")]).toEqual([
      "pages_state_release_cnt 1624 4",
      "item_lock 1628 4",
      "item_blocks 1632 16",
      "release_items 1648 8",
    ]);
    expect(m.map((x) => x.split(" ")[0]).indexOf("dma_mapped")).toBe(-1);
  });

  it("page_pool_params of v6.16 is the two struct_group_tagged halves; v6.1's is one struct with flags", async () => {
    const t = await layout("page_pool_params", "--kernel", "v6.16");
    expect(t).toContain("\t\tstruct page_pool_params_fast fast;       /*     0    48 */");
    expect(t).toContain("\t\tstruct page_pool_params_slow slow;       /*    48    32 */");
    const old = await layout("page_pool_params", "--kernel", "v6.1");
    expect(old).toMatch(/\tunsigned int +flags; +\/\* +0 +4 \*\//);
  });

  it("the emulator's own bookkeeping is a ppemu_* struct, never part of struct page_pool", async () => {
    const t = await layout("ppemu_pool");
    expect(t.split("\n")[0]).toBe("struct ppemu_pool {");
    const pp = await layout("page_pool", "--kernel", "mainline");
    expect(pp).not.toMatch(/defer_next|napi_cpu|user_id|ppemu/);
  });
});
