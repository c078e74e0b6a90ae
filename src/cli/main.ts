#!/usr/bin/env node
/**
 * `ppemu`: thin dispatch. Each command lives in its own module; this file parses nothing but the
 * command name, and turns a UsageError into one line on stderr with exit code 2.
 */
import { fileURLToPath, pathToFileURL } from "node:url";
import { readFileSync, realpathSync } from "node:fs";
import { COMMANDS } from "./commands.js";
import { PpemuError } from "../errors.js";
import { terminateAllCpus } from "../smp/runner.js";
import { EXIT_EPIPE, OutputError, UsageError, abandonOutputFiles, ioReason, processIo, type Io } from "./common.js";

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "ppemu — an emulator of the Linux page_pool and the layouts proposed to fix its DMA-unmap-after-unbind bug",
    "",
    "usage: ppemu <command> [options]     (ppemu <command> --help or ppemu help <command> for its options)",
    "       ppemu --version",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join("\n");
}

/**
 * package.json's version, read at run time relative to this module: from dist/src/cli/main.js the
 * package root is ../../../, from the sources (src/cli/main.ts, as vitest runs it) ../../.
 */
export function packageVersion(): string {
  for (const rel of ["../../../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(fileURLToPath(new URL(rel, import.meta.url)), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "ppemu" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // not this one
    }
  }
  return "unknown";
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-V") {
    io.out(`ppemu ${packageVersion()}`);
    return 0;
  }
  if (name === "help" && rest.length > 0) {
    // `ppemu help CMD` is `ppemu CMD --help`.
    return main([rest[0]!, "--help"], io);
  }
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.out(mainHelp());
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    io.err(`ppemu: unknown command '${name}' (valid: ${COMMANDS.map((c) => c.name).join(", ")})`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(cmd.help);
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(e.message);
      return 2;
    }
    if (e instanceof OutputError) {
      io.err(e.message);
      return 1;
    }
    // A library refusal reaching the command line is about its input (an image edited behind its
    // checksums, a value the command passed on): one line, exit 2, as a usage error.
    if (e instanceof PpemuError) {
      io.err(e.message.startsWith("ppemu") ? e.message : `ppemu ${name}: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

/**
 * A write to stdout or stderr failed. EPIPE (`ppemu … | head -1`: the reader went away) ends the
 * command at once and quietly, with the status a shell shows for SIGPIPE; anything else (ENOSPC on
 * `> /dev/full`) is one line on stderr and exit 1.
 */
function onOutputError(e: NodeJS.ErrnoException): void {
  if (e.code === "EPIPE") process.exit(EXIT_EPIPE);
  try {
    process.stderr.write(`ppemu: cannot write output: ${ioReason(e)}\n`);
  } catch {
    // stderr is gone too: the status says it
  }
  process.exit(1);
}

if (isEntryPoint()) {
  process.stdout.on("error", onOutputError);
  process.stderr.on("error", (e: NodeJS.ErrnoException) => process.exit(e.code === "EPIPE" ? EXIT_EPIPE : 1));
  // Interrupted: leave no half-written temp file behind (the old FILE stays as it was), and exit as
  // the signal would have (128 + its number). Bench children exit when their IPC channel closes.
  for (const [sig, n] of [["SIGINT", 2], ["SIGTERM", 15]] as const) {
    process.on(sig, () => {
      abandonOutputFiles();
      terminateAllCpus();
      process.exit(128 + n);
    });
  }
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`ppemu: internal error: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
