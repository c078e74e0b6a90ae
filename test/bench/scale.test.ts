/**
 * The scale benchmark (bench/scale.ts), deterministically: the plan, what one case takes and gives
 * back, the frame accounting around it, the text. Nothing here looks at a time.
 */
import { workerPath } from "../../bench/fork.js";
import { describe, expect, it } from "vitest";
import {
  allocatableFrames,
  framesNeeded,
  largestRoundCount,
  machineName,
  notFitting,
  pagesName,
  planScale,
  runScaleBench,
  runScaleCase,
  SCALE_MACHINES,
  SCALE_POOL_SIZE,
  type ScaleCase,
} from "../../bench/scale.js";
import { scaleText } from "../../bench/scale_report.js";
import { bootBenchSystem } from "../../bench/pp_suite.js";
import { defaultBenchBuilds } from "../../src/report/bench.js";
import { iovaGeometry, pgdOrder } from "../../src/dma/iommu.js";
import { PhysMem, MACH_PAGE_POISON } from "../../src/mem/physmem.js";
import { accountFrames, assertAccounted } from "../../src/mem/accounting.js";
import { ppClaimers } from "../../src/pool/index.js";

const MiB = 1 << 20;
const GiB = 1 << 30;
const BUILDS = defaultBenchBuilds();

describe("the plan", () => {
  const plan = planScale({ kernels: BUILDS });
  const fitting = plan.combos.filter((c) => c.fits).map((c) => `${c.machine} × ${c.pages_name}`);

  it("machines 64 MiB … 2 GiB × 10^3 … 10^6 pages: only what fits, plus 5×10^5 on 2 GiB as the largest", () => {
    expect(BUILDS).toEqual(["v6.15", "v11", "v6.16", "v7-encoded-next", "v7.1-rc-netpp", "memdesc-item"]);
    expect(SCALE_MACHINES.map(machineName)).toEqual(["64 MiB", "256 MiB", "1 GiB", "2 GiB"]);
    expect(fitting).toEqual([
      "64 MiB × 10^3",
      "64 MiB × 10^4",
      "256 MiB × 10^3",
      "256 MiB × 10^4",
      "1 GiB × 10^3",
      "1 GiB × 10^4",
      "1 GiB × 10^5",
      "2 GiB × 10^3",
      "2 GiB × 10^4",
      "2 GiB × 10^5",
      "2 GiB × 5×10^5",
    ]);
    expect(plan.extra_pages).toBe(500_000);
    expect(plan.combos.filter((c) => c.extra).map((c) => [c.machine, c.pages])).toEqual([["2 GiB", 500_000]]);
    expect(largestRoundCount(2 * GiB)).toBe(500_000);
  });

  it("10^6 pages fit on no machine: reported, with the frames it would need and the frames there are", () => {
    expect(allocatableFrames(2 * GiB)).toBe(524_288 - 8192 - 2);
    expect(plan.combos.filter((c) => c.pages === 1_000_000).map((c) => c.fits)).toEqual([false, false, false, false]);
    const nf = notFitting(plan.combos);
    expect(nf).toHaveLength(6);
    expect(nf).toContain("10^6 pages on 2 GiB: needs ~1,021,087 frames, the machine has 516,094 allocatable");
    expect(nf).toContain("10^5 pages on 64 MiB: needs ~103,087 frames, the machine has 16,126 allocatable");
  });

  it("one child per fitting combination and build, builds interleaved, smallest first", () => {
    expect(plan.requests).toHaveLength(11 * 6);
    expect(plan.requests.slice(0, 7).map((r) => [r.kernel, r.bytes, r.pages])).toEqual([
      ["v6.15", 64 * MiB, 1000],
      ["v11", 64 * MiB, 1000],
      ["v6.16", 64 * MiB, 1000],
      ["v7-encoded-next", 64 * MiB, 1000],
      ["v7.1-rc-netpp", 64 * MiB, 1000],
      ["memdesc-item", 64 * MiB, 1000],
      ["v6.15", 64 * MiB, 10_000],
    ]);
    expect(plan.requests.at(-1)).toMatchObject({ kernel: "memdesc-item", bytes: 2 * GiB, pages: 500_000, rounds: 7 });
  });

  it("allocatableFrames is what a booted benchmark machine has, less the slab root", () => {
    for (const bytes of [16 * MiB, 64 * MiB]) expect(bootBenchSystem("v6.15", bytes).m.pa.nrFree()).toBe(allocatableFrames(bytes) - 2);
  });

  it("every machine's IOMMU can map every frame at once, so one device holds the largest N", () => {
    // A 4k machine above 512 MiB gets a pgd of several pages (src/dma/iommu.ts).
    expect(iovaGeometry(12)).toEqual({ leafShift: 8, pgdEntries: 512, limit: 131072 });
    expect(iovaGeometry(12, (64 * MiB) >>> 12)).toEqual({ leafShift: 8, pgdEntries: 512, limit: 131072 });
    expect(iovaGeometry(12, GiB >>> 12)).toEqual({ leafShift: 8, pgdEntries: 2048, limit: 524288 });
    expect(iovaGeometry(12, (2 * GiB) >>> 12)).toEqual({ leafShift: 8, pgdEntries: 4096, limit: 1 << 20 });
    expect([512, 2048, 4096].map((n) => pgdOrder(n, 12))).toEqual([0, 2, 3]);
    for (const c of plan.combos.filter((x) => x.fits)) expect(iovaGeometry(12, c.machine_bytes >>> 12).limit - 1).toBeGreaterThan(c.pages);
  });

  it("a 512 MiB machine's domain: an order-1 pgd, claimed whole by the frame accounting, freed whole at unbind", () => {
    const sys = bootBenchSystem("v6.15", 512 * MiB);
    const { dma, m } = sys;
    expect(dma.table.pgdEntries).toBe(1024);
    expect(dma.table.pgdOrder).toBe(1);
    const free0 = m.pa.nrFree();
    const slab0 = accountFrames(m.mem).byClass.slab!;
    const dev = dma.deviceCreate("big");
    expect(dma.deviceStats(dev).tablePages).toBe(2);
    const acct = accountFrames(m.mem, ppClaimers(sys));
    assertAccounted(acct);
    expect(acct.byClass["iommu tables"]).toBe(2);
    // A mapping above IOVA pfn 2^17 (the one-page pgd's reach) needs a slot in the pgd's second page.
    const page = m.pa.allocPages(10);
    for (let i = 0; i < 129; i++) expect(dma.dmaMapPage(dev, page, 0, 4096 << 10, 2, 0)).toBe((i + 1) * 1024 * 4096);
    expect(dma.iovaToPhys(dev, 129 * 1024 * 4096 + 5)).toBe(m.mem.pageAddress(page) + 5);
    assertAccounted(accountFrames(m.mem, ppClaimers(sys)));
    dma.deviceUnbind(dev);
    m.pa.freePages(page, 10);
    expect(dma.deviceStats(dev).tablePages).toBe(0);
    // Every table frame is back; what is missing is the slab page the device struct came from.
    const end = accountFrames(m.mem, ppClaimers(sys));
    expect(end.byClass["iommu tables"] ?? 0).toBe(0);
    expect(end.byClass.slab! - slab0).toBe(1);
    expect(m.pa.nrFree()).toBe(free0 - 1);
  });

  it("names", () => {
    expect([1000, 10_000, 500_000, 1_000_000, 1234].map(pagesName)).toEqual(["10^3", "10^4", "5×10^5", "10^6", "1234"]);
    expect([64 * MiB, 256 * MiB, GiB, 2 * GiB].map(machineName)).toEqual(["64 MiB", "256 MiB", "1 GiB", "2 GiB"]);
  });
});

