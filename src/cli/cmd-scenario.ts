/**
 * `ppemu scenario unbind`: the driver-unbind story on one kernel build or several, side by side.
 */
import { type Command, type Io, type Options, type ParsedValues, parse, choice, intArg, buildsArg, buildsHelp, unexpectedArgument, UsageError, openOutputFile, writeOutputFile } from "./common.js";
import { jsonTargetProblem } from "./cmd-bench.js";
import { saveImage } from "../mem/image.js";
import { referenceBuild } from "../builds/index.js";
import { runUnbind, UNBIND_DEFAULTS, type UnbindRun, type UnbindStep } from "../scenario/unbind.js";
import { buildHeaders, scenarioDocument, unbindTable, unbindWarnings } from "../report/unbind.js";
import { jsonText } from "../report/json.js";
import { dmesgText } from "../report/dmesg.js";
import { PP_POOL_SIZE_MAX } from "../pool/page_pool.js";
import { FRAG_OPTIONS, fragHelp, runFragCommand } from "./scenario-frag.js";
import { UNBIND_PROVIDERS, buildHasProviders, providerHeader, providerTable } from "../scenario/unbind_provider.js";
import { NETPP_SCENARIOS, NETPP_SCENARIO_HELP, NIOV_INIT_OPTIONS, ZEROCOPY_OPTIONS, runNetppScenario } from "./cmd-scenario-netpp.js";
import { NETDEVSIM_SCENARIO, NETDEVSIM_SCENARIO_HELP, NETDEVSIM_OPTIONS, runNetdevsimCommand } from "./cmd-scenario-netdevsim.js";
import { TRACE_EVENTS, type TraceEventName } from "../trace/tracepoints.js";
import { Tracer, withTracer } from "../trace/ftrace.js";

const SCENARIOS = ["unbind", "frag", ...NETPP_SCENARIOS, NETDEVSIM_SCENARIO] as const;
const STEPS: readonly UnbindStep[] = ["allocated", "destroyed", "unbound", "end"];

/** Largest --pages: the scenario's machine is small on purpose. */
export const SCENARIO_PAGES_MAX = 4096;

const help = (): string => `usage: ppemu scenario unbind [--kernel B|B,C|all | --layout L|all] [--pages N] [--inflight M]
                              [--late-returns K] [--pool-size S] [--window-ms MS] [--coherent]
                              [--no-netdev] [--save FILE [--at STEP]] [--dmesg] [--json]
                              [--trace FILE|- [--trace-filter EVENT,...]]

A driver allocates N DMA-mapped pages from its page_pool, hands M to the network stack, and unbinds
(napi_disable, page_pool_destroy, unregister_netdev, then the device's IOMMU domain goes away). The
stack returns K of the M pages later, spread over the window (virtual time; page_pool_release_retry
runs every second). Each kernel build is its own machine.

${buildsHelp(true)}
                    (default: ${UNBIND_DEFAULT_KERNEL()})
  --pages N         pages the driver allocates (default ${UNBIND_DEFAULTS.pages})
  --inflight M      pages held by the stack at unbind (default ${UNBIND_DEFAULTS.inflight})
  --late-returns K  pages the stack returns after unbind (default M)
  --pool-size S     page_pool pool_size, 1..${PP_POOL_SIZE_MAX} (default ${UNBIND_DEFAULTS.poolSize})
  --window-ms MS    virtual time over which the late returns are spread (default ${UNBIND_DEFAULTS.windowMs})
  --coherent        a cache-coherent device: dma_dev_need_sync() is false, so v6.11+ builds never sync
  --no-netdev       the pool names no netdev: v6.8+ builds print the stalled-shutdown warning too
  --provider devmem rx queue 0 is bound to a devmem dma-buf (one net_iov per page): the pool is created
                    with PP_FLAG_ALLOW_UNREADABLE_NETMEM and hands out net_iovs it never DMA-maps
                    (v6.12+ builds; others are skipped from a list)
  --save FILE       write the machine (one build only) to FILE as a memory image, for
                    \`ppemu explain --image FILE\` and \`ppemu layout --image FILE\`; FILE is opened first
  --at STEP         with --save: stop the run at allocated, destroyed, unbound or end (default end)
                    and save the machine as it is there (the table shows that step)
  --dmesg           after the table, each build's kernel log as dmesg prints it: [    1.234000] text,
                    virtual time since boot; bad_page() with dump_page()'s page:/flags:/raw: lines;
                    the emulator's own checks are the ppemu: lines
  --json            {"schema": 1, "command": "scenario", "scenario": "unbind", "results": [one object
                    per build]} (schemas/scenario.schema.json)
  --trace FILE|-    record the page_pool tracepoints (${TRACE_EVENTS.join(", ")})
                    with each build's TP_printk format, framed as trace_pipe prints them (virtual
                    clock, per-CPU context); - prints only the trace lines on stdout (as
                    \`cat trace_pipe\` would), FILE writes them there and prints the normal output.
                    Several builds: each machine's trace follows a "# kernel B" line
  --trace-filter E,...  with --trace: only these events (default all four)
${NETPP_SCENARIO_HELP}
${NETDEVSIM_SCENARIO_HELP}`;

