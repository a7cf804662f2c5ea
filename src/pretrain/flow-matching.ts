/**
 * Rectified-flow (flow-matching) objective: x_s = (1−s)·x0 + s·ε, target velocity ε − x0,
 * flow time s ~ logit-normal(mean, std) (SD3's choice), loss = mean((v_θ(x_s, s, c) − (ε − x0))²).
 */
import { nn, numpy as np, random, type JaxArray } from "../engine/jax.js";
import { disposeTree, type ParamTree } from "../engine/tree.js";
import type { VelocityModel } from "../models/model.js";

export interface LogitNormal {
  mean: number;
  std: number;
}

/** Consumes every argument (params included), like a jax-js op. */
export function flowMatchingLoss(
  model: VelocityModel,
  params: ParamTree,
  x0: JaxArray,
  tokens: JaxArray,
  key: JaxArray,
  logitNormal: LogitNormal,
): JaxArray {
  const B = x0.shape[0];
  const keys = random.split(key, 2);
  const eps = random.normal(keys.ref.slice(0), x0.shape);
  const s = nn.sigmoid(random.normal(keys.slice(1), [B]).mul(logitNormal.std).add(logitNormal.mean));
  const sImage = s.ref.reshape([B, ...x0.shape.slice(1).map(() => 1)]);
  const xs = x0.ref.mul(sImage.ref.mul(-1).add(1)).add(eps.ref.mul(sImage));
  const target = eps.sub(x0);
  const v = model.apply(params, xs, s, tokens);
  disposeTree(params);
  return np.mean(np.square(v.sub(target)));
}
