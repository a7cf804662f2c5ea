/**
 * `grpo-guard report` on two real tiny runs (GRPO-Guard and Flow-GRPO): the SVG figures are
 * well-formed and carry the runs' series (read back from the SVG text), and summary.md holds
 * the table.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readValidatedMetrics, type EpochMetrics, type EvalMetrics, type ValidMetricsRecord } from "../src/diagnostics/metrics-schema.js";
import { formatNumber } from "../src/dashboard/series.js";
import { escapeXml, niceTicks, renderPanel, symlog, symlogTicks } from "../src/dashboard/svg.js";
import { pickEvenly, writeReport } from "../src/dashboard/report.js";
import { comparisonRuns, writeSyntheticRun } from "./synthetic-runs.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const bin = fileURLToPath(new URL("../../bin/grpo-guard.js", import.meta.url));
const env = { ...process.env, GRPO_GUARD_THREADS: "1" };
const root = mkdtempSync(join(tmpdir(), "grpo-guard-report-"));
after(() => rmSync(root, { recursive: true, force: true }));

function cli(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env, timeout: 180_000 });
}

/** A real 4-epoch run of the tiny DiT with evaluations (images + gold panel) every epoch. */
function makeRun(name: string, ...extra: string[]): string {
  const sets = [
    ...extra, "model.preset=dit-tiny", `name=${name}`, `output.dir=${root}`, "prompts.perEpoch=2", "groupSize=4", "sampling.steps=3",
    "train.epochs=4", "train.minibatch=4", "eval.every=1", "eval.perPrompt=2", "eval.steps=3", "diagnostics.gradNormEvery=1",
  ];
  const r = cli("train", ...sets.flatMap((s) => ["--set", s]));
  assert.equal(r.status, 0, `fixture run failed:\n${r.stdout}\n${r.stderr}`);
  return join(root, name);
}

/** Tag balance of an SVG/XML document (no XML parser in the dependencies). */
function assertWellFormed(svg: string, file: string): void {
  assert.match(svg, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, file);
  const stack: string[] = [];
  for (const m of svg.replace(/^<\?xml[^>]*\?>/, "").matchAll(/<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)) {
    const [, closing, name, , selfClosing] = m;
    if (selfClosing) continue;
    if (closing) assert.equal(stack.pop(), name, `${file}: </${name}> closes the wrong element`);
    else stack.push(name);
  }
  assert.deepEqual(stack, [], `${file}: unclosed elements`);
  assert.doesNotMatch(svg.replace(/<[^>]*>/g, ""), /[<>]|&(?!amp;|lt;|gt;|quot;|apos;)/, `${file}: unescaped text`);
}

const unescapeXml = (s: string) => s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" })[e]!);

interface Series {
  name: string;
  run: string;
  axis: string;
  color: string;
  points: [number, number][];
  whiskers: [number, number, number][];
}

/** Panel titles of a figure, in order. */
const panelTitles = (svg: string) => [...svg.matchAll(/<g class="panel" [^>]*data-title="([^"]+)"/g)].map((m) => unescapeXml(m[1]));

/** Spans where gold fell while the proxy rose from one evaluation to the next (merged), computed here independently. */
function expectedFalls(evals: EvalMetrics[]): [number, number][] {
  const spans: [number, number][] = [];
  for (let i = 1; i < evals.length; i++) {
    const [a, b] = [evals[i - 1], evals[i]];
    if (b.proxy! > a.proxy! && b.gold!.gold! < a.gold!.gold!) {
      if (spans.length && spans[spans.length - 1][1] === a.epoch) spans[spans.length - 1][1] = b.epoch;
      else spans.push([a.epoch, b.epoch]);
    }
  }
  return spans;
}

/** The SVG text of one panel (by its title). */
function panelText(svg: string, panel: string): string {
  const at = svg.indexOf(`data-title="${escapeXml(panel)}"`);
  assert.ok(at >= 0, `panel "${panel}"`);
  const start = svg.lastIndexOf(`<g class="panel" transform=`, at);
  const next = svg.indexOf(`<g class="panel"`, start + 1);
  return svg.slice(start, next < 0 ? svg.indexOf(`<g class="legend">`) : next);
}

