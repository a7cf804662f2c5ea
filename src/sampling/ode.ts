/**
 * Deterministic sampling: Euler steps of the probability-flow ODE x' = x + v·dt
 * (algorithms.md E2) on the shifted schedule (E1), with optional classifier-free guidance
 * v = v_null + w·(v_prompt − v_null).
 */
import { jit, numpy as np, random, type JaxArray } from "../engine/jax.js";
import { disposeTree, refTree, type ParamTree } from "../engine/tree.js";
import type { VelocityModel } from "../models/model.js";
import { promptTokens } from "../models/prompts.js";
import { shiftedSchedule, stepInterval, type TimestepSchedule } from "./schedule.js";

export interface OdeOptions {
  steps: number;
  shift?: number;
  /** Classifier-free guidance scale; 1 = plain conditional model (no extra pass). */
  guidance?: number;
}

/** Guided velocity (borrows params; consumes x, s, tokens). */
export function guidedVelocity(model: VelocityModel, params: ParamTree, x: JaxArray, s: JaxArray, tokens: JaxArray, guidance: number): JaxArray {
  if (guidance === 1) return model.apply(params, x, s, tokens, { differentiable: false });
  const B = x.shape[0];
  const nullTokens = np.fullLike(tokens.ref, -1);
  const v = model.apply(params, np.concatenate([x.ref, x], 0), np.concatenate([s.ref, s], 0), np.concatenate([tokens, nullTokens], 0), { differentiable: false });
  const vPrompt = v.ref.slice([0, B]);
  const vNull = v.slice([B, 2 * B]);
  return vNull.ref.add(vPrompt.sub(vNull).mul(guidance));
}

/** Largest batch one ODE integration runs at once (the comparison's 160-sample evaluations fit). */
export const MAX_ODE_BATCH = 160;

export class OdeSampler {
  readonly schedule: TimestepSchedule;
  private readonly step: (params: ParamTree, x: JaxArray, s: JaxArray, dt: JaxArray, tokens: JaxArray) => JaxArray;

  constructor(private readonly model: VelocityModel, private readonly options: OdeOptions) {
    this.schedule = shiftedSchedule(options.steps, options.shift ?? 3);
    const guidance = options.guidance ?? 1;
    this.step = jit((params: ParamTree, x: JaxArray, s: JaxArray, dt: JaxArray, tokens: JaxArray) => {
      const next = x.ref.add(guidedVelocity(model, params, x, s, tokens, guidance).mul(dt));
      disposeTree(params);
      return next;
    }) as never;
  }

  /**
   * Integrate from noise x (consumed, [B, ...sampleShape]) to data; borrows params. Batches
   * above MAX_ODE_BATCH are integrated in chunks (a 320-sample dit-s batch ran out of
   * jax-js's 4 GiB wasm memory), so a large evaluation set costs time, not a crash.
   */
  async sample(params: ParamTree, noise: JaxArray, prompts: readonly string[]): Promise<JaxArray> {
    const B = noise.shape[0];
    if (B <= MAX_ODE_BATCH) return this.sampleBatch(params, noise, prompts);
    const parts: JaxArray[] = [];
    for (let start = 0; start < B; start += MAX_ODE_BATCH) {
      const end = Math.min(B, start + MAX_ODE_BATCH);
      parts.push(await this.sampleBatch(params, noise.ref.slice([start, end]), prompts.slice(start, end)));
      await parts[parts.length - 1].blockUntilReady();
    }
    noise.dispose();
    return np.concatenate(parts, 0);
  }

  private async sampleBatch(params: ParamTree, noise: JaxArray, prompts: readonly string[]): Promise<JaxArray> {
    const { vocab, promptLength } = this.model.config;
    const B = noise.shape[0];
    const tokens = promptTokens(prompts, vocab, promptLength);
    let x = noise;
    for (let i = 0; i < this.schedule.steps; i++) {
      const { s, dt } = stepInterval(this.schedule, i);
      x = this.step(refTree(params), x, np.full([B], s), np.array(dt), tokens.ref);
      if (i % 4 === 3) await x.blockUntilReady();
    }
    tokens.dispose();
    return x;
  }

  dispose(): void {
    (this.step as unknown as { dispose(): void }).dispose();
  }
}

/** Standard-normal initial noise for `count` samples of the model's shape. */
export function initialNoise(model: VelocityModel, key: JaxArray, count: number): JaxArray {
  return random.normal(key, [count, ...model.config.sampleShape]);
}
