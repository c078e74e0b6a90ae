/**
 * ftrace for the page_pool tracepoints: a tracer that records each event the way the kernel's
 * `trace_event_buffer_reserve()` + `TP_fast_assign()` do (the CPU context and the fields, read
 * from the machine at the call site), and prints the records as `cat trace_pipe` does.
 *
 * The framing is `trace_print_context()` (kernel/trace/trace_output.c, find_string
 * `"%16s-%-7d ", comm, entry->pid`, id 142001020):
 *
 *   "%16s-%-7d " comm pid   "[%03d] " cpu   trace_print_lat_fmt()   " %5lu.%06lu" secs usecs   ": "
 *
 * then trace_raw_output_*: `"%s: " event name`, the TP_printk text and a newline:
 *
 *             <idle>-0       [000] ..s..     0.000000: page_pool_state_hold: page_pool=ffff8880… netmem=… 
 *
 * `trace_print_lat_fmt()` (same file) prints five characters: irqs-off ('b' for BH disabled:
 * TRACE_FLAG_BH_OFF, `softirq_count() >> (SOFTIRQ_SHIFT + 1)`; the emulator never disables
 * interrupts, so never 'd'), need-resched ('.': the emulator has no scheduler flags), hardirq/softirq
 * ('s' for TRACE_FLAG_SOFTIRQ, `in_serving_softirq()`), the preempt depth (`min(pc & 0xff, 0xf)`,
 * hex, '.' for 0) and the migrate-disable depth ('.', never set here). The flag bits are those of
 * `tracing_gen_ctx_irq_test()` (kernel/trace/trace.c, find_string "softirq_count() >> (SOFTIRQ_SHIFT
 * + 1)", id 23907140951). The timestamp is the machine's virtual clock (MACH_CLOCK_MS, a ms count,
 * shown at the trace clock's µs resolution).
 *
 * TASK-PID: the emulator has CPUs, not tasks; the tracer names the context the kernel would have
 * run in, from what the machine shows at the event: serving a softirq → the NAPI softirq on an
 * otherwise idle CPU, `<idle>-0`; process context on a pool whose destroy_cnt is ≥ 2 → the
 * release_dw work (`page_pool_release_retry()`), `kworker/N:1`; any other process context → the
 * driver's task (`TraceOptions.task`, default `ppemu-1000`). This is a naming rule, not state: a
 * process-context put on a pool after its first retry would be named kworker too.
 *
 * Records are kept by the tracer (the reader of trace_pipe, outside the machine, as `cat` is) in a
 * typed array grown by doubling: no allocation per event once it has room.
 */
import type { PagePools } from "../pool/page_pool.js";
import { buildById } from "../builds/registry.js";
import { CPU_PREEMPT_COUNT, SOFTIRQ_OFFSET, SOFTIRQ_MASK, SOFTIRQ_SHIFT } from "../smp/percpu.js";
import {
  TRACE_EVENTS,
  TP_RELEASE,
  TP_STATE_RELEASE,
  TP_STATE_HOLD,
  TP_UPDATE_NID,
  type TraceEventName,
  type TraceArgs,
  traceFormatsOf,
  renderTp,
  poolPtr,
  netmemPtr,
  setTraceHook,
  traceHook,
} from "./tracepoints.js";

export interface TraceOptions {
  /** Events to record (default all four). */
  readonly events?: readonly TraceEventName[];
  /** The task process-context events run in (default comm "ppemu", pid 1000). */
  readonly task?: { readonly comm: string; readonly pid: number };
  /**
   * The ring's size in events (default TRACE_BUF_RECORDS): when full the oldest are overwritten, as
   * ftrace's default overwrite mode does, and counted in `lost`.
   */
  readonly maxRecords?: number;
}

/** Default events a tracer keeps (per CPU, as ftrace's per-CPU buffers): 2^18 of 88 bytes. */
export const TRACE_BUF_RECORDS = 1 << 18;

// Record layout: one Float64Array row per event.
const R_TP = 0;
const R_CPU = 1;
const R_PC = 2;
const R_TS_MS = 3;
const R_POOL = 4;
const R_NETMEM = 5;
/** hold (state_hold, release), release (state_release, release), pool_nid (update_nid). */
const R_A = 6;
/** release (release event), new_nid (update_nid). */
const R_B = 7;
/** destroy_cnt (u64 as a number). */
const R_CNT = 8;
const R_BUILD = 9;
const R_PFN = 10;
const R_SIZE = 11;

const KWORKER_PID_BASE = 40;

