// llist_add from this CPU: push every node of args.nodes onto args.head (a `struct llist_head` in the machine).
import { llistAdd } from "../../../dist/src/mem/llist.js";

export default function (ctx) {
  const { head, nodes } = ctx.args;
  const u32 = ctx.sys.m.mem.u32;
  let firsts = 0;
  for (const node of nodes) if (llistAdd(u32, node, head)) firsts++;
  return { pushed: nodes.length, firsts };
}
