import { describe, expect, test } from "vitest";
import { bootMachine, type Machine } from "../../src/mem/machine.js";
import { GFP_ZERO } from "../../src/mem/buddy.js";
import { FailSite } from "../../src/mem/physmem.js";
import { DIRECT_MAP_HI, VMEMMAP_HI } from "../../src/mem/page.js";
import {
  XArray,
  XARRAY_SIZE,
  XA_NODE_SIZE,
  XA_NODE_SHIFT,
  XA_NODE_OFFSET,
  XA_NODE_COUNT,
  XA_NODE_NR_VALUES,
  XA_NODE_PARENT,
  XA_NODE_ARRAY,
  XA_NODE_PRIVATE_LIST,
  XA_NODE_SLOTS,
  XA_NODE_MARKS,
  XA_FLAGS_ALLOC,
  XA_FLAGS_ALLOC1,
  XA_ZERO_ENTRY,
  XA_RETRY_ENTRY,
  XA_LIMIT_U32_MAX,
  ENOMEM,
  EBUSY,
  EINVAL,
  xaFlagsMark,
  xaIsNode,
  xaMkNode,
} from "../../src/mem/xarray.js";
import { xaCheck } from "../../src/mem/xarray_check.js";

interface Rig {
  m: Machine;
  x: XArray;
  xa: number;
}

function rig(flags: number, bytes = 16 << 20): Rig {
  const m = bootMachine({ bytes, strict: true });
  const x = new XArray(m);
  const xa = m.slab.kmalloc(XARRAY_SIZE, GFP_ZERO);
  x.xaInit(xa, flags);
  return { m, x, xa };
}

/** An arbitrary 4-aligned direct-map pointer to store (the xarray never dereferences entries). */
const ptr = (i: number) => (0x0100_0000 + i * 4) >>> 0;
const inUse = (r: Rig) => r.m.slab.cacheStats(r.x.nodeCache).inUse;

function allocDense(r: Rig, n: number, min: number): void {
  for (let i = 0; i < n; i++) expect(r.x.xaAlloc(r.xa, ptr(i), min, XA_LIMIT_U32_MAX)).toBe(min + i);
}

describe("layout and constants", () => {
  test("struct xarray and struct xa_node offsets (lp64)", () => {
    expect(XARRAY_SIZE).toBe(16);
    expect(XA_NODE_SIZE).toBe(576);
    expect([XA_NODE_SHIFT, XA_NODE_OFFSET, XA_NODE_COUNT, XA_NODE_NR_VALUES]).toEqual([0, 1, 2, 3]);
    expect([XA_NODE_PARENT, XA_NODE_ARRAY, XA_NODE_PRIVATE_LIST, XA_NODE_SLOTS, XA_NODE_MARKS]).toEqual([
      8, 16, 24, 40, 552,
    ]);
  });

  test("kernel flag and internal-entry values", () => {
    expect(XA_FLAGS_ALLOC1).toBe(0xc); // TRACK_FREE | ZERO_BUSY
    expect(XA_FLAGS_ALLOC).toBe(0x0200_0004); // TRACK_FREE | XA_FLAGS_MARK(XA_FREE_MARK)
    expect(xaFlagsMark(0)).toBe(1 << 25);
    expect(XA_ZERO_ENTRY).toBe(0x406); // xa_mk_internal(257)
    expect(XA_RETRY_ENTRY).toBe(0x402); // xa_mk_internal(256)
    expect(xaIsNode(XA_ZERO_ENTRY)).toBe(false);
    expect(xaIsNode(xaMkNode(0x20_0000))).toBe(true);
    expect(xaMkNode(0x20_0040)).toBe(0x20_0042);
  });

  test("one radix_tree_node cache per machine, found again through the machine header", () => {
    const r = rig(XA_FLAGS_ALLOC1);
    const again = new XArray(r.m);
    expect(again.nodeCache).toBe(r.x.nodeCache);
    const st = r.m.slab.cacheStats(r.x.nodeCache);
    expect(st.name).toBe("radix_tree_node");
    expect(st.objSize).toBe(576);
  });
});

