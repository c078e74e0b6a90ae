/**
 * The page allocator's "page_pool leak" check uses the build's page_pool_page_is_pp() mask: ~0x3UL
 * before v6.16 (classic, item-block on v6.13), PP_MAGIC_MASK from v6.16 (xarray), so a pp_magic
 * carrying a DMA index id only looks like a page_pool page to the xarray build.
 */
import { describe, expect, it } from "vitest";
import { bootPpSystem } from "../../src/pool/index.js";
import { Diag } from "../../src/mem/diag.js";
import { PAGE_PP_MAGIC } from "../../src/mem/page.js";
import type { LayoutName } from "../../src/pool/types.js";

function freeWithMagic(layout: LayoutName, hi: number, lo: number): number {
  const { m } = bootPpSystem(layout, { bytes: 4 << 20 });
  const page = m.pa.allocPages(0);
  m.mem.wr64(page + PAGE_PP_MAGIC, hi, lo);
  m.pa.freePages(page, 0);
  return m.mem.diagCount(Diag.PAGE_POOL_LEAK);
}

describe("page_pool leak check per build", () => {
  it("PP_SIGNATURE alone is a leak in every build", () => {
    for (const l of ["classic", "item-block", "xarray"] as const) expect(freeWithMagic(l, 0xdead0000, 0x40)).toBe(1);
  });

  it("signature | id 1 << 7 (0xdead0000000000c0) is a leak only under the v6.16 mask", () => {
    expect(freeWithMagic("classic", 0xdead0000, 0xc0)).toBe(0);
    expect(freeWithMagic("item-block", 0xdead0000, 0xc0)).toBe(0);
    expect(freeWithMagic("xarray", 0xdead0000, 0xc0)).toBe(1);
  });
});