/** Every `<g class="series">` of a figure (per panel when `panel` is given) with its points. */
function seriesOf(svg: string, panel?: string): Series[] {
  const text = panel === undefined ? svg : panelText(svg, panel);
  return [...text.matchAll(/<g class="series" data-series="([^"]*)" data-run="([^"]*)" data-axis="(\w+)" data-color="([^"]*)">([\s\S]*?)<\/g>/g)].map((m) => ({
    name: unescapeXml(m[1]),
    run: unescapeXml(m[2]),
    axis: m[3],
    color: m[4],
    points: [...m[5].matchAll(/<circle [^>]*data-x="([^"]+)" data-y="([^"]+)"/g)].map((p) => [Number(p[1]), Number(p[2])] as [number, number]),
    whiskers: [...m[5].matchAll(/<path class="whisker" data-x="([^"]+)" data-lo="([^"]+)" data-hi="([^"]+)"/g)].map((p) => [Number(p[1]), Number(p[2]), Number(p[3])] as [number, number, number]),
  }));
}

const find = (list: Series[], name: string) => {
  const s = list.find((x) => x.name === name);
  assert.ok(s, `series "${name}" in ${JSON.stringify(list.map((x) => x.name))}`);
  return s!;
};

let guardDir = "";
let flowDir = "";
let out = "";
const records: Record<string, ValidMetricsRecord[]> = {};
before(() => {
  guardDir = makeRun("guard");
  flowDir = makeRun("flow", "algorithm=flow-grpo", "train.clipLow=0.2", "train.clipHigh=0.2", "seed=7");
  records.guard = readValidatedMetrics(join(guardDir, "metrics.jsonl")).records;
  records.flow = readValidatedMetrics(join(flowDir, "metrics.jsonl")).records;
  // The flow run was killed mid-write (as far as the report can tell).
  appendFileSync(join(flowDir, "metrics.jsonl"), '{"type":"epoch","epoch":4,"window":[0,');
  out = join(root, "report");
  const r = cli("report", guardDir, flowDir, "--out", out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /report of 2 runs written:/);
});

const evalsOf = (run: string) => records[run].filter((r) => r.type === "eval") as EvalMetrics[];
const epochsOf = (run: string) => records[run].filter((r) => r.type === "epoch") as EpochMetrics[];

test("report writes the figures and the summary, each SVG well-formed", () => {
  assert.deepEqual(readdirSync(out).sort(), ["clip-fractions.svg", "gold-components.svg", "gold-frontier.svg", "grad-norms.svg", "image-timeline.svg", "proxy-gold.svg", "ratio-distribution.svg", "summary.md"]);
  for (const file of readdirSync(out).filter((f) => f.endsWith(".svg"))) assertWellFormed(readFileSync(join(out, file), "utf8"), file);
});

test("proxy-gold.svg: one panel per method with proxy and gold per evaluation, alarms and gold-falls spans marked", () => {
  const svg = readFileSync(join(out, "proxy-gold.svg"), "utf8");
  assert.deepEqual(panelTitles(svg), ["guard: grpo-guard · flow-sde", "flow: flow-grpo · flow-sde"]);
  for (const [run, title] of [["guard", "guard: grpo-guard · flow-sde"], ["flow", "flow: flow-grpo · flow-sde"]]) {
    const series = seriesOf(svg, title);
    assert.deepEqual(series.map((s) => s.name), [`${run} proxy`, `${run} gold`]);
    const evals = evalsOf(run);
    assert.deepEqual(find(series, `${run} proxy`).points, evals.map((e) => [e.epoch, e.proxy]));
    assert.deepEqual(find(series, `${run} gold`).points, evals.map((e) => [e.epoch, e.gold!.gold]));
    assert.equal(find(series, `${run} gold`).axis, "right");
  }
  const alarms = ["guard", "flow"].flatMap((run) => records[run].filter((r) => r.type === "alarm").map((r) => r.epoch));
  assert.deepEqual([...svg.matchAll(/<g class="marker" data-x="(\d+)">/g)].map((m) => Number(m[1])), alarms);
  const falls = ["guard", "flow"].flatMap((run) => expectedFalls(evalsOf(run)));
  assert.deepEqual([...svg.matchAll(/<rect class="vband" data-from="(\d+)" data-to="(\d+)"/g)].map((m) => [Number(m[1]), Number(m[2])]), falls);
  assert.match(svg, />proxy reward</);
  assert.match(svg, />gold score</);
  assert.match(svg, />completed training epochs</);
  // Enough ticks to read a value off each axis.
  for (const title of panelTitles(svg)) {
    const upto = panelText(svg, title);
    assert.ok((upto.match(/class="tick y-tick"/g) ?? []).length >= 4, `${title}: at least 4 left y ticks`);
    assert.ok((upto.match(/class="tick y-tick-right"/g) ?? []).length >= 4, `${title}: at least 4 right y ticks`);
  }
});

