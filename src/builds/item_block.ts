/**
 * The item-block layout: Yunsheng Lin's "fix the DMA API misuse problem for page_pool" (v11; the
 * v9 patch-2 and RFCv5 block headers selectable). Every page a pool owns is tracked by a 16-byte
 * `page_pool_item` living in a one-page `page_pool_item_block`; `page->pp_item` (offset 16, where
 * `page->pp` was) points at the item, and the pool is found by masking the item pointer:
 *
 *   struct page                    item block (one frame; header at the frame top)
 *   ┌──────────────┐              ┌───────────────────────────────────────────────────┐ ◀ item & PAGE_MASK
 *   │ pp_magic   8 │              │ pp ──▶ struct page_pool   list   flags   ref      │
 *   │ pp_item   16 │ ──────┐      ├──────────┬──────────┬──────────┬─────┬────────────┤
 *   │ dma_addr  32 │       └────▶ │ items[0] │ items[1] │ items[2] │ ... │ items[253] │
 *   └──────────────┘              └──────────┴──────────┴──────────┴─────┴────────────┘
 *                                   item: state (bit0 USED, bit1 MAPPED) | pp_netmem / lentry
 *
 * Fast items come from blocks allocated at pool init and are recycled through `hold_items` (owner
 * only, plain stores) and `release_items` (an llist any CPU pushes to). When both are empty, slow
 * items are taken one by one from a dynamically allocated block (`ref` counts its unreturned items;
 * the block is freed at 0). `page_pool_destroy()` walks every block and unmaps each MAPPED item, so
 * no mapping outlives the driver; later returns find MAPPED clear and skip the DMA API.
 */
import type { Machine } from "../mem/machine.js";
import type { PhysMem } from "../mem/physmem.js";
import type { Dma } from "../dma/index.js";
import type { FrameClaimer } from "../mem/accounting.js";
import { LP64, archConsts } from "../arch.js";
import { layoutOf, offsetOf } from "../mem/ctype.js";
import { ITEM_BLOCK_OF, STRUCT_PAGE_POOL_ITEM, type BlockVariant, PP_ALLOC_CACHE_SIZE } from "../mem/structs.js";
import * as PHYS from "../mem/physmem.js";
const { MACH_PP_CHECKS } = PHYS;
import * as PAGE from "../mem/page.js";
const { PAGE_PP_MAGIC, PAGE_PP_ITEM, DIRECT_MAP_HI, VMEMMAP_HI } = PAGE;
import { GFP_ZERO } from "../mem/buddy.js";
import { Diag } from "../mem/diag.js";
import { llistAdd, llistAddLocked, llistHoldFirst, llistTake } from "../mem/llist.js";
import { itemGeometry, itemTarget, type ItemGeometry } from "../mem/item_geometry.js";
import { spinLock, spinUnlock } from "../smp/spinlock.js";
import { rcuReadLock, rcuReadUnlock, synchronizeNet } from "../smp/rcu.js";
import { pointHook, Point } from "../explore/points.js";
import { orPpSignature, isPpPageMasked } from "../pool/pp_info.js";
import { ppDmaUnmap, poolDmaMap } from "../pool/pp_dma.js";
import type { PoolOffsets } from "../pool/pool_offsets.js";
import { forEachPoolOnMachine } from "../pool/pool_list.js";
import { registerBuild } from "./registry.js";
import { V6_15_SWITCHES, ppMagicMembershipText } from "./classic.js";
import type { Tracking, TrackingContext, TrackingLayout, TrackingUsage } from "./types.js";
import { POOL_STRUCTS_V11 } from "./item_block_structs.js";

const ENOMEM = 12;

const ITEM_LAYOUT = layoutOf(STRUCT_PAGE_POOL_ITEM, LP64);
export const ITEM_STATE = offsetOf(ITEM_LAYOUT, "state");
export const ITEM_PP_NETMEM = offsetOf(ITEM_LAYOUT, "pp_netmem");
export const ITEM_LENTRY = offsetOf(ITEM_LAYOUT, "lentry");

