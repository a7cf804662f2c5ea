import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { initEngine } from "../src/engine/jax.js";
import { UserError } from "../src/engine/errors.js";
import { canonicalJson, portablePaths, runId } from "../src/sweep/id.js";
import { expandSweep, loadSweepFile, resolveRun } from "../src/sweep/spec.js";
import { tryLock } from "../src/sweep/lock.js";
import { executeRun, recordedRunId, type RunProgress } from "../src/sweep/execute.js";
import { checkpointEpochs } from "../src/rl/policy.js";
import { pendingCheckpointEvals } from "../src/rl/checkpoint-evals.js";
import { readCheckpointEvals } from "../src/diagnostics/metrics-schema.js";
import { summarizeRunDir } from "../src/study/summary.js";
import { stringify as stringifyYaml } from "yaml";
import { readSweepStatus, SweepTracker, type SweepStatusFile } from "../src/sweep/status.js";
import { bin, cli, env, policyHash, recordedEpochs, runDirs, sessionEvents, toyBase, until, writeSweep } from "./sweep-fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "grpo-guard-sweep-"));

test("sweep files: seeds × list × grid in seed-major order, stable ids that ignore names, output and checkpoint settings", () => {
  const file = writeSweep(dir, "plan", 4, { set: { "train.epochs": 2 }, list: [{ label: "flow", set: ["algorithm=flow-grpo"] }, { label: "guard", set: { algorithm: "grpo-guard" } }], grid: { "train.lr": [1e-3, 3e-3] }, seeds: [0, 1] });
  const sweep = loadSweepFile(file, join(dir, "runs"));
  assert.equal(sweep.runs.length, 2 * 2 * 2);
  assert.deepEqual(sweep.runs.map((r) => `${r.label}/${r.seed}`), ["flow-lr0.001/0", "flow-lr0.003/0", "guard-lr0.001/0", "guard-lr0.003/0", "flow-lr0.001/1", "flow-lr0.003/1", "guard-lr0.001/1", "guard-lr0.003/1"]);
  for (const run of sweep.runs) {
    assert.match(run.name, new RegExp(`^plan-${run.label}-${run.id}-s${run.seed}$`));
    assert.equal(run.config.train.epochs, 2, "the sweep's set overrides the base");
    assert.equal(run.config.output.dir, join(dir, "runs"));
  }
  assert.equal(sweep.runs[2].config.algorithm, "grpo-guard");
  assert.equal(sweep.runs[1].config.train.lr, 3e-3);
  assert.equal(new Set(sweep.runs.map((r) => r.id)).size, 8, "every run has its own id");
  // The same run planned again (another runs directory, key order, name, checkpoint cadence): same id.
  const again = resolveRun(JSON.parse(JSON.stringify({ ...toyBase(4), checkpoint: { every: 7, keep: 1 }, name: "other" })), ["train.epochs=2", "algorithm=flow-grpo", "train.lr=0.001", "seed=0"], "/elsewhere", "x");
  assert.equal(again.id, sweep.runs[0].id);
  assert.equal(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } }), canonicalJson({ a: { c: null, d: [2, { e: 0, f: 1 }] }, b: 1 }));
  // Anything that changes results changes the id.
  assert.notEqual(runId({ ...sweep.runs[0].config, train: { ...sweep.runs[0].config.train, lr: 2e-3 } }), sweep.runs[0].id);
  assert.notEqual(runId({ ...sweep.runs[0].config, sampling: { ...sweep.runs[0].config.sampling, eta: 0.5 } }), sweep.runs[0].id);
});

