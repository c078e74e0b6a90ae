/**
 * The machine's kernel log as `dmesg` prints it: every line of every record in the diag ring
 * (src/mem/diag.ts, PhysMem.diagLog()), oldest first, each with the printk timestamp of its record.
 *
 * The prefix is kernel/printk/printk.c print_time(): `sprintf(buf, "[%5lu.%06lu]", ts, rem_nsec /
 * 1000)`, then info_print_prefix() adds one space (find_string ids 4980684437, 22136953); util-linux
 * dmesg prints the same `[%5ld.%06ld] ` from /dev/kmsg. A record's text that spans several lines
 * (dma-debug's report, a WARN with its message, bad_page() with dump_page()) gets the prefix on every
 * line, as record_print_text() does for a message with embedded newlines.
 *
 * Timestamps are the record's `time_ms`: the machine's virtual clock (PhysMem.nowMs, milliseconds
 * since boot) when the record was written, so the microsecond digits are always `000`. The ring
 * keeps the most recent records (its capacity, 256 on a default machine): older ones are gone, as
 * the kernel's log buffer loses its oldest lines. Lines starting `ppemu:` are the emulator's own
 * checks, which no kernel prints (`origin: "kernel"` leaves them out).
 *
 * bad_page() reports get dump_page()'s page:/flags:/raw: lines, read from the struct page in the
 * buffer now (src/mem/dump_page.ts). A page bad_page() refused is leaked as it was, so those are the
 * words of the report unless something wrote the frame since.
 */
import type { PhysMem } from "../mem/physmem.js";
import { formatDiag, diagOrigin, type DiagResolver } from "../mem/diag.js";
import { dumpPageText } from "../mem/dump_page.js";

export interface DmesgOptions {
  /** `"all"` (default): every record; `"kernel"`: only what the emulated kernel prints (no `ppemu:` lines). */
  readonly origin?: "all" | "kernel";
}

/** `[%5lu.%06lu]` of a time in milliseconds. */
export function printkTime(ms: number): string {
  ms = Math.max(0, Math.floor(ms));
  const sec = Math.floor(ms / 1000);
  const usec = (ms % 1000) * 1000;
  return `[${String(sec).padStart(5, " ")}.${String(usec).padStart(6, "0")}]`;
}

/** The resolver dmesg renders with: the machine's own (device names, dma-debug's entry) plus dump_page(). */
export function dmesgResolver(mem: PhysMem): DiagResolver {
  const base = mem.diagResolver;
  return {
    deviceName: base?.deviceName ? (id) => base.deviceName!(id) : undefined,
    dmaDebugLeak: base?.dmaDebugLeak ? (id) => base.dmaDebugLeak!(id) : undefined,
    dumpPage: (pfn) => dumpPageText(mem, pfn),
  };
}

/** The log's lines, each with its timestamp prefix. */
export function dmesgLines(mem: PhysMem, opts: DmesgOptions = {}): string[] {
  const res = dmesgResolver(mem);
  const kernelOnly = opts.origin === "kernel";
  const out: string[] = [];
  for (const r of mem.diagLog()) {
    if (kernelOnly && diagOrigin(r.kind) !== "kernel") continue;
    const prefix = printkTime(r.timeMs) + " ";
    for (const line of formatDiag(r.kind, r.a, r.b, r.c, res).split("\n")) out.push(prefix + line);
  }
  return out;
}

/** `dmesg`: the log as text, one line per printed line, newline-terminated ("" for an empty log). */
export function dmesgText(mem: PhysMem, opts: DmesgOptions = {}): string {
  const lines = dmesgLines(mem, opts);
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}
