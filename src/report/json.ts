/**
 * The one JSON convention of every `ppemu … --json`: a single object
 *
 *   { "schema": <version of that command's document>, "command": "<name>", …its result }
 *
 * with snake_case keys all the way down (kernel macro names too: `pp_magic_mask`, `items_per_page`).
 * Each document is described by `schemas/<command>.schema.json` in the package; a change of a
 * document's shape bumps its version here.
 */

/** The version of each command's JSON document (`schemas/<command>.schema.json`). */
export const JSON_SCHEMA_VERSIONS = {
  scenario: 1,
  compare: 1,
  verify: 1,
  layout: 1,
  explain: 1,
  report: 1,
  stress: 1,
  race: 1,
  netlink: 1,
  ethtool: 1,
  /** bench's file format has been versioned since before the convention: 2 gained `kernel`, 3 `command`, 4 `method`, `summary`, `cost` and per-process rows. */
  bench: 4,
} as const;

export type JsonCommand = keyof typeof JSON_SCHEMA_VERSIONS;

/** `elapsedMs` → `elapsed_ms`, `PP_MAGIC_MASK` → `pp_magic_mask`, `item blocks (fast)` → `item_blocks_fast`. */
export function snakeKey(k: string): string {
  return k
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .toLowerCase();
}

/** A copy of a JSON value with every object key in snake_case (values untouched). */
export function snakeKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(snakeKeys);
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === undefined) continue;
    const sk = snakeKey(k);
    if (Object.prototype.hasOwnProperty.call(out, sk)) throw new Error(`JSON keys '${k}' and another both become '${sk}'`);
    out[sk] = snakeKeys(x);
  }
  return out;
}

export type JsonDocument = { readonly schema: number; readonly command: JsonCommand } & Record<string, unknown>;

/** `{schema, command, ...body}` with snake_case keys. */
export function jsonDocument(command: JsonCommand, body: Record<string, unknown>): JsonDocument {
  const rest = snakeKeys(body) as Record<string, unknown>;
  delete rest.schema;
  delete rest.command;
  return { schema: JSON_SCHEMA_VERSIONS[command], command, ...rest };
}

/** How every command prints its document. */
export function jsonText(doc: unknown): string {
  return JSON.stringify(doc, null, 2);
}