test("sweep files: errors name the file, the field and the run", () => {
  const expectError = (sweep: Record<string, unknown>, pattern: RegExp) => {
    const file = writeSweep(dir, "bad", 2, sweep);
    assert.throws(() => loadSweepFile(file, join(dir, "runs")), (err: Error) => err instanceof UserError && pattern.test(err.message), `expected ${pattern}`);
  };
  expectError({ grid: { "train.lr": [] } }, /bad\.sweep\.yaml: invalid configuration\n(?: {2}.*\n)* {2}grid\."train\.lr": .*got \[\]/);
  expectError({ seed: [0] }, /seed: unknown key \(did you mean "seeds"\?\)/);
  expectError({ grid: { "train.lr": [1e-3, -1] } }, /run lr-1, seed 0.*\n {2}train\.lr: .*got -1/);
  expectError({ list: [{ label: "a", set: ["train.lr=1e-3"] }, { label: "b", set: { "train.lr": 1e-3 } }] }, /runs "bad-a-[0-9a-f]{12}-s0" and "bad-b-[0-9a-f]{12}-s0" resolve to the same config/);
  const r = cli(["sweep", join(dir, "missing.yaml")]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /missing\.yaml: cannot read config file \(no such file\)/);
  assert.match(cli(["sweep", "--preset", "nope"]).stderr, /unknown sweep preset "nope" \(known: digits\)/);
  assert.match(cli(["sweep", "--preset", "digits", "--queue", "http://x"]).stderr, /--queue: expected a redis:\/\/ or rediss:\/\/ URL, got "http:\/\/x"/);
});

test("run-directory lock: exclusive, taken over when its holder died or stopped beating, lost by a holder that notices", async () => {
  const path = join(dir, "lock-test.lock");
  const first = tryLock(path, 60_000);
  assert.ok(first);
  assert.equal(tryLock(path, 60_000), null, "a live holder keeps it");
  first.release();
  assert.ok(!existsSync(path));
  // A holder process that was SIGKILLed: same host, its pid is gone → taken over at once.
  const holder = spawn(process.execPath, ["-e", `require("fs").writeFileSync(${JSON.stringify(path)}, JSON.stringify({ token: "dead", pid: process.pid, host: ${JSON.stringify(hostname())}, since: "" })); setInterval(() => {}, 1000)`]);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(tryLock(path, 60_000), null, "alive → busy");
  holder.kill("SIGKILL");
  await new Promise((r) => holder.once("exit", r));
  const messages: string[] = [];
  const second = tryLock(path, 60_000, (m) => messages.push(m));
  assert.ok(second, "taken over from a dead pid");
  assert.match(messages.join(), /holder \(pid \d+ on .*\) is gone/);
  // A holder on another machine that stopped beating: taken over after staleMs.
  writeFileSync(path, JSON.stringify({ token: "remote", pid: 1, host: "elsewhere", since: "" }));
  assert.equal(second.held(), false, "the holder sees that its lock is gone");
  assert.equal(second.touch(), false);
  assert.equal(tryLock(path, 60_000), null, "fresh remote lock");
  const old = new Date(Date.now() - 120_000);
  utimesSync(path, old, old);
  const third = tryLock(path, 60_000);
  assert.ok(third, "taken over after 60 s without heartbeat");
  third.release();
  second.release();
});

