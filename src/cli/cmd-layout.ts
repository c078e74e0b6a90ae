/** `ppemu layout [STRUCT]`: pahole-style layouts of every struct the emulator declares. */
import { ARCHES, ARCH_NAMES, PAGE_SIZE_NAMES, type ArchName, type PageSizeName } from "../arch.js";
import { BLOCK_VARIANTS, type BlockVariant } from "../mem/structs.js";
import { findLayoutStruct, layoutJson, layoutStructNames, layoutStructs, layoutText } from "../report/layouts.js";
import { referenceBuild } from "../builds/index.js";
import { type Command, type Io, UsageError, choice, parse, buildsArg, buildsHelp } from "./common.js";

const NAME = "layout";
/** The build whose struct page_pool is shown when none is named: the reference build. */
const DEFAULT = (): string => referenceBuild().name;

const help = (): string => `usage: ppemu layout [STRUCT] [--kernel B | --layout L] [--arch lp64|ilp32] [--page-size 4k|16k|64k]
                    [--variant v11|v9p2|rfcv5] [--json]

Print struct layouts the way \`pahole -C STRUCT vmlinux\` does: every member with its offset and size,
holes, cache line boundaries and the size summary. Without STRUCT, every struct the emulator lays out.
After page_pool_item_block: ITEMS_PER_PAGE, the item size and alignment, and the v11 pool-init sizing.

STRUCT             one of: ${layoutStructNames().join(", ")}
                   ("struct page" is accepted too)

options:
${buildsHelp(false)}
                   struct page_pool, page_pool_params*, page_pool_{alloc,recycle}_stats are that
                   kernel's own, in its member order (default: ${DEFAULT()})
  --arch A         lp64 (x86-64, default) or ilp32 (32-bit ARM EABI)
  --page-size P    4k (default), 16k or 64k; changes the item-block geometry
  --variant V      page_pool_item_block declaration: v11 (default), v9p2 (patch 2 of v9: no
                   flags/ref, 24-byte header) or rfcv5 (list first)
  --aliases        show the page-cache names of struct page's words as comments
  --json           one JSON object (an array without STRUCT): name, size, align,
                   members [{path, offset, size, type}], holes, padding, geometry
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
      aliases: { type: "boolean" },
      json: { type: "boolean" },
    });
    const arch = ARCHES[choice<ArchName>(NAME, "arch", String(values.arch ?? "lp64"), ARCH_NAMES)];
    const pageSize = choice<PageSizeName>(NAME, "page size", String(values["page-size"] ?? "4k").toLowerCase(), PAGE_SIZE_NAMES);
    const variant = choice<BlockVariant>(NAME, "variant", String(values.variant ?? "v11"), BLOCK_VARIANTS);
    const [build] = buildsArg(NAME, values, { multi: false, dflt: DEFAULT() });
    const json = values.json === true;
    const aliases = values.aliases === true;

    let structs = layoutStructs(variant, build);
    if (positionals.length > 0) {
      const name = positionals.join(" ");
      const t = findLayoutStruct(name, variant, build);
      if (!t) {
        // choice() words the error; the bare name is what the user meant.
        choice(NAME, "struct", name.replace(/^struct\s+/, ""), layoutStructNames());
        throw new UsageError(`ppemu ${NAME}: unknown struct '${name}'`);
      }
      structs = [t];
    }

    if (json) {
      const objs = structs.map((t) => ({ kernel: build!.name, ...layoutJson(t, arch, variant, pageSize) }));
      io.out(JSON.stringify(positionals.length > 0 ? objs[0] : objs, null, 2));
      return 0;
    }
    io.out(structs.map((t) => layoutText(t, arch, variant, pageSize, aliases, build)).join("\n"));
    return 0;
  },
};
