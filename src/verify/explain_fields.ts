/**
 * Naming bytes and decoding words for `explain`: which member of a laid-out struct an offset falls
 * in (through anonymous unions, nested structs and arrays, as `pahole` would name it), and what a
 * `pp_magic` or `netmem_ref` value means under each kernel's rules; and the shapes `explain`
 * reports in (FieldInfo, ItemInfo, PpInfo …) with their one-line renderings.
 *
 * Nothing here reads the machine; src/verify/explain.ts and explain_pp.ts do, and hand these the
 * numbers.
 */
import { LP64, archConsts } from "../arch.js";
import { type CType, type MemberLayout, type StructLayout, layoutOf, sizeOf, typeName } from "../mem/ctype.js";
import { DIRECT_MAP_HI, VMEMMAP_HI, PAGE_TYPE_NONE, PAGE_TYPE_SHIFT, PGTY_buddy, PGTY_slab, PGTY_table, PGTY_netpp } from "../mem/page.js";
import { PGTY_large_kmalloc } from "../mem/slab.js";
import { type U64, u64, u64And, u64Eq, u64Shr, hex64 } from "../u64.js";

const C = archConsts(LP64);

/** The member an offset falls in. */
export interface FieldHit {
  /** `pp_magic`, `pp / pp_item`, `free_area[3].free_list.next`, `items[5].state`. */
  readonly name: string;
  /** Page-cache (or other view) names of the same bytes, when the declaration gives them. */
  readonly alias?: string;
  /** Offset of the member from the struct's start. */
  readonly start: number;
  readonly size: number;
  /** C type of the member (of the first alternative, for a union). */
  readonly type: string;
  /** True when the offset falls in a hole, in tail padding, or past the struct. */
  readonly padding: boolean;
}

interface Leaf {
  name: string;
  alias?: string;
  start: number;
  size: number;
  type: string;
}

/**
 * The member of `layout` that byte `off` belongs to. Union alternatives covering the same bytes are
 * joined (`pp / pp_item`, `_mapcount / page_type`).
 */
export function fieldAt(layout: StructLayout, off: number): FieldHit {
  const out: Leaf[] = [];
  const last = layout.members[layout.members.length - 1];
  const flexible = last !== undefined && last.type.kind === "array" && last.type.count === 0;
  if (off >= 0 && (off < layout.size || flexible)) descendTop(layout.members, off, out);
  if (out.length === 0) {
    const past = off >= layout.size;
    return { name: past ? `(past struct ${layout.name}, ${layout.size} bytes)` : "(padding)", start: off, size: 0, type: "", padding: true };
  }
  const first = out[0]!;
  const same = out.filter((l) => l.start === first.start && l.size === first.size);
  const name = same.length === out.length ? joinAlternatives(out.map((l) => l.name)) : first.name;
  return {
    name,
    ...(first.alias ? { alias: first.alias } : {}),
    start: first.start,
    size: first.size,
    type: first.type,
    padding: name.endsWith("(padding)"),
  };
}

/** `items[5].pp_netmem`, `items[5].lentry.next` → `items[5].pp_netmem / lentry.next`. */
function joinAlternatives(names: readonly string[]): string {
  if (names.length === 1) return names[0]!;
  let prefix = names[0]!.slice(0, names[0]!.lastIndexOf(".") + 1);
  while (prefix && !names.every((n) => n.startsWith(prefix))) prefix = prefix.slice(0, prefix.slice(0, -1).lastIndexOf(".") + 1);
  return prefix + names.map((n) => n.slice(prefix.length)).join(" / ");
}

/**
 * Top-level descent. `layoutOf` gives every nested member its absolute offset, so members are
 * matched directly against `off`; only array elements of record type are re-laid out from 0 and
 * rebased by their element start.
 */
function descendTop(members: readonly MemberLayout[], off: number, out: Leaf[], base = 0, prefix = ""): void {
  for (const ml of members) {
    const start = base + ml.offset;
    // Only a last member is a flexible array (`items[]`); a zero-length marker elsewhere
    // (`__cacheline_group_begin__frag[0]`) covers no bytes.
    const flexible = ml.type.kind === "array" && ml.type.count === 0 && ml === members[members.length - 1];
    if (off < start || (!flexible && off >= start + ml.size)) continue;
    const name = ml.name ? (prefix ? `${prefix}.${ml.name}` : ml.name) : prefix;
    const t = ml.type;
    if (t.kind === "array") {
      arrayLeaf(t.elem, off, start, name, out);
    } else if ((t.kind === "struct" || t.kind === "union") && ml.children.length > 0) {
      const before = out.length;
      // Children already hold offsets in the same frame as `ml` (absolute within this level's base).
      descendTop(ml.children, off, out, base, name);
      if (out.length === before) out.push({ name: `${name} (padding)`, start, size: ml.size, type: typeName(t) });
    } else {
      out.push({ name, ...(ml.alias ? { alias: ml.alias } : {}), start, size: ml.size, type: typeName(t) });
    }
  }
}

