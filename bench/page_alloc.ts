/**
 * Page allocator micro-benchmark: order-0 alloc_pages + __free_pages on the emulated buddy
 * allocator, plus a 64-page alloc_pages_bulk (what page_pool's slow path asks for), and a check that
 * the hot path allocates nothing on the JS heap.
 *
 *   npx tsc -p . && node --expose-gc dist/bench/page_alloc.js
 *
 * Each tinybench call runs BATCH operations so the timer's resolution does not dominate; figures are
 * per operation. Page poisoning is off, as in the kernel's bench_page_pool_simple runs, except in the
 * task that measures it.
 *
 * There are no per-CPU page lists (pcp): after boot the smallest free block is order 2, so every
 * order-0 alloc here splits it twice (expand) and every free merges it back twice (__free_one_page).
 * The kernel's order-0 path usually stops at the pcp list instead.
 */
import { Bench } from "tinybench";
import { bootMachine } from "../src/mem/machine.js";

const BATCH = 1000;
const HEAP_ITERS = 1_000_000;
const BULK = 64;

const plain = bootMachine({ poison: false });
const poisoned = bootMachine({ poison: true });
// Both machines get the same bulk array allocation, so their free lists are identical.
const bulkArray = plain.slab.kmalloc(BULK * 8);
if (bulkArray === 0 || poisoned.slab.kmalloc(BULK * 8) !== bulkArray) throw new Error("machines differ");
const freeAtStart = plain.pa.nrFree();

function allocFree(m: typeof plain, n: number): number {
  const pa = m.pa;
  let sink = 0;
  for (let i = 0; i < n; i++) {
    const page = pa.allocPages(0);
    sink ^= page;
    pa.freePages(page, 0);
  }
  return sink;
}

function bulkAllocFree(m: typeof plain, arr: number): void {
  const { mem, pa } = m;
  const n = pa.allocPagesBulk(BULK, arr);
  for (let i = 0; i < n; i++) {
    const slot = arr + i * 8;
    pa.freePages(mem.rdPtr(slot), 0);
    mem.wr64(slot, 0, 0);
  }
}

async function main(): Promise<void> {
  const bench = new Bench({ time: 1000, warmup: true });
  bench
    .add(`alloc_pages+__free_pages order 0 (x${BATCH})`, () => {
      allocFree(plain, BATCH);
    })
    .add(`alloc_pages+__free_pages order 0, page_poison (x${BATCH})`, () => {
      allocFree(poisoned, BATCH);
    })
    .add(`alloc_pages_bulk ${BULK} + ${BULK} x __free_pages (x${BATCH / BULK | 0})`, () => {
      for (let k = 0; k < (BATCH / BULK | 0); k++) bulkAllocFree(plain, bulkArray);
    });
  await bench.run();

  console.log("task                                                          ns/op     ops/s        rme");
  const perOp = [BATCH, BATCH, (BATCH / BULK | 0) * BULK];
  bench.tasks.forEach((t, i) => {
    const r = t.result;
    if (r.state !== "completed") {
      console.log(`${t.name}: ${r.state}`);
      return;
    }
    const ns = (r.latency.mean * 1e6) / perOp[i]!;
    const ops = 1e9 / ns;
    console.log(`${t.name.padEnd(60)} ${ns.toFixed(2).padStart(8)} ${ops.toExponential(3).padStart(10)}  ±${r.latency.rme.toFixed(2)}%`);
  });

  // JS heap across 10^6 alloc+free pairs, outside tinybench.
  const gc = (globalThis as { gc?: () => void }).gc;
  allocFree(plain, 100_000); // warm up: let V8 optimise before measuring
  if (gc) {
    gc();
    gc();
  }
  const before = process.memoryUsage().heapUsed;
  const sink = allocFree(plain, HEAP_ITERS);
  const afterNoGc = process.memoryUsage().heapUsed;
  if (gc) {
    gc();
    gc();
  }
  const after = process.memoryUsage().heapUsed;
  console.log(
    `heap: ${HEAP_ITERS} x (alloc_pages + __free_pages) order 0: heapUsed delta ${afterNoGc - before} bytes before GC, ` +
      `${after - before} bytes after GC (${gc ? "global.gc available" : "no --expose-gc: no forced GC"}) [sink ${sink & 1}]`,
  );
  console.log(`free pages: ${plain.pa.nrFree()} after the runs, ${freeAtStart} before`);
}

await main();
