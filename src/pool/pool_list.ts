/**
 * The emulator's own per-pool and per-NAPI bookkeeping, kept apart from the kernel's structs so
 * `ppemu layout page_pool` shows the kernel's `struct page_pool` and nothing else.
 *
 *   machine header                 struct ppemu_pool (kmalloc'ed)         struct page_pool
 *   ┌──────────────┐   list        ┌──────────────────────┐  pool         ┌──────────────────┐
 *   │ pools ───────┼──────────────▶│ list                 │──────────────▶│ (the build's own │
 *   └──────────────┘               │ pool, id, napi       │               │  declaration)    │
 *                                  └──────────────────────┘               └──────────────────┘
 *
 * The kernel has no machine-wide list of pools (page_pool_user.c keeps an xarray of ids and a
 * per-netdev hlist); the emulator needs one for its timers, frame accounting and `explain`.
 *
 * `struct ppemu_napi` stands in for `struct napi_struct`: the two words page_pool reads through
 * `pool->p.napi` (`list_owner`: the CPU polling it, -1 when not scheduled; `state`: NAPI_STATE_SCHED
 * is set while the NAPI is disabled) and the id netlink prints.
 */
import { LP64 } from "../arch.js";
import { layoutOf, offsetOf, struct, m, ptr, U32, INT, ULONG, LIST_HEAD } from "../mem/ctype.js";
import {
  MACH_PAGE_POOLS_LOCK,
  MACH_POOLS,
  MACH_NEXT_POOL_ID,
  MACH_NEXT_POOL_GENERATION,
  MACH_FREED_POOLS,
  MACH_FREED_POOLS_HEAD,
  NR_FREED_POOLS,
  type PhysMem,
} from "../mem/physmem.js";
import { GFP_ZERO } from "../mem/buddy.js";
import { spinLock, spinUnlock } from "../smp/spinlock.js";
import type { Machine } from "../mem/machine.js";
import { PpemuError } from "../errors.js";

export const STRUCT_PPEMU_POOL = struct("ppemu_pool", [
  m("list", LIST_HEAD),
  m("pool", ptr("struct page_pool")),
  /** The pool's id: `user.id` where the build has it (v6.8+), else the emulator's own. */
  m("id", U32),
  /** From the machine-wide counter (`next_pool_generation`), one per pool created: a stale handle's check. */
  m("generation", U32),
  /** A NAPI instance the emulator made for `napiCpu` (freed with the pool), or NULL. */
  m("own_napi", ptr("struct ppemu_napi")),
]);

export const STRUCT_PPEMU_NAPI = struct("ppemu_napi", [
  m("state", ULONG),
  m("list_owner", INT),
  m("napi_id", U32),
]);

const POOL_REC = layoutOf(STRUCT_PPEMU_POOL, LP64);
export const PPEMU_POOL_SIZE = POOL_REC.size;
const REC_LIST = offsetOf(POOL_REC, "list");
const REC_POOL = offsetOf(POOL_REC, "pool");
const REC_ID = offsetOf(POOL_REC, "id");
const REC_GENERATION = offsetOf(POOL_REC, "generation");
const REC_OWN_NAPI = offsetOf(POOL_REC, "own_napi");
const NAPI = layoutOf(STRUCT_PPEMU_NAPI, LP64);
export const NAPI_STATE = offsetOf(NAPI, "state");
export const NAPI_LIST_OWNER = offsetOf(NAPI, "list_owner");
export const NAPI_ID = offsetOf(NAPI, "napi_id");
/** `NAPI_STATE_SCHED` (bit 0 of `napi->state`): set while scheduled, and while disabled. */
export const NAPI_STATE_SCHED = 1 << 0;

/** Link a new pool into the machine's list. Returns the record (0 when out of memory). */
export function poolListAdd(m: Machine, pool: number, id: number, ownNapi: number): number {
  const mem = m.mem;
  const rec = m.slab.kmalloc(PPEMU_POOL_SIZE, GFP_ZERO);
  if (rec === 0) return 0;
  mem.wrPtr(rec + REC_POOL, pool);
  mem.wr32(rec + REC_ID, id);
  mem.wrPtr(rec + REC_OWN_NAPI, ownNapi);
  spinLock(mem, mem.machine + MACH_PAGE_POOLS_LOCK);
  mem.wr32(rec + REC_GENERATION, nextPoolGeneration(mem));
  mem.listAddTail(rec + REC_LIST, mem.machine + MACH_POOLS);
  spinUnlock(mem, mem.machine + MACH_PAGE_POOLS_LOCK);
  return rec;
}

/**
 * Unlink and free a pool's record, and the NAPI instance the emulator made for it; remember the
 * pool among the machine's last NR_FREED_POOLS freed ones (`wasFreedPool`).
 */
