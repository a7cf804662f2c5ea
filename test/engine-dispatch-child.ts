/**
 * Child process of test/engine-dispatch.test.ts: runs a jitted training computation (dit-tiny
 * loss + gradient + AdamW, then a sampling forward and a sort routine) under the dispatch mode
 * of JAX_JS_WASM_DISPATCH and prints the bytes of every result as one JSON line.
 * With `fault` as argument it first dispatches a routine that throws inside a worker.
 */
import { createHash } from "node:crypto";
import { initEngine, jit, numpy as np, random, valueAndGrad, type JaxArray } from "../src/engine/jax.js";
import { adamw, applyUpdates, type OptState } from "../src/engine/optim.js";
import { disposeTree, refTree, type ParamTree } from "../src/engine/tree.js";
import { backendChunk, wasmBackend } from "../src/engine/backend.js";
import { createModel, presetConfig } from "../src/models/registry.js";
import { keyFromSeed } from "../src/engine/prng.js";

await initEngine();
const backend = await wasmBackend();
const mode = backend?.dispatchMode ?? "unknown";

let faultError: string | null = null;
if (process.argv[2] === "fault") faultError = await faultyRoutine();

const hash = createHash("sha256");
const bytes = async (x: JaxArray): Promise<Uint8Array> => {
  const data = (await x.data()) as Float32Array;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
};
const model = createModel(presetConfig("dit-tiny"));
const opt = adamw({ lr: 1e-3, maxGradNorm: 1 });
let params = model.init(random.key(0));
let state: OptState = opt.init(params);
const batch = 32;
const step = jit((p: ParamTree, s: OptState, x: JaxArray, t: JaxArray, tok: JaxArray): [ParamTree, OptState, JaxArray] => {
  const [loss, grads] = valueAndGrad((q: ParamTree) => {
    const out = np.mean(np.square(model.apply(q, x.ref, t, tok).sub(x.mul(0.5))));
    disposeTree(q);
    return out;
  })(refTree(p));
  const [updates, next] = opt.update(grads, s, p);
  return [applyUpdates(p, updates), next, loss];
});
const losses: number[] = [];
for (let i = 0; i < 3; i++) {
  const x = random.normal(keyFromSeed(i), [batch, 1, 28, 28]);
  const t = random.uniform(keyFromSeed(i + 1000), [batch]);
  const tok = np.zeros([batch, 1], { dtype: np.int32 });
  const [p, s, loss] = step(params, state, x, t, tok);
  params = p;
  state = s;
  const lossBytes = await bytes(loss);
  hash.update(lossBytes);
  losses.push(new Float32Array(lossBytes.buffer, lossBytes.byteOffset, 1)[0]);
}
for (const leaf of Object.values(params as Record<string, unknown>).flatMap(leaves)) hash.update(await bytes((leaf as JaxArray).ref));
const velocity = model.apply(params, random.normal(keyFromSeed(7), [batch, 1, 28, 28]), np.full([batch], 0.5), np.zeros([batch, 1], { dtype: np.int32 }), { differentiable: false });
hash.update(await bytes(np.sort(velocity.reshape([-1]))));
step.dispose();
disposeTree(params);
disposeTree(state);
console.log(JSON.stringify({ mode, losses, sha256: hash.digest("hex"), faultError }));
process.exit(0);

function leaves(node: unknown): unknown[] {
  if (node && typeof node === "object" && "dispose" in node) return [node];
  if (node && typeof node === "object") return Object.values(node).flatMap(leaves);
  return [];
}

/** A sort routine whose type lacks its dtypes: it throws inside the worker. Returns the read's error. */
async function faultyRoutine(): Promise<string | null> {
  const chunk = await backendChunk();
  const Routine = Object.values(chunk ?? {}).find((v) => typeof v === "function" && v.name === "Routine") as new (
    name: string,
    type: object,
    params: object,
  ) => object;
  const raw = backend as unknown as {
    malloc(size: number): number;
    decRef(slot: number): void;
    prepareRoutine(routine: object): Promise<object>;
    dispatch(exe: object, inputs: number[], outputs: number[]): void;
    read(slot: number): Promise<Uint8Array>;
  };
  const input = raw.malloc(64);
  const output = raw.malloc(64);
  raw.dispatch(await raw.prepareRoutine(new Routine("Sort", {}, {})), [input], [output]);
  let error: string | null = null;
  try {
    await raw.read(output);
  } catch (err) {
    error = String(err);
  }
  raw.decRef(input);
  raw.decRef(output);
  return error;
}
