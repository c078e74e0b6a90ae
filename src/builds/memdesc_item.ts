/**
 * The memdesc-item layout: page_pool once `struct page` has shrunk to Matthew Wilcox's one-word
 * memdesc (declarations, sources and the choices made: memdesc_item_structs.ts). A pool page's
 * memdesc word is `item | MEMDESC_TYPE_NETPOOL`; the item is the page's descriptor and carries what
 * struct page carried for page_pool, at netmem_desc's offsets, so the mechanism's `netmem_to_nmdesc()`
 * (src/pool/nmdesc.ts) returns the item and nothing else in page_pool.c changes:
 *
 *   struct page (memdesc word)        item block (one frame)
 *   ┌─────────────────────────┐      ┌──────────────────────────────────────────────────┐ ◀ item & PAGE_MASK
 *   │ memdesc = item | 10     │ ──┐  │ pp ──▶ struct page_pool   list                   │
 *   └─────────────────────────┘   │  ├───────────────┬───────────────┬─────┬────────────┤
 *                                 └▶ │ items[0]      │ items[1]      │ ... │ items[83]  │
 *                                    └───────────────┴───────────────┴─────┴────────────┘
 *   item (48 B, __aligned(16)) = struct netmem_desc desc: _flags = state (USED|MAPPED), pp_magic,
 *                                pp, _pp_mapping_pad = page back-pointer / lentry, dma_addr, pp_ref_count
 *
 * Membership is the memdesc type (`memdesc_type(page->memdesc) == MEMDESC_NETPOOL`), and the page
 * allocator's "page_pool leak" is keyed on it (src/mem/buddy.ts). Items are recycled through
 * `hold_items` (owner only) and `release_items` (llist, any CPU), as v11's fast items; when both are
 * empty a new block is added (chosen: descriptors are allocated on demand, no slow items). Destroy
 * walks every block and unmaps each MAPPED item; a return and the walk race on the MAPPED bit
 * (`atomic and`, the winner unmaps), the role mainline's `xa_cmpxchg` plays.
 *
 * In the emulator the memmap keeps its 64-byte struct pages for the page allocator (flags,
 * _refcount, buddy links, compound heads): the machine's allocator is not memdesc-converted. The
 * page_pool reads and writes only the memdesc word of a pool page's struct page.
 *
 * Bench note: `recycleDirect`'s flat path reads the pool fields in the page itself, so this layout
 * takes `putPage`'s general path (PagePools.nmdesc); its fast-path time includes that, while the
 * cost model counts only the emulated accesses (the memdesc word read is the extra load).
 */
import type { Machine } from "../mem/machine.js";
import type { PhysMem } from "../mem/physmem.js";
import type { Dma } from "../dma/index.js";
import type { FrameClaimer } from "../mem/accounting.js";
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf } from "../mem/ctype.js";
import * as PHYS from "../mem/physmem.js";
const { MACH_PP_CHECKS } = PHYS;
import * as PAGE from "../mem/page.js";
const { DIRECT_MAP_HI, VMEMMAP_HI } = PAGE;
import { GFP_ZERO } from "../mem/buddy.js";
import { Diag } from "../mem/diag.js";
import { llistAdd, llistHoldFirst, llistTake } from "../mem/llist.js";
import { freeItemBlocks } from "./item_block.js";
import { spinLock, spinUnlock } from "../smp/spinlock.js";
import { synchronizeNet } from "../smp/rcu.js";
import { pointHook, Point } from "../explore/points.js";
import { orPpSignature, setPpInfoPp, clearPpInfoPp, isPpPageMasked } from "../pool/pp_info.js";
import { ppDmaUnmap, poolDmaMap } from "../pool/pp_dma.js";
import * as NMDESC from "../pool/nmdesc.js";
const { NET_IOV } = NMDESC;
import type { PoolOffsets } from "../pool/pool_offsets.js";
import { forEachPoolOnMachine } from "../pool/pool_list.js";
import { registerBuild } from "./registry.js";
import { V6_16_SWITCHES, XA_MASK } from "./xarray.js";
import type { Tracking, TrackingContext, TrackingLayout, TrackingUsage } from "./types.js";
import {
  MEMDESC_TYPE_MASK,
  MEMDESC_TYPE_NETPOOL,
  POOL_STRUCTS_MEMDESC_ITEM,
  STRUCT_PAGE_MEMDESC,
  STRUCT_PP_MEMDESC_ITEM,
  STRUCT_PP_MEMDESC_ITEM_BLOCK,
  memdescItemGeometry,
  memdescWordOffset,
  type MemdescItemGeometry,
} from "./memdesc_item_structs.js";

