/**
 * Flow-matching pretraining loop: batches → jit(loss, grad, AdamW, EMA) → periodic
 * checkpoints (full state, resumable to the same batches and noise) → final EMA weights
 * written as safetensors with the model config and recipe in the metadata.
 */
import { UserError } from "../engine/errors.js";
import { mkdirSync, appendFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { jit, numpy as np, valueAndGrad, type JaxArray } from "../engine/jax.js";
import { readLatestCheckpoint, writeCheckpoint } from "../engine/checkpoint.js";
import { adamw, applyUpdates, emaUpdate, warmupConstant, type OptState } from "../engine/optim.js";
import { HostRng, KeyChain, type KeyChainState } from "../engine/prng.js";
import { saveParams, treeFromTensors } from "../engine/safetensors.js";
import { disposeTree, refTree, type ParamTree } from "../engine/tree.js";
import { createModel, presetConfig, type ModelConfig } from "../models/registry.js";
import { mnistBatches, toyBatches, type BatchSource } from "./batches.js";
import type { PretrainConfig } from "./config.js";
import { flowMatchingLoss } from "./flow-matching.js";

export interface PretrainProgress {
  step: number;
  steps: number;
  loss: number;
}

export interface PretrainResult {
  out: string;
  steps: number;
  finalLoss: number;
  wallSeconds: number;
  modelConfig: ModelConfig;
}

interface State extends ParamTree {
  params: ParamTree;
  ema: ParamTree;
  opt: OptState;
}

interface CheckpointMeta {
  step: number;
  hostRng: string;
  keys: KeyChainState;
  wallSeconds: number;
  config: PretrainConfig;
}

export async function pretrain(
  config: PretrainConfig,
  options: { resume?: boolean; onProgress?: (p: PretrainProgress) => void; log?: (line: string) => void } = {},
): Promise<PretrainResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const modelConfig = presetConfig(config.model);
  const model = createModel(modelConfig);
  const source: BatchSource = config.data.dataset === "mnist" ? mnistBatches() : toyBatches();
  const sampleShape = modelConfig.sampleShape;
  if (sampleShape.reduce((a, b) => a * b, 1) !== source.sampleSize) {
    throw new Error(`pretrain: model "${config.model}" takes samples of shape [${sampleShape}], dataset "${config.data.dataset}" has ${source.sampleSize} values per sample`);
  }
  const t = config.train;
  const optimizer = adamw({ lr: warmupConstant(t.lr, t.warmupSteps), weightDecay: t.weightDecay, maxGradNorm: t.maxGradNorm });

  let keys = new KeyChain(config.seed);
  let rng = new HostRng(config.seed);
  let step = 0;
  let wallBefore = 0;
  const initParams = model.init(keys.next());
  // Arrays are immutable, so the EMA can start by sharing the parameters' buffers.
  let state: State = { params: initParams, ema: refTree(initParams), opt: optimizer.init(initParams) };

  if (options.resume) {
    const found = readLatestCheckpoint<CheckpointMeta>(config.checkpoint.dir, log);
    if (found) {
      const restored = treeFromTensors(state, found.tensors, found.file);
      disposeTree(state);
      state = restored;
      step = found.meta.step;
      rng = HostRng.restore(found.meta.hostRng);
      keys = KeyChain.restore(found.meta.keys);
      wallBefore = found.meta.wallSeconds;
      log(`resumed from ${found.file} at step ${step}`);
    } else {
      throw new UserError(`${config.checkpoint.dir}: no valid checkpoint to resume from (drop --resume to start a new pretraining run)`);
    }
  }

  const trainStep = jit((s: State, x0: JaxArray, tokens: JaxArray, key: JaxArray): [State, JaxArray] => {
    const [loss, grads] = valueAndGrad((p: ParamTree) => flowMatchingLoss(model, p, x0, tokens, key, t.logitNormal))(refTree(s.params));
    const [updates, opt] = optimizer.update(grads, s.opt, s.params);
    const params = applyUpdates(s.params, updates);
    const count = ((opt as { stages: { count?: JaxArray }[] }).stages.at(-1) as { count: JaxArray }).count;
    const ema = emaUpdate(s.ema, params, t.emaDecay, count);
    return [{ params, ema, opt }, loss];
  });

  mkdirSync(config.checkpoint.dir, { recursive: true });
  const logFile = join(config.checkpoint.dir, "pretrain-log.jsonl");
  const started = performance.now();
  const wall = (): number => wallBefore + (performance.now() - started) / 1000;
  const checkpoint = async (): Promise<void> => {
    const meta: CheckpointMeta = { step, hostRng: rng.save(), keys: keys.state(), wallSeconds: wall(), config };
    await writeCheckpoint(config.checkpoint.dir, step, state, meta);
  };

  let lossValue = NaN;
  let lossSum = 0;
  let lossCount = 0;
  while (step < t.steps) {
    const batch = source.next(t.batchSize, t.labelDropout, rng);
    const x0 = np.array(batch.x, { shape: [batch.count, ...sampleShape] });
    const tokens = np.array(batch.tokens, { shape: [batch.count, modelConfig.promptLength], dtype: np.int32 });
    const [next, loss] = trainStep(state, x0, tokens, keys.next());
    state = next;
    lossValue = Number((await loss.data())[0]);
    if (!Number.isFinite(lossValue)) throw new Error(`pretrain: loss became ${lossValue} at step ${step + 1}; lower train.lr`);
    step += 1;
    lossSum += lossValue;
    lossCount += 1;
    options.onProgress?.({ step, steps: t.steps, loss: lossValue });
    if (step % config.checkpoint.every === 0 || step === t.steps) {
      appendFileSync(logFile, JSON.stringify({ step, loss: lossSum / lossCount, wallSeconds: Math.round(wall()) }) + "\n");
      lossSum = 0;
      lossCount = 0;
      await checkpoint();
    }
  }
  trainStep.dispose();

  mkdirSync(dirname(config.out), { recursive: true });
  const wallSeconds = wall();
  await saveParams(config.out, state.ema, {
    format: "grpo-guard/model",
    config: modelConfig,
    recipe: { command: "grpo-guard pretrain", config, steps: step, wallSeconds: Math.round(wallSeconds), finalLoss: lossValue },
  });
  disposeTree(state);
  return { out: config.out, steps: step, finalLoss: lossValue, wallSeconds, modelConfig };
}