describe("xa_alloc with XA_FLAGS_ALLOC1", () => {
  test("ids start at 1; a single id builds one leaf with XA_ZERO_ENTRY busy at index 0", () => {
    const r = rig(XA_FLAGS_ALLOC1);
    const { m, x, xa } = r;
    expect(x.xaEmpty(xa)).toBe(true);
    expect(x.xaAlloc(xa, ptr(7), 0, XA_LIMIT_U32_MAX)).toBe(1);
    const head = x.xaHead(xa);
    expect(xaIsNode(head)).toBe(true);
    expect(m.mem.rd64hi(xa + 8)).toBe(DIRECT_MAP_HI);
    const node = head - 2;
    expect(m.mem.u8[node + XA_NODE_SHIFT]).toBe(0);
    expect(m.mem.u8[node + XA_NODE_COUNT]).toBe(2);
    expect(m.mem.rdPtr(node + XA_NODE_PARENT)).toBe(0);
    expect(m.mem.rdPtr(node + XA_NODE_ARRAY)).toBe(xa);
    expect(m.mem.rdPtr(node + XA_NODE_PRIVATE_LIST)).toBe(node + XA_NODE_PRIVATE_LIST);
    expect(m.mem.rd64lo(node + XA_NODE_SLOTS)).toBe(XA_ZERO_ENTRY);
    expect(m.mem.rd64hi(node + XA_NODE_SLOTS)).toBe(0);
    expect(m.mem.rd64lo(node + XA_NODE_SLOTS + 8)).toBe(ptr(7));
    expect(m.mem.rd64hi(node + XA_NODE_SLOTS + 8)).toBe(DIRECT_MAP_HI);
    // XA_FREE_MARK: slots 0 and 1 busy, 2..63 free; the array-level mark is now set.
    expect(m.mem.rd64lo(node + XA_NODE_MARKS)).toBe(0xffff_fffc);
    expect(m.mem.rd64hi(node + XA_NODE_MARKS)).toBe(0xffff_ffff);
    expect(x.xaFlags(xa)).toBe((XA_FLAGS_ALLOC1 | xaFlagsMark(0)) >>> 0);
    expect(x.xaLoad(xa, 0)).toBe(0);
    expect(x.xaLoad(xa, 1)).toBe(ptr(7));
    expect(xaCheck(x, xa)).toBeNull();
  });

  test("a struct page pointer entry carries the vmemmap tag in its high word", () => {
    const { m, x, xa } = rig(XA_FLAGS_ALLOC1);
    const page = m.pa.allocPages(0, 0);
    expect(x.xaAlloc(xa, page, 1, XA_LIMIT_U32_MAX)).toBe(1);
    const node = x.xaHead(xa) - 2;
    expect(m.mem.rd64lo(node + XA_NODE_SLOTS + 8)).toBe(page);
    expect(m.mem.rd64hi(node + XA_NODE_SLOTS + 8)).toBe(VMEMMAP_HI);
  });

  test("freed ids are reused lowest first", () => {
    const r = rig(XA_FLAGS_ALLOC1);
    const { x, xa } = r;
    allocDense(r, 200, 1);
    for (const id of [150, 7, 64, 3]) expect(x.xaErase(xa, id)).toBe(ptr(id - 1));
    expect([0, 1, 2, 3, 4].map(() => x.xaAlloc(xa, ptr(999), 1, XA_LIMIT_U32_MAX))).toEqual([3, 7, 64, 150, 201]);
    expect(xaCheck(x, xa)).toBeNull();
  });

  test("min is honoured, including a free slot inside a partly used leaf", () => {
    const r = rig(XA_FLAGS_ALLOC1);
    const { x, xa } = r;
    allocDense(r, 100, 1);
    x.xaErase(xa, 10);
    x.xaErase(xa, 70);
    expect(x.xaAlloc(xa, ptr(1), 11, XA_LIMIT_U32_MAX)).toBe(70);
    expect(x.xaAlloc(xa, ptr(1), 71, XA_LIMIT_U32_MAX)).toBe(101);
    expect(x.xaAlloc(xa, ptr(1), 5000, XA_LIMIT_U32_MAX)).toBe(5000);
    expect(x.xaAlloc(xa, ptr(1), 1, XA_LIMIT_U32_MAX)).toBe(10);
    expect(xaCheck(x, xa)).toBeNull();
  });

  test.each([4, 7, 10])("XA_LIMIT(1, 2^%i - 1) hands out exactly 2^k - 1 ids, then -EBUSY", (k) => {
    const r = rig(XA_FLAGS_ALLOC1);
    const { x, xa } = r;
    const max = 2 ** k - 1;
    for (let i = 1; i <= max; i++) expect(x.xaAlloc(xa, ptr(i), 1, max)).toBe(i);
    const nodes = x.xaNodeCount(xa);
    expect(x.xaAlloc(xa, ptr(0), 1, max)).toBe(-EBUSY);
    expect(x.xaAlloc(xa, ptr(0), 1, max)).toBe(-EBUSY);
    expect(x.xaNodeCount(xa)).toBe(nodes);
    x.xaErase(xa, max >>> 1);
    expect(x.xaAlloc(xa, ptr(0), 1, max)).toBe(max >>> 1);
    expect(x.xaAlloc(xa, ptr(0), 1, max)).toBe(-EBUSY);
  });

  test("node counts for dense ids 1..n (index 0 held by XA_ZERO_ENTRY)", () => {
    // ids 1..63 share one leaf with the zero entry; id 64 needs a shift-6 root and a second
    // leaf (3 nodes); ids up to 4095 need 1 + 64 nodes; 4096 adds a shift-12 root, a second
    // shift-6 node and a 65th leaf (68).
    const expected: [number, number][] = [
      [63, 1],
      [64, 3],
      [65, 3],
      [4095, 65],
      [4096, 68],
      [4097, 68],
    ];
    for (const [n, nodes] of expected) {
      const r = rig(XA_FLAGS_ALLOC1);
      allocDense(r, n, 1);
      expect(r.x.xaNodeCount(r.xa), `n=${n}`).toBe(nodes);
      expect(inUse(r)).toBe(nodes);
      expect(xaCheck(r.x, r.xa)).toBeNull();
    }
  });

  test("node counts for dense indices 0..n-1 in a plain xarray", () => {
    const expected: [number, number][] = [
      [1, 0], // the only entry lives in xa_head
      [2, 1],
      [64, 1],
      [65, 3],
      [4096, 65],
      [4097, 68],
    ];
    for (const [n, nodes] of expected) {
      const r = rig(0);
      for (let i = 0; i < n; i++) expect(r.x.xaStore(r.xa, i, ptr(i))).toBe(0);
      expect(r.x.xaNodeCount(r.xa), `n=${n}`).toBe(nodes);
      expect(xaCheck(r.x, r.xa)).toBeNull();
    }
  });

  test("bytes per tracked id: ≈ 9 at full density, hundreds when sparse", () => {
    const dense = rig(XA_FLAGS_ALLOC1);
    allocDense(dense, 32767, 1); // indices 0..32767: 512 leaves + 8 shift-6 nodes + a shift-12 root
    expect(dense.x.xaNodeCount(dense.xa)).toBe(521);
    expect((521 * XA_NODE_SIZE) / 32767).toBeCloseTo(9.158, 3);

    const sparse = rig(XA_FLAGS_ALLOC1);
    for (let k = 1; k <= 63; k++) expect(sparse.x.xaStore(sparse.xa, 64 * k, ptr(k))).toBe(0);
    // a shift-6 root, the leaf holding only the zero entry at index 0, and one leaf per id
    expect(sparse.x.xaNodeCount(sparse.xa)).toBe(65);
    expect((65 * XA_NODE_SIZE) / 63).toBeCloseTo(594.29, 2);
    expect(xaCheck(sparse.x, sparse.xa)).toBeNull();
  });

  test("erasing every id shrinks the tree back to an empty head and frees every node", () => {
    const r = rig(XA_FLAGS_ALLOC1);
    const { x, xa } = r;
    allocDense(r, 4097, 1);
    expect(inUse(r)).toBe(68);
    // Erase from the middle outwards, checking the tree after each step of 97.
    const order = Array.from({ length: 4097 }, (_, i) => ((i * 1031) % 4097) + 1);
    order.forEach((id, i) => {
      expect(x.xaErase(xa, id)).toBe(ptr(id - 1));
      if (i % 97 === 0) expect(xaCheck(x, xa)).toBeNull();
    });
    expect(x.xaEmpty(xa)).toBe(true);
    expect(x.xaNodeCount(xa)).toBe(0);
    expect(inUse(r)).toBe(0);
    expect(x.xaFlags(xa)).toBe(XA_FLAGS_ALLOC1); // array free mark cleared again by xas_shrink
    expect(x.xaAlloc(xa, ptr(5), 1, XA_LIMIT_U32_MAX)).toBe(1);
  });

  test("the tree shrinks level by level as the high ids go", () => {
    const r = rig(XA_FLAGS_ALLOC1);
    const { m, x, xa } = r;
    allocDense(r, 4096, 1);
    expect(m.mem.u8[x.xaHead(xa) - 2 + XA_NODE_SHIFT]).toBe(12);
    x.xaErase(xa, 4096);
    expect(m.mem.u8[x.xaHead(xa) - 2 + XA_NODE_SHIFT]).toBe(6);
    expect(x.xaNodeCount(xa)).toBe(65);
    for (let id = 4095; id >= 64; id--) x.xaErase(xa, id);
    expect(m.mem.u8[x.xaHead(xa) - 2 + XA_NODE_SHIFT]).toBe(0);
    expect(x.xaNodeCount(xa)).toBe(1);
    expect(xaCheck(x, xa)).toBeNull();
  });
});

