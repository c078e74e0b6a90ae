/**
 * Child-process entry of `ppemu bench`: receives one SuiteRequest over IPC (one build and test per
 * process, so V8 sees one Tracking class at every call site), runs it, sends back the result, exits.
 * Started by src/report/bench.ts (bench/fork.ts) with `node --expose-gc dist/bench/pp_worker.js`.
 */
import { serveOnce, type ChildReply } from "./fork.js";
import { runSuite } from "./pp_suite.js";
import type { BenchResult, SuiteRequest } from "./catalog.js";

export type WorkerReply = ChildReply<BenchResult>;

serveOnce("pp_worker", "ppemu bench", (req: SuiteRequest) => runSuite(req));
