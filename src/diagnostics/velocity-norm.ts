/**
 * The velocity-norm diagnostic of NormGuard (algorithms.md E15): at the same state x of a
 * trained step i, n_θ = ‖v_θ(x, s_i, c)‖ and n_ref = ‖v_ref(x, s_i, c)‖ (RMS norms, ‖u‖ =
 * sqrt(mean(u²))); R_i = mean_j n_θ/n_ref, its 5/50/95 % percentiles and P(n_θ > n_ref).
 * RL is reported to inflate ‖v_θ‖ by 5–15 %. Pure functions over host arrays.
 */
import { quantileSorted } from "./quantile.js";
export interface VelocityNormStats {
  /** mean_j n_θ/n_ref */
  ratio: number;
  p5: number;
  p50: number;
  p95: number;
  /** P(n_θ > n_ref), counting n_θ > n_ref·(1 + 1e-6) (separate forward passes differ by float rounding). */
  above: number;
  count: number;
}

const ABOVE_TOLERANCE = 1e-6;


export function velocityNormStats(normTheta: ArrayLike<number>, normRef: ArrayLike<number>): VelocityNormStats {
  const n = normTheta.length;
  const ratios = Float64Array.from({ length: n }, (_, j) => normTheta[j] / normRef[j]);
  let sum = 0;
  let above = 0;
  for (let j = 0; j < n; j++) {
    sum += ratios[j];
    if (normTheta[j] > normRef[j] * (1 + ABOVE_TOLERANCE)) above += 1;
  }
  ratios.sort();
  return { ratio: n ? sum / n : NaN, p5: quantileSorted(ratios, 0.05), p50: quantileSorted(ratios, 0.5), p95: quantileSorted(ratios, 0.95), above: n ? above / n : NaN, count: n };
}

/** Per step of an evaluation ODE, and pooled over its steps. */
export interface EvalVelocityNorms {
  pooled: VelocityNormStats;
  steps: ({ step: number; s: number } & VelocityNormStats)[];
}