/** `item->state` bits (v11). USED is kept only with debug checks on (CONFIG_DEBUG_NET). */
export const PAGE_POOL_ITEM_USED = 1 << 0;
export const PAGE_POOL_ITEM_MAPPED = 1 << 1;
/**
 * `page_pool_item_uninit()`'s walk: unlink every block on the list at `head` (its `list_head` at
 * `listOff` in the block) and give its page back, `onBlock` seeing each first. Not a hot path.
 */
export function freeItemBlocks(m: Machine, head: number, listOff: number, onBlock?: (block: number) => void): void {
  const mem = m.mem;
  while (!mem.listEmpty(head)) {
    const block = mem.rdPtr(head) - listOff;
    mem.listDel(block + listOff);
    onBlock?.(block);
    m.pa.putPage(mem.virtToPage(block));
  }
}

/** `block->flags` bit 0: a dynamically allocated (slow) block. */
export const PAGE_POOL_SLOW_ITEM_BLOCK_BIT = 1 << 0;


export class ItemBlockTracking implements Tracking {
  readonly syncAfterRecycle = true;
  readonly geometry: ItemGeometry;
  readonly variant: BlockVariant;
  private readonly m: Machine;
  private readonly mem: PhysMem;
  private readonly u32: Uint32Array;
  private readonly dma: Dma;
  private readonly o: PoolOffsets;
  private readonly checks: boolean;
  private readonly refInit: boolean;
  private readonly maskHi: number;
  private readonly maskLo: number;
  /** Block header offsets for the chosen variant (-1: the variant has no such field). */
  readonly BLK_PP: number;
  readonly BLK_LIST: number;
  readonly BLK_FLAGS: number;
  readonly BLK_REF: number;
  readonly ITEMS_OFF: number;
  readonly ITEM_SIZE: number;
  readonly ITEMS_PER_PAGE: number;
  private readonly pageMaskLo: number;
  // The v11 members of struct page_pool.
  private readonly PP_HOLD_ITEMS: number;
  private readonly PP_RELEASE_ITEMS: number;
  private readonly PP_ITEM_BLOCKS: number;
  private readonly PP_ITEM_LOCK: number;
  private readonly PP_SLOW_BLOCK: number;
  private readonly PP_SLOW_NEXT_TO_USE: number;
  private readonly PP_STAT_ITEM_FAST_EMPTY: number;
  private readonly PP_STAT_ITEM_SLOW_FAILED: number;

  constructor(
    readonly layout: TrackingLayout,
    ctx: TrackingContext,
  ) {
    const variant = ctx.build.variant ?? "v11";
    this.variant = variant;
    this.m = ctx.m;
    this.mem = ctx.m.mem;
    this.u32 = ctx.m.mem.u32;
    this.dma = ctx.dma;
    const o = ctx.pool;
    this.o = o;
    this.checks = this.mem.rd32(this.mem.machine + MACH_PP_CHECKS) !== 0;
    this.refInit = ctx.build.switches.ppRefCountInit;
    this.maskHi = ctx.build.ppMagicMask.hi;
    this.maskLo = ctx.build.ppMagicMask.lo;
    const g = itemGeometry(variant, LP64, this.mem.pageSize);
    const bl = layoutOf(ITEM_BLOCK_OF[variant], LP64);
    this.geometry = g;
    this.BLK_PP = offsetOf(bl, "pp");
    this.BLK_LIST = offsetOf(bl, "list");
    this.BLK_FLAGS = bl.off.flags ?? -1;
    this.BLK_REF = bl.off.ref ?? -1;
    this.ITEMS_OFF = g.itemsOffset;
    this.ITEM_SIZE = g.itemSize;
    this.ITEMS_PER_PAGE = g.ITEMS_PER_PAGE;
    this.pageMaskLo = this.mem.pageMaskLo;
    this.PP_HOLD_ITEMS = o.need("hold_items");
    this.PP_RELEASE_ITEMS = o.need("release_items");
    this.PP_ITEM_BLOCKS = o.need("item_blocks");
    this.PP_ITEM_LOCK = o.need("item_lock");
    // v7 4/8 (<20250110130703.3814407-5-linyunsheng@huawei.com>) names them item_blk / item_blk_idx.
    this.PP_SLOW_BLOCK = o.has("slow_items.block") >= 0 ? o.need("slow_items.block") : o.need("item_blk");
    this.PP_SLOW_NEXT_TO_USE = o.has("slow_items.next_to_use") >= 0 ? o.need("slow_items.next_to_use") : o.need("item_blk_idx");
    this.PP_STAT_ITEM_FAST_EMPTY = o.allocStats.item_fast_empty ?? o.need("alloc_stats.item_fast_empty");
    this.PP_STAT_ITEM_SLOW_FAILED = o.allocStats.item_slow_failed ?? o.need("alloc_stats.item_slow_failed");
  }

