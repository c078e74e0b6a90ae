/**
 * `explain` for what page_pool, its tracking layouts and the DMA model put in memory: a page_pool
 * page (pool, where it sits, its mapping, its item or DMA index), an item block (header field or
 * item, state bits, the page it tracks), a ring queue slot, an IOMMU table entry, a slab object
 * whose struct is known (page_pool, device, stack, iommu, xa_node), and every struct page field.
 *
 * Where a page sits (alloc cache slot, ring entry, stack slot) is walked once at construction, from
 * the pools' own structures; everything else is read from the buffer when asked.
 */
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf, type StructLayout } from "../mem/ctype.js";
import type { PpSystem } from "../pool/index.js";
import type { NetStack } from "../pool/stack.js";
import { STACK_LAYOUT } from "../pool/stack.js";
import {
  ItemBlockTracking,
  ITEM_PP_NETMEM,
  ITEM_STATE,
  PAGE_POOL_ITEM_MAPPED,
  PAGE_POOL_ITEM_USED,
  PAGE_POOL_SLOW_ITEM_BLOCK_BIT,
} from "../builds/item_block.js";
import { XarrayTracking, getDmaIndex } from "../builds/xarray.js";
import { NMDESC_DMA_ADDR, NMDESC_PP_REF_COUNT } from "../pool/nmdesc.js";
import { poolDmaMap } from "../pool/pp_dma.js";
import { PTR_RING_CONSUMER_HEAD, PTR_RING_SIZE } from "../pool/ptr_ring.js";
import { ITEM_BLOCK_OF, STRUCT_PAGE_POOL_ITEM, STRUCT_XA_NODE } from "../mem/structs.js";
import {
  PAGE_FLAGS,
  PAGE_PP_MAGIC,
  PAGE_PP,
  PAGE_MAPPING,
  PAGE_DMA_ADDR,
  PAGE_PP_REF_COUNT,
  PAGE_TYPE,
  PAGE_REFCOUNT,
  PAGE_MEMCG,
  PAGE_INDEX,
  PG_head,
  PG_reserved,
  PG_pp_in_pool,
  PAGE_TYPE_NONE,
  PGTY_buddy,
  PGTY_slab,
  PAGE_TYPE_SHIFT,
  STRUCT_PAGE_SIZE,
  STRUCT_PAGE_SHIFT,
  VMEMMAP_HI,
  PAGE_LAYOUT,
} from "../mem/page.js";
import { MACH_IOMMU, MACH_STACK } from "../mem/physmem.js";
import { explainNetIovObject } from "./explain_niov.js";
import {
  DEVICE_LAYOUT,
  DEV_DOMAIN,
  DOMAIN_PGD,
  IOMMU_LAYOUT,
  IOPTE_LAYOUT,
  IOPTE_SHIFT,
  IOPTE_FLAGS,
  IOPTE_PFN,
  IOPTE_PRESENT,
  IOPTE_HEAD,
  IOPTE_UNMAPPED,
  IOPTE_FREE,
  IOPTE_SKIP_CPU_SYNC,
  IOPTE_ORDER_MASK,
  IOPTE_ORDER_SHIFT,
} from "../dma/index.js";
import { u64 } from "../u64.js";
import {
  fieldAt,
  describePointer,
  decodePpMagic,
  hex,
  hex32,
  fieldText,
  itemLine,
  pageTypeName,
  type FieldInfo,
  type SlabInfo,
  type ItemInfo,
  type PpInfo,
  type IommuInfo,
} from "./explain_fields.js";

export type { FieldInfo, SlabInfo, ItemInfo, PpInfo, IommuInfo };

const ITEM_LAYOUT = layoutOf(STRUCT_PAGE_POOL_ITEM, LP64);
const XA_NODE_LAYOUT = layoutOf(STRUCT_XA_NODE, LP64);
const ST_SLOTS = offsetOf(STACK_LAYOUT, "slots");
const ST_COUNT = offsetOf(STACK_LAYOUT, "count");
const ST_CAP = offsetOf(STACK_LAYOUT, "cap");
const ST_HEAD = offsetOf(STACK_LAYOUT, "head");

