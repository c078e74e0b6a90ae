/** The verifier's page-type checks pass on the kernel's encoding and fail on broken ones. */
import { describe, it, expect } from "vitest";
import { ARCHES } from "../../src/arch.js";
import {
  checkPageTypeEncoding,
  checkPageTypeMapcounts,
  checkPageTypeDisjoint,
  checkPageTypeRoundTrip,
  checkNetIovPageType,
  pageTypeInput,
} from "../../src/verify/page_type.js";
import { STRUCT_NET_IOV_MAINLINE, STRUCT_NET_IOV_NETPP } from "../../src/builds/netmem_desc_structs.js";
import { planChecks, DEFAULT_VERIFY } from "../../src/verify/run.js";
import { status } from "../../src/verify/result.js";

describe("verify netmem: page-type checks", () => {
  it("pass on the kernel's encoding, with exact coverage", () => {
    const i = pageTypeInput();
    const enc = checkPageTypeEncoding(i);
    expect(enc.pass).toBe(true);
    expect(enc.covered).toBe(11); // 10 types (0xf0–0xf9) + UINT_MAX
    const mc = checkPageTypeMapcounts(i);
    expect(mc.pass).toBe(true);
    // _mapcount -1 … 2^22 - 1, then every 2^10-th up to 2^31 - 1, then 256 × 4096 top-byte words.
    expect(mc.covered).toBe(1 + (1 << 22) + Math.floor((0x7fffffff - (1 << 22)) / 1024) + 1 + 256 * 4096);
    expect(checkPageTypeDisjoint(i).pass).toBe(true);
    expect(checkPageTypeRoundTrip().pass).toBe(true);
    expect(checkNetIovPageType(ARCHES.lp64).notes[0]).toBe("page_type@48 (4 bytes) in both; sizeof(net_iov) 64");
    expect(checkNetIovPageType(ARCHES.ilp32).pass).toBe(true);
  });

  it("fail on a netpp value inside the mapcount range, on a wrong shift, on a PageNetpp that ignores the low bits' meaning", () => {
    const i = pageTypeInput();
    const asMapcount = { ...i, netpp: 0x7f, pgty: { ...i.pgty, netpp: 0x7f } };
    expect(checkPageTypeDisjoint(asMapcount).counterexample).toBe("PGTY_netpp 0x7f is a mapcount top byte (0x00–0x7f) or in the overflow reserve (0x80–0xef)");
    const clash = { ...i, pgty: { ...i.pgty, netpp: 0xf5 }, netpp: 0xf5 };
    expect(checkPageTypeDisjoint(clash).counterexample).toBe("PGTY_netpp 0xf5 = PGTY_slab");
    const shift16 = { ...i, shift: 16 };
    expect(checkPageTypeEncoding(shift16).pass).toBe(false);
    const wordIsType = { ...i, netppWord: 0xf9 };
    expect(checkPageTypeEncoding(wordIsType).counterexample).toBe("__SetPageNetpp() stores 0x000000f9, not (unsigned int)PGTY_netpp << 24 = 0xf9000000");
    // A PageNetpp that tests bits 16–23 instead of 24–31.
    const sloppy = { ...i, isNetpp: (w: number) => ((w >>> 16) & 0xff) === 0xf9 };
    expect(checkPageTypeMapcounts(sloppy).pass).toBe(false);
    expect(checkPageTypeEncoding(sloppy).pass).toBe(false);
    // page_has_type() without the "- 1": _mapcount -1 would read as typed.
    const noMinusOne = { ...i, hasType: (w: number) => (w | 0) < (0xff << 24) >> 0 || w === 0xffffffff };
    expect(checkPageTypeMapcounts(noMinusOne).counterexample).toBe("0xffffffff (_mapcount -1): page_has_type() is true for a mapcount");
  });

  it("fail on a net_iov whose page_type is not at struct page's offset", () => {
    expect(checkNetIovPageType(ARCHES.lp64, STRUCT_NET_IOV_NETPP).pass).toBe(true);
    const r = checkNetIovPageType(ARCHES.lp64, STRUCT_NET_IOV_MAINLINE);
    expect(r.pass).toBe(false);
    expect(r.counterexample).toBe("offsetof(struct page, page_type) = 48 != offsetof(struct net_iov, page_type) = undefined");
  });

  it("run with the netmem group, and pass there", () => {
    const results = planChecks({ ...DEFAULT_VERIFY, groups: ["netmem"] }).map((c) => c());
    const mine = results.filter((r) => r.name.includes("v7.1-rc"));
    expect(mine.map((r) => r.name)).toEqual([
      "netmem v7.1-rc page_type encoding (PGTY_* top byte, UINT_MAX)",
      "netmem v7.1-rc PageNetpp over mapcounts and every top byte",
      "netmem v7.1-rc PGTY_netpp disjoint from other types and mapcounts",
      "netmem v7.1-rc __SetPageNetpp/__ClearPageNetpp round trip",
      "netmem lp64 net_iov page_type at struct page's (v7.1-rc)",
      "netmem ilp32 net_iov page_type at struct page's (v7.1-rc)",
    ]);
    expect(mine.map(status)).toEqual(["PASS", "PASS", "PASS", "PASS", "PASS", "PASS"]);
  });
});
