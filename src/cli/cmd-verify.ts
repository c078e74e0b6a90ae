/** `ppemu verify`: exhaustive checks of the masking and encoding math (src/verify/). */
import { ARCH_NAMES, PAGE_SIZE_NAMES, type ArchName, type PageSizeName } from "../arch.js";
import { type CheckResult, type VerifyGroup, VERIFY_GROUPS, status } from "../verify/result.js";
import { exitCodeOf, runVerify, type VerifyOptions } from "../verify/run.js";
import { coverageHeadline, statusCounts, verifyDocument, verifyTotals } from "../report/verify.js";
import { jsonText } from "../report/json.js";
import { type Command, type Io, UsageError, choice, parse } from "./common.js";

const NAME = "verify";

const TARGETS = [...VERIFY_GROUPS, "all"] as const;
type Target = (typeof TARGETS)[number];
const ARCH_CHOICES = [...ARCH_NAMES, "all"] as const;
const PAGE_SIZE_CHOICES = [...PAGE_SIZE_NAMES, "all"] as const;

const HELP = `usage: ppemu verify [items|masks|netmem|all] [--arch lp64|ilp32|all] [--page-size 4k|16k|64k|all]
                    [--exhaustive] [--json]

Check the bit arithmetic the layouts rely on, over every value where feasible. Each check prints how
many values it enumerated (evaluated one by one) and how many it counted by formula (a closed-form
count, the false-positive analysis), and PASS or FAIL, with the first counterexample on FAIL; a check
with nothing to check is SKIP, never PASS.

  items    every page_pool_item slot of a block masks back to its block (item & PAGE_MASK), no item
           crosses the frame end, the index round-trips, items leave the 2 low bits encoded_next
           needs, ITEMS_PER_PAGE is maximal, pp is where netmem_item_block expects it; for each
           block variant (v11, v9p2, rfcv5) × arch × page size, at several block addresses up to the
           highest frame below 4 GiB; and v7's encoded_next (v7-encoded-next): set_next/get_next
           round-trip for every item of a block × state, alignof(item) ≥ 4 from the declaration
  masks    the DMA index in pp_magic (v6.16+): every id round-trips, keeps the page recognisable
           ((pp_magic & PP_MAGIC_MASK) == PP_SIGNATURE) and leaves bits 0–1 alone, for each of the
           4 values of bits 0–1. ilp32: all 2^23 - 1 ids (and the v6.18 masks per PAGE_OFFSET);
           lp64: boundary ids + 2^22 sampled ids, all 2^32 - 1 with --exhaustive (about a minute).
           Then, on ilp32, the exact number of word-aligned pointers >= PAGE_OFFSET that pass the
           membership test by mistake, for PAGE_OFFSET 0xc0000000, 0x80000000, 0x40000000 and
           0x10000000, under the v6.16 mask (XFAIL: the Sep 2025 regression) and the v6.18 rule
  netmem   NET_IOV bit 0 tags and untags every struct page pointer of a 2 GiB memmap and a range of
           net_iov pointers; struct page, net_iov and netmem_desc agree on every offset the kernel
           static_asserts; the v7.1-rc page types: PGTY_* words (pgty << 24, UINT_MAX = _mapcount
           -1), PageNetpp true for top byte 0xf9 only and for no _mapcount (7.3M sampled words),
           0xf9 free among the types, __SetPageNetpp/__ClearPageNetpp round trip and VM_BUG_ON,
           the netpp net_iov's page_type at struct page's offset
  all      all of the above (default)

options:
  --arch A         lp64, ilp32 or all (default)
  --page-size P    4k, 16k, 64k or all (default); for items and netmem (refused with masks alone)
  --exhaustive     lp64 masks: every id in [1, 2^32 - 1] (refused with items, netmem or --arch ilp32)
  --json           one JSON object: {schema, command: "verify", options, checks: [{group, name, status,
                   enumerated, counted, covered, unit, counterexample, notes, elapsed_ms, data, …}],
                   summary} (schemas/verify.schema.json)
  -h, --help       this text

Exit status: 0 when every check is as expected (PASS, XFAIL for a documented kernel bug, or SKIP),
1 when one is not, 2 on bad arguments.`;

