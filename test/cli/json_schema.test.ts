/**
 * Every command's `--json` is one object `{schema, command, …}` with snake_case keys, and validates
 * against its shipped schema (schemas/<command>.schema.json); the schemas are not vacuous: one extra
 * key, or a wrong type, fails.
 */
import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import Ajv2020Module from "ajv/dist/2020.js";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { JSON_SCHEMA_VERSIONS } from "../../src/report/json.js";

// ajv is CommonJS: under NodeNext ESM its class is the default export's `default`.
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof import("ajv/dist/2020.js").default;

const SCHEMA_DIR = new URL("../../schemas/", import.meta.url);
const schemas = Object.fromEntries(
  readdirSync(SCHEMA_DIR)
    .filter((f) => f.endsWith(".schema.json"))
    .map((f) => [f.replace(".schema.json", ""), JSON.parse(readFileSync(new URL(f, SCHEMA_DIR), "utf8")) as Record<string, unknown>]),
);
const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
for (const s of Object.values(schemas)) ajv.addSchema(s);
const validator = (cmd: string) => ajv.getSchema(schemas[cmd]!.$id as string)!;

type Doc = Record<string, unknown>;

async function doc(...argv: string[]): Promise<Doc> {
  const io = new BufferIo();
  const code = await main(argv, io);
  expect(code, io.stderr).toBe(0);
  const d = JSON.parse(io.stdout) as unknown;
  expect(typeof d === "object" && d !== null && !Array.isArray(d)).toBe(true);
  return d as Doc;
}

/** Keys that are not snake_case, anywhere in the document. */
function badKeys(v: unknown, path = ""): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => badKeys(x, `${path}[${i}]`));
  if (v === null || typeof v !== "object") return [];
  return Object.entries(v).flatMap(([k, x]) => [...(/^[a-z0-9_]+$/.test(k) ? [] : [`${path}.${k}`]), ...badKeys(x, `${path}.${k}`)]);
}

