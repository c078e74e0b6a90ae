/** The verifier: exhaustive checks of the masking and encoding math (`ppemu verify`). */
export * from "./result.js";
export * from "./items.js";
export * from "./masks.js";
export * from "./false_positives.js";
export * from "./netmem.js";
export * from "./run.js";
