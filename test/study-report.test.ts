/**
 * The B3 report (src/study/b3-report.ts) on hand-built summaries with known answers: the
 * envelope, matched-proxy cells with censored runs, the headline, partial runs kept out of the
 * tables, marker replacement that leaves the rest of a page alone; presets from sweep files and
 * the `method` field of list points; `compare --preset … --from-summaries` end to end.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { UserError } from "../src/engine/errors.js";
import { expandSweep } from "../src/sweep/spec.js";
import { defaultPresetRuns, presetFile, presetSweep } from "../src/sweep/run-sweep.js";
import { baselineSetting, baselineTables, otherBaselineSettings, buildB3Report, coverageTable, envelope, evaluationDensity, evidenceTable, formatDifference, settingEvidence, headlineMarkdown, headlinesMarkdown, reportLevels, formatCell, groupRuns, headline, markers, replaceMarked, settingCells, valuesAtProxy, type ComponentInfo } from "../src/study/b3-report.js";
import { SUMMARY_VERSION, writeSummary, type RunSummary } from "../src/study/summary.js";
import { cli, toyBase } from "./sweep-fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "grpo-guard-study-report-"));

/** A summary whose evaluations are (proxy, gold-score) pairs in epoch order. */
function summary(run: string, method: string, label: string, seed: number, points: [number, number][], options: { status?: "finished" | "partial"; overrides?: string[]; sweep?: string } = {}): RunSummary {
  return {
    summaryVersion: SUMMARY_VERSION,
    run,
    sweep: options.sweep ?? "b3-test",
    label,
    method,
    seed,
    overrides: options.overrides ?? [`seed=${seed}`],
    status: options.status ?? "finished",
    epochsDone: 10 * (points.length - 1),
    epochsPlanned: 10 * (points.length - 1),
    proxy: { name: "aesthetic", rewards: [{ name: "aesthetic", weight: 1 }] },
    algorithm: "flow-grpo",
    dynamics: "flow-sde",
    alarmEpoch: null,
    components: [{ key: "gold", label: "gold score", better: "higher" }],
    evaluations: points.map(([proxy, gold], i) => ({ epoch: 10 * i, proxy, gold, components: [{ key: "gold", value: gold, ci: null, floor: 0.94 }], velocityNorm: null })),
    epochs: Array.from({ length: 10 * (points.length - 1) }, (_, i) => ({ epoch: i + 1, proxy: 0.5 + 0.01 * i, clip: 0.1, clipPositive: 0.05, clipNegative: 0.15, methodStats: { dppoMasked: 0.2 }, methodState: {}, velocityNorm: 1.01 })),
    skippedLines: 0,
  };
}

const GOLD: ComponentInfo = { key: "gold", label: "gold score", better: "higher" };

test("valuesAtProxy and the envelope: every crossing of a piecewise-linear curve, best over runs, null where none covers", () => {
  const a: [number, number][] = [[0, 1], [1, 3]];
  const b: [number, number][] = [[0, 2], [0.5, 2.5], [1, 1]];
  const back: [number, number][] = [[0, 0], [1, 10], [0.5, 4]]; // the proxy falls back: two crossings of 0.5
  assert.deepEqual(valuesAtProxy(a, 0.25), [1.5]);
  assert.deepEqual(valuesAtProxy(back, 0.5).sort((x, y) => x - y), [4, 5]);
  assert.deepEqual(valuesAtProxy([[0.3, 7]], 0.3), [7], "an isolated evaluation counts at its own proxy");
  assert.deepEqual(valuesAtProxy(a, 1.5), []);
  const at = (env: [number, number | null][], x: number) => env.find((p) => Math.abs(p[0] - x) < 1e-12)?.[1];
  const up = envelope([a, b], "higher", 4);
  assert.deepEqual(up.map((p) => p[0]), [0, 0.25, 0.5, 0.75, 1]);
  assert.equal(at(up, 0), 2);
  assert.equal(at(up, 0.25), 2.25); // b: 2 + 0.5·0.5
  assert.equal(at(up, 0.5), 2.5);
  assert.equal(at(up, 0.75), 2.5); // a: 2.5, b: 1.75
  assert.equal(at(up, 1), 3);
  const down = envelope([a, b], "lower", 4);
  assert.equal(at(down, 0), 1);
  assert.equal(at(down, 0.5), 2);
  assert.equal(at(down, 1), 1);
  assert.equal(at(envelope([back], "higher", 2), 0.5), 5);
  assert.equal(at(envelope([back], "lower", 2), 0.5), 4);
  // Up and back down through x = 0.5 between evaluations: the second crossing (6) is the better one.
  const loop: [number, number][] = [[0, 0], [1, 10], [0, 2]];
  assert.deepEqual(valuesAtProxy(loop, 0.5), [5, 6]);
  assert.equal(at(envelope([loop], "higher", 2), 0.5), 6);
  // Two runs with a gap between them: the envelope is null there.
  const gap = envelope([[[0, 1], [0.2, 1]], [[0.8, 2], [1, 2]]], "higher", 10);
  assert.equal(at(gap, 0.5), null);
  assert.equal(at(gap, 0.9), 2);
});