function arrayLeaf(elem: CType, off: number, start: number, name: string, out: Leaf[]): void {
  const es = sizeOf(elem, LP64);
  const idx = Math.floor((off - start) / es);
  const elemStart = start + idx * es;
  const elemName = `${name}[${idx}]`;
  if (elem.kind === "struct" || elem.kind === "union") {
    const before = out.length;
    descendTop(layoutOf(elem, LP64).members, off, out, elemStart, elemName);
    if (out.length === before) out.push({ name: `${elemName} (padding)`, start: elemStart, size: es, type: typeName(elem) });
  } else if (elem.kind === "array") {
    arrayLeaf(elem.elem, off, elemStart, elemName, out);
  } else {
    out.push({ name: elemName, start: elemStart, size: es, type: typeName(elem) });
  }
}

/** What a 64-bit word that looks like a pointer points at, from its region tag. */
export function describePointer(hi: number, lo: number): string | null {
  if (hi === 0 && lo === 0) return "NULL";
  if (hi === VMEMMAP_HI) return `struct page * (vmemmap) → pfn ${hex(lo >>> 6)}`;
  if (hi === DIRECT_MAP_HI) return `direct-map pointer → ${hex32(lo)}`;
  return null;
}

export const hex = (n: number): string => "0x" + (n >>> 0).toString(16);
export const hex32 = (n: number): string => "0x" + (n >>> 0).toString(16).padStart(8, "0");

// ---------------------------------------------------------------- pp_magic

export interface MagicDecode {
  readonly value: string;
  /** Before v6.16: `(pp_magic & ~0x3) == PP_SIGNATURE`. */
  readonly signature_classic: boolean;
  /** v6.16+: `(pp_magic & PP_MAGIC_MASK) == PP_SIGNATURE`. */
  readonly signature_v6_16: boolean;
  /** `(pp_magic & PP_DMA_INDEX_MASK) >> PP_DMA_INDEX_SHIFT` (meaningful on v6.16+). */
  readonly dma_index: number;
  /** Bit 0: PageTail — the word is `compound_head | 1`. */
  readonly bit0_tail: boolean;
  /** Bit 1: pfmemalloc. */
  readonly bit1_pfmemalloc: boolean;
  /** With bit 0 set, the head page the word names (`pp_magic - 1`, as a 64-bit pointer). */
  readonly compound_head: string | null;
  readonly arch: "lp64";
  readonly text: string;
}

/** Decode a `pp_magic` value under the classic and the v6.16 masks (lp64). */
export function decodePpMagic(v: U64): MagicDecode {
  const sig = C.PP_SIGNATURE;
  const classic = u64Eq(u64And(v, C.PP_MAGIC_MASK_CLASSIC), sig);
  const v616 = u64Eq(u64And(v, C.dmaIndex.PP_MAGIC_MASK), sig);
  const idx = u64Shr(u64And(v, C.dmaIndex.PP_DMA_INDEX_MASK), C.dmaIndex.PP_DMA_INDEX_SHIFT);
  const dmaIndex = idx.hi * 2 ** 32 + idx.lo;
  const tail = (v.lo & 1) !== 0;
  const pfm = (v.lo & 2) !== 0;
  const parts: string[] = [];
  if (classic && v616) parts.push(`PP_SIGNATURE ${hex64(sig)}: a page_pool page under both the classic ~0x3 mask and the v6.16 mask`);
  else if (v616) parts.push(`a page_pool page under the v6.16 mask ${hex64(C.dmaIndex.PP_MAGIC_MASK)}; the classic ~0x3 mask rejects it`);
  else if (classic) parts.push(`PP_SIGNATURE under the classic ~0x3 mask; the v6.16 mask rejects it`);
  else parts.push(`no page_pool signature (classic mask: no, v6.16 mask: no)`);
  if (v616 || classic) parts.push(`dma index id ${dmaIndex}${dmaIndex === 0 ? " (untracked)" : ""}`);
  parts.push(`bit 0 ${tail ? "set (PageTail: compound_head " + hex32((v.lo - 1) >>> 0) + ")" : "clear"}`);
  parts.push(`bit 1 ${pfm ? "set (pfmemalloc)" : "clear"}`);
  return {
    value: hex64(v),
    signature_classic: classic,
    signature_v6_16: v616,
    dma_index: dmaIndex,
    bit0_tail: tail,
    bit1_pfmemalloc: pfm,
    compound_head: tail ? hex64(u64(v.hi, v.lo - 1)) : null,
    arch: "lp64",
    text: parts.join("; "),
  };
}

// ---------------------------------------------------------------- netmem_ref

export interface NetmemDecode {
  readonly value: string;
  /** Bit 0: NET_IOV — a `struct net_iov *`. */
  readonly net_iov: boolean;
  /** `__netmem_clear_lsb(netmem)`. */
  readonly cleared: string;
  readonly text: string;
}

