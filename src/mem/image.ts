/**
 * Memory images: one machine (its whole buffer, the kernel build included) in a file.
 *
 *   ┌──────────────────────────── struct ppemu_image_header ───────────────────────────┐┌── body ──┐
 *   │ magic "PPEMUIMG" │ version │ machine_version │ build │ build_variant │ build_config ││ the      │
 *   │ page_shift │ nr_frames │ mem_bytes │ compression │ body_len │ command_len          ││ buffer,  │
 *   │ command[256] (UTF-8, the command that wrote it) │ body_crc │ header_crc            ││ brotli   │
 *   └──────────────────────────────────────────────────────────────────────────────────┘└──────────┘
 *
 * Every field is a little-endian u32 (or bytes), at the offset `layoutOf` derives for lp64. The
 * build words are copied from the machine header, so a reader can name the build before it
 * decompresses anything. Two CRC-32Cs: `body_crc` over the compressed body, and `header_crc` over
 * every header byte before it (`body_crc` included), so a flipped bit anywhere is caught before the
 * body is decompressed. A load is checked in that order: magic, version, header length, header CRC,
 * file length, body CRC, decompression, decompressed size, the machine header inside; each refusal is
 * an ImageError with one line naming the cause, and nothing is returned.
 */
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from "node:zlib";
import { crc32c } from "@aws-crypto/crc32c";
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf, struct, m, array, U8, U32 } from "./ctype.js";
import {
  PhysMem,
  MACH_BUILD,
  MACH_BUILD_CONFIG,
  MACH_BUILD_VARIANT,
  MACHINE_LAYOUT,
  MACHINE_VERSION,
  MAX_MEM_BYTES,
  MIN_MEM_BYTES,
} from "./physmem.js";
import { BuildError } from "../builds/registry.js";
import { PpemuError } from "../errors.js";

/** Why an image was refused. */
export type ImageErrorCode = "truncated" | "magic" | "version" | "header-crc" | "body-crc" | "decompress" | "size" | "build";

/** An image this ppemu will not load: `message` is one line, `ppemu: image FILE: <cause>`. */
export class ImageError extends PpemuError {
  declare readonly code: ImageErrorCode;
  constructor(code: ImageErrorCode, message: string) {
    super(code, message);
    this.name = "ImageError";
  }
}

/** The body's compression (an enum, so another can be added: zstd is not in Node 20's zlib). */
export const enum ImageCompression {
  BROTLI = 1,
  ZSTD = 2,
}
const COMPRESSION_NAMES: Readonly<Record<number, string>> = { [ImageCompression.BROTLI]: "brotli", [ImageCompression.ZSTD]: "zstd" };

/** Bytes of `command` (UTF-8, cut at a character boundary; the rest zero). */
export const IMAGE_COMMAND_MAX = 256;

export const STRUCT_PPEMU_IMAGE_HEADER = struct("ppemu_image_header", [
  m("magic", array(U8, 8)),
  /** IMAGE_VERSION: this header's layout and the body's meaning. */
  m("version", U32),
  /** The machine header's own version (struct ppemu_machine). */
  m("machine_version", U32),
  /** The kernel build, copied from the machine header: registry id, item-block variant, switches. */
  m("build", U32),
  m("build_variant", U32),
  m("build_config", U32),
  m("page_shift", U32),
  m("nr_frames", U32),
  /** The buffer's byte length (the decompressed body): nr_frames << page_shift. */
  m("mem_bytes", U32),
  m("compression", U32),
  m("body_len", U32),
  m("command_len", U32),
  m("command", array(U8, IMAGE_COMMAND_MAX)),
  /** CRC-32C of the compressed body. */
  m("body_crc", U32),
  /** CRC-32C of the header bytes before this field (body_crc included). */
  m("header_crc", U32),
]);

export const IMAGE_HEADER_LAYOUT = layoutOf(STRUCT_PPEMU_IMAGE_HEADER, LP64);
export const IMAGE_HEADER_SIZE = IMAGE_HEADER_LAYOUT.size;
/** "PPEMUIMG" */
export const IMAGE_MAGIC: readonly number[] = [..."PPEMUIMG"].map((c) => c.charCodeAt(0));
export const IMAGE_VERSION = 1;

