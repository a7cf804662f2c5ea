/**
 * The distributed sweep against a real redis-server (started here on a free loopback port,
 * with a password, AOF persistence in a temp dir): bit-identical results to the local pool,
 * and the fault cases of issue 14 — a SIGKILLed worker, a Redis restart, a job delivered
 * twice, a poison job.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { loadSweepFile } from "../src/sweep/spec.js";
import { parseRedisUrl, QUEUE_NAME, submitSweep } from "../src/sweep/queue.js";
import { SweepTracker, type SweepStatusFile } from "../src/sweep/status.js";
import { failureReport } from "../src/sweep/run-sweep.js";
import { runId } from "../src/sweep/id.js";
import { bin, cli, env, freePort, policyHash, recordedEpochs, REDIS_SERVER, runDirs, sessionEvents, sleep, startRedis, startWorker, stopProcess, until, writeSweep } from "./sweep-fixtures.js";

const skip = REDIS_SERVER ? false : "redis-server not found on the PATH or in /usr/bin (Debian package redis-server; .ci/run installs it)";
const dir = mkdtempSync(join(tmpdir(), "grpo-guard-sweep-queue-"));
const password = "p@ss:w/rd";
let redis: ChildProcess | null = null;
let port = 0;
const children: ChildProcess[] = [];
const url = (db: number) => `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;

if (!skip) {
  port = await freePort();
  redis = await startRedis(port, join(dir, "redis"), password);
}

const worker = (db: number, runsDir: string) => {
  const w = startWorker(url(db), runsDir);
  children.push(w);
  return w;
};

function submitter(file: string, db: number, runsDir: string): { child: ChildProcess; done: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [bin, "sweep", file, "--queue", url(db), "--runs", runsDir, "--poll-ms", "300"], { env, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += String(d)));
  return { child, done: new Promise((resolve) => child.on("exit", (code) => resolve({ code, stderr }))) };
}

/**
 * Training sessions never overlap: every train-start is closed (end/stopped) before the next
 * one, unless the next one took the lock over from the open session's process, which was gone.
 */
function assertNoConcurrentTraining(runDir: string): void {
  let open: number | null = null;
  for (const e of sessionEvents(runDir)) {
    if (e.event === "train-start") {
      if (open !== null) assert.match(e.tookOver ?? "", new RegExp(`holder \\(pid ${open} on .*\\) is gone`), `${runDir}: a second training session started while pid ${open} was training`);
      open = e.pid;
    } else if (e.event === "train-end" || e.event === "train-stopped") open = null;
  }
}

test.after(async () => {
  for (const child of children) await stopProcess(child, "SIGKILL");
  if (redis) await stopProcess(redis);
});

test("redis URL: password, user, database, TLS; errors name the flag", () => {
  assert.deepEqual(
    { ...parseRedisUrl("redis://:p%40ss@10.0.0.5:6380/2"), retryStrategy: undefined },
    { host: "10.0.0.5", port: 6380, password: "p@ss", db: 2, retryStrategy: undefined, maxRetriesPerRequest: null },
  );
  assert.equal(parseRedisUrl("rediss://me:pw@example.org").username, "me");
  assert.deepEqual(parseRedisUrl("rediss://me:pw@example.org").tls, {});
  assert.throws(() => parseRedisUrl("redis://h:1/x"), /--queue: the database after the port must be a number, got "x"/);
  assert.throws(() => parseRedisUrl("not a url"), /--queue: expected redis:\/\/\[:password@\]HOST:PORT, got "not a url"/);
});

