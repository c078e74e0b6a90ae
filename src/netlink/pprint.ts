/**
 * What ynl's CLI prints: `pprint.PrettyPrinter().pprint(msg)` (tools/net/ynl/pyynl/cli.py, search id
 * 476401653: `output(msg)` is pprint unless `--output-json`, then `json.dumps(msg, cls=YnlEncoder)`).
 *
 * PrettyPrinter's defaults: indent 1, width 80, depth none, compact false, sort_dicts true. Its rules,
 * from CPython Lib/pprint.py, for the shapes a netlink reply has (dicts of ints, nested dicts, lists
 * of dicts):
 * - `_format(obj, indent, allowance)`: `rep = _repr(obj)`; if `len(rep) > width - indent - allowance`
 *   and obj is a dict or list, print it item by item, else print `rep`;
 * - `_safe_repr` of a dict: `{k: v, …}` with keys sorted (`sorted(items, key=_safe_tuple)`), of a
 *   list `[a, b]`, of a str `'…'` (repr: single quotes unless the text has a `'` and no `"`), of an
 *   int its digits;
 * - `_pprint_dict`: `{`, then `_format_dict_items(sorted items, indent, allowance + 1)`, `}`; each
 *   item is `repr(key) + ': '` and its value formatted at `indent + 1 + len(repr(key)) + 2` with
 *   allowance 1 (the last: the dict's allowance); items are joined by `',\n' + ' ' * (indent + 1)`;
 * - `_pprint_list`: `[`, `_format_items(items, indent, allowance + 1)`, `]`; items at `indent + 1`,
 *   joined the same way (not compact: one item per line).
 * `pprint()` ends with a newline.
 */

/** A Python value as ynl's decoder builds it from a netlink message: int, str, list, dict. */
export type PyValue = number | string | readonly PyValue[] | { readonly [key: string]: PyValue };

const WIDTH = 80;
const INDENT_PER_LEVEL = 1;

function isDict(v: PyValue): v is { readonly [key: string]: PyValue } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `repr(str)`: single quotes, unless the text holds a `'` and no `"`. */
export function pyStrRepr(s: string): string {
  const useDouble = s.includes("'") && !s.includes('"');
  const q = useDouble ? '"' : "'";
  let out = q;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (ch === q) out += "\\" + q;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + q;
}

/** Python's str ordering (code points) — what `sorted()` does with str keys. */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedKeys(d: { readonly [key: string]: PyValue }): string[] {
  return Object.keys(d).sort(byCodePoint);
}

/** `pprint.saferepr` with sort_dicts: the one-line form. */
export function pyRepr(v: PyValue): string {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new Error(`pyRepr: not an int: ${v}`);
    return String(v);
  }
  if (typeof v === "string") return pyStrRepr(v);
  if (Array.isArray(v)) return "[" + (v as readonly PyValue[]).map(pyRepr).join(", ") + "]";
  const d = v as { readonly [key: string]: PyValue };
  return "{" + sortedKeys(d).map((k) => `${pyStrRepr(k)}: ${pyRepr(d[k]!)}`).join(", ") + "}";
}

function format(v: PyValue, indent: number, allowance: number, out: string[]): void {
  const rep = pyRepr(v);
  if (rep.length > WIDTH - indent - allowance) {
    if (Array.isArray(v) && v.length > 0) {
      out.push("[");
      formatItems(v as readonly PyValue[], indent, allowance + 1, out);
      out.push("]");
      return;
    }
    if (isDict(v) && Object.keys(v).length > 0) {
      out.push("{");
      formatDictItems(v, indent, allowance + 1, out);
      out.push("}");
      return;
    }
  }
  out.push(rep);
}

function formatDictItems(d: { readonly [key: string]: PyValue }, indent: number, allowance: number, out: string[]): void {
  const inner = indent + INDENT_PER_LEVEL;
  const delimnl = ",\n" + " ".repeat(inner);
  const keys = sortedKeys(d);
  keys.forEach((k, i) => {
    const last = i === keys.length - 1;
    const rep = pyStrRepr(k);
    out.push(rep, ": ");
    format(d[k]!, inner + rep.length + 2, last ? allowance : 1, out);
    if (!last) out.push(delimnl);
  });
}

function formatItems(items: readonly PyValue[], indent: number, allowance: number, out: string[]): void {
  const inner = indent + INDENT_PER_LEVEL;
  const delimnl = ",\n" + " ".repeat(inner);
  items.forEach((item, i) => {
    const last = i === items.length - 1;
    if (i > 0) out.push(delimnl);
    format(item, inner, last ? allowance : 1, out);
  });
}

/** `pprint.pformat(v)` with PrettyPrinter's defaults (no trailing newline). */
export function pformat(v: PyValue): string {
  const out: string[] = [];
  format(v, 0, 0, out);
  return out.join("");
}

/** `pprint.PrettyPrinter().pprint(v)`: pformat and a newline. */
export function pprint(v: PyValue): string {
  return pformat(v) + "\n";
}

/**
 * `json.dumps(v)` with Python's defaults: separators `', '` and `': '`, keys in insertion order (ynl
 * adds attributes in the order the kernel put them), ASCII only (`\uXXXX` beyond).
 */
export function pyJsonDumps(v: PyValue): string {
  if (typeof v === "number") return String(v);
  if (typeof v === "string") return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
  if (Array.isArray(v)) return "[" + (v as readonly PyValue[]).map(pyJsonDumps).join(", ") + "]";
  const d = v as { readonly [key: string]: PyValue };
  return "{" + Object.keys(d).map((k) => `${pyJsonDumps(k)}: ${pyJsonDumps(d[k]!)}`).join(", ") + "}";
}
