import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { buildNames, layoutNames } from "../../src/builds/index.js";

async function run(...argv: string[]): Promise<{ code: number; io: BufferIo }> {
  const io = new BufferIo();
  const code = await main(["explain", ...argv], io);
  return { code, io };
}

describe("ppemu explain: input errors", () => {
  it("malformed, empty and out-of-range addresses: one line on stderr, exit 2", async () => {
    const a = await run("zz");
    expect([a.code, a.io.stderr, a.io.stdout]).toEqual([2, "ppemu explain: 'zz' is not a hex address\n", ""]);
    const b = await run("0x");
    expect([b.code, b.io.stderr, b.io.stdout]).toEqual([2, "ppemu explain: '0x' is not a hex address\n", ""]);
    const c = await run("0x2000000");
    expect([c.code, c.io.stderr, c.io.stdout]).toEqual([
      2,
      "ppemu explain: '0x2000000' is past the end of memory (33554432 bytes: last address 0x01ffffff)\n",
      "",
    ]);
    // The end of memory follows --mem.
    const d = await run("0x100000", "--mem", "1M");
    expect(d.code).toBe(2);
    expect(d.io.stderr).toBe("ppemu explain: '0x100000' is past the end of memory (1048576 bytes: last address 0x000fffff)\n");
  });

  it("a negative number as an address or an option value: the command's own one-line message", async () => {
    const a = await run("-1");
    expect([a.code, a.io.stdout, a.io.stderr]).toEqual([2, "", "ppemu explain: '-1' is not a hex address\n"]);
    const b = await run("0x1040", "--pages", "-4");
    expect([b.code, b.io.stdout, b.io.stderr]).toEqual([2, "", "ppemu explain: --pages must be a whole number from 0 to 4096, got '-4'\n"]);
  });

  it("bad options exit 2 and name the valid choices", async () => {
    const a = await run("0x1000", "--layout", "slab");
    expect(a.code).toBe(2);
    // explain takes one build: "all" is not offered.
    expect(a.io.stderr).toBe(`ppemu explain: unknown layout 'slab' (valid: ${layoutNames().join(", ")})\n`);
    const k = await run("0x1000", "--kernel", "slab");
    expect([k.code, k.io.stderr]).toEqual([2, `ppemu explain: unknown kernel build 'slab' (valid: ${buildNames().join(", ")}; or a layout: ${layoutNames().join(", ")})\n`]);
    const all = await run("0x1000", "--kernel", "all");
    expect([all.code, all.io.stderr]).toEqual([2, `ppemu explain: unknown kernel build 'all' (valid: ${buildNames().join(", ")}; or a layout: ${layoutNames().join(", ")})\n`]);
    const both = await run("0x1000", "--kernel", "v6.1", "--layout", "classic");
    expect([both.code, both.io.stderr]).toEqual([2, "ppemu explain: give --kernel or --layout, not both\n"]);
    const b = await run("0x1000", "--at", "later");
    expect(b.io.stderr).toBe("ppemu explain: unknown step 'later' (valid: allocated, destroyed, unbound, end)\n");
    const c = await run();
    expect(c.code).toBe(2);
    expect(c.io.stderr).toBe("ppemu explain: name at least one address (or --magic VALUE / --netmem VALUE)\n");
    const d = await run("--magic", "0xdead_zz");
    expect(d.io.stderr).toBe("ppemu explain: --magic '0xdead_zz' is not a hex value\n");
  });
});

