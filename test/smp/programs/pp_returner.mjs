// A remote CPU returning pages: page_pool_put_full_page(pool, page, allow_direct) for each page,
// optionally in softirq (a NAPI poll on this CPU that is not the pool's).
import { softirqEnter, softirqExit } from "../../../dist/src/smp/percpu.js";

export default function (ctx) {
  const { pool, pages, allowDirect, inSoftirq, rounds = 1 } = ctx.args;
  const { pps, m } = ctx.sys;
  if (inSoftirq) softirqEnter(m.mem);
  for (let r = 0; r < rounds; r++) for (const page of pages) pps.putFullPage(pool, page, allowDirect);
  if (inSoftirq) softirqExit(m.mem);
  return { cpu: ctx.cpu, returned: pages.length * rounds };
}
