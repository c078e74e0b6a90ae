/**
 * The encoded-next layout: Yunsheng Lin's "fix the DMA API misuse problem for page_pool" v7 up to
 * patch 6/8, "page_pool: use list instead of ptr_ring for ring cache" (10 Jan 2025, Message-ID
 * <20250110130703.3814407-7-linyunsheng@huawei.com>; also RFCv5 6/8; dropped from v8 on). The item
 * blocks are v11's (ItemBlockTracking); what differs is the pool's recycle ring. The ptr_ring is
 * gone: the ring is a lock-free LIFO of the items themselves, linked through `encoded_next`, whose
 * low two bits keep the item's state:
 *
 *   pool->ring (struct pp_ring_cache, own cache line)
 *   ┌──────────────┬─────────┐
 *   │ list ────────┼─┐       │ count (atomic_t, checked against p.pool_size)
 *   └──────────────┴─┼───────┘
 *                    ▼
 *   item A: encoded_next = &item B | MAPPED      pp_netmem = page A
 *   item B: encoded_next = &item C | MAPPED      pp_netmem = page B
 *   item C: encoded_next = NULL    | MAPPED      pp_netmem = page C
 *
 * Items are 16 bytes and 16-byte aligned in their block, so bits 0..3 of an item address are 0 and
 * `PAGE_POOL_ITEM_STATE_MASK` (USED | MAPPED = 0x3) never overlaps the pointer (`ppemu verify`
 * proves it from the declarations, for every arch and page size).
 *
 * Producers (any CPU returning a page) push with a cmpxchg loop on `ring.list`; consumers (the
 * refill, the destroy-time drain) pop with a cmpxchg loop, as llist.h does for adds. `count` is
 * incremented after the push and decremented after the pop, so the "full" test
 * `atomic_read(&ring.count) > pool->p.pool_size` is approximate — and it compares an int with an
 * unsigned int, so a transiently negative count reads as full. Two consumers popping at once can
 * meet the ABA problem (the series relies on refill and drain not overlapping); the emulator does
 * what the patch does and nothing more.
 *
 * The patch's own claim: "about 10ns~20ns improvement for performance of
 * 'time_bench_page_pool02_ptr_ring' test case" (its commit message; Yunsheng's benchmarks ran on an
 * arm64 server). Why it went: the v11 cover letter's change log (<20250307092356.638242-1-
 * linyunsheng@huawei.com>, search id 49329521284), "V8: 1. Drop last 3 patch as it causes
 * observable performance degradation for x86 system" — patches 6/8 (this list), 7/8 (batched
 * refill) and 8/8 (a list for the alloc cache). The v7 cover letter itself, with the per-patch
 * figures, was not in the searched archive; no x86 number for 6/8 alone is known here.
 */
import { LP64, archConsts } from "../arch.js";
import * as PAGE from "../mem/page.js";
const { PAGE_PP_ITEM, DIRECT_MAP_HI } = PAGE;
import { layoutOf, offsetOf } from "../mem/ctype.js";
import type { PoolOffsets } from "../pool/pool_offsets.js";
import { registerBuild } from "./registry.js";
import { V6_15_SWITCHES } from "./classic.js";
import { ITEM_BLOCK, ItemBlockTracking, itemStateText } from "./item_block.js";
import type { RingOps, TrackingContext, TrackingLayout } from "./types.js";
import { POOL_STRUCTS_V7, STRUCT_PAGE_POOL_ITEM_V7, decodeNext, decodeState, encodeNext } from "./encoded_next_structs.js";
export { PAGE_POOL_ITEM_STATE_MASK, decodeNext, decodeState, encodeNext } from "./encoded_next_structs.js";

const ITEM_V7 = layoutOf(STRUCT_PAGE_POOL_ITEM_V7, LP64);
export const ITEM_ENCODED_NEXT = offsetOf(ITEM_V7, "encoded_next");
export const ITEM_V7_PP_NETMEM = offsetOf(ITEM_V7, "pp_netmem");

