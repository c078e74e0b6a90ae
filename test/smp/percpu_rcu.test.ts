/**
 * The per-CPU area, spinlock_t and RCU on one thread playing several CPUs: exact layout, bits and
 * grace-period behaviour (the multi-worker behaviour is in the other test/smp files).
 */
import { describe, expect, it } from "vitest";
import { bootMachine } from "../../src/mem/machine.js";
import { MACH_CPUS, MACH_RCU_GP_SEQ, MACHINE_LAYOUT } from "../../src/mem/physmem.js";
import {
  PPEMU_CPU_LAYOUT,
  CPU_SLOT_SIZE,
  cpuSlotOffset,
  inSoftirq,
  inServingSoftirq,
  softirqEnter,
  softirqExit,
  localBhDisable,
  localBhEnable,
  preemptCount,
  SOFTIRQ_OFFSET,
  SOFTIRQ_MASK,
  CPU_RCU_QS_CTR,
} from "../../src/smp/percpu.js";
import { spinLock, spinUnlock, spinTrylock, spinOwner, SPIN_WAITERS } from "../../src/smp/spinlock.js";
import {
  rcuReadLock,
  rcuReadUnlock,
  synchronizeRcu,
  kfreeRcu,
  callRcu,
  rcuPoll,
  rcuPendingCallbacks,
  rcuBarrier,
  forEachRcuCallback,
  setRcuCallback,
  RCU_CB_BASE,
  type RcuCallback,
} from "../../src/smp/rcu.js";
import { PpemuError } from "../../src/errors.js";
import { GFP_ZERO } from "../../src/mem/buddy.js";

describe("struct ppemu_cpu and the per-CPU area", () => {
  it("is 32 bytes with these offsets, 64 slots from header offset 1408 (aligned to a line), CPU k and k+32 sharing a line", () => {
    expect(PPEMU_CPU_LAYOUT.size).toBe(32);
    expect(CPU_SLOT_SIZE).toBe(32);
    expect(PPEMU_CPU_LAYOUT.off).toEqual({
      cpu: 0,
      preempt_count: 4,
      rcu_read_lock_nesting: 8,
      rcu_qs_ctr: 12,
      rcu_cblist: 16,
      rcu_cb_gp_seq: 24,
      rcu_cb_count: 28,
    });
    expect(MACH_CPUS).toBe(1408);
    expect(MACH_CPUS % 64).toBe(0);
    expect(MACHINE_LAYOUT.size).toBeLessThanOrEqual(4096);
    expect([0, 1, 2, 31, 32, 33, 63].map(cpuSlotOffset)).toEqual([0, 64, 128, 1984, 32, 96, 2016]);
  });

  it("each slot names its CPU; bindCpu points the thread at one, and refuses a CPU the machine lacks", () => {
    const { mem } = bootMachine({ bytes: 2 << 20, cpus: 4 });
    for (let cpu = 0; cpu < 64; cpu++) expect(mem.rd32(mem.cpuAreaOf(cpu))).toBe(cpu);
    expect([mem.cpu, mem.cpuArea]).toEqual([0, mem.machine + 1408]);
    mem.bindCpu(33 % 4);
    expect([mem.cpu, mem.cpuArea]).toEqual([1, mem.machine + 1408 + 64]);
    expect(() => mem.bindCpu(4)).toThrow("bindCpu: cpu must be an integer 0 … 3, got 4");
  });

  it("preempt_count: serving softirq is 0x100, BH off 0x200, in_softirq() is either", () => {
    const { mem } = bootMachine({ bytes: 2 << 20 });
    expect([SOFTIRQ_OFFSET, SOFTIRQ_MASK]).toEqual([0x100, 0xff00]);
    softirqEnter(mem);
    expect([preemptCount(mem), inSoftirq(mem), inServingSoftirq(mem)]).toEqual([0x100, true, true]);
    localBhDisable(mem);
    expect(preemptCount(mem)).toBe(0x300);
    softirqExit(mem);
    expect([preemptCount(mem), inSoftirq(mem), inServingSoftirq(mem)]).toEqual([0x200, true, false]);
    const qs = mem.rd32(mem.cpuArea + CPU_RCU_QS_CTR);
    localBhEnable(mem);
    // Leaving the last BH-off region is a quiescent state.
    expect([preemptCount(mem), inSoftirq(mem), mem.rd32(mem.cpuArea + CPU_RCU_QS_CTR)]).toEqual([0, false, qs + 1]);
    // CPU 1's context is its own.
    mem.bindCpu(1);
    expect(preemptCount(mem)).toBe(0);
  });
});

