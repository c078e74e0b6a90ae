import { describe, expect, it, afterEach } from "vitest";
import { UNBIND_PROBE_MS } from "../../src/scenario/unbind.js";
import { runUnbind } from "../../src/scenario/unbind.js";
import { Tracer, withTracer, latFmt, traceContext } from "../../src/trace/ftrace.js";
import { TRACE_FORMATS, TRACE_EVENTS, TP_UPDATE_NID, traceEraOf, traceHook, setTraceHook, tpPrintf } from "../../src/trace/tracepoints.js";
import { resolveBuild } from "../../src/builds/index.js";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { SOFTIRQ_OFFSET, SOFTIRQ_DISABLE_OFFSET } from "../../src/smp/percpu.js";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * The kernel's TP_printk strings, copied verbatim from include/trace/events/page_pool.h (v6.12+:
 * torvalds/linux and the devmem patch, search ids 66498455164 / 13100641106; v6.6: id 302191137).
 * The test parses the emulator's trace with regexes built from these, not from the emulator's table.
 */
const KERNEL_FMT_V6_12 = {
  page_pool_release: "page_pool=%p inflight=%d hold=%u release=%u cnt=%llu",
  page_pool_state_release: "page_pool=%p netmem=%p is_net_iov=%lu pfn=0x%lx release=%u",
  page_pool_state_hold: "page_pool=%p netmem=%p is_net_iov=%lu, pfn=0x%lx hold=%u",
  page_pool_update_nid: "page_pool=%p pool_nid=%d new_nid=%d",
} as const;
const KERNEL_FMT_V6_6 = {
  page_pool_release: "page_pool=%p inflight=%d hold=%u release=%u cnt=%llu",
  page_pool_state_release: "page_pool=%p page=%p pfn=0x%lx release=%u",
  page_pool_state_hold: "page_pool=%p page=%p pfn=0x%lx hold=%u",
  page_pool_update_nid: "page_pool=%p pool_nid=%d new_nid=%d",
} as const;

/** A TP_printk format as an anchored regex: each conversion a capture group, the rest literal. */
function fmtRegex(fmt: string): RegExp {
  let src = "";
  for (let i = 0; i < fmt.length; ) {
    const m = /^%(p|d|u|lu|lx|llu)/.exec(fmt.slice(i));
    if (m !== null) {
      src += { p: "([0-9a-f]+)", d: "(-?\\d+)", u: "(\\d+)", lu: "(\\d+)", lx: "([0-9a-f]+)", llu: "(\\d+)" }[m[1] as "p"];
      i += m[0].length;
    } else {
      src += fmt[i]!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      i++;
    }
  }
  return new RegExp("^" + src + "$");
}

/** trace_print_context(): "%16s-%-7d [%03d] <5 flags> %5lu.%06lu: " then "event: ". */
const FRAME = /^( {0,15}\S.{0,15}?)-(\d+) *\[(\d{3})\] ([.bdDX][.nNp][.sShHzZ][.0-9a-f][.0-9a-f]) +(\d+)\.(\d{6}): (\w+): (.*)$/;

interface Parsed {
  comm: string;
  pid: number;
  cpu: number;
  flags: string;
  us: number;
  event: string;
  fields: string[];
}

function parseTrace(text: string, fmts: Record<string, string>): Parsed[] {
  const regexes = Object.fromEntries(Object.entries(fmts).map(([e, f]) => [e, fmtRegex(f)]));
  const lines = text.split("\n");
  expect(lines.pop()).toBe("");
  return lines.map((line) => {
    const m = FRAME.exec(line);
    if (m === null) throw new Error(`no ftrace framing: ${JSON.stringify(line)}`);
    // The columns are fixed: comm right-aligned in 16, pid left-aligned in 7.
    expect(line.indexOf("-" + m[2] + " ")).toBe(16);
    expect(line.slice(24, 26)).toBe(" [");
    const re = regexes[m[7]!];
    if (re === undefined) throw new Error(`unknown event ${m[7]}`);
    const f = re.exec(m[8]!);
    if (f === null) throw new Error(`${m[7]} does not match its TP_printk: ${JSON.stringify(m[8])}`);
    return { comm: m[1]!.trim(), pid: Number(m[2]), cpu: Number(m[3]), flags: m[4]!, us: Number(m[5]) * 1e6 + Number(m[6]), event: m[7]!, fields: f.slice(1) };
  });
}

