/**
 * Rollouts for one epoch: prompts × groups of G samples, SDE sampling inside the window with
 * stored (x, x', μ_old, log p_old) per trained step, and decoded final images for rewards.
 */
import { numpy as np, random, type JaxArray } from "../engine/jax.js";
import type { HostRng, KeyChain } from "../engine/prng.js";
import type { ParamTree } from "../engine/tree.js";
import { promptTokens } from "../models/prompts.js";
import { decodeSamples, type SdeSampler, type Rollout } from "../sampling/sde.js";

export interface EpochRollout extends Rollout {
  prompts: string[];
  tokens: JaxArray;
  /** Final samples on the host (images clipped to their range [−1, 1]). */
  images: Float32Array;
}

/** Draw `count` prompts from the pool (a fresh permutation, cycling if count > pool). */
export function drawPrompts(pool: readonly string[], count: number, rng: HostRng): string[] {
  const out: string[] = [];
  while (out.length < count) out.push(...rng.permutation(pool.length).map((i) => pool[i]));
  return out.slice(0, count);
}

export async function sampleGroups(
  sampler: SdeSampler,
  params: ParamTree,
  groupPrompts: readonly string[],
  groupSize: number,
  trained: ReadonlySet<number>,
  keys: KeyChain,
  sharedNoise: boolean,
): Promise<EpochRollout> {
  const { model } = sampler;
  const prompts = groupPrompts.flatMap((p) => Array.from({ length: groupSize }, () => p));
  const shape = model.config.sampleShape;
  const n = prompts.length;
  let noise: JaxArray;
  if (sharedNoise) {
    const perGroup = random.normal(keys.next(), [groupPrompts.length, 1, ...shape]);
    noise = np.broadcastTo(perGroup, [groupPrompts.length, groupSize, ...shape]).reshape([n, ...shape]);
  } else {
    noise = random.normal(keys.next(), [n, ...shape]);
  }
  const tokens = promptTokens(prompts, model.config.vocab, model.config.promptLength);
  const rollout = await sampler.rollout(params, noise, tokens, trained, () => keys.next());
  const images = await decodeSamples(rollout.final.ref, shape);
  return { ...rollout, prompts, tokens, images };
}
