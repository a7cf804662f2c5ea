/**
 * The RL training configuration (`grpo-guard train --config FILE`): one section per module.
 */
import { z } from "zod";

const windowSchema = z.discriminatedUnion("mode", [
  z.strictObject({ mode: z.literal("all") }),
  z.strictObject({ mode: z.literal("fixed"), start: z.number().int().nonnegative(), size: z.number().int().positive() }),
  z.strictObject({ mode: z.literal("random"), candidates: z.array(z.number().int().positive()).min(1) }),
  z.strictObject({
    mode: z.literal("sliding"),
    size: z.number().int().positive(),
    stride: z.number().int().positive().default(1),
    every: z.number().int().positive().default(1),
  }),
]);

export const TrainConfigSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, "letters, digits, '.', '_' and '-' only").default("run"),
  seed: z.number().int().default(0),
  model: z
    .strictObject({
      /** Velocity-model weights (safetensors with config metadata). */
      weights: z.string().nullish(),
      /** Or a preset, freshly initialised (tests, toys). */
      preset: z.string().optional(),
    })
    .prefault({}),
  /** flow-grpo | grpo-guard (src/rl/objectives.ts). */
  algorithm: z.enum(["flow-grpo", "grpo-guard"]).default("grpo-guard"),
  /** flow-sde | dance-sde | cps (src/sampling/dynamics.ts). DanceGRPO = flow-grpo on dance-sde. */
  dynamics: z.enum(["flow-sde", "dance-sde", "cps"]).default("flow-sde"),
  sampling: z
    .strictObject({
      steps: z.number().int().min(2).default(10),
      shift: z.number().positive().default(3),
      /** Noise level η (> 0). */
      eta: z.number().positive().default(0.7),
      window: windowSchema.default({ mode: "all" }),
      /** Same initial noise for every sample of a group. */
      sharedNoise: z.boolean().default(false),
    })
    .prefault({}),
  prompts: z
    .strictObject({
      /** The prompt pool; each epoch draws `perEpoch` of them (without replacement when possible). */
      pool: z.array(z.string()).min(1).default(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]),
      perEpoch: z.number().int().positive().default(8),
    })
    .prefault({}),
  groupSize: z.number().int().min(2, "a group needs at least 2 samples").default(8),
  rewards: z
    .array(z.strictObject({ name: z.string(), weight: z.number().default(1), options: z.record(z.string(), z.unknown()).default({}) }))
    .min(1)
    .default([{ name: "digit-ocr", weight: 1, options: {} }]),
  advantages: z
    .strictObject({ globalNormalize: z.boolean().default(false), clip: z.number().positive().default(5) })
    .prefault({}),
  train: z
    .strictObject({
      epochs: z.number().int().positive().default(20),
      innerEpochs: z.number().int().positive().default(1),
      /** Trajectories per minibatch (all trained steps of each go into one forward/backward). */
      minibatch: z.number().int().positive().default(32),
      /** Rows (trained steps × trajectories) per batched forward/backward; gradients of the
       *  chunks are accumulated into one optimizer step. Bounded by jax-js's 4 GiB wasm memory. */
      chunkRows: z.number().int().positive().default(96),
      lr: z.number().positive().default(1e-4),
      weightDecay: z.number().nonnegative().default(0),
      maxGradNorm: z.number().nonnegative().default(1),
      clipLow: z.number().positive().default(1e-4),
      clipHigh: z.number().positive().default(1e-4),
      kl: z.strictObject({ beta: z.number().nonnegative().default(0), type: z.enum(["x", "v"]).default("x") }).prefault({}),
      emaDecay: z.number().min(0).max(1).default(0.9),
    })
    .prefault({}),
  eval: z
    .strictObject({
      /** Evaluate every N epochs (0 = never), and after the last epoch. */
      every: z.number().int().nonnegative().default(5),
      steps: z.number().int().positive().default(20),
      /** Samples per prompt: 32 puts the gold panel's noise floors well below between-method differences (docs/gold-panel.md#evaluation-size). */
      perPrompt: z.number().int().positive().default(32),
      prompts: z.array(z.string()).optional(),
      seed: z.number().int().default(12345),
    })
    .prefault({}),
  gold: z
    .strictObject({
      /** The gold panel (judge accuracy, KID, Fréchet, diversity, near-duplicates, drift; docs/gold-panel.md) at every evaluation:
       *  "auto" = on for 28×28 digit models. */
      enabled: z.enum(["auto", "on", "off"]).default("auto"),
      judge: z.string().optional(),
      /** The second feature space (KID, diversity, near-duplicates): default weights/gold-cnn.safetensors. */
      features: z.string().optional(),
    })
    .prefault({}),
  alarm: z
    .strictObject({
      /** Consecutive evaluations with proxy up and gold down before the alarm fires. */
      patience: z.number().int().positive().default(2),
      /** log: record it; stop: end the run; rollback: end the run with the best-gold policy. */
      action: z.enum(["log", "stop", "rollback"]).default("log"),
    })
    .prefault({}),
  diagnostics: z
    .strictObject({
      /** Per-step gradient norms (one extra backward per trained step) every N epochs; 0 = off. */
      gradNormEvery: z.number().int().nonnegative().default(0),
      histogramRange: z.number().positive().default(0.05),
      histogramBins: z.number().int().positive().default(40),
    })
    .prefault({}),
  output: z.strictObject({ dir: z.string().default("runs") }).prefault({}),
  checkpoint: z
    .strictObject({
      /** Write the full training state every N epochs (and at exit). */
      every: z.number().int().positive().default(5),
      keep: z.number().int().positive().default(3),
    })
    .prefault({}),
  faults: z
    .strictObject({
      /** Stop after this many skipped optimizer steps or epochs (non-finite loss/grad/reward). */
      maxSkipped: z.number().int().nonnegative().default(10),
    })
    .prefault({}),
});

export type TrainConfig = z.infer<typeof TrainConfigSchema>;
