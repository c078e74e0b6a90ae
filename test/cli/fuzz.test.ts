/**
 * The CLI as a new user meets it, run as a process on the built code (npm test builds first): bad
 * input is one line on stderr and exit 2; an output that cannot be written is one line and exit 1;
 * a reader that goes away (EPIPE) ends the command quietly with 141; never a stack trace, never a
 * hang (each case runs under a timeout).
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = `${ROOT}dist/src/cli/main.js`;

function ppemu(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** argv → the start of the one stderr line it must print (exit 2, nothing on stdout). */
const BAD: readonly [string[], string][] = [
  [[], "ppemu — an emulator of the Linux page_pool"],
  [["nosuch"], "ppemu: unknown command 'nosuch'"],
  [["report", "--bogus"], "ppemu report: unknown option '--bogus'"],
  [["report", "extra"], "ppemu report: unexpected argument 'extra'"],
  [["layout", "nosuch"], "ppemu layout: unknown struct 'nosuch'"],
  [["layout", "page", "--arch", "x86"], "ppemu layout: unknown arch 'x86'"],
  [["layout", "page", "--page-size", "8k"], "ppemu layout: unknown page size '8k'"],
  [["layout", "page", "--variant", "v99"], "ppemu layout: unknown variant 'v99'"],
  [["layout", "page_pool", "--kernel", "v9.9"], "ppemu layout: unknown kernel build 'v9.9'"],
  [["layout", "page_pool", "--kernel", "all"], "ppemu layout: unknown kernel build 'all'"],
  [["layout", "page_pool", "--layout", "Classic"], "ppemu layout: unknown layout 'Classic'"],
  [["layout", "page_pool", "--kernel", "v6.16", "--layout", "xarray"], "ppemu layout: give --kernel or --layout, not both"],
  [["scenario"], "ppemu scenario: name one scenario (valid: unbind, frag, zerocopy, niov-init, netdevsim-pp-hold)"],
  [["scenario", "nosuch"], "ppemu scenario: unknown scenario 'nosuch'"],
  [["scenario", "unbind", "--json", "out.json"], "ppemu scenario: --json takes no file name here ('out.json')"],
  [["scenario", "unbind", "extra"], "ppemu scenario: unexpected argument 'extra'"],
  [["scenario", "unbind", "--pages", "-1"], "ppemu scenario: --pages must be a whole number from 0 to 4096, got '-1'"],
  [["scenario", "unbind", "--pages", "1e9"], "ppemu scenario: --pages must be a whole number from 0 to 4096, got '1e9'"],
  [["scenario", "unbind", "--pages", "8", "--inflight", "9"], "ppemu scenario: --inflight must be a whole number from 0 to 8, got '9'"],
  [["scenario", "unbind", "--pool-size", "0"], "ppemu scenario: --pool-size must be a whole number from 1 to 32768, got '0'"],
  [["scenario", "unbind", "--window-ms", "NaN"], "ppemu scenario: --window-ms must be a whole number"],
  [["scenario", "unbind", "--kernel", ""], "ppemu scenario: empty name in --kernel ''"],
  [["scenario", "unbind", "--kernel", "v6.16,"], "ppemu scenario: empty name in --kernel 'v6.16,'"],
  [["scenario", "unbind", "--kernel", "V6.16"], "ppemu scenario: unknown kernel build 'V6.16'"],
  [["scenario", "unbind", "--layout"], "ppemu scenario: option '--layout' needs a value"],
  [["compare", "--kernel", "nosuch"], "ppemu compare: unknown kernel build 'nosuch'"],
  [["verify", "nosuch"], "ppemu verify: unknown"],
  [["verify", "masks", "--arch", "mips"], "ppemu verify: unknown arch 'mips'"],
  [["explain"], "ppemu explain: name at least one address"],
  [["explain", "zz"], "ppemu explain: 'zz' is not a hex address"],
  [["explain", "0x"], "ppemu explain: '0x' is not a hex address"],
  [["explain", "0x7fffffff"], "ppemu explain:"],
  [["explain", "0x1040", "--kernel", "nosuch"], "ppemu explain: unknown kernel build 'nosuch'"],
  [["explain", "0x1040", "--at", "never"], "ppemu explain: unknown step 'never'"],
  [["explain", "0x1040", "--mem", "12Q"], "ppemu explain: --mem must be a size like 64M or 1G, got '12Q'"],
  [["explain", "--magic", "xyz"], "ppemu explain: --magic 'xyz' is not a hex value"],
  [["bench", "--test", "nosuch"], "ppemu bench: unknown test 'nosuch'"],
  [["bench", "--time", "0"], "ppemu bench: --time must be a whole number from 1 to 600000, got '0'"],
  [["bench", "--json", ""], "ppemu bench: --json needs a file name or '-'"],
  [["bench", "--test", "for_loop", "--json", "/nonexistent-dir/x.json"], "ppemu bench: --json /nonexistent-dir/x.json: directory /nonexistent-dir does not exist"],
  [["bench", "--kernel", "nosuch"], "ppemu bench: unknown kernel build 'nosuch'"],
];

