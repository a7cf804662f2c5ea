/**
 * One run of a sweep, in the current process: validate the config (data only — a job can
 * never make a worker run anything else), take the run directory's lock, skip a finished run,
 * resume a partial one from its checkpoint, train, report progress.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { UserError } from "../engine/errors.js";
import { initEngine, random } from "../engine/jax.js";
import { listCheckpoints } from "../engine/checkpoint.js";
import type { ParamTree } from "../engine/tree.js";
import { validateConfig } from "../config/load.js";
import { TrainConfigSchema, type TrainConfig } from "../config/train.js";
import { loadVelocityModel } from "../models/io.js";
import type { VelocityModel } from "../models/model.js";
import { createModel, presetConfig } from "../models/registry.js";
import { createReward } from "../rewards/registry.js";
import { cachedGoldPanels, goldPanelFor } from "../rewards/gold.js";
import { evaluateCheckpoints, pendingCheckpointEvals, type CheckpointEvalsDone } from "../rl/checkpoint-evals.js";
import { runTrainingJob, type RunHooks, type RunOutcome } from "../rl/run.js";
import { runPaths } from "../rl/run-dir.js";
import { DEFAULT_BASE_MODEL } from "../cli/defaults.js";
import { runId } from "./id.js";
import { acquireLock, DEFAULT_STALE_MS } from "./lock.js";

/** What a worker receives: the resolved config as plain data, nothing else. */
export interface RunTask {
  config: unknown;
}

export type RunProgress =
  | { type: "waiting"; holder: string }
  | { type: "started"; resumeFrom: number | null; epochs: number }
  | { type: "epoch"; epoch: number; epochs: number; proxy: number }
  | { type: "eval"; epoch: number; proxy: number; gold: number | null }
  /** `checkpoint.evaluate`: a finished run's evaluation at a kept checkpoint it had not evaluated. */
  | { type: "checkpoint-eval"; epoch: number; proxy: number; gold: number | null; done: number; of: number };

export interface RunResult {
  id: string;
  name: string;
  /** trained: this call trained it to the end; finished: it was finished before; interrupted: stopped at an epoch boundary. */
  status: "trained" | "finished" | "interrupted";
  epochs: number;
}

export interface ExecuteOptions {
  runsDir: string;
  onProgress?: (event: RunProgress) => void;
  log?: (line: string) => void;
  stopRequested?: () => boolean;
  staleMs?: number;
  lockPollMs?: number;
}

/** The job's config, validated; the run's name must carry the config's id (so a job cannot write into another run's directory). */
export function validateTask(task: unknown, source: string): { id: string; config: TrainConfig } {
  if (task === null || typeof task !== "object" || !("config" in task)) throw new UserError(`${source}: expected { config: {...} }, got ${JSON.stringify(task)?.slice(0, 80)}`);
  const config = validateConfig(TrainConfigSchema, (task as RunTask).config, `${source} config`);
  const id = runId(config);
  if (!config.name.includes(id)) throw new UserError(`${source} config: name "${config.name}" does not carry the config's id ${id} (names are made by the sweep planner: <sweep>-<label>-<id>-s<seed>)`);
  return { id, config };
}

function loadPolicy(config: TrainConfig): { model: VelocityModel; params: ParamTree } {
  if (config.model.preset && !config.model.weights) {
    const model = createModel(presetConfig(config.model.preset));
    return { model, params: model.init(random.key(config.seed)) };
  }
  return loadVelocityModel(config.model.weights ?? DEFAULT_BASE_MODEL);
}

/** The sweep's one call into the run store (kept thin: src/rl/run.ts owns resume semantics). */
export async function trainRun(config: TrainConfig, options: { resume: boolean; hooks: RunHooks; stopRequested: () => boolean }): Promise<RunOutcome> {
  await initEngine();
  const { model, params } = loadPolicy(config);
  const rewards = config.rewards.map((r) => ({ reward: createReward(r.name, r.options), weight: r.weight }));
  const gold = await goldPanelFor(config.gold, model.config.sampleShape);
  try {
    return await runTrainingJob(config, model, params, rewards, { resume: options.resume, gold, hooks: options.hooks, stopRequested: options.stopRequested });
  } finally {
    for (const r of rewards) r.reward.dispose?.();
    gold?.dispose();
  }
}

/** Append a line to the run's session log (`sweep.jsonl`): who trained it, when, from which epoch. */
function sessionLog(dir: string, record: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, "sweep.jsonl"), JSON.stringify({ ...record, pid: process.pid, host: hostname(), at: new Date().toISOString() }) + "\n");
}

/**
 * The id a sweep trained this directory under (its session log, `sweep.jsonl`). The stored
 * config.yaml cannot be re-hashed for it: the trainer writes its paths absolute (docs/contract.md),
 * so its hash differs from the planned id, and every rerun of a sweep over its own runs failed.
 * Null for a directory no sweep has trained (then the stored config is hashed).
 */
