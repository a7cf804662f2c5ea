import type { Command } from "commander";
import { UserError } from "../../engine/errors.js";
import { QUEUE_NAME, startWorker } from "../../sweep/queue.js";
import { DEFAULT_LOCAL_POOL } from "../../sweep/run-sweep.js";
import { positiveInt } from "../options.js";

interface WorkerCliOptions {
  queue?: string;
  runsDir?: string;
  concurrency: number;
  threads: number;
  lockMs: number;
  stalledMs: number;
}

export function registerWorker(program: Command): void {
  program
    .command("worker")
    .description("take sweep runs from a Redis queue (BullMQ) and train them on this machine; only configs that validate against the schema are run")
    .option("--queue <url>", "redis://[:password@]HOST:PORT (never expose this Redis publicly)")
    .option("--runs-dir <dir>", "the runs directory shared by every worker (a shared filesystem across machines)")
    .option("--concurrency <n>", "runs trained at once on this machine, one process each", positiveInt("--concurrency"), DEFAULT_LOCAL_POOL.processes)
    .option("--threads <n>", "jax-js threads per run", positiveInt("--threads"), DEFAULT_LOCAL_POOL.threads)
    .option("--lock-ms <ms>", "job lock: a dead worker's run is taken over by another worker after this long", positiveInt("--lock-ms"), 60_000)
    .option("--stalled-ms <ms>", "how often this worker looks for jobs of dead workers", positiveInt("--stalled-ms"), 30_000)
    .action(async (opts: WorkerCliOptions) => {
      if (!opts.queue) throw new UserError("worker: --queue redis://HOST:PORT is required");
      if (!opts.runsDir) throw new UserError("worker: --runs-dir DIR is required (the runs directory every worker shares)");
      const running = await startWorker({ url: opts.queue, runsDir: opts.runsDir, concurrency: opts.concurrency, threads: opts.threads, lockMs: opts.lockMs, stalledMs: opts.stalledMs });
      process.stderr.write(`worker ${process.pid}: ${QUEUE_NAME} on ${new URL(opts.queue).host}, ${opts.concurrency} × ${opts.threads} threads, runs in ${opts.runsDir}\n`);
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) process.exit(130);
          stopping = true;
          process.stderr.write(`worker ${process.pid}: ${signal}: finishing the current epochs, handing the jobs back\n`);
          void running.close().then(resolve);
        };
        process.on("SIGINT", () => stop("SIGINT"));
        process.on("SIGTERM", () => stop("SIGTERM"));
      });
    });
}
