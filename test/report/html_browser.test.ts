/**
 * The HTML report in a real browser: Debian's chromium, driven headless by playwright-core. Where
 * /usr/bin/chromium is missing it is installed (`apt-get install -y chromium`) when running as root
 * under CI=true; otherwise the test is skipped with the reason printed. The page comes from the
 * command itself (`ppemu report --no-bench --html test-output/report.html`); the screenshot is
 * written to test-output/report.png.
 */
import { describe, expect, it } from "vitest";
import { existsSync, mkdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { main } from "../../src/cli/main.js";
import { BufferIo } from "../../src/cli/common.js";
import { FIGURE_IDS } from "../../src/report/html/page.js";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
const OUT = resolve("test-output");

/** Why there is no browser to test with, or null when /usr/bin/chromium is there (installed now if need be). */
function noBrowser(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const root = process.getuid?.() === 0;
  if (!root || process.env.CI !== "true") return `${CHROMIUM} is missing and cannot be installed here (needs root and CI=true; root: ${root}, CI=${process.env.CI ?? "unset"})`;
  const r = spawnSync("apt-get", ["install", "-y", "chromium"], { encoding: "utf8", timeout: 600_000, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (r.status !== 0 || !existsSync(CHROMIUM)) return `apt-get install -y chromium failed (status ${r.status}): ${(r.stderr || r.error?.message || "").trim().split("\n").pop()}`;
  return null;
}

const reason = noBrowser();
if (reason !== null) console.log(`html_browser.test.ts skipped: ${reason}`);

describe("ppemu report --html in headless chromium", () => {
  it.skipIf(reason !== null)(
    "loads without a console error, draws every figure, shows decoded addresses on hover, and is screenshotted",
    async () => {
      mkdirSync(OUT, { recursive: true });
      const html = join(OUT, "report.html");
      const io = new BufferIo();
      expect(await main(["report", "--no-bench", "--html", html], io)).toBe(0);
      expect(io.stdout.trimEnd().split("\n").pop()).toMatch(new RegExp(`^HTML report written to ${html.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(\\d+ bytes\\)$`));

      const { chromium } = await import("playwright-core");
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
      try {
        const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
        const errors: string[] = [];
        page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
        page.on("pageerror", (e) => errors.push(String(e)));
        const requests: string[] = [];
        page.on("request", (r) => requests.push(r.url()));
        await page.goto(pathToFileURL(html).href, { waitUntil: "load" });

        for (const id of FIGURE_IDS) {
          const fig = page.locator(`svg#${id}`);
          expect(await fig.count(), id).toBe(1);
          const box = (await fig.boundingBox())!;
          expect(box.width > 100 && box.height > 20, `${id} ${JSON.stringify(box)}`).toBe(true);
          expect(await fig.evaluate((e) => e.querySelectorAll("rect, circle, line").length), id).toBeGreaterThan(5);
        }
        expect(await page.locator("#fig-memmap rect.frame").count()).toBe(8192);
        expect(await page.locator("#fig-itemblock rect.item").count()).toBe(254);

        const tip = page.locator("#tip");
        expect(await tip.isHidden()).toBe(true);
        await page.hover('#fig-memmap rect[data-pfn="153"]');
        expect(await tip.isVisible()).toBe(true);
        expect(await tip.textContent()).toBe("pfn 0x99  0xffff888000099000  struct page 0xffffea0000002640  phys 0x99000: item blocks");
        await page.hover('#fig-itemblock rect.item[data-index="190"]');
        expect(await tip.textContent()).toBe("items[190] at 0xffff888000099c00 (block + 3072): state 0x1 (USED), pp_netmem/lentry 0xffffea0000003680");
        await page.hover("#fig-race rect.step >> nth=10");
        expect(await tip.textContent()).toBe("step 11: CPU 0 stopped at __page_pool_destroy");

        await page.mouse.move(0, 0);
        await page.screenshot({ path: join(OUT, "report.png"), fullPage: true });
        expect(existsSync(join(OUT, "report.png"))).toBe(true);
        expect(errors).toEqual([]);
        // Self-contained: the page itself is the only thing loaded.
        expect(requests).toEqual([pathToFileURL(html).href]);
      } finally {
        await browser.close();
      }
    },
    180_000,
  );
});
