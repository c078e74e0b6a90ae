/**
 * What every `ppemu` command shares: argument parsing with node:util parseArgs, the one-line usage
 * error (exit 2), and an output sink so tests can run a command in-process and read what it printed.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { closeSync, openSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { allBuilds, layoutNames, resolveBuilds, BuildError } from "../builds/index.js";
import type { KernelBuild } from "../builds/types.js";

export type ParsedValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** A user input error: printed as one line on stderr, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** An output the command could not write (a full disk, a closed file): one line on stderr, exit 1. */
export class OutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OutputError";
  }
}

/** Exit status of a command whose reader went away (EPIPE): what a shell shows for SIGPIPE, 128 + 13. */
export const EXIT_EPIPE = 141;

/** Why an output failed, in words: the errno code and its meaning. */
export function ioReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const words: Record<string, string> = {
    ENOSPC: "no space left on device",
    EACCES: "permission denied",
    EROFS: "read-only file system",
    EISDIR: "is a directory",
    ENOENT: "no such file or directory",
    EPIPE: "broken pipe",
    EIO: "input/output error",
    EBADF: "bad file descriptor",
  };
  return err?.code ? `${err.code} (${words[err.code] ?? err.message.split(",")[0]})` : String(err?.message ?? e);
}

/** Temp files of the output files being written, by fd: renamed over their targets when complete. */
const pendingRenames = new Map<number, { tmp: string; path: string }>();

/**
 * An output file named on the command line (`--json FILE`, `--save FILE`), opened before any work
 * starts: a name that cannot be created is a UsageError now, not after a minute of benchmark. A
 * regular file (or a new one) is written to a temp file beside it and renamed over it when complete,
 * so an interrupted or failed command leaves the old FILE as it was; a device or FIFO
 * (`/dev/null`, `/dev/full`) is written directly. Returns the fd to pass to `writeOutputFile`.
 */
export function openOutputFile(cmd: string, option: string, path: string): number {
  if (path.trim() === "") throw new UsageError(`ppemu ${cmd}: ${option} needs a file name`);
  let direct = false;
  try {
    direct = !statSync(path).isFile();
  } catch {
    // a new file
  }
  try {
    if (direct) return openSync(path, "w");
    const tmp = join(dirname(path), `.${basename(path)}.ppemu-${process.pid}.tmp`);
    const fd = openSync(tmp, "w");
    pendingRenames.set(fd, { tmp, path });
    return fd;
  } catch (e) {
    throw new UsageError(`ppemu ${cmd}: ${option} ${path}: cannot open: ${ioReason(e)}`);
  }
}

/** Remove the temp files of outputs not yet complete (the command is being interrupted). */
export function abandonOutputFiles(): void {
  for (const [fd, { tmp }] of pendingRenames) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
  }
  pendingRenames.clear();
}

/** Write and close an output file opened by `openOutputFile`; a write failure is an OutputError (exit 1). */
export function writeOutputFile(cmd: string, option: string, path: string, fd: number, data: string | Uint8Array): void {
  const pending = pendingRenames.get(fd);
  pendingRenames.delete(fd);
  try {
    writeFileSync(fd, data);
    closeSync(fd);
    if (pending) renameSync(pending.tmp, pending.path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    if (pending) rmSync(pending.tmp, { force: true });
    throw new OutputError(`ppemu ${cmd}: ${option} ${path}: cannot write: ${ioReason(e)}`);
  }
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (t) => void process.stdout.write(t.endsWith("\n") ? t : t + "\n"),
  err: (t) => void process.stderr.write(t.endsWith("\n") ? t : t + "\n"),
};

/** Collects output in memory (tests, the report). */
export class BufferIo implements Io {
  stdout = "";
  stderr = "";
  out(t: string): void {
    this.stdout += t.endsWith("\n") ? t : t + "\n";
  }
  err(t: string): void {
    this.stderr += t.endsWith("\n") ? t : t + "\n";
  }
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Full `--help` text. */
  readonly help: string;
  run(argv: string[], io: Io): number | Promise<number>;
}

export type Options = NonNullable<ParseArgsConfig["options"]>;

const NEGATIVE_NUMBER = /^-\d/;

/**
 * argv as parseArgs should see it: `--opt -5` becomes `--opt=-5` when --opt takes a value (so the
 * command's own range check reports it), and every positional moves behind a `--` in its original
 * order, so a positional like `-1` reaches the command's own check instead of parseArgs' long text.
 */
export function normalizeArgv(argv: readonly string[], options: Options): string[] {
  const opts: string[] = [];
  const pos: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i]!;
    if (t === "--") {
      pos.push(...argv.slice(i + 1));
      break;
    }
    if (t.startsWith("--") && !t.includes("=")) {
      const o = options[t.slice(2)];
      const next = argv[i + 1];
      if (o?.type === "string" && next !== undefined && NEGATIVE_NUMBER.test(next)) {
        opts.push(`${t}=${next}`);
        i++;
        continue;
      }
      opts.push(t);
      if (o?.type === "string" && next !== undefined && (next === "-" || !next.startsWith("-"))) {
        opts.push(next);
        i++;
      }
      continue;
    }
    if (t.startsWith("-") && t !== "-" && !NEGATIVE_NUMBER.test(t)) opts.push(t);
    else pos.push(t);
  }
  // Without positionals allowed, parseArgs still reports the first one (a negative number too).
  return pos.length === 0 ? opts : [...opts, "--", ...pos];
}

