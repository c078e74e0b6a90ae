/**
 * C types and struct layout, per arch, by the C alignment rules the kernel is compiled with.
 *
 * A struct is declared once (src/mem/structs.ts) as a list of (name, C type) pairs; `layoutOf` derives
 * every offset, size, hole and the tail padding for an arch, and `pahole` (src/mem/pahole.ts) prints
 * the result the way `pahole -C` does. Hot-path modules take their offsets from these layouts, so an
 * offset is never written down by hand anywhere in the emulator.
 *
 * Rules: a member sits at the next multiple of its alignment; a struct's alignment is its largest
 * member's (or an explicit `__aligned`), its size is rounded up to that; a union's members all sit at
 * its offset; a flexible array member (`count: 0`) has size 0 but still aligns; anonymous unions and
 * structs lend their members' names to the enclosing struct, as in C11.
 *
 * Bitfields (`m("dma_map", BOOL, { bits: 1 })`) follow GCC's x86-64 / AAPCS SysV rules: a bitfield
 * goes at the current bit position unless that would make it straddle a boundary of its declared
 * type's storage unit (sizeof(type) bytes, naturally aligned), in which case it starts the next unit;
 * a named bitfield raises the record's alignment to its type's; a zero-width bitfield (`bits: 0`)
 * pads to the next unit boundary and is not laid out as a member; a non-bitfield member after a run
 * of bitfields starts at the next byte boundary aligned for its type. Bits are numbered from the
 * least significant bit of the lowest-addressed byte (little endian).
 */
import type { Arch, ArchName } from "../arch.js";

export interface PrimType {
  readonly kind: "prim";
  /** The name pahole prints (`long unsigned int`, `atomic_long_t`, `struct page *`). */
  readonly cname: string;
  readonly size: (a: Arch) => number;
  readonly align: (a: Arch) => number;
}

export interface ArrayType {
  readonly kind: "array";
  readonly elem: CType;
  /** 0: a flexible array member (`items[]`). */
  readonly count: number;
}

export interface RecordType {
  readonly kind: "struct" | "union";
  /** Empty for an anonymous struct or union. */
  readonly name: string;
  readonly members: readonly Member[];
  /** `__aligned(N)` on the type itself. */
  readonly alignAttr?: number;
}

export type CType = PrimType | ArrayType | RecordType;

export interface Member {
  /** Empty for an anonymous union or struct. */
  readonly name: string;
  readonly type: CType;
  /** `____cacheline_aligned_in_smp` and friends: the member's alignment is raised to this. */
  readonly alignAttr?: number;
  /** Present only on this arch (e.g. `memcg_data`, which the emulator's ilp32 page leaves out). */
  readonly only?: ArchName;
  /** The name of the same bytes in another view of the struct (shown by `layout`, not laid out). */
  readonly alias?: string;
  /** A bitfield of this many bits (`bool dma_map:1` is `bits: 1`); 0 is an unnamed `type :0;`. */
  readonly bits?: number;
}

const fixed = (cname: string, n: number): PrimType => ({ kind: "prim", cname, size: () => n, align: () => n });
const long = (cname: string): PrimType => ({
  kind: "prim",
  cname,
  size: (a) => a.longSize,
  align: (a) => a.longSize,
});

/**
 * A scalar declared by name: a fixed size (`prim("__u8", 1)`, `prim("enum dma_data_direction", 4)`),
 * or `"long"` for one as wide as a long on the arch (`prim("work_func_t", "long")`). The alignment
 * defaults to the size; `"u64"` aligns like a u64 on the arch (`prim("ktime_t", 8, "u64")`).
 */
export function prim(cname: string, size: number | "long", align?: number | "u64"): PrimType {
  if (size === "long") return long(cname);
  if (align === "u64") return { kind: "prim", cname, size: () => size, align: (a) => a.u64Align };
  const al = align ?? size;
  return { kind: "prim", cname, size: () => size, align: () => al };
}

