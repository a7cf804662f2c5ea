/**
 * Runs on disk keep their promises: `--resume DIR` works in DIR wherever the run was moved
 * (and from any working directory), a run with records but no checkpoint is never silently
 * restarted, a fresh run never appends to another run's metrics, and file paths in a run's
 * config.yaml are stored absolute (a relative one is resolved against the run directory).
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { initEngine, random } from "../src/engine/jax.js";
import { saveParams } from "../src/engine/safetensors.js";
import { TrainConfigSchema, type TrainConfig } from "../src/config/train.js";
import { createModel, presetConfig } from "../src/models/registry.js";
import { toyModeReward } from "../src/rewards/toy.js";
import { NoCheckpointError, RunExistsError, runTrainingJob } from "../src/rl/run.js";
import { readRunConfig } from "../src/rl/run-dir.js";
import { readMetrics } from "../src/diagnostics/metrics.js";
import { checkpointStep, listCheckpoints } from "../src/engine/checkpoint.js";

await initEngine();
const bin = fileURLToPath(new URL("../../bin/grpo-guard.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "grpo-guard-run-contract-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const model = createModel(presetConfig("mlp-2d"));
const weights = join(dir, "mlp.safetensors");
await saveParams(weights, model.init(random.key(0)), { format: "grpo-guard/model", config: model.config });

function config(name: string, extra: Record<string, unknown> = {}): TrainConfig {
  return TrainConfigSchema.parse({
    name,
    model: { weights },
    prompts: { pool: ["0", "1"], perEpoch: 2 },
    groupSize: 4,
    rewards: [{ name: "toy-mode" }],
    sampling: { steps: 3 },
    train: { epochs: 3, minibatch: 4 },
    eval: { every: 0 },
    checkpoint: { every: 1 },
    output: { dir: join(dir, "runs") },
    ...extra,
  });
}

const rewards = () => [{ reward: toyModeReward(), weight: 1 }];
const params = () => model.init(random.key(0));
const epochsOf = (metrics: string) => readMetrics(metrics).records.filter((r) => r.type === "epoch").map((r) => r.epoch);

function cli(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: "utf8", env: { ...process.env, GRPO_GUARD_THREADS: "1" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("a stopped run moved elsewhere resumes in the directory given, from another working directory", async () => {
  let epochs = 0;
  const first = await runTrainingJob(config("moved"), model, params(), rewards(), { stopRequested: () => ++epochs >= 1, hooks: {} });
  assert.equal(first.interrupted, true);
  assert.deepEqual(epochsOf(first.paths.metrics), [0]);
  const moved = join(dir, "elsewhere", "moved-run");
  mkdirSync(join(dir, "elsewhere"));
  renameSync(first.paths.dir, moved);
  const cwd = join(dir, "cwd");
  mkdirSync(cwd);
  const r = cli(["train", "--resume", moved], cwd);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /resumed .*moved-run at epoch 1/);
  assert.deepEqual(epochsOf(join(moved, "metrics.jsonl")), [0, 1, 2], "each epoch once, in the moved directory");
  assert.ok(existsSync(join(moved, "policy-ema.safetensors")));
  assert.equal(existsSync(first.paths.dir), false, "nothing recreated at the old place");
  assert.equal(existsSync(join(cwd, "runs")), false, "nothing created under the working directory");
});

test("a run with records but no checkpoint: --resume refuses (NoCheckpointError) unless --restart", async () => {
  const outcome = await runTrainingJob(config("lost"), model, params(), rewards());
  rmSync(join(outcome.paths.dir, "checkpoints"), { recursive: true });
  const before = readFileSync(outcome.paths.metrics);
  await assert.rejects(runTrainingJob(config("lost"), model, params(), rewards(), { resume: true }), (err: Error) => {
    assert.ok(err instanceof NoCheckpointError);
    assert.match(err.message, /metrics\.jsonl holds records but there is no valid checkpoint .* pass --restart/);
    return true;
  });
  assert.deepEqual(readFileSync(outcome.paths.metrics), before, "records untouched");
  const r = cli(["train", "--resume", outcome.paths.dir], dir);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^grpo-guard: [^\n]*no valid checkpoint[^\n]*--restart[^\n]*\n$/);
  const restarted = await runTrainingJob(config("lost"), model, params(), rewards(), { resume: true, restart: true });
  assert.deepEqual(epochsOf(restarted.paths.metrics), [0, 1, 2]);
});

test("a fresh run with the name of an existing run never appends to its metrics", async () => {
  const outcome = await runTrainingJob(config("taken", { train: { epochs: 2, minibatch: 4 } }), model, params(), rewards(), { stopRequested: () => true });
  rmSync(join(outcome.paths.dir, "checkpoints"), { recursive: true }); // a run killed before its first checkpoint
  const before = readFileSync(outcome.paths.metrics);
  await assert.rejects(runTrainingJob(config("taken"), model, params(), rewards()), RunExistsError);
  assert.deepEqual(readFileSync(outcome.paths.metrics), before);
  const again = await runTrainingJob(config("taken"), model, params(), rewards(), { restart: true });
  assert.deepEqual(epochsOf(again.paths.metrics), [0, 1, 2]);
});

test("config.yaml stores file paths absolute; a relative one written there is resolved against the run directory", async () => {
  const cwd = join(dir, "relative");
  mkdirSync(cwd);
  writeFileSync(join(cwd, "w.safetensors"), readFileSync(weights));
  writeFileSync(join(cwd, "c.yaml"), toYaml({ ...config("rel"), model: { weights: "w.safetensors" }, output: { dir: "runs" }, train: { epochs: 1, minibatch: 4 } }));
  const r = cli(["train", "--config", "c.yaml"], cwd);
  assert.equal(r.code, 0, r.stderr);
  const saved = parseYaml(readFileSync(join(cwd, "runs", "rel", "config.yaml"), "utf8")) as TrainConfig;
  assert.ok(isAbsolute(saved.model.weights!) && saved.model.weights!.endsWith("w.safetensors"));
  writeFileSync(join(cwd, "runs", "rel", "config.yaml"), toYaml({ ...saved, model: { weights: "../../w.safetensors" } }));
  assert.equal(readRunConfig(join(cwd, "runs", "rel")).model.weights, join(cwd, "w.safetensors"));
});

test("a checkpoint written on a stop between scheduled saves gives its place back: a run interrupted once keeps the scheduled checkpoints an uninterrupted run keeps", async () => {
  const schedule = { train: { epochs: 4, minibatch: 4 }, checkpoint: { every: 2, keep: 3 } };
  const straight = await runTrainingJob(config("kept-straight", schedule), model, params(), rewards(), {});
  let epochs = 0;
  const stopped = await runTrainingJob(config("kept-split", schedule), model, params(), rewards(), { stopRequested: () => ++epochs >= 1 });
  assert.equal(stopped.interrupted, true);
  assert.deepEqual(listCheckpoints(stopped.paths.checkpoints).map(checkpointStep), [0, 1], "the stop wrote its own checkpoint");
  await runTrainingJob(config("kept-split", schedule), model, params(), rewards(), { resume: true });
  assert.deepEqual(listCheckpoints(straight.paths.checkpoints).map(checkpointStep), [0, 2, 4]);
  // Without the rule the epoch-1 file would hold one of the three places and epoch 0 would be gone.
  assert.deepEqual(listCheckpoints(stopped.paths.checkpoints).map(checkpointStep), [0, 2, 4]);
});