test("matched-proxy cells: interpolated first crossings, runs that never reach a level counted as censored", () => {
  const runs = [
    summary("r0", "kl", "kl-0.04", 0, [[0.5, 0.9], [0.7, 0.8], [0.9, 0.6]]),
    summary("r1", "kl", "kl-0.04", 1, [[0.5, 0.9], [0.6, 0.85], [0.65, 0.84]]), // never reaches 0.8
    summary("r2", "kl", "kl-0.04", 2, [[0.5, 0.9], [0.8, 0.76]]),
    summary("r3", "kl", "kl-0.04", 3, [[0.5, 0.9], [1.0, 0.1]], { status: "partial" }), // partial: not in the cell
  ];
  const { methods } = groupRuns(runs);
  const setting = methods[0].settings[0];
  assert.equal(setting.finished.length, 3);
  assert.equal(setting.partial.length, 1);
  const [at08, at095] = settingCells(setting, [0.8, 0.95], "gold");
  assert.equal(at08.reached, 2);
  assert.equal(at08.censored, 1);
  assert.equal(at08.runs, 3);
  assert.ok(Math.abs(at08.mean - (0.7 + 0.76) / 2) < 1e-12, `${at08.mean}`); // r0 halfway between 0.8 and 0.6
  assert.match(formatCell("gold", at08), /^0\.730 \[[-0-9.]+, [0-9.]+\] \(2\/3; 1 censored\)$/);
  assert.equal(formatCell("gold", at095), "censored (0/3 reached)");
  // Levels: above the highest first evaluation (0.5) up to the highest peak of a finished run (0.9; the partial r3's 1.0 is not one).
  assert.deepEqual(reportLevels(methods), [0.567, 0.633, 0.7, 0.767, 0.833, 0.9]);
});