describe("xa_cmpxchg", () => {
  test("only the winner gets the old entry; the loser sees NULL and changes nothing", () => {
    const r = rig(XA_FLAGS_ALLOC1);
    const { x, xa } = r;
    const page = ptr(42);
    const id = x.xaAlloc(xa, page, 1, XA_LIMIT_U32_MAX);
    expect(x.xaCmpxchg(xa, id, page, 0)).toBe(page); // winner: unmaps
    expect(x.xaCmpxchg(xa, id, page, 0)).toBe(0); // loser: skips the unmap
    expect(x.xaLoad(xa, id)).toBe(0);
    expect(x.xaEmpty(xa)).toBe(true);
    expect(inUse(r)).toBe(0);
  });

  test("a wrong old value leaves the entry; a right one replaces it", () => {
    const { x, xa } = rig(XA_FLAGS_ALLOC1);
    const id = x.xaAlloc(xa, ptr(1), 1, XA_LIMIT_U32_MAX);
    expect(x.xaCmpxchg(xa, id, ptr(2), ptr(3))).toBe(ptr(1));
    expect(x.xaLoad(xa, id)).toBe(ptr(1));
    expect(x.xaCmpxchg(xa, id, ptr(1), ptr(3))).toBe(ptr(1));
    expect(x.xaLoad(xa, id)).toBe(ptr(3));
    expect(xaCheck(x, xa)).toBeNull();
  });

  test("cmpxchg NULL → entry on a free id takes the id away from xa_alloc", () => {
    const { x, xa } = rig(XA_FLAGS_ALLOC1);
    expect(x.xaCmpxchg(xa, 1, 0, ptr(1))).toBe(0);
    expect(x.xaCmpxchg(xa, 2, 0, ptr(2))).toBe(0);
    expect(x.xaAlloc(xa, ptr(3), 1, XA_LIMIT_U32_MAX)).toBe(3);
    expect(xaCheck(x, xa)).toBeNull();
  });

  test("bad arguments are -EINVAL (internal or unaligned entries)", () => {
    const { x, xa } = rig(XA_FLAGS_ALLOC1);
    expect(x.xaCmpxchg(xa, 1, 0, XA_ZERO_ENTRY)).toBe(-EINVAL);
    expect(x.xaStore(xa, 1, 0x1001)).toBe(-EINVAL);
    expect(x.xaAlloc(xa, 0x1002, 1, 10)).toBe(-EINVAL);
    expect(x.xaAlloc(xa, ptr(1), 1, 2 ** 32)).toBe(-EINVAL);
    const plain = rig(0);
    expect(plain.x.xaAlloc(plain.xa, ptr(1), 1, 10)).toBe(-EINVAL); // not an ALLOC array
  });
});