afterEach(() => setTraceHook(null));

describe("page_pool tracepoints", () => {
  it("the emulator's format table is the kernel's, per era", () => {
    expect(TRACE_FORMATS.net_iov.map((f) => [f.event, f.fmt])).toEqual(Object.entries(KERNEL_FMT_V6_12));
    expect(TRACE_FORMATS.page.map((f) => [f.event, f.fmt])).toEqual(Object.entries(KERNEL_FMT_V6_6));
    expect(TRACE_FORMATS.net_iov.map((f) => f.event)).toEqual([...TRACE_EVENTS]);
    for (const era of ["page", "netmem", "net_iov"] as const) {
      for (const f of TRACE_FORMATS[era]) expect(f.fmt.match(/%/g)!.length).toBe(f.args.length);
    }
    expect(["v6.1", "v6.6"].map((b) => traceEraOf(resolveBuild(b)))).toEqual(["page", "page"]);
    expect(["v6.12", "v6.15", "v6.16", "v6.19", "mainline", "v11", "v7-encoded-next"].map((b) => traceEraOf(resolveBuild(b)))).toEqual(Array(7).fill("net_iov"));
  });

  it("frames a line as trace_print_context() does", () => {
    expect(traceContext("<idle>", 0, 1, SOFTIRQ_OFFSET | 1, 1234567.89)).toBe("          <idle>-0       [001] ..s1.  1234.567890: ");
    expect(latFmt(0)).toBe(".....");
    expect(latFmt(SOFTIRQ_DISABLE_OFFSET)).toBe("b....");
    expect(latFmt(SOFTIRQ_OFFSET | 0x12)).toBe("..sf.");
    expect(tpPrintf("a=%d b=%u c=0x%lx d=%p", [-1, -1, 255, "ffff888000001000"])).toBe("a=-1 b=4294967295 c=0xff d=ffff888000001000");
  });

  it("the hook is null unless a tracer runs", () => {
    expect(traceHook).toBe(null);
    const t = new Tracer();
    withTracer(t, () => expect(traceHook).not.toBe(null));
    expect(traceHook).toBe(null);
  });

  it("unbind on v6.16: every line parses with the kernel's formats, counts exact, counters consecutive", () => {
    const tracer = new Tracer();
    const run = withTracer(tracer, () => runUnbind({ kernel: "v6.16", pages: 256, inflight: 64, windowMs: 120_000 }));
    const r = run.result;
    expect(r.pages_allocated).toBe(256);
    expect(r.pool_freed_at_ms).not.toBe(null);
    const lines = parseTrace(tracer.text(), KERNEL_FMT_V6_12);
    const pool = (run.pool >>> 0).toString(16).padStart(8, "0");
    const holds = lines.filter((l) => l.event === "page_pool_state_hold");
    const rels = lines.filter((l) => l.event === "page_pool_state_release");
    const releases = lines.filter((l) => l.event === "page_pool_release");
    // hold == pages the pool allocated (256 = 4 bulk refills of 64, all handed to the driver);
    // every page came back, so release == hold.
    expect(holds.length).toBe(256);
    expect(rels.length).toBe(256);
    expect(lines.filter((l) => l.event === "page_pool_update_nid").length).toBe(0);
    expect(holds.map((l) => Number(l.fields[4]))).toEqual(Array.from({ length: 256 }, (_, i) => i + 1));
    expect(rels.map((l) => Number(l.fields[4]))).toEqual(Array.from({ length: 256 }, (_, i) => i + 1));
    for (const l of [...holds, ...rels]) {
      expect(l.fields[0]).toBe("ffff8880" + pool);
      expect(l.fields[2]).toBe("0");
      // netmem = the struct page *; pfn = page_to_pfn(): the vmemmap offset / sizeof(struct page).
      expect(l.fields[1]!.slice(0, 8)).toBe("ffffea00");
      expect(parseInt(l.fields[3]!, 16)).toBe(run.sys.m.mem.pageToPfn(parseInt(l.fields[1]!.slice(8), 16)));
    }
    // Each page is held once and released once.
    expect(new Set(holds.map((l) => l.fields[1])).size).toBe(256);
    expect(new Set(rels.map((l) => l.fields[1]))).toEqual(new Set(holds.map((l) => l.fields[1])));
    // The allocations ran in the driver's NAPI softirq on CPU 0.
    // …at the driver's probe, UNBIND_PROBE_MS into boot.
    for (const l of holds) expect([l.comm, l.pid, l.cpu, l.flags, l.us]).toEqual(["<idle>", 0, 0, "..s..", UNBIND_PROBE_MS * 1000]);
    // page_pool_release: once at destroy (cnt 1), then each 1-s retry until nothing is in flight.
    expect(releases[0]!.fields).toEqual(["ffff8880" + pool, "64", "256", "192", "1"]);
    expect(releases.map((l) => Number(l.fields[4]))).toEqual(Array.from({ length: releases.length }, (_, i) => i + 1));
    for (const l of releases) expect(Number(l.fields[1])).toBe(Number(l.fields[2]) - Number(l.fields[3]));
    expect(releases.at(-1)!.fields.slice(1, 4)).toEqual(["0", "256", "256"]);
    expect(releases.length).toBe(120);
    expect(releases.slice(1).every((l, i) => l.us - releases[i]!.us === (i === 0 ? 1_000_000 : 1_000_000))).toBe(true);
    expect(releases.slice(1).every((l) => l.comm === "kworker/0:1")).toBe(true);
    // Timestamps never go back.
    for (let i = 1; i < lines.length; i++) expect(lines[i]!.us).toBeGreaterThanOrEqual(lines[i - 1]!.us);
    expect(tracer.countOf("page_pool_state_hold")).toBe(256);
  });

  it("page_pool_update_nid: pool_nid read from the pool, new_nid from the caller", () => {
    // PagePools.updateNid() is page_pool_update_nid(): the event, then p.nid = new_nid.
    const run = runUnbind({ kernel: "v6.16", pages: 0, inflight: 0, windowMs: 0 }, "allocated");
    const tracer = new Tracer({ events: ["page_pool_update_nid"] });
    withTracer(tracer, () => {
      run.sys.pps.updateNid(run.pool, 1);
      run.sys.pps.updateNid(run.pool, -1);
    });
    const lines = parseTrace(tracer.text(), KERNEL_FMT_V6_12);
    const pool = "ffff8880" + (run.pool >>> 0).toString(16).padStart(8, "0");
    expect(lines.map((l) => [l.event, ...l.fields])).toEqual([
      ["page_pool_update_nid", pool, "0", "1"],
      ["page_pool_update_nid", pool, "1", "-1"],
    ]);
    expect(run.sys.m.mem.rd32(run.pool + run.sys.pps.o.nid) | 0).toBe(-1);
  });

  it("v6.6 prints page=%p pfn=0x%lx and parses with that era's formats", () => {
    const tracer = new Tracer({ events: ["page_pool_state_hold"] });
    withTracer(tracer, () => runUnbind({ kernel: "v6.6", pages: 8, inflight: 2, windowMs: 2000 }));
    const lines = parseTrace(tracer.text(), KERNEL_FMT_V6_6);
    // The slow path allocates in bulk: one refill of PP_ALLOC_CACHE_REFILL (64) pages for 8 taken.
    expect(lines.map((l) => l.event)).toEqual(Array(64).fill("page_pool_state_hold"));
    expect(lines.map((l) => Number(l.fields[3]))).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
  });
});