describe("one case, in this process", () => {
  const cases = new Map<string, ScaleCase>();
  for (const k of BUILDS) cases.set(k, runScaleCase({ kernel: k, bytes: 16 * MiB, pages: 3000, rounds: 2, minPagesPerRound: 6000, warmupPages: 2000 }));

  it.each(BUILDS)("%s: N pages taken, min(N, the ring's capacity) into the ring, the rest released", (k) => {
    const c = cases.get(k)!;
    expect(c).toMatchObject({ kernel: k, machine: "16 MiB", pages: 3000, pool_size: SCALE_POOL_SIZE, rounds: 2, cycles_per_round: 2, warmup_cycles: 3 });
    // 47 bulk refills of 64 (3008 pages: 8 stay in the alloc cache), 2953 from the cache.
    expect(c.allocs).toEqual({ slow: 47, fast: 2953 });
    // The ptr_ring holds pool_size; encoded_next's full test, `count > pool_size`, lets one more in.
    const ring = k === "v7-encoded-next" ? SCALE_POOL_SIZE + 1 : SCALE_POOL_SIZE;
    expect(c.returns).toEqual({ ring, released: 3000 - ring });
    for (const s of [c.alloc_ns, c.return_ns, c.ring_ns, c.release_ns!]) {
      expect(s.rounds).toHaveLength(2);
      expect(s.min).toBeLessThanOrEqual(s.median);
      expect(s.median).toBeLessThanOrEqual(s.max);
    }
  });

  it.each(BUILDS)("%s: every frame accounted for; only IOMMU leaves stay, as many as the IOVA mark needs", (k) => {
    const f = cases.get(k)!.frames;
    expect(f.total).toBe(4096);
    // 3000 mappings move the mark over IOVA pfns 1 … 3000: ceil(3001 / 256) = 12 leaves.
    expect(f.kept).toEqual({ iommu_tables: 12, slab: 0 });
    expect(f.free_before - f.free_after).toBe(12);
    expect(f.by_class).toEqual({ memmap: 64, boot: 2, free: f.free_after, slab: 3, allocated: 0, "iommu tables": 13 });
    expect(Object.values(f.by_class).reduce((a, b) => a + b, 0)).toBe(4096);
  });

  it("the peak in use is the pages, the cache's rest, the leaves and the layout's structures, inside the plan's allowance", () => {
    const peak = Object.fromEntries(BUILDS.map((k) => [k, cases.get(k)!.frames.peak_in_use]));
    // 3000 pages + 8 in the cache + 12 leaves + the pool's slab and pgd (v6.15, 3026); then item blocks
    // (v11 12 frames; encoded-next the same but no ptr_ring queue, one slab frame fewer; memdesc-item 36, of
    // 84 items each) or xarray nodes (v6.16, netpp: 8).
    expect(peak).toEqual({ "v6.15": 3026, v11: 3038, "v6.16": 3034, "v7-encoded-next": 3037, "v7.1-rc-netpp": 3034, "memdesc-item": 3062 });
    for (const p of Object.values(peak)) expect(p).toBeLessThanOrEqual(framesNeeded(3000));
  });

  it("pages that do not fit fail loudly, with how far it got", () => {
    expect(() => runScaleCase({ kernel: "v6.15", bytes: 16 * MiB, pages: 5000, rounds: 1, warmupPages: 0 })).toThrow(
      /^scale v6\.15 16 MiB N=5000: page_pool_alloc_pages\(\) failed after \d+ pages/,
    );
    expect(() => runScaleCase({ kernel: "v6.15", bytes: 16 * MiB, pages: 0, rounds: 1 })).toThrow(/pages must be a positive integer/);
  });
});

