/**
 * Item-block masking: every `struct page_pool_item` slot of a block must lead back to its block by
 * `item & PAGE_MASK`, which is how v11's `netmem_pp_item_to_pp()` and RFCv5's
 * `page_pool_to_item_block()` find the pool of a returned page.
 *
 *   block (frame base)                                                         block + PAGE_SIZE
 *   ├── header ──┼─ items[0] ─┼─ items[1] ─┼ … ┼─ items[N-1] ─┼ tail ┤├─ next frame …
 *   0       itemsOffset                                             PAGE_SIZE
 *               every slot start AND last byte must mask to `block`; items[N] must not fit
 *
 * The arithmetic is done on u32 words exactly as the machine does it: an lp64 address is a {hi, lo}
 * pair with a carry from lo into hi, an ilp32 address wraps at 2^32. Block bases include the highest
 * frame of a 2 GiB and of a 4 GiB-1 address space, where an overrun carries (lp64) or wraps (ilp32).
 *
 * Properties per block variant × arch × page size:
 *  1. items[i] & PAGE_MASK == block, for the first and the last byte of every slot;
 *  2. the index round-trips: (items[i] - block - itemsOffset) / sizeof(item) == i;
 *  3. the low bits an `encoded_next` needs are free in every slot address (RFCv5/v7 kept the 2-bit
 *     state there: PAGE_POOL_ITEM_STATE_MASK = 0x3), and alignof(item) guarantees them;
 *  4. ITEMS_PER_PAGE is maximal: one more item would not fit;
 *  5. `pp` sits at netmem_item_block's `pp` offset (v9+, which netmem.h relies on).
 */
import { type Arch, type PageSizeName, ARCHES, type ArchName } from "../arch.js";
import { layoutOf, offsetOf } from "../mem/ctype.js";
import { itemGeometry, type ItemGeometry } from "../mem/item_geometry.js";
import { DIRECT_MAP_HI } from "../mem/page.js";
import { BLOCK_VARIANTS, STRUCT_NETMEM_ITEM_BLOCK, type BlockVariant } from "../mem/structs.js";
import { type CheckResult, ctz32, fail, pass, hexHiLo } from "./result.js";

/** RFCv5/v7 `encoded_next`: the item state lives in the low bits of the next-item pointer. */
export const PAGE_POOL_ITEM_STATE_MASK = 0x3;
export const ENCODED_NEXT_STATE_BITS = 2;

export interface BlockBase {
  readonly hi: number;
  readonly lo: number;
  readonly what: string;
}

export interface ItemCheckInput {
  readonly g: ItemGeometry;
  /** `offsetof(struct netmem_item_block, pp)`; null when the variant has none (RFCv5 reads `block->pp` directly). */
  readonly netmemPpOffset: number | null;
  readonly bases: readonly BlockBase[];
}

/** Block base addresses to test at: ordinary frames and the last frame below 2 GiB and below 4 GiB. */
export function blockBases(arch: Arch, pageSize: number): BlockBase[] {
  const mask = ~(pageSize - 1) >>> 0;
  const hi = arch.BITS_PER_LONG === 64 ? DIRECT_MAP_HI : 0;
  return [
    { hi, lo: pageSize, what: "the second frame" },
    { hi, lo: (0x12345678 & mask) >>> 0, what: "a middle frame" },
    { hi, lo: (0x7fffffff & mask) >>> 0, what: "the highest frame of 2 GiB" },
    { hi, lo: 0xc0000000, what: "PAGE_OFFSET of a 3G/1G split" },
    { hi, lo: (0xffffffff & mask) >>> 0, what: "the highest frame of 4 GiB-1" },
  ];
}

export function pageSizeLabel(bytes: number): string {
  return `${bytes >>> 10}k`;
}

export function itemCheckInput(variant: BlockVariant, arch: Arch, pageSize: PageSizeName): ItemCheckInput {
  const g = itemGeometry(variant, arch, pageSize);
  return {
    g,
    netmemPpOffset: variant === "rfcv5" ? null : offsetOf(layoutOf(STRUCT_NETMEM_ITEM_BLOCK, arch), "pp"),
    bases: blockBases(arch, g.pageSize),
  };
}