  // ---------------------------------------------------------------- accessors (netmem.h)

  /** `page_pool_item_to_block()`, unchecked: the block is the item's frame. */
  itemToBlock(item: number): number {
    return item & this.pageMaskLo;
  }

  /**
   * The checked accessor: 0 unless `item` is a real item slot of a block that names a pool (a
   * DEBUG_NET_WARN in the kernel). Used by `explain` and the tests, never on the hot path.
   */
  itemToBlockChecked(item: number): number {
    if (item === 0 || (item & 3) !== 0) return 0;
    const block = item & this.pageMaskLo;
    const off = item - block - this.ITEMS_OFF;
    if (off < 0 || off % this.ITEM_SIZE !== 0 || off / this.ITEM_SIZE >= this.ITEMS_PER_PAGE) return 0;
    return this.u32[(block + this.BLK_PP) >>> 2] === 0 ? 0 : block;
  }

  itemIndex(item: number): number {
    return (item - (item & this.pageMaskLo) - this.ITEMS_OFF) / this.ITEM_SIZE;
  }

  itemAt(block: number, index: number): number {
    return block + this.ITEMS_OFF + index * this.ITEM_SIZE;
  }

  /** `netmem_get_pp()` for this layout: `page->pp_item & PAGE_MASK → block->pp`. */
  poolOf(page: number): number {
    const u32 = this.u32;
    return u32[((u32[(page + PAGE_PP_ITEM) >>> 2]! & this.pageMaskLo) + this.BLK_PP) >>> 2]!;
  }

  /** v11's base (v6.14/6.15 net-next) still tests `(pp_magic & ~0x3UL) == PP_SIGNATURE`. */
  isPpPage(page: number): boolean {
    return isPpPageMasked(this.u32, page, this.maskHi, this.maskLo);
  }

  // ---------------------------------------------------------------- init / uninit

  /** `page_pool_item_init()`: zeroed blocks until `2 * pool_size + 128 + 512` items are covered. */
  init(pool: number): number {
    const mem = this.mem;
    mem.listInit(pool + this.PP_ITEM_BLOCKS);
    mem.wr64(pool + this.PP_HOLD_ITEMS, 0, 0);
    mem.wr64(pool + this.PP_RELEASE_ITEMS, 0, 0);
    mem.wr32(pool + this.PP_ITEM_LOCK, 0);
    mem.wr64(pool + this.PP_SLOW_BLOCK, 0, 0);
    mem.wr32(pool + this.PP_SLOW_NEXT_TO_USE, 0);
    const target = itemTarget(mem.rd32(pool + this.o.poolSize), PP_ALLOC_CACHE_SIZE);
    for (let cnt = target; cnt > 0; cnt -= this.ITEMS_PER_PAGE) {
      const page = this.m.pa.allocPages(0, GFP_ZERO);
      if (page === 0) {
        this.uninit(pool);
        return -ENOMEM;
      }
      const block = mem.pageAddress(page);
      mem.wrPtr(block + this.BLK_PP, pool);
      mem.listAdd(block + this.BLK_LIST, pool + this.PP_ITEM_BLOCKS);
      for (let i = 0; i < this.ITEMS_PER_PAGE; i++) {
        llistAddLocked(this.u32, this.itemAt(block, i) + ITEM_LENTRY, pool + this.PP_HOLD_ITEMS);
      }
    }
    return 0;
  }

