/**
 * Sweeps over many machines: runs are BullMQ jobs in Redis. The payload is the resolved
 * config as data (`{ config }`); a worker validates it against the training schema before
 * anything else and never runs commands from the queue. Job id = `run-<id>`, so submitting a
 * sweep twice adds nothing new (BullMQ keeps one job per id). Training happens in the local
 * pool's processes (src/sweep/pool.ts), so the worker's event loop stays free to renew
 * BullMQ's job locks; progress (epoch, proxy, gold) goes back through `job.updateProgress`.
 *
 * Failure handling:
 * - a worker that dies (SIGKILL, machine lost) stops renewing its job lock; after
 *   `lockDuration` another worker's stalled check puts the job back in the queue, and the
 *   next worker resumes the run from its last checkpoint (the run-directory lock,
 *   src/sweep/lock.ts, is free because its holder is gone);
 * - the same job delivered twice (a stall while the first worker was alive, a duplicate job):
 *   the second delivery waits for the run-directory lock, then finds the run finished;
 * - an invalid config (or any UserError: missing weights file, …) fails the job once
 *   (UnrecoverableError: no retries); other errors are retried `attempts` times with backoff;
 * - a stopped worker (SIGTERM/SIGINT) checkpoints and puts its job back without using an attempt.
 */
import { DelayedError, Queue, QueueEvents, UnrecoverableError, Worker, type Job } from "bullmq";
import { UserError } from "../engine/errors.js";
import { validateTask, type RunProgress, type RunResult } from "./execute.js";
import { ProcessPool } from "./pool.js";
import type { Sweep } from "./spec.js";
import type { SweepTracker } from "./status.js";

export const QUEUE_NAME = "grpo-guard-runs";

export interface RedisConnection {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  tls?: Record<string, never>;
  retryStrategy: (times: number) => number;
  maxRetriesPerRequest: null;
}

/** `redis://[[user]:password@]host[:port][/db]` (or `rediss://` for TLS) → connection options. */
export function parseRedisUrl(raw: string, flag = "--queue"): RedisConnection {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UserError(`${flag}: expected redis://[:password@]HOST:PORT, got "${raw}"`);
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") throw new UserError(`${flag}: expected a redis:// or rediss:// URL, got "${raw}"`);
  if (!url.hostname) throw new UserError(`${flag}: no host in "${raw}"`);
  const port = url.port ? Number(url.port) : 6379;
  const db = url.pathname && url.pathname !== "/" ? Number(url.pathname.slice(1)) : undefined;
  if (db !== undefined && !Number.isInteger(db)) throw new UserError(`${flag}: the database after the port must be a number, got "${url.pathname.slice(1)}"`);
  return {
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(db !== undefined ? { db } : {}),
    ...(url.protocol === "rediss:" ? { tls: {} } : {}),
    // Keep retrying while Redis is away (restart, failover), at most 5 s apart.
    retryStrategy: (times) => Math.min(250 * times, 5000),
    maxRetriesPerRequest: null,
  };
}

const jobId = (runId: string) => `run-${runId}`;

/** Log a connection problem once per distinct message and minute, not once per retry. */
function errorLogger(log: (line: string) => void, what: string): (err: Error) => void {
  const seen = new Map<string, number>();
  return (err) => {
    const key = err.message;
    if (Date.now() - (seen.get(key) ?? 0) < 60_000) return;
    seen.set(key, Date.now());
    log(`${what}: ${err.message} (retrying)`);
  };
}

export interface SubmitOptions {
  url: string;
  tracker: SweepTracker;
  /** Return right after enqueueing instead of following the sweep to its end. */
  detach?: boolean;
  pollMs?: number;
  attempts?: number;
  log?: (line: string) => void;
}

/**
 * Enqueue every run of the sweep (idempotent: an existing job is kept, a failed one is retried)
 * and follow it until each run is done or failed. Progress arrives as queue events; job states
 * are also polled, so nothing is missed across a Redis restart.
 */
export async function submitSweep(sweep: Sweep, options: SubmitOptions): Promise<void> {
  const connection = parseRedisUrl(options.url);
  const log = options.log ?? ((line) => process.stderr.write(line + "\n"));
  const queue = new Queue(QUEUE_NAME, { connection });
  queue.on("error", errorLogger(log, "queue"));
  const events = new QueueEvents(QUEUE_NAME, { connection });
  events.on("error", errorLogger(log, "queue events"));
  const byJob = new Map(sweep.runs.map((run) => [jobId(run.id), run.id]));
  const { tracker } = options;
  events.on("progress", ({ jobId: id, data }) => {
    const run = byJob.get(id);
    if (run && tracker.runs.get(run)?.state !== "done" && isProgress(data)) tracker.progress(run, data);
  });
  try {
    for (const run of sweep.runs) {
      const existing = await queue.getJob(jobId(run.id));
      if (existing && (await existing.getState()) === "failed") {
        log(`  ${run.name}: failed before (${existing.failedReason}); retrying it`);
        await existing.retry("failed");
        continue;
      }
      await queue.add(run.name, { config: run.config }, { jobId: jobId(run.id), attempts: options.attempts ?? 3, backoff: { type: "exponential", delay: 10_000 }, removeOnComplete: false, removeOnFail: false });
    }
    log(`enqueued ${sweep.runs.length} runs of sweep ${sweep.name} in ${QUEUE_NAME} on ${connection.host}:${connection.port}`);
    if (options.detach) return;
    await events.waitUntilReady().catch(() => {});
    while (!tracker.finished()) {
      await pollStates(queue, sweep, tracker).catch(() => {}); // Redis away: the next poll sees the truth
      if (tracker.finished()) break;
      await new Promise((r) => setTimeout(r, options.pollMs ?? 2000));
    }
  } finally {
    await events.close().catch(() => {});
    await queue.close().catch(() => {});
  }
}

