/**
 * GARDO (algorithms.md E14) — the "Test:" line: hand B = 4 ranks → U and gates, sgnU flips
 * them; (gated KL in rl-methods.test.ts); reset copies weights exactly, only when the rule
 * fires; φ_j = 1 for below-mean samples; identical features ⇒ finite A. Plus p's adaptation,
 * the on-policy identity and a short toy learning run with its statistics.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, type JaxArray } from "../src/engine/jax.js";
import { flattenNamed, mapTrees } from "../src/engine/tree.js";
import { TrainConfigSchema } from "../src/config/train.js";
import { loadVelocityModel } from "../src/models/io.js";
import { pretrainToyBase } from "../src/pretrain/toy-base.js";
import type { EpochRecord } from "../src/diagnostics/records.js";
import { toyModeReward } from "../src/rewards/toy.js";
import { diversityAdvantages, gates, percentile, ReferenceResets, RiskCompensator, uncertainty } from "../src/rl/gardo.js";
import { flowGrpo } from "../src/rl/objectives.js";
import { PolicyOptimiser } from "../src/rl/optimisation.js";
import { runTrainingJob } from "../src/rl/run.js";

await initEngine();

test("E14 (a, b): hand B = 4 → U from win rates and the gates; sgnU = −1 flips them", () => {
  const proxy = [0.9, 0.5, 0.1, 0.3];
  const aux = [[0.1, 0.5, 0.9, 0.3]];
  // Win rates: proxy (1, 2/3, 0, 1/3), aux (0, 2/3, 1, 1/3) ⇒ U = (1, 0, −1, 0), exact zeros.
  assert.deepEqual(Array.from(uncertainty(proxy, aux, 1)), [1, 0, -1, 0]);
  assert.deepEqual(Array.from(uncertainty(proxy, aux, -1)), [-1, 0, 1, 0]);
  // First epoch p = 0.1; {U ≥ 0} = {1, 0, 0}: q = 90th percentile (linear) = 0.8 ⇒ only sample 0.
  assert.ok(Math.abs(percentile([1, 0, 0], 90) - 0.8) < 1e-12);
  const plus = gates(uncertainty(proxy, aux, 1), new RiskCompensator());
  assert.deepEqual(Array.from(plus.gate), [1, 0, 0, 0]);
  assert.equal(plus.p, 0.1);
  const minus = gates(uncertainty(proxy, aux, -1), new RiskCompensator());
  assert.deepEqual(Array.from(minus.gate), [0, 0, 1, 0]);
  // Two auxiliaries: their win rates are averaged; ties count ½.
  // proxy win rates (5/6, 5/6, 1/6, 1/6); aux 1 the same pattern on (0, 2); aux 2 = proxy.
  const U2 = Array.from(uncertainty([1, 1, 0, 0], [[1, 0, 1, 0], [1, 1, 0, 0]], 1));
  [0, 1 / 3, -1 / 3, 0].forEach((x, j) => assert.ok(Math.abs(U2[j] - x) < 1e-12, `U_${j} = ${U2[j]}`));
});

test("E14 (b): p adapts — 0.1 first, ×1.1 above the history's max, ×0.9 below its min, clipped to [0.02, 0.2], 20 kept", () => {
  const risk = new RiskCompensator();
  assert.equal(risk.update(0.5), 0.1);
  assert.ok(Math.abs(risk.update(0.6) - 0.11) < 1e-12);
  assert.ok(Math.abs(risk.update(0.4) - 0.099) < 1e-12);
  assert.ok(Math.abs(risk.update(0.45) - 0.099) < 1e-12, "inside the history: unchanged");
  for (let k = 0; k < 30; k++) risk.update(1 + k);
  assert.equal(risk.p, 0.2);
  assert.equal(risk.history.length, 20);
  for (let k = 0; k < 60; k++) risk.update(-k);
  assert.equal(risk.p, 0.02);
});

test("E14 (d): the reset rule fires every R epochs or after a step with KL > κ, and a reset copies θ exactly", async () => {
  const resets = new ReferenceResets(2, 1e-3);
  const fired = [0, 1, 2, 3, 4].map((e) => resets.shouldReset(e));
  assert.deepEqual(fired, [false, false, false, true, false], "e − e_last > R");
  resets.observeKl(5e-4);
  assert.equal(resets.shouldReset(5), false, "KL below κ: no flag");
  resets.observeKl(2e-3);
  assert.equal(resets.shouldReset(6), true, "flag set by a step with KL > κ");
  assert.equal(resets.shouldReset(7), false, "flag cleared");
  assert.deepEqual(resets.resets, [3, 6]);

  const dir = mkdtempSync(join(tmpdir(), "grpo-guard-gardo-"));
  const { model, params } = loadVelocityModel(await pretrainToyBase(dir, 20));
  const config = TrainConfigSchema.parse({ train: { kl: { beta: 0.04 } } });
  const optimiser = new PolicyOptimiser(config, model, flowGrpo, params);
  const moved = mapTrees((p) => p.ref.add(0.125), optimiser.state.params);
  optimiser.state = { ...optimiser.state, params: moved };
  const before = await Promise.all(Array.from(flattenNamed(optimiser.reference), ([, x]) => (x as JaxArray).ref.data()));
  const target = await Promise.all(Array.from(flattenNamed(moved), ([, x]) => (x as JaxArray).ref.data()));
  assert.notDeepEqual(before, target);
  optimiser.resetReference();
  const after = await Promise.all(Array.from(flattenNamed(optimiser.reference), ([, x]) => (x as JaxArray).ref.data()));
  assert.deepEqual(after, target, "θ_ref = θ bit for bit");
});

test("E14 (e): diversity-aware advantages — hand case, φ = 1 below the mean, identical features ⇒ finite A", () => {
  // Group of 4, rewards (1, 0, 0, 3) (mean 1), unit features in 2-D.
  const features = [1, 0, 0, 1, 1, 0, 0.6, 0.8];
  // d = (0, 0.2, 0, 0.2), mean 0.1: A_0 = 0·0 = 0, A_1 = A_2 = −1 (φ = 1), A_3 = 2·(0.2/0.1) = 4.
  const A = Array.from(diversityAdvantages([1, 0, 0, 3], features, 2, 4, 5));
  [0, -1, -1, 4].forEach((x, j) => assert.ok(Math.abs(A[j] - x) < 1e-6, `A_${j} = ${A[j]}`));
  assert.equal(diversityAdvantages([0, 0, 0, 30], features, 2, 4, 5)[3], 5, "clipped to ±A_max");
  const same = diversityAdvantages([1, 0, 0, 3], [1, 0, 1, 0, 1, 0, 1, 0], 2, 4, 5);
  assert.ok(same.every(Number.isFinite));
  assert.deepEqual(Array.from(same), [0, -1, -1, 2], "mean_g(d) = 0 ⇒ φ = 1: A = r − r̄ (no std division)");
});

test("GARDO on the toy model: the proxy rises; gated fraction, p and resets in every epoch record; on-policy KL = 0 before any step", async () => {
  const dir = mkdtempSync(join(tmpdir(), "grpo-guard-gardo-"));
  const { model, params } = loadVelocityModel(await pretrainToyBase(dir, 400));
  const config = TrainConfigSchema.parse({
    algorithm: "flow-grpo",
    prompts: { pool: [""], perEpoch: 4 },
    groupSize: 8,
    train: { epochs: 10, minibatch: 16, lr: 3e-3, emaDecay: 0.5, kl: { beta: 0.01 } },
    // Auxiliary: the same target mode, judged with another width; features = the 2-D samples.
    gardo: { enabled: true, aux: [{ name: "toy-mode", options: { mode: 0, width: 2 } }], features: null, resetEvery: 3, klThreshold: 1 },
    eval: { every: 10, steps: 10, perPrompt: 64 },
    name: "gardo",
    output: { dir },
  });
  const records: EpochRecord[] = [];
  const { first, last } = await runTrainingJob(config, model, params, [{ reward: toyModeReward({ mode: 0 }), weight: 1 }], { hooks: { onEpoch: (r) => records.push(r) } });
  assert.ok(last!.rewards[0].mean > first!.rewards[0].mean + 0.1, `eval reward ${first!.rewards[0].mean} → ${last!.rewards[0].mean}`);
  for (const r of records) {
    const state = r.methodState!;
    assert.ok(state.gatedFraction >= 0 && state.gatedFraction < 0.5, `gated fraction ${state.gatedFraction}`);
    assert.ok(state.p >= 0.02 && state.p <= 0.2);
  }
  // R = 3: resets at epochs 4 and 8 (e − e_last > R).
  assert.deepEqual(records.map((r) => r.methodState!.resets), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]);
  assert.ok(records[0].onPolicy!.maxAbsLogRatio < 1e-5);
});

test("GARDO resumes exactly: p, its history and the reset state travel in the checkpoint", async () => {
  const dir = mkdtempSync(join(tmpdir(), "grpo-guard-gardo-resume-"));
  const weights = await pretrainToyBase(dir, 50);
  const config = (name: string) =>
    TrainConfigSchema.parse({
      algorithm: "flow-grpo",
      prompts: { pool: [""], perEpoch: 2 },
      groupSize: 8,
      train: { epochs: 5, minibatch: 8, lr: 3e-3, kl: { beta: 0.01 } },
      gardo: { enabled: true, aux: [{ name: "toy-mode", options: { mode: 0, width: 2 } }], features: null, resetEvery: 1, klThreshold: 1e-9 },
      eval: { every: 0 },
      checkpoint: { every: 1 },
      name,
      output: { dir },
    });
  const reward = () => [{ reward: toyModeReward({ mode: 0 }), weight: 1 }];
  const straight: EpochRecord[] = [];
  let m = loadVelocityModel(weights);
  await runTrainingJob(config("straight"), m.model, m.params, reward(), { hooks: { onEpoch: (r) => straight.push(r) } });
  const resumed: EpochRecord[] = [];
  let epochs = 0;
  m = loadVelocityModel(weights);
  await runTrainingJob(config("split"), m.model, m.params, reward(), { stopRequested: () => ++epochs === 3 });
  m = loadVelocityModel(weights);
  await runTrainingJob(config("split"), m.model, m.params, reward(), { resume: true, hooks: { onEpoch: (r) => resumed.push(r) } });
  assert.deepEqual(resumed.map((r) => r.methodState), straight.slice(3).map((r) => r.methodState));
  assert.deepEqual(resumed.map((r) => r.loss), straight.slice(3).map((r) => r.loss));
  assert.ok(straight.at(-1)!.methodState!.resets >= 2, "resets happened");
});
