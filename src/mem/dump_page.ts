/**
 * mm/debug.c `__dump_page()` of a frame in the memmap: the lines `dump_page()` prints before its
 * "page dumped because: %s", rebuilt from the struct page words in the buffer.
 *
 * Source: mm/debug.c `__dump_folio()` / `__dump_page()` / `dump_page()` as of v6.15–v6.16 (the
 * version with page_type_names[] up to `unaccepted` and dump_vmg()'s `middle`; find_string id
 * 24870276), which for an order-0 page prints
 *
 *   pr_warn("page: refcount:%d mapcount:%d mapping:%p index:%#lx pfn:%#lx\n", …);
 *   [pr_warn("memcg:%lx\n", folio->memcg_data);]                     (CONFIG_MEMCG, when set)
 *   pr_warn("%sflags: %pGp%s\n", type, &folio->flags, cma ? " CMA" : "");
 *   [pr_warn("page_type: %x(%s)\n", page_type >> 24, page_type_name(page_type));]   (typed pages)
 *   print_hex_dump(KERN_WARNING, "raw: ", DUMP_PREFIX_NONE, 32, sizeof(unsigned long), page,
 *                  sizeof(struct page), false);
 *
 * and for a large folio also `head: order:%u mapcount:%d entire_mapcount:%d nr_pages_mapped:%d
 * pincount:%d` after the first line and a `head: ` hex dump of the folio's first two struct pages.
 * print_hex_dump with groupsize 8 prints each word as `%16.16llx`, one space between, 32 bytes
 * (4 words) a line (lib/hexdump.c hex_dump_to_buffer(), id 15675829750). A v6.17 dump of a leaked
 * page_pool page (KERNEL-FACTS §8, after-6.16.md §2, id 21214391651) reads
 *
 *   page: refcount:0 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x11c98b
 *   flags: 0x1fffe0000000000(node=0|zone=1|lastcpupid=0x7fff)
 *   raw: 01fffe0000000000 dead000000000040 ff11000123c9b000 0000000000000000
 *   raw: 0000000000000000 0000000000000001 00000000ffffffff 0000000000000000
 *
 * Conversions: `%p` of NULL prints the value, 16 zero digits (lib/vsprintf.c ptr_to_id(): "Print
 * the real pointer value for NULL and error pointers", id 3546202); any other `%p` the kernel hashes
 * — the emulator prints the pointer itself, as a kernel booted with `no_hash_pointers` does. `%#lx`
 * of 0 is `0x0` (the kernel's number() has no zero special case, as the sample shows). `%pGp`
 * (format_page_flags(), id 40278580472) is `%#lx(` the named flags `|`-joined (format_flags():
 * names in pageflag_names[] order, the unnamed rest as `%#lx`), then `node=%d|zone=%d|lastcpupid=%#lx`
 * and `)`.
 *
 * Emulated, not reproduced: the flags' field geometry is the sample's config (node bits 58–63,
 * zone 56–57, lastcpupid 41–55; no section, no KASAN tag) and the emulator never writes those
 * bits, so a dump shows node=0|zone=0|lastcpupid=0x0 where a kernel shows its node, zone and
 * 0x7fff. dump_mapping() (a mapping that is no anon/KSM one) and dump_page_owner() print nothing.
 * A large folio's head line reads the folio as prep_compound_head() leaves an unmapped one
 * (_large_mapcount = _entire_mapcount = -1, _nr_pages_mapped = _pincount = 0): the emulator keeps
 * only the order in page[1].
 *
 * Cold path (a report being printed): strings are fine here.
 */
import type { PhysMem } from "./physmem.js";
import {
  PAGE_COMPOUND_HEAD,
  PAGE_DMA_ADDR,
  PAGE_FLAGS,
  PAGE_MAPCOUNT,
  PAGE_MAPPING,
  PAGE_MEMCG,
  PAGE_REFCOUNT,
  PAGE_TYPE_SHIFT,
  PGTY_slab,
  PG_head,
  PG_reserved,
  STRUCT_PAGE_SHIFT,
  STRUCT_PAGE_SIZE,
} from "./page.js";

/**
 * pageflag_names[] (include/trace/events/mmflags.h __def_pageflag_names, id 149439498: "reserved"
 * comes before "head"), restricted to the flags the emulator models. Other bits below
 * PAGEFLAGS_MAIN_BITS print as format_flags()'s `%#lx` remainder.
 */
