// Shared by the browser tests: a headless Debian Chromium driven by
// playwright-core, pointed at the ferry server in FERRY_URL (started and
// seeded by tests/dashboard/*.py). Every page error or failed request to
// the server fails the test; screenshots go to SCREENSHOT_DIR.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const FERRY_URL = process.env.FERRY_URL ?? "";
if (!FERRY_URL) throw new Error("FERRY_URL is not set: run the browser tests through pytest tests/dashboard");
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR ?? "../test-artifacts/screenshots";

// Flags for a root user on a closed network (see the machine notes): no
// sandbox, no GPU, and none of Chromium's background calls home.
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

// Opens a browser and a page; `problems` collects page errors, console
// errors and failed responses from the server, which `expectClean` checks.
export async function open(t, { theme = "light", viewport = { width: 1360, height: 860 } } = {}) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ARGS,
    headless: true,
  });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport, colorScheme: theme });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 500) problems.push(`${r.status()} from ${r.url()}`);
  });
  return { browser, page, problems };
}

export function url(path) {
  return FERRY_URL.replace(/\/$/, "") + path;
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

// Fails with every problem the page reported (expected 4xx answers a test
// provokes on purpose are not problems; 5xx and script errors are).
export function expectClean(problems, allow = []) {
  const left = problems.filter((p) => !allow.some((a) => p.includes(a)));
  if (left.length) throw new Error(`the page reported problems:\n${left.join("\n")}`);
}