test("two workers give the local pool's parameters bit for bit; a worker SIGKILLed mid-run: another takes its job after the lock expires and resumes from the checkpoint", { skip }, async () => {
  const file = writeSweep(dir, "kill", 12, { grid: { "train.lr": [1e-3, 3e-3] }, seeds: [0] });
  const local = join(dir, "kill-local");
  const reference = cli(["sweep", file, "--runs", local, "--processes", "2", "--threads", "1"]);
  assert.equal(reference.code, 0, reference.stderr);

  const runs = join(dir, "kill-queue");
  const first = worker(1, runs);
  const { done } = submitter(file, 1, runs);
  // Let the first worker train its run past a few checkpoints, then kill it (its training process goes with it).
  let victim = "";
  await until("a run with 3 epochs", () => {
    victim = existsSync(runs) ? (runDirs(runs).find((n) => existsSync(join(runs, n, "metrics.jsonl")) && recordedEpochs(join(runs, n)).length >= 3) ?? "") : "";
    return victim !== "";
  }, 120_000, 20);
  first.kill("SIGKILL");
  worker(1, runs);
  worker(1, runs);
  const { code, stderr } = await done;
  assert.equal(code, 0, stderr);

  const names = runDirs(runs);
  assert.deepEqual(names, runDirs(local), "same run ids");
  for (const name of names) {
    assert.equal(policyHash(join(runs, name)), policyHash(join(local, name)), `${name}: bit-identical parameters`);
    assert.deepEqual(recordedEpochs(join(runs, name)), [...Array(12).keys()], `${name}: every epoch recorded once`);
    assertNoConcurrentTraining(join(runs, name));
  }
  const sessions = sessionEvents(join(runs, victim)).filter((e) => e.event === "train-start");
  assert.equal(sessions.length, 2, "killed once, resumed once");
  assert.ok((sessions[1].resumeFrom ?? 0) >= 3, `resumed from the last checkpoint (epoch ${sessions[1].resumeFrom})`);
  assert.notEqual(sessions[0].pid, sessions[1].pid);
  // The submitter followed the sweep through the queue's events only.
  const status = JSON.parse(readFileSync(join(runs, "sweep-status.json"), "utf8")) as SweepStatusFile;
  assert.deepEqual(status.counts, { queued: 0, running: 0, done: 2, failed: 0 });
  assert.ok(status.runs.every((r) => r.epoch === 12 && r.proxy !== null), JSON.stringify(status.runs));
  assert.match(stderr, /resumed at epoch \d+/);
});

test("Redis restarted mid-sweep: workers and the submitter reconnect; no run lost, none trained twice", { skip }, async () => {
  const file = writeSweep(dir, "restart", 10, { grid: { "train.lr": [1e-3, 2e-3, 3e-3] }, seeds: [0] });
  const runs = join(dir, "restart-queue");
  const workers = [worker(2, runs), worker(2, runs)];
  const { done } = submitter(file, 2, runs);
  await until("training under way", () => existsSync(runs) && runDirs(runs).some((n) => existsSync(join(runs, n, "metrics.jsonl")) && recordedEpochs(join(runs, n)).length >= 2), 120_000, 20);
  await stopProcess(redis!);
  await sleep(1500);
  redis = await startRedis(port, join(dir, "redis"), password);
  const { code, stderr } = await done;
  assert.equal(code, 0, stderr);
  const names = runDirs(runs);
  assert.equal(names.length, 3);
  for (const name of names) {
    assert.ok(existsSync(join(runs, name, "policy-ema.safetensors")), `${name} finished`);
    assert.deepEqual(recordedEpochs(join(runs, name)), [...Array(10).keys()], `${name}: every epoch recorded once`);
    assertNoConcurrentTraining(join(runs, name));
  }
  const status = JSON.parse(readFileSync(join(runs, "sweep-status.json"), "utf8")) as SweepStatusFile;
  assert.deepEqual(status.counts, { queued: 0, running: 0, done: 3, failed: 0 });
  // Both sides really lost the connection (and said so once, not once per retry).
  assert.match(stderr, /queue( events)?: .*(ECONNREFUSED|Connection is closed).*\(retrying\)/);
  for (const w of workers) assert.match(w.log.join(""), /worker: .*(ECONNREFUSED|Connection is closed).*\(retrying\)/);
});