function isProgress(data: unknown): data is RunProgress {
  return data !== null && typeof data === "object" && ["waiting", "started", "epoch", "eval", "checkpoint-eval"].includes((data as { type?: string }).type ?? "");
}

async function pollStates(queue: Queue, sweep: Sweep, tracker: SweepTracker): Promise<void> {
  for (const run of sweep.runs) {
    const status = tracker.runs.get(run.id)!;
    if (status.state === "done" || status.state === "failed") continue;
    const job = await queue.getJob(jobId(run.id));
    if (!job) {
      tracker.failed(run.id, "the job is no longer in the queue (removed by hand?)");
      continue;
    }
    const state = await job.getState();
    if (state === "completed" || state === "failed") {
      // Read the result after the state: the job fetched above may predate its completion.
      const finished = (await queue.getJob(jobId(run.id))) ?? job;
      if (state === "completed") tracker.done(run.id, (finished.returnvalue as RunResult | null) ?? { id: run.id, name: run.name, status: "trained", epochs: status.epochs });
      else tracker.failed(run.id, finished.failedReason || "failed");
    }
    else if (state === "active") {
      if (status.state === "queued") tracker.progress(run.id, isProgress(job.progress) ? job.progress : { type: "started", resumeFrom: null, epochs: status.epochs });
    } else if (status.state === "running") tracker.requeued(run.id, state === "delayed" ? `retry after: ${job.failedReason ?? "a stopped worker"}` : "waiting for a worker");
  }
}

export interface WorkerOptions {
  url: string;
  runsDir: string;
  /** Runs trained at once (one process each). */
  concurrency: number;
  threads: number;
  /** BullMQ job lock: a dead worker's job is taken over after this long (ms). */
  lockMs?: number;
  stalledMs?: number;
  /** Run-directory lock staleness (ms) for holders on other machines. */
  staleMs?: number;
  log?: (line: string) => void;
}

export interface RunningWorker {
  worker: Worker;
  pool: ProcessPool;
  /** Finish the current epochs, checkpoint, hand the jobs back, disconnect. */
  close(): Promise<void>;
}

/** Take jobs from the queue and train them in this machine's pool until closed. */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const connection = parseRedisUrl(options.url);
  const log = options.log ?? ((line) => process.stderr.write(line + "\n"));
  const pool = new ProcessPool(options.concurrency, options.threads, { runsDir: options.runsDir, staleMs: options.staleMs });
  const processor = async (job: Job, token?: string): Promise<RunResult> => {
    let name: string;
    try {
      name = validateTask(job.data, `job ${job.id}`).config.name;
    } catch (err) {
      log(`job ${job.id}: rejected: ${(err as Error).message}`);
      if (err instanceof UserError) throw new UnrecoverableError(err.message);
      throw err;
    }
    log(`job ${job.id}: ${name} (attempt ${job.attemptsMade + 1})`);
    let result: RunResult;
    try {
      result = await pool.run(job.id!, job.data, (event) => void job.updateProgress(event).catch(() => {}), (line) => log(`  ${name}: ${line}`));
    } catch (err) {
      log(`job ${job.id}: ${name} failed: ${(err as Error).message.split("\n")[0]}`);
      if (err instanceof UserError) throw new UnrecoverableError(err.message);
      throw err;
    }
    if (result.status === "interrupted") {
      log(`job ${job.id}: ${name} stopped at epoch ${result.epochs}; back in the queue`);
      await job.moveToDelayed(Date.now() + 1000, token);
      throw new DelayedError();
    }
    log(`job ${job.id}: ${name} ${result.status === "finished" ? "was finished earlier" : "done"}`);
    return result;
  };
  const worker = new Worker(QUEUE_NAME, processor, {
    connection,
    concurrency: options.concurrency,
    lockDuration: options.lockMs ?? 60_000,
    stalledInterval: options.stalledMs ?? 30_000,
    maxStalledCount: 3,
  });
  worker.on("error", errorLogger(log, "worker"));
  await worker.waitUntilReady().catch(() => {}); // not reachable yet: BullMQ keeps retrying
  let closing: Promise<void> | null = null;
  return {
    worker,
    pool,
    close() {
      closing ??= (async () => {
        const closed = worker.close(); // takes no new job, waits for the active ones
        pool.interrupt(); // which checkpoint at their epoch boundary and go back to the queue
        await closed;
        await pool.close();
      })();
      return closing;
    },
  };
}
