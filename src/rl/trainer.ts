/**
 * The GRPO trainer: one loop for every algorithm × dynamics.
 *
 *   epoch: window (E6) → prompts × G → SDE rollout with log-probs → rewards → advantages (E7)
 *          → inner epochs × shuffled minibatches: jitted loss → grad over chunks of at most
 *            train.chunkRows rows (trained steps × trajectories), gradients summed, then one
 *            jit(clip → Adam → EMA) per minibatch (E8–E10)
 *          → per-step diagnostics (E11) → logger
 *   evaluate(): EMA weights → ODE with fixed noise → proxy rewards (+ gold panel) → logger
 *   (the epoch/evaluation/checkpoint schedule of a run lives in run.ts)
 */
import { jit, numpy as np, valueAndGrad, type JaxArray } from "../engine/jax.js";
import { adamw, applyUpdates, emaUpdate, globalNorm, type GradientTransformation, type OptState } from "../engine/optim.js";
import { HostRng, KeyChain, type KeyChainState } from "../engine/prng.js";
import { disposeTree, mapTrees, refTree, type ParamTree } from "../engine/tree.js";
import type { VelocityModel } from "../models/model.js";
import type { TrainConfig } from "../config/train.js";
import { stepStats, type StepStats } from "../diagnostics/ratio-stats.js";
import type { Reward } from "../rewards/reward.js";
import type { GoldPanel, GoldMetrics } from "../rewards/gold.js";
import { dynamicsByName, type Dynamics } from "../sampling/dynamics.js";
import { initialNoise, OdeSampler } from "../sampling/ode.js";
import { shiftedSchedule, type TimestepSchedule } from "../sampling/schedule.js";
import { decodeSamples, disposeRollout, SdeSampler } from "../sampling/sde.js";
import { selectWindow, type WindowConfig } from "../sampling/window.js";
import { groupAdvantages } from "./advantages.js";
import { policyLoss, type LossAux, type LossSettings, type MinibatchRows } from "./loss.js";
import { gatherRows } from "./minibatch.js";
import { objectiveByName, type PolicyObjective } from "./objectives.js";
import { drawPrompts, sampleGroups, type EpochRollout } from "./rollout.js";

export interface WeightedReward {
  reward: Reward;
  weight: number;
}

export interface RewardSummary {
  name: string;
  mean: number;
  std: number;
}

export interface EpochRecord {
  epoch: number;
  window: number[];
  prompts: string[];
  rewards: RewardSummary[];
  zeroStdFraction: number[];
  groupStdMean: number[];
  advantageAbsMean: number;
  loss: number;
  gradNorm: number;
  optimizerSteps: number;
  steps: StepStats[];
  /** Per trained step: gradient norm of its loss before and after the step weight (when measured). */
  stepGradNorms?: { step: number; before: number; after: number }[];
  seconds: { sample: number; reward: number; train: number };
}

export interface EvalRecord {
  epoch: number;
  rewards: RewardSummary[];
  /** Σ_k w_k · mean reward k: the proxy the run optimises. */
  proxy: number;
  gold?: GoldMetrics;
  prompts: string[];
  images: Float32Array;
  sampleShape: number[];
}

export interface TrainerLogger {
  epoch(record: EpochRecord): void;
  evaluation?(record: EvalRecord): void;
  /** Skipped optimizer steps or epochs (non-finite loss, gradient or reward). */
  fault?(event: FaultEvent): void;
}

interface TrainState extends ParamTree {
  params: ParamTree;
  opt: OptState;
  ema: ParamTree;
}

type ChunkGradFn = (params: ParamTree, ref: ParamTree, rows: MinibatchRows, share: JaxArray) => [JaxArray, ParamTree, LossAux];
type ApplyFn = (state: TrainState, grads: ParamTree, loss: JaxArray) => [TrainState, JaxArray, JaxArray];

/** Host-side trainer state that, with the tensors, makes a resumed run continue exactly. */
export interface TrainerMeta {
  epoch: number;
  keys: KeyChainState;
  rng: string;
  skippedSteps: number;
  skippedEpochs: number;
}

