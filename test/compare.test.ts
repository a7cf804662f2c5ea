import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../bin/grpo-guard.js", import.meta.url));

test("compare: four methods × seeds with one budget, a results table, finished runs reused", () => {
  const dir = mkdtempSync(join(tmpdir(), "grpo-guard-compare-"));
  const tiny = ["--set", "model.weights=", "--set", "model.preset=dit-tiny", "--set", "prompts.perEpoch=2", "--set", "groupSize=4", "--set", "sampling.steps=3", "--set", "train.minibatch=4", "--set", "eval.perPrompt=2", "--set", "eval.steps=3"];
  const args = [bin, "compare", "--seeds", "0", "--epochs", "2", ...tiny, "--runs", join(dir, "runs"), "--results", join(dir, "docs", "results.md")];
  const env = { ...process.env, GRPO_GUARD_THREADS: "1" };
  const first = spawnSync(process.execPath, args, { encoding: "utf8", env });
  assert.equal(first.status, 0, first.stderr);
  // Run directories are named <sweep>-<method>-<config id>-s<seed> (src/sweep/spec.ts), beside the sweep's status file.
  const runDirs = readdirSync(join(dir, "runs")).filter((f) => f !== "sweep-status.json");
  assert.deepEqual(runDirs.map((f) => f.replace(/-[0-9a-f]{12}-s0$/, "-s0")).sort(), ["digits-dance-grpo-s0", "digits-dance-guard-s0", "digits-flow-grpo-lr5e-4-s0", "digits-flow-grpo-s0", "digits-grpo-guard-s0"]);
  const page = readFileSync(join(dir, "docs", "results.md"), "utf8");
  for (const row of ["flow-grpo (flow-grpo / flow-sde)", "grpo-guard (grpo-guard / flow-sde)", "dance-grpo (flow-grpo / dance-sde)", "dance-guard (grpo-guard / dance-sde)", "flow-grpo-lr5e-4 (flow-grpo / flow-sde, train.lr=5e-4)"]) {
    assert.match(page, new RegExp(`\\| ${row.replace(/[()/.]/g, (c) => `\\${c}`)} \\| 1 \\|`));
  }
  assert.ok(readdirSync(join(dir, "docs", "results")).includes("proxy-gold.svg"));
  assert.ok(readdirSync(join(dir, "docs", "results")).includes("frontier.svg"));
  assert.ok(readdirSync(join(dir, "docs", "results")).includes("image-timeline.svg"));
  assert.match(page, /## Gold at matched proxy/);
  // Per-step statistics: a row per method and statistic, a column per trained step (3 here).
  assert.match(page, /\| grpo-guard \| P\(clip \\\| A>0\) \| [\d.]+ \| [\d.]+ \| [\d.]+ \|\n/);
  // Hand-written findings survive a rewrite of the page.
  writeFileSync(join(dir, "docs", "results.md"), page.replace("(to be written from the figures and tables below)", "Guard wins at seed 0."));
  const again = spawnSync(process.execPath, args, { encoding: "utf8", env });
  assert.equal(again.status, 0, again.stderr);
  assert.equal((again.stdout.match(/finished earlier/g) ?? []).length, 5);
  assert.match(readFileSync(join(dir, "docs", "results.md"), "utf8"), /Guard wins at seed 0\./);
});

test("frontier figure and matched-proxy tables: one curve per run, gold interpolated at each seed's first crossing of a level, censored seeds counted", async () => {
  const { frontierFigure, matchedProxyTables, proxyLevels } = await import("../src/experiments/compare.js");
  const evalRecord = (epoch: number, proxy: number, frechetMean: number, diversity: number, judgeAccuracy: number) => ({
    type: "eval" as const,
    epoch,
    proxy,
    rewards: [],
    gold: { judgeAccuracy, frechet: [], frechetMean, frechetFloor: 0, frechetReal: 0, diversity, diversityReal: 0, drift: 0, gold: 0 },
  });
  const run = (name: string, points: [number, number, number, number][]) =>
    ({ name, dir: `/runs/${name}`, meta: {}, skipped: [], images: [], records: points.map(([p, f, d, j], i) => evalRecord(5 * i, p, f, d, j)) }) as never;
  const slow = { variant: { label: "slow", algorithm: "flow-grpo" as const, dynamics: "flow-sde" as const }, runs: [run("slow-s0", [[0.86, 47, 16.8, 0.87], [0.9, 42, 16, 0.9]]), run("slow-s1", [[0.86, 47, 16.8, 0.87], [0.88, 45, 16.5, 0.88]])] };
  const fast = { variant: { label: "fast", algorithm: "grpo-guard" as const, dynamics: "flow-sde" as const }, runs: [run("fast-s0", [[0.86, 47, 16.8, 0.87], [0.95, 60, 14, 0.95], [0.98, 80, 13, 0.97]])] };
  assert.deepEqual(proxyLevels([slow, fast], 3), [0.87, 0.93, 0.98]);
  const tables = matchedProxyTables([slow, fast], [0.9, 0.95]);
  // Fréchet at proxy 0.90: slow-s0 reaches it at its second evaluation (42), slow-s1 never does
  // (censored); fast-s0 crosses it between 0.86 and 0.95: 47 + (0.04/0.09)·13 = 52.78.
  assert.match(tables, /\| 0\.90 \| 42\.00 \(1\/2; 1 censored\) \| 52\.78 \(1\/1\) \|/);
  assert.match(tables, /\| 0\.95 \| censored \(0\/2 reached\) \| 60\.00 \(1\/1\) \|/);
  assert.match(tables, /\| 0\.90 \| 90\.0 % \(1\/2; 1 censored\) \| 90\.6 % \(1\/1\) \|/);
  const svg = frontierFigure([slow, fast]);
  for (const name of ["slow-s0", "slow-s1", "fast-s0"]) assert.ok(svg.includes(`data-run="${name}"`), name);
  // Three panels (Fréchet, diversity, judge) × the points of every run.
  assert.equal((svg.match(/<circle/g) ?? []).length, 3 * (2 + 2 + 3));
});

test("compare --methods runs a subset and names unknown methods", () => {
  const bad = spawnSync(process.execPath, [bin, "compare", "--methods", "flow-grpo,guard"], { encoding: "utf8" });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--methods: unknown method "guard" \(the digits preset has flow-grpo, grpo-guard, dance-grpo, dance-guard, flow-grpo-lr5e-4\)/);
});
