/**
 * `digit-ocr`: the proxy "OCR" reward (the GenEval/OCR analogue of the paper) — the shipped
 * digit classifier's probability that the image shows the prompted digit. The prompt's
 * digit is its first word that is a single digit ("3", "3 bold").
 */
import { fileURLToPath } from "node:url";
import { jit, nn, numpy as np, type JaxArray } from "../engine/jax.js";
import { UserError } from "../engine/errors.js";
import { disposeTree, refTree, type ParamTree } from "../engine/tree.js";
import type { Classifier } from "../models/classifier.js";
import { loadClassifier } from "../models/io.js";
import type { Reward, RewardBatch } from "./reward.js";

export const DEFAULT_DIGIT_CLASSIFIER = fileURLToPath(new URL("../../../weights/digit-cnn.safetensors", import.meta.url));

export function promptDigit(prompt: string): number {
  const word = prompt.trim().split(/\s+/).find((w) => /^[0-9]$/.test(w));
  if (word === undefined) throw new UserError(`digit-ocr: prompt "${prompt}" names no digit`);
  return Number(word);
}

/** Class probabilities [B, classes] and penultimate features for host images. */
export class DigitReader {
  private readonly probs: (params: ParamTree, x: JaxArray) => JaxArray;
  private featureFn: ((params: ParamTree, x: JaxArray) => JaxArray) | null = null;

  constructor(readonly classifier: Classifier, readonly params: ParamTree) {
    this.probs = jit((p: ParamTree, x: JaxArray) => {
      const out = nn.softmax(classifier.logits(p, x), -1);
      disposeTree(p);
      return out;
    }) as never;
  }

  static fromFile(path = DEFAULT_DIGIT_CLASSIFIER): DigitReader {
    const { model, params } = loadClassifier(path);
    return new DigitReader(model, params);
  }

  private batch(images: Float32Array, sampleShape: number[]): JaxArray {
    const per = sampleShape.reduce((a, b) => a * b, 1);
    const expected = this.classifier.config.sampleShape;
    if (sampleShape.length !== expected.length || sampleShape.some((d, i) => d !== expected[i])) {
      throw new UserError(`digit classifier expects images of shape [${expected}], got [${sampleShape}]`);
    }
    return np.array(images, { shape: [images.length / per, ...sampleShape] });
  }

  async probabilities(images: Float32Array, sampleShape: number[]): Promise<Float32Array> {
    return (await this.probs(refTree(this.params), this.batch(images, sampleShape)).data()) as Float32Array;
  }

  /** Penultimate-layer features [B × featureDim] (row-major). */
  async features(images: Float32Array, sampleShape: number[]): Promise<Float32Array> {
    this.featureFn ??= jit((p: ParamTree, x: JaxArray) => {
      const out = this.classifier.features(p, x);
      disposeTree(p);
      return out;
    }) as never;
    return (await this.featureFn!(refTree(this.params), this.batch(images, sampleShape)).data()) as Float32Array;
  }

  dispose(): void {
    (this.probs as unknown as { dispose(): void }).dispose();
    (this.featureFn as unknown as { dispose(): void } | null)?.dispose();
    disposeTree(this.params);
  }
}

export function digitOcrReward(reader: DigitReader = DigitReader.fromFile()): Reward {
  const classes = reader.classifier.config.classes;
  return {
    name: "digit-ocr",
    checkPrompt: (prompt) => void promptDigit(prompt),
    async score({ images, sampleShape, prompts }: RewardBatch): Promise<Float32Array> {
      const probs = await reader.probabilities(images, sampleShape);
      return Float32Array.from(prompts, (prompt, i) => probs[i * classes + promptDigit(prompt)]);
    },
    dispose: () => reader.dispose(),
  };
}