export interface FaultEvent {
  kind: "nonfinite-step" | "nonfinite-reward";
  epoch: number;
  detail: string;
}

export async function scoreRewards(rewards: readonly WeightedReward[], images: Float32Array, sampleShape: number[], prompts: readonly string[]): Promise<Float32Array[]> {
  return Promise.all(
    rewards.map(async ({ reward }) => {
      const scores = await reward.score({ images, sampleShape, prompts });
      if (scores.length !== prompts.length) throw new Error(`reward "${reward.name}" returned ${scores.length} scores for ${prompts.length} images`);
      return scores;
    }),
  );
}

function summarizeRewards(rewards: readonly WeightedReward[], scores: readonly Float32Array[]): RewardSummary[] {
  return rewards.map(({ reward }, k) => {
    const r = scores[k];
    const mean = r.reduce((a, b) => a + b, 0) / r.length;
    const std = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / r.length);
    return { name: reward.name, mean, std };
  });
}

export class GrpoTrainer {
  readonly schedule: TimestepSchedule;
  readonly dynamics: Dynamics;
  readonly objective: PolicyObjective;
  readonly sampler: SdeSampler;
  readonly lossSettings: LossSettings;
  private readonly optimizer: GradientTransformation;
  private readonly chunkGrad: ChunkGradFn;
  private readonly accumulate: (a: ParamTree, b: ParamTree) => ParamTree;
  private readonly applyGrads: ApplyFn;
  private readonly gradOnly: (params: ParamTree, ref: ParamTree, rows: MinibatchRows) => JaxArray;
  private state: TrainState;
  private reference: ParamTree;
  private keys: KeyChain;
  private rng: HostRng;
  epoch = 0;
  skippedSteps = 0;
  skippedEpochs = 0;
  /** Host RNG state at the start of the current epoch, and whether it has updated parameters. */
  private epochStart: { keys: KeyChainState; rng: string } | null = null;
  private updatedThisEpoch = false;

  constructor(
    readonly config: TrainConfig,
    readonly model: VelocityModel,
    initialParams: ParamTree,
    readonly rewards: readonly WeightedReward[],
    readonly logger: TrainerLogger,
    readonly gold: GoldPanel | null = null,
  ) {
    this.schedule = shiftedSchedule(config.sampling.steps, config.sampling.shift);
    this.dynamics = dynamicsByName(config.dynamics);
    this.objective = objectiveByName(config.algorithm);
    this.sampler = new SdeSampler(model, this.dynamics, this.schedule, config.sampling.eta);
    const t = config.train;
    this.lossSettings = { clipLow: t.clipLow, clipHigh: t.clipHigh, klBeta: t.kl.beta, klType: t.kl.type };
    this.optimizer = adamw({ lr: t.lr, weightDecay: t.weightDecay, maxGradNorm: t.maxGradNorm });
    this.keys = new KeyChain(config.seed);
    this.rng = new HostRng(config.seed);
    // Arrays are immutable: EMA and the frozen KL reference start by sharing the buffers.
    this.reference = t.kl.beta > 0 ? refTree(initialParams) : {};
    this.state = { params: initialParams, opt: this.optimizer.init(initialParams), ema: refTree(initialParams) };

    const { model: m, objective, lossSettings, optimizer } = this;
    const loss = (p: ParamTree, ref: ParamTree, rows: MinibatchRows) =>
      policyLoss(m, objective, lossSettings, p, Object.keys(ref).length ? ref : null, rows);
    // One chunk of rows (some trained steps × the minibatch): loss and gradients, scaled by the
    // chunk's share of the minibatch's rows so that the accumulated sum is the minibatch mean.
    this.chunkGrad = jit((params: ParamTree, ref: ParamTree, rows: MinibatchRows, share: JaxArray) => {
      const [[value, aux], grads] = valueAndGrad(loss, { hasAux: true })(params, ref, rows);
      const scaled = mapTrees((g) => g.mul(share.ref), grads);
      return [value.mul(share), scaled, aux];
    }) as never;
    this.accumulate = jit((a: ParamTree, b: ParamTree) => mapTrees((x, y) => x.add(y), a, b)) as never;
    this.applyGrads = jit((state: TrainState, grads: ParamTree, lossValue: JaxArray) => {
      const gradNorm = globalNorm(grads);
      const [updates, opt] = optimizer.update(grads, refTree(state.opt), state.params);
      const params = applyUpdates(refTree(state.params), updates);
      const ema = emaUpdate(refTree(state.ema), params, t.emaDecay);
      // A non-finite loss or gradient skips the step: every leaf keeps its old value.
      const ok = np.logicalAnd(np.isfinite(lossValue), np.isfinite(gradNorm.ref));
      const next = mapTrees((fresh, old) => np.where(ok.ref, fresh, old), { params, opt, ema } as TrainState, state);
      return [next, gradNorm, ok];
    }) as never;
    this.gradOnly = jit((params: ParamTree, ref: ParamTree, rows: MinibatchRows) => {
      const [, grads] = valueAndGrad(loss, { hasAux: true })(params, ref, rows);
      return globalNorm(grads);
    }) as never;
  }

