/**
 * The GRPO policy loss over one minibatch of trained steps (algorithms.md E8–E17). Rows are
 * (trained step, sample) pairs, step-major; every per-row quantity is an array of length R.
 *
 *   μ_θ = α·x + β·v_θ(x, s, c)                              (dynamics.ts)
 *   log r = log p_θ(x'|x) − log p_old(x'|x)                 (x' is data: no gradient)
 *   surrogate_row = objective.surrogate(log r, mean(Δ²), std, κ, A)
 *                   (flow-grpo: PPO clip on log r; grpo-guard: on log ρ̂; flow-dppo: masked ρ)
 *   L = mean_rows( w_step · surrogate_row ) + β_KL·KL + Σ extra terms (NormGuard, E15)
 *   KL = mean_rows(KL_row), or with a per-sample gate g (GARDO, E14c) Σ g·KL_row / Σ g.
 */
import { numpy as np, type JaxArray } from "../engine/jax.js";
import { disposeTree, type ParamTree } from "../engine/tree.js";
import type { VelocityModel } from "../models/model.js";
import { stepLogProb, stepMean } from "../sampling/sde.js";
import type { PolicyObjective } from "./objectives.js";
import type { LossTerm } from "./loss-terms.js";

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

/** Optional per-row inputs some methods add (GARDO's KL gate g ∈ {0, 1}). */
export interface GatedRows extends MinibatchRows {
  gate: JaxArray;
}

export interface LossSettings {
  clipLow: number;
  clipHigh: number;
  klBeta: number;
  klType: "x" | "v";
  /** Flow-DPPO's δ (E16). */
  trustRegion?: number;
  /** Extra loss terms on (v_θ, v_ref) (loss-terms.ts). */
  terms?: readonly LossTerm[];
}

export interface LossAux extends ParamTree {
  logRatio: JaxArray;
  clippedLogRatio: JaxArray;
  klRef: JaxArray;
}

export const rowMean = (x: JaxArray): JaxArray => np.mean(x.reshape([x.shape[0], -1]), -1);

/** Whether the loss needs the frozen reference's velocity. */
export const needsReference = (settings: LossSettings): boolean => settings.klBeta > 0 || (settings.terms ?? []).some((t) => t.needsReference);

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
  const gate = (rows as Partial<GatedRows>).gate ?? null;
  const v = model.apply(params, x.ref, s.ref, tokens.ref);
  const mu = stepMean(x.ref, v.ref, alpha.ref, beta.ref);
  const logRatio = stepLogProb(xNext, mu.ref, kappa.ref, logConst).sub(logProbOld);
  const meanDeltaSq = rowMean(np.square(mu.ref.sub(muOld)));
  const { rowLoss, usedLogRatio, stats } = objective.surrogate({ logRatio: logRatio.ref, meanDeltaSq, std, kappa }, advantage, settings);
  let loss = np.mean(rowLoss.mul(stepWeight));

  const terms = settings.terms ?? [];
  let klRef: JaxArray;
  let vRef: JaxArray | null = null;
  if (refParams !== null && needsReference(settings)) vRef = model.apply(refParams, x.ref, s, tokens, { differentiable: false });
  else for (const unused of [s, tokens]) unused.dispose();
  if (vRef !== null && settings.klBeta > 0) {
    if (settings.klType === "v") {
      klRef = rowMean(np.square(v.ref.sub(vRef.ref))); // v-based: mean((v_θ − v_ref)²)
    } else {
      // x-based (Flow-GRPO): mean((μ_θ − μ_ref)²) / (2·σ_s²)
      klRef = rowMean(np.square(mu.ref.sub(stepMean(x.ref, vRef.ref, alpha.ref, beta.ref)))).div(np.square(sigma.ref).mul(2));
    }
    // GARDO (E14c): only gated samples are pulled to the reference, Σ g·KL / Σ g (0 if no gate).
    const kl = gate === null ? np.mean(klRef.ref) : np.sum(klRef.ref.mul(gate.ref)).div(np.maximum(np.sum(gate.ref), 1));
    loss = loss.add(kl.mul(settings.klBeta));
  } else {
    klRef = np.zerosLike(logRatio.ref);
  }
  const termStats: Record<string, JaxArray> = {};
  for (const term of terms) {
    const { value, stats: perRow } = term.value({ v, vRef: vRef! });
    loss = loss.add(value);
    Object.assign(termStats, perRow);
  }
  gate?.dispose();
  for (const unused of [x, mu, v, alpha, beta, sigma]) unused.dispose();
  vRef?.dispose();
  disposeTree(params);
  disposeTree(refParams);
  return [loss, { logRatio, clippedLogRatio: usedLogRatio, klRef, ...stats, ...termStats }];
}
