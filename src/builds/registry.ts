/**
 * The build registry: every kernel build the emulator knows, in the order they are listed (layout
 * families in registration order, builds oldest first within a family). The family files register
 * their builds when src/builds/index.ts imports them; a test (or a script) may register another.
 *
 * The machine header keeps a build as its id plus a config word (`buildConfigWord`): the switches
 * packed into bits, so `attachPpSystem` can refuse an image whose build this registry describes
 * differently (an image from another ppemu version, or a test build that is not registered here).
 */
import { BLOCK_VARIANTS, type BlockVariant } from "../mem/structs.js";
import type { BuildSwitches, KernelBuild, TrackingLayout } from "./types.js";
import { PpemuError } from "../errors.js";
import { type RecordType, layoutOf, typeName } from "../mem/ctype.js";
import { LP64 } from "../arch.js";

const builds: KernelBuild[] = [];
const layouts: TrackingLayout[] = [];

/** A user input error about builds or layouts: one line naming the valid values (code "UNKNOWN_BUILD"). */
export class BuildError extends PpemuError {
  constructor(message: string) {
    super("UNKNOWN_BUILD", message);
    this.name = "BuildError";
  }
}

/** Register a build (and its layout, the first time one of its builds is registered). */
export function registerBuild(b: KernelBuild): KernelBuild {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(b.name)) throw new Error(`build name '${b.name}' is not a plain word`);
  if (!Number.isInteger(b.id) || b.id <= 0 || b.id > 0xffff) throw new Error(`build ${b.name}: id ${b.id} is not 1..65535`);
  const clash = builds.find((x) => x.name === b.name || x.id === b.id);
  if (clash) throw new Error(`build ${b.name} (id ${b.id}) clashes with ${clash.name} (id ${clash.id})`);
  if (layouts.some((l) => l.name === b.name) || builds.some((x) => x.layout.name === b.name)) {
    throw new Error(`build name '${b.name}' is also a layout name`);
  }
  // listBefore: checked before anything is registered, so a refused build leaves no trace.
  const at = b.listBefore === undefined ? -1 : builds.findIndex((x) => x.name === b.listBefore);
  if (b.listBefore !== undefined && (at < 0 || builds[at]!.layout !== b.layout)) {
    throw new Error(`build ${b.name}: listBefore '${b.listBefore}' is not a registered build of layout ${b.layout.name}`);
  }
  if (!layouts.includes(b.layout)) {
    if (layouts.some((l) => l.name === b.layout.name)) throw new Error(`two layouts are named '${b.layout.name}'`);
    if (builds.some((x) => x.name === b.layout.name)) throw new Error(`layout name '${b.layout.name}' is also a build name`);
    layouts.push(b.layout);
  }
  if (b.isLayoutDefault && builds.some((x) => x.layout === b.layout && x.isLayoutDefault)) {
    throw new Error(`layout ${b.layout.name} already has a default build`);
  }
  if (at >= 0) builds.splice(at, 0, b);
  else builds.push(b);
  return b;
}

/** Remove a build registered by a test (and its layout when no other build uses it). */
export function unregisterBuild(b: KernelBuild): void {
  const i = builds.indexOf(b);
  if (i < 0) return;
  builds.splice(i, 1);
  if (!builds.some((x) => x.layout === b.layout)) layouts.splice(layouts.indexOf(b.layout), 1);
}

/** Every build, grouped by layout (layouts in registration order), oldest first within a layout. */
export function allBuilds(): readonly KernelBuild[] {
  return layouts.flatMap((l) => builds.filter((b) => b.layout === l));
}

export function allLayouts(): readonly TrackingLayout[] {
  return [...layouts];
}

export function buildNames(): string[] {
  return allBuilds().map((b) => b.name);
}

export function layoutNames(): string[] {
  return layouts.map((l) => l.name);
}

export function findBuild(name: string): KernelBuild | undefined {
  return builds.find((b) => b.name === name);
}

export function buildById(id: number): KernelBuild | undefined {
  return builds.find((b) => b.id === id);
}

export function findLayout(name: string): TrackingLayout | undefined {
  return layouts.find((l) => l.name === name);
}

/** The build `--layout L` stands for. */
export function defaultBuildOf(layout: TrackingLayout): KernelBuild {
  const b = builds.find((x) => x.layout === layout && x.isLayoutDefault) ?? builds.find((x) => x.layout === layout);
  if (!b) throw new Error(`layout ${layout.name} has no build`);
  return b;
}

/** The tool's default build: the first registered layout's default (the reference column everywhere). */
export function referenceBuild(): KernelBuild {
  const l = layouts[0];
  if (!l) throw new Error("no kernel build is registered");
  return defaultBuildOf(l);
}

/** The builds of one layout, oldest first. */
export function buildsOf(layout: TrackingLayout): KernelBuild[] {
  return builds.filter((b) => b.layout === layout);
}

