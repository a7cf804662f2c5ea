/**
 * Policy objectives as small strategy objects: the per-row surrogate of the loss (which ratio,
 * which clip or mask) and the default per-step weighting (step-weights.ts). The rest of the
 * loss is shared (loss.ts): step weights, the E8 KL (optionally gated, E14), extra terms
 * (NormGuard, E15).
 *
 * - `flow-grpo` (E8): the plain importance ratio log r = log p_θ − log p_old, PPO clip; equal weights.
 * - `grpo-guard` (E9 + E10): RatioNorm's log ρ̂ in the PPO clip; `guard` step weights.
 * - `flow-dppo` (E16): the unclipped ratio ρ = exp(log r) with a KL trust-region mask.
 *
 * RatioNorm for every log-prob convention (derivation). Write x' = μ_old + std·z and
 * Δ = μ_θ − μ_old. With log p = −κ·mean((x' − μ)²) + c,
 *     log r = −κ·mean((std·z − Δ)²) + κ·mean((std·z)²) = κ·(2·std·mean(z·Δ) − mean(Δ²)),
 * so   log ρ̂ := mean(z·Δ) = (log r / κ + mean(Δ²)) / (2·std).
 * - Gaussian (flow-sde, dance-sde; κ = 1/(2·std²)): log ρ̂ = std·(log r + b) with
 *   b = mean(Δ²)/(2·std²) — exactly E9.
 * - Simplified CPS (κ = 1): log ρ̂ = (log r + mean(Δ²)) / (2·std).
 * In both cases log ρ̂ has zero mean under the rollout noise (z ⟂ Δ) — no left shift — and
 * its gradient is mean(z·∂μ/∂θ) = β·mean(z·∂v/∂θ) (the Δ² terms cancel). mean(Δ²) is per row,
 * i.e. per sample and step (E20; test/rl-pitfalls.test.ts).
 *
 * Reweighting (E10): ∂μ/∂v = β = c_s·dt, so step i's gradient scales with |β_i|; Guard
 * weights step i by w_i = 1/|β_i|, normalised to mean 1 over the trained steps. For
 * Flow-SDE β = (1 + η²/2)·dt (c_s constant, the public "divide by |dt|"); for Dance-SDE
 * c_s = 1 + η²(1−s)/(2s); for CPS β = k·(1−s) − s·(1−s') (dynamics.ts).
 *
 * Flow-DPPO (E16): k = mean(Δ²)/(2·std²) is the exact KL between the two Gaussian transitions
 * (per dimension) whatever the log-prob convention, so the mask is the same on every dynamics;
 * ρ itself follows the dynamics' convention (on CPS the simplified log-prob of E5).
 */
import { lax, numpy as np, type JaxArray } from "../engine/jax.js";
import { UserError } from "../engine/errors.js";
import type { StepCoefficients } from "../sampling/dynamics.js";
import { STEP_WEIGHTS, type StepWeighting } from "./step-weights.js";

export interface RatioInputs {
  /** log p_θ − log p_old per row. */
  logRatio: JaxArray;
  /** mean((μ_θ − μ_old)²) per row (differentiable in θ). */
  meanDeltaSq: JaxArray;
  std: JaxArray;
  kappa: JaxArray;
}

export interface SurrogateSettings {
  clipLow: number;
  clipHigh: number;
  /** Flow-DPPO's trust-region threshold δ on k (E16). */
  trustRegion?: number;
}

export interface Surrogate {
  /** Per-row surrogate loss (before the step weight). */
  rowLoss: JaxArray;
  /** The log-ratio the surrogate acts on (E11 statistics). */
  usedLogRatio: JaxArray;
  /** Per-row method statistics (means and maxima go to the epoch record). */
  stats: Record<string, JaxArray>;
}

