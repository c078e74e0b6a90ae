/**
 * `ppemu stress`: real CPUs on one machine, round after round of a driver's life (src/scenario/
 * stress_cpu.ts): CPU 0 polls NAPI and hands pages to CPUs 1…N−1, which return them cross-CPU
 * while CPU 0 destroys the pool and unbinds the device mid-run; after each round the invariants
 * of src/scenario/stress_check.ts must hold. On a violation the run stops with what broke and the
 * memory image of the machine as it was.
 */
import { dmesgText } from "../report/dmesg.js";
import { traceText, type TraceOptions } from "../trace/ftrace.js";
import { bootPpSystem } from "../pool/index.js";
import { resolveBuild } from "../builds/index.js";
import type { KernelBuild } from "../builds/types.js";
import { startCpus, compiledModule, CpuError, type CpuTask } from "../smp/runner.js";
import { MAX_NR_CPUS } from "../smp/percpu.js";
import { saveImage } from "../mem/image.js";
import { PpemuError, checkInt, showValue } from "../errors.js";
import { controlBytes, queueIdx, Q_RETURNED, Q_RETURNED_SOFTIRQ, S_ROUND } from "./stress_layout.js";
import type { StressArgs, StressCpu0Result, StressReturnerResult, ViolationKind } from "./stress_cpu.js";

export interface StressOptions {
  /** The kernel build (a KernelBuild, a build name, or a layout name). */
  readonly kernel: KernelBuild | string;
  /** Keep the machine's kernel log as dmesg prints it in `StressRun.dmesg`. */
  readonly dmesg?: boolean;
  /** Record these tracepoints on every CPU (src/trace/ftrace.ts); `StressRun.trace` is the merged text. */
  readonly trace?: TraceOptions;
  /** CPUs of the machine: CPU 0 drives, the others return. 2 … 64. @defaultValue 2 */
  readonly cpus?: number;
  /** Real seconds of rounds. @defaultValue 5 */
  readonly seconds?: number;
  /** Seeds the CPUs' choices (which CPU gets a page, what is held, softirq or not). @defaultValue 1 */
  readonly seed?: number;
  /** Real ms of NAPI polling per round before the destroy. @defaultValue 100 */
  readonly roundMs?: number;
  /** `pool_size`. @defaultValue 256 */
  readonly poolSize?: number;
  /** Machine memory. @defaultValue 64 MiB */
  readonly memBytes?: number;
  /**
   * The emulated kernel's preemption model (see StressArgs.preempt): "voluntary" (the default, as
   * most distribution kernels) or "full" (CONFIG_PREEMPT). @defaultValue "voluntary"
   */
  readonly preempt?: "voluntary" | "full";
  /**
   * Count what the emulated kernel does wrong (a race the build has: DMA-API errors, WARNs) and go
   * on; a broken machine invariant still stops the run. @defaultValue false: stop at the first
   */
  readonly keepGoing?: boolean;
  /** A self-test of the checks: hand a page out twice in round 2 (the run must stop there). */
  readonly inject?: "hand-out-twice";
  /** Called about once a second with the rounds done so far (progress). */
  readonly onProgress?: (p: { kernel: string; rounds: number; elapsedMs: number; totalMs: number }) => void;
}