describe("lib/test_xarray.c check_xa_alloc_1/2 (pointer entries instead of value entries)", () => {
  test.each([
    ["xa0 (XA_FLAGS_ALLOC)", XA_FLAGS_ALLOC, 0],
    ["xa1 (XA_FLAGS_ALLOC1)", XA_FLAGS_ALLOC1, 1],
  ])("check_xa_alloc_1 on %s", (_name, flags, base) => {
    const { x, xa } = rig(flags);
    const U = XA_LIMIT_U32_MAX;
    const allocIndex = (i: number) => expect(x.xaAlloc(xa, ptr(i), 0, U)).toBe(i);
    const eraseIndex = (i: number) => expect(x.xaErase(xa, i)).toBe(ptr(i));
    expect(x.xaEmpty(xa)).toBe(true);
    allocIndex(base);
    eraseIndex(base);
    expect(x.xaEmpty(xa)).toBe(true);
    allocIndex(base);
    for (let i = base + 1; i < 128; i++) allocIndex(i);
    for (let i = base; i < 128; i++) eraseIndex(i);
    allocIndex(base);
    x.xaDestroy(xa);
    allocIndex(base);
    allocIndex(base + 1);
    eraseIndex(base + 1);
    expect(x.xaStore(xa, base + 1, ptr(base + 1))).toBe(0);
    allocIndex(base + 2);
    eraseIndex(base);
    allocIndex(base);
    eraseIndex(base + 1);
    eraseIndex(base + 2);
    for (let i = 1; i < 5000; i++) allocIndex(base + i);
    expect(xaCheck(x, xa)).toBeNull();
    x.xaDestroy(xa);
    // The limit of allocation.
    expect(x.xaAlloc(xa, ptr(1), 0xffff_fffe, U)).toBe(0xffff_fffe);
    expect(x.xaAlloc(xa, ptr(2), 0xffff_fffe, U)).toBe(0xffff_ffff);
    expect(x.xaAlloc(xa, ptr(3), 0xffff_fffe, U)).toBe(-EBUSY);
    x.xaDestroy(xa);
    expect(x.xaAlloc(xa, ptr(10), 10, 5)).toBe(-EBUSY);
    expect(x.xaStore(xa, 3, ptr(3))).toBe(0);
    expect(x.xaAlloc(xa, ptr(10), 10, 5)).toBe(-EBUSY);
    eraseIndex(3);
    expect(x.xaEmpty(xa)).toBe(true);
  });

  test.each([
    ["xa0 (XA_FLAGS_ALLOC)", XA_FLAGS_ALLOC, 0],
    ["xa1 (XA_FLAGS_ALLOC1)", XA_FLAGS_ALLOC1, 1],
  ])("check_xa_alloc_2 on %s (NULL entries reserve ids)", (_name, flags, base) => {
    const { x, xa } = rig(flags);
    const U = XA_LIMIT_U32_MAX;
    expect(x.xaAlloc(xa, 0, 0, U)).toBe(base);
    expect(x.xaEmpty(xa)).toBe(false);
    expect(x.xaErase(xa, base)).toBe(0);
    expect(x.xaEmpty(xa)).toBe(true);
    expect(x.xaAlloc(xa, 0, 0, U)).toBe(base);
    x.xaDestroy(xa);
    expect(x.xaEmpty(xa)).toBe(true);
    for (let i = base; i < base + 10; i++) expect(x.xaAlloc(xa, 0, 0, U)).toBe(i);
    expect(x.xaStore(xa, 3, ptr(3))).toBe(0);
    expect(x.xaStore(xa, 4, ptr(4))).toBe(0);
    expect(x.xaStore(xa, 4, 0)).toBe(ptr(4));
    expect(x.xaErase(xa, 5)).toBe(0);
    expect(x.xaAlloc(xa, 0, 0, U)).toBe(5);
    const seen: number[] = [];
    x.xaForEach(xa, (index, entry) => {
      seen.push(index);
      expect(x.xaErase(xa, index)).toBe(entry);
    });
    expect(seen).toEqual([3]);
    for (let i = base; i < base + 9; i++) {
      expect(x.xaErase(xa, i)).toBe(0);
      expect(x.xaEmpty(xa)).toBe(false);
    }
    expect(x.xaErase(xa, 8)).toBe(0);
    expect(x.xaEmpty(xa)).toBe(false);
    expect(x.xaErase(xa, base + 9)).toBe(0);
    expect(x.xaEmpty(xa)).toBe(true);
  });
});

