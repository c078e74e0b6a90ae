/**
 * `pahole -C STRUCT` output for a laid-out struct, character for character.
 *
 * This follows dwarves' dwarves_fprintf.c (`__class__fprintf`, `union__fprintf`,
 * `class_member__fprintf`) rather than approximating it, so the text can be diffed against pahole on
 * a real vmlinux. The rules that matter:
 *
 *  - A member line is `<tabs><type padded to type_spacing> <name>;` then the offset comment
 *    `/* %5u %5u *\/` starting at column type_spacing + name_spacing (26 + 23 at the top level) of
 *    the text after the tabs; every nesting level indents one tab and takes 8 from type_spacing, so
 *    the comments of all levels line up. A line too long for its column gets one space.
 *  - Anonymous unions and structs are printed inline, closed by `};` (or `} name;`) with the
 *    union's own offset and size.
 *  - A hole after a member: blank line, `/* XXX N bytes hole, try to pack *\/`, blank line; unused bits
 *    after a run of bitfields first get `/* XXX N bits hole, try to pack *\/`.
 *  - A bitfield prints `type name:W;` and `/* OFF:BIT SIZE *\/` (`%5u:%2u %2u`): the offset of its
 *    naturally aligned storage unit, the bit within that unit, the declared type's byte size.
 *  - Crossing into cache line N (64 bytes): `/* --- cacheline N boundary (M bytes) --- *\/` before
 *    the member, `... was K bytes ago ---` when the member straddles the boundary. Inside a union
 *    every member restarts from the union's cache line.
 *  - Summary: size/cachelines/members; `sum members` and holes, and `sum bitfield members` with bit
 *    holes, when there are holes; padding; bit_padding; member types with holes / paddings; forced
 *    alignments; last cacheline.
 *
 * The types print the way pahole names them from DWARF (`long unsigned int`, `struct page_pool *`,
 * `void * *`); the declarations in structs.ts carry those names.
 */
import { ARCHES, type Arch } from "../arch.js";
import {
  type CType,
  type MemberLayout,
  type StructLayout,
  alignOf,
  arraySuffix,
  typeName,
} from "./ctype.js";

export interface PaholeOptions {
  /** Show each member's page-cache (or other view) name as a trailing comment. */
  readonly aliases?: boolean;
  /** Cache line size; pahole uses the host's L1 line, 64 on x86-64 and most arm64. */
  readonly cacheline?: number;
}

/** dwarves' conf_fprintf__defaults; tag__fprintf uses 21 for the name column of a top-level union. */
const TYPE_SPACING = 26;
const NAME_SPACING = 23;
const NAME_SPACING_UNION = 21;

const tabs = (n: number): string => "\t".repeat(n);
const u5 = (n: number): string => String(n).padStart(5);
const u2 = (n: number): string => String(n).padStart(2);
const plural = (n: number, word: string): string => `${n} ${word}${n !== 1 ? "s" : ""}`;

/** `%*s` with " ": at least the one space. */
const spaces = (width: number): string => " ".repeat(Math.max(1, width));

interface Ctx {
  readonly arch: Arch;
  readonly cacheline: number;
  readonly aliases: boolean;
  /** Name column width (conf->name_spacing), the same at every level. */
  readonly ns: number;
  /** The cache line the printer is in (dwarves' `*conf->cachelinep`, shared by every level). */
  cl: number;
  out: string;
}

function isRecord(t: CType): t is Extract<CType, { kind: "struct" | "union" }> {
  return t.kind === "struct" || t.kind === "union";
}

function isInline(t: CType): boolean {
  return isRecord(t) && t.name === "";
}

/** `__attribute__((__aligned__(N)))` on a member: its alignment was raised above its type's. */
function forcedAlign(ml: MemberLayout, arch: Arch): number {
  return ml.align !== alignOf(ml.type, arch) ? ml.align : 0;
}

/** Holes and tail padding of a struct-typed member, from its laid-out children. */
function innerHoles(ml: MemberLayout): { holes: number; sumHoles: number; padding: number } {
  let holes = 0;
  let sumHoles = 0;
  for (const c of ml.children) {
    if (c.holeBefore > 0) {
      holes++;
      sumHoles += c.holeBefore;
    }
  }
  const last = ml.children[ml.children.length - 1];
  const lastEnd = !last
    ? ml.offset
    : last.bitSize !== undefined
      ? Math.ceil((last.bitPos! + last.bitSize) / 8)
      : last.offset + last.size;
  const padding = last ? ml.size - (lastEnd - ml.offset) : 0;
  return { holes, sumHoles, padding };
}

/** class__fprintf_cacheline_boundary. */
function cachelineBoundary(ctx: Ctx, offset: number, indent: number): string {
  const line = Math.floor(offset / ctx.cacheline);
  if (line <= ctx.cl) return "";
  const pos = offset % ctx.cacheline;
  const bytes = offset - pos;
  ctx.cl = line;
  const text =
    pos === 0
      ? `/* --- cacheline ${line} boundary (${bytes} bytes) --- */\n`
      : `/* --- cacheline ${line} boundary (${bytes} bytes) was ${plural(pos, "byte")} ago --- */\n`;
  return text + tabs(indent);
}