interface Target {
  role: string;
  field?: FieldInfo;
  slab?: SlabInfo;
  pp?: PpInfo;
  item?: ItemInfo;
  iommu?: IommuInfo;
}

export interface ReadField {
  readonly info: FieldInfo;
  readonly start: number;
  readonly lo: number;
  readonly hi: number;
  readonly notes: string[];
}

export class PpExplainer {
  private readonly mem;
  /** The build's struct page_pool offsets. */
  private readonly o;
  private readonly ib: ItemBlockTracking | null;
  private readonly xt: XarrayTracking | null;
  /** page → where it sits inside a live pool. */
  private readonly pooled = new Map<number, { pool: number; where: "alloc cache" | "ring"; slot: number }>();
  /** page → stack slot. */
  private readonly held = new Map<number, number>();
  private readonly pools: number[] = [];

  constructor(
    private readonly sys: PpSystem,
    stack?: NetStack,
  ) {
    this.mem = sys.m.mem;
    this.o = sys.pps.o;
    const t = sys.pps.t;
    this.ib = t instanceof ItemBlockTracking ? t : null;
    this.xt = t instanceof XarrayTracking ? t : null;
    const mem = this.mem;
    sys.pps.forEachPool((pool) => {
      this.pools.push(pool);
      // A ptr_ring slot is (consumer_head + k) % size; a layout's own ring (v7's encoded_next list)
      // has no slots: its pages are numbered from the list head.
      const ptrRing = sys.pps.ringQueueOf(pool) !== 0;
      const r = pool + this.o.ring;
      const head = ptrRing ? mem.rd32(r + PTR_RING_CONSUMER_HEAD) : 0;
      const size = ptrRing ? mem.rd32(r + PTR_RING_SIZE) : 0x7fffffff;
      let c = 0;
      let k = 0;
      sys.pps.forEachPooledPage(pool, (page, w) => {
        if (w === "cache") this.pooled.set(page, { pool, where: "alloc cache", slot: c++ });
        else this.pooled.set(page, { pool, where: "ring", slot: (head + k++) % size });
      });
    });
    let k = 0;
    stack?.forEachHeld((page) => this.held.set(page, k++));
  }

  // ---------------------------------------------------------------- fields

  /** The field of `layout` at `off` from `base`, with its value and what a tagged pointer points at. */
  readField(layout: StructLayout, base: number, off: number): ReadField {
    const mem = this.mem;
    const f = fieldAt(layout, off);
    const a = base + f.start;
    let lo = 0;
    let hi = 0;
    let value = "";
    if (!f.padding) {
      if (f.size >= 8) {
        lo = mem.rd32(a);
        hi = mem.rd32(a + 4);
        value = "0x" + hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
      } else if (f.size === 4) value = hex32((lo = mem.rd32(a)));
      else if (f.size === 2) value = "0x" + (lo = mem.u8[a]! | (mem.u8[a + 1]! << 8)).toString(16).padStart(4, "0");
      else if (f.size === 1) value = "0x" + (lo = mem.u8[a]!).toString(16).padStart(2, "0");
    }
    const notes: string[] = [];
    // struct page words are decoded by pageFieldNotes: pp_magic's 0xdead… is no tagged pointer.
    if (f.size === 8 && layout !== PAGE_LAYOUT) {
      const p = describePointer(hi, lo);
      if (p && p !== "NULL") notes.push(p);
    }
    const info: FieldInfo = {
      struct: layout.name,
      base: hex32(base),
      offset: off,
      field: f.name,
      ...(f.alias ? { alias: f.alias } : {}),
      field_offset: f.start,
      size: f.size,
      value,
    };
    return { info, start: f.start, lo, hi, notes };
  }