describe("u32 indices", () => {
  test("store at 2^32-1, 2^25, 2^25-1: six levels, shared prefixes, ordered find", () => {
    const r = rig(0);
    const { m, x, xa } = r;
    const hi = 0xffff_ffff;
    expect(x.xaStore(xa, hi, ptr(1))).toBe(0);
    expect(x.xaNodeCount(xa)).toBe(6); // shifts 30, 24, 18, 12, 6, 0
    expect(m.mem.u8[x.xaHead(xa) - 2 + XA_NODE_SHIFT]).toBe(30);
    expect(x.xaStore(xa, 2 ** 25, ptr(2))).toBe(0);
    expect(x.xaNodeCount(xa)).toBe(11); // root slot 0 was empty: five new levels
    expect(x.xaStore(xa, 2 ** 25 - 1, ptr(3))).toBe(0);
    expect(x.xaNodeCount(xa)).toBe(15); // shares the shift-24 node: four new levels
    expect(x.xaLoad(xa, hi)).toBe(ptr(1));
    expect(x.xaLoad(xa, 2 ** 25)).toBe(ptr(2));
    expect(x.xaLoad(xa, 2 ** 25 - 1)).toBe(ptr(3));
    expect(x.xaLoad(xa, hi - 1)).toBe(0);
    expect(x.xaLoad(xa, 2 ** 25 + 1)).toBe(0);
    expect(x.xaLoad(xa, 0)).toBe(0);
    const seen: [number, number][] = [];
    x.xaForEach(xa, (i, e) => seen.push([i, e]));
    expect(seen).toEqual([
      [2 ** 25 - 1, ptr(3)],
      [2 ** 25, ptr(2)],
      [hi, ptr(1)],
    ]);
    expect(x.xaFind(xa, 2 ** 25 + 1)).toBe(hi);
    expect(xaCheck(x, xa)).toBeNull();
    expect(x.xaErase(xa, hi)).toBe(ptr(1));
    expect(x.xaNodeCount(xa)).toBe(9); // the five-node chain to 2^32-1 is freed, and the shift-30 root
    expect(m.mem.u8[x.xaHead(xa) - 2 + XA_NODE_SHIFT]).toBe(24); // shrunk: 2^25 fits a shift-24 root
    expect(x.xaErase(xa, 2 ** 25)).toBe(ptr(2));
    expect(x.xaErase(xa, 2 ** 25 - 1)).toBe(ptr(3));
    expect(x.xaEmpty(xa)).toBe(true);
    expect(inUse(r)).toBe(0);
  });

  test("xa_alloc up to U32_MAX in an ALLOC1 array", () => {
    const r = rig(XA_FLAGS_ALLOC1);
    const { x, xa } = r;
    expect(x.xaAlloc(xa, ptr(1), 0xffff_ffff, 0xffff_ffff)).toBe(0xffff_ffff);
    expect(x.xaAlloc(xa, ptr(2), 0xffff_ffff, 0xffff_ffff)).toBe(-EBUSY);
    expect(x.xaAlloc(xa, ptr(3), 1, 0xffff_ffff)).toBe(1);
    expect(xaCheck(x, xa)).toBeNull();
    x.xaDestroy(xa);
    expect(x.xaEmpty(xa)).toBe(true);
    expect(inUse(r)).toBe(0);
    expect(x.xaFlags(xa)).toBe(XA_FLAGS_ALLOC1);
  });
});