export const U8 = fixed("u8", 1);
/** `_Bool`, which pahole prints as `bool`: one byte. */
export const BOOL = fixed("bool", 1);
export const UCHAR = fixed("unsigned char", 1);
export const U16 = fixed("u16", 2);
export const U32 = fixed("u32", 4);
export const INT = fixed("int", 4);
export const UINT = fixed("unsigned int", 4);
export const ATOMIC_T = fixed("atomic_t", 4);
export const REFCOUNT_T = fixed("refcount_t", 4);
/** Without lock debugging, a spinlock is one 32-bit word (arch_spinlock_t). */
export const SPINLOCK_T = fixed("spinlock_t", 4);
export const GFP_T = fixed("gfp_t", 4);
export const U64T: PrimType = { kind: "prim", cname: "u64", size: () => 8, align: (a) => a.u64Align };
export const ULONG = long("long unsigned int");
export const LONG = long("long int");
export const ATOMIC_LONG_T = long("atomic_long_t");
/** `typedef unsigned long __bitwise netmem_ref`. */
export const NETMEM_REF = long("netmem_ref");
/** Emulator choice: dma_addr_t is as wide as a long (64-bit on lp64, 32-bit without LPAE on ilp32). */
export const DMA_ADDR_T = long("dma_addr_t");

export function ptr(target: string): PrimType {
  return long(`${target} *`);
}

export function array(elem: CType, count: number): ArrayType {
  return { kind: "array", elem, count };
}

export function struct(name: string, members: readonly Member[], alignAttr?: number): RecordType {
  return alignAttr === undefined ? { kind: "struct", name, members } : { kind: "struct", name, members, alignAttr };
}

export function union(name: string, members: readonly Member[]): RecordType {
  return { kind: "union", name, members };
}

export function m(name: string, type: CType, opts: Omit<Member, "name" | "type"> = {}): Member {
  return { name, type, ...opts };
}

/** `struct list_head { struct list_head *next, *prev; }` */
export const LIST_HEAD = struct("list_head", [m("next", ptr("struct list_head")), m("prev", ptr("struct list_head"))]);
/** `struct llist_node { struct llist_node *next; }` */
export const LLIST_NODE = struct("llist_node", [m("next", ptr("struct llist_node"))]);
/** `struct llist_head { struct llist_node *first; }` */
export const LLIST_HEAD = struct("llist_head", [m("first", ptr("struct llist_node"))]);
/** `struct callback_head { next; func; }` (rcu_head). */
export const RCU_HEAD = struct("callback_head", [
  m("next", ptr("struct callback_head")),
  m("func", ptr("void (*)(struct callback_head *)")),
]);

export function typeName(t: CType): string {
  switch (t.kind) {
    case "prim":
      return t.cname;
    case "array":
      return typeName(t.elem);
    default:
      return t.name ? `${t.kind} ${t.name}` : t.kind;
  }
}

/** `[3][1]` for nested arrays, `[]` for a flexible one. */
export function arraySuffix(t: CType): string {
  let s = "";
  while (t.kind === "array") {
    s += t.count === 0 ? "[]" : `[${t.count}]`;
    t = t.elem;
  }
  return s;
}

export function alignOf(t: CType, a: Arch): number {
  switch (t.kind) {
    case "prim":
      return t.align(a);
    case "array":
      return alignOf(t.elem, a);
    default: {
      let al = t.alignAttr ?? 1;
      for (const mem of t.members) {
        if (mem.only && mem.only !== a.name) continue;
        al = Math.max(al, alignOf(mem.type, a), mem.alignAttr ?? 1);
      }
      return al;
    }
  }
}

export function sizeOf(t: CType, a: Arch): number {
  switch (t.kind) {
    case "prim":
      return t.size(a);
    case "array":
      return t.count * sizeOf(t.elem, a);
    default:
      return layoutRecord(t, a, "").size;
  }
}

const alignUp = (n: number, al: number) => Math.ceil(n / al) * al;

/** One laid-out member, with its nested members when it is a struct or union. */
export interface MemberLayout {
  readonly name: string;
  /** Dotted path from the outermost struct, anonymous levels skipped (`list.next`, `pp_netmem`). */
  readonly path: string;
  readonly type: CType;
  readonly offset: number;
  readonly size: number;
  readonly align: number;
  readonly alias?: string;
  /** Bytes of padding before this member (a hole), counted as pahole's class__find_holes does. */
  readonly holeBefore: number;
  /** Unused bits before this member after a run of bitfields (pahole's `bit_hole` of the previous one). */
  readonly bitHoleBefore?: number;
  /** Bitfields only: the width in bits (`:1`). */
  readonly bitSize?: number;
  /** Bitfields only: the bit position from the start of the outermost struct (bit 0 = LSB of byte 0). */
  readonly bitPos?: number;
  readonly children: readonly MemberLayout[];
}