describe("the whole benchmark, inline on small machines", () => {
  it("the JSON and the text: cases, what did not fit, the largest round count added, the ratios", async () => {
    const seen: string[] = [];
    const json = await runScaleBench({
      kernels: ["v6.15", "v6.16"],
      rounds: 1,
      inline: true,
      machines: [16 * MiB],
      pages: [1000, 10_000],
      minPagesPerRound: 1000,
      warmupPages: 1000,
      onCase: (c) => seen.push(`${c.kernel} ${c.pages}`),
    });
    // 16 MiB: 10^4 does not fit; the largest round count that does is 2×10^3.
    expect(seen).toEqual(["v6.15 1000", "v6.16 1000", "v6.15 2000", "v6.16 2000"]);
    expect(json.not_fitting).toEqual(["10^4 pages on 16 MiB: needs ~11,287 frames, the machine has 4,030 allocatable"]);
    expect(json.combos.map((c) => [c.pages, c.fits, c.extra])).toEqual([
      [1000, true, false],
      [2000, true, true],
      [10_000, false, false],
    ]);
    expect(json.summary.map((s) => [s.kernel, s.smallest, s.largest])).toEqual([
      ["v6.15", { machine: "16 MiB", pages: 1000 }, { machine: "16 MiB", pages: 2000 }],
      ["v6.16", { machine: "16 MiB", pages: 1000 }, { machine: "16 MiB", pages: 2000 }],
    ]);
    for (const s of json.summary) {
      const [small, large] = json.cases.filter((c) => c.kernel === s.kernel);
      expect(s.alloc_ratio).toBe(large!.alloc_ns.median / small!.alloc_ns.median);
      expect(s.holds).toBe(s.alloc_ratio <= 1.5 && s.return_ratio <= 1.5);
    }
    const text = scaleText(json);
    expect(text).toContain("not run, because the pages do not fit in the machine (MAX_MEM_BYTES is 2 GiB):\n  10^4 pages on 16 MiB: needs ~11,287 frames");
    expect(text).toContain("added instead: 2×10^3 pages on 16 MiB, the largest m×10^k that fits there");
    expect(text).toMatch(/^v6\.16 +xarray +16 MiB +2×10\^3 .* 64\/1936 +1×1$/m);
    expect(text).toMatch(/^v6\.15 +classic +16 MiB × 10\^3 +16 MiB × 2×10\^3 /m);
  });

  it("the child entry is dist/bench/scale_worker.js", () => {
    expect(workerPath("scale_worker.js")).toMatch(/\/dist\/bench\/scale_worker\.js$/);
  });
});

describe("page poisoning, which the benchmark's machine keeps off", () => {
  it("a machine booted without the option follows PPEMU_PAGE_POISON (page_poison=1); the bench machine never poisons", () => {
    const saved = process.env.PPEMU_PAGE_POISON;
    try {
      const word = (env: string | undefined) => {
        if (env === undefined) delete process.env.PPEMU_PAGE_POISON;
        else process.env.PPEMU_PAGE_POISON = env;
        const mem = PhysMem.create({ bytes: 4 * MiB });
        return mem.rd32(mem.machine + MACH_PAGE_POISON);
      };
      expect([word(undefined), word("0"), word("1")]).toEqual([0, 0, 1]);
      const bench = bootBenchSystem("v6.15", 4 * MiB).m.mem;
      expect(bench.rd32(bench.machine + MACH_PAGE_POISON)).toBe(0);
      process.env.PPEMU_PAGE_POISON = "0";
      const on = PhysMem.create({ bytes: 4 * MiB, poison: true });
      expect(on.rd32(on.machine + MACH_PAGE_POISON)).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.PPEMU_PAGE_POISON;
      else process.env.PPEMU_PAGE_POISON = saved;
    }
  });
});
