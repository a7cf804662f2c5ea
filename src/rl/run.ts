/**
 * A training run on disk: `runs/<name>/` holds the resolved config, `metrics.jsonl`
 * (epoch, eval and fault records), evaluation grids (`images/`), checkpoints of the full
 * training state, and the final EMA policy (layout: run-dir.ts). A run killed at any instant
 * resumes from its last complete checkpoint and continues exactly (same noise, prompts,
 * minibatch order).
 */
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import { UserError } from "../engine/errors.js";
import { listCheckpoints, readLatestCheckpoint, writeCheckpoint } from "../engine/checkpoint.js";
import { saveParams, treeFromTensors } from "../engine/safetensors.js";
import { disposeTree, refTree, type ParamTree } from "../engine/tree.js";
import type { TrainConfig } from "../config/train.js";
import { encodeGridPng } from "../diagnostics/image-grid.js";
import { MetricsWriter } from "../diagnostics/metrics.js";
import type { VelocityModel } from "../models/model.js";
import { initialAlarmState, updateAlarm, type AlarmState } from "../diagnostics/alarm.js";
import type { GoldPanel } from "../rewards/gold.js";
import { numpy as np } from "../engine/jax.js";
import { tokenizePrompt } from "../models/prompts.js";
import { GrpoTrainer, type EpochRecord, type EvalRecord, type FaultEvent, type TrainerMeta, type WeightedReward } from "./trainer.js";
import { DRIFT_REFERENCE_TENSOR, epochMetrics, evalMetrics, resolveConfigPaths, runPaths, type RunPaths } from "./run-dir.js";
import { evaluateCheckpoints, type CheckpointEval, type CheckpointEvalsDone } from "./checkpoint-evals.js";

interface CheckpointMeta {
  trainer: TrainerMeta;
  metricsOffset: number;
  alarm: AlarmState;
}

export interface RunHooks {
  onEpoch?(record: EpochRecord): void;
  onEvaluation?(record: EvalRecord): void;
  onFault?(event: FaultEvent): void;
  /** `checkpoint.evaluate`: a kept checkpoint evaluated after training (`done` of `of`). */
  onCheckpointEval?(record: CheckpointEval, done: number, of: number): void;
  log?(line: string): void;
}

export interface RunOutcome {
  paths: RunPaths;
  first?: EvalRecord;
  last?: EvalRecord;
  interrupted: boolean;
  epochs: number;
  /** Epoch at which the over-optimisation alarm fired, if it did. */
  alarmEpoch: number | null;
  /** `checkpoint.evaluate` on a finished run: the kept checkpoints evaluated now, and those a stop left. */
  checkpointEvals?: CheckpointEvalsDone;
}

/** `--resume` of a run that has recorded epochs but no checkpoint to continue from. */
export class NoCheckpointError extends UserError {
  override readonly name = "NoCheckpointError";
}

/** A fresh run whose directory already holds another run's records or checkpoints. */
export class RunExistsError extends UserError {
  override readonly name = "RunExistsError";
}

/** Every prompt (prompts.pool, eval.prompts) must be readable by the model and every reward. */
export function checkPrompts(config: TrainConfig, model: VelocityModel, rewards: readonly WeightedReward[]): void {
  const lists: [string, readonly string[]][] = [["prompts.pool", config.prompts.pool]];
  if (config.eval.prompts) lists.push(["eval.prompts", config.eval.prompts]);
  for (const [field, prompts] of lists) {
    prompts.forEach((prompt, i) => {
      try {
        tokenizePrompt(prompt, model.config.vocab, model.config.promptLength);
        for (const { reward } of rewards) reward.checkPrompt?.(prompt);
      } catch (err) {
        if (err instanceof UserError) throw new UserError(`${field}.${i}: ${err.message}`);
        throw err;
      }
    });
  }
}

const fileSize = (path: string): number => (existsSync(path) ? statSync(path).size : 0);

function fsError(err: unknown, what: string): UserError {
  const e = err as NodeJS.ErrnoException;
  return new UserError(`${what}: cannot write (${e.code ?? "error"}: ${e.message.replace(/^[A-Z]+: /, "")})`);
}

/**
 * Train `config` in `paths.dir`, resuming from its newest valid checkpoint when `resume`.
 * `stopRequested` is polled after every epoch (SIGINT/SIGTERM → checkpoint, clean exit) and
 * before each checkpoint evaluation (`checkpoint.evaluate`: a finished run evaluates its kept,
 * unevaluated checkpoints as its evaluations do; a stop leaves the rest to a later call).
 */
