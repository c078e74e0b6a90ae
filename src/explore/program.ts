/**
 * A race program: a few CPUs, each a short function over the library, and the state they start
 * from. The explorer boots a fresh machine of the build, runs `setup` on it (one thread, CPU 0),
 * snapshots it, and then runs the CPUs' functions under a scheduler, once per schedule, from that
 * snapshot. A program is a module: the standard ones are in src/explore/programs.ts; a user's file
 * exports one as its default export (`ppemu race --program FILE`).
 *
 *     export default {
 *       name: "my-race",
 *       summary: "CPU 0 destroys while CPU 1 returns a page",
 *       setup(sys) { … return { pool, dev, page }; },
 *       cpus: [
 *         ({ sys, args }) => { sys.pps.destroy(args.pool); sys.dma.deviceUnbind(args.dev); },
 *         ({ sys, args }) => sys.pps.putFullPage(args.pool, args.page, false),
 *       ],
 *     };
 *
 * The CPUs' functions run in worker threads: they may use only their `ctx` (the machine, their
 * CPU, the args), never variables of the module they were written in.
 */
import type { PpSystem } from "../pool/index.js";

/** What `setup` hands the CPUs: numbers (pointers, counts) and lists of numbers. */
export type RaceArgs = Readonly<Record<string, number | readonly number[]>>;

export interface RaceContext {
  readonly sys: PpSystem;
  readonly cpu: number;
  readonly args: RaceArgs;
}

export interface RaceProgram {
  readonly name: string;
  readonly summary: string;
  /**
   * Build the starting state on a fresh machine (one thread, CPU 0). `args.pool` (or `args.pools`)
   * names the pools whose locks are preemption points; `args.dev` the device the explorer watches.
   */
  setup(sys: PpSystem): RaceArgs;
  /** CPU k runs `cpus[k]`. */
  readonly cpus: readonly ((ctx: RaceContext) => void)[];
  /** After every CPU returned: what the program expects of the machine (empty when it holds). */
  check?(sys: PpSystem, args: RaceArgs): string[];
  /** Machine size for this program. @defaultValue 4 MiB */
  readonly memBytes?: number;
}

export function isRaceProgram(v: unknown): v is RaceProgram {
  const p = v as RaceProgram;
  return (
    p !== null &&
    typeof p === "object" &&
    typeof p.name === "string" &&
    typeof p.setup === "function" &&
    Array.isArray(p.cpus) &&
    p.cpus.length >= 1 &&
    p.cpus.every((f) => typeof f === "function")
  );
}