/** `type name` padded as type__fprintf does, with the array suffix and function pointers. */
function declText(t: CType, name: string, ts: number, flexAsEmpty: boolean): string {
  const base = typeName(t);
  const suffix = flexAsEmpty ? arraySuffix(t) : arraySuffix(t).replace("[]", "[0]");
  // ptr("void (*)(args)") is a function pointer: pahole prints `ret (*name)(args)`.
  const fn = /^(.*) \(\*\)\((.*)\)(?: \*)?$/.exec(base);
  if (fn) return `${fn[1]!.padEnd(ts)} (*${name})(${fn[2]})${suffix}`;
  return `${base.padEnd(ts)} ${name}${suffix}`;
}

interface MemberPos {
  readonly unionMember: boolean;
  readonly first: boolean;
  readonly last: boolean;
}

/** class_member__fprintf: one member (inline records included), without the leading tabs or newline. */
function memberText(ctx: Ctx, ml: MemberLayout, pos: MemberPos, indent: number, ts: number): string {
  let text = cachelineBoundary(ctx, ml.offset, indent);
  const forced = forcedAlign(ml, ctx.arch);
  const attr = forced ? ` __attribute__((__aligned__(${forced})))` : "";
  let comment: string;
  if (isInline(ml.type)) {
    const body = inlineRecord(ctx, ml, indent, ts - 8);
    const named = ml.name ? ` ${ml.name}` : "";
    const slen = attr.length + (ml.name ? ml.name.length : -1);
    text += `${body}${named}${attr};`;
    comment = spaces(ts + ctx.ns - slen - 3);
  } else if (ml.bitSize !== undefined) {
    const line = `${declText(ml.type, ml.name, ts, false)}:${ml.bitSize}${attr};`;
    text += line;
    comment = spaces(ts + ctx.ns - line.length);
  } else {
    // A flexible array prints `[]` only as the last member of a struct with other members.
    const flex = pos.last && !pos.first && !pos.unionMember;
    const line = `${declText(ml.type, ml.name, ts, flex)}${attr};`;
    text += line;
    comment = spaces(ts + ctx.ns - line.length);
  }
  if (ml.bitSize !== undefined) {
    // dwarves: byte_offset of the storage unit, bitfield_offset within it, size_spacing 5 - 3.
    const unitBits = ml.size * 8;
    const unitOffset = Math.floor(ml.bitPos! / unitBits) * ml.size;
    text += `${comment}/* ${u5(unitOffset)}:${u2(ml.bitPos! - unitOffset * 8)} ${u2(ml.size)} */`;
  } else text += `${comment}/* ${u5(ml.offset)} ${u5(ml.size)} */`;
  if (ctx.aliases && ml.alias) text += ` /* ${ml.alias} */`;
  return text;
}

/** An anonymous union or struct printed inline: `union {` … `<tabs>}` (no trailing `;`). */
function inlineRecord(ctx: Ctx, ml: MemberLayout, indent: number, ts: number): string {
  const t = ml.type as Extract<CType, { kind: "struct" | "union" }>;
  if (t.kind === "union") return unionBody(ctx, ml.children, indent, ts);
  const saved = ctx.out;
  ctx.out = "";
  structBody(ctx, ml.children, indent + 1, ts, null);
  const body = ctx.out;
  ctx.out = saved;
  return `struct {\n${body}${tabs(indent)}}`;
}

/** union__fprintf. */
function unionBody(ctx: Ctx, members: readonly MemberLayout[], indent: number, ts: number): string {
  let s = "union {\n";
  const initial = ctx.cl;
  members.forEach((c, i) => {
    s += tabs(indent + 1);
    s += memberText(ctx, c, { unionMember: true, first: i === 0, last: i === members.length - 1 }, indent + 1, ts);
    s += "\n";
    ctx.cl = initial;
  });
  return s + `${tabs(indent)}}`;
}

interface Stats {
  readonly size: number;
  /** Tail padding in whole bytes (StructLayout.padding). */
  readonly padding: number;
  /** Unused bits of a trailing bitfield unit (dwarves' class->bit_padding). */
  readonly bitPadding: number;
}