const PAGEFLAG_NAMES: readonly (readonly [number, string])[] = [
  [PG_reserved, "reserved"],
  [PG_head, "head"],
];
/**
 * The main-area bits format_page_flags() names (`flags & PAGEFLAGS_MASK`): the emulator's enum
 * pageflags ends below bit 24; its own debug bit (PG_pp_in_pool, bit 28) is no kernel flag and
 * shows only in the number.
 */
const PAGEFLAGS_MAIN_BITS = 24;

/** pff[] fields of the sample's config, high word bit positions (flags bit n = hi bit n - 32). */
const PFF: readonly { readonly name: string; readonly shift: number; readonly width: number; readonly hex: boolean }[] = [
  { name: "node", shift: 58, width: 6, hex: false },
  { name: "zone", shift: 56, width: 2, hex: false },
  { name: "lastcpupid", shift: 41, width: 15, hex: true },
];

/**
 * page_type_names[] (mm/debug.c, id 24870276): `DEF_PAGETYPE_NAME(_name) [PGTY_##_name - 0xf0]`;
 * an index past the array is "unknown" — as PGTY_netpp (0xf9) is: db359fccf212 (v7.1-rc) added
 * the type to page-flags.h and touched no mm/debug.c (patch v4, id 54594879099). A hole in the
 * array (PGTY_zsmalloc, 0xf6, has no name there) is a NULL, which `%s` prints as "(null)".
 */
const PAGE_TYPE_NAMES: readonly (string | null)[] = ["buddy", "offline", "table", "guard", "hugetlb", "slab", null, "unaccepted"];

/** A u64 from its two words as `%16.16llx`. */
function hex16(hi: number, lo: number): string {
  return (hi >>> 0).toString(16).padStart(8, "0") + (lo >>> 0).toString(16).padStart(8, "0");
}

/** `%#lx` of a u64 from its two words. */
function hexSpecial(hi: number, lo: number): string {
  return "0x" + (hi >>> 0 === 0 ? (lo >>> 0).toString(16) : (hi >>> 0).toString(16) + (lo >>> 0).toString(16).padStart(8, "0"));
}

/** `%p`: NULL as 16 zero digits; otherwise the pointer unhashed (`no_hash_pointers`). */
function ptrP(hi: number, lo: number): string {
  return hex16(hi, lo);
}

/** print_hex_dump(…, "raw: "/"head: ", DUMP_PREFIX_NONE, 32, 8, addr, len, false). */
function hexDumpLines(mem: PhysMem, prefix: string, addr: number, len: number): string[] {
  const out: string[] = [];
  for (let off = 0; off < len; off += 32) {
    const words: string[] = [];
    for (let j = 0; j < 32 && off + j < len; j += 8) words.push(hex16(mem.rd64hi(addr + off + j), mem.rd64lo(addr + off + j)));
    out.push(prefix + words.join(" "));
  }
  return out;
}

/** format_page_flags(): `%pGp` of a flags word. */
export function formatPageFlags(hi: number, lo: number): string {
  const parts: string[] = [];
  let main = lo & (PAGEFLAGS_MAIN_BITS >= 32 ? 0xffffffff : (1 << PAGEFLAGS_MAIN_BITS) - 1);
  let names = "";
  for (const [bit, name] of PAGEFLAG_NAMES) {
    if (main === 0) break;
    const m = 1 << bit;
    if ((main & m) === 0) continue;
    names += name;
    main &= ~m;
    if (main !== 0) names += "|";
  }
  if (main !== 0) names += "0x" + (main >>> 0).toString(16);
  if (names !== "") parts.push(names);
  for (const f of PFF) {
    const v = (hi >>> (f.shift - 32)) & ((1 << f.width) - 1);
    parts.push(`${f.name}=${f.hex ? "0x" + v.toString(16) : String(v)}`);
  }
  return `${hexSpecial(hi, lo)}(${parts.join("|")})`;
}

/** page_type_has_type(): `page_type < PGTY_mapcount_underflow << 24`, signed. */
function hasType(word: number): boolean {
  return (word | 0) < (0xff000000 | 0);
}