  get params(): ParamTree {
    return this.state.params;
  }

  get emaParams(): ParamTree {
    return this.state.ema;
  }

  /** One epoch: sample, reward, optimise. */
  async runEpoch(): Promise<EpochRecord> {
    const { config } = this;
    const t0 = performance.now();
    this.epochStart = { keys: this.keys.state(), rng: this.rng.save() };
    this.updatedThisEpoch = false;
    const window = selectWindow(config.sampling.window as WindowConfig, this.schedule, this.dynamics, this.epoch, this.rng);
    const groupPrompts = drawPrompts(config.prompts.pool, config.prompts.perEpoch, this.rng);
    const rollout = await sampleGroups(this.sampler, this.state.params, groupPrompts, config.groupSize, new Set(window), this.keys, config.sampling.sharedNoise);
    const t1 = performance.now();

    const scores = await scoreRewards(this.rewards, rollout.images, this.model.config.sampleShape, rollout.prompts);
    const badReward = this.rewards.findIndex((_, k) => scores[k].some((x) => !Number.isFinite(x)));
    if (badReward >= 0) {
      // A non-finite reward poisons the whole group normalisation: skip this epoch's update.
      this.skippedEpochs += 1;
      this.logger.fault?.({ kind: "nonfinite-reward", epoch: this.epoch, detail: `reward "${this.rewards[badReward].reward.name}" returned a non-finite score; epoch not trained` });
      for (const r of scores) r.forEach((x, i) => (r[i] = Number.isFinite(x) ? x : 0));
    }
    const adv = groupAdvantages(scores, {
      groupSize: config.groupSize,
      weights: this.rewards.map((r) => r.weight),
      globalNormalize: config.advantages.globalNormalize,
      clip: config.advantages.clip,
    });
    const t2 = performance.now();

    const coefficients = rollout.steps.map((r) => r.coefficients);
    const weights = this.objective.stepWeights(coefficients);
    const allSteps = rollout.steps.map((_, k) => k);
    const n = rollout.prompts.length;
    const mb = Math.min(config.train.minibatch, n);
    const perStepLog = rollout.steps.map(() => ({ logRatio: [] as number[], clipped: [] as number[], adv: [] as number[], kl: [] as number[] }));
    let lossSum = 0;
    let gradSum = 0;
    let optimizerSteps = 0;
    let stepGradNorms: EpochRecord["stepGradNorms"];
    const measureGrads = config.diagnostics.gradNormEvery > 0 && this.epoch % config.diagnostics.gradNormEvery === 0;
    for (let inner = 0; inner < (badReward >= 0 ? 0 : config.train.innerEpochs); inner++) {
      const order = this.rng.permutation(n);
      for (let start = 0; start + mb <= n; start += mb) {
        const indices = order.slice(start, start + mb);
        if (measureGrads && stepGradNorms === undefined) stepGradNorms = await this.perStepGradNorms(rollout, indices, adv.advantages, weights);
        const { loss, grads, rowLogs } = await this.minibatchGradients(rollout, indices, adv.advantages, weights);
        const [state, gradNorm, ok] = this.applyGrads(this.state, grads, np.array(loss));
        this.state = state;
        this.updatedThisEpoch = true;
        const [gradValue, okValue] = await Promise.all([gradNorm.data(), ok.data()]);
        if (!okValue[0]) {
          this.skippedSteps += 1;
          this.logger.fault?.({ kind: "nonfinite-step", epoch: this.epoch, detail: `loss ${loss}, gradient norm ${gradValue[0]}: optimizer step skipped` });
          continue;
        }
        lossSum += loss;
        gradSum += Number(gradValue[0]);
        optimizerSteps += 1;
        for (const row of rowLogs) {
          const log = perStepLog[row.step];
          log.logRatio.push(row.logRatio);
          log.clipped.push(row.clipped);
          log.adv.push(row.advantage);
          log.kl.push(row.kl);
        }
      }
    }
    const t3 = performance.now();
    const steps = rollout.steps.map((record, k) =>
      stepStats(
        {
          step: record.index,
          s: record.coefficients.s,
          dt: record.coefficients.dt,
          weight: weights[k],
          logRatio: perStepLog[k].logRatio,
          clippedLogRatio: perStepLog[k].clipped,
          advantage: perStepLog[k].adv,
          klRef: perStepLog[k].kl,
        },
        config.train.clipLow,
        config.train.clipHigh,
        config.diagnostics.histogramRange,
        config.diagnostics.histogramBins,
      ),
    );
    rollout.tokens.dispose();
    disposeRollout(rollout);
    const record: EpochRecord = {
      epoch: this.epoch,
      window,
      prompts: groupPrompts,
      rewards: summarizeRewards(this.rewards, scores),
      zeroStdFraction: adv.zeroStdFraction,
      groupStdMean: adv.groupStdMean,
      advantageAbsMean: adv.advantages.reduce((a, b) => a + Math.abs(b), 0) / n,
      loss: lossSum / Math.max(1, optimizerSteps),
      gradNorm: gradSum / Math.max(1, optimizerSteps),
      optimizerSteps,
      steps,
      stepGradNorms,
      seconds: { sample: (t1 - t0) / 1000, reward: (t2 - t1) / 1000, train: (t3 - t2) / 1000 },
    };
    this.epoch += 1;
    this.logger.epoch(record);
    return record;
  }