const ITEM_LAYOUT = layoutOf(STRUCT_PP_MEMDESC_ITEM, LP64);
/** The item's own state bits: `state`, which is `desc._flags`. */
export const MD_ITEM_FLAGS = offsetOf(ITEM_LAYOUT, "state");
export const MD_ITEM_PP_MAGIC = offsetOf(ITEM_LAYOUT, "desc.pp_magic");
export const MD_ITEM_PP = offsetOf(ITEM_LAYOUT, "desc.pp");
export const MD_ITEM_DMA_ADDR = offsetOf(ITEM_LAYOUT, "desc.dma_addr");
export const MD_ITEM_PP_REF_COUNT = offsetOf(ITEM_LAYOUT, "desc.pp_ref_count");
export const MD_ITEM_PAGE = offsetOf(ITEM_LAYOUT, "page");
export const MD_ITEM_LENTRY = offsetOf(ITEM_LAYOUT, "lentry");
const BLOCK_LAYOUT = layoutOf(STRUCT_PP_MEMDESC_ITEM_BLOCK, LP64);
const BLK_PP = offsetOf(BLOCK_LAYOUT, "pp");
const BLK_LIST = offsetOf(BLOCK_LAYOUT, "list");
/** The memdesc word's offset in the emulator's struct page (compound_head's word). */
export const PAGE_MEMDESC = memdescWordOffset(LP64);

// The item is the page's netmem_desc: its fields sit where NMDESC_* says (the one-pointer swap).
for (const [name, a, b] of [
  ["pp_magic", MD_ITEM_PP_MAGIC, NMDESC.NMDESC_PP_MAGIC],
  ["pp", MD_ITEM_PP, NMDESC.NMDESC_PP],
  ["dma_addr", MD_ITEM_DMA_ADDR, NMDESC.NMDESC_DMA_ADDR],
  ["pp_ref_count", MD_ITEM_PP_REF_COUNT, NMDESC.NMDESC_PP_REF_COUNT],
] as const) {
  if (a !== b) throw new Error(`ppemu: memdesc item ${name} at ${a}, netmem_desc's at ${b}`);
}

/** `state` (= `desc._flags`) bits of an item (v11's item->state bits; USED only with the machine's checks on). */
export const MD_ITEM_USED = 1 << 0;
export const MD_ITEM_MAPPED = 1 << 1;

const hexAddr = (n: number): string => "0x" + (n >>> 0).toString(16).padStart(8, "0");

export class MemdescItemTracking implements Tracking {
  readonly syncAfterRecycle = false;
  readonly geometry: MemdescItemGeometry;
  private readonly m: Machine;
  private readonly mem: PhysMem;
  private readonly u32: Uint32Array;
  private readonly dma: Dma;
  private readonly o: PoolOffsets;
  private readonly checks: boolean;
  private readonly refInit: boolean;
  private readonly pageMaskLo: number;
  readonly ITEMS_OFF: number;
  readonly ITEM_SIZE: number;
  readonly ITEMS_PER_PAGE: number;
  private readonly PP_HOLD_ITEMS: number;
  private readonly PP_RELEASE_ITEMS: number;
  private readonly PP_ITEM_BLOCKS: number;
  private readonly PP_ITEM_LOCK: number;

  constructor(
    readonly layout: TrackingLayout,
    ctx: TrackingContext,
  ) {
    this.m = ctx.m;
    this.mem = ctx.m.mem;
    this.u32 = ctx.m.mem.u32;
    this.dma = ctx.dma;
    this.o = ctx.pool;
    this.checks = this.mem.rd32(this.mem.machine + MACH_PP_CHECKS) !== 0;
    this.refInit = ctx.build.switches.ppRefCountInit;
    this.pageMaskLo = this.mem.pageMaskLo;
    const g = memdescItemGeometry(LP64, this.mem.pageSize);
    this.geometry = g;
    this.ITEMS_OFF = g.itemsOffset;
    this.ITEM_SIZE = g.itemSize;
    this.ITEMS_PER_PAGE = g.ITEMS_PER_PAGE;
    this.PP_HOLD_ITEMS = this.o.need("hold_items");
    this.PP_RELEASE_ITEMS = this.o.need("release_items");
    this.PP_ITEM_BLOCKS = this.o.need("item_blocks");
    this.PP_ITEM_LOCK = this.o.need("item_lock");
  }