describe("spinlock_t", () => {
  it("holds the owner CPU + 1; relocking on the owner is a spinlock recursion, not a hang", () => {
    const m = bootMachine({ bytes: 2 << 20, cpus: 2 });
    const mem = m.mem;
    const lock = m.slab.kmalloc(8, GFP_ZERO);
    mem.bindCpu(1);
    spinLock(mem, lock);
    expect([mem.rd32(lock), spinOwner(mem.i32, lock)]).toEqual([2, 1]);
    expect(() => spinLock(mem, lock)).toThrow(new PpemuError("DEADLOCK", `BUG: spinlock recursion on CPU#1, lock: 0x${lock.toString(16)}, .owner_cpu: 1`));
    // CPU 0 on an ArrayBuffer: no other thread can ever release it.
    mem.bindCpu(0);
    expect(spinTrylock(mem, lock)).toBe(false);
    expect(() => spinLock(mem, lock)).toThrow(`BUG: spinlock lockup suspected on CPU#0, lock: 0x${lock.toString(16)}, .owner_cpu: 1`);
    mem.bindCpu(1);
    spinUnlock(mem, lock);
    expect(mem.rd32(lock)).toBe(0);
    expect(() => spinUnlock(mem, lock)).toThrow("BUG: spinlock already unlocked on CPU#1");
    expect(SPIN_WAITERS).toBe(-0x80000000);
  });
});

describe("RCU", () => {
  it("kfree_rcu frees at once when no CPU reads; waits for a reader on another CPU, then frees in queue order", () => {
    const m = bootMachine({ bytes: 2 << 20, cpus: 2 });
    const { mem, slab } = m;
    const cache = slab.kmallocCache(64);
    const used0 = slab.cacheStats(cache).inUse;
    kfreeRcu(m, slab.kmalloc(64), 16);
    expect(slab.cacheStats(cache).inUse).toBe(used0);
    expect(rcuPendingCallbacks(mem, 0)).toBe(0);

    mem.bindCpu(1);
    rcuReadLock(mem);
    mem.bindCpu(0);
    const objs = [slab.kmalloc(64), slab.kmalloc(64), slab.kmalloc(64)];
    for (const o of objs) kfreeRcu(m, o, 16);
    expect(rcuPendingCallbacks(mem, 0)).toBe(3);
    expect(slab.cacheStats(cache).inUse).toBe(used0 + 3);
    expect(() => synchronizeRcu(mem)).toThrow("INFO: rcu_sched detected stalls on CPUs/tasks: { 1 } (detected by 0, g=");
    mem.bindCpu(1);
    rcuReadUnlock(mem);
    mem.bindCpu(0);
    expect(rcuPoll(m)).toBe(3);
    expect(slab.cacheStats(cache).inUse).toBe(used0);
    expect(mem.rd32(mem.machine + MACH_RCU_GP_SEQ) % 2).toBe(0);
  });

  it("callbacks run in the order they were queued, after the grace period their reader held off", () => {
    const m = bootMachine({ bytes: 2 << 20, cpus: 2 });
    const mem = m.mem;
    const ran: number[] = [];
    const TEST_CB = 99 as RcuCallback;
    setRcuCallback(TEST_CB, (_m, head) => ran.push(head));
    const heads = [m.slab.kmalloc(16, GFP_ZERO), m.slab.kmalloc(16, GFP_ZERO), m.slab.kmalloc(16, GFP_ZERO)];
    mem.bindCpu(1);
    rcuReadLock(mem);
    mem.bindCpu(0);
    for (const h of heads) callRcu(m, h, RCU_CB_BASE + TEST_CB);
    expect(ran).toEqual([]);
    const queued: number[] = [];
    forEachRcuCallback(mem, 0, (head, func) => queued.push(head, func));
    expect(queued).toEqual([heads[2], 0x1063, heads[1], 0x1063, heads[0], 0x1063]);
    mem.bindCpu(1);
    rcuReadUnlock(mem);
    mem.bindCpu(0);
    expect(rcuPoll(m)).toBe(3);
    expect(ran).toEqual(heads);
  });

  it("a softirq on another CPU is a read section; synchronize_rcu inside a read section is refused", () => {
    const m = bootMachine({ bytes: 2 << 20, cpus: 2 });
    const mem = m.mem;
    mem.bindCpu(1);
    softirqEnter(mem);
    mem.bindCpu(0);
    expect(() => synchronizeRcu(mem)).toThrow(/rcu_sched detected stalls on CPUs\/tasks: \{ 1 \}/);
    mem.bindCpu(1);
    softirqExit(mem);
    mem.bindCpu(0);
    synchronizeRcu(mem);
    rcuReadLock(mem);
    expect(() => synchronizeRcu(mem)).toThrow("WARNING: suspicious RCU usage: Illegal synchronize_rcu() in RCU read-side critical section (CPU#0)");
    rcuReadUnlock(mem);
    expect(() => rcuReadUnlock(mem)).toThrow("WARNING: rcu_read_unlock() without rcu_read_lock() on CPU#0");
    rcuBarrier(m);
  });
});