  /**
   * After an epoch failed before any parameter update (e.g. a reward server was down), put the
   * host RNG back to the epoch's start so that a checkpoint written now resumes exactly.
   * Returns false when parameters had already changed (the state is then not rewindable).
   */
  rewindFailedEpoch(): boolean {
    if (!this.epochStart || this.updatedThisEpoch) return false;
    this.keys = KeyChain.restore(this.epochStart.keys);
    this.rng = HostRng.restore(this.epochStart.rng);
    return true;
  }

  /** Everything needed to continue this run exactly: tensors (borrowed) and host state. */
  exportState(): { tensors: ParamTree; meta: TrainerMeta } {
    return {
      tensors: { state: this.state, reference: this.reference },
      meta: { epoch: this.epoch, keys: this.keys.state(), rng: this.rng.save(), skippedSteps: this.skippedSteps, skippedEpochs: this.skippedEpochs },
    };
  }

  /** Replace the state with a checkpoint's (tensors shaped like exportState().tensors; consumed). */
  importState(tensors: ParamTree, meta: TrainerMeta): void {
    const loaded = tensors as { state: TrainState; reference: ParamTree };
    disposeTree(this.state);
    disposeTree(this.reference);
    this.state = loaded.state;
    this.reference = loaded.reference;
    this.epoch = meta.epoch;
    this.keys = KeyChain.restore(meta.keys);
    this.rng = HostRng.restore(meta.rng);
    this.skippedSteps = meta.skippedSteps;
    this.skippedEpochs = meta.skippedEpochs;
  }

