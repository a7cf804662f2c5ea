/**
 * Epoch hooks: the places where a method acts outside the loss — at the start of an epoch
 * (reference resets), after the group advantages (advantage shaping, per-sample loss inputs
 * such as a KL gate) and after each optimizer step. The trainer calls every configured hook at
 * these points; it knows no method by name. Today: GARDO (E14). (MixGRPO's window schedule
 * is a window mode, src/sampling/window.ts; Pref-GRPO's win rate a reward transform.)
 */
import { resolve } from "node:path";
import { UserError } from "../engine/errors.js";
import type { TrainConfig } from "../config/train.js";
import { DigitReader } from "../rewards/digit-ocr.js";
import { createReward } from "../rewards/registry.js";
import type { Reward } from "../rewards/reward.js";
import type { ChunkRows } from "./epoch-stats.js";
import { diversityAdvantages, gates, ReferenceResets, RiskCompensator, uncertainty } from "./gardo.js";

export interface ShapeContext {
  /** The weighted proxy reward Σ_k w_k·r_k per sample. */
  proxy: Float32Array;
  images: Float32Array;
  sampleShape: number[];
  prompts: readonly string[];
  groupSize: number;
  clip: number;
  advantages: Float32Array;
}

export interface Shaped {
  advantages?: Float32Array;
  /** Per-sample inputs of the loss rows (e.g. `gate`). */
  perSample?: Record<string, Float32Array>;
}

export interface EpochHook {
  readonly name: string;
  /** At the start of an epoch: whether the frozen reference becomes a copy of θ now. */
  resetReference?(epoch: number): boolean;
  shape?(context: ShapeContext): Promise<Shaped>;
  afterStep?(chunks: readonly ChunkRows[]): void;
  /** The hook's epoch-level state for the epoch record (methodState). */
  state(): Record<string, number>;
  save(): unknown;
  restore(saved: unknown): void;
  dispose?(): void;
}

interface GardoSaved {
  p: number;
  history: number[];
  lastReset: number;
  flag: boolean;
  resets: number[];
}

export class GardoHook implements EpochHook {
  readonly name = "gardo";
  private readonly aux: Reward[];
  private readonly featureReader: DigitReader | null;
  private readonly risk = new RiskCompensator();
  private readonly resets: ReferenceResets;
  private last: Record<string, number> = {};

  constructor(readonly options: TrainConfig["gardo"]) {
    this.aux = options.aux.map((r) => createReward(r.name, r.options));
    this.featureReader = options.features === null ? null : DigitReader.fromFile(resolve(options.features));
    this.resets = new ReferenceResets(options.resetEvery, options.klThreshold);
  }

  resetReference(epoch: number): boolean {
    return this.resets.shouldReset(epoch);
  }

  async shape({ proxy, images, sampleShape, prompts, groupSize, clip, advantages }: ShapeContext): Promise<Shaped> {
    const aux = await Promise.all(this.aux.map((reward) => reward.score({ images, sampleShape, prompts })));
    const U = uncertainty(proxy, aux, this.options.sign);
    const { gate, p, threshold } = gates(U, this.risk);
    let shaped = advantages;
    if (this.options.diversity) {
      const features = this.featureReader ? await this.featureReader.features(images, sampleShape) : images;
      shaped = diversityAdvantages(proxy, features, features.length / proxy.length, groupSize, clip);
    }
    this.last = { gatedFraction: gate.reduce((a, b) => a + b, 0) / gate.length, p, threshold: Number.isFinite(threshold) ? threshold : -1 };
    return { advantages: shaped, perSample: { gate } };
  }

  afterStep(chunks: readonly ChunkRows[]): void {
    let sum = 0;
    let count = 0;
    for (const chunk of chunks) {
      const kl = chunk.values.klRef;
      for (let i = 0; i < kl.length; i++) sum += kl[i];
      count += kl.length;
    }
    if (count) this.resets.observeKl(sum / count);
  }

  state(): Record<string, number> {
    return { ...this.last, resets: this.resets.resets.length, lastReset: this.resets.lastReset };
  }

  save(): GardoSaved {
    return { p: this.risk.p, history: [...this.risk.history], lastReset: this.resets.lastReset, flag: this.resets.flag, resets: [...this.resets.resets] };
  }

  restore(saved: unknown): void {
    const s = saved as GardoSaved;
    this.risk.p = s.p;
    this.risk.history = [...s.history];
    this.resets.lastReset = s.lastReset;
    this.resets.flag = s.flag;
    this.resets.resets = [...s.resets];
  }

  dispose(): void {
    for (const reward of this.aux) reward.dispose?.();
    this.featureReader?.dispose();
  }
}

/** The hooks a config asks for. */
export function epochHooks(config: TrainConfig): EpochHook[] {
  const hooks: EpochHook[] = [];
  if (config.gardo.enabled) {
    if (config.train.kl.beta <= 0) throw new UserError("gardo.enabled needs train.kl.beta > 0 (GARDO gates the KL to the reference; E14 uses 0.01–0.07)");
    if (config.gardo.aux.length === 0) throw new UserError("gardo.aux must name at least one auxiliary reward");
    hooks.push(new GardoHook(config.gardo));
  }
  return hooks;
}
