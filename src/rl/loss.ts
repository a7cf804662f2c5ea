/**
 * The GRPO policy loss over one minibatch of trained steps (algorithms.md E8–E10). Rows are
 * (trained step, sample) pairs, step-major; every per-row quantity is an array of length R.
 *
 *   μ_θ = α·x + β·v_θ(x, s, c)                              (dynamics.ts)
 *   log r = log p_θ(x'|x) − log p_old(x'|x)                 (x' is data: no gradient)
 *   ℓ = objective.clippedLogRatio(log r, mean(Δ²), std, κ)  (flow-grpo: log r; guard: log ρ̂)
 *   L = mean_rows( w_step · max(−A·e^ℓ, −A·clip(e^ℓ, 1−ε_lo, 1+ε_hi)) ) + β_KL·mean(KL)
 */
import { numpy as np, type JaxArray } from "../engine/jax.js";
import { disposeTree, type ParamTree } from "../engine/tree.js";
import type { VelocityModel } from "../models/model.js";
import { stepLogProb, stepMean } from "../sampling/sde.js";
import type { PolicyObjective } from "./objectives.js";

export interface MinibatchRows extends ParamTree {
  x: JaxArray;
  xNext: JaxArray;
  muOld: JaxArray;
  logProbOld: JaxArray;
  s: JaxArray;
  tokens: JaxArray;
  alpha: JaxArray;
  beta: JaxArray;
  std: JaxArray;
  kappa: JaxArray;
  logConst: JaxArray;
  /** σ_s = std/sqrt(−dt): the KL scale of Flow-GRPO's x-based KL. */
  sigma: JaxArray;
  stepWeight: JaxArray;
  advantage: JaxArray;
}

export interface LossSettings {
  clipLow: number;
  clipHigh: number;
  klBeta: number;
  klType: "x" | "v";
}

export interface LossAux extends ParamTree {
  logRatio: JaxArray;
  clippedLogRatio: JaxArray;
  klRef: JaxArray;
}

const rowMean = (x: JaxArray): JaxArray => np.mean(x.reshape([x.shape[0], -1]), -1);

/** Consumes params, refParams and rows (like a jax-js op); returns [loss, aux]. */
export function policyLoss(
  model: VelocityModel,
  objective: PolicyObjective,
  settings: LossSettings,
  params: ParamTree,
  refParams: ParamTree | null,
  rows: MinibatchRows,
): [JaxArray, LossAux] {
  const { x, xNext, muOld, logProbOld, s, tokens, alpha, beta, std, kappa, logConst, sigma, stepWeight, advantage } = rows;
  const v = model.apply(params, x.ref, s.ref, tokens.ref);
  const mu = stepMean(x.ref, v.ref, alpha.ref, beta.ref);
  const logRatio = stepLogProb(xNext, mu.ref, kappa.ref, logConst).sub(logProbOld);
  const meanDeltaSq = rowMean(np.square(mu.ref.sub(muOld)));
  const used = objective.clippedLogRatio({ logRatio: logRatio.ref, meanDeltaSq, std, kappa });
  const ratio = np.exp(used.ref);
  const unclipped = ratio.ref.mul(advantage.ref).mul(-1);
  const clipped = np.clip(ratio, 1 - settings.clipLow, 1 + settings.clipHigh).mul(advantage).mul(-1);
  let loss = np.mean(np.maximum(unclipped, clipped).mul(stepWeight));

  let klRef: JaxArray;
  if (refParams !== null && settings.klBeta > 0) {
    const vRef = model.apply(refParams, x.ref, s, tokens, { differentiable: false });
    if (settings.klType === "v") {
      klRef = rowMean(np.square(v.sub(vRef))); // v-based: mean((v_θ − v_ref)²)
      for (const unused of [alpha, beta, sigma]) unused.dispose();
    } else {
      // x-based (Flow-GRPO): mean((μ_θ − μ_ref)²) / (2·σ_s²)
      klRef = rowMean(np.square(mu.ref.sub(stepMean(x.ref, vRef, alpha, beta)))).div(np.square(sigma).mul(2));
      v.dispose();
    }
    loss = loss.add(np.mean(klRef.ref).mul(settings.klBeta));
  } else {
    klRef = np.zerosLike(logRatio.ref);
    for (const unused of [v, s, tokens, alpha, beta, sigma]) unused.dispose();
  }
  for (const unused of [x, mu]) unused.dispose();
  disposeTree(params);
  disposeTree(refParams);
  return [loss, { logRatio, clippedLogRatio: used, klRef }];
}

