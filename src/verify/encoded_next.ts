/**
 * v7's `encoded_next` (Yunsheng Lin, "[PATCH net-next v7 6/8] page_pool: use list instead of
 * ptr_ring for ring cache", <20250110130703.3814407-7-linyunsheng@huawei.com>): the ring's next-item
 * pointer and the item's 2-bit state share one `unsigned long`. That is sound only if no item
 * address has a bit of `PAGE_POOL_ITEM_STATE_MASK` (0x3) set. This check proves it per arch × page
 * size from the declarations — the v7 `struct page_pool_item` (its alignment, derived by the layout
 * engine, not typed) and the block header v7 shares with v11 — and runs the emulator's own
 * `encodeNext` / `decodeNext` / `decodeState` (the functions the ring calls) over every item address
 * of a block at several block bases:
 *
 *  1. alignof(struct page_pool_item) ≥ PAGE_POOL_ITEM_STATE_MASK + 1, and the items array offset and
 *     PAGE_SIZE are multiples of it (so every slot inherits it); sizeof(v7 item) = sizeof(v11 item);
 *  2. for next ∈ {NULL, every item of the block}, state ∈ {0, USED, MAPPED, USED|MAPPED} and a
 *     previous word holding another item's address or none: `page_pool_item_set_next()` keeps the
 *     state, `page_pool_item_get_next()` gives back `next` (the state never leaks into the pointer),
 *     and the state read back is the state written. (On lp64 the state bits are in the pointer's
 *     low word, which is the word the machine's atomics act on; the high word is the region tag.)
 */
import { type Arch, type ArchName, type PageSizeName, ARCHES } from "../arch.js";
import { layoutOf, offsetOf } from "../mem/ctype.js";
import { ITEM_BLOCK_OF, STRUCT_PAGE_POOL_ITEM } from "../mem/structs.js";
import { itemGeometry } from "../mem/item_geometry.js";
import { PAGE_POOL_ITEM_STATE_MASK, STRUCT_PAGE_POOL_ITEM_V7, decodeNext, decodeState, encodeNext } from "../builds/encoded_next_structs.js";
import { type CheckResult, ctz32, fail, pass, hexHiLo } from "./result.js";
import { blockBases, pageSizeLabel, type BlockBase } from "./items.js";

export interface EncodedNextInput {
  readonly arch: Arch;
  readonly pageSize: number;
  /** alignof / sizeof the declared v7 item, offsetof(encoded_next). */
  readonly itemAlign: number;
  readonly itemSize: number;
  readonly encodedNextOffset: number;
  /** sizeof the v11 item the block geometry is built from. */
  readonly v11ItemSize: number;
  /** offsetof(struct page_pool_item_block, items): v7 4/8's header is v11's. */
  readonly itemsOffset: number;
  readonly ITEMS_PER_PAGE: number;
  readonly mask: number;
  readonly bases: readonly BlockBase[];
}

export function encodedNextInput(arch: Arch, pageSize: PageSizeName): EncodedNextInput {
  const g = itemGeometry("v11", arch, pageSize);
  const item = layoutOf(STRUCT_PAGE_POOL_ITEM_V7, arch);
  return {
    arch,
    pageSize: g.pageSize,
    itemAlign: item.align,
    itemSize: item.size,
    encodedNextOffset: offsetOf(item, "encoded_next"),
    v11ItemSize: layoutOf(STRUCT_PAGE_POOL_ITEM, arch).size,
    itemsOffset: offsetOf(layoutOf(ITEM_BLOCK_OF.v11, arch), "items"),
    ITEMS_PER_PAGE: Math.floor((g.pageSize - offsetOf(layoutOf(ITEM_BLOCK_OF.v11, arch), "items")) / item.size),
    mask: PAGE_POOL_ITEM_STATE_MASK,
    bases: blockBases(arch, g.pageSize),
  };
}

const STATES = [0, 1, 2, 3] as const;