  /** What a struct page word means for this page (its type decides which view of the union). */
  pageFieldNotes(page: number, start: number, lo: number, hi: number): string[] {
    const mem = this.mem;
    const type = mem.rd32(page + PAGE_TYPE);
    const buddy = type === pgty(PGTY_buddy);
    const slab = type === pgty(PGTY_slab);
    const t = this.sys.pps.t;
    const pp = t.isPpPage(page);
    switch (start) {
      case PAGE_FLAGS: {
        const names = [[PG_head, "PG_head"], [PG_reserved, "PG_reserved"], [PG_pp_in_pool, "PG_pp_in_pool (emulator: in a pool's cache or ring)"]]
          .filter(([b]) => (lo & (1 << (b as number))) !== 0)
          .map(([, n]) => n as string);
        const out = [names.length ? `flags: ${names.join(", ")}` : "no flags the emulator models are set"];
        const prev = page - STRUCT_PAGE_SIZE;
        if (prev >= 0 && (mem.rd32(prev + PAGE_FLAGS) & (1 << PG_head)) !== 0) out.push(`folio _flags_1 of the head at pfn ${hex(prev >>> STRUCT_PAGE_SHIFT)}: compound order ${lo & 0xff}`);
        return out;
      }
      case PAGE_PP_MAGIC: {
        if ((lo & 1) !== 0) return [`compound_head: a tail page; head struct page ${hex32(lo - 1)} (pfn ${hex((lo - 1) >>> STRUCT_PAGE_SHIFT)})`];
        if (buddy) return [`lru.next: link on a free_area free list → ${hex32(lo)}`];
        if (slab) return [`slab_list.next: link on its kmem_cache's partial/full list → ${hex32(lo)}`];
        if (lo === 0 && hi === 0) return ["0: no page_pool signature (not a page_pool page)"];
        // A layout whose netmem_desc is elsewhere (memdesc-item): this word is the memdesc word, the pool page's only one.
        if (pp && this.sys.pps.t.nmdesc !== undefined) return [`memdesc word: type ${lo & 0xf}, descriptor ${hex32(this.sys.pps.nmdesc(page))} (${t.layout.membershipText(this.sys.build)})`];
        const d = decodePpMagic(u64(hi, lo));
        const out = [`pp_magic: ${d.text}`];
        if (this.xt && d.dma_index !== 0 && pp) {
          const pool = t.poolOf(page);
          const reg = this.sys.pps.isLive(pool) && this.xt.xa.xaLoad(pool + this.xt.DMA_MAPPED, d.dma_index) === page;
          out.push(reg ? `pool ${hex32(pool)}: dma_mapped[${d.dma_index}] = this page (xa_load)` : `dma_mapped[${d.dma_index}] does not hold this page`);
        }
        return out;
      }
      case PAGE_PP: {
        if (buddy) return [`lru.prev: link on a free_area free list → ${hex32(lo)}`];
        if (slab) return [`slab_list.prev → ${hex32(lo)}`];
        if (lo === 0) return ["NULL: names no pool"];
        if (this.ib) {
          const it = this.describeItem(lo);
          return [`pp_item → item ${hex32(lo)}: ${itemLine(it)}`];
        }
        return [`pp → struct page_pool ${hex32(lo)}${this.poolLabel(lo)}`];
      }
      case PAGE_MAPPING:
        if (slab) return [`slab_cache → kmem_cache "${this.sys.m.slab.cacheName(lo)}"`];
        return [lo === 0 ? "NULL (page_pool never writes _pp_mapping_pad)" : `mapping ${hex32(lo)}`];
      case PAGE_DMA_ADDR:
        if (slab) return [`freelist: first free object ${lo === 0 ? "NULL (slab full)" : hex32(lo)}`];
        if (pp) return [lo === 0 ? "dma_addr 0: not mapped" : `dma_addr ${hex32(lo)}${this.mappingNote(page, t.poolOf(page))}`];
        return [];
      case PAGE_PP_REF_COUNT:
        if (buddy) return [`private: buddy order ${lo}`];
        if (pp) return [`pp_ref_count ${lo}`];
        return [];
      case PAGE_TYPE:
        return [pageTypeName(lo)];
      case PAGE_REFCOUNT:
        return [`_refcount ${lo | 0}`];
      case PAGE_MEMCG:
        if (slab) return [`objects in use in this slab: ${lo}`];
        return [];
    }
    return [];
  }

