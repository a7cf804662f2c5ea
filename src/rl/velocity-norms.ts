/**
 * Measuring the E15 velocity-norm ratio ‖v_θ‖/‖v_ref‖ (diagnostics/velocity-norm.ts):
 * - on trained states: the states x of the trained steps of the epoch's first (on-policy)
 *   minibatch, where θ = θ_old, so v_θ = (μ_old − α·x)/β comes from the rollout and only v_ref
 *   needs a forward pass;
 * - at evaluation: θ's ODE trajectory from the fixed evaluation (prompt, noise), with v_ref
 *   evaluated at θ's states (one extra forward per step).
 */
import { jit, numpy as np, type JaxArray } from "../engine/jax.js";
import { disposeTree, refTree, type ParamTree } from "../engine/tree.js";
import type { VelocityModel } from "../models/model.js";
import { promptTokens } from "../models/prompts.js";
import { velocityNormStats, type EvalVelocityNorms } from "../diagnostics/velocity-norm.js";
import { stepInterval, type TimestepSchedule } from "../sampling/schedule.js";
import type { StepRecord } from "../sampling/sde.js";

import { rowRms } from "./loss-terms.js";

export class VelocityNormProbe {
  /** ‖(μ_old − α·x)/β‖ = ‖v_θold(x)‖ and ‖v_ref(x)‖ per row. */
  private readonly trained: (ref: ParamTree, x: JaxArray, s: JaxArray, tokens: JaxArray, muOld: JaxArray, alpha: JaxArray, beta: JaxArray) => [JaxArray, JaxArray];
  /** One Euler step of θ's ODE and the two norms at its state. */
  private readonly odeStep: (params: ParamTree, ref: ParamTree, x: JaxArray, s: JaxArray, tokens: JaxArray, dt: JaxArray) => [JaxArray, JaxArray, JaxArray];

  constructor(readonly model: VelocityModel) {
    this.trained = jit((ref: ParamTree, x: JaxArray, s: JaxArray, tokens: JaxArray, muOld: JaxArray, alpha: JaxArray, beta: JaxArray) => {
      const vRef = model.apply(ref, x.ref, s, tokens, { differentiable: false });
      disposeTree(ref);
      const vTheta = muOld.sub(x.mul(alpha)).div(beta);
      return [rowRms(vTheta), rowRms(vRef)];
    }) as never;
    this.odeStep = jit((params: ParamTree, ref: ParamTree, x: JaxArray, s: JaxArray, tokens: JaxArray, dt: JaxArray) => {
      const v = model.apply(params, x.ref, s.ref, tokens.ref, { differentiable: false });
      const vRef = model.apply(ref, x.ref, s, tokens, { differentiable: false });
      disposeTree(params);
      disposeTree(ref);
      const nTheta = rowRms(v.ref);
      return [x.add(v.mul(dt)), nTheta, rowRms(vRef)];
    }) as never;
  }

  /** Norms at the trained states of samples `indices` (θ = θ_old); borrows everything. */
  async onTrainedStates(ref: ParamTree, steps: readonly StepRecord[], tokens: JaxArray, indices: readonly number[]): Promise<{ normTheta: Float32Array; normRef: Float32Array }[]> {
    const idx = np.array(Int32Array.from(indices), { dtype: np.int32 });
    const out: { normTheta: Float32Array; normRef: Float32Array }[] = [];
    const pickedTokens = np.take(tokens.ref, idx.ref, 0);
    for (const step of steps) {
      const c = step.coefficients;
      const s = np.full([indices.length], c.s);
      const [normTheta, normRef] = this.trained(refTree(ref), np.take(step.x.ref, idx.ref, 0), s, pickedTokens.ref, np.take(step.muOld.ref, idx.ref, 0), np.array(c.alpha), np.array(c.beta));
      out.push({ normTheta: (await normTheta.data()) as Float32Array, normRef: (await normRef.data()) as Float32Array });
    }
    pickedTokens.dispose();
    idx.dispose();
    return out;
  }

  /** Integrate θ's ODE from `noise` (consumed) and measure the norms at every state; borrows params. */
  async onOdeTrajectory(params: ParamTree, ref: ParamTree, schedule: TimestepSchedule, noise: JaxArray, prompts: readonly string[]): Promise<{ final: JaxArray; norms: EvalVelocityNorms }> {
    const { vocab, promptLength } = this.model.config;
    const B = noise.shape[0];
    const tokens = promptTokens(prompts, vocab, promptLength);
    let x = noise;
    const steps: EvalVelocityNorms["steps"] = [];
    const allTheta: number[] = [];
    const allRef: number[] = [];
    for (let i = 0; i < schedule.steps; i++) {
      const { s, dt } = stepInterval(schedule, i);
      const [next, nTheta, nRef] = this.odeStep(refTree(params), refTree(ref), x, np.full([B], s), tokens.ref, np.array(dt));
      x = next;
      const [a, b] = [(await nTheta.data()) as Float32Array, (await nRef.data()) as Float32Array];
      allTheta.push(...a);
      allRef.push(...b);
      steps.push({ step: i, s, ...velocityNormStats(a, b) });
    }
    tokens.dispose();
    return { final: x, norms: { pooled: velocityNormStats(allTheta, allRef), steps } };
  }

  dispose(): void {
    (this.trained as unknown as { dispose(): void }).dispose();
    (this.odeStep as unknown as { dispose(): void }).dispose();
  }
}
