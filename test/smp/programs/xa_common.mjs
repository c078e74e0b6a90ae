// Shared by the xa_* worker programs and test/smp/xarray_rcu.test.ts: the control block layout.
// Int32 words of the control SharedArrayBuffer (never part of the machine):
export const READY = 0; // the reader is attached and walking
export const DONE = 1; // the writer finished its last operation
export const WALKS = 2; // walks the reader completed
/** tokens[id] at TOK + id: 0 = id not registered; t > 0 = registered with entry ENTRY_BASE + 4 t. */
export const TOK = 8;
export const ENTRY_BASE = 0x0100_0000;
export const entryOf = (token) => (ENTRY_BASE + token * 4) >>> 0;
export const tokenOf = (entry) => (entry - ENTRY_BASE) / 4;
/** idOf[t] at idOfBase(maxId) + t: the id xa_alloc gave token t (written once, after it returned). */
export const idOfBase = (maxId) => TOK + maxId + 1;
export const controlWords = (maxId, ops) => idOfBase(maxId) + ops + 1;