  /** `page_pool_item_uninit()`: free every block, warning about a slow block still referenced. */
  uninit(pool: number): void {
    const mem = this.mem;
    freeItemBlocks(this.m, pool + this.PP_ITEM_BLOCKS, this.BLK_LIST, (block) => {
      if (this.BLK_REF >= 0 && mem.rd32(block + this.BLK_REF) !== 0) mem.diag(Diag.PP_ITEM_BLOCK_REF, block, mem.rd32(block + this.BLK_REF));
    });
    mem.wr64(pool + this.PP_HOLD_ITEMS, 0, 0);
    mem.wr64(pool + this.PP_RELEASE_ITEMS, 0, 0);
  }

  // ---------------------------------------------------------------- attach / release

  /** `page_pool_fast_item_alloc()`: pop hold_items, refilling it from release_items. */
  private fastItemAlloc(pool: number): number {
    const first = llistHoldFirst(this.u32, pool + this.PP_HOLD_ITEMS, pool + this.PP_RELEASE_ITEMS);
    if (first === 0) {
      this.mem.inc64(pool + this.PP_STAT_ITEM_FAST_EMPTY);
      return 0;
    }
    return llistTake(this.u32, pool + this.PP_HOLD_ITEMS, first) - ITEM_LENTRY;
  }

  /** `page_pool_slow_item_alloc()`: the next unused item of the current slow block. */
  private slowItemAlloc(pool: number): number {
    const mem = this.mem;
    if (this.BLK_REF < 0) return 0; // the v9 patch-2 header has no slow blocks
    let block = mem.rdPtr(pool + this.PP_SLOW_BLOCK);
    let next = mem.rd32(pool + this.PP_SLOW_NEXT_TO_USE);
    if (block === 0 || next >= this.ITEMS_PER_PAGE) {
      const page = this.m.pa.allocPages(0, GFP_ZERO);
      if (page === 0) {
        mem.inc64(pool + this.PP_STAT_ITEM_SLOW_FAILED);
        return 0;
      }
      block = mem.pageAddress(page);
      mem.wrPtr(block + this.BLK_PP, pool);
      mem.wr32(block + this.BLK_FLAGS, mem.rd32(block + this.BLK_FLAGS) | PAGE_POOL_SLOW_ITEM_BLOCK_BIT);
      mem.wr32(block + this.BLK_REF, this.ITEMS_PER_PAGE);
      mem.wrPtr(pool + this.PP_SLOW_BLOCK, block);
      next = 0;
      spinLock(mem, pool + this.PP_ITEM_LOCK);
      mem.listAdd(block + this.BLK_LIST, pool + this.PP_ITEM_BLOCKS);
      spinUnlock(mem, pool + this.PP_ITEM_LOCK);
    }
    mem.wr32(pool + this.PP_SLOW_NEXT_TO_USE, next + 1);
    return this.itemAt(block, next);
  }

  /** `page_pool_set_pp_info()` with `page_pool_set_item_info()`: before the DMA map. */
  setPpInfo(pool: number, page: number): boolean {
    const u32 = this.u32;
    let item = this.fastItemAlloc(pool);
    if (item === 0) item = this.slowItemAlloc(pool);
    if (item === 0) return false;
    const n = (item + ITEM_PP_NETMEM) >>> 2;
    u32[n] = page;
    u32[n + 1] = VMEMMAP_HI;
    if (this.checks) u32[(item + ITEM_STATE) >>> 2]! |= PAGE_POOL_ITEM_USED;
    const p = (page + PAGE_PP_ITEM) >>> 2;
    u32[p] = item;
    u32[p + 1] = DIRECT_MAP_HI;
    orPpSignature(u32, page, this.refInit);
    return true;
  }

