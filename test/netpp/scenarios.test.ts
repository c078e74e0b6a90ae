/**
 * The two failures that sank PGTY_netpp, on every build: they show on v7.1-rc-netpp and nowhere else.
 */
import { describe, it, expect } from "vitest";
import { allBuilds, findBuild } from "../../src/builds/index.js";
import { runZerocopy, runNiovInit } from "../../src/scenario/netpp.js";
import { Diag } from "../../src/mem/diag.js";

const NETPP = "v7.1-rc-netpp";
const others = () => allBuilds().filter((b) => b.name !== NETPP);

describe("scenario zerocopy: TCP zerocopy receive of page_pool pages", () => {
  it("v7.1-rc-netpp: validate_page_before_insert() refuses the typed page, getsockopt returns -EINVAL, nothing is mapped", () => {
    const r = runZerocopy({ kernel: NETPP, pages: 40 });
    expect(r).toMatchObject({
      kernel: NETPP,
      layout: "netpp",
      user_mappable: false,
      pages_received: 40,
      getsockopt_ret: -22,
      getsockopt_errno: "-EINVAL",
      pages_mapped: 0,
      page_type_at_insert: "0xf9000000",
      page_type_meaning: "PGTY_netpp",
      page_type_while_mapped: null,
      frames_lost: 0,
      verdict: "EINVAL",
    });
    expect(r.diagnostics).toEqual([]);
  });

  it("every other build maps all pages (two batches of 32 and one of 8): _mapcount goes -1 → 0, frames all accounted for", () => {
    for (const b of others()) {
      const r = runZerocopy({ kernel: b, pages: 72 });
      expect(r, b.name).toMatchObject({
        user_mappable: true,
        pages_received: 72,
        getsockopt_ret: 0,
        pages_mapped: 72,
        page_type_at_insert: "0xffffffff",
        page_type_while_mapped: "0x00000000",
        frames_lost: 0,
        kernel_log_lines: 0,
        verdict: "mapped",
      });
      // The pool page the mapping kept went back to the allocator at munmap: none is typed or leaked.
      expect(r.sys.m.mem.diagCount(Diag.BAD_PAGE_STATE), b.name).toBe(0);
    }
  });
});

describe("scenario zerocopy with the refused validate_page_before_insert() change (page_has_type && !PageNetpp)", () => {
  it("v7.1-rc-netpp maps the pages, the rmap's _mapcount++ makes page_type 0xf9000001, and munmap leaves _mapcount -2: a bad page each", () => {
    const r = runZerocopy({ kernel: NETPP, pages: 8, skipNetppCheck: true });
    expect(r).toMatchObject({ getsockopt_ret: 0, pages_mapped: 8, page_type_while_mapped: "0xf9000001", bad_pages_at_free: 8, frames_lost: 8, verdict: "corrupted" });
    const rec = r.sys.m.mem.diagFirst(Diag.BAD_PAGE_STATE)!;
    expect(rec.b).toBe(0xfffffffe); // __ClearPageNetpp set UINT_MAX under the mapping, the unmap's _mapcount-- went below it
    expect(r.diagnostics.map((d) => [d.kind, d.count])).toEqual([["bad_page_state", 8]]);
  });

  it("changes nothing on a build whose pages are untyped", () => {
    const r = runZerocopy({ kernel: "mainline", pages: 8, skipNetppCheck: true });
    expect(r).toMatchObject({ pages_mapped: 8, bad_pages_at_free: 0, frames_lost: 0, verdict: "mapped" });
  });
});

describe("scenario niov-init: a net_iov without page_type = UINT_MAX entering a pool", () => {
  it("v7.1-rc-netpp without 735a309b4bfb: __SetPageNetpp's VM_BUG_ON_PAGE on the first niov; no niov enters", () => {
    const r = runNiovInit({ kernel: NETPP, niovs: 8 });
    expect(r).toMatchObject({ niov_has_page_type: true, fixed: false, page_type_before: "0x00000000", page_type_after: "0x00000000", set_pp_info_done: 0, vm_bug_on: 1, frames_lost: 0, verdict: "BUG" });
    expect(r.diagnostics).toEqual([
      { kind: "vm_bug_on_page", count: 1, first: "page dumped because: VM_BUG_ON_PAGE(data_race(page->page_type) != UINT_MAX)\nkernel BUG at ./include/linux/page-flags.h:1062!" },
    ]);
  });

  it("v7.1-rc-netpp with net_iov_init(): UINT_MAX → 0xf9000000 for every niov, no BUG", () => {
    const r = runNiovInit({ kernel: NETPP, niovs: 8, fixed: true });
    expect(r).toMatchObject({ page_type_before: "0xffffffff", page_type_after: "0xf9000000", set_pp_info_done: 8, vm_bug_on: 0, verdict: "ok" });
    expect(r.diagnostics).toEqual([]);
  });

  it("builds whose net_iov has no page_type have no such check: every niov enters, fixed or not", () => {
    const withNiov = others().filter((b) => b.structs.netIov !== undefined);
    expect(withNiov.map((b) => b.name)).toContain("mainline");
    for (const b of withNiov) {
      for (const fixed of [false, true]) {
        const r = runNiovInit({ kernel: b, niovs: 4, fixed });
        expect(r, `${b.name} fixed=${fixed}`).toMatchObject({ niov_has_page_type: false, page_type_before: null, set_pp_info_done: 4, vm_bug_on: 0, frames_lost: 0, verdict: "ok" });
      }
    }
  });

  it("the build: id 71, membership by PageNetpp(), not mappable, no PP_MAGIC_MASK", () => {
    const b = findBuild(NETPP)!;
    expect(b.id).toBe(71);
    expect(b.layout.membershipText(b)).toBe("PageNetpp(page)");
    expect(b.layout.userMappable).toBe(false);
    expect(b.ppMagicMask).toEqual({ hi: 0, lo: 0 });
  });
});
