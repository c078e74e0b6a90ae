/** `ppemu layout [STRUCT]`: pahole-style layouts of every struct the emulator declares. */
import { ARCHES, ARCH_NAMES, PAGE_SIZE_NAMES, type ArchName, type PageSizeName } from "../arch.js";
import { BLOCK_VARIANTS, type BlockVariant } from "../mem/structs.js";
import { findLayoutStruct, layoutJson, layoutStructNames, layoutStructs, layoutText } from "../report/layouts.js";
import { allBuilds, referenceBuild } from "../builds/index.js";
import { jsonDocument, jsonText } from "../report/json.js";
import { type Command, type Io, UsageError, choice, parse, buildsArg, buildsHelp } from "./common.js";
import { loadImageFile } from "./cmd-explain.js";

const NAME = "layout";
/** The build whose struct page_pool is shown when none is named: the reference build. */
const DEFAULT = (): string => referenceBuild().name;

const help = (): string => `usage: ppemu layout [STRUCT] [--kernel B | --layout L] [--arch lp64|ilp32] [--page-size 4k|16k|64k]
                    [--variant v11|v9p2|rfcv5] [--json]
       ppemu layout [STRUCT] --image FILE [--arch …] [--page-size …] [--variant …] [--json]

Print struct layouts the way \`pahole -C STRUCT vmlinux\` does: every member with its offset and size,
holes, cache line boundaries and the size summary. Without STRUCT, every struct the emulator lays out.
After page_pool_item_block: ITEMS_PER_PAGE, the item size and alignment, and the v11 pool-init sizing.

STRUCT             one of: ${layoutStructNames().join(", ")}
                   ("struct page" is accepted too)

options:
${buildsHelp(false)}
                   struct page_pool, page_pool_params*, page_pool_{alloc,recycle}_stats, netmem_desc,
                   net_iov and net_iov_area are that kernel's own, in its member order (default:
                   ${DEFAULT()}); a kernel without net_iov (before v6.12) or netmem_desc (before
                   v6.17) has none to print
  --image FILE     the kernel build of the memory image FILE (\`ppemu scenario unbind --save FILE\`)
                   selects the structs, as --kernel does; not with --kernel or --layout
  --arch A         lp64 (x86-64, default) or ilp32 (32-bit ARM EABI)
  --page-size P    4k (default), 16k or 64k; changes the item-block geometry
  --variant V      page_pool_item_block declaration: v11 (default), v9p2 (patch 2 of v9: no
                   flags/ref, 24-byte header) or rfcv5 (list first)
  --aliases        show the page-cache names of struct page's words as comments
  --json           one JSON object: {schema, command: "layout", kernel, structs: [{name, arch, size,
                   align, members [{path, offset, size, type}], holes, padding, geometry}]}, one
                   struct or all (schemas/layout.schema.json)
  -h, --help       this text`;

export const layoutCommand: Command = {
  name: NAME,
  summary: "pahole-style struct layouts per arch, page size and item-block variant",
  get help() {
    return help();
  },
  run(argv: string[], io: Io): number {
    const { values, positionals } = parse(NAME, argv, {
      arch: { type: "string" },
      "page-size": { type: "string" },
      variant: { type: "string" },
      kernel: { type: "string" },
      layout: { type: "string" },
      image: { type: "string" },
      aliases: { type: "boolean" },
      json: { type: "boolean" },
    });
    const arch = ARCHES[choice<ArchName>(NAME, "arch", String(values.arch ?? "lp64"), ARCH_NAMES)];
    const pageSize = choice<PageSizeName>(NAME, "page size", String(values["page-size"] ?? "4k").toLowerCase(), PAGE_SIZE_NAMES);
    const variant = choice<BlockVariant>(NAME, "variant", String(values.variant ?? "v11"), BLOCK_VARIANTS);
    const imageFile = values.image as string | undefined;
    if (imageFile !== undefined && (values.kernel !== undefined || values.layout !== undefined)) {
      throw new UsageError(`ppemu ${NAME}: --image FILE names the kernel build: drop ${values.kernel !== undefined ? "--kernel" : "--layout"}`);
    }
    const [build] = imageFile !== undefined ? [loadImageFile(NAME, imageFile).sys.build] : buildsArg(NAME, values, { multi: false, dflt: DEFAULT() });
    const json = values.json === true;
    const aliases = values.aliases === true;

    let structs = layoutStructs(variant, build);
    if (positionals.length > 0) {
      const name = positionals.join(" ");
      const t = findLayoutStruct(name, variant, build);
      if (!t) {
        // A struct other kernels declare (net_iov before v6.12, netmem_desc before v6.17): say which do.
        const bare = name.trim().replace(/^struct\s+/, "");
        const having = allBuilds().filter((b) => findLayoutStruct(bare, variant, b) !== null);
        if (having.length > 0) {
          throw new UsageError(`ppemu ${NAME}: kernel ${build!.name} has no struct ${bare} (declared by: ${having.map((b) => b.name).join(", ")})`);
        }
        // choice() words the error; the bare name is what the user meant.
        choice(NAME, "struct", name.replace(/^struct\s+/, ""), layoutStructNames());
        throw new UsageError(`ppemu ${NAME}: unknown struct '${name}'`);
      }
      structs = [t];
    }

    if (json) {
      // One document, one struct or all of them: {schema, command: "layout", kernel, structs: [...]}.
      const doc = jsonDocument("layout", { kernel: build!.name, structs: structs.map((t) => layoutJson(t, arch, variant, pageSize)) });
      io.out(jsonText(doc));
      return 0;
    }
    io.out(structs.map((t) => layoutText(t, arch, variant, pageSize, aliases, build)).join("\n"));
    return 0;
  },
};
