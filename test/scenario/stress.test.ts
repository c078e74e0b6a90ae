/** `ppemu stress`: CPUs as worker threads, invariants after every round, a violation stops the run. */
import { describe, expect, it } from "vitest";
import { runStress } from "../../src/scenario/stress.js";
import { loadImage, readImageHeader } from "../../src/mem/image.js";
import { attachPpSystem } from "../../src/pool/index.js";

describe("runStress", () => {
  // v11 has a race of its own (a sync after the destroy's ring drain unmapped the page: a DMA-API
  // error, no corruption), so it runs with keepGoing; v6.16 and v6.18 have the scrub's write into a
  // page it holds no reference to, which can corrupt memory: they are not run here.
  for (const kernel of ["v6.15", "v11", "mainline"]) {
    it(`${kernel}: 2 CPUs for 1 s hold every invariant; every page handed out came back cross-CPU`, async () => {
      const keepGoing = kernel === "v11";
      const { result: r, image } = await runStress({ kernel, cpus: 2, seconds: 1, seed: 7, keepGoing });
      expect(r.violation).toBeNull();
      if (!keepGoing) expect(r.kernel_diagnostics).toBe(0);
      expect(r.violations).toBe(0);
      expect(image).toBeNull();
      expect(r.rounds).toBeGreaterThan(0);
      expect(r.returned_cross_cpu).toBe(r.handed_out);
      // Returns overlapped the destroy: the queues held pages when it ran.
      expect(r.returned_after_destroy).toBeGreaterThan(0);
      expect(r.returned_in_softirq).toBeGreaterThan(0);
      expect(r.returned_in_softirq).toBeLessThan(r.returned_cross_cpu);
      if (kernel === "v6.15") {
        // The bug: mappings alive at unbind, each unmapped once afterwards.
        expect(r.unmaps_after_unbind).toBe(r.outlived_driver);
      } else {
        expect([r.outlived_driver, r.unmaps_after_unbind, r.syncs_after_unbind]).toEqual([0, 0, 0]);
      }
    });
  }

  it("3 CPUs: both returners return pages", async () => {
    const { result: r } = await runStress({ kernel: "mainline", cpus: 3, seconds: 1, seed: 3 });
    expect(r.violations).toBe(0);
    expect(r.cpus).toBe(3);
    expect(r.returned_cross_cpu).toBe(r.handed_out);
  });

  it("a page queued twice is caught by the returner, the run stops in that round, and the image is the machine", async () => {
    const { result: r, image } = await runStress({ kernel: "mainline", cpus: 2, seconds: 5, seed: 1, inject: "hand-out-twice", keepGoing: true });
    expect(r.violations).toBe(1);
    expect(r.violation).toMatch(/^CPU 1 returned page 0x[0-9a-f]+, which nobody held$/);
    expect(r.rounds).toBe(2);
    expect(image).not.toBeNull();
    const hdr = readImageHeader(image!);
    expect(hdr.command).toBe("ppemu stress --kernel mainline --cpus 2 --seconds 5 --seed 1 --preempt voluntary --keep-going");
    expect(r.violation_kind).toBe("invariant");
    const sys = attachPpSystem(loadImage(image!));
    expect(sys.build.name).toBe("mainline");
    expect(sys.m.mem.nrCpus).toBe(2);
  });

  it("refuses bad options with one line", async () => {
    await expect(runStress({ kernel: "v6.16", cpus: 1 })).rejects.toThrow("stress: cpus must be an integer 2 … 64, got 1");
    await expect(runStress({ kernel: "v6.16", seconds: 0 })).rejects.toThrow("stress: seconds must be a number above 0 and at most 86400, got 0");
    await expect(runStress({ kernel: "nope" })).rejects.toThrow(/^unknown kernel build 'nope' \(valid: /);
  });
});