  // ---------------------------------------------------------------- a page_pool page

  /** The page_pool view of a struct page: pool, where, mapping, item or DMA index. */
  pageSummary(e: Target, page: number, klass: string, out: string[], fieldStart = -1): void {
    const mem = this.mem;
    const t = this.sys.pps.t;
    if (!t.isPpPage(page)) {
      const type = mem.rd32(page + PAGE_TYPE);
      if (type !== PAGE_TYPE_NONE) out.push(`pfn ${hex(page >>> STRUCT_PAGE_SHIFT)}: ${pageTypeName(type)}`);
      else if (klass.startsWith("page_pool")) out.push("no page_pool signature in pp_magic");
      return;
    }
    const pool = t.poolOf(page);
    const live = this.pools.includes(pool);
    const pos = this.pooled.get(page);
    const st = this.held.get(page);
    const where: PpInfo["where"] = !live ? "pool not live" : pos ? pos.where : st !== undefined ? "in flight (stack)" : "in flight (driver)";
    const slot = pos ? pos.slot : st !== undefined ? st : null;
    // The page's pool fields are its netmem_desc's (the page itself, or memdesc-item's item).
    const desc = this.sys.pps.nmdesc(page);
    const dmaAddr = mem.rd32(desc + NMDESC_DMA_ADDR);
    const dev = live ? mem.rdPtr(pool + this.o.dev) : 0;
    const dma = this.sys.dma;
    const mapped = dev !== 0 && dmaAddr !== 0 && dma.iovaToPhys(dev, dmaAddr) === mem.pageAddress(page);
    const info: { -readonly [K in keyof PpInfo]: PpInfo[K] } = {
      pool: hex32(pool),
      pool_id: live ? this.sys.pps.poolId(pool) : 0,
      pool_live: live,
      pool_destroyed: live && mem.rd64(pool + this.o.destroyCnt) !== 0,
      where,
      slot,
      pp_ref_count: mem.rd32(desc + NMDESC_PP_REF_COUNT),
      refcount: mem.rd32(page + PAGE_REFCOUNT),
      dma_addr: hex32(dmaAddr),
      mapped,
      device: dev ? dma.deviceName(dev) : null,
      device_bound: dev ? dma.isBound(dev) : null,
    };
    const slotText = where === "alloc cache" ? ` slot ${slot} of ${mem.rd32(pool + this.o.allocCount)}` : where === "ring" ? ` queue slot ${slot}` : where === "in flight (stack)" ? ` (stack slot ${slot})` : "";
    out.push(`page_pool page of pool ${hex32(pool)}${this.poolLabel(pool)}: ${where}${slotText}; pp_ref_count ${info.pp_ref_count}, _refcount ${info.refcount}`);
    // A line the struct page field's own notes already said is not repeated.
    if (live && !(fieldStart === PAGE_DMA_ADDR && dmaAddr !== 0)) {
      out.push(dmaAddr === 0 ? this.unmappedNote(pool) : `dma_addr ${hex32(dmaAddr)}${this.mappingNote(page, pool)}`);
    }
    if (this.ib) {
      const item = mem.rd32(page + PAGE_PP);
      e.item = this.describeItem(item);
      if (fieldStart !== PAGE_PP) out.push(`pp_item ${hex32(item)}: ${itemLine(e.item)}`);
    }
    if (this.xt) {
      const id = getDmaIndex(mem.u32, page);
      info.dma_index = id;
      info.dma_index_registered = live && id !== 0 && this.xt.xa.xaLoad(pool + this.xt.DMA_MAPPED, id) === page;
      if (fieldStart !== PAGE_PP_MAGIC || id === 0) out.push(
        id === 0
          ? "pp_magic DMA index id 0: not in pool->dma_mapped (never registered, or unregistered by unmap)"
          : `pp_magic DMA index id ${id}: pool->dma_mapped[${id}] ${info.dma_index_registered ? "= this page" : "does NOT hold this page"}`,
      );
    }
    // A layout this explainer has no decoder of its own for speaks for itself (its build file's
    // `describePage`): a new layout is explained without touching this file.
    if (!this.ib && !this.xt) for (const l of this.sys.pps.t.describePage(page)) out.push(l);
    e.pp = info;
  }

