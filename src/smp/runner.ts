/**
 * CPUs as worker threads: `runCpus` starts one worker per task; each attaches to the machine's
 * SharedArrayBuffer (`attachPpSystem`), binds its CPU and runs a program, a module the caller
 * names. The machine is the buffer, so the workers are that machine's CPUs; the runner only starts,
 * stops and collects them.
 *
 * A program is a module whose export (default: `default`) is
 *
 *     (ctx: CpuProgramContext) => unknown | Promise<unknown>
 *
 * run once on its CPU; what it returns (a structured-clone value) is that CPU's result. A throw in a
 * program comes back as a `CpuError` naming the CPU, and the other CPUs are stopped. The control
 * area is harness memory, not machine memory: word CTRL_STOP asks every program to finish, the rest
 * is the programs' own (SPSC queues, owner tables, phase words).
 *
 * No worker outlives its run: a finished, failed or timed-out run terminates every worker it
 * started, and process exit (including the CLI's SIGINT/SIGTERM path) terminates any still alive.
 */
import type { TraceOptions } from "../trace/ftrace.js";
import type { Worker } from "node:worker_threads";
import type { PpSystem } from "../pool/index.js";
import { PpemuError } from "../errors.js";

/** Control word set to 1 when the run should stop (`stopRequested()`). */
export const CTRL_STOP = 0;
/** First control word free for programs. */
export const CTRL_USER = 16;
/** Default size of the control area: 64 KiB. */
export const DEFAULT_CONTROL_BYTES = 64 << 10;

export interface CpuProgramContext {
  /** The machine, attached in this worker, bound to `cpu`. */
  readonly sys: PpSystem;
  /** This worker's `smp_processor_id()`. */
  readonly cpu: number;
  /** `nr_cpu_ids` of the machine. */
  readonly nrCpus: number;
  /** The task's `args`, structured-cloned. */
  readonly args: unknown;
  /** The run's control area (a SharedArrayBuffer every CPU of the run sees). */
  readonly control: Int32Array;
  /** True once the run asked its CPUs to finish. */
  stopRequested(): boolean;
  /** A line on the main thread's stderr, written synchronously (worker console output is async). */
  log(line: string): void;
}

export type CpuProgram = (ctx: CpuProgramContext) => unknown;

export interface CpuTask {
  /** The CPU this worker runs as (`0 … nr_cpu_ids - 1`, each at most once per run). */
  readonly cpu: number;
  /** The program: a module path or file URL (an absolute path, or relative to the working directory). */
  readonly program: string | URL;
  /** Which export to run. @defaultValue "default" */
  readonly export?: string;
  /** Handed to the program as `ctx.args`. */
  readonly args?: unknown;
}

export interface RunCpusOptions {
  /** The machine. */
  readonly buffer: SharedArrayBuffer;
  readonly tasks: readonly CpuTask[];
  /** The control area; a new zeroed one of DEFAULT_CONTROL_BYTES when absent. */
  readonly control?: SharedArrayBuffer;
  /** Record these tracepoints on every CPU (src/trace/ftrace.ts); each CPU's buffer lands in `CpuRun.traces`. */
  readonly trace?: TraceOptions;
  /** Stop the run (CTRL_STOP) after this long; the workers still running DEADLINE_GRACE_MS later are terminated and the run fails with TIME_LIMIT. @defaultValue no limit */
  readonly timeoutMs?: number;
}

/** How long programs get to finish after a stop request before they are terminated. */
export const DEADLINE_GRACE_MS = 5_000;

/** A program on `cpu` threw (or its worker died). */
export class CpuError extends Error {
  constructor(
    readonly cpu: number,
    message: string,
    readonly code?: string,
  ) {
    super(`CPU ${cpu}: ${message}`);
    this.name = "CpuError";
  }
}

export interface CpuRun {
  /** Each task's result, in task order. */
  readonly done: Promise<unknown[]>;
  /** With `trace`: each task's tracepoint records (`Tracer.rows()`), in task order, once it has finished. */
  readonly traces: (Float64Array | undefined)[];
  readonly control: Int32Array;
  /** Ask every program to finish (sets CTRL_STOP). */
  stop(): void;
  /** Terminate every worker now; `done` rejects unless it settled already. */
  terminate(): Promise<void>;
}

/**
 * The worker entry: beside this module in dist/; run from the TypeScript sources (vitest), the
 * compiled one (a worker cannot load .ts on Node 20).
 */
const WORKER_URL = compiledModule(import.meta.url, "./cpu_worker.js");

