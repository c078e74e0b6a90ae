/**
 * struct net_iov of every kernel version, pinned against KERNEL-FACTS §5 (x86-64) and the pahole
 * output quoted in the kernel mails; the netmem.h static_asserts replayed over each build's own
 * declarations, on both arches, and shown to fail on a declaration that breaks them.
 */
import { describe, expect, it } from "vitest";
import { ILP32, LP64, type Arch } from "../../src/arch.js";
import { layoutOf, offsetOf, m, ptr, prim, struct, type RecordType } from "../../src/mem/ctype.js";
import { pahole } from "../../src/mem/pahole.js";
import { STRUCT_NETMEM_DESC, STRUCT_NET_IOV, STRUCT_PAGE } from "../../src/mem/structs.js";
import {
  STRUCT_NET_IOV_AREA,
  STRUCT_NET_IOV_MAINLINE,
  STRUCT_NET_IOV_NETPP,
  STRUCT_NET_IOV_V11,
  STRUCT_NET_IOV_V6_12,
  STRUCT_NET_IOV_V6_15,
  STRUCT_NET_IOV_V6_16,
  STRUCT_NET_IOV_V6_17,
  STRUCT_NET_IOV_V6_19,
  netmemAssertsOf,
  brokenNetmemAsserts,
  type NetmemAsserts,
} from "../../src/builds/netmem_desc_structs.js";
import { allBuilds, findBuild } from "../../src/builds/index.js";

/** `[name, offset, size]` of the top-level members on lp64 (anonymous ones by their kind). */
const members = (t: RecordType, a: Arch = LP64) => layoutOf(t, a).members.map((x) => [x.name || "(anon)", x.offset, x.size]);

const broken = brokenNetmemAsserts;

describe("struct net_iov per version (lp64, KERNEL-FACTS §5)", () => {
  it("v6.12–v6.16: 48 bytes mirroring struct page's words; the first word changes meaning", () => {
    const mirror = (first: string, pool = "pp") => [
      [first, 0, 8],
      ["pp_magic", 8, 8],
      [pool, 16, 8],
      ["owner", 24, 8],
      ["dma_addr", 32, 8],
      ["pp_ref_count", 40, 8],
    ];
    expect(members(STRUCT_NET_IOV_V6_12)).toEqual(mirror("__unused_padding"));
    expect(members(STRUCT_NET_IOV_V6_15)).toEqual(mirror("__unused_padding"));
    expect(members(STRUCT_NET_IOV_V11)).toEqual(mirror("__unused_padding", "pp_item"));
    // NET_IOV_MAX = ULONG_MAX makes the enum as wide as the word it replaces.
    expect(members(STRUCT_NET_IOV_V6_16)).toEqual(mirror("type"));
    for (const t of [STRUCT_NET_IOV_V6_12, STRUCT_NET_IOV_V6_15, STRUCT_NET_IOV_V11, STRUCT_NET_IOV_V6_16]) {
      expect(layoutOf(t, LP64).size).toBe(48);
      expect(layoutOf(t, ILP32).size).toBe(24);
    }
    expect(layoutOf(STRUCT_NET_IOV_V6_12, LP64).members[3]!.type).toMatchObject({ cname: "struct dmabuf_genpool_chunk_owner *" });
    expect(layoutOf(STRUCT_NET_IOV_V6_15, LP64).members[3]!.type).toMatchObject({ cname: "struct net_iov_area *" });
  });

  it("v6.17–v6.18: union { desc; mirror } 0–47, owner@48, an 8-byte type@56; no padding", () => {
    expect(STRUCT_NET_IOV_V6_17).toBe(STRUCT_NET_IOV);
    const l = layoutOf(STRUCT_NET_IOV_V6_17, LP64);
    expect(members(STRUCT_NET_IOV_V6_17)).toEqual([["(anon)", 0, 48], ["owner", 48, 8], ["type", 56, 8]]);
    expect([l.size, l.padding, l.holes.length]).toEqual([64, 0, 0]);
    expect([offsetOf(l, "desc"), offsetOf(l, "desc.pp"), offsetOf(l, "pp"), offsetOf(l, "_pp_mapping_pad")]).toEqual([0, 16, 16, 24]);
  });

  it("v6.19: the type is 4 bytes at 56, then 4 of padding; same size", () => {
    const l = layoutOf(STRUCT_NET_IOV_V6_19, LP64);
    expect(members(STRUCT_NET_IOV_V6_19)).toEqual([["(anon)", 0, 48], ["owner", 48, 8], ["type", 56, 4]]);
    expect([l.size, l.padding, l.holes.length]).toEqual([64, 4, 0]);
  });

  it("v7.1-rc1..rc4: desc, page_type@48 (= struct page's), type@52, owner@56: no hole", () => {
    const l = layoutOf(STRUCT_NET_IOV_NETPP, LP64);
    expect(members(STRUCT_NET_IOV_NETPP)).toEqual([["desc", 0, 48], ["page_type", 48, 4], ["type", 52, 4], ["owner", 56, 8]]);
    expect([l.size, l.padding, l.holes.length]).toEqual([64, 0, 0]);
    expect(offsetOf(layoutOf(STRUCT_PAGE, LP64), "page_type")).toBe(48);
  });

  it("after the revert (54cf41c969da): desc@0, type@48, a 4-byte hole, owner@56 — lp64 only", () => {
    const l = layoutOf(STRUCT_NET_IOV_MAINLINE, LP64);
    expect(members(STRUCT_NET_IOV_MAINLINE)).toEqual([["desc", 0, 48], ["type", 48, 4], ["owner", 56, 8]]);
    expect(l.holes).toEqual([{ before: "owner", offset: 52, size: 4 }]);
    expect([l.size, l.padding]).toEqual([64, 0]);
    // On ilp32 the pointer is 4-aligned: desc 24, type 4, owner 4, nothing to pack.
    const i = layoutOf(STRUCT_NET_IOV_MAINLINE, ILP32);
    expect([i.size, i.holes.length, offsetOf(i, "owner")]).toEqual([32, 0, 28]);
  });

  it("struct net_iov_area: niovs@0, num_niovs@8, base_virtual@16, 24 bytes", () => {
    expect(members(STRUCT_NET_IOV_AREA)).toEqual([["niovs", 0, 8], ["num_niovs", 8, 8], ["base_virtual", 16, 8]]);
    expect(layoutOf(STRUCT_NET_IOV_AREA, LP64).size).toBe(24);
    expect(layoutOf(STRUCT_NET_IOV_AREA, ILP32).size).toBe(12);
  });
});