/** `trace_print_lat_fmt()` for an emulated preempt count. */
export function latFmt(pc: number): string {
  const bhOff = (pc & SOFTIRQ_MASK) >>> (SOFTIRQ_SHIFT + 1) !== 0;
  const softirq = (pc & SOFTIRQ_OFFSET) !== 0;
  const depth = Math.min(pc & 0xff, 0xf);
  return (bhOff ? "b" : ".") + "." + (softirq ? "s" : ".") + (depth !== 0 ? depth.toString(16) : ".") + ".";
}

/** `trace_print_context()`: the part of a trace_pipe line before the event name. */
export function traceContext(comm: string, pid: number, cpu: number, pc: number, tsMs: number): string {
  const us = Math.round(tsMs * 1000);
  const secs = Math.floor(us / 1_000_000);
  const usec = us - secs * 1_000_000;
  return `${comm.padStart(16)}-${String(pid).padEnd(7)} [${String(cpu).padStart(3, "0")}] ${latFmt(pc)} ${String(secs).padStart(5)}.${String(usec).padStart(6, "0")}: `;
}

/**
 * A tracer on this thread: `start()` installs the hook, `stop()` removes it, `lines()` reads the
 * trace. One per thread, as ftrace keeps one buffer per CPU: a CPU worker's tracer hands its
 * `rows()` to the parent, and `traceText()` merges the CPUs' buffers by timestamp as trace_pipe does.
 */
export class Tracer {
  private rec = new Float64Array(R_SIZE * 256);
  private n = 0;
  private readonly cap: number;
  private readonly enabled: boolean[];
  private readonly task: { readonly comm: string; readonly pid: number };
  private readonly hook = (tp: number, pps: PagePools, pool: number, arg: number): void => this.record(tp, pps, pool, arg);

  constructor(opts: TraceOptions = {}) {
    const ev = opts.events ?? TRACE_EVENTS;
    this.enabled = TRACE_EVENTS.map((e) => ev.includes(e));
    this.task = opts.task ?? { comm: "ppemu", pid: 1000 };
    this.cap = opts.maxRecords ?? TRACE_BUF_RECORDS;
  }

  start(): this {
    if (traceHook !== null && traceHook !== this.hook) throw new Error("Tracer.start: another tracer is running on this thread");
    setTraceHook(this.hook);
    return this;
  }

  stop(): void {
    if (traceHook === this.hook) setTraceHook(null);
  }

  /** Events recorded so far (the overwritten ones included). */
  get count(): number {
    return this.n;
  }

  /** Events the ring overwrote: ftrace's `[LOST n EVENTS]`. */
  get lost(): number {
    return Math.max(0, this.n - this.cap);
  }

  /** Records of one event, of those kept. */
  countOf(event: TraceEventName): number {
    const tp = TRACE_EVENTS.indexOf(event);
    const r = this.rows();
    let c = 0;
    for (let at = 0; at < r.length; at += R_SIZE) if (r[at + R_TP] === tp) c++;
    return c;
  }

  /** The kept records, oldest first, R_SIZE numbers each (what a CPU worker hands its parent). */
  rows(): Float64Array {
    const kept = Math.min(this.n, this.cap);
    if (this.n <= this.cap) return this.rec.slice(0, kept * R_SIZE);
    const first = (this.n % this.cap) * R_SIZE;
    const out = new Float64Array(kept * R_SIZE);
    out.set(this.rec.subarray(first, kept * R_SIZE));
    out.set(this.rec.subarray(0, first), kept * R_SIZE - first);
    return out;
  }

  private record(tp: number, pps: PagePools, pool: number, arg: number): void {
    if (!this.enabled[tp]) return;
    const slot = this.n % this.cap;
    if ((slot + 1) * R_SIZE > this.rec.length) {
      const grown = new Float64Array(Math.min(this.rec.length * 2, this.cap * R_SIZE));
      grown.set(this.rec);
      this.rec = grown;
    }
    this.n++;
    const at = slot * R_SIZE;
    this.rec[at + R_BUILD] = pps.build.id;
    const mem = pps.mem;
    const u32 = mem.u32;
    const o = pps.o;
    const r = this.rec;
    r[at + R_TP] = tp;
    r[at + R_CPU] = mem.cpu;
    r[at + R_PC] = u32[(mem.cpuArea + CPU_PREEMPT_COUNT) >>> 2]!;
    r[at + R_TS_MS] = mem.nowMs;
    r[at + R_POOL] = pool;
    r[at + R_CNT] = mem.rd64(pool + o.destroyCnt);
    // TP_fast_assign(): what each event stores, read from the pool as the kernel's callers pass it.
    const hold = u32[(pool + o.holdCnt) >>> 2]!;
    const release = Atomics.load(u32, (pool + o.releaseCnt) >>> 2);
    switch (tp) {
      case TP_RELEASE:
        r[at + R_A] = hold;
        r[at + R_B] = release;
        r[at + R_NETMEM] = 0;
        break;
      case TP_STATE_HOLD:
        r[at + R_A] = hold;
        r[at + R_NETMEM] = arg;
        break;
      case TP_STATE_RELEASE:
        r[at + R_A] = release;
        r[at + R_NETMEM] = arg;
        break;
      case TP_UPDATE_NID:
        r[at + R_A] = mem.rd32(pool + o.nid) | 0;
        r[at + R_B] = arg | 0;
        r[at + R_NETMEM] = 0;
        break;
    }
    // netmem_pfn_trace(): page_to_pfn() of a page, 0 for a net_iov.
    r[at + R_PFN] = tp === TP_STATE_HOLD || tp === TP_STATE_RELEASE ? ((arg & 1) !== 0 ? 0 : mem.pageToPfn(arg)) : 0;
  }

