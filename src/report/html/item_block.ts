/**
 * Figure (b): one v11 item block drawn byte-exact — the 4096-byte frame as 64 rows of one 64-byte
 * cache line each; the header's fields at their offsets from the struct declaration
 * (`struct page_pool_item_block`, src/mem/structs.ts, laid out by src/mem/ctype.ts), the
 * ITEMS_PER_PAGE items at `offsetof(items) + i * sizeof(struct page_pool_item)` coloured by their
 * `state`, and the masking `page->pp_item & PAGE_MASK → block → block->pp` done on a real item of a
 * page the stack holds, with the tracking's own accessors (src/builds/item_block.ts).
 */
import { LP64 } from "../../arch.js";
import { layoutOf, type MemberLayout } from "../../mem/ctype.js";
import { ITEM_BLOCK_OF } from "../../mem/structs.js";
import { DIRECT_MAP_HI, VMEMMAP_HI, PAGE_PP_ITEM } from "../../mem/page.js";
import { runUnbind, type UnbindStep } from "../../scenario/unbind.js";
import { ITEM_PP_NETMEM, ITEM_STATE, PAGE_POOL_ITEM_MAPPED, PAGE_POOL_ITEM_USED, itemStateText, type ItemBlockTracking } from "../../builds/item_block.js";
import { el, kptr, legend, line, rect, svg, text } from "./svg.js";

export interface HeaderField {
  /** Dotted path (`list.next`). */
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  /** The field's value as read from the block (a pointer as a kernel pointer). */
  readonly value: string;
}

export interface ItemCell {
  readonly index: number;
  readonly offset: number;
  readonly state: number;
  readonly tip: string;
}

export interface ItemBlockView {
  readonly kernel: string;
  readonly step: UnbindStep;
  readonly pageSize: number;
  readonly block: number;
  readonly itemsOffset: number;
  readonly itemSize: number;
  readonly header: readonly HeaderField[];
  readonly items: readonly ItemCell[];
  /** The masking on a real item: the page, its pp_item, PAGE_MASK, the block, block->pp. */
  readonly mask: { readonly page: string; readonly item: string; readonly itemIndex: number; readonly pageMask: string; readonly block: string; readonly pool: string };
}

/** Leaves of a laid-out struct (a nested struct's members, not itself), the flexible array excluded. */
function leaves(ms: readonly MemberLayout[]): MemberLayout[] {
  return ms.flatMap((x) => (x.children.length > 0 ? leaves(x.children) : x.size > 0 ? [x] : []));
}

/** The block that holds the item of the stack's oldest page, from the unbind scenario on `kernel`. */
export function itemBlockView(kernel = "v11", step: UnbindStep = "destroyed"): ItemBlockView {
  const run = runUnbind({ kernel }, step);
  const mem = run.sys.m.mem;
  const t = run.sys.pps.t as ItemBlockTracking;
  if (t.ITEMS_PER_PAGE === undefined || run.sys.build.variant === undefined) throw new Error(`${kernel} is no item-block build`);
  let page = 0;
  run.stack.forEachHeld((p) => (page === 0 ? (page = p) : 0));
  if (page === 0) throw new Error(`the ${kernel} scenario holds no page at ${step}`);
  const item = mem.rdPtr(page + PAGE_PP_ITEM);
  const block = t.itemToBlock(item);
  const bl = layoutOf(ITEM_BLOCK_OF[run.sys.build.variant], LP64);
  const header = leaves(bl.members).map((x) => {
    const lo = mem.rd32(block + x.offset);
    const hi = x.size === 8 ? mem.rd32(block + x.offset + 4) : 0;
    return { name: x.path, offset: x.offset, size: x.size, value: x.size === 8 ? kptr(hi, lo) : `0x${lo.toString(16)}` };
  });
  const items: ItemCell[] = [];
  for (let i = 0; i < t.ITEMS_PER_PAGE; i++) {
    const it = t.itemAt(block, i);
    const state = mem.rd32(it + ITEM_STATE);
    const nm = kptr(mem.rd32(it + ITEM_PP_NETMEM + 4), mem.rd32(it + ITEM_PP_NETMEM));
    items.push({ index: i, offset: it - block, state, tip: `items[${i}] at ${kptr(DIRECT_MAP_HI, it)} (block + ${it - block}): state 0x${state.toString(16)} (${itemStateText(state)}), pp_netmem/lentry ${nm}` });
  }
  return {
    kernel: run.sys.build.name,
    step,
    pageSize: mem.pageSize,
    block,
    itemsOffset: t.ITEMS_OFF,
    itemSize: t.ITEM_SIZE,
    header,
    items,
    mask: {
      page: kptr(VMEMMAP_HI, page),
      item: kptr(DIRECT_MAP_HI, item),
      itemIndex: t.itemIndex(item),
      pageMask: kptr(0xffffffff, mem.pageMaskLo),
      block: kptr(DIRECT_MAP_HI, block),
      pool: kptr(DIRECT_MAP_HI, t.poolOf(page)),
    },
  };
}

export const STATE_COLORS: Readonly<Record<string, string>> = { free: "#e8e8e8", USED: "#fb6a4a", MAPPED: "#9ecae1", "USED|MAPPED": "#2171b5" };
const HEADER_COLORS = ["#6a51a3", "#9e9ac8", "#bcbddc", "#fdae6b", "#e6550d", "#31a354"];

