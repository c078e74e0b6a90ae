/**
 * The page-type encoding PGTY_netpp relies on (include/linux/page-flags.h, v6.12+; db359fccf212
 * v4 <20260224051347.19621-1-byungchul@sk.com>, search id 54594879099; PAGE_TYPE_OPS, id 73684745):
 *
 *   page_type (u32, overlays _mapcount)   top byte = PGTY_*, low 24 bits 0 when typed
 *   UINT_MAX                               no type, = _mapcount -1
 *   0x00000000 … 0x7fffffff                _mapcount 0 … (mapcounts 1 …); 0x80–0xef reserved for overflow
 *   page_has_type(p)                       page_type_has_type(page_type - 1): (int) < (int)0xff000000
 *   PageNetpp(p)                           page_type >> 24 == 0xf9;  __SetPageNetpp: 0xf9000000
 *
 * Four checks, each over an input that names the encoding (so a test can break it):
 * - `encoding`: every PGTY_* word is `pgty << 24`, is typed, decodes back, and only PGTY_netpp's is
 *   PageNetpp; the netpp word is 0xf9000000; UINT_MAX is untyped and is `_mapcount == -1`.
 * - `mapcounts`: PageNetpp and page_has_type are false for every `_mapcount` from -1 up to 2^22
 *   and at every 2^10-th value up to 2^31 - 1, and a word is PageNetpp exactly when its top byte
 *   is 0xf9 (all 256 top bytes × 4096 low values each). All 2^32 words would take 80 s here;
 *   the sample holds every boundary (each top byte's 0 and 0xffffff, _mapcount -1 … 2^22).
 * - `disjoint`: 0xf9 is no other PGTY, no mapcount top byte (0x00–0x7f), not in the overflow
 *   reserve (0x80–0xef) and not PGTY_mapcount_underflow.
 * - `round-trip`: on an emulated page, __SetPageNetpp(UINT_MAX) gives 0xf9000000, __ClearPageNetpp
 *   gives UINT_MAX back, both without a VM_BUG_ON; __SetPageNetpp on page_type 0 (an uninitialised
 *   niov) reports the VM_BUG_ON and leaves the word.
 * - `net_iov`: the netpp net_iov's `page_type` is at struct page's page_type offset, same size
 *   (NET_IOV_ASSERT_OFFSET(page_type, page_type)), per arch.
 */
import { type Arch } from "../arch.js";
import { type RecordType, layoutOf } from "../mem/ctype.js";
import { STRUCT_PAGE } from "../mem/structs.js";
import { bootMachine } from "../mem/machine.js";
import { Diag } from "../mem/diag.js";
import { PAGE_TYPE } from "../mem/page.js";
import { PGTY, PGTY_mapcount_underflow, UINT_MAX, pageWordHasType, wordIsNetpp, setPageNetpp, clearPageNetpp } from "../mem/page_type.js";
import { STRUCT_NET_IOV_NETPP } from "../builds/netmem_desc_structs.js";
import { type CheckResult, fail, pass, hex8 } from "./result.js";

/** The encoding under test: the kernel's, or a broken one a test hands in. */
export interface PageTypeInput {
  readonly label: string;
  /** enum pagetype, `name → top byte` (PGTY_mapcount_underflow included). */
  readonly pgty: Readonly<Record<string, number>>;
  readonly shift: number;
  readonly uintMax: number;
  /** The top byte PageNetpp looks for. */
  readonly netpp: number;
  /** The word `__SetPageNetpp` stores. */
  readonly netppWord: number;
  readonly isNetpp: (word: number) => boolean;
  readonly hasType: (word: number) => boolean;
}

export function pageTypeInput(): PageTypeInput {
  return {
    label: "v7.1-rc",
    pgty: PGTY,
    shift: 24,
    uintMax: UINT_MAX,
    netpp: PGTY.netpp!,
    netppWord: 0xf9000000,
    isNetpp: wordIsNetpp,
    hasType: pageWordHasType,
  };
}