describe("failure injection", () => {
  test("FailSite.XA_ALLOC fails xa_alloc with -ENOMEM before touching the array", () => {
    const { m, x, xa } = rig(XA_FLAGS_ALLOC1);
    expect(x.xaAlloc(xa, ptr(1), 1, XA_LIMIT_U32_MAX)).toBe(1);
    m.mem.setFail(FailSite.XA_ALLOC, { times: 1 });
    expect(x.xaAlloc(xa, ptr(2), 1, XA_LIMIT_U32_MAX)).toBe(-ENOMEM);
    expect(m.mem.failInjected(FailSite.XA_ALLOC)).toBe(1);
    expect(x.xaAlloc(xa, ptr(2), 1, XA_LIMIT_U32_MAX)).toBe(2);
  });

  test("a node allocation failure (FailSite.KMALLOC) is -ENOMEM and leaves the tree as it was", () => {
    const r = rig(XA_FLAGS_ALLOC1);
    const { m, x, xa } = r;
    allocDense(r, 63, 1); // one full leaf
    m.mem.setFail(FailSite.KMALLOC, { space: 1, times: 1 }); // the second node of the next grow fails
    expect(x.xaAlloc(xa, ptr(64), 1, XA_LIMIT_U32_MAX)).toBe(-ENOMEM);
    expect(m.mem.failInjected(FailSite.KMALLOC)).toBe(1);
    expect(x.xaNodeCount(xa)).toBe(1);
    expect(inUse(r)).toBe(1);
    expect(xaCheck(x, xa)).toBeNull();
    expect(x.xaAlloc(xa, ptr(64), 1, XA_LIMIT_U32_MAX)).toBe(64);
    expect(x.xaNodeCount(xa)).toBe(3);
  });

  test("no node needed, no kmalloc call: an armed KMALLOC site does not fire", () => {
    const { m, x, xa } = rig(XA_FLAGS_ALLOC1);
    expect(x.xaAlloc(xa, ptr(1), 1, XA_LIMIT_U32_MAX)).toBe(1);
    m.mem.setFail(FailSite.KMALLOC, { times: 1 });
    expect(x.xaAlloc(xa, ptr(2), 1, XA_LIMIT_U32_MAX)).toBe(2);
    expect(m.mem.failInjected(FailSite.KMALLOC)).toBe(0);
    expect(x.xaStore(xa, 1000, ptr(3))).toBe(-ENOMEM);
    expect(x.xaLoad(xa, 1000)).toBe(0);
    expect(xaCheck(x, xa)).toBeNull();
  });
});

describe("xa_destroy", () => {
  test("frees every node of a deep sparse tree and resets the array marks", () => {
    const r = rig(XA_FLAGS_ALLOC);
    const { x, xa } = r;
    for (const i of [0, 1, 63, 64, 4095, 4096, 2 ** 20, 2 ** 31, 0xffff_ffff]) x.xaStore(xa, i, ptr(i & 0xffff));
    expect(xaCheck(x, xa)).toBeNull();
    expect(inUse(r)).toBe(x.xaNodeCount(xa));
    x.xaDestroy(xa);
    expect(x.xaEmpty(xa)).toBe(true);
    expect(inUse(r)).toBe(0);
    expect(x.xaFlags(xa)).toBe(XA_FLAGS_ALLOC);
    expect(x.xaAlloc(xa, ptr(1), 0, XA_LIMIT_U32_MAX)).toBe(0);
  });
});
