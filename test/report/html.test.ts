import { describe, expect, it } from "vitest";
import { frameMap, frameMapSvg, MAP_COLS } from "../../src/report/html/memmap.js";
import { itemBlockSvg, itemBlockView } from "../../src/report/html/item_block.js";
import { buildTimeline, lateReturnTimes, timelineSvg } from "../../src/report/html/timeline.js";
import { benchFigure, benchSvg, costFigure } from "../../src/report/html/bench.js";
import { parseTrace, raceLanes, raceSvg } from "../../src/report/html/race.js";
import { FIGURE_IDS, htmlReport } from "../../src/report/html/page.js";
import { esc, niceTicks } from "../../src/report/html/svg.js";
import { runUnbind } from "../../src/scenario/unbind.js";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import type { BenchJson } from "../../bench/catalog.js";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const count = (s: string, needle: string) => s.split(needle).length - 1;

describe("html report: svg helpers", () => {
  it("escapes and picks round ticks", () => {
    expect(esc(`a<b & "c">`)).toBe("a&lt;b &amp; &quot;c&quot;&gt;");
    expect(niceTicks(119, 8)).toEqual([0, 20, 40, 60, 80, 100, 120]);
    expect(niceTicks(16, 5)).toEqual([0, 5, 10, 15, 20]);
    expect(niceTicks(0)).toEqual([0]);
  });
});

describe("html report (a): the memory map", () => {
  const f = frameMap("v11", "destroyed");
  it("classifies every frame as the scenario's own accounting does", () => {
    expect(f.cls.length).toBe(8192);
    const byName: Record<string, number> = {};
    for (const id of f.cls) byName[f.classes[id]!] = (byName[f.classes[id]!] ?? 0) + 1;
    expect(byName).toEqual({ memmap: 128, boot: 2, free: 7971, slab: 11, "page_pool: in flight (stack)": 64, "page_pool: ring queue": 2, "item blocks": 11, "iommu tables": 3 });
    expect(f.byClass).toEqual({ ...runUnbind({ kernel: "v11" }, "destroyed").result.frames });
  });
  it("decodes each frame's address", () => {
    expect(f.tip(0)).toBe("pfn 0x0  0xffff888000000000  struct page 0xffffea0000000000  phys 0x0: memmap");
    expect(f.tip(0x99)).toBe("pfn 0x99  0xffff888000099000  struct page 0xffffea0000002640  phys 0x99000: item blocks");
  });
  it("draws one rect per frame, each with its decoded address", () => {
    const s = frameMapSvg(f);
    expect(count(s, 'class="frame ')).toBe(8192);
    expect(count(s, "data-tip=")).toBe(8192);
    expect(s).toContain(`data-pfn="153" data-tip="${f.tip(153)}"`);
    expect(s).toContain(`x="${(153 % MAP_COLS) * 6}"`);
    expect(s).toContain("pool pages in flight: 64; in the pool (alloc cache, ring): 0");
  });
});

describe("html report (b): one item block", () => {
  const v = itemBlockView("v11", "destroyed");
  it("lays the header out from the declaration and reads its values", () => {
    expect(v.header).toEqual([
      { name: "pp", offset: 0, size: 8, value: "0xffff888000088000" },
      { name: "list.next", offset: 8, size: 8, value: "0xffff888000098008" },
      { name: "list.prev", offset: 16, size: 8, value: "0xffff888000088660" },
      { name: "flags", offset: 24, size: 4, value: "0x0" },
      { name: "ref", offset: 28, size: 4, value: "0x0" },
    ]);
    expect([v.itemsOffset, v.itemSize, v.items.length]).toEqual([32, 16, 254]);
    expect(v.items.map((i) => i.offset)).toEqual(Array.from({ length: 254 }, (_, i) => 32 + 16 * i));
  });
  it("colours the items by state: the 64 in flight USED, MAPPED cleared by destroy", () => {
    const states: Record<number, number> = {};
    for (const it of v.items) states[it.state] = (states[it.state] ?? 0) + 1;
    expect(states).toEqual({ 0: 190, 1: 64 });
    expect(v.items[190]!.tip).toBe("items[190] at 0xffff888000099c00 (block + 3072): state 0x1 (USED), pp_netmem/lentry 0xffffea0000003680");
  });
  it("masks a real item to its block and pool", () => {
    expect(v.mask).toEqual({
      page: "0xffffea0000003680",
      item: "0xffff888000099c00",
      itemIndex: 190,
      pageMask: "0xfffffffffffff000",
      block: "0xffff888000099000",
      pool: "0xffff888000088000",
    });
    const s = itemBlockSvg(v);
    expect(count(s, 'class="item"')).toBe(254);
    expect(count(s, 'class="hdr"')).toBe(5);
    expect(count(s, 'class="item-before"')).toBe(0);
    const before = itemBlockView("v11", "allocated");
    expect([before.block, before.items.filter((i) => i.state === 3).length]).toEqual([v.block, 254]);
    const both = itemBlockSvg(v, before);
    expect(count(both, 'class="item-before"')).toBe(254);
    expect(both.includes(esc('the same block at "allocated" (before unbind): 254 of 254 items MAPPED; at "destroyed" 64 are in flight, unmapped by destroy (MAPPED cleared), the others returned and free'))).toBe(true);
    expect(s).toContain("0xffff888000099c00 &amp; PAGE_MASK 0xfffffffffffff000 = 0xffff888000099000 (the block) → block-&gt;pp = 0xffff888000088000 (struct page_pool)");
  });
});

