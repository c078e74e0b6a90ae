/**
 * `explain`: what any address of the machine is — its frame and the frame's role, the struct and
 * field it falls in, the field's value decoded the way the kernel would read it.
 *
 *   address ──► region tag (vmemmap / direct map / physical) ──► phys offset ──► pfn, offset in frame
 *                                                                    │
 *   frame class (the frame accounting, with every page_pool claimer) ┘
 *     memmap        → the struct page it is in, the field (by STRUCT_PAGE's layout), the value
 *     boot          → machine header field (by ppemu_machine's layout) / diag record
 *     free          → the buddy block (head pfn, order)
 *     slab          → cache, object index, free or in use; a known object's field (page_pool, device …)
 *     page_pool: …  → the struct page, pool, where it is (cache slot, ring entry, stack slot, driver),
 *                     its mapping; item or DMA index per layout
 *     item blocks   → block, pool, header field or item index, state bits, the page it tracks
 *     iommu tables  → device, pgd slot or iopte (IOVA → pfn)
 *
 * The frame class comes from `accountFrames()` with `ppClaimers()`, so `explain` and the accounting
 * can never disagree about what a frame is. Everything is read from the buffer; nothing is cached
 * across explanations except what the constructor walks once (classes, pool and stack positions).
 */
import type { PpSystem } from "../pool/index.js";
import { ppClaimers } from "../pool/index.js";
import type { NetStack } from "../pool/stack.js";
import { accountFrames } from "../mem/accounting.js";
import { PageAlloc, PAGE_TYPE_BUDDY } from "../mem/buddy.js";
import {
  MACHINE_LAYOUT,
  MACH_BOOT_PFN,
  MACH_DIAG_LOG_PFN,
  MACH_DIAG_LOG_CAP,
  MACH_DIAG_TOTAL,
  MACH_KMALLOC_CACHES,
  MACH_PAGE_POISON,
  MAX_PAGE_ORDER,
  DIAG_RECORD_SIZE,
} from "../mem/physmem.js";
import {
  PAGE_LAYOUT,
  PAGE_PRIVATE,
  PAGE_TYPE,
  STRUCT_PAGE_SIZE,
  STRUCT_PAGE_SHIFT,
  VMEMMAP_HI,
  DIRECT_MAP_HI,
  PAGE_POISON,
} from "../mem/page.js";
import { SLAB_ROOT_LAYOUT, KMEM_CACHE_SIZE, PAGE_TYPE_SLAB, PAGE_TYPE_LARGE_KMALLOC, slabRootOrder } from "../mem/slab.js";
import { DIAG_INFO, formatDiag } from "../mem/diag.js";
import { parseHex64, type U64 } from "../u64.js";
import { offsetOf } from "../mem/ctype.js";
import { fieldAt, fieldText, hex, hex32 } from "./explain_fields.js";
import { PpExplainer, type PpInfo, type ItemInfo, type FieldInfo, type SlabInfo, type IommuInfo } from "./explain_pp.js";

export type { PpInfo, ItemInfo, FieldInfo, SlabInfo, IommuInfo };

/** The machine state to explain: a page_pool system and, if the story has one, its stack stand-in. */
export interface ExplainState {
  readonly sys: PpSystem;
  readonly stack?: NetStack;
}

export type Region = "physical" | "vmemmap" | "direct map";

export type FrameRole =
  | "memmap"
  | "machine header"
  | "diag log"
  | "free"
  | "slab root"
  | "slab"
  | "large kmalloc"
  | "page_pool page"
  | "page_pool ring queue"
  | "item block"
  | "iommu table"
  | "net_iov"
  | "net_iov_area"
  | "allocated";

export interface ParsedAddress {
  readonly input: string;
  /** Physical offset into the buffer. */
  readonly addr: number;
  readonly region: Region;
}

export interface Explanation {
  readonly input: string;
  readonly region: Region;
  /** Physical address, `0x%08x`. */
  readonly address: string;
  readonly pfn: number;
  /** Offset inside the frame. */
  readonly offset: number;
  /** The frame-accounting class. */
  readonly class: string;
  readonly role: FrameRole;
  /** The struct and field the address falls in, with the field's value. */
  field?: FieldInfo;
  /** The struct page the address is about (memmap: the one it is in; a data frame: its own). */
  page?: { readonly page: string; readonly pfn: number; readonly class: string };
  buddy?: { readonly head_pfn: number; readonly order: number };
  slab?: SlabInfo;
  pp?: PpInfo;
  item?: ItemInfo;
  iommu?: IommuInfo;
  /** The human-readable explanation, one fact per line. */
  readonly lines: string[];
}

