/**
 * Patchified diffusion transformer (DiT, Peebles & Xie 2023) with adaLN modulation from
 * (timestep embedding + prompt embedding), matching the canonical `dit-s` of
 * shared/spec/benchmarks.md (B1) and the PyTorch reference model parameter for parameter:
 * patch embed, learned positions, per block adaLN (scale/shift before attention and MLP),
 * multi-head self-attention, GELU MLP, final LayerNorm + linear to patch pixels.
 *
 * Engine-driven layout choices (shared/spec/engine-notes.md §6): the token axis is padded
 * from 49 to a multiple of 4 (pad keys masked out of attention) so jax-js keeps its SIMD
 * matmul paths; q/k/v and the four adaLN outputs are separate matrices rather than one
 * matmul followed by a split (a split's gradient becomes a padded sum).
 */
import { numpy as np, nn, random, type JaxArray } from "../engine/jax.js";
import type { ParamTree } from "../engine/tree.js";
import { geluSigmoid, geluSimd, initLinear, layerNorm, linear, promptEmbedding, timestepEmbedding, zeroLinear, type LinearParams } from "./layers.js";
import type { ApplyOptions, ModelConfigBase, VelocityModel } from "./model.js";

export interface DitConfig extends ModelConfigBase {
  kind: "dit";
  patch: number;
  width: number;
  depth: number;
  heads: number;
  mlpRatio: number;
  /** Sinusoidal timestep-embedding size. */
  timeDim: number;
  /** Init std of the prompt-embedding table (B2: 1.0 makes class conditioning learnable). */
  promptInitStd: number;
}

interface BlockParams extends ParamTree {
  scale1: LinearParams;
  shift1: LinearParams;
  scale2: LinearParams;
  shift2: LinearParams;
  q: LinearParams;
  k: LinearParams;
  v: LinearParams;
  o: LinearParams;
  fc1: LinearParams;
  fc2: LinearParams;
}

export interface DitParams extends ParamTree {
  embed: LinearParams;
  pos: JaxArray;
  time: LinearParams;
  prompt: JaxArray;
  blocks: BlockParams[];
  out: LinearParams;
}

const roundUp4 = (n: number): number => Math.ceil(n / 4) * 4;

export function ditGeometry(config: DitConfig): { tokens: number; paddedTokens: number; patchDim: number; grid: [number, number] } {
  const [channels, height, width] = config.sampleShape;
  if (height % config.patch !== 0 || width % config.patch !== 0) {
    throw new Error(`dit: image ${height}×${width} is not divisible by patch ${config.patch}`);
  }
  const grid: [number, number] = [height / config.patch, width / config.patch];
  const tokens = grid[0] * grid[1];
  return { tokens, paddedTokens: roundUp4(tokens), patchDim: config.patch * config.patch * channels, grid };
}

