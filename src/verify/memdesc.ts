/**
 * The memdesc-item build's encoding (src/builds/memdesc_item_structs.ts): a pool page's struct page
 * is one memdesc word `item | MEMDESC_TYPE_NETPOOL` (Wilcox's memdescs: a 4-bit type in bits 0-3,
 * descriptors 16-byte aligned), and the item is the page's netmem_desc.
 *
 * `memdesc type bits <arch> <page size>`, for every item slot of a block at each test base
 * (src/verify/items.ts `blockBases`), the address arithmetic done on u32 words as the machine does:
 *  1. the slot is aligned to 2^MEMDESC_TYPE_BITS, so the type bits are free: `memdesc & ~0xf` gives
 *     the item back, `memdesc & 0xf` gives NetPool;
 *  2. the item is the descriptor of its block: `item & PAGE_MASK == block` for its first and last
 *     byte, and `(item - block - itemsOffset) / sizeof(item)` round-trips the index;
 *  3. the page back-pointer written into the slot reads back unchanged and lies inside the slot;
 *  4. NetPool is no PageTail (bit 0 clear) and none of the types the Path step aliases as buddy.
 * `memdesc item as netmem_desc <arch>`: every netmem_desc member sits at the same offset inside the
 *  item (`desc.X`), the item's own names (`state`, `page`, `lentry`) alias the two words that exist
 *  only to mirror struct page, the size is a multiple of and the alignment at least 2^TYPE_BITS.
 * `memdesc alignments <arch> <page size>`: for every power-of-two descriptor alignment up to the page
 *  size, whether every address of that alignment in a page keeps the type bits free; holds exactly
 *  for the alignments >= 16 (the plan's "alignment set to 16 bytes"), which the item has.
 */
import type { Arch, PageSizeName } from "../arch.js";
import { PAGE_SHIFT_OF } from "../arch.js";
import { type StructLayout, layoutOf, offsetOf } from "../mem/ctype.js";
import { STRUCT_NETMEM_DESC } from "../mem/structs.js";
import {
  MEMDESC_BUDDY_TYPES,
  MEMDESC_TYPE_BITS,
  MEMDESC_TYPE_MASK,
  MEMDESC_TYPE_NETPOOL,
  STRUCT_PP_MEMDESC_ITEM,
  memdescDesc,
  memdescItemGeometry,
  memdescType,
  memdescWord,
  type MemdescItemGeometry,
} from "../builds/memdesc_item_structs.js";
import { type BlockBase, blockBases, pageSizeLabel } from "./items.js";
import { type CheckResult, fail, hexHiLo, pass } from "./result.js";

export interface MemdescCheckInput {
  readonly arch: Arch;
  readonly g: MemdescItemGeometry;
  readonly typeBits: number;
  readonly netpool: number;
  /** Offset of the page back-pointer inside the item. */
  readonly pageOffset: number;
  readonly bases: readonly BlockBase[];
}

export function memdescCheckInput(arch: Arch, ps: PageSizeName): MemdescCheckInput {
  const g = memdescItemGeometry(arch, 1 << PAGE_SHIFT_OF[ps]);
  return {
    arch,
    g,
    typeBits: MEMDESC_TYPE_BITS,
    netpool: MEMDESC_TYPE_NETPOOL,
    pageOffset: offsetOf(layoutOf(STRUCT_PP_MEMDESC_ITEM, arch), "page"),
    bases: blockBases(arch, g.pageSize),
  };
}

