/** The library barrel: the API a script needs, no CLI, nothing that forks or reads the OS. */
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

describe("src/index.ts (the package's main export)", () => {
  it("exports the API and no CLI; loading it pulls in no child_process, os or worker_threads", () => {
    const script = `
      const m = await import("ppemu");
      const loaded = process.moduleLoadList.filter((x) => /^NativeModule (child_process|os|worker_threads)$/.test(x));
      const want = ["bootPpSystem", "attachPpSystem", "PagePools", "NetStack", "allBuilds", "resolveBuild", "registerBuild",
        "runUnbind", "measureTrackingCost", "runVerify", "verifySummary", "Explainer", "buildReport", "pahole", "layoutOf"];
      console.log(JSON.stringify({ main: "main" in m, missing: want.filter((k) => !(k in m)), loaded,
        offsets: "PAGE_PP_MAGIC" in m, sub: "PAGE_PP_MAGIC" in (await import("ppemu/offsets")) }));`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, encoding: "utf8" });
    expect(JSON.parse(out)).toEqual({ main: false, missing: [], loaded: [], offsets: false, sub: true });
  });
});
