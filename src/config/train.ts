/**
 * The RL training configuration (`grpo-guard train --config FILE`): one section per module.
 */
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { checkTrainConfig } from "./train-checks.js";

/** GARDO's shipped auxiliary classifier (E14), by absolute path so a run works from any directory. */
const SHIPPED_AUX_CLASSIFIER = fileURLToPath(new URL("../../../weights/aux-cnn.safetensors", import.meta.url));

const windowSchema = z.discriminatedUnion("mode", [
  z.strictObject({ mode: z.literal("all") }),
  z.strictObject({ mode: z.literal("fixed"), start: z.number().int().nonnegative(), size: z.number().int().positive() }),
  z.strictObject({ mode: z.literal("random"), candidates: z.array(z.number().int().positive()).min(1) }),
  z.strictObject({
    mode: z.literal("sliding"),
    size: z.number().int().positive(),
    stride: z.number().int().positive().default(1),
    /** Epochs per window position (τ); "auto" = one sweep over the run: ⌊epochs/(⌊(L−w)/s⌋+1)⌋ (E17). */
    every: z.union([z.number().int().positive(), z.literal("auto")]).default(1),
    /** L: the window stays inside the first L trainable steps (MixGRPO: N − 2); default all. */
    limit: z.number().int().positive().optional(),
  }),
  /** TempFlow branching (E17 i): ODE before step b, one SDE step at b, ODE after; b drawn from the
   *  first `firstSteps` trainable steps, once per epoch for every group (testbed choice). */
  z.strictObject({ mode: z.literal("branch"), firstSteps: z.number().int().positive().default(6) }),
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
  /** The surrogate (src/rl/objectives.ts): flow-grpo (E8) | grpo-guard (E9–E10) | flow-dppo (E16). */
  algorithm: z.enum(["flow-grpo", "grpo-guard", "flow-dppo"]).default("grpo-guard"),
  /** flow-sde | dance-sde | cps (src/sampling/dynamics.ts). DanceGRPO = flow-grpo on dance-sde. */
  dynamics: z.enum(["flow-sde", "dance-sde", "cps"]).default("flow-sde"),
  sampling: z
    .strictObject({
      steps: z.number().int().min(2).default(10),
      shift: z.number().positive().default(3),
      /** Noise level η (> 0; CPS: 0 < η ≤ 1, see train-checks.ts). */
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
    .strictObject({
      globalNormalize: z.boolean().default(false),
      clip: z.number().positive().default(5),
      /** r − mean_group divided by the group's std (E7) or by the batch's reward std (Flow-DPPO, E16). */
      std: z.enum(["group", "batch"]).default("group"),
      /** Reward transform before E7: raw, or Pref-GRPO's within-group win rate (E18). */
      reward: z.enum(["raw", "win-rate"]).default("raw"),
      /** E18: |r_j − r_j'| ≤ tieTolerance counts as a tie (½ each). */
      tieTolerance: z.number().nonnegative().default(0),
    })
    .prefault({}),
  train: z
    .strictObject({
      epochs: z.number().int().positive().default(20),
      innerEpochs: z.number().int().positive().default(1),
      /** Trajectories per minibatch (one optimizer step); must divide prompts.perEpoch × groupSize. */
      minibatch: z.number().int().positive().default(32),
      /** Rows (trained steps × trajectories) per batched forward/backward; gradients of the
       *  chunks are accumulated into one optimizer step. Peak memory grows with it (≈ 11 MiB per
       *  dit-s row); 64 keeps the canonical epoch near 1 GiB at 96's speed (docs/performance.md). */
      chunkRows: z.number().int().positive().default(64),
      lr: z.number().positive().default(1e-4),
      weightDecay: z.number().nonnegative().default(0),
      maxGradNorm: z.number().nonnegative().default(1),
      clipLow: z.number().positive().default(1e-4),
      clipHigh: z.number().positive().default(1e-4),
      /** E8/E13 KL to the frozen reference: β_KL (sweep 0, 0.01, 0.04, 0.16) and its form (x: ÷2σ_s², Flow-GRPO). */
      kl: z.strictObject({ beta: z.number().nonnegative().default(0), type: z.enum(["x", "v"]).default("x") }).prefault({}),
      /** Per-step loss weights, one option (E17): auto = the algorithm's (guard for grpo-guard, else none). */
      stepWeights: z.enum(["auto", "none", "guard", "tempflow"]).default("auto"),
      /** Flow-DPPO's trust region δ on the per-dimension KL k (E16). */
      trustRegion: z.number().positive().default(1e-5),
      /** NormGuard (E15): λ·mean max(0, n_θ − sg(n_ref)); λ = 0 = off. */
      normGuard: z
        .strictObject({ lambda: z.number().nonnegative().default(0), form: z.enum(["absolute", "relative"]).default("absolute") })
        .prefault({}),
      emaDecay: z.number().min(0).max(1).default(0.9),
    })
    .prefault({}),
  /** GARDO (E14): gated KL, adaptive risk p, reference resets, diversity-aware advantages. */
  gardo: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Auxiliary rewards (like `rewards`): they feed only the gate, never the advantages. */
      aux: z
        .array(z.strictObject({ name: z.string(), options: z.record(z.string(), z.unknown()).default({}) }))
        .default([{ name: "digit-ocr", options: { weights: SHIPPED_AUX_CLASSIFIER } }]),
      /** Features of the diversity term: a digit classifier's penultimate layer, or null = the samples. */
      features: z.string().nullable().default(SHIPPED_AUX_CLASSIFIER),
      /** sgnU: +1 = U > 0 when the proxy rates a sample above the auxiliaries; −1 = the released code. */
      sign: z.union([z.literal(1), z.literal(-1)]).default(1),
      /** R: reset the reference at least every R epochs. */
      resetEvery: z.number().int().positive().default(15),
      /** κ: an optimizer step with mean KL > κ resets the reference at the next epoch. */
      klThreshold: z.number().positive().default(3e-4),
      /** Diversity-aware advantages (E14 e) instead of E7. */
      diversity: z.boolean().default(true),
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
      /** Half-range of the per-step log-ratio histograms; "auto" = max(2·log(1+ε), observed |p1|, |p99|). */
      histogramRange: z.union([z.literal("auto"), z.number().positive()]).default("auto"),
      histogramBins: z.number().int().positive().default(40),
      /** ‖v_θ‖/‖v_ref‖ (E15) on the trained states of the on-policy minibatch every N epochs (one
       *  reference forward pass); 0 = off. */
      velocityNormEvery: z.number().int().nonnegative().default(1),
      /** ‖v_θ‖/‖v_ref‖ along θ's evaluation ODE (one extra forward per evaluation step). */
      velocityNormEval: z.boolean().default(true),
    })
    .prefault({}),
  output: z.strictObject({ dir: z.string().default("runs") }).prefault({}),
  checkpoint: z
    .strictObject({
      /** Write the full training state every N epochs (and at exit). */
      every: z.number().int().positive().default(5),
      keep: z.number().int().positive().default(3),
      /** When the run has finished, evaluate (proxy and gold, as its own evaluations) every kept
       *  checkpoint it did not evaluate — denser matched-proxy readings (src/rl/checkpoint-evals.ts). */
      evaluate: z.boolean().default(false),
    })
    .prefault({}),
  faults: z
    .strictObject({
      /** Stop after this many skipped optimizer steps or epochs (non-finite loss/grad/reward). */
      maxSkipped: z.number().int().nonnegative().default(10),
    })
    .prefault({}),
})
  // Cross-field checks (minibatch vs samples, window vs trainable steps, CPS η, reward options).
  .superRefine(checkTrainConfig);

export type TrainConfig = z.infer<typeof TrainConfigSchema>;
