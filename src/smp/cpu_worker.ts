/**
 * One CPU of `runCpus` (src/smp/runner.ts): attach to the machine, bind the CPU, run the program,
 * run this CPU's pending RCU callbacks (a CPU going offline: `rcu_barrier()`), report.
 */
import { parentPort, workerData } from "node:worker_threads";
import { writeSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { isAbsolute, resolve } from "node:path";
import { attachPpSystem } from "../pool/index.js";
import { rcuBarrier } from "./rcu.js";
import { Tracer, type TraceOptions } from "../trace/ftrace.js";
import { CTRL_STOP, type CpuProgramContext, type CpuProgram } from "./runner.js";

interface Data {
  buffer: SharedArrayBuffer;
  control: SharedArrayBuffer;
  cpu: number;
  program: string;
  export: string;
  args: unknown;
  /** The tracepoints to record on this CPU (its own buffer, as ftrace's per-CPU ring buffers), or absent. */
  trace?: TraceOptions;
}

const data = workerData as Data;

function programUrl(p: string): string {
  if (p.startsWith("file:")) return p;
  return pathToFileURL(isAbsolute(p) ? p : resolve(process.cwd(), p)).href;
}

async function main(): Promise<void> {
  const sys = attachPpSystem(data.buffer);
  sys.m.mem.bindCpu(data.cpu);
  const control = new Int32Array(data.control);
  const mod = (await import(programUrl(data.program))) as Record<string, unknown>;
  const fn = mod[data.export];
  if (typeof fn !== "function") throw new Error(`${data.program} has no function export "${data.export}"`);
  const ctx: CpuProgramContext = {
    sys,
    cpu: data.cpu,
    nrCpus: sys.m.mem.nrCpus,
    args: data.args,
    control,
    stopRequested: () => Atomics.load(control, CTRL_STOP) !== 0,
    log: (line) => {
      writeSync(2, `${line}\n`);
    },
  };
  const tracer = data.trace !== undefined ? new Tracer(data.trace).start() : null;
  const result = await (fn as CpuProgram)(ctx);
  rcuBarrier(sys.m);
  const trace = tracer?.rows();
  tracer?.stop();
  parentPort!.postMessage({ type: "result", result, trace }, trace ? [trace.buffer as ArrayBuffer] : []);
}

main().catch((e: unknown) => {
  const err = e as { message?: string; code?: string; stack?: string };
  parentPort!.postMessage({ type: "error", message: err?.message ?? String(e), code: err?.code });
});
