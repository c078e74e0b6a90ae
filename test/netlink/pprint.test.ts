import { describe, expect, it } from "vitest";
import { pformat, pprint, pyJsonDumps, pyRepr, type PyValue } from "../../src/netlink/pprint.js";

// Each expected text is what CPython 3 printed for the same value: `pprint.pformat(v)` /
// `json.dumps(v)` (run when the test was written).
const STATS: PyValue = {
  info: { id: 19, ifindex: 2 },
  "alloc-fast": 3024,
  "alloc-slow": 48,
  "alloc-slow-high-order": 0,
  "alloc-empty": 48,
  "alloc-refill": 0,
  "alloc-waive": 0,
  "recycle-cached": 2,
  "recycle-cache-full": 0,
  "recycle-ring": 3000,
  "recycle-ring-full": 0,
  "recycle-released-refcnt": 0,
};
const DEVMEM: PyValue = [
  { id: 456, ifindex: 3, inflight: 1023, "inflight-mem": 4190208, dmabuf: 10 },
  { id: 455, ifindex: 3, inflight: 0, "inflight-mem": 0, "io-uring": {} },
];

describe("pprint: PrettyPrinter() defaults (width 80, indent 1, sorted keys)", () => {
  it("empty containers and a dict that fits on one line", () => {
    expect(pformat([])).toBe("[]");
    expect(pformat({})).toBe("{}");
    expect(pformat([{ id: 1, ifindex: 3, inflight: 256, "inflight-mem": 1048576 }])).toBe(
      "[{'id': 1, 'ifindex': 3, 'inflight': 256, 'inflight-mem': 1048576}]",
    );
  });

  it("a dict too wide: one key per line, sorted by code point, nested dict kept whole when it fits", () => {
    expect(pformat(STATS)).toBe(
      "{'alloc-empty': 48,\n 'alloc-fast': 3024,\n 'alloc-refill': 0,\n 'alloc-slow': 48,\n 'alloc-slow-high-order': 0,\n" +
        " 'alloc-waive': 0,\n 'info': {'id': 19, 'ifindex': 2},\n 'recycle-cache-full': 0,\n 'recycle-cached': 2,\n" +
        " 'recycle-released-refcnt': 0,\n 'recycle-ring': 3000,\n 'recycle-ring-full': 0}",
    );
  });

  it("a list of dicts: each item at indent 1, the too-wide one broken at indent 2 (the devmem capture's shape)", () => {
    expect(pformat(DEVMEM)).toBe(
      "[{'dmabuf': 10,\n  'id': 456,\n  'ifindex': 3,\n  'inflight': 1023,\n  'inflight-mem': 4190208},\n" +
        " {'id': 455, 'ifindex': 3, 'inflight': 0, 'inflight-mem': 0, 'io-uring': {}}]",
    );
    expect(pprint(DEVMEM).endsWith("}]\n")).toBe(true);
  });

  it("a nested dict broken under its key (hanging indent = key width + 2)", () => {
    const v: PyValue = {
      "a-rather-long-attribute-name": { "nested-one": 123456789012, "nested-two": 123456789012, "nested-three": 1 },
      b: [1, 2, 3],
    };
    expect(pformat(v)).toBe(
      "{'a-rather-long-attribute-name': {'nested-one': 123456789012,\n" +
        "                                  'nested-three': 1,\n" +
        "                                  'nested-two': 123456789012},\n 'b': [1, 2, 3]}",
    );
  });

  it("the last item's allowance: three pools, each line within 80 columns", () => {
    const v: PyValue = [1, 2, 3].map((id) => ({ id, ifindex: 2, inflight: 0, "inflight-mem": 0 }));
    expect(pformat(v)).toBe(
      "[{'id': 1, 'ifindex': 2, 'inflight': 0, 'inflight-mem': 0},\n" +
        " {'id': 2, 'ifindex': 2, 'inflight': 0, 'inflight-mem': 0},\n" +
        " {'id': 3, 'ifindex': 2, 'inflight': 0, 'inflight-mem': 0}]",
    );
  });

  it("str repr: single quotes, double when the text has a ' and no \"", () => {
    expect(pyRepr([[1, 2], { x: "it's", y: 'a"b', z: "both'\"" }])).toBe(`[[1, 2], {'x': "it's", 'y': 'a"b', 'z': 'both\\'"'}]`);
  });
});

describe("pyJsonDumps: json.dumps() defaults (insertion order, ', ' and ': ')", () => {
  it("keeps the kernel's attribute order", () => {
    expect(pyJsonDumps(DEVMEM)).toBe(
      '[{"id": 456, "ifindex": 3, "inflight": 1023, "inflight-mem": 4190208, "dmabuf": 10}, {"id": 455, "ifindex": 3, "inflight": 0, "inflight-mem": 0, "io-uring": {}}]',
    );
  });
});
