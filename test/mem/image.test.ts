import { mulberry32 } from "../../src/prng.js";
import { describe, expect, it } from "vitest";
import { brotliCompressSync } from "node:zlib";
import { crc32c } from "@aws-crypto/crc32c";
import {
  attachImage,
  IMAGE_COMMAND_MAX,
  IMAGE_HEADER_LAYOUT,
  IMAGE_HEADER_SIZE,
  ImageError,
  loadImage,
  readImageHeader,
  saveImage,
  type ImageErrorCode,
} from "../../src/mem/image.js";
import { offsetOf } from "../../src/mem/ctype.js";
import { MACH_BUILD } from "../../src/mem/physmem.js";
import { attachPpSystem, type PpSystem } from "../../src/pool/index.js";
import { runUnbind } from "../../src/scenario/unbind.js";
import { PpemuError } from "../../src/errors.js";

const off = (f: string) => offsetOf(IMAGE_HEADER_LAYOUT, f);
const rd32 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(o, true);
const wr32 = (b: Uint8Array, o: number, v: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(o, v >>> 0, true);
const hex = (v: number) => (v >>> 0).toString(16).padStart(8, "0");

/** Recompute both CRCs after a deliberate edit (the refusal under test comes after them). */
function reseal(img: Uint8Array): Uint8Array {
  wr32(img, off("body_crc"), crc32c(img.subarray(IMAGE_HEADER_SIZE)));
  wr32(img, off("header_crc"), crc32c(img.subarray(0, off("header_crc"))));
  return img;
}

/** An image whose body is `body` (compressed as given), the header otherwise that of `img`. */
function withBody(img: Uint8Array, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(IMAGE_HEADER_SIZE + body.length);
  out.set(img.subarray(0, IMAGE_HEADER_SIZE));
  out.set(body, IMAGE_HEADER_SIZE);
  wr32(out, off("body_len"), body.length);
  return reseal(out);
}

function refusal(f: () => unknown): { code: ImageErrorCode; message: string } {
  try {
    f();
  } catch (e) {
    if (e instanceof ImageError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error("loaded: expected a refusal");
}

function poolStats(sys: PpSystem): unknown[] {
  const out: unknown[] = [];
  sys.pps.forEachPool((pool) => out.push({ pool, live: sys.pps.isLive(pool), inflight: sys.pps.inflight(pool), stats: sys.pps.stats(pool) }));
  return out;
}

// A small machine, exercised: pages allocated, some with the stack, the pool destroyed.
const small = (kernel: string, at: "allocated" | "destroyed" | "end" = "destroyed") =>
  runUnbind({ kernel, pages: 48, inflight: 12, poolSize: 64, memBytes: 4 << 20 }, at);

describe("memory images: the header", () => {
  it("is laid out by the struct engine: fields in order, no holes, the CRC last", () => {
    expect(IMAGE_HEADER_LAYOUT.holes).toEqual([]);
    expect(off("magic")).toBe(0);
    expect(off("version")).toBe(8);
    expect(off("command")).toBe(off("command_len") + 4);
    expect(off("body_crc")).toBe(off("command") + IMAGE_COMMAND_MAX);
    expect(off("header_crc") + 4).toBe(IMAGE_HEADER_SIZE);
  });

  it("names the build, the geometry and the command before decompressing", () => {
    const run = small("v11");
    const img = saveImage(run.sys.m.mem, { command: "ppemu scenario unbind --kernel v11" });
    const h = readImageHeader(img, "x.img");
    expect(h.build).toBe(run.sys.build.id);
    expect(h.memBytes).toBe(4 << 20);
    expect(h.nrFrames).toBe(1024);
    expect(h.pageShift).toBe(12);
    expect(h.bodyLen).toBe(img.length - IMAGE_HEADER_SIZE);
    expect(h.command).toBe("ppemu scenario unbind --kernel v11");
  });

  it("cuts a long command at IMAGE_COMMAND_MAX bytes, on a UTF-8 character boundary", () => {
    const run = small("v6.16", "allocated");
    const long = "x".repeat(IMAGE_COMMAND_MAX - 1) + "é…";
    const h = readImageHeader(saveImage(run.sys.m.mem, { command: long }));
    expect(h.command).toBe("x".repeat(IMAGE_COMMAND_MAX - 1));
  });
});

describe("memory images: round trip", () => {
  for (const kernel of ["v6.1", "v6.12", "v11", "v6.16", "mainline"]) {
    it(`${kernel}: the loaded buffer is byte-identical, and attaching gives the same pools and stats`, () => {
      const run = small(kernel);
      const mem = run.sys.m.mem;
      const img = saveImage(mem, { command: `test ${kernel}` });
      const buf = loadImage(img, "t.img");
      expect(buf.byteLength).toBe(mem.bytes);
      expect(Buffer.compare(Buffer.from(buf), Buffer.from(mem.u8))).toBe(0);
      const sys = attachPpSystem(buf);
      expect(sys.build).toBe(run.sys.build);
      const before = poolStats(run.sys);
      expect(before.length).toBeGreaterThan(0);
      expect(poolStats(sys)).toEqual(before);
      // attachImage is loadImage + attach: the same system.
      expect(poolStats(attachImage(img, "t.img", attachPpSystem))).toEqual(before);
    });
  }

  it("a machine saved at the end of the run (pool freed) round-trips too", () => {
    const run = small("v6.15", "end");
    const buf = loadImage(saveImage(run.sys.m.mem, { command: "end" }));
    expect(Buffer.compare(Buffer.from(buf), Buffer.from(run.sys.m.mem.u8))).toBe(0);
    expect(attachPpSystem(buf).build.name).toBe("v6.15");
  });
});

describe("memory images: refusals, one line naming the cause", () => {
  const run = small("v11");
  const good = saveImage(run.sys.m.mem, { command: "ppemu scenario unbind --kernel v11" });
  const copy = () => new Uint8Array(good);
  const load = (b: Uint8Array) => refusal(() => loadImage(b, "f.img"));

  it("truncated: inside the body, and inside the header", () => {
    expect(load(good.subarray(0, good.length - 10))).toEqual({
      code: "truncated",
      message: `ppemu: image f.img: truncated (${good.length - 10} bytes, the header says ${good.length})`,
    });
    expect(load(good.subarray(0, 100))).toEqual({
      code: "truncated",
      message: `ppemu: image f.img: truncated (100 bytes, the header alone is ${IMAGE_HEADER_SIZE})`,
    });
  });

  it("an ImageError is a PpemuError, with the image code", () => {
    let err: unknown;
    try {
      loadImage(good.subarray(0, 10), "f.img");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ImageError);
    expect(err).toBeInstanceOf(PpemuError);
    expect((err as ImageError).code).toBe("truncated");
    expect((err as Error).name).toBe("ImageError");
  });

  it("trailing data after the body", () => {
    const b = new Uint8Array(good.length + 3);
    b.set(good);
    expect(load(b)).toEqual({ code: "size", message: `ppemu: image f.img: ${good.length + 3} bytes, the header says ${good.length}: trailing data` });
  });

  it("a foreign file (bad magic), an empty one", () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Uint8Array(400)]);
    expect(load(png)).toEqual({ code: "magic", message: "ppemu: image f.img: not a ppemu image (no PPEMUIMG magic)" });
    expect(load(new TextEncoder().encode("hello\n"))).toEqual({ code: "magic", message: "ppemu: image f.img: not a ppemu image (no PPEMUIMG magic)" });
    expect(load(new Uint8Array(0))).toEqual({
      code: "truncated",
      message: `ppemu: image f.img: truncated (0 bytes, the header alone is ${IMAGE_HEADER_SIZE})`,
    });
  });

  it("another format version (checked before the CRC: the header layout is the version's)", () => {
    const b = copy();
    wr32(b, off("version"), 2);
    expect(load(b)).toEqual({ code: "version", message: "ppemu: image f.img: format version 2, this ppemu reads version 1" });
  });

  it("another machine header version", () => {
    const b = copy();
    wr32(b, off("machine_version"), 1);
    expect(load(reseal(b))).toEqual({ code: "version", message: "ppemu: image f.img: machine header version 1, this ppemu reads version 4" });
  });

  it("header checksum", () => {
    const b = copy();
    b[off("command") + 3]! ^= 0x20;
    const crc = crc32c(b.subarray(0, off("header_crc")));
    expect(load(b)).toEqual({
      code: "header-crc",
      message: `ppemu: image f.img: header checksum mismatch (CRC-32C 0x${hex(crc)}, the header says 0x${hex(rd32(good, off("header_crc")))})`,
    });
  });

  it("body checksum", () => {
    const b = copy();
    b[IMAGE_HEADER_SIZE + 5]! ^= 0x01;
    const crc = crc32c(b.subarray(IMAGE_HEADER_SIZE));
    expect(load(b)).toEqual({
      code: "body-crc",
      message: `ppemu: image f.img: body checksum mismatch (CRC-32C 0x${hex(crc)}, the header says 0x${hex(rd32(good, off("body_crc")))})`,
    });
  });

  it("decompression: a body that is not brotli, and a compression this ppemu lacks", () => {
    expect(load(withBody(good, new TextEncoder().encode("garbage garbage garbage")))).toEqual({
      code: "decompress",
      message: "ppemu: image f.img: the body does not decompress (brotli: Decompression failed)",
    });
    const b = copy();
    wr32(b, off("compression"), 2);
    expect(load(reseal(b))).toEqual({ code: "decompress", message: "ppemu: image f.img: the body is zstd-compressed, which this ppemu cannot decompress" });
    wr32(b, off("compression"), 9);
    expect(load(reseal(b))).toEqual({ code: "decompress", message: "ppemu: image f.img: unknown compression 9" });
  });

  it("decompressed size: shorter and longer than the header says", () => {
    const bytes = 4 << 20;
    const short = brotliCompressSync(run.sys.m.mem.u8.subarray(0, bytes - 4096));
    expect(load(withBody(good, short))).toEqual({ code: "size", message: `ppemu: image f.img: the body decompresses to ${bytes - 4096} bytes, the header says ${bytes}` });
    const long = brotliCompressSync(new Uint8Array(bytes + 1));
    expect(load(withBody(good, long))).toEqual({ code: "size", message: `ppemu: image f.img: the body decompresses to more than the header's ${bytes} bytes` });
  });

  it("a body without a machine header", () => {
    expect(load(withBody(good, brotliCompressSync(new Uint8Array(4 << 20))))).toEqual({
      code: "magic",
      message: "ppemu: image f.img: the body holds no ppemu machine header",
    });
  });

  it("a build this ppemu does not know (attachPpSystem's BuildError, as one line)", () => {
    const other = small("v6.16", "allocated");
    const mem = other.sys.m.mem;
    mem.wr32(mem.machine + MACH_BUILD, 999);
    const img = saveImage(mem, { command: "x" });
    // The image itself is sound: loadImage returns it; the attach refuses the build.
    expect(loadImage(img).byteLength).toBe(mem.bytes);
    expect(refusal(() => attachImage(img, "f.img", attachPpSystem))).toEqual({
      code: "build",
      message: "ppemu: image f.img: this image was booted as kernel build id 999, which this ppemu does not know",
    });
  });

  it("an image header whose build words disagree with the machine inside", () => {
    const b = copy();
    wr32(b, off("build"), rd32(b, off("build")) + 1);
    expect(load(reseal(b))).toEqual({
      code: "build",
      message: `ppemu: image f.img: the machine says build id ${run.sys.build.id}, the image header says ${run.sys.build.id + 1}`,
    });
  });
});

