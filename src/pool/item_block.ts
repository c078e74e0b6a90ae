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
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf } from "../mem/ctype.js";
import { ITEM_BLOCK_OF, STRUCT_PAGE_POOL_ITEM, type BlockVariant, PP_ALLOC_CACHE_SIZE } from "../mem/structs.js";
import * as PHYS from "../mem/physmem.js";
const { MACH_PP_CHECKS, MACH_POOLS } = PHYS;
import * as PAGE from "../mem/page.js";
const { PAGE_PP_MAGIC, PAGE_PP_ITEM, DIRECT_MAP_HI, VMEMMAP_HI } = PAGE;
import { GFP_ZERO } from "../mem/buddy.js";
import { Diag } from "../mem/diag.js";
import { llistAdd, llistAddLocked, llistDelAll } from "../mem/llist.js";
import { itemGeometry, itemTarget, type ItemGeometry } from "../mem/item_geometry.js";
import { spinLock, spinUnlock } from "./ptr_ring.js";
import { orPpSignature, isPpPageClassic } from "./classic.js";
import { ppDmaUnmap } from "./pp_dma.js";
import * as T from "./types.js";

// Offsets as module-local consts: V8 folds immutable module-local bindings into the code it
// generates, while every use of an imported binding stays a load from its module cell.
const {
  ENOMEM,
  PP_DESTROY_CNT,
  PP_DMA_MAP,
  PP_DMA_SYNC,
  PP_HOLD_ITEMS,
  PP_ITEM_BLOCKS,
  PP_ITEM_LOCK,
  PP_LIST,
  PP_POOL_SIZE,
  PP_RELEASE_ITEMS,
  PP_SLOW_BLOCK,
  PP_SLOW_NEXT_TO_USE,
  PP_STAT_ITEM_FAST_EMPTY,
  PP_STAT_ITEM_SLOW_FAILED,
} = T;

const ITEM_LAYOUT = layoutOf(STRUCT_PAGE_POOL_ITEM, LP64);
export const ITEM_STATE = offsetOf(ITEM_LAYOUT, "state");
export const ITEM_PP_NETMEM = offsetOf(ITEM_LAYOUT, "pp_netmem");
export const ITEM_LENTRY = offsetOf(ITEM_LAYOUT, "lentry");

/** `item->state` bits (v11). USED is kept only with debug checks on (CONFIG_DEBUG_NET). */
export const PAGE_POOL_ITEM_USED = 1 << 0;
export const PAGE_POOL_ITEM_MAPPED = 1 << 1;
/** `block->flags` bit 0: a dynamically allocated (slow) block. */
export const PAGE_POOL_SLOW_ITEM_BLOCK_BIT = 1 << 0;


export class ItemBlockTracking implements T.Tracking {
  readonly name = "item-block" as const;
  readonly syncAfterRecycle = true;
  readonly geometry: ItemGeometry;
  private readonly mem: PhysMem;
  private readonly u32: Uint32Array;
  private readonly checks: boolean;
  /** Block header offsets for the chosen variant (-1: the variant has no such field). */
  readonly BLK_PP: number;
  readonly BLK_LIST: number;
  readonly BLK_FLAGS: number;
  readonly BLK_REF: number;
  readonly ITEMS_OFF: number;
  readonly ITEM_SIZE: number;
  readonly ITEMS_PER_PAGE: number;
  private readonly pageMaskLo: number;

