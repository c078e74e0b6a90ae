/**
 * The netmem_desc builds v6.17 and v6.19 (src/builds/netmem_desc.ts): where they list, the version
 * boundaries either side of them, their own net_iov through `ppemu layout`, the unbind scenario, and
 * the registry's generic `listBefore` ordering they rely on.
 */
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { bootPpSystem, attachPpSystem } from "../../src/pool/index.js";
import { E2BIG, EINVAL } from "../../src/pool/page_pool.js";
import { PTR_RING_SIZE } from "../../src/pool/ptr_ring.js";
import { runUnbind } from "../../src/scenario/unbind.js";
import {
  allBuilds,
  buildNames,
  buildsOf,
  buildConfigWord,
  buildExtraWord,
  findBuild,
  findLayout,
  registerBuild,
  unregisterBuild,
  type KernelBuild,
} from "../../src/builds/index.js";
import { STRUCT_NETMEM_DESC } from "../../src/mem/structs.js";
import { STRUCT_NET_IOV_V6_17, STRUCT_NET_IOV_V6_19, STRUCT_NET_IOV_MAINLINE } from "../../src/builds/netmem_desc_structs.js";

const build = (name: string): KernelBuild => findBuild(name)!;

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

describe("v6.17 and v6.19 in the registry", () => {
  it("list oldest first inside the xarray family, whichever file registers them", () => {
    expect(buildsOf(findLayout("xarray")!).map((b) => b.name)).toEqual(["v6.16", "v6.17", "v6.18", "v6.19", "mainline"]);
    const names = buildNames();
    const ix = (n: string) => names.indexOf(n);
    expect(ix("v6.16") + 1).toBe(ix("v6.17"));
    expect(ix("v6.18") + 1).toBe(ix("v6.19"));
    expect(ix("v6.19") + 1).toBe(ix("mainline"));
    expect([build("v6.17").id, build("v6.19").id]).toEqual([17, 19]);
    expect([build("v6.17").layout.name, build("v6.19").layout.name]).toEqual(["xarray", "xarray"]);
    expect(build("v6.16").isLayoutDefault).toBe(true);
  });

  it("declare netmem_desc and their own net_iov", () => {
    expect(build("v6.16").structs.netmemDesc).toBeUndefined();
    for (const b of ["v6.17", "v6.18", "v6.19", "mainline"]) expect(build(b).structs.netmemDesc, b).toBe(STRUCT_NETMEM_DESC);
    expect(build("v6.17").structs.netIov).toBe(STRUCT_NET_IOV_V6_17);
    expect(build("v6.18").structs.netIov).toBe(STRUCT_NET_IOV_V6_17);
    expect(build("v6.19").structs.netIov).toBe(STRUCT_NET_IOV_V6_19);
    expect(build("mainline").structs.netIov).toBe(STRUCT_NET_IOV_MAINLINE);
  });

  it("the header words tell every build apart from its neighbours (the net_iov shape is in the extra word)", () => {
    const words = (n: string) => [buildConfigWord(build(n).switches), buildExtraWord(build(n))];
    // v6.17 behaves as v6.16 and v6.19's switches differ from v6.18's by the order check only:
    expect(buildConfigWord(build("v6.17").switches)).toBe(buildConfigWord(build("v6.16").switches));
    expect(buildExtraWord(build("v6.17"))).not.toBe(buildExtraWord(build("v6.16")));
    expect(buildExtraWord(build("v6.19"))).not.toBe(buildExtraWord(build("v6.18")));
    const all = allBuilds().map((b) => words(b.name).join(":"));
    expect(new Set(all).size).toBe(all.length);
  });
});

describe("the version boundaries either side", () => {
  const boot = (k: string) => bootPpSystem(k, { bytes: 16 << 20 });

  it("pool_size > 32768: v6.17 -E2BIG as v6.16; v6.19 clamps to 16384 as v6.18 (a1b501a8c6a8)", () => {
    expect(boot("v6.17").pps.create({ poolSize: 32769 })).toBe(-E2BIG);
    const sys = boot("v6.19");
    const p = sys.pps.create({ poolSize: 32769 });
    expect(p).toBeGreaterThan(0);
    expect(sys.m.mem.rd32(sys.pps.ringOf(p) + PTR_RING_SIZE)).toBe(16384);
  });

  it("order > MAX_PAGE_ORDER: accepted by v6.17, -EINVAL from v6.19 (9954464d737d)", () => {
    expect(boot("v6.17").pps.create({ order: 11 })).toBeGreaterThan(0);
    expect(boot("v6.19").pps.create({ order: 11 })).toBe(-EINVAL);
    expect(boot("v6.19").pps.create({ order: 10 })).toBeGreaterThan(0);
  });

  it("the scrub releases (clears dma_addr and the id) on both, as v6.16/v6.18; mainline only unmaps", () => {
    expect([build("v6.17"), build("v6.19"), build("mainline")].map((b) => b.layoutSwitches?.scrub)).toEqual(["release", "release", "unmap-only"]);
  });

  it("a booted v6.17 / v6.19 machine attaches from its header alone", () => {
    for (const k of ["v6.17", "v6.19"]) {
      const sys = bootPpSystem(k, { bytes: 16 << 20, shared: true });
      expect(attachPpSystem(sys.m.mem.buffer).build).toBe(build(k));
    }
  });
});

