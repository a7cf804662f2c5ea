/**
 * The metrics schema and the live dashboard. The dashboard test makes a real tiny run, serves
 * it with `grpo-guard dashboard`, and drives Debian's chromium (playwright-core) against it:
 * every chart draws the run, the epoch slider changes the ratio view, and records appended to
 * metrics.jsonl appear without a reload. With UPDATE_SCREENSHOT=1 it saves docs/dashboard.png.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readValidatedMetrics, validateMetricsRecord, type EpochMetrics, type EvalMetrics } from "../src/diagnostics/metrics-schema.js";
import { describeSkipped } from "../src/dashboard/series.js";
import { comparisonRuns, writeSyntheticRun } from "./synthetic-runs.js";

const bin = fileURLToPath(new URL("../../bin/grpo-guard.js", import.meta.url));
// The screenshot goes to a temporary folder; UPDATE_SCREENSHOT=1 writes docs/dashboard.png instead.
const docs = process.env.UPDATE_SCREENSHOT === "1" ? fileURLToPath(new URL("../../docs/", import.meta.url)) : mkdtempSync(join(tmpdir(), "grpo-guard-shot-"));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const env = { ...process.env, GRPO_GUARD_THREADS: "1" };
const root = mkdtempSync(join(tmpdir(), "grpo-guard-dashboard-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** A real 4-epoch run of the tiny DiT with evaluations (images + gold panel) every epoch. */
function makeRun(outDir: string, name: string, ...extra: string[]): string {
  const sets = [...extra, 
    "model.preset=dit-tiny", `name=${name}`, `output.dir=${outDir}`, "prompts.perEpoch=2", "groupSize=4", "sampling.steps=3",
    "train.epochs=4", "train.minibatch=4", "eval.every=1", "eval.perPrompt=2", "eval.steps=3", "diagnostics.gradNormEvery=1",
  ];
  const r = spawnSync(process.execPath, [bin, "train", ...sets.flatMap((s) => ["--set", s])], { encoding: "utf8", env, timeout: 180_000 });
  assert.equal(r.status, 0, `fixture run failed:\n${r.stdout}\n${r.stderr}`);
  return join(outDir, name);
}

const lines = (path: string) => readFileSync(path, "utf8").split("\n").filter((l) => l !== "");

let runDir = "";
let flowDir = "";
before(() => {
  runDir = makeRun(root, "fixture");
  flowDir = makeRun(root, "flow-grpo", "algorithm=flow-grpo", "train.clipLow=0.2", "train.clipHigh=0.2", "seed=7");
});

