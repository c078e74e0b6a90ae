/**
 * What every `ppemu` command shares: argument parsing with node:util parseArgs, the one-line usage
 * error (exit 2), and an output sink so tests can run a command in-process and read what it printed.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

type ParsedValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** A user input error: printed as one line on stderr, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
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

type Options = NonNullable<ParseArgsConfig["options"]>;

/** parseArgs, with its errors turned into UsageErrors naming the command. */
export function parse(
  cmd: string,
  argv: string[],
  options: Options,
  allowPositionals = true,
): { values: ParsedValues; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals, strict: true });
    return { values: r.values as ParsedValues, positionals: r.positionals };
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0]!;
    throw new UsageError(`ppemu ${cmd}: ${msg}`);
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
