/**
 * Minibatch rows from a rollout: for each trained step (step-major) and each chosen sample,
 * the stored tensors plus that step's coefficients and the sample's advantage.
 */
import { numpy as np, type JaxArray } from "../engine/jax.js";
import type { StepCoefficients } from "../sampling/dynamics.js";
import type { MinibatchRows } from "./loss.js";
import type { EpochRollout } from "./rollout.js";

/**
 * Rows for rollout steps `steps` (positions in rollout.steps) and samples `indices`.
 * `weights[k]` is the loss weight of steps[k]; `perSample` adds per-sample inputs some methods
 * need (e.g. GARDO's gate), repeated for every step. Borrows the rollout.
 */
export function gatherRows(
  rollout: Pick<EpochRollout, "steps" | "tokens">,
  steps: readonly number[],
  indices: readonly number[],
  advantages: ArrayLike<number>,
  weights: readonly number[],
  perSample: Record<string, ArrayLike<number>> = {},
): MinibatchRows {
  const records = steps.map((k) => rollout.steps[k]);
  const b = indices.length;
  const idx = np.array(Int32Array.from(indices), { dtype: np.int32 });
  const take = (pick: (k: number) => JaxArray): JaxArray => np.concatenate(records.map((_, k) => np.take(pick(k).ref, idx.ref, 0)), 0);
  const perStep = (value: (c: StepCoefficients, k: number) => number): JaxArray => {
    const out = new Float32Array(records.length * b);
    records.forEach((r, k) => out.fill(value(r.coefficients, k), k * b, (k + 1) * b));
    return np.array(out);
  };
  const rows: MinibatchRows = {
    x: take((k) => records[k].x),
    xNext: take((k) => records[k].xNext),
    muOld: take((k) => records[k].muOld),
    logProbOld: take((k) => records[k].logProbOld),
    tokens: take(() => rollout.tokens),
    s: perStep((c) => c.s),
    alpha: perStep((c) => c.alpha),
    beta: perStep((c) => c.beta),
    std: perStep((c) => c.std),
    kappa: perStep((c) => c.kappa),
    logConst: perStep((c) => c.logConst),
    sigma: perStep((c) => c.std / Math.sqrt(-c.dt)),
    stepWeight: perStep((_, k) => weights[k]),
    advantage: np.array(Float32Array.from({ length: records.length * b }, (_, r) => advantages[indices[r % b]])),
  };
  for (const [key, values] of Object.entries(perSample)) rows[key] = np.array(Float32Array.from({ length: records.length * b }, (_, r) => values[indices[r % b]]));
  idx.dispose();
  return rows;
}