describe("metrics schema", () => {
  test("every record of a real run is valid", () => {
    const metrics = join(runDir, "metrics.jsonl");
    const { records, skipped } = readValidatedMetrics(metrics);
    assert.deepEqual(skipped, []);
    assert.equal(records.length, lines(metrics).length);
    assert.deepEqual(records.filter((r) => r.type === "epoch").map((r) => r.epoch), [0, 1, 2, 3]);
    assert.deepEqual(records.filter((r) => r.type === "eval").map((r) => r.epoch), [0, 1, 2, 3, 4]);
    const epoch = records.find((r) => r.type === "epoch") as EpochMetrics;
    assert.equal(epoch.steps.length, 3);
    assert.equal(epoch.stepGradNorms?.length, 3);
    assert.ok((records.find((r) => r.type === "eval") as EvalMetrics).gold, "gold panel present");
  });

  test("non-finite statistics (written as null) are valid; wrong types and unknown record types are not", () => {
    const epoch = JSON.parse(lines(join(runDir, "metrics.jsonl")).find((l) => l.includes('"type":"epoch"'))!);
    epoch.loss = null;
    epoch.steps[0].logRatio.p1 = null;
    assert.equal(validateMetricsRecord(epoch).ok, true);
    epoch.steps[1].count = "many";
    const bad = validateMetricsRecord(epoch);
    assert.equal(bad.ok, false);
    assert.match(!bad.ok ? bad.reason : "", /steps\.1\.count/);
    const unknown = validateMetricsRecord({ type: "frobnicate", epoch: 1 });
    assert.match(!unknown.ok ? unknown.reason : "", /unknown record type "frobnicate"/);
    assert.equal(validateMetricsRecord([1, 2]).ok, false);
    const eval_ = { type: "eval", epoch: 2, rewards: [], proxy: 0.5, prompts: [] };
    assert.equal(validateMetricsRecord(eval_).ok, true, "gold is optional");
    assert.equal(validateMetricsRecord({ ...eval_, epoch: -1 }).ok, false);
    assert.equal(validateMetricsRecord({ type: "alarm", epoch: 3, action: "explode", detail: "" }).ok, false);
  });

  test("a broken record and a truncated last line are skipped with their line numbers and reasons", () => {
    const source = lines(join(runDir, "metrics.jsonl"));
    const broken = JSON.parse(source[1]);
    broken.steps = "lots";
    const path = join(root, "broken.jsonl");
    const whole = [source[0], JSON.stringify(broken), "{not json", ...source.slice(2)];
    writeFileSync(path, whole.join("\n") + "\n" + source[3].slice(0, 120));
    const { records, skipped } = readValidatedMetrics(path);
    assert.equal(records.length, source.length - 1);
    assert.deepEqual(skipped.map((s) => [s.line, s.kind]), [[2, "schema"], [3, "json"], [whole.length + 1, "truncated"]]);
    assert.match(skipped[0].reason, /^epoch record: steps: /);
    assert.match(skipped[2].reason, /truncated last line \(120 bytes, no newline\)/);
    const phrases = describeSkipped(skipped);
    assert.equal(phrases[0], `1 truncated line skipped (line ${whole.length + 1})`);
    assert.match(phrases[1], /^1 unparseable line skipped \(line 3: /);
    assert.match(phrases[2], /^1 invalid record skipped \(line 2: epoch record: steps: /);
    // A complete last line without its newline is a record, not a truncation.
    writeFileSync(path, source.join("\n"));
    assert.deepEqual(readValidatedMetrics(path).skipped, []);
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const address = s.address();
      s.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Start `grpo-guard dashboard` and wait for the URL it prints. */
async function startCli(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [bin, "dashboard", ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dashboard did not start:\n${out}\n${err}`)), 30_000);
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`dashboard exited with ${code}:\n${out}\n${err}`)));
  });
  return { child, url };
}

describe("dashboard command", () => {
  test("a missing run directory, a non-run directory and a port in use are named errors with exit ≠ 0", async () => {
    const missing = spawnSync(process.execPath, [bin, "dashboard", join(root, "no-such-run")], { encoding: "utf8", env });
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /no-such-run: run directory not found/);
    mkdirSync(join(root, "empty"), { recursive: true });
    const empty = spawnSync(process.execPath, [bin, "dashboard", join(root, "empty")], { encoding: "utf8", env });
    assert.notEqual(empty.status, 0);
    assert.match(empty.stderr, /empty: not a run directory \(no metrics\.jsonl or config\.yaml\)/);
    const port = await freePort();
    const { child } = await startCli([runDir, "--port", String(port)]);
    try {
      const busy = spawnSync(process.execPath, [bin, "dashboard", runDir, "--port", String(port)], { encoding: "utf8", env });
      assert.notEqual(busy.status, 0);
      assert.match(busy.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      assert.doesNotMatch(busy.stderr, /^\s+at /m, "no stack trace");
    } finally {
      child.kill("SIGTERM");
    }
    const [code] = await new Promise<[number | null]>((resolve) => child.on("exit", (c) => resolve([c])));
    assert.equal(code, 0, "Ctrl-C/SIGTERM stops the dashboard cleanly");
  });

  test("the page draws every chart, follows the epoch slider and updates live", { skip: existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM} (apt-get install chromium)` }, async () => {
    const { chromium } = await import("playwright-core");
    const { child, url } = await startCli([runDir, flowDir, "--port", "0", "--poll", "200"]);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      const external: string[] = [];
      page.on("request", (r) => !r.url().startsWith(url) && !r.url().startsWith("data:") && external.push(r.url()));
      // Record the text uPlot draws on each chart's canvas (axis labels are canvas text).
      await page.addInitScript(() => {
        const drawn: Record<string, string[]> = {};
        (window as unknown as { drawnText: typeof drawn }).drawnText = drawn;
        const fillText = CanvasRenderingContext2D.prototype.fillText;
        CanvasRenderingContext2D.prototype.fillText = function (text: string, x: number, y: number, maxWidth?: number) {
          const id = (this.canvas.closest(".chart") as HTMLElement | null)?.id ?? "?";
          (drawn[id] ??= []).push(String(text));
          return maxWidth === undefined ? fillText.call(this, text, x, y) : fillText.call(this, text, x, y, maxWidth);
        };
      });
      await page.goto(url);
      await page.waitForFunction(() => (window as any).dashboard?.renders > 0 && (window as any).dashboard.connected);

      type ChartInfo = { data: (number | null)[][]; labels: string[]; runPixels: number[]; text: string[] };
      const charts = () =>
        page.evaluate(async () => {
          const d = (window as any).dashboard;
          const frame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
          const colours = [[31, 119, 180], [214, 39, 40]]; // run 0 #1f77b4, run 1 #d62728
          const out: Record<string, ChartInfo> = {};
          for (const [name, chart] of Object.entries<any>(d.charts)) {
            const canvas = chart.root.querySelector("canvas") as HTMLCanvasElement;
            const owner = (label: string) => (label.startsWith("flow-grpo ") ? 1 : 0);
            // Draw each run alone (the others hidden through uPlot's own legend toggle) and count
            // the opaque pixels of its colour.
            const runPixels: number[] = [];
            for (let k = 0; k < colours.length; k++) {
              chart.series.forEach((s: { label: string }, i: number) => i > 0 && chart.setSeries(i, { show: owner(s.label) === k }));
              await frame();
              const pixels = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
              const [r, g, b] = colours[k];
              let n = 0;
              for (let i = 0; i < pixels.length; i += 4) if (Math.abs(pixels[i] - r) + Math.abs(pixels[i + 1] - g) + Math.abs(pixels[i + 2] - b) < 60 && pixels[i + 3] > 200) n++;
              runPixels.push(n);
            }
            chart.series.forEach((_: unknown, i: number) => i > 0 && chart.setSeries(i, { show: true }));
            await frame();
            out[name] = { data: chart.data.map((s: ArrayLike<number | null>) => Array.from(s)), labels: chart.series.map((s: { label: string }) => s.label), runPixels, text: (window as any).drawnText[`chart-${name}`] ?? [] };
          }
          return out;
        }) as Promise<Record<string, ChartInfo>>;

      const records = readValidatedMetrics(join(runDir, "metrics.jsonl")).records;
      const evals = records.filter((r) => r.type === "eval") as EvalMetrics[];
      const epochs = records.filter((r) => r.type === "epoch") as EpochMetrics[];
      const last = epochs[epochs.length - 1];
      const flow = readValidatedMetrics(join(flowDir, "metrics.jsonl")).records;
      const flowLast = (flow.filter((r) => r.type === "epoch") as EpochMetrics[]).at(-1)!;
      let c = await charts();
      assert.deepEqual(Object.keys(c).sort(), ["clip", "grad", "proxy", "ratio"]);
      // Proxy and gold: one point per evaluation.
      assert.deepEqual(c.proxy.data[0], evals.map((e) => e.epoch));
      assert.deepEqual(c.proxy.labels.slice(1), ["fixture proxy", "fixture gold", "flow-grpo proxy", "flow-grpo gold"]);
      assert.deepEqual(c.proxy.data[1], evals.map((e) => e.proxy));
      assert.deepEqual(c.proxy.data[2], evals.map((e) => e.gold!.gold));
      assert.deepEqual(c.proxy.data[3], (flow.filter((r) => r.type === "eval") as EvalMetrics[]).map((e) => e.proxy), "runs are overlaid");
      // Per-timestep views at the newest epoch: one point per trained step.
      const steps = last.steps.map((s) => s.step);
      assert.deepEqual(c.ratio.data[0], steps);
      const quantiles = ["p1", "p5", "p50", "p95", "p99"] as const;
      assert.deepEqual(c.ratio.labels.slice(1), [...quantiles.map((q) => `fixture ${q}`), ...quantiles.map((q) => `flow-grpo ${q}`)]);
      assert.deepEqual(c.ratio.data[3], last.steps.map((s) => s.clippedLogRatio.p50));
      assert.deepEqual(c.ratio.data[5], last.steps.map((s) => s.clippedLogRatio.p99));
      assert.deepEqual(c.ratio.data[8], flowLast.steps.map((s) => s.clippedLogRatio.p50));
      assert.deepEqual(c.clip.data.slice(1), [last, flowLast].flatMap((r) => [r.steps.map((s) => s.clipPositive), r.steps.map((s) => s.clipNegative)]));
      assert.deepEqual(c.grad.data.slice(1), [last, flowLast].flatMap((r) => [r.stepGradNorms!.map((g) => g.before), r.stepGradNorms!.map((g) => g.after)]));
      const axisLabels: Record<string, string[]> = {
        proxy: ["completed training epochs", "proxy reward", "gold score"],
        ratio: ["sampling step (0 = pure noise)", "log-ratio"],
        clip: ["sampling step (0 = pure noise)", "clipped fraction"],
        grad: ["sampling step (0 = pure noise)", "gradient norm"],
      };
      for (const [name, labels] of Object.entries(axisLabels)) {
        for (const label of labels) assert.ok(c[name].text.includes(label), `${name} chart draws the axis label "${label}" (drew ${JSON.stringify(c[name].text)})`);
        c[name].runPixels.forEach((n, k) => assert.ok(n > 100, `${name} chart has drawn run ${k} in its colour (${n} pixels)`));
      }
      assert.ok(c.proxy.text.includes("alarm 2"), "the alarm epoch is marked on the proxy chart");
      assert.match(await page.locator("#runs li").first().innerText(), /fixture — grpo-guard on flow-sde · 4 trained epochs · 5 evaluations\s*alarm at epoch 2/);
      assert.match(await page.locator("#runs li").last().innerText(), /flow-grpo — flow-grpo on flow-sde · 4 trained epochs · 5 evaluations/);
      assert.equal(await page.locator("#epoch-label").innerText(), "epoch 4 of 4 (following the newest)");
      const images = () => page.locator("#images img").evaluateAll((imgs: HTMLImageElement[]) => imgs.map((img) => [img.src.replace(/^.*\/runs\//, ""), img.complete && img.naturalWidth > 0]));
      await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>("#images img")].every((img) => img.complete));
      assert.deepEqual(await images(), [["r0/images/eval-0004.png", true], ["r1/images/eval-0004.png", true]], "both runs' grids load");

      // The frontier: each gold component the runs logged (gold panel v2) against the proxy, one
      // curve per run, one point per evaluation, the noise floors as bands.
      const frontier = await page.evaluate(() =>
        [...document.querySelectorAll("#frontier svg.gold-panel")].map((svg) => ({
          key: svg.getAttribute("data-key"),
          series: [...svg.querySelectorAll("g.series")].map((g) => ({ run: g.getAttribute("data-run"), points: [...g.querySelectorAll("circle")].map((c) => [Number(c.dataset.x), Number(c.dataset.y)]) })),
          floors: svg.querySelectorAll("rect.hband").length,
        })),
      );
      const catalog = evals[0].gold!.components!;
      assert.ok(catalog.length >= 5, `the real runs log the gold panel v2 components (${catalog.map((c) => c.key)})`);
      assert.deepEqual(frontier.map((p) => p.key), catalog.map((c) => c.key));
      const judgeAt = frontier.findIndex((p) => p.key === "judge-accuracy");
      const judge = frontier[judgeAt].series;
      assert.deepEqual(judge.map((s) => s.run), ["fixture", "flow-grpo"], "one curve per run");
      assert.deepEqual(judge[0].points, evals.map((e) => [e.proxy, e.gold!.components!.find((c) => c.key === "judge-accuracy")!.value]));
      assert.equal(frontier[frontier.findIndex((p) => p.key === "fd-judge")].floors, 1, "the Fréchet noise floor is drawn as a band");
      assert.equal(await page.locator("#components svg.gold-panel").count(), catalog.length);

      // The two real runs, before the test moves sliders and appends synthetic records.
      mkdirSync(docs, { recursive: true });
      await page.screenshot({ path: join(docs, "dashboard.png"), fullPage: true });

      // The epoch slider moves the per-timestep views.
      await page.locator("#epoch").focus();
      await page.keyboard.press("Home");
      await page.waitForFunction(() => document.getElementById("epoch-label")!.textContent === "epoch 1 of 4");
      c = await charts();
      assert.deepEqual(c.ratio.data[3], epochs[0].steps.map((s) => s.clippedLogRatio.p50));
      assert.deepEqual(c.ratio.data[1], epochs[0].steps.map((s) => s.clippedLogRatio.p1));
      assert.notDeepEqual(c.ratio.data[1], last.steps.map((s) => s.clippedLogRatio.p1), "the view changed");
      assert.deepEqual(c.grad.data[2], epochs[0].stepGradNorms!.map((g) => g.after));
      await page.locator("#image-epoch").focus();
      await page.keyboard.press("Home");
      await page.waitForFunction(() => /eval-0000\.png$/.test(document.querySelector<HTMLImageElement>("#images img")!.src));

      // Live: a new epoch + evaluation + alarm + grid appended by "the trainer", and a half-written line.
      await page.evaluate(() => ((window as any).sameDocument = true));
      const metrics = join(runDir, "metrics.jsonl");
      const next = JSON.parse(lines(metrics).filter((l) => l.includes('"type":"epoch"')).at(-1)!);
      next.epoch = 4;
      for (const s of next.steps) for (const q of ["p1", "p5", "p50", "p95", "p99"]) s.clippedLogRatio[q] = s.clippedLogRatio[q] * 3 + 0.01;
      const nextEval = JSON.parse(lines(metrics).filter((l) => l.includes('"type":"eval"')).at(-1)!);
      nextEval.epoch = 5;
      nextEval.proxy = 0.5;
      copyFileSync(join(runDir, "images", "eval-0004.png"), join(runDir, "images", "eval-0005.png"));
      appendFileSync(metrics, [JSON.stringify(next), JSON.stringify(nextEval), JSON.stringify({ type: "alarm", epoch: 5, action: "log", detail: "test" })].join("\n") + "\n");
      await page.waitForFunction(() => (window as any).dashboard.charts.proxy.data[0].length === 6, null, { timeout: 10_000 });
      c = await charts();
      assert.deepEqual(c.proxy.data[0], [0, 1, 2, 3, 4, 5]);
      assert.equal(c.proxy.data[1][5], 0.5);
      assert.ok(c.proxy.text.includes("alarm 5"), "the new alarm is marked");
      assert.equal(await page.locator("#epoch-label").innerText(), "epoch 1 of 5", "the slider keeps its place and grows");
      assert.equal(await page.locator("#image-epoch").getAttribute("max"), "5");
      await page.locator("#epoch").focus();
      await page.keyboard.press("End");
      await page.waitForFunction(() => document.getElementById("epoch-label")!.textContent!.startsWith("epoch 5 of 5"));
      c = await charts();
      assert.deepEqual(c.ratio.data[3], next.steps.map((s: EpochMetrics["steps"][number]) => s.clippedLogRatio.p50));
      appendFileSync(metrics, JSON.stringify(next).slice(0, 200));
      await page.waitForFunction(() => document.getElementById("runs")!.textContent!.includes("1 truncated line skipped"), null, { timeout: 10_000 });
      assert.equal(await page.evaluate(() => (window as any).sameDocument), true, "no reload");
      await page.locator("#image-epoch").focus();
      await page.keyboard.press("End");
      await page.waitForFunction(() => /eval-0005\.png$/.test(document.querySelector<HTMLImageElement>("#images img")!.src));

      assert.deepEqual(errors, []);
      assert.deepEqual(external, [], "nothing is loaded from outside the dashboard server");
    } finally {
      await browser.close();
      child.kill("SIGTERM");
    }
  });

  test("15 synthetic runs: one hue per method, the frontier with one curve per run, gold-falls spans without an alarm, live", { skip: existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM}` }, async () => {
    const synthetic = join(root, "synthetic");
    const dirs = comparisonRuns(synthetic, { components: true, epochs: 10, outlier: true });
    // Gold falls while the proxy rises from epoch 4 on, and no alarm fired.
    const quiet = writeSyntheticRun(synthetic, { name: "quiet-fall", algorithm: "grpo-guard", dynamics: "cps", seed: 0, epochs: 8, components: true, gold: (e) => (e <= 4 ? 0.7 + 0.04 * e : 0.86 - 0.05 * (e - 4)) });
    const { chromium } = await import("playwright-core");
    const { child, url } = await startCli([...dirs, quiet, "--port", "0", "--poll", "200"]);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.addInitScript(() => {
        const drawn: string[] = [];
        (window as unknown as { drawnText: string[] }).drawnText = drawn;
        const fillText = CanvasRenderingContext2D.prototype.fillText;
        CanvasRenderingContext2D.prototype.fillText = function (text: string, x: number, y: number, maxWidth?: number) {
          if ((this.canvas.closest(".chart") as HTMLElement | null)?.id === "chart-proxy") drawn.push(String(text));
          return maxWidth === undefined ? fillText.call(this, text, x, y) : fillText.call(this, text, x, y, maxWidth);
        };
      });
      await page.goto(url);
      await page.waitForFunction(() => (window as any).dashboard?.renders > 0);
      const state = () => page.evaluate(() => { const s = (window as any).dashboard.state; return { colors: s.colors as string[], goldFalls: s.goldFalls as { from: number; to: number }[][], names: s.runs.map((r: { name: string }) => r.name) as string[] }; });
      let st = await state();
      assert.equal(st.names.length, 16);
      // One hue per method: the seeds of a method differ only in lightness (mixing with white keeps the hue).
      const hue = (hex: string) => {
        const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
        return Math.atan2(Math.sqrt(3) * (g - b), 2 * r - g - b);
      };
      const byMethod = new Map<string, number[]>();
      st.names.forEach((name, k) => {
        const method = name.replace(/-s\d+$/, "");
        byMethod.set(method, [...(byMethod.get(method) ?? []), k]);
      });
      for (const [method, runs] of byMethod) {
        for (const k of runs) assert.ok(Math.abs(hue(st.colors[k]) - hue(st.colors[runs[0]])) < 0.05, `${method}: one hue`);
        assert.equal(new Set(runs.map((k) => st.colors[k])).size, runs.length, `${method}: seeds in distinct shades`);
      }
      assert.equal(new Set([...byMethod.values()].map((runs) => st.colors[runs[0]])).size, byMethod.size, "methods in distinct colours");

      // The frontier: per component, one curve per run with one point per evaluation, CI whiskers, a floor band.
      const frontier = await page.evaluate(() =>
        [...document.querySelectorAll("#frontier svg.gold-panel")].map((svg) => ({
          key: svg.getAttribute("data-key"),
          curves: [...svg.querySelectorAll("g.series")].map((g) => ({ run: g.getAttribute("data-run"), points: g.querySelectorAll("circle").length, whiskers: g.querySelectorAll("path.whisker").length })),
          floors: svg.querySelectorAll("rect.hband").length,
        })),
      );
      assert.deepEqual(frontier.map((p) => p.key), ["kid", "judge"]);
      for (const panel of frontier) {
        assert.deepEqual(panel.curves.map((c) => c.run), st.names, `${panel.key}: one curve per run`);
        const evalsPerRun = [...dirs, quiet].map((d) => readValidatedMetrics(join(d, "metrics.jsonl")).records.filter((r) => r.type === "eval").length);
        assert.deepEqual(panel.curves.map((c) => c.points), evalsPerRun);
        assert.deepEqual(panel.curves.map((c) => c.whiskers), evalsPerRun);
        assert.equal(panel.floors, 1);
      }

      // Gold falls while the proxy rises: marked for the quiet run although no alarm fired.
      const q = st.names.indexOf("quiet-fall");
      assert.deepEqual(st.goldFalls[q], [{ from: 4, to: 8 }]);
      const item = page.locator("#runs li").nth(q);
      assert.match(await item.innerText(), /gold fell while the proxy rose: epochs 4–8/);
      assert.doesNotMatch(await item.innerText(), /alarm/);
      assert.ok(await page.evaluate(() => (window as any).drawnText.includes("gold ↓ while proxy ↑")), "the span is drawn on the proxy chart");

      // One run's log-ratio tails are 1000× the others': it is named and cut, the others keep the scale.
      assert.match(await page.locator("#ratio-note").innerText(), /^off scale \(tails over 5× the median run's, cut at the edge\): digits-flow-grpo-lr5e-4-s1$/);
      const yScale = await page.evaluate(() => (window as any).dashboard.charts.ratio.scales.y);
      const typical = readValidatedMetrics(join(dirs[0], "metrics.jsonl")).records.filter((r) => r.type === "epoch").at(-1) as EpochMetrics;
      const p99 = Math.max(...typical.steps.map((s) => s.clippedLogRatio.p99!));
      assert.ok(yScale.max >= p99 && yScale.max < 3 * p99, `the y range (${yScale.min}, ${yScale.max}) fits the typical runs (p99 up to ${p99})`);

      // Live: a run whose gold had only risen gets a span when a falling evaluation is appended.
      const first = st.names.indexOf("digits-grpo-guard-s0");
      assert.deepEqual(st.goldFalls[first], []);
      const metrics = join(dirs[1], "metrics.jsonl");
      const last = JSON.parse(lines(metrics).filter((l) => l.includes('"type":"eval"')).at(-1)!);
      appendFileSync(metrics, JSON.stringify({ ...last, epoch: last.epoch + 2, proxy: last.proxy + 0.01, gold: { ...last.gold, gold: last.gold.gold - 0.1 } }) + "\n");
      await page.waitForFunction((k) => (window as any).dashboard.state.goldFalls[k].length === 1, first, { timeout: 10_000 });
      st = await state();
      assert.deepEqual(st.goldFalls[first], [{ from: last.epoch, to: last.epoch + 2 }]);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      child.kill("SIGTERM");
    }
  });
});