  /**
   * Loss and gradient of one minibatch over all trained steps, computed in chunks of at most
   * `train.chunkRows` rows (steps × samples) — one batched forward/backward per chunk, the
   * gradients summed with each chunk's share of the rows (jax-js's wasm memory is 4 GiB).
   */
  private async minibatchGradients(rollout: EpochRollout, indices: readonly number[], advantages: Float32Array, weights: readonly number[]) {
    const b = indices.length;
    const K = rollout.steps.length;
    const stepsPerChunk = Math.max(1, Math.floor(this.config.train.chunkRows / b));
    let grads: ParamTree | null = null;
    let loss = 0;
    const rowLogs: { step: number; logRatio: number; clipped: number; advantage: number; kl: number }[] = [];
    for (let first = 0; first < K; first += stepsPerChunk) {
      const steps = Array.from({ length: Math.min(stepsPerChunk, K - first) }, (_, j) => first + j);
      const rows = gatherRows(rollout, steps, indices, advantages, steps.map((k) => weights[k]));
      const [value, chunkGrads, aux] = this.chunkGrad(refTree(this.state.params), refTree(this.reference), rows, np.array(steps.length / K));
      grads = grads === null ? chunkGrads : this.accumulate(grads, chunkGrads);
      const [lossValue, logRatio, clipped, kl] = await Promise.all([value.data(), aux.logRatio.data(), aux.clippedLogRatio.data(), aux.klRef.data()]);
      loss += Number(lossValue[0]);
      for (let r = 0; r < logRatio.length; r++) {
        rowLogs.push({ step: steps[Math.floor(r / b)], logRatio: Number(logRatio[r]), clipped: Number(clipped[r]), advantage: advantages[indices[r % b]], kl: Number(kl[r]) });
      }
    }
    return { loss, grads: grads!, rowLogs };
  }

  /** Gradient norm of each trained step's loss alone, unweighted and weighted (E10 diagnostic). */
  async perStepGradNorms(rollout: EpochRollout, indices: readonly number[], advantages: Float32Array, weights: readonly number[]): Promise<{ step: number; before: number; after: number }[]> {
    const out: { step: number; before: number; after: number }[] = [];
    for (let k = 0; k < rollout.steps.length; k++) {
      const rows = gatherRows(rollout, [k], indices, advantages, [1]);
      const norm = Number((await this.gradOnly(refTree(this.state.params), refTree(this.reference), rows).data())[0]);
      out.push({ step: rollout.steps[k].index, before: norm, after: norm * weights[k] });
    }
    return out;
  }

  /** Evaluate the EMA policy: ODE sampling with fixed noise, proxy rewards. */
  async evaluate(): Promise<EvalRecord> {
    const { config, model } = this;
    const prompts = (config.eval.prompts ?? config.prompts.pool).flatMap((p) => Array.from({ length: config.eval.perPrompt }, () => p));
    const sampler = new OdeSampler(model, { steps: config.eval.steps, shift: config.sampling.shift });
    const noise = initialNoise(model, new KeyChain(config.eval.seed).next(), prompts.length);
    const final = await sampler.sample(this.state.ema, noise, prompts);
    sampler.dispose();
    const images = await decodeSamples(final, model.config.sampleShape);
    const scores = await scoreRewards(this.rewards, images, model.config.sampleShape, prompts);
    const rewards = summarizeRewards(this.rewards, scores);
    const proxy = rewards.reduce((a, r, k) => a + this.rewards[k].weight * r.mean, 0);
    const gold = this.gold ? await this.gold.evaluate(images, prompts) : undefined;
    const record: EvalRecord = { epoch: this.epoch, rewards, proxy, gold, prompts, images, sampleShape: model.config.sampleShape };
    this.logger.evaluation?.(record);
    return record;
  }

  dispose(): void {
    this.sampler.dispose();
    for (const f of [this.chunkGrad, this.accumulate, this.applyGrads]) (f as unknown as { dispose(): void }).dispose();
    (this.gradOnly as unknown as { dispose(): void }).dispose();
    disposeTree(this.state);
    disposeTree(this.reference);
  }
}