test("gold-frontier.svg and gold-components.svg: each gold component against proxy and epoch, one curve per run, the floors as bands", () => {
  const frontier = readFileSync(join(out, "gold-frontier.svg"), "utf8");
  const components = readFileSync(join(out, "gold-components.svg"), "utf8");
  const catalog = evalsOf("guard")[0].gold!.components!;
  assert.ok(catalog.length >= 5, `the real runs log the gold panel v2 components (${catalog.map((c) => c.key)})`);
  const valueOf = (e: EvalMetrics, key: string) => e.gold!.components!.find((c) => c.key === key)!.value;
  // KID and Fréchet panels whose values reach 1000 are drawn on a symmetric-log axis, and say so.
  const logScale = (key: string) => /^(kid|fd)-/.test(key) && ["guard", "flow"].some((run) => evalsOf(run).some((e) => Math.abs(valueOf(e, key) ?? 0) >= 1000));
  const titleOf = (c: { key: string; label: string; better: string }) => `${c.label} (${c.better} is better${logScale(c.key) ? "; log scale" : ""})`;
  assert.deepEqual(panelTitles(frontier), catalog.map(titleOf));
  for (const component of catalog) {
    const title = titleOf(component);
    for (const run of ["guard", "flow"]) {
      assert.deepEqual(find(seriesOf(frontier, title), `${run} ${component.key}`).points, evalsOf(run).map((e) => [e.proxy, valueOf(e, component.key)]), `${title} frontier of ${run}`);
      assert.deepEqual(find(seriesOf(components, title), `${run} ${component.key}`).points, evalsOf(run).map((e) => [e.epoch, valueOf(e, component.key)]));
    }
    assert.equal(seriesOf(frontier, title).length, 2, "one curve per run");
  }
  const fd = catalog.find((c) => c.key === "fd-judge")!;
  const floors = ["guard", "flow"].flatMap((run) => evalsOf(run).map((e) => e.gold!.components!.find((c) => c.key === fd.key)!.floor!)).sort((a, b) => a - b);
  const mid = floors.length >> 1;
  const medianFloor = floors.length % 2 ? floors[mid] : (floors[mid - 1] + floors[mid]) / 2;
  const bands = [...panelText(frontier, titleOf(fd)).matchAll(/<rect class="hband" data-from="([^"]+)" data-to="([^"]+)"/g)].map((m) => [m[1], Number(m[2])]);
  assert.deepEqual(bands, [["-Infinity", medianFloor]], "lower is better: the band lies below the floor");
});