  private poolLabel(pool: number): string {
    if (!this.pools.includes(pool)) return " (not a live pool)";
    const destroyed = this.mem.rd64(pool + this.o.destroyCnt) !== 0;
    return ` (id ${this.sys.pps.poolId(pool)}${destroyed ? ", destroyed, lingering with pages in flight" : ""})`;
  }

  private mappingNote(page: number, pool: number): string {
    if (!this.pools.includes(pool)) return "";
    const mem = this.mem;
    const dev = mem.rdPtr(pool + this.o.dev);
    if (dev === 0) return "";
    const dma = this.sys.dma;
    const name = dma.deviceName(dev);
    const dmaAddr = mem.rd32(this.sys.pps.nmdesc(page) + NMDESC_DMA_ADDR);
    if (!dma.isBound(dev)) {
      if (!this.sys.pps.t.ownsMapping(pool, page)) {
        return `: stale — page_pool_destroy() already unmapped it (${this.sys.build.name} leaves dma_addr until the page returns), so its return skips the DMA API`;
      }
      return `: still set, but ${name}'s driver unbound and its IOMMU domain is gone — this mapping outlived the driver; returning the page will dma_unmap through a dead device (the unbind bug)`;
    }
    const phys = dma.iovaToPhys(dev, dmaAddr);
    if (phys === mem.pageAddress(page)) {
      const destroyed = mem.rd64(pool + this.o.destroyCnt) !== 0;
      return `: mapped, ${name}'s IOMMU translates it to this page${destroyed ? " — still mapped after page_pool_destroy(): nothing can unmap it before the driver unbinds" : ""}`;
    }
    return `: ${name}'s IOMMU has no translation to this page (stale dma_addr)`;
  }

  private unmappedNote(pool: number): string {
    const mem = this.mem;
    if (!poolDmaMap(mem.u32, this.o, pool)) return "dma_addr 0: the pool does not map DMA";
    if (mem.rd64(pool + this.o.destroyCnt) !== 0) {
      return `dma_addr 0: unmapped by page_pool_destroy() (${this.sys.build.name}, ${this.sys.build.layout.name}): its late return will skip the DMA API`;
    }
    return "dma_addr 0: not mapped";
  }

  // ---------------------------------------------------------------- item blocks

  /** An item (or any address in an item block): block, pool, index, state, the page it tracks. */
  describeItem(item: number): ItemInfo {
    const mem = this.mem;
    const ib = this.ib!;
    const block = item & mem.pageMaskLo;
    const pool = mem.rdPtr(block + ib.BLK_PP);
    const slow = ib.BLK_FLAGS >= 0 && (mem.rd32(block + ib.BLK_FLAGS) & PAGE_POOL_SLOW_ITEM_BLOCK_BIT) !== 0;
    const ref = ib.BLK_REF >= 0 ? mem.rd32(block + ib.BLK_REF) : 0;
    const base = { block: hex32(block), pool: hex32(pool), slow, ref };
    const off = item - block;
    if (off < ib.ITEMS_OFF || ib.itemToBlockChecked(item - ((off - ib.ITEMS_OFF) % ib.ITEM_SIZE)) === 0) {
      const header = off < ib.ITEMS_OFF;
      return { ...base, index: null, item: null, state: 0, used: false, mapped: false, status: header ? "header" : "tail", page: null, page_pfn: null };
    }
    const index = ib.itemIndex(item - ((off - ib.ITEMS_OFF) % ib.ITEM_SIZE));
    const it = ib.itemAt(block, index);
    const state = mem.rd32(it + ITEM_STATE);
    const nlo = mem.rd32(it + ITEM_PP_NETMEM);
    const nhi = mem.rd32(it + ITEM_PP_NETMEM + 4);
    let status: ItemInfo["status"];
    let page: number | null = null;
    if (nhi === VMEMMAP_HI && mem.rd32(nlo + PAGE_PP) === it) {
      status = "tracking a page";
      page = nlo;
    } else if (slow) {
      const current = mem.rdPtr(pool + this.o.need("slow_items.block")) === block;
      status = nhi === VMEMMAP_HI ? "released" : current && index >= mem.rd32(pool + this.o.need("slow_items.next_to_use")) ? "never used" : nlo === 0 && state === 0 ? "never used" : "released";
    } else status = "free";
    return {
      ...base,
      index,
      item: hex32(it),
      state,
      used: (state & PAGE_POOL_ITEM_USED) !== 0,
      mapped: (state & PAGE_POOL_ITEM_MAPPED) !== 0,
      status,
      page: page === null ? null : hex32(page),
      page_pfn: page === null ? null : page >>> STRUCT_PAGE_SHIFT,
    };
  }

