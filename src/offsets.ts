/**
 * `ppemu/offsets`: the raw layout constants (struct page words, the machine header, diag records),
 * for scripts that read the buffer directly. Offsets of a build's `struct page_pool` come from
 * `new PoolOffsets(build.structs)` (the library's main export) since they differ per build.
 */
export * from "./mem/page.js";
export * from "./mem/physmem.js";
export * from "./mem/item_geometry.js";
export { XA_NODE_SIZE, XA_FLAGS_ALLOC1 } from "./mem/xarray.js";
export * from "./u64.js";
