/**
 * A training run on disk: `runs/<name>/` holds the resolved config, `metrics.jsonl`
 * (epoch, eval and fault records), evaluation grids (`images/`), checkpoints of the full
 * training state, and the final EMA policy. A run killed at any instant resumes from its
 * last complete checkpoint and continues exactly (same noise, prompts, minibatch order).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { UserError } from "../engine/errors.js";
import { listCheckpoints, readLatestCheckpoint, writeCheckpoint } from "../engine/checkpoint.js";
import { saveParams, treeFromTensors } from "../engine/safetensors.js";
import type { ParamTree } from "../engine/tree.js";
import { TrainConfigSchema, type TrainConfig } from "../config/train.js";
import { validateConfig } from "../config/load.js";
import { encodeGridPng } from "../diagnostics/image-grid.js";
import { MetricsWriter } from "../diagnostics/metrics.js";
import type { VelocityModel } from "../models/model.js";
import { GrpoTrainer, type EpochRecord, type EvalRecord, type FaultEvent, type TrainerMeta, type WeightedReward } from "./trainer.js";

export interface RunPaths {
  dir: string;
  config: string;
  metrics: string;
  images: string;
  checkpoints: string;
  policy: string;
}

export function runPaths(dir: string): RunPaths {
  const root = resolve(dir);
  return {
    dir: root,
    config: join(root, "config.yaml"),
    metrics: join(root, "metrics.jsonl"),
    images: join(root, "images"),
    checkpoints: join(root, "checkpoints"),
    policy: join(root, "policy-ema.safetensors"),
  };
}

interface CheckpointMeta {
  trainer: TrainerMeta;
  metricsOffset: number;
}

export interface RunHooks {
  onEpoch?(record: EpochRecord): void;
  onEvaluation?(record: EvalRecord): void;
  onFault?(event: FaultEvent): void;
  log?(line: string): void;
}

export interface RunOutcome {
  paths: RunPaths;
  first?: EvalRecord;
  last?: EvalRecord;
  interrupted: boolean;
  epochs: number;
}

/** The resolved config of an existing run directory. */
export function readRunConfig(dir: string): TrainConfig {
  const { config } = runPaths(dir);
  if (!existsSync(config)) throw new UserError(`${dir}: not a run directory (no config.yaml)`);
  return validateConfig(TrainConfigSchema, parseYaml(readFileSync(config, "utf8")), config);
}

export function epochMetrics(record: EpochRecord): Record<string, unknown> {
  return { type: "epoch", ...record };
}

export function evalMetrics(record: EvalRecord): Record<string, unknown> {
  return { type: "eval", epoch: record.epoch, rewards: record.rewards, prompts: record.prompts };
}

/**
 * Train `config` in `paths.dir`, resuming from its newest valid checkpoint when `resume`.
 * `stopRequested` is polled after every epoch (SIGINT/SIGTERM → checkpoint, clean exit).
 */
export async function runTrainingJob(
  config: TrainConfig,
  model: VelocityModel,
  params: ParamTree,
  rewards: readonly WeightedReward[],
  options: { resume?: boolean; stopRequested?: () => boolean; hooks?: RunHooks } = {},
): Promise<RunOutcome> {
  const hooks = options.hooks ?? {};
  const log = hooks.log ?? (() => {});
  const paths = runPaths(join(config.output.dir, config.name));
  if (!options.resume && listCheckpoints(paths.checkpoints).length > 0) {
    throw new UserError(`${paths.dir} already holds a run; continue it with --resume ${paths.dir} or choose another name (--set name=…)`);
  }
  mkdirSync(paths.images, { recursive: true });
  writeFileSync(paths.config, toYaml(config));
  const metrics = new MetricsWriter(paths.metrics);
  const trainer = new GrpoTrainer(config, model, params, rewards, {
    epoch: (record) => {
      metrics.append(epochMetrics(record) as never);
      hooks.onEpoch?.(record);
    },
    evaluation: (record) => {
      metrics.append(evalMetrics(record) as never);
      if (record.sampleShape.length === 3) {
        writeFileSync(join(paths.images, `eval-${String(record.epoch).padStart(4, "0")}.png`), encodeGridPng(record.images, { cols: config.eval.perPrompt, shape: record.sampleShape }));
      }
      hooks.onEvaluation?.(record);
    },
    fault: (event) => {
      metrics.append({ type: "fault", ...event });
      hooks.onFault?.(event);
    },
  });

  let first: EvalRecord | undefined;
  if (options.resume) {
    const found = readLatestCheckpoint<CheckpointMeta>(paths.checkpoints, log);
    if (found) {
      const { tensors } = trainer.exportState();
      trainer.importState(treeFromTensors(tensors, found.tensors, found.file), found.meta.trainer);
      metrics.truncateTo(found.meta.metricsOffset);
      log(`resumed ${paths.dir} at epoch ${trainer.epoch} from ${found.file}`);
    } else {
      metrics.truncateTo(0);
      log(`no valid checkpoint in ${paths.checkpoints}; starting ${paths.dir} from the beginning`);
    }
  }

  const checkpoint = async (): Promise<void> => {
    const { tensors, meta } = trainer.exportState();
    await writeCheckpoint(paths.checkpoints, trainer.epoch, tensors, { trainer: meta, metricsOffset: metrics.offset() } satisfies CheckpointMeta, config.checkpoint.keep);
  };

  const every = config.eval.every;
  const total = config.train.epochs;
  let last: EvalRecord | undefined;
  let interrupted = false;
  try {
    if (trainer.epoch === 0) {
      if (every > 0) first = last = await trainer.evaluate();
      await checkpoint();
    }
    while (trainer.epoch < total) {
      // Yield to the event loop once per epoch: without worker threads every await may resolve
      // as a microtask, and signal handlers (SIGINT/SIGTERM) would never get to run.
      await new Promise((resolve) => setImmediate(resolve));
      await trainer.runEpoch();
      if (trainer.skippedSteps + trainer.skippedEpochs > config.faults.maxSkipped) {
        await checkpoint();
        throw new UserError(
          `${paths.dir}: ${trainer.skippedSteps} optimizer steps and ${trainer.skippedEpochs} epochs skipped for non-finite values (limit faults.maxSkipped = ${config.faults.maxSkipped}); see metrics.jsonl — lower train.lr or check the rewards`,
        );
      }
      if (every > 0 && (trainer.epoch % every === 0 || trainer.epoch === total)) last = await trainer.evaluate();
      if (trainer.epoch % config.checkpoint.every === 0 || trainer.epoch === total) await checkpoint();
      if (options.stopRequested?.() && trainer.epoch < total) {
        await checkpoint();
        interrupted = true;
        log(`stopped at epoch ${trainer.epoch}; checkpoint written — continue with --resume ${paths.dir}`);
        break;
      }
    }
    if (!interrupted) await saveParams(paths.policy, trainer.emaParams, { format: "grpo-guard/model", config: model.config, trainedWith: config });
    return { paths, first, last, interrupted, epochs: trainer.epoch };
  } finally {
    trainer.dispose();
  }
}
