/**
 * Child-process entry of `ppemu bench --test cross_cpu | page_pool02_ptr_ring_contended`: receives
 * one SmpRequest over IPC (one build, one run), runs it (bench/cross_cpu.ts: the single-CPU
 * reference in this process, the SMP test on worker-thread CPUs), sends back the result, exits.
 * Started by src/report/bench.ts with `node --expose-gc dist/bench/smp_worker.js`.
 */
import { runSmp } from "./cross_cpu.js";
import type { SmpRequest, SmpRun } from "./catalog.js";

export type SmpReply = { ok: true; result: SmpRun } | { ok: false; error: string };

function reply(msg: SmpReply): void {
  process.send!(msg, () => process.exit(0));
}

if (typeof process.send !== "function") {
  process.stderr.write("smp_worker: run me through `ppemu bench --test cross_cpu` (needs an IPC channel)\n");
  process.exit(2);
}

process.once("disconnect", () => process.exit(1));

process.once("message", (req: SmpRequest) => {
  runSmp(req).then(
    (result) => reply({ ok: true, result }),
    (e: unknown) => reply({ ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});
