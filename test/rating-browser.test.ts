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
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initEngine } from "../src/engine/jax.js";
import { keyFromSeed } from "../src/engine/prng.js";
import { saveParams } from "../src/engine/safetensors.js";
import { disposeTree } from "../src/engine/tree.js";
import { createModel, presetConfig } from "../src/models/registry.js";
import { StudyStore } from "../src/rating/store.js";

const bin = fileURLToPath(new URL("../../bin/grpo-guard.js", import.meta.url));
const baseModel = fileURLToPath(new URL("../../weights/dit-s-digits.safetensors", import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = process.env.UPDATE_SCREENSHOT === "1" ? fileURLToPath(new URL("../../docs/images/", import.meta.url)) : null;
const env = { ...process.env, GRPO_GUARD_THREADS: "1" };
const root = mkdtempSync(join(tmpdir(), "grpo-guard-rating-"));
after(() => rmSync(root, { recursive: true, force: true }));
const PAIRS = 6;

/** A run directory holding only a freshly initialised tiny model as its final policy. */
async function fixtureRun(name: string, seed: number, algorithm: string): Promise<string> {
  const dir = join(root, "runs", name);
  mkdirSync(dir, { recursive: true });
  const config = presetConfig("dit-tiny");
  const params = createModel(config).init(keyFromSeed(seed));
  await saveParams(join(dir, "policy-ema.safetensors"), params, { format: "grpo-guard/model", config, trainedWith: { algorithm, dynamics: "flow-sde" } });
  disposeTree(params);
  return dir;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const address = s.address();
      s.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

interface Cli {
  child: ChildProcess;
  url: string;
  out: () => string;
  err: () => string;
}

/** Start `grpo-guard rate …` and wait for the URL it prints. */
async function startCli(args: string[]): Promise<Cli> {
  const child = spawn(process.execPath, [bin, "rate", ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rate did not start:\n${out}\n${err}`)), 60_000);
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /rating page at (http:\/\/\S+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`rate exited with ${code}:\n${out}\n${err}`)));
  });
  return { child, url, out: () => out, err: () => err };
}

async function stopCli(cli: Cli): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => cli.child.on("exit", (code) => resolve(code)));
  cli.child.kill("SIGTERM");
  return exited;
}

const rate = (...args: string[]) => spawnSync(process.execPath, [bin, "rate", ...args], { encoding: "utf8", env, timeout: 60_000 });

let runA = "";
let runB = "";
before(async () => {
  await initEngine();
  runA = await fixtureRun("tiny-a", 1, "grpo-guard");
  runB = await fixtureRun("tiny-b", 2, "flow-grpo");
});

describe("rate command", () => {
  test("bad input is one named line with exit ≠ 0", () => {
    const one = rate(runA, "--study", join(root, "one"));
    assert.notEqual(one.status, 0);
    assert.match(one.stderr, /no study here yet; give two or more runs to compare/);
    mkdirSync(join(root, "runs", "unfinished"), { recursive: true });
    const unfinished = rate(runA, join(root, "runs", "unfinished"));
    assert.notEqual(unfinished.status, 0);
    assert.match(unfinished.stderr, /unfinished: no policy-ema\.safetensors \(a run writes its final EMA policy there when training ends\)/);
    const missing = rate(runA, join(root, "nope"));
    assert.match(missing.stderr, /nope: not found \(expected a run directory or a \.safetensors weight file\)/);
    const noStudy = rate("--study", join(root, "absent"), "--report");
    assert.notEqual(noStudy.status, 0);
    assert.match(noStudy.stderr, /absent: no rating study here \(no study\.db\)/);
    const question = rate(runA, runB, "--question", "prettiness");
    assert.notEqual(question.status, 0);
    assert.match(question.stderr, /Allowed choices are likeness, alignment/);
    const prompts = rate(runA, runB, "--study", join(root, "bad-prompt"), "--prompts", "0,x");
    assert.notEqual(prompts.status, 0);
    assert.match(prompts.stderr, /--prompts: prompt "x": unknown word "x"/);
    for (const r of [one, unfinished, missing, noStudy, prompts]) assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  });

  test("an address other than loopback needs --host and prints a warning", async () => {
    const study = join(root, "host");
    const cli = await startCli([runA, runB, "--study", study, "--pairs", "2", "--steps", "2", "--simulated", "--port", "0", "--host", "127.0.0.2"]);
    try {
      assert.match(cli.url, /^http:\/\/127\.0\.0\.2:\d+\/[0-9a-f]{32}\/$/);
      assert.match(cli.err(), /warning: --host 127\.0\.0\.2: the rating page is reachable from other machines/);
      assert.equal((await fetch(cli.url)).status, 200);
      assert.equal((await fetch(new URL(cli.url).origin + "/")).status, 403);
    } finally {
      assert.equal(await stopCli(cli), 0);
    }
    const local = await startCli(["--study", study, "--port", "0"]);
    try {
      assert.match(local.url, /^http:\/\/127\.0\.0\.1:/, "loopback by default");
      assert.doesNotMatch(local.err(), /warning/);
      assert.match(local.out(), /continuing study .*host: 2 pairs, 0 votes from 0 raters so far/);
    } finally {
      await stopCli(local);
    }
    const changed = rate("--study", study, "--pairs", "3");
    assert.match(changed.stderr, /--pairs: the study in .*host was made with 2, not 3/);
    const other = rate(runB, runA, "--study", study, "--report");
    assert.match(other.stderr, /host: this study compares .*tiny-a.*tiny-b.*; pass the same runs, or a new --study directory/);
  });

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
