/**
 * The GRPO trainer: one loop for every algorithm × dynamics.
 *
 *   epoch: window (E6) → prompts × G → SDE rollout with log-probs (rollout.ts) → rewards
 *          (scoring.ts) → advantages (E7) → inner epochs × shuffled minibatches, each one
 *          optimizer step (optimisation.ts, E8–E10) → per-step diagnostics (epoch-stats.ts,
 *          E11) → logger
 *   evaluate(): EMA weights → ODE with fixed noise → proxy rewards (+ gold panel) → logger
 *   (the epoch/evaluation/checkpoint schedule of a run lives in run.ts)
 */
import { HostRng, KeyChain, type KeyChainState } from "../engine/prng.js";
import { disposeTree, refTree, type ParamTree } from "../engine/tree.js";
import { collectHostGarbage } from "../engine/gc.js";
import type { VelocityModel } from "../models/model.js";
import type { TrainConfig } from "../config/train.js";
import type { EpochRecord, EvalRecord, FaultEvent } from "../diagnostics/records.js";
import { velocityNormStats, type VelocityNormStats } from "../diagnostics/velocity-norm.js";
import type { GoldPanel } from "../rewards/gold.js";
import { dynamicsByName, type Dynamics } from "../sampling/dynamics.js";
import { initialNoise, OdeSampler } from "../sampling/ode.js";
import { shiftedSchedule, type TimestepSchedule } from "../sampling/schedule.js";
import { decodeSamples, disposeRollout, SdeSampler } from "../sampling/sde.js";
import { selectWindow, trainableSteps, type WindowConfig } from "../sampling/window.js";
import { UserError } from "../engine/errors.js";
import { groupAdvantages } from "./advantages.js";
import { REWARD_TRANSFORMS } from "./reward-transforms.js";
import { STEP_WEIGHTS, type StepWeighting } from "./step-weights.js";
import { StepLog } from "./epoch-stats.js";
import { epochHooks, type EpochHook } from "./epoch-hooks.js";
import { objectiveByName, type PolicyObjective } from "./objectives.js";
import { PolicyOptimiser } from "./optimisation.js";
import { drawPrompts, sampleGroups, type EpochRollout } from "./rollout.js";
import { rewardSummaries, scoreRewards, weightedProxy, type WeightedReward } from "./scoring.js";
import { VelocityNormProbe } from "./velocity-norms.js";

// The record types live in src/diagnostics/records.ts; re-exported for existing importers.
export type { EpochRecord, EvalRecord, FaultEvent, RewardSummary } from "../diagnostics/records.js";
export { scoreRewards, type WeightedReward } from "./scoring.js";

/**
 * What an evaluation samples: each eval prompt (default: the prompt pool) `eval.perPrompt` times,
 * from the fixed noise of `eval.seed` — the same images at every evaluation of a run.
 */
export function evaluationInputs(config: TrainConfig, model: VelocityModel): { prompts: string[]; noise: ReturnType<typeof initialNoise> } {
  const prompts = (config.eval.prompts ?? config.prompts.pool).flatMap((p) => Array.from({ length: config.eval.perPrompt }, () => p));
  return { prompts, noise: initialNoise(model, new KeyChain(config.eval.seed).next(), prompts.length) };
}

export interface TrainerLogger {
  epoch(record: EpochRecord): void;
  evaluation?(record: EvalRecord): void;
  /** Skipped optimizer steps or epochs (non-finite loss, gradient or reward). */
  fault?(event: FaultEvent): void;
}

/** Host-side trainer state that, with the tensors, makes a resumed run continue exactly. */
export interface TrainerMeta {
  epoch: number;
  keys: KeyChainState;
  rng: string;
  skippedSteps: number;
  skippedEpochs: number;
  /** Saved state of each epoch hook, by name (GARDO's p, history, resets). */
  hooks?: Record<string, unknown>;
}

