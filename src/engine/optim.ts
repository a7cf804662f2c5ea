/**
 * Optimizers as optax-style gradient transformations: each is a pair of pure functions
 * `init(params) → state` and `update(updates, state, params) → [updates, state]`, composed
 * with `chain`. States are plain trees of arrays, so they checkpoint like parameters.
 *
 * Refcounts: `update` consumes `updates` and `state` and only borrows `params`;
 * `init` borrows `params`. Everything is written in jax ops so a whole training step
 * (loss, grad, update) can sit under one `jit`.
 */
import { numpy as np, type JaxArray } from "./jax.js";
import { mapTrees, zerosLikeTree, type ParamTree, flattenNamed, disposeTree } from "./tree.js";

export type OptState = ParamTree;

export interface GradientTransformation {
  init(params: ParamTree): OptState;
  update(updates: ParamTree, state: OptState, params: ParamTree): [ParamTree, OptState];
}

/** A learning-rate schedule evaluated in-graph from the step count (int32 scalar array, borrowed). */
export type Schedule = (count: JaxArray) => JaxArray;

export const constantSchedule = (value: number): Schedule => (count) => {
  count.dispose();
  return np.full([], value, { dtype: np.float32 });
};

/** Linear warm-up from 0 to `peak` over `warmupSteps`, then constant. */
export function warmupConstant(peak: number, warmupSteps: number): Schedule {
  if (warmupSteps <= 0) return constantSchedule(peak);
  return (count) => np.minimum(count.ref.astype(np.float32).add(1).mul(1 / warmupSteps), 1).mul(peak);
}

function scalarCount(): JaxArray {
  return np.zeros([], { dtype: np.int32 });
}

/** Global L2 norm of a tree (borrows the tree). */
export function globalNorm(tree: ParamTree): JaxArray {
  let total: JaxArray | null = null;
  for (const leaf of flattenNamed(tree).values()) {
    const sq = np.sum(np.square(leaf.ref));
    total = total === null ? sq : total.add(sq);
  }
  return np.sqrt(total ?? np.zeros([]));
}

/** Scale updates so their global norm is at most `maxNorm` (no-op below it). */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation {
  return {
    init: () => ({}),
    update(updates, state) {
      const norm = globalNorm(updates);
      const scale = np.minimum(np.reciprocal(np.maximum(norm, 1e-12)).mul(maxNorm), 1);
      const clipped = mapTrees((u) => u.mul(scale.ref), updates);
      scale.dispose();
      return [clipped, state];
    },
  };
}

export interface AdamOptions {
  b1?: number;
  b2?: number;
  eps?: number;
}

/** Adam's moment estimates with bias correction (Kingma & Ba 2015, Alg. 1), without the learning rate. */
export function scaleByAdam({ b1 = 0.9, b2 = 0.999, eps = 1e-8 }: AdamOptions = {}): GradientTransformation {
  return {
    init: (params) => ({ count: scalarCount(), mu: zerosLikeTree(params), nu: zerosLikeTree(params) }),
    update(updates, state) {
      const { count, mu, nu } = state as { count: JaxArray; mu: ParamTree; nu: ParamTree };
      const newCount = count.add(1);
      const step = newCount.ref.astype(np.float32);
      // 1 − b^t as −expm1(t·log b): float32 `power` loses ~1% of 1 − 0.999^t at small t.
      const correction1 = np.reciprocal(np.expm1(step.ref.mul(Math.log(b1))).mul(-1));
      const correction2 = np.reciprocal(np.expm1(step.mul(Math.log(b2))).mul(-1));
      const newMu = mapTrees((m, g) => m.mul(b1).add(g.ref.mul(1 - b1)), mu, updates);
      const newNu = mapTrees((v, g) => v.mul(b2).add(np.square(g).mul(1 - b2)), nu, updates);
      const direction = mapTrees(
        (m, v) => m.ref.mul(correction1.ref).div(np.sqrt(v.ref.mul(correction2.ref)).add(eps)),
        newMu,
        newNu,
      );
      correction1.dispose();
      correction2.dispose();
      return [direction, { count: newCount, mu: newMu, nu: newNu }];
    },
  };
}

/** Decoupled weight decay (AdamW): adds `rate · θ` to the update direction. */
export function addDecayedWeights(rate: number): GradientTransformation {
  return {
    init: () => ({}),
    update(updates, state, params) {
      if (rate === 0) return [updates, state];
      return [mapTrees((u, p) => u.add(p.ref.mul(rate)), updates, params), state];
    },
  };
}

/** Multiply by −lr(count), turning a direction into a descent step. */
export function scaleByLearningRate(lr: number | Schedule): GradientTransformation {
  const schedule = typeof lr === "number" ? constantSchedule(lr) : lr;
  return {
    init: () => ({ count: scalarCount() }),
    update(updates, state) {
      const count = (state as { count: JaxArray }).count;
      const rate = schedule(count.ref).mul(-1);
      const scaled = mapTrees((u) => u.mul(rate.ref), updates);
      rate.dispose();
      return [scaled, { count: count.add(1) }];
    },
  };
}

export function chain(...transforms: GradientTransformation[]): GradientTransformation {
  return {
    init: (params) => ({ stages: transforms.map((t) => t.init(params)) }),
    update(updates, state, params) {
      const stages = (state as { stages: OptState[] }).stages;
      const next: OptState[] = [];
      let current = updates;
      transforms.forEach((t, i) => {
        const [u, s] = t.update(current, stages[i], params);
        current = u;
        next.push(s);
      });
      return [current, { stages: next }];
    },
  };
}

export interface AdamWConfig extends AdamOptions {
  lr: number | Schedule;
  weightDecay?: number;
  /** Global grad-norm clipping threshold; omit or 0 for none. */
  maxGradNorm?: number;
}

/** clip-by-global-norm → Adam → decoupled weight decay → −lr. */
export function adamw({ lr, weightDecay = 0, maxGradNorm = 0, ...adam }: AdamWConfig): GradientTransformation {
  const stages: GradientTransformation[] = [];
  if (maxGradNorm > 0) stages.push(clipByGlobalNorm(maxGradNorm));
  stages.push(scaleByAdam(adam));
  if (weightDecay > 0) stages.push(addDecayedWeights(weightDecay));
  stages.push(scaleByLearningRate(lr));
  return chain(...stages);
}

/** θ + u (consumes both trees). */
export function applyUpdates<T extends ParamTree>(params: T, updates: ParamTree): T {
  const out = mapTrees((p, u) => p.add(u), params, updates as T);
  return out;
}

/**
 * Exponential moving average of parameters: ema ← d·ema + (1−d)·θ (consumes `ema`, borrows
 * `params`). With `count` (borrowed), the decay warms up as min(d, (1+t)/(10+t)).
 */
export function emaUpdate<T extends ParamTree>(ema: T, params: T, decay: number, count?: JaxArray): T {
  if (count === undefined) return mapTrees((e, p) => e.mul(decay).add(p.ref.mul(1 - decay)), ema, params);
  const t = count.ref.astype(np.float32);
  const d = np.minimum(t.ref.add(1).div(t.add(10)), decay);
  const out = mapTrees((e, p) => e.mul(d.ref).add(p.ref.mul(d.ref.mul(-1).add(1))), ema, params);
  d.dispose();
  return out;
}

export { disposeTree };