export function decodeNetmem(v: U64): NetmemDecode & { readonly clearedU64: U64 } {
  const netIov = (v.lo & C.NET_IOV) !== 0;
  const cleared = u64(v.hi, v.lo & ~C.NET_IOV);
  return {
    value: hex64(v),
    net_iov: netIov,
    cleared: hex64(cleared),
    clearedU64: cleared,
    text: netIov
      ? `bit 0 (NET_IOV) set: a struct net_iov *; __netmem_clear_lsb() → ${hex64(cleared)}`
      : `bit 0 (NET_IOV) clear: a struct page *; __netmem_clear_lsb() → ${hex64(cleared)}`,
  };
}

// ---------------------------------------------------------------- what explain reports

export interface FieldInfo {
  /** `page`, `ppemu_machine`, `page_pool` … */
  readonly struct: string;
  /** Address of the struct. */
  readonly base: string;
  /** Offset of the explained byte inside the struct. */
  readonly offset: number;
  readonly field: string;
  readonly alias?: string;
  readonly field_offset: number;
  readonly size: number;
  /** The field's value: 16 hex digits for 8 bytes, 8 for 4, "" for padding. */
  readonly value: string;
}

export interface SlabInfo {
  readonly cache: string;
  readonly name: string;
  readonly object: number;
  readonly object_addr: string;
  readonly offset: number;
  readonly object_size: number;
  readonly free: boolean;
}

export interface ItemInfo {
  readonly block: string;
  readonly pool: string;
  readonly slow: boolean;
  /** Slow blocks: unreturned items (`block->ref`). */
  readonly ref: number;
  /** null: the address is in the block header (or the unused tail). */
  readonly index: number | null;
  readonly item: string | null;
  readonly state: number;
  readonly used: boolean;
  readonly mapped: boolean;
  readonly status: "tracking a page" | "free" | "never used" | "released" | "header" | "tail";
  readonly page: string | null;
  readonly page_pfn: number | null;
}

export interface PpInfo {
  readonly pool: string;
  readonly pool_id: number;
  readonly pool_live: boolean;
  readonly pool_destroyed: boolean;
  readonly where: "alloc cache" | "ring" | "in flight (stack)" | "in flight (driver)" | "pool not live";
  /** Alloc cache slot, ring queue slot, or stack slot. */
  readonly slot: number | null;
  readonly pp_ref_count: number;
  readonly refcount: number;
  readonly dma_addr: string;
  /** The IOMMU translates dma_addr to this page right now. */
  readonly mapped: boolean;
  readonly device: string | null;
  readonly device_bound: boolean | null;
  /** xarray layout: the id in pp_magic and whether `pool->dma_mapped[id]` is this page. */
  readonly dma_index?: number;
  readonly dma_index_registered?: boolean;
}

export interface IommuInfo {
  readonly device: string;
  readonly table: "pgd" | "leaf";
  readonly slot: number;
  /** Leaf entries: the IOVA they translate and the physical pfn they name. */
  readonly iova?: string;
  readonly pfn?: number;
  readonly flags?: readonly string[];
}

export function pageTypeName(v: number): string {
  if (v === PAGE_TYPE_NONE) return "page_type 0xffffffff: untyped (_mapcount -1)";
  const names: Record<number, string> = { [PGTY_buddy]: "PGTY_buddy (free)", [PGTY_slab]: "PGTY_slab", [PGTY_table]: "PGTY_table", [PGTY_large_kmalloc]: "PGTY_large_kmalloc", [PGTY_netpp]: "PGTY_netpp (page_pool, v7.1-rc)" };
  return `page_type ${hex32(v)}: ${names[v >>> PAGE_TYPE_SHIFT] ?? "unknown type"}`;
}

export function fieldText(f: FieldInfo): string {
  const alias = f.alias ? ` (${f.alias})` : "";
  const within = f.offset !== f.field_offset ? ` + ${f.offset - f.field_offset}` : "";
  return `${f.field}${alias}${within} [offset ${f.field_offset}, ${f.size} bytes] = ${f.value}`;
}

export function itemLine(it: ItemInfo): string {
  const kind = it.slow ? "slow" : "fast";
  if (it.index === null) return `${kind} block ${it.block} (pool ${it.pool}), ${it.status}`;
  const bits = [it.used ? "USED" : "", it.mapped ? "MAPPED" : ""].filter(Boolean).join("|") || "0";
  const what =
    it.status === "tracking a page"
      ? `tracks struct page ${it.page} (pfn ${hex(it.page_pfn!)})`
      : it.status === "free"
        ? "free (on hold_items or release_items)"
        : it.status === "released"
          ? "released (slow items are never reused)"
          : "never used";
  return `index ${it.index} of ${kind} block ${it.block}, pool ${it.pool}; state ${hex(it.state)} (${bits}); ${what}`;
}
