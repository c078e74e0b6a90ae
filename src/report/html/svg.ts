/**
 * SVG and HTML as strings, for the HTML report (src/report/html/page.ts). The figures are rects,
 * lines and text placed on grids whose geometry is the machine's own (frames per row, bytes per
 * cache line), so no plot library is used: a layout engine would add a dependency and a DOM shim
 * (d3 and the like need one to render in Node) for what is arithmetic on known sizes. Every element
 * that stands for an address carries `data-tip` (the decoded address, shown by the page's tooltip)
 * and, where there are few of them, a `<title>` too.
 */

/** Text escaped for an HTML/SVG text node or a double-quoted attribute. */
export function esc(s: string | number): string {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export type Attrs = Readonly<Record<string, string | number | undefined>>;

function attrText(a: Attrs): string {
  let s = "";
  for (const [k, v] of Object.entries(a)) if (v !== undefined) s += ` ${k}="${esc(v)}"`;
  return s;
}

/** `<name attrs>children</name>`, or self-closed without children. */
export function el(name: string, a: Attrs, children: string | readonly string[] = ""): string {
  const body = typeof children === "string" ? children : children.join("");
  return body === "" ? `<${name}${attrText(a)}/>` : `<${name}${attrText(a)}>${body}</${name}>`;
}

/** A rect; with `tip`, its decoded address as `data-tip` (and a `<title>` when `title` is set). */
export function rect(x: number, y: number, w: number, h: number, a: Attrs = {}, title?: string): string {
  return el("rect", { x: r2(x), y: r2(y), width: r2(w), height: r2(h), ...a }, title !== undefined ? el("title", {}, esc(title)) : "");
}

export function text(x: number, y: number, s: string, a: Attrs = {}): string {
  return el("text", { x: r2(x), y: r2(y), ...a }, esc(s));
}

export function line(x1: number, y1: number, x2: number, y2: number, a: Attrs = {}): string {
  return el("line", { x1: r2(x1), y1: r2(y1), x2: r2(x2), y2: r2(y2), ...a });
}

/** One figure's `<svg>`: its id, size and an accessible label. */
export function svg(id: string, width: number, height: number, label: string, body: readonly string[]): string {
  return el(
    "svg",
    { id, class: "figure", xmlns: "http://www.w3.org/2000/svg", width: r2(width), height: r2(height), viewBox: `0 0 ${r2(width)} ${r2(height)}`, role: "img", "aria-label": label },
    body,
  );
}

/** Two decimals at most, no trailing zeros: compact coordinates. */
export function r2(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** A legend row per (colour, label), from (x, y) down. */
export function legend(x: number, y: number, items: readonly { readonly color: string; readonly label: string }[], rowH = 16): string[] {
  return items.flatMap((it, i) => [rect(x, y + i * rowH, 11, 11, { fill: it.color, stroke: "#333", "stroke-width": 0.5 }), text(x + 16, y + i * rowH + 10, it.label, { class: "small" })]);
}

/** Round tick steps (1, 2, 5 × 10^k) covering [0, max] in about `count` steps. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  if (out[out.length - 1]! < max) out.push(out[out.length - 1]! + step);
  return out;
}

/** A kernel pointer as dumps print it: `0x` and 16 hex digits (hi word, lo word). */
export function kptr(hi: number, lo: number): string {
  return "0x" + (hi >>> 0).toString(16).padStart(8, "0") + (lo >>> 0).toString(16).padStart(8, "0");
}