function seconds(ms: number | undefined): string {
  return `${((ms ?? 0) / 1000).toFixed(2)} s`;
}

function line(r: CheckResult, width: number): string[] {
  const st = status(r).padEnd(5);
  const fmt = (x: number) => x.toLocaleString("en-US");
  const cov = `${fmt(r.enumerated).padStart(13)} enumerated  ${fmt(r.counted).padStart(13)} counted`;
  const head = `  ${st}  ${r.name.padEnd(width)}  ${cov}  ${r.unit}  (${seconds(r.elapsedMs)})`;
  const out = [head];
  if (r.counterexample) out.push(`         counterexample: ${r.counterexample}`);
  for (const n of r.notes) out.push(`         ${n}`);
  return out;
}

const GROUP_TITLE: Readonly<Record<VerifyGroup, string>> = {
  items: "items — item-block slots mask to their block",
  masks: "masks — the DMA index in pp_magic",
  netmem: "netmem — NET_IOV bit 0 and the page/net_iov/netmem_desc overlay",
};

export function verifyText(results: readonly CheckResult[], o: VerifyOptions, totalMs: number): string {
  const width = Math.max(...results.map((r) => r.name.length), 10);
  const out: string[] = [
    `ppemu verify: arch ${o.arches.join(", ")}; page size ${o.pageSizes.join(", ")}${o.exhaustive ? "; exhaustive" : ""}`,
  ];
  for (const g of o.groups) {
    const rs = results.filter((r) => r.group === g);
    if (rs.length === 0) continue;
    out.push("", GROUP_TITLE[g]);
    for (const r of rs) out.push(...line(r, width));
  }
  const t = verifyTotals(results);
  out.push("", `summary: ${coverageHeadline(t)}; ${statusCounts(t)}; ${seconds(totalMs)}`);
  return out.join("\n");
}

export const verifyCommand: Command = {
  name: NAME,
  summary: "exhaustive checks of the masking and encoding math (items, masks, netmem)",
  help: HELP,
  run(argv: string[], io: Io): number {
    const { values, positionals } = parse(NAME, argv, {
      arch: { type: "string" },
      "page-size": { type: "string" },
      exhaustive: { type: "boolean" },
      json: { type: "boolean" },
    });
    if (positionals.length > 1) {
      throw new UsageError(`ppemu ${NAME}: one target at most, got '${positionals.join(" ")}' (valid: ${TARGETS.join(", ")})`);
    }
    const target = choice<Target>(NAME, "target", positionals[0] ?? "all", TARGETS);
    const arch = choice(NAME, "arch", String(values.arch ?? "all"), ARCH_CHOICES);
    const ps = choice(NAME, "page size", String(values["page-size"] ?? "all").toLowerCase(), PAGE_SIZE_CHOICES);
    // Options that select nothing for the chosen target are refused, not silently ignored.
    if (target === "masks" && values["page-size"] !== undefined) {
      throw new UsageError(`ppemu ${NAME}: --page-size does not apply to masks (pp_magic does not depend on the page size; it selects items and netmem)`);
    }
    if (values.exhaustive === true && (target === "items" || target === "netmem")) {
      throw new UsageError(`ppemu ${NAME}: --exhaustive does not apply to ${target} (it widens the lp64 masks check only; ${target} samples nothing)`);
    }
    if (values.exhaustive === true && arch === "ilp32") {
      throw new UsageError(`ppemu ${NAME}: --exhaustive does not apply to --arch ilp32 (every ilp32 id is always covered; it widens lp64 masks)`);
    }
    const o: VerifyOptions = {
      groups: target === "all" ? VERIFY_GROUPS : [target],
      arches: arch === "all" ? ARCH_NAMES : [arch as ArchName],
      pageSizes: ps === "all" ? PAGE_SIZE_NAMES : [ps as PageSizeName],
      exhaustive: values.exhaustive === true,
    };
    const t0 = performance.now();
    const results = runVerify(o);
    const totalMs = performance.now() - t0;
    const code = exitCodeOf(results);
    if (values.json === true) {
      io.out(jsonText(verifyDocument(results, o, totalMs)));
    } else {
      io.out(verifyText(results, o, totalMs));
    }
    return code;
  },
};
