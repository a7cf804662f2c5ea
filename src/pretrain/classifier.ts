/**
 * Supervised training of the reward-side digit classifiers (the proxy's `digit-cnn` on the
 * train split; the gold judge on the held-out split): cross-entropy, AdamW, random ±shift
 * augmentation, then accuracy on the other split, all written into the weight file.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { jit, nn, numpy as np, valueAndGrad, type JaxArray } from "../engine/jax.js";
import { adamw, applyUpdates, type OptState } from "../engine/optim.js";
import { HostRng, KeyChain } from "../engine/prng.js";
import { saveParams } from "../engine/safetensors.js";
import { disposeTree, refTree, type ParamTree } from "../engine/tree.js";
import { IMAGE_SIZE, loadDigits, PIXELS, type DigitSet } from "../data/mnist.js";
import { CLASSIFIER_PRESETS, createClassifier, type Classifier } from "../models/classifier.js";
import { UserError } from "../engine/errors.js";

export const ClassifierTrainConfigSchema = z.strictObject({
  model: z.string().default("digit-cnn"),
  /** Split to train on; accuracy is reported on the other one. */
  split: z.enum(["train", "heldout", "aux"]).default("train"),
  epochs: z.number().int().positive().default(8),
  batchSize: z.number().int().positive().default(64),
  lr: z.number().positive().default(2e-3),
  weightDecay: z.number().nonnegative().default(1e-4),
  /** Random translation of up to ±shift pixels (augmentation). */
  shift: z.number().int().min(0).max(6).default(2),
  seed: z.number().int().default(0),
  out: z.string().default("weights/digit-cnn.safetensors"),
});
export type ClassifierTrainConfig = z.infer<typeof ClassifierTrainConfigSchema>;

/** Translate a 28×28 image by (dx, dy), filling with background (−1). */
export function shiftImage(src: Float32Array, dx: number, dy: number, out: Float32Array): void {
  out.fill(-1);
  for (let y = 0; y < IMAGE_SIZE; y++) {
    const sy = y - dy;
    if (sy < 0 || sy >= IMAGE_SIZE) continue;
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const sx = x - dx;
      if (sx >= 0 && sx < IMAGE_SIZE) out[y * IMAGE_SIZE + x] = src[sy * IMAGE_SIZE + sx];
    }
  }
}

/** Cross-entropy of integer labels (consumes logits and labels). */
export function crossEntropy(logits: JaxArray, labels: JaxArray): JaxArray {
  const classes = logits.shape[1];
  const logp = nn.logSoftmax(logits, -1);
  const target = np.equal(labels.reshape([-1, 1]), np.arange(classes).astype(np.int32)).astype(np.float32);
  return np.mean(np.sum(logp.mul(target), -1)).mul(-1);
}

/** Top-1 predictions for a digit set, in batches (borrows params). */
export async function predictDigits(classifier: Classifier, params: ParamTree, images: Float32Array, batch = 500): Promise<Int32Array> {
  const n = images.length / PIXELS;
  const out = new Int32Array(n);
  const logitsFn = jit((p: ParamTree, x: JaxArray) => {
    const l = classifier.logits(p, x);
    disposeTree(p);
    return np.argmax(l, -1);
  });
  for (let start = 0; start < n; start += batch) {
    const count = Math.min(batch, n - start);
    const x = np.array(images.subarray(start * PIXELS, (start + count) * PIXELS), { shape: [count, 1, IMAGE_SIZE, IMAGE_SIZE] });
    const pred = await logitsFn(refTree(params), x).data();
    out.set(Int32Array.from(pred as ArrayLike<number>), start);
  }
  logitsFn.dispose();
  return out;
}

export function accuracy(predictions: Int32Array, labels: Int32Array): number {
  let correct = 0;
  predictions.forEach((p, i) => (correct += p === labels[i] ? 1 : 0));
  return correct / predictions.length;
}

export interface ClassifierTrainResult {
  out: string;
  trainAccuracy: number;
  evalAccuracy: number;
  evalSplit: string;
  wallSeconds: number;
}

export async function trainClassifier(
  config: ClassifierTrainConfig,
  onProgress?: (done: number, total: number, loss: number) => void,
): Promise<ClassifierTrainResult> {
  const preset = CLASSIFIER_PRESETS[config.model];
  if (!preset) throw new UserError(`unknown classifier preset "${config.model}" (known: ${Object.keys(CLASSIFIER_PRESETS).join(", ")})`);
  const classifier = createClassifier(preset);
  const trainSet: DigitSet = loadDigits(config.split);
  const evalSplit = config.split === "heldout" ? "train" : "heldout";
  const evalSet = loadDigits(evalSplit);
  const keys = new KeyChain(config.seed);
  const rng = new HostRng(config.seed);
  const optimizer = adamw({ lr: config.lr, weightDecay: config.weightDecay });
  let params = classifier.init(keys.next());
  let opt: OptState = optimizer.init(params);
  const step = jit((p: ParamTree, o: OptState, x: JaxArray, y: JaxArray): [ParamTree, OptState, JaxArray] => {
    const [loss, grads] = valueAndGrad((q: ParamTree) => {
      const l = crossEntropy(classifier.logits(q, x), y);
      disposeTree(q);
      return l;
    })(refTree(p));
    const [updates, nextOpt] = optimizer.update(grads, o, p);
    return [applyUpdates(p, updates), nextOpt, loss];
  });

  const started = performance.now();
  const stepsPerEpoch = Math.floor(trainSet.count / config.batchSize);
  const total = stepsPerEpoch * config.epochs;
  const scratch = new Float32Array(PIXELS);
  let done = 0;
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    const order = rng.permutation(trainSet.count);
    for (let b = 0; b < stepsPerEpoch; b++) {
      const x = new Float32Array(config.batchSize * PIXELS);
      const y = new Int32Array(config.batchSize);
      for (let i = 0; i < config.batchSize; i++) {
        const row = order[b * config.batchSize + i];
        const dx = rng.int(2 * config.shift + 1) - config.shift;
        const dy = rng.int(2 * config.shift + 1) - config.shift;
        shiftImage(trainSet.images.subarray(row * PIXELS, (row + 1) * PIXELS), dx, dy, scratch);
        x.set(scratch, i * PIXELS);
        y[i] = trainSet.labels[row];
      }
      const [p, o, loss] = step(params, opt, np.array(x, { shape: [config.batchSize, 1, IMAGE_SIZE, IMAGE_SIZE] }), np.array(y, { dtype: np.int32 }));
      params = p;
      opt = o;
      done += 1;
      const lossValue = Number((await loss.data())[0]);
      onProgress?.(done, total, lossValue);
    }
  }
  step.dispose();
  disposeTree(opt);
  const trainAccuracy = accuracy(await predictDigits(classifier, params, trainSet.images), trainSet.labels);
  const evalAccuracy = accuracy(await predictDigits(classifier, params, evalSet.images), evalSet.labels);
  const wallSeconds = (performance.now() - started) / 1000;
  mkdirSync(dirname(config.out), { recursive: true });
  await saveParams(config.out, params, {
    format: "grpo-guard/classifier",
    config: preset,
    recipe: { command: "grpo-guard train-classifier", config, wallSeconds: Math.round(wallSeconds) },
    accuracy: { [config.split]: trainAccuracy, [evalSplit]: evalAccuracy },
  });
  disposeTree(params);
  return { out: config.out, trainAccuracy, evalAccuracy, evalSplit, wallSeconds };
}
