/**
 * Child-process entry of the scale benchmark (bench/scale.ts): receives one ScaleRequest over IPC
 * (one build, one machine size, one N), runs it in this fresh process, sends back the ScaleCase,
 * exits. Started by bench/scale.ts's forkScaleCase (bench/fork.ts) with `node --expose-gc dist/bench/scale_worker.js`.
 */
import { runScaleCase, type ScaleReply, type ScaleRequest } from "./scale.js";

function reply(msg: ScaleReply): void {
  process.send!(msg, () => process.exit(0));
}

if (typeof process.send !== "function") {
  process.stderr.write("scale_worker: run me through `ppemu bench --test scale` (needs an IPC channel)\n");
  process.exit(2);
}

// The parent went away (interrupted, killed): nobody will read the result.
process.once("disconnect", () => process.exit(1));

process.once("message", (req: ScaleRequest) => {
  let msg: ScaleReply;
  try {
    msg = { ok: true, result: runScaleCase(req) };
  } catch (e) {
    msg = { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  reply(msg);
});
