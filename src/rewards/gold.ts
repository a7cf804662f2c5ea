/**
 * The gold panel: quality measures the policy never optimises (benchmarks.md B2), computed on
 * a fixed evaluation set (prompts × fixed noise, EMA weights) every `eval.every` epochs.
 *
 * - judge accuracy: the held-out judge (`judge-mlp`, another architecture trained only on the
 *   held-out split) reads the prompted digit;
 * - Fréchet distance per class between judge features (64-d penultimate layer) of generated
 *   digits and of the real held-out digits of that class (~200 each). Two references:
 *   `frechetFloor`, the distance between two halves of the real held-out set (n generated-
 *   size digits of half A vs all of half B), and `frechetReal`, the distance of n real
 *   *train-split* digits — real digits the judge never saw, exactly like generated ones — to
 *   the held-out statistics. The judge was trained on the held-out digits, so the halves
 *   floor is optimistic; `frechetReal` is what a perfect generator would score;
 * - diversity: mean pairwise judge-feature distance within each prompt's samples, and the
 *   same for n real train-split digits per class (`diversityReal`);
 * - drift: RMS pixel distance from the base model's samples for the same prompts and noise
 *   (the first evaluation's images).
 *
 * Gold score (one number, in [0, 1], higher is better):
 *     gold = judgeAccuracy × min(1, frechetReal / frechet) × min(1, diversity / diversityReal)
 * using class means of the Fréchet distances. Every part is also logged.
 */
import { fileURLToPath } from "node:url";
import { indicesByClass, gatherImages, loadDigits } from "../data/mnist.js";
import { frechetDistance, meanAndCovariance, type Matrix } from "../diagnostics/linalg.js";
import { DigitReader, promptDigit } from "./digit-ocr.js";

export const DEFAULT_JUDGE = fileURLToPath(new URL("../../../weights/judge-mlp.safetensors", import.meta.url));

export interface GoldMetrics {
  judgeAccuracy: number;
  /** Per class (prompt digit); null where the evaluation set has fewer than 2 samples. */
  frechet: (number | null)[];
  frechetMean: number;
  frechetFloor: number;
  frechetReal: number;
  diversity: number;
  diversityReal: number;
  /** RMS pixel distance to the base model's samples (0 at the first evaluation). */
  drift: number;
  gold: number;
  /** Gold panel v2: every component with its CI and noise floor (see metrics-schema.ts). */
  components?: GoldComponent[];
}

export interface GoldComponent {
  key: string;
  label: string;
  value: number;
  better: "higher" | "lower";
  ci?: [number, number];
  floor?: number;
}

interface ClassStats {
  mean: Float64Array;
  cov: Matrix;
}

function meanPairwiseDistance(features: Float32Array, rows: readonly number[], d: number): number {
  let total = 0;
  let pairs = 0;
  for (let a = 0; a < rows.length; a++) {
    for (let b = a + 1; b < rows.length; b++) {
      let sq = 0;
      for (let j = 0; j < d; j++) sq += (features[rows[a] * d + j] - features[rows[b] * d + j]) ** 2;
      total += Math.sqrt(sq);
      pairs++;
    }
  }
  return pairs ? total / pairs : 0;
}

export class GoldPanel {
  private readonly d: number;
  private readonly floorCache = new Map<number, number>();
  private readonly realCache = new Map<number, { frechet: number; diversity: number }>();
  private realStats: ClassStats[] = [];
  private realByClass: Float32Array[] = [];
  private unseenByClass: Float32Array[] = [];
  private baseImages: Float32Array | null = null;

  constructor(readonly judge: DigitReader) {
    this.d = judge.classifier.featureDim;
  }

  static async fromFile(path = DEFAULT_JUDGE): Promise<GoldPanel> {
    const panel = new GoldPanel(DigitReader.fromFile(path));
    await panel.prepare();
    return panel;
  }

  /** Judge features of the real held-out digits (statistics) and of unseen train-split digits (references), per class. */
  async prepare(): Promise<void> {
    const featuresOf = async (split: "heldout" | "train", limit: number): Promise<Float32Array[]> => {
      const set = loadDigits(split);
      const out: Float32Array[] = [];
      for (const rows of indicesByClass(set)) out.push(await this.judge.features(gatherImages(set, rows.slice(0, limit)), [1, 28, 28]));
      return out;
    };
    this.realByClass = await featuresOf("heldout", Infinity);
    this.unseenByClass = await featuresOf("train", 256);
    this.realStats = this.realByClass.map((f) => meanAndCovariance(f, f.length / this.d, this.d));
  }

