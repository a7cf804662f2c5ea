import { z } from "zod";

export const PretrainConfigSchema = z.strictObject({
  /** Model preset name (see `grpo-guard models`). */
  model: z.string().default("dit-s"),
  data: z
    .strictObject({
      /** "mnist" (real digits, train split) or "toy" (2-D Gaussian mixture). */
      dataset: z.enum(["mnist", "toy"]).default("mnist"),
    })
    .prefault({}),
  train: z
    .strictObject({
      steps: z.number().int().positive().default(2000),
      batchSize: z.number().int().positive().default(128),
      lr: z.number().positive().default(1e-3),
      warmupSteps: z.number().int().nonnegative().default(200),
      weightDecay: z.number().nonnegative().default(0),
      maxGradNorm: z.number().nonnegative().default(1),
      emaDecay: z.number().min(0).max(1).default(0.999),
      /** Probability of replacing the prompt with the null prompt (enables guidance). */
      labelDropout: z.number().min(0).max(1).default(0.1),
      logitNormal: z.strictObject({ mean: z.number().default(0), std: z.number().positive().default(1) }).prefault({}),
    })
    .prefault({}),
  seed: z.number().int().default(0),
  /** Where the final EMA weights go. */
  out: z.string().default("runs/pretrain/model.safetensors"),
  checkpoint: z
    .strictObject({
      dir: z.string().default("runs/pretrain"),
      every: z.number().int().positive().default(100),
    })
    .prefault({}),
});

export type PretrainConfig = z.infer<typeof PretrainConfigSchema>;
