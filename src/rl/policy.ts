/**
 * A run's policy at a checkpoint: the EMA parameters of `<run>/checkpoints/ckpt-<epoch>.safetensors`
 * (the tensors the run evaluated at that epoch), rebuilt into a velocity model from the run's
 * config.yaml — so a policy from the middle of training can be sampled, rated or compared like
 * a final `policy-ema.safetensors`.
 */
import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { random } from "../engine/jax.js";
import { UserError } from "../engine/errors.js";
import { listCheckpoints, readCheckpoint } from "../engine/checkpoint.js";
import { treeFromTensors, type TensorRecord } from "../engine/safetensors.js";
import { disposeTree } from "../engine/tree.js";
import { readMetrics } from "../diagnostics/metrics.js";
import { loadVelocityModel, type LoadedWeights } from "../models/io.js";
import type { VelocityModel } from "../models/model.js";
import { createModel, presetConfig } from "../models/registry.js";
import { DEFAULT_BASE_MODEL } from "../cli/defaults.js";
import type { TrainConfig } from "../config/train.js";
import { readRunConfig, runPaths } from "./run.js";

/** The EMA parameters' tensor names in a checkpoint (trainer state `state.ema.<param>`). */
const EMA_PREFIX = "state.ema.";
const CHECKPOINT_FILE = /^ckpt-(\d{8})\.safetensors$/;

export const checkpointFileName = (epoch: number): string => `ckpt-${String(epoch).padStart(8, "0")}.safetensors`;

/** Whether a path names a checkpoint file (by its name, ckpt-<8 digits>.safetensors). */
export const isCheckpointFile = (path: string): boolean => CHECKPOINT_FILE.test(basename(path));

/** The epochs a run directory holds checkpoints of, ascending. */
export function checkpointEpochs(runDir: string): number[] {
  return listCheckpoints(runPaths(runDir).checkpoints).map((name) => Number(CHECKPOINT_FILE.exec(name)![1]));
}

/** The checkpoint file of `epoch` in a run directory; a UserError listing the epochs it has when there is none. */
export function checkpointAt(runDir: string, epoch: number): string {
  const file = join(runPaths(runDir).checkpoints, checkpointFileName(epoch));
  if (existsSync(file)) return file;
  const have = checkpointEpochs(runDir);
  throw new UserError(`${runDir}: no checkpoint of epoch ${epoch} (${have.length ? `checkpoints of epochs ${have.join(", ")}` : "no checkpoints"}; checkpoint.keep sets how many a run keeps)`);
}

/** Each evaluation's proxy reward by epoch, from a run's metrics.jsonl (the last record of an epoch wins). */
export function evaluatedProxies(runDir: string): Map<number, number> {
  const { metrics } = runPaths(runDir);
  const out = new Map<number, number>();
  if (!existsSync(metrics)) return out;
  for (const record of readMetrics(metrics).records) {
    if (record.type === "eval" && typeof record.epoch === "number" && typeof record.proxy === "number" && Number.isFinite(record.proxy)) out.set(record.epoch, record.proxy);
  }
  return out;
}

export interface ProxyMatch {
  epoch: number;
  /** The run's evaluated proxy reward at that epoch. */
  proxy: number;
}

/**
 * The checkpointed epoch whose evaluated proxy lies nearest `level` (ties: the earlier epoch) —
 * a run's policy at a matched proxy reward, to the resolution of its evaluations. Null when no
 * epoch has both a checkpoint and an evaluation.
 */
export function checkpointNearestProxy(runDir: string, level: number): ProxyMatch | null {
  const proxies = evaluatedProxies(runDir);
  let best: ProxyMatch | null = null;
  for (const epoch of checkpointEpochs(runDir)) {
    const proxy = proxies.get(epoch);
    if (proxy === undefined) continue;
    if (best === null || Math.abs(proxy - level) < Math.abs(best.proxy - level)) best = { epoch, proxy };
  }
  return best;
}

/** The velocity model a run trains (its architecture only; the parameters come from elsewhere). */
function runModel(config: TrainConfig): VelocityModel {
  if (config.model.preset && !config.model.weights) return createModel(presetConfig(config.model.preset));
  const base = loadVelocityModel(config.model.weights ?? DEFAULT_BASE_MODEL);
  disposeTree(base.params);
  return base.model;
}

/**
 * The EMA policy stored in a training checkpoint, as loaded weights. The checkpoint must sit in
 * its run's `checkpoints/` folder, beside the run's config.yaml (which says what model it is).
 * `metadata.trainedWith` is the run's config and `metadata.epoch` the checkpoint's epoch.
 */
export function loadCheckpointPolicy(file: string): LoadedWeights<VelocityModel> & { epoch: number; runDir: string } {
  const path = resolve(file);
  const match = CHECKPOINT_FILE.exec(basename(path));
  if (!match) throw new UserError(`${file}: not a checkpoint file (expected a name like ckpt-00000020.safetensors)`);
  const runDir = dirname(dirname(path));
  if (basename(dirname(path)) !== "checkpoints" || !existsSync(runPaths(runDir).config)) {
    throw new UserError(`${file}: a checkpoint is read with its run's config.yaml; expected it in <run>/checkpoints/ beside <run>/config.yaml`);
  }
  const checkpoint = readCheckpoint<unknown>(path);
  const ema = new Map<string, TensorRecord>();
  for (const [name, record] of checkpoint.tensors) if (name.startsWith(EMA_PREFIX)) ema.set(name.slice(EMA_PREFIX.length), record);
  if (ema.size === 0) throw new UserError(`${file}: no EMA parameters (no "${EMA_PREFIX}*" tensors; not a training checkpoint of this version)`);
  const config = readRunConfig(runDir);
  const model = runModel(config);
  const template = model.init(random.key(0));
  try {
    const params = treeFromTensors(template, ema, path);
    return { model, params, metadata: { format: "grpo-guard/model", config: model.config, trainedWith: config, epoch: Number(match[1]) }, epoch: Number(match[1]), runDir };
  } finally {
    disposeTree(template);
  }
}