/**
 * `struct pp_ring_cache` in the pool: the v7 6/8 ring. Every 64-bit pointer's low word holds the
 * address and carries the atomics; the high word is the region tag (0 for NULL), rewritten after.
 */
export class EncodedNextRing implements RingOps {
  private readonly u32: Uint32Array;
  readonly RING_LIST: number;
  readonly RING_COUNT: number;
  private readonly POOL_SIZE: number;

  constructor(u32: Uint32Array, o: PoolOffsets) {
    this.u32 = u32;
    this.RING_LIST = o.need("ring.list");
    this.RING_COUNT = o.need("ring.count");
    this.POOL_SIZE = o.poolSize;
  }

  init(pool: number): number {
    const u32 = this.u32;
    const h = (pool + this.RING_LIST) >>> 2;
    u32[h] = 0;
    u32[h + 1] = 0;
    u32[(pool + this.RING_COUNT) >>> 2] = 0;
    return 0;
  }

  /** `__page_pool_recycle_in_ring()`. */
  produce(pool: number, page: number): boolean {
    const u32 = this.u32;
    // atomic_read(&pool->ring.count) > pool->p.pool_size: int against unsigned int, so unsigned.
    if (Atomics.load(u32, (pool + this.RING_COUNT) >>> 2) > u32[(pool + this.POOL_SIZE) >>> 2]!) return false;
    const item = u32[(page + PAGE_PP_ITEM) >>> 2]!; // netmem_get_pp_item()
    const h = (pool + this.RING_LIST) >>> 2;
    const e = (item + ITEM_ENCODED_NEXT) >>> 2;
    let list = Atomics.load(u32, h); // READ_ONCE(pool->ring.list)
    for (;;) {
      // page_pool_item_set_next(): a plain read-modify-write, as the patch has it.
      u32[e] = encodeNext(u32[e]!, list);
      u32[e + 1] = list === 0 ? 0 : DIRECT_MAP_HI;
      const seen = Atomics.compareExchange(u32, h, list, item); // try_cmpxchg(&pool->ring.list, &list, item)
      if (seen === list) break;
      list = seen;
    }
    u32[h + 1] = DIRECT_MAP_HI;
    Atomics.add(u32, (pool + this.RING_COUNT) >>> 2, 1);
    return true;
  }

  /** `page_pool_consume_ring()`. */
  consume(pool: number): number {
    const u32 = this.u32;
    const h = (pool + this.RING_LIST) >>> 2;
    let list = Atomics.load(u32, h);
    let next: number;
    for (;;) {
      if (list === 0) return 0;
      next = decodeNext(u32[(list + ITEM_ENCODED_NEXT) >>> 2]!); // page_pool_item_get_next()
      const seen = Atomics.compareExchange(u32, h, list, next);
      if (seen === list) break;
      list = seen;
    }
    u32[h + 1] = next === 0 ? 0 : DIRECT_MAP_HI;
    Atomics.sub(u32, (pool + this.RING_COUNT) >>> 2, 1);
    return u32[(list + ITEM_V7_PP_NETMEM) >>> 2]!;
  }

  empty(pool: number): boolean {
    return Atomics.load(this.u32, (pool + this.RING_LIST) >>> 2) === 0;
  }

  /** `atomic_read(&pool->ring.count)`, signed. */
  count(pool: number): number {
    return Atomics.load(this.u32, (pool + this.RING_COUNT) >>> 2) | 0;
  }

  /** The full test is `count > pool_size`, checked before the push: pool_size + 1 pages fit. */
  capacity(pool: number): number {
    return this.u32[(pool + this.POOL_SIZE) >>> 2]! + 1;
  }

