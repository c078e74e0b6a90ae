/**
 * `ppemu netlink page-pool-get|page-pool-stats-get|summary`: the netdev family's page-pool objects of
 * a scenario machine (or a saved image) as `ynl --family netdev` prints them (src/netlink/).
 */
import { jsonDocument, jsonText } from "../report/json.js";
import { type Command, type Io, type ParsedValues, parse, choice, sizeArg, intArg, buildsArg, buildsHelp, unexpectedArgument, UsageError } from "./common.js";
import { SCENARIO_OPTIONS, scenarioShape, UNBIND_DEFAULT_KERNEL } from "./cmd-scenario.js";
import { loadImageFile } from "./cmd-explain.js";
import { runUnbind, UNBIND_DEFAULTS, type UnbindStep } from "../scenario/unbind.js";
import { UNBIND_PROVIDERS, buildHasProviders } from "../scenario/unbind_provider.js";
import { checkMemBytes } from "../mem/physmem.js";
import type { PpSystem } from "../pool/index.js";
import { netlinkUnsupported, pagePoolGetDo, pagePoolGetDump, pagePoolStatsDo, pagePoolStatsDump } from "../netlink/page_pool_nl.js";
import { pagePoolSummary } from "../netlink/summary.js";
import { pprint, pyJsonDumps, type PyValue } from "../netlink/pprint.js";

const NAME = "netlink";
const OPS = ["page-pool-get", "page-pool-stats-get", "summary"] as const;
export const MACHINE_STEPS: readonly UnbindStep[] = ["allocated", "destroyed", "unbound", "end"];

/** The options that pick the machine: a scenario run to a step, or an image. */
export const MACHINE_OPTIONS = {
  image: { type: "string" },
  ...SCENARIO_OPTIONS,
  at: { type: "string" },
  mem: { type: "string" },
  provider: { type: "string" },
} as const;

/** The help lines of MACHINE_OPTIONS. */
export function machineHelp(dfltAt: UnbindStep): string {
  return `${buildsHelp(false)}
                    (default: ${UNBIND_DEFAULT_KERNEL()})
  --at STEP         the unbind scenario's step whose machine is read: allocated (the driver holds
                    N pages, M with the stack), destroyed (page_pool_destroy() ran, M in flight),
                    unbound (unregister_netdev moved the pool to loopback, the device is gone),
                    end (the stack's late returns are done) (default ${dfltAt})
  --pages N         pages the driver allocates (default ${UNBIND_DEFAULTS.pages})
  --inflight M      pages handed to the stack (default ${UNBIND_DEFAULTS.inflight})
  --late-returns K  pages the stack returns after unbind (default M)
  --pool-size S     page_pool pool_size (default ${UNBIND_DEFAULTS.poolSize})
  --mem SIZE        machine memory, e.g. 32M (default 32M)
  --provider devmem rx queue 0 bound to a devmem dma-buf (v6.12+): the pool shows 'dmabuf'
  --image FILE      read the machine saved in FILE (\`ppemu scenario unbind --save FILE\`) instead`;
}

/** The machine the options name: the unbind scenario run to `--at`, or `--image FILE`. */
export function machineFromArgs(cmd: string, values: ParsedValues, dfltAt: UnbindStep): { sys: PpSystem; text: string } {
  const imageFile = values.image as string | undefined;
  if (imageFile !== undefined) {
    const clash = [...Object.keys(SCENARIO_OPTIONS), "at", "mem", "provider"].filter((k) => values[k] !== undefined);
    if (clash.length > 0) throw new UsageError(`ppemu ${cmd}: --image takes the machine from the image, not from a scenario: drop ${clash.map((k) => `--${k}`).join(", ")}`);
    const { sys } = loadImageFile(cmd, imageFile);
    return { sys, text: `image ${imageFile}, kernel ${sys.build.name}` };
  }
  const [build] = buildsArg(cmd, values, { multi: false, dflt: UNBIND_DEFAULT_KERNEL() });
  const at = choice(cmd, "step", (values.at as string | undefined) ?? dfltAt, MACHINE_STEPS);
  const provider = values.provider === undefined ? undefined : choice(cmd, "provider", values.provider as string, UNBIND_PROVIDERS);
  if (provider !== undefined && !buildHasProviders(build!)) throw new UsageError(`ppemu ${cmd}: --provider ${provider}: kernel ${build!.name} has no memory providers (v6.12+)`);
  const { pages, inflight, lateReturns, poolSize } = scenarioShape(cmd, values, UNBIND_DEFAULTS);
  const memBytes = sizeArg(cmd, "mem", values.mem as string | undefined, UNBIND_DEFAULTS.memBytes);
  const memErr = checkMemBytes(memBytes);
  if (memErr) throw new UsageError(`ppemu ${cmd}: --mem: ${memErr}`);
  const run = runUnbind({ kernel: build!, pages, inflight, lateReturns, poolSize, memBytes, provider }, at);
  return { sys: run.sys, text: `scenario unbind, kernel ${build!.name}, at "${at}"` };
}

