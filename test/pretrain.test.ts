import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../src/engine/jax.js";
import { PretrainConfigSchema } from "../src/pretrain/config.js";
import { pretrain } from "../src/pretrain/pretrain.js";
import { loadVelocityModel } from "../src/models/io.js";
import { generateSamples } from "../src/pretrain/evaluate.js";
import { DEFAULT_MIXTURE, modeCenter } from "../src/data/toy.js";
import { disposeTree } from "../src/engine/tree.js";

await initEngine();

test("flow-matching pretraining on the 2-D mixture: loss falls and prompted samples land on their mode", async () => {
  const dir = mkdtempSync(join(tmpdir(), "grpo-guard-pretrain-"));
  const config = PretrainConfigSchema.parse({
    model: "mlp-2d",
    data: { dataset: "toy" },
    train: { steps: 400, batchSize: 256, lr: 3e-3, warmupSteps: 20, emaDecay: 0.99, labelDropout: 0 },
    out: join(dir, "toy.safetensors"),
    checkpoint: { dir, every: 100 },
  });
  const losses: number[] = [];
  const result = await pretrain(config, { onProgress: ({ loss }) => losses.push(loss), log: () => {} });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = mean(losses.slice(0, 20));
  const last = mean(losses.slice(-50));
  assert.ok(last < 0.6 * first, `loss fell from ${first.toFixed(3)} to ${last.toFixed(3)}`);
  assert.ok(readFileSync(join(dir, "pretrain-log.jsonl"), "utf8").trim().split("\n").length === 4);

  // The saved EMA model, sampled with 20 ODE steps, puts prompt "k" near mode k.
  const { model, params } = loadVelocityModel(result.out);
  const { images } = await generateSamples(model, params, { prompts: ["0", "3"], perPrompt: 50, steps: 20, seed: 1 });
  for (const [p, mode] of [[0, 0], [1, 3]]) {
    const [cx, cy] = modeCenter(DEFAULT_MIXTURE, mode);
    let near = 0;
    for (let i = 0; i < 50; i++) {
      const k = p * 50 + i;
      if (Math.hypot(images[2 * k] - cx, images[2 * k + 1] - cy) < 0.75) near++;
    }
    assert.ok(near >= 35, `prompt "${mode}": ${near}/50 samples within 0.75 of its mode`);
  }
  disposeTree(params);
});