describe("ppemu scenario unbind on the netmem_desc builds", () => {
  it("v6.17 and v6.19: fixed, no DMA after unbind, every frame accounted for", () => {
    for (const k of ["v6.17", "v6.19"]) {
      const r = runUnbind({ kernel: k }).result;
      expect([r.kernel, r.layout, r.verdict], k).toEqual([k, "xarray", "fixed"]);
      expect([r.inflight_at_unbind, r.unmapped_by_destroy, r.late_returns_without_dma], k).toEqual([64, 64, 64]);
      expect([r.unmaps_after_unbind, r.syncs_after_unbind, r.double_unmaps, r.mappings_leaked, r.frames_lost], k).toEqual([0, 0, 0, 0, 0]);
    }
  });

  it("the CLI runs it: `scenario unbind --kernel v6.17` exits 0 with the fixed verdict", async () => {
    const r = await cli("scenario", "unbind", "--kernel", "v6.17");
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(r.out).toMatch(/^unbind bug +fixed$/m);
    expect(r.out).toMatch(/^unmaps after unbind +0$/m);
  });
});

describe("ppemu layout net_iov --kernel B", () => {
  it("each build prints its own, with the source it was read from above it", async () => {
    const v617 = await cli("layout", "net_iov", "--kernel", "v6.17");
    expect(v617.code).toBe(0);
    expect(v617.out.split("\n")[0]).toMatch(/^\/\* kernel v6\.17: 6952350\/linux-6\.18\.y include\/net\/netmem\.h @20fa05ab56b2 .*\*\/$/);
    expect(v617.out).toContain("\tenum net_iov_type          type;                 /*    56     8 */\n");
    const v619 = await cli("layout", "net_iov", "--kernel", "v6.19");
    expect(v619.out).toContain("\tenum net_iov_type          type;                 /*    56     4 */\n\n\t/* size: 64, cachelines: 1, members: 3 */\n\t/* padding: 4 */\n};");
    const ml = await cli("layout", "net_iov", "--kernel", "mainline");
    expect(ml.out).toContain("\t/* XXX 4 bytes hole, try to pack */\n");
    expect(ml.out.split("\n")[0]).toContain("54cf41c969da");
    const v616 = await cli("layout", "net_iov", "--kernel", "v6.16");
    expect(v616.out).toContain("\tenum net_iov_type          type;                 /*     0     8 */\n");
  });

  it("the full listing carries the build's net_iov in place of the shared one", async () => {
    const all = (await cli("layout", "--kernel", "v6.19")).out;
    expect(all.match(/^struct net_iov \{$/gm)).toHaveLength(1);
    expect(all).toContain("/*    56     4 */");
    expect(all.indexOf("struct netmem_desc {")).toBeLessThan(all.indexOf("struct net_iov {"));
    expect(all.indexOf("struct net_iov {")).toBeLessThan(all.indexOf("struct net_iov_area {"));
    // v6.15 has no netmem_desc: the listing leaves it out.
    expect((await cli("layout", "--kernel", "v6.15")).out).not.toContain("struct netmem_desc {");
  });

  it("a build without the struct: one line naming the builds that have it, exit 2", async () => {
    const r = await cli("layout", "net_iov", "--kernel", "v6.6");
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toMatch(/^ppemu layout: kernel v6\.6 has no struct net_iov \(declared by: v6\.12, v6\.15, v11, v6\.16, v6\.17, v6\.18, v6\.19, mainline(, [^)]+)?\)\n$/);
    const d = await cli("layout", "netmem_desc", "--kernel", "v6.16");
    expect(d.code).toBe(2);
    expect(d.err).toMatch(/^ppemu layout: kernel v6\.16 has no struct netmem_desc \(declared by: v6\.17, v6\.18, v6\.19, mainline/);
  });
});

describe("registry: listBefore", () => {
  const base = build("v6.16");

  it("places a build before the one it names, and refuses a name that is not a build of its layout", () => {
    const b = registerBuild({ ...base, name: "v6.16-rc-local", id: 4243, isLayoutDefault: false, listBefore: "v6.16" });
    try {
      expect(buildsOf(base.layout).map((x) => x.name).slice(0, 2)).toEqual(["v6.16-rc-local", "v6.16"]);
    } finally {
      unregisterBuild(b);
    }
    expect(() => registerBuild({ ...base, name: "x-local", id: 4244, isLayoutDefault: false, listBefore: "nosuch" })).toThrow(
      "build x-local: listBefore 'nosuch' is not a registered build of layout xarray",
    );
    expect(() => registerBuild({ ...base, name: "y-local", id: 4245, isLayoutDefault: false, listBefore: "v6.15" })).toThrow(
      "build y-local: listBefore 'v6.15' is not a registered build of layout xarray",
    );
    expect(buildNames()).not.toContain("x-local");
    expect(buildNames()).not.toContain("y-local");
  });
});