test("the same job delivered twice: the second delivery waits for the run's lock, then leaves the finished run alone", { skip }, async () => {
  const file = writeSweep(dir, "twice", 8, { seeds: [5] });
  const runs = join(dir, "twice-queue");
  const [run] = loadSweepFile(file, runs).runs;
  const queue = new Queue(QUEUE_NAME, { connection: parseRedisUrl(url(3)) });
  try {
    await queue.add(run.name, { config: run.config }, { jobId: `run-${run.id}` });
    await queue.add(run.name, { config: run.config }, { jobId: `dup-${run.id}` });
    const pair = [worker(3, runs), worker(3, runs)];
    test.after(() => {
      if (process.env.SWEEP_DEBUG) for (const w of pair) process.stderr.write(`--- worker\n${w.log.join("")}`);
    });
    const result = async (id: string) => {
      for (;;) {
        const state = await queue.getJobState(id);
        if (state === "completed" || state === "failed") {
          const job = (await queue.getJob(id))!; // fetched after it finished, so its result is there
          if (state === "failed") throw new Error(job.failedReason);
          return job.returnvalue as { status: string };
        }
        await sleep(100);
      }
    };
    const outcomes = [await result(`run-${run.id}`), await result(`dup-${run.id}`)].map((r) => r.status).sort();
    assert.deepEqual(outcomes, ["finished", "trained"]);
    // The two deliveries overlapped: the later one reported that it was waiting for the lock.
    const progress = await Promise.all([`run-${run.id}`, `dup-${run.id}`].map(async (id) => (await queue.getJob(id))!.progress as { type?: string; holder?: string }));
    assert.ok(progress.some((p) => p.type === "waiting" && /^pid \d+ on /.test(p.holder ?? "")), JSON.stringify(progress));
    const runDir = join(runs, run.name);
    assert.deepEqual(sessionEvents(runDir).map((e) => e.event), ["train-start", "train-end", "finished-earlier"]);
    assert.deepEqual(recordedEpochs(runDir), [...Array(8).keys()]);
    const before = { hash: policyHash(runDir), mtime: statSync(join(runDir, "policy-ema.safetensors")).mtimeMs, metrics: readFileSync(join(runDir, "metrics.jsonl"), "utf8") };
    // Delivered once more after it finished: nothing changes.
    await queue.add(run.name, { config: run.config }, { jobId: `again-${run.id}` });
    assert.equal((await result(`again-${run.id}`)).status, "finished");
    assert.deepEqual({ hash: policyHash(runDir), mtime: statSync(join(runDir, "policy-ema.safetensors")).mtimeMs, metrics: readFileSync(join(runDir, "metrics.jsonl"), "utf8") }, before);
    assert.ok(!readdirSync(runs).some((f) => f.endsWith(".lock")), "no lock left behind");
  } finally {
    await queue.close();
  }
});

test("poison jobs (an invalid value, a key that is not in the schema): fail once with the config's named error, are not retried, and the sweep reports them", { skip }, async () => {
  const file = writeSweep(dir, "poison", 3, { seeds: [7] });
  const runs = join(dir, "poison-queue");
  const sweep = loadSweepFile(file, runs);
  const good = sweep.runs[0];
  const badValue = { ...good.config, train: { ...good.config.train, lr: -1 } };
  const withCommand = { ...good.config, exec: "touch /tmp/grpo-guard-pwned" };
  const poisoned = [
    { ...good, id: "badbadbadbad", name: "poison-lr-s0", config: badValue },
    { ...good, id: "feedfeedfeed", name: `poison-exec-${runId(good.config)}-s1`, config: withCommand as never },
  ];
  const lines: string[] = [];
  const all = { name: "poison", runs: [good, ...poisoned] };
  const tracker = new SweepTracker(all, "test", join(runs, "sweep-status.json"), (l) => lines.push(l));
  const w = worker(4, runs);
  await submitSweep(all, { url: url(4), tracker, pollMs: 200, attempts: 3, log: (l) => lines.push(l) });
  assert.equal(tracker.runs.get(good.id)?.state, "done");
  assert.match(tracker.runs.get("badbadbadbad")?.error ?? "", /job run-badbadbadbad config: invalid configuration\n {2}train\.lr: .*\(got -1\)/);
  assert.match(tracker.runs.get("feedfeedfeed")?.error ?? "", /exec: unknown key/);
  const queue = new Queue(QUEUE_NAME, { connection: parseRedisUrl(url(4)) });
  try {
    for (const id of ["badbadbadbad", "feedfeedfeed"]) assert.equal((await queue.getJob(`run-${id}`))?.attemptsMade, 1, `${id}: one attempt of 3`);
  } finally {
    await queue.close();
  }
  assert.match(failureReport(tracker)?.message ?? "", /2 of 3 runs failed:\n {2}poison-lr-s0: job run-badbadbadbad config: invalid configuration\n {2}poison-exec-/);
  assert.ok(!existsSync("/tmp/grpo-guard-pwned"));
  assert.ok(!existsSync(join(runs, "poison-lr-s0")), "nothing written for a poison job");
  assert.match(w.log.join(""), /job run-badbadbadbad: rejected/);
  const status = JSON.parse(readFileSync(join(runs, "sweep-status.json"), "utf8")) as SweepStatusFile;
  assert.deepEqual(status.counts, { queued: 0, running: 0, done: 1, failed: 2 });
});
