/**
 * The xarray layout: Toke Høiland-Jørgensen's fix as merged (ee62ce7a1d90, v6.16). A page keeps
 * `page->pp`; every DMA-mapped page is registered in the pool's `dma_mapped` xarray under an id
 * allocated from 1, and the id is stored in `pp_magic` bits 7..38 (above PP_SIGNATURE's 0x40, below
 * POISON_POINTER_DELTA) — straddling the two u32 words of the field:
 *
 *   pp_magic  hi word                                  lo word
 *   ┌───────────────────────────┬───────────┐ ┌───────────────────────────────────┬───────┬──┐
 *   │ 0xdead0000 (poison delta) │ id[31:25] │ │ id[24:0]                          │ 0x40  │pT│
 *   └───────────────────────────┴───────────┘ └───────────────────────────────────┴───────┴──┘
 *     bits 63..39                 38..32         31..7                              6..2    1 0
 *
 * Returning a page unregisters it with `xa_cmpxchg(id, page → NULL)`: only the winner unmaps. At
 * destroy, `xa_for_each` unmaps every entry through the same cmpxchg, so late returns lose the race,
 * find id 0, and never touch the DMA API.
 */
import type { Machine } from "../mem/machine.js";
import type { PhysMem } from "../mem/physmem.js";
import type { Dma } from "../dma/index.js";
import { LP64, archConsts } from "../arch.js";
import * as PAGE from "../mem/page.js";
const { PAGE_PP_MAGIC, PAGE_PP } = PAGE;
import { XArray, XA_FLAGS_ALLOC1, XA_NODE_SIZE } from "../mem/xarray.js";
import { MACH_PP_CHECKS } from "../mem/physmem.js";
import { Diag } from "../mem/diag.js";
import { setPpInfoPp, clearPpInfoPp, PP_SIGNATURE_HI, PP_SIGNATURE_LO } from "./classic.js";
import { ppDmaUnmap } from "./pp_dma.js";
import * as T from "./types.js";

// Offsets as module-local consts: V8 folds immutable module-local bindings into the code it
// generates, while every use of an imported binding stays a load from its module cell.
const {
  PP_DMA_MAP,
  PP_DMA_MAPPED,
  PP_DMA_SYNC,
} = T;

const G = archConsts(LP64).dmaIndex;
export const PP_DMA_INDEX_SHIFT = G.PP_DMA_INDEX_SHIFT;
/** The id limit `XA_LIMIT(1, BIT(PP_DMA_INDEX_BITS) - 1)`. */
export const PP_DMA_INDEX_LIMIT = G.PP_DMA_INDEX_LIMIT;
const INDEX_MASK_LO = G.PP_DMA_INDEX_MASK.lo;
const INDEX_MASK_HI = G.PP_DMA_INDEX_MASK.hi;
const MAGIC_MASK_LO = G.PP_MAGIC_MASK.lo;
const MAGIC_MASK_HI = G.PP_MAGIC_MASK.hi;
/** Bits of the id that land in the low word. */
const LO_BITS = 32 - PP_DMA_INDEX_SHIFT;

/** `netmem_get_dma_index()`: `(pp_magic & PP_DMA_INDEX_MASK) >> PP_DMA_INDEX_SHIFT`, from two words. */
export function getDmaIndex(u32: Uint32Array, page: number): number {
  const w = (page + PAGE_PP_MAGIC) >>> 2;
  const lo = (u32[w]! & INDEX_MASK_LO) >>> PP_DMA_INDEX_SHIFT;
  const hi = u32[w + 1]! & INDEX_MASK_HI;
  return (lo + hi * (1 << LO_BITS)) >>> 0;
}

/** `netmem_set_dma_index()`: the magic without its index bits, ORed with `id << SHIFT`. */
export function setDmaIndex(u32: Uint32Array, page: number, id: number): void {
  const w = (page + PAGE_PP_MAGIC) >>> 2;
  u32[w] = ((u32[w]! & ~INDEX_MASK_LO) | ((id << PP_DMA_INDEX_SHIFT) & INDEX_MASK_LO)) >>> 0;
  u32[w + 1] = ((u32[w + 1]! & ~INDEX_MASK_HI) | ((id >>> LO_BITS) & INDEX_MASK_HI)) >>> 0;
}

export class XarrayTracking implements T.Tracking {
  readonly name = "xarray" as const;
  readonly syncAfterRecycle = false;
  readonly xa: XArray;
  private readonly mem: PhysMem;
  private readonly u32: Uint32Array;
  /** Misuse checks (CONFIG_DEBUG_NET): fixed at boot in the machine header. */
  private readonly checks: boolean;