async function run(...argv: string[]) {
  const io = new BufferIo();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

describe("ppemu scenario unbind --trace", () => {
  it("--trace - prints only the trace lines", async () => {
    const r = await run("scenario", "unbind", "--kernel", "v6.16", "--pages", "16", "--inflight", "4", "--window-ms", "3000", "--trace", "-");
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    const lines = parseTrace(r.out, KERNEL_FMT_V6_12);
    // 16 pages taken from one bulk refill of 64: the pool held and released 64.
    expect(lines.filter((l) => l.event === "page_pool_state_hold").length).toBe(64);
    expect(lines.filter((l) => l.event === "page_pool_state_release").length).toBe(64);
  });

  it("--trace-filter keeps the events named; an unknown one is a usage error listing the valid ones", async () => {
    const r = await run("scenario", "unbind", "--kernel", "v6.16", "--pages", "16", "--inflight", "4", "--window-ms", "3000", "--trace", "-", "--trace-filter", "page_pool_release");
    expect(r.code).toBe(0);
    const lines = parseTrace(r.out, KERNEL_FMT_V6_12);
    expect(new Set(lines.map((l) => l.event))).toEqual(new Set(["page_pool_release"]));
    const bad = await run("scenario", "unbind", "--trace", "-", "--trace-filter", "page_pool_release,bogus");
    expect(bad.code).toBe(2);
    expect(bad.err).toBe(`ppemu scenario: --trace-filter: unknown event "bogus" (valid: ${TRACE_EVENTS.join(", ")})\n`);
    const noTrace = await run("scenario", "unbind", "--trace-filter", "page_pool_release");
    expect(noTrace.code).toBe(2);
  });

  it("--trace FILE writes the trace and prints the normal output", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ppemu-trace-"));
    const file = join(dir, "trace.txt");
    const r = await run("scenario", "unbind", "--kernel", "v6.16", "--pages", "16", "--inflight", "4", "--window-ms", "3000", "--trace", file);
    expect(r.code).toBe(0);
    expect(r.out).toContain("scenario unbind: 16 pages allocated");
    const text = readFileSync(file, "utf8");
    const n = parseTrace(text, KERNEL_FMT_V6_12).length;
    expect(r.out).toContain(`wrote ${file} (${n} trace lines)`);
  });
});

