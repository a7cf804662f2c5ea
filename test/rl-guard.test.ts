import { test } from "node:test";
import assert from "node:assert/strict";
import { initEngine, numpy as np, random, valueAndGrad, type JaxArray } from "../src/engine/jax.js";
import { globalNorm } from "../src/engine/optim.js";
import { KeyChain } from "../src/engine/prng.js";
import { disposeTree, flattenNamed, mapTrees, refTree, type ParamTree } from "../src/engine/tree.js";
import { createModel, presetConfig } from "../src/models/registry.js";
import { promptTokens } from "../src/models/prompts.js";
import { DYNAMICS } from "../src/sampling/dynamics.js";
import { shiftedSchedule } from "../src/sampling/schedule.js";
import { disposeRollout, SdeSampler, type Rollout } from "../src/sampling/sde.js";
import { policyLoss, type LossSettings } from "../src/rl/loss.js";
import { gatherRows } from "../src/rl/minibatch.js";
import { flowGrpo, grpoGuard, type PolicyObjective } from "../src/rl/objectives.js";
import { summarize } from "../src/diagnostics/ratio-stats.js";

await initEngine();

const model = createModel(presetConfig("dit-tiny"));
const base = model.init(random.key(1));
// A non-trivial policy: the zero-initialised output layer gets small random weights.
const policy = mapTrees((p) => p.add(random.normal(random.key(2), p.shape).mul(0.05)), base);
const schedule = shiftedSchedule(10, 3);
const settings: LossSettings = { clipLow: 1e-4, clipHigh: 1e-4, klBeta: 0, klType: "x" };

async function rolloutFor(dynamics: string, n: number, seed: number): Promise<{ rollout: Rollout; tokens: JaxArray; sampler: SdeSampler }> {
  const sampler = new SdeSampler(model, DYNAMICS[dynamics], schedule, 0.7);
  const prompts = Array.from({ length: n }, (_, i) => String(i % 10));
  const tokens = promptTokens(prompts, model.config.vocab, 1);
  const keys = new KeyChain(seed);
  const noise = random.normal(keys.next(), [n, 1, 28, 28]);
  const rollout = await sampler.rollout(policy, noise, tokens, new Set(schedule.sigmas.slice(0, -1).map((_, i) => i)), () => keys.next());
  return { rollout, tokens, sampler };
}

/** Per-row (plain log r, clipped-on log-ratio) for all steps of the first `n` samples. */
async function ratios(objective: PolicyObjective, params: ParamTree, rollout: Rollout, tokens: JaxArray, n: number, advantages?: number[]) {
  const steps = rollout.steps.map((_, k) => k);
  const adv = advantages ?? Array.from({ length: n }, (_, i) => (i % 2 ? 1 : -1));
  const rows = gatherRows({ steps: rollout.steps, tokens }, steps, Array.from({ length: n }, (_, i) => i), adv, objective.stepWeights(rollout.steps.map((r) => r.coefficients)));
  const [loss, aux] = policyLoss(model, objective, settings, refTree(params), null, rows);
  loss.dispose();
  aux.klRef.dispose();
  return { logRatio: (await aux.logRatio.data()) as Float32Array, clipped: (await aux.clippedLogRatio.data()) as Float32Array };
}

for (const dynamics of ["flow-sde", "dance-sde", "cps"]) {
  test(`${dynamics}: on-policy invariant — the first minibatch has ratio 1 for both objectives`, async () => {
    const { rollout, tokens, sampler } = await rolloutFor(dynamics, 8, 5);
    for (const objective of [flowGrpo, grpoGuard]) {
      // First minibatch: 4 of the 8 samples, all trained steps in one batched forward.
      const { logRatio, clipped } = await ratios(objective, policy, rollout, tokens, 4);
      const worst = Math.max(...Array.from(logRatio, Math.abs), ...Array.from(clipped, Math.abs));
      assert.ok(worst < 1e-5, `${objective.name}: max |log ratio| = ${worst}`);
    }
    disposeRollout(rollout);
    tokens.dispose();
    sampler.dispose();
  });
}

