/**
 * Child-process entry of `ppemu bench --test cross_cpu | page_pool02_ptr_ring_contended`: receives
 * one SmpRequest over IPC (one build, one run), runs it (bench/cross_cpu.ts: the single-CPU
 * reference in this process, the SMP test on worker-thread CPUs), sends back the result, exits.
 * Started by src/report/bench.ts (bench/fork.ts) with `node --expose-gc dist/bench/smp_worker.js`.
 */
import { serveOnce, type ChildReply } from "./fork.js";
import { runSmp } from "./cross_cpu.js";
import type { SmpRequest, SmpRun } from "./catalog.js";

export type SmpReply = ChildReply<SmpRun>;

serveOnce("smp_worker", "ppemu bench --test cross_cpu", (req: SmpRequest) => runSmp(req));