export function createDit(config: DitConfig): VelocityModel<DitConfig> {
  const { width: D, depth, heads, mlpRatio, patch, timeDim } = config;
  if (D % heads !== 0) throw new Error(`dit: width ${D} is not divisible by heads ${heads}`);
  const [C, H, W] = config.sampleShape;
  const { tokens: T, paddedTokens: TP, patchDim, grid } = ditGeometry(config);
  const headDim = D / heads;
  const hidden = D * mlpRatio;

  function init(key: JaxArray): DitParams {
    const keys = random.split(key, 5 + depth * 10);
    let i = 0;
    const next = (): JaxArray => keys.ref.slice(i++);
    const blocks: BlockParams[] = [];
    for (let b = 0; b < depth; b++) {
      blocks.push({
        scale1: zeroLinear(D, D),
        shift1: zeroLinear(D, D),
        scale2: zeroLinear(D, D),
        shift2: zeroLinear(D, D),
        q: initLinear(next(), D, D),
        k: initLinear(next(), D, D),
        v: initLinear(next(), D, D),
        o: initLinear(next(), D, D),
        fc1: initLinear(next(), D, hidden),
        fc2: initLinear(next(), hidden, D),
      });
    }
    const params: DitParams = {
      embed: initLinear(next(), patchDim, D),
      pos: random.normal(next(), [T, D]).mul(0.02),
      time: initLinear(next(), timeDim, D),
      prompt: random.normal(next(), [config.vocab.length, D]).mul(config.promptInitStd),
      blocks,
      out: zeroLinear(D, patchDim),
    };
    keys.dispose();
    return params;
  }

  /** [B, C, H, W] → [B, T, p·p·C] (row-major patches, channels last within a patch). */
  function patchify(x: JaxArray): JaxArray {
    const B = x.shape[0];
    return x
      .reshape([B, C, grid[0], patch, grid[1], patch])
      .transpose([0, 2, 4, 3, 5, 1])
      .reshape([B, T, patchDim]);
  }

  function unpatchify(tokens: JaxArray): JaxArray {
    const B = tokens.shape[0];
    return tokens
      .reshape([B, grid[0], grid[1], patch, patch, C])
      .transpose([0, 5, 1, 3, 2, 4])
      .reshape([B, C, H, W]);
  }

  /** Additive attention bias over keys (last axis): 0 for real keys, −1e9 for padding keys. */
  function keyMask(rank: number): JaxArray {
    const bias = new Float32Array(TP);
    for (let t = T; t < TP; t++) bias[t] = -1e9;
    return np.array(bias, { shape: [...new Array<number>(rank - 1).fill(1), TP] });
  }

  /**
   * Multi-head self-attention in two layouts that compute the same function; which one is
   * faster depends on whether a gradient is taken (docs/performance.md, "attention layout").
   * - Head-major ([B, H, T, hd], the textbook form) when differentiating: the head outputs
   *   are needed again by the backward pass, so jax-js materialises them and the output
   *   projection reads contiguous memory.
   * - Token-major when only sampling: scores [B, T, H, 1, T] = q [B, T, H, 1, hd] @ kᵀ and
   *   softmax(scores) @ v come out directly as [B, T, H, 1, hd] = [B, T, D], so the output
   *   projection never reads a transposed view (which drops jax-js to scalar kernels, 72 of
   *   105 ms of a batch-64 attention).
   */
  function attention(p: BlockParams, a: JaxArray, B: number, differentiable: boolean): JaxArray {
    const q = linear(p.q, a.ref).mul(1 / Math.sqrt(headDim));
    const k = linear(p.k, a.ref);
    const v = linear(p.v, a);
    let mixed: JaxArray;
    if (differentiable) {
      const headMajor = (x: JaxArray): JaxArray => x.reshape([B, TP, heads, headDim]).transpose([0, 2, 1, 3]);
      let scores = np.matmul(headMajor(q), headMajor(k).transpose([0, 1, 3, 2]));
      if (TP !== T) scores = scores.add(keyMask(4));
      mixed = np.matmul(nn.softmax(scores, -1), headMajor(v)).transpose([0, 2, 1, 3]).reshape([B, TP, D]);
    } else {
      const perToken = (x: JaxArray): JaxArray => x.reshape([B, TP, heads, headDim]).transpose([0, 2, 1, 3]).reshape([B, 1, heads, TP, headDim]);
      let scores = np.matmul(q.reshape([B, TP, heads, 1, headDim]), perToken(k).transpose([0, 1, 2, 4, 3]));
      if (TP !== T) scores = scores.add(keyMask(5));
      mixed = np.matmul(nn.softmax(scores, -1), perToken(v)).reshape([B, TP, D]);
    }
    return linear(p.o, mixed);
  }

  function block(p: BlockParams, h: JaxArray, cond: JaxArray, B: number, differentiable: boolean): JaxArray {
    const mod = (l: LinearParams): JaxArray => linear(l, cond.ref).reshape([B, 1, D]);
    const a = layerNorm(h.ref).mul(mod(p.scale1).add(1)).add(mod(p.shift1));
    h = h.add(attention(p, a, B, differentiable));
    const m = layerNorm(h.ref).mul(mod(p.scale2).add(1)).add(mod(p.shift2));
    cond.dispose();
    const gelu = differentiable ? geluSigmoid : geluSimd;
    return h.add(linear(p.fc2, gelu(linear(p.fc1, m))));
  }

  function apply(params: ParamTree, x: JaxArray, s: JaxArray, tokens: JaxArray, options: ApplyOptions = {}): JaxArray {
    const p = params as DitParams;
    const differentiable = options.differentiable ?? true;
    const B = x.shape[0];
    const cond = nn.silu(linear(p.time, timestepEmbedding(s, timeDim)).add(promptEmbedding(p.prompt, tokens)));
    let h = linear(p.embed, patchify(x)).add(p.pos.ref);
    if (TP !== T) h = np.concatenate([h, np.zeros([B, TP - T, D])], 1);
    for (const blockParams of p.blocks) h = block(blockParams, h, cond.ref, B, differentiable);
    cond.dispose();
    if (TP !== T) h = h.slice([], [0, T]);
    return unpatchify(linear(p.out, layerNorm(h)));
  }

  return { config, init, apply };
}
