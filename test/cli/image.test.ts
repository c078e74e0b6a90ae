import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { IMAGE_HEADER_SIZE, loadImage } from "../../src/mem/image.js";
import { attachPpSystem, NetStack } from "../../src/pool/index.js";
import { VMEMMAP_HI } from "../../src/mem/page.js";

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

/** The scenario's own defaults, spelled out for `explain` (whose defaults are smaller). */
const SCENARIO_SHAPE = ["--pages", "256", "--inflight", "64", "--pool-size", "1024", "--mem", "32M"];

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ppemu-image-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The first page the stack stand-in holds, as a vmemmap pointer. */
function firstStackPage(file: string): string {
  const sys = attachPpSystem(loadImage(readFileSync(file)));
  let page = 0;
  new NetStack(sys.pps).forEachHeld((p) => {
    if (page === 0) page = p;
  });
  expect(page).not.toBe(0);
  return "0x" + VMEMMAP_HI.toString(16) + page.toString(16).padStart(8, "0");
}

describe("ppemu scenario unbind --save, ppemu explain --image", () => {
  it("saves a v11 machine and explains its addresses: the first line names the image, the rest is the scenario's", async () => {
    const f = join(dir, "f.img");
    const s = await run("scenario", "unbind", "--kernel", "v11", "--save", f);
    expect(s.code).toBe(0);
    expect(s.err).toBe("");
    const size = readFileSync(f).length;
    expect(size).toBeGreaterThan(IMAGE_HEADER_SIZE);
    // After the table and the log, the last line.
    expect(s.out.endsWith(`\nwrote ${f} (${size} bytes, build v11)\n`)).toBe(true);

    const e = await run("explain", "--image", f, "0x80000");
    expect(e.err).toBe("");
    expect(e.code).toBe(0);
    const lines = e.out.split("\n");
    expect(lines[0]).toBe(`machine: image ${f}, kernel v11 (item-block), created by "ppemu scenario unbind --kernel v11 --save ${f}"`);
    // The same machine as running the scenario to its end.
    const r = await run("explain", "--kernel", "v11", "--at", "end", ...SCENARIO_SHAPE, "0x80000");
    expect(r.code).toBe(0);
    expect(lines.slice(1).join("\n")).toBe(r.out.split("\n").slice(1).join("\n"));
  });

  it("--at destroyed: the stack stand-in is re-attached from the machine header (in-flight pages are the stack's)", async () => {
    const f = join(dir, "destroyed.img");
    const s = await run("scenario", "unbind", "--kernel", "v6.12", "--at", "destroyed", "--save", f);
    expect([s.code, s.err]).toEqual([0, ""]);
    const page = firstStackPage(f);
    const e = await run("explain", "--image", f, page);
    expect(e.code).toBe(0);
    expect(e.out).toContain("stack");
    const r = await run("explain", "--kernel", "v6.12", "--at", "destroyed", ...SCENARIO_SHAPE, page);
    expect(e.out.split("\n").slice(1)).toEqual(r.out.split("\n").slice(1));
    // --json works on an image too.
    const j = await run("explain", "--image", f, page, "--json");
    expect(j.code).toBe(0);
    JSON.parse(j.out);
  });

  it("layout --image: the image's build selects the structs, as --kernel does", async () => {
    const f = join(dir, "layout.img");
    expect((await run("scenario", "unbind", "--kernel", "v6.1", "--save", f)).code).toBe(0);
    const a = await run("layout", "page_pool", "--image", f);
    const b = await run("layout", "page_pool", "--kernel", "v6.1");
    expect([a.code, a.err]).toEqual([0, ""]);
    expect(a.out).toBe(b.out);
    const c = await run("layout", "page_pool", "--image", f, "--kernel", "v6.16");
    expect([c.code, c.out, c.err]).toEqual([2, "", "ppemu layout: --image FILE names the kernel build: drop --kernel\n"]);
  });

  it("a corrupted image: exit 2, one line on stderr, nothing on stdout (explain and layout)", async () => {
    const f = join(dir, "f.img");
    if (!existsSync(f)) expect((await run("scenario", "unbind", "--kernel", "v11", "--save", f)).code).toBe(0);
    const bad = join(dir, "bad.img");
    const bytes = readFileSync(f);
    bytes[bytes.length - 1]! ^= 0xff;
    writeFileSync(bad, bytes);
    const e = await run("explain", "--image", bad, "0x80000");
    expect(e.code).toBe(2);
    expect(e.out).toBe("");
    expect(e.err).toMatch(new RegExp(`^ppemu: image ${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: body checksum mismatch \\(CRC-32C 0x[0-9a-f]{8}, the header says 0x[0-9a-f]{8}\\)\n$`));
    const l = await run("layout", "--image", bad);
    expect([l.code, l.out, l.err]).toEqual([2, "", e.err]);

    const cut = join(dir, "cut.img");
    writeFileSync(cut, readFileSync(f).subarray(0, 400));
    const t = await run("explain", "--image", cut, "0x80000");
    expect([t.code, t.out, t.err]).toEqual([2, "", `ppemu: image ${cut}: truncated (400 bytes, the header says ${readFileSync(f).length})\n`]);

    const foreign = join(dir, "foreign.img");
    writeFileSync(foreign, "#!/bin/sh\necho hello\n");
    const m = await run("explain", "--image", foreign, "0x80000");
    expect([m.code, m.out, m.err]).toEqual([2, "", `ppemu: image ${foreign}: not a ppemu image (no PPEMUIMG magic)\n`]);

    const none = join(dir, "none.img");
    const n = await run("explain", "--image", none, "0x80000");
    expect([n.code, n.out, n.err]).toEqual([2, "", `ppemu explain: --image ${none}: cannot read: ENOENT (no such file or directory)\n`]);
  });

  it("--image excludes the scenario options; an address past the image's memory is refused", async () => {
    const f = join(dir, "f.img");
    if (!existsSync(f)) expect((await run("scenario", "unbind", "--kernel", "v11", "--save", f)).code).toBe(0);
    const a = await run("explain", "--image", f, "--kernel", "v6.1", "--at", "end", "0x80000");
    expect([a.code, a.out, a.err]).toEqual([2, "", "ppemu explain: --image takes the machine from the image, not from a scenario: drop --kernel, --at\n"]);
    const b = await run("explain", "--image", f, "0x2000000");
    expect(b.code).toBe(2);
    expect(b.err).toBe("ppemu explain: '0x2000000' is past the end of memory (33554432 bytes: last address 0x01ffffff)\n");
  });
});