export function recordedRunId(dir: string): string | null {
  const file = join(dir, "sweep.jsonl");
  if (!existsSync(file)) return null;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    try {
      const record = JSON.parse(line) as { id?: unknown };
      if (typeof record.id === "string") return record.id;
    } catch {
      // a torn last line (killed mid-write): the earlier records still say who trained it
    }
  }
  return null;
}

/** The session-log line of a `checkpoint.evaluate` pass. */
function logCheckpointEvals(dir: string, done: CheckpointEvalsDone): void {
  sessionLog(dir, { event: "checkpoint-evals", epochs: done.evaluated, ...(done.remaining.length ? { stoppedBefore: done.remaining[0] } : {}) });
}

/**
 * `checkpoint.evaluate` for a run finished before this call (a stop left checkpoints
 * unevaluated): they are evaluated as the run evaluates; nothing is loaded when none is pending.
 * (A run this call trains evaluates them itself, in runTrainingJob, with its own gold panel.)
 */
async function evaluateLeftCheckpoints(config: TrainConfig, dir: string, stopRequested: () => boolean, onEvaluated: RunHooks["onCheckpointEval"]): Promise<void> {
  if (!config.checkpoint.evaluate) return;
  const pending = pendingCheckpointEvals(dir);
  if (pending.length === 0) return;
  await initEngine();
  const goldPanels = cachedGoldPanels();
  try {
    logCheckpointEvals(dir, await evaluateCheckpoints(dir, goldPanels, { epochs: pending, stopRequested, onEvaluated }));
  } finally {
    await goldPanels.dispose();
  }
}

export async function executeRun(task: unknown, options: ExecuteOptions): Promise<RunResult> {
  const log = options.log ?? (() => {});
  const { id, config: validated } = validateTask(task, "job");
  const config: TrainConfig = { ...validated, output: { dir: options.runsDir } };
  const paths = runPaths(join(options.runsDir, config.name));
  mkdirSync(options.runsDir, { recursive: true });
  let tookOver: string | undefined;
  const lock = await acquireLock(`${paths.dir}.lock`, {
    staleMs: options.staleMs ?? DEFAULT_STALE_MS,
    pollMs: options.lockPollMs,
    log: (line) => {
      tookOver = line;
      log(line);
    },
    onWait: (holder) => options.onProgress?.({ type: "waiting", holder: holder ? `pid ${holder.pid} on ${holder.host}` : "another process" }),
  });
  try {
    if (existsSync(paths.config)) {
      const existing = recordedRunId(paths.dir) ?? runId(validateConfig(TrainConfigSchema, parseYaml(readFileSync(paths.config, "utf8")), paths.config));
      if (existing !== id) throw new UserError(`${paths.dir} holds a run with id ${existing}, not ${id}; move it away or use another runs directory`);
    }
    const stopRequested = () => Boolean(options.stopRequested?.()) || !lock.held();
    const onCheckpointEval: RunHooks["onCheckpointEval"] = (record, done, of) => {
      lock.touch(); // the lock stays fresh for workers on other machines (one evaluation ≈ 20 s)
      options.onProgress?.({ type: "checkpoint-eval", epoch: record.epoch, proxy: record.proxy, gold: record.gold?.gold ?? null, done, of });
    };
    if (existsSync(paths.policy)) {
      sessionLog(paths.dir, { event: "finished-earlier", id });
      await evaluateLeftCheckpoints(config, paths.dir, stopRequested, onCheckpointEval);
      return { id, name: config.name, status: "finished", epochs: config.train.epochs };
    }
    const checkpoints = listCheckpoints(paths.checkpoints);
    // Killed before its first checkpoint: nothing to resume; the metrics of the lost attempt go (we hold the lock).
    if (checkpoints.length === 0) rmSync(paths.metrics, { force: true });
    const resumeFrom = checkpoints.length > 0 ? Number(/(\d+)/.exec(checkpoints.at(-1)!)?.[1] ?? 0) : null;
    sessionLog(paths.dir, { event: "train-start", id, resumeFrom, ...(tookOver ? { tookOver } : {}) });
    options.onProgress?.({ type: "started", resumeFrom, epochs: config.train.epochs });
    const weights = config.rewards.map((r) => r.weight);
    const outcome = await trainRun(config, {
      resume: checkpoints.length > 0,
      stopRequested,
      hooks: {
        onEpoch(record) {
          lock.touch();
          const proxy = record.rewards.reduce((a, r, k) => a + (weights[k] ?? 0) * r.mean, 0);
          options.onProgress?.({ type: "epoch", epoch: record.epoch + 1, epochs: config.train.epochs, proxy });
        },
        onEvaluation(record) {
          options.onProgress?.({ type: "eval", epoch: record.epoch, proxy: record.proxy, gold: record.gold?.gold ?? null });
        },
        onCheckpointEval,
        log,
      },
    });
    sessionLog(paths.dir, { event: outcome.interrupted ? "train-stopped" : "train-end", id, epoch: outcome.epochs });
    if (outcome.checkpointEvals) logCheckpointEvals(paths.dir, outcome.checkpointEvals);
    return { id, name: config.name, status: outcome.interrupted ? "interrupted" : "trained", epochs: outcome.epochs };
  } finally {
    lock.release();
  }
}