  // ---------------------------------------------------------------- the memdesc word

  /**
   * `netmem_to_nmdesc()`: a pool page's item (the memdesc word's pointer); a net_iov's own `desc`
   * (bit 0, NET_IOV: a net_iov embeds its netmem_desc, so it needs no item).
   */
  nmdesc(page: number): number {
    if ((page & NET_IOV) !== 0) return page;
    return (this.u32[(page + PAGE_MEMDESC) >>> 2]! & ~MEMDESC_TYPE_MASK) >>> 0;
  }

  /** Membership: `memdesc_type(page->memdesc) == MEMDESC_NETPOOL`; a net_iov by its desc's pp_magic. */
  isPpPage(page: number): boolean {
    if ((page & NET_IOV) !== 0) return isPpPageMasked(this.u32, page, XA_MASK.hi, XA_MASK.lo);
    return (this.u32[(page + PAGE_MEMDESC) >>> 2]! & MEMDESC_TYPE_MASK) === MEMDESC_TYPE_NETPOOL;
  }

  /** `netmem_get_pp()`: `netmem_to_nmdesc(netmem)->pp`, the item's. */
  poolOf(page: number): number {
    return this.u32[(this.nmdesc(page) + MD_ITEM_PP) >>> 2]!;
  }

  itemToBlock(item: number): number {
    return item & this.pageMaskLo;
  }

  itemIndex(item: number): number {
    return (item - (item & this.pageMaskLo) - this.ITEMS_OFF) / this.ITEM_SIZE;
  }

  itemAt(block: number, index: number): number {
    return block + this.ITEMS_OFF + index * this.ITEM_SIZE;
  }

  // ---------------------------------------------------------------- init / uninit

  /** No blocks at init: descriptors come on demand. */
  init(pool: number): number {
    const mem = this.mem;
    mem.listInit(pool + this.PP_ITEM_BLOCKS);
    mem.wr64(pool + this.PP_HOLD_ITEMS, 0, 0);
    mem.wr64(pool + this.PP_RELEASE_ITEMS, 0, 0);
    mem.wr32(pool + this.PP_ITEM_LOCK, 0);
    return 0;
  }

  /** Free every block (every item is back by now: in-flight reached 0). */
  uninit(pool: number): void {
    const mem = this.mem;
    freeItemBlocks(this.m, pool + this.PP_ITEM_BLOCKS, BLK_LIST);
    mem.wr64(pool + this.PP_HOLD_ITEMS, 0, 0);
    mem.wr64(pool + this.PP_RELEASE_ITEMS, 0, 0);
  }

  // ---------------------------------------------------------------- attach / release

  /** Pop `hold_items`, refilling it from `release_items` (v11's page_pool_fast_item_alloc()). */
  private itemAlloc(pool: number): number {
    let first = llistHoldFirst(this.u32, pool + this.PP_HOLD_ITEMS, pool + this.PP_RELEASE_ITEMS);
    if (first === 0) first = this.addBlock(pool);
    if (first === 0) return 0;
    return llistTake(this.u32, pool + this.PP_HOLD_ITEMS, first) - MD_ITEM_LENTRY;
  }

  /** A new zeroed block on `item_blocks`, its items chained; the first item's lentry, or 0. */
  private addBlock(pool: number): number {
    const mem = this.mem;
    const page = this.m.pa.allocPages(0, GFP_ZERO);
    if (page === 0) return 0;
    const block = mem.pageAddress(page);
    mem.wrPtr(block + BLK_PP, pool);
    spinLock(mem, pool + this.PP_ITEM_LOCK);
    mem.listAdd(block + BLK_LIST, pool + this.PP_ITEM_BLOCKS);
    spinUnlock(mem, pool + this.PP_ITEM_LOCK);
    for (let i = 0; i < this.ITEMS_PER_PAGE - 1; i++) {
      mem.wrPtr(this.itemAt(block, i) + MD_ITEM_LENTRY, this.itemAt(block, i + 1) + MD_ITEM_LENTRY);
    }
    return this.itemAt(block, 0) + MD_ITEM_LENTRY;
  }