const BYTE_W = 12;
const ROW_H = 14;
const LINE = 64;

const STRIP_W = 3;

/**
 * The block drawn byte-exact; with `before` (the same block at an earlier step), a strip of its
 * items' states then, one 3-pixel cell per item, under the grid.
 */
export function itemBlockSvg(v: ItemBlockView, before?: ItemBlockView): string {
  const left = 44;
  const top = 62;
  const at = (off: number) => ({ x: left + (off % LINE) * BYTE_W, y: top + Math.floor(off / LINE) * ROW_H });
  const body: string[] = [
    text(0, 14, `${v.kernel}: struct page_pool_item_block at ${v.mask.block}, ${v.pageSize} bytes, 64 bytes a row (one cache line); stopped at "${v.step}"`, { class: "caption" }),
    text(0, 32, `masking: page ${v.mask.page} → pp_item ${v.mask.item} (items[${v.mask.itemIndex}])`, { class: "mono", id: "mask-line1" }),
    text(0, 48, `${v.mask.item} & PAGE_MASK ${v.mask.pageMask} = ${v.mask.block} (the block) → block->pp = ${v.mask.pool} (struct page_pool)`, { class: "mono", id: "mask-line2" }),
  ];
  for (let row = 0; row < v.pageSize / LINE; row += 8) body.push(text(0, top + row * ROW_H + 10, `+${row * LINE}`, { class: "small" }));
  // Header fields (they never cross a cache line: the header is 32 bytes at offset 0).
  v.header.forEach((f, i) => {
    const p = at(f.offset);
    const tip = `block->${f.name} at ${kptr(DIRECT_MAP_HI, v.block + f.offset)} (offset ${f.offset}, ${f.size} bytes) = ${f.value}`;
    body.push(rect(p.x, p.y, f.size * BYTE_W, ROW_H, { class: "hdr", fill: HEADER_COLORS[i % HEADER_COLORS.length], stroke: "#fff", "data-tip": tip }, tip));
    body.push(text(p.x + 2, p.y + 10, f.name, { class: "tiny light" }));
  });
  for (const it of v.items) {
    const p = at(it.offset);
    const s = itemStateText(it.state);
    body.push(rect(p.x, p.y, v.itemSize * BYTE_W, ROW_H, { class: "item", fill: STATE_COLORS[s] ?? "#ff00ff", stroke: "#fff", "data-index": it.index, "data-tip": it.tip }, it.tip));
  }
  // The masked item: outlined, with an arrow to the block's first byte.
  const mi = v.items[v.mask.itemIndex]!;
  const p = at(mi.offset);
  body.push(rect(p.x, p.y, v.itemSize * BYTE_W, ROW_H, { fill: "none", stroke: "#000", "stroke-width": 2, id: "masked-item" }));
  body.push(line(p.x, p.y + ROW_H / 2, left - 4, top + 4, { stroke: "#000", "stroke-width": 1.2, "marker-end": "url(#arrow)", "stroke-dasharray": "4 2" }));
  const defs = el("defs", {}, el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse" }, el("path", { d: "M 0 0 L 10 5 L 0 10 z" })));
  const lx = left + LINE * BYTE_W + 16;
  const counts = new Map<string, number>();
  for (const it of v.items) counts.set(itemStateText(it.state), (counts.get(itemStateText(it.state)) ?? 0) + 1);
  const items = ["free", "USED", "MAPPED", "USED|MAPPED"].map((s) => ({ color: STATE_COLORS[s]!, label: `state ${s}: ${counts.get(s) ?? 0}` }));
  body.push(...legend(lx, top, items));
  body.push(text(lx, top + 4 * 16 + 14, `${v.items.length} items of ${v.itemSize} bytes from offset ${v.itemsOffset}`, { class: "small" }));
  body.push(text(lx, top + 4 * 16 + 30, `USED = bit ${Math.log2(PAGE_POOL_ITEM_USED)}, MAPPED = bit ${Math.log2(PAGE_POOL_ITEM_MAPPED)} of item->state`, { class: "small" }));
  let height = top + (v.pageSize / LINE) * ROW_H + 4;
  if (before !== undefined) {
    if (before.block !== v.block) throw new Error(`itemBlockSvg: the earlier view is of block ${before.mask.block}, not ${v.mask.block}`);
    const sy = height + 10;
    const mapped = before.items.filter((it) => (it.state & PAGE_POOL_ITEM_MAPPED) !== 0).length;
    const inFlight = v.items.filter((it) => (it.state & PAGE_POOL_ITEM_USED) !== 0 && (it.state & PAGE_POOL_ITEM_MAPPED) === 0).length;
    body.push(text(0, sy + 10, `the same block at "${before.step}" (before unbind): ${mapped} of ${before.items.length} items MAPPED; at "${v.step}" ${inFlight} are in flight, unmapped by destroy (MAPPED cleared), the others returned and free`, { class: "small" }));
    for (const it of before.items) {
      body.push(rect(left + it.index * STRIP_W, sy + 16, STRIP_W, 16, { class: "item-before", fill: STATE_COLORS[itemStateText(it.state)] ?? "#ff00ff", "data-index": it.index, "data-tip": `at "${before.step}": ${it.tip}` }));
    }
    height = sy + 36;
  }
  return svg("fig-itemblock", lx + 300, height, `item block of ${v.kernel}`, [defs, ...body]);
}
