import { test } from "node:test";
import assert from "node:assert/strict";
import { initEngine, random } from "../src/engine/jax.js";
import { HostRng, KeyChain } from "../src/engine/prng.js";
import { disposeTree, mapTrees, refTree } from "../src/engine/tree.js";
import { createModel, presetConfig } from "../src/models/registry.js";
import { promptTokens } from "../src/models/prompts.js";
import { groupAdvantages } from "../src/rl/advantages.js";
import { policyLoss } from "../src/rl/loss.js";
import { gatherRows } from "../src/rl/minibatch.js";
import { flowGrpo } from "../src/rl/objectives.js";
import { DYNAMICS } from "../src/sampling/dynamics.js";
import { shiftedSchedule } from "../src/sampling/schedule.js";
import { disposeRollout, SdeSampler } from "../src/sampling/sde.js";
import { selectWindow } from "../src/sampling/window.js";

await initEngine();

test("E1 schedule: s_0 = 1, shifted, s_N = 0, decreasing", () => {
  const { sigmas } = shiftedSchedule(10, 3);
  assert.equal(sigmas.length, 11);
  assert.equal(sigmas[0], 1);
  assert.equal(sigmas[10], 0);
  assert.ok(Math.abs(sigmas[5] - (3 * 0.5) / (1 + 2 * 0.5)) < 1e-12);
  for (let i = 0; i < 10; i++) assert.ok(sigmas[i + 1] < sigmas[i]);
});

test("E7 advantages: per-reward group normalisation, weights, clip, zero-std fraction", () => {
  const r1 = new Float32Array([1, 2, 3, 4, 5, 5, 5, 5]); // group 2 has zero std
  const r2 = new Float32Array([0, 0, 0, 10, 1, 2, 3, 4]);
  const { advantages, zeroStdFraction, groupStdMean } = groupAdvantages([r1, r2], { groupSize: 4, weights: [1, 0.5], globalNormalize: false, clip: 1.5 });
  const z = (x: number, m: number, s: number) => (x - m) / s;
  const std1 = Math.sqrt(1.25);
  const std2 = Math.sqrt(18.75);
  const expected0 = z(1, 2.5, std1) + 0.5 * z(0, 2.5, std2);
  assert.ok(Math.abs(advantages[0] - Math.max(-1.5, expected0)) < 1e-5);
  assert.ok(Math.abs(advantages[3] - Math.min(1.5, z(4, 2.5, std1) + 0.5 * z(10, 2.5, std2))) < 1e-5);
  assert.equal(advantages[3], 1.5, "clipped at A_max");
  assert.deepEqual(zeroStdFraction, [0.5, 0]);
  assert.ok(Math.abs(groupStdMean[0] - std1 / 2) < 1e-6);
  const global = groupAdvantages([r1], { groupSize: 4, weights: [1], globalNormalize: true, clip: 5 }).advantages;
  const mean = global.reduce((a, b) => a + b, 0) / 8;
  assert.ok(Math.abs(mean) < 1e-6, "globally re-normalised to zero mean");
});

test("E6 windows: all, fixed, random (seeded), sliding; CPS never trains its last step", () => {
  const schedule = shiftedSchedule(10, 3);
  const rng = new HostRng(1);
  assert.deepEqual(selectWindow({ mode: "all" }, schedule, DYNAMICS["flow-sde"], 0, rng), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(selectWindow({ mode: "all" }, schedule, DYNAMICS.cps, 0, rng), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(selectWindow({ mode: "fixed", start: 2, size: 3 }, schedule, DYNAMICS["flow-sde"], 0, rng), [2, 3, 4]);
  const a = selectWindow({ mode: "random", candidates: [2, 4] }, schedule, DYNAMICS["flow-sde"], 0, new HostRng(7));
  const b = selectWindow({ mode: "random", candidates: [2, 4] }, schedule, DYNAMICS["flow-sde"], 0, new HostRng(7));
  assert.deepEqual(a, b, "same seed, same window");
  assert.ok([2, 4].includes(a.length));
  const sliding = (epoch: number) => selectWindow({ mode: "sliding", size: 3, stride: 2, every: 2 }, schedule, DYNAMICS["flow-sde"], epoch, rng);
  assert.deepEqual([sliding(0), sliding(1), sliding(2), sliding(4)], [[0, 1, 2], [0, 1, 2], [2, 3, 4], [4, 5, 6]]);
  assert.deepEqual(selectWindow({ mode: "all" }, schedule, DYNAMICS.ode, 0, rng), [], "the ODE has nothing to train");
});

test("KL to the frozen reference: 0 for the reference itself, > 0 after the policy moves (x- and v-based)", async () => {
  const model = createModel(presetConfig("dit-tiny"));
  const policy = mapTrees((p) => p.add(random.normal(random.key(2), p.shape).mul(0.05)), model.init(random.key(1)));
  const schedule = shiftedSchedule(4, 3);
  const sampler = new SdeSampler(model, DYNAMICS["flow-sde"], schedule, 0.7);
  const tokens = promptTokens(["1", "2", "3", "4"], model.config.vocab, 1);
  const keys = new KeyChain(1);
  const rollout = await sampler.rollout(policy, random.normal(keys.next(), [4, 1, 28, 28]), tokens, new Set([0, 1, 2, 3]), () => keys.next());
  const moved = mapTrees((p) => p.ref.add(random.normal(random.key(3), p.shape).mul(0.05)), policy);
  for (const klType of ["x", "v"] as const) {
    const kl = async (params: typeof policy) => {
      const rows = gatherRows({ steps: rollout.steps, tokens }, [0, 1, 2, 3], [0, 1, 2, 3], [1, -1, 1, -1], [1, 1, 1, 1]);
      const [loss, aux] = policyLoss(model, flowGrpo, { clipLow: 1e-4, clipHigh: 1e-4, klBeta: 0.1, klType }, refTree(params), refTree(policy), rows);
      loss.dispose();
      aux.logRatio.dispose();
      aux.clippedLogRatio.dispose();
      return (await aux.klRef.data()) as Float32Array;
    };
    assert.ok((await kl(policy)).every((x) => Math.abs(x) < 1e-9), `${klType}: KL(θ_ref ‖ θ_ref) = 0`);
    assert.ok((await kl(moved)).every((x) => x > 0), `${klType}: KL > 0 after the policy moved`);
  }
  for (const t of [moved, policy]) disposeTree(t);
  disposeRollout(rollout);
  tokens.dispose();
  sampler.dispose();
});
