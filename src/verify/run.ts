/**
 * The verifier as a whole: which checks run for a choice of groups, arches and page sizes, each timed.
 * `verifySummary()` is the quick run (no --exhaustive) the report prints.
 */
import { type ArchName, type PageSizeName, ARCHES, ARCH_NAMES, PAGE_SIZE_NAMES } from "../arch.js";
import { BLOCK_VARIANTS } from "../mem/structs.js";
import { checkFalsePositives, falsePositiveRows } from "./false_positives.js";
import { checkItems, itemCheckInput } from "./items.js";
import { checkEncodedNext, encodedNextInput } from "./encoded_next.js";
import { checkMemdescAlignments, checkMemdescItemDesc, checkMemdescTypeBits, memdescCheckInput } from "./memdesc.js";
import { checkMaskRoundTrip, idPlan, maskGeometries } from "./masks.js";
import { checkNetmemLayout, checkNetmemRefs, netmemLayoutInput, netmemRefInput } from "./netmem.js";
import { checkNetIovPageType, checkPageTypeDisjoint, checkPageTypeEncoding, checkPageTypeMapcounts, checkPageTypeRoundTrip, pageTypeInput } from "./page_type.js";
import { type CheckResult, type CheckStatus, type VerifyGroup, VERIFY_GROUPS, asExpected, status, timed } from "./result.js";

export interface VerifyOptions {
  readonly groups: readonly VerifyGroup[];
  readonly arches: readonly ArchName[];
  readonly pageSizes: readonly PageSizeName[];
  /** lp64 masks: every id in [1, 2^32 - 1] instead of boundaries + a 2^22 sample. */
  readonly exhaustive: boolean;
}

export const DEFAULT_VERIFY: VerifyOptions = {
  groups: VERIFY_GROUPS,
  arches: ARCH_NAMES,
  pageSizes: PAGE_SIZE_NAMES,
  exhaustive: false,
};

/** The checks of a run, in print order, not yet run. */
export function planChecks(o: VerifyOptions): (() => CheckResult)[] {
  const out: (() => CheckResult)[] = [];
  if (o.groups.includes("items")) {
    for (const v of BLOCK_VARIANTS) {
      for (const a of o.arches) for (const ps of o.pageSizes) out.push(() => checkItems(itemCheckInput(v, ARCHES[a], ps)));
    }
    // v7 6/8's encoded_next: the state bits never meet an item address (src/verify/encoded_next.ts).
    for (const a of o.arches) for (const ps of o.pageSizes) out.push(() => checkEncodedNext(encodedNextInput(ARCHES[a], ps)));
    // memdesc-item: the memdesc word's type bits and the item as the page's descriptor (src/verify/memdesc.ts).
    for (const a of o.arches) {
      out.push(() => checkMemdescItemDesc(ARCHES[a]));
      for (const ps of o.pageSizes) out.push(() => checkMemdescTypeBits(memdescCheckInput(ARCHES[a], ps)), () => checkMemdescAlignments(ARCHES[a], ps));
    }
  }
  if (o.groups.includes("masks")) {
    for (const a of o.arches) {
      for (const g of maskGeometries(a)) out.push(() => checkMaskRoundTrip(g, idPlan(g, o.exhaustive)));
    }
    // The false-positive analysis is about 32-bit (POISON_POINTER_DELTA == 0) only.
    if (o.arches.includes("ilp32")) {
      for (const rule of ["v6.16", "v6.18"] as const) out.push(() => checkFalsePositives(rule, falsePositiveRows(rule)));
    }
  }
  if (o.groups.includes("netmem")) {
    for (const a of o.arches) {
      out.push(() => checkNetmemLayout(netmemLayoutInput(ARCHES[a])));
      for (const ps of o.pageSizes) out.push(() => checkNetmemRefs(netmemRefInput(ARCHES[a], ps)));
    }
    // v7.1-rc PGTY_netpp: the page-type encoding and the netpp net_iov (src/verify/page_type.ts).
    out.push(() => checkPageTypeEncoding(pageTypeInput()));
    out.push(() => checkPageTypeMapcounts(pageTypeInput()));
    out.push(() => checkPageTypeDisjoint(pageTypeInput()));
    out.push(() => checkPageTypeRoundTrip());
    for (const a of o.arches) out.push(() => checkNetIovPageType(ARCHES[a]));
  }
  return out;
}

export function runVerify(o: VerifyOptions = DEFAULT_VERIFY): CheckResult[] {
  return planChecks(o).map(timed);
}

export interface VerifySummaryRow {
  readonly name: string;
  /** enumerated + counted. */
  readonly covered: number;
  /** Values evaluated one by one. */
  readonly enumerated: number;
  /** Values covered by a closed-form count only. */
  readonly counted: number;
  readonly status: CheckStatus;
  readonly pass: boolean;
  /** A known kernel bug reproduced: `pass` is false and that is the expected outcome. */
  readonly expectFail: boolean;
}

/** Every check, quick (no --exhaustive; about a second), for the report. */
export function verifySummary(): VerifySummaryRow[] {
  return runVerify().map((r) => ({
    name: r.name,
    covered: r.covered,
    enumerated: r.enumerated,
    counted: r.counted,
    status: status(r),
    pass: r.pass,
    expectFail: r.expectFail === true,
  }));
}

/** 0 when every result is as expected, 1 otherwise (the CLI's exit code). */
export function exitCodeOf(results: readonly CheckResult[]): number {
  return results.every(asExpected) ? 0 : 1;
}
