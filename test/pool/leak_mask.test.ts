/**
 * The page allocator's "page_pool leak" check uses the build's page_pool_page_is_pp() mask: ~0x3UL
 * before v6.16 (classic, item-block on v6.13), PP_MAGIC_MASK from v6.16 (xarray), so a pp_magic
 * carrying a DMA index id only looks like a page_pool page to the xarray builds. v7.1-rc-netpp and
 * memdesc-item test a type instead (test/netpp/, test/pool/memdesc_item.test.ts).
 */
import { describe, expect, it } from "vitest";
import { bootPpSystem } from "../../src/pool/index.js";
import { Diag } from "../../src/mem/diag.js";
import { PAGE_PP_MAGIC } from "../../src/mem/page.js";
import { allBuilds, type KernelBuild } from "../../src/builds/index.js";

function freeWithMagic(build: KernelBuild, hi: number, lo: number): number {
  const { m } = bootPpSystem(build, { bytes: 4 << 20 });
  const page = m.pa.allocPages(0);
  m.mem.wr64(page + PAGE_PP_MAGIC, hi, lo);
  m.pa.freePages(page, 0);
  return m.mem.diagCount(Diag.PAGE_POOL_LEAK);
}

const perBuild = (hi: number, lo: number) => Object.fromEntries(allBuilds().map((b) => [b.name, freeWithMagic(b, hi, lo)]));

describe("page_pool leak check per build", () => {
  it("PP_SIGNATURE alone is a leak in every build that tests pp_magic", () => {
    // Except where struct page carries no signature: v7.1-rc-netpp tests the page type (PGTY_netpp),
    // memdesc-item the memdesc word's type; word 8 holding PP_SIGNATURE is no pool page to them.
    expect(perBuild(0xdead0000, 0x40)).toEqual({
      ...{ "v6.1": 1, "v6.6": 1, "v6.12": 1, "v6.15": 1, v11: 1, "v7-encoded-next": 1 },
      ...{ "v6.16": 1, "v6.17": 1, "v6.18": 1, "v6.19": 1, mainline: 1, "v7.1-rc-netpp": 0, "memdesc-item": 0 },
    });
  });

  it("signature | id 1 << 7 (0xdead0000000000c0) is a leak only under the v6.16 mask", () => {
    expect(perBuild(0xdead0000, 0xc0)).toEqual({
      ...{ "v6.1": 0, "v6.6": 0, "v6.12": 0, "v6.15": 0, v11: 0, "v7-encoded-next": 0 },
      ...{ "v6.16": 1, "v6.17": 1, "v6.18": 1, "v6.19": 1, mainline: 1, "v7.1-rc-netpp": 0, "memdesc-item": 0 },
    });
  });
});
