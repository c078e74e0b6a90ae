/**
 * The booted machine: PhysMem with its page allocator and slab allocator on top. Everything else
 * (IOMMU, devices, page_pools) is built on a Machine. The three objects hold geometry only; another
 * thread attaches to the same buffer with `attachMachine` and sees the same state.
 */
import { PhysMem, type PhysMemOptions } from "./physmem.js";
import { PageAlloc } from "./buddy.js";
import { Slab } from "./slab.js";

export interface Machine {
  readonly mem: PhysMem;
  readonly pa: PageAlloc;
  readonly slab: Slab;
}

/** Boot a fresh machine: memory, memmap and header, buddy free lists, kmalloc caches. */
export function bootMachine(opts: PhysMemOptions = {}): Machine {
  const mem = PhysMem.create(opts);
  const pa = PageAlloc.init(mem);
  const slab = Slab.init(mem, pa);
  return { mem, pa, slab };
}

/** Attach to a machine booted elsewhere (another worker's SharedArrayBuffer, or a saved image). */
export function attachMachine(buffer: ArrayBuffer | SharedArrayBuffer): Machine {
  const mem = PhysMem.attach(buffer);
  const pa = new PageAlloc(mem);
  const slab = new Slab(mem, pa);
  return { mem, pa, slab };
}