  /** Walk the list head first; a cycle (a corrupted list) stops after `limit` items with an error. */
  forEach(pool: number, cb: (page: number) => void, limit = 1 << 22): void {
    const u32 = this.u32;
    let n = 0;
    for (let it = Atomics.load(u32, (pool + this.RING_LIST) >>> 2); it !== 0; it = decodeNext(u32[(it + ITEM_ENCODED_NEXT) >>> 2]!)) {
      if (++n > limit) throw new Error(`ppemu: pool ${hexAddr(pool)}: ring.list does not end after ${limit} items`);
      cb(u32[(it + ITEM_V7_PP_NETMEM) >>> 2]!);
    }
  }

  /** The items on the list, head first, with their encoded_next words (tests, explain). */
  items(pool: number): { item: number; encoded: number }[] {
    const u32 = this.u32;
    const out: { item: number; encoded: number }[] = [];
    for (let it = u32[(pool + this.RING_LIST) >>> 2]!; it !== 0 && out.length <= 1 << 22; ) {
      const encoded = u32[(it + ITEM_ENCODED_NEXT) >>> 2]!;
      out.push({ item: it, encoded });
      it = decodeNext(encoded);
    }
    return out;
  }

  /** `page_pool_uninit()` after 6/8: the ring owns no memory; scrub has emptied it. */
  uninit(_pool: number): void {}
}

/** v11's item blocks with the v7 ring. */
export class EncodedNextTracking extends ItemBlockTracking {
  readonly ring: EncodedNextRing;
  private readonly ringU32: Uint32Array;

  constructor(layout: TrackingLayout, ctx: TrackingContext) {
    super(layout, ctx);
    this.ringU32 = ctx.m.mem.u32;
    this.ring = new EncodedNextRing(ctx.m.mem.u32, ctx.pool);
  }

  /** The page's item, and its encoded_next decoded into the next item and the state bits. */
  override describePage(page: number): readonly string[] {
    const base = super.describePage(page);
    const u32 = this.ringU32;
    const item = u32[(page + PAGE_PP_ITEM) >>> 2]!;
    if (item === 0 || this.itemToBlockChecked(item) === 0) return base;
    return [...base, encodedNextText(u32[(item + ITEM_ENCODED_NEXT) >>> 2]!)];
  }
}

const hexAddr = (n: number): string => "0x" + (n >>> 0).toString(16).padStart(8, "0");

/** `explain`'s text of an encoded_next word. */
export function encodedNextText(encoded: number): string {
  const next = decodeNext(encoded);
  return `encoded_next ${hexAddr(encoded)}: next ${next === 0 ? "NULL" : hexAddr(next)}, state ${itemStateText(decodeState(encoded))}`;
}

export const ENCODED_NEXT: TrackingLayout = {
  ...ITEM_BLOCK,
  name: "encoded-next",
  summary: "v11's item blocks; the recycle ring is a lock-free list of items linked through encoded_next (state in its low 2 bits)",
  inflightTracking: ITEM_BLOCK.inflightTracking + ";\nring: items linked by encoded_next",
  status: "posted RFCv5–v7 (patch 6/8), dropped in v8",
  make: (ctx) => new EncodedNextTracking(ENCODED_NEXT, ctx),
};

registerBuild({
  name: "v7-encoded-next",
  id: 107,
  layout: ENCODED_NEXT,
  isLayoutDefault: true,
  summary: "Yunsheng Lin's v7 1-6/8 (10 Jan 2025): item blocks, ptr_ring replaced by an encoded_next list (not merged)",
  variant: "v11",
  structs: POOL_STRUCTS_V7,
  ppMagicMask: archConsts(LP64).PP_MAGIC_MASK_CLASSIC,
  // net-next of 10 Jan 2025: before 43130d02baa1 (Feb 2025: the retry stops on a negative count)
  // and before the cpuid reset on destroy; otherwise the v6.15 behaviour v11 has.
  switches: { ...V6_15_SWITCHES, negativeRetryStops: false, destroyResetsCpuid: false },
});
