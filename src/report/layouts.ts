/**
 * The layout half of the report: which structs `ppemu layout` knows, their JSON form, the item-block
 * geometry, and the three report sections that put the classic, item-block (v11) and xarray (v6.16)
 * layouts side by side. Every figure is computed from the struct declarations (src/mem/structs.ts)
 * and the arch formulas (src/arch.ts); nothing here is a typed-in number except the PAGE_OFFSET
 * examples the v6.18 rule is evaluated for.
 *
 * A report is a list of `ReportSection`s (text + JSON); `ppemu report` renders whatever list it is
 * given, so later sections (unbind scenario, verification, benchmark) are appended, not merged.
 */
import { STRUCT_KMEM_CACHE, STRUCT_PPEMU_SLAB_ROOT } from "../mem/slab.js";
import { DMA_STRUCTS } from "../dma/index.js";
import { STRUCT_PPEMU_STACK } from "../pool/stack.js";
import {
  type Arch,
  type ArchConsts,
  type ArchName,
  type DmaIndexGeometry,
  type PageSizeName,
  ARCHES,
  ARCH_NAMES,
  LP64,
  ILP32,
  PAGE_SIZE_NAMES,
  archConsts,
  dmaIndexGeometry,
  encodePpMagic,
  hexLong,
  PP_DMA_INDEX_SHIFT,
} from "../arch.js";
import { type U64, u64, u64And, u64Eq, u64Ffs } from "../u64.js";
import {
  type MemberLayout,
  type RecordType,
  type StructLayout,
  arraySuffix,
  layoutOf,
  offsetOf,
  typeName,
} from "../mem/ctype.js";
import {
  type BlockVariant,
  BLOCK_VARIANTS,
  ITEM_BLOCK_OF,
  KERNEL_STRUCTS,
  PP_ALLOC_CACHE_SIZE,
  STRUCT_PAGE,
  STRUCT_PAGE_POOL_ITEM,
  STRUCT_XA_NODE,
  XA_CHUNK_SIZE,
} from "../mem/structs.js";
import { STRUCT_FREE_AREA, STRUCT_PPEMU_DIAG, STRUCT_PPEMU_FAIL, STRUCT_PPEMU_MACHINE } from "../mem/physmem.js";
import {
  type ItemGeometry,
  PAGE_POOL_MIN_INFLIGHT_ITEMS,
  initialBlocks,
  itemGeometry,
  itemTarget,
} from "../mem/item_geometry.js";
import { pahole } from "../mem/pahole.js";
import { renderTable, wrapByGroup } from "./table.js";
import { allBuilds, allLayouts, buildsOf, referenceBuild } from "../builds/index.js";
import type { KernelBuild, TrackingLayout } from "../builds/types.js";
import { userParamsOf } from "../builds/structs_common.js";
import { netmemStructSource } from "../builds/netmem_desc_structs.js";
import { STRUCT_PPEMU_POOL, STRUCT_PPEMU_NAPI } from "../pool/pool_list.js";
import { STRUCT_PPEMU_NETDEV } from "../pool/netdev.js";
import type { ReportSection } from "./section.js";
export type { ReportSection } from "./section.js";

// ─── the structs `ppemu layout` knows ───────────────────────────────────────────────────────────

/** The machine's own structs, shown after the kernel's. */
export const MACHINE_STRUCTS: readonly RecordType[] = [
  STRUCT_PPEMU_MACHINE,
  STRUCT_FREE_AREA,
  STRUCT_PPEMU_FAIL,
  STRUCT_PPEMU_DIAG,
  STRUCT_KMEM_CACHE,
  STRUCT_PPEMU_SLAB_ROOT,
  ...DMA_STRUCTS,
  STRUCT_PPEMU_STACK,
  STRUCT_PPEMU_POOL,
  STRUCT_PPEMU_NAPI,
  STRUCT_PPEMU_NETDEV,
];