describe("bad input: one line on stderr, exit 2, no stack trace", () => {
  for (const [argv, start] of BAD) {
    it(`ppemu ${argv.join(" ")}`, () => {
      const r = ppemu(argv);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe(argv.length === 0 ? r.stdout : "");
      const lines = r.stderr.split("\n").filter(Boolean);
      if (argv.length === 0) {
        // No command: the usage text on stdout, exit 2, nothing on stderr.
        expect(r.stdout.startsWith(start)).toBe(true);
        expect(lines).toEqual([]);
        return;
      }
      expect(lines).toHaveLength(1);
      expect(lines[0]!.startsWith(start), lines[0]).toBe(true);
      expect(r.stderr).not.toMatch(/\n\s+at |Error:|node:internal/);
    }, 20_000);
  }
});

describe("output errors", () => {
  it("a reader that goes away (| head -c 1): exit 141, nothing on stderr", () => {
    const s = spawnSync("bash", ["-c", `node ${CLI} layout 2>/tmp/ppemu-epipe.err | head -c 1 >/dev/null; echo \${PIPESTATUS[0]}; cat /tmp/ppemu-epipe.err`], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 30_000,
    });
    // `layout` prints ~40 KB in one write; the pipe takes 64 KB, so it may or may not see EPIPE.
    expect(s.stdout.split("\n")[0]).toMatch(/^(0|141)$/);
    expect(s.stdout.split("\n").slice(1).join("")).toBe("");
    const b = spawnSync("bash", ["-c", `node ${CLI} bench --test for_loop --time 5 2>/tmp/ppemu-epipe.err | head -c 1 >/dev/null; echo \${PIPESTATUS[0]}; cat /tmp/ppemu-epipe.err`], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 30_000,
    });
    // bench writes its plan first and the results after the run: the second write meets the closed pipe.
    expect(b.stdout).toBe("141\n");
  }, 60_000);

  it("a full disk (> /dev/full): one line on stderr, exit 1", () => {
    const r = spawnSync("bash", ["-c", `node ${CLI} layout page > /dev/full`], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("ppemu: cannot write output: ENOSPC (no space left on device)\n");
  }, 20_000);

  it("--json FILE that cannot be written at the end: one line, exit 1; one that cannot be opened: before any work, exit 2", () => {
    const full = ppemu(["bench", "--test", "for_loop", "--time", "5", "--json", "/dev/full"]);
    expect(full.status).toBe(1);
    expect(full.stderr).toBe("ppemu bench: --json /dev/full: cannot write: ENOSPC (no space left on device)\n");
    const t0 = Date.now();
    const proc = ppemu(["bench", "--json", "/proc/x"]);
    expect(proc.status).toBe(2);
    expect(proc.stdout).toBe("");
    expect(proc.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    expect(Date.now() - t0).toBeLessThan(5_000); // refused before a full benchmark (about a minute)
  }, 30_000);
});
