/**
 * A run's policy at a checkpoint: the EMA parameters of `<run>/checkpoints/ckpt-<epoch>.safetensors`
 * (the tensors the run evaluated at that epoch), rebuilt into a velocity model from the run's
 * config.yaml — so a policy from the middle of training can be sampled, rated or compared like
 * a final `policy-ema.safetensors`.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { random } from "../engine/jax.js";
import { UserError } from "../engine/errors.js";
import { checkpointName, checkpointStep, listCheckpoints, readCheckpoint } from "../engine/checkpoint.js";
import { treeFromTensors, writeFileAtomic, type TensorRecord } from "../engine/safetensors.js";
import { disposeTree } from "../engine/tree.js";
import { readMetrics } from "../diagnostics/metrics.js";
import { loadVelocityModel, type LoadedWeights } from "../models/io.js";
import type { VelocityModel } from "../models/model.js";
import { createModel, presetConfig } from "../models/registry.js";
import { createReward } from "../rewards/registry.js";
import { OdeSampler } from "../sampling/ode.js";
import { decodeSamples } from "../sampling/sde.js";
import type { TrainConfig } from "../config/train.js";
import { DEFAULT_BASE_MODEL } from "../cli/defaults.js";
import { DRIFT_REFERENCE_TENSOR, readRunConfig, runPaths } from "./run-dir.js";
import { rewardSummaries, scoreRewards, weightedProxy, type WeightedReward } from "./scoring.js";
import { evaluationInputs } from "./trainer.js";
import type { EvalRecord } from "../diagnostics/records.js";
import type { GoldPanel, GoldSettings } from "../rewards/gold.js";

/** The EMA parameters' tensor names in a checkpoint (trainer state `state.ema.<param>`). */
const EMA_PREFIX = "state.ema.";

/** Whether a path names a checkpoint file (by its name, ckpt-<8 digits>.safetensors). */
export const isCheckpointFile = (path: string): boolean => checkpointStep(basename(path)) !== null;

/** The epoch a checkpoint file's name carries (null for any other file). */
export const checkpointEpochOf = (path: string): number | null => checkpointStep(basename(path));

/** `<run>@<epoch>` split into its parts (null for any other argument; the run is not checked). */
export function parseRunAtEpoch(spec: string): { run: string; epoch: number } | null {
  const match = /^(.*)@(\d+)$/.exec(spec);
  return match ? { run: match[1], epoch: Number(match[2]) } : null;
}

/** The epochs a run directory holds checkpoints of, ascending. */
export function checkpointEpochs(runDir: string): number[] {
  return listCheckpoints(runPaths(runDir).checkpoints).map((name) => checkpointEpochOf(name)!);
}