/**
 * Kernel structs that exist only from some version on and are declared per build when the build has
 * them (`PoolStructs.netmemDesc`, `netIov`, `netIovArea`): a build without one has no such struct.
 */
const PER_BUILD_ONLY = new Set(["netmem_desc", "net_iov", "net_iov_area"]);

/** The netmem structs the build declares (netmem_desc, net_iov, net_iov_area), in that order. */
function netmemStructs(b: KernelBuild): RecordType[] {
  const s = b.structs;
  return [s.netmemDesc, s.netIov, s.netIovArea].filter((t): t is RecordType => t !== undefined);
}

/** The build's own structs: `struct page_pool`, its params and its stats, its net_iov & co., as that kernel declares them. */
export function buildStructs(b: KernelBuild): RecordType[] {
  const s = b.structs;
  const user = userParamsOf(s);
  return [s.pagePool, ...(s.params.includes(user) ? [] : [user]), ...s.params, s.allocStats, s.recycleStats, ...netmemStructs(b), ...(s.layoutOwn ?? [])];
}

/**
 * Every struct `ppemu layout` prints for a build, in order: the shared kernel structs (the build's
 * own netmem_desc / net_iov / net_iov_area in their place, left out when the kernel has none), the
 * build's `struct page_pool` and friends, then the machine's; the item block is the variant's.
 */
export function layoutStructs(variant: BlockVariant = "v11", build: KernelBuild = defaultBuild()): RecordType[] {
  const shared = KERNEL_STRUCTS.map((t) => (t.name === "page_pool_item_block" ? ITEM_BLOCK_OF[variant] : t));
  const own = buildStructs(build);
  const ownNames = new Set(own.map((t) => t.name));
  const netmem = netmemStructs(build);
  const out: RecordType[] = [];
  for (const t of shared) {
    if (PER_BUILD_ONLY.has(t.name)) {
      // At the first netmem struct of the shared list, the build's own (all of them, in order).
      if (!out.some((x) => PER_BUILD_ONLY.has(x.name))) out.push(...netmem);
    } else if (!ownNames.has(t.name)) out.push(t);
  }
  return [...out, ...own.filter((t) => !netmem.includes(t)), ...MACHINE_STRUCTS];
}

function defaultBuild(): KernelBuild {
  return referenceBuild();
}

/** Names a user may type (`page`, `page_pool_item_block`, …): every build's structs included. */
export function layoutStructNames(): string[] {
  const names = new Set([...KERNEL_STRUCTS.map((t) => t.name), ...layoutStructs().map((t) => t.name)]);
  for (const b of allBuilds()) for (const t of buildStructs(b)) names.add(t.name);
  return [...names];
}

/** A struct by name; `struct page` and `page` both work. */
export function findLayoutStruct(name: string, variant: BlockVariant = "v11", build: KernelBuild = defaultBuild()): RecordType | null {
  const bare = name.trim().replace(/^struct\s+/, "");
  return layoutStructs(variant, build).find((t) => t.name === bare) ?? null;
}

/** Does this build declare the struct itself (a per-build `struct page_pool`, its params, its stats)? */
export function isBuildStruct(t: RecordType, b: KernelBuild): boolean {
  return buildStructs(b).includes(t);
}

// ─── JSON form of a layout ─────────────────────────────────────────────────────────────────────

export interface MemberJson {
  /** Dotted path, anonymous levels skipped (`list.next`, `pp_item`). */
  readonly path: string;
  readonly offset: number;
  readonly size: number;
  /** The C type as pahole names it, with array dimensions (`void *[64]`, `union`). */
  readonly type: string;
  readonly alias?: string;
}

export interface StructJson {
  readonly name: string;
  readonly arch: ArchName;
  readonly size: number;
  readonly align: number;
  readonly members: readonly MemberJson[];
  readonly holes: readonly { readonly before: string; readonly offset: number; readonly size: number }[];
  readonly padding: number;
  readonly geometry?: ItemGeometryJson;
}