  ownsMapping(pool: number, page: number): boolean {
    if (!poolDmaMap(this.u32, this.o, pool)) return false;
    const item = this.u32[(page + PAGE_PP_ITEM) >>> 2]!;
    return item !== 0 && (Atomics.load(this.u32, (item + ITEM_STATE) >>> 2) & PAGE_POOL_ITEM_MAPPED) !== 0;
  }

  /** After a successful map: MAPPED, set non-atomically (only the owner context maps). */
  onMapped(_pool: number, page: number): boolean {
    const u32 = this.u32;
    u32[(u32[(page + PAGE_PP_ITEM) >>> 2]! + ITEM_STATE) >>> 2]! |= PAGE_POOL_ITEM_MAPPED;
    return true;
  }

  /**
   * `__page_pool_release_page_dma()` (v11): `destroy_cnt` is read inside `rcu_read_lock()`, paired
   * with the `synchronize_net()` destroy runs before its scan. Not destroyed: unmap without the lock
   * (every scan waits for this read section to end); destroyed: under `item_lock`, and only if the
   * scan has not unmapped it already.
   */
  releaseDma(pool: number, page: number): void {
    const u32 = this.u32;
    if (!poolDmaMap(u32, this.o, pool)) return;
    const mem = this.mem;
    const dc = (pool + this.o.destroyCnt) >>> 2;
    rcuReadLock(mem);
    try {
      const destroyed = Atomics.load(u32, dc) !== 0 || Atomics.load(u32, dc + 1) !== 0;
      if (pointHook !== null) pointHook(Point.DESTROY_CNT_READ, pool, destroyed ? 1 : 0);
      if (!destroyed) {
        this.unmapItem(pool, page);
        return;
      }
      spinLock(mem, pool + this.PP_ITEM_LOCK);
      try {
        // The scan gets here with a page from a stale item->pp_netmem (hazard (a)): it holds no reference.
        if (pointHook !== null) pointHook(Point.PAGE_STRUCT_READ, page, 0);
        const item = u32[(page + PAGE_PP_ITEM) >>> 2]!;
        if (item !== 0 && (Atomics.load(u32, (item + ITEM_STATE) >>> 2) & PAGE_POOL_ITEM_MAPPED) !== 0) {
          this.unmapItem(pool, page);
        }
      } finally {
        // A strict machine throws its fault from inside the unmap: the lock must not stay held.
        spinUnlock(mem, pool + this.PP_ITEM_LOCK);
      }
    } finally {
      rcuReadUnlock(mem);
    }
  }

  private unmapItem(pool: number, page: number): void {
    const item = this.u32[(page + PAGE_PP_ITEM) >>> 2]!;
    ppDmaUnmap(this.mem, this.dma, this.o, pool, page);
    Atomics.and(this.u32, (item + ITEM_STATE) >>> 2, ~PAGE_POOL_ITEM_MAPPED);
  }