  itemBlockAddress(e: Target, addr: number, out: string[]): void {
    const mem = this.mem;
    const ib = this.ib;
    if (!ib) {
      // Memory the layout's own claimer owns: its build file says what the address is.
      out.push(...(this.sys.pps.t.describeAddress(addr) ?? ["claimed by the layout, which does not say what this address is"]));
      return;
    }
    const it = this.describeItem(addr);
    e.item = it;
    const block = addr & mem.pageMaskLo;
    out.push(`${it.slow ? "slow" : "fast"} item block ${it.block} of pool ${it.pool}${this.poolLabel(mem.rdPtr(block + ib.BLK_PP))}${it.slow ? `, ref ${it.ref}` : ""} (${ib.ITEMS_PER_PAGE} items of ${ib.ITEM_SIZE} bytes from offset ${ib.ITEMS_OFF})`);
    const off = addr - block;
    if (it.status === "header") {
      const f = this.readField(layoutOf(ITEM_BLOCK_OF[ib.variant], LP64), block, off);
      e.field = f.info;
      out.push(`header (${ib.variant}): ${fieldText(f.info)}`);
      for (const n of f.notes) out.push("  " + n);
      return;
    }
    if (it.status === "tail") {
      out.push(`unused tail after items[${ib.ITEMS_PER_PAGE - 1}]`);
      return;
    }
    const within = (off - ib.ITEMS_OFF) % ib.ITEM_SIZE;
    const f = this.readField(ITEM_LAYOUT, addr - within, within);
    e.field = f.info;
    out.push(`items[${it.index}] at ${it.item}: ${fieldText(f.info)}`);
    out.push(`  ${itemLine(it)}`);
  }

  // ---------------------------------------------------------------- ring queue, iommu tables

  ringQueueAddress(e: Target, addr: number, out: string[]): boolean {
    const mem = this.mem;
    for (const pool of this.pools) {
      const queue = this.sys.pps.ringQueueOf(pool);
      if (queue === 0) continue; // no ptr_ring: the layout's own ring has no queue array
      const size = mem.rd32(pool + this.o.ring + PTR_RING_SIZE);
      if (addr < queue || addr >= queue + size * 8) continue;
      const slot = (addr - queue) >>> 3;
      const v = mem.rd32(queue + slot * 8);
      e.field = { struct: "ptr_ring queue", base: hex32(queue), offset: addr - queue, field: `queue[${slot}]`, field_offset: slot * 8, size: 8, value: "0x" + mem.rd32(queue + slot * 8 + 4).toString(16).padStart(8, "0") + v.toString(16).padStart(8, "0") };
      const inRing = v !== 0 && this.pooled.get(v)?.where === "ring" && this.pooled.get(v)?.slot === slot;
      out.push(`ptr_ring queue of pool ${hex32(pool)}${this.poolLabel(pool)} (${size} slots): slot ${slot} = ${v === 0 ? "NULL (empty)" : `struct page ${hex32(v)} (pfn ${hex(v >>> STRUCT_PAGE_SHIFT)})${inRing ? ", in the ring" : ", consumed (not yet zeroed)"}`}`);
      return true;
    }
    return false;
  }