/** The checkpoint file of `epoch` in a run directory; a UserError listing the epochs it has when there is none. */
export function checkpointAt(runDir: string, epoch: number): string {
  const file = join(runPaths(runDir).checkpoints, checkpointName(epoch));
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

/** Proxies measured at checkpoints the run did not evaluate (measureCheckpointProxy), kept beside the checkpoints. */
const MEASURED_FILE = "checkpoint-proxies.json";

function measuredProxies(runDir: string): Map<number, number> {
  const file = join(runPaths(runDir).checkpoints, MEASURED_FILE);
  if (!existsSync(file)) return new Map();
  try {
    const data = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    return new Map(Object.entries(data).flatMap(([epoch, proxy]) => (typeof proxy === "number" && Number.isFinite(proxy) ? [[Number(epoch), proxy]] : [])));
  } catch {
    return new Map(); // unreadable: measured again
  }
}

/** Every proxy known for a run's checkpoints: the measured ones, overridden by its evaluations (`evaluated`: already read). */
export function knownProxies(runDir: string, evaluated: ReadonlyMap<number, number> = evaluatedProxies(runDir)): Map<number, number> {
  const out = measuredProxies(runDir);
  for (const [epoch, proxy] of evaluated) out.set(epoch, proxy);
  return out;
}

/** The gold panel for a run's gold settings and sample shape (e.g. `goldPanelFor`, cached by the caller); null: none. */
export type GoldFor = (settings: GoldSettings, sampleShape: readonly number[]) => Promise<GoldPanel | null>;

/** Keep a proxy measured at a checkpoint in `<run>/checkpoints/checkpoint-proxies.json` (atomically). */
export function recordMeasuredProxy(runDir: string, epoch: number, proxy: number): void {
  const measured = measuredProxies(runDir);
  measured.set(epoch, proxy);
  const file = join(runPaths(runDir).checkpoints, MEASURED_FILE);
  writeFileAtomic(file, Buffer.from(JSON.stringify(Object.fromEntries([...measured].sort((x, y) => x[0] - y[0])), null, 1) + "\n"));
}

/**
 * A checkpoint's EMA policy evaluated as the run's evaluations evaluate it (its eval prompts ×
 * eval.perPrompt, eval.seed's noise, eval.steps ODE steps, its rewards and weights; the gold
 * panel when given). No velocity-norm probe and no images kept: the proxy and gold of an
 * evaluated epoch come out as the run recorded them (tested), drift included: the panel's drift
 * reference is the one the run kept in the checkpoint (a panel shared between runs or built
 * afresh would otherwise measure drift from the first images it saw).
 */
export async function evaluateCheckpoint(runDir: string, epoch: number, goldFor: GoldFor | null = null): Promise<Omit<EvalRecord, "images" | "sampleShape">> {
  const config = readRunConfig(runDir);
  const rewards: WeightedReward[] = config.rewards.map((r, k) => ({ reward: createReward(r.name, r.options, `rewards.${k}.options`), weight: r.weight }));
  const { model, params, driftReference } = loadCheckpointPolicy(checkpointAt(runDir, epoch));
  const gold = goldFor ? await goldFor(config.gold, model.config.sampleShape) : null;
  if (gold) gold.driftReference = driftReference;
  const sampler = new OdeSampler(model, { steps: config.eval.steps, shift: config.sampling.shift });
  try {
    const { prompts, noise } = evaluationInputs(config, model);
    const images = await decodeSamples(await sampler.sample(params, noise, prompts), model.config.sampleShape);
    const summaries = rewardSummaries(rewards, await scoreRewards(rewards, images, model.config.sampleShape, prompts));
    return { epoch, rewards: summaries, proxy: weightedProxy(rewards, summaries), gold: gold ? await gold.evaluate(images, prompts) : undefined, prompts };
  } finally {
    sampler.dispose();
    disposeTree(params);
    for (const { reward } of rewards) reward.dispose?.();
  }
}

/** The proxy reward of a checkpoint's EMA policy (`evaluateCheckpoint` without gold), kept in checkpoint-proxies.json. */
export async function measureCheckpointProxy(runDir: string, epoch: number): Promise<number> {
  const { proxy } = await evaluateCheckpoint(runDir, epoch);
  recordMeasuredProxy(runDir, epoch, proxy);
  return proxy;
}

export interface ProxyMatch {
  epoch: number;
  /** The proxy reward at that epoch (evaluated by the run, or measured at its checkpoint). */
  proxy: number;
  /** Whether the run's evaluations reach the level at all (else `epoch` is merely its nearest). */
  reached: boolean;
}

/**
 * A run's policy at a matched proxy reward, read as the matched-proxy tables read it — at the
 * run's first crossing of `level`: the checkpoint up to the evaluation that first reaches the
 * level whose proxy lies nearest it (ties: the earlier epoch). Checkpoints the run did not
 * evaluate are measured first where they can matter — between the two evaluations around that
 * crossing — so the match has the checkpoints' resolution (checkpoint.every), not the
 * evaluations'. A run that never reaches the level gets its nearest checkpoint, `reached: false`.
 * Null when the run has no checkpoint with a proxy.
 */
export async function checkpointAtProxy(runDir: string, level: number, log: (line: string) => void = () => {}): Promise<ProxyMatch | null> {
  const epochs = checkpointEpochs(runDir);
  const byEpoch = evaluatedProxies(runDir);
  const evaluated = [...byEpoch].sort((a, b) => a[0] - b[0]);
  const startsAbove = evaluated.length > 0 && evaluated[0][1] >= level;
  const crossing = startsAbove ? 0 : evaluated.findIndex(([, proxy], i) => i > 0 && evaluated[i - 1][1] < level && proxy >= level);
  if (crossing > 0) {
    const known = knownProxies(runDir, byEpoch);
    const [from, to] = [evaluated[crossing - 1][0], evaluated[crossing][0]];
    for (const epoch of epochs.filter((e) => e > from && e < to && !known.has(e))) {
      const proxy = await measureCheckpointProxy(runDir, epoch);
      log(`${basename(runDir)}: measured the proxy of the epoch-${epoch} checkpoint: ${proxy.toFixed(4)}`);
    }
  }
  const horizon = crossing >= 0 ? evaluated[crossing][0] : Infinity;
  const known = knownProxies(runDir, byEpoch); // again: the loop above may have measured some
  let best: ProxyMatch | null = null;
  for (const epoch of epochs.filter((e) => e <= horizon)) {
    const proxy = known.get(epoch);
    if (proxy === undefined) continue;
    if (best === null || Math.abs(proxy - level) < Math.abs(best.proxy - level)) best = { epoch, proxy, reached: crossing >= 0 };
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
export function loadCheckpointPolicy(file: string): LoadedWeights<VelocityModel> & { epoch: number; runDir: string; driftReference: Float32Array | null } {
  const path = resolve(file);
  const epoch = checkpointEpochOf(path);
  if (epoch === null) throw new UserError(`${file}: not a checkpoint file (expected a name like ckpt-00000020.safetensors)`);
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
    const driftReference = checkpoint.tensors.get(DRIFT_REFERENCE_TENSOR)?.data ?? null;
    return { model, params, metadata: { format: "grpo-guard/model", config: model.config, trainedWith: config, epoch }, epoch, runDir, driftReference };
  } finally {
    disposeTree(template);
  }
}

/**
 * The velocity model a command-line argument names: a weight file, a checkpoint file, a run
 * directory (its final EMA policy) or `<run>@<epoch>` (the EMA policy of that checkpoint).
 */
export function loadPolicy(spec: string): LoadedWeights<VelocityModel> {
  const at = parseRunAtEpoch(spec);
  if (at && existsSync(runPaths(at.run).config)) return loadCheckpointPolicy(checkpointAt(at.run, at.epoch));
  if (isCheckpointFile(spec)) return loadCheckpointPolicy(spec);
  if (existsSync(runPaths(spec).config)) {
    const { policy } = runPaths(spec);
    if (!existsSync(policy)) throw new UserError(`${spec}: no ${basename(policy)} (a run writes its final EMA policy there when training ends; <run>@<epoch> names a checkpoint)`);
    return loadVelocityModel(policy);
  }
  return loadVelocityModel(spec);
}
