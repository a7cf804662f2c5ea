/**
 * Prompts. Today a prompt is a digit ("3"); the interface is a short whitespace-separated
 * word sequence ("3 bold") mapped through the model's vocabulary to token ids, padded with
 * −1 to the model's prompt length. The empty prompt "" is the unconditional (null) prompt.
 */
import { numpy as np, type JaxArray } from "../engine/jax.js";
import { UserError } from "../engine/errors.js";

export const DIGIT_VOCAB = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"] as const;

export function tokenizePrompt(prompt: string, vocab: readonly string[], length: number): number[] {
  const words = prompt.trim() === "" ? [] : prompt.trim().split(/\s+/);
  if (words.length > length) {
    throw new UserError(`prompt "${prompt}" has ${words.length} words; this model takes at most ${length}`);
  }
  const ids = words.map((word) => {
    const id = vocab.indexOf(word);
    if (id < 0) throw new UserError(`prompt "${prompt}": unknown word "${word}" (vocabulary: ${vocab.join(", ")})`);
    return id;
  });
  while (ids.length < length) ids.push(-1);
  return ids;
}

/** Host token ids [B × L] for a batch of prompts. */
export function tokenizePrompts(prompts: readonly string[], vocab: readonly string[], length: number): Int32Array {
  const out = new Int32Array(prompts.length * length);
  prompts.forEach((prompt, i) => out.set(tokenizePrompt(prompt, vocab, length), i * length));
  return out;
}

export function promptTokens(prompts: readonly string[], vocab: readonly string[], length: number): JaxArray {
  return np.array(tokenizePrompts(prompts, vocab, length), { shape: [prompts.length, length], dtype: np.int32 });
}
