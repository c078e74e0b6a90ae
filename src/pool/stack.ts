/**
 * A network-stack stand-in: pages a driver hands up (as skb frags) are held here, in the buffer, and
 * freed later through the path a kernel skb free takes — `skb_pp_recycle()` → `napi_pp_put_page()`:
 * compound head → `page_pool_page_is_pp()` → the pool the page names → `page_pool_put_full_page(pool,
 * page, false)`, where the put itself decides `allow_direct` as `page_pool_napi_local()` does. A page
 * that is not a page_pool page is freed with `put_page()`.
 *
 *   struct ppemu_stack (hung off the machine header):
 *   ╒═══════╤═════╤══════╤═════╤════════════╤══════════╤═══════════╤══════════════════════╕
 *   │ count │ cap │ head │ cpu │ in_softirq │ returned │ freed_non │ slots ──▶ page[cap]  │
 *   ╘═══════╧═════╧══════╧═════╧════════════╧══════════╧═══════════╧══════════════════════╛
 *   A FIFO: the oldest skb is freed first. `cpu`/`in_softirq` are the context frees run in.
 */
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf, struct, m, U32, INT, ptr } from "../mem/ctype.js";
import { MACH_STACK } from "../mem/physmem.js";
import { CPU_PREEMPT_COUNT, setServingSoftirq, setPreemptCount } from "../smp/percpu.js";
import type { PagePools } from "./page_pool.js";
import { GFP_ZERO } from "../mem/buddy.js";
import { PpemuError, checkInt, showValue } from "../errors.js";

export const STRUCT_PPEMU_STACK = struct("ppemu_stack", [
  m("count", U32),
  m("cap", U32),
  m("head", U32),
  m("cpu", INT),
  m("in_softirq", U32),
  m("returned", U32),
  m("freed_non_pp", U32),
  m("slots", ptr("struct page *")),
]);
export const STACK_LAYOUT = layoutOf(STRUCT_PPEMU_STACK, LP64);
const ST_COUNT = offsetOf(STACK_LAYOUT, "count");
const ST_CAP = offsetOf(STACK_LAYOUT, "cap");
const ST_HEAD = offsetOf(STACK_LAYOUT, "head");
const ST_CPU = offsetOf(STACK_LAYOUT, "cpu");
const ST_IN_SOFTIRQ = offsetOf(STACK_LAYOUT, "in_softirq");
const ST_RETURNED = offsetOf(STACK_LAYOUT, "returned");
const ST_FREED_NON_PP = offsetOf(STACK_LAYOUT, "freed_non_pp");
const ST_SLOTS = offsetOf(STACK_LAYOUT, "slots");
/** One held page: a `struct page *`, as wide as the declaration's `slots` pointer. */
const SLOT_SIZE = STACK_LAYOUT.sz.slots!;

export interface StackContext {
  /** The CPU the stack frees pages on (default 1: not the driver's NAPI CPU 0). */
  readonly cpu?: number;
  /** Whether frees run in softirq context (default true: a NAPI poll or net_rx_action). */
  readonly inSoftirq?: boolean;
}

export class NetStack {
  /** Address of `struct ppemu_stack`. */
  readonly st: number;

  /** Create the machine's stack (or attach to the one already there). */
  constructor(
    private readonly pps: PagePools,
    cap = 4096,
    ctx: StackContext = {},
  ) {
    const mem = pps.mem;
    const existing = mem.rdPtr(mem.machine + MACH_STACK);
    if (existing !== 0) {
      this.st = existing;
      return;
    }
    const cpu = ctx.cpu ?? 1;
    // Per-CPU data (recycle stats) is sized by nr_cpu_ids: a CPU past it would write past it.
    if (typeof cpu !== "number" || !Number.isInteger(cpu) || cpu < 0 || cpu >= mem.nrCpus) {
      throw new PpemuError("EINVAL_ARG", `NetStack: cpu ${showValue(cpu)} is not one of the machine's ${mem.nrCpus} CPUs (0 … ${mem.nrCpus - 1})`);
    }
    // The held-page array is one kmalloc: at most MAX_PAGE_ORDER pages of pointers.
    checkInt("NetStack: cap", cap, 1, (mem.pageSize << 10) / SLOT_SIZE);
    if (ctx.inSoftirq !== undefined && typeof ctx.inSoftirq !== "boolean") {
      throw new PpemuError("EINVAL_ARG", `NetStack: inSoftirq must be true or false, got ${showValue(ctx.inSoftirq)}`);
    }
    const st = pps.m.slab.kmalloc(STACK_LAYOUT.size, GFP_ZERO);
    const slots = pps.m.slab.kmalloc(cap * SLOT_SIZE, GFP_ZERO);
    if (st === 0 || slots === 0) throw new Error("out of memory creating the network stack stand-in");
    mem.wr32(st + ST_CAP, cap);
    mem.wr32(st + ST_CPU, cpu);
    mem.wr32(st + ST_IN_SOFTIRQ, (ctx.inSoftirq ?? true) ? 1 : 0);
    mem.wrPtr(st + ST_SLOTS, slots);
    mem.wrPtr(mem.machine + MACH_STACK, st);
    this.st = st;
  }

