/**
 * The records a training run emits (one `epoch` record per epoch, one `eval` record per
 * evaluation, `fault` events). They live here, below the trainer, so that the statistics and
 * schema layer (metrics-schema.ts, the dashboard) does not depend on src/rl.
 */
import type { GoldMetrics } from "../rewards/gold.js";
import type { StepStats } from "./ratio-stats.js";
import type { EvalVelocityNorms } from "./velocity-norm.js";

export interface RewardSummary {
  name: string;
  mean: number;
  std: number;
}

export interface StepGradNorm {
  step: number;
  before: number;
  after: number;
}

/** The epoch's first minibatch (θ = θ_old): E8 says its log-ratios are 0 up to float error. */
export interface OnPolicyCheck {
  rows: number;
  maxAbsLogRatio: number;
  maxAbsClippedLogRatio: number;
  /** Mean and maximum over the on-policy rows of each per-row statistic a method's loss adds
   *  (e.g. NormGuard's hinge), kept apart from the off-policy `methodStats`. */
  methodStats?: Record<string, { mean: number; max: number }>;
}

export interface EpochRecord {
  epoch: number;
  window: number[];
  prompts: string[];
  rewards: RewardSummary[];
  zeroStdFraction: number[];
  groupStdMean: number[];
  advantageAbsMean: number;
  loss: number;
  gradNorm: number;
  optimizerSteps: number;
  /** E11 per trained step, from the epoch's off-policy minibatches only. */
  steps: StepStats[];
  /** The on-policy first minibatch, kept out of `steps`. */
  onPolicy?: OnPolicyCheck;
  /** Half-range of the histograms in `steps` (diagnostics.histogramRange; "auto": from ε and the observed scale). */
  histogramRange?: number;
  /**
   * The method's own statistics over the epoch's off-policy rows (mean and max of per-row
   * values such as dppoMasked, dppoK, normGuardActive, normRatio, gardoGated).
   */
  methodStats?: Record<string, { mean: number; max: number }>;
  /** The method's epoch-level state (window position, win-rate spread, GARDO's p, resets…). */
  methodState?: Record<string, number>;
  /** Per trained step: gradient norm of its loss before and after the step weight (when measured). */
  stepGradNorms?: StepGradNorm[];
  seconds: { sample: number; reward: number; train: number };
}

export interface EvalRecord {
  epoch: number;
  rewards: RewardSummary[];
  /** Σ_k w_k · mean reward k: the proxy the run optimises. */
  proxy: number;
  gold?: GoldMetrics;
  /** ‖v_θ‖/‖v_ref‖ on θ's evaluation ODE states (E15 diagnostic; v_ref = the initial policy). */
  velocityNorm?: EvalVelocityNorms;
  prompts: string[];
  images: Float32Array;
  sampleShape: number[];
}

export interface FaultEvent {
  kind: "nonfinite-step" | "nonfinite-reward";
  epoch: number;
  detail: string;
}

/** Mean and population std of each reward's scores. */
export function summarizeRewards(names: readonly string[], scores: readonly ArrayLike<number>[]): RewardSummary[] {
  return names.map((name, k) => {
    const r = scores[k];
    let mean = 0;
    for (let i = 0; i < r.length; i++) mean += r[i];
    mean /= r.length;
    let variance = 0;
    for (let i = 0; i < r.length; i++) variance += (r[i] - mean) ** 2;
    return { name, mean, std: Math.sqrt(variance / r.length) };
  });
}
