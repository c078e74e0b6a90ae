// Fails on purpose once the other CPU has started (for the runner's error path).
export default function (ctx) {
  if (ctx.args.fail) throw new Error(`program failed on purpose (cpu ${ctx.cpu})`);
  while (!ctx.stopRequested()) Atomics.wait(ctx.control, 0, 0, 5);
  return "stopped";
}
export function answer(ctx) {
  return { cpu: ctx.cpu, nrCpus: ctx.nrCpus, args: ctx.args, build: ctx.sys.build.name };
}
