/**
 * `ppemu explain ADDR…`: build the machine state by running a scenario to a chosen step, then say
 * what each address is. `--magic` and `--netmem` decode values on their own.
 */
import { dmesgText } from "../report/dmesg.js";
import { readFileSync } from "node:fs";
import { type Command, parse, choice, sizeArg, buildsArg, buildsHelp, ioReason, UsageError } from "./common.js";
import { SCENARIO_OPTIONS, scenarioShape, UNBIND_DEFAULT_KERNEL } from "./cmd-scenario.js";
import { runUnbind, type UnbindStep } from "../scenario/unbind.js";
import { Explainer, parseAddress, type Explanation } from "../verify/explain.js";
import { decodePpMagic, decodeNetmem, type MagicDecode, type NetmemDecode } from "../verify/explain_fields.js";
import { machineHasNetIovs } from "../verify/explain_niov.js";
import { UNBIND_PROVIDERS, buildHasProviders } from "../scenario/unbind_provider.js";
import { checkMemBytes, MACH_STACK } from "../mem/physmem.js";
import { attachImage, ImageError, readImageHeader, type ImageHeader } from "../mem/image.js";
import { attachPpSystem, NetStack, type PpSystem } from "../pool/index.js";
import { parseHex64 } from "../u64.js";
import { jsonDocument, jsonText } from "../report/json.js";

const SCENARIOS = ["unbind"] as const;
const STEPS: readonly UnbindStep[] = ["allocated", "destroyed", "unbound", "end"];

/** Small on purpose: explain is about reading addresses, not about load. */
export const EXPLAIN_DEFAULTS = { pages: 40, inflight: 8, poolSize: 64, memBytes: 32 << 20 };

const help = (): string => `usage: ppemu explain ADDR… [--scenario unbind] [--kernel B | --layout L]
                    [--at allocated|destroyed|unbound|end] [--pages N] [--inflight M]
                    [--late-returns K] [--pool-size S] [--mem SIZE] [--magic VALUE]… [--netmem VALUE]… [--dmesg] [--json]
       ppemu explain ADDR… --image FILE [--magic VALUE]… [--netmem VALUE]… [--dmesg] [--json]

Runs the scenario to the step given by --at, then explains each address of the resulting machine:
its frame (pfn) and the frame's role — memmap, machine header, diag log, free buddy block, slab
object, page_pool page (alloc cache, ring, in flight with the stack or the driver), item block,
IOMMU table — and for a struct page, a struct or an item the field at that offset and its decoded
value (pp_magic signature and DMA index, pp / pp_item → item → block → pool, dma_addr mapping).

ADDR is hex, with or without 0x, underscores allowed: a physical address (0x1040), a vmemmap
struct page pointer (0xffffea0000001040) or a direct-map pointer (0xffff888000412000).

  --image FILE      explain the machine saved in FILE (\`ppemu scenario unbind --save FILE\`) instead of
                    running a scenario: its kernel build comes from the image; not with the options below
  --scenario NAME   the story that builds the state (only: unbind)
${buildsHelp(false)}
                    (default: ${UNBIND_DEFAULT_KERNEL()})
  --at STEP         allocated: the driver holds N pages (some stay in the alloc cache), M are with the stack
                    destroyed (default): the driver returned its pages and ran page_pool_destroy()
                    unbound: the device unbound too;  end: the stack's late returns are done
  --pages N         pages the driver allocates (default ${EXPLAIN_DEFAULTS.pages})
  --inflight M      pages handed to the stack (default ${EXPLAIN_DEFAULTS.inflight})
  --late-returns K  pages the stack returns after unbind (default M)
  --pool-size S     page_pool pool_size (default ${EXPLAIN_DEFAULTS.poolSize})
  --mem SIZE        machine memory, e.g. 32M (default 32M)
  --provider devmem the scenario's rx queue is bound to a devmem dma-buf: the pool's netmems are
                    net_iovs (explain one by its address, or by its netmem_ref with --netmem)
  --magic VALUE     decode a pp_magic value (classic and v6.16 masks, DMA index id, bits 0–1; lp64)
  --netmem VALUE    decode a netmem_ref (bit 0 NET_IOV, the cleared pointer), then explain that address
  --dmesg           then the machine's kernel log as dmesg prints it (not with --json)
  --json            one JSON object: {schema, command: "explain", machine (null without one),
                    explanations: [{kind: "magic"|"netmem"|"address", …} per --magic, --netmem, ADDR]}
                    (schemas/explain.schema.json)`;