/** Check one block geometry. Pure: everything it knows comes from `input`. */
export function checkItems(input: ItemCheckInput): CheckResult {
  const { g, bases } = input;
  const lp64 = g.arch.BITS_PER_LONG === 64;
  const bits = g.arch.BITS_PER_LONG;
  const P = g.pageSize;
  const N = g.ITEMS_PER_PAGE;
  const name = `items ${g.variant} ${g.arch.name} ${pageSizeLabel(P)}`;
  const unit = `item slots (${N} × ${bases.length} block bases)`;
  const covered = N * bases.length;
  const maskLo = ~(P - 1) >>> 0;
  const maskHi = lp64 ? 0xffffffff : 0;
  const bad = (why: string) => fail("items", name, covered, unit, why);
  const at = (hi: number, lo: number) => hexHiLo(hi, lo, bits);

  let minCtz = 32;
  for (const b of bases) {
    for (let i = 0; i < N; i++) {
      const off = g.itemsOffset + i * g.itemSize;
      // item = block + off, with the carry an lp64 add has and the wrap an ilp32 add has.
      const sum = b.lo + off;
      const lo = sum >>> 0;
      const hi = lp64 ? (b.hi + (sum > 0xffffffff ? 1 : 0)) >>> 0 : 0;
      const mLo = (lo & maskLo) >>> 0;
      const mHi = (hi & maskHi) >>> 0;
      if (mLo !== b.lo || mHi !== b.hi) {
        return bad(
          `items[${i}] at ${at(hi, lo)} masks to ${at(mHi, mLo)}, not its block ${at(b.hi, b.lo)} (${b.what})`,
        );
      }
      const endSum = lo + g.itemSize - 1;
      const eLo = endSum >>> 0;
      const eHi = lp64 ? (hi + (endSum > 0xffffffff ? 1 : 0)) >>> 0 : 0;
      if ((eLo & maskLo) >>> 0 !== b.lo || (eHi & maskHi) >>> 0 !== b.hi) {
        return bad(
          `items[${i}] at ${at(hi, lo)} ends at ${at(eHi, eLo)}, past the end of its frame ${at(b.hi, b.lo)} (${b.what})`,
        );
      }
      const idx = (((lo - b.lo) >>> 0) - g.itemsOffset) / g.itemSize;
      if (idx !== i) {
        return bad(`items[${i}] at ${at(hi, lo)}: (item - block - ${g.itemsOffset}) / ${g.itemSize} = ${idx}, not ${i}`);
      }
      if ((lo & PAGE_POOL_ITEM_STATE_MASK) !== 0) {
        return bad(
          `items[${i}] at ${at(hi, lo)} has bits 0–1 = ${lo & 3}: encoded_next needs them free (PAGE_POOL_ITEM_STATE_MASK 0x3)`,
        );
      }
      const z = ctz32(lo);
      if (z < minCtz) minCtz = z;
    }
  }

  if (N < 1) return bad(`ITEMS_PER_PAGE = ${N}: a block holds no item`);
  const nextEnd = g.itemsOffset + (N + 1) * g.itemSize;
  if (nextEnd <= P) {
    return bad(`ITEMS_PER_PAGE = ${N} is not maximal: ${N + 1} items end at byte ${nextEnd} <= PAGE_SIZE ${P}`);
  }
  const alignBits = ctz32(g.itemAlign);
  if (alignBits < ENCODED_NEXT_STATE_BITS) {
    return bad(
      `alignof(struct page_pool_item) = ${g.itemAlign} guarantees ${alignBits} free low bit(s); ` +
        `encoded_next needs ${ENCODED_NEXT_STATE_BITS} (PAGE_POOL_ITEM_STATE_MASK 0x3)`,
    );
  }
  if (input.netmemPpOffset !== null && g.ppOffset !== input.netmemPpOffset) {
    return bad(
      `offsetof(page_pool_item_block, pp) = ${g.ppOffset} but offsetof(netmem_item_block, pp) = ${input.netmemPpOffset}`,
    );
  }

  const ppNote =
    input.netmemPpOffset === null
      ? `pp@${g.ppOffset} (no netmem_item_block in ${g.variant}: the pool is read as block->pp)`
      : `pp@${g.ppOffset} = netmem_item_block.pp@${input.netmemPpOffset}`;
  return pass("items", name, covered, unit, [
    `ITEMS_PER_PAGE ${N} (header ${g.itemsOffset} B, item ${g.itemSize} B, tail ${g.tailBytes} B; ${N + 1} would need ${nextEnd} B)`,
    `alignof(item) ${g.itemAlign} → ${alignBits} free low bits guaranteed, ${minCtz} free in every slot address; ` +
      `encoded_next needs ${ENCODED_NEXT_STATE_BITS}`,
    ppNote,
  ]);
}

/** Every block variant for the chosen arches and page sizes. */
export function verifyItems(
  arches: readonly ArchName[] = ["lp64", "ilp32"],
  pageSizes: readonly PageSizeName[] = ["4k", "16k", "64k"],
): CheckResult[] {
  const out: CheckResult[] = [];
  for (const variant of BLOCK_VARIANTS) {
    for (const a of arches) {
      for (const ps of pageSizes) {
        out.push(checkItems(itemCheckInput(variant, ARCHES[a], ps)));
      }
    }
  }
  return out;
}
