/**
 * How `ppemu bench` starts its children: one request over IPC to a fresh `node --expose-gc` running
 * a child entry of dist/bench (pp_worker.js, smp_worker.js, scale_worker.js), one reply back. Single-
 * CPU benchmarks pin their children to one CPU with taskset (setBenchCpu); SMP ones do not.
 */
import { fork, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** dist/bench/<file>, from the build (dist/bench) or from the sources (bench/). */
export function workerPath(file = "pp_worker.js"): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (import.meta.url.endsWith(".js")) return join(here, file);
  return join(here, "..", "dist", "bench", file);
}

/**
 * The CPU benchmark children are pinned to (`taskset -c`), or null when pinning is off or taskset is
 * missing. One CPU for every child: a process that migrates between the two vCPUs of a shared
 * machine, or shares its core with the next child, measures the neighbours as much as itself (the
 * kernel module's tasklet runs on one CPU too).
 */
export function benchCpu(cpu: number | null | undefined): number | null {
  if (cpu === null || process.platform !== "linux") return null;
  if (!existsSync("/usr/bin/taskset") && !existsSync("/bin/taskset")) return null;
  return cpu ?? cpus().length - 1;
}

let pinCpu: number | null = null;

/** Pin the next children to `cpu` (null: do not pin). */
export function setBenchCpu(cpu: number | null): void {
  pinCpu = cpu;
}

/** Fork a child entry (pinned with taskset when setBenchCpu said so), send it one request, resolve with its one reply. */
export function forkOnce<Req extends { kernel: string }, Reply extends { ok: boolean }>(file: string, req: Req): Promise<Reply> {
  const path = workerPath(file);
  if (!existsSync(path)) return Promise.reject(new Error(`ppemu bench: ${path} not found; run \`npm run build\` first`));
  return new Promise((resolve, reject) => {
    const stdio: ["ignore", "ignore", "pipe", "ipc"] = ["ignore", "ignore", "pipe", "ipc"];
    const child =
      pinCpu === null
        ? fork(path, [], { execArgv: ["--expose-gc"], stdio })
        : spawn("taskset", ["-c", String(pinCpu), process.execPath, "--expose-gc", path], { stdio });
    let stderr = "";
    let reply: Reply | null = null;
    child.stderr!.on("data", (b: Buffer) => void (stderr += b.toString()));
    child.on("message", (m: Reply) => void (reply = m));
    child.on("error", reject);
    child.on("exit", (code) => {
      const r = reply as Reply | null;
      if (r) resolve(r);
      else reject(new Error(`ppemu bench: ${req.kernel} child exited with ${code}: ${stderr.trim()}`));
    });
    child.send(req);
  });
}

/** What a child entry sends back: its one result, or why there is none. */
export type ChildReply<R> = { ok: true; result: R } | { ok: false; error: string };

/**
 * The child's side: take one request from the parent, answer with `run(req)`'s result or its error,
 * exit once the reply is out. Run from a terminal (no IPC channel) it says how to start it, exit 2;
 * a parent that goes away (interrupted, killed) ends it, since nobody will read the result.
 */
export function serveOnce<Req, R>(entry: string, how: string, run: (req: Req) => R | Promise<R>): void {
  if (typeof process.send !== "function") {
    process.stderr.write(`${entry}: run me through \`${how}\` (needs an IPC channel)\n`);
    process.exit(2);
  }
  process.once("disconnect", () => process.exit(1));
  process.once("message", (req: Req) => {
    const reply = (msg: ChildReply<R>): void => void process.send!(msg, () => process.exit(0));
    Promise.resolve()
      .then(() => run(req))
      .then(
        (result) => reply({ ok: true, result }),
        (e: unknown) => reply({ ok: false, error: e instanceof Error ? e.message : String(e) }),
      );
  });
}