describe("ppemu explain: output", () => {
  it("explains addresses of the default machine (classic, at destroyed)", async () => {
    // pfn 0xc6: the lowest of the 8 pages with the stack (the first refill's pages 57–64 are 0xc6–0xcd).
    const { code, io } = await run("0xffffea0000003188", "0xffff888000412000");
    expect(code).toBe(0);
    const lines = io.stdout.split("\n");
    expect(lines[0]).toBe('machine: scenario unbind, kernel v6.15 (classic), at "destroyed" (40 pages, 8 with the stack, pool_size 64, 32 MiB)');
    expect(lines).toContain("0xffffea0000003188 (vmemmap) → phys 0x00003188: pfn 0x3 + 0x188 — memmap");
    expect(lines).toContain(
      "  struct page of pfn 0xc6 at 0x00003180 (page_pool: in flight (stack)); byte 8 is pp_magic (lru.next / compound_head) [offset 8, 8 bytes] = 0xdead000000000040",
    );
    expect(lines).toContain(
      "  dma_addr 0x00039000: mapped, 0000:03:00.0's IOMMU translates it to this page — still mapped after page_pool_destroy(): nothing can unmap it before the driver unbinds",
    );
    expect(lines).toContain("0xffff888000412000 (direct map) → phys 0x00412000: pfn 0x412 + 0x0 — free");
  });

  it("a machine too small for --pages: the header gives the pages actually allocated", async () => {
    const { code, io } = await run("0x1040", "--pages", "4096", "--mem", "1M");
    expect(code).toBe(0);
    // 229: each pool also takes its per-CPU stats and a struct ppemu_pool, and the netdevs are slab objects too.
    expect(io.stdout.split("\n")[0]).toBe(
      'machine: scenario unbind, kernel v6.15 (classic), at "destroyed" (229 pages allocated of 4096 asked: the machine ran out, 8 with the stack, pool_size 64, 1 MiB)',
    );
  });

  it("--json: one document, one explanation per address", async () => {
    const one = await run("0xc6000", "--layout", "item-block", "--at", "unbound", "--json");
    expect(one.code).toBe(0);
    const doc = JSON.parse(one.io.stdout) as { schema: number; command: string; machine: { kernel: string; at: string }; explanations: unknown[] };
    expect(Object.keys(doc)).toEqual(["schema", "command", "machine", "explanations"]);
    expect([doc.schema, doc.command, doc.machine.kernel, doc.machine.at, doc.explanations.length]).toEqual([1, "explain", "v11", "unbound", 1]);
    const o = doc.explanations[0] as { kind: string; role: string; class: string; pp: { dma_addr: string; where: string } };
    expect(o.kind).toBe("address");
    // item-block's blocks sit before the pages, so pfn 0xc6 (classic's lowest stack page) is a page
    // the driver returned (free); its stack pages are 0xca–0xd1.
    expect([o.role, o.class]).toEqual(["free", "free"]);
    const two = await run("0xca000", "0x80000", "--layout", "item-block", "--at", "unbound", "--json");
    const arr = JSON.parse(two.io.stdout).explanations as { role: string; pp?: { dma_addr: string; where: string; pool_destroyed: boolean }; field?: { field: string } }[];
    expect(arr.length).toBe(2);
    expect(arr[0]!.role).toBe("page_pool page");
    expect(arr[0]!.pp).toMatchObject({ where: "in flight (stack)", slot: 7, dma_addr: "0x00000000", pool_destroyed: true });
    expect(arr[1]!).toMatchObject({ role: "machine header", field: { field: "magic" } });
  });

  it("--magic decodes a value without a machine", async () => {
    const { code, io } = await run("--magic", "0xdead0000_000000c2");
    expect(code).toBe(0);
    expect(io.stdout).toBe(
      [
        "pp_magic 0xdead0000000000c2 (lp64)",
        "  classic mask ~0x3:  no signature",
        "  v6.16 PP_MAGIC_MASK: PP_SIGNATURE — a page_pool page",
        "  dma index id 1 (bits 7..38)",
        "  bit 0 clear (not a tail page); bit 1 set: pfmemalloc",
        "",
      ].join("\n"),
    );
  });

  it("--netmem strips NET_IOV and explains the pointer", async () => {
    const { code, io } = await run("--netmem", "0xffffea00000021c1", "--at", "allocated", "--json");
    expect(code).toBe(0);
    const doc = JSON.parse(io.stdout) as { explanations: unknown[] };
    expect(doc.explanations.length).toBe(1);
    const j = doc.explanations[0] as { kind: string; netmem: { net_iov: boolean; cleared: string }; explain: { role: string; page: { pfn: number }; field: { field: string } } };
    expect(j.kind).toBe("netmem");
    expect(j.netmem).toMatchObject({ net_iov: true, cleared: "0xffffea00000021c0" });
    expect(j.explain).toMatchObject({ role: "memmap", page: { pfn: 0x87 }, field: { field: "flags" } });
  });

  it("--help", async () => {
    const { code, io } = await run("--help");
    expect(code).toBe(0);
    expect(io.stdout).toContain("usage: ppemu explain ADDR…");
  });
});