describe("pahole text of the versions, as the kernel mails quote it", () => {
  // Bobby Eshleman's "net: netmem: remove NET_IOV_MAX from net_iov_type enum" quotes pahole for the
  // struct before (v6.17/v6.18) and after (v6.19) the patch (search id 13990763443).
  const union = [
    "struct net_iov {",
    "\tunion {",
    "\t\tstruct netmem_desc desc;                 /*     0    48 */",
    "\t\tstruct {",
    "\t\t\tlong unsigned int _flags;        /*     0     8 */",
    "\t\t\tlong unsigned int pp_magic;      /*     8     8 */",
    "\t\t\tstruct page_pool * pp;           /*    16     8 */",
    "\t\t\tlong unsigned int _pp_mapping_pad; /*    24     8 */",
    "\t\t\tlong unsigned int dma_addr;      /*    32     8 */",
    "\t\t\tatomic_long_t pp_ref_count;      /*    40     8 */",
    "\t\t};                                       /*     0    48 */",
    "\t};                                               /*     0    48 */",
    "\tstruct net_iov_area *      owner;                /*    48     8 */",
  ];

  it("before the patch (v6.17, v6.18)", () => {
    const want = [...union, "\tenum net_iov_type          type;                 /*    56     8 */", "", "\t/* size: 64, cachelines: 1, members: 3 */", "};"];
    expect(pahole(layoutOf(STRUCT_NET_IOV_V6_17, LP64)).trimEnd()).toBe(want.join("\n"));
  });

  it("after the patch (v6.19): the padding line", () => {
    const want = [
      ...union,
      "\tenum net_iov_type          type;                 /*    56     4 */",
      "",
      "\t/* size: 64, cachelines: 1, members: 3 */",
      "\t/* padding: 4 */",
      "};",
    ];
    expect(pahole(layoutOf(STRUCT_NET_IOV_V6_19, LP64)).trimEnd()).toBe(want.join("\n"));
  });

  it("mainline: the hole line pahole prints after type, and the holes summary", () => {
    const text = pahole(layoutOf(STRUCT_NET_IOV_MAINLINE, LP64));
    expect(text).toContain(
      [
        "\tenum net_iov_type          type;                 /*    48     4 */",
        "",
        "\t/* XXX 4 bytes hole, try to pack */",
        "",
        "\tstruct net_iov_area *      owner;                /*    56     8 */",
      ].join("\n"),
    );
    expect(text).toContain("\t/* size: 64, cachelines: 1, members: 3 */\n\t/* sum members: 60, holes: 1, sum holes: 4 */\n};");
  });
});

