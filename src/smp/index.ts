/** SMP: per-CPU context, spinlocks, RCU, and CPUs as worker threads. */
export {
  MAX_NR_CPUS,
  DEFAULT_NR_CPUS,
  STRUCT_PPEMU_CPU,
  inSoftirq,
  inServingSoftirq,
  softirqEnter,
  softirqExit,
  localBhDisable,
  localBhEnable,
  preemptCount,
  preemptDisable,
  preemptEnable,
  setServingSoftirq,
} from "./percpu.js";
export { spinLock, spinUnlock, spinTrylock, spinIsLocked, spinOwner } from "./spinlock.js";
export {
  rcuReadLock,
  rcuReadUnlock,
  rcuReadLockHeld,
  synchronizeRcu,
  synchronizeNet,
  callRcu,
  kfreeRcu,
  rcuPoll,
  rcuBarrier,
  rcuPendingCallbacks,
  getStateSynchronizeRcu,
  pollStateSynchronizeRcu,
} from "./rcu.js";
export {
  runCpus,
  startCpus,
  terminateAllCpus,
  CpuError,
  CTRL_STOP,
  CTRL_USER,
  type CpuProgram,
  type CpuProgramContext,
  type CpuTask,
  type CpuRun,
  type RunCpusOptions,
} from "./runner.js";