describe("--trace on the SMP commands: each CPU its own buffer, merged by timestamp", () => {
  it("stress: both CPUs' events, every line parses, timestamps never go back", { timeout: 60_000 }, async () => {
    const r = await run("stress", "--kernel", "v6.16", "--seconds", "1", "--keep-going", "--trace", "-", "--trace-filter", "page_pool_state_hold,page_pool_release");
    expect(r.err).toBe("");
    const lines = parseTrace(r.out, KERNEL_FMT_V6_12);
    expect(lines.length).toBeGreaterThan(0);
    expect(new Set(lines.map((l) => l.event))).toEqual(new Set(["page_pool_state_hold", "page_pool_release"]));
    // CPU 0 (the driver) allocates; the deferred release runs there too.
    expect(new Set(lines.filter((l) => l.event === "page_pool_state_hold").map((l) => l.cpu))).toEqual(new Set([0]));
    for (let i = 1; i < lines.length; i++) expect(lines[i]!.us).toBeGreaterThanOrEqual(lines[i - 1]!.us);
  });

  it("race --replay: the schedule's events (setup and checks on this thread, the CPUs' own); other schedulers refuse", { timeout: 60_000 }, async () => {
    // v6.15's first retry-vs-last-return violation, as `ppemu race` prints its replay (exit 1: the violation).
    const argv = ["race", "--kernel", "v6.15", "--program", "retry-vs-last-return", "--replay", "s0:0*10.1*6.0*9.1", "--trace", "-"];
    const r = await run(...argv);
    const lines = parseTrace(r.out, KERNEL_FMT_V6_12);
    const rel = lines.filter((l) => l.event === "page_pool_release");
    expect(rel.length).toBeGreaterThan(0);
    // destroy_cnt counts up by one per page_pool_release(), and the last one finds nothing in flight.
    expect(rel.map((l) => Number(l.fields[4]))).toEqual(Array.from({ length: rel.length }, (_, i) => i + 1));
    expect(rel.at(-1)!.fields[1]).toBe("0");
    const again = await run(...argv);
    expect(again.out).toBe(r.out);
    const bad = await run("race", "--kernel", "v6.16", "--trace", "-");
    expect([bad.code, bad.err]).toEqual([2, "ppemu race: --trace records one schedule: give it with --replay TRACE\n"]);
  });
});
