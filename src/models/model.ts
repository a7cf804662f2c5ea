/**
 * The velocity-model interface every sampler, loss and trainer works with: a parameter tree
 * plus a pure `apply(params, x, s, tokens) → v ≈ ε − x0` (flow time s, 1 = noise).
 */
import type { JaxArray } from "../engine/jax.js";
import type { ParamTree } from "../engine/tree.js";

export interface ModelConfigBase {
  kind: string;
  /** Shape of one sample, e.g. [1, 28, 28] or [2]. */
  sampleShape: number[];
  /** Prompt vocabulary (token id = index) and the padded prompt length. */
  vocab: string[];
  promptLength: number;
}

export interface ApplyOptions {
  /**
   * False when no gradient will flow through this call (sampling, evaluation, a frozen
   * reference): the model may skip work that only shapes the gradient. Values are the same.
   */
  differentiable?: boolean;
}

export interface VelocityModel<C extends ModelConfigBase = ModelConfigBase> {
  readonly config: C;
  /** Fresh parameters from a PRNG key (consumed). */
  init(key: JaxArray): ParamTree;
  /**
   * Velocity for a batch: x [B, ...sampleShape], s [B], tokens [B, promptLength] int32.
   * Borrows `params`; consumes x, s and tokens.
   */
  apply(params: ParamTree, x: JaxArray, s: JaxArray, tokens: JaxArray, options?: ApplyOptions): JaxArray;
}