const help = (): string => `usage: ppemu netlink page-pool-get [--dump | --id N] [--output-json] [machine options]
       ppemu netlink page-pool-stats-get [--dump | --id N] [--output-json] [machine options]
       ppemu netlink summary [machine options]

What \`ynl --family netdev --dump page-pool-get\` (or \`--do page-pool-get --json '{"id": N}'\`,
\`page-pool-stats-get\` with \`{"info": {"id": N}}\`) prints on the machine: Python's pprint of the
replies (keys sorted, width 80), or with --output-json their JSON in the kernel's attribute order.
Attributes as page_pool_nl_fill() puts them: id; ifindex, unless the pool was orphaned to loopback;
napi-id if valid; inflight and inflight-mem; detach-time once page_pool_destroy() left pages in
flight; dmabuf for a devmem pool (v11 adds item_mem_resident and item_mem_used). Only pools created
with a netdev are listed. Builds before v6.8 have no page-pool netlink (one line, exit 2).
\`summary\` prints what tools/net/ynl/samples/page-pool prints (per ifindex; orphans as <orphan>).
A --id that names no visible pool prints ynl's "Netlink error: No such file or directory" (exit 1).

  --dump            dump every pool (the default)
  --id N            one pool (the do operation)
  --output-json     ynl's --output-json: json.dumps() of the reply
  --json            ppemu's document: {"schema": 1, "command": "netlink", "operation", "kernel", "machine",
                    "replies": [the replies, keys in snake_case]} (schemas/netlink.schema.json)
${machineHelp("unbound")}`;

function emit(io: Io, v: PyValue, json: boolean): void {
  io.out(json ? pyJsonDumps(v) : pprint(v).replace(/\n$/, ""));
}

export const netlinkCommand: Command = {
  name: NAME,
  summary: "the netdev netlink family's page-pool dumps (ynl page-pool-get, page-pool-stats-get, summary)",
  get help() {
    return help();
  },
  run(argv, io) {
    const { values, positionals } = parse(NAME, argv, {
      ...MACHINE_OPTIONS,
      dump: { type: "boolean" },
      id: { type: "string" },
      "output-json": { type: "boolean" },
      json: { type: "boolean" },
    });
    if (positionals.length === 0) throw new UsageError(`ppemu ${NAME}: name an operation (valid: ${OPS.join(", ")})`);
    if (positionals.length > 1) throw new UsageError(unexpectedArgument(NAME, positionals[1]!, values));
    const op = choice(NAME, "operation", positionals[0]!, OPS);
    if (values.dump === true && values.id !== undefined) throw new UsageError(`ppemu ${NAME}: give --dump or --id N, not both`);
    if (op === "summary" && (values.dump !== undefined || values.id !== undefined || values["output-json"] !== undefined)) {
      throw new UsageError(`ppemu ${NAME} summary: takes no --dump, --id or --output-json (it prints the sample's text)`);
    }
    const id = values.id === undefined ? null : intArg(NAME, "id", values.id as string, 0, 1, 0xffffffff);
    const { sys, text } = machineFromArgs(NAME, values, "unbound");
    const unsupported = netlinkUnsupported(sys);
    if (unsupported) throw new UsageError(`ppemu ${NAME}: ${unsupported}`);
    const json = values["output-json"] === true;
    if (json && values.json === true) throw new UsageError(`ppemu ${NAME}: give --json (ppemu's document) or --output-json (ynl's), not both`);
    // --json: ppemu's document, the replies with snake_case keys (schemas/netlink.schema.json).
    const doc = (body: Record<string, unknown>) => io.out(jsonText(jsonDocument("netlink", { operation: op, kernel: sys.build.name, machine: text, ...body })));
    if (op === "summary") {
      if (values.json === true) doc({ text: pagePoolSummary(sys) });
      else io.out(pagePoolSummary(sys).replace(/\n$/, ""));
      return 0;
    }
    if (id === null) {
      const replies = op === "page-pool-get" ? pagePoolGetDump(sys) : pagePoolStatsDump(sys);
      if (values.json === true) doc({ replies });
      else emit(io, replies, json);
      return 0;
    }
    const msg = op === "page-pool-get" ? pagePoolGetDo(sys, id) : pagePoolStatsDo(sys, id);
    if (values.json === true) {
      doc({ replies: msg === null ? [] : [msg], ...(msg === null ? { error: "No such file or directory" } : {}) });
      return msg === null ? 1 : 0;
    }
    if (msg === null) {
      // cli.py: `except NlError as e: print(e); exit(1)` — -ENOENT from netdev_nl_page_pool_get_do().
      io.out("Netlink error: No such file or directory");
      return 1;
    }
    emit(io, msg, json);
    return 0;
  },
};
