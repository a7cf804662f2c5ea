/**
 * Rewards by name, so a config picks them: `{ name, weight, options }`. Each definition has a
 * zod schema of its options (options.ts) and a factory returning a `Reward`; a weighted list
 * of them feeds the advantages (E7). Library users add their own with `registerReward`.
 */
import type { z } from "zod";
import { UserError } from "../engine/errors.js";
import { didYouMean } from "../config/load.js";
import { DigitReader, digitOcrReward } from "./digit-ocr.js";
import type { Reward } from "./reward.js";
import { toyModeReward } from "./toy.js";
import { aestheticReward } from "./aesthetic.js";
import { httpReward } from "./http.js";
import { HTTP_REWARD, HttpRewardOptionsSchema, REWARD_OPTION_SCHEMAS, knownRewardNames } from "./options.js";

export type RewardFactory = (options: Record<string, unknown>) => Reward;

export const REWARDS: Record<string, RewardFactory> = {
  "digit-ocr": (options) => digitOcrReward(typeof options.weights === "string" ? DigitReader.fromFile(options.weights) : undefined),
  aesthetic: () => aestheticReward(),
  "toy-mode": (options) => toyModeReward({ mode: options.mode as number | undefined, width: options.width as number | undefined }),
};

/**
 * Add a reward under `name` (configs then use it like a built-in one). `options` validates
 * its `options` object; the factory receives the parsed value.
 */
export function registerReward<O extends Record<string, unknown>>(name: string, definition: { options: z.ZodType<O>; create: (options: O) => Reward }): void {
  if (HTTP_REWARD.test(name)) throw new UserError(`registerReward: "${name}" is reserved for rewards served over HTTP`);
  REWARD_OPTION_SCHEMAS[name] = definition.options as unknown as z.ZodType<Record<string, unknown>>;
  REWARDS[name] = definition.create as RewardFactory;
}

/** Validate a reward's options; `field` names them in the error ("rewards.0.options"). */
export function parseRewardOptions(name: string, options: unknown, field = `reward "${name}" options`): Record<string, unknown> {
  const schema = HTTP_REWARD.test(name) ? HttpRewardOptionsSchema : REWARD_OPTION_SCHEMAS[name];
  if (!schema || (!HTTP_REWARD.test(name) && !REWARDS[name])) {
    const known = knownRewardNames();
    throw new UserError(`unknown reward "${name}"${didYouMean(name, known)} (known: ${known.join(", ")}, or an http:// URL of a reward server)`);
  }
  const parsed = schema.safeParse(options ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = [field, ...issue.path.map(String)].join(".");
  const detail = issue.code === "unrecognized_keys" ? `unknown option${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}` : issue.message;
  throw new UserError(`${path}: ${detail}`);
}

/**
 * A reward by name, or a remote one by URL ("http://127.0.0.1:8100", options timeoutMs,
 * retries, backoffMs — see http.ts). Options are validated first (a UserError names them).
 */
export function createReward(name: string, options: Record<string, unknown> = {}, field?: string): Reward {
  const parsed = parseRewardOptions(name, options, field);
  if (HTTP_REWARD.test(name)) {
    const { timeoutMs, retries, backoffMs } = parsed as { timeoutMs?: number; retries?: number; backoffMs?: number };
    return httpReward({ url: name, timeoutMs, retries, backoffMs });
  }
  return REWARDS[name](parsed);
}