export class GrpoTrainer {
  readonly schedule: TimestepSchedule;
  readonly dynamics: Dynamics;
  readonly objective: PolicyObjective;
  readonly sampler: SdeSampler;
  readonly stepWeighting: StepWeighting;
  private readonly optimiser: PolicyOptimiser;
  private readonly probe: VelocityNormProbe;
  private readonly hooks: EpochHook[];
  /** θ_0, the initial policy: v_ref of the velocity-norm diagnostic (E15). */
  private readonly base: ParamTree;
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
    this.stepWeighting = config.train.stepWeights === "auto" ? this.objective.defaultStepWeights : config.train.stepWeights;
    if (config.sampling.window.mode === "branch" && !config.sampling.sharedNoise) {
      throw new UserError("sampling.window.mode = branch (TempFlow, E17) needs sampling.sharedNoise: true (group members share the initial noise)");
    }
    this.sampler = new SdeSampler(model, this.dynamics, this.schedule, config.sampling.eta);
    this.base = refTree(initialParams);
    this.optimiser = new PolicyOptimiser(config, model, this.objective, initialParams);
    this.probe = new VelocityNormProbe(model);
    this.hooks = epochHooks(config);
    this.keys = new KeyChain(config.seed);
    this.rng = new HostRng(config.seed);
  }

  get params(): ParamTree {
    return this.optimiser.state.params;
  }

  get emaParams(): ParamTree {
    return this.optimiser.state.ema;
  }

  /** One epoch: sample, reward, optimise. */
  async runEpoch(): Promise<EpochRecord> {
    const { config } = this;
    const t0 = performance.now();
    this.epochStart = { keys: this.keys.state(), rng: this.rng.save() };
    this.updatedThisEpoch = false;
    for (const hook of this.hooks) if (hook.resetReference?.(this.epoch)) this.optimiser.resetReference();
    const window = selectWindow(config.sampling.window as WindowConfig, this.schedule, this.dynamics, this.epoch, this.rng, config.train.epochs);
    const groupPrompts = drawPrompts(config.prompts.pool, config.prompts.perEpoch, this.rng);
    const rollout = await sampleGroups(this.sampler, this.params, groupPrompts, config.groupSize, new Set(window), this.keys, config.sampling.sharedNoise);
    const t1 = performance.now();

    const scores = await scoreRewards(this.rewards, rollout.images, this.model.config.sampleShape, rollout.prompts);
    const badReward = this.rewards.findIndex((_, k) => scores[k].some((x) => !Number.isFinite(x)));
    if (badReward >= 0) {
      // A non-finite reward poisons the whole group normalisation: skip this epoch's update.
      this.skippedEpochs += 1;
      this.logger.fault?.({ kind: "nonfinite-reward", epoch: this.epoch, detail: `reward "${this.rewards[badReward].reward.name}" returned a non-finite score; epoch not trained` });
      for (const r of scores) r.forEach((x, i) => (r[i] = Number.isFinite(x) ? x : 0));
    }
    const methodState: Record<string, number> = {};
    if (config.sampling.window.mode !== "all") methodState.windowStart = window[0] ?? -1;
    const { adv, perSample } = await this.advantages(scores, rollout, methodState);
    // The wasm memory peaks in training: enter it with the JS heap collected (src/engine/gc.ts).
    collectHostGarbage();
    const t2 = performance.now();

    const schedule = trainableSteps(this.schedule, this.dynamics).map((i) => this.dynamics.coefficients(this.schedule, i, config.sampling.eta));
    const weights = STEP_WEIGHTS[this.stepWeighting](rollout.steps.map((r) => r.coefficients), schedule);
    const n = rollout.prompts.length;
    const mb = Math.min(config.train.minibatch, n);
    const stepLog = new StepLog(rollout.steps.length);
    let lossSum = 0;
    let gradSum = 0;
    let optimizerSteps = 0;
    let stepGradNorms: EpochRecord["stepGradNorms"];
    let velocityNorms: VelocityNormStats[] | undefined;
    const normEvery = config.diagnostics.velocityNormEvery;
    const measureNorms = normEvery > 0 && this.epoch % normEvery === 0;
    const measureGrads = config.diagnostics.gradNormEvery > 0 && this.epoch % config.diagnostics.gradNormEvery === 0;
    for (let inner = 0; inner < (badReward >= 0 ? 0 : config.train.innerEpochs); inner++) {
      const order = this.rng.permutation(n);
      for (let start = 0; start + mb <= n; start += mb) {
        const indices = order.slice(start, start + mb);
        const onPolicy = inner === 0 && start === 0;
        if (onPolicy && measureNorms) {
          const norms = await this.probe.onTrainedStates(this.base, rollout.steps, rollout.tokens, indices);
          velocityNorms = norms.map(({ normTheta, normRef }) => velocityNormStats(normTheta, normRef));
        }
        if (measureGrads && stepGradNorms === undefined) stepGradNorms = await this.optimiser.perStepGradNorms(rollout, indices, adv.advantages, weights);
        const { loss, grads, chunks } = await this.optimiser.minibatchGradients(rollout, indices, adv.advantages, weights, perSample);
        const { ok, gradNorm } = await this.optimiser.step(grads, loss);
        this.updatedThisEpoch = true;
        if (!ok) {
          this.skippedSteps += 1;
          this.logger.fault?.({ kind: "nonfinite-step", epoch: this.epoch, detail: `loss ${loss}, gradient norm ${gradNorm}: optimizer step skipped` });
          continue;
        }
        lossSum += loss;
        gradSum += gradNorm;
        optimizerSteps += 1;
        for (const chunk of chunks) stepLog.add(chunk, onPolicy);
        for (const hook of this.hooks) hook.afterStep?.(chunks);
      }
    }
    const t3 = performance.now();
    const statsSettings = { ...config.diagnostics, clipLow: config.train.clipLow, clipHigh: config.train.clipHigh };
    const steps = stepLog.stats(rollout.steps, weights, statsSettings);
    const methodStats = stepLog.methodStats().epoch;
    for (const hook of this.hooks) Object.assign(methodState, hook.state());
    if (velocityNorms) steps.forEach((step, k) => (step.velocityNorm = velocityNorms[k]));
    rollout.tokens.dispose();
    disposeRollout(rollout);
    const record: EpochRecord = {
      epoch: this.epoch,
      window,
      prompts: groupPrompts,
      rewards: rewardSummaries(this.rewards, scores),
      zeroStdFraction: adv.zeroStdFraction,
      groupStdMean: adv.groupStdMean,
      advantageAbsMean: adv.advantages.reduce((a, b) => a + Math.abs(b), 0) / n,
      loss: lossSum / Math.max(1, optimizerSteps),
      gradNorm: gradSum / Math.max(1, optimizerSteps),
      optimizerSteps,
      steps,
      onPolicy: stepLog.onPolicy,
      ...(Object.keys(methodStats).length ? { methodStats } : {}),
      ...(Object.keys(methodState).length ? { methodState } : {}),
      histogramRange: stepLog.histogramRange(statsSettings),
      stepGradNorms,
      seconds: { sample: (t1 - t0) / 1000, reward: (t2 - t1) / 1000, train: (t3 - t2) / 1000 },
    };
    this.epoch += 1;
    this.logger.epoch(record);
    return record;
  }

  /**
   * Rewards → advantages: the reward transform (E18), the group advantages (E7), then each
   * epoch hook's shaping (GARDO's diversity advantages and gate, E14). Adds to `methodState`.
   */
  private async advantages(scores: Float32Array[], rollout: EpochRollout, methodState: Record<string, number>) {
    const { config } = this;
    const transform = REWARD_TRANSFORMS[config.advantages.reward];
    const shaped = scores.map((r) => transform(r, { groupSize: config.groupSize, tieTolerance: config.advantages.tieTolerance }));
    if (shaped[0] !== scores[0]) {
      // E18: rank-only rewards turn tiny proxy gaps into full-size advantages — log the raw spread.
      methodState.rawGroupStd = groupAdvantages([scores[0]], { groupSize: config.groupSize, weights: [1], globalNormalize: false, clip: Infinity }).groupStdMean[0];
    }
    const adv = groupAdvantages(shaped, {
      groupSize: config.groupSize,
      weights: this.rewards.map((r) => r.weight),
      globalNormalize: config.advantages.globalNormalize,
      clip: config.advantages.clip,
      std: config.advantages.std,
    });
    let perSample: Record<string, Float32Array> = {};
    const proxy = Float32Array.from(scores[0], (_, i) => scores.reduce((a, r, k) => a + this.rewards[k].weight * r[i], 0));
    for (const hook of this.hooks) {
      if (!hook.shape) continue;
      const out = await hook.shape({ proxy, images: rollout.images, sampleShape: this.model.config.sampleShape, prompts: rollout.prompts, groupSize: config.groupSize, clip: config.advantages.clip, advantages: adv.advantages });
      if (out.advantages) adv.advantages = out.advantages;
      perSample = { ...perSample, ...out.perSample };
    }
    return { adv, perSample };
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
      tensors: this.optimiser.tensors(),
      meta: {
        epoch: this.epoch,
        keys: this.keys.state(),
        rng: this.rng.save(),
        skippedSteps: this.skippedSteps,
        skippedEpochs: this.skippedEpochs,
        ...(this.hooks.length ? { hooks: Object.fromEntries(this.hooks.map((h) => [h.name, h.save()])) } : {}),
      },
    };
  }

  /** Replace the state with a checkpoint's (tensors shaped like exportState().tensors; consumed). */
  importState(tensors: ParamTree, meta: TrainerMeta): void {
    this.optimiser.load(tensors);
    this.epoch = meta.epoch;
    this.keys = KeyChain.restore(meta.keys);
    this.rng = HostRng.restore(meta.rng);
    this.skippedSteps = meta.skippedSteps;
    this.skippedEpochs = meta.skippedEpochs;
    for (const hook of this.hooks) if (meta.hooks?.[hook.name] !== undefined) hook.restore(meta.hooks[hook.name]);
  }

  /** Evaluate the EMA policy: ODE sampling with fixed noise, proxy rewards. */
  async evaluate(): Promise<EvalRecord> {
    const { config, model } = this;
    const { prompts, noise } = evaluationInputs(config, model);
    let final;
    let velocityNorm: EvalRecord["velocityNorm"];
    if (config.diagnostics.velocityNormEval) {
      const schedule = shiftedSchedule(config.eval.steps, config.sampling.shift);
      ({ final, norms: velocityNorm } = await this.probe.onOdeTrajectory(this.emaParams, this.base, schedule, noise, prompts));
    } else {
      const sampler = new OdeSampler(model, { steps: config.eval.steps, shift: config.sampling.shift });
      final = await sampler.sample(this.emaParams, noise, prompts);
      sampler.dispose();
    }
    const images = await decodeSamples(final, model.config.sampleShape);
    const scores = await scoreRewards(this.rewards, images, model.config.sampleShape, prompts);
    const rewards = rewardSummaries(this.rewards, scores);
    const proxy = weightedProxy(this.rewards, rewards);
    const gold = this.gold ? await this.gold.evaluate(images, prompts) : undefined;
    const record: EvalRecord = { epoch: this.epoch, rewards, proxy, gold, velocityNorm, prompts, images, sampleShape: model.config.sampleShape };
    this.logger.evaluation?.(record);
    return record;
  }

  dispose(): void {
    this.sampler.dispose();
    this.probe.dispose();
    for (const hook of this.hooks) hook.dispose?.();
    this.optimiser.dispose();
    disposeTree(this.base);
  }
}