const IH_MAGIC = offsetOf(IMAGE_HEADER_LAYOUT, "magic");
const IH_VERSION = offsetOf(IMAGE_HEADER_LAYOUT, "version");
const IH_MACHINE_VERSION = offsetOf(IMAGE_HEADER_LAYOUT, "machine_version");
const IH_BUILD = offsetOf(IMAGE_HEADER_LAYOUT, "build");
const IH_BUILD_VARIANT = offsetOf(IMAGE_HEADER_LAYOUT, "build_variant");
const IH_BUILD_CONFIG = offsetOf(IMAGE_HEADER_LAYOUT, "build_config");
const IH_PAGE_SHIFT = offsetOf(IMAGE_HEADER_LAYOUT, "page_shift");
const IH_NR_FRAMES = offsetOf(IMAGE_HEADER_LAYOUT, "nr_frames");
const IH_MEM_BYTES = offsetOf(IMAGE_HEADER_LAYOUT, "mem_bytes");
const IH_COMPRESSION = offsetOf(IMAGE_HEADER_LAYOUT, "compression");
const IH_BODY_LEN = offsetOf(IMAGE_HEADER_LAYOUT, "body_len");
const IH_COMMAND_LEN = offsetOf(IMAGE_HEADER_LAYOUT, "command_len");
const IH_COMMAND = offsetOf(IMAGE_HEADER_LAYOUT, "command");
const IH_BODY_CRC = offsetOf(IMAGE_HEADER_LAYOUT, "body_crc");
const IH_HEADER_CRC = offsetOf(IMAGE_HEADER_LAYOUT, "header_crc");
const MACH_VERSION = offsetOf(MACHINE_LAYOUT, "version");

/** Brotli quality: 5 compresses a 32 MiB scenario machine to ~1.3 KB in ~25 ms (11 takes ~850 ms). */
const BROTLI_QUALITY = 5;

/** The header, as read back. */
export interface ImageHeader {
  readonly version: number;
  readonly machineVersion: number;
  readonly build: number;
  readonly buildVariant: number;
  readonly buildConfig: number;
  readonly pageShift: number;
  readonly nrFrames: number;
  readonly memBytes: number;
  readonly compression: number;
  readonly bodyLen: number;
  /** The command that wrote the image. */
  readonly command: string;
  readonly bodyCrc: number;
  readonly headerCrc: number;
}

/** The first `max` bytes of `s` in UTF-8, never cutting a character. */
function utf8Prefix(s: string, max: number): Uint8Array {
  const enc = new TextEncoder();
  let out = enc.encode(s);
  if (out.length <= max) return out;
  let end = max;
  while (end > 0 && (out[end]! & 0xc0) === 0x80) end--; // back off a continuation byte
  out = out.subarray(0, end);
  return out;
}