/**
 * `rel` (a .js path) next to the module at `url`, in the compiled tree: a program shipped with
 * ppemu names itself this way, so it runs from dist/ even when its caller runs from src/.
 */
export function compiledModule(url: string, rel: string): URL {
  if (!url.endsWith(".ts")) return new URL(rel, url);
  const src = new URL(".", url).href;
  const root = new URL("../../", import.meta.url).href;
  return new URL(rel, root + "dist/" + src.slice(root.length));
}

const live = new Set<Worker>();
let exitHookSet = false;

function terminateAll(): void {
  for (const w of live) void w.terminate();
  live.clear();
}

/** Terminate every worker any run of this process still has (the CLI's signal handlers call it). */
export function terminateAllCpus(): void {
  terminateAll();
}

/**
 * Start the tasks' workers; see `runCpus` for the common case. (node:worker_threads is loaded
 * here, not when the library is, so a script that never starts CPUs never loads it.)
 */
export async function startCpus(opts: RunCpusOptions): Promise<CpuRun> {
  if (!(opts.buffer instanceof SharedArrayBuffer)) throw new PpemuError("EINVAL_ARG", "runCpus: buffer must be a SharedArrayBuffer (boot with { shared: true })");
  const seen = new Set<number>();
  for (const t of opts.tasks) {
    if (!Number.isSafeInteger(t.cpu) || t.cpu < 0 || seen.has(t.cpu)) throw new PpemuError("EINVAL_ARG", `runCpus: cpu ${String(t.cpu)} must be a distinct CPU number`);
    seen.add(t.cpu);
  }
  if (!exitHookSet) {
    exitHookSet = true;
    process.once("exit", terminateAll);
  }
  const { Worker } = await import("node:worker_threads");
  const controlBuf = opts.control ?? new SharedArrayBuffer(DEFAULT_CONTROL_BYTES);
  const control = new Int32Array(controlBuf);
  const workers: Worker[] = [];
  const results: unknown[] = new Array(opts.tasks.length);
  const traces: (Float64Array | undefined)[] = new Array(opts.tasks.length).fill(undefined);
  let timer: NodeJS.Timeout | undefined;
  let kill: NodeJS.Timeout | undefined;
  const stop = (): void => {
    Atomics.store(control, CTRL_STOP, 1);
    Atomics.notify(control, CTRL_STOP);
  };
  const cleanup = (): void => {
    if (timer) clearTimeout(timer);
    if (kill) clearTimeout(kill);
    for (const w of workers) {
      live.delete(w);
      void w.terminate();
    }
  };
  const done = new Promise<unknown[]>((resolve, reject) => {
    let pending = opts.tasks.length;
    let settled = false;
    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      stop();
      cleanup();
      reject(e);
    };
    if (pending === 0) resolve([]);
    opts.tasks.forEach((t, k) => {
      const program = t.program instanceof URL ? t.program.href : t.program;
      const w = new Worker(WORKER_URL, {
        workerData: { buffer: opts.buffer, control: controlBuf, cpu: t.cpu, program, export: t.export ?? "default", args: t.args, trace: opts.trace },
        stdout: false,
        stderr: false,
      });
      workers.push(w);
      live.add(w);
      w.on("message", (msg: { type: string; result?: unknown; trace?: Float64Array; message?: string; code?: string }) => {
        if (msg.type === "result") {
          results[k] = msg.result;
          traces[k] = msg.trace;
          live.delete(w);
          if (--pending === 0 && !settled) {
            settled = true;
            cleanup();
            resolve(results);
          }
        } else if (msg.type === "error") {
          fail(new CpuError(t.cpu, msg.message ?? "failed", msg.code));
        }
      });
      w.on("error", (e) => fail(new CpuError(t.cpu, e instanceof Error ? e.message : String(e))));
      w.on("exit", (code) => {
        live.delete(w);
        if (results[k] === undefined && !settled && code !== 0) fail(new CpuError(t.cpu, `worker exited with code ${code}`));
      });
    });
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        stop();
        kill = setTimeout(() => fail(new PpemuError("TIME_LIMIT", `runCpus: CPUs still running ${DEADLINE_GRACE_MS} ms after the ${opts.timeoutMs} ms limit`)), DEADLINE_GRACE_MS);
      }, opts.timeoutMs);
    }
  });
  return {
    done,
    traces,
    control,
    stop,
    terminate: async () => {
      stop();
      cleanup();
      await Promise.allSettled(workers.map((w) => w.terminate()));
    },
  };
}

/** Run every task to its end; each task's result in task order. */
export async function runCpus(opts: RunCpusOptions): Promise<unknown[]> {
  return (await startCpus(opts)).done;
}
