/**
 * Training batches for flow-matching pretraining: images with prompt tokens, drawn with a
 * host RNG (so a resumed run sees the same batches), with label dropout to the null prompt.
 */
import type { HostRng } from "../engine/prng.js";
import { DEFAULT_MIXTURE, sampleMixture } from "../data/toy.js";
import { loadDigits, PIXELS, type DigitSet } from "../data/mnist.js";

export interface Batch {
  x: Float32Array;
  tokens: Int32Array;
  count: number;
}

export interface BatchSource {
  readonly sampleSize: number;
  next(batchSize: number, labelDropout: number, rng: HostRng): Batch;
}

export function mnistBatches(set: DigitSet = loadDigits("train")): BatchSource {
  return {
    sampleSize: PIXELS,
    next(batchSize, labelDropout, rng) {
      const x = new Float32Array(batchSize * PIXELS);
      const tokens = new Int32Array(batchSize);
      for (let i = 0; i < batchSize; i++) {
        const row = rng.int(set.count);
        x.set(set.images.subarray(row * PIXELS, (row + 1) * PIXELS), i * PIXELS);
        tokens[i] = rng.uniform() < labelDropout ? -1 : set.labels[row];
      }
      return { x, tokens, count: batchSize };
    },
  };
}

export function toyBatches(): BatchSource {
  return {
    sampleSize: 2,
    next(batchSize, labelDropout, rng) {
      const { points, labels } = sampleMixture(DEFAULT_MIXTURE, batchSize, rng);
      const tokens = Int32Array.from(labels, (label) => (rng.uniform() < labelDropout ? -1 : label));
      return { x: points, tokens, count: batchSize };
    },
  };
}
