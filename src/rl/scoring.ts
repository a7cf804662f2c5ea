/**
 * Rewards of a batch of samples: every weighted reward scores the decoded images.
 */
import type { Reward } from "../rewards/reward.js";
import { summarizeRewards, type RewardSummary } from "../diagnostics/records.js";

export interface WeightedReward {
  reward: Reward;
  weight: number;
}

export async function scoreRewards(rewards: readonly WeightedReward[], images: Float32Array, sampleShape: number[], prompts: readonly string[]): Promise<Float32Array[]> {
  return Promise.all(
    rewards.map(async ({ reward }) => {
      const scores = await reward.score({ images, sampleShape, prompts });
      if (scores.length !== prompts.length) throw new Error(`reward "${reward.name}" returned ${scores.length} scores for ${prompts.length} images`);
      return scores;
    }),
  );
}

/** The proxy reward of a batch: the rewards' means, weighted as configured (`rewards[].weight`). */
export function weightedProxy(rewards: readonly WeightedReward[], summaries: readonly RewardSummary[]): number {
  return summaries.reduce((a, r, k) => a + rewards[k].weight * r.mean, 0);
}

export function rewardSummaries(rewards: readonly WeightedReward[], scores: readonly Float32Array[]): RewardSummary[] {
  return summarizeRewards(rewards.map((r) => r.reward.name), scores);
}
