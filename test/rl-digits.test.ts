import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../src/engine/jax.js";
import { TrainConfigSchema } from "../src/config/train.js";
import { loadVelocityModel } from "../src/models/io.js";
import { DEFAULT_BASE_MODEL } from "../src/cli/defaults.js";
import { digitOcrReward } from "../src/rewards/digit-ocr.js";
import { runTrainingJob } from "../src/rl/run.js";

await initEngine();

test("a short GRPO-Guard run on the shipped digits model raises digit-ocr on its prompts", async (t) => {
  const { model, params } = loadVelocityModel(DEFAULT_BASE_MODEL);
  // The prompts where the base model is weakest leave the most room for the reward to rise.
  const prompts = ["2", "3", "8"];
  const config = TrainConfigSchema.parse({
    name: "digits-short",
    prompts: { pool: prompts, perEpoch: 3 },
    groupSize: 8,
    sampling: { steps: 10 },
    train: { epochs: 8, minibatch: 12, lr: 5e-4, emaDecay: 0.5 },
    eval: { every: 8, steps: 20, perPrompt: 16, prompts },
    output: { dir: mkdtempSync(join(tmpdir(), "grpo-guard-digits-")) },
  });
  const reward = digitOcrReward();
  const { first, last } = await runTrainingJob(config, model, params, [{ reward, weight: 1 }]);
  const before = first!.rewards[0].mean;
  const after = last!.rewards[0].mean;
  t.diagnostic(`digit-ocr ${before.toFixed(4)} → ${after.toFixed(4)}`);
  assert.ok(after > before + 0.02, `digit-ocr on prompts ${prompts.join(",")}: ${before.toFixed(3)} → ${after.toFixed(3)}`);
  reward.dispose?.();
});
