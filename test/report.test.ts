/**
 * `grpo-guard report` on two real tiny runs (GRPO-Guard and Flow-GRPO): the SVG figures are
 * well-formed and carry the runs' series (read back from the SVG text), and summary.md holds
 * the table.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readValidatedMetrics, type EpochMetrics, type EvalMetrics, type ValidMetricsRecord } from "../src/diagnostics/metrics-schema.js";
import { formatNumber } from "../src/dashboard/series.js";
import { niceTicks } from "../src/dashboard/svg.js";
import { pickEvenly } from "../src/dashboard/report.js";

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
  points: [number, number][];
}

/** Every `<g class="series">` of a figure (per panel when `panel` is given) with its points. */
function seriesOf(svg: string, panel?: string): Series[] {
  let text = svg;
  if (panel !== undefined) {
    const start = svg.indexOf(`<g class="panel" transform=`, svg.indexOf(`data-title="${panel}"`) - 80);
    assert.ok(start >= 0, `panel "${panel}"`);
    const next = svg.indexOf(`<g class="panel"`, start + 1);
    text = svg.slice(start, next < 0 ? undefined : next);
  }
  return [...text.matchAll(/<g class="series" data-series="([^"]*)" data-run="([^"]*)" data-axis="(\w+)">([\s\S]*?)<\/g>/g)].map((m) => ({
    name: unescapeXml(m[1]),
    run: m[2],
    axis: m[3],
    points: [...m[4].matchAll(/<circle [^>]*data-x="([^"]+)" data-y="([^"]+)"/g)].map((p) => [Number(p[1]), Number(p[2])] as [number, number]),
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
  assert.deepEqual(readdirSync(out).sort(), ["clip-fractions.svg", "grad-norms.svg", "image-timeline.svg", "proxy-gold.svg", "ratio-distribution.svg", "summary.md"]);
  for (const file of readdirSync(out).filter((f) => f.endsWith(".svg"))) assertWellFormed(readFileSync(join(out, file), "utf8"), file);
});

test("proxy-gold.svg: proxy and gold of both runs, one point per evaluation, alarms marked", () => {
  const svg = readFileSync(join(out, "proxy-gold.svg"), "utf8");
  const series = seriesOf(svg);
  assert.deepEqual(series.map((s) => s.name), ["guard proxy", "guard gold", "flow proxy", "flow gold"]);
  for (const run of ["guard", "flow"]) {
    const evals = evalsOf(run);
    assert.deepEqual(find(series, `${run} proxy`).points, evals.map((e) => [e.epoch, e.proxy]));
    assert.deepEqual(find(series, `${run} gold`).points, evals.map((e) => [e.epoch, e.gold!.gold]));
    assert.equal(find(series, `${run} gold`).axis, "right");
  }
  const alarms = ["guard", "flow"].flatMap((run) => records[run].filter((r) => r.type === "alarm").map((r) => r.epoch));
  assert.deepEqual([...svg.matchAll(/<g class="marker" data-x="(\d+)">/g)].map((m) => Number(m[1])), alarms);
  assert.match(svg, />proxy reward</);
  assert.match(svg, />gold score</);
  assert.match(svg, />completed training epochs</);
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

test("clip-fractions.svg and grad-norms.svg: per-step series of both runs at each shown epoch", () => {
  const clip = readFileSync(join(out, "clip-fractions.svg"), "utf8");
  const grad = readFileSync(join(out, "grad-norms.svg"), "utf8");
  for (const run of ["guard", "flow"]) {
    const last = epochsOf(run).at(-1)!;
    const clipPanel = seriesOf(clip, "epoch 4");
    assert.deepEqual(find(clipPanel, `${run} P(clip | A>0)`).points, last.steps.map((s) => [s.step, s.clipPositive]));
    assert.deepEqual(find(clipPanel, `${run} P(clip | A<0)`).points, last.steps.map((s) => [s.step, s.clipNegative]));
    const gradPanel = seriesOf(grad, "epoch 4");
    assert.deepEqual(find(gradPanel, `${run} after weighting`).points, last.stepGradNorms!.map((g) => [g.step, g.after]));
    assert.deepEqual(find(gradPanel, `${run} before weighting`).points, last.stepGradNorms!.map((g) => [g.step, g.before]));
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
  assert.match(summary, /\| run \| algorithm \| final proxy \(epoch\) \| peak proxy \(epoch\) \| gold at proxy peak \| final gold \| alarm epoch \| last epoch \| mean log-ratio per step \| P\(clip \\\| A>0\) per step \|/);
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
      "4",
      last.steps.map((s) => `${s.step}: ${formatNumber(s.clippedLogRatio.mean, 6)}`).join(", "),
      last.steps.map((s) => `${s.step}: ${formatNumber(s.clipPositive, 3)}`).join(", "),
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
