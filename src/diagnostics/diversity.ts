/**
 * Within-prompt diversity and a collapse indicator from feature-space distances.
 *
 * - diversity: the mean Euclidean distance between two samples of the same prompt (a
 *   U-statistic: unbiased for the expected pair distance at any sample size ≥ 2);
 * - near-duplicates: the fraction of within-prompt pairs closer than a threshold τ_c. τ_c is
 *   the `NEAR_DUPLICATE_PERCENTILE`-th percentile of the distances between two *real* digits of
 *   class c, so real digits have a near-duplicate fraction of that percentile by construction
 *   and a collapsing policy (samples of a prompt becoming the same image) drives it up.
 */
import { quantileSorted } from "./quantile.js";

/** τ_c = this percentile of real same-class pair distances (docs/gold-panel.md). */
export const NEAR_DUPLICATE_PERCENTILE = 0.02;

/** Euclidean distances [m × m] between the given rows of a feature array. */
export function pairwiseDistances(features: ArrayLike<number>, rows: readonly number[], d: number): Float64Array {
  const m = rows.length;
  const out = new Float64Array(m * m);
  for (let a = 0; a < m; a++) {
    for (let b = a + 1; b < m; b++) {
      let sq = 0;
      for (let j = 0; j < d; j++) sq += (features[rows[a] * d + j] - features[rows[b] * d + j]) ** 2;
      out[a * m + b] = out[b * m + a] = Math.sqrt(sq);
    }
  }
  return out;
}

/** Mean pair distance and near-duplicate fraction among `subset` (indices into an m×m distance matrix). */
export function pairStatistics(distances: Float64Array, m: number, threshold: number, subset?: readonly number[]): { diversity: number; nearDuplicates: number; pairs: number } {
  const idx = subset ?? Array.from({ length: m }, (_, i) => i);
  let total = 0;
  let close = 0;
  let pairs = 0;
  for (let a = 0; a < idx.length; a++) {
    for (let b = a + 1; b < idx.length; b++) {
      const dist = distances[idx[a] * m + idx[b]];
      total += dist;
      if (dist < threshold) close++;
      pairs++;
    }
  }
  return pairs ? { diversity: total / pairs, nearDuplicates: close / pairs, pairs } : { diversity: NaN, nearDuplicates: NaN, pairs: 0 };
}

/** The near-duplicate threshold of one class: a low percentile of its real pair distances. */
export function nearDuplicateThreshold(realFeatures: ArrayLike<number>, rows: number, d: number, percentile = NEAR_DUPLICATE_PERCENTILE): number {
  const all = Array.from({ length: rows }, (_, i) => i);
  const dist = pairwiseDistances(realFeatures, all, d);
  const values: number[] = [];
  for (let a = 0; a < rows; a++) for (let b = a + 1; b < rows; b++) values.push(dist[a * rows + b]);
  return quantileSorted(values.sort((x, y) => x - y), percentile);
}