  /** `page_pool_clear_pp_info()` + `page_pool_clear_item_info()`: give the item back. */
  clearPpInfo(pool: number, page: number): void {
    const u32 = this.u32;
    const item = u32[(page + PAGE_PP_ITEM) >>> 2]!;
    const w = (page + PAGE_PP_MAGIC) >>> 2;
    u32[w] = 0;
    u32[w + 1] = 0;
    if (item === 0) return;
    if (this.checks) {
      const state = u32[(item + ITEM_STATE) >>> 2]!;
      if (u32[(item + ITEM_PP_NETMEM) >>> 2] !== page || (state & PAGE_POOL_ITEM_MAPPED) !== 0 || (state & PAGE_POOL_ITEM_USED) === 0) {
        this.mem.diag(Diag.PP_ITEM_STATE, item, state);
      }
      u32[(item + ITEM_STATE) >>> 2]! &= ~PAGE_POOL_ITEM_USED;
    }
    const p = (page + PAGE_PP_ITEM) >>> 2;
    u32[p] = 0;
    u32[p + 1] = 0;
    const block = item & this.pageMaskLo;
    if (this.BLK_FLAGS < 0 || (u32[(block + this.BLK_FLAGS) >>> 2]! & PAGE_POOL_SLOW_ITEM_BLOCK_BIT) === 0) {
      // page_pool_fast_item_free(): lock-less, from any CPU (into the pool: after release_cnt++).
      if (pointHook !== null) pointHook(Point.ACCESS_WRITE, pool + this.PP_RELEASE_ITEMS, 8);
      llistAdd(u32, item + ITEM_LENTRY, pool + this.PP_RELEASE_ITEMS);
      return;
    }
    this.slowBlockPut(pool, block, 1);
  }

  /** `refcount_sub_and_test(nr, &block->ref)`, freeing the block at 0. */
  private slowBlockPut(pool: number, block: number, nr: number): void {
    if (pointHook !== null) pointHook(Point.ACCESS_WRITE, block + this.BLK_REF, 4);
    const ref = Atomics.sub(this.u32, (block + this.BLK_REF) >>> 2, nr) - nr;
    if (ref !== 0) return;
    if (pointHook !== null) pointHook(Point.ITEM_SLOW_REF_ZERO, block, 0);
    // __page_pool_slow_item_free()
    const mem = this.mem;
    spinLock(mem, pool + this.PP_ITEM_LOCK);
    mem.listDel(block + this.BLK_LIST);
    spinUnlock(mem, pool + this.PP_ITEM_LOCK);
    // pool->slow_items stays as it is: only its owner writes it, and next_to_use guards the stale block.
    this.m.pa.putPage(mem.virtToPage(block));
  }

  // ---------------------------------------------------------------- destroy

  /** First scrub of every pool: `page_pool_slow_item_drain()` (v11 runs it first thing in destroy). */
  onFirstScrub(pool: number): void {
    this.slowItemDrain(pool);
  }

  /**
   * `page_pool_destroy()` with pages still in flight (v11, `page_pool_item_unmap()`): stop syncing,
   * `synchronize_net()` so every return that read `destroy_cnt == 0` has finished its lockless
   * unmap, then scan every block (unlocked, as v11 does: hazard (b) of KERNEL-FACTS §3). An item seen MAPPED without the lock
   * is released through `__page_pool_release_page_dma()`, which re-derives the item from
   * `page->pp_item` and re-tests MAPPED under `item_lock` — whoever locks first unmaps, once.
   */
  onDestroyInflight(pool: number): void {
    const mem = this.mem;
    if (!poolDmaMap(this.u32, this.o, pool)) return;
    Atomics.and(this.u32, (pool + this.o.dmaSync.off) >>> 2, ~this.o.dmaSync.mask);
    synchronizeNet(mem);
    const head = pool + this.PP_ITEM_BLOCKS;
    for (let e = mem.rdPtr(head); e !== head; e = mem.rdPtr(e)) {
      const block = e - this.BLK_LIST;
      if (pointHook !== null) {
        pointHook(Point.ITEM_SCAN_NEXT_BLOCK, block, 0);
        pointHook(Point.ACCESS_READ, block, 32);
      }
      for (let i = 0; i < this.ITEMS_PER_PAGE; i++) {
        const item = this.itemAt(block, i);
        if ((Atomics.load(this.u32, (item + ITEM_STATE) >>> 2) & PAGE_POOL_ITEM_MAPPED) === 0) continue;
        if (pointHook !== null) pointHook(Point.ITEM_SCAN_TEST_MAPPED, item, 0);
        this.releaseDma(pool, mem.rdPtr(item + ITEM_PP_NETMEM));
      }
    }
  }

