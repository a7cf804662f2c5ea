import { test } from "node:test";
import assert from "node:assert/strict";
import { grad, initEngine, nn, numpy as np, random, valueAndGrad, type JaxArray } from "../src/engine/jax.js";
import { countParams, disposeTree, flattenNamed, mapTrees, refTree, type ParamTree } from "../src/engine/tree.js";
import { createModel, MODEL_PRESETS, presetConfig } from "../src/models/registry.js";
import { globalNorm } from "../src/engine/optim.js";
import { geluSigmoid, geluSimd } from "../src/models/layers.js";
import { promptTokens, tokenizePrompt } from "../src/models/prompts.js";
import { UserError } from "../src/engine/errors.js";

await initEngine();

test("dit-s has the canonical shapes and the reference's parameter count (B1)", () => {
  const model = createModel(presetConfig("dit-s"));
  const params = model.init(random.key(0));
  // shared/reference/torch_grpo_epoch.py: 1 075 344 parameters.
  assert.equal(countParams(params), 1_075_344);
  const shapes = new Map([...flattenNamed(params)].map(([k, v]) => [k, v.shape]));
  assert.deepEqual(shapes.get("embed.w"), [16, 128]);
  assert.deepEqual(shapes.get("pos"), [49, 128]);
  assert.deepEqual(shapes.get("prompt"), [10, 128]);
  assert.deepEqual(shapes.get("blocks.3.fc1.w"), [128, 512]);
  assert.deepEqual(shapes.get("out.w"), [128, 16]);
  disposeTree(params);
});

test("velocity models map [B, ...sampleShape] to the same shape, per sample", async () => {
  for (const name of ["dit-tiny", "mlp-2d"]) {
    const config = presetConfig(name);
    const model = createModel(config);
    const params = model.init(random.key(1));
    // Make the zero-initialised output layer non-zero so outputs depend on the input.
    const perturbed = mapTrees((p) => p.add(random.normal(random.key(3), p.shape).mul(0.05)), params);
    const B = 3;
    const x = random.normal(random.key(2), [B, ...config.sampleShape]);
    const s = np.array([0.2, 0.5, 0.9]);
    const tokens = promptTokens(["1", "2", ""], config.vocab, config.promptLength);
    const v = model.apply(perturbed, x.ref, s.ref, tokens.ref);
    assert.deepEqual(v.shape, [B, ...config.sampleShape], name);
    const all = (await v.data()) as Float32Array;
    assert.ok(all.every(Number.isFinite), `${name}: finite outputs`);
    // Batch independence: sample 1 alone gives the same velocity as inside the batch.
    const one = model.apply(perturbed, x.slice([1, 2]), s.slice([1, 2]), tokens.slice([1, 2]));
    const single = (await one.data()) as Float32Array;
    const per = single.length;
    for (let i = 0; i < per; i++) assert.ok(Math.abs(single[i] - all[per + i]) < 1e-4, `${name}: batch-independent at ${i}`);
    disposeTree(perturbed);
  }
});

test("the sampling path (token-major attention, SIMD GELU) computes the training path's velocity", async () => {
  const config = presetConfig("dit-s");
  const model = createModel(config);
  const params = mapTrees((p) => p.add(random.normal(random.key(11), p.shape).mul(0.05)), model.init(random.key(10)));
  const B = 4;
  const x = random.normal(random.key(12), [B, ...config.sampleShape]);
  const s = np.array([0.1, 0.4, 0.7, 1.0]);
  const tokens = promptTokens(["0", "3", "8", ""], config.vocab, config.promptLength);
  const training = (await model.apply(params, x.ref, s.ref, tokens.ref).data()) as Float32Array;
  const sampling = (await model.apply(params, x, s, tokens, { differentiable: false }).data()) as Float32Array;
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < training.length; i++) {
    worst = Math.max(worst, Math.abs(training[i] - sampling[i]));
    scale = Math.max(scale, Math.abs(training[i]));
  }
  assert.ok(scale > 0.1, `velocities are not trivially zero (max |v| ${scale})`);
  assert.ok(worst < 1e-5 * Math.max(1, scale), `max |Δv| ${worst} (max |v| ${scale})`);
  disposeTree(params);
});

test("geluSimd is jax-js's tanh GELU within 1e-6, including the tails", async (t) => {
  const z = np.linspace(-12, 12, 24001);
  const reference = (await nn.gelu(z.ref).data()) as Float32Array;
  const simd = (await geluSimd(z).data()) as Float32Array;
  let worst = 0;
  for (let i = 0; i < reference.length; i++) worst = Math.max(worst, Math.abs(reference[i] - simd[i]));
  assert.ok(worst < 1e-6, `max |Δ| ${worst}`);
  t.diagnostic(`geluSimd vs nn.gelu on [-12, 12]: max |Δ| ${worst}`);
});