export interface StressResult {
  readonly kernel: string;
  readonly layout: string;
  readonly cpus: number;
  readonly seconds: number;
  readonly seed: number;
  readonly preempt: "voluntary" | "full";
  readonly rounds: number;
  /** Pages CPU 0 handed to the other CPUs. */
  readonly handed_out: number;
  /** Pages the other CPUs returned (page_pool_put_full_page, allow_direct false). */
  readonly returned_cross_cpu: number;
  readonly returned_in_softirq: number;
  /** Of those, returned while the pool was being destroyed or after. */
  readonly returned_after_destroy: number;
  readonly recycled_direct: number;
  /** Classic's bug, by design: mappings alive at unbind, unmapped (and synced) after it. */
  readonly outlived_driver: number;
  readonly unmaps_after_unbind: number;
  readonly syncs_after_unbind: number;
  readonly stalled_warnings: number;
  /**
   * What the emulated kernel did that a correct run does not, counted one by one: the device's
   * DMA-API errors (every one, though dma-debug prints only its first), and the WARNs and BUGs it
   * printed; not classic's by-design unmaps after unbind. A race the build has.
   */
  readonly kernel_diagnostics: number;
  readonly rounds_with_kernel_diagnostics: number;
  readonly first_kernel_diagnostic: string | null;
  /** 0, or 1: the run stops at the first violation (with keepGoing, only at a broken invariant). */
  readonly violations: number;
  readonly violation: string | null;
  /** "invariant", "kernel" or "crash" (see ViolationKind in src/scenario/stress_cpu.ts). */
  readonly violation_kind: ViolationKind | null;
  readonly violation_round: number | null;
}

export interface StressRun {
  readonly result: StressResult;
  /** The machine's memory image when a violation stopped the run (`ppemu explain --image`). */
  readonly image: Uint8Array | null;
  /** With `trace`: the CPUs' tracepoint buffers merged as trace_pipe prints them. */
  readonly trace?: string;
  /** With `dmesg`: the machine's kernel log as dmesg prints it (src/report/dmesg.ts). */
  readonly dmesg?: string;
}

const PROGRAM = compiledModule(import.meta.url, "./stress_cpu.js");

/** CPU 0's result when its worker never returned one. */
const NO_DRIVER: StressCpu0Result = {
  rounds: 0,
  handedOut: 0,
  recycledDirect: 0,
  returnedBeforeDestroy: 0,
  unmapsAfterUnbind: 0,
  syncsAfterUnbind: 0,
  outlivedDriver: 0,
  stalledWarnings: 0,
  kernelEvents: 0,
  kernelRounds: 0,
  firstKernel: null,
  violation: null,
  violationKind: null,
  violationRound: 0,
};

export const STRESS_DEFAULTS = { cpus: 2, seconds: 5, seed: 1, roundMs: 100, poolSize: 256, memBytes: 64 << 20 } as const;

function checkOptions(o: StressOptions): void {
  if (o.cpus !== undefined) checkInt("stress: cpus", o.cpus, 2, MAX_NR_CPUS);
  if (o.seconds !== undefined && (typeof o.seconds !== "number" || !(o.seconds > 0) || o.seconds > 86_400)) {
    throw new PpemuError("EINVAL_ARG", `stress: seconds must be a number above 0 and at most 86400, got ${showValue(o.seconds)}`);
  }
  if (o.seed !== undefined) checkInt("stress: seed", o.seed, 0, 0xffffffff);
  if (o.roundMs !== undefined) checkInt("stress: roundMs", o.roundMs, 1, 60_000);
  if (o.poolSize !== undefined) checkInt("stress: poolSize", o.poolSize, 1, 32768);
  if (o.preempt !== undefined && o.preempt !== "voluntary" && o.preempt !== "full") {
    throw new PpemuError("EINVAL_ARG", `stress: preempt must be "voluntary" or "full", got ${showValue(o.preempt)}`);
  }
  if (o.memBytes !== undefined) checkInt("stress: memBytes", o.memBytes, 16 << 20, 2 ** 31);
}