export interface PolicyObjective {
  readonly name: string;
  readonly defaultStepWeights: StepWeighting;
  /** Consumes the inputs and the advantages. */
  surrogate(inputs: RatioInputs, advantage: JaxArray, settings: SurrogateSettings): Surrogate;
  /** The default loss weight per trained step (mean 1). */
  stepWeights(steps: readonly StepCoefficients[]): number[];
}

/** PPO's clipped surrogate max(−A·e^ℓ, −A·clip(e^ℓ, 1−ε_lo, 1+ε_hi)) per row (E8); consumes ℓ and A. */
function clippedSurrogate(used: JaxArray, advantage: JaxArray, settings: SurrogateSettings): Surrogate {
  const ratio = np.exp(used.ref);
  const unclipped = ratio.ref.mul(advantage.ref).mul(-1);
  const clipped = np.clip(ratio, 1 - settings.clipLow, 1 + settings.clipHigh).mul(advantage).mul(-1);
  return { rowLoss: np.maximum(unclipped, clipped), usedLogRatio: used, stats: {} };
}

/** log ρ̂ = (log r / κ + mean(Δ²)) / (2·std)  (E9, general κ — see the derivation above). */
export function normalisedLogRatio({ logRatio, meanDeltaSq, std, kappa }: RatioInputs): JaxArray {
  return logRatio.div(kappa).add(meanDeltaSq).div(std.mul(2));
}

export const flowGrpo: PolicyObjective = {
  name: "flow-grpo",
  defaultStepWeights: "none",
  surrogate({ logRatio, meanDeltaSq, std, kappa }, advantage, settings) {
    for (const unused of [meanDeltaSq, std, kappa]) unused.dispose();
    return clippedSurrogate(logRatio, advantage, settings);
  },
  stepWeights: STEP_WEIGHTS.none,
};

export const grpoGuard: PolicyObjective = {
  name: "grpo-guard",
  defaultStepWeights: "guard",
  surrogate(inputs, advantage, settings) {
    return clippedSurrogate(normalisedLogRatio(inputs), advantage, settings);
  },
  stepWeights: STEP_WEIGHTS.guard,
};

export const flowDppo: PolicyObjective = {
  name: "flow-dppo",
  defaultStepWeights: "none",
  surrogate({ logRatio, meanDeltaSq, std, kappa }, advantage, settings) {
    kappa.dispose();
    const delta = settings.trustRegion ?? 1e-5;
    // k = mean(Δ²)/(2·std²): the per-dimension KL of the two transitions (E16); the mask is sg.
    const k = lax.stopGradient(meanDeltaSq.div(np.square(std).mul(2)));
    const ratio = np.exp(logRatio.ref);
    const outside = np.greaterEqual(k.ref, delta);
    const a = lax.stopGradient(ratio.ref);
    const dropPositive = np.logicalAnd(outside.ref, np.logicalAnd(np.greater(a.ref, 1), np.greater(advantage.ref, 0)));
    const dropNegative = np.logicalAnd(outside.ref, np.logicalAnd(np.less(a, 1), np.less(advantage.ref, 0)));
    const drop = np.logicalOr(dropPositive.ref, dropNegative.ref);
    const rowLoss = np.where(drop.ref, 0, ratio.mul(advantage).mul(-1));
    const f = (b: JaxArray) => b.astype(np.float32);
    return {
      rowLoss,
      usedLogRatio: logRatio,
      stats: { dppoMasked: f(drop), dppoDropPositive: f(dropPositive), dppoDropNegative: f(dropNegative), dppoOutside: f(outside), dppoK: k },
    };
  },
  stepWeights: STEP_WEIGHTS.none,
};

export const OBJECTIVES: Record<string, PolicyObjective> = { "flow-grpo": flowGrpo, "grpo-guard": grpoGuard, "flow-dppo": flowDppo };

export function objectiveByName(name: string): PolicyObjective {
  const found = OBJECTIVES[name];
  if (!found) throw new UserError(`unknown algorithm "${name}" (known: ${Object.keys(OBJECTIVES).join(", ")})`);
  return found;
}
