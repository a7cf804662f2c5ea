/**
 * GARDO (algorithms.md E14): gated KL with adaptive risk, reference resets and
 * diversity-aware advantages. The reward is the proxy only; the auxiliary reward (a second
 * digit classifier, configs/classifier/aux-cnn.yaml) only feeds the gate, and its penultimate
 * features the diversity term. The gold judge never feeds any of it.
 *
 * (a) Uncertainty over the whole batch of B samples, from integer win counts (ties ½):
 *     ŵ_k(j) = #{j': r_k(j') < r_k(j)}/(B−1), U_j = sgnU·(ŵ_proxy(j) − mean_aux ŵ_aux(j)).
 *     sgnU = +1 (default: U > 0 = the proxy rates j above the auxiliaries); −1 reproduces the
 *     released code (rank_proxy − mean rank_aux with rank 1 = best). AMBIGUOUS in the source.
 * (b) Gate g_j = 1[U_j > q], q = the (100 − 100p)-th percentile (linear interpolation) of
 *     {U_j ≥ 0}; p adapts per epoch before q is taken (RiskCompensator).
 * (c) Gated KL: Σ_j g_j·KL_j / Σ_j g_j (loss.ts, rows.gate).
 * (d) Reference reset at the start of epoch e when the flag is set or e − e_last > R; the flag is
 *     set by an optimizer step whose mean KL (over its rows, ungated) exceeds κ.
 * (e) A_j = (r_j − r̄_g)·φ_j, φ_j = d_j/mean_g(d) if r_j ≥ r̄_g else 1, d_j = min_{j'≠j}(1 − f_j·f_j')
 *     over unit features in the group (no std division; φ = 1 when mean_g(d) = 0); clip ±A_max.
 */import { quantile } from "../diagnostics/quantile.js";


/** 2·#wins + #ties of each value against all others (integer; win rate = this/(2(B−1))). */
export function doubledWins(values: ArrayLike<number>): Int32Array {
  const n = values.length;
  const out = new Int32Array(n);
  for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) if (k !== j) out[j] += values[j] > values[k] ? 2 : values[j] === values[k] ? 1 : 0;
  return out;
}

/** U_j (E14 a); exact zeros for exact agreement (computed on integers, scaled once). */
export function uncertainty(proxy: ArrayLike<number>, aux: readonly ArrayLike<number>[], sign: 1 | -1): Float64Array {
  const B = proxy.length;
  const p = doubledWins(proxy);
  const a = aux.map(doubledWins);
  const K = aux.length;
  return Float64Array.from({ length: B }, (_, j) => {
    let sum = 0;
    for (const w of a) sum += w[j];
    return (sign * (K * p[j] - sum)) / (K * 2 * (B - 1)) + 0; // + 0: no −0
  });
}

/** numpy.percentile with linear interpolation (q in [0, 100]). */
export function percentile(values: ArrayLike<number>, q: number): number {
  return quantile(values, q / 100);
}

/** E14 (b): p adapts to the mean non-negative uncertainty m of each epoch. */
export class RiskCompensator {
  constructor(
    public p = 0.1,
    public history: number[] = [],
  ) {}

  update(m: number): number {
    if (this.history.length === 0) this.p = 0.1;
    else if (m > Math.max(...this.history)) this.p *= 1.1;
    else if (m < Math.min(...this.history)) this.p *= 0.9;
    this.p = Math.min(0.2, Math.max(0.02, this.p));
    this.history.push(m);
    if (this.history.length > 20) this.history.shift();
    return this.p;
  }
}

/** E14 (b): gates for this epoch's U (updates the compensator first, as the code does). */
export function gates(U: ArrayLike<number>, risk: RiskCompensator): { gate: Float32Array; p: number; threshold: number } {
  const nonNegative = Array.from(U).filter((u) => u >= 0);
  const m = nonNegative.length ? nonNegative.reduce((a, b) => a + b, 0) / nonNegative.length : 0;
  const p = risk.update(m);
  const threshold = nonNegative.length ? percentile(nonNegative, 100 - 100 * p) : Infinity;
  return { gate: Float32Array.from(U, (u) => (u > threshold ? 1 : 0)), p, threshold };
}

/** E14 (e): diversity-aware advantages from rewards and row-major features [n × dim]. */
export function diversityAdvantages(rewards: ArrayLike<number>, features: ArrayLike<number>, dim: number, groupSize: number, clip: number): Float32Array {
  const n = rewards.length;
  const unit = new Float64Array(n * dim);
  for (let j = 0; j < n; j++) {
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += features[j * dim + d] ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let d = 0; d < dim; d++) unit[j * dim + d] = features[j * dim + d] / norm;
  }
  const out = new Float32Array(n);
  for (let g = 0; g < n; g += groupSize) {
    const distance = new Float64Array(groupSize).fill(Infinity);
    for (let j = 0; j < groupSize; j++) {
      for (let k = 0; k < groupSize; k++) {
        if (k === j) continue;
        let dot = 0;
        for (let d = 0; d < dim; d++) dot += unit[(g + j) * dim + d] * unit[(g + k) * dim + d];
        distance[j] = Math.min(distance[j], 1 - dot);
      }
    }
    let mean = 0;
    let meanDistance = 0;
    for (let j = 0; j < groupSize; j++) {
      mean += rewards[g + j] / groupSize;
      meanDistance += distance[j] / groupSize;
    }
    for (let j = 0; j < groupSize; j++) {
      const r = rewards[g + j];
      const phi = r >= mean && meanDistance > 0 ? distance[j] / meanDistance : 1;
      out[g + j] = Math.max(-clip, Math.min(clip, (r - mean) * phi));
    }
  }
  return out;
}

/** E14 (d): when to copy θ into θ_ref. */
export class ReferenceResets {
  constructor(
    readonly every: number,
    readonly klThreshold: number,
    public lastReset = 0,
    public flag = false,
    public resets: number[] = [],
  ) {}

  /** At the start of epoch e: whether to reset now (and record it). */
  shouldReset(epoch: number): boolean {
    if (!(this.flag || epoch - this.lastReset > this.every)) return false;
    this.lastReset = epoch;
    this.flag = false;
    this.resets.push(epoch);
    return true;
  }

  /** After an optimizer step with this mean KL to the reference. */
  observeKl(meanKl: number): void {
    if (meanKl > this.klThreshold) this.flag = true;
  }
}
