/**
 * One short learning run per method (E13–E18) on the 2-D toy model: the proxy rises, and the
 * epoch records carry the method's own statistics.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../src/engine/jax.js";
import { pretrainToyBase } from "../src/pretrain/toy-base.js";
import { loadVelocityModel } from "../src/models/io.js";
import { TrainConfigSchema } from "../src/config/train.js";
import type { EpochRecord } from "../src/diagnostics/records.js";
import { runTrainingJob } from "../src/rl/run.js";
import { toyModeReward } from "../src/rewards/toy.js";

await initEngine();
const dir = mkdtempSync(join(tmpdir(), "grpo-guard-methods-"));
const baseWeights = await pretrainToyBase(dir, 400);

const METHODS: Record<string, { config: Record<string, unknown>; logs: (r: EpochRecord) => void }> = {
  "kl (E13)": {
    config: { algorithm: "flow-grpo", train: { kl: { beta: 0.04 } } },
    logs: (r) => assert.ok(r.steps.some((s) => s.klRef > 0), "KL to the reference logged"),
  },
  "norm-guard (E15)": {
    config: { algorithm: "flow-grpo", train: { normGuard: { lambda: 0.1 } } },
    logs: (r) => assert.ok(r.methodStats?.normGuardActive && r.methodStats.normRatio, "hinge-active fraction and n_θ/n_ref"),
  },
  "flow-dppo (E16)": {
    config: { algorithm: "flow-dppo", train: { trustRegion: 1e-5 }, advantages: { std: "batch" } },
    logs: (r) => assert.ok(r.methodStats?.dppoMasked && r.methodStats.dppoK && r.methodStats.dppoOutside, "masked fraction, k, P(k ≥ δ)"),
  },
  "pref-grpo (E18)": {
    config: { algorithm: "flow-grpo", advantages: { reward: "win-rate" } },
    logs: (r) => assert.ok(r.methodState?.rawGroupStd !== undefined, "raw reward spread beside the win-rate advantages"),
  },
  "mixgrpo (E17)": {
    config: { algorithm: "flow-grpo", sampling: { window: { mode: "sliding", size: 2, stride: 1, every: "auto", limit: 8 } } },
    logs: (r) => assert.equal(r.methodState?.windowStart, r.window[0]),
  },
  "tempflow (E17)": {
    config: { algorithm: "flow-grpo", sampling: { window: { mode: "branch", firstSteps: 6 }, sharedNoise: true }, train: { stepWeights: "tempflow" } },
    logs: (r) => assert.ok(r.window.length === 1 && r.window[0] < 6),
  },
};

for (const [method, { config, logs }] of Object.entries(METHODS)) {
  test(`${method} raises the reward of a 2-D mixture towards one mode, with its statistics in the epoch records`, async () => {
    const { model, params } = loadVelocityModel(baseWeights);
    const base = { prompts: { pool: [""], perEpoch: 4 }, groupSize: 8, train: { epochs: 10, minibatch: 16, lr: 3e-3, emaDecay: 0.5 }, eval: { every: 10, steps: 10, perPrompt: 64 }, name: method.split(" ")[0], output: { dir } };
    const merged = { ...base, ...config, train: { ...base.train, ...((config.train as object) ?? {}) } };
    const records: EpochRecord[] = [];
    const { first, last } = await runTrainingJob(TrainConfigSchema.parse(merged), model, params, [{ reward: toyModeReward({ mode: 0 }), weight: 1 }], { hooks: { onEpoch: (r) => records.push(r) } });
    const before = first!.rewards[0].mean;
    const after = last!.rewards[0].mean;
    assert.ok(after > before + 0.1, `eval reward ${before.toFixed(3)} → ${after.toFixed(3)}`);
    for (const r of records) {
      logs(r);
      assert.ok(r.onPolicy!.maxAbsLogRatio < 1e-5, `on-policy identity: |log r| ${r.onPolicy!.maxAbsLogRatio} at θ = θ_old`);
    }
  });
}

// Every method composes with every dynamics: two epochs on dance-sde and cps run, keep the
// on-policy identity, log the method's statistics and train with finite losses.
for (const dynamics of ["dance-sde", "cps"] as const) {
  test(`every method runs on ${dynamics}: on-policy identity, finite loss, its statistics logged`, async () => {
    for (const [method, { config, logs }] of Object.entries(METHODS)) {
      const { model, params } = loadVelocityModel(baseWeights);
      const base = { dynamics, prompts: { pool: [""], perEpoch: 2 }, groupSize: 8, train: { epochs: 2, minibatch: 8, lr: 3e-3 }, eval: { every: 0 }, name: `${method.split(" ")[0]}-${dynamics}`, output: { dir } };
      const merged = { ...base, ...config, train: { ...base.train, ...((config.train as object) ?? {}) } };
      const records: EpochRecord[] = [];
      await runTrainingJob(TrainConfigSchema.parse(merged), model, params, [{ reward: toyModeReward({ mode: 0 }), weight: 1 }], { hooks: { onEpoch: (r) => records.push(r) } });
      assert.equal(records.length, 2, method);
      for (const r of records) {
        logs(r);
        assert.ok(Number.isFinite(r.loss) && r.optimizerSteps > 0, `${method} on ${dynamics}: loss ${r.loss}`);
        assert.ok(r.onPolicy!.maxAbsLogRatio < 1e-5, `${method} on ${dynamics}: on-policy |log r| ${r.onPolicy!.maxAbsLogRatio}`);
      }
    }
  });
}
