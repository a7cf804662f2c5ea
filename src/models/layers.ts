/**
 * Small pure layers. Each `init*` returns a parameter sub-tree from a PRNG key (consumed);
 * each apply function *borrows* its parameters (takes `.ref` of what it uses) and consumes
 * its activations, so one parameter tree serves many calls.
 */
import { nn, numpy as np, random, type JaxArray } from "../engine/jax.js";
import type { ParamTree } from "../engine/tree.js";

export interface LinearParams extends ParamTree {
  w: JaxArray;
  b: JaxArray;
}

/** Uniform(±scale/√fanIn) weights (PyTorch's default scale is 1), zero bias. */
export function initLinear(key: JaxArray, fanIn: number, fanOut: number, scale = 1): LinearParams {
  const bound = scale / Math.sqrt(fanIn);
  return {
    w: random.uniform(key, [fanIn, fanOut], { minval: -bound, maxval: bound }),
    b: np.zeros([fanOut]),
  };
}

export function zeroLinear(fanIn: number, fanOut: number): LinearParams {
  return { w: np.zeros([fanIn, fanOut]), b: np.zeros([fanOut]) };
}

/** x @ w + b over the last axis. */
export function linear(p: LinearParams, x: JaxArray): JaxArray {
  return np.matmul(x, p.w.ref).add(p.b.ref);
}

/** LayerNorm over the last axis without affine parameters (eps 1e-6). */
export function layerNorm(x: JaxArray, eps = 1e-6): JaxArray {
  const mean = np.mean(x.ref, -1, { keepdims: true });
  const centered = x.sub(mean);
  const variance = np.mean(np.square(centered.ref), -1, { keepdims: true });
  return centered.mul(np.reciprocal(np.sqrt(variance.add(eps))));
}

/**
 * Sinusoidal embedding of flow time s ∈ [0, 1] (scaled by 1000 as in DiT): `dim/2` sines
 * then `dim/2` cosines with frequencies 10000^(−k/(dim/2)).
 */
export function timestepEmbedding(s: JaxArray, dim: number): JaxArray {
  const half = dim / 2;
  const freqs = np.exp(np.arange(half).astype(np.float32).mul(-Math.log(10000) / half));
  const angles = s.reshape([-1, 1]).mul(1000).mul(freqs.reshape([1, half]));
  return np.concatenate([np.sin(angles.ref), np.cos(angles)], -1);
}

/**
 * Prompt embedding: a prompt is a short token sequence ([B, L] int32, −1 = padding). The
 * embedding is the sum of its tokens' rows of `table` ([V, D]), computed as a one-hot matmul
 * (no gather, so its gradient needs no scatter). An all-padding prompt embeds to zero — the
 * "null" prompt of classifier-free guidance.
 */
export function promptEmbedding(table: JaxArray, tokens: JaxArray): JaxArray {
  const vocab = table.shape[0];
  const [batch, length] = tokens.shape;
  const oneHot = np.equal(tokens.reshape([batch, length, 1]), np.arange(vocab).astype(np.int32)).astype(np.float32);
  return np.matmul(np.sum(oneHot, 1), table.ref);
}

export const silu = nn.silu;
export const gelu = nn.gelu;
