/**
 * ppemu, the library: boot or attach a machine of one kernel build, drive its page_pools and the
 * network-stack stand-in, run the scenarios, verify the masking math, explain addresses, build the
 * report, print pahole layouts. No CLI here (that is `ppemu`, src/cli/), and no raw offsets (those
 * are the `ppemu/offsets` sub-path). Each name below is exported on purpose.
 */

// The machine and its kernel builds.
export { bootPpSystem, attachPpSystem, ppClaimers, type PpSystem } from "./pool/index.js";
export { bootMachine, attachMachine, type Machine } from "./mem/machine.js";
export type { PhysMemOptions } from "./mem/physmem.js";
export { PpemuError, type PpemuErrorCode } from "./errors.js";
export * from "./smp/index.js";
export {
  allBuilds,
  allLayouts,
  buildNames,
  layoutNames,
  findBuild,
  findLayout,
  buildsOf,
  defaultBuildOf,
  referenceBuild,
  resolveBuild,
  resolveBuilds,
  registerBuild,
  unregisterBuild,
  BuildError,
  type BuildSwitches,
  type KernelBuild,
  type Tracking,
  type TrackingContext,
  type TrackingLayout,
  type TrackingUsage,
} from "./builds/index.js";
export type { PoolStructs } from "./builds/structs_common.js";

// page_pool, the DMA model, the stack stand-in, netdevs.
export {
  PagePools,
  type PagePoolParams,
  type PoolHandle,
  type PoolRef,
  type PoolStats,
  MAX_RETRIES_PER_CALL,
  PP_FLAG_DMA_MAP,
  PP_FLAG_DMA_SYNC_DEV,
  PP_POOL_SIZE_MAX,
  PP_RING_SIZE_MAX,
  ALLOC_STAT_NAMES,
  RECYCLE_STAT_NAMES,
} from "./pool/page_pool.js";
export { PoolOffsets } from "./pool/pool_offsets.js";
export { PageFrags, fragApiOf, PP_FLAG_PAGE_FRAG, BIAS_MAX_HI, BIAS_MAX_LO, ppRefCountText, type FragApi, type FragState } from "./pool/frag.js";
export { NetStack, type StackContext } from "./pool/stack.js";
export { netdevCreate, netdevUnregister, loopbackDev } from "./pool/netdev.js";
// Memory providers: a devmem dma-buf bound to an rx queue hands PP_FLAG_ALLOW_UNREADABLE_NETMEM pools net_iovs.
export { PP_FLAG_ALLOW_UNREADABLE_NETMEM } from "./pool/pool_offsets.js";
export { EOPNOTSUPP } from "./pool/page_pool.js";
export {
  netDevmemBindDmabuf,
  netDevmemBindDmabufToQueue,
  netDevmemUnbindDmabuf,
  devmemBindingInfo,
  forEachBinding,
  MP_DMABUF_DEVMEM,
  DEVMEM_DEFAULT_BASE_DMA,
  type DevmemBindParams,
  type DevmemBindingInfo,
} from "./pool/devmem.js";
export { STRUCT_MEMORY_PROVIDER_OPS, netifGetRxQueue, memoryProviderById, type MemoryProviderOps } from "./pool/memory_provider.js";
export { netIovGeometry, netIovInit, netIovIdx, netIovOwner, netIovToNetmem, netmemIsNetIov, NET_IOV_DMABUF, NET_IOV_IOURING, type NetIovGeometry, type NetIovInitMode } from "./pool/net_iov.js";
export { Dma, DMA_FROM_DEVICE, DMA_BIDIRECTIONAL, DMA_TO_DEVICE, type DeviceStats } from "./dma/index.js";

// Faults and frame accounting.
export { Diag, KernelFault, formatDiag, diagLineCounts, DIAG_INFO } from "./mem/diag.js";
export { accountFrames, assertAccounted, type FrameAccount, type FrameClaimer } from "./mem/accounting.js";

// Scenarios.
export { runUnbind, unbindVerdict, UNBIND_DEFAULTS, type UnbindOptions, type UnbindResult, type UnbindRun, type UnbindStep, type UnbindVerdict } from "./scenario/unbind.js";
export { measureTrackingCost, type TrackingCost, type TrackingCostOptions } from "./scenario/tracking_cost.js";
export { runFrag, hasFragApi, FRAG_DEFAULTS, type FragOptions, type FragResult, type FragStep } from "./scenario/frag.js";

// Verification and explain.
export { runVerify, verifySummary } from "./verify/index.js";
export { Explainer, parseAddress, type Explanation } from "./verify/explain.js";
export { decodePpMagic, decodeNetmem } from "./verify/explain_fields.js";

// Struct declarations and pahole.
export { layoutOf, offsetOf, bitOf, sizeOf, type StructLayout, type RecordType } from "./mem/ctype.js";
export { pahole } from "./mem/pahole.js";
export { STRUCT_PAGE, STRUCT_NETMEM_DESC, STRUCT_NET_IOV, STRUCT_PAGE_POOL_ITEM, ITEM_BLOCK_OF, BLOCK_VARIANTS, type BlockVariant } from "./mem/structs.js";
export { ARCHES, LP64, ILP32, archConsts, type Arch } from "./arch.js";

// Report builders.
export { buildReport, renderSections, sectionsJson, reportTitle, type ReportSection } from "./report/index.js";
export { unbindTable, unbindWarnings, unbindSections } from "./report/unbind.js";
export { compareReport, renderCompare } from "./report/compare.js";
export { layoutStructs, layoutText, buildStructs } from "./report/layouts.js";
