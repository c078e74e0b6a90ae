// The single llist_del_all() consumer: take the list until every pushed node was seen once.
import { llistDelAll } from "../../../dist/src/mem/llist.js";

export default function (ctx) {
  const { head, total, seenBase } = ctx.args;
  const mem = ctx.sys.m.mem;
  const seen = new Int32Array(ctx.control.buffer, seenBase, total);
  let got = 0;
  let twice = 0;
  let batches = 0;
  const idx = new Map(ctx.args.nodes.map((n, k) => [n, k]));
  while (got < total) {
    let node = llistDelAll(mem.u32, head);
    if (node === 0) {
      if (ctx.stopRequested()) break;
      continue;
    }
    batches++;
    for (let guard = 0; node !== 0 && guard <= total; guard++) {
      const k = idx.get(node);
      if (k === undefined || Atomics.add(seen, k, 1) !== 0) twice++;
      got++;
      node = mem.rd32(node);
    }
  }
  return { got, twice, batches };
}