export function poolListDel(m: Machine, rec: number): void {
  const mem = m.mem;
  const ring = mem.machine + MACH_FREED_POOLS;
  const headAddr = mem.machine + MACH_FREED_POOLS_HEAD;
  spinLock(mem, mem.machine + MACH_PAGE_POOLS_LOCK);
  const head = mem.rd32(headAddr) % NR_FREED_POOLS;
  mem.wr32(ring + head * 4, mem.rdPtr(rec + REC_POOL));
  mem.wr32(headAddr, (head + 1) % NR_FREED_POOLS);
  mem.listDel(rec + REC_LIST);
  spinUnlock(mem, mem.machine + MACH_PAGE_POOLS_LOCK);
  const napi = mem.rdPtr(rec + REC_OWN_NAPI);
  if (napi !== 0) m.slab.kfree(napi);
  m.slab.kfree(rec);
}

/**
 * The most records a sound pool list can hold: one per record-sized piece of memory. A walk that goes
 * further is going round a loop an edited image put there.
 */
function maxRecords(mem: PhysMem): number {
  return Math.floor(mem.bytes / PPEMU_POOL_SIZE);
}

function corrupt(): never {
  throw new PpemuError("CORRUPT_MACHINE", "ppemu: the machine's pool list does not end (a corrupt machine or image)");
}

/** The record of a live pool, or 0 (under `page_pools_lock`). */
export function poolRecord(mem: PhysMem, pool: number): number {
  const head = mem.machine + MACH_POOLS;
  let left = maxRecords(mem);
  spinLock(mem, mem.machine + MACH_PAGE_POOLS_LOCK);
  try {
    for (let e = mem.rdPtr(head); e !== head; e = mem.rdPtr(e)) {
      if (mem.rdPtr(e - REC_LIST + REC_POOL) === pool) return e - REC_LIST;
      if (--left < 0) corrupt();
    }
    return 0;
  } finally {
    spinUnlock(mem, mem.machine + MACH_PAGE_POOLS_LOCK);
  }
}

/**
 * Was `pool` one of the machine's last NR_FREED_POOLS freed pools? (A live pool at that address is
 * the caller's to rule out first: its memory may hold a newer pool.)
 */
export function wasFreedPool(mem: PhysMem, pool: number): boolean {
  if (pool === 0) return false;
  const ring = mem.machine + MACH_FREED_POOLS;
  for (let i = 0; i < NR_FREED_POOLS; i++) if (mem.rd32(ring + i * 4) === pool) return true;
  return false;
}

/**
 * Every live pool, oldest first. The list is read under `page_pools_lock` and the callback runs
 * after it is dropped (it may free the pool it is given, or any later one: a pool freed meanwhile
 * is skipped).
 */
export function forEachPoolOnMachine(mem: PhysMem, cb: (pool: number) => void): void {
  const head = mem.machine + MACH_POOLS;
  let left = maxRecords(mem);
  const pools: number[] = [];
  spinLock(mem, mem.machine + MACH_PAGE_POOLS_LOCK);
  try {
    for (let e = mem.rdPtr(head); e !== head; e = mem.rdPtr(e)) {
      pools.push(mem.rdPtr(e - REC_LIST + REC_POOL));
      if (--left < 0) corrupt();
    }
  } finally {
    spinUnlock(mem, mem.machine + MACH_PAGE_POOLS_LOCK);
  }
  for (let k = 0; k < pools.length; k++) if (k === 0 || poolRecord(mem, pools[k]!) !== 0) cb(pools[k]!);
}

/** The pool's id as its record keeps it. */
export function poolRecordId(mem: PhysMem, rec: number): number {
  return mem.rd32(rec + REC_ID);
}

/** The pool's generation as its record keeps it. */
export function poolRecordGeneration(mem: PhysMem, rec: number): number {
  return mem.rd32(rec + REC_GENERATION);
}

/** The next pool generation (cyclic from 1; an image older than the counter starts at 0). Under `page_pools_lock`. */
function nextPoolGeneration(mem: PhysMem): number {
  const a = mem.machine + MACH_NEXT_POOL_GENERATION;
  const gen = mem.rd32(a);
  mem.wr32(a, gen === 0xffffffff ? 1 : gen + 1);
  return gen;
}

/** `page_pool_list()`'s id: the next of the machine's page_pools ids (cyclic from 1, as the xarray). */
export function nextPoolId(mem: PhysMem): number {
  const a = mem.machine + MACH_NEXT_POOL_ID;
  spinLock(mem, mem.machine + MACH_PAGE_POOLS_LOCK);
  const id = mem.rd32(a);
  mem.wr32(a, id === 0xffffffff ? 1 : id + 1);
  spinUnlock(mem, mem.machine + MACH_PAGE_POOLS_LOCK);
  return id;
}
