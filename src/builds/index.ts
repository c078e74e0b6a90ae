/**
 * The kernel builds, registered: importing this module registers every build family below (each
 * file calls `registerBuild` for its builds), in the order the tool lists them.
 */
import "./classic.js";
import "./item_block.js";
import "./xarray.js";
import "./netmem_desc.js";
import "./encoded_next.js";
import "./netpp.js";
import "./memdesc_item.js";

export {
  registerBuild,
  unregisterBuild,
  allBuilds,
  allLayouts,
  buildNames,
  layoutNames,
  findBuild,
  findLayout,
  buildById,
  buildsOf,
  defaultBuildOf,
  referenceBuild,
  resolveBuild,
  resolveBuilds,
  buildConfigWord,
  buildExtraWord,
  variantId,
  variantOfId,
  BuildError,
} from "./registry.js";
export type { BuildSwitches, KernelBuild, Tracking, TrackingContext, TrackingLayout, TrackingUsage } from "./types.js";