function flatten(members: readonly MemberLayout[], out: MemberJson[]): void {
  for (const ml of members) {
    if (ml.name) {
      const t = ml.type.kind === "struct" || ml.type.kind === "union" ? typeName(ml.type) : typeName(ml.type) + arraySuffix(ml.type);
      out.push({ path: ml.path, offset: ml.offset, size: ml.size, type: t, ...(ml.alias ? { alias: ml.alias } : {}) });
    }
    flatten(ml.children, out);
  }
}

export function structJson(l: StructLayout, geometry?: ItemGeometryJson): StructJson {
  const members: MemberJson[] = [];
  flatten(l.members, members);
  return {
    name: l.name,
    arch: l.arch,
    size: l.size,
    align: l.align,
    members,
    holes: l.holes,
    padding: l.padding,
    ...(geometry ? { geometry } : {}),
  };
}

// ─── item-block geometry ───────────────────────────────────────────────────────────────────────

/** Pool sizes the pool-init table is printed for. */
export const POOL_SIZES: readonly number[] = [256, 1024, 4096];

export interface PoolSizing {
  readonly pool_size: number;
  readonly items_target: number;
  readonly blocks: number;
  readonly items: number;
  readonly bytes: number;
}

export interface ItemGeometryJson {
  readonly variant: BlockVariant;
  readonly arch: ArchName;
  readonly page_size: number;
  readonly ITEMS_PER_PAGE: number;
  readonly items_offset: number;
  readonly item_size: number;
  readonly item_align: number;
  /** Alignment every item address has: the lowest set bit of (items offset | item size). */
  readonly item_addr_align: number;
  readonly free_low_bits: number;
  readonly tail_bytes: number;
  readonly pool_init: readonly PoolSizing[];
}

/** v11 `page_pool_item_init()`: blocks (one page each) until `itemTarget(pool_size)` items are covered. */
export function poolSizing(g: ItemGeometry, poolSize: number): PoolSizing {
  const blocks = initialBlocks(poolSize, g);
  return {
    pool_size: poolSize,
    items_target: itemTarget(poolSize),
    blocks,
    items: blocks * g.ITEMS_PER_PAGE,
    bytes: blocks * g.pageSize,
  };
}

export function itemGeometryJson(variant: BlockVariant, arch: Arch, pageSize: PageSizeName): ItemGeometryJson {
  const g = itemGeometry(variant, arch, pageSize);
  const addrAlign = 1 << u64Ffs(u64(0, g.itemsOffset | g.itemSize));
  return {
    variant,
    arch: arch.name,
    page_size: g.pageSize,
    ITEMS_PER_PAGE: g.ITEMS_PER_PAGE,
    items_offset: g.itemsOffset,
    item_size: g.itemSize,
    item_align: g.itemAlign,
    item_addr_align: addrAlign,
    free_low_bits: u64Ffs(u64(0, addrAlign)),
    tail_bytes: g.tailBytes,
    pool_init: POOL_SIZES.map((n) => poolSizing(g, n)),
  };
}

