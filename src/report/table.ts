/**
 * Plain-text tables for the CLI and the report: fixed-width columns, a rule under the header,
 * numbers right-aligned. Cells may span several lines (`\n` inside a cell).
 *
 *   offset  field              classic
 *   ──────  ─────────────────  ───────
 *        8  pp_magic           PP_SIGNATURE
 */

export type Align = "left" | "right";

export interface Column {
  readonly header: string;
  /** Default: right for columns whose every body cell is a number, left otherwise. */
  readonly align?: Align;
}

export type Cell = string | number;

export interface TableOptions {
  /** Spaces before every line. */
  readonly indent?: number;
  /** Spaces between columns (default 2). */
  readonly gap?: number;
  /** A title line above the table. */
  readonly title?: string;
  /** Print neither the header nor its rule (aligned columns only). */
  readonly noHeader?: boolean;
}

/** Display width: code points, not UTF-16 units (box-drawing characters and arrows are one column). */
export function textWidth(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function pad(s: string, width: number, align: Align): string {
  const fill = " ".repeat(Math.max(0, width - textWidth(s)));
  return align === "right" ? fill + s : s + fill;
}

/** The table as text, lines joined by `\n`, no trailing newline. Trailing spaces are trimmed. */
export function renderTable(columns: readonly (Column | string)[], rows: readonly (readonly Cell[])[], opts: TableOptions = {}): string {
  const cols: Column[] = columns.map((c) => (typeof c === "string" ? { header: c } : c));
  const gap = " ".repeat(opts.gap ?? 2);
  const indent = " ".repeat(opts.indent ?? 0);
  const aligns: Align[] = cols.map(
    (c, i) => c.align ?? (rows.length > 0 && rows.every((r) => typeof r[i] === "number") ? "right" : "left"),
  );
  const cellLines = rows.map((r) => cols.map((_, i) => String(r[i] ?? "").split("\n")));
  const widths = cols.map((c, i) =>
    Math.max(
      ...(opts.noHeader ? [0] : c.header.split("\n").map(textWidth)),
      ...cellLines.map((r) => Math.max(...r[i]!.map(textWidth))),
    ),
  );
  const lines: string[] = [];
  if (opts.title) lines.push(indent + opts.title);
  const emit = (cells: string[][]) => {
    const height = Math.max(...cells.map((c) => c.length));
    for (let k = 0; k < height; k++) {
      lines.push((indent + cells.map((c, i) => pad(c[k] ?? "", widths[i]!, aligns[i]!)).join(gap)).trimEnd());
    }
  };
  if (!opts.noHeader) {
    emit(cols.map((c) => c.header.split("\n")));
    lines.push((indent + widths.map((w) => "─".repeat(w)).join(gap)).trimEnd());
  }
  for (const r of cellLines) emit(r);
  return lines.join("\n");
}

/** `key  value` lines with the keys padded to one width. */
export function renderPairs(pairs: readonly (readonly [string, Cell])[], opts: { indent?: number; gap?: number } = {}): string {
  const indent = " ".repeat(opts.indent ?? 0);
  const gap = " ".repeat(opts.gap ?? 2);
  const w = Math.max(0, ...pairs.map(([k]) => textWidth(k)));
  return pairs.map(([k, v]) => `${indent}${pad(k, w, "left")}${gap}${v}`.trimEnd()).join("\n");
}

/** Widest a side-by-side table of builds prints before it wraps into another (a terminal, a README block). */
export const TABLE_WIDTH = 132;

/**
 * Render items side by side, as many tables as keep each within `width` columns, cut only between
 * groups of consecutive items with the same `groupOf` (a layout's builds stay together; a group wider
 * than `width` alone gets a table of its own); the tables a blank line apart.
 */
export function wrapByGroup<T>(items: readonly T[], groupOf: (x: T) => unknown, render: (chunk: readonly T[]) => string, width = TABLE_WIDTH): string {
  const groups: T[][] = [];
  for (const x of items) {
    const g = groups[groups.length - 1];
    if (g !== undefined && groupOf(g[g.length - 1]!) === groupOf(x)) g.push(x);
    else groups.push([x]);
  }
  const widest = (text: string) => Math.max(...text.split("\n").map(textWidth));
  const tables: string[] = [];
  let cur: T[] = [];
  for (const g of groups) {
    if (cur.length > 0 && widest(render([...cur, ...g])) > width) {
      tables.push(render(cur));
      cur = [];
    }
    cur.push(...g);
  }
  if (cur.length > 0 || tables.length === 0) tables.push(render(cur));
  return tables.join("\n\n");
}
