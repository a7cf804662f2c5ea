/**
 * A small MLP velocity field for low-dimensional toy data (2-D mixtures): input is
 * [x, timestep embedding, prompt embedding], SiLU hidden layers, zero-initialised output.
 */
import { numpy as np, nn, random, type JaxArray } from "../engine/jax.js";
import type { ParamTree } from "../engine/tree.js";
import { initLinear, linear, promptEmbedding, timestepEmbedding, zeroLinear, type LinearParams } from "./layers.js";
import type { ModelConfigBase, VelocityModel } from "./model.js";

export interface MlpConfig extends ModelConfigBase {
  kind: "mlp";
  hidden: number;
  layers: number;
  timeDim: number;
  promptDim: number;
}

export interface MlpParams extends ParamTree {
  prompt: JaxArray;
  hidden: LinearParams[];
  out: LinearParams;
}

export function createMlp(config: MlpConfig): VelocityModel<MlpConfig> {
  if (config.sampleShape.length !== 1) throw new Error(`mlp: sampleShape must be [dim], got [${config.sampleShape}]`);
  const dim = config.sampleShape[0];

  function init(key: JaxArray): MlpParams {
    const keys = random.split(key, config.layers + 1);
    const hidden: LinearParams[] = [];
    let fanIn = dim + config.timeDim + config.promptDim;
    for (let i = 0; i < config.layers; i++) {
      hidden.push(initLinear(keys.ref.slice(i), fanIn, config.hidden));
      fanIn = config.hidden;
    }
    const prompt = random.normal(keys.slice(config.layers), [config.vocab.length, config.promptDim]);
    return { prompt, hidden, out: zeroLinear(fanIn, dim) };
  }

  function apply(params: ParamTree, x: JaxArray, s: JaxArray, tokens: JaxArray): JaxArray {
    const p = params as MlpParams;
    let h = np.concatenate([x, timestepEmbedding(s, config.timeDim), promptEmbedding(p.prompt, tokens)], -1);
    for (const layer of p.hidden) h = nn.silu(linear(layer, h));
    return linear(p.out, h);
  }

  return { config, init, apply };
}
