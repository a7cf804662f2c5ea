/**
 * Per-trained-step statistics the paper's figures rely on (algorithms.md E11): the
 * distribution of the (clipped-on) log-ratio, clip fractions split by advantage sign, and
 * approximate KL. Pure functions over host arrays.
 *
 * The trainer feeds these statistics from off-policy minibatches only: the first minibatch of
 * an epoch is on-policy (θ = θ_old, ratio exactly 1, E8) and would halve every clip fraction
 * and dilute the log-ratio moments; it is reported separately (EpochRecord.onPolicy).
 */
import { quantileSorted } from "./quantile.js";
import type { VelocityNormStats } from "./velocity-norm.js";

export interface Summary {
  mean: number;
  std: number;
  /** 1, 5, 50, 95, 99th percentiles. */
  p1: number;
  p5: number;
  p50: number;
  p95: number;
  p99: number;
}

export interface Histogram {
  /** Bin edges (bins + 1 values); values outside are counted in the end bins. */
  edges: number[];
  counts: number[];
}

export interface StepStats {
  step: number;
  s: number;
  dt: number;
  weight: number;
  /** Plain log r = log p_θ − log p_old. */
  logRatio: Summary;
  /** The log-ratio the surrogate clips (log r for flow-grpo, log ρ̂ for grpo-guard). */
  clippedLogRatio: Summary;
  histogram: Histogram;
  /** P(ρ > 1+ε_hi | A > 0), P(ρ < 1−ε_lo | A < 0), and the fraction clipped overall. */
  clipPositive: number;
  clipNegative: number;
  clipTotal: number;
  /** mean(−log r). */
  approxKl: number;
  klRef: number;
  count: number;
  /** ‖v_θ‖/‖v_ref‖ at this step's trained states (E15 diagnostic), when measured. */
  velocityNorm?: VelocityNormStats;
  /** Means of the method's own per-row statistics at this step (e.g. dppoMasked, normGuardActive). */
  method?: Record<string, number>;
}

/**
 * The histogram half-range of an epoch (one range for all its steps, so that the per-step
 * histograms can be compared): twice the clip boundary max(log(1+ε_hi), −log(1−ε_lo)), widened
 * to the largest |1st| or |99th| percentile of the observed clipped-on log-ratios.
 */
export function autoHistogramRange(perStep: readonly ArrayLike<number>[], clipLow: number, clipHigh: number): number {
  let range = 2 * Math.max(Math.log1p(clipHigh), -Math.log1p(-clipLow));
  for (const values of perStep) {
    if (values.length === 0) continue;
    const { p1, p99 } = summarize(values);
    if (Number.isFinite(p1) && Number.isFinite(p99)) range = Math.max(range, Math.abs(p1), Math.abs(p99));
  }
  return range;
}

export function summarize(values: ArrayLike<number>): Summary {
  const n = values.length;
  const sorted = Float64Array.from(values).sort();
  let mean = 0;
  for (let i = 0; i < n; i++) mean += sorted[i];
  mean /= Math.max(n, 1);
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (sorted[i] - mean) ** 2;
  return {
    mean,
    std: Math.sqrt(variance / Math.max(n, 1)),
    p1: quantileSorted(sorted, 0.01),
    p5: quantileSorted(sorted, 0.05),
    p50: quantileSorted(sorted, 0.5),
    p95: quantileSorted(sorted, 0.95),
    p99: quantileSorted(sorted, 0.99),
  };
}

export function histogram(values: ArrayLike<number>, lo: number, hi: number, bins: number): Histogram {
  const counts = new Array<number>(bins).fill(0);
  const width = (hi - lo) / bins;
  for (let i = 0; i < values.length; i++) {
    const k = Math.min(bins - 1, Math.max(0, Math.floor((values[i] - lo) / width)));
    counts[k] += 1;
  }
  return { edges: Array.from({ length: bins + 1 }, (_, k) => lo + k * width), counts };
}

export interface StepSamples {
  step: number;
  s: number;
  dt: number;
  weight: number;
  logRatio: ArrayLike<number>;
  clippedLogRatio: ArrayLike<number>;
  advantage: ArrayLike<number>;
  klRef: ArrayLike<number>;
}

export function stepStats(samples: StepSamples, clipLow: number, clipHigh: number, histogramRange: number, bins = 40): StepStats {
  const { logRatio, clippedLogRatio, advantage } = samples;
  const upper = Math.log(1 + clipHigh);
  const lower = Math.log(1 - clipLow);
  let pos = 0, posClipped = 0, neg = 0, negClipped = 0, clipped = 0, kl = 0, klRef = 0;
  for (let i = 0; i < clippedLogRatio.length; i++) {
    const l = clippedLogRatio[i];
    const out = l > upper || l < lower;
    if (out) clipped += 1;
    if (advantage[i] > 0) {
      pos += 1;
      if (l > upper) posClipped += 1;
    } else if (advantage[i] < 0) {
      neg += 1;
      if (l < lower) negClipped += 1;
    }
    kl -= logRatio[i];
    klRef += samples.klRef[i];
  }
  const n = Math.max(1, clippedLogRatio.length);
  return {
    step: samples.step,
    s: samples.s,
    dt: samples.dt,
    weight: samples.weight,
    logRatio: summarize(logRatio),
    clippedLogRatio: summarize(clippedLogRatio),
    histogram: histogram(clippedLogRatio, -histogramRange, histogramRange, bins),
    clipPositive: pos ? posClipped / pos : 0,
    clipNegative: neg ? negClipped / neg : 0,
    clipTotal: clipped / n,
    approxKl: kl / n,
    klRef: klRef / n,
    count: clippedLogRatio.length,
  };
}
