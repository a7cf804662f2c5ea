import { test } from "node:test";
import assert from "node:assert/strict";
import { initEngine } from "../src/engine/jax.js";
import { loadDigits } from "../src/data/mnist.js";
import { loadClassifier, loadVelocityModel } from "../src/models/io.js";
import { accuracy, predictDigits } from "../src/pretrain/classifier.js";
import { classAccuracy, generateSamples } from "../src/pretrain/evaluate.js";
import { DEFAULT_BASE_MODEL, DEFAULT_SAMPLE_STEPS } from "../src/cli/defaults.js";
import { DEFAULT_DIGIT_CLASSIFIER, DigitReader } from "../src/rewards/digit-ocr.js";
import { DEFAULT_JUDGE, GoldPanel } from "../src/rewards/gold.js";
import { disposeTree } from "../src/engine/tree.js";

await initEngine();
const digits = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

test("shipped digit classifier (digit-ocr): ≥ 97% on the held-out split it never saw", async () => {
  const { model, params, metadata } = loadClassifier(DEFAULT_DIGIT_CLASSIFIER);
  const heldout = loadDigits("heldout");
  const acc = accuracy(await predictDigits(model, params, heldout.images), heldout.labels);
  assert.ok(acc >= 0.97, `held-out accuracy ${acc}`);
  assert.ok(Math.abs(acc - (metadata.accuracy as { heldout: number }).heldout) < 1e-9, "matches the figure stored in the weight file");
  disposeTree(params);
});

test("shipped gold judge (other architecture, held-out split only): ≥ 90% on the train split it never saw", async () => {
  const { model, params } = loadClassifier(DEFAULT_JUDGE);
  assert.equal(model.config.kind, "mlp");
  const train = loadDigits("train");
  const acc = accuracy(await predictDigits(model, params, train.images), train.labels);
  assert.ok(acc >= 0.9, `judge accuracy on train split ${acc}`);
  disposeTree(params);
});

test("shipped base model: the digit classifier reads ≥ 90% of 200 samples as the prompted digit (20 per digit, fixed seed, default ODE steps)", async () => {
  // The bar of the foundation issue is measured on 1 000 samples by `grpo-guard sample -n 100 --judge`
  // (docs/base-model.md); this test uses a fixed 200-sample subset (seed 0) to stay fast.
  const { model, params } = loadVelocityModel(DEFAULT_BASE_MODEL);
  const { images, prompts } = await generateSamples(model, params, { prompts: digits, perPrompt: 20, steps: DEFAULT_SAMPLE_STEPS, seed: 0 });
  const reader = DigitReader.fromFile();
  const result = await classAccuracy(reader, images, model.config.sampleShape, prompts);
  assert.ok(result.accuracy >= 0.9, `accuracy ${result.accuracy}: ${JSON.stringify(result.perPrompt)}`);
  reader.dispose();
  disposeTree(params);
});

test("Fréchet distance separates the base model's 20-step samples from its 1-step samples", async () => {
  const { model, params } = loadVelocityModel(DEFAULT_BASE_MODEL);
  const panel = await GoldPanel.fromFile();
  const good = await generateSamples(model, params, { prompts: digits, perPrompt: 16, steps: DEFAULT_SAMPLE_STEPS, seed: 3 });
  const coarse = await generateSamples(model, params, { prompts: digits, perPrompt: 16, steps: 1, seed: 3 });
  const g = await panel.evaluate(good.images, good.prompts);
  const c = await panel.evaluate(coarse.images, coarse.prompts);
  // One Euler step from pure noise gives the blurry class mean. (With 16 samples per class the
  // estimator is biased, so 2–3-step samples are not separable from 20-step ones by Fréchet alone.)
  assert.ok(c.frechetMean > 1.8 * g.frechetMean, `Fréchet 20 steps ${g.frechetMean.toFixed(1)}, 1 step ${c.frechetMean.toFixed(1)}`);
  assert.ok(c.gold < g.gold, "the gold score ranks them the same way");
  panel.dispose();
  disposeTree(params);
});
