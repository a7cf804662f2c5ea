/**
 * Generator evaluation: sample `perPrompt` images for each digit prompt with the ODE sampler
 * (fixed seed) and let a digit classifier read them — the fraction read as the prompted
 * digit is the base model's class accuracy (the foundation issue's ≥ 90% bar).
 */
import { KeyChain } from "../engine/prng.js";
import type { ParamTree } from "../engine/tree.js";
import type { VelocityModel } from "../models/model.js";
import { initialNoise, OdeSampler } from "../sampling/ode.js";
import { DigitReader, promptDigit } from "../rewards/digit-ocr.js";

export interface SampleGridOptions {
  prompts: readonly string[];
  perPrompt: number;
  steps: number;
  shift?: number;
  guidance?: number;
  seed: number;
  /** Samples generated per sampler call. */
  batch?: number;
}

/** Generate perPrompt samples per prompt, prompt-major order; returns host images. */
export async function generateSamples(
  model: VelocityModel,
  params: ParamTree,
  options: SampleGridOptions,
  onProgress?: (done: number, total: number) => void,
): Promise<{ images: Float32Array; prompts: string[] }> {
  const prompts = options.prompts.flatMap((p) => Array.from({ length: options.perPrompt }, () => p));
  const per = model.config.sampleShape.reduce((a, b) => a * b, 1);
  const images = new Float32Array(prompts.length * per);
  const sampler = new OdeSampler(model, { steps: options.steps, shift: options.shift, guidance: options.guidance });
  const keys = new KeyChain(options.seed);
  const batch = options.batch ?? 100;
  for (let start = 0; start < prompts.length; start += batch) {
    const chunk = prompts.slice(start, start + batch);
    const x = await sampler.sample(params, initialNoise(model, keys.next(), chunk.length), chunk);
    images.set((await x.data()) as Float32Array, start * per);
    onProgress?.(Math.min(start + batch, prompts.length), prompts.length);
  }
  sampler.dispose();
  return { images, prompts };
}

export interface ClassAccuracy {
  accuracy: number;
  perPrompt: { prompt: string; accuracy: number }[];
  count: number;
}

export async function classAccuracy(reader: DigitReader, images: Float32Array, sampleShape: number[], prompts: readonly string[]): Promise<ClassAccuracy> {
  const classes = reader.classifier.config.classes;
  const correctByPrompt = new Map<string, [number, number]>();
  let correct = 0;
  for (let start = 0; start < prompts.length; start += 500) {
    const per = sampleShape.reduce((a, b) => a * b, 1);
    const chunk = prompts.slice(start, start + 500);
    const probs = await reader.probabilities(images.subarray(start * per, (start + chunk.length) * per), sampleShape);
    chunk.forEach((prompt, i) => {
      let best = 0;
      for (let c = 1; c < classes; c++) if (probs[i * classes + c] > probs[i * classes + best]) best = c;
      const hit = best === promptDigit(prompt) ? 1 : 0;
      correct += hit;
      const [h, n] = correctByPrompt.get(prompt) ?? [0, 0];
      correctByPrompt.set(prompt, [h + hit, n + 1]);
    });
  }
  return {
    accuracy: correct / prompts.length,
    perPrompt: [...correctByPrompt].map(([prompt, [h, n]]) => ({ prompt, accuracy: h / n })),
    count: prompts.length,
  };
}
