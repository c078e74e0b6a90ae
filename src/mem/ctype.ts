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
}

const fixed = (cname: string, n: number): PrimType => ({ kind: "prim", cname, size: () => n, align: () => n });
const long = (cname: string): PrimType => ({
  kind: "prim",
  cname,
  size: (a) => a.longSize,
  align: (a) => a.longSize,
});

export const U8 = fixed("u8", 1);
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
  /** Bytes of padding before this member (a hole). */
  readonly holeBefore: number;
  readonly children: readonly MemberLayout[];
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
  /** Sizes by path. */
  readonly sz: Readonly<Record<string, number>>;
  readonly holes: readonly { readonly before: string; readonly offset: number; readonly size: number }[];
  /** Tail padding after the last member. */
  readonly padding: number;
  /** Sum of the top-level members' sizes. */
  readonly sumMembers: number;
}

interface RecordResult {
  size: number;
  align: number;
  members: MemberLayout[];
}

function layoutRecord(t: RecordType, a: Arch, prefix: string, base = 0): RecordResult {
  const members: MemberLayout[] = [];
  let cursor = 0;
  let end = 0;
  let al = t.alignAttr ?? 1;
  for (const mem of t.members) {
    if (mem.only && mem.only !== a.name) continue;
    const memAlign = Math.max(alignOf(mem.type, a), mem.alignAttr ?? 1);
    const memSize = sizeOf(mem.type, a);
    const off = t.kind === "union" ? 0 : alignUp(cursor, memAlign);
    const path = mem.name ? (prefix ? `${prefix}.${mem.name}` : mem.name) : prefix;
    const children =
      mem.type.kind === "struct" || mem.type.kind === "union"
        ? layoutRecord(mem.type, a, path, base + off).members
        : [];
    const ml: MemberLayout = {
      name: mem.name,
      path,
      type: mem.type,
      offset: base + off,
      size: memSize,
      align: memAlign,
      holeBefore: t.kind === "union" ? 0 : off - cursor,
      children,
      ...(mem.alias ? { alias: mem.alias } : {}),
    };
    members.push(ml);
    al = Math.max(al, memAlign);
    if (t.kind === "union") end = Math.max(end, memSize);
    else cursor = end = off + memSize;
  }
  return { size: alignUp(end, al), align: al, members };
}

function collect(members: readonly MemberLayout[], off: Record<string, number>, sz: Record<string, number>): void {
  for (const ml of members) {
    if (ml.name) {
      if (ml.path in off) throw new Error(`duplicate member path ${ml.path}`);
      off[ml.path] = ml.offset;
      sz[ml.path] = ml.size;
    }
    collect(ml.children, off, sz);
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
  collect(r.members, off, sz);
  const holes = r.members
    .filter((ml) => ml.holeBefore > 0)
    .map((ml) => ({ before: ml.name || typeName(ml.type), offset: ml.offset - ml.holeBefore, size: ml.holeBefore }));
  const last = r.members[r.members.length - 1];
  const usedEnd = t.kind === "union" ? Math.max(0, ...r.members.map((x) => x.size)) : last ? last.offset + last.size : 0;
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
    holes,
    padding: r.size - usedEnd,
    sumMembers,
  };
  byArch.set(a.name, result);
  return result;
}

/** `offsetof(T, path)`, throwing on an unknown path so a typo fails at module load. */
export function offsetOf(l: StructLayout, path: string): number {
  const o = l.off[path];
  if (o === undefined) throw new Error(`struct ${l.name} has no member ${path}`);
  return o;
}