/** Where a bitfield lives: absolute bit position from the start of the struct, and width. */
export interface BitfieldPos {
  readonly pos: number;
  readonly size: number;
}

export interface StructLayout {
  readonly name: string;
  readonly kind: "struct" | "union";
  readonly arch: ArchName;
  readonly size: number;
  readonly align: number;
  readonly members: readonly MemberLayout[];
  /** Offsets by path, every level (`pp_magic`, `list`, `list.next`, `items`). */
  readonly off: Readonly<Record<string, number>>;
  /** Sizes by path (a bitfield's is its declared type's size, as in pahole). */
  readonly sz: Readonly<Record<string, number>>;
  /** Bitfields by path: bit position from the start of the struct and width. */
  readonly bits: Readonly<Record<string, BitfieldPos>>;
  readonly holes: readonly { readonly before: string; readonly offset: number; readonly size: number }[];
  /** Tail padding after the last member (whole bytes; see `bitPadding`). */
  readonly padding: number;
  /** Unused bits of the last storage unit when the struct ends with bitfields (pahole's bit_padding). */
  readonly bitPadding: number;
  /** Sum of the top-level members' sizes. */
  readonly sumMembers: number;
}

interface RecordResult {
  size: number;
  align: number;
  members: MemberLayout[];
  /** pahole's bit_padding of this record. */
  bitPadding: number;
  /** Bytes up to the end of the last member (a trailing bitfield: of its storage unit), as pahole counts. */
  usedEnd: number;
}

interface Placed {
  name: string;
  path: string;
  type: CType;
  offset: number;
  size: number;
  align: number;
  alias?: string;
  bitSize?: number;
  bitPos?: number;
  children: MemberLayout[];
}

function layoutRecord(t: RecordType, a: Arch, prefix: string, base = 0): RecordResult {
  const placed: Placed[] = [];
  // Struct: the next free bit. Union: unused.
  let bitCursor = 0;
  let end = 0;
  let al = t.alignAttr ?? 1;
  for (const mem of t.members) {
    if (mem.only && mem.only !== a.name) continue;
    const path = mem.name ? (prefix ? `${prefix}.${mem.name}` : mem.name) : prefix;
    if (mem.bits !== undefined) {
      if (mem.type.kind !== "prim") throw new Error(`bitfield ${path} must have a scalar type`);
      if (mem.alignAttr !== undefined) throw new Error(`bitfield ${path} cannot carry an alignment attribute`);
      const unitBytes = sizeOf(mem.type, a);
      const unitBits = unitBytes * 8;
      const w = mem.bits;
      if (!Number.isInteger(w) || w < 0 || w > unitBits) throw new Error(`bitfield ${path}: width ${w} does not fit ${typeName(mem.type)}`);
      if (w === 0) {
        // `int :0;` closes the current unit; it is not a member and (SysV) does not align the record.
        if (mem.name) throw new Error(`zero-width bitfield ${path} must be unnamed`);
        if (t.kind === "struct") bitCursor = alignUp(bitCursor, unitBits);
        continue;
      }
      let pos = 0;
      if (t.kind === "struct") {
        pos = bitCursor;
        if (Math.floor(pos / unitBits) !== Math.floor((pos + w - 1) / unitBits)) pos = alignUp(pos, unitBits);
      }
      const typeAlign = alignOf(mem.type, a);
      placed.push({
        name: mem.name,
        path,
        type: mem.type,
        offset: base + Math.floor(pos / 8),
        size: unitBytes,
        align: typeAlign,
        bitSize: w,
        bitPos: base * 8 + pos,
        children: [],
        ...(mem.alias ? { alias: mem.alias } : {}),
      });
      if (mem.name) al = Math.max(al, typeAlign);
      if (t.kind === "union") end = Math.max(end, Math.ceil(w / 8));
      else {
        bitCursor = pos + w;
        end = Math.ceil(bitCursor / 8);
      }
      continue;
    }
    const memAlign = Math.max(alignOf(mem.type, a), mem.alignAttr ?? 1);
    const memSize = sizeOf(mem.type, a);
    const off = t.kind === "union" ? 0 : alignUp(Math.ceil(bitCursor / 8), memAlign);
    const children =
      mem.type.kind === "struct" || mem.type.kind === "union"
        ? layoutRecord(mem.type, a, path, base + off).members
        : [];
    placed.push({
      name: mem.name,
      path,
      type: mem.type,
      offset: base + off,
      size: memSize,
      align: memAlign,
      children,
      ...(mem.alias ? { alias: mem.alias } : {}),
    });
    al = Math.max(al, memAlign);
    if (t.kind === "union") end = Math.max(end, memSize);
    else {
      end = off + memSize;
      bitCursor = end * 8;
    }
  }
  const size = alignUp(end, al);
  const { members, bitPadding, usedEnd } = findHoles(t.kind, placed, base, size);
  return { size, align: al, members, bitPadding, usedEnd: t.kind === "union" ? end : usedEnd };
}