test("local pool: a sweep runs in worker processes; submitted again nothing is retrained; a partial run resumes to the same parameters", async () => {
  const runs = join(dir, "pool");
  const file = writeSweep(dir, "pool", 5, { grid: { "train.lr": [1e-3, 3e-3] }, seeds: [0] });
  const first = cli(["sweep", file, "--runs", runs, "--processes", "2", "--threads", "1"]);
  assert.equal(first.code, 0, first.stderr);
  const names = runDirs(runs);
  assert.equal(names.length, 2);
  const status = readSweepStatus(runs)!;
  assert.deepEqual(status.counts, { queued: 0, running: 0, done: 2, failed: 0 });
  assert.equal(status.finished, true);
  assert.ok(status.runs.every((r) => r.state === "done" && r.epoch === 5 && r.outcome === "trained" && typeof r.gold !== "undefined" && r.proxy !== null));
  assert.match(first.stderr, /sweep pool: 2 done, 0 running, 0 queued, 0 failed/);
  const pids = new Set(names.flatMap((n) => sessionEvents(join(runs, n)).map((e) => e.pid)));
  assert.equal(pids.size, 2, "two runs in two processes");
  assert.ok(![...pids].includes(process.pid));
  const hashes = names.map((n) => policyHash(join(runs, n)));
  const mtimes = names.map((n) => statSync(join(runs, n, "policy-ema.safetensors")).mtimeMs);

  const again = cli(["sweep", file, "--runs", runs, "--threads", "1"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((again.stderr.match(/finished earlier/g) ?? []).length, 2);
  assert.deepEqual(names.map((n) => statSync(join(runs, n, "policy-ema.safetensors")).mtimeMs), mtimes, "finished runs are not retrained");
  for (const n of names) assert.deepEqual(sessionEvents(join(runs, n)).map((e) => e.event), ["train-start", "train-end", "finished-earlier"]);

  // A run stopped after 2 epochs (checkpoint at the epoch boundary), then the sweep is submitted again.
  await initEngine();
  const partial = join(dir, "partial");
  const sweep = loadSweepFile(file, partial);
  let epochs = 0;
  const stopped = await executeRun({ config: sweep.runs[1].config }, { runsDir: partial, stopRequested: () => ++epochs >= 2 });
  assert.equal(stopped.status, "interrupted");
  assert.equal(stopped.epochs, 2);
  const resumed = cli(["sweep", file, "--runs", partial, "--threads", "1"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, new RegExp(`${sweep.runs[1].name}: resumed at epoch 2`));
  const resumedDir = join(partial, sweep.runs[1].name);
  assert.deepEqual(sessionEvents(resumedDir).map((e) => [e.event, e.resumeFrom]), [["train-start", null], ["train-stopped", undefined], ["train-start", 2], ["train-end", undefined]]);
  assert.deepEqual(recordedEpochs(resumedDir), [0, 1, 2, 3, 4], "each epoch recorded once");
  assert.deepEqual(runDirs(partial).map((n) => policyHash(join(partial, n))), hashes, "bit-identical to the uninterrupted runs (same ids, same parameters)");
});

test("status tracker: counts, ETA from the epoch rate, failures listed", () => {
  const sweep = expandSweep({ name: "t", base: writeSweep(dir, "t", 10, {}).replace("t.sweep.yaml", "t-base.yaml"), seeds: [0, 1] }, { baseDir: dir, runsDir: dir, source: "t" });
  const lines: string[] = [];
  let clock = 1_000_000;
  const tracker = new SweepTracker(sweep, "test", join(dir, "t-status.json"), (l) => lines.push(l), () => clock);
  const [a, b] = sweep.runs;
  assert.match(tracker.line(), /0 done, 0 running, 2 queued, 0 failed \| ETA \?/);
  tracker.progress(a.id, { type: "started", resumeFrom: null, epochs: 10 });
  clock += 50_000;
  tracker.progress(a.id, { type: "epoch", epoch: 5, epochs: 10, proxy: 0.5 });
  // 5 epochs in 50 s, 5 + 10 epochs left (the running run and the queued one): 150 s.
  assert.equal(tracker.etaSeconds(), 150);
  tracker.failed(b.id, "job config: invalid configuration\n  train.lr: too small");
  assert.match(tracker.line(), /0 done, 1 running, 0 queued, 1 failed/);
  assert.ok(lines.some((l) => /FAILED: job config: invalid configuration$/.test(l)));
  const file = JSON.parse(readFileSync(join(dir, "t-status.json"), "utf8")) as SweepStatusFile;
  assert.equal(file.runs.find((r) => r.id === b.id)?.error, "job config: invalid configuration\n  train.lr: too small");
});

test("sweep --preset digits plans the B2 comparison (5 methods × 3 seeds) with stable ids", () => {
  const r = cli(["sweep", "--preset", "digits", "--plan", "--runs", join(dir, "cmp")]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 15);
  assert.match(lines[0], /^[0-9a-f]{12} {2}digits-flow-grpo-[0-9a-f]{12}-s0 {2}train\.epochs=30 eval\.every=5 eval\.perPrompt=16 algorithm=flow-grpo dynamics=flow-sde seed=0$/);
  assert.match(lines[4], /digits-flow-grpo-lr5e-4-[0-9a-f]{12}-s0 .* train\.lr=5e-4 seed=0$/);
  assert.equal(cli(["sweep", "--preset", "digits", "--plan", "--runs", join(dir, "elsewhere")]).stdout, r.stdout, "ids do not depend on the runs directory");
});

test("the shipped example sweep (sweeps/lr-study.yaml) plans 2 methods × 2 learning rates × 3 seeds", () => {
  const file = new URL("../../sweeps/lr-study.yaml", import.meta.url).pathname;
  const sweep = loadSweepFile(file, join(dir, "example"));
  assert.equal(sweep.runs.length, 12);
  assert.deepEqual([...new Set(sweep.runs.map((r) => r.label))], ["flow-grpo-lr0.0001", "flow-grpo-lr0.0005", "grpo-guard-lr0.0001", "grpo-guard-lr0.0005"]);
  assert.ok(sweep.runs.every((r) => r.config.train.epochs === 30 && r.config.model.weights === "weights/dit-s-digits.safetensors"));
});

test("local pool: Ctrl-C lets the running run finish its epoch and checkpoint; the same command continues it", async () => {
  const runs = join(dir, "sigint");
  const file = writeSweep(dir, "sigint", 40, { seeds: [1] });
  const child = spawn(process.execPath, [bin, "sweep", file, "--runs", runs, "--processes", "1", "--threads", "1"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  let stdout = "";
  child.stderr.on("data", (d) => (stderr += String(d)));
  child.stdout.on("data", (d) => (stdout += String(d)));
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  await until("two epochs", () => existsSync(runs) && runDirs(runs).length === 1 && existsSync(join(runs, runDirs(runs)[0], "metrics.jsonl")) && recordedEpochs(join(runs, runDirs(runs)[0])).length >= 2, 120_000, 20);
  child.kill("SIGINT");
  assert.equal(await exited, 0, stderr);
  assert.match(stderr, /SIGINT: the running runs finish their epoch and checkpoint/);
  assert.match(stdout, /stopped; submit the same sweep again to continue/);
  const runDir = join(runs, runDirs(runs)[0]);
  const stoppedAt = recordedEpochs(runDir).length;
  assert.ok(stoppedAt < 40 && !existsSync(join(runDir, "policy-ema.safetensors")), "stopped early, no final policy");
  assert.deepEqual(sessionEvents(runDir).map((e) => e.event), ["train-start", "train-stopped"]);
  assert.equal((JSON.parse(readFileSync(join(runs, "sweep-status.json"), "utf8")) as SweepStatusFile).counts.queued, 1);
  const again = cli(["sweep", file, "--runs", runs, "--threads", "1"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, new RegExp(`resumed at epoch ${stoppedAt}`));
  assert.deepEqual(recordedEpochs(runDir), [...Array(40).keys()]);
});

test("a run directory is recognised by the id its sweep recorded, not by re-hashing its stored config (stored paths are absolute)", async () => {
  const runs = join(dir, "recorded-id");
  const sweep = loadSweepFile(writeSweep(dir, "recorded", 2, { seeds: [0] }), runs);
  const run = sweep.runs[0];
  const runDir = join(runs, run.name);
  mkdirSync(runDir, { recursive: true });
  // What the trainer stores: the same run with a path field resolved to an absolute path — another hash.
  const stored = { ...run.config, model: { ...run.config.model, weights: join(dir, "weights", "model.safetensors") } };
  assert.notEqual(runId(stored), run.id);
  writeFileSync(join(runDir, "config.yaml"), stringifyYaml(stored));
  writeFileSync(join(runDir, "policy-ema.safetensors"), "");
  // No sweep ever trained it: the stored config's hash decides, and it is another run.
  await assert.rejects(executeRun({ config: run.config }, { runsDir: runs }), (err: Error) => err instanceof UserError && /holds a run with id [0-9a-f]{12}, not [0-9a-f]{12}/.test(err.message));
  assert.equal(recordedRunId(runDir), null);
  // Trained by this sweep (its session log says so): a finished run, found again.
  writeFileSync(join(runDir, "sweep.jsonl"), JSON.stringify({ event: "train-start", id: run.id }) + "\n" + JSON.stringify({ event: "train-end", id: run.id }) + "\n{\"torn");
  assert.equal(recordedRunId(runDir), run.id);
  const again = await executeRun({ config: run.config }, { runsDir: runs });
  assert.equal(again.status, "finished");
  assert.equal(again.id, run.id);
});

test("run ids do not depend on where the checkout lives: shipped-file defaults count relative to the package root", () => {
  const root = "/some/checkout/";
  assert.deepEqual(portablePaths({ a: `${root}weights/w.safetensors`, b: ["x", `${root}c`], n: 3, other: "/elsewhere/weights/w.safetensors" }, root), {
    a: "<package>/weights/w.safetensors",
    b: ["x", "<package>/c"],
    n: 3,
    other: "/elsewhere/weights/w.safetensors",
  });
  const sweep = loadSweepFile(writeSweep(dir, "portable", 2, { seeds: [0] }), join(dir, "runs"));
  const config = sweep.runs[0].config;
  assert.ok(isAbsolute(config.gardo.features ?? ""), "the schema's default names the shipped classifier by absolute path");
  // The same run as another checkout plans it: every shipped path under another root.
  const here = config.gardo.features!.slice(0, config.gardo.features!.indexOf("weights/"));
  const moved = JSON.parse(JSON.stringify(config).split(here).join("/another/checkout/")) as typeof config;
  assert.notEqual(JSON.stringify(moved), JSON.stringify(config));
  assert.equal(runId(portablePaths(moved, "/another/checkout/") as typeof config), runId(config));
});

test("checkpoint.evaluate: a finished sweep run evaluates its kept, unevaluated checkpoints; stopped between them, the next submission finishes the rest", async () => {
  await initEngine();
  const runs = join(dir, "checkpoint-evals");
  const file = writeSweep(dir, "ckevals", 5, { set: { "checkpoint.keep": 4, "checkpoint.evaluate": true }, seeds: [0] });
  const [run] = loadSweepFile(file, runs).runs;
  const runDir = join(runs, run.name);
  const events: RunProgress[] = [];
  let stop = false;
  const first = await executeRun({ config: run.config }, {
    runsDir: runs,
    stopRequested: () => stop,
    onProgress: (e) => {
      events.push(e);
      if (e.type === "checkpoint-eval") stop = true; // Ctrl-C after the first checkpoint's evaluation
    },
  });
  assert.equal(first.status, "trained", "the run itself finished");
  const evaluatedByRun = events.filter((e) => e.type === "eval").map((e) => e.epoch);
  assert.deepEqual(evaluatedByRun, [0, 3, 5]);
  const kept = checkpointEpochs(runDir);
  assert.deepEqual(kept, [2, 3, 4, 5]);
  const ckEvents = events.filter((e) => e.type === "checkpoint-eval");
  assert.deepEqual(ckEvents.map((e) => [e.epoch, e.done, e.of]), [[2, 1, 2]]);
  assert.deepEqual(readCheckpointEvals(join(runDir, "checkpoints")).map((r) => [r.epoch, (r as unknown as { proxy: number }).proxy]), ckEvents.map((e) => [e.epoch, e.proxy]));
  assert.deepEqual(pendingCheckpointEvals(runDir), [4]);
  assert.deepEqual(sessionEvents(runDir).at(-1), { ...sessionEvents(runDir).at(-1)!, event: "checkpoint-evals", epochs: [2], stoppedBefore: 4 });

  // Submitted again: the run is not retrained; the checkpoint left over is evaluated.
  const again = await executeRun({ config: run.config }, { runsDir: runs, onProgress: (e) => events.push(e) });
  assert.equal(again.status, "finished");
  assert.deepEqual(events.filter((e) => e.type === "checkpoint-eval").map((e) => [e.epoch, e.done, e.of]), [[2, 1, 2], [4, 1, 1]]);
  assert.deepEqual(readCheckpointEvals(join(runDir, "checkpoints")).map((r) => r.epoch), [2, 4]);
  assert.deepEqual(pendingCheckpointEvals(runDir), []);
  assert.deepEqual(summarizeRunDir(runDir).evaluations.map((e) => [e.epoch, e.fromCheckpoint ?? false]), [[0, false], [2, true], [3, false], [4, true], [5, false]]);
  // Nothing pending: a third submission loads nothing and logs no evaluation.
  await executeRun({ config: run.config }, { runsDir: runs });
  assert.deepEqual(sessionEvents(runDir).map((e) => e.event), ["train-start", "train-end", "checkpoint-evals", "finished-earlier", "checkpoint-evals", "finished-earlier"]);
  // The setting is not part of the run's id (it changes no parameter).
  assert.equal(runId({ ...run.config, checkpoint: { ...run.config.checkpoint, evaluate: false } }), run.id);
});
