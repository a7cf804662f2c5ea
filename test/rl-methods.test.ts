/**
 * The "Test:" lines of algorithms.md E13–E18 against float64 closed forms (hand cases on the
 * linear velocity model of test/linear-policy.ts), and each method's on-policy identity.
 * E20 is in rl-pitfalls.test.ts, the velocity-norm diagnostic of E15 in rl-statistics.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { initEngine, random, valueAndGrad, type JaxArray } from "../src/engine/jax.js";
import { KeyChain } from "../src/engine/prng.js";
import type { ParamTree } from "../src/engine/tree.js";
import { mapTrees } from "../src/engine/tree.js";
import { createModel, presetConfig } from "../src/models/registry.js";
import { policyLoss, type LossSettings } from "../src/rl/loss.js";
import { HINGE_TOLERANCE, normGuard } from "../src/rl/loss-terms.js";
import { flowDppo, flowGrpo, type PolicyObjective } from "../src/rl/objectives.js";
import { winRates } from "../src/rl/reward-transforms.js";
import { STEP_WEIGHTS } from "../src/rl/step-weights.js";
import { drawPrompts, sampleGroups } from "../src/rl/rollout.js";
import { DYNAMICS } from "../src/sampling/dynamics.js";
import { shiftedSchedule } from "../src/sampling/schedule.js";
import { disposeRollout, SdeSampler } from "../src/sampling/sde.js";
import { selectWindow, slidingStart } from "../src/sampling/window.js";
import { HostRng } from "../src/engine/prng.js";
import { closedForm, linearModel, linearParams, linearRows, randomCase, relClose, type LinearCase } from "./linear-policy.js";

await initEngine();

const base: LossSettings = { clipLow: 0.99, clipHigh: 100, klBeta: 0, klType: "x" };

async function evaluate(c: LinearCase, objective: PolicyObjective, settings: LossSettings, a: number, b: number, ref: [number, number] | null = null) {
  const model = linearModel(c.D);
  const rows = linearRows(c);
  const refParams = ref ? linearParams(...ref) : null;
  const [[value, aux], grads] = valueAndGrad((p: ParamTree, r: ParamTree) => policyLoss(model, objective, settings, p, Object.keys(r).length ? r : null, rows), { hasAux: true })(linearParams(a, b), refParams ?? {});
  const read = async (x: unknown) => Array.from((await (x as JaxArray).data()) as Float32Array);
  const out: Record<string, number[]> = {};
  for (const [key, v] of Object.entries(aux)) out[key] = await read(v);
  return { loss: (await read(value))[0], da: (await read(grads.a))[0], db: (await read(grads.b))[0], aux: out };
}

// ---------------------------------------------------------------- E13
test("E13: β_KL = 0 gives bit-identical loss and gradients to plain E8 (with or without a reference)", async () => {
  const c = randomCase(8, 12, 11);
  const plain = await evaluate(c, flowGrpo, base, c.a0 + 0.3, c.b0 + 0.1);
  const withRef = await evaluate(c, flowGrpo, { ...base, klBeta: 0 }, c.a0 + 0.3, c.b0 + 0.1, [c.a0, c.b0]);
  assert.equal(Object.is(plain.loss, withRef.loss), true);
  assert.equal(Object.is(plain.da, withRef.da) && Object.is(plain.db, withRef.db), true, `${plain.da} vs ${withRef.da}`);
});

test("E13: x-based KL = mean((μ_θ − μ_ref)²)/(2σ_s²) per row, β·mean(KL) added to the loss; 0 at θ = θ_ref", async () => {
  const c = randomCase(8, 12, 12);
  const [a, b] = [c.a0 + 0.3, c.b0 + 0.1];
  const ref: [number, number] = [c.a0 - 0.2, c.b0];
  const beta = 0.04;
  const without = await evaluate(c, flowGrpo, base, a, b, ref);
  const got = await evaluate(c, flowGrpo, { ...base, klBeta: beta }, a, b, ref);
  const kl = Array.from({ length: c.R }, (_, j) => {
    let sum = 0;
    for (let d = 0; d < c.D; d++) sum += (c.beta[j] * ((a - ref[0]) * c.x[j * c.D + d] + (b - ref[1]))) ** 2;
    const sigma2 = c.std[j] ** 2 / -c.dt[j];
    return sum / c.D / (2 * sigma2);
  });
  kl.forEach((k, j) => assert.ok(relClose(got.aux.klRef[j], k, 1e-4), `row ${j}: KL ${got.aux.klRef[j]} vs ${k}`));
  const meanKl = kl.reduce((x, y) => x + y, 0) / c.R;
  assert.ok(relClose(got.loss - without.loss, beta * meanKl, 1e-3), `ΔL ${got.loss - without.loss} vs β·KL ${beta * meanKl}`);
  const onRef = await evaluate(c, flowGrpo, { ...base, klBeta: beta }, ...ref, ref);
  assert.ok(onRef.aux.klRef.every((k) => k === 0), "KL(θ_ref ‖ θ_ref) = 0");
});

// ---------------------------------------------------------------- E14c (the gate in the E8 KL)
test("E14c: all g = 1 ⇒ the E8 KL; no g ⇒ 0; ungated samples get no KL gradient", async () => {
  const c = randomCase(6, 8, 14);
  const [a, b] = [c.a0 + 0.2, c.b0 - 0.1];
  const ref: [number, number] = [c.a0, c.b0 + 0.3];
  const settings = { ...base, klBeta: 0.5 };
  const model = linearModel(c.D);
  const lossWith = async (gate: number[] | null) => {
    const rows = linearRows(c);
    if (gate) rows.gate = random.uniform(random.key(0), [c.R]).mul(0).add(Float32Array.from(gate) as never);
    const [[value], grads] = valueAndGrad((p: ParamTree) => policyLoss(model, flowGrpo, settings, p, linearParams(...ref), rows), { hasAux: true })(linearParams(a, b));
    return { loss: Number((await value.data())[0]), da: Number((await (grads.a as JaxArray).data())[0]) };
  };
  const none = await lossWith(null);
  const all = await lossWith(c.advantage.map(() => 1));
  assert.ok(relClose(all.loss, none.loss, 1e-6) && relClose(all.da, none.da, 1e-5), "all gates on = plain KL");
  const plain = await evaluate(c, flowGrpo, base, a, b);
  const zero = await lossWith(c.advantage.map(() => 0));
  assert.ok(relClose(zero.loss, plain.loss, 1e-6) && relClose(zero.da, plain.da, 1e-5), "no gate ⇒ KL term 0");
  // Only sample 0 gated: the KL gradient is sample 0's alone (Σ g·KL/Σ g = KL_0).
  const one = await lossWith(c.advantage.map((_, j) => (j === 0 ? 1 : 0)));
  let dKl0 = 0;
  for (let d = 0; d < c.D; d++) {
    const x = c.x[d];
    dKl0 += (2 * c.beta[0] * ((a - ref[0]) * x + (b - ref[1])) * c.beta[0] * x) / (2 * (c.std[0] ** 2 / -c.dt[0]));
  }
  dKl0 /= c.D;
  assert.ok(relClose(one.da - plain.da, settings.klBeta * dKl0, 1e-3), `dKL/da ${(one.da - plain.da) / settings.klBeta} vs sample 0's ${dKl0}`);
});

// ---------------------------------------------------------------- E15
test("E15 NormGuard: n_θ ≤ n_ref ⇒ zero loss and gradient; active ⇒ ∂L/∂a = λ·Σ mean(v·x)/(n_θ·n_terms); R = 1 at θ = θ_ref", async () => {
  const c = randomCase(6, 10, 15);
  const lambda = 0.7;
  const settings = (form: "absolute" | "relative"): LossSettings => ({ ...base, terms: [normGuard(lambda, form)] });
  // Inactive: |v_θ| = 0.5·|x| < |v_ref| = 2·|x| at every row.
  const off = await evaluate(c, flowGrpo, base, 0.5, 0, [2, 0]);
  const inactive = await evaluate(c, flowGrpo, settings("absolute"), 0.5, 0, [2, 0]);
  assert.equal(inactive.loss, off.loss);
  assert.equal(inactive.da, off.da);
  assert.ok(inactive.aux.normGuardActive.every((x) => x === 0));
  // Active: θ = (2.5, 0.2) against θ_ref = (1, 0).
  const [a, b] = [2.5, 0.2];
  const free = await evaluate(c, flowGrpo, base, a, b, [1, 0]);
  for (const form of ["absolute", "relative"] as const) {
    const got = await evaluate(c, flowGrpo, settings(form), a, b, [1, 0]);
    let loss = 0, da = 0, db = 0;
    for (let j = 0; j < c.R; j++) {
      let vv = 0, rr = 0, vx = 0, v1 = 0;
      for (let d = 0; d < c.D; d++) {
        const x = c.x[j * c.D + d];
        const v = a * x + b;
        vv += v * v;
        rr += x * x;
        vx += v * x;
        v1 += v;
      }
      const nTheta = Math.sqrt(vv / c.D);
      const nRef = Math.sqrt(rr / c.D);
      const scale = form === "absolute" ? 1 : 1 / nRef;
      if (nTheta <= nRef * (1 + HINGE_TOLERANCE)) continue;
      loss += (lambda * scale * (nTheta - nRef * (1 + HINGE_TOLERANCE))) / c.R;
      // ∂n_θ/∂v = v/(D·n_θ), ∂v/∂a = x, ∂v/∂b = 1
      da += (lambda * scale * vx) / (c.D * nTheta * c.R);
      db += (lambda * scale * v1) / (c.D * nTheta * c.R);
    }
    assert.ok(loss > 0);
    assert.ok(relClose(got.loss - free.loss, loss, 1e-4), `${form}: L_NG ${got.loss - free.loss} vs ${loss}`);
    assert.ok(relClose(got.da - free.da, da, 1e-3), `${form}: ∂L/∂a ${got.da - free.da} vs ${da}`);
    assert.ok(relClose(got.db - free.db, db, 1e-3), `${form}: ∂L/∂b ${got.db - free.db} vs ${db}`);
  }
  const atRef = await evaluate(c, flowGrpo, settings("absolute"), 1, 0, [1, 0]);
  assert.ok(atRef.aux.normRatio.every((r) => Math.abs(r - 1) < 1e-6), `R = 1 at θ = θ_ref: ${atRef.aux.normRatio}`);
  assert.ok(atRef.aux.normGuardActive.every((x) => x === 0), "no row active at θ = θ_ref (float rounding between the two passes is below the hinge tolerance)");
  const refLoss = await evaluate(c, flowGrpo, base, 1, 0, [1, 0]);
  assert.equal(atRef.da, refLoss.da, "no NormGuard gradient at θ = θ_ref");
});

// ---------------------------------------------------------------- E16
test("E16 Flow-DPPO: θ = θ_old ⇒ k = 0, nothing dropped, L = −mean(A)", async () => {
  const c = randomCase(8, 10, 16);
  const got = await evaluate(c, flowDppo, { ...base, trustRegion: 1e-5 }, c.a0, c.b0);
  // (μ_old is computed on the host here, so k is 0 up to float32 rounding; in the trainer the
  // same device function computes both and k is exactly 0.)
  assert.ok(got.aux.dppoK.every((k) => k < 1e-12), `k = ${got.aux.dppoK}`);
  assert.ok(got.aux.dppoMasked.every((m) => m === 0));
  const expected = -c.advantage.reduce((x, y) => x + y, 0) / c.R;
  assert.ok(relClose(got.loss, expected, 1e-5), `${got.loss} vs ${expected}`);
});

test("E16 Flow-DPPO: k closed form; (k ≥ δ, ρ>1, A>0) dropped with zero gradient, (k ≥ δ, ρ<1, A>0) kept, k < δ kept", async () => {
  // Rows with different x scales so that k straddles δ.
  const c = randomCase(32, 8, 17);
  for (let j = 0; j < c.R; j++) for (let d = 0; d < c.D; d++) c.x[j * c.D + d] *= j < 16 ? 0.05 : 1;
  const [a, b] = [c.a0 + 0.4, c.b0];
  const rows = closedForm(c, a, b);
  const k = rows.map((r) => r.meanDeltaSq / (2 * (c.std[rows.indexOf(r)] ** 2)));
  const sorted = [...k].sort((x, y) => x - y);
  const delta = (sorted[c.R / 2 - 1] + sorted[c.R / 2]) / 2; // between two rows: no float32 boundary case
  const got = await evaluate(c, flowDppo, { ...base, trustRegion: delta }, a, b);
  k.forEach((kj, j) => assert.ok(relClose(got.aux.dppoK[j], kj, 1e-4, 1e-12), `k_${j} ${got.aux.dppoK[j]} vs ${kj}`));
  const drop = rows.map((r, j) => k[j] >= delta && ((r.logR > 0 && c.advantage[j] > 0) || (r.logR < 0 && c.advantage[j] < 0)));
  assert.deepEqual(got.aux.dppoMasked, drop.map((d) => (d ? 1 : 0)));
  const cases = { droppedPositive: 0, keptCorrective: 0, keptInside: 0 };
  drop.forEach((d, j) => {
    if (d && c.advantage[j] > 0) cases.droppedPositive++;
    if (!d && k[j] >= delta) cases.keptCorrective++;
    if (k[j] < delta) cases.keptInside++;
  });
  assert.ok(cases.droppedPositive > 0 && cases.keptCorrective > 0 && cases.keptInside > 0, JSON.stringify(cases));
  // L = mean(where(drop, 0, −A·ρ)); dL/da = −mean over kept rows of A·ρ·∂log r/∂a.
  let loss = 0, da = 0;
  rows.forEach((r, j) => {
    if (drop[j]) return;
    let zx = 0, dx = 0;
    for (let d = 0; d < c.D; d++) {
      const x = c.x[j * c.D + d];
      zx += c.z[j * c.D + d] * x;
      dx += c.beta[j] * ((a - c.a0) * x + (b - c.b0)) * x;
    }
    const dLogR = r.kappa * (2 * c.std[j] * c.beta[j] * (zx / c.D) - 2 * c.beta[j] * (dx / c.D));
    loss -= (c.advantage[j] * Math.exp(r.logR)) / c.R;
    da -= (c.advantage[j] * Math.exp(r.logR) * dLogR) / c.R;
  });
  assert.ok(relClose(got.loss, loss, 1e-4), `L ${got.loss} vs ${loss}`);
  assert.ok(relClose(got.da, da, 1e-3), `dL/da ${got.da} vs ${da}`);
});

// ---------------------------------------------------------------- E17
test("E17 MixGRPO schedule: l = 0, +s every τ epochs, roll back when l > L − w; τ = ⌊epochs/(⌊(L−w)/s⌋+1)⌋", () => {
  const seq = (stride: number, every: number | "auto", epochs: number) =>
    Array.from({ length: epochs + 2 }, (_, e) => slidingStart({ mode: "sliding", size: 2, stride, every, limit: 8 }, 10, e, epochs).start);
  // L = 8, w = 2, s = 1: 7 positions; 14 epochs ⇒ τ = 2.
  assert.deepEqual(seq(1, "auto", 14), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 0, 0]);
  // s = 2: positions 0, 2, 4, 6 (⌊6/2⌋+1 = 4), τ = 1, back to 0 after 6.
  assert.deepEqual(seq(2, 1, 6), [0, 2, 4, 6, 0, 2, 4, 6]);
  const schedule = shiftedSchedule(10, 3);
  const rng = new HostRng(0);
  const windows = Array.from({ length: 8 }, (_, e) => selectWindow({ mode: "sliding", size: 2, stride: 1, every: 1, limit: 8 }, schedule, DYNAMICS["flow-sde"], e, rng, 8));
  assert.deepEqual(windows, [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6], [6, 7], [0, 1]], "W ⊂ [0, L)");
});

test("E17 TempFlow weights ∝ std_i, mean 1 over the schedule (canonical: 1.66, 1.75, …, 0.48); Guard weights are another option", () => {
  const schedule = shiftedSchedule(10, 3);
  const coefficients = Array.from({ length: 10 }, (_, i) => DYNAMICS["flow-sde"].coefficients(schedule, i, 0.7));
  const w = STEP_WEIGHTS.tempflow(coefficients, coefficients);
  assert.ok(Math.abs(w.reduce((x, y) => x + y, 0) / w.length - 1) < 1e-12);
  assert.deepEqual([w[0], w[1], w[9]].map((x) => Number(x.toFixed(2))), [1.66, 1.75, 0.48]);
  coefficients.forEach((cf, i) => assert.ok(Math.abs(w[i] / w[0] - cf.std / coefficients[0].std) < 1e-12));
  // Branching trains one step b: its weight stays std_b / mean_i std_i (not 1).
  assert.equal(STEP_WEIGHTS.tempflow([coefficients[9]], coefficients)[0], w[9]);
  const g = STEP_WEIGHTS.guard(coefficients, coefficients);
  assert.ok(Math.abs(g.reduce((x, y) => x + y, 0) / 10 - 1) < 1e-12);
  assert.notDeepEqual(g, w);
});

test("E17 TempFlow branching: steps outside W are deterministic; group members are identical up to x_{s_b}", async () => {
  const model = createModel(presetConfig("dit-tiny"));
  const params = mapTrees((p) => p.add(random.normal(random.key(5), p.shape).mul(0.05)), model.init(random.key(4)));
  const schedule = shiftedSchedule(6, 3);
  const sampler = new SdeSampler(model, DYNAMICS["flow-sde"], schedule, 0.7);
  const rng = new HostRng(3);
  const window = selectWindow({ mode: "branch", firstSteps: 4 }, schedule, DYNAMICS["flow-sde"], 0, rng);
  assert.equal(window.length, 1);
  assert.ok(window[0] < 4);
  const G = 4;
  const run = async () => sampleGroups(sampler, params, drawPrompts(["1", "2"], 2, new HostRng(1)), G, new Set(window), new KeyChain(7), true);
  const rollout = await run();
  assert.equal(rollout.steps.length, 1);
  const state = (await rollout.steps[0].x.ref.data()) as Float32Array;
  const finals = rollout.images;
  const D = 28 * 28;
  for (let g = 0; g < 2; g++) {
    for (let j = 1; j < G; j++) {
      assert.deepEqual(state.subarray((g * G + j) * D, (g * G + j + 1) * D), state.subarray(g * G * D, (g * G + 1) * D), "identical up to x_{s_b}");
      assert.notDeepEqual(finals.subarray((g * G + j) * D, (g * G + j + 1) * D), finals.subarray(g * G * D, (g * G + 1) * D), "different after the SDE step");
    }
  }
  // Deterministic outside W: the same rollout noise keys give the same trajectory.
  const again = await run();
  assert.deepEqual(again.images, rollout.images);
  for (const r of [rollout, again]) {
    r.tokens.dispose();
    disposeRollout(r);
  }
  sampler.dispose();
});

// ---------------------------------------------------------------- E18
test("E18 win rate: r = (0.1, 0.5, 0.5, 0.9) ⇒ (0, ½, ½, 1); invariant to r → r³; Σ w = G/2; τ_tie", () => {
  const options = { groupSize: 4, tieTolerance: 0 };
  const r = Float32Array.from([0.1, 0.5, 0.5, 0.9, 3, -1, 2, 2]);
  const w = winRates(r, options);
  assert.deepEqual(Array.from(w.subarray(0, 4)), [0, 0.5, 0.5, 1]);
  assert.deepEqual(Array.from(w.subarray(4)), [1, 0, 0.5, 0.5]);
  assert.deepEqual(winRates(r.map((x) => x ** 3), options), w);
  for (let g = 0; g < 2; g++) assert.equal(w.subarray(g * 4, g * 4 + 4).reduce((a, b) => a + b, 0), 2);
  // |Δr| ≤ τ_tie is a tie (½ each): with τ = 0.45 only 0.1 vs 0.9 is decided.
  const tied = Array.from(winRates(Float32Array.from([0.1, 0.5, 0.5, 0.9]), { groupSize: 4, tieTolerance: 0.45 }));
  [1 / 3, 1 / 2, 1 / 2, 2 / 3].forEach((x, j) => assert.ok(Math.abs(tied[j] - x) < 1e-7, `w_${j} = ${tied[j]}`));
});

test("E16 advantages: group mean / batch-global std (advantages.std = batch)", async () => {
  const { groupAdvantages } = await import("../src/rl/advantages.js");
  const r = Float32Array.from([1, 2, 3, 10, 20, 30]);
  const batchStd = Math.sqrt([1, 2, 3, 10, 20, 30].reduce((a, x) => a + (x - 11) ** 2, 0) / 6);
  const A = groupAdvantages([r], { groupSize: 3, weights: [1], globalNormalize: false, clip: 100, std: "batch" }).advantages;
  [-1, 0, 1, -10, 0, 10].forEach((x, j) => assert.ok(Math.abs(A[j] - x / batchStd) < 1e-6, `A_${j} = ${A[j]}`));
});
