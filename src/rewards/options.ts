/**
 * The options each reward accepts, as zod schemas (`rewards: [{name, weight, options}]` in a
 * training config). Kept free of numerics so that the config schema can check them: a
 * misspelled or wrongly typed option is an error naming `rewards.<k>.options.<field>`, never
 * ignored. `registerReward` (registry.ts) adds the schema of a custom reward here.
 */
import { z } from "zod";

export const HTTP_REWARD = /^https?:\/\//;

export const REWARD_OPTION_SCHEMAS: Record<string, z.ZodType<Record<string, unknown>>> = {
  "digit-ocr": z.strictObject({ weights: z.string().min(1).optional() }),
  aesthetic: z.strictObject({}),
  "toy-mode": z.strictObject({ mode: z.number().int().min(0).max(7).optional(), width: z.number().positive().optional() }),
};

/** Options of a reward served over HTTP (`name: http://host:port`), see http.ts. */
export const HttpRewardOptionsSchema = z.strictObject({
  timeoutMs: z.number().int().positive().optional(),
  retries: z.number().int().nonnegative().max(10).optional(),
  backoffMs: z.number().nonnegative().optional(),
});

export function rewardOptionsSchema(name: string): z.ZodType<Record<string, unknown>> | undefined {
  return HTTP_REWARD.test(name) ? HttpRewardOptionsSchema : REWARD_OPTION_SCHEMAS[name];
}

export function knownRewardNames(): string[] {
  return Object.keys(REWARD_OPTION_SCHEMAS);
}
