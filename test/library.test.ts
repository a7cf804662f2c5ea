/**
 * The package as a library, imported by name ("grpo-guard" resolves to this package through
 * package.json `exports`): an in-process custom reward (registered with an options schema) and
 * a custom velocity model trained by the same run job the CLI uses — the README example.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import {
  TrainConfigSchema,
  UserError,
  createReward,
  initEngine,
  numpy as np,
  random,
  readValidatedMetrics,
  registerReward,
  runTrainingJob,
  type JaxArray,
  type ParamTree,
  type Reward,
  type VelocityModel,
} from "grpo-guard";

await initEngine();

// A reward: closeness of a 2-D sample to a target point (options validated by zod).
registerReward("near-point", {
  options: z.strictObject({ target: z.tuple([z.number(), z.number()]) }),
  create: ({ target }): Reward => ({
    name: "near-point",
    async score({ images, prompts }) {
      return Float32Array.from(prompts, (_, i) => -Math.hypot(images[2 * i] - target[0], images[2 * i + 1] - target[1]));
    },
  }),
});

// A velocity model: v = x·W + b + s·c. apply borrows params and consumes x, s and tokens.
const affine: VelocityModel = {
  config: { kind: "affine", sampleShape: [2], vocab: ["a"], promptLength: 1 },
  init: (key: JaxArray): ParamTree => ({ w: random.normal(key, [2, 2]).mul(0.1), b: np.zeros([2]), c: np.zeros([2]) }),
  apply(params, x, s, tokens) {
    const p = params as { w: JaxArray; b: JaxArray; c: JaxArray };
    tokens.dispose();
    return np.matmul(x, p.w.ref).add(p.b.ref).add(s.reshape([-1, 1]).mul(p.c.ref));
  },
};

test("library: a custom reward and a custom velocity model train through runTrainingJob", async () => {
  const dir = mkdtempSync(join(tmpdir(), "grpo-guard-library-"));
  const config = TrainConfigSchema.parse({
    name: "custom",
    prompts: { pool: ["a"], perEpoch: 2 },
    groupSize: 4,
    rewards: [{ name: "near-point", options: { target: [1, 1] } }],
    sampling: { steps: 4 },
    train: { epochs: 3, minibatch: 8, lr: 1e-2 },
    eval: { every: 0 },
    output: { dir },
  });
  const rewards = config.rewards.map((r) => ({ reward: createReward(r.name, r.options), weight: r.weight }));
  const outcome = await runTrainingJob(config, affine, affine.init(random.key(0)), rewards);
  assert.equal(outcome.epochs, 3);
  const { records, skipped } = readValidatedMetrics(outcome.paths.metrics);
  assert.deepEqual(skipped, []);
  const epochs = records.filter((r) => r.type === "epoch");
  assert.deepEqual(epochs.map((r) => r.epoch), [0, 1, 2]);
  assert.ok(epochs.every((r) => r.type === "epoch" && r.optimizerSteps === 1 && r.rewards[0].name === "near-point"));
  rmSync(dir, { recursive: true, force: true });
});

test("library: a registered reward's options are checked by the config schema and by createReward", () => {
  const bad = TrainConfigSchema.safeParse({ rewards: [{ name: "near-point", options: { target: [1, "x"] } }] });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error!.issues[0].path, ["rewards", 0, "options", "target", 1]);
  assert.throws(() => createReward("near-point", { target: [1] }), (e: Error) => e instanceof UserError && /options\.target/.test(e.message));
  assert.throws(() => createReward("near-pont", {}), /unknown reward "near-pont" \(did you mean "near-point"\?\)/);
});