/**
 * The lines `dump_page()` prints for the frame at `pfn`, before "page dumped because:", joined by
 * "\n"; undefined for a pfn outside the memmap (bad_page() of a pointer that is no struct page).
 */
export function dumpPageText(mem: PhysMem, pfn: number): string | undefined {
  pfn >>>= 0;
  if (pfn >= mem.nrFrames) return undefined;
  const page = pfn << STRUCT_PAGE_SHIFT;
  // __dump_page(): a tail's folio is its head (compound_head bit 0); a head or order-0 page is its own.
  const ch = mem.rd64lo(page + PAGE_COMPOUND_HEAD);
  let folio = page;
  if ((ch & 1) !== 0 && mem.isPagePtr(ch - 1) && ch - 1 < page) folio = ch - 1;
  const idx = (page - folio) >>> STRUCT_PAGE_SHIFT;
  const large = (mem.rd64lo(folio + PAGE_FLAGS) & (1 << PG_head)) !== 0;

  const typeWord = mem.rd32(page + PAGE_MAPCOUNT);
  const mapcount = hasType(typeWord) ? 0 : (typeWord | 0) + 1;
  const refcount = mem.rd32(folio + PAGE_REFCOUNT) | 0;
  // folio_mapping(): NULL for slab folios and for anon/movable ones (PAGE_MAPPING_FLAGS, low 2 bits).
  const fType = mem.rd32(folio + PAGE_MAPCOUNT);
  const mapLo = mem.rd64lo(folio + PAGE_MAPPING);
  const mapHi = mem.rd64hi(folio + PAGE_MAPPING);
  const isSlab = hasType(fType) && fType >>> PAGE_TYPE_SHIFT === PGTY_slab;
  const mappingNull = isSlab || (mapLo & 3) !== 0;
  const mapping = mappingNull ? ptrP(0, 0) : ptrP(mapHi, mapLo);
  // folio->index + idx (the 64-bit add of a small idx: carries into the high word).
  const ixLo = mem.rd64lo(folio + PAGE_DMA_ADDR);
  const ixSum = ixLo + idx;
  const index = hexSpecial((mem.rd64hi(folio + PAGE_DMA_ADDR) + (ixSum > 0xffffffff ? 1 : 0)) >>> 0, ixSum >>> 0);

  const lines = [`page: refcount:${refcount} mapcount:${mapcount} mapping:${mapping} index:${index} pfn:0x${pfn.toString(16)}`];
  if (large) {
    const order = mem.rd64lo(folio + STRUCT_PAGE_SIZE + PAGE_FLAGS) & 0xff;
    lines.push(`head: order:${order} mapcount:0 entire_mapcount:0 nr_pages_mapped:0 pincount:0`);
  }
  const mcLo = mem.rd64lo(folio + PAGE_MEMCG);
  const mcHi = mem.rd64hi(folio + PAGE_MEMCG);
  if ((mcLo | mcHi) !== 0) lines.push(`memcg:${mcHi >>> 0 === 0 ? (mcLo >>> 0).toString(16) : (mcHi >>> 0).toString(16) + (mcLo >>> 0).toString(16).padStart(8, "0")}`);
  // folio_test_ksm(): both PAGE_MAPPING_ANON and PAGE_MAPPING_KSM bits; folio_test_anon(): bit 0.
  const type = !isSlab && (mapLo & 3) === 3 ? "ksm " : !isSlab && (mapLo & 1) !== 0 ? "anon " : "";
  lines.push(`${type}flags: ${formatPageFlags(mem.rd64hi(folio + PAGE_FLAGS), mem.rd64lo(folio + PAGE_FLAGS))}`);
  if (hasType(fType)) {
    const t = fType >>> PAGE_TYPE_SHIFT;
    const i = t - 0xf0;
    const name = i >= 0 && i < PAGE_TYPE_NAMES.length ? (PAGE_TYPE_NAMES[i] ?? "(null)") : "unknown";
    lines.push(`page_type: ${t.toString(16)}(${name})`);
  }
  lines.push(...hexDumpLines(mem, "raw: ", page, STRUCT_PAGE_SIZE));
  if (large) lines.push(...hexDumpLines(mem, "head: ", folio, 2 * STRUCT_PAGE_SIZE));
  return lines.join("\n");
}
