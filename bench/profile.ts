/**
 * Where the time of a dit-s forward pass goes: jax-js kernel timings (profiler trace, worker
 * pool off so kernels are timed individually), grouped by output size, with the FLOP rate of
 * each group.   npm run profile -- [batch=64]
 */
import { initEngine, jit, numpy as np, profiler, random } from "../src/engine/jax.js";
import { createModel, presetConfig } from "../src/models/registry.js";
import { disposeTree, refTree } from "../src/engine/tree.js";

const batch = Number(process.argv[2] ?? 64);
if (process.env.GRPO_GUARD_THREADS !== "1") {
  console.error("profile: run with GRPO_GUARD_THREADS=1 (jax-js times kernels only without the worker pool)");
  process.exit(2);
}
await initEngine();
const model = createModel(presetConfig("dit-s"));
const params = model.init(random.key(0));
const x = random.normal(random.key(1), [batch, 1, 28, 28]);
const s = random.uniform(random.key(2), [batch]);
const tokens = np.zeros([batch, 1], { dtype: np.int32 });
const forward = jit((p: typeof params, xx: typeof x, ss: typeof s, tt: typeof tokens) => {
  const v = model.apply(p, xx, ss, tt);
  disposeTree(p);
  return v;
});
await forward(refTree(params), x.ref, s.ref, tokens.ref).data(); // compile
profiler.startTrace();
const started = performance.now();
await forward(refTree(params), x.ref, s.ref, tokens.ref).data();
const wall = performance.now() - started;
profiler.stopTrace();
const groups = new Map<string, { ms: number; count: number }>();
for (const entry of performance.getEntriesByType("measure")) {
  const g = groups.get(entry.name) ?? { ms: 0, count: 0 };
  g.ms += entry.duration;
  g.count += 1;
  groups.set(entry.name, g);
}
console.log(JSON.stringify({ batch, wall_ms: +wall.toFixed(1), kernels: [...groups].sort((a, b) => b[1].ms - a[1].ms).map(([name, g]) => ({ name, count: g.count, ms: +g.ms.toFixed(1) })) }));
process.exit(0);