const types = (i: PageTypeInput) => Object.entries(i.pgty).filter(([, v]) => v !== PGTY_mapcount_underflow);

export function checkPageTypeEncoding(i: PageTypeInput): CheckResult {
  const name = `netmem ${i.label} page_type encoding (PGTY_* top byte, UINT_MAX)`;
  const unit = "PGTY_* values + UINT_MAX";
  const all = types(i);
  const covered = all.length + 1;
  for (const [n, v] of all) {
    const word = (v << i.shift) >>> 0;
    if ((word & 0x00ffffff) !== 0 || word >>> 24 !== v) return fail("netmem", name, covered, unit, `PGTY_${n} = 0x${v.toString(16)} stores ${hex8(word)}, not 0x${v.toString(16)} in bits 24–31`);
    if (!i.hasType(word)) return fail("netmem", name, covered, unit, `page_has_type() is false for PGTY_${n} (${hex8(word)})`);
    if (i.isNetpp(word) !== (v === i.pgty.netpp)) return fail("netmem", name, covered, unit, `PageNetpp(${hex8(word)}) = ${i.isNetpp(word)} for PGTY_${n}`);
  }
  if (i.netppWord >>> 0 !== ((i.netpp << i.shift) >>> 0) || i.netppWord >>> 0 !== 0xf9000000) {
    return fail("netmem", name, covered, unit, `__SetPageNetpp() stores ${hex8(i.netppWord)}, not (unsigned int)PGTY_netpp << 24 = 0xf9000000`);
  }
  if (i.hasType(i.uintMax) || i.isNetpp(i.uintMax) || (i.uintMax | 0) !== -1) {
    return fail("netmem", name, covered, unit, `UINT_MAX ${hex8(i.uintMax)} must be untyped and read as _mapcount -1`);
  }
  return pass("netmem", name, covered, unit, [`PGTY_netpp word ${hex8(i.netppWord)}; no type = ${hex8(i.uintMax)} = _mapcount -1`]);
}

/** _mapcount values visited one by one from -1; beyond, every STRIDE-th one. */
const MAPCOUNT_DENSE = 1 << 22;
const MAPCOUNT_STRIDE = 1 << 10;
const LOW_SAMPLES = 4096;

export function checkPageTypeMapcounts(i: PageTypeInput): CheckResult {
  const name = `netmem ${i.label} PageNetpp over mapcounts and every top byte`;
  let visited = 0;
  const unit = "page_type words (2^22 + 2^21 _mapcounts, 256 top bytes × 4096 low values)";
  const bad = (w: number, why: string) => fail("netmem", name, visited + 1, unit, `${hex8(w)} (_mapcount ${w | 0}): ${why}`);
  // _mapcount -1, 0, 1, …: the word is the _mapcount itself (page_type overlays it).
  for (let mc = -1; mc < MAPCOUNT_DENSE; mc++, visited++) {
    const w = mc >>> 0;
    if (i.isNetpp(w)) return bad(w, "PageNetpp() is true for a mapcount");
    if (i.hasType(w)) return bad(w, "page_has_type() is true for a mapcount");
  }
  for (let mc = MAPCOUNT_DENSE; mc <= 0x7fffffff; mc += MAPCOUNT_STRIDE, visited++) {
    const w = mc >>> 0;
    if (i.isNetpp(w) || i.hasType(w)) return bad(w, "a mapcount reads as typed");
  }
  const step = 0x1000000 / LOW_SAMPLES;
  for (let top = 0; top < 256; top++) {
    for (let k = 0; k < LOW_SAMPLES; k++, visited++) {
      const low = k === LOW_SAMPLES - 1 ? 0xffffff : k * step + (k & 0xff);
      const w = ((top << 24) | low) >>> 0;
      if (i.isNetpp(w) !== (top === 0xf9)) return bad(w, `PageNetpp() = ${i.isNetpp(w)} with top byte 0x${top.toString(16)}`);
    }
  }
  return pass("netmem", name, visited, unit, ["PageNetpp(w) ⇔ w >> 24 == 0xf9; no sampled _mapcount in [-1, 2^31) is typed"]);
}

