import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify as toYaml } from "yaml";
import { initEngine } from "../src/engine/jax.js";
import { pretrainToyBase } from "../src/pretrain/toy-base.js";
import { readLatestCheckpoint } from "../src/engine/checkpoint.js";
import { decodeSafetensors } from "../src/engine/safetensors.js";

const bin = fileURLToPath(new URL("../../bin/grpo-guard.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "grpo-guard-resume-"));
await initEngine();
const baseWeights = await pretrainToyBase(dir, 200);

function writeConfig(name: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    toYaml({
      name,
      seed: 3,
      model: { weights: baseWeights },
      algorithm: "grpo-guard",
      dynamics: "flow-sde",
      sampling: { steps: 8, window: { mode: "random", candidates: [3, 5, 8] } },
      prompts: { pool: [""], perEpoch: 4 },
      groupSize: 8,
      rewards: [{ name: "toy-mode" }],
      train: { epochs: 14, minibatch: 8, lr: 3e-3 },
      eval: { every: 4, steps: 8, perPrompt: 16 },
      checkpoint: { every: 2, keep: 2 },
      output: { dir },
    }),
  );
  return path;
}

const env = { ...process.env, GRPO_GUARD_THREADS: "1" };
/** metrics.jsonl without wall-clock fields (the only thing allowed to differ). */
function metricsWithoutTimes(path: string): unknown[] {
  return readFileSync(path, "utf8").trim().split("\n").map((line) => {
    const record = JSON.parse(line) as Record<string, unknown>;
    delete record.seconds;
    return record;
  });
}

function runToEnd(args: string[], extraEnv: Record<string, string> = {}): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [bin, "train", ...args], { encoding: "utf8", env: { ...env, ...extraEnv } });
  return { code: r.status, stderr: r.stderr };
}

/** Start a run and SIGKILL it `delayMs` after it has printed `epochs` epoch lines (or let it finish first). */
function runAndKill(args: string[], epochs: number, delayMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, "train", ...args], { env, stdio: ["ignore", "pipe", "ignore"] });
    let seen = 0;
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on("data", (chunk) => {
      seen += (String(chunk).match(/^epoch\s+\d+ \|/gm) ?? []).length;
      if (seen >= epochs && !timer) timer = setTimeout(() => child.kill("SIGKILL"), delayMs);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

test("kill -9 at random moments (and inside a checkpoint write), then --resume: same parameters and metrics as an uninterrupted run", async () => {
  const reference = runToEnd(["--config", writeConfig("straight")]);
  assert.equal(reference.code, 0, reference.stderr);
  const straight = join(dir, "straight");

  const runDir = join(dir, "killed");
  // 1. Crash in the middle of writing the 3rd checkpoint.
  const crashed = runToEnd(["--config", writeConfig("killed")], { GRPO_GUARD_CRASH_IN_CHECKPOINT: "3" });
  assert.equal(crashed.code, null, "the child was killed by SIGKILL");
  assert.ok(readdirSync(join(runDir, "checkpoints")).some((f) => f.endsWith(".tmp")), "a half-written temp file is left behind");
  const latest = JSON.parse(readFileSync(join(runDir, "checkpoints", "latest.json"), "utf8")) as { file: string };
  assert.ok(readLatestCheckpoint(join(runDir, "checkpoints"), () => {}) !== null, "latest checkpoint is complete");
  assert.ok(existsSync(join(runDir, "checkpoints", latest.file)));
  // 2. Kill -9 at pseudo-random moments (after k epochs + a few ms), resuming each time.
  const moments: [number, number][] = [[1, 37], [2, 5], [1, 80], [3, 19], [2, 61]];
  let finished = false;
  let kills = 0;
  for (const [epochs, ms] of moments) {
    const code = await runAndKill(["--resume", runDir], epochs, ms);
    if (code === 0) {
      finished = true;
      break;
    }
    kills += 1;
  }
  assert.ok(kills >= 2, `only ${kills} of the kills landed before the run finished`);
  if (!finished) assert.equal(runToEnd(["--resume", runDir]).code, 0);

  // Final EMA policy: bit-identical tensors (the files differ only in the run name in their metadata).
  const policy = (d: string) => decodeSafetensors(readFileSync(join(d, "policy-ema.safetensors")), d).tensors;
  const hash = (tensors: Map<string, { data: Float32Array }>) => createHash("sha256").update(Buffer.concat([...tensors.values()].map((t) => Buffer.from(t.data.buffer)))).digest("hex");
  assert.equal(hash(policy(runDir)), hash(policy(straight)), "final EMA parameters are bit-identical");
  const finalCheckpoint = (d: string) => join(d, "checkpoints", (JSON.parse(readFileSync(join(d, "checkpoints", "latest.json"), "utf8")) as { file: string }).file);
  const a = readLatestCheckpoint(join(runDir, "checkpoints"), () => {})!;
  const b = readLatestCheckpoint(join(straight, "checkpoints"), () => {})!;
  for (const [name, t] of b.tensors) assert.deepEqual(a.tensors.get(name)!.data, t.data, name);
  assert.ok(finalCheckpoint(runDir).endsWith("ckpt-00000014.safetensors"));
  assert.deepEqual(metricsWithoutTimes(join(runDir, "metrics.jsonl")), metricsWithoutTimes(join(straight, "metrics.jsonl")));
});

test("a corrupt newest checkpoint is skipped with a warning and the previous one is used", async () => {
  const runDir = join(dir, "straight");
  const checkpoints = join(runDir, "checkpoints");
  const newest = readdirSync(checkpoints).filter((f) => f.endsWith(".safetensors")).sort().at(-1)!;
  const bytes = readFileSync(join(checkpoints, newest));
  bytes[bytes.length - 5] ^= 0xff; // flip bits in the tensor data
  writeFileSync(join(checkpoints, newest), bytes);
  const warnings: string[] = [];
  const found = readLatestCheckpoint<{ trainer: { epoch: number } }>(checkpoints, (w) => warnings.push(w));
  assert.ok(found && !found.file.endsWith(newest), "fell back to an older checkpoint");
  assert.match(warnings.join("\n"), /checksum mismatch/);
});

test("SIGTERM: the run finishes its epoch, writes a checkpoint, exits 0, and --resume completes it", async () => {
  const config = writeConfig("sigterm");
  const runDir = join(dir, "sigterm");
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, "train", "--config", config], { env });
    let err = "";
    child.stderr.on("data", (d) => {
      err += String(d);
      // Signal once training is under way (the first epoch line has been printed).
      if (/train \d+\/14|epoch\s+1 \|/.test(err) && !child.killed) child.kill("SIGTERM");
    });
    child.stdout.on("data", (d) => {
      if (/epoch\s+\d+ \|/.test(String(d)) && !child.killed) child.kill("SIGTERM");
    });
    child.on("exit", (c) => resolve({ code: c, stderr: err }));
  });
  assert.equal(code, 0, stderr);
  assert.match(stderr, /SIGTERM: finishing the current epoch/);
  const stopped = /stopped at epoch (\d+); checkpoint written/.exec(stderr);
  assert.ok(stopped, stderr);
  const found = readLatestCheckpoint<{ trainer: { epoch: number } }>(join(runDir, "checkpoints"), () => {});
  assert.equal(found?.meta.trainer.epoch, Number(stopped[1]));
  assert.ok(!existsSync(join(runDir, "policy-ema.safetensors")), "an interrupted run has no final policy yet");
  assert.equal(runToEnd(["--resume", runDir]).code, 0);
  assert.ok(existsSync(join(runDir, "policy-ema.safetensors")));
});