/** The build a scenario runs on when none is named: the reference build. */
export const UNBIND_DEFAULT_KERNEL = (): string => referenceBuild().name;

/** The options that shape an unbind scenario, shared by `scenario` and `explain`. */
export const SCENARIO_OPTIONS = {
  kernel: { type: "string" },
  layout: { type: "string" },
  pages: { type: "string" },
  inflight: { type: "string" },
  "late-returns": { type: "string" },
  "pool-size": { type: "string" },
} as const;

/** The scenario's shape from parsed options, checked (one line and exit 2 for a bad value). */
export function scenarioShape(cmd: string, values: Record<string, unknown>, dflt: { pages: number; inflight: number; poolSize: number }) {
  const pages = intArg(cmd, "pages", values.pages as string | undefined, dflt.pages, 0, SCENARIO_PAGES_MAX);
  const inflight = intArg(cmd, "inflight", values.inflight as string | undefined, Math.min(dflt.inflight, pages), 0, pages);
  const lateReturns = intArg(cmd, "late-returns", values["late-returns"] as string | undefined, inflight, 0, inflight);
  const poolSize = intArg(cmd, "pool-size", values["pool-size"] as string | undefined, dflt.poolSize, 1, PP_POOL_SIZE_MAX);
  return { pages, inflight, lateReturns, poolSize };
}

/** `ppemu scenario unbind`'s options. */
const UNBIND_OPTIONS = {
  ...SCENARIO_OPTIONS,
  "window-ms": { type: "string" },
  coherent: { type: "boolean" },
  "no-netdev": { type: "boolean" },
  provider: { type: "string" },
  save: { type: "string" },
  at: { type: "string" },
  trace: { type: "string" },
  "trace-filter": { type: "string" },
  dmesg: { type: "boolean" },
  json: { type: "boolean" },
} as const;

/** `--trace-filter E,…`: the events named, each one of TRACE_EVENTS (else one line, exit 2). */
export function traceFilterArg(cmd: string, value: string | undefined): readonly TraceEventName[] {
  if (value === undefined) return TRACE_EVENTS;
  const names = value.split(",").map((s) => s.trim());
  for (const n of names) {
    if (!(TRACE_EVENTS as readonly string[]).includes(n)) {
      throw new UsageError(`ppemu ${cmd}: --trace-filter: unknown event ${JSON.stringify(n)} (valid: ${TRACE_EVENTS.join(", ")})`);
    }
  }
  return names as TraceEventName[];
}