  /** The trace as trace_pipe prints it, one string per line (no newlines). */
  lines(): string[] {
    return traceLines([this.rows()], this.task);
  }

  /** The trace as one text, each line ending in a newline (empty when nothing was recorded). */
  text(): string {
    const l = this.lines();
    return l.length === 0 ? "" : l.join("\n") + "\n";
  }
}

/**
 * Several CPUs' buffers (`Tracer.rows()`), merged by timestamp as trace_pipe merges the per-CPU ring
 * buffers (equal timestamps: the buffers' order, then each one's own), as trace_pipe lines.
 */
export function traceLines(parts: readonly Float64Array[], task: { readonly comm: string; readonly pid: number } = { comm: "ppemu", pid: 1000 }): string[] {
  const idx: [number, number][] = [];
  parts.forEach((p, k) => {
    for (let at = 0; at < p.length; at += R_SIZE) idx.push([k, at]);
  });
  idx.sort((x, y) => parts[x[0]]![x[1] + R_TS_MS]! - parts[y[0]]![y[1] + R_TS_MS]! || x[0] - y[0] || x[1] - y[1]);
  const out: string[] = [];
    const v: TraceArgs = { pool: "", netmem: "", is_net_iov: 0, pfn: 0, hold: 0, release: 0, inflight: 0, cnt: 0, pool_nid: 0, new_nid: 0 };
  for (const [k, at] of idx) {
      const r = parts[k]!;
      const tp = r[at + R_TP]!;
      const cpu = r[at + R_CPU]!;
      const pc = r[at + R_PC]!;
      const pool = r[at + R_POOL]!;
      const netmem = r[at + R_NETMEM]!;
      const cnt = r[at + R_CNT]!;
      const fmt = traceFormatsOf(buildById(r[at + R_BUILD]!)!)[tp]!;
      v.pool = poolPtr(pool);
      v.netmem = netmemPtr(netmem);
      v.is_net_iov = netmem & 1;
      v.pfn = r[at + R_PFN]!;
      v.cnt = cnt;
      if (tp === TP_RELEASE) {
        v.hold = r[at + R_A]!;
        v.release = r[at + R_B]!;
        v.inflight = (v.hold - v.release) | 0;
      } else if (tp === TP_STATE_HOLD) v.hold = r[at + R_A]!;
      else if (tp === TP_STATE_RELEASE) v.release = r[at + R_A]!;
      else {
        v.pool_nid = r[at + R_A]!;
        v.new_nid = r[at + R_B]!;
      }
      let comm = task.comm;
      let pid = task.pid;
      if ((pc & SOFTIRQ_OFFSET) !== 0) {
        comm = "<idle>";
        pid = 0;
      } else if (cnt >= 2) {
        comm = `kworker/${cpu}:1`;
        pid = KWORKER_PID_BASE + cpu;
      }
      out.push(traceContext(comm, pid, cpu, pc, r[at + R_TS_MS]!) + fmt.event + ": " + renderTp(fmt, v));
    }
  return out;
}

/** `traceLines` as one text, each line ending in a newline (empty for no events). */
export function traceText(parts: readonly Float64Array[], task?: { readonly comm: string; readonly pid: number }): string {
  const l = traceLines(parts, task);
  return l.length === 0 ? "" : l.join("\n") + "\n";
}

/** Run `fn` with a tracer started, stopping it however `fn` ends. */
export function withTracer<T>(tracer: Tracer, fn: () => T): T {
  tracer.start();
  try {
    return fn();
  } finally {
    tracer.stop();
  }
}