describe("ppemu scenario unbind --save: refusals before any work", () => {
  it("an unwritable path: exit 2, one line, nothing run, nothing written", async () => {
    const missing = join(dir, "no-such-dir", "x.img");
    const a = await run("scenario", "unbind", "--kernel", "v11", "--save", missing);
    expect([a.code, a.out, a.err]).toEqual([2, "", `ppemu scenario: --save ${missing}: directory ${join(dir, "no-such-dir")} does not exist\n`]);
    const b = await run("scenario", "unbind", "--kernel", "v11", "--save", dir);
    expect([b.code, b.out, b.err]).toEqual([2, "", `ppemu scenario: --save ${dir}: is a directory\n`]);
    if (process.getuid?.() !== 0) {
      const ro = join(dir, "ro");
      mkdirSync(ro);
      chmodSync(ro, 0o555);
      const c = await run("scenario", "unbind", "--kernel", "v11", "--save", join(ro, "x.img"));
      expect([c.code, c.out, c.err]).toEqual([2, "", `ppemu scenario: --save ${join(ro, "x.img")}: directory ${ro} is not writable\n`]);
      expect(existsSync(join(ro, "x.img"))).toBe(false);
      chmodSync(ro, 0o755);
    }
  });

  it("several builds, and --at without --save: one line, exit 2", async () => {
    const f = join(dir, "many.img");
    const a = await run("scenario", "unbind", "--kernel", "v6.1,v11", "--save", f);
    expect([a.code, a.out, a.err]).toEqual([2, "", "ppemu scenario: --save writes one machine: name one kernel build (got v6.1, v11)\n"]);
    expect(existsSync(f)).toBe(false);
    const b = await run("scenario", "unbind", "--at", "destroyed");
    expect([b.code, b.out, b.err]).toEqual([2, "", "ppemu scenario: --at STEP needs --save FILE (it picks the step whose machine is saved)\n"]);
    const c = await run("scenario", "unbind", "--at", "later", "--save", f);
    expect(c.code).toBe(2);
    expect(c.err).toBe("ppemu scenario: unknown step 'later' (valid: allocated, destroyed, unbound, end)\n");
    expect(existsSync(f)).toBe(false);
  });

  it("--help names the new options", async () => {
    expect((await run("scenario", "--help")).out).toMatch(/--save FILE[\s\S]*--at STEP/);
    expect((await run("explain", "--help")).out).toContain("--image FILE");
    expect((await run("layout", "--help")).out).toContain("--image FILE");
  });
});