/** Each scenario: its own options (so an error names the ones it takes) and its run. */
const SCENARIO_CLI: Record<(typeof SCENARIOS)[number], { readonly options: Options; run(values: ParsedValues, argv: string[], io: Io): number }> = {
  unbind: { options: UNBIND_OPTIONS, run: runUnbindCommand },
  frag: { options: FRAG_OPTIONS, run: (values, _argv, io) => runFragCommand(values, io) },
  zerocopy: { options: ZEROCOPY_OPTIONS, run: (values, _argv, io) => runNetppScenario("zerocopy", values, io) },
  "niov-init": { options: NIOV_INIT_OPTIONS, run: (values, _argv, io) => runNetppScenario("niov-init", values, io) },
  [NETDEVSIM_SCENARIO]: { options: NETDEVSIM_OPTIONS, run: (values, _argv, io) => runNetdevsimCommand(values, io, UNBIND_DEFAULT_KERNEL()) },
};

/** Options that take a value in any scenario: what `scenarioNameOf` skips over. */
const STRING_OPTIONS = new Set(
  Object.values(SCENARIO_CLI).flatMap((c) => Object.entries(c.options).filter(([, o]) => o.type === "string").map(([k]) => k)),
);

/** The first argument that is neither an option nor a string option's value: the scenario's name. */
function scenarioNameOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-")) return a;
    if (!a.includes("=") && STRING_OPTIONS.has(a.replace(/^--?/, ""))) i++;
  }
  return undefined;
}

export const scenarioCommand: Command = {
  name: "scenario",
  summary: "scenarios on kernel builds side by side: driver unbind (the bug, the fixes), the frag API, PGTY_netpp's failures, the netdevsim pp_hold selftest",
  get help() {
    return help() + "\n\n" + fragHelp();
  },
  run(argv, io) {
    const named = scenarioNameOf(argv);
    if (named === undefined) {
      // `ppemu scenario --bogus` is still an option error, from the union of every scenario's options.
      parse("scenario", argv, Object.assign({}, ...Object.values(SCENARIO_CLI).map((c) => c.options)) as Options);
      throw new UsageError(`ppemu scenario: name one scenario (valid: ${SCENARIOS.join(", ")})`);
    }
    const cli = SCENARIO_CLI[choice("scenario", "scenario", named, SCENARIOS)];
    const { values, positionals } = parse("scenario", argv, cli.options);
    if (positionals.length > 1) throw new UsageError(unexpectedArgument("scenario", positionals[1]!, values));
    return cli.run(values, argv, io);
  },
};

