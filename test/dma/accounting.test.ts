import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { FC_SEED, fcParams } from "../fc_seed.js";
import { bootMachine } from "../../src/mem/machine.js";
import { accountFrames, assertAccounted } from "../../src/mem/accounting.js";
import { Diag } from "../../src/mem/physmem.js";
import { Dma, DMA_FROM_DEVICE, CLASS_IOMMU_TABLES, iommuFrameClaimer } from "../../src/dma/index.js";

describe("IOMMU frame accounting", () => {
  it("claims the pgd and every leaf of every bound device, nothing after unbind", () => {
    const m = bootMachine({ bytes: 8 << 20 });
    const dma = new Dma(m);
    expect(dma.claimer()).toBe(iommuFrameClaimer);
    const d1 = dma.deviceCreate("a");
    const d2 = dma.deviceCreate("b");
    const big = m.pa.allocPages(8);
    dma.dmaMapPage(d1, big, 0, 4096 << 8, DMA_FROM_DEVICE, 0); // leaves 0 and 1
    dma.dmaMapPage(d2, big, 0, 4096, DMA_FROM_DEVICE, 0); // leaf 0
    let r = accountFrames(m.mem, [iommuFrameClaimer]);
    assertAccounted(r);
    expect(r.byClass[CLASS_IOMMU_TABLES]).toBe(3 + 2);
    dma.deviceUnbind(d1);
    r = accountFrames(m.mem, [iommuFrameClaimer]);
    assertAccounted(r);
    expect(r.byClass[CLASS_IOMMU_TABLES]).toBe(2);
    dma.deviceDestroy(d2);
    r = accountFrames(m.mem, [iommuFrameClaimer]);
    assertAccounted(r);
    expect(r.byClass[CLASS_IOMMU_TABLES]).toBeUndefined();
  });
});

type Op = { kind: "map"; order: number } | { kind: "unmap"; pick: number } | { kind: "double"; pick: number } | { kind: "sync"; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("map" as const), order: fc.nat(3) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("unmap" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("double" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("sync" as const), pick: fc.nat() }) },
);

describe("IOMMU against a model (property)", () => {
  it(`live IOVA blocks are aligned, disjoint, translate to their frames; violations are counted exactly (seed ${FC_SEED})`, () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => {
        const m = bootMachine({ bytes: 4 << 20 });
        const dma = new Dma(m);
        const frames = m.pa.allocPages(3); // 8 frames to map from
        const basePfn = m.mem.pageToPfn(frames);
        const dev = dma.deviceCreate();
        dma.setDmaDebugAllErrors(true); // every dma-debug error printed, so each one is a diag
        const freeAfterCreate = m.pa.nrFree(); // the device struct and its pgd are allocated
        const live = new Map<number, { pfn: number; order: number }>();
        const dead: number[] = [];
        let doubles = 0;
        for (const op of ops) {
          if (op.kind === "map") {
            const pfn = basePfn + (8 - (1 << op.order));
            const a = dma.dmaMapPage(dev, m.mem.pfnToPage(pfn), 0, 4096 << op.order, DMA_FROM_DEVICE, 0);
            expect(a).not.toBe(0);
            const iovaPfn = a / 4096;
            expect(iovaPfn % (1 << op.order)).toBe(0);
            for (const [b, x] of live) {
              const bp = b / 4096;
              expect(iovaPfn + (1 << op.order) <= bp || bp + (1 << x.order) <= iovaPfn).toBe(true);
            }
            live.set(a, { pfn, order: op.order });
            const i = dead.indexOf(a);
            if (i >= 0) dead.splice(i, 1);
          } else if (op.kind === "unmap" && live.size > 0) {
            const a = [...live.keys()][op.pick % live.size]!;
            dma.dmaUnmapPage(dev, a, 4096, DMA_FROM_DEVICE, 0);
            live.delete(a);
            dead.push(a);
          } else if (op.kind === "double" && dead.length > 0) {
            dma.dmaUnmapPage(dev, dead[op.pick % dead.length]!, 4096, DMA_FROM_DEVICE, 0);
            doubles++;
          } else if (op.kind === "sync" && live.size > 0) {
            const a = [...live.keys()][op.pick % live.size]!;
            dma.dmaSyncSingleForCpu(dev, a + 4095, 1, DMA_FROM_DEVICE);
          }
        }
        for (const [a, x] of live) {
          for (let i = 0; i < 1 << x.order; i++) expect(dma.iovaToPhys(dev, a + i * 4096)).toBe((x.pfn + i) * 4096);
        }
        expect(dma.liveMappings(dev)).toBe(live.size);
        expect(m.mem.diagCount(Diag.DMA_DOUBLE_UNMAP)).toBe(doubles);
        expect(m.mem.diagTotal).toBe(doubles);
        dma.deviceUnbind(dev);
        expect(dma.deviceStats(dev).outlivedDriver).toBe(live.size);
        expect(dma.deviceStats(dev).tablePages).toBe(0);
        // Every leaf taken while mapping came back, and the pgd with them.
        expect(m.pa.nrFree()).toBe(freeAfterCreate + 1);
        // dma-debug: one report for the whole device, however many mappings it had.
        const reports = live.size > 0 ? 1 : 0;
        expect(m.mem.diagCount(Diag.DMA_DEBUG_PENDING)).toBe(reports);
        expect(m.mem.diagTotal).toBe(doubles + reports);
        expect(dma.dmaDebugState().errorCount).toBe(doubles + reports);
        const r = accountFrames(m.mem, [dma.claimer()]);
        expect(r.errors).toEqual([]);
        dma.deviceDestroy(dev);
        expect(dma.devices()).toEqual([]);
      }),
      fcParams(150),
    );
  });
});