/**
 * dwarves' class__find_holes: the byte hole and the bit hole in front of each member, and the
 * trailing bit padding. For a struct without bitfields a member's hole is just the gap between the
 * previous member's end and its offset.
 */
function findHoles(
  kind: "struct" | "union",
  placed: readonly Placed[],
  base: number,
  size: number,
): { members: MemberLayout[]; bitPadding: number; usedEnd: number } {
  const build = (p: Placed, holeBefore: number, bitHoleBefore: number): MemberLayout => ({
    name: p.name,
    path: p.path,
    type: p.type,
    offset: p.offset,
    size: p.size,
    align: p.align,
    holeBefore,
    ...(bitHoleBefore > 0 ? { bitHoleBefore } : {}),
    ...(p.bitSize !== undefined ? { bitSize: p.bitSize, bitPos: p.bitPos! } : {}),
    children: p.children,
    ...(p.alias ? { alias: p.alias } : {}),
  });
  if (kind === "union") return { members: placed.map((p) => build(p, 0, 0)), bitPadding: 0, usedEnd: 0 };
  const members: MemberLayout[] = [];
  let lastSeenBit = 0;
  let inBitfield = false;
  let curBitfieldEnd = 0;
  let curBitfieldSize = 0;
  for (const p of placed) {
    const unitBits = p.size * 8;
    // Bits relative to this record.
    const bitStart = p.bitSize !== undefined ? p.bitPos! - base * 8 : (p.offset - base) * 8;
    const bitEnd = p.bitSize !== undefined ? bitStart + p.bitSize : bitStart + unitBits;
    // pahole's byte_offset of a bitfield is that of its naturally aligned storage unit.
    const unitStart = p.bitSize !== undefined ? Math.floor(bitStart / unitBits) * unitBits : bitStart;
    let bitHoles = 0;
    let byteHoles = 0;
    if (inBitfield) {
      const bitfieldEnd = Math.min(bitStart, curBitfieldEnd);
      bitHoles = bitfieldEnd - lastSeenBit;
      lastSeenBit = bitfieldEnd;
    }
    if (p.bitSize !== undefined) {
      if (lastSeenBit < unitStart && unitStart <= bitStart) {
        byteHoles = unitStart / 8 - Math.floor(lastSeenBit / 8);
        lastSeenBit = unitStart;
      }
      bitHoles += bitStart - lastSeenBit;
    } else {
      byteHoles = Math.floor(bitStart / 8) - Math.floor(lastSeenBit / 8);
    }
    members.push(build(p, Math.max(0, byteHoles), Math.max(0, bitHoles)));
    if (bitEnd > lastSeenBit) lastSeenBit = bitEnd;
    if (p.bitSize !== undefined) {
      inBitfield = true;
      if (bitEnd > curBitfieldEnd || unitBits > curBitfieldSize) {
        curBitfieldSize = unitBits;
        curBitfieldEnd = unitStart + curBitfieldSize;
        if (bitEnd > curBitfieldEnd) curBitfieldEnd += curBitfieldSize;
      }
    } else {
      inBitfield = false;
      curBitfieldSize = 0;
      curBitfieldEnd = bitEnd;
    }
  }
  let bitPadding = 0;
  if (inBitfield) {
    const bitfieldEnd = Math.min(size * 8, curBitfieldEnd);
    bitPadding = bitfieldEnd - lastSeenBit;
    lastSeenBit = bitfieldEnd;
  }
  return { members, bitPadding, usedEnd: Math.floor(lastSeenBit / 8) };
}

