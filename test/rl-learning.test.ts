import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../src/engine/jax.js";
import { pretrainToyBase } from "../src/pretrain/toy-base.js";
import { loadVelocityModel } from "../src/models/io.js";
import { TrainConfigSchema } from "../src/config/train.js";
import { runTrainingJob } from "../src/rl/run.js";
import { toyModeReward } from "../src/rewards/toy.js";

await initEngine();
const dir = mkdtempSync(join(tmpdir(), "grpo-guard-rl-"));
// Base policy: the whole 8-mode mixture under the empty prompt (label dropout teaches it).
const baseWeights = await pretrainToyBase(dir, 400);

for (const algorithm of ["flow-grpo", "grpo-guard"] as const) {
  for (const dynamics of ["flow-sde", "dance-sde", "cps"] as const) {
    test(`${algorithm} on ${dynamics} raises the reward of a 2-D mixture towards one mode`, async () => {
      const { model, params } = loadVelocityModel(baseWeights);
      const config = TrainConfigSchema.parse({
        algorithm,
        dynamics,
        prompts: { pool: [""], perEpoch: 4 },
        groupSize: 8,
        train: { epochs: 10, minibatch: 16, lr: 3e-3, emaDecay: 0.5 },
        eval: { every: 10, steps: 10, perPrompt: 64 },
        name: `${algorithm}-${dynamics}`,
        output: { dir },
      });
      const { first, last } = await runTrainingJob(config, model, params, [{ reward: toyModeReward({ mode: 0 }), weight: 1 }]);
      const before = first!.rewards[0].mean;
      const after = last!.rewards[0].mean;
      // Budget: 10 epochs × 32 trajectories × 10 steps. Base ≈ 1/8 of the mass near mode 0.
      assert.ok(after > before + 0.15, `eval reward ${before.toFixed(3)} → ${after.toFixed(3)}`);
    });
  }
}