/** Properties 1–4 over every item slot of every test base. Pure. */
export function checkMemdescTypeBits(input: MemdescCheckInput): CheckResult {
  const { arch, g, bases } = input;
  const bits = arch.BITS_PER_LONG;
  const name = `memdesc type bits ${arch.name} ${pageSizeLabel(g.pageSize)}`;
  const unit = `item slots (${g.ITEMS_PER_PAGE} × ${bases.length} block bases)`;
  const tmask = (1 << input.typeBits) - 1;
  const pmask = ~(g.pageSize - 1) >>> 0;
  if ((input.netpool & 1) !== 0) return fail("items", name, 0, unit, `type ${input.netpool} has bit 0 set: every pool page would read as PageTail`);
  if (MEMDESC_BUDDY_TYPES.includes(input.netpool & tmask)) return fail("items", name, 0, unit, `type ${input.netpool} aliases buddy`);
  let n = 0;
  for (const b of bases) {
    for (let i = 0; i < g.ITEMS_PER_PAGE; i++) {
      const lo = (b.lo + g.itemsOffset + i * g.itemSize) >>> 0;
      const last = (lo + g.itemSize - 1) >>> 0;
      const at = `items[${i}] of the block at ${hexHiLo(b.hi, b.lo, bits)} (${b.what})`;
      if (last < lo) return fail("items", name, n, unit, `${at}: the slot wraps the address space`);
      const word = memdescWord(lo, input.netpool);
      if ((lo & tmask) !== 0 || memdescDesc(word) !== lo || memdescType(word) !== input.netpool) {
        return fail("items", name, n, unit, `${at} = ${hexHiLo(b.hi, lo, bits)}: memdesc ${hexHiLo(b.hi, word, bits)} does not give the item and NetPool back`);
      }
      if ((lo & pmask) >>> 0 !== b.lo || (last & pmask) >>> 0 !== b.lo) return fail("items", name, n, unit, `${at}: & PAGE_MASK leaves the block`);
      if ((lo - b.lo - g.itemsOffset) / g.itemSize !== i) return fail("items", name, n, unit, `${at}: the index does not round-trip`);
      // The back-pointer's word must lie inside the slot, so writing it never touches a neighbour.
      if (input.pageOffset < 0 || input.pageOffset + arch.longSize > g.itemSize) return fail("items", name, n, unit, `${at}: item->page outside the slot`);
      n++;
    }
  }
  return pass("items", name, n, unit, [`ITEMS_PER_PAGE ${g.ITEMS_PER_PAGE}, items at offset ${g.itemsOffset}, ${g.itemSize} bytes each; ${input.typeBits} type bits free in every slot`]);
}

/** Every netmem_desc member at the same offset in the item; the aliases; size and alignment. Pure over the declarations. */
export function checkMemdescItemDesc(arch: Arch, item = STRUCT_PP_MEMDESC_ITEM): CheckResult {
  const name = `memdesc item as netmem_desc ${arch.name}`;
  const unit = "netmem_desc members and aliases";
  const il = layoutOf(item, arch);
  const dl = layoutOf(STRUCT_NETMEM_DESC, arch);
  let n = 0;
  for (const mem of STRUCT_NETMEM_DESC.members) {
    const want = offsetOf(dl, mem.name);
    const a = offsetOrNone(il, `desc.${mem.name}`);
    const alias = mem.name === "_flags" ? "state" : mem.name === "_pp_mapping_pad" ? "page" : mem.name;
    const b = offsetOrNone(il, alias);
    if (a !== want || b !== want) return fail("items", name, n, unit, `${mem.name}: netmem_desc ${want}, item desc.${mem.name} ${a}, item ${alias} ${b}`);
    n++;
  }
  if (offsetOrNone(il, "lentry") !== offsetOf(dl, "_pp_mapping_pad")) return fail("items", name, n, unit, "lentry is not the _pp_mapping_pad word");
  n++;
  const A = 1 << MEMDESC_TYPE_BITS;
  if (il.align < A || il.size % A !== 0) return fail("items", name, n, unit, `sizeof ${il.size}, alignof ${il.align}: a memdesc needs a multiple of ${A}`);
  n++;
  return pass("items", name, n, unit, [`sizeof(struct page_pool_item) ${il.size} = sizeof(struct netmem_desc) ${dl.size} rounded to ${A}`]);
}

/** A member's offset, or -1 when the declaration under check has none. */
function offsetOrNone(l: StructLayout, path: string): number {
  try {
    return offsetOf(l, path);
  } catch {
    return -1;
  }
}

/** For each power-of-two alignment: are the type bits free at every such address of a page? */
export function checkMemdescAlignments(arch: Arch, ps: PageSizeName, typeBits = MEMDESC_TYPE_BITS): CheckResult {
  const P = 1 << PAGE_SHIFT_OF[ps];
  const name = `memdesc alignments ${arch.name} ${pageSizeLabel(P)}`;
  const unit = "descriptor addresses (every alignment 1 … PAGE_SIZE)";
  const mask = (1 << typeBits) - 1;
  const itemAlign = layoutOf(STRUCT_PP_MEMDESC_ITEM, arch).align;
  const free: number[] = [];
  let n = 0;
  for (let al = 1; al <= P; al *= 2) {
    let ok = true;
    for (let a = 0; a < P; a += al, n++) if ((a & mask) !== 0) ok = false;
    if (ok !== al > mask) return fail("items", name, n, unit, `alignment ${al}: type bits ${ok ? "free" : "not free"}, expected the opposite`);
    if (ok) free.push(al);
  }
  if (itemAlign <= mask) return fail("items", name, n, unit, `alignof(struct page_pool_item) ${itemAlign} leaves the type bits in use`);
  return pass("items", name, n, unit, [`type bits free exactly for alignments >= ${free[0]} (mask ${MEMDESC_TYPE_MASK === mask ? "0xf" : mask}); the item's is ${itemAlign}`]);
}