const FLIP_SEED = 0x1a9e_5eed;
const CORRUPTION_CODES: readonly ImageErrorCode[] = ["header-crc", "body-crc", "magic", "version", "truncated", "decompress", "size"];

describe("memory images: corruption", () => {
  it(`100 random single-byte flips (seed 0x${FLIP_SEED.toString(16)}), each alone: every load is refused, none returns a buffer`, () => {
    const run = small("mainline");
    const img = saveImage(run.sys.m.mem, { command: "ppemu scenario unbind --kernel mainline" });
    const rand = mulberry32(FLIP_SEED);
    const seen = new Map<ImageErrorCode, number>();
    for (let k = 0; k < 100; k++) {
      const pos = Math.floor(rand() * img.length);
      const xor = 1 + Math.floor(rand() * 255);
      img[pos]! ^= xor;
      let loaded: ArrayBuffer | undefined;
      let err: unknown;
      try {
        loaded = loadImage(img, "f.img");
      } catch (e) {
        err = e;
      }
      img[pos]! ^= xor; // restore: the next flip is alone again
      expect(loaded, `flip at ${pos} (^0x${xor.toString(16)}) loaded`).toBeUndefined();
      expect(err, `flip at ${pos}`).toBeInstanceOf(ImageError);
      const code = (err as ImageError).code;
      expect(CORRUPTION_CODES, `flip at ${pos}: ${(err as Error).message}`).toContain(code);
      expect((err as Error).message).not.toContain("\n");
      seen.set(code, (seen.get(code) ?? 0) + 1);
    }
    // Both halves of the file were hit (the body is most of it).
    expect(seen.get("body-crc") ?? 0).toBeGreaterThan(0);
    expect((seen.get("header-crc") ?? 0) + (seen.get("magic") ?? 0) + (seen.get("version") ?? 0)).toBeGreaterThan(0);
    // Restored: the image loads again.
    expect(loadImage(img).byteLength).toBe(run.sys.m.mem.bytes);
  });
});