test("geluSigmoid (training GELU) is jax-js's tanh GELU within 1e-6, and so is its gradient, with no NaN in the tails", async () => {
  const z = np.linspace(-200, 200, 40001);
  const reference = (await nn.gelu(z.ref).data()) as Float32Array;
  const sigmoidForm = (await geluSigmoid(z.ref).data()) as Float32Array;
  const sumGelu = (f: (x: JaxArray) => JaxArray) => (x: JaxArray) => np.sum(f(x));
  const gradReference = (await grad(sumGelu((x) => nn.gelu(x)))(z.ref).data()) as Float32Array;
  const gradSigmoid = (await grad(sumGelu(geluSigmoid))(z).data()) as Float32Array;
  let worst = 0;
  let worstGrad = 0;
  for (let i = 0; i < reference.length; i++) {
    assert.ok(Number.isFinite(sigmoidForm[i]) && Number.isFinite(gradSigmoid[i]), `finite at ${i}`);
    worst = Math.max(worst, Math.abs(reference[i] - sigmoidForm[i]) / Math.max(1, Math.abs(reference[i])));
    worstGrad = Math.max(worstGrad, Math.abs(gradReference[i] - gradSigmoid[i]));
  }
  assert.ok(worst < 1e-6, `max relative |Δ| ${worst}`);
  assert.ok(worstGrad < 1e-5, `max |Δ gradient| ${worstGrad}`);
});

test("finite differences agree with the gradient of a tiny DiT and MLP", async () => {
  for (const name of ["dit-tiny", "mlp-2d"]) {
    const config = presetConfig(name);
    const model = createModel(config);
    const base = model.init(random.key(4));
    const params = mapTrees((p) => p.add(random.normal(random.key(5), p.shape).mul(0.1)), base);
    const B = 2;
    const x = random.normal(random.key(6), [B, ...config.sampleShape]);
    const s = np.array([0.3, 0.8]);
    const tokens = promptTokens(["3", "5"], config.vocab, config.promptLength);
    const loss = (p: ParamTree): JaxArray => {
      const out = np.sum(np.square(model.apply(p, x.ref, s.ref, tokens.ref)));
      disposeTree(p);
      return out;
    };
    const [value, grads] = valueAndGrad(loss)(refTree(params));
    value.dispose();
    const raw = mapTrees((p) => random.normal(random.key(9), p.shape), params);
    const norm = Number((await globalNorm(raw).data())[0]);
    const direction = mapTrees((d) => d.mul(1 / norm), raw); // unit-norm direction
    let analytic = 0;
    for (const [k, g] of flattenNamed(grads)) analytic += Number((await np.sum(g.ref.mul(flattenNamed(direction).get(k)!.ref)).data())[0]);
    const h = 1e-2;
    const plus = Number((await loss(mapTrees((p, d) => p.ref.add(d.ref.mul(h)), params, direction)).data())[0]);
    const minus = Number((await loss(mapTrees((p, d) => p.ref.sub(d.ref.mul(h)), params, direction)).data())[0]);
    const numeric = (plus - minus) / (2 * h);
    const rel = Math.abs(numeric - analytic) / Math.max(1e-3, Math.abs(analytic));
    assert.ok(rel < 0.02, `${name}: finite difference ${numeric} vs gradient ${analytic} (rel ${rel})`);
    for (const t of [grads, direction, params]) disposeTree(t);
    for (const a of [x, s, tokens]) a.dispose();
  }
});

test("prompts tokenize against the vocabulary with padding; bad words are named", () => {
  assert.deepEqual(tokenizePrompt("3", ["0", "1", "2", "3"], 2), [3, -1]);
  assert.deepEqual(tokenizePrompt("", ["0"], 1), [-1]);
  assert.deepEqual(tokenizePrompt("1 bold", ["0", "1", "bold"], 2), [1, 2]);
  assert.throws(() => tokenizePrompt("x", ["0"], 1), (e: Error) => e instanceof UserError && /unknown word "x"/.test(e.message));
  assert.throws(() => tokenizePrompt("1 1", ["1"], 1), /at most 1/);
});

test("unknown presets are named with the known ones", () => {
  assert.throws(() => presetConfig("dit-xl"), new RegExp(`unknown model preset "dit-xl" \\(known: ${Object.keys(MODEL_PRESETS).join(", ")}\\)`));
});
