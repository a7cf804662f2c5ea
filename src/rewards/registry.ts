/**
 * Rewards by name, so a config picks them: `{ name, weight, options }`. Each factory
 * returns a `Reward`; a weighted list of them feeds the advantages (E7).
 */
import { UserError } from "../engine/errors.js";
import { DigitReader, digitOcrReward } from "./digit-ocr.js";
import type { Reward } from "./reward.js";
import { toyModeReward } from "./toy.js";
import { aestheticReward } from "./aesthetic.js";
import { httpReward } from "./http.js";

export type RewardFactory = (options: Record<string, unknown>) => Reward;

export const REWARDS: Record<string, RewardFactory> = {
  "digit-ocr": (options) => digitOcrReward(typeof options.weights === "string" ? DigitReader.fromFile(options.weights) : undefined),
  aesthetic: () => aestheticReward(),
  "toy-mode": (options) => toyModeReward({ mode: options.mode as number | undefined, width: options.width as number | undefined }),
};

/**
 * A reward by name, or a remote one by URL ("http://127.0.0.1:8100", options timeoutMs,
 * retries, backoffMs — see http.ts).
 */
export function createReward(name: string, options: Record<string, unknown> = {}): Reward {
  if (/^https?:\/\//.test(name)) {
    const { timeoutMs, retries, backoffMs } = options as { timeoutMs?: number; retries?: number; backoffMs?: number };
    return httpReward({ url: name, timeoutMs, retries, backoffMs });
  }
  const factory = REWARDS[name];
  if (!factory) throw new UserError(`unknown reward "${name}" (known: ${Object.keys(REWARDS).join(", ")}, or an http:// URL of a reward server)`);
  return factory(options);
}
