import { describe, expect, it } from "vitest";
import { exitCodeOf, planChecks, runVerify, verifySummary } from "../../src/verify/run.js";
import { asExpected, status } from "../../src/verify/result.js";

describe("verify run", () => {
  it("verifySummary: every check, all as expected, the v6.16 false positives an expected failure", () => {
    const rows = verifySummary();
    expect(rows.length).toBe(33);
    const unexpected = rows.filter((r) => r.pass === r.expectFail);
    expect(unexpected).toEqual([]);
    expect(rows.filter((r) => r.expectFail).map((r) => r.name)).toEqual(["masks ilp32 v6.16 false positives >= PAGE_OFFSET"]);
    const byName = Object.fromEntries(rows.map((r) => [r.name, r.covered]));
    expect(byName["masks ilp32 v6.16 round-trip"]).toBe((2 ** 23 - 1) * 4);
    expect(byName["masks lp64 v6.16 round-trip"]).toBe((93 + 2 ** 22) * 4);
    expect(byName["netmem lp64 4k NET_IOV bit 0"]).toBe(589824);
  });

  it("selects by group, arch and page size", () => {
    const o = { groups: ["items", "netmem"] as const, arches: ["ilp32"] as const, pageSizes: ["16k"] as const, exhaustive: false };
    const rs = runVerify(o);
    expect(rs.map((r) => r.name)).toEqual([
      "items v11 ilp32 16k",
      "items v9p2 ilp32 16k",
      "items rfcv5 ilp32 16k",
      "netmem ilp32 page/net_iov/netmem_desc offsets",
      "netmem ilp32 16k NET_IOV bit 0",
    ]);
    expect(rs.every((r) => typeof r.elapsedMs === "number")).toBe(true);
    expect(exitCodeOf(rs)).toBe(0);
    // lp64 has no false-positive analysis (POISON_POINTER_DELTA != 0)
    expect(planChecks({ ...o, groups: ["masks"], arches: ["lp64"] }).length).toBe(1);
  });

  it("status and exit code", () => {
    const ok = { group: "items" as const, name: "x", covered: 1, unit: "u", pass: true, notes: [] };
    expect(status(ok)).toBe("PASS");
    expect(status({ ...ok, pass: false })).toBe("FAIL");
    expect(status({ ...ok, pass: false, expectFail: true })).toBe("XFAIL");
    expect(status({ ...ok, expectFail: true })).toBe("XPASS");
    expect(asExpected({ ...ok, expectFail: true })).toBe(false);
    expect(exitCodeOf([ok, { ...ok, pass: false, expectFail: true }])).toBe(0);
    expect(exitCodeOf([ok, { ...ok, pass: false }])).toBe(1);
    expect(exitCodeOf([{ ...ok, expectFail: true }])).toBe(1);
  });
});