export function checkPageTypeDisjoint(i: PageTypeInput): CheckResult {
  const name = `netmem ${i.label} PGTY_netpp disjoint from other types and mapcounts`;
  const unit = "top bytes (other PGTY_*, 0x00–0x7f mapcounts, 0x80–0xef overflow reserve, 0xff underflow)";
  const { netpp: _netpp, ...rest } = i.pgty;
  const others = Object.entries(rest);
  const covered = others.length + 0xf0;
  for (const [n, v] of others) if (v === i.netpp) return fail("netmem", name, covered, unit, `PGTY_netpp 0x${i.netpp.toString(16)} = PGTY_${n}`);
  if (i.netpp < 0xf0) return fail("netmem", name, covered, unit, `PGTY_netpp 0x${i.netpp.toString(16)} is a mapcount top byte (0x00–0x7f) or in the overflow reserve (0x80–0xef)`);
  return pass("netmem", name, covered, unit, [`0x${i.netpp.toString(16)} is free among ${Object.keys(i.pgty).length} enum pagetype values`]);
}

export function checkPageTypeRoundTrip(label = "v7.1-rc"): CheckResult {
  const name = `netmem ${label} __SetPageNetpp/__ClearPageNetpp round trip`;
  const unit = "transitions (UINT_MAX → netpp → UINT_MAX, set twice, set on 0)";
  const { mem, pa } = bootMachine();
  const page = pa.allocPages(0);
  const w = (page + PAGE_TYPE) >>> 2;
  const u32 = mem.u32;
  const word = (): number => u32[w]!;
  const start = word();
  const fails = (why: string) => fail("netmem", name, 4, unit, why);
  if (start !== UINT_MAX) return fails(`a fresh page's page_type is ${hex8(start)}, not UINT_MAX`);
  if (!setPageNetpp(mem, page) || word() !== 0xf9000000) return fails(`__SetPageNetpp(UINT_MAX) left ${hex8(word())}`);
  if (!setPageNetpp(mem, page) || word() !== 0xf9000000) return fails("__SetPageNetpp on a netpp page is not a no-op");
  if (!clearPageNetpp(mem, page) || word() !== UINT_MAX) return fails(`__ClearPageNetpp left ${hex8(word())}`);
  u32[w] = 0;
  if (setPageNetpp(mem, page) || word() !== 0 || mem.diagCount(Diag.VM_BUG_ON_PAGE) !== 1) return fails("__SetPageNetpp on page_type 0 did not hit the VM_BUG_ON_PAGE");
  return pass("netmem", name, 4, unit, ["UINT_MAX → 0xf9000000 → UINT_MAX; page_type 0 → VM_BUG_ON_PAGE, word kept"]);
}

export function checkNetIovPageType(arch: Arch, netIov: RecordType = STRUCT_NET_IOV_NETPP): CheckResult {
  const name = `netmem ${arch.name} net_iov page_type at struct page's (v7.1-rc)`;
  const unit = "static_assert NET_IOV_ASSERT_OFFSET(page_type, page_type)";
  const p = layoutOf(STRUCT_PAGE, arch);
  const n = layoutOf(netIov, arch);
  const po = p.off.page_type;
  const no = n.off.page_type;
  if (po === undefined || no === undefined || po !== no || p.sz.page_type !== n.sz.page_type) {
    return fail("netmem", name, 1, unit, `offsetof(struct page, page_type) = ${po} != offsetof(struct net_iov, page_type) = ${no}`);
  }
  return pass("netmem", name, 1, unit, [`page_type@${po} (${n.sz.page_type} bytes) in both; sizeof(net_iov) ${n.size}`]);
}
