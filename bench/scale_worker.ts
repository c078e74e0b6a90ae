/**
 * Child-process entry of the scale benchmark (bench/scale.ts): receives one ScaleRequest over IPC
 * (one build, one machine size, one N), runs it in this fresh process, sends back the ScaleCase,
 * exits. Started by bench/scale.ts's forkScaleCase (bench/fork.ts) with `node --expose-gc dist/bench/scale_worker.js`.
 */
import { serveOnce } from "./fork.js";
import { runScaleCase, type ScaleRequest } from "./scale.js";

serveOnce("scale_worker", "ppemu bench --test scale", (req: ScaleRequest) => runScaleCase(req));