  constructor(
    m: Machine,
    private readonly dma: Dma,
  ) {
    this.mem = m.mem;
    this.u32 = m.mem.u32;
    this.checks = m.mem.rd32(m.mem.machine + MACH_PP_CHECKS) !== 0;
    this.xa = new XArray(m);
  }

  init(pool: number): number {
    this.xa.xaInit(pool + PP_DMA_MAPPED, XA_FLAGS_ALLOC1);
    return 0;
  }

  setPpInfo(pool: number, page: number): boolean {
    setPpInfoPp(this.u32, pool, page);
    return true;
  }

  clearPpInfo(_pool: number, page: number): void {
    const u32 = this.u32;
    const w = (page + PAGE_PP_MAGIC) >>> 2;
    // netmem_clear_pp_magic(): WARN_ON_ONCE(pp_magic & PP_DMA_INDEX_MASK), a page leaving with its id.
    if (this.checks && ((u32[w]! & INDEX_MASK_LO) | (u32[w + 1]! & INDEX_MASK_HI)) !== 0) {
      this.mem.diag(Diag.PP_WARN, page, getDmaIndex(u32, page));
    }
    clearPpInfoPp(u32, page);
  }

  /** `page_pool_register_dma_index()`: xa_alloc an id for the page and keep it in pp_magic. */
  onMapped(pool: number, page: number): boolean {
    if (PP_DMA_INDEX_LIMIT === 0) return true; // BITS == 0: tracking off (v6.18 rule)
    const id = this.xa.xaAlloc(pool + PP_DMA_MAPPED, page, 1, PP_DMA_INDEX_LIMIT);
    if (id < 0) return false;
    setDmaIndex(this.u32, page, id);
    return true;
  }

  /** `__page_pool_release_page_dma()` (v6.16): only the cmpxchg winner unmaps. */
  releaseDma(pool: number, page: number): void {
    const u32 = this.u32;
    if (u32[(pool + PP_DMA_MAP) >>> 2] === 0) return;
    // page_pool_release_dma_index(): with BITS == 0 nothing is tracked and every return unmaps.
    if (PP_DMA_INDEX_LIMIT !== 0) {
      const id = getDmaIndex(u32, page);
      if (id === 0) return;
      const old = this.xa.xaCmpxchg(pool + PP_DMA_MAPPED, id, page, 0);
      if (old !== page) return;
      setDmaIndex(u32, page, 0);
    }
    ppDmaUnmap(this.mem, this.dma, pool, page);
  }

  /** `page_pool_page_is_pp()` (v6.16): `(pp_magic & PP_MAGIC_MASK) == PP_SIGNATURE`. */
  isPpPage(page: number): boolean {
    const w = (page + PAGE_PP_MAGIC) >>> 2;
    return (this.u32[w]! & MAGIC_MASK_LO) >>> 0 === PP_SIGNATURE_LO && (this.u32[w + 1]! & MAGIC_MASK_HI) >>> 0 === PP_SIGNATURE_HI;
  }

  poolOf(page: number): number {
    return this.u32[(page + PAGE_PP) >>> 2]!;
  }

  /** First scrub of a DMA pool: stop syncing, then unmap every registered page (`xa_for_each`). */
  onFirstScrub(pool: number): void {
    const mem = this.mem;
    if (mem.rd32(pool + PP_DMA_MAP) === 0) return;
    if (mem.rd32(pool + PP_DMA_SYNC) !== 0) mem.wr32(pool + PP_DMA_SYNC, 0); // + synchronize_net()
    const xa = pool + PP_DMA_MAPPED;
    for (let id = this.xa.xaFind(xa, 0); id >= 0; id = this.xa.xaFind(xa, id + 1)) {
      this.releaseDma(pool, this.xa.xaLoad(xa, id));
      if (id === 0xffffffff) break;
    }
  }

  /** Nothing more: the first scrub already unmapped everything registered. */
  onDestroyInflight(_pool: number): void {}

  uninit(pool: number): void {
    this.xa.xaDestroy(pool + PP_DMA_MAPPED);
  }

  /** Bytes of xa_node memory this pool's xarray holds (576 per node). */
  trackingBytes(pool: number): number {
    return this.xa.xaNodeCount(pool + PP_DMA_MAPPED) * XA_NODE_SIZE;
  }
}