function errorsOf(cmd: string, d: unknown): string[] {
  const v = validator(cmd);
  return v(d) ? [] : (v.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

const clone = <T>(x: T): T => structuredClone(x);

/** Each command: how to run it, and a nested object of its document to break. */
const CASES: [cmd: string, argv: string[], nested: (d: Doc) => Record<string, unknown>][] = [
  ["scenario", ["scenario", "unbind", "--kernel", "all", "--json"], (d) => (d.results as Doc[])[0]!],
  ["compare", ["compare", "--json"], (d) => (d.rows as Doc[])[0]!],
  ["verify", ["verify", "items", "--json"], (d) => (d.checks as Doc[])[0]!],
  ["layout", ["layout", "page_pool", "--json"], (d) => (d.structs as Doc[])[0]!],
  ["explain", ["explain", "0x91ff0", "--kernel", "v11", "--at", "allocated", "--magic", "0x40", "--json"], (d) => (d.explanations as Doc[])[0]!],
  ["bench", ["bench", "--inline", "--test", "page_pool01_fast_path", "--time", "5", "--runs", "2", "--json", "-"], (d) => (d.results as Doc[])[0]!],
  ["report", ["report", "--no-bench", "--json"], (d) => ((d.sections as Doc).unbind as Doc)],
  ["stress", ["stress", "--kernel", "mainline", "--seconds", "1", "--keep-going", "--json"], (d) => (d.results as Doc[])[0]!],
  ["race", ["race", "--kernel", "v6.16", "--program", "destroy-vs-ring-produce", "--json"], (d) => (d.results as Doc[])[0]!],
  ["netlink", ["netlink", "page-pool-get", "--kernel", "v11", "--at", "destroyed", "--json"], (d) => (d.replies as Doc[])[0]!],
  ["ethtool", ["ethtool", "-S", "--kernel", "v6.16", "--json"], (d) => d.stats as Doc],
];

describe("--json: one convention, one schema per command", () => {
  it("a schema file per command, each with the version the command prints", () => {
    expect(Object.keys(schemas).sort()).toEqual(Object.keys(JSON_SCHEMA_VERSIONS).sort());
    for (const [cmd, v] of Object.entries(JSON_SCHEMA_VERSIONS)) {
      const props = schemas[cmd]!.properties as Record<string, { const?: unknown }>;
      expect([props.schema!.const, props.command!.const]).toEqual([v, cmd]);
      expect(schemas[cmd]!.additionalProperties).toBe(false);
      expect(schemas[cmd]!.required).toEqual(expect.arrayContaining(["schema", "command"]));
    }
  });

  for (const [cmd, argv, nested] of CASES) {
    it(`${cmd}: validates, snake_case, and a wrong document fails`, { timeout: 60_000 }, async () => {
      const d = await doc(...argv);
      expect(Object.keys(d).slice(0, 2)).toEqual(["schema", "command"]);
      expect([d.schema, d.command]).toEqual([JSON_SCHEMA_VERSIONS[cmd as keyof typeof JSON_SCHEMA_VERSIONS], cmd]);
      expect(badKeys(d)).toEqual([]);
      expect(errorsOf(cmd, d)).toEqual([]);

      const extraTop = { ...clone(d), extra: 1 };
      expect(errorsOf(cmd, extraTop).join("\n")).toContain("must NOT have additional properties");
      const extraNested = clone(d);
      nested(extraNested).extra_key = true;
      expect(errorsOf(cmd, extraNested).join("\n")).toContain("must NOT have additional properties");
      const wrongType = clone(d);
      const n = nested(wrongType);
      const k = Object.keys(n).find((key) => typeof n[key] === "string")!;
      n[k] = 12345;
      expect(errorsOf(cmd, wrongType).length).toBeGreaterThan(0);
      expect(errorsOf(cmd, { ...clone(d), schema: String(d.schema) }).length).toBeGreaterThan(0);
      const { command: _c, ...noCommand } = clone(d);
      expect(errorsOf(cmd, noCommand).join("\n")).toContain("must have required property 'command'");
    });
  }

  it("explain: --magic alone has no machine; every input is one explanation in one document", async () => {
    const d = await doc("explain", "--magic", "0x40", "--json");
    expect(d.machine).toBe(null);
    expect((d.explanations as Doc[]).map((x) => x.kind)).toEqual(["magic"]);
    expect(errorsOf("explain", d)).toEqual([]);
    const m = await doc("explain", "0x91ff0", "--netmem", "0xffffea00000021c1", "--magic", "0x40", "--at", "allocated", "--json");
    expect((m.explanations as Doc[]).map((x) => x.kind)).toEqual(["magic", "netmem", "address"]);
    expect(m.machine).toMatchObject({ source: "scenario", scenario: "unbind", kernel: "v6.15", at: "allocated" });
    expect(errorsOf("explain", m)).toEqual([]);
  });

  it("report: its command sections are those commands' documents", { timeout: 60_000 }, async () => {
    const r = await doc("report", "--no-bench", "--json");
    const s = r.sections as Doc;
    expect(Object.keys(s)).toEqual(["builds", "page_words", "layouts", "constants", "unbind", "compare", "verify", "race"]);
    expect((r.contents as { id: string }[]).map((c) => c.id)).toEqual(Object.keys(s));
    expect(s.unbind).toEqual(await doc("scenario", "unbind", "--kernel", "all", "--json"));
    expect(s.compare).toEqual(await doc("compare", "--json"));
    const untimed = (v: Doc) => ({
      ...v,
      checks: (v.checks as Doc[]).map((c) => ({ ...c, elapsed_ms: 0 })),
      summary: { ...(v.summary as Doc), elapsed_seconds: 0 },
    });
    expect(untimed(s.verify as Doc)).toEqual(untimed(await doc("verify", "all", "--json")));
    // The race section is `race --json` of its fixed run, but for the times.
    const raceUntimed = (v: Doc) => ({ ...v, results: (v.results as Doc[]).map((x) => ({ ...x, ms: 0 })) });
    const io = new BufferIo();
    // Exit 1: the builds before v6.16 have the violation.
    expect(await main(["race", "--program", "destroy-vs-ring-produce", "--scheduler", "pct", "--schedules", "40", "--seed", "1", "--depth", "2", "--no-shrink", "--json"], io)).toBe(1);
    const race = JSON.parse(io.stdout) as Doc;
    expect(raceUntimed(s.race as Doc)).toEqual(raceUntimed(race));
    // A broken embedded document fails the report's schema too.
    const bad = clone(r);
    ((bad.sections as Doc).verify as Doc).extra = 1;
    expect(errorsOf("report", bad).length).toBeGreaterThan(0);
  });
});
