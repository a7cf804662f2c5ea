/**
 * A sweep on this machine: every run through the local process pool, progress into the tracker.
 * Ctrl-C (or SIGTERM) stops every process at its next epoch boundary with a checkpoint;
 * submitting the same sweep again resumes from there.
 */
import { ProcessPool } from "./pool.js";
import type { Sweep } from "./spec.js";
import type { SweepTracker } from "./status.js";

export interface LocalOptions {
  runsDir: string;
  processes: number;
  threads: number;
  tracker: SweepTracker;
  staleMs?: number;
  log?: (line: string) => void;
}

/** Runs the sweep; resolves with true when it was stopped by a signal before the end. */
export async function runSweepLocally(sweep: Sweep, options: LocalOptions): Promise<boolean> {
  const { tracker } = options;
  const log = options.log ?? ((line) => process.stderr.write(line + "\n"));
  const pool = new ProcessPool(Math.min(options.processes, Math.max(1, sweep.runs.length)), options.threads, { runsDir: options.runsDir, staleMs: options.staleMs });
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    log(`\n${signal}: the running runs finish their epoch and checkpoint; the sweep resumes from there when submitted again (press again to abort)`);
    pool.cancelWaiting();
    pool.interrupt();
  };
  const sigint = () => onSignal("SIGINT");
  const sigterm = () => onSignal("SIGTERM");
  process.on("SIGINT", sigint);
  process.on("SIGTERM", sigterm);
  try {
    await Promise.all(
      sweep.runs.map((run) =>
        pool.run(run.id, { config: run.config }, (event) => tracker.progress(run.id, event), (line) => log(`  ${run.name}: ${line}`)).then(
          (result) => (result.status === "interrupted" ? tracker.requeued(run.id, `stopped at epoch ${result.epochs}`) : tracker.done(run.id, result)),
          (err: Error) => (stopping ? tracker.requeued(run.id, "stopped") : tracker.failed(run.id, err.message)),
        ),
      ),
    );
  } finally {
    process.off("SIGINT", sigint);
    process.off("SIGTERM", sigterm);
    await pool.close();
    tracker.write(true);
  }
  return stopping;
}
