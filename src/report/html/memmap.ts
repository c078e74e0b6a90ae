/**
 * Figure (a): the physical memory map of a scenario machine — the unbind scenario
 * (src/scenario/unbind.ts) on v11, stopped after page_pool_destroy() — one rect per frame coloured
 * by the class frame accounting (src/mem/accounting.ts accountFrames, with every claimer the
 * scenario machine has) puts it in. The classes are read per frame by one more claimer, run last,
 * that only asks `classOf(pfn)`: the map is the accounting's own result, not a second guess.
 */
import { accountFrames, type FrameAccount } from "../../mem/accounting.js";
import { ppClaimers } from "../../pool/index.js";
import { runUnbind, type UnbindStep } from "../../scenario/unbind.js";
import { DIRECT_MAP_HI, VMEMMAP_HI } from "../../mem/page.js";
import { kptr, legend, rect, svg, text } from "./svg.js";

export interface FrameMap {
  readonly kernel: string;
  readonly step: UnbindStep;
  readonly pageSize: number;
  /** Class index per pfn, into `classes`. */
  readonly cls: Uint8Array;
  /** Class names, in the order the accounting met them. */
  readonly classes: readonly string[];
  /** Frames per class (the accounting's byClass). */
  readonly byClass: Readonly<Record<string, number>>;
  /** The decoded address of each frame, by pfn. */
  tip(pfn: number): string;
}

/** Colours by class; a class not listed (a new claimer) gets one from FALLBACK. */
export const CLASS_COLORS: Readonly<Record<string, string>> = {
  memmap: "#6a51a3",
  boot: "#252525",
  free: "#e8e8e8",
  slab: "#fdae6b",
  allocated: "#ff00ff",
  "item blocks": "#2171b5",
  "iommu tables": "#238b45",
  "page_pool: in flight (stack)": "#cb181d",
  "page_pool: in flight (driver)": "#fb6a4a",
  "page_pool: ring queue": "#8c6d31",
  "page_pool: cache": "#74c476",
  "page_pool: ring": "#41ab5d",
  "stack stand-in": "#969696",
};
const FALLBACK = ["#17becf", "#bcbd22", "#e377c2", "#7f7f7f", "#9edae5", "#dbdb8d"];

export function classColor(name: string, i: number): string {
  return CLASS_COLORS[name] ?? FALLBACK[i % FALLBACK.length]!;
}

/** The scenario machine's frames, classified. */
export function frameMap(kernel = "v11", step: UnbindStep = "destroyed"): FrameMap {
  const run = runUnbind({ kernel }, step);
  const mem = run.sys.m.mem;
  const total = mem.nrFrames;
  const names: string[] = [];
  const ids = new Map<string, number>();
  const cls = new Uint8Array(total);
  const acct: FrameAccount = accountFrames(mem, [
    ...ppClaimers(run.sys, run.stack),
    (c) => {
      for (let pfn = 0; pfn < total; pfn++) {
        const n = c.classOf(pfn);
        let id = ids.get(n);
        if (id === undefined) ids.set(n, (id = names.push(n) - 1));
        cls[pfn] = id;
      }
    },
  ]);
  if (acct.errors.length > 0) throw new Error(`frame accounting of the ${kernel} scenario machine: ${acct.errors[0]}`);
  const shift = Math.log2(mem.pageSize);
  return {
    kernel: run.sys.build.name,
    step,
    pageSize: mem.pageSize,
    cls,
    classes: names,
    byClass: acct.byClass,
    tip: (pfn) =>
      `pfn 0x${pfn.toString(16)}  ${kptr(DIRECT_MAP_HI, mem.pageAddress(mem.pfnToPage(pfn)))}  struct page ${kptr(VMEMMAP_HI, mem.pfnToPage(pfn))}  phys 0x${(pfn * 2 ** shift).toString(16)}: ${names[cls[pfn]!]}`,
  };
}

export const MAP_COLS = 128;
const CELL = 6;

/** One rect per frame, MAP_COLS frames a row, pfn 0 top left; the legend with counts on the right. */
export function frameMapSvg(f: FrameMap): string {
  const rows = Math.ceil(f.cls.length / MAP_COLS);
  const top = 22;
  const body: string[] = [text(0, 14, `${f.kernel}, unbind scenario stopped at "${f.step}": ${f.cls.length} frames of ${f.pageSize} bytes, ${MAP_COLS} a row`, { class: "caption" })];
  for (let pfn = 0; pfn < f.cls.length; pfn++) {
    const id = f.cls[pfn]!;
    body.push(rect((pfn % MAP_COLS) * CELL, top + Math.floor(pfn / MAP_COLS) * CELL, CELL, CELL, { class: `frame k${id}`, fill: classColor(f.classes[id]!, id), "data-pfn": pfn, "data-tip": f.tip(pfn) }));
  }
  const lx = MAP_COLS * CELL + 16;
  const items = f.classes.map((n, i) => ({ color: classColor(n, i), label: `${n}: ${f.byClass[n] ?? 0}` }));
  // Pool pages by state: what is in the pool vs in flight, said even when a state has no frame.
  const inPool = f.classes.filter((n) => n.startsWith("page_pool: ") && !n.includes("in flight") && n !== "page_pool: ring queue").reduce((s, n) => s + (f.byClass[n] ?? 0), 0);
  const inFlight = f.classes.filter((n) => n.includes("in flight")).reduce((s, n) => s + (f.byClass[n] ?? 0), 0);
  body.push(...legend(lx, top, items));
  body.push(text(lx, top + items.length * 16 + 14, `pool pages in flight: ${inFlight}; in the pool (alloc cache, ring): ${inPool}`, { class: "small" }));
  return svg("fig-memmap", lx + 330, top + rows * CELL + 4, `physical memory map of ${f.kernel}`, body);
}
