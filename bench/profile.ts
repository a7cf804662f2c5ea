/**
 * Where the time of a dit-s pass goes: jax-js kernel timings (profiler trace, worker pool
 * off so kernels are timed individually), grouped by output size, reduction (op:length, e.g. a
 * matmul's inner sum) and argument count.
 *   npm run profile -- [batch=64] [mode=sample|forward|train]
 * (`npm run profile` sets GRPO_GUARD_THREADS=1; run `node dist/bench/profile.js …` with more
 * threads for the wall time alone.)
 * `sample` is the sampler's forward (`differentiable: false`: token-major attention, SIMD
 * GELU); `forward` is the same forward in the training layout (what sampling used before);
 * `train` is forward + backward of a squared-velocity loss (the trainer's pass).
 */
import { grad, initEngine, jit, numpy as np, profiler, random, type JaxArray } from "../src/engine/jax.js";
import { createModel, presetConfig } from "../src/models/registry.js";
import { disposeTree, refTree, type ParamTree } from "../src/engine/tree.js";

const batch = Number(process.argv[2] ?? 64);
const mode = process.argv[3] ?? "sample";
// jax-js times kernels only without the worker pool; with threads only the wall time is reported.
const timeKernels = process.env.GRPO_GUARD_THREADS === "1";
if (mode !== "sample" && mode !== "forward" && mode !== "train") {
  console.error(`profile: mode must be "sample", "forward" or "train", got "${mode}"`);
  process.exit(2);
}
await initEngine();
const model = createModel(presetConfig("dit-s"));
const params = model.init(random.key(0));
const x = random.normal(random.key(1), [batch, 1, 28, 28]);
const s = random.uniform(random.key(2), [batch]);
const tokens = np.zeros([batch, 1], { dtype: np.int32 });
const pass =
  mode !== "train"
    ? jit((p: ParamTree, xx: JaxArray, ss: JaxArray, tt: JaxArray) => {
        const v = model.apply(p, xx, ss, tt, { differentiable: mode === "forward" });
        disposeTree(p);
        return [v];
      })
    : jit(grad((p: ParamTree, xx: JaxArray, ss: JaxArray, tt: JaxArray) => np.sum(np.square(model.apply(p, xx, ss, tt)))));
const run = async (): Promise<void> => {
  const out = pass(refTree(params), x.ref, s.ref, tokens.ref) as ParamTree;
  const leaves = Object.values(out).flat() as unknown[];
  await Promise.all(leaves.filter((l): l is JaxArray => typeof (l as JaxArray)?.blockUntilReady === "function").map((l) => l.blockUntilReady()));
  disposeTree(out);
};
await run(); // compile
const walls: number[] = [];
const cpuTimes: number[] = [];
for (let i = 0; i < 5; i++) {
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  await run();
  const cpu = process.cpuUsage(cpu0);
  walls.push(performance.now() - started);
  cpuTimes.push((cpu.user + cpu.system) / 1000);
}
const wall = walls.sort((a, b) => a - b)[2];
const cpuMs = cpuTimes.sort((a, b) => a - b)[2];
if (timeKernels) {
  profiler.startTrace();
  await run();
  profiler.stopTrace();
}
const groups = new Map<string, { ms: number; count: number }>();
for (const entry of performance.getEntriesByType("measure")) {
  // jax-js's trace properties: a reduction kernel (a matmul's inner sum, a norm) names its op and length.
  const detail = (entry as PerformanceMeasure).detail as { devtools?: { properties?: [string, string][] } } | null;
  const properties = new Map(detail?.devtools?.properties ?? []);
  const reduction = properties.get("reduction");
  const key = `${entry.name}${reduction ? ` reduce ${reduction}` : ""} args ${properties.get("nargs") ?? "?"}`;
  const g = groups.get(key) ?? { ms: 0, count: 0 };
  g.ms += entry.duration;
  g.count += 1;
  groups.set(key, g);
}
console.log(JSON.stringify({ batch, mode, threads: process.env.GRPO_GUARD_THREADS ?? "default", wall_ms_median_of_5: +wall.toFixed(1), cpu_ms_median_of_5: +cpuMs.toFixed(1), node: process.versions.node, kernels: [...groups].sort((a, b) => b[1].ms - a[1].ms).map(([name, g]) => ({ name, count: g.count, ms: +g.ms.toFixed(1) })) }));
process.exit(0);