describe("html report (c): the unbind timeline", () => {
  it("spreads the late returns as the scenario does; classic unmaps through the unbound device", () => {
    expect(lateReturnTimes(3, 120_000)).toEqual([30000, 60000, 90000]);
    const c = buildTimeline("v6.15");
    expect([c.verdict, c.lateReturnsMs.length, c.unmapsMs.length, c.syncsMs.length, c.dropped, c.poolFreedMs]).toEqual(["SHOWN", 64, 64, 64, 0, 119000]);
    expect(c.lateReturnsMs.slice(0, 3)).toEqual([1846, 3692, 5538]);
    // Each late return's sync is at its return; its unmap at the next retry (every second).
    expect(c.syncsMs).toEqual(c.lateReturnsMs);
    expect(c.unmapsMs.slice(0, 3)).toEqual([2000, 4000, 6000]);
    const v = buildTimeline("v11");
    expect([v.verdict, v.lateReturnsMs.length, v.unmapsMs.length, v.syncsMs.length, v.poolFreedMs]).toEqual(["fixed", 64, 0, 0, 119000]);
    const s = timelineSvg([c, v]);
    expect(count(s, 'class="ev unmap"')).toBe(64);
    expect(count(s, 'class="ev ret"')).toBe(128);
    expect(count(s, 'class="ev freed"')).toBe(2);
    expect(s).toContain('data-tip="v6.15: dma_unmap after unbind at 2000 ms after unbind"');
  });
});

describe("html report (d): benchmark bars", () => {
  it("draws the cost model with the kernel's ratios beside it", () => {
    const f = costFigure(["v6.15", "v11"]);
    expect(f.source).toBe("cost model");
    expect(f.panels.map((p) => p.test)).toEqual(["page_pool01_fast_path", "page_pool02_ptr_ring", "page_pool03_slow"]);
    expect(f.panels[0]!.bars.map((b) => [b.kernel, b.parts, b.note])).toEqual([
      ["v6.15", [10, 6, 0], "model ×1.00; kernel ×1.00 (5.399 / 5.399 ns)"],
      ["v11", [10, 6, 0], "model ×1.00; kernel ×1.02 (5.492 / 5.399 ns)"],
    ]);
    expect(f.panels[2]!.bars[1]!.note).toBe("model ×1.10; kernel ×1.19 (78.909 / 66.134 ns)");
    expect(count(benchSvg(f), 'class="bar"')).toBe(3 * 2 * 3);
  });
  it("draws a bench document's medians with min–max and intervals", () => {
    const doc = {
      schema: 4,
      command: "bench",
      method: { reference: "v6.15" },
      summary: [
        { kernel: "v6.15", layout: "classic", test: "page_pool01_fast_path", runs: 3, ns_median: 20, ns_min: 19, ns_max: 22, spread_pct: 15, cycles: 60, ratio_to_ref: null, ratio_to_floor: null, kernel_ns: 5.399 },
        { kernel: "v11", layout: "item-block", test: "page_pool01_fast_path", runs: 3, ns_median: 21, ns_min: 20, ns_max: 23, spread_pct: 14.29, cycles: 63, ratio_to_ref: { median: 1.05, ci_lo: 1.01, ci_hi: 1.09 }, ratio_to_floor: null, kernel_ns: 5.492 },
      ],
    } as unknown as BenchJson;
    const f = benchFigure(doc);
    expect(f.panels.length).toBe(1);
    expect(f.panels[0]!.bars.map((b) => [b.kernel, b.parts, b.range, b.note])).toEqual([
      ["v6.15", [20], [19, 22], "reference; kernel ×1.00 (5.399 / 5.399 ns)"],
      ["v11", [21], [20, 23], "×1.05 [1.01, 1.09]; kernel ×1.02 (5.492 / 5.399 ns)"],
    ]);
    expect(count(benchSvg(f), 'class="errbar"')).toBe(2);
    expect(() => benchFigure({ command: "scenario" } as unknown as BenchJson)).toThrow('not a `ppemu bench --json` document with a summary (its command must be "bench")');
  });
});