/** Check one arch × page size. Pure: everything it knows comes from `input`. */
export function checkEncodedNext(input: EncodedNextInput): CheckResult {
  const { arch, bases, mask } = input;
  const bits = arch.BITS_PER_LONG;
  const N = input.ITEMS_PER_PAGE;
  const name = `encoded_next v7 ${arch.name} ${pageSizeLabel(input.pageSize)}`;
  const unit = `(next, state, previous word) triples ((${N} items + NULL) × 4 states × 2 × ${bases.length} block bases)`;
  const covered = (N + 1) * STATES.length * 2 * bases.length;
  const bad = (why: string) => fail("items", name, covered, unit, why);
  const at = (hi: number, lo: number) => hexHiLo(hi, lo, bits);

  const need = mask + 1;
  if (input.itemAlign < need) {
    return bad(`alignof(struct page_pool_item) = ${input.itemAlign} < ${need}: PAGE_POOL_ITEM_STATE_MASK ${hex(mask)} overlaps item addresses`);
  }
  if (input.itemsOffset % input.itemAlign !== 0 || input.pageSize % input.itemAlign !== 0) {
    return bad(`items[] at ${input.itemsOffset} of a ${input.pageSize}-byte block is not ${input.itemAlign}-aligned`);
  }
  if (input.itemSize !== input.v11ItemSize) {
    return bad(`sizeof(v7 page_pool_item) = ${input.itemSize} but the block geometry's item is ${input.v11ItemSize} bytes`);
  }
  if (input.encodedNextOffset !== 0) return bad(`encoded_next at offset ${input.encodedNextOffset}, not 0`);

  let minCtz = 32;
  for (const b of bases) {
    const itemLo = (i: number): number => (b.lo + input.itemsOffset + i * input.itemSize) >>> 0;
    for (let i = -1; i < N; i++) {
      // next = NULL (i = -1) or items[i]; its high word is the block's (no lp64 carry inside a frame).
      const next = i < 0 ? 0 : itemLo(i);
      const nextHi = i < 0 ? 0 : b.hi;
      if (next !== 0) minCtz = Math.min(minCtz, ctz32(next));
      const prevs = [0, itemLo((i + 1 + (N >> 1)) % N)];
      for (const prev of prevs) {
        for (const state of STATES) {
          // The word as it stands: an earlier next (or none) with `state` set by the bit helpers.
          const word = (prev | state) >>> 0;
          const enc = encodeNext(word, next);
          const what = () => `items[${i}] = ${at(nextHi, next)} over ${hex(word)} (${b.what})`;
          if (decodeNext(enc) !== next) return bad(`get_next(set_next(${what()})) = ${hex(decodeNext(enc))}: the state leaked into the pointer`);
          if (decodeState(enc) !== state) return bad(`set_next(${what()}) changed the state ${state} to ${decodeState(enc)}`);
          if (((enc & ~mask) >>> 0) !== next) return bad(`set_next(${what()}) = ${hex(enc)}: pointer bits ${hex((enc & ~mask) >>> 0)} ≠ next`);
        }
      }
    }
  }
  return pass("items", name, covered, unit, [
    `alignof(v7 page_pool_item) ${input.itemAlign} (derived) → ${ctz32(input.itemAlign)} free low bits guaranteed, ` +
      `${minCtz} free in every item address; PAGE_POOL_ITEM_STATE_MASK ${hex(mask)} needs ${ctz32(need)}`,
    `${N} items per ${pageSizeLabel(input.pageSize)} block (items@${input.itemsOffset}, ${input.itemSize} B each), ${bases.length} block bases`,
  ]);
}

/** Every arch × page size. */
export function verifyEncodedNext(
  arches: readonly ArchName[] = ["lp64", "ilp32"],
  pageSizes: readonly PageSizeName[] = ["4k", "16k", "64k"],
): CheckResult[] {
  const out: CheckResult[] = [];
  for (const a of arches) for (const ps of pageSizes) out.push(checkEncodedNext(encodedNextInput(ARCHES[a], ps)));
  return out;
}

function hex(n: number): string {
  return "0x" + (n >>> 0).toString(16);
}