  /** `page_pool_set_pp_info()`: the item becomes the page's descriptor, the memdesc word names it. */
  setPpInfo(pool: number, page: number): boolean {
    const u32 = this.u32;
    if ((page & NET_IOV) !== 0) {
      setPpInfoPp(u32, pool, page, this.refInit); // the net_iov's own desc: pp_magic, pp, pp_ref_count
      return true;
    }
    const item = this.itemAlloc(pool);
    if (item === 0) return false;
    const p = (item + MD_ITEM_PAGE) >>> 2;
    u32[p] = page;
    u32[p + 1] = VMEMMAP_HI;
    const pp = (item + MD_ITEM_PP) >>> 2;
    u32[pp] = pool;
    u32[pp + 1] = DIRECT_MAP_HI;
    if (this.checks) u32[(item + MD_ITEM_FLAGS) >>> 2]! |= MD_ITEM_USED;
    // pp_magic keeps PP_SIGNATURE in the descriptor (chosen: membership is the memdesc type).
    orPpSignature(u32, item, this.refInit);
    const w = (page + PAGE_MEMDESC) >>> 2;
    u32[w] = (item | MEMDESC_TYPE_NETPOOL) >>> 0;
    u32[w + 1] = DIRECT_MAP_HI;
    return true;
  }

  /** MAPPED, set non-atomically: only the owner context maps. */
  onMapped(_pool: number, page: number): boolean {
    this.u32[(this.nmdesc(page) + MD_ITEM_FLAGS) >>> 2]! |= MD_ITEM_MAPPED;
    return true;
  }

  ownsMapping(pool: number, page: number): boolean {
    if (!poolDmaMap(this.u32, this.o, pool) || (page & NET_IOV) !== 0 || !this.isPpPage(page)) return false;
    return (Atomics.load(this.u32, (this.nmdesc(page) + MD_ITEM_FLAGS) >>> 2) & MD_ITEM_MAPPED) !== 0;
  }

  releaseDma(pool: number, page: number): void {
    if (!poolDmaMap(this.u32, this.o, pool) || (page & NET_IOV) !== 0) return; // the pool never maps a net_iov
    this.unmapItem(pool, this.nmdesc(page));
  }

  /** Whoever clears MAPPED unmaps (a return, or destroy's walk): once, with the item's dma_addr. */
  private unmapItem(pool: number, item: number): void {
    const old = Atomics.and(this.u32, (item + MD_ITEM_FLAGS) >>> 2, ~MD_ITEM_MAPPED);
    if ((old & MD_ITEM_MAPPED) === 0) return;
    ppDmaUnmap(this.mem, this.dma, this.o, pool, item);
  }

  /** `page_pool_clear_pp_info()`: the memdesc word goes back to the allocator (0), the item to release_items. */
  clearPpInfo(pool: number, page: number): void {
    const u32 = this.u32;
    if ((page & NET_IOV) !== 0) return clearPpInfoPp(u32, page);
    const w = (page + PAGE_MEMDESC) >>> 2;
    if ((u32[w]! & MEMDESC_TYPE_MASK) !== MEMDESC_TYPE_NETPOOL) return;
    const item = this.nmdesc(page);
    if (this.checks) {
      const f = u32[(item + MD_ITEM_FLAGS) >>> 2]!;
      if (u32[(item + MD_ITEM_PAGE) >>> 2] !== page || (f & MD_ITEM_MAPPED) !== 0 || (f & MD_ITEM_USED) === 0) this.mem.diag(Diag.PP_ITEM_STATE, item, f);
      u32[(item + MD_ITEM_FLAGS) >>> 2]! &= ~MD_ITEM_USED;
    }
    u32[w] = 0;
    u32[w + 1] = 0;
    for (const off of [MD_ITEM_PP_MAGIC, MD_ITEM_PP]) {
      u32[(item + off) >>> 2] = 0;
      u32[((item + off) >>> 2) + 1] = 0;
    }
    // As v11's page_pool_fast_item_free(): a push into the pool after release_cnt++ (count-then-clear),
    // the same window v11 has; the race explorer's ACCESS_WRITE point sees it.
    if (pointHook !== null) pointHook(Point.ACCESS_WRITE, pool + this.PP_RELEASE_ITEMS, 8);
    llistAdd(u32, item + MD_ITEM_LENTRY, pool + this.PP_RELEASE_ITEMS);
  }

