/**
 * Child-process entry of `ppemu bench`: receives one SuiteRequest over IPC (one build and test per process, so
 * V8 sees one Tracking class at every call site), runs it, sends back the results, exits. Started by
 * src/report/bench.ts with `node --expose-gc dist/bench/pp_worker.js`.
 */
import { runSuite } from "./pp_suite.js";
import type { BenchResult, SuiteRequest } from "./catalog.js";

export type WorkerReply = { ok: true; result: BenchResult } | { ok: false; error: string };

function reply(msg: WorkerReply): void {
  process.send!(msg, () => process.exit(0));
}

if (typeof process.send !== "function") {
  process.stderr.write("pp_worker: run me through `ppemu bench` (needs an IPC channel)\n");
  process.exit(2);
}

// The parent went away (interrupted, killed): nobody will read the results.
process.once("disconnect", () => process.exit(1));

process.once("message", (req: SuiteRequest) => {
  runSuite(req).then(
    (result) => reply({ ok: true, result }),
    (e: unknown) => reply({ ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});
