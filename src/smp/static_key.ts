/**
 * Static keys (`include/linux/jump_label.h`): a branch the kernel patches in its text when the
 * key's `enabled` count goes 0 → 1 or 1 → 0, so testing it costs no data load at all.
 *
 * The count lives in the machine header (every CPU and a saved image see it); the test reads it
 * through `mem.text32`, the one view the cost model never wraps, because the instruction it stands
 * for is a nop or a jmp, not a read of memory. `static_branch_inc()` / `_dec()` patch the text under
 * `jump_label_mutex` with `text_poke_bp()`'s IPIs, so every CPU sees the new branch before they
 * return: an Atomics read-modify-write on the shared word is that ordering here.
 *
 * One key today: `page_pool_mem_providers` (net/core/page_pool.c from v6.12, search id 66437018347), which keeps
 * the memory-provider tests `pool->mp_priv` / `pool->mp_ops` off every pool's slow paths until some
 * pool has a provider.
 */
import type { PhysMem } from "../mem/physmem.js";

/** `static_branch_inc(key)`: the key at byte address `addr` (a machine header word). */
export function staticBranchInc(mem: PhysMem, addr: number): void {
  Atomics.add(mem.text32, addr >>> 2, 1);
}

/** `static_branch_dec(key)`. Below zero is the kernel's "jump label: negative count!" WARN. */
export function staticBranchDec(mem: PhysMem, addr: number): void {
  const was = Atomics.sub(mem.text32, addr >>> 2, 1);
  if (was === 0) throw new Error(`ppemu: static key at 0x${addr.toString(16)}: negative count`);
}

/** `static_branch_unlikely(key)`: the word index `keyIdx` in `text32` (cache it; this is the test). */
export function staticKeyEnabled(text32: Uint32Array, keyIdx: number): boolean {
  return text32[keyIdx] !== 0;
}