/** A build by name, or a layout name for its default build; a BuildError naming the valid ones. */
export function resolveBuild(name: string): KernelBuild {
  const b = findBuild(name);
  if (b) return b;
  const l = findLayout(name);
  if (l) return defaultBuildOf(l);
  throw new BuildError(`unknown kernel build '${name}' (valid: ${buildNames().join(", ")}; or a layout: ${layoutNames().join(", ")})`);
}

/**
 * `--kernel` / `--layout` as the CLI takes them: `all`, one name, or a comma list. `--layout all`
 * means each layout's default build; `--kernel all` every build. Duplicates are dropped.
 */
export function resolveBuilds(spec: string, what: "kernel" | "layout" = "kernel", allowAll = true): KernelBuild[] {
  const s = spec.trim();
  if (s === "all" && allowAll) return what === "kernel" ? [...allBuilds()] : layouts.map(defaultBuildOf);
  const out: KernelBuild[] = [];
  for (const part of s.split(",")) {
    const name = part.trim();
    if (name === "") throw new BuildError(`empty name in --${what} '${spec}'`);
    let b: KernelBuild | undefined;
    if (what === "layout") {
      const l = findLayout(name);
      if (!l) throw new BuildError(`unknown layout '${name}' (valid: ${layoutNames().join(", ")}${allowAll ? ", all" : ""})`);
      b = defaultBuildOf(l);
    } else b = resolveBuild(name);
    if (!out.includes(b)) out.push(b);
  }
  return out;
}

/** Ids of the item-block variants in the header (0: none). */
export function variantId(v: BlockVariant | undefined): number {
  return v === undefined ? 0 : BLOCK_VARIANTS.indexOf(v) + 1;
}

export function variantOfId(id: number): BlockVariant | undefined {
  return id === 0 ? undefined : BLOCK_VARIANTS[id - 1];
}

/** The switches as one u32 (bit per boolean, small fields for the enums), for the header. */
export function buildConfigWord(s: BuildSwitches): number {
  const ix = <T>(v: T, all: readonly T[]) => {
    const i = all.indexOf(v);
    if (i < 0) throw new Error(`unknown switch value ${String(v)}`);
    return i;
  };
  let w = 0;
  w |= ix(s.poolSizeRule, ["e2big", "clamp"] as const) << 0;
  w |= (s.orderCheck ? 1 : 0) << 1;
  w |= (s.ppRefCountInit ? 1 : 0) << 2;
  w |= ix(s.releaseOrder, ["clear-then-count", "count-then-clear"] as const) << 3;
  w |= ix(s.napiLocality, ["softirq", "napi_pp_put_page", "cpuid", "napi_local", "napi_local_rt"] as const) << 4; // 3 bits
  w |= ix(s.destroyNapi, ["none", "unlink", "disable"] as const) << 7; // 2 bits
  w |= ix(s.stallWarning, ["every-pool", "netdev-less"] as const) << 9;
  w |= (s.negativeRetryStops ? 1 : 0) << 10;
  w |= (s.syncNeedsDevice ? 1 : 0) << 11;
  w |= (s.releaseProducerBarrier ? 1 : 0) << 12;
  w |= (s.userId ? 1 : 0) << 13;
  w |= (s.destroyResetsCpuid ? 1 : 0) << 14;
  if (s.ppFlagAll >>> 4 !== 0) throw new Error(`ppFlagAll 0x${s.ppFlagAll.toString(16)} does not fit the config word`);
  w |= s.ppFlagAll << 15; // 4 bits
  w |= (s.syncUnderRcu ? 1 : 0) << 19;
  return w >>> 0;
}

/**
 * Everything else that defines a build beyond its switches, as one u32 for the header: the layout's
 * own switches and the `page_pool_page_is_pp()` mask (FNV-1a over their text), so an image of a build
 * another ppemu described differently is refused, not half-believed.
 */
export function buildExtraWord(b: KernelBuild): number {
  const parts: unknown[] = [b.layout.name, b.layoutSwitches ?? {}, b.ppMagicMask.hi, b.ppMagicMask.lo];
  // The build's net_iov / netmem_desc shape (v6.12+): builds that differ only there (v6.16/v6.17,
  // v6.18/v6.19) are told apart, and an image from a ppemu that declared them otherwise is refused.
  for (const t of [b.structs.netIov, b.structs.netmemDesc]) if (t !== undefined) parts.push(structShape(t));
  const text = JSON.stringify(parts);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

/** A struct's members as `name@offset:size` on lp64, top level (anonymous members by type). */
function structShape(t: RecordType): string {
  return layoutOf(t, LP64)
    .members.map((x) => `${x.name || typeName(x.type)}@${x.offset}:${x.size}`)
    .join(",");
}