  get count(): number {
    return this.pps.mem.rd32(this.st + ST_COUNT);
  }
  get returned(): number {
    return this.pps.mem.rd32(this.st + ST_RETURNED);
  }
  get freedNonPp(): number {
    return this.pps.mem.rd32(this.st + ST_FREED_NON_PP);
  }

  /** The driver hands a page up (builds an skb around it). False when the stack is full. */
  hold(page: number): boolean {
    const mem = this.pps.mem;
    const st = this.st;
    const count = mem.rd32(st + ST_COUNT);
    const cap = mem.rd32(st + ST_CAP);
    if (count === cap) return false;
    const tail = (mem.rd32(st + ST_HEAD) + count) % cap;
    mem.wrPagePtr(mem.rdPtr(st + ST_SLOTS) + tail * SLOT_SIZE, page);
    mem.wr32(st + ST_COUNT, count + 1);
    return true;
  }

  /** Free the oldest held page through the skb path; returns it, or 0 when nothing is held. */
  returnOldest(): number {
    const mem = this.pps.mem;
    const st = this.st;
    const count = mem.rd32(st + ST_COUNT);
    if (count === 0) return 0;
    const head = mem.rd32(st + ST_HEAD);
    const slot = mem.rdPtr(st + ST_SLOTS) + head * SLOT_SIZE;
    const page = mem.rdPtr(slot);
    mem.wr64(slot, 0, 0);
    mem.wr32(st + ST_HEAD, (head + 1) % mem.rd32(st + ST_CAP));
    mem.wr32(st + ST_COUNT, count - 1);
    mem.wr32(st + ST_RETURNED, mem.rd32(st + ST_RETURNED) + 1);
    this.skbFreePage(page);
    return page;
  }

  /** Free everything held, oldest first. */
  returnAll(): number {
    let n = 0;
    while (this.returnOldest() !== 0) n++;
    return n;
  }

  /** `skb_free_frag`-style free of one page, in the stack's CPU context. */
  skbFreePage(page: number): void {
    const mem = this.pps.mem;
    // A thread playing several CPUs runs the free as the stack's CPU, then goes back.
    const savedCpu = mem.cpu;
    mem.bindCpu(mem.rd32(this.st + ST_CPU));
    const savedPreempt = mem.rd32(mem.cpuArea + CPU_PREEMPT_COUNT);
    setServingSoftirq(mem, mem.rd32(this.st + ST_IN_SOFTIRQ) !== 0);
    try {
      if (!this.napiPpPutPage(page)) {
        mem.wr32(this.st + ST_FREED_NON_PP, mem.rd32(this.st + ST_FREED_NON_PP) + 1);
        this.pps.m.pa.putPage(page);
      }
    } finally {
      setPreemptCount(mem, savedPreempt);
      mem.bindCpu(savedCpu);
    }
  }

  /** `napi_pp_put_page()`: the build's skb free path; false when the page is no page_pool page. */
  napiPpPutPage(page: number): boolean {
    return this.pps.napiPpPutPage(page);
  }

  /** Address of the held-page array (kmalloc'd; from the page allocator when 4 KiB or more). */
  get slots(): number {
    return this.pps.mem.rdPtr(this.st + ST_SLOTS);
  }

  /** Pages held now, oldest first (reports, accounting). */
  forEachHeld(cb: (page: number) => void): void {
    const mem = this.pps.mem;
    const st = this.st;
    const count = mem.rd32(st + ST_COUNT);
    const cap = mem.rd32(st + ST_CAP);
    const head = mem.rd32(st + ST_HEAD);
    const slots = mem.rdPtr(st + ST_SLOTS);
    for (let k = 0; k < count; k++) cb(mem.rdPtr(slots + ((head + k) % cap) * SLOT_SIZE));
  }
}