  // ---------------------------------------------------------------- destroy

  /** First scrub of a DMA pool: stop syncs (then synchronize_net), unmap every MAPPED item. */
  onFirstScrub(pool: number): void {
    const u32 = this.u32;
    if (!poolDmaMap(u32, this.o, pool)) return;
    const sync = this.o.dmaSync;
    const w = (pool + sync.off) >>> 2;
    if ((Atomics.load(u32, w) & sync.mask) !== 0) {
      Atomics.and(u32, w, ~sync.mask);
      if (this.dma.dmaDevNeedSync(this.mem.rdPtr(pool + this.o.dev))) synchronizeNet(this.mem);
    }
    this.forEachBlock(pool, (block) => {
      for (let i = 0; i < this.ITEMS_PER_PAGE; i++) {
        const item = this.itemAt(block, i);
        if ((Atomics.load(u32, (item + MD_ITEM_FLAGS) >>> 2) & MD_ITEM_MAPPED) !== 0) this.unmapItem(pool, item);
      }
    });
  }

  onDestroyInflight(_pool: number): void {}

  // ---------------------------------------------------------------- memory, introspection

  forEachBlock(pool: number, cb: (block: number) => void): void {
    const mem = this.mem;
    const head = pool + this.PP_ITEM_BLOCKS;
    for (let e = mem.rdPtr(head); e !== head; ) {
      const next = mem.rdPtr(e);
      cb(e - BLK_LIST);
      e = next;
    }
  }

  usage(pool: number): TrackingUsage {
    let blocks = 0;
    this.forEachBlock(pool, () => blocks++);
    const o = this.o;
    return {
      trackedPages: (this.u32[(pool + o.holdCnt) >>> 2]! - this.u32[(pool + o.releaseCnt) >>> 2]!) | 0,
      bytes: blocks * this.mem.pageSize,
      units: { "item blocks": blocks },
      slotsPerUnit: this.ITEMS_PER_PAGE,
    };
  }

  claimer(): FrameClaimer {
    return (c) => {
      const mem = c.mem;
      forEachPoolOnMachine(mem, (pool) => this.forEachBlock(pool, (block) => c.claimPage(mem.virtToPage(block), "item blocks")));
    };
  }

  /** The pool whose block holds `addr`, or 0. */
  private blockOwner(block: number): number {
    let owner = 0;
    forEachPoolOnMachine(this.mem, (pool) => this.forEachBlock(pool, (b) => (b === block ? (owner = pool) : 0)));
    return owner;
  }

  describeAddress(addr: number): readonly string[] | null {
    const block = addr & this.pageMaskLo;
    const owner = this.blockOwner(block);
    if (owner === 0) return null;
    const off = addr - block;
    if (off < this.ITEMS_OFF) return [`item block header of pool ${hexAddr(owner)}, offset ${off}`];
    const index = Math.floor((off - this.ITEMS_OFF) / this.ITEM_SIZE);
    if (index >= this.ITEMS_PER_PAGE) return [`item block tail of pool ${hexAddr(owner)} (past items[${this.ITEMS_PER_PAGE - 1}])`];
    return [`items[${index}] of block ${hexAddr(block)}, pool ${hexAddr(owner)}`, ...this.describeItem(this.itemAt(block, index))];
  }

  /** An item as a NetPool descriptor: its flags, the page it describes, its netmem_desc fields. */
  describeItem(item: number): string[] {
    const mem = this.mem;
    const f = mem.rd32(item + MD_ITEM_FLAGS);
    const page = mem.rd32(item + MD_ITEM_PAGE);
    return [
      `state ${hexAddr(f)} (${itemFlagsText(f)}); page ${page === 0 ? "NULL" : hexAddr(page)}`,
      `desc.pp ${hexAddr(mem.rd32(item + MD_ITEM_PP))}, desc.dma_addr ${hexAddr(mem.rd32(item + MD_ITEM_DMA_ADDR))}, desc.pp_ref_count ${mem.rd32(item + MD_ITEM_PP_REF_COUNT)}`,
    ];
  }