  /** `page_pool_slow_item_drain()`: the current slow block's unused items will never be used. */
  private slowItemDrain(pool: number): void {
    const mem = this.mem;
    const block = mem.rdPtr(pool + this.PP_SLOW_BLOCK);
    const next = mem.rd32(pool + this.PP_SLOW_NEXT_TO_USE);
    if (block === 0 || next >= this.ITEMS_PER_PAGE) return;
    mem.wr32(pool + this.PP_SLOW_NEXT_TO_USE, this.ITEMS_PER_PAGE);
    this.slowBlockPut(pool, block, this.ITEMS_PER_PAGE - next);
  }

  // ---------------------------------------------------------------- memory, introspection

  forEachBlock(pool: number, cb: (block: number, slow: boolean) => void): void {
    const mem = this.mem;
    const head = pool + this.PP_ITEM_BLOCKS;
    for (let e = mem.rdPtr(head); e !== head; ) {
      const next = mem.rdPtr(e);
      const block = e - this.BLK_LIST;
      cb(block, this.BLK_FLAGS >= 0 && (mem.rd32(block + this.BLK_FLAGS) & PAGE_POOL_SLOW_ITEM_BLOCK_BIT) !== 0);
      e = next;
    }
  }

  /** v11 `page_pool_nl_fill_item_mem_info()`: the two attributes page_pool_nl_fill() appends. */
  nlFill(pool: number): Readonly<Record<string, number>> {
    return { item_mem_resident: this.itemMemResident(pool), item_mem_used: this.itemMemUsed(pool) };
  }

  /** netlink `item_mem_resident`: PAGE_SIZE per block. */
  itemMemResident(pool: number): number {
    let n = 0;
    this.forEachBlock(pool, () => (n += this.mem.pageSize));
    return n;
  }

  /** netlink `item_mem_used`: PAGE_SIZE per fast block, PAGE_SIZE - 16 * ref per slow block. */
  itemMemUsed(pool: number): number {
    let n = 0;
    this.forEachBlock(pool, (block, slow) => {
      n += slow ? this.mem.pageSize - this.ITEM_SIZE * this.mem.rd32(block + this.BLK_REF) : this.mem.pageSize;
    });
    return n;
  }

  usage(pool: number): TrackingUsage {
    let fast = 0;
    let slow = 0;
    this.forEachBlock(pool, (_b, isSlow) => (isSlow ? slow++ : fast++));
    // Every page the pool holds or has out carries one item.
    const o = this.o;
    const tracked = (this.u32[(pool + o.holdCnt) >>> 2]! - this.u32[(pool + o.releaseCnt) >>> 2]!) | 0;
    return {
      trackedPages: tracked,
      bytes: this.itemMemResident(pool),
      units: { "item blocks (fast)": fast, "item blocks (slow)": slow },
      slotsPerUnit: this.ITEMS_PER_PAGE,
    };
  }

  /** Frame accounting: item blocks of every live pool. */
  claimer(): FrameClaimer {
    return (c) => {
      const mem = c.mem;
      forEachPoolOnMachine(mem, (pool) => this.forEachBlock(pool, (block) => c.claimPage(mem.virtToPage(block), "item blocks")));
    };
  }

  /** An address inside an item block of a live pool: the header field, or the item and its state. */
  describeAddress(addr: number): readonly string[] | null {
    const block = addr & this.pageMaskLo;
    let owner = 0;
    forEachPoolOnMachine(this.mem, (pool) => this.forEachBlock(pool, (b) => (b === block ? (owner = pool) : 0)));
    if (owner === 0) return null;
    const off = addr - block;
    if (off < this.ITEMS_OFF) return [`item block header of pool ${hexAddr(owner)}, offset ${off}`];
    const index = Math.floor((off - this.ITEMS_OFF) / this.ITEM_SIZE);
    if (index >= this.ITEMS_PER_PAGE) return [`item block tail of pool ${hexAddr(owner)} (past items[${this.ITEMS_PER_PAGE - 1}])`];
    const item = this.itemAt(block, index);
    const state = this.mem.rd32(item + ITEM_STATE);
    return [`items[${index}] of block ${hexAddr(block)}, pool ${hexAddr(owner)}; state ${hexAddr(state)} (${itemStateText(state)})`];
  }

