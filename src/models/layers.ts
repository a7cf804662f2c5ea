/**
 * Small pure layers. Each `init*` returns a parameter sub-tree from a PRNG key (consumed);
 * each apply function *borrows* its parameters (takes `.ref` of what it uses) and consumes
 * its activations, so one parameter tree serves many calls.
 */
import { numpy as np, random, type JaxArray } from "../engine/jax.js";
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

/** Chebyshev interpolation coefficients of f on [0, range] (n first-kind nodes). */
function chebyshevFit(f: (y: number) => number, range: number, n: number): number[] {
  const nodes = Array.from({ length: n }, (_, k) => Math.cos((Math.PI * (k + 0.5)) / n));
  return Array.from({ length: n }, (_, j) => {
    let sum = 0;
    for (let k = 0; k < n; k++) sum += f(((nodes[k] + 1) * range) / 2) * Math.cos((Math.PI * j * (k + 0.5)) / n);
    return ((j === 0 ? 1 : 2) / n) * sum;
  });
}

/** Σ c_j T_j(t) by Clenshaw's recurrence (adds and multiplies only); consumes t. */
function chebyshevSeries(t: JaxArray, coefficients: readonly number[]): JaxArray {
  let b1 = np.zerosLike(t.ref);
  let b2 = np.zerosLike(t.ref);
  for (let j = coefficients.length - 1; j >= 1; j--) {
    const b0 = t.ref.mul(2).mul(b1.ref).sub(b2).add(coefficients[j]);
    b2 = b1;
    b1 = b0;
  }
  return t.mul(b1).sub(b2).add(coefficients[0]);
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_RANGE = 5.5;
const geluTanhForm = (y: number): number => 0.5 * y * (1 + Math.tanh(GELU_C * (y + 0.044715 * y ** 3)));
/** h(y) = gelu(y) − y on [0, 5.5]; |h| < 6e-9 beyond. */
const GELU_H = chebyshevFit((y) => geluTanhForm(y) - y, GELU_RANGE, 18);

/**
 * GELU in its tanh form — the function of jax-js's `nn.gelu`, within 5e-7 — computed with
 * adds, multiplies and min/max only, so jax-js keeps the kernel in wasm SIMD (tanh, exp and
 * division make a whole kernel scalar: docs/performance.md). gelu(x) = relu(x) + h(|x|) with
 * h(y) = gelu(y) − y = −y·σ(−2u(y)) (u the tanh argument), an 18-term Chebyshev series on
 * [0, 5.5]. For sampling: under a gradient, `nn.gelu` is faster (the series' backward pass
 * is ~40 kernels).
 */
export function geluSimd(x: JaxArray): JaxArray {
  const t = np.minimum(np.abs(x.ref), GELU_RANGE).mul(2 / GELU_RANGE).sub(1);
  return np.maximum(x, 0).add(chebyshevSeries(t, GELU_H));
}

/**
 * GELU in its tanh form for training: 0.5·x·(1 + tanh u) = x·σ(2u), u = √(2/π)·(x + 0.044715x³),
 * with σ(z) = 1/(1 + e^(−z)) and z clamped at −80 (e^80 is finite in float32, so the backward
 * pass never multiplies 0 by ∞; below the clamp both forms are 0 to float32 precision).
 * The same function as `nn.gelu` (within 1e-6, `test/models.test.ts`), but jax-js's gradient
 * keeps about 5 activation-sized residuals instead of about 11 (jax-js's tanh goes through a
 * sign select, exp and a division): the MLP activation [rows, 52, 512] is the largest tensor of
 * a dit-s training chunk, so this is most of the chunk's peak memory (docs/performance.md).
 */
export function geluSigmoid(x: JaxArray): JaxArray {
  const z = x.ref.mul(x.ref.mul(x.ref).mul(0.044715).add(1)).mul(-2 * GELU_C);
  return x.mul(np.reciprocal(np.exp(np.minimum(z, 80)).add(1)));
}