function memSizeText(bytes: number): string {
  return bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : `${bytes / 1024} KiB`;
}

function renderMagic(d: MagicDecode): string {
  return [
    `pp_magic ${d.value} (lp64)`,
    `  classic mask ~0x3:  ${d.signature_classic ? "PP_SIGNATURE — a page_pool page" : "no signature"}`,
    `  v6.16 PP_MAGIC_MASK: ${d.signature_v6_16 ? "PP_SIGNATURE — a page_pool page" : "no signature"}`,
    `  dma index id ${d.dma_index} (bits 7..38)`,
    `  bit 0 ${d.bit0_tail ? `set: PageTail, the word is compound_head | 1 (head ${d.compound_head})` : "clear (not a tail page)"}; bit 1 ${d.bit1_pfmemalloc ? "set: pfmemalloc" : "clear (not pfmemalloc)"}`,
  ].join("\n");
}

function renderNetmem(d: NetmemDecode, hasNetIovs = false): string {
  const note = d.net_iov && !hasNetIovs ? "\n  (this machine has no net_iovs: the cleared pointer is explained as an address of it)" : "";
  return `netmem_ref ${d.value}: ${d.text}${note}`;
}

/**
 * Read, check and attach a memory image (\`--image FILE\`): an unreadable file, or an image the loader
 * refuses (src/mem/image.ts: truncated, foreign, another format version, a checksum, the body, the
 * build), is one line and exit 2.
 */
export function loadImageFile(cmd: string, file: string): { sys: PpSystem; header: ImageHeader } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new UsageError(`ppemu ${cmd}: --image ${file}: cannot read: ${ioReason(e)}`);
  }
  try {
    const header = readImageHeader(bytes, file);
    return { sys: attachImage(bytes, file, attachPpSystem), header };
  } catch (e) {
    if (e instanceof ImageError) throw new UsageError(e.message);
    throw e;
  }
}