/**
 * Parse what a user typed: hex with or without 0x, underscores allowed; a 64-bit kernel-looking
 * pointer with the vmemmap or direct-map tag is reduced to its low word. Returns the address or a
 * one-line error.
 */
export function parseAddress(text: string, memBytes: number): ParsedAddress | string {
  const v: U64 | null = parseHex64(text);
  if (v === null) return `'${text}' is not a hex address`;
  let region: Region;
  if (v.hi === 0) region = "physical";
  else if (v.hi === VMEMMAP_HI) region = "vmemmap";
  else if (v.hi === DIRECT_MAP_HI) region = "direct map";
  else {
    return `'${text}' is not an address of this machine (high word ${hex32(v.hi)}: expected 0, ${hex32(VMEMMAP_HI)} vmemmap or ${hex32(DIRECT_MAP_HI)} direct map)`;
  }
  if (v.lo >= memBytes) return `'${text}' is past the end of memory (${memBytes} bytes: last address ${hex32(memBytes - 1)})`;
  return { input: text, addr: v.lo, region };
}

export class Explainer {
  readonly sys: PpSystem;
  readonly pa: PageAlloc;
  readonly pp: PpExplainer;
  /** Frame class of every pfn, from the frame accounting. */
  readonly classes: readonly string[];
  readonly accountingErrors: readonly string[];

  constructor(readonly state: ExplainState) {
    this.sys = state.sys;
    const mem = state.sys.m.mem;
    this.pa = state.sys.m.pa;
    const cls = new Array<string>(mem.nrFrames);
    const acct = accountFrames(mem, [
      ...ppClaimers(state.sys, state.stack),
      (c) => {
        for (let p = 0; p < mem.nrFrames; p++) cls[p] = c.classOf(p);
      },
    ]);
    this.classes = cls;
    this.accountingErrors = acct.errors;
    this.pp = new PpExplainer(state.sys, state.stack);
  }

  /** Explain a typed address; throws a RangeError with a one-line message when it is not one. */
  explainText(text: string): Explanation {
    const p = parseAddress(text, this.sys.m.mem.bytes);
    if (typeof p === "string") throw new RangeError(p);
    return this.explain(p);
  }

  explain(p: ParsedAddress): Explanation {
    const mem = this.sys.m.mem;
    const addr = p.addr;
    const pfn = addr >>> mem.pageShift;
    const klass = this.classes[pfn]!;
    const e: { -readonly [K in keyof Explanation]: Explanation[K] } = {
      input: p.input,
      region: p.region,
      address: hex32(addr),
      pfn,
      offset: addr & (mem.pageSize - 1),
      class: klass,
      role: "allocated",
      lines: [],
    };
    const via = p.region === "physical" ? "" : ` (${p.region})`;
    const body: string[] = [];
    if (klass === "memmap") this.memmap(e, addr, body);
    else if (klass === "boot") this.boot(e, addr, body);
    else if (klass === "free") this.free(e, pfn, body);
    else if (klass === "slab") this.slabFrame(e, addr, body);
    else if (klass === "item blocks") {
      e.role = "item block";
      this.pp.itemBlockAddress(e, addr, body);
    } else if (klass === "iommu tables") {
      e.role = "iommu table";
      this.pp.iommuTableAddress(e, addr, body);
    } else if (klass === "page_pool: ring queue") {
      e.role = "page_pool ring queue";
      this.pp.ringQueueAddress(e, addr, body);
    } else if (klass.startsWith("page_pool: ")) {
      e.role = "page_pool page";
      this.ppData(e, addr, body);
    } else this.allocated(e, addr, body);
    const cls = e.role === klass || (e.role === "item block" && klass === "item blocks") || (e.role === "iommu table" && klass === "iommu tables") ? "" : ` (${klass})`;
    e.lines.push(`${p.input}${via} → phys ${hex32(addr)}: pfn ${hex(pfn)} + ${hex(e.offset)} — ${e.role}${cls}`);
    for (const l of body) e.lines.push("  " + l);
    return e;
  }

  // ---------------------------------------------------------------- memmap

