/**
 * The grpo-guard library: `import { runTrainingJob, registerReward, … } from "grpo-guard"`.
 * Everything the `grpo-guard` command does is reachable from here — train a flow-matching
 * policy with GRPO on your own reward or your own velocity model, in-process. README.md
 * ("As a library") has a complete example.
 */

// Engine: jax-js set up for Node (call initEngine() once before any numerics).
export { initEngine, shutdownEngine, numpy, nn, random, jit, grad, valueAndGrad, vmap, tree, type JaxArray } from "./engine/jax.js";
export { UserError } from "./engine/errors.js";
export { type ParamTree, countParams, disposeTree, refTree, flattenNamed } from "./engine/tree.js";
export { saveParams, readSafetensorsFile, encodeSafetensors, decodeSafetensors, type TensorRecord, type SafetensorsFile } from "./engine/safetensors.js";
export { writeCheckpoint, readLatestCheckpoint, listCheckpoints } from "./engine/checkpoint.js";
export { KeyChain, HostRng } from "./engine/prng.js";

// Configuration: the zod schema, and loading YAML/JSON with `--set`-style overrides.
export { TrainConfigSchema, type TrainConfig } from "./config/train.js";
export { trainConfigIssues, CPS_MAX_ETA } from "./config/train-checks.js";
export { loadConfig, validateConfig, applyOverrides, readConfigFile } from "./config/load.js";

// Training: the GRPO trainer, and a run on disk (metrics, checkpoints, exact resume).
export {
  GrpoTrainer,
  type WeightedReward,
  type EpochRecord,
  type EvalRecord,
  type FaultEvent,
  type TrainerLogger,
} from "./rl/trainer.js";
export { runTrainingJob, checkPrompts, NoCheckpointError, RunExistsError, type RunHooks, type RunOutcome } from "./rl/run.js";
export { runPaths, readRunConfig, resolveConfigPaths, type RunPaths } from "./rl/run-dir.js";
export { groupAdvantages, type AdvantageOptions, type AdvantageResult } from "./rl/advantages.js";
export { OBJECTIVES, objectiveByName, type PolicyObjective } from "./rl/objectives.js";

// Rewards: the interface, the registry (add your own with registerReward), the HTTP bridge.
export type { Reward, RewardBatch } from "./rewards/reward.js";
export { REWARDS, createReward, registerReward, parseRewardOptions } from "./rewards/registry.js";
export { REWARD_OPTION_SCHEMAS, HttpRewardOptionsSchema } from "./rewards/options.js";
export { digitOcrReward, DigitReader, promptDigit } from "./rewards/digit-ocr.js";
export { aestheticReward, aestheticScore } from "./rewards/aesthetic.js";
export { toyModeReward } from "./rewards/toy.js";
export { httpReward, createRewardServer, listen, type HttpRewardOptions } from "./rewards/http.js";
export { GoldPanel, type GoldMetrics } from "./rewards/gold.js";

// Models: the VelocityModel interface, presets, weights.
export type { VelocityModel, ModelConfigBase, ApplyOptions } from "./models/model.js";
export { MODEL_PRESETS, createModel, presetConfig, type ModelConfig } from "./models/registry.js";
export { loadVelocityModel, loadClassifier } from "./models/io.js";
export { loadPolicy, loadCheckpointPolicy, checkpointAt, checkpointEpochs, checkpointAtProxy, measureCheckpointProxy, knownProxies } from "./rl/policy.js";
export { tokenizePrompt, promptTokens, DIGIT_VOCAB } from "./models/prompts.js";

// Sampling: the schedule (E1), dynamics (E2–E5), the SDE window (E6), samplers.
export { shiftedSchedule, type TimestepSchedule } from "./sampling/schedule.js";
export { DYNAMICS, dynamicsByName, odeDynamics, flowSdeDynamics, danceSdeDynamics, cpsDynamics, type Dynamics, type StepCoefficients } from "./sampling/dynamics.js";
export { selectWindow, trainableSteps, type WindowConfig } from "./sampling/window.js";
export { OdeSampler, initialNoise } from "./sampling/ode.js";
export { SdeSampler } from "./sampling/sde.js";

// Diagnostics: per-step ratio statistics (E11), the over-optimisation alarm, metrics files.
export { stepStats, summarize, histogram, type StepStats } from "./diagnostics/ratio-stats.js";
export { initialAlarmState, updateAlarm, type AlarmState } from "./diagnostics/alarm.js";
export { MetricsWriter, readMetrics, type MetricsRecord } from "./diagnostics/metrics.js";
export { readValidatedMetrics, validateMetricsRecord, MetricsRecordSchema } from "./diagnostics/metrics-schema.js";
