/**
 * Kernel dispatch to jax-js's wasm worker threads (docs/engine.md, "Patches", 2): the
 * "atomics" mode (a ring of kernel descriptors in shared memory) against the "message" mode
 * (one postMessage per kernel and worker), selected by JAX_JS_WASM_DISPATCH.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

process.env.GRPO_GUARD_THREADS = "2";
process.env.JAX_JS_WASM_DISPATCH = "atomics";
const { initEngine, jit, numpy: np } = await import("../src/engine/jax.js");
const { wasmBackend } = await import("../src/engine/backend.js");
const { liveBuffers, trackBuffers } = await import("../src/engine/memory.js");
await initEngine();

const CHILD = fileURLToPath(new URL("./engine-dispatch-child.js", import.meta.url));

interface ChildResult {
  mode: string;
  losses: number[];
  sha256: string;
  faultError: string | null;
}

/** Run the training computation in a fresh process; it must print its result and exit by itself. */
function runChild(env: Record<string, string>, args: string[] = []): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CHILD, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`child ${JSON.stringify(env)} ${args.join(" ")} failed (${err.message}): ${stderr}`));
      else resolve(JSON.parse(stdout.trim().split("\n").pop()!) as ChildResult);
    });
  });
}

test("atomics and message dispatch give bit-identical training results (dit-tiny loss, gradient, AdamW, sampling, sort)", async () => {
  const message = await runChild({ GRPO_GUARD_THREADS: "2", JAX_JS_WASM_DISPATCH: "message" });
  const atomics = await runChild({ GRPO_GUARD_THREADS: "2", JAX_JS_WASM_DISPATCH: "atomics" });
  assert.equal(message.mode, "message");
  assert.equal(atomics.mode, "atomics");
  assert.ok(message.losses.every((l) => Number.isFinite(l) && l > 0), `losses ${message.losses}`);
  assert.notEqual(message.losses[0], message.losses[2], "the optimizer steps change the loss");
  assert.deepEqual(atomics.losses, message.losses);
  assert.equal(atomics.sha256, message.sha256, "sha256 of the losses, every parameter, the sampled velocity and its sort");
});

test("a kernel that throws inside a worker fails its read (atomics) and later work still runs, bit-identical", async () => {
  const clean = await runChild({ GRPO_GUARD_THREADS: "2", JAX_JS_WASM_DISPATCH: "message" });
  const faulted = await runChild({ GRPO_GUARD_THREADS: "2", JAX_JS_WASM_DISPATCH: "atomics" }, ["fault"]);
  assert.match(faulted.faultError ?? "", /Worker error: TypeError/);
  assert.equal(faulted.sha256, clean.sha256);
  // The message path swallows the worker's error (jax-js 0.1.25 as published) but must not hang either.
  const old = await runChild({ GRPO_GUARD_THREADS: "2", JAX_JS_WASM_DISPATCH: "message" }, ["fault"]);
  assert.equal(old.faultError, null);
  assert.equal(old.sha256, clean.sha256);
});

test("inputs disposed while their kernels are in flight, and no leaked buffers after 50 jitted calls", async () => {
  assert.equal((await wasmBackend())?.dispatchMode, "atomics");
  assert.ok(await trackBuffers(), "the engine's buffers can be tracked");
  const chain = jit((a: ReturnType<typeof np.ones>) => {
    let y = a.ref;
    for (let i = 0; i < 20; i++) y = np.tanh(np.matmul(y, a.ref)).mul(0.5);
    a.dispose();
    return y;
  });
  const reference = (await chain(np.ones([64, 64]).mul(0.01)).data()) as Float32Array;
  const live: number[] = [];
  for (let i = 0; i < 50; i++) {
    const x = np.ones([64, 64]).mul(0.01);
    const y = chain(x.ref);
    x.dispose(); // still read by the dispatched kernels: the backend keeps it until they are done
    const out = (await y.data()) as Float32Array;
    assert.deepEqual(out, reference);
    live.push(liveBuffers()!.count);
  }
  chain.dispose();
  assert.ok(live.slice(10).every((n) => n === live[9]), `live buffers ${live.join(",")}`);
});

test("more kernels in flight than the ring holds (1 024 entries): the backlog drains in order", async () => {
  type A = ReturnType<typeof np.ones>;
  const step = jit((a: A, count: A): [A, A] => {
    let y = a.ref;
    for (let i = 0; i < 4; i++) y = np.tanh(np.matmul(y, a.ref).add(0.3));
    a.dispose();
    return [y, count.add(1)];
  });
  const start = (): [A, A] => [np.eye(32).mul(0.9).add(0.01), np.zeros([4])];
  const calls = 400;
  // Reference: one call at a time, each awaited.
  let [x, n] = start();
  for (let i = 0; i < calls; i++) {
    [x, n] = step(x, n);
    await x.blockUntilReady();
  }
  const reference = (await x.data()) as Float32Array;
  assert.deepEqual(Array.from((await n.data()) as Float32Array), [calls, calls, calls, calls]);
  // calls × ≥ 5 kernels dispatched before anything is awaited.
  let [y, m] = start();
  for (let i = 0; i < calls; i++) [y, m] = step(y, m);
  const got = (await y.data()) as Float32Array;
  assert.deepEqual(Array.from((await m.data()) as Float32Array), [calls, calls, calls, calls]);
  step.dispose();
  assert.ok(reference.some((v) => v !== 0));
  assert.deepEqual(got, reference);
});

test("a bad JAX_JS_WASM_DISPATCH is a one-line user error naming the variable", () => {
  const bin = fileURLToPath(new URL("../../bin/grpo-guard.js", import.meta.url));
  const r = spawnSync(process.execPath, [bin, "sample", "-n", "1"], { encoding: "utf8", timeout: 60_000, env: { ...process.env, GRPO_GUARD_THREADS: "2", JAX_JS_WASM_DISPATCH: "fast" } });
  assert.notEqual(r.status, 0);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /JAX_JS_WASM_DISPATCH must be "atomics" or "message", got "fast"/);
});
