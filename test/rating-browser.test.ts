/**
 * `grpo-guard rate` end to end: two tiny fixture runs (freshly initialised dit-tiny weights
 * saved as policy-ema.safetensors — no training), a 6-pair study, and Debian's chromium
 * (playwright-core) as two scripted raters in separate browser contexts. One rater clicks and
 * presses ← / → / ↓, reloads mid-way and goes on where it stopped, the server is stopped and
 * started again in the middle, the other rater works at the same time; the results page then
 * shows the counts the test expects from its own answers. Every vote here is SIMULATED (the
 * study is made with --simulated, and every page and report says so).
 * With UPDATE_SCREENSHOT=1 it also saves docs/images/rating-page.png and rating-results.png
 * from a study of the shipped base model against itself.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initEngine } from "../src/engine/jax.js";
import { StudyStore } from "../src/rating/store.js";
import { fixtureRun, freePort, rate, startCli, stopCli } from "./rating-fixtures.js";

const baseModel = fileURLToPath(new URL("../../weights/dit-s-digits.safetensors", import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = process.env.UPDATE_SCREENSHOT === "1" ? fileURLToPath(new URL("../../docs/images/", import.meta.url)) : null;
const root = mkdtempSync(join(tmpdir(), "grpo-guard-rating-"));
after(() => rmSync(root, { recursive: true, force: true }));
const PAIRS = 6;

let runA = "";
let runB = "";
before(async () => {
  await initEngine();
  runA = await fixtureRun(root, "tiny-a", 1, "grpo-guard");
  runB = await fixtureRun(root, "tiny-b", 2, "flow-grpo");
});

describe("rating page in a browser", () => {
  test("two scripted raters in chromium: buttons and keys, a reload, a server restart, the results", { skip: existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM} (apt-get install chromium)` }, async () => {
    const { chromium } = await import("playwright-core");
    const study = join(root, "ratings", "tiny");
    const port = await freePort();
    const args = [runA, runB, "--study", study, "--pairs", String(PAIRS), "--steps", "2", "--question", "alignment", "--prompts", "3,7", "--simulated", "--port", String(port)];
    let cli = await startCli(args);
    assert.match(cli.out(), /making study .*tiny: 6 pairs of tiny-a \/ tiny-b, 2 ODE steps/);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    });
    const errors: string[] = [];
    const external: string[] = [];
    const given: { rater: string; pairId: number; answer: string }[] = [];
    try {
      const open = async () => {
        const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
        const page = await context.newPage();
        page.on("pageerror", (e) => errors.push(e.message));
        page.on("console", (m) => m.type() === "error" && !/409/.test(m.text()) && errors.push(m.text()));
        page.on("request", (r) => !r.url().startsWith(cli.url.replace(/\/[0-9a-f]{32}\/$/, "/")) && external.push(r.url()));
        return page;
      };
      type Page = Awaited<ReturnType<typeof open>>;
      const signIn = async (page: Page, rater: string) => {
        await page.goto(cli.url);
        await page.locator("#signin").waitFor();
        assert.match(await page.locator("#signin").innerText(), /6 pairs of small images/);
        await page.locator("#rater-input").fill(rater);
        await page.locator("#start").click();
      };
      const ready = (page: Page) => page.waitForFunction(() => (window as any).rating.ready);
      const ACTIONS = {
        "click-left": ["left", (p: Page) => p.locator("#choose-left").click()],
        "click-right": ["right", (p: Page) => p.locator("#choose-right").click()],
        "click-tie": ["tie", (p: Page) => p.locator("#choose-tie").click()],
        "key-left": ["left", (p: Page) => p.keyboard.press("ArrowLeft")],
        "key-right": ["right", (p: Page) => p.keyboard.press("ArrowRight")],
        "key-tie": ["tie", (p: Page) => p.keyboard.press("ArrowDown")],
      } as const;
      /** Answer the pair on screen; check the progress line and the question first. */
      const answer = async (page: Page, rater: string, how: keyof typeof ACTIONS) => {
        await ready(page);
        const { pairId, done } = await page.evaluate(() => ({ pairId: (window as any).rating.pairId as number, done: (window as any).rating.done as number }));
        assert.equal(await page.locator("#progress").innerText(), `${done + 1} of ${PAIRS}`);
        assert.match(await page.locator("#question").innerText(), /^Which is a clearer [37]\?$/);
        const [choice, act] = ACTIONS[how];
        await act(page);
        await page.waitForFunction((d) => (window as any).rating.done === d + 1 && !(window as any).rating.busy, done);
        given.push({ rater, pairId, answer: choice });
      };
      const answers = async (page: Page, rater: string, hows: (keyof typeof ACTIONS)[]) => {
        for (const how of hows) await answer(page, rater, how);
      };

      const ann = await open();
      const bob = await open();
      await Promise.all([signIn(ann, "sim-ann"), signIn(bob, "sim-bob")]);
      await Promise.all([answers(ann, "sim-ann", ["click-left", "key-right"]), answers(bob, "sim-bob", ["key-tie"])]);
      assert.ok(ann.url().includes("rater=sim-ann"), "the rater id is kept in the URL");

      // A reload continues with the third pair, without asking for the name again.
      const thirdPair = (await (await fetch(`${cli.url}api/next?rater=sim-ann`)).json()).pair.id;
      await ann.reload();
      await ready(ann);
      assert.equal(await ann.locator("#signin").isHidden(), true);
      assert.equal(await ann.locator("#progress").innerText(), `3 of ${PAIRS}`);
      assert.equal(await ann.evaluate(() => (window as any).rating.pairId), thirdPair);
      await answer(ann, "sim-ann", "click-tie");

      // Stop the server and start it again with the same command: same link, votes kept.
      assert.equal(await stopCli(cli), 0, "SIGTERM stops the server cleanly");
      const oldUrl = cli.url;
      cli = await startCli(args);
      assert.equal(cli.url, oldUrl, "the study's link survives a restart");
      assert.match(cli.out(), /continuing study .*tiny: 6 pairs, 4 votes from 2 raters so far/);
      await ann.reload();
      // Bob keeps his page (no reload) and goes on against the restarted server; Ann at the same time.
      await Promise.all([
        answers(ann, "sim-ann", ["key-left", "key-tie", "click-right"]),
        answers(bob, "sim-bob", ["click-right", "key-left", "key-left", "click-tie", "key-right"]),
      ]);
      for (const page of [ann, bob]) {
        await page.locator("#done").waitFor();
        assert.match(await page.locator("#done").innerText(), /All 6 pairs rated/);
      }

      // What the test expects, from its own answers and each pair's sides in study.db.
      const store = StudyStore.open(study);
      const pairs = new Map(store.pairs().map((p) => [p.id, p]));
      const stored = store.votes();
      const methods = store.methods();
      store.close();
      assert.deepEqual(
        stored.map((v) => [v.rater, v.pairId, v.answer]).sort(),
        given.map((g) => [g.rater, g.pairId, g.answer]).sort(),
        "every answer stored once, none lost across the reload and the restart",
      );
      assert.ok(stored.every((v) => v.timeMs >= 0 && v.timeMs < 60_000), "time to answer recorded");
      assert.deepEqual(methods.map((m) => [m.label, m.method]), [["tiny-a", "grpo-guard on flow-sde"], ["tiny-b", "flow-grpo on flow-sde"]]);
      const expected = { winsA: 0, ties: 0, winsB: 0 };
      for (const g of given) {
        const p = pairs.get(g.pairId)!;
        assert.deepEqual([p.methodA, p.methodB], [0, 1]);
        if (g.answer === "tie") expected.ties += 1;
        else if ((g.answer === "left") === p.leftIsA) expected.winsA += 1;
        else expected.winsB += 1;
      }
      assert.ok(expected.winsA > 0 && expected.winsB > 0 && expected.ties > 0, `a mixed set of answers (${JSON.stringify(expected)})`);

      await ann.locator("#results-link").click();
      await ann.locator("#win-tie-lose").waitFor();
      const row = ann.locator('#win-tie-lose tr[data-a="tiny-a"][data-b="tiny-b"]');
      const cell = async (field: string) => Number(await row.locator(`td[data-field="${field}"]`).getAttribute("data-count"));
      assert.deepEqual({ winsA: await cell("winsA"), ties: await cell("ties"), winsB: await cell("winsB") }, expected);
      assert.equal(await cell("votes"), 2 * PAIRS);
      assert.match(await row.innerText(), /tiny-a \(grpo-guard on flow-sde\)\s+tiny-b \(flow-grpo on flow-sde\)/);
      assert.match(await ann.locator("#simulated").innerText(), /SIMULATED votes/);
      assert.match(await ann.locator("#cohen").innerText(), /Cohen's κ \(the 2 raters who answered all 6 pairs\): -?\d\.\d{3}|undefined/);
      assert.equal(await ann.locator("#raters tr").count(), 3);

      // The same numbers from the command line, while the server runs.
      const report = rate("--study", study, "--report");
      assert.equal(report.status, 0, report.stderr);
      const markdown = readFileSync(join(study, "results.md"), "utf8");
      assert.match(markdown, /SIMULATED votes/);
      assert.ok(markdown.includes(`| tiny-a (grpo-guard on flow-sde) | tiny-b (flow-grpo on flow-sde) | ${2 * PAIRS} | ${expected.winsA} (`), markdown);
      const csvOut = join(root, "votes.csv");
      const csv = rate("--study", study, "--export", "csv", "--out", csvOut);
      assert.equal(csv.status, 0, csv.stderr);
      assert.equal(readFileSync(csvOut, "utf8").trim().split("\n").length, 2 * PAIRS + 1);
      assert.deepEqual(errors, []);
      assert.deepEqual(external, [], "nothing is loaded from outside the rating server");
    } finally {
      await browser.close();
      await stopCli(cli);
    }
  });

  test("docs screenshots (UPDATE_SCREENSHOT=1): the shipped base model against itself, simulated votes", { skip: SHOTS === null || !existsSync(CHROMIUM) ? "set UPDATE_SCREENSHOT=1 to write docs/images/rating-*.png" : false }, async () => {
    const { chromium } = await import("playwright-core");
    const study = join(root, "ratings", "base-vs-base");
    const cli = await startCli([baseModel, baseModel, "--study", study, "--pairs", "4", "--simulated", "--port", "0"]);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"] });
    try {
      const page = await browser.newPage({ viewport: { width: 900, height: 660 } });
      await page.goto(`${cli.url}?rater=sim-demo`);
      await page.waitForFunction(() => (window as any).rating.ready);
      await page.locator("#choose-tie").click();
      await page.waitForFunction(() => (window as any).rating.ready && (window as any).rating.done === 1);
      await page.screenshot({ path: join(SHOTS!, "rating-page.png") });
      for (const key of ["ArrowDown", "ArrowLeft", "ArrowDown"]) {
        const done = await page.evaluate(() => (window as any).rating.done);
        await page.keyboard.press(key);
        await page.waitForFunction((d) => (window as any).rating.done === d + 1 && ((window as any).rating.ready || (window as any).rating.done === 4), done);
      }
      await page.locator("#results-link").click();
      await page.locator("#win-tie-lose").waitFor();
      await page.screenshot({ path: join(SHOTS!, "rating-results.png"), fullPage: true });
      writeFileSync(join(SHOTS!, "rating-screenshots.txt"), "rating-page.png, rating-results.png: a 4-pair study of weights/dit-s-digits.safetensors against itself (both images of a pair are identical), answered by a script (SIMULATED votes); written by UPDATE_SCREENSHOT=1 node --test dist/test/rating-browser.test.js\n");
    } finally {
      await browser.close();
      await stopCli(cli);
    }
  });
});