  /** Fréchet distance and diversity of n unseen real digits per class (class means). */
  realReference(n: number): { frechet: number; diversity: number } {
    const cached = this.realCache.get(n);
    if (cached) return cached;
    const d = this.d;
    let frechet = 0;
    let diversity = 0;
    this.unseenByClass.forEach((feats, c) => {
      const take = Math.min(n, feats.length / d);
      frechet += frechetDistance(meanAndCovariance(feats.subarray(0, take * d), take, d), this.realStats[c], d);
      diversity += meanPairwiseDistance(feats, Array.from({ length: take }, (_, i) => i), d);
    });
    const reference = { frechet: frechet / this.unseenByClass.length, diversity: diversity / this.unseenByClass.length };
    this.realCache.set(n, reference);
    return reference;
  }

  /** FD between n real digits of half A and all of half B, averaged over classes. */
  noiseFloor(n: number): number {
    const cached = this.floorCache.get(n);
    if (cached !== undefined) return cached;
    const d = this.d;
    let total = 0;
    for (const feats of this.realByClass) {
      const count = feats.length / d;
      const half = Math.floor(count / 2);
      const take = Math.min(n, half);
      const a = meanAndCovariance(feats.subarray(0, take * d), take, d);
      const b = meanAndCovariance(feats.subarray(half * d), count - half, d);
      total += frechetDistance(a, b, d);
    }
    const floor = total / this.realByClass.length;
    this.floorCache.set(n, floor);
    return floor;
  }

  /** Gold metrics of an evaluation set; the first call's images become the drift reference. */
  async evaluate(images: Float32Array, prompts: readonly string[]): Promise<GoldMetrics> {
    const d = this.d;
    const probs = await this.judge.probabilities(images, [1, 28, 28]);
    const features = await this.judge.features(images, [1, 28, 28]);
    const classes = this.judge.classifier.config.classes;
    const byClass: number[][] = Array.from({ length: classes }, () => []);
    const byPrompt = new Map<string, number[]>();
    let correct = 0;
    prompts.forEach((prompt, i) => {
      const digit = promptDigit(prompt);
      let best = 0;
      for (let c = 1; c < classes; c++) if (probs[i * classes + c] > probs[i * classes + best]) best = c;
      if (best === digit) correct++;
      byClass[digit].push(i);
      byPrompt.set(prompt, [...(byPrompt.get(prompt) ?? []), i]);
    });
    const frechet = byClass.map((rows, c) => {
      if (rows.length < 2) return null;
      const feats = new Float32Array(rows.length * d);
      rows.forEach((r, k) => feats.set(features.subarray(r * d, (r + 1) * d), k * d));
      return frechetDistance(meanAndCovariance(feats, rows.length, d), this.realStats[c], d);
    });
    const present = frechet.filter((x): x is number => x !== null);
    const frechetMean = present.reduce((a, b) => a + b, 0) / Math.max(1, present.length);
    const perClass = Math.round(prompts.length / Math.max(1, byClass.filter((r) => r.length > 0).length));
    const frechetFloor = this.noiseFloor(perClass);
    const groups = [...byPrompt.values()];
    const diversity = groups.reduce((a, rows) => a + meanPairwiseDistance(features, rows, d), 0) / Math.max(1, groups.length);
    const { frechet: frechetReal, diversity: diversityReal } = this.realReference(perClass);
    if (this.baseImages === null || this.baseImages.length !== images.length) this.baseImages = Float32Array.from(images);
    let drift = 0;
    for (let i = 0; i < images.length; i++) drift += (images[i] - this.baseImages[i]) ** 2;
    drift = Math.sqrt(drift / images.length);
    const judgeAccuracy = correct / prompts.length;
    const gold = judgeAccuracy * Math.min(1, frechetReal / Math.max(frechetMean, 1e-12)) * Math.min(1, diversity / Math.max(diversityReal, 1e-12));
    return { judgeAccuracy, frechet, frechetMean, frechetFloor, frechetReal, diversity, diversityReal, drift, gold };
  }

  /** The drift reference (base-model images), for checkpoints. */
  get driftReference(): Float32Array | null {
    return this.baseImages;
  }

  set driftReference(images: Float32Array | null) {
    this.baseImages = images;
  }

  dispose(): void {
    this.judge.dispose();
  }
}