describe("the netmem.h static_asserts, over every build's own declarations", () => {
  const withNetIov = allBuilds().filter((b) => b.structs.netIov !== undefined);

  it("every build from v6.12 declares a net_iov whose asserts are known; v6.1 and v6.6 have none", () => {
    expect(findBuild("v6.1")!.structs.netIov).toBeUndefined();
    expect(findBuild("v6.6")!.structs.netIov).toBeUndefined();
    for (const b of ["v6.12", "v6.15", "v11", "v6.16", "v6.17", "v6.18", "v6.19", "mainline"]) {
      expect(withNetIov.map((x) => x.name)).toContain(b);
    }
    for (const b of withNetIov) expect(netmemAssertsOf(b.structs.netIov!), b.name).not.toBeNull();
  });

  it("NET_IOV_ASSERT_OFFSET / NETMEM_DESC_ASSERT_OFFSET hold on lp64 and ilp32", () => {
    for (const b of withNetIov) {
      const a = netmemAssertsOf(b.structs.netIov!)!;
      expect(a.offsets.length, b.name).toBeGreaterThan(0);
      for (const arch of [LP64, ILP32]) expect(broken(a, arch), `${b.name} ${arch.name}`).toEqual([]);
    }
  });

  it("what each version asserts: page ↔ net_iov before v6.17, page ↔ desc ↔ net_iov after, page_type in v7.1-rc", () => {
    const shape = (t: RecordType) => netmemAssertsOf(t)!.offsets.map((x) => `${x.macro}:${x.a.name}.${x.aField}=${x.b.name}.${x.bField}`);
    expect(shape(STRUCT_NET_IOV_V6_16)).toEqual(["pp_magic", "pp", "dma_addr", "pp_ref_count"].map((f) => `NET_IOV_ASSERT_OFFSET:page.${f}=net_iov.${f}`));
    expect(shape(STRUCT_NET_IOV_V11)).toContain("NET_IOV_ASSERT_OFFSET:page.pp_item=net_iov.pp_item");
    const desc = ["_flags", "pp_magic", "pp", "_pp_mapping_pad", "dma_addr", "pp_ref_count"];
    const pageDesc = desc.map((f) => `NETMEM_DESC_ASSERT_OFFSET:page.${f === "_flags" ? "flags" : f}=netmem_desc.${f}`);
    expect(shape(STRUCT_NET_IOV_V6_19)).toEqual([...pageDesc, ...desc.map((f) => `NET_IOV_ASSERT_OFFSET:netmem_desc.${f}=net_iov.${f}`)]);
    expect(shape(STRUCT_NET_IOV_NETPP)).toEqual([...pageDesc, "NET_IOV_ASSERT_OFFSET:page.page_type=net_iov.page_type"]);
    expect(shape(STRUCT_NET_IOV_MAINLINE)).toEqual(pageDesc);
    expect(netmemAssertsOf(STRUCT_NET_IOV_V6_16)!.descFitsBeforeRefcount).toBe(false);
    expect(netmemAssertsOf(STRUCT_NET_IOV_MAINLINE)!.descFitsBeforeRefcount).toBe(true);
    // 48 <= 52 on lp64, 24 <= 28 on ilp32.
    expect([layoutOf(STRUCT_NETMEM_DESC, LP64).size, offsetOf(layoutOf(STRUCT_PAGE, LP64), "_refcount")]).toEqual([48, 52]);
  });

  it("the replay fails on a net_iov that breaks them: type before the mirror, as v6.16 would be without its union", () => {
    // v6.17's asserts against a net_iov with a 4-byte type first: every mirrored word moves by 8.
    const bad = struct("net_iov", [m("type", prim("enum net_iov_type", 4)), ...STRUCT_NET_IOV_V6_19.members.slice(0, 2)]);
    const a = netmemAssertsOf(STRUCT_NET_IOV_V6_19)!;
    const swapped: NetmemAsserts = { ...a, offsets: a.offsets.map((x) => (x.b === STRUCT_NET_IOV_V6_19 ? { ...x, b: bad } : x)) };
    expect(broken(swapped, LP64)).toHaveLength(6);
    expect(broken(swapped, LP64)[0]).toBe("NET_IOV_ASSERT_OFFSET(_flags, _flags): offsetof(struct netmem_desc, _flags) = 0 != offsetof(struct net_iov, _flags) = 8");
    // And a netmem_desc grown by two words would run into _refcount.
    const big = struct("netmem_desc", [...STRUCT_NETMEM_DESC.members, m("a", ptr("void")), m("b", ptr("void"))]);
    expect(broken({ offsets: [], descFitsBeforeRefcount: true }, LP64, big)).toEqual(["sizeof(struct netmem_desc) = 64 > offsetof(struct page, _refcount) = 52"]);
  });
});
