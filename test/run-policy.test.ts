/**
 * A run's policy at a checkpoint (src/rl/policy.ts) and rating it (`rate <run>@<epoch>`,
 * `rate --at-proxy`): a real tiny run that checkpoints and evaluates every epoch; the last
 * checkpoint's EMA policy must be the run's final policy-ema.safetensors, tensor for tensor.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../src/engine/jax.js";
import { readSafetensorsFile, treeToHost } from "../src/engine/safetensors.js";
import { disposeTree } from "../src/engine/tree.js";
import { checkpointAt, checkpointEpochs, checkpointNearestProxy, evaluatedProxies, loadCheckpointPolicy } from "../src/rl/policy.js";
import { createStudy, resolveSources } from "../src/rating/study.js";
import { bin, env } from "./rating-fixtures.js";

const root = mkdtempSync(join(tmpdir(), "grpo-guard-run-policy-"));
after(() => rmSync(root, { recursive: true, force: true }));
const EPOCHS = 3;

let run = "";
before(async () => {
  await initEngine();
  const sets = [
    "model.weights=", "model.preset=dit-tiny", "name=tiny", `output.dir=${root}`, "prompts.perEpoch=2", "groupSize=4", "sampling.steps=3",
    `train.epochs=${EPOCHS}`, "train.minibatch=4", "train.lr=3e-3", "eval.every=1", "eval.perPrompt=2", "eval.steps=3", "checkpoint.every=1", "checkpoint.keep=8",
  ];
  const r = spawnSync(process.execPath, [bin, "train", ...sets.flatMap((s) => ["--set", s])], { encoding: "utf8", env, timeout: 180_000 });
  assert.equal(r.status, 0, `fixture run failed:\n${r.stdout}\n${r.stderr}`);
  run = join(root, "tiny");
});

describe("a run's policy at a checkpoint", () => {
  test("the last checkpoint's EMA policy is the final policy-ema.safetensors, tensor for tensor", async () => {
    assert.deepEqual(checkpointEpochs(run), [0, 1, 2, 3]);
    const loaded = loadCheckpointPolicy(checkpointAt(run, EPOCHS));
    try {
      assert.equal(loaded.epoch, EPOCHS);
      const finalFile = readSafetensorsFile(join(run, "policy-ema.safetensors"));
      assert.deepEqual(loaded.model.config, JSON.parse(finalFile.metadata.config));
      const final = finalFile.tensors;
      const mine = await treeToHost(loaded.params);
      assert.deepEqual([...mine.keys()].sort(), [...final.keys()].sort());
      for (const [name, record] of mine) assert.deepEqual(Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength), Buffer.from(final.get(name)!.data.buffer, final.get(name)!.data.byteOffset, final.get(name)!.data.byteLength), name);
    } finally {
      disposeTree(loaded.params);
    }
    const first = loadCheckpointPolicy(checkpointAt(run, 1));
    try {
      const a = await treeToHost(first.params);
      const final = readSafetensorsFile(join(run, "policy-ema.safetensors")).tensors;
      assert.ok([...a].some(([name, r]) => r.data.some((v, i) => v !== final.get(name)!.data[i])), "epoch 1's policy differs from the final one");
    } finally {
      disposeTree(first.params);
    }
  });

  test("--at-proxy picks the checkpointed epoch whose evaluated proxy is nearest the level", () => {
    const proxies = evaluatedProxies(run);
    assert.deepEqual([...proxies.keys()], [0, 1, 2, 3]);
    for (const [epoch, proxy] of proxies) {
      const match = checkpointNearestProxy(run, proxy + 1e-9);
      assert.equal(match?.proxy, proxy);
      // Another epoch with exactly this proxy would be an equally good match; the earlier one wins.
      assert.equal(match?.epoch, Math.min(...[...proxies].filter(([, p]) => p === proxy).map(([e]) => e)), `epoch ${epoch}`);
    }
    const low = Math.min(...proxies.values());
    assert.equal(checkpointNearestProxy(run, low - 10)?.proxy, low);
  });

  test("rate's arguments: <run>@<epoch>, a checkpoint file, --at-proxy, and errors that name what exists", async () => {
    const [at1, file2] = resolveSources([`${run}@1`, checkpointAt(run, 2)]);
    assert.equal(at1.label, "tiny@1");
    assert.deepEqual(at1.checkpoint, { epoch: 1, proxy: evaluatedProxies(run).get(1) });
    assert.equal(file2.label, "tiny@2");
    assert.equal(file2.runConfig, join(run, "config.yaml"));
    const level = evaluatedProxies(run).get(2)!;
    assert.equal(resolveSources([run], { atProxy: level })[0].checkpoint?.proxy, level);
    assert.equal(resolveSources([run])[0].checkpoint, undefined, "without --at-proxy a run is its final policy");

    assert.throws(() => resolveSources([`${run}@7`]), /tiny: no checkpoint of epoch 7 \(checkpoints of epochs 0, 1, 2, 3;/);
    assert.throws(() => resolveSources([`${root}@1`]), /is not a run directory \(no config\.yaml\)/);
    const stray = join(root, "stray");
    mkdirSync(stray);
    copyFileSync(checkpointAt(run, 1), join(stray, "ckpt-00000001.safetensors"));
    assert.throws(() => loadCheckpointPolicy(join(stray, "ckpt-00000001.safetensors")), /expected it in <run>\/checkpoints\/ beside <run>\/config\.yaml/);

    const store = await createStudy(join(root, "study"), [at1, file2], { name: "study", question: "likeness", prompts: ["3"], pairs: 2, seed: 0, steps: 2, shift: 3, guidance: 1, simulated: true });
    try {
      const methods = store.methods();
      assert.deepEqual(methods.map((m) => m.label), ["tiny@1", "tiny@2"]);
      assert.match(methods[0].method, /^grpo-guard on flow-sde, epoch 1 \(evaluated proxy \d\.\d{3}\)$/);
      assert.equal(store.pairs().length, 2);
    } finally {
      store.close();
    }
  });
});