  iommuTableAddress(e: Target, addr: number, out: string[]): void {
    const mem = this.mem;
    const dma = this.sys.dma;
    const frame = addr & mem.pageMaskLo;
    const off = addr - frame;
    for (const dev of dma.devices()) {
      const pgd = mem.rdPtr(dev + DEV_DOMAIN + DOMAIN_PGD);
      if (pgd === 0) continue;
      const name = dma.deviceName(dev);
      if (pgd === frame) {
        const slot = off >>> 3;
        const leaf = mem.rdPtr(pgd + slot * 8);
        e.iommu = { device: name, table: "pgd", slot };
        out.push(`IOMMU pgd of ${name}: slot ${slot} → ${leaf === 0 ? "no leaf" : `leaf ${hex32(leaf)}`} (IOVA pfns ${hex(slot << dma.table.leafShift)}–${hex(((slot + 1) << dma.table.leafShift) - 1)})`);
        return;
      }
      for (let l = 0; l < dma.table.pgdEntries; l++) {
        if (mem.rdPtr(pgd + l * 8) !== frame) continue;
        const idx = off >>> IOPTE_SHIFT;
        const pte = frame + (idx << IOPTE_SHIFT);
        const iovaPfn = (l << dma.table.leafShift) | idx;
        const flags = mem.rd32(pte + IOPTE_FLAGS);
        const names = ([[IOPTE_PRESENT, "PRESENT"], [IOPTE_HEAD, "HEAD"], [IOPTE_UNMAPPED, "UNMAPPED"], [IOPTE_FREE, "FREE"], [IOPTE_SKIP_CPU_SYNC, "SKIP_CPU_SYNC"]] as const)
          .filter(([b]) => (flags & b) !== 0)
          .map(([, n]) => n as string);
        const pfn = mem.rd32(pte + IOPTE_PFN);
        const iova = hex32((iovaPfn << mem.pageShift) >>> 0);
        e.iommu = { device: name, table: "leaf", slot: idx, iova, pfn, flags: names };
        const f = this.readField(IOPTE_LAYOUT, pte, off & ((1 << IOPTE_SHIFT) - 1));
        e.field = f.info;
        out.push(`IOMMU leaf of ${name}, pgd slot ${l}: iopte ${idx} = IOVA ${iova}: ${fieldText(f.info)}`);
        out.push(`  ${names.length ? names.join(" | ") : "empty"}${flags & IOPTE_HEAD ? `, IOVA block order ${(flags & IOPTE_ORDER_MASK) >>> IOPTE_ORDER_SHIFT}` : ""}; pfn ${hex(pfn)}`);
        return;
      }
    }
    out.push("an IOMMU table frame no device's pgd reaches");
  }

  // ---------------------------------------------------------------- slab objects

  slabObject(e: Target, addr: number, head: number, out: string[]): void {
    const mem = this.mem;
    const slab = this.sys.m.slab;
    const cache = mem.rdPtr(head + PAGE_MAPPING);
    const s = slab.cacheStats(cache);
    const base = mem.pageAddress(head);
    const idx = Math.floor((addr - base) / s.size);
    if (idx >= s.objsPerSlab) {
      out.push(`kmem_cache "${s.name}" slab at pfn ${hex(head >>> STRUCT_PAGE_SHIFT)}: unused tail after object ${s.objsPerSlab - 1}`);
      return;
    }
    const obj = base + idx * s.size;
    let free = false;
    for (let p = mem.rd32(head + PAGE_INDEX), n = 0; p !== 0 && n <= s.objsPerSlab; p = mem.rd32(p), n++) {
      if (p === obj) free = true;
    }
    e.slab = { cache: hex32(cache), name: s.name, object: idx, object_addr: hex32(obj), offset: addr - obj, object_size: s.objSize, free };
    out.push(`kmem_cache "${s.name}" slab at pfn ${hex(head >>> STRUCT_PAGE_SHIFT)} (order ${s.order}, ${s.objsPerSlab} objects of ${s.size} bytes): object ${idx} at ${hex32(obj)} + ${addr - obj}, ${free ? "free" : "in use"}`);
    if (free) {
      const next = mem.rd32(obj);
      out.push(`  free object: its first word is the freelist pointer → ${next === 0 ? "NULL (last free object)" : hex32(next)}`);
      return;
    }
    if (s.name === "radix_tree_node") {
      this.structAt(e, XA_NODE_LAYOUT, obj, addr, "xa_node (the pool's dma_mapped xarray)", out);
      return;
    }
    this.knownObject(e, obj, addr, out);
  }