/** The geometry block `ppemu layout page_pool_item_block` prints after the struct. */
export function itemGeometryText(j: ItemGeometryJson): string {
  const arch = ARCHES[j.arch];
  const pageMask = archConsts(arch, pageSizeName(j.page_size)).PAGE_MASK;
  const head = `item-block geometry (${j.variant}, ${j.arch}, PAGE_SIZE ${j.page_size}):`;
  const pairs = renderTable(
    ["", { header: "", align: "right" }, ""],
    [
      ["ITEMS_PER_PAGE", j.ITEMS_PER_PAGE, `= (${j.page_size} - ${j.items_offset}) / ${j.item_size}`],
      ["items offset", j.items_offset, "= offsetof(struct page_pool_item_block, items)"],
      ["item size", j.item_size, `= sizeof(struct page_pool_item); alignof ${j.item_align}`],
      [
        "item alignment",
        j.item_addr_align,
        `items at ${j.items_offset} + ${j.item_size} * i in a page-aligned block: ${j.free_low_bits} free low bits`,
      ],
      ["tail bytes", j.tail_bytes, `= ${j.page_size} - ${j.items_offset} - ${j.ITEMS_PER_PAGE} * ${j.item_size}`],
      ["block of an item", "", `item & PAGE_MASK (${hexLong(arch, pageMask)})`],
    ],
    { indent: 2, noHeader: true },
  );
  const sizing = renderTable(
    ["pool_size", "items target", "blocks", "items", "bytes"],
    j.pool_init.map((p) => [p.pool_size, p.items_target, p.blocks, p.items, p.bytes]),
    {
      indent: 2,
      title: `pool init (v11 rule): items target = 2 * pool_size + ${PP_ALLOC_CACHE_SIZE} + ${PAGE_POOL_MIN_INFLIGHT_ITEMS}, one page per block`,
    },
  );
  return `${head}\n${pairs}\n\n${sizing}\n`;
}

function pageSizeName(bytes: number): PageSizeName {
  return PAGE_SIZE_NAMES.find((n) => archConsts(LP64, n).PAGE_SIZE === bytes) ?? "4k";
}

/** The configuration line printed above a build's own struct. */
export function buildStructNote(b: KernelBuild): string {
  return `/* kernel ${b.name} (${b.layout.name}): ${b.structs.source}; x86-64, CONFIG_PAGE_POOL_STATS=y, CONFIG_SMP=y (64-byte cache lines), no lock debugging or lockdep */`;
}

/** pahole text (plus the geometry after the item block) for one struct. */
export function layoutText(t: RecordType, arch: Arch, variant: BlockVariant, pageSize: PageSizeName, aliases = false, build?: KernelBuild): string {
  const body = pahole(layoutOf(t, arch), { aliases });
  const netmemSrc = build && isBuildStruct(t, build) ? netmemStructSource(t) : null;
  const note = netmemSrc !== null ? `/* kernel ${build!.name}: ${netmemSrc} */` : build && isBuildStruct(t, build) ? buildStructNote(build) : null;
  const text = note !== null ? `${note}\n${body}` : body;
  // The v11 geometry belongs to the shared item block; a build's own block (layoutOwn) is not v11's.
  if (t.name !== "page_pool_item_block" || (build?.structs.layoutOwn ?? []).includes(t)) return text;
  return `${text}\n${itemGeometryText(itemGeometryJson(variant, arch, pageSize))}`;
}

export function layoutJson(t: RecordType, arch: Arch, variant: BlockVariant, pageSize: PageSizeName): StructJson {
  const geometry = t.name === "page_pool_item_block" ? itemGeometryJson(variant, arch, pageSize) : undefined;
  return structJson(layoutOf(t, arch), geometry);
}

// ─── report sections ───────────────────────────────────────────────────────────────────────────

/** A layout's column header: its name and the builds that have it. */
function layoutHeader(l: TrackingLayout): string {
  return `${l.name}\n(${buildsOf(l).map((b) => b.name).join(", ")})`;
}

const PAGE_WORDS: readonly { field: keyof TrackingLayout["pageWords"]; alias: string }[] = [
  { field: "pp_magic", alias: "lru.next" },
  { field: "pp", alias: "lru.prev" },
  { field: "_pp_mapping_pad", alias: "mapping" },
  { field: "dma_addr", alias: "index" },
  { field: "pp_ref_count", alias: "private" },
  { field: "_refcount", alias: "" },
];