function runUnbindCommand(values: ParsedValues, argv: string[], io: Io): number {
  const provider = values.provider === undefined ? undefined : choice("scenario", "provider", values.provider as string, UNBIND_PROVIDERS);
  if (provider !== undefined && values["no-netdev"] === true) throw new UsageError("ppemu scenario unbind: --provider binds an rx queue of the driver's netdev: drop --no-netdev");
  const asked = buildsArg("scenario", values, { multi: true, dflt: UNBIND_DEFAULT_KERNEL() });
  // --provider on builds before memory providers (v6.12): skipped from a list, refused when named alone.
  const builds = provider === undefined ? asked : asked.filter(buildHasProviders);
  const skipped = asked.filter((b) => !builds.includes(b)).map((b) => b.name);
  if (builds.length === 0) throw new UsageError(`ppemu scenario unbind: --provider ${provider}: ${skipped.join(", ")} ha${skipped.length === 1 ? "s" : "ve"} no memory providers (v6.12+)`);
  const { pages, inflight, lateReturns, poolSize } = scenarioShape("scenario", values, UNBIND_DEFAULTS);
  const windowMs = intArg("scenario", "window-ms", values["window-ms"] as string | undefined, UNBIND_DEFAULTS.windowMs, 0, 86_400_000);
  const coherent = values.coherent === true;
  const netdev = values["no-netdev"] !== true;
  const save = values.save as string | undefined;
  if (values.at !== undefined && save === undefined) throw new UsageError("ppemu scenario: --at STEP needs --save FILE (it picks the step whose machine is saved)");
  const at = choice("scenario", "step", (values.at as string | undefined) ?? "end", STEPS);
  const dmesg = values.dmesg === true;
  if (dmesg && (values.json === true || values.trace === "-")) {
    throw new UsageError("ppemu scenario unbind: --dmesg prints the kernel log after the table: drop --json and --trace - (or trace to a FILE)");
  }
  const trace = values.trace as string | undefined;
  if (values["trace-filter"] !== undefined && trace === undefined) throw new UsageError("ppemu scenario: --trace-filter needs --trace FILE|-");
  const traceEvents = traceFilterArg("scenario", values["trace-filter"] as string | undefined);
  if (trace === "-" && (values.json === true || save !== undefined)) {
    throw new UsageError("ppemu scenario: --trace - prints only the trace on stdout: drop --json and --save (or trace to a FILE)");
  }
  let traceFd = -1;
  if (trace !== undefined && trace !== "-") {
    const problem = jsonTargetProblem(trace);
    if (problem) throw new UsageError(`ppemu scenario: --trace ${trace}: ${problem}`);
    traceFd = openOutputFile("scenario", "--trace", trace);
  }
  let saveFd = -1;
  if (save !== undefined) {
    if (builds.length !== 1) throw new UsageError(`ppemu scenario: --save writes one machine: name one kernel build (got ${builds.map((b) => b.name).join(", ")})`);
    const problem = jsonTargetProblem(save);
    if (problem) throw new UsageError(`ppemu scenario: --save ${save}: ${problem}`);
    // Opened now, written at the end: a name that cannot be created fails before the run.
    saveFd = openOutputFile("scenario", "--save", save);
  }
  let last: UnbindRun | undefined;
  const traces: string[] = [];
  // With --dmesg each build's log is read as its run ends: no machine is kept alive for it.
  const logs: string[] = [];
  const runOne = (kernel: (typeof builds)[number]) => {
    last = runUnbind({ kernel, pages, inflight, lateReturns, poolSize, windowMs, coherent, netdev, provider }, at);
    if (dmesg) logs.push(`dmesg (${last.sys.build.name}):\n${dmesgText(last.sys.m.mem) || "(empty)\n"}`);
    return last.result;
  };
  const results = builds.map((kernel) => {
    if (trace === undefined) return runOne(kernel);
    // Each build is its own machine, with its own trace (one tracer per run).
    const tracer = new Tracer({ events: traceEvents });
    const r = withTracer(tracer, () => runOne(kernel));
    traces.push((builds.length > 1 ? `# kernel ${kernel.name}\n` : "") + tracer.text());
    return r;
  });
  if (trace === "-") {
    const text = traces.join("");
    if (text !== "") io.out(text);
    return 0;
  }
  let wroteTrace = "";
  if (trace !== undefined) {
    const text = traces.join("");
    writeOutputFile("scenario", "--trace", trace, traceFd, text);
    wroteTrace = `wrote ${trace} (${text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).length} trace lines)`;
  }
  let wrote = "";
  if (save !== undefined) {
    const image = saveImage(last!.sys.m.mem, { command: ["ppemu", "scenario", ...argv].join(" ") });
    writeOutputFile("scenario", "--save", save, saveFd, image);
    wrote = `wrote ${save} (${image.length} bytes, build ${last!.sys.build.name})`;
  }
  if (values.json) {
    io.out(jsonText(scenarioDocument(results)));
    return 0;
  }
  const device = coherent ? "a coherent device" : "a device that needs syncs";
  // The header, a blank line, the table (io.out adds no newline to text that ends in one).
  io.out(
    `scenario unbind: ${pages} pages allocated, ${inflight} held by the stack at unbind, ${lateReturns} returned over ${windowMs / 1000} s;\n` +
      `${device}, ${netdev ? "the pool names the driver's netdev" : "no netdev"}\n` +
      (provider !== undefined ? providerHeader(provider, skipped) : "") +
      "\n",
  );
  io.out(unbindTable(results));
  if (provider !== undefined) io.out("\n" + providerTable(results, buildHeaders(results)));
  io.out("\n" + unbindWarnings(results));
  for (const log of logs) io.out("\n" + log);
  if (wrote) io.out(wrote);
  if (wroteTrace) io.out(wroteTrace);
  return 0;
}