/** The member loop of __class__fprintf, and its summary when `stats` is given. */
function structBody(ctx: Ctx, members: readonly MemberLayout[], indent: number, ts: number, stats: Stats | null): void {
  let newline = false;
  let sumBytes = 0;
  let sumBits = 0;
  let sumHoles = 0;
  let nrHoles = 0;
  let sumBitHoles = 0;
  let nrBitHoles = 0;
  let nrForced = 0;
  let nrForcedHoles = 0;
  let sumForcedHoles = 0;
  let typesWithHoles = 0;
  let typesTotalHoles = 0;
  let nrPaddings = 0;
  let sumPaddings = 0;
  const t = tabs(indent);
  members.forEach((ml, i) => {
    const holeAfter = members[i + 1]?.holeBefore ?? 0;
    const bitHoleAfter = members[i + 1]?.bitHoleBefore ?? 0;
    if (forcedAlign(ml, ctx.arch)) {
      nrForced++;
      if (ml.holeBefore > 0) {
        nrForcedHoles++;
        sumForcedHoles += ml.holeBefore;
      }
    }
    if (newline) {
      ctx.out += "\n";
      newline = false;
    }
    ctx.out += t;
    ctx.out += memberText(ctx, ml, { unionMember: false, first: i === 0, last: i === members.length - 1 }, indent, ts);
    if (ml.type.kind === "struct") {
      const inner = innerHoles(ml);
      if (inner.padding > 0 || inner.holes > 0) {
        if (!newline) ctx.out += "\n";
        newline = true;
        const parts: string[] = [];
        if (inner.padding > 0) {
          nrPaddings++;
          sumPaddings += inner.padding;
          parts.push(`${plural(inner.padding, "byte")} of padding`);
        }
        if (inner.holes > 0) {
          typesWithHoles++;
          typesTotalHoles += inner.holes;
          parts.push(plural(inner.holes, "hole"));
        }
        ctx.out += `\n${t}/* XXX last struct has ${parts.join(", ")} */`;
      }
    }
    if (bitHoleAfter > 0) {
      if (!newline) ctx.out += "\n";
      newline = true;
      ctx.out += `\n${t}/* XXX ${plural(bitHoleAfter, "bit")} hole, try to pack */`;
      sumBitHoles += bitHoleAfter;
      nrBitHoles++;
    }
    if (holeAfter > 0) {
      if (!newline) ctx.out += "\n";
      newline = true;
      ctx.out += `\n${t}/* XXX ${plural(holeAfter, "byte")} hole, try to pack */`;
      sumHoles += holeAfter;
      nrHoles++;
    }
    ctx.out += "\n";
    if (ml.bitSize !== undefined) sumBits += ml.bitSize;
    else sumBytes += ml.size;
  });
  if (!stats) return;
  const padding = stats.padding;
  ctx.out += `\n${t}/* size: ${stats.size}, cachelines: ${Math.ceil(stats.size / ctx.cacheline)}, members: ${members.length} */\n`;
  if (sumHoles > 0 || sumBitHoles > 0) {
    if (sumBytes > 0) {
      const holes = sumHoles > 0 ? `, holes: ${nrHoles}, sum holes: ${sumHoles}` : "";
      ctx.out += `${t}/* sum members: ${sumBytes}${holes} */\n`;
    }
    if (sumBits > 0) {
      const bitHoles =
        sumBitHoles > 0 ? `, bit holes: ${nrBitHoles}, sum bit holes: ${sumBitHoles} bits` : ` (${Math.floor(sumBits / 8)} bytes)`;
      ctx.out += `${t}/* sum bitfield members: ${sumBits} bits${bitHoles} */\n`;
    }
  }
  if (padding > 0) ctx.out += `${t}/* padding: ${padding} */\n`;
  if (stats.bitPadding > 0) ctx.out += `${t}/* bit_padding: ${stats.bitPadding} bits */\n`;
  if (typesWithHoles > 0) ctx.out += `${t}/* member types with holes: ${typesWithHoles}, total: ${typesTotalHoles} */\n`;
  if (nrPaddings > 0) ctx.out += `${t}/* paddings: ${nrPaddings}, sum paddings: ${sumPaddings} */\n`;
  if (nrForced > 0) {
    const holes = nrForcedHoles > 0 ? `, forced holes: ${nrForcedHoles}, sum forced holes: ${sumForcedHoles}` : "";
    ctx.out += `${t}/* forced alignments: ${nrForced}${holes} */\n`;
  }
  const lastLine = stats.size % ctx.cacheline;
  if (lastLine !== 0) ctx.out += `${t}/* last cacheline: ${lastLine} bytes */\n`;
}

/** The struct (or union) as `pahole -C NAME` prints it, ending with `};` and a newline. */
export function pahole(layout: StructLayout, opts: PaholeOptions = {}): string {
  const arch = ARCHES[layout.arch];
  const ctx: Ctx = {
    arch,
    cacheline: opts.cacheline ?? 64,
    aliases: opts.aliases ?? false,
    ns: layout.kind === "union" ? NAME_SPACING_UNION : NAME_SPACING,
    cl: 0,
    out: "",
  };
  if (layout.kind === "union") {
    // union__fprintf prints no summary.
    return `${unionBody(ctx, layout.members, 0, TYPE_SPACING).replace(/^union \{/, `union ${layout.name} {`)};\n`;
  }
  ctx.out = `struct ${layout.name} {\n`;
  structBody(ctx, layout.members, 1, TYPE_SPACING, { size: layout.size, padding: layout.padding, bitPadding: layout.bitPadding });
  const forced = layout.members.some((ml) => forcedAlign(ml, arch) > 0);
  ctx.out += forced ? `} __attribute__((__aligned__(${layout.align})));\n` : "};\n";
  return ctx.out;
}