test("ratio-distribution.svg: one panel per shown epoch with the quantile bands and median of each run", () => {
  const svg = readFileSync(join(out, "ratio-distribution.svg"), "utf8");
  assert.deepEqual([...svg.matchAll(/<g class="panel" [^>]*data-title="([^"]+)"/g)].map((m) => m[1]), ["epoch 1", "epoch 2", "epoch 3", "epoch 4"]);
  for (const [k, epoch] of epochsOf("guard").entries()) {
    const panel = seriesOf(svg, `epoch ${k + 1}`);
    assert.deepEqual(find(panel, "guard p50").points, epoch.steps.map((s) => [s.step, s.clippedLogRatio.p50]));
    const flow = epochsOf("flow")[k];
    assert.deepEqual(find(panel, "flow p50").points, flow.steps.map((s) => [s.step, s.clippedLogRatio.p50]));
  }
  for (const band of ["guard p1–p99", "guard p5–p95", "flow p1–p99", "flow p5–p95"]) {
    assert.equal([...svg.matchAll(new RegExp(`<g class="band" data-series="${band}"[^>]*>\\s*<polygon points="([^"]+)"`, "g"))].length, 4, band);
  }
});

test("clip-fractions.svg and grad-norms.svg: per-step series of each method at each shown epoch, both advantage signs", () => {
  const clip = readFileSync(join(out, "clip-fractions.svg"), "utf8");
  const grad = readFileSync(join(out, "grad-norms.svg"), "utf8");
  assert.deepEqual(panelTitles(clip), [1, 2, 3, 4].flatMap((e) => [`epoch ${e}: P(ρ > 1+ε | A > 0)`, `epoch ${e}: P(ρ < 1−ε | A < 0)`]));
  for (const [run, method] of [["guard", "grpo-guard · flow-sde"], ["flow", "flow-grpo · flow-sde"]]) {
    const last = epochsOf(run).at(-1)!;
    assert.deepEqual(find(seriesOf(clip, "epoch 4: P(ρ > 1+ε | A > 0)"), `${method} P(clip | A>0)`).points, last.steps.map((s) => [s.step, s.clipPositive]));
    assert.deepEqual(find(seriesOf(clip, "epoch 4: P(ρ < 1−ε | A < 0)"), `${method} P(clip | A<0)`).points, last.steps.map((s) => [s.step, s.clipNegative]));
    const gradPanel = seriesOf(grad, "epoch 4");
    assert.deepEqual(find(gradPanel, `${method} after weighting`).points, last.stepGradNorms!.map((g) => [g.step, g.after]));
    assert.deepEqual(find(gradPanel, `${method} before weighting`).points, last.stepGradNorms!.map((g) => [g.step, g.before]));
  }
  assert.match(clip, />clipped fraction</);
  assert.match(grad, />gradient norm</);
});

test("image-timeline.svg embeds each run's evaluation grids", () => {
  const svg = readFileSync(join(out, "image-timeline.svg"), "utf8");
  for (const [run, dir] of [["guard", guardDir], ["flow", flowDir]]) {
    const row = svg.slice(svg.indexOf(`<g class="timeline-row" data-run="${run}">`));
    const images = [...row.slice(0, row.indexOf("</g>")).matchAll(/<image data-epoch="(\d+)"[^>]* href="data:image\/png;base64,([^"]+)"/g)];
    assert.deepEqual(images.map((m) => Number(m[1])), [0, 1, 2, 3, 4]);
    for (const m of images) assert.ok(Buffer.from(m[2], "base64").equals(readFileSync(join(dir, "images", `eval-000${m[1]}.png`))));
  }
});

test("summary.md: one table row per run with proxy, gold, alarm and per-step statistics; skipped lines noted", () => {
  const summary = readFileSync(join(out, "summary.md"), "utf8");
  assert.match(summary, /\| run \| algorithm \| final proxy \(epoch\) \| peak proxy \(epoch\) \| gold at proxy peak \| final gold \| alarm epoch \| gold fell while proxy rose \(epochs\) \| last epoch \| mean log-ratio per step \| P\(clip \\\| A>0\) per step \| P\(clip \\\| A<0\) per step \|/);
  for (const [run, algorithm] of [["guard", "grpo-guard / flow-sde"], ["flow", "flow-grpo / flow-sde"]]) {
    const row = summary.split("\n").find((l) => l.startsWith(`| ${run} |`));
    assert.ok(row, run);
    const cells = row!.split(" | ").map((c) => c.replace(/^\| |\s\|$/g, ""));
    const evals = evalsOf(run);
    const peak = evals.reduce((a, b) => (b.proxy! > a.proxy! ? b : a));
    const alarm = records[run].find((r) => r.type === "alarm");
    const last = epochsOf(run).at(-1)!;
    assert.deepEqual(cells, [
      run,
      algorithm,
      `${formatNumber(evals.at(-1)!.proxy)} (4)`,
      `${formatNumber(peak.proxy)} (${peak.epoch})`,
      formatNumber(peak.gold!.gold),
      formatNumber(evals.at(-1)!.gold!.gold),
      alarm ? String(alarm.epoch) : "—",
      expectedFalls(evals).map(([a, b]) => `${a}–${b}`).join(", ") || "—",
      "4",
      last.steps.map((s) => `${s.step}: ${formatNumber(s.clippedLogRatio.mean, 6)}`).join(", "),
      last.steps.map((s) => `${s.step}: ${formatNumber(s.clipPositive, 3)}`).join(", "),
      last.steps.map((s) => `${s.step}: ${formatNumber(s.clipNegative, 3)}`).join(", "),
    ]);
  }
  assert.match(summary, /- flow \(.*\): 1 truncated line skipped \(line \d+\)/);
  assert.match(summary, /!\[proxy-gold\]\(proxy-gold\.svg\)/);
});

test("report errors name the run directory; helpers pick epochs and ticks sensibly", () => {
  const missing = cli("report", join(root, "nope"), "--out", join(root, "x"));
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /nope: run directory not found/);
  const noOut = cli("report", guardDir);
  assert.notEqual(noOut.status, 0);
  assert.match(noOut.stderr, /required option '-o, --out <dir>' not specified/);
  assert.deepEqual(pickEvenly([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 4), [1, 4, 7, 10]);
  assert.deepEqual(pickEvenly([1, 2], 4), [1, 2]);
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(-0.3, 2.6, 5, true), [0, 1, 2]);
});

