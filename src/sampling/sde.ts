/**
 * Stochastic rollouts with log-probs, and re-evaluation of those log-probs under new
 * parameters. One step of any dynamics is μ = α·x + β·v, x' = μ + std·z (see dynamics.ts);
 * log p(x'|x) = −κ·mean((x' − μ)²) + logConst. Steps outside the SDE window use the ODE
 * (E6) and carry no log-prob.
 *
 * The same `stepMean` / `stepLogProb` functions run at rollout and at training time, so
 * with unchanged parameters the recomputed log-prob equals the stored one (ratio = 1, E8).
 */
import { jit, numpy as np, random, type JaxArray } from "../engine/jax.js";
import { disposeTree, refTree, type ParamTree } from "../engine/tree.js";
import type { VelocityModel } from "../models/model.js";
import type { Dynamics, StepCoefficients } from "./dynamics.js";
import type { TimestepSchedule } from "./schedule.js";

/** Broadcast a per-row vector [N] against samples [N, ...]. */
function perRow(values: JaxArray, like: number[]): JaxArray {
  return values.reshape([like[0], ...like.slice(1).map(() => 1)]);
}

/** μ = α·x + β·v with per-row α, β ([N]); consumes all arguments. */
export function stepMean(x: JaxArray, v: JaxArray, alpha: JaxArray, beta: JaxArray): JaxArray {
  const shape = x.shape;
  return x.mul(perRow(alpha, shape)).add(v.mul(perRow(beta, shape)));
}

/** Per-row log p = −κ·mean((x' − μ)²) + c over all non-batch dims; consumes all arguments. */
export function stepLogProb(xNext: JaxArray, mu: JaxArray, kappa: JaxArray, logConst: JaxArray): JaxArray {
  const n = xNext.shape[0];
  const sq = np.square(xNext.sub(mu)).reshape([n, -1]);
  return np.mean(sq, -1).mul(kappa).mul(-1).add(logConst);
}

/** What a trained step keeps from the rollout (all device arrays, N = number of samples). */
export interface StepRecord {
  index: number;
  coefficients: StepCoefficients;
  x: JaxArray;
  xNext: JaxArray;
  muOld: JaxArray;
  logProbOld: JaxArray;
}

export interface Rollout {
  final: JaxArray;
  steps: StepRecord[];
}

export function disposeRollout(rollout: Rollout): void {
  rollout.final.dispose();
  for (const step of rollout.steps) for (const a of [step.x, step.xNext, step.muOld, step.logProbOld]) a.dispose();
}

/**
 * Final samples to host memory (consumes `final`): images ([C, H, W] samples) are clipped to
 * their range [−1, 1]; other samples (2-D toy points) are returned as they are.
 */
export async function decodeSamples(final: JaxArray, sampleShape: number[]): Promise<Float32Array> {
  return (await (sampleShape.length === 3 ? np.clip(final, -1, 1) : final).data()) as Float32Array;
}

const full = (n: number, value: number): JaxArray => np.full([n], value, { dtype: np.float32 });

export class SdeSampler {
  private readonly sdeStep: (params: ParamTree, x: JaxArray, s: JaxArray, tokens: JaxArray, alpha: JaxArray, beta: JaxArray, std: JaxArray, kappa: JaxArray, logConst: JaxArray, z: JaxArray) => [JaxArray, JaxArray, JaxArray];
  private readonly odeStep: (params: ParamTree, x: JaxArray, s: JaxArray, tokens: JaxArray, dt: JaxArray) => JaxArray;

  constructor(
    readonly model: VelocityModel,
    readonly dynamics: Dynamics,
    readonly schedule: TimestepSchedule,
    readonly eta: number,
  ) {
    this.sdeStep = jit((params: ParamTree, x: JaxArray, s: JaxArray, tokens: JaxArray, alpha: JaxArray, beta: JaxArray, std: JaxArray, kappa: JaxArray, logConst: JaxArray, z: JaxArray) => {
      const v = model.apply(params, x.ref, s, tokens, { differentiable: false });
      disposeTree(params);
      const mu = stepMean(x, v, alpha, beta);
      const xNext = mu.ref.add(z.mul(perRow(std, mu.shape)));
      const logp = stepLogProb(xNext.ref, mu.ref, kappa, logConst);
      return [xNext, mu, logp];
    }) as never;
    this.odeStep = jit((params: ParamTree, x: JaxArray, s: JaxArray, tokens: JaxArray, dt: JaxArray) => {
      const v = model.apply(params, x.ref, s, tokens, { differentiable: false });
      disposeTree(params);
      return x.add(v.mul(perRow(dt, x.shape)));
    }) as never;
  }

  /**
   * Integrate noise (consumed) to images. Steps in `trained` are stochastic and recorded;
   * the others follow the ODE. `nextKey` supplies the PRNG key for each stochastic step.
   * Borrows params and tokens.
   */
  async rollout(params: ParamTree, noise: JaxArray, tokens: JaxArray, trained: ReadonlySet<number>, nextKey: () => JaxArray): Promise<Rollout> {
    const n = noise.shape[0];
    let x = noise;
    const steps: StepRecord[] = [];
    for (let i = 0; i < this.schedule.steps; i++) {
      const c = this.dynamics.coefficients(this.schedule, i, this.eta);
      const s = full(n, c.s);
      if (trained.has(i) && this.dynamics.stochastic && c.std > 0) {
        const z = random.normal(nextKey(), x.shape);
        const [xNext, mu, logp] = this.sdeStep(
          refTree(params), x.ref, s, tokens.ref,
          full(n, c.alpha), full(n, c.beta), full(n, c.std), full(n, c.kappa), full(n, c.logConst), z,
        );
        steps.push({ index: i, coefficients: c, x, xNext: xNext.ref, muOld: mu, logProbOld: logp });
        x = xNext;
      } else {
        x = this.odeStep(refTree(params), x, s, tokens.ref, full(n, c.dt));
      }
      await x.blockUntilReady();
    }
    return { final: x, steps };
  }

  dispose(): void {
    (this.sdeStep as unknown as { dispose(): void }).dispose();
    (this.odeStep as unknown as { dispose(): void }).dispose();
  }
}