/** The image of a machine: header, then the brotli-compressed buffer. */
export function saveImage(mem: PhysMem, meta: { command: string }): Uint8Array {
  const src = new Uint8Array(mem.buffer);
  const body = brotliCompressSync(src, {
    params: {
      [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: src.length,
    },
  });
  const out = new Uint8Array(IMAGE_HEADER_SIZE + body.length);
  const dv = new DataView(out.buffer);
  const w32 = (off: number, v: number) => dv.setUint32(off, v >>> 0, true);
  out.set(IMAGE_MAGIC, IH_MAGIC);
  w32(IH_VERSION, IMAGE_VERSION);
  w32(IH_MACHINE_VERSION, mem.rd32(mem.machine + MACH_VERSION));
  w32(IH_BUILD, mem.rd32(mem.machine + MACH_BUILD));
  w32(IH_BUILD_VARIANT, mem.rd32(mem.machine + MACH_BUILD_VARIANT));
  w32(IH_BUILD_CONFIG, mem.rd32(mem.machine + MACH_BUILD_CONFIG));
  w32(IH_PAGE_SHIFT, mem.pageShift);
  w32(IH_NR_FRAMES, mem.nrFrames);
  w32(IH_MEM_BYTES, mem.bytes);
  w32(IH_COMPRESSION, ImageCompression.BROTLI);
  w32(IH_BODY_LEN, body.length);
  const cmd = utf8Prefix(meta.command, IMAGE_COMMAND_MAX);
  w32(IH_COMMAND_LEN, cmd.length);
  out.set(cmd, IH_COMMAND);
  out.set(body, IMAGE_HEADER_SIZE);
  w32(IH_BODY_CRC, crc32c(body));
  w32(IH_HEADER_CRC, crc32c(out.subarray(0, IH_HEADER_CRC)));
  return out;
}

/**
 * Read and check the header alone (magic, version, length, header CRC): what a reader needs to name
 * the build and the machine's size without decompressing. `name` is the file, for the message.
 */
export function readImageHeader(bytes: Uint8Array, name = "(bytes)"): ImageHeader {
  const fail = (code: ImageErrorCode, why: string): never => {
    throw new ImageError(code, `ppemu: image ${name}: ${why}`);
  };
  const n = Math.min(bytes.length, IMAGE_MAGIC.length);
  for (let i = 0; i < n; i++) {
    if (bytes[IH_MAGIC + i] !== IMAGE_MAGIC[i]) fail("magic", "not a ppemu image (no PPEMUIMG magic)");
  }
  if (bytes.length < IMAGE_HEADER_SIZE) fail("truncated", `truncated (${bytes.length} bytes, the header alone is ${IMAGE_HEADER_SIZE})`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r32 = (off: number) => dv.getUint32(off, true);
  const version = r32(IH_VERSION);
  if (version !== IMAGE_VERSION) fail("version", `format version ${version}, this ppemu reads version ${IMAGE_VERSION}`);
  const headerCrc = r32(IH_HEADER_CRC);
  const crc = crc32c(bytes.subarray(0, IH_HEADER_CRC));
  if (crc !== headerCrc) fail("header-crc", `header checksum mismatch (CRC-32C 0x${hex(crc)}, the header says 0x${hex(headerCrc)})`);
  const commandLen = Math.min(r32(IH_COMMAND_LEN), IMAGE_COMMAND_MAX);
  return {
    version,
    machineVersion: r32(IH_MACHINE_VERSION),
    build: r32(IH_BUILD),
    buildVariant: r32(IH_BUILD_VARIANT),
    buildConfig: r32(IH_BUILD_CONFIG),
    pageShift: r32(IH_PAGE_SHIFT),
    nrFrames: r32(IH_NR_FRAMES),
    memBytes: r32(IH_MEM_BYTES),
    compression: r32(IH_COMPRESSION),
    bodyLen: r32(IH_BODY_LEN),
    command: new TextDecoder().decode(bytes.subarray(IH_COMMAND, IH_COMMAND + commandLen)),
    bodyCrc: r32(IH_BODY_CRC),
    headerCrc,
  };
}

const hex = (v: number) => (v >>> 0).toString(16).padStart(8, "0");

/** Load an image: the machine's buffer, byte for byte as it was saved, or an ImageError. */
export function loadImage(bytes: Uint8Array, name = "(bytes)"): ArrayBuffer {
  const fail = (code: ImageErrorCode, why: string): never => {
    throw new ImageError(code, `ppemu: image ${name}: ${why}`);
  };
  const h = readImageHeader(bytes, name);
  const want = IMAGE_HEADER_SIZE + h.bodyLen;
  if (bytes.length < want) fail("truncated", `truncated (${bytes.length} bytes, the header says ${want})`);
  if (bytes.length > want) fail("size", `${bytes.length} bytes, the header says ${want}: trailing data`);
  const body = bytes.subarray(IMAGE_HEADER_SIZE, want);
  const crc = crc32c(body);
  if (crc !== h.bodyCrc) fail("body-crc", `body checksum mismatch (CRC-32C 0x${hex(crc)}, the header says 0x${hex(h.bodyCrc)})`);
  if (h.machineVersion !== MACHINE_VERSION) {
    fail("version", `machine header version ${h.machineVersion}, this ppemu reads version ${MACHINE_VERSION}`);
  }
  if (![12, 14, 16].includes(h.pageShift) || h.memBytes < MIN_MEM_BYTES || h.memBytes > MAX_MEM_BYTES || h.memBytes !== h.nrFrames * 2 ** h.pageShift) {
    fail("size", `the header's geometry is not a machine (${h.memBytes} bytes, ${h.nrFrames} frames of 2^${h.pageShift})`);
  }
  if (h.compression !== ImageCompression.BROTLI) {
    const what = COMPRESSION_NAMES[h.compression];
    fail("decompress", what ? `the body is ${what}-compressed, which this ppemu cannot decompress` : `unknown compression ${h.compression}`);
  }
  let out: Buffer;
  try {
    // Bounded by the machine's size: a longer output is a size mismatch, not an unbounded buffer.
    out = brotliDecompressSync(body, { maxOutputLength: h.memBytes });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ERR_BUFFER_TOO_LARGE") fail("size", `the body decompresses to more than the header's ${h.memBytes} bytes`);
    return fail("decompress", `the body does not decompress (brotli: ${(err.message ?? String(e)).split("\n")[0]})`);
  }
  if (out.length !== h.memBytes) fail("size", `the body decompresses to ${out.length} bytes, the header says ${h.memBytes}`);
  const buffer = new ArrayBuffer(h.memBytes);
  new Uint8Array(buffer).set(out);
  let mem: PhysMem | null = null;
  try {
    mem = PhysMem.attach(buffer);
  } catch {
    // refused below
  }
  if (!mem || mem.pageShift !== h.pageShift || mem.nrFrames !== h.nrFrames) fail("magic", "the body holds no ppemu machine header");
  const mh = mem!.machine;
  const words = [mem!.rd32(mh + MACH_BUILD), mem!.rd32(mh + MACH_BUILD_VARIANT), mem!.rd32(mh + MACH_BUILD_CONFIG)];
  if (words[0] !== h.build || words[1] !== h.buildVariant || words[2] !== h.buildConfig) {
    fail("build", `the machine says build id ${words[0]}, the image header says ${h.build}`);
  }
  return buffer;
}

/**
 * Load an image and attach to it (`attach` is `attachPpSystem`, or any function of the buffer): a
 * build the attach refuses (a BuildError: unknown to this ppemu, or known with other switches) is an
 * ImageError with code "build".
 */
export function attachImage<T>(bytes: Uint8Array, name: string, attach: (buffer: ArrayBuffer) => T): T {
  const buffer = loadImage(bytes, name);
  try {
    return attach(buffer);
  } catch (e) {
    if (e instanceof BuildError) throw new ImageError("build", `ppemu: image ${name}: ${e.message.replace(/^ppemu: /, "")}`);
    throw e;
  }
}