describe("html report (e): the race as swim lanes", () => {
  it("parses trace lines and refuses others", () => {
    expect(parseTrace(["CPU 1  spin_lock(&pool->ring.producer_lock)", "CPU 0  (returns)"])).toEqual([
      { step: 1, cpu: 1, where: "spin_lock(&pool->ring.producer_lock)" },
      { step: 2, cpu: 0, where: "(returns)" },
    ]);
    expect(() => parseTrace(["bogus"])).toThrow('race trace line 1 is not "CPU n  point": bogus');
  });
  it("draws v6.15's first violation of destroy-vs-ring-produce, step by step", async () => {
    const l = (await raceLanes("v6.15"))!;
    expect([l.kind, l.headline, l.steps.length]).toEqual(["slab-use-after-free in page_pool_recycle_in_ring:produced", "BUG: KASAN: slab-use-after-free in page_pool_recycle_in_ring:produced", 13]);
    expect(l.steps.map((s) => s.cpu)).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(l.steps[10]).toEqual({ step: 11, cpu: 0, where: "__page_pool_destroy" });
    const s = raceSvg(l);
    expect(count(s, 'class="step"')).toBe(13);
    expect(count(s, 'class="switch"')).toBe(2);
  });
});

describe("html report: the page", () => {
  it("is self-contained and has every figure", async () => {
    const h = await htmlReport({ title: "t <1>", sections: [{ id: "x", title: "X", text: "a < b", json: {} }] });
    expect(h.startsWith("<!DOCTYPE html>\n")).toBe(true);
    for (const id of FIGURE_IDS) expect(count(h, `<svg id="${id}"`)).toBe(1);
    // No resource from anywhere: the only URL is SVG's namespace name.
    expect(h.match(/https?:\/\/[^"\s]*/g)!.every((u) => u === "http://www.w3.org/2000/svg")).toBe(true);
    expect(h).not.toMatch(/<(link|img|iframe|object|embed)\b|\ssrc=|\shref=|@import|url\((?!#)/);
    expect(h).toContain("<title>t &lt;1&gt;</title>");
    expect(h).toContain('<details id="text-x"><summary>X</summary><pre>a &lt; b</pre></details>');
  });
});

describe("ppemu report --html: its options", () => {
  const run = async (...argv: string[]) => {
    const io = new BufferIo();
    const code = await main(argv, io);
    return { code, out: io.stdout, err: io.stderr };
  };
  it("refuses --bench-json without --html and a bench file it cannot use, in one line, before any work", async () => {
    expect(await run("report", "--bench-json", "b.json")).toEqual({ code: 2, out: "", err: "ppemu report: --bench-json needs --html FILE (it feeds the HTML page's benchmark figure)\n" });
    expect(await run("report", "--html", "/tmp/ppemu-h15-never.html", "--bench-json", "/nonexistent/b.json")).toEqual({
      code: 2,
      out: "",
      err: "ppemu report: --bench-json /nonexistent/b.json: ENOENT (no such file or directory)\n",
    });
    expect(await run("report", "--html", "")).toEqual({ code: 2, out: "", err: "ppemu report: --html needs a file name\n" });
    const dir = mkdtempSync(join(tmpdir(), "ppemu-html-"));
    writeFileSync(join(dir, "s.json"), '{"command": "scenario"}');
    writeFileSync(join(dir, "x.json"), "{");
    expect(await run("report", "--html", join(dir, "r.html"), "--bench-json", join(dir, "s.json"))).toEqual({
      code: 2,
      out: "",
      err: `ppemu report: --bench-json ${join(dir, "s.json")}: not a \`ppemu bench --json\` document with a summary (its command must be "bench")\n`,
    });
    const bad = await run("report", "--html", join(dir, "r.html"), "--bench-json", join(dir, "x.json"));
    expect([bad.code, bad.out, bad.err.startsWith(`ppemu report: --bench-json ${join(dir, "x.json")}: not JSON (`), bad.err.split("\n").length]).toEqual([2, "", true, 2]);
    expect(readdirSync(dir).sort()).toEqual(["s.json", "x.json"]);
    rmSync(dir, { recursive: true, force: true });
    expect(await run("report", "--html", "-")).toEqual({ code: 2, out: "", err: "ppemu report: --html needs a file name (the page is written beside the text report, not to stdout)\n" });
    expect(await run("report", "--html", "/nonexistent/dir/r.html")).toEqual({ code: 2, out: "", err: "ppemu report: --html /nonexistent/dir/r.html: cannot open: ENOENT (no such file or directory)\n" });
  });
});