  constructor(
    private readonly m: Machine,
    private readonly dma: Dma,
    readonly variant: BlockVariant = "v11",
  ) {
    this.mem = m.mem;
    this.u32 = m.mem.u32;
    this.checks = m.mem.rd32(m.mem.machine + MACH_PP_CHECKS) !== 0;
    const g = itemGeometry(variant, LP64, m.mem.pageSize);
    const bl = layoutOf(ITEM_BLOCK_OF[variant], LP64);
    this.geometry = g;
    this.BLK_PP = offsetOf(bl, "pp");
    this.BLK_LIST = offsetOf(bl, "list");
    this.BLK_FLAGS = bl.off.flags ?? -1;
    this.BLK_REF = bl.off.ref ?? -1;
    this.ITEMS_OFF = g.itemsOffset;
    this.ITEM_SIZE = g.itemSize;
    this.ITEMS_PER_PAGE = g.ITEMS_PER_PAGE;
    this.pageMaskLo = m.mem.pageMaskLo;
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

  isPpPage(page: number): boolean {
    return isPpPageClassic(this.u32, page);
  }

  // ---------------------------------------------------------------- init / uninit

  /** `page_pool_item_init()`: zeroed blocks until `2 * pool_size + 128 + 512` items are covered. */
  init(pool: number): number {
    const mem = this.mem;
    mem.listInit(pool + PP_ITEM_BLOCKS);
    mem.wr64(pool + PP_HOLD_ITEMS, 0, 0);
    mem.wr64(pool + PP_RELEASE_ITEMS, 0, 0);
    mem.wr32(pool + PP_ITEM_LOCK, 0);
    mem.wr64(pool + PP_SLOW_BLOCK, 0, 0);
    mem.wr32(pool + PP_SLOW_NEXT_TO_USE, 0);
    const target = itemTarget(mem.rd32(pool + PP_POOL_SIZE), PP_ALLOC_CACHE_SIZE);
    for (let cnt = target; cnt > 0; cnt -= this.ITEMS_PER_PAGE) {
      const page = this.m.pa.allocPages(0, GFP_ZERO);
      if (page === 0) {
        this.uninit(pool);
        return -ENOMEM;
      }
      const block = mem.pageAddress(page);
      mem.wrPtr(block + this.BLK_PP, pool);
      mem.listAdd(block + this.BLK_LIST, pool + PP_ITEM_BLOCKS);
      for (let i = 0; i < this.ITEMS_PER_PAGE; i++) {
        llistAddLocked(this.u32, this.itemAt(block, i) + ITEM_LENTRY, pool + PP_HOLD_ITEMS);
      }
    }
    return 0;
  }

  /** `page_pool_item_uninit()`: free every block, warning about a slow block still referenced. */
  uninit(pool: number): void {
    const mem = this.mem;
    const head = pool + PP_ITEM_BLOCKS;
    while (!mem.listEmpty(head)) {
      const block = mem.rdPtr(head) - this.BLK_LIST;
      mem.listDel(block + this.BLK_LIST);
      if (this.BLK_REF >= 0 && mem.rd32(block + this.BLK_REF) !== 0) {
        mem.diag(Diag.PP_ITEM_BLOCK_REF, block, mem.rd32(block + this.BLK_REF));
      }
      this.m.pa.putPage(mem.virtToPage(block));
    }
    mem.wr64(pool + PP_HOLD_ITEMS, 0, 0);
    mem.wr64(pool + PP_RELEASE_ITEMS, 0, 0);
  }

  // ---------------------------------------------------------------- attach / release

  /** `page_pool_fast_item_alloc()`: pop hold_items, refilling it from release_items. */
  private fastItemAlloc(pool: number): number {
    const u32 = this.u32;
    const h = (pool + PP_HOLD_ITEMS) >>> 2;
    let first = u32[h]!;
    if (first === 0) {
      first = llistDelAll(u32, pool + PP_RELEASE_ITEMS);
      if (first === 0) {
        this.mem.inc64(pool + PP_STAT_ITEM_FAST_EMPTY);
        return 0;
      }
    }
    const next = u32[first >>> 2]!;
    u32[h] = next;
    u32[h + 1] = next === 0 ? 0 : DIRECT_MAP_HI;
    return first - ITEM_LENTRY;
  }

  /** `page_pool_slow_item_alloc()`: the next unused item of the current slow block. */
  private slowItemAlloc(pool: number): number {
    const mem = this.mem;
    if (this.BLK_REF < 0) return 0; // the v9 patch-2 header has no slow blocks
    let block = mem.rdPtr(pool + PP_SLOW_BLOCK);
    let next = mem.rd32(pool + PP_SLOW_NEXT_TO_USE);
    if (block === 0 || next >= this.ITEMS_PER_PAGE) {
      const page = this.m.pa.allocPages(0, GFP_ZERO);
      if (page === 0) {
        mem.inc64(pool + PP_STAT_ITEM_SLOW_FAILED);
        return 0;
      }
      block = mem.pageAddress(page);
      mem.wrPtr(block + this.BLK_PP, pool);
      mem.wr32(block + this.BLK_FLAGS, mem.rd32(block + this.BLK_FLAGS) | PAGE_POOL_SLOW_ITEM_BLOCK_BIT);
      mem.wr32(block + this.BLK_REF, this.ITEMS_PER_PAGE);
      mem.wrPtr(pool + PP_SLOW_BLOCK, block);
      next = 0;
      spinLock(mem.i32, pool + PP_ITEM_LOCK);
      mem.listAdd(block + this.BLK_LIST, pool + PP_ITEM_BLOCKS);
      spinUnlock(mem.i32, pool + PP_ITEM_LOCK);
    }
    mem.wr32(pool + PP_SLOW_NEXT_TO_USE, next + 1);
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
    orPpSignature(u32, page);
    return true;
  }

  /** After a successful map: MAPPED, set non-atomically (only the owner context maps). */
  onMapped(_pool: number, page: number): boolean {
    const u32 = this.u32;
    u32[(u32[(page + PAGE_PP_ITEM) >>> 2]! + ITEM_STATE) >>> 2]! |= PAGE_POOL_ITEM_MAPPED;
    return true;
  }

  /**
   * `__page_pool_release_page_dma()` (v11): before destroy, unmap without the lock (no scan can
   * race); after destroy, under `item_lock`, and only if the scan has not unmapped it already.
   */
  releaseDma(pool: number, page: number): void {
    const u32 = this.u32;
    if (u32[(pool + PP_DMA_MAP) >>> 2] === 0) return;
    const destroyed = u32[(pool + PP_DESTROY_CNT) >>> 2] !== 0 || u32[((pool + PP_DESTROY_CNT) >>> 2) + 1] !== 0;
    if (!destroyed) {
      this.unmapItem(pool, page);
      return;
    }
    spinLock(this.mem.i32, pool + PP_ITEM_LOCK);
    const item = u32[(page + PAGE_PP_ITEM) >>> 2]!;
    if (item !== 0 && (Atomics.load(u32, (item + ITEM_STATE) >>> 2) & PAGE_POOL_ITEM_MAPPED) !== 0) {
      this.unmapItem(pool, page);
    }
    spinUnlock(this.mem.i32, pool + PP_ITEM_LOCK);
  }

  private unmapItem(pool: number, page: number): void {
    const item = this.u32[(page + PAGE_PP_ITEM) >>> 2]!;
    ppDmaUnmap(this.mem, this.dma, pool, page);
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
        this.mem.diag(Diag.PP_WARN, item, state);
      }
      u32[(item + ITEM_STATE) >>> 2]! &= ~PAGE_POOL_ITEM_USED;
    }
    const p = (page + PAGE_PP_ITEM) >>> 2;
    u32[p] = 0;
    u32[p + 1] = 0;
    const block = item & this.pageMaskLo;
    if (this.BLK_FLAGS < 0 || (u32[(block + this.BLK_FLAGS) >>> 2]! & PAGE_POOL_SLOW_ITEM_BLOCK_BIT) === 0) {
      // page_pool_fast_item_free(): lock-less, from any CPU.
      llistAdd(u32, item + ITEM_LENTRY, pool + PP_RELEASE_ITEMS);
      return;
    }
    this.slowBlockPut(pool, block, 1);
  }

  /** `refcount_sub_and_test(nr, &block->ref)`, freeing the block at 0. */
  private slowBlockPut(pool: number, block: number, nr: number): void {
    const ref = Atomics.sub(this.u32, (block + this.BLK_REF) >>> 2, nr) - nr;
    if (ref !== 0) return;
    // __page_pool_slow_item_free()
    const mem = this.mem;
    spinLock(mem.i32, pool + PP_ITEM_LOCK);
    mem.listDel(block + this.BLK_LIST);
    spinUnlock(mem.i32, pool + PP_ITEM_LOCK);
    // pool->slow_items stays as it is: only its owner writes it, and next_to_use guards the stale block.
    this.m.pa.putPage(mem.virtToPage(block));
  }

  // ---------------------------------------------------------------- destroy

  /** First scrub of every pool: `page_pool_slow_item_drain()` (v11 runs it first thing in destroy). */
  onFirstScrub(pool: number): void {
    this.slowItemDrain(pool);
  }

  /**
   * `page_pool_destroy()` with pages still in flight (v11): stop syncing (then synchronize_net(), a
   * no-op here: no return is mid-sync), and scan every block. An item seen MAPPED without the lock
   * is released through `__page_pool_release_page_dma()`, which re-derives the item from
   * `page->pp_item` and re-tests MAPPED under `item_lock` — whoever locks first unmaps, once.
   */
  onDestroyInflight(pool: number): void {
    const mem = this.mem;
    if (mem.rd32(pool + PP_DMA_MAP) === 0) return;
    mem.wr32(pool + PP_DMA_SYNC, 0);
    const head = pool + PP_ITEM_BLOCKS;
    for (let e = mem.rdPtr(head); e !== head; e = mem.rdPtr(e)) {
      const block = e - this.BLK_LIST;
      for (let i = 0; i < this.ITEMS_PER_PAGE; i++) {
        const item = this.itemAt(block, i);
        if ((Atomics.load(this.u32, (item + ITEM_STATE) >>> 2) & PAGE_POOL_ITEM_MAPPED) === 0) continue;
        this.releaseDma(pool, mem.rdPtr(item + ITEM_PP_NETMEM));
      }
    }
  }

  /** `page_pool_slow_item_drain()`: the current slow block's unused items will never be used. */
  private slowItemDrain(pool: number): void {
    const mem = this.mem;
    const block = mem.rdPtr(pool + PP_SLOW_BLOCK);
    const next = mem.rd32(pool + PP_SLOW_NEXT_TO_USE);
    if (block === 0 || next >= this.ITEMS_PER_PAGE) return;
    mem.wr32(pool + PP_SLOW_NEXT_TO_USE, this.ITEMS_PER_PAGE);
    this.slowBlockPut(pool, block, this.ITEMS_PER_PAGE - next);
  }

  // ---------------------------------------------------------------- memory, introspection

  forEachBlock(pool: number, cb: (block: number, slow: boolean) => void): void {
    const mem = this.mem;
    const head = pool + PP_ITEM_BLOCKS;
    for (let e = mem.rdPtr(head); e !== head; ) {
      const next = mem.rdPtr(e);
      const block = e - this.BLK_LIST;
      cb(block, this.BLK_FLAGS >= 0 && (mem.rd32(block + this.BLK_FLAGS) & PAGE_POOL_SLOW_ITEM_BLOCK_BIT) !== 0);
      e = next;
    }
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

  trackingBytes(pool: number): number {
    return this.itemMemResident(pool);
  }

  /** Frame accounting: item blocks of every live pool. */
  claimer(): FrameClaimer {
    return (c) => {
      const mem = c.mem;
      this.forEachPoolOnMachine((pool) => this.forEachBlock(pool, (block) => c.claimPage(mem.virtToPage(block), "item blocks")));
    };
  }

  private forEachPoolOnMachine(cb: (pool: number) => void): void {
    const mem = this.mem;
    const head = mem.machine + MACH_POOLS;
    for (let e = mem.rdPtr(head); e !== head; e = mem.rdPtr(e)) cb(e - PP_LIST);
  }
}
