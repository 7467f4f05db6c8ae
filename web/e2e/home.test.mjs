// Home page: running-now, recent runs, endpoints, queue usage, theme, deep
// links and the not-found state. Seeded by tests/dashboard/test_home.py
// with one finished pipeline run (SEED_RUN_ID, SEED_RUN_NAME).
import assert from "node:assert/strict";
import { test } from "node:test";
import { expectClean, open, screenshot, url } from "./lib.mjs";

const RUN_ID = process.env.SEED_RUN_ID;
const RUN_NAME = process.env.SEED_RUN_NAME;

test("home shows recent runs, queue usage and switches theme", async (t) => {
  const { page, problems } = await open(t);
  await page.goto(url("/"));
  await page.getByRole("heading", { name: "Home" }).waitFor();
  const recent = page.getByTestId("recent-runs");
  await recent.getByText(RUN_NAME).waitFor();
  assert.equal(await recent.locator(`[data-state="SUCCEEDED"]`).count() >= 1, true);
  await page.getByTestId("queue-usage").waitFor();
  assert.match(await page.getByTestId("queue-usage").innerText(), /cores/);
  await screenshot(page, "home-light");

  await page.getByTestId("theme-toggle").click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
  await page.reload();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark", "the theme survives a reload");
  await screenshot(page, "home-dark");
  expectClean(problems);
});

test("a recent run is a deep link, reachable by keyboard", async (t) => {
  const { page, problems } = await open(t);
  await page.goto(url("/"));
  const row = page.getByTestId("recent-runs").locator("tbody tr").first();
  await row.focus();
  await page.keyboard.press("Enter");
  await page.waitForURL(`**/runs/${RUN_ID}`);
  expectClean(problems);
});

test("an unknown page says so and links home", async (t) => {
  const { page, problems } = await open(t);
  await page.goto(url("/pipelines/no/such/page"));
  await page.getByText("No such page").waitFor();
  await page.getByRole("link", { name: "Back to the home page" }).click();
  await page.getByRole("heading", { name: "Home" }).waitFor();
  expectClean(problems);
});
