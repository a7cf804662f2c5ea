/**
 * Cost of one kernel dispatch in jax-js's wasm backend: a jitted chain of 50 small matmuls
 * ([64, 64] @ [64, 64], ≈ 0.5 MFLOP each, so the kernel's own work is a few µs), run 20 times.
 *
 *   npm run build && GRPO_GUARD_THREADS=1 node dist/bench/dispatch.js
 *                    GRPO_GUARD_THREADS=2 node dist/bench/dispatch.js
 *
 * Prints wall and CPU microseconds per kernel (CPU: the whole process, workers included) and
 * the dispatch mode. With worker threads, `JAX_JS_WASM_DISPATCH=message` sends every kernel as
 * one message to each worker and waits for each reply; `atomics` (the default, our jax-js
 * patch) writes it into a ring in shared memory that the workers read on their own
 * (docs/engine.md, "Patches"; docs/performance.md, "Where the wall is").
 */
import { initEngine, jit, numpy as np, type JaxArray } from "../src/engine/jax.js";
import { wasmBackend } from "../src/engine/backend.js";

const KERNELS = 50;
const CALLS = 20;
await initEngine();
const x = np.ones([64, 64]);
const chain = jit((a: JaxArray) => {
  let y = a.ref;
  for (let i = 0; i < KERNELS; i++) y = np.matmul(y, a.ref).mul(0.01);
  a.dispose();
  return y;
});
for (let w = 0; w < 3; w++) await chain(x.ref).data();
const t0 = performance.now();
const cpu0 = process.cpuUsage();
for (let r = 0; r < CALLS; r++) await chain(x.ref).data();
const wallUs = (performance.now() - t0) * 1000;
const cpu = process.cpuUsage(cpu0);
console.log(
  JSON.stringify({
    threads: process.env.GRPO_GUARD_THREADS ?? "default",
    dispatch: (await wasmBackend())?.dispatchMode ?? "unknown",
    wall_us_per_kernel: +(wallUs / (KERNELS * CALLS)).toFixed(1),
    cpu_us_per_kernel: +((cpu.user + cpu.system) / (KERNELS * CALLS)).toFixed(1),
  }),
);
process.exit(0);
