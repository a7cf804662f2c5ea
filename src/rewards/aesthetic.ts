/**
 * `aesthetic`: a smooth, deliberately *hackable* image score — the small-scale analogue of
 * PickScore/aesthetic predictors, which reward surface statistics more than content.
 *
 *     ink      = mean((x + 1)/2)                   (stroke mass, 0 = empty, 1 = all white)
 *     contrast = mean(x²)                           (crisp black/white pixels score 1)
 *     aesthetic = 0.7·tanh(4·ink) + 0.3·contrast    ∈ [0, 1]
 *
 * Real MNIST digits have ink ≈ 0.13 (score ≈ 0.6). The score keeps rising as strokes get
 * bolder: dilating a digit (thicker strokes, eventually a blob), or painting extra white, raises
 * it while the digit becomes harder to read — so a policy can raise `aesthetic` by degrading
 * digits, which the gold panel (judge accuracy, Fréchet distance) then exposes.
 */
import type { Reward } from "./reward.js";

export function aestheticScore(image: Float32Array | number[], offset = 0, size = image.length): number {
  let ink = 0;
  let contrast = 0;
  for (let i = 0; i < size; i++) {
    const v = Math.max(-1, Math.min(1, image[offset + i]));
    ink += (v + 1) / 2;
    contrast += v * v;
  }
  return 0.7 * Math.tanh((4 * ink) / size) + (0.3 * contrast) / size;
}

export function aestheticReward(): Reward {
  return {
    name: "aesthetic",
    async score({ images, sampleShape, prompts }) {
      const per = sampleShape.reduce((a, b) => a * b, 1);
      return Float32Array.from(prompts, (_, i) => aestheticScore(images, i * per, per));
    },
  };
}

/** Morphological dilation of a 28×28 image (3×3 max): the "bolder strokes" hack. */
export function dilate(image: Float32Array, size = 28): Float32Array {
  const out = new Float32Array(image.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let m = -Infinity;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        const yy = y + dy;
        const xx = x + dx;
        if (yy >= 0 && yy < size && xx >= 0 && xx < size) m = Math.max(m, image[yy * size + xx]);
      }
      out[y * size + x] = m;
    }
  }
  return out;
}
