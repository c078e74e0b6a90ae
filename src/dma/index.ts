/** The device + IOMMU model: DMA API, IOVA domains, violation counters (barrel). */
import { STRUCT_PPEMU_IOMMU, STRUCT_PPEMU_IOMMU_DOMAIN, STRUCT_PPEMU_IOPTE } from "./iommu.js";
import { STRUCT_PPEMU_DEVICE } from "./device.js";
import type { RecordType } from "../mem/ctype.js";

export * from "./iommu.js";
export * from "./device.js";

/** The dma structs, for `ppemu layout`. */
export const DMA_STRUCTS: readonly RecordType[] = [
  STRUCT_PPEMU_IOMMU,
  STRUCT_PPEMU_DEVICE,
  STRUCT_PPEMU_IOMMU_DOMAIN,
  STRUCT_PPEMU_IOPTE,
];
