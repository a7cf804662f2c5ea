import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, numpy as np } from "../src/engine/jax.js";
import { pretrainToyBase } from "../src/pretrain/toy-base.js";
import { readLatestCheckpoint, writeCheckpoint } from "../src/engine/checkpoint.js";
import { UserError } from "../src/engine/errors.js";
import { decodeSafetensors } from "../src/engine/safetensors.js";
import { flattenNamed } from "../src/engine/tree.js";
import { TrainConfigSchema } from "../src/config/train.js";
import { readMetrics } from "../src/diagnostics/metrics.js";
import { loadVelocityModel } from "../src/models/io.js";
import type { Reward } from "../src/rewards/reward.js";
import { toyModeReward } from "../src/rewards/toy.js";
import { runTrainingJob } from "../src/rl/run.js";
import { GrpoTrainer } from "../src/rl/trainer.js";

await initEngine();
const dir = mkdtempSync(join(tmpdir(), "grpo-guard-faults-"));
const baseWeights = await pretrainToyBase(dir, 100);

test("a NaN reward once and a forced non-finite gradient: the run goes on, parameters stay finite, both events are in metrics.jsonl", async () => {
  const config = TrainConfigSchema.parse({
    name: "nan",
    model: { weights: baseWeights },
    prompts: { pool: [""], perEpoch: 4 },
    groupSize: 8,
    rewards: [{ name: "toy-mode" }],
    train: { epochs: 6, minibatch: 8, lr: 1e-3 },
    eval: { every: 0 },
    output: { dir },
  });
  const toy = toyModeReward();
  let rewardCalls = 0;
  const flaky: Reward = {
    name: "flaky-toy",
    async score(batch) {
      const scores = await toy.score(batch);
      if (++rewardCalls === 2) scores[3] = NaN; // epoch 2: one NaN score
      return scores;
    },
  };
  // Poison one optimizer step's advantages with NaN → non-finite loss and gradient.
  const original = GrpoTrainer.prototype.runEpoch;
  let epochs = 0;
  GrpoTrainer.prototype.runEpoch = async function (this: GrpoTrainer) {
    if (++epochs === 4) {
      const self = (this as unknown as { optimiser: { chunkGrad: (params: unknown, ref: unknown, rows: { advantage: ReturnType<typeof np.array> }, share: unknown) => unknown } }).optimiser;
      const chunkGrad = self.chunkGrad;
      self.chunkGrad = (params: unknown, ref: unknown, rows: { advantage: ReturnType<typeof np.array> }, share: unknown) => {
        rows.advantage = rows.advantage.mul(NaN);
        return chunkGrad(params, ref, rows, share);
      };
      try {
        return await original.call(this);
      } finally {
        self.chunkGrad = chunkGrad;
      }
    }
    return original.call(this);
  };
  try {
    const { model, params } = loadVelocityModel(baseWeights);
    const outcome = await runTrainingJob(config, model, params, [{ reward: flaky, weight: 1 }]);
    assert.equal(outcome.epochs, 6, "all epochs ran");
  } finally {
    GrpoTrainer.prototype.runEpoch = original;
  }
  const { records } = readMetrics(join(dir, "nan", "metrics.jsonl"));
  const faults = records.filter((r) => r.type === "fault");
  assert.deepEqual(faults.map((f) => [f.kind, f.epoch]).sort(), [["nonfinite-reward", 1], ["nonfinite-step", 3], ["nonfinite-step", 3], ["nonfinite-step", 3], ["nonfinite-step", 3]].sort());
  assert.equal(records.filter((r) => r.type === "epoch").length, 6);
  const policy = loadVelocityModel(join(dir, "nan", "policy-ema.safetensors"));
  for (const [name, leaf] of flattenNamed(policy.params)) {
    assert.ok(((await leaf.ref.data()) as Float32Array).every(Number.isFinite), `${name} is finite`);
  }
});

test("too many skipped steps stop the run with a clear message", async () => {
  const config = TrainConfigSchema.parse({
    name: "nan-limit",
    model: { weights: baseWeights },
    prompts: { pool: [""], perEpoch: 2 },
    groupSize: 4,
    rewards: [{ name: "always-nan" }],
    train: { epochs: 10, minibatch: 8 },
    eval: { every: 0 },
    faults: { maxSkipped: 2 },
    output: { dir },
  });
  const nan: Reward = { name: "always-nan", score: async ({ prompts }) => new Float32Array(prompts.length).fill(NaN) };
  const { model, params } = loadVelocityModel(baseWeights);
  await assert.rejects(runTrainingJob(config, model, params, [{ reward: nan, weight: 1 }]), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, /0 optimizer steps and 3 epochs skipped for non-finite values \(limit faults\.maxSkipped = 2\)/);
    return true;
  });
});

