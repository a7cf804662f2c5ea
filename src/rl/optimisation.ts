/**
 * The optimisation half of an epoch (E8–E10): the policy, its Adam state, the EMA copy and the
 * frozen reference, and the jitted functions that turn a minibatch of rollout rows into one
 * optimizer step — loss and gradients per chunk of rows, accumulated, then clip → Adam → EMA,
 * skipping the step in-graph when the loss or gradient is not finite.
 */
import { jit, numpy as np, valueAndGrad, type JaxArray } from "../engine/jax.js";
import { adamw, applyUpdates, emaUpdate, globalNorm, type GradientTransformation, type OptState } from "../engine/optim.js";
import { disposeTree, mapTrees, refTree, type ParamTree } from "../engine/tree.js";
import type { VelocityModel } from "../models/model.js";
import type { TrainConfig } from "../config/train.js";
import type { StepGradNorm } from "../diagnostics/records.js";
import { needsReference, policyLoss, type LossAux, type LossSettings, type MinibatchRows } from "./loss.js";
import { lossTerms } from "./loss-terms.js";
import { gatherRows } from "./minibatch.js";
import type { PolicyObjective } from "./objectives.js";
import type { ChunkRows } from "./epoch-stats.js";
import type { EpochRollout } from "./rollout.js";

export interface TrainState extends ParamTree {
  params: ParamTree;
  opt: OptState;
  ema: ParamTree;
}

type ChunkGradFn = (params: ParamTree, ref: ParamTree, rows: MinibatchRows, share: JaxArray) => [JaxArray, ParamTree, LossAux];
type ApplyFn = (state: TrainState, grads: ParamTree, loss: JaxArray) => [TrainState, JaxArray, JaxArray];

export interface MinibatchGradients {
  loss: number;
  grads: ParamTree;
  chunks: ChunkRows[];
}

export class PolicyOptimiser {
  readonly lossSettings: LossSettings;
  private readonly optimizer: GradientTransformation;
  private readonly chunkGrad: ChunkGradFn;
  private readonly accumulate: (a: ParamTree, b: ParamTree) => ParamTree;
  private readonly applyGrads: ApplyFn;
  private readonly gradOnly: (params: ParamTree, ref: ParamTree, rows: MinibatchRows) => JaxArray;
  state: TrainState;
  reference: ParamTree;

  constructor(
    readonly config: TrainConfig,
    readonly model: VelocityModel,
    readonly objective: PolicyObjective,
    initialParams: ParamTree,
  ) {
    const t = config.train;
    this.lossSettings = { clipLow: t.clipLow, clipHigh: t.clipHigh, klBeta: t.kl.beta, klType: t.kl.type, trustRegion: t.trustRegion, terms: lossTerms(t) };
    this.optimizer = adamw({ lr: t.lr, weightDecay: t.weightDecay, maxGradNorm: t.maxGradNorm });
    // Arrays are immutable: EMA and the frozen reference start by sharing the buffers.
    this.reference = needsReference(this.lossSettings) ? refTree(initialParams) : {};
    this.state = { params: initialParams, opt: this.optimizer.init(initialParams), ema: refTree(initialParams) };

    const { lossSettings, optimizer } = this;
    const loss = (p: ParamTree, ref: ParamTree, rows: MinibatchRows) =>
      policyLoss(model, objective, lossSettings, p, Object.keys(ref).length ? ref : null, rows);
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

  /**
   * Loss and gradient of one minibatch over all trained steps, computed in chunks of at most
   * `train.chunkRows` rows (steps × samples) — one batched forward/backward per chunk, the
   * gradients summed with each chunk's share of the rows (jax-js's wasm memory is 4 GiB).
   */
  async minibatchGradients(rollout: EpochRollout, indices: readonly number[], advantages: ArrayLike<number>, weights: readonly number[], perSample: Record<string, ArrayLike<number>> = {}): Promise<MinibatchGradients> {
    const b = indices.length;
    const K = rollout.steps.length;
    const stepsPerChunk = Math.max(1, Math.floor(this.config.train.chunkRows / b));
    let grads: ParamTree | null = null;
    let loss = 0;
    const chunks: ChunkRows[] = [];
    const sampleAdvantages = indices.map((i) => advantages[i]);
    for (let first = 0; first < K; first += stepsPerChunk) {
      const steps = Array.from({ length: Math.min(stepsPerChunk, K - first) }, (_, j) => first + j);
      const rows = gatherRows(rollout, steps, indices, advantages, steps.map((k) => weights[k]), perSample);
      const [value, chunkGrads, aux] = this.chunkGrad(refTree(this.state.params), refTree(this.reference), rows, np.array(steps.length / K));
      grads = grads === null ? chunkGrads : this.accumulate(grads, chunkGrads);
      const keys = Object.keys(aux);
      const [lossValue, ...columns] = await Promise.all([value.data(), ...keys.map((key) => (aux[key] as JaxArray).data())]);
      loss += Number(lossValue[0]);
      chunks.push({ steps, advantages: sampleAdvantages, values: Object.fromEntries(keys.map((key, j) => [key, columns[j] as Float32Array])) });
    }
    return { loss, grads: grads!, chunks };
  }

  /** One optimizer step with the accumulated gradients (consumed); false when it was skipped. */
  async step(grads: ParamTree, loss: number): Promise<{ ok: boolean; gradNorm: number }> {
    const [state, gradNorm, ok] = this.applyGrads(this.state, grads, np.array(loss));
    this.state = state;
    const [gradValue, okValue] = await Promise.all([gradNorm.data(), ok.data()]);
    return { ok: Boolean(okValue[0]), gradNorm: Number(gradValue[0]) };
  }

  /** Gradient norm of each trained step's loss alone, unweighted and weighted (E10 diagnostic). */
  async perStepGradNorms(rollout: EpochRollout, indices: readonly number[], advantages: ArrayLike<number>, weights: readonly number[]): Promise<StepGradNorm[]> {
    const out: StepGradNorm[] = [];
    for (let k = 0; k < rollout.steps.length; k++) {
      const rows = gatherRows(rollout, [k], indices, advantages, [1]);
      const norm = Number((await this.gradOnly(refTree(this.state.params), refTree(this.reference), rows).data())[0]);
      out.push({ step: rollout.steps[k].index, before: norm, after: norm * weights[k] });
    }
    return out;
  }

  /** θ_ref ← θ (GARDO's reference reset, E14 d): the reference shares θ's buffers. */
  resetReference(): void {
    disposeTree(this.reference);
    this.reference = refTree(this.state.params);
  }

  /** The tensors of a checkpoint (borrowed). */
  tensors(): ParamTree {
    return { state: this.state, reference: this.reference };
  }

  /** Replace the tensors with a checkpoint's (shaped like tensors(); consumed). */
  load(tensors: ParamTree): void {
    const loaded = tensors as { state: TrainState; reference: ParamTree };
    disposeTree(this.state);
    disposeTree(this.reference);
    this.state = loaded.state;
    this.reference = loaded.reference;
  }

  dispose(): void {
    for (const f of [this.chunkGrad, this.accumulate, this.applyGrads, this.gradOnly]) (f as unknown as { dispose(): void }).dispose();
    disposeTree(this.state);
    disposeTree(this.reference);
  }
}
