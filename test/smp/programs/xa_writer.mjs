// CPU 0: the only CPU that touches the slab. It allocates ids (xa_alloc, the lowest free) and
// erases them again with xa_cmpxchg(id, entry → NULL), as page_pool maps and unmaps pages, in
// grow/shrink phases so leaves empty and are freed, the root is shrunk away and added back, and
// the array empties completely. A token marks an id registered only while it is in the tree:
// stored after xa_alloc returned, cleared before xa_cmpxchg erases. Every `pace` operations it
// waits for the reader to complete one more walk, so walks and churn overlap.
import { parentPort, workerData } from "node:worker_threads";
import { attachPpSystem } from "../../../dist/src/pool/index.js";
import { XArray } from "../../../dist/src/mem/xarray.js";
import { DONE, READY, TOK, WALKS, entryOf, idOfBase } from "./xa_common.mjs";

const { buffer, control, xa, maxId, ops, pace, seed } = workerData;
const sys = attachPpSystem(buffer);
const mem = sys.m.mem;
mem.bindCpu(0);
const x = new XArray(sys.m);
const ctl = new Int32Array(control);
const ID_OF = idOfBase(maxId);

let s = seed >>> 0 || 1;
const rand = () => {
  s ^= s << 13;
  s >>>= 0;
  s ^= s >>> 17;
  s ^= s << 5;
  return (s >>>= 0) / 0x1_0000_0000;
};

function waitFor(word, above) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = Atomics.load(ctl, word);
    if (v > above) return v;
    if (Date.now() > deadline) throw new Error(`writer: control word ${word} stayed at ${v}`);
    Atomics.wait(ctl, word, v, 50);
  }
}

waitFor(READY, 0);
const present = []; // ids in the tree
const token = new Int32Array(maxId + 1);
let next = 0;
let allocs = 0;
let erases = 0;
let walksSeen = Atomics.load(ctl, WALKS);
for (let op = 0; op < ops; op++) {
  // The population swings across 64 every 24 operations, so leaf 1 empties and comes back and the
  // root is shrunk away and added again over and over; every 40th swing goes up to 300 ids (five
  // leaves) and then down to nothing (the array empties).
  const block = Math.floor(op / 24);
  const target = block % 80 === 40 ? 300 : block % 80 === 41 ? 0 : block % 2 === 0 ? 72 : 56;
  const doAlloc = present.length === 0 || (present.length < maxId - 1 && rand() < (present.length < target ? 0.9 : 0.1));
  if (doAlloc) {
    const t = ++next;
    const id = x.xaAlloc(xa, entryOf(t), 1, maxId);
    if (id < 1 || id > maxId || token[id] !== 0) throw new Error(`writer: xa_alloc gave ${id}`);
    token[id] = t;
    present.push(id);
    Atomics.store(ctl, ID_OF + t, id);
    Atomics.store(ctl, TOK + id, t); // registered: in the tree from here on
    allocs++;
  } else {
    // Mostly the highest id (its leaf empties first), else any.
    let k = Math.floor(rand() * present.length);
    if (rand() < 0.7) for (let j = 0; j < present.length; j++) if (present[j] > present[k]) k = j;
    const id = present[k];
    present[k] = present[present.length - 1];
    present.pop();
    Atomics.store(ctl, TOK + id, 0); // no longer promised to any walk
    const old = x.xaCmpxchg(xa, id, entryOf(token[id]), 0);
    if (old !== entryOf(token[id])) throw new Error(`writer: xa_cmpxchg(${id}) found ${old}`);
    token[id] = 0;
    erases++;
  }
  if ((op + 1) % pace === 0) walksSeen = waitFor(WALKS, walksSeen);
}
Atomics.store(ctl, DONE, 1);
Atomics.notify(ctl, DONE);
present.sort((a, b) => a - b);
parentPort.postMessage({ allocs, erases, present: present.map((id) => [id, token[id]]) });