test("a full disk: clear error naming the checkpoint, the previous checkpoint stays intact", async (t) => {
  const mount = join(dir, "tiny-disk");
  mkdirSync(mount);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mount], { stdio: "ignore" });
  } catch {
    t.skip("needs permission to mount a small tmpfs (root); skipped");
    return;
  }
  try {
    const state = { w: np.ones([8192]) }; // 32 KiB per checkpoint
    await writeCheckpoint(mount, 1, state, { step: 1 });
    writeFileSync(join(mount, "filler"), Buffer.alloc(200 * 1024)); // leave < 32 KiB free
    await assert.rejects(writeCheckpoint(mount, 2, state, { step: 2 }), (err: Error) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /cannot write checkpoint ckpt-00000002\.safetensors \(ENOSPC.*the previous checkpoint ckpt-00000001\.safetensors is intact/);
      return true;
    });
    const found = readLatestCheckpoint<{ step: number }>(mount, () => {});
    assert.equal(found?.meta.step, 1);
    assert.deepEqual(JSON.parse(readFileSync(join(mount, "latest.json"), "utf8")).step, 1);
  } finally {
    execFileSync("umount", [mount]);
  }
});

test("a reward that fails mid-run (server down): clear error, finished epochs kept, --resume continues exactly", async () => {
  const make = (name: string) =>
    TrainConfigSchema.parse({
      name,
      seed: 4,
      model: { weights: baseWeights },
      prompts: { pool: [""], perEpoch: 4 },
      groupSize: 8,
      rewards: [{ name: "toy-mode" }],
      train: { epochs: 5, minibatch: 16, lr: 1e-3 },
      eval: { every: 0 },
      checkpoint: { every: 10 },
      output: { dir },
    });
  const toy = toyModeReward();
  const { model: m1, params: p1 } = loadVelocityModel(baseWeights);
  await runTrainingJob(make("down-straight"), m1, p1, [{ reward: toy, weight: 1 }]);

  let calls = 0;
  const dying: Reward = {
    name: "remote-toy",
    async score(batch) {
      if (++calls === 4) throw new UserError('reward "remote-toy": reward server at http://127.0.0.1:9 failed after 4 attempts (ECONNREFUSED); the epoch was not trained');
      return toy.score(batch);
    },
  };
  const { model: m2, params: p2 } = loadVelocityModel(baseWeights);
  await assert.rejects(runTrainingJob(make("down"), m2, p2, [{ reward: dying, weight: 1 }]), /remote-toy.*failed after 4 attempts/);
  const saved = readLatestCheckpoint<{ trainer: { epoch: number } }>(join(dir, "down", "checkpoints"), () => {});
  assert.equal(saved?.meta.trainer.epoch, 3, "the three finished epochs are kept although checkpoint.every = 10");
  const { model: m3, params: p3 } = loadVelocityModel(baseWeights);
  await runTrainingJob(make("down"), m3, p3, [{ reward: toy, weight: 1 }], { resume: true });
  const tensors = (name: string) => readLatestCheckpoint(join(dir, name, "checkpoints"), () => {})!.tensors;
  const [a, b] = [tensors("down"), tensors("down-straight")];
  for (const [key, t] of b) assert.deepEqual(a.get(key)!.data, t.data, key);
});

test("over-optimisation alarm in a run: recorded, and with action=rollback the final policy is the best-gold one", async () => {
  // Scripted evaluations: the proxy keeps rising; gold peaks at the 2nd evaluation, then falls.
  const golds = [0.5, 0.8, 0.7, 0.6, 0.5, 0.4];
  let evaluation = 0;
  const gold = {
    driftReference: null as Float32Array | null,
    async evaluate() {
      const g = golds[Math.min(evaluation++, golds.length - 1)];
      return { judgeAccuracy: g, frechet: [], frechetMean: 1, frechetFloor: 1, frechetReal: 1, diversity: 1, diversityReal: 1, drift: 0, gold: g };
    },
    dispose() {},
  };
  let calls = 0;
  const rising: Reward = { name: "rising", score: async ({ prompts }) => new Float32Array(prompts.length).fill(0.1 * ++calls) };
  const config = TrainConfigSchema.parse({
    name: "alarm",
    model: { weights: baseWeights },
    prompts: { pool: [""], perEpoch: 2 },
    groupSize: 4,
    rewards: [{ name: "rising" }],
    train: { epochs: 10, minibatch: 8 },
    eval: { every: 1 },
    alarm: { patience: 2, action: "rollback" },
    output: { dir },
  });
  const { model, params } = loadVelocityModel(baseWeights);
  const outcome = await runTrainingJob(config, model, params, [{ reward: rising, weight: 1 }], { gold: gold as never });
  assert.equal(outcome.alarmEpoch, 3, "proxy up and gold down at evaluations 2 and 3");
  assert.equal(outcome.epochs, 3, "the run stopped at the alarm");
  const { records } = readMetrics(join(dir, "alarm", "metrics.jsonl"));
  assert.deepEqual(records.filter((r) => r.type === "alarm").map((r) => [r.epoch, r.action]), [[3, "rollback"]]);
  const final = decodeSafetensors(readFileSync(join(dir, "alarm", "policy-ema.safetensors")), "final");
  assert.equal(final.metadata.epoch, "1", "the final policy is the best-gold one (evaluation after epoch 1)");
});