  /** The page's item: its block, index and state. */
  describePage(page: number): readonly string[] {
    const item = this.mem.rdPtr(page + PAGE_PP_ITEM);
    if (item === 0) return ["pp_item NULL: no item"];
    const block = this.itemToBlockChecked(item);
    if (block === 0) return [`pp_item ${hexAddr(item)} is not an item slot of a live block`];
    const state = this.mem.rd32(item + ITEM_STATE);
    return [`pp_item ${hexAddr(item)}: items[${this.itemIndex(item)}] of block ${hexAddr(block)}; state ${hexAddr(state)} (${itemStateText(state)})`];
  }
}

const hexAddr = (n: number): string => "0x" + (n >>> 0).toString(16).padStart(8, "0");

/** `item->state` as its bit names. */
export function itemStateText(state: number): string {
  const bits: string[] = [];
  if (state & PAGE_POOL_ITEM_USED) bits.push("USED");
  if (state & PAGE_POOL_ITEM_MAPPED) bits.push("MAPPED");
  return bits.length ? bits.join("|") : "free";
}

export const ITEM_BLOCK: TrackingLayout = {
  name: "item-block",
  summary: "page->pp_item points into a page-sized block of items; block->pp names the pool; destroy scans the blocks",
  tracksInflight: true,
  pageWords: {
    pp_magic: "PP_SIGNATURE",
    pp: "pp_item: the page's item;\nitem & PAGE_MASK = block,\nblock->pp = the pool",
    _pp_mapping_pad: "never written",
    dma_addr: "DMA address, 0 = unmapped",
    pp_ref_count: "page_pool refs, 1 after alloc",
    _refcount: "recycled only while 1",
  },
  poolOfText: "(page->pp_item & PAGE_MASK)->pp",
  atDestroy: "destroy walks every block,\nunmaps each MAPPED item",
  inflightTracking: `item blocks (1 page, ${itemGeometry("v11", LP64, "4k").ITEMS_PER_PAGE} items)\non pool->item_blocks`,
  paperBytesPerPage: (arch) => {
    const g = itemGeometry("v11", arch, "4k");
    return `${g.itemSize} (item)\n${Math.round((g.pageSize / g.ITEMS_PER_PAGE) * 100) / 100} with block header`;
  },
  status: "posted v5–v11, not merged",
  membershipText: ppMagicMembershipText,
  userMappable: true,
  make: (ctx) => new ItemBlockTracking(ITEM_BLOCK, ctx),
};

registerBuild({
  name: "v11",
  id: 11,
  layout: ITEM_BLOCK,
  isLayoutDefault: true,
  summary: "Yunsheng Lin's item blocks, v11 (7 Mar 2025, net-next ≈ v6.15 base; not merged)",
  variant: "v11",
  structs: POOL_STRUCTS_V11,
  ppMagicMask: archConsts(LP64).PP_MAGIC_MASK_CLASSIC,
  // The series' own bench_page_pool_simple figures (v7 patches 1-5, same E5-1650 v4 as classic's).
  benchAnchorNs: { page_pool01_fast_path: 5.492, page_pool02_ptr_ring: 15.849, page_pool03_slow: 78.909 },
  // The series' base (net-next of 7 Mar 2025) behaves as v6.15: 43130d02baa1 was in from Feb 2025;
  // 271683bb2cf3 (May 2025) and the PREEMPT_RT check came after it.
  switches: V6_15_SWITCHES,

});
