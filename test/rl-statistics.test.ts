/**
 * #12 item 5: per-step E11 statistics from off-policy minibatches only, histogram ranges from ε
 * and the observed scale, and the E15 velocity-norm ratio on trained states and at evaluation.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, random } from "../src/engine/jax.js";
import { KeyChain } from "../src/engine/prng.js";
import { mapTrees, refTree } from "../src/engine/tree.js";
import { pretrainToyBase } from "../src/pretrain/toy-base.js";
import { loadVelocityModel } from "../src/models/io.js";
import { createModel, presetConfig } from "../src/models/registry.js";
import { promptTokens } from "../src/models/prompts.js";
import { TrainConfigSchema } from "../src/config/train.js";
import { autoHistogramRange } from "../src/diagnostics/ratio-stats.js";
import { velocityNormStats } from "../src/diagnostics/velocity-norm.js";
import { readValidatedMetrics } from "../src/diagnostics/metrics-schema.js";
import { runTrainingJob } from "../src/rl/run.js";
import { StepLog } from "../src/rl/epoch-stats.js";
import { VelocityNormProbe } from "../src/rl/velocity-norms.js";
import { toyModeReward } from "../src/rewards/toy.js";
import { DYNAMICS } from "../src/sampling/dynamics.js";
import { shiftedSchedule } from "../src/sampling/schedule.js";
import { disposeRollout, SdeSampler } from "../src/sampling/sde.js";

await initEngine();

test("StepLog: the on-policy minibatch feeds only the E8 check, never the per-step statistics", () => {
  const log = new StepLog(2);
  const settings = { clipLow: 0.1, clipHigh: 0.1, histogramRange: "auto" as const, histogramBins: 4 };
  // On-policy chunk: ratios 0 (θ = θ_old) — would halve the clip fractions if it were counted.
  log.add({ steps: [0, 1], advantages: [1, -1], values: { logRatio: [0, 0, 1e-7, 0], clippedLogRatio: [0, -2e-7, 0, 0], klRef: [0, 0, 0, 0] } }, true);
  log.add({ steps: [0, 1], advantages: [1, -1], values: { logRatio: [0.5, -0.5, 0.01, 0.02], clippedLogRatio: [0.5, -0.5, 0.01, 0.02], klRef: [0, 0, 0, 0] } }, false);
  const record = (index: number) => ({ index, coefficients: { s: 1, sNext: 0.5, dt: -0.5, alpha: 1, beta: -0.5, std: 0.5, kappa: 2, logConst: 0 } }) as never;
  const [a, b] = log.stats([record(0), record(1)], [1, 1], settings);
  assert.equal(a.count, 2);
  assert.equal(b.count, 2);
  assert.equal(a.clipPositive, 1, "0.5 > log 1.1 with A > 0: clipped (1 of 1, not 1 of 2)");
  assert.equal(a.clipNegative, 1);
  assert.equal(b.clipTotal, 0);
  assert.deepEqual(log.onPolicy, { rows: 4, maxAbsLogRatio: 1e-7, maxAbsClippedLogRatio: 2e-7 });
});

test("StepLog: a method's per-row statistics of the on-policy minibatch are reported apart (onPolicy.methodStats), never mixed into methodStats", () => {
  const log = new StepLog(1);
  log.add({ steps: [0], advantages: [1, -1, 1, -1], values: { logRatio: [0, 0, 0, 0], normGuardActive: [1, 0, 1, 1], normRatio: [1.2, 0.9, 1.1, 1.3] } }, true);
  log.add({ steps: [0], advantages: [1, -1], values: { logRatio: [0.1, 0.2], normGuardActive: [0, 0], normRatio: [0.9, 0.8] } }, false);
  const on = log.onPolicy.methodStats!;
  assert.equal(on.normGuardActive.mean, 0.75);
  assert.equal(on.normGuardActive.max, 1);
  assert.ok(Math.abs(on.normRatio.mean - 1.125) < 1e-12);
  assert.equal(on.normRatio.max, 1.3);
  assert.ok(!("logRatio" in on), "E11 keys stay out");
  const off = log.methodStats().epoch;
  assert.equal(off.normGuardActive.max, 0, "the off-policy statistics do not see the on-policy rows");
  assert.ok(Math.abs(off.normRatio.mean - 0.85) < 1e-12);
});

test("histogram range: 2·log(1+ε) when the log-ratios are inside it, widened to the observed |p1|, |p99|", () => {
  const eps = 1e-4;
  const small = Array.from({ length: 101 }, (_, i) => (i - 50) * 1e-7);
  assert.equal(autoHistogramRange([small], eps, eps), -2 * Math.log1p(-eps), "2·max(log(1+ε), −log(1−ε))");
  assert.equal(autoHistogramRange([[], small], 0.2, 0.1), -2 * Math.log1p(-0.2), "the wider of the two boundaries");
  const wide = Array.from({ length: 101 }, (_, i) => (i - 50) * 1e-2); // p1 = −0.49, p99 = 0.49
  assert.ok(Math.abs(autoHistogramRange([small, wide], eps, eps) - 0.49) < 1e-12);
});

test("E15 velocity-norm statistics: hand case", () => {
  const stats = velocityNormStats([1, 2, 3, 4], [2, 2, 2, 2]); // ratios 0.5, 1, 1.5, 2
  assert.equal(stats.ratio, 1.25);
  assert.equal(stats.above, 0.5);
  assert.equal(stats.p50, 1.25);
  assert.ok(Math.abs(stats.p5 - (0.5 + 0.15 * 0.5)) < 1e-12);
  assert.ok(Math.abs(stats.p95 - (1.5 + 0.85 * 0.5)) < 1e-12);
  assert.equal(stats.count, 4);
});

test("E15: R_i = 1 at θ = θ_ref, on trained states (v_θ from μ_old) and along the evaluation ODE", async () => {
  const model = createModel(presetConfig("dit-tiny"));
  // A non-trivial velocity field: the zero-initialised output layer gets small random weights.
  const params = mapTrees((p) => p.add(random.normal(random.key(2), p.shape).mul(0.05)), model.init(random.key(3)));
  const policy = refTree(params);
  const schedule = shiftedSchedule(6, 3);
  const sampler = new SdeSampler(model, DYNAMICS["flow-sde"], schedule, 0.7);
  const tokens = promptTokens(["1", "2", "3", "4"], model.config.vocab, 1);
  const keys = new KeyChain(4);
  const rollout = await sampler.rollout(policy, random.normal(keys.next(), [4, 1, 28, 28]), tokens, new Set([0, 2, 4]), () => keys.next());
  const probe = new VelocityNormProbe(model);
  for (const { normTheta, normRef } of await probe.onTrainedStates(params, rollout.steps, tokens, [0, 2, 3])) {
    const stats = velocityNormStats(normTheta, normRef);
    assert.ok(Math.abs(stats.ratio - 1) < 1e-3, `R = ${stats.ratio}`);
  }
  const { final, norms } = await probe.onOdeTrajectory(policy, params, schedule, random.normal(random.key(9), [4, 1, 28, 28]), ["1", "2", "3", "4"]);
  final.dispose();
  assert.equal(norms.steps.length, 6);
  assert.ok(Math.abs(norms.pooled.ratio - 1) < 1e-6, `R = ${norms.pooled.ratio}`);
  disposeRollout(rollout);
  tokens.dispose();
  sampler.dispose();
  probe.dispose();
});

test("a run's metrics: off-policy step statistics, the on-policy check, the histogram range and velocity norms", async () => {
  const dir = mkdtempSync(join(tmpdir(), "grpo-guard-stats-"));
  const baseWeights = await pretrainToyBase(dir, 100);
  const { model, params } = loadVelocityModel(baseWeights);
  const config = TrainConfigSchema.parse({
    name: "stats",
    prompts: { pool: [""], perEpoch: 4 },
    groupSize: 8,
    train: { epochs: 2, minibatch: 8, lr: 3e-3 },
    eval: { every: 2, steps: 6, perPrompt: 16 },
    output: { dir },
  });
  await runTrainingJob(config, model, params, [{ reward: toyModeReward({ mode: 0 }), weight: 1 }]);
  const { records, skipped } = readValidatedMetrics(join(dir, "stats", "metrics.jsonl"));
  assert.deepEqual(skipped, []);
  const epochs = records.filter((r) => r.type === "epoch");
  assert.equal(epochs.length, 2);
  for (const epoch of epochs) {
    assert.equal(epoch.onPolicy!.rows, 8 * epoch.steps.length, "one minibatch of 8 × every trained step");
    assert.ok(epoch.onPolicy!.maxAbsLogRatio! < 1e-5, `on-policy |log r| ${epoch.onPolicy!.maxAbsLogRatio}`);
    for (const step of epoch.steps) {
      assert.equal(step.count, 24, "the 3 off-policy minibatches of 8");
      assert.equal(step.histogram.edges[0], -epoch.histogramRange!);
      assert.ok(step.velocityNorm && step.velocityNorm.count === 8);
    }
    // The first epoch starts at θ_ref: its on-policy states have R = 1.
    if (epoch.epoch === 0) for (const step of epoch.steps) assert.ok(Math.abs(step.velocityNorm!.ratio! - 1) < 1e-3);
  }
  const evals = records.filter((r) => r.type === "eval");
  assert.ok(Math.abs(evals[0].velocityNorm!.pooled.ratio! - 1) < 1e-6, "before training θ = θ_ref");
  assert.equal(evals.at(-1)!.velocityNorm!.steps.length, 6);
  assert.ok(Math.abs(evals.at(-1)!.velocityNorm!.pooled.ratio! - 1) > 1e-4, "after training the norms differ");
});
