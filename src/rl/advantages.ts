/**
 * Group-relative advantages (algorithms.md E7). Samples come in groups of G (one prompt
 * each); for reward k, A_k = (r_k − mean_group r_k) / max(std_group r_k, 1e-6); the combined
 * advantage is Σ_k w_k·A_k, optionally re-normalised over the batch, then clipped to ±A_max.
 */
export interface AdvantageOptions {
  groupSize: number;
  weights: number[];
  /** Re-normalise the combined advantage over the whole batch (zero mean, unit std). */
  globalNormalize: boolean;
  clip: number;
  /** Divide r − mean_group by the group's std (E7, default) or by the whole batch's reward std (Flow-DPPO, E16). */
  std?: "group" | "batch";
}

export interface AdvantageResult {
  advantages: Float32Array;
  /** Fraction of groups whose rewards are all identical, one entry per reward. */
  zeroStdFraction: number[];
  /** Mean within-group reward std, per reward. */
  groupStdMean: number[];
}

const STD_FLOOR = 1e-6;

function meanStd(values: ArrayLike<number>, start: number, count: number): [number, number] {
  let mean = 0;
  for (let i = 0; i < count; i++) mean += values[start + i];
  mean /= count;
  let variance = 0;
  for (let i = 0; i < count; i++) variance += (values[start + i] - mean) ** 2;
  return [mean, Math.sqrt(variance / count)];
}

export function groupAdvantages(rewards: readonly Float32Array[], options: AdvantageOptions): AdvantageResult {
  const { groupSize: G, weights } = options;
  if (rewards.length !== weights.length) throw new Error(`advantages: ${rewards.length} rewards but ${weights.length} weights`);
  const n = rewards[0]?.length ?? 0;
  if (n % G !== 0) throw new Error(`advantages: ${n} samples is not a multiple of the group size ${G}`);
  const groups = n / G;
  const combined = new Float32Array(n);
  const zeroStdFraction: number[] = [];
  const groupStdMean: number[] = [];
  rewards.forEach((r, k) => {
    let zero = 0;
    let stdSum = 0;
    const batchStd = meanStd(r, 0, n)[1];
    for (let g = 0; g < groups; g++) {
      const [mean, std] = meanStd(r, g * G, G);
      stdSum += std;
      if (std === 0) zero += 1;
      const scale = options.std === "batch" ? batchStd : std;
      for (let j = 0; j < G; j++) combined[g * G + j] += (weights[k] * (r[g * G + j] - mean)) / Math.max(scale, STD_FLOOR);
    }
    zeroStdFraction.push(zero / groups);
    groupStdMean.push(stdSum / groups);
  });
  if (options.globalNormalize && n > 1) {
    const [mean, std] = meanStd(combined, 0, n);
    for (let i = 0; i < n; i++) combined[i] = (combined[i] - mean) / Math.max(std, STD_FLOOR);
  }
  for (let i = 0; i < n; i++) combined[i] = Math.max(-options.clip, Math.min(options.clip, combined[i]));
  return { advantages: combined, zeroStdFraction, groupStdMean };
}
