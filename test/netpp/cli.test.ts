/** `ppemu scenario zerocopy|niov-init`: text, --json against its schema, one-line usage errors. */
import { readFileSync, readdirSync } from "node:fs";
import { describe, it, expect } from "vitest";
import Ajv2020Module from "ajv/dist/2020.js";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";

const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof import("ajv/dist/2020.js").default;
const SCHEMA_DIR = new URL("../../schemas/", import.meta.url);
const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
for (const f of readdirSync(SCHEMA_DIR).filter((x) => x.endsWith(".schema.json"))) ajv.addSchema(JSON.parse(readFileSync(new URL(f, SCHEMA_DIR), "utf8")) as object);
const schema = (name: string) => ajv.getSchema(`https://github.com/ppemu/ppemu/schemas/${name}.schema.json`)!;

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

describe("ppemu scenario zerocopy", () => {
  it("text: -EINVAL on v7.1-rc-netpp, 0 and all pages mapped beside it", async () => {
    const r = await run("scenario", "zerocopy", "--kernel", "mainline,v7.1-rc-netpp", "--pages", "8");
    expect(r.code, r.err).toBe(0);
    const line = (label: string) => r.out.split("\n").find((l) => l.startsWith(label))!.replace(/\s+/g, " ").trim();
    expect(line("getsockopt(TCP_ZEROCOPY_RECEIVE)")).toBe("getsockopt(TCP_ZEROCOPY_RECEIVE) 0 -EINVAL");
    expect(line("pages mapped into the VMA")).toBe("pages mapped into the VMA 8 0");
    // The value, and under it what it means.
    expect(line("page_type of a received page")).toBe("page_type of a received page 0xffffffff 0xf9000000");
    const lines = r.out.split("\n");
    const at = lines.findIndex((l) => l.startsWith("page_type of a received page"));
    expect(lines[at + 1]!.replace(/\s+/g, " ").trim()).toBe("untyped (_mapcount -1) PGTY_netpp");
    expect(line("pool pages mappable to user space")).toBe("pool pages mappable to user space yes no");
  });

  it("--json validates against schemas/scenario.schema.json (its zerocopy shape), and an extra key does not", async () => {
    const r = await run("scenario", "zerocopy", "--kernel", "all", "--pages", "4", "--json");
    expect(r.code, r.err).toBe(0);
    const d = JSON.parse(r.out) as { scenario: string; results: Record<string, unknown>[] };
    const v = schema("scenario");
    expect(v(d), JSON.stringify(v.errors)).toBe(true);
    expect(d.scenario).toBe("zerocopy");
    expect(d.results.filter((x) => x.verdict === "EINVAL").map((x) => x.kernel)).toEqual(["v7.1-rc-netpp"]);
    const skip = JSON.parse((await run("scenario", "zerocopy", "--kernel", "v7.1-rc-netpp", "--pages", "2", "--skip-netpp-check", "--json")).out) as { results: Record<string, unknown>[] };
    expect(v(skip), JSON.stringify(v.errors)).toBe(true);
    expect(skip.results[0]).toMatchObject({ skip_netpp_check: true, verdict: "corrupted", bad_pages_at_free: 2 });
    const bad = structuredClone(d);
    bad.results[0]!.extra = 1;
    expect(v(bad)).toBe(false);
  });

  it("unbind-only options are one-line usage errors naming zerocopy's own, exit 2", async () => {
    const r = await run("scenario", "zerocopy", "--inflight", "3");
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe("ppemu scenario: unknown option '--inflight' (valid: --kernel, --layout, --pages, --skip-netpp-check, --dmesg, --json)");
    const r2 = await run("scenario", "zerocopy", "--pages", "0");
    expect(r2.code).toBe(2);
    expect(r2.err.trim()).toBe("ppemu scenario: --pages must be a whole number from 1 to 1024, got '0'");
  });
});

describe("ppemu scenario niov-init", () => {
  it("text: the BUG on v7.1-rc-netpp with its kernel lines; --fixed: none", async () => {
    const r = await run("scenario", "niov-init", "--kernel", "v7.1-rc-netpp,mainline");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("v7.1-rc-netpp: 1 × page dumped because: VM_BUG_ON_PAGE(data_race(page->page_type) != UINT_MAX)\n");
    expect(r.out).toContain("kernel BUG at ./include/linux/page-flags.h:1062!\n");
    expect(r.out).toContain("  mainline: (empty)\n");
    const line = r.out.split("\n").find((l) => l.startsWith("niov registration"))!.replace(/\s+/g, " ").trim();
    expect(line).toBe("niov registration BUG ok");
    const f = await run("scenario", "niov-init", "--kernel", "v7.1-rc-netpp", "--fixed");
    expect(f.out.split("\n").find((l) => l.startsWith("niov page_type after set_pp_info"))!.replace(/\s+/g, " ").trim()).toBe("niov page_type after set_pp_info 0xf9000000");
  });

  it("--json validates against schemas/scenario.schema.json (its niov-init shape); builds without net_iov are left out", async () => {
    const r = await run("scenario", "niov-init", "--kernel", "all", "--niovs", "2", "--json");
    expect(r.code, r.err).toBe(0);
    const d = JSON.parse(r.out) as { results: Record<string, unknown>[] };
    const v = schema("scenario");
    expect(v(d), JSON.stringify(v.errors)).toBe(true);
    expect(d.results.filter((x) => x.verdict === "BUG").map((x) => x.kernel)).toEqual(["v7.1-rc-netpp"]);
    expect(d.results.map((x) => x.kernel)).not.toContain("v6.1");
  });

  it("--pages is refused here, --niovs and --fixed on unbind", async () => {
    expect((await run("scenario", "niov-init", "--pages", "3")).err.trim()).toBe("ppemu scenario: unknown option '--pages' (valid: --kernel, --layout, --niovs, --fixed, --dmesg, --json)");
    const u = await run("scenario", "unbind", "--fixed");
    expect(u.code).toBe(2);
    expect(u.err.trim()).toMatch(/^ppemu scenario: unknown option '--fixed' \(valid: --kernel, --layout, --pages, .*, --json\)$/);
  });
});
