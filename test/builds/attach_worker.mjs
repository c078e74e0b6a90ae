// A worker thread: another CPU of the same machine. It attaches to the SharedArrayBuffer it is
// given, rebuilding the whole system from the machine header alone, and reports what it reads.
import { parentPort, workerData } from "node:worker_threads";
import { attachPpSystem } from "../../dist/src/index.js";

const sys = attachPpSystem(workerData.buffer);
const pools = [];
sys.pps.forEachPool((pool) => pools.push(pool));
parentPort.postMessage({
  kernel: sys.build.name,
  layout: sys.build.layout.name,
  pools,
  stats: pools.map((p) => sys.pps.stats(p)),
  inflight: pools.map((p) => sys.pps.inflight(p)),
  cache: pools.map((p) => sys.pps.cacheCount(p)),
  ring: pools.map((p) => sys.pps.ringCount(p)),
});