function collect(
  members: readonly MemberLayout[],
  off: Record<string, number>,
  sz: Record<string, number>,
  bits: Record<string, BitfieldPos>,
): void {
  for (const ml of members) {
    if (ml.name) {
      if (ml.path in off) throw new Error(`duplicate member path ${ml.path}`);
      off[ml.path] = ml.offset;
      sz[ml.path] = ml.size;
      if (ml.bitSize !== undefined) bits[ml.path] = { pos: ml.bitPos!, size: ml.bitSize };
    }
    collect(ml.children, off, sz, bits);
  }
}

const cache = new Map<RecordType, Map<ArchName, StructLayout>>();

/** The layout of a struct or union on an arch (memoised: declarations are immutable). */
export function layoutOf(t: RecordType, a: Arch): StructLayout {
  let byArch = cache.get(t);
  if (!byArch) cache.set(t, (byArch = new Map()));
  const hit = byArch.get(a.name);
  if (hit) return hit;
  const r = layoutRecord(t, a, "");
  const off: Record<string, number> = {};
  const sz: Record<string, number> = {};
  const bits: Record<string, BitfieldPos> = {};
  collect(r.members, off, sz, bits);
  const holes = r.members
    .filter((ml) => ml.holeBefore > 0)
    .map((ml) => ({ before: ml.name || typeName(ml.type), offset: ml.offset - ml.holeBefore, size: ml.holeBefore }));
  const usedEnd = t.kind === "union" ? Math.max(0, ...r.members.map((x) => x.size)) : r.usedEnd;
  const sumMembers = r.members.reduce((s, x) => s + x.size, 0);
  const result: StructLayout = {
    name: t.name,
    kind: t.kind,
    arch: a.name,
    size: r.size,
    align: r.align,
    members: r.members,
    off,
    sz,
    bits,
    holes,
    padding: r.size - usedEnd,
    bitPadding: r.bitPadding,
    sumMembers,
  };
  byArch.set(a.name, result);
  return result;
}

/**
 * `offsetof(T, path)`, throwing on an unknown path so a typo fails at module load. For a bitfield:
 * the byte that holds its first bit.
 */
export function offsetOf(l: StructLayout, path: string): number {
  const o = l.off[path];
  if (o === undefined) throw new Error(`struct ${l.name} has no member ${path}`);
  return o;
}

/** The laid-out member at `path` (any level), or undefined. */
export function memberAt(l: StructLayout, path: string): MemberLayout | undefined {
  const walk = (ms: readonly MemberLayout[]): MemberLayout | undefined => {
    for (const x of ms) {
      if (x.path === path) return x;
      const r = walk(x.children);
      if (r !== undefined) return r;
    }
    return undefined;
  };
  return walk(l.members);
}

/**
 * A bitfield as emulator code reads it from a Uint32Array view of little-endian memory:
 * `(u32[(base + off) >>> 2] & mask) !== 0`. `off` is the 4-byte-aligned offset of the u32 word that
 * holds the field, `mask` the field's bits within that word (an unsigned 32-bit number). Throws for
 * a path that is not a bitfield, and for a field that straddles two u32 words.
 */
export function bitOf(l: StructLayout, path: string): { off: number; mask: number } {
  const b = l.bits[path];
  if (b === undefined) {
    if (l.off[path] === undefined) throw new Error(`struct ${l.name} has no member ${path}`);
    throw new Error(`struct ${l.name}: ${path} is not a bitfield`);
  }
  const word = Math.floor(b.pos / 32);
  const shift = b.pos % 32;
  if (shift + b.size > 32) throw new Error(`struct ${l.name}: bitfield ${path} straddles two u32 words`);
  const ones = b.size === 32 ? 0xffffffff : (1 << b.size) - 1;
  return { off: word * 4, mask: (ones << shift) >>> 0 };
}