  private memmap(e: Explanation & { role: FrameRole }, addr: number, out: string[]): void {
    const mem = this.sys.m.mem;
    e.role = "memmap";
    const page = addr & ~(STRUCT_PAGE_SIZE - 1);
    const ppfn = page >>> STRUCT_PAGE_SHIFT;
    const off = addr - page;
    if (ppfn >= mem.nrFrames) {
      out.push(`past the last struct page (pfn ${hex(mem.nrFrames - 1)}): the memmap frame's unused tail`);
      return;
    }
    const klass = this.classes[ppfn]!;
    e.page = { page: hex32(page), pfn: ppfn, class: klass };
    const f = this.pp.readField(PAGE_LAYOUT, page, off);
    f.notes.push(...this.pp.pageFieldNotes(page, f.start, f.lo, f.hi));
    e.field = f.info;
    out.push(`struct page of pfn ${hex(ppfn)} at ${hex32(page)} (${klass}); byte ${off} is ${fieldText(f.info)}`);
    for (const n of f.notes) out.push("  " + n);
    if (klass === "free") {
      const sub: string[] = [];
      const copy = { ...e, role: "memmap" } as Explanation & { role: FrameRole };
      this.free(copy, ppfn, sub);
      if (copy.buddy) e.buddy = copy.buddy;
      out.push(...sub.slice(0, 1));
    } else this.pp.pageSummary(e, page, klass, out, f.start);
  }

  // ---------------------------------------------------------------- boot frames

  private boot(e: Explanation & { role: FrameRole }, addr: number, out: string[]): void {
    const mem = this.sys.m.mem;
    const h = mem.machine;
    const pfn = addr >>> mem.pageShift;
    if (pfn === mem.rd32(h + MACH_BOOT_PFN)) {
      e.role = "machine header";
      const f = this.pp.readField(MACHINE_LAYOUT, h, addr - h);
      e.field = f.info;
      out.push(`struct ppemu_machine at ${hex32(h)}: ${fieldText(f.info)}`);
      for (const n of f.notes) out.push("  " + n);
      return;
    }
    e.role = "diag log";
    const base = mem.rd32(h + MACH_DIAG_LOG_PFN) << mem.pageShift;
    const cap = mem.rd32(h + MACH_DIAG_LOG_CAP);
    const total = mem.rd32(h + MACH_DIAG_TOTAL);
    const slot = Math.floor((addr - base) / DIAG_RECORD_SIZE);
    const rec = base + slot * DIAG_RECORD_SIZE;
    const names = ["kind (u16) / c (u16)", "a", "b", "time_ms"];
    const word = names[((addr - rec) >>> 2) & 3]!;
    out.push(`diag record ${slot} of ${cap} at ${hex32(rec)}, word ${word}`);
    if (slot >= cap || (total < cap && slot >= total)) {
      out.push("  unused: no diagnostic recorded in this slot yet");
      return;
    }
    const w = mem.rd32(rec);
    const kind = w & 0xffff;
    out.push(`  ${DIAG_INFO[kind]?.name ?? "kind " + kind} at ${mem.rd32(rec + 12)} ms: ${formatDiag(kind, mem.rd32(rec + 4), mem.rd32(rec + 8), w >>> 16)}`);
  }

  // ---------------------------------------------------------------- free

  private free(e: Explanation & { role: FrameRole }, pfn: number, out: string[]): void {
    const mem = this.sys.m.mem;
    e.role = "free";
    for (let o = 0; o <= MAX_PAGE_ORDER; o++) {
      const head = pfn & ~((1 << o) - 1);
      const hp = head << STRUCT_PAGE_SHIFT;
      if (mem.rd32(hp + PAGE_TYPE) !== PAGE_TYPE_BUDDY) continue;
      const order = mem.rd32(hp + PAGE_PRIVATE);
      if (order < o) continue;
      e.buddy = { head_pfn: head, order };
      out.push(`inside a free buddy block of order ${order}: pfn ${hex(head)}–${hex(head + (1 << order) - 1)}, head struct page ${hex32(hp)} on free_area[${order}].free_list`);
      if (e.role === "free" && e.pfn === pfn) {
        // What the bytes of a free frame say depends on how the machine was booted: its own header word.
        const b = mem.u8[(e.pfn << mem.pageShift) + e.offset]!;
        if (mem.rd32(mem.machine + MACH_PAGE_POISON) === 0) {
          out.push(`byte ${hex(b)}: page_poison is off on this machine (the kernel's default), so a free frame keeps what its last user wrote; its bytes say nothing about whether it was ever handed out`);
        } else {
          out.push(
            b === PAGE_POISON
              ? `byte ${hex(b)}: PAGE_POISON (page_poison=1 on this machine), written when the frame was freed after use`
              : `byte ${hex(b)}: not PAGE_POISON although this machine poisons freed frames (page_poison=1): never handed out since boot, or written after its free (a use after free)`,
          );
        }
      }
      return;
    }
    out.push("on a free list, but no PageBuddy head covers it (the frame accounting should have said so)");
  }

