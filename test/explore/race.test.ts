/**
 * The race explorer on the known cases: each found on the build before its fix and clean on the
 * build after, with exact schedule counts (the explorer is deterministic), a replay that fails the
 * same way, and an image of the failing step that attaches.
 */
import { describe, expect, it } from "vitest";
import { mkdirSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { runRace } from "../../src/explore/race.js";
import { loadImage, readImageHeader } from "../../src/mem/image.js";
import { attachPpSystem } from "../../src/pool/index.js";

const kinds = (r: { violations: readonly { kind: string; count: number }[] }) => Object.fromEntries(r.violations.map((v) => [v.kind, v.count]));

describe("CVE-2025-38129: the ring producer against the final release (fixed in v6.16 by 271683bb2cf3)", () => {
  it("v6.15: every schedule within 2 preemptions runs; KASAN finds the freed pool's lock and stats written", async () => {
    const r = await runRace({ kernel: "v6.15", program: "destroy-vs-ring-produce", scheduler: "bounded", preemptions: 2 });
    expect([r.schedules, r.exhausted, r.distinct]).toEqual([101, true, 101]);
    expect(kinds(r)).toEqual({ "slab-use-after-free in page_pool_recycle_in_ring:produced": 15, "slab-use-after-free in spin_unlock": 15 });
    const v = r.violations.find((x) => x.kind === "slab-use-after-free in spin_unlock")!;
    expect(v.text).toContain("BUG: KASAN: slab-use-after-free in spin_unlock");
    expect(v.text).toContain("Freed by task 0 on cpu 0:\n __page_pool_destroy");
    expect(v.preemptions).toBeLessThanOrEqual(2);
    expect(v.trace.filter((t) => t.startsWith("CPU 1")).length).toBeGreaterThan(0);
    // The replay fails the same way, and the image is the machine at the failing step.
    const again = await runRace({ kernel: "v6.15", program: "destroy-vs-ring-produce", scheduler: "replay", replay: v.schedule });
    expect(again.schedules).toBe(1);
    expect(again.violations.map((x) => [x.kind, x.text, x.trace])).toEqual([[v.kind, v.text, v.trace]]);
    expect(readImageHeader(v.image).command).toBe(`ppemu race --kernel v6.15 --program destroy-vs-ring-produce --replay '${v.schedule}'`);
    const sys = attachPpSystem(loadImage(v.image));
    expect(sys.build.name).toBe("v6.15");
  });

  it("v6.16: the same tree runs clean", async () => {
    const r = await runRace({ kernel: "v6.16", program: "destroy-vs-ring-produce", scheduler: "bounded", preemptions: 2 });
    expect([r.schedules, r.exhausted, r.violations.length]).toEqual([134, true, 0]);
  });
});

describe("destroy vs. return: the unbind bug by design on classic, none on the xarray builds", () => {
  it("v6.15 counts its DMA calls after the unbind as the bug; v6.16 and mainline run clean", async () => {
    const classic = await runRace({ kernel: "v6.15", program: "destroy-vs-return", scheduler: "bounded", preemptions: 2 });
    expect([classic.schedules, classic.exhausted, classic.by_design]).toEqual([91, true, 113]);
    expect(Object.keys(kinds(classic)).some((k) => k.includes("after-unbind"))).toBe(false);
    for (const kernel of ["v6.16", "mainline"]) {
      const r = await runRace({ kernel, program: "destroy-vs-return", scheduler: "bounded", preemptions: 1 });
      expect(r.exhausted).toBe(true);
      expect([r.by_design, r.violations.length]).toEqual([0, 0]);
    }
  });
});

describe("the xarray scrub writes a page it holds no reference to (v6.16 as merged; mainline only unmaps)", () => {
  it("v6.16 within 1 preemption: the struct page write after the return freed the page; mainline: never", async () => {
    const old = await runRace({ kernel: "v6.16", program: "xarray-scrub-vs-return", scheduler: "bounded", preemptions: 1 });
    expect(old.exhausted).toBe(true);
    const v = old.violations.find((x) => x.kind === "struct-page-after-free");
    expect(v?.text).toMatch(/^ppemu: __page_pool_release_page_dma:cmpxchg_won writes struct page 0x[0-9a-f]+ \(pfn 0x[0-9a-f]+\) of a free page: it holds no reference to it$/);
    expect(v?.preemptions).toBe(1);
    const now = await runRace({ kernel: "mainline", program: "xarray-scrub-vs-return", scheduler: "bounded", preemptions: 1 });
    expect(now.exhausted).toBe(true);
    expect(now.violations.map((x) => x.kind)).not.toContain("struct-page-after-free");
  });
});

describe("a program of the user's own, from a file", () => {
  it("runs, and a bad one is one clear error", async () => {
    const dir = fileURLToPath(new URL("../../tmp/", import.meta.url));
    mkdirSync(dir, { recursive: true });
    const file = `${dir}race-program.mjs`;
    writeFileSync(
      file,
      `export default {
  name: "two-returns",
  summary: "two CPUs return a page each into the ring",
  setup(sys) {
    const pool = sys.pps.create({ poolSize: 64 });
    return { pool, dev: 0, pages: [sys.pps.allocPages(pool), sys.pps.allocPages(pool)] };
  },
  cpus: [0, 1].map((k) => ({ sys, args }) => sys.pps.putFullPage(args.pool, args.pages[k], false)),
  check(sys, args) { return sys.pps.ringCount(args.pool) === 2 ? [] : ["the ring does not hold both pages"]; },
};
`,
    );
    const r = await runRace({ kernel: "v6.16", program: file, scheduler: "bounded", preemptions: 2 });
    expect(r.program).toBe("two-returns");
    expect(r.exhausted).toBe(true);
    expect(r.violations).toEqual([]);
    expect(r.schedules).toBeGreaterThan(1);
    await expect(runRace({ kernel: "v6.16", program: "nope" })).rejects.toThrow(/^race: unknown program 'nope' \(valid: destroy-vs-return, /);
  });
});

describe("43130d02baa1: a negative in-flight count and the deferred worker", () => {
  it("v6.12 reschedules forever (a liveness violation in every schedule); v6.15 stops", async () => {
    const old = await runRace({ kernel: "v6.12", program: "negative-inflight", scheduler: "bounded", preemptions: 1 });
    expect(old.exhausted).toBe(true);
    // 18 of the 19 schedules; in the other the second return comes after the pool is freed (KASAN).
    expect([old.schedules, kinds(old).program]).toEqual([19, 18]);
    expect(old.violations[0]!.text).toMatch(/^page_pool_release_retry\(\) reschedules forever: in flight -1 after 10 more retries$/);
    const fixed = await runRace({ kernel: "v6.15", program: "negative-inflight", scheduler: "bounded", preemptions: 1 });
    expect(fixed.exhausted).toBe(true);
    expect(fixed.violations.filter((v) => v.kind === "program")).toEqual([]);
  });
});

describe("a failing schedule's image opens in explain", () => {
  it("the v6.16 struct-page write: explain names the free page's frame", async () => {
    const r = await runRace({ kernel: "v6.16", program: "xarray-scrub-vs-return", scheduler: "bounded", preemptions: 1 });
    const v = r.violations.find((x) => x.kind === "struct-page-after-free")!;
    const page = Number(/struct page (0x[0-9a-f]+)/.exec(v.text)![1]);
    const dir = fileURLToPath(new URL("../../tmp/", import.meta.url));
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}race.img`, v.image);
    const out = execFileSync(process.execPath, [fileURLToPath(new URL("../../dist/src/cli/main.js", import.meta.url)), "explain", "--image", `${dir}race.img`, `0x${page.toString(16)}`], { encoding: "utf8" });
    expect(out).toContain("machine: image");
    expect(out).toContain(`0x${page.toString(16)} → `);
    expect(out).toMatch(/struct page/);
  });
});

describe("2b986b9e917b's shape: a non-NAPI CPU in the lockless alloc cache", () => {
  it("is caught at the push on a build that knows the pool's NAPI context; v6.1 cannot tell", async () => {
    const r = await runRace({ kernel: "v6.16", program: "remote-direct-recycle", scheduler: "bounded", preemptions: 2 });
    expect([r.schedules, r.exhausted]).toEqual([2, true]);
    expect(kinds(r)).toEqual({ "alloc-cache-from-another-cpu": 2 });
    expect(r.violations[0]!.text).toMatch(/^ppemu: page_pool_recycle_in_cache on CPU 1, which is not the pool's NAPI context: a second CPU in the lockless alloc cache \(pool 0x[0-9a-f]+\)$/);
    const old = await runRace({ kernel: "v6.1", program: "remote-direct-recycle", scheduler: "bounded", preemptions: 2 });
    expect([old.schedules, old.exhausted, old.violations.length]).toEqual([12, true, 0]);
  });
});
