import { test } from "node:test";
import assert from "node:assert/strict";
import { blockUntilReady, initEngine, jit, numpy as np, valueAndGrad, type JaxArray } from "../src/engine/jax.js";
import { adamw, applyUpdates, clipByGlobalNorm, emaUpdate, globalNorm, type OptState } from "../src/engine/optim.js";
import { disposeTree, refTree, type ParamTree } from "../src/engine/tree.js";
import { createModel, presetConfig } from "../src/models/registry.js";
import { random } from "../src/engine/jax.js";
import { keyFromSeed } from "../src/engine/prng.js";
import { liveBuffers, trackBuffers } from "../src/engine/memory.js";
import { settledMemory } from "./gc.js";

await initEngine();

const host = async (x: JaxArray): Promise<number[]> => Array.from((await x.ref.data()) as Float32Array);

test("Adam step matches a hand computation (bias correction, weight decay, lr)", async () => {
  const lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
  const theta = [0.5, -1.0, 2.0];
  const grads = [[0.2, -0.4, 1.0], [-0.1, 0.3, 0.5]];
  const opt = adamw({ lr, b1, b2, eps, weightDecay: wd });
  let params: ParamTree = { w: np.array(theta) };
  let state: OptState = opt.init(params);
  // Hand computation (float64).
  const m = [0, 0, 0], v = [0, 0, 0], expected = [...theta];
  for (let t = 1; t <= grads.length; t++) {
    const g = grads[t - 1];
    for (let i = 0; i < 3; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2;
      const mhat = m[i] / (1 - b1 ** t), vhat = v[i] / (1 - b2 ** t);
      expected[i] -= lr * (mhat / (Math.sqrt(vhat) + eps) + wd * expected[i]);
    }
    const [updates, next] = opt.update({ w: np.array(g) }, state, params);
    state = next;
    params = applyUpdates(params, updates);
  }
  const got = await host(params.w as JaxArray);
  got.forEach((x, i) => assert.ok(Math.abs(x - expected[i]) < 1e-5, `θ[${i}] = ${x}, hand computation ${expected[i]}`));
  disposeTree(params);
  disposeTree(state);
});

test("clipByGlobalNorm rescales to the threshold only above it", async () => {
  const clip = clipByGlobalNorm(1.0);
  const [big] = clip.update({ a: np.array([3, 0]), b: np.array([4]) }, {}, {});
  assert.ok(Math.abs((await host(globalNorm(big)))[0] - 1) < 1e-5);
  const [small] = clip.update({ a: np.array([0.3, 0]), b: np.array([0.4]) }, {}, {});
  assert.deepEqual((await host(small.a as JaxArray)).map((x) => +x.toFixed(5)), [0.3, 0]);
  disposeTree(big);
  disposeTree(small);
});

test("EMA with warm-up follows min(d, (1+t)/(10+t))", async () => {
  const ema = { w: np.array([0, 0]) };
  const params = { w: np.array([1, 2]) };
  const count = np.array(0, { dtype: np.int32 });
  const next = emaUpdate(ema, params, 0.999, count);
  const d = 1 / 10;
  assert.deepEqual((await host(next.w)).map((x) => +x.toFixed(5)), [1 - d, 2 * (1 - d)].map((x) => +x.toFixed(5)));
  disposeTree(next);
  disposeTree(params);
  count.dispose();
});

test("500 jitted optimizer steps: resident memory stops growing after warm-up", async () => {
  const model = createModel(presetConfig("mlp-2d"));
  const opt = adamw({ lr: 1e-3, maxGradNorm: 1 });
  let params = model.init(random.key(0));
  let state = opt.init(params);
  const step = jit((p: ParamTree, s: OptState, x: JaxArray, t: JaxArray, tok: JaxArray): [ParamTree, OptState, JaxArray] => {
    const [loss, grads] = valueAndGrad((q: ParamTree) => {
      const out = np.mean(np.square(model.apply(q, x, t, tok)));
      disposeTree(q);
      return out;
    })(refTree(p));
    const [updates, next] = opt.update(grads, s, p);
    return [applyUpdates(p, updates), next, loss];
  });
  assert.ok(await trackBuffers(), "the engine's buffers can be tracked");
  const settled: NodeJS.MemoryUsage[] = [];
  const live: number[] = [];
  for (let i = 0; i < 500; i++) {
    const x = random.normal(keyFromSeed(i), [64, 2]);
    const t = random.uniform(keyFromSeed(i + 1000), [64]);
    const tok = np.zeros([64, 1], { dtype: np.int32 });
    const [p, s, loss] = step(params, state, x, t, tok);
    params = p;
    state = s;
    await loss.data();
    // Count once every kernel of the step is done: with the atomics dispatch (docs/engine.md,
    // "Patches" 2) the workers run ahead of the main thread, so what unfinished kernels hold
    // at a given line depends on timing (liveBuffers() also waits for them).
    await blockUntilReady([params, state]);
    if (i === 299 || i === 499) settled.push(await settledMemory());
    live.push(liveBuffers()!.count);
  }
  step.dispose();
  disposeTree(params);
  disposeTree(state);
  // Exact bound: the number of live device buffers is the same after every step past warm-up.
  for (let i = 300; i < 500; i++) assert.equal(live[i], live[299], `live buffers after step ${i + 1}`);
  // Coarse bounds, after 300 warm-up steps, over the next 200: the JS heap's live objects by at
  // most 4 MiB, and what the process holds outside V8's JS heap (RSS − the heap's committed size:
  // wasm memory, native allocations) by at most 16 MiB. A leak of one step's arrays (≈ 0.1 MiB of
  // params + moments + activations) would add ≥ 20 MiB to one of them. Not RSS itself: V8 doubles
  // its young generation (heapTotal +16 MiB) once the allocation rate warrants it, at a step that
  // depends on timing (≈ 150 alone, later on a loaded CI machine), and it returns freed pages
  // asynchronously — together they made a bound on RSS flaky (docs/engine.md, "Patches" 2).
  const [before, after] = settled;
  const heapGrowth = (after.heapUsed - before.heapUsed) / 2 ** 20;
  assert.ok(heapGrowth < 4, `the JS heap's live objects grew ${heapGrowth.toFixed(1)} MiB between step 300 and 500`);
  const growth = (after.rss - after.heapTotal - (before.rss - before.heapTotal)) / 2 ** 20;
  assert.ok(growth < 16, `memory outside the JS heap grew ${growth.toFixed(1)} MiB between step 300 and 500`);
});
