/**
 * Models by name: named presets (the canonical `dit-s` of benchmark B1 among them) and a
 * builder from a config object (as stored in a weight file's metadata).
 */
import { UserError } from "../engine/errors.js";
import { createDit, type DitConfig } from "./dit.js";
import { createMlp, type MlpConfig } from "./mlp.js";
import type { VelocityModel } from "./model.js";
import { DIGIT_VOCAB } from "./prompts.js";

export type ModelConfig = DitConfig | MlpConfig;

const digits = { sampleShape: [1, 28, 28], vocab: [...DIGIT_VOCAB], promptLength: 1 };
const ditDefaults = { kind: "dit" as const, patch: 4, mlpRatio: 4, timeDim: 64, promptInitStd: 1.0 };

export const MODEL_PRESETS: Record<string, ModelConfig> = {
  /** Canonical benchmark model (B1): 28×28×1, patch 4, width 128, depth 4, 4 heads ≈ 1.08M params. */
  "dit-s": { ...ditDefaults, ...digits, width: 128, depth: 4, heads: 4 },
  /** A tiny DiT for fast tests. */
  "dit-tiny": { ...ditDefaults, ...digits, width: 32, depth: 1, heads: 2 },
  /** 2-D toy velocity field; prompts pick a mixture component ("0".."7"). */
  "mlp-2d": {
    kind: "mlp",
    sampleShape: [2],
    vocab: ["0", "1", "2", "3", "4", "5", "6", "7"],
    promptLength: 1,
    hidden: 128,
    layers: 3,
    timeDim: 16,
    promptDim: 16,
  },
};

export function presetConfig(name: string): ModelConfig {
  const preset = MODEL_PRESETS[name];
  if (!preset) throw new UserError(`unknown model preset "${name}" (known: ${Object.keys(MODEL_PRESETS).join(", ")})`);
  return structuredClone(preset);
}

export function createModel(config: ModelConfig): VelocityModel {
  switch (config.kind) {
    case "dit":
      return createDit(config) as VelocityModel;
    case "mlp":
      return createMlp(config) as VelocityModel;
    default:
      throw new UserError(`unknown model kind "${(config as { kind: unknown }).kind}" (known: dit, mlp)`);
  }
}