/** One stress run of one build. */
export async function runStress(opts: StressOptions): Promise<StressRun> {
  checkOptions(opts);
  const build = typeof opts.kernel === "string" ? resolveBuild(opts.kernel) : opts.kernel;
  if (!build) throw new PpemuError("UNKNOWN_BUILD", `stress: unknown kernel build ${showValue(opts.kernel)}`);
  const cpus = opts.cpus ?? STRESS_DEFAULTS.cpus;
  const seconds = opts.seconds ?? STRESS_DEFAULTS.seconds;
  const seed = opts.seed ?? STRESS_DEFAULTS.seed;
  const sys = bootPpSystem(build, { bytes: opts.memBytes ?? STRESS_DEFAULTS.memBytes, shared: true, cpus, poison: true, ppChecks: true });
  const mem = sys.m.mem;
  const control = new SharedArrayBuffer(controlBytes(cpus, mem.nrFrames));
  const ctl = new Int32Array(control);
  const args: StressArgs = {
    seconds,
    roundMs: opts.roundMs ?? STRESS_DEFAULTS.roundMs,
    seed,
    poolSize: opts.poolSize ?? STRESS_DEFAULTS.poolSize,
    batch: 64,
    preempt: opts.preempt ?? "voluntary",
    keepGoing: opts.keepGoing === true,
    ...(opts.inject ? { inject: opts.inject } : {}),
  };
  const tasks: CpuTask[] = [{ cpu: 0, program: PROGRAM, export: "driver", args }];
  for (let cpu = 1; cpu < cpus; cpu++) tasks.push({ cpu, program: PROGRAM, export: "returner", args });
  const started = Date.now();
  const totalMs = seconds * 1000;
  const run = await startCpus({ buffer: mem.buffer as SharedArrayBuffer, control, tasks, timeoutMs: totalMs + 120_000, ...(opts.trace ? { trace: opts.trace } : {}) });
  const timer = opts.onProgress
    ? setInterval(() => opts.onProgress!({ kernel: build.name, rounds: Atomics.load(ctl, S_ROUND), elapsedMs: Date.now() - started, totalMs }), 1000)
    : undefined;
  let results: unknown[];
  try {
    results = await run.done;
  } catch (e) {
    // A worker died outside its program's own catch (or the run timed out): the machine as it is.
    if (!(e instanceof CpuError) && !(e instanceof PpemuError)) throw e;
    results = [{ ...NO_DRIVER, rounds: Atomics.load(ctl, S_ROUND), violation: e.message, violationKind: "crash" }];
  } finally {
    if (timer) clearInterval(timer);
  }
  const d = results[0] as StressCpu0Result;
  const back = results.slice(1) as StressReturnerResult[];
  let returned = 0;
  let inSoftirq = 0;
  for (let cpu = 1; cpu < cpus; cpu++) {
    returned += Atomics.load(ctl, queueIdx(cpu) + Q_RETURNED);
    inSoftirq += Atomics.load(ctl, queueIdx(cpu) + Q_RETURNED_SOFTIRQ);
  }
  const violation = d.violation ?? back.find((r) => r.violation !== null)?.violation ?? null;
  const result: StressResult = {
    kernel: build.name,
    layout: build.layout.name,
    cpus,
    seconds,
    seed,
    preempt: args.preempt,
    rounds: d.rounds,
    handed_out: d.handedOut,
    returned_cross_cpu: returned,
    returned_in_softirq: inSoftirq,
    returned_after_destroy: returned - d.returnedBeforeDestroy,
    recycled_direct: d.recycledDirect,
    outlived_driver: d.outlivedDriver,
    unmaps_after_unbind: d.unmapsAfterUnbind,
    syncs_after_unbind: d.syncsAfterUnbind,
    stalled_warnings: d.stalledWarnings,
    kernel_diagnostics: d.kernelEvents,
    rounds_with_kernel_diagnostics: d.kernelRounds,
    first_kernel_diagnostic: d.firstKernel,
    violations: violation === null ? 0 : 1,
    violation,
    violation_kind: violation === null ? null : (d.violationKind ?? (back.some((r) => r.crashed) ? "crash" : "invariant")),
    violation_round: violation === null ? null : d.violationRound || d.rounds,
  };
  const image = violation === null ? null : saveImage(mem, { command: `ppemu stress --kernel ${build.name} --cpus ${cpus} --seconds ${seconds} --seed ${seed} --preempt ${args.preempt}${args.keepGoing ? " --keep-going" : ""}` });
  const parts = run.traces.filter((t): t is Float64Array => t !== undefined);
  return { result, image, ...(opts.trace ? { trace: traceText(parts) } : {}), ...(opts.dmesg ? { dmesg: dmesgText(mem) } : {}) };
}
