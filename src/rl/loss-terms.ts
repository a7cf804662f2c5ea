/**
 * Extra loss terms on the velocities of the policy and of the frozen reference, added to the
 * surrogate (loss.ts). Each term returns a scalar and per-row statistics for the epoch record.
 *
 * NormGuard (algorithms.md E15): with RMS norms n_θ = ‖v_θ(x, s_i, c)‖, n_ref = ‖v_ref(x, s_i, c)‖
 * at the trained states, L_NG = λ·mean_{j, i∈W} max(0, n_θ − sg(n_ref)) — a hinge active only
 * when the policy's velocity is larger than the reference's. AMBIGUOUS in the source (abstract
 * only): linear vs squared, absolute vs relative, per-sample vs batch norms. Named options:
 * `absolute` (default: linear, per sample, absolute RMS) and `relative` (÷ n_ref:
 * max(0, n_θ/n_ref − 1)). λ is uncalibrated (default 1).
 *
 * Numerics: v_θ and v_ref come from two forward passes (with and without gradient) that differ
 * by float rounding, so at θ = θ_ref about half the rows would have n_θ > n_ref by ~1e-8 and get
 * the full hinge gradient λ·v/(D·n_θ) — an arbitrary push at the kink. The hinge therefore
 * starts at n_ref·(1 + 1e-6) (`HINGE_TOLERANCE`): no row is active at θ = θ_ref.
 */
import { lax, numpy as np, type JaxArray } from "../engine/jax.js";
import { UserError } from "../engine/errors.js";

export interface LossTermInputs {
  /** v_θ per row (differentiable); borrowed. */
  v: JaxArray;
  /** v_ref per row (no gradient); borrowed. */
  vRef: JaxArray;
}

export interface LossTerm {
  readonly name: string;
  readonly needsReference: boolean;
  value(inputs: LossTermInputs): { value: JaxArray; stats: Record<string, JaxArray> };
}

/** Per-row RMS norm ‖u‖ = sqrt(mean(u²)) over all non-batch dims (consumes u). */
export const rowRms = (u: JaxArray): JaxArray => np.sqrt(np.mean(np.square(u).reshape([u.shape[0], -1]), -1));

export type NormGuardForm = "absolute" | "relative";

export const HINGE_TOLERANCE = 1e-6;

export function normGuard(lambda: number, form: NormGuardForm): LossTerm {
  return {
    name: "norm-guard",
    needsReference: true,
    value({ v, vRef }) {
      const nTheta = rowRms(v.ref);
      const nRef = lax.stopGradient(rowRms(vRef.ref));
      const excess = form === "absolute" ? nTheta.ref.sub(nRef.ref.mul(1 + HINGE_TOLERANCE)) : nTheta.ref.div(nRef.ref).sub(1 + HINGE_TOLERANCE);
      const hinge = np.maximum(excess, 0);
      const ratio = lax.stopGradient(nTheta.div(nRef));
      return {
        value: np.mean(hinge).mul(lambda),
        stats: { normGuardActive: np.greater(ratio.ref, 1 + HINGE_TOLERANCE).astype(np.float32), normRatio: ratio },
      };
    },
  };
}

export interface LossTermConfig {
  normGuard: { lambda: number; form: NormGuardForm };
}

/** The extra terms a config asks for (λ = 0 turns NormGuard off). */
export function lossTerms(config: LossTermConfig): LossTerm[] {
  const terms: LossTerm[] = [];
  if (config.normGuard.lambda < 0) throw new UserError(`train.normGuard.lambda must be ≥ 0 (got ${config.normGuard.lambda})`);
  if (config.normGuard.lambda > 0) terms.push(normGuard(config.normGuard.lambda, config.normGuard.form));
  return terms;
}