test("Guard vs Flow-GRPO on the same perturbed policy: left shift removed, spread more step-consistent", async () => {
  const n = 24;
  const { rollout, tokens, sampler } = await rolloutFor("flow-sde", n, 9);
  const moved = mapTrees((p) => p.ref.add(random.normal(random.key(77), p.shape).mul(0.15)), policy);
  const flow = await ratios(flowGrpo, moved, rollout, tokens, n);
  const guard = await ratios(grpoGuard, moved, rollout, tokens, n);
  const K = rollout.steps.length;
  const perStep = (values: Float32Array) => Array.from({ length: K }, (_, k) => summarize(values.subarray(k * n, (k + 1) * n)));
  const flowSteps = perStep(flow.clipped);
  const guardSteps = perStep(guard.clipped);
  if (process.env.DEBUG_GUARD) console.log(flowSteps.map((f, k) => `${k}: flow ${f.mean.toExponential(2)}±${(f.std / Math.sqrt(n)).toExponential(1)} guard ${guardSteps[k].mean.toExponential(2)}±${(guardSteps[k].std / Math.sqrt(n)).toExponential(1)}`).join("\n"));
  // The objectives must really differ (Guard must not silently fall back to the plain ratio).
  assert.notDeepEqual(Array.from(guard.clipped.slice(0, 5)), Array.from(flow.clipped.slice(0, 5)));
  for (let k = 0; k < K; k++) {
    const se = (s: { std: number }) => s.std / Math.sqrt(n);
    assert.ok(flowSteps[k].mean + 3 * se(flowSteps[k]) < 0, `Flow-GRPO step ${k}: mean log r ${flowSteps[k].mean} not significantly < 0`);
    assert.ok(Math.abs(guardSteps[k].mean) < 4 * se(guardSteps[k]) + 1e-7, `Guard step ${k}: mean log ρ̂ ${guardSteps[k].mean} ± ${se(guardSteps[k])} not ≈ 0`);
  }
  const spread = (steps: { std: number }[]) => Math.max(...steps.map((s) => s.std)) / Math.min(...steps.map((s) => s.std));
  assert.ok(spread(guardSteps) < spread(flowSteps), `per-step std max/min: Guard ${spread(guardSteps)} vs Flow-GRPO ${spread(flowSteps)}`);
  disposeTree(moved);
  disposeRollout(rollout);
  tokens.dispose();
  sampler.dispose();
});

async function stepGradNorm(objective: PolicyObjective, rollout: Rollout, tokens: JaxArray, k: number, weight: number, n: number): Promise<number> {
  const adv = Array.from({ length: n }, (_, i) => (i % 2 ? 1 : -1));
  const rows = gatherRows({ steps: rollout.steps, tokens }, [k], Array.from({ length: n }, (_, i) => i), adv, [weight]);
  const [, grads] = valueAndGrad((p: ParamTree) => policyLoss(model, objective, settings, p, null, rows), { hasAux: true })(refTree(policy));
  return Number((await globalNorm(grads).data())[0]);
}

test("E10 reweighting makes per-step gradient norms closer to equal (coefficient of variation)", async () => {
  const n = 8;
  const { rollout, tokens, sampler } = await rolloutFor("flow-sde", n, 13);
  const weights = grpoGuard.stepWeights(rollout.steps.map((r) => r.coefficients));
  const before: number[] = [];
  const after: number[] = [];
  for (let k = 0; k < rollout.steps.length; k++) {
    before.push(await stepGradNorm(grpoGuard, rollout, tokens, k, 1, n));
    after.push(await stepGradNorm(grpoGuard, rollout, tokens, k, weights[k], n));
  }
  // Measure: coefficient of variation (std/mean) of the per-step gradient norms.
  const cv = (xs: number[]) => summarize(xs).std / summarize(xs).mean;
  assert.ok(cv(after) < 0.75 * cv(before), `CV before ${cv(before).toFixed(3)}, after ${cv(after).toFixed(3)}`);
  disposeRollout(rollout);
  tokens.dispose();
  sampler.dispose();
});

test("finite differences agree with the gradient of the Guard loss (perturbed policy, no clipping)", async () => {
  const n = 4;
  const { rollout, tokens, sampler } = await rolloutFor("flow-sde", n, 21);
  const wide: LossSettings = { clipLow: 0.9, clipHigh: 10, klBeta: 0, klType: "x" };
  const steps = rollout.steps.map((_, k) => k);
  const weights = grpoGuard.stepWeights(rollout.steps.map((r) => r.coefficients));
  const adv = [1.5, -0.5, 0.7, -1.2];
  const loss = (p: ParamTree): JaxArray => {
    const rows = gatherRows({ steps: rollout.steps, tokens }, steps, [0, 1, 2, 3], adv, weights);
    const [value, aux] = policyLoss(model, grpoGuard, wide, p, null, rows);
    disposeTree(aux);
    return value;
  };
  const moved = mapTrees((p) => p.ref.add(random.normal(random.key(31), p.shape).mul(0.02)), policy);
  const [value, grads] = valueAndGrad(loss)(refTree(moved));
  value.dispose();
  const raw = mapTrees((p) => random.normal(random.key(8), p.shape), moved);
  const norm = Number((await globalNorm(raw).data())[0]);
  const direction = mapTrees((d) => d.mul(1 / norm), raw);
  let analytic = 0;
  const dirLeaves = flattenNamed(direction);
  for (const [name, g] of flattenNamed(grads)) analytic += Number((await np.sum(g.ref.mul(dirLeaves.get(name)!.ref)).data())[0]);
  const h = 2e-2;
  const at = async (sign: number) => Number((await loss(mapTrees((p, d) => p.ref.add(d.ref.mul(sign * h)), moved, direction)).data())[0]);
  const numeric = ((await at(1)) - (await at(-1))) / (2 * h);
  const rel = Math.abs(numeric - analytic) / Math.abs(analytic);
  assert.ok(Math.abs(analytic) > 1e-6, `gradient along the direction is ${analytic}`);
  assert.ok(rel < 0.03, `finite difference ${numeric} vs gradient ${analytic} (rel ${rel})`);
  for (const t of [grads, direction, moved]) disposeTree(t);
  disposeRollout(rollout);
  tokens.dispose();
  sampler.dispose();
});