  // ---------------------------------------------------------------- slab

  private slabFrame(e: Explanation & { role: FrameRole }, addr: number, out: string[]): void {
    const mem = this.sys.m.mem;
    const root = mem.rdPtr(mem.machine + MACH_KMALLOC_CACHES);
    const rootEnd = root + (mem.pageSize << slabRootOrder(mem.pageShift));
    if (addr >= root && addr < rootEnd) {
      e.role = "slab root";
      const f = this.pp.readField(SLAB_ROOT_LAYOUT, root, addr - root);
      e.field = f.info;
      out.push(`struct ppemu_slab_root at ${hex32(root)}: ${fieldText(f.info)}`);
      const cachesOff = offsetOf(SLAB_ROOT_LAYOUT, "caches");
      const i = Math.floor((addr - root - cachesOff) / KMEM_CACHE_SIZE);
      if (f.info.field.startsWith("caches[") && i < this.sys.m.slab.nrCaches()) {
        out.push(`  kmem_cache "${this.sys.m.slab.cacheName(root + cachesOff + i * KMEM_CACHE_SIZE)}"`);
      }
      for (const n of f.notes) out.push("  " + n);
      return;
    }
    e.role = "slab";
    const head = this.pa.compoundHead(mem.virtToPage(addr));
    if (mem.rd32(head + PAGE_TYPE) !== PAGE_TYPE_SLAB) {
      out.push(`claimed by the slab allocator but pfn ${hex(head >>> STRUCT_PAGE_SHIFT)} is not PageSlab`);
      return;
    }
    this.pp.slabObject(e, addr, head, out);
  }

  // ---------------------------------------------------------------- page_pool data

  private ppData(e: Explanation & { role: FrameRole }, addr: number, out: string[]): void {
    const mem = this.sys.m.mem;
    const head = this.pa.compoundHead(mem.virtToPage(addr));
    const hpfn = head >>> STRUCT_PAGE_SHIFT;
    e.page = { page: hex32(head), pfn: hpfn, class: this.classes[hpfn]! };
    const data = mem.pageAddress(head);
    out.push(`data of the page_pool page whose struct page is ${hex32(head)} (pfn ${hex(hpfn)}), byte ${addr - data} of its buffer`);
    this.pp.pageSummary(e, head, this.classes[hpfn]!, out);
  }

  // ---------------------------------------------------------------- anything else allocated

  private allocated(e: Explanation & { role: FrameRole }, addr: number, out: string[]): void {
    const mem = this.sys.m.mem;
    const head = this.pa.compoundHead(mem.virtToPage(addr));
    const type = mem.rd32(head + PAGE_TYPE);
    if (type === PAGE_TYPE_LARGE_KMALLOC) {
      e.role = "large kmalloc";
      const base = mem.pageAddress(head);
      const bytes = mem.pageSize << this.pa.compoundOrder(head);
      out.push(`a large kmalloc (order ${this.pa.compoundOrder(head)}, ${bytes} bytes) at ${hex32(base)}, byte ${addr - base}`);
      this.pp.knownObject(e, base, addr, out);
      return;
    }
    e.role = "allocated";
    e.page = { page: hex32(head), pfn: head >>> STRUCT_PAGE_SHIFT, class: this.classes[head >>> STRUCT_PAGE_SHIFT]! };
    out.push(`handed out by the page allocator (order ${this.pa.compoundOrder(head)}, _refcount ${this.pa.pageCount(head)}); no structure explain knows claims it`);
    this.pp.pageSummary(e, head, e.class, out);
  }
}

export { fieldText };

// Re-exported for the CLI and tests.
export { fieldAt };