  /** Where a netmem sits: "alloc cache slot k of pool …", "ring entry k of pool …", "stack slot k", or null. */
  whereIs(netmem: number): string | null {
    const p = this.pooled.get(netmem);
    if (p) return `${p.where} ${p.where === "ring" ? "entry" : "slot"} ${p.slot} of pool ${hex32(p.pool)}`;
    const s = this.held.get(netmem);
    return s === undefined ? null : `held by the stack stand-in (slot ${s})`;
  }

  /** Name the field of a kmalloc'd object whose struct explain knows. */
  knownObject(e: Target, obj: number, addr: number, out: string[]): void {
    const mem = this.mem;
    // Memory-provider memory (devmem bindings, their net_iovs, rx queues): src/verify/explain_niov.ts.
    if (explainNetIovObject(this.sys, this, e, obj, addr, out)) return;
    if (this.pools.includes(obj)) {
      this.structAt(e, this.o.layout, obj, addr, `struct page_pool${this.poolLabel(obj)}`, out);
      const off = addr - obj;
      const cacheOff = this.o.allocCache;
      if (off >= cacheOff && off < cacheOff + this.o.layout.sz["alloc.cache"]!) {
        const k = Math.floor((off - cacheOff) / this.o.cacheSlot);
        const count = mem.rd32(obj + this.o.allocCount);
        out.push(`  alloc cache slot ${k}: ${k < count ? "live (below alloc.count " + count + ")" : "stale (at or above alloc.count " + count + ")"}`);
      }
      return;
    }
    if (this.ringQueueAddress(e, addr, out)) return;
    const dma = this.sys.dma;
    if (dma.devices().includes(obj)) {
      this.structAt(e, DEVICE_LAYOUT, obj, addr, `struct ppemu_device ${dma.deviceName(obj)}${dma.isBound(obj) ? "" : " (driver unbound)"}`, out);
      return;
    }
    if (obj === mem.rdPtr(mem.machine + MACH_IOMMU)) {
      this.structAt(e, IOMMU_LAYOUT, obj, addr, "struct ppemu_iommu", out);
      return;
    }
    const st = mem.rdPtr(mem.machine + MACH_STACK);
    if (st !== 0 && obj === st) {
      this.structAt(e, STACK_LAYOUT, obj, addr, "struct ppemu_stack (the network-stack stand-in)", out);
      return;
    }
    if (st !== 0 && obj === mem.rdPtr(st + ST_SLOTS)) {
      const cap = mem.rd32(st + ST_CAP);
      const slot = (addr - obj) >>> 3;
      if (slot < cap) {
        const held = (slot - mem.rd32(st + ST_HEAD) + cap) % cap < mem.rd32(st + ST_COUNT);
        const v = mem.rd32(obj + slot * 8);
        out.push(`the stack stand-in's slots[${slot}] = ${v === 0 ? "NULL" : `struct page ${hex32(v)} (pfn ${hex(v >>> STRUCT_PAGE_SHIFT)})`}${held ? ", held (an skb frag in flight)" : ", not held"}`);
        return;
      }
    }
    out.push("an object explain has no struct declaration for (e.g. a driver's RX ring)");
  }

  private structAt(e: Target, layout: StructLayout, obj: number, addr: number, label: string, out: string[]): void {
    const f = this.readField(layout, obj, addr - obj);
    e.field = f.info;
    out.push(`${label} at ${hex32(obj)}: ${fieldText(f.info)}`);
    for (const n of f.notes) out.push("  " + n);
  }
}

function pgty(t: number): number {
  return (t << PAGE_TYPE_SHIFT) >>> 0;
}
