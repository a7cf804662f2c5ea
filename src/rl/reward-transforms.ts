/**
 * Reward transforms applied to each reward's scores before the group advantages (E7).
 * - `raw`: the scores as they are.
 * - `win-rate` (Pref-GRPO, algorithms.md E18): within each group of G, every pair is judged
 *   by the sign of the score difference (a tie when |Δr| ≤ τ_tie, ½ each), and
 *   w_j = (#wins_j + ½·#ties_j)/(G−1). Rank-only: tiny proxy gaps become full-size advantages.
 * Computed from integer win counts (2·wins + ties) so that exact ties stay exact.
 */
export type RewardTransformName = "raw" | "win-rate";

export interface RewardTransformOptions {
  groupSize: number;
  tieTolerance: number;
}

export function winRates(scores: ArrayLike<number>, { groupSize: G, tieTolerance }: RewardTransformOptions): Float32Array {
  const out = new Float32Array(scores.length);
  for (let g = 0; g < scores.length; g += G) {
    for (let j = g; j < g + G; j++) {
      let doubled = 0;
      for (let k = g; k < g + G; k++) {
        if (k === j) continue;
        const diff = scores[j] - scores[k];
        if (Math.abs(diff) <= tieTolerance) doubled += 1;
        else if (diff > 0) doubled += 2;
      }
      out[j] = doubled / (2 * (G - 1));
    }
  }
  return out;
}

export const REWARD_TRANSFORMS: Record<RewardTransformName, (scores: Float32Array, options: RewardTransformOptions) => Float32Array> = {
  raw: (scores) => scores,
  "win-rate": winRates,
};