export const explainCommand: Command = {
  name: "explain",
  summary: "say what an address of the machine is: frame, struct, field, decoded value",
  get help() {
    return help();
  },
  run(argv, io) {
    const { values, positionals } = parse("explain", argv, {
      image: { type: "string" },
      scenario: { type: "string" },
      ...SCENARIO_OPTIONS,
      at: { type: "string" },
      mem: { type: "string" },
      provider: { type: "string" },
      magic: { type: "string", multiple: true },
      netmem: { type: "string", multiple: true },
      dmesg: { type: "boolean" },
      json: { type: "boolean" },
    });
    if (values.dmesg === true && values.json === true) throw new UsageError("ppemu explain: --dmesg prints the kernel log after the text: drop --json");
    const imageFile = values.image as string | undefined;
    let image: { sys: PpSystem; header: ImageHeader } | null = null;
    if (imageFile !== undefined) {
      const clash = ["scenario", ...Object.keys(SCENARIO_OPTIONS), "at", "mem", "provider"].filter((k) => values[k] !== undefined);
      if (clash.length > 0) {
        throw new UsageError(`ppemu explain: --image takes the machine from the image, not from a scenario: drop ${clash.map((k) => `--${k}`).join(", ")}`);
      }
      image = loadImageFile("explain", imageFile);
    }
    choice("explain", "scenario", (values.scenario as string | undefined) ?? "unbind", SCENARIOS);
    const [build] = buildsArg("explain", values, { multi: false, dflt: UNBIND_DEFAULT_KERNEL() });
    const at = choice("explain", "step", (values.at as string | undefined) ?? "destroyed", STEPS);
    const provider = values.provider === undefined ? undefined : choice("explain", "provider", values.provider as string, UNBIND_PROVIDERS);
    if (provider !== undefined && !buildHasProviders(build!)) throw new UsageError(`ppemu explain: --provider ${provider}: kernel ${build!.name} has no memory providers (v6.12+)`);
    const { pages, inflight, lateReturns: late, poolSize } = scenarioShape("explain", values, EXPLAIN_DEFAULTS);
    const memBytes = image ? image.sys.m.mem.bytes : sizeArg("explain", "mem", values.mem as string | undefined, EXPLAIN_DEFAULTS.memBytes);
    const memErr = checkMemBytes(memBytes);
    if (memErr) throw new UsageError(`ppemu explain: --mem: ${memErr}`);
    const magics = (values.magic as string[] | undefined) ?? [];
    const netmems = (values.netmem as string[] | undefined) ?? [];
    if (positionals.length === 0 && magics.length === 0 && netmems.length === 0) {
      throw new UsageError("ppemu explain: name at least one address (or --magic VALUE / --netmem VALUE)");
    }

    // Every input is checked before the machine is built: a bad one is one line and exit 2.
    const magicValues = magics.map((t) => {
      const v = parseHex64(t);
      if (!v) throw new UsageError(`ppemu explain: --magic '${t}' is not a hex value`);
      return decodePpMagic(v);
    });
    const netmemValues = netmems.map((t) => {
      const v = parseHex64(t);
      if (!v) throw new UsageError(`ppemu explain: --netmem '${t}' is not a hex value`);
      const d = decodeNetmem(v);
      const cleared = d.clearedU64.hi.toString(16).padStart(8, "0") + d.clearedU64.lo.toString(16).padStart(8, "0");
      const p = parseAddress("0x" + cleared, memBytes);
      if (typeof p === "string") throw new UsageError(`ppemu explain: --netmem '${t}': ${p}`);
      return { d, p };
    });
    const addrs = positionals.map((t) => {
      const p = parseAddress(t, memBytes);
      if (typeof p === "string") throw new UsageError(`ppemu explain: ${p}`);
      return p;
    });

    let explainer: Explainer | null = null;
    let machine = "";
    // The machine the addresses are read on, for --json (null: only --magic values, no machine).
    let machineJson: Record<string, unknown> | null = null;
    if (image && (addrs.length > 0 || netmemValues.length > 0)) {
      const { sys, header } = image;
      // The stack stand-in hangs off the machine header: NetStack attaches to it when it is there.
      const stack = sys.m.mem.rdPtr(sys.m.mem.machine + MACH_STACK) !== 0 ? new NetStack(sys.pps) : undefined;
      explainer = new Explainer(stack ? { sys, stack } : { sys });
      machine = `machine: image ${imageFile}, kernel ${sys.build.name} (${sys.build.layout.name}), created by "${header.command}"`;
      machineJson = { source: "image", image: imageFile, kernel: sys.build.name, layout: sys.build.layout.name, created_by: header.command, text: machine };
    } else if (addrs.length > 0 || netmemValues.length > 0) {
      const run = runUnbind({ kernel: build!, pages, inflight, lateReturns: late, poolSize, memBytes, provider }, at);
      explainer = new Explainer({ sys: run.sys, stack: run.stack });
      // A small machine runs out of frames before N: say what was allocated, not what was asked.
      const got = run.result.pages_allocated;
      const held = Math.min(inflight, got);
      const pagesText = got < pages ? `${got} pages allocated of ${pages} asked: the machine ran out` : `${got} pages`;
      machine = `machine: scenario unbind, kernel ${build!.name} (${build!.layout.name}), at "${at}" (${pagesText}, ${held} with the stack, pool_size ${poolSize}, ${memSizeText(memBytes)})${provider !== undefined ? `, memory provider ${provider}: the pages are net_iovs` : ""}`;
      machineJson = {
        source: "scenario",
        scenario: "unbind",
        kernel: build!.name,
        layout: build!.layout.name,
        at,
        pages_asked: pages,
        pages_allocated: got,
        with_stack: held,
        pool_size: poolSize,
        mem_bytes: memBytes,
        text: machine,
      };
    }
    const json: unknown[] = [];
    const text: string[] = [];
    if (explainer) text.push(machine);
    for (const d of magicValues) {
      json.push({ kind: "magic", magic: d });
      text.push(renderMagic(d));
    }
    for (const { d, p } of netmemValues) {
      const { clearedU64: _c, ...pub } = d;
      const x: Explanation = explainer!.explain(p);
      json.push({ kind: "netmem", netmem: pub, explain: x });
      text.push(renderNetmem(d, machineHasNetIovs(explainer!.sys)) + "\n" + x.lines.join("\n"));
    }
    for (const p of addrs) {
      const x = explainer!.explain(p);
      json.push({ kind: "address", ...x });
      text.push(x.lines.join("\n"));
    }
    // One document whatever the inputs: the machine, then one explanation per --magic, --netmem and address.
    if (values.json) io.out(jsonText(jsonDocument("explain", { machine: machineJson, explanations: json })));
    else io.out(text.join("\n\n"));
    // The machine's kernel log as dmesg prints it, after the explanations (src/report/dmesg.ts).
    if (values.dmesg === true && explainer) io.out(`\ndmesg:\n${dmesgText(explainer.sys.m.mem) || "(empty)\n"}`);
    return 0;
  },
};
