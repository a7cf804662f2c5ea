/**
 * Policy objectives as small strategy objects: what ratio the clipped surrogate sees, and
 * how each trained step is weighted. The surrogate itself is shared (loss.ts).
 *
 * - `flow-grpo` (E8): the plain importance ratio log r = log p_θ − log p_old; equal weights.
 * - `grpo-guard` (E9 + E10): RatioNorm and gradient reweighting.
 *
 * RatioNorm for every log-prob convention (derivation). Write x' = μ_old + std·z and
 * Δ = μ_θ − μ_old. With log p = −κ·mean((x' − μ)²) + c,
 *     log r = −κ·mean((std·z − Δ)²) + κ·mean((std·z)²) = κ·(2·std·mean(z·Δ) − mean(Δ²)),
 * so   log ρ̂ := mean(z·Δ) = (log r / κ + mean(Δ²)) / (2·std).
 * - Gaussian (flow-sde, dance-sde; κ = 1/(2·std²)): log ρ̂ = std·(log r + b) with
 *   b = mean(Δ²)/(2·std²) — exactly E9.
 * - Simplified CPS (κ = 1): log ρ̂ = (log r + mean(Δ²)) / (2·std).
 * In both cases log ρ̂ has zero mean under the rollout noise (z ⟂ Δ) — no left shift — and
 * its gradient is mean(z·∂μ/∂θ) = β·mean(z·∂v/∂θ) (the Δ² terms cancel).
 *
 * Reweighting (E10): ∂μ/∂v = β = c_s·dt, so step i's gradient scales with |β_i|; Guard
 * weights step i by w_i = 1/|β_i|, normalised to mean 1 over the trained steps. For
 * Flow-SDE β = (1 + η²/2)·dt (c_s constant, the public "divide by |dt|"); for Dance-SDE
 * c_s = 1 + η²(1−s)/(2s); for CPS β = k·(1−s) − s·(1−s') (dynamics.ts).
 */
import type { JaxArray } from "../engine/jax.js";
import { UserError } from "../engine/errors.js";
import type { StepCoefficients } from "../sampling/dynamics.js";

export interface RatioInputs {
  /** log p_θ − log p_old per row. */
  logRatio: JaxArray;
  /** mean((μ_θ − μ_old)²) per row (differentiable in θ). */
  meanDeltaSq: JaxArray;
  std: JaxArray;
  kappa: JaxArray;
}

export interface PolicyObjective {
  readonly name: string;
  /** The log-ratio the clipped surrogate uses (consumes the inputs). */
  clippedLogRatio(inputs: RatioInputs): JaxArray;
  /** Loss weight per trained step (mean 1). */
  stepWeights(steps: readonly StepCoefficients[]): number[];
}

export const flowGrpo: PolicyObjective = {
  name: "flow-grpo",
  clippedLogRatio({ logRatio, meanDeltaSq, std, kappa }) {
    for (const unused of [meanDeltaSq, std, kappa]) unused.dispose();
    return logRatio;
  },
  stepWeights: (steps) => steps.map(() => 1),
};

export const grpoGuard: PolicyObjective = {
  name: "grpo-guard",
  clippedLogRatio({ logRatio, meanDeltaSq, std, kappa }) {
    // log ρ̂ = (log r / κ + mean(Δ²)) / (2·std)  (E9, general κ — see the derivation above)
    return logRatio.div(kappa).add(meanDeltaSq).div(std.mul(2));
  },
  stepWeights(steps) {
    const raw = steps.map((c) => 1 / Math.abs(c.beta)); // E10: w_i ∝ 1/(|dt_i|·c_i) = 1/|β_i|
    const mean = raw.reduce((a, b) => a + b, 0) / raw.length;
    return raw.map((w) => w / mean);
  },
};

export const OBJECTIVES: Record<string, PolicyObjective> = { "flow-grpo": flowGrpo, "grpo-guard": grpoGuard };

export function objectiveByName(name: string): PolicyObjective {
  const found = OBJECTIVES[name];
  if (!found) throw new UserError(`unknown algorithm "${name}" (known: ${Object.keys(OBJECTIVES).join(", ")})`);
  return found;
}

