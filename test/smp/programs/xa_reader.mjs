// CPU 1: walks the xarray with xa_for_each over and over and never allocates. Around each walk it
// snapshots the writer's tokens; an id with the same non-zero token before and after was in the
// tree for the whole walk, so the walk must have seen it, with exactly that token's entry.
import { parentPort, workerData } from "node:worker_threads";
import { attachPpSystem } from "../../../dist/src/pool/index.js";
import { XArray } from "../../../dist/src/mem/xarray.js";
import { DONE, READY, TOK, WALKS, ENTRY_BASE, entryOf, tokenOf, idOfBase } from "./xa_common.mjs";

const { buffer, control, xa, maxId, ops } = workerData;
const sys = attachPpSystem(buffer);
const mem = sys.m.mem;
mem.bindCpu(1);
const x = new XArray(sys.m);
const ctl = new Int32Array(control);
const ID_OF = idOfBase(maxId);

const before = new Int32Array(maxId + 1);
const seen = new Uint32Array(maxId + 1); // the entry the walk returned, 0 = not seen
let walks = 0;
let stable = 0; // ids checked: registered for a whole walk
let missed = 0;
let wrongEntry = 0;
// An index out of range or out of order, an entry no token makes, or an entry found at another
// id than the one xa_alloc gave its token (idOf is written once, so 0 = not known yet).
let bogus = 0;
let entries = 0;
Atomics.store(ctl, READY, 1);
Atomics.notify(ctl, READY);
for (;;) {
  const last = Atomics.load(ctl, DONE) !== 0;
  for (let id = 1; id <= maxId; id++) before[id] = Atomics.load(ctl, TOK + id);
  seen.fill(0);
  let prev = -1;
  x.xaForEach(xa, (id, e) => {
    entries++;
    const t = tokenOf(e);
    if (id <= prev || id < 1 || id > maxId || !Number.isInteger(t) || t < 1 || t > ops) bogus++;
    else {
      const owner = Atomics.load(ctl, ID_OF + t);
      if (owner !== 0 && owner !== id) bogus++;
      else seen[id] = e;
    }
    prev = id;
  });
  for (let id = 1; id <= maxId; id++) {
    const t = before[id];
    if (t === 0 || Atomics.load(ctl, TOK + id) !== t) continue;
    stable++;
    if (seen[id] === 0) missed++;
    else if (seen[id] !== entryOf(t)) wrongEntry++;
  }
  walks++;
  Atomics.store(ctl, WALKS, walks);
  Atomics.notify(ctl, WALKS);
  if (last) break;
}
parentPort.postMessage({ walks, stable, missed, wrongEntry, bogus, entries });