test("a symmetric-log y axis (KID, Fréchet distance): ticks at decades, points where their ticks are, values below zero kept", () => {
  assert.equal(symlog(0, 10), 0);
  assert.equal(symlog(-90, 10), -symlog(90, 10));
  assert.ok(Math.abs(symlog(990, 10) - 2) < 1e-12);
  const domain: [number, number] = [symlog(-5, 10), symlog(5000, 10)];
  assert.deepEqual(symlogTicks(domain, 10).map((t) => t.value), [0, 10, 100, 1000]);
  assert.deepEqual(symlogTicks([symlog(-50, 10), symlog(50, 10)], 10).map((t) => t.value), [-50, -20, -10, 0, 10, 20, 50]);
  const svg = renderPanel(
    { title: "kid", xLabel: "proxy", yLabel: "kid", yScale: { kind: "symlog", constant: 10 }, lines: [{ label: "run", run: "run", color: "#000", markers: true, points: [[0, -5], [1, 10], [2, 100], [3, 1000], [4, 5000]] }] },
    0,
    0,
  );
  const tickY = new Map([...svg.matchAll(/class="tick y-tick" x="[^"]+" y="([^"]+)"[^>]*data-value="([^"]+)"/g)].map((m) => [Number(m[2]), Number(m[1])]));
  assert.deepEqual([...tickY.keys()], [-10, 0, 10, 100, 1000], "the panel pads its extent by 5 % of the axis: −10 comes into view");
  const pointY = new Map([...svg.matchAll(/<circle cx="[^"]+" cy="([^"]+)"[^>]*data-y="([^"]+)"/g)].map((m) => [Number(m[2]), Number(m[1])]));
  for (const v of [10, 100, 1000]) assert.equal(pointY.get(v), tickY.get(v), `the point of value ${v} sits on its tick`);
  // Decades are evenly spaced far from zero (log10(1 + v/10)); −5 is drawn, just below 0.
  const gap = (a: number, b: number) => pointY.get(a)! - pointY.get(b)!;
  assert.ok(Math.abs(gap(100, 1000) - gap(10, 100) * (symlog(1000, 10) - symlog(100, 10)) / (symlog(100, 10) - symlog(10, 10))) < 0.02);
  assert.ok(pointY.get(-5)! > tickY.get(0)!, "a negative value is below the 0 tick");
});

test("cropPngGrey keeps the top-left cells of an evaluation grid as greyscale", async () => {
  const { encodeGridPng, cropPngGrey, gridRegion } = await import("../src/diagnostics/image-grid.js");
  const { PNG } = await import("pngjs");
  // 4 samples of 2×2 pixels in 2 columns: sample k filled with value −1 + k/2.
  const images = new Float32Array(4 * 4).map((_, i) => -1 + Math.floor(i / 4) / 2);
  const grid = encodeGridPng(images, { cols: 2, shape: [1, 2, 2] });
  const region = gridRegion([1, 2, 2], 1, 2);
  assert.deepEqual(region, { width: 2 + 1 * (2 * 2 + 2), height: 2 + 2 * (2 * 2 + 2) });
  const cropped = PNG.sync.read(cropPngGrey(grid, region.width, region.height));
  assert.equal(cropped.width, region.width);
  assert.equal(cropped.height, region.height);
  // Pixel (2, 8) is the first pixel of the second row's first cell: sample 2 → (−1 + 1 + 1)·127.5.
  const at = (x: number, y: number) => cropped.data[(y * cropped.width + x) * 4];
  assert.equal(at(2, 8), Math.round((1 - 1 + 1) * 127.5));
  assert.equal(at(2, 2), 0); // sample 0 (value −1)
});

/* ------------------------------------------------------------------------------------------ */
/* 15 synthetic runs (5 methods × 3 seeds, the comparison's shape) with gold components.       */
/* ------------------------------------------------------------------------------------------ */

/** HSL hue (degrees) and lightness of a #rrggbb colour. */
function hsl(hex: string): { hue: number; lightness: number } {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const d = max - min;
  const hue = d === 0 ? 0 : max === r ? 60 * (((g - b) / d) % 6) : max === g ? 60 * ((b - r) / d + 2) : 60 * ((r - g) / d + 4);
  return { hue: (hue + 360) % 360, lightness: (max + min) / 2 };
}

const hueDistance = (a: number, b: number) => Math.min(Math.abs(a - b), 360 - Math.abs(a - b));

describe("figures at 15 runs", () => {
  const many = join(root, "many");
  let manyOut = "";
  let dirs: string[] = [];
  const methodOf = (run: string) => run.replace(/^digits-/, "").replace(/-s\d+$/, "");
  before(() => {
    dirs = comparisonRuns(many, { components: true, outlier: true });
    manyOut = join(root, "many-report");
    writeReport(dirs, manyOut, { imageTimeline: false });
  });

  test("one hue per method, seeds as distinct lighter shades of it; one proxy/gold panel per method", () => {
    const svg = readFileSync(join(manyOut, "proxy-gold.svg"), "utf8");
    assert.deepEqual(panelTitles(svg), ["flow-grpo · flow-sde, train.lr=0.0001", "grpo-guard · flow-sde", "flow-grpo · dance-sde", "grpo-guard · dance-sde", "flow-grpo · flow-sde, train.lr=0.0005"]);
    const colorOf = new Map(seriesOf(svg).filter((s) => s.name.endsWith(" proxy")).map((s) => [s.run, s.color]));
    assert.equal(colorOf.size, 15);
    const hues = new Map<string, number[]>();
    for (const [run, color] of colorOf) (hues.get(methodOf(run)) ?? hues.set(methodOf(run), []).get(methodOf(run))!).push(hsl(color).hue);
    const methodHue = [...hues].map(([method, hs]) => {
      for (const h of hs) assert.ok(hueDistance(h, hs[0]) < 3, `${method}: one hue for all seeds (${hs.map((x) => x.toFixed(1))})`);
      return hs[0];
    });
    for (let i = 0; i < methodHue.length; i++)
      for (let j = i + 1; j < methodHue.length; j++) {
        assert.ok(hueDistance(methodHue[i], methodHue[j]) > 15, `methods ${i} and ${j} have distinct hues`);
      }
    for (const method of hues.keys()) {
      const shades = [0, 1, 2].map((seed) => hsl(colorOf.get(`digits-${method}-s${seed}`)!).lightness);
      assert.ok(shades[0] < shades[1] && shades[1] < shades[2], `${method}: later seeds are lighter (${shades.map((l) => l.toFixed(2))})`);
    }
    // Each panel holds its method's runs only.
    for (const title of panelTitles(svg)) assert.equal(new Set(seriesOf(svg, title).map((s) => methodOf(s.run))).size, 1, title);
  });

  test("ratio-distribution.svg: each epoch has its own scale, set without the one outlier run, which is named", () => {
    const svg = readFileSync(join(manyOut, "ratio-distribution.svg"), "utf8");
    const titles = panelTitles(svg);
    assert.deepEqual(titles, ["epoch 1", "epoch 11", "epoch 20", "epoch 30"]);
    const ticks = (title: string) => [...panelText(svg, title).matchAll(/class="tick y-tick"[^>]*data-value="([^"]+)"/g)].map((m) => Number(m[1]));
    const span = (title: string) => Math.max(...ticks(title)) - Math.min(...ticks(title));
    // The synthetic log-ratio spread grows with the epoch (1e-3 × (1 + epoch)); so do the scales.
    assert.ok(span("epoch 30") > 10 * span("epoch 1"), `independent scales (${span("epoch 1")} vs ${span("epoch 30")})`);
    for (const title of titles) {
      const text = panelText(svg, title);
      const [top, height] = (/<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="#fff"/.exec(text) ?? []).slice(1).map(Number);
      // The widest in-scale band (the Flow-GRPO runs' p5–p95 at the last step) fills a good part of the plot.
      const band = /<g class="band" data-series="digits-flow-grpo-s0 p5–p95"[^>]*>\s*<polygon points="([^"]+)"/.exec(text)!;
      const ys = band[1].split(" ").map((p) => Number(p.split(",")[1]));
      assert.ok(Math.max(...ys) - Math.min(...ys) > 0.4 * height, `${title}: a typical run's band spans ${(Math.max(...ys) - Math.min(...ys)).toFixed(0)} of ${height} px`);
      assert.ok(Math.min(...ys) >= top - 1, `${title}: inside the plot`);
      assert.match(text, /class="panel-note"[^>]*><title>off scale: digits-flow-grpo-lr5e-4-s1 \(p1…p99 /, `${title}: the outlier is named`);
      assert.equal([...text.matchAll(/class="panel-note"/g)].length, 1, `${title}: only the outlier is off scale`);
    }
  });

  test("clip-fractions.svg: one line per method (mean over its 3 seeds) with a min–max band, per epoch and advantage sign", () => {
    const svg = readFileSync(join(manyOut, "clip-fractions.svg"), "utf8");
    const records = dirs.map((d) => readValidatedMetrics(join(d, "metrics.jsonl")).records);
    const last = (k: number) => (records[k].filter((r) => r.type === "epoch") as EpochMetrics[]).at(-1)!;
    const panel = seriesOf(svg, "epoch 30: P(ρ > 1+ε | A > 0)");
    assert.equal(panel.length, 5, "5 lines, not 30");
    // flow-grpo at lr 1e-4: runs 0, 5, 10 (seed-major order).
    const mean = last(0).steps.map((s, i) => [s.step, [0, 5, 10].map((k) => last(k).steps[i].clipPositive!).reduce((a, b) => a + b, 0) / 3]);
    const line = find(panel, "flow-grpo · flow-sde, train.lr=0.0001 P(clip | A>0)").points;
    line.forEach(([x, y], i) => {
      assert.equal(x, mean[i][0]);
      assert.ok(Math.abs(y - mean[i][1]) < 1e-12);
    });
    assert.equal([...panelText(svg, "epoch 30: P(ρ > 1+ε | A > 0)").matchAll(/<g class="band" data-series="[^"]* min–max over runs"/g)].length, 5);
  });

  test("gold-frontier.svg: every component (generic, by key) against proxy, one curve per run, CI whiskers and the floor band", () => {
    const svg = readFileSync(join(manyOut, "gold-frontier.svg"), "utf8");
    assert.deepEqual(panelTitles(svg), ["kernel distance (KID) (lower is better)", "held-out judge accuracy (higher is better)"]);
    const evals = (k: number) => readValidatedMetrics(join(dirs[k], "metrics.jsonl")).records.filter((r) => r.type === "eval") as EvalMetrics[];
    const kid = seriesOf(svg, "kernel distance (KID) (lower is better)");
    assert.equal(kid.length, 15, "one curve per run");
    for (const k of [0, 4, 14]) {
      const name = dirs[k].split("/").at(-1)!;
      const series = find(kid, `${name} kid`);
      const comps = evals(k).map((e) => ({ proxy: e.proxy!, c: e.gold!.components!.find((c) => c.key === "kid")! }));
      assert.deepEqual(series.points, comps.map((p) => [p.proxy, p.c.value]));
      assert.deepEqual(series.whiskers, comps.map((p) => [p.proxy, p.c.ci![0], p.c.ci![1]]));
    }
    const bands = [...svg.matchAll(/<rect class="hband" data-from="([^"]+)" data-to="([^"]+)"/g)].map((m) => [m[1], m[2]]);
    assert.deepEqual(bands, [["-Infinity", "0.021"], ["0.97", "Infinity"]], "KID (lower is better) shaded below its floor, accuracy (higher) above");
  });

  test("in a browser: legend entries, notes and alarm labels never overlap and stay inside the figure", { skip: existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM}` }, async () => {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
    try {
      const page = await browser.newPage();
      for (const file of readdirSync(manyOut).filter((f) => f.endsWith(".svg"))) {
        await page.setContent(`<!doctype html><body style="margin:0">${readFileSync(join(manyOut, file), "utf8").replace(/^<\?xml[^>]*\?>/, "")}</body>`);
        const boxes = await page.evaluate(() => {
          const box = (e: Element) => {
            const r = e.getBoundingClientRect();
            return { x0: r.left, y0: r.top, x1: r.right, y1: r.bottom, text: e.textContent ?? "" };
          };
          const svg = document.querySelector("svg")!;
          return {
            figure: box(svg),
            legend: [...document.querySelectorAll("g.legend-entry")].map(box),
            notes: [...document.querySelectorAll("text.note")].map(box),
            panels: [...document.querySelectorAll("g.panel")].map((p) => ({
              plot: box(p.querySelector("rect")!),
              markers: [...p.querySelectorAll("text.marker-label")].map(box),
              panelNotes: [...p.querySelectorAll("text.panel-note")].map(box),
            })),
          };
        });
        type Box = (typeof boxes)["figure"];
        const inside = (a: Box, b: Box, what: string) => assert.ok(a.x0 >= b.x0 - 0.5 && a.x1 <= b.x1 + 0.5 && a.y0 >= b.y0 - 0.5 && a.y1 <= b.y1 + 0.5, `${file}: ${what} "${a.text}" inside (${JSON.stringify(a)} in ${JSON.stringify(b)})`);
        const disjoint = (list: Box[], what: string) => {
          for (let i = 0; i < list.length; i++)
            for (let j = i + 1; j < list.length; j++) {
              const [a, b] = [list[i], list[j]];
              assert.ok(a.x1 <= b.x0 || b.x1 <= a.x0 || a.y1 <= b.y0 || b.y1 <= a.y0, `${file}: ${what} "${a.text}" and "${b.text}" overlap`);
            }
        };
        assert.ok(boxes.legend.length >= 5, `${file}: a legend`);
        disjoint(boxes.legend, "legend entries");
        for (const e of [...boxes.legend, ...boxes.notes]) inside(e, boxes.figure, "text");
        for (const p of boxes.panels) {
          disjoint([...p.markers, ...p.panelNotes], "labels");
          for (const m of [...p.markers, ...p.panelNotes]) inside(m, p.plot, "label");
        }
        if (file === "proxy-gold.svg") assert.equal(boxes.panels.flatMap((p) => p.markers).length, 4, "every alarm is labelled");
      }
    } finally {
      await browser.close();
    }
  });

  test("a run without per-step gradient norms: summary.md says why grad-norms.svg is missing", () => {
    const dir = writeSyntheticRun(join(root, "nograd"), { name: "nograd", algorithm: "grpo-guard", dynamics: "flow-sde", seed: 0, gradNorms: false });
    const report = writeReport([dir], join(root, "nograd-report"));
    assert.ok(!readdirSync(join(root, "nograd-report")).includes("grad-norms.svg"));
    assert.match(report.summary, /- grad-norms\.svg: no run recorded per-step gradient norms \(.*set diagnostics\.gradNormEvery > 0/);
  });
});