/** Section 1: the words of struct page that page_pool uses, per layout. */
export function pageWordsSection(): ReportSection {
  const lp = layoutOf(STRUCT_PAGE, LP64);
  const il = layoutOf(STRUCT_PAGE, ILP32);
  const c = archConsts(LP64);
  const layouts = allLayouts();
  // One column per layout, wrapped into tables of TABLE_WIDTH, the offsets repeated in each.
  const table = wrapByGroup(layouts, (l) => l, (chunk) =>
    renderTable(
      [{ header: "lp64", align: "right" }, { header: "ilp32", align: "right" }, "field", "page-cache name", ...chunk.map(layoutHeader)],
      PAGE_WORDS.map((r) => [
        offsetOf(lp, r.field),
        offsetOf(il, r.field),
        r.field === "pp" ? "pp / pp_item" : r.field,
        r.alias,
        ...chunk.map((l) => l.pageWords[r.field]),
      ]),
      { indent: 2 },
    ),
  );
  const id1 = hexLong(LP64, encodePpMagic(c, 1));
  const text = [
    `  struct page is ${lp.size} bytes on lp64 and ${il.size} on ilp32 (emulator: no memcg_data); offsets below are bytes.`,
    "",
    table,
    "",
    `  The word at ${offsetOf(lp, "pp")} (${offsetOf(il, "pp")} on ilp32) is the page's only link to its pool. A layout that keeps`,
    "  only a pointer to the pool there cannot find its in-flight pages at destroy; the fixes either point",
    "  into memory the pool owns (item blocks) or keep a list of mapped pages on the pool side (an xarray,",
    `  whose id lives in pp_magic: lp64 id 1 → pp_magic ${id1}).`,
  ].join("\n");
  return {
    id: "page_words",
    title: "struct page: the words page_pool uses",
    text,
    json: {
      struct_page_size: { lp64: lp.size, ilp32: il.size },
      words: PAGE_WORDS.map((r) => ({
        field: r.field,
        offset: { lp64: offsetOf(lp, r.field), ilp32: offsetOf(il, r.field) },
        alias: r.alias,
        ...Object.fromEntries(layouts.map((l) => [l.name, l.pageWords[r.field]])),
      })),
    },
  };
}

/** Bytes of tracking state per tracked page, on paper (full blocks, full xa_nodes). */
export interface PaperCost {
  readonly arch: ArchName;
  readonly item_bytes: number;
  /** PAGE_SIZE / ITEMS_PER_PAGE: the item plus its share of the block header and tail. */
  readonly item_block_bytes_per_page: number;
  readonly xa_node_bytes: number;
  readonly xa_slots: number;
  readonly xa_bytes_per_page: number;
}

