/**
 * The unbind scenario with the devmem provider (`--provider devmem`), explain of a net_iov and its
 * net_iov_area, and the CLI: niovs in flight at unbind return to the gen_pool without the DMA API on
 * every build that has providers; the binding lives until the pool's last niov is back.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import Ajv2020Module from "ajv/dist/2020.js";
import { runUnbind } from "../../src/scenario/unbind.js";
import { Explainer } from "../../src/verify/explain.js";
import { devmemBindingInfo, forEachBinding } from "../../src/pool/devmem.js";
import { netIovGeometry } from "../../src/pool/net_iov.js";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";

const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof import("ajv/dist/2020.js").default;

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

describe("runUnbind with provider devmem", () => {
  for (const kernel of ["v6.12", "v6.18"]) {
    it(`${kernel}: the pool maps nothing, the late niovs skip the DMA API, the binding goes with the pool`, () => {
      const plain = runUnbind({ kernel }).result;
      const r = runUnbind({ kernel, provider: "devmem" }).result;
      expect(r.inflight_at_unbind).toBe(64);
      expect(r.mappings_alive_at_unbind).toBe(0);
      expect(r.unmapped_by_destroy).toBe(0);
      expect(r.unmaps_after_unbind).toBe(0);
      expect(r.syncs_after_unbind).toBe(0);
      expect(r.late_returns_without_dma).toBe(64);
      expect(r.frames_lost).toBe(0);
      expect(r.verdict).toBe("fixed");
      expect(r.diagnostics).toEqual([]);
      expect(r.provider).toEqual({ name: "devmem", niovs: 256, niovs_in_flight_at_unbind: 64, niovs_free_at_end: 256, binding_freed_at_ms: r.pool_freed_at_ms });
      // The last late return is at 64/65 of the window; the next retry frees the pool and the binding.
      expect(r.pool_freed_at_ms).toBe(plain.pool_freed_at_ms);
      expect(plain.provider).toBeUndefined();
    });
  }

  it("classic v6.12 without a provider shows the bug; with one its pool has nothing mapped to outlive the driver", () => {
    expect(runUnbind({ kernel: "v6.12" }).result.verdict).toBe("SHOWN");
    expect(runUnbind({ kernel: "v6.12", provider: "devmem" }).result.mappings_alive_at_unbind).toBe(0);
  });

  it("at unbind the niov array is accounted (256 × 64 B: a 16 KiB large kmalloc) and the binding holds two refs", () => {
    const run = runUnbind({ kernel: "v6.18", provider: "devmem" }, "destroyed");
    expect(run.result.frames["devmem: net_iov array"]).toBe(4);
    expect(run.result.frames_lost).toBe(0);
    let b = 0;
    forEachBinding(run.sys.pps, (x) => (b = x));
    const info = devmemBindingInfo(run.sys.pps, b);
    expect(info.ref).toBe(2);
    expect(info.free).toBe(256 - 64);
  });

  it("refuses builds without providers and a run without the netdev", () => {
    expect(() => runUnbind({ kernel: "v6.6", provider: "devmem" })).toThrow(/v6.6 has no memory providers/);
    expect(() => runUnbind({ kernel: "v6.16", provider: "devmem", netdev: false })).toThrow(/rx queue of the netdev/);
  });
});

describe("explain of a net_iov", () => {
  it("names the niov, its area, index and dma address, and where it is", () => {
    const run = runUnbind({ kernel: "v6.18", provider: "devmem", pages: 8, inflight: 2 }, "destroyed");
    const ex = new Explainer({ sys: run.sys, stack: run.stack });
    let b = 0;
    forEachBinding(run.sys.pps, (x) => (b = x));
    const info = devmemBindingInfo(run.sys.pps, b);
    const size = netIovGeometry(run.sys.build).size;
    const hex8 = (v: number) => "0x" + v.toString(16).padStart(8, "0");
    const niov3 = info.niovs + 3 * size;
    const e = ex.explain({ input: hex8(niov3 + 32), addr: niov3 + 32, region: "physical" });
    expect(e.role).toBe("net_iov");
    expect(e.lines).toContain(`  struct net_iov niovs[3] of devmem binding id 1 at ${hex8(niov3)}: desc.dma_addr / dma_addr [offset 32, 8 bytes] = 0x0000000400003000`);
    expect(e.lines).toContain(`  net_iov_owner() → struct net_iov_area ${hex8(info.area)} (niovs ${hex8(info.niovs)}, num_niovs 8); net_iov_idx() = (niov - niovs) / 64 = 3`);
    expect(e.lines).toContain("  dma address: base_dma_addr 0x0000000400000000 + (3 << PAGE_SHIFT) = 0x0000000400003000 (= its dma_addr word)");
    expect(e.lines).toContain("  free: in the binding's gen_pool (pp NULL, pp_magic 0), no page_pool holds it");
    const held = ex.explain({ input: hex8(info.niovs), addr: info.niovs, region: "physical" });
    expect(held.lines.at(-1)).toBe(`  page_pool ${hex8(run.pool)}, pp_ref_count 1: held by the stack stand-in (slot 0)`);
    const area = ex.explain({ input: hex8(info.area + 8), addr: info.area + 8, region: "physical" });
    expect(area.role).toBe("net_iov_area");
    expect(area.lines).toContain(`  struct net_iov_area at +0: niovs ${hex8(info.niovs)} … ${hex8(info.niovs + 7 * 64)}, num_niovs 8, base_virtual 0`);
  });

  it("explain --netmem of a NET_IOV ref on a machine with niovs", async () => {
    // The same machine as the CLI builds (explain's defaults: 32 MiB, at "destroyed"): its first niov.
    const run = runUnbind({ kernel: "v6.18", provider: "devmem", pages: 8, inflight: 2, poolSize: 64, memBytes: 32 << 20 }, "destroyed");
    let b = 0;
    forEachBinding(run.sys.pps, (x) => (b = x));
    const niov0 = devmemBindingInfo(run.sys.pps, b).niovs;
    const ref = "0xffff8880" + ((niov0 | 1) >>> 0).toString(16).padStart(8, "0");
    const r = await cli("explain", "--provider", "devmem", "--kernel", "v6.18", "--pages", "8", "--inflight", "2", "--netmem", ref);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("memory provider devmem: the pages are net_iovs");
    expect(r.out).not.toContain("this machine has no net_iovs");
    expect(r.out).toContain(`struct net_iov niovs[0] of devmem binding id 1 at 0x${niov0.toString(16).padStart(8, "0")}`);
    expect(r.out).toContain("held by the stack stand-in (slot 0)");
  });
});

describe("ppemu scenario unbind --provider", () => {
  it("skips builds before v6.12 from a list and says so", async () => {
    const r = await cli("scenario", "unbind", "--provider", "devmem", "--kernel", "v6.6,v6.12,mainline");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("skipped (no memory providers before v6.12): v6.6");
    expect(r.out).toMatch(/net_iovs back in the gen_pool at the end +256 +256/);
  });

  it("refuses a build without providers named alone, and --no-netdev: exit 2, one line", async () => {
    const a = await cli("scenario", "unbind", "--provider", "devmem", "--kernel", "v6.1");
    expect(a.code).toBe(2);
    expect(a.err.trim()).toBe("ppemu scenario unbind: --provider devmem: v6.1 has no memory providers (v6.12+)");
    const b = await cli("scenario", "unbind", "--provider", "devmem", "--no-netdev");
    expect(b.code).toBe(2);
    const c = await cli("scenario", "unbind", "--provider", "iouring");
    expect(c.code).toBe(2);
  });

  it("--json validates against schemas/scenario.schema.json, provider object included", async () => {
    const r = await cli("scenario", "unbind", "--provider", "devmem", "--kernel", "v6.16", "--json");
    expect(r.code, r.err).toBe(0);
    const d = JSON.parse(r.out) as { results: { provider: unknown }[] };
    expect(d.results[0]!.provider).toEqual({ name: "devmem", niovs: 256, niovs_in_flight_at_unbind: 64, niovs_free_at_end: 256, binding_freed_at_ms: 119000 });
    const schema = JSON.parse(readFileSync(new URL("../../schemas/scenario.schema.json", import.meta.url), "utf8")) as object;
    const v = new Ajv2020({ strict: true, allowUnionTypes: true }).compile(schema);
    expect(v(d), JSON.stringify(v.errors)).toBe(true);
    (d.results[0]!.provider as Record<string, unknown>).extra = 1;
    expect(v(d)).toBe(false);
  });
});