  describePage(page: number): readonly string[] {
    const word = this.u32[(page + PAGE_MEMDESC) >>> 2]!;
    const type = word & MEMDESC_TYPE_MASK;
    if (type !== MEMDESC_TYPE_NETPOOL) return [`memdesc ${hexAddr(word)}: type ${type}, not NetPool (${MEMDESC_TYPE_NETPOOL})`];
    const item = this.nmdesc(page);
    const back = this.mem.rd32(item + MD_ITEM_PAGE) === page ? "points back" : "does NOT point back";
    return [
      `memdesc ${hexAddr(word)}: type ${type} (NetPool), descriptor ${hexAddr(item)} = items[${this.itemIndex(item)}] of block ${hexAddr(this.itemToBlock(item))}; item->page ${back}`,
      ...this.describeItem(item),
    ];
  }
}

/** `state` as bit names. */
export function itemFlagsText(f: number): string {
  const bits: string[] = [];
  if (f & MD_ITEM_USED) bits.push("USED");
  if (f & MD_ITEM_MAPPED) bits.push("MAPPED");
  return bits.length ? bits.join("|") : "free";
}

const G4K = memdescItemGeometry(LP64, 4096);

export const MEMDESC_ITEM: TrackingLayout = {
  name: "memdesc-item",
  summary: "struct page is one memdesc word = item | NetPool; the item is the page's netmem_desc; destroy walks the blocks",
  tracksInflight: true,
  ppMagicExample: () => "a pointer, not a magic",
  pageWords: {
    pp_magic: "memdesc word: item | 10 (NetPool)\n(compound_head's word)",
    pp: "gone: item->desc.pp",
    _pp_mapping_pad: "gone",
    dma_addr: "gone: item->desc.dma_addr",
    pp_ref_count: "gone: item->desc.pp_ref_count",
    _refcount: "allocator's (not memdesc-converted\nin the emulator)",
  },
  poolOfText: "((struct page_pool_item *)(page->memdesc & ~0xf))->desc.pp",
  atDestroy: "destroy walks every block,\nunmaps each MAPPED item",
  inflightTracking: `item blocks (1 page, ${G4K.ITEMS_PER_PAGE} items of ${G4K.itemSize} B)\non pool->item_blocks`,
  paperBytesPerPage: (arch) => {
    const g = memdescItemGeometry(arch, 4096);
    return `${g.itemSize} (item)\n${Math.round((g.pageSize / g.ITEMS_PER_PAGE) * 100) / 100} with block header`;
  },
  status: "design: Wilcox's memdesc plan + v11 items; never posted",
  membershipText: () => `memdesc_type(page->memdesc) == MEMDESC_NETPOOL (${MEMDESC_TYPE_NETPOOL})`,
  // A NetPool memdesc is no page_type: vm_insert_page() has nothing to refuse (the plan is silent; chosen).
  userMappable: true,
  structPageBytes: (arch) => layoutOf(STRUCT_PAGE_MEMDESC, arch).size,
  make: (ctx) => new MemdescItemTracking(MEMDESC_ITEM, ctx),
};

registerBuild({
  name: "memdesc-item",
  id: 200,
  layout: MEMDESC_ITEM,
  isLayoutDefault: true,
  summary: "the memdesc future: struct page = one word, page_pool items as NetPool descriptors (on 2026 mainline)",
  structs: POOL_STRUCTS_MEMDESC_ITEM,
  // struct page has no pp_magic any more (word 8 is the memdesc word): the page allocator's "page_pool
  // leak" test is the memdesc type (buddy.ts), never a pp_magic mask. (A net_iov's desc keeps pp_magic,
  // tested under PP_MAGIC_MASK in isPpPage.)
  ppMagicMask: { hi: 0, lo: 0 },
  // On 2026 mainline's mechanism (xarray.ts MAINLINE): clamp, order check, the v6.16 switches.
  switches: { ...V6_16_SWITCHES, poolSizeRule: "clamp", orderCheck: true },
});