export function paperCost(arch: Arch): PaperCost {
  const item = layoutOf(STRUCT_PAGE_POOL_ITEM, arch).size;
  const node = layoutOf(STRUCT_XA_NODE, arch).size;
  const g = itemGeometry("v11", arch, "4k");
  return {
    arch: arch.name,
    item_bytes: item,
    item_block_bytes_per_page: round2(g.pageSize / g.ITEMS_PER_PAGE),
    xa_node_bytes: node,
    xa_slots: XA_CHUNK_SIZE,
    xa_bytes_per_page: round2(node / XA_CHUNK_SIZE),
  };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** The layouts side by side (one column per registered layout), and items per block per page size and variant. */
export function layoutsCompareSection(): ReportSection {
  const c = archConsts(LP64);
  const cost = ARCH_NAMES.map((a) => paperCost(ARCHES[a]));
  const word16 = offsetOf(layoutOf(STRUCT_PAGE, LP64), "pp");
  const id1 = hexLong(LP64, encodePpMagic(c, 1));
  const g11 = itemGeometry("v11", LP64, "4k");
  const layouts = allLayouts();
  const compare = wrapByGroup(layouts, (l) => l, (chunk) => renderTable(
    ["", ...chunk.map(layoutHeader)],
    [
      [`struct page word ${word16}`, ...chunk.map((l) => l.pageWords.pp.split(":")[0]!)],
      ["pp_magic holds", ...chunk.map((l) => `${l.pageWords.pp_magic}\n${l.ppMagicExample?.(c) ?? (l.pageWords.pp_magic.includes("id") ? `id 1: ${id1}` : hexLong(LP64, c.PP_SIGNATURE))}`)],
      ["page → pool", ...chunk.map((l) => l.poolOfText)],
      ["in-flight tracking", ...chunk.map((l) => l.inflightTracking)],
      ["bytes per tracked page\n(on paper, lp64)", ...chunk.map((l) => l.paperBytesPerPage(LP64))],
      ["bytes per tracked page\n(on paper, ilp32)", ...chunk.map((l) => l.paperBytesPerPage(ILP32))],
      ["DMA mappings at destroy", ...chunk.map((l) => l.atDestroy)],
      ["status", ...chunk.map((l) => l.status)],
    ],
    { indent: 2 },
  ));
  const perBlock: (string | number)[][] = [];
  const perBlockJson: unknown[] = [];
  for (const a of ARCH_NAMES) {
    for (const v of BLOCK_VARIANTS) {
      const gs = PAGE_SIZE_NAMES.map((p) => itemGeometry(v, ARCHES[a], p));
      const g0 = gs[0]!;
      perBlock.push([a, v, g0.itemsOffset, g0.itemSize, ...gs.map((g) => g.ITEMS_PER_PAGE)]);
      perBlockJson.push({
        arch: a,
        variant: v,
        header: g0.itemsOffset,
        item: g0.itemSize,
        ITEMS_PER_PAGE: Object.fromEntries(PAGE_SIZE_NAMES.map((p, i) => [p, gs[i]!.ITEMS_PER_PAGE])),
      });
    }
  }
  const blocks = renderTable(
    [
      "arch",
      "variant",
      { header: "header B", align: "right" },
      { header: "item B", align: "right" },
      ...PAGE_SIZE_NAMES.map((p) => ({ header: `${p} page`, align: "right" as const })),
    ],
    perBlock,
    { indent: 2, title: "ITEMS_PER_PAGE = (PAGE_SIZE - offsetof(block, items)) / sizeof(item)" },
  );
  const sizing = POOL_SIZES.map((n) => poolSizing(g11, n));
  const init = renderTable(
    ["pool_size", "items target", "blocks", "items", "bytes"],
    sizing.map((p) => [p.pool_size, p.items_target, p.blocks, p.items, p.bytes]),
    {
      indent: 2,
      title: `v11 pool init, lp64 4k: items target = 2 * pool_size + ${PP_ALLOC_CACHE_SIZE} + ${PAGE_POOL_MIN_INFLIGHT_ITEMS}`,
    },
  );
  return {
    id: "layouts",
    title: "The tracking layouts side by side",
    text: `${compare}\n\n${blocks}\n\n${init}`,
    json: { paper_cost: cost, items_per_block: perBlockJson, pool_init_v11_lp64_4k: sizing },
  };
}

/** PAGE_OFFSET values the v6.18 rule is shown for (VMSPLIT_3G/2G/1G, a 256 MiB split, a too-small one). */
export const V618_PAGE_OFFSETS: readonly number[] = [0xc0000000, 0x80000000, 0x40000000, 0x10000000, 0x4000];

/** The address the 32-bit regression report gave as a false positive. */
export const ILP32_FALSE_POSITIVE = 0x01111040;

export interface V618Row {
  readonly page_offset: string;
  readonly ffs: number | null;
  readonly PP_DMA_INDEX_BITS: number;
  readonly PP_DMA_INDEX_MASK: string;
  readonly PP_MAGIC_MASK: string;
}

export function v618Rows(): V618Row[] {
  const rows: V618Row[] = V618_PAGE_OFFSETS.map((po) => {
    const g = dmaIndexGeometry(ILP32, "v6.18", u64(0, po));
    return {
      page_offset: hexLong(ILP32, u64(0, po)),
      ffs: u64Ffs(u64(0, po)),
      PP_DMA_INDEX_BITS: g.PP_DMA_INDEX_BITS,
      PP_DMA_INDEX_MASK: hexLong(ILP32, g.PP_DMA_INDEX_MASK),
      PP_MAGIC_MASK: hexLong(ILP32, g.PP_MAGIC_MASK),
    };
  });
  const rt = dmaIndexGeometry(ILP32, "v6.18", ILP32.PAGE_OFFSET, false);
  rows.push({
    page_offset: "runtime",
    ffs: null,
    PP_DMA_INDEX_BITS: rt.PP_DMA_INDEX_BITS,
    PP_DMA_INDEX_MASK: hexLong(ILP32, rt.PP_DMA_INDEX_MASK),
    PP_MAGIC_MASK: hexLong(ILP32, rt.PP_MAGIC_MASK),
  });
  return rows;
}

/** Section 3: PP_SIGNATURE and the pp_magic id geometry per arch and rule. */
export function constantsSection(): ReportSection {
  const lpC = archConsts(LP64);
  const ilC = archConsts(ILP32);
  const il618 = dmaIndexGeometry(ILP32, "v6.18");
  const cols: { name: string; arch: Arch; c: ArchConsts; sig: U64; g: DmaIndexGeometry }[] = [
    { name: "lp64 (x86-64)", arch: LP64, c: lpC, sig: lpC.PP_SIGNATURE, g: lpC.dmaIndex },
    { name: "ilp32 v6.16 (as merged)", arch: ILP32, c: ilC, sig: ilC.PP_SIGNATURE, g: ilC.dmaIndex },
    {
      name: `ilp32 v6.18, PAGE_OFFSET ${hexLong(ILP32, ILP32.PAGE_OFFSET)}`,
      arch: ILP32,
      c: { ...ilC, dmaIndex: il618 },
      sig: ilC.PP_SIGNATURE,
      g: il618,
    },
  ];
  const h = (a: Arch, v: U64) => hexLong(a, v);
  const magic1 = (col: (typeof cols)[number]) =>
    col.g.PP_DMA_INDEX_BITS === 0 ? "—" : h(col.arch, encodePpMagic(col.c, 1));
  const rowDefs: [string, (col: (typeof cols)[number]) => string | number][] = [
    ["POISON_POINTER_DELTA", (col) => h(col.arch, col.arch.POISON_POINTER_DELTA)],
    ["PP_SIGNATURE", (col) => h(col.arch, col.sig)],
    ["PP_DMA_INDEX_SHIFT", (col) => col.g.PP_DMA_INDEX_SHIFT],
    ["PP_DMA_INDEX_BITS", (col) => col.g.PP_DMA_INDEX_BITS],
    ["PP_DMA_INDEX_MASK", (col) => h(col.arch, col.g.PP_DMA_INDEX_MASK)],
    ["PP_MAGIC_MASK", (col) => h(col.arch, col.g.PP_MAGIC_MASK)],
    ["largest id", (col) => col.g.PP_DMA_INDEX_LIMIT],
    ["pp_magic of id 1", magic1],
  ];
  const table = renderTable(
    ["", ...cols.map((c) => c.name)],
    rowDefs.map(([k, f]) => [k, ...cols.map((c) => String(f(c)))]),
    { indent: 2 },
  );
  const v618 = v618Rows();
  const ruleTable = renderTable(
    [
      "PAGE_OFFSET",
      { header: "__ffs", align: "right" },
      { header: "BITS", align: "right" },
      "PP_DMA_INDEX_MASK",
      "PP_MAGIC_MASK",
    ],
    v618.map((r) => [r.page_offset, r.ffs === null ? "—" : r.ffs, r.PP_DMA_INDEX_BITS, r.PP_DMA_INDEX_MASK, r.PP_MAGIC_MASK]),
    {
      indent: 2,
      title: `v6.18 rule (POISON_POINTER_DELTA == 0): BITS = MIN(32, __ffs(PAGE_OFFSET) - ${PP_DMA_INDEX_SHIFT}) if PAGE_OFFSET is a constant multiple of ${1 << (PP_DMA_INDEX_SHIFT + 8)}, else 0`,
    },
  );
  const fp = u64(0, ILP32_FALSE_POSITIVE);
  const fpMasked = u64And(fp, ilC.dmaIndex.PP_MAGIC_MASK);
  const fpHit = u64Eq(fpMasked, ilC.PP_SIGNATURE);
  const fpLine =
    `  32-bit regression: ${h(ILP32, fp)} & ${h(ILP32, ilC.dmaIndex.PP_MAGIC_MASK)} = ${h(ILP32, fpMasked)}` +
    ` ${fpHit ? "==" : "!="} PP_SIGNATURE ${h(ILP32, ilC.PP_SIGNATURE)}` +
    (fpHit ? ": an ordinary pointer passes page_pool_page_is_pp()." : ".");
  // v6.18 narrows the id only so that pointers >= PAGE_OFFSET cannot match; a value below it is untouched.
  const fp618 = u64And(fp, il618.PP_MAGIC_MASK);
  const fp618Hit = u64Eq(fp618, ilC.PP_SIGNATURE);
  const below = ILP32_FALSE_POSITIVE >>> 0 < ILP32.PAGE_OFFSET.lo >>> 0;
  const fp618Line =
    `  v6.18 ${fp618Hit === fpHit ? "does not change" : "changes"} this example: ${h(ILP32, fp)} & ${h(ILP32, il618.PP_MAGIC_MASK)} = ${h(ILP32, fp618)}` +
    ` ${fp618Hit ? "==" : "!="} PP_SIGNATURE;` +
    (below
      ? ` it lies below PAGE_OFFSET ${h(ILP32, ILP32.PAGE_OFFSET)}, and v6.18 only keeps pointers at or above PAGE_OFFSET from matching.`
      : ` v6.18 only keeps pointers at or above PAGE_OFFSET from matching.`);
  const byteBoundary =
    lpC.dmaIndex.PP_DMA_INDEX_BITS + PP_DMA_INDEX_SHIFT > 32
      ? `  lp64: the id occupies bits ${PP_DMA_INDEX_SHIFT}..${PP_DMA_INDEX_SHIFT + lpC.dmaIndex.PP_DMA_INDEX_BITS - 1}, across the 32-bit word boundary of pp_magic.`
      : "";
  const text = [table, "", ruleTable, "", fpLine, fp618Line, ...(byteBoundary ? [byteBoundary] : [])].join("\n");
  return {
    id: "constants",
    title: "Derived constants (include/linux/mm.h, include/linux/poison.h)",
    text,
    json: {
      columns: cols.map((col) => ({
        name: col.name,
        arch: col.arch.name,
        rule: col.g.rule,
        POISON_POINTER_DELTA: h(col.arch, col.arch.POISON_POINTER_DELTA),
        PP_SIGNATURE: h(col.arch, col.sig),
        PP_DMA_INDEX_SHIFT: col.g.PP_DMA_INDEX_SHIFT,
        PP_DMA_INDEX_BITS: col.g.PP_DMA_INDEX_BITS,
        PP_DMA_INDEX_MASK: h(col.arch, col.g.PP_DMA_INDEX_MASK),
        PP_MAGIC_MASK: h(col.arch, col.g.PP_MAGIC_MASK),
        PP_DMA_INDEX_LIMIT: col.g.PP_DMA_INDEX_LIMIT,
        pp_magic_id1: magic1(col),
      })),
      v6_18_rule: v618,
      ilp32_false_positive: {
        value: h(ILP32, fp),
        masked: h(ILP32, fpMasked),
        matches_signature: fpHit,
        v6_18_masked: h(ILP32, fp618),
        v6_18_matches_signature: fp618Hit,
        below_page_offset: below,
      },
    },
  };
}

/** The layout sections of `ppemu report`, in order. */
export function layoutSections(): ReportSection[] {
  return [pageWordsSection(), layoutsCompareSection(), constantsSection()];
}