export async function runTrainingJob(
  config: TrainConfig,
  model: VelocityModel,
  params: ParamTree,
  rewards: readonly WeightedReward[],
  options: {
    /** The run directory (default `output.dir/name`); `--resume DIR` passes DIR. */
    runDir?: string;
    resume?: boolean;
    /** Discard the run's records and checkpoints and start it over (fresh or resumed). */
    restart?: boolean;
    stopRequested?: () => boolean;
    hooks?: RunHooks;
    gold?: GoldPanel | null;
  } = {},
): Promise<RunOutcome> {
  const hooks = options.hooks ?? {};
  const log = hooks.log ?? (() => {});
  const paths = runPaths(options.runDir ?? join(config.output.dir, config.name));
  checkPrompts(config, model, rewards);
  const hasRecords = fileSize(paths.metrics) > 0;
  const hasCheckpoints = listCheckpoints(paths.checkpoints).length > 0;
  if (!options.resume && (hasRecords || hasCheckpoints) && !options.restart) {
    throw new RunExistsError(`${paths.dir} already holds a run; continue it with --resume ${paths.dir}, start it over with --restart, or choose another name (--set name=…)`);
  }
  let found = options.resume && !options.restart ? readLatestCheckpoint<CheckpointMeta>(paths.checkpoints, log) : null;
  if (options.resume && !found && hasRecords && !options.restart) {
    throw new NoCheckpointError(
      `${paths.dir}: metrics.jsonl holds records but there is no valid checkpoint in ${paths.checkpoints} to continue from; resuming would start over and discard them — pass --restart to start the run over`,
    );
  }
  if (options.restart && (hasRecords || hasCheckpoints)) {
    rmSync(paths.checkpoints, { recursive: true, force: true });
    rmSync(paths.images, { recursive: true, force: true });
    for (const file of [paths.metrics, paths.policy, paths.bestGold]) rmSync(file, { force: true });
    log(`restarting ${paths.dir}: its records and checkpoints were removed`);
  }
  try {
    mkdirSync(paths.images, { recursive: true });
    // A resumed run keeps its config.yaml (the record of the run); a fresh one stores its paths absolute.
    if (!options.resume || !existsSync(paths.config)) writeFileSync(paths.config, toYaml(resolveConfigPaths(config, process.cwd())));
  } catch (err) {
    throw fsError(err, `output.dir: run directory ${paths.dir}`);
  }
  const metrics = new MetricsWriter(paths.metrics);
  let alarm = initialAlarmState();
  let alarmAction: "stop" | "rollback" | null = null;
  const pendingSaves: Promise<void>[] = [];
  const trainer: GrpoTrainer = new GrpoTrainer(config, model, params, rewards, {
    epoch: (record) => {
      metrics.append(epochMetrics(record) as never);
      hooks.onEpoch?.(record);
    },
    evaluation: (record) => {
      metrics.append(evalMetrics(record) as never);
      if (record.gold) {
        const update = updateAlarm(alarm, record.epoch, record.proxy, record.gold.gold, config.alarm.patience);
        alarm = update.state;
        if (update.improved) {
          const snapshot = refTree(trainer.emaParams); // owned: training moves on while it is written
          const meta = { format: "grpo-guard/model", config: model.config, epoch: String(record.epoch), gold: String(record.gold.gold) };
          pendingSaves.push(saveParams(paths.bestGold, snapshot, meta).finally(() => disposeTree(snapshot)));
        }
        if (update.fired) {
          const detail = `proxy rose while the gold score fell for ${config.alarm.patience} consecutive evaluations (proxy ${record.proxy.toFixed(4)}, gold ${record.gold.gold.toFixed(4)}; best gold ${alarm.best!.gold.toFixed(4)} at epoch ${alarm.best!.epoch})`;
          metrics.append({ type: "alarm", epoch: record.epoch, action: config.alarm.action, detail });
          log(`over-optimisation alarm at epoch ${record.epoch}: ${detail}`);
          if (config.alarm.action !== "log") alarmAction = config.alarm.action;
        }
      }
      if (record.sampleShape.length === 3) {
        const grid = join(paths.images, `eval-${String(record.epoch).padStart(4, "0")}.png`);
        try {
          writeFileSync(grid, encodeGridPng(record.images, { cols: config.eval.perPrompt, shape: record.sampleShape }));
        } catch (err) {
          throw fsError(err, grid);
        }
      }
      hooks.onEvaluation?.(record);
    },
    fault: (event) => {
      metrics.append({ type: "fault", ...event });
      hooks.onFault?.(event);
    },
  }, options.gold ?? null);

  let first: EvalRecord | undefined;
  if (options.resume) {
    if (found) {
      const { tensors } = trainer.exportState();
      const reference = found.tensors.get(DRIFT_REFERENCE_TENSOR);
      found.tensors.delete(DRIFT_REFERENCE_TENSOR);
      trainer.importState(treeFromTensors(tensors, found.tensors, found.file), found.meta.trainer);
      metrics.truncateTo(found.meta.metricsOffset);
      alarm = found.meta.alarm ?? initialAlarmState();
      if (options.gold && reference) options.gold.driftReference = reference.data;
      log(`resumed ${paths.dir} at epoch ${trainer.epoch} from ${found.file}`);
      found = null;
    } else {
      metrics.truncateTo(0);
      log(`no valid checkpoint in ${paths.checkpoints}; starting ${paths.dir} from the beginning`);
    }
  }

  // The scheduled saves; a checkpoint written on a stop, an alarm or a failure between them is replaced by the next one (writeCheckpoint's onSchedule).
  const onCheckpointSchedule = (epoch: number): boolean => epoch % config.checkpoint.every === 0 || epoch === config.train.epochs;
  const checkpoint = async (): Promise<void> => {
    await Promise.all(pendingSaves.splice(0));
    const { tensors, meta } = trainer.exportState();
    const reference = options.gold?.driftReference;
    const state: ParamTree = reference ? { ...tensors, [DRIFT_REFERENCE_TENSOR]: np.array(reference) } : tensors;
    await writeCheckpoint(paths.checkpoints, trainer.epoch, state, { trainer: meta, metricsOffset: metrics.offset(), alarm } satisfies CheckpointMeta, config.checkpoint.keep, onCheckpointSchedule);
    if (reference) (state[DRIFT_REFERENCE_TENSOR] as ReturnType<typeof np.array>).dispose();
  };

  const every = config.eval.every;
  const total = config.train.epochs;
  let last: EvalRecord | undefined;
  let interrupted = false;
  let outcome: RunOutcome;
  try {
    if (trainer.epoch === 0) {
      if (every > 0) first = last = await trainer.evaluate();
      await checkpoint();
    }
    while (trainer.epoch < total) {
      // Yield to the event loop once per epoch: without worker threads every await may resolve
      // as a microtask, and signal handlers (SIGINT/SIGTERM) would never get to run.
      await new Promise((resolve) => setImmediate(resolve));
      try {
        await trainer.runEpoch();
      } catch (err) {
        // Keep every finished epoch: checkpoint the state before the failed one, then report.
        if (trainer.rewindFailedEpoch()) {
          await checkpoint();
          log(`epoch ${trainer.epoch + 1} failed; checkpoint of epoch ${trainer.epoch} written — fix the cause and continue with --resume ${paths.dir}`);
        }
        throw err;
      }
      if (trainer.skippedSteps + trainer.skippedEpochs > config.faults.maxSkipped) {
        await checkpoint();
        throw new UserError(
          `${paths.dir}: ${trainer.skippedSteps} optimizer steps and ${trainer.skippedEpochs} epochs skipped for non-finite values (limit faults.maxSkipped = ${config.faults.maxSkipped}); see metrics.jsonl — lower train.lr or check the rewards`,
        );
      }
      if (every > 0 && (trainer.epoch % every === 0 || trainer.epoch === total)) last = await trainer.evaluate();
      if (onCheckpointSchedule(trainer.epoch) || alarmAction) await checkpoint();
      if (alarmAction) {
        log(`stopping at epoch ${trainer.epoch} (alarm.action = ${alarmAction})`);
        break;
      }
      if (options.stopRequested?.() && trainer.epoch < total) {
        await checkpoint();
        interrupted = true;
        log(`stopped at epoch ${trainer.epoch}; checkpoint written — continue with --resume ${paths.dir}`);
        break;
      }
    }
    await Promise.all(pendingSaves.splice(0));
    if (!interrupted) {
      if (alarmAction === "rollback" && existsSync(paths.bestGold)) {
        copyFileSync(paths.bestGold, paths.policy);
        log(`rolled back: ${paths.policy} is the best-gold policy (epoch ${alarm.best?.epoch})`);
      } else {
        await saveParams(paths.policy, trainer.emaParams, { format: "grpo-guard/model", config: model.config, trainedWith: config });
      }
    }
    outcome = { paths, first, last, interrupted, epochs: trainer.epoch, alarmEpoch: alarm.firedAt };
  } finally {
    trainer.dispose();
  }
  if (!interrupted && config.checkpoint.evaluate) {
    // After the trainer is released (one policy in memory at a time), with the run's own gold panel;
    // each evaluation is reported once, through the hook (as evaluations are, through onEvaluation).
    const gold = options.gold ?? null;
    outcome.checkpointEvals = await evaluateCheckpoints(paths.dir, gold ? async () => gold : null, {
      stopRequested: options.stopRequested,
      onEvaluated: hooks.onCheckpointEval,
    });
  }
  return outcome;
}