function validOptions(options: Options): string {
  return Object.keys(options)
    .map((k) => `--${k}`)
    .join(", ");
}

/** parseArgs' error as one line naming the command (and the valid options where that helps). */
function parseError(cmd: string, e: unknown, options: Options): UsageError {
  const err = e as Error & { code?: string };
  const msg = err.message.split("\n")[0]!;
  const valid = `(valid: ${validOptions(options)})`;
  const quoted = /'([^' ]+)/.exec(msg)?.[1] ?? "";
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new UsageError(`ppemu ${cmd}: unknown option '${quoted}' ${valid}`);
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return new UsageError(`ppemu ${cmd}: unexpected argument '${quoted}' (this command takes options only: ${validOptions(options)})`);
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/argument missing|ambiguous/.test(msg)) return new UsageError(`ppemu ${cmd}: option '${quoted}' needs a value ${valid}`);
      if (/does not take an argument/.test(msg)) return new UsageError(`ppemu ${cmd}: option '${quoted}' takes no value ${valid}`);
      return new UsageError(`ppemu ${cmd}: ${msg}`);
    default:
      return new UsageError(`ppemu ${cmd}: ${msg}`);
  }
}

/** parseArgs, with its errors turned into one-line UsageErrors naming the command. */
export function parse(
  cmd: string,
  argv: string[],
  options: Options,
  allowPositionals = true,
): { values: ParsedValues; positionals: string[] } {
  try {
    const args = normalizeArgv(argv, options);
    const r = parseArgs({ args, options, allowPositionals, strict: true });
    return { values: r.values as ParsedValues, positionals: r.positionals };
  } catch (e) {
    throw parseError(cmd, e, options);
  }
}

/** One of a fixed set of choices, or a UsageError naming them all. */
export function choice<T extends string>(cmd: string, what: string, value: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`ppemu ${cmd}: unknown ${what} '${value}' (valid: ${choices.join(", ")})`);
}

/** A whole number in [min, max], or a UsageError. */
export function intArg(cmd: string, what: string, value: string | undefined, dflt: number, min: number, max: number): number {
  if (value === undefined) return dflt;
  const n = /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`ppemu ${cmd}: --${what} must be a whole number from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

/** A size like 64M, 1G, 4096, 2GiB → bytes, or a UsageError. */
export function sizeArg(cmd: string, what: string, value: string | undefined, dflt: number): number {
  if (value === undefined) return dflt;
  const mm = /^(\d+)\s*([kmg]?)(i?b)?$/i.exec(value.trim());
  if (!mm) throw new UsageError(`ppemu ${cmd}: --${what} must be a size like 64M or 1G, got '${value}'`);
  const unit = { "": 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 }[mm[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  return Number(mm[1]) * unit;
}

/**
 * The builds a command runs on, from `--kernel B|B,C|all` or its shorthand `--layout L|all` (a
 * layout's default build). One of them at most; `dflt` when neither is given. `multi: false` refuses
 * more than one build.
 */
export function buildsArg(
  cmd: string,
  values: { readonly kernel?: unknown; readonly layout?: unknown },
  opts: { readonly multi: boolean; readonly dflt: string },
): KernelBuild[] {
  const kernel = values.kernel as string | undefined;
  const layout = values.layout as string | undefined;
  if (kernel !== undefined && layout !== undefined) throw new UsageError(`ppemu ${cmd}: give --kernel or --layout, not both`);
  let builds: KernelBuild[];
  try {
    builds =
      layout !== undefined ? resolveBuilds(layout, "layout", opts.multi) : resolveBuilds(kernel ?? opts.dflt, "kernel", opts.multi);
  } catch (e) {
    if (e instanceof BuildError) throw new UsageError(`ppemu ${cmd}: ${e.message}`);
    throw e;
  }
  if (!opts.multi && builds.length > 1) {
    throw new UsageError(`ppemu ${cmd}: name one kernel build (got ${builds.map((b) => b.name).join(", ")})`);
  }
  return builds;
}

/** The `--kernel` / `--layout` lines of a command's help, from the registry. */
export function buildsHelp(multi: boolean): string {
  const list = allBuilds()
    .map((b) => `${b.name}${b.isLayoutDefault ? "*" : ""}`)
    .join(", ");
  const more = multi ? ", a comma list, or all" : "";
  return [
    `  --kernel B        kernel build: ${list}${more}`,
    `                    (* = the default build of its layout)`,
    `  --layout L        shorthand for a layout's default build: ${layoutNames().join(", ")}${multi ? ", or all" : ""}`,
  ].join("\n");
}

/**
 * The one line for a word the command did not expect. A flag that takes no value followed by a file
 * name (`--json out.json`) is named as the cause: that is what the user meant.
 */
export function unexpectedArgument(cmd: string, word: string, values: Record<string, unknown>): string {
  if (values.json === true && /\.json$/i.test(word)) {
    return `ppemu ${cmd}: --json takes no file name here ('${word}'): the JSON goes to stdout (ppemu ${cmd} … --json > ${word})`;
  }
  return `ppemu ${cmd}: unexpected argument '${word}'`;
}