test("groups follow the plan: planned counts, summaries of other knob values ignored, partial runs counted but not finished", () => {
  const plan = [0, 1].flatMap((seed) => [
    { name: `p-kl-0.01-s${seed}`, label: "kl-0.01", method: "kl", seed, overrides: ["train.kl.beta=0.01", `seed=${seed}`] },
    { name: `p-kl-0.16-s${seed}`, label: "kl-0.16", method: "kl", seed, overrides: ["train.kl.beta=0.16", `seed=${seed}`] },
    { name: `p-flow-s${seed}`, label: "flow", method: "flow", seed, overrides: [`seed=${seed}`] },
  ]);
  const summaries = [
    summary("any-name-1", "kl", "kl-0.01", 0, [[0.5, 0.9], [0.9, 0.8]], { overrides: ["train.kl.beta=0.01", "seed=0"] }),
    summary("any-name-2", "kl", "kl-0.16", 1, [[0.5, 0.9], [0.9, 0.85]], { overrides: ["train.kl.beta=0.16", "seed=1"], status: "partial" }),
    summary("old-knob", "kl", "kl-0.01", 1, [[0.5, 0.9], [0.9, 0.8]], { overrides: ["train.kl.beta=0.02", "seed=1"] }),
    summary("flow-0", "flow", "flow", 0, [[0.5, 0.9], [0.9, 0.5]]),
  ];
  const { methods, ignored } = groupRuns(summaries, plan);
  assert.deepEqual(ignored.map((s) => s.run), ["old-knob"]);
  assert.deepEqual(methods.map((m) => [m.method, m.settings.map((s) => [s.label, s.finished.length, s.partial.length, s.planned])]), [
    ["kl", [["kl-0.01", 1, 0, 2], ["kl-0.16", 0, 1, 2]]],
    ["flow", [["flow", 1, 0, 2]]],
  ]);
  const report = buildB3Report({ key: "test", sweep: "b3-test", summaries, plan, summariesDir: "results/b3/aesthetic", command: "grpo-guard compare --preset b3-test --from-summaries results/b3/aesthetic", page: join(dir, "p.md"), figuresDir: join(dir, "results") });
  assert.match(report.markdown, /Built from \*\*2 finished runs of 6 planned\*\* \(1 partial, drawn dashed, not in any table\)/);
  assert.match(report.markdown, /\(left out: 1 more of this sweep are not runs of its plan \(other knob values or seeds\)\)/);
  assert.match(report.markdown, /\| kl \| kl-0\.01, kl-0\.16 \| 1 \/ 4 \| 1 \| 2 \|/);
  assert.match(report.markdown, /\| flow \| flow \| 1 \/ 2 \| 0 \| 1 \|/);
  // Proxy-side statistics: the per-epoch values of the hand-built runs (clip 0.1, masked 0.2, R 1.01; peak 0.5 + 0.01·9 at epoch 10).
  assert.match(report.markdown, /\| kl \| kl-0\.01 \| 1\/2 \| 10\/10 \| 0\.100 \| 0\.050 \| 0\.150 \| 0\.200 \| — \| — \| 1\.0100 \| 0\.5900 \| 10 \|/);
  // The training proxy along the run: epochs 6–10 of the hand-built proxy 0.5 + 0.01·(epoch − 1) average to 0.57.
  assert.match(report.markdown, /\| first epoch \| epochs 6–10 \|/);
  assert.match(report.markdown, /\| kl \| kl-0\.01 \| 0\.500 \| 0\.570 \|/);
  assert.ok(!/\| kl \| kl-0\.16 \| 0\.500/.test(report.markdown), "a setting without a finished run has no trajectory row");
  // The matched-proxy tables name such a setting once instead of a row of empty cells per component.
  assert.match(report.markdown, /Not in these tables, no finished run yet: kl-0\.16\./);
  assert.ok(!report.markdown.includes("no finished run |"), "no matched-proxy row without a finished run");
  // Fewer seeds finished than planned: the headline says it is provisional and why.
  assert.match(report.markdown, /\*\*Provisional\*\* — kl \/ kl-0\.01 has 1 of 2 seeds finished; flow \/ flow has 1 of 2 seeds finished: B3 reads its paired seeds together/);
  // The figure: one thin curve per run (partial dashed) and one thick envelope per method with a finished run.
  const envelopes = [...report.figure!.matchAll(/data-series="([a-z]+) envelope"/g)].map((m) => m[1]);
  assert.deepEqual(envelopes, ["kl", "flow"]);
  assert.ok(report.figure!.includes('data-series="any-name-2 (partial)"'));
  assert.match(report.figure!, /stroke-width="1" stroke-dasharray="4 3"/);
  // The proxy-side trajectories: a panel for each statistic some run logs (masked here), none for the others (gated, hinge).
  const titles = [...report.trajectories.matchAll(/class="panel" [^>]*data-title="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(titles, ["training proxy (mean reward of the epoch&apos;s rollouts)", "outside the clip range", "P(clip | A&gt;0)", "P(clip | A&lt;0)", "masked (DPPO)", "R = ‖v_θ‖/‖v_ref‖"]);
});

test("a sweep file that starts keeping more checkpoints has the same runs: overrides outside run ids do not split plan and summaries", () => {
  const plan = [0, 1].map((seed) => ({ name: `p-flow-s${seed}`, label: "flow", method: "flow", seed, overrides: ["checkpoint.keep=8", "train.epochs=40", `seed=${seed}`] }));
  const summaries = [
    summary("flow-0", "flow", "flow", 0, [[0.5, 0.9], [0.9, 0.5]], { overrides: ["train.epochs=40", "seed=0"] }),
    summary("flow-1-other", "flow", "flow", 1, [[0.5, 0.9], [0.9, 0.5]], { overrides: ["train.epochs=60", "seed=1"] }),
  ];
  const { methods, ignored } = groupRuns(summaries, plan);
  assert.deepEqual(methods[0].settings.map((s) => [s.label, s.finished.map((r) => r.run)]), [["flow", ["flow-0"]]]);
  assert.deepEqual(ignored.map((s) => s.run), ["flow-1-other"], "a knob that run ids count still separates them");
});

test("the headline: the highest level every finished run of ≥ 2 settings reaches, the best setting there with its interval", () => {
  const runs = [0, 1, 2].flatMap((seed) => [
    summary(`a${seed}`, "kl", "kl-0.16", seed, [[0.5, 0.9], [0.7, 0.88 - 0.01 * seed]]), // never reaches 0.8
    summary(`b${seed}`, "guard", "guard", seed, [[0.5, 0.9], [0.9, 0.7 + 0.01 * seed]]),
    summary(`c${seed}`, "flow", "flow", seed, [[0.5, 0.9], [0.9, 0.5 + 0.01 * seed]]),
  ]);
  const { methods } = groupRuns(runs);
  const h = headline(methods, [GOLD], [0.6, 0.7, 0.8, 0.9]);
  assert.ok(h);
  assert.equal(h.level, 0.9);
  assert.deepEqual(h.compared.map((s) => s.label), ["guard", "flow"]);
  assert.deepEqual(h.censored.map((s) => s.label), ["kl-0.16"]);
  assert.equal(h.best[0].setting.label, "guard");
  assert.ok(Math.abs(h.best[0].cell.mean - 0.71) < 1e-12);
  assert.equal(h.best[0].next?.setting.label, "flow");
  // Paired by seed: guard − flow = (0.7 + 0.01·s) − (0.5 + 0.01·s) = 0.2 for every seed, so a zero-width interval.
  const p = h.best[0].next!.paired!;
  assert.equal(p.pairs, 3);
  assert.ok(Math.abs(p.mean - 0.2) < 1e-12 && Math.abs(p.ci[1] - p.ci[0]) < 1e-9, JSON.stringify(p));
  assert.ok(!headlineMarkdown("aesthetic", h).includes("Provisional"), "every seed of the compared settings finished (no plan: nothing missing)");
  assert.match(headlineMarkdown("aesthetic", h), /best guard \/ guard 0\.710 \[[0-9.]+, [0-9.]+\] \(3\/3\); next flow \/ flow 0\.510 \[[0-9.]+, [0-9.]+\] \(3\/3\); best − next, paired by seed: \+0\.200 \[\+0\.200, \+0\.200\] \(3 pairs\)/);
  // With flow removed, only one setting reaches 0.8 and 0.9: the headline falls back to 0.7, where kl-0.16 (0.88 - 0.01·seed) wins.
  const two = groupRuns(runs.filter((r) => r.method !== "flow")).methods;
  const h2 = headline(two, [GOLD], [0.6, 0.7, 0.8, 0.9])!;
  assert.equal(h2.level, 0.7);
  assert.equal(h2.best[0].setting.label, "kl-0.16");
});

test("the every-method headline: the highest level every method reaches with some setting, below the farthest one", () => {
  // kl has two settings: kl-0.16 reaches 0.7 (not 0.8); kl-4 stays below 0.6. guard and flow reach 0.9.
  const runs = [0, 1, 2].flatMap((seed) => [
    summary(`a${seed}`, "kl", "kl-0.16", seed, [[0.5, 0.9], [0.75, 0.88 - 0.01 * seed]]),
    summary(`k${seed}`, "kl", "kl-4", seed, [[0.5, 0.9], [0.55, 0.9]]),
    summary(`b${seed}`, "guard", "guard", seed, [[0.5, 0.9], [0.9, 0.7 + 0.01 * seed]]),
    summary(`c${seed}`, "flow", "flow", seed, [[0.5, 0.9], [0.9, 0.5 + 0.01 * seed]]),
  ]);
  const { methods } = groupRuns(runs);
  const all = headline(methods, [GOLD], [0.6, 0.7, 0.8, 0.9], "every-method")!;
  assert.equal(all.scope, "every-method");
  assert.equal(all.level, 0.7, "kl's best setting reaches 0.7, none of its settings 0.8");
  assert.deepEqual(all.compared.map((s) => s.label), ["kl-0.16", "guard", "flow"]);
  assert.deepEqual(all.censored.map((s) => s.label), ["kl-4"]);
  assert.equal(headline(methods, [GOLD], [0.6, 0.7, 0.8, 0.9], "farthest")!.level, 0.9);
  const text = headlinesMarkdown("aesthetic", methods, [GOLD], [0.6, 0.7, 0.8, 0.9]);
  assert.match(text, /^Headline \(aesthetic, every method\), at proxy level 0\.7: the highest level at which every method has a setting all of whose finished runs reach it/);
  assert.match(text, /\n\nHeadline \(aesthetic, farthest\), at proxy level 0\.9:/);
  // Where every method reaches the farthest level too, one reading is enough.
  const same = groupRuns(runs.filter((r) => r.method !== "kl")).methods;
  assert.ok(!headlinesMarkdown("aesthetic", same, [GOLD], [0.6, 0.7, 0.8, 0.9]).includes("farthest"));
  // A method none of whose settings reaches even the lowest level does not move the proxy: named and left out, not waited for.
  const stuck = groupRuns(runs.filter((r) => r.label !== "kl-0.16")).methods;
  const moving = headline(stuck, [GOLD], [0.6, 0.7, 0.8, 0.9], "every-method")!;
  assert.deepEqual(moving.stalled, ["kl"]);
  assert.equal(moving.level, 0.9);
  assert.deepEqual(moving.compared.map((s) => s.label), ["guard", "flow"]);
  assert.match(headlinesMarkdown("aesthetic", stuck, [GOLD], [0.6, 0.7, 0.8, 0.9]), /^Headline \(aesthetic, every method that moves the proxy\), at proxy level 0\.9: .*\)\. Left out: kl — no setting whose finished runs all reach even the lowest level, 0\.6\.\n/);
  assert.deepEqual(all.stalled, [], "every method moves: nobody left out");
  // One moving method is no comparison: no every-method headline, said so.
  const alone = groupRuns(runs.filter((r) => r.label === "kl-4" || r.method === "guard")).methods;
  assert.equal(headline(alone, [GOLD], [0.6, 0.7, 0.8, 0.9], "every-method"), null);
  assert.match(headlinesMarkdown("aesthetic", alone, [GOLD], [0.6, 0.7, 0.8, 0.9]), /^Headline \(aesthetic\): no proxy level is reached by every finished run of two or more settings yet\./);
});

test("against the baseline: each setting minus flow-grpo on the same seed, at each level; unpaired cells are a dash", () => {
  const runs = [0, 1, 2].flatMap((seed) => [
    summary(`b${seed}`, "guard", "guard", seed, [[0.5, 0.9], [0.9, 0.7 + 0.02 * seed]]),
    summary(`c${seed}`, "flow-grpo", "flow-grpo-a", seed, [[0.5, 0.9], [0.9, 0.5 + 0.01 * seed]]),
    summary(`k${seed}`, "kl", "kl-4", seed, [[0.5, 0.9], [0.65, 0.9]]), // never reaches 0.7
  ]);
  runs.push(summary("c-other", "flow-grpo", "flow-grpo-b", 0, [[0.5, 0.9], [0.9, 0.1]]));
  const { methods } = groupRuns(runs);
  assert.equal(baselineSetting(methods, "flow-grpo")?.label, "flow-grpo-a", "the baseline setting with the most finished runs");
  const text = baselineTables(methods, [GOLD], [0.7, 0.9]);
  // Gold runs linearly from 0.9 at proxy 0.5 to its last value at 0.9: guard − flow-grpo-a = 0.2 + 0.01·seed at
  // proxy 0.9 and half that at 0.7 (t-interval over the three seeds, t(2) = 4.303).
  assert.match(text, /\| guard \| guard \| \+0\.105 \[\+0\.093, \+0\.117\] \(3\) \| \+0\.210 \[\+0\.185, \+0\.235\] \(3\) \|/);
  assert.match(text, /\| kl \| kl-4 \| — \| — \|/);
  assert.match(text, /\| flow-grpo \| flow-grpo-b \| -0\.200 \(1\) \| -0\.400 \(1\) \|/);
  assert.ok(!/\| flow-grpo \| flow-grpo-a \|/.test(text), "the baseline is not compared with itself");
  assert.match(baselineTables(groupRuns(runs.filter((r) => r.method !== "flow-grpo")).methods, [GOLD], [0.7]), /^No comparison against flow-grpo: no finished flow-grpo run yet\.$/);
  // A second Flow-GRPO setting becomes a second reference once it has two finished runs.
  assert.deepEqual(otherBaselineSettings(methods), [], "one run of flow-grpo-b: not a reference yet");
  const withB = groupRuns([...runs, summary("c-other-1", "flow-grpo", "flow-grpo-b", 1, [[0.5, 0.9], [0.9, 0.1]])]).methods;
  assert.deepEqual(otherBaselineSettings(withB).map((s) => s.label), ["flow-grpo-b"]);
  const againstB = evidenceTable(withB, [GOLD], [0.7, 0.9], "flow-grpo", otherBaselineSettings(withB)[0]);
  assert.match(againstB, /peak evaluated proxy \(flow-grpo-b: 0\.900\); − flow-grpo-b, paired/);
  assert.match(againstB, /^\| flow-grpo \| flow-grpo-a \| 3 \|/m, "the main baseline setting is a row of the other reference's table");
  assert.ok(!/^\| flow-grpo \| flow-grpo-b \|/m.test(againstB), "the reference is not compared with itself");
});

test("evidence against the baseline: reach paired by seed; intervals that exclude 0 read in the component's direction, the rest even, single pairs left out", () => {
  const runs = [0, 1, 2].flatMap((seed) => [
    // Guard: gold 0.2 + 0.01·seed higher at proxy 0.9 than flow-grpo, and it travels 0.05 farther (peak 0.95).
    summary(`g${seed}`, "guard", "guard", seed, [[0.5, 0.9], [0.9, 0.7 + 0.02 * seed], [0.95, 0.6]]),
    summary(`c${seed}`, "flow-grpo", "flow-grpo", seed, [[0.5, 0.9], [0.9, 0.5 + 0.01 * seed]]),
    // Noisy: gold differences of -0.1, +0.1, 0 at proxy 0.9 (an interval around 0); stops at 0.9.
    summary(`n${seed}`, "noisy", "noisy", seed, [[0.5, 0.9], [0.9, 0.5 + 0.01 * seed + [-0.1, 0.1, 0][seed]]]),
  ]);
  runs.push(summary("w0", "worse", "worse", 0, [[0.5, 0.9], [0.9, 0.2]])); // one seed only
  const { methods } = groupRuns(runs);
  const evidence = settingEvidence(methods, [GOLD], [0.7, 0.9]);
  assert.deepEqual(evidence.map((e) => e.method), ["guard", "noisy", "worse"]);
  const [guard, noisy, worse] = evidence;
  assert.equal(guard.reach?.pairs, 3);
  assert.ok(Math.abs(guard.reach!.mean - 0.05) < 1e-12 && Math.abs(guard.reach!.ci[0] - 0.05) < 1e-12, "the same +0.05 on every seed: a zero-width interval");
  assert.ok(Math.abs(guard.peak! - 0.95) < 1e-12);
  assert.deepEqual(guard.cells.map((c) => [c.level, c.reading]), [[0.7, "better"], [0.9, "better"]]);
  assert.deepEqual(noisy.cells.map((c) => [c.level, c.reading]), [[0.7, "even"], [0.9, "even"]]);
  assert.equal(worse.cells.length, 0, "one seed pair: no interval, no reading");
  assert.equal(worse.reach?.pairs, 1);
  // Lower-is-better components flip the reading: a higher KID is worse.
  const kid = runs.map((r) => ({ ...r, components: [{ key: "kid-gold", label: "KID", better: "lower" as const }], evaluations: r.evaluations.map((e) => ({ ...e, components: [{ ...e.components[0], key: "kid-gold" }] })) }));
  const kidEvidence = settingEvidence(groupRuns(kid).methods, [{ key: "kid-gold", label: "KID", better: "lower" }], [0.9]);
  assert.equal(kidEvidence[0].cells[0].reading, "worse");
  const table = evidenceTable(methods, [GOLD], [0.7, 0.9]);
  // Paired t-tests: guard's differences are 0.1 + 0.005·seed and 0.2 + 0.01·seed, t = 36.4 at 2 df, p = 1 − t/√(t² + 2) = 7.6e-4
  // each, under Holm's 0.05/2 and 0.05/1: both stand (H). Noisy's smallest p is ≈ 1 (differences −0.1, +0.1, 0).
  assert.ok(guard.cells.every((c) => c.holm && Math.abs(c.difference.p - 7.55e-4) < 1e-6));
  assert.ok(noisy.cells.every((c) => !c.holm && c.difference.p > 0.9));
  assert.match(table, /\| guard \| guard \| 3 \| 0\.950; \+0\.050 \[\+0\.050, \+0\.050\] \(3\) \| `gold` at 0\.7: \+0\.105 \[\+0\.093, \+0\.117\] \(3\) \*\*H\*\*; `gold` at 0\.9: \+0\.210 \[\+0\.185, \+0\.235\] \(3\) \*\*H\*\* \| — \| 0 of 2 \| 7\.6e-4 \(0\.025\) \|/);
  assert.match(table, /\| noisy \| noisy \| 3 \| 0\.900; \+0\.000 \[\+0\.000, \+0\.000\] \(3\) \| — \| — \| 2 of 2 \| 1\.0 \(0\.025\) \|/);
  assert.match(table, /\| worse \| worse \| 1 \| 0\.900; \+0\.000 \(1\) \| — \| — \| — \(under 2 seed pairs\) \| — \|/);
  assert.match(evidenceTable(groupRuns(runs.filter((r) => r.method !== "flow-grpo")).methods, [GOLD], [0.9]), /^No evidence against flow-grpo: no finished flow-grpo run yet\.$/);
  // Evaluations made later at checkpoints: counted per run, and the widest gap between evaluations.
  const dense = summary("d0", "guard", "guard", 0, [[0.5, 0.9], [0.7, 0.8], [0.9, 0.6]]);
  dense.evaluations.splice(1, 0, { ...dense.evaluations[1], epoch: 5, fromCheckpoint: true });
  assert.deepEqual(evaluationDensity(dense), { fromCheckpoint: 1, widestGap: 10 });
  assert.deepEqual(evaluationDensity(runs[0]), { fromCheckpoint: 0, widestGap: 10 });
  assert.match(coverageTable(groupRuns([dense, runs[1]]).methods), /\| guard \| guard \| 1 \/ \? \| 0 \| \? \| 1 of 1 \(10\) \|\n\| flow-grpo \| flow-grpo \| 1 \/ \? \| 0 \| \? \| 0 of 1 \(10\) \|/);
  // Differences of percentages: one more decimal than the values (0.6 % vs 0.7 % is −0.12 points, not −0.1).
  assert.equal(formatDifference("near-duplicates", -0.0012), "-0.12");
  assert.equal(formatDifference("judge-accuracy", 0.034), "+3.40");
  assert.equal(formatDifference("proxy", 0.05), "+0.050");
  assert.equal(formatDifference("kid-gold", 194.049), "+194.05");
});

test("markers: the section between them is replaced, everything else in the page stays byte for byte", () => {
  const page = "# Results\r\n\nprose before\n<!-- b3:ocr:begin -->\nold ocr\n<!-- b3:ocr:end -->\n\n<!-- b3:aesthetic:begin -->\nold\n<!-- b3:aesthetic:end -->\ntrailing prose, no newline";
  const { begin, end } = markers("aesthetic");
  const next = replaceMarked(page, "aesthetic", "NEW");
  assert.equal(next, page.replace(`${begin}\nold\n${end}`, `${begin}\nNEW\n${end}`));
  assert.equal(replaceMarked(next, "aesthetic", "NEW"), next, "idempotent");
  const appended = replaceMarked(page, "aesthetic-pilot", "P");
  assert.ok(appended.startsWith(page), "absent markers: appended, the page before them untouched");
  assert.ok(appended.endsWith(`\n<!-- b3:aesthetic-pilot:begin -->\nP\n<!-- b3:aesthetic-pilot:end -->\n`));
  assert.equal(replaceMarked("", "x", "C"), "<!-- b3:x:begin -->\nC\n<!-- b3:x:end -->\n");
  assert.throws(() => replaceMarked("<!-- b3:x:end -->\n<!-- b3:x:begin -->", "x", "C", "docs/results.md"), (e: unknown) => e instanceof UserError && /^docs\/results\.md: .*comes before/.test(e.message));
  assert.throws(() => replaceMarked("<!-- b3:x:begin -->\n", "x", "C", "p.md"), (e: unknown) => e instanceof UserError && /without "<!-- b3:x:end -->"/.test(e.message));
});

test("presets from sweep files and the method field of list points", () => {
  assert.equal(presetFile("digits"), null, "built-in presets stay built in");
  assert.match(presetFile("b3-aesthetic-pilot")!, /sweeps\/b3-aesthetic-pilot\.yaml$/);
  assert.throws(() => presetFile("nope"), (e: unknown) => e instanceof UserError && /unknown sweep preset "nope" \(known: digits\) and no sweep file sweeps\/nope\.yaml in the package \(it has: .*b3-aesthetic-pilot/.test(e.message));
  assert.throws(() => presetFile("../configs/x"), UserError, "a preset name is a name, not a path");
  assert.equal(defaultPresetRuns("b3-aesthetic-pilot"), "runs/b3");
  assert.equal(defaultPresetRuns("digits"), "runs/compare");
  const pilot = presetSweep("b3-aesthetic-pilot", join(dir, "runs"), { seeds: [5], epochs: 3 });
  assert.equal(pilot.name, "b3-aesthetic-pilot");
  assert.ok(pilot.runs.length >= 2);
  for (const run of pilot.runs) {
    assert.equal(run.method, run.label, "without method: the label");
    assert.equal(run.seed, 5);
    assert.equal(run.config.train.epochs, 3);
    assert.deepEqual(run.config.rewards.map((r) => r.name), ["aesthetic"]);
  }
  assert.equal(presetSweep("digits", join(dir, "runs")).runs[0].method, "flow-grpo");
  // The method field groups knob settings; the list point stays strict.
  writeFileSync(join(dir, "base.yaml"), stringify(toyBase(2)));
  const spec = { name: "m", base: "base.yaml", list: [{ label: "kl-0.01", method: "kl", set: { "train.kl.beta": 0.01 } }, { label: "kl-0.04", method: "kl", set: { "train.kl.beta": 0.04 } }, { label: "flow" }] };
  const sweep = expandSweep(spec, { baseDir: dir, runsDir: join(dir, "runs"), source: "m.yaml" });
  assert.deepEqual(sweep.runs.map((r) => [r.label, r.method]), [["kl-0.01", "kl"], ["kl-0.04", "kl"], ["flow", "flow"]]);
  assert.throws(() => expandSweep({ ...spec, list: [{ label: "a", methods: "kl" }] } as never, { baseDir: dir, runsDir: dir, source: "m.yaml" }), (e: unknown) => e instanceof UserError && /m\.yaml/.test(e.message) && /methods/.test(e.message));
  assert.throws(() => expandSweep({ ...spec, list: [{ label: "a", method: "k l" }] }, { baseDir: dir, runsDir: dir, source: "m.yaml" }), (e: unknown) => e instanceof UserError && /method/.test(e.message));
  const r = cli(["sweep", "--preset", "b3-aesthetic-pilot", "--plan", "--seeds", "0,1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split("\n").length, 2 * pilot.runs.length);
});

test("compare --preset <pilot sweep file> --from-summaries: the marked section without training, proxy side only (no gold for a pilot)", () => {
  const pilot = presetSweep("b3-aesthetic-pilot", "runs/b3");
  const summaries = join(dir, "summaries");
  // Two of the plan's runs finished (names from another checkout: matched by label, seed and overrides), one partial.
  pilot.runs.slice(0, 3).forEach((run, k) =>
    writeSummary(summaries, summary(run.name.replace(run.id, "0123456789ab"), run.method, run.label, run.seed, [[0.6, 0.9], [0.7 + 0.05 * k, 0.8]], { sweep: pilot.name, overrides: run.overrides, status: k === 2 ? "partial" : "finished" })),
  );
  const page = join(dir, "docs", "results.md");
  const runs = join(dir, "cmp-runs");
  const args = ["compare", "--preset", "b3-aesthetic-pilot", "--from-summaries", summaries, "--results", page, "--runs", runs];
  const before = "# Results\n\nThe lead's verdicts.\n";
  mkdirSync(join(dir, "docs"), { recursive: true });
  writeFileSync(page, before);
  const r = cli(args);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`2 finished runs of ${pilot.runs.length} planned`));
  const text = readFileSync(page, "utf8");
  assert.ok(text.startsWith(before + "\n<!-- b3:aesthetic-pilot:begin -->\n"), "the page before the appended markers is kept");
  assert.match(text, new RegExp(`Built from \\*\\*2 finished runs of ${pilot.runs.length} planned\\*\\* \\(1 partial`));
  assert.match(text, /A pilot: proxy-side signals only\. Gold is not shown/);
  assert.ok(!/Headline|Gold at matched proxy|frontier/.test(text), "no gold in a pilot's section");
  assert.match(text, /!\[B3 proxy side, aesthetic\]\(results\/b3-aesthetic-pilot-proxy-side\.svg\)/);
  assert.ok(existsSync(join(dir, "docs", "results", "b3-aesthetic-pilot-proxy-side.svg")));
  assert.ok(!existsSync(join(dir, "docs", "results", "b3-aesthetic-pilot-frontier.svg")));
  assert.ok(!existsSync(runs), "nothing trained");
  // Rewritten in place: same page, the markers once.
  assert.equal(cli(args).code, 0);
  assert.equal(readFileSync(page, "utf8"), text);
  // --methods / --seeds choose what to train; the page still reports the whole study (no "n of n planned" for a subset).
  const subset = cli([...args, "--methods", pilot.runs[0].method, "--seeds", "0"]);
  assert.equal(subset.code, 0, subset.stderr);
  assert.match(subset.stdout, new RegExp(`2 finished runs of ${pilot.runs.length} planned`));
  assert.equal(readFileSync(page, "utf8"), text, "the same section as without the subset flags");
  const headline = cli([...args, "--headline", join(dir, "README.md")]);
  assert.equal(headline.code, 2);
  assert.match(headline.stderr, /^grpo-guard: --headline: b3-aesthetic-pilot is a pilot; its section shows no gold, so it has no headline\n$/);
});
