/**
 * One entry point for every sweep (a sweep file, a preset, `compare`): plan → local pool or
 * queue → status. Idempotent: finished runs are skipped, partial ones resume.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../engine/errors.js";
import { COMPARE_PRESETS, comparisonSweep } from "../experiments/compare.js";
import { runSweepLocally } from "./local.js";
import { submitSweep } from "./queue.js";
import { expandSweep, type Sweep } from "./spec.js";
import { STATUS_FILE, SweepTracker } from "./status.js";

/**
 * The local pool's default shape on this 2-core machine: 1 process × 2 threads ran more runs
 * per hour than 2 processes × 1 thread (docs/performance.md, "Sweeps: processes × threads";
 * `node dist/bench/sweep-pool.js`). More processes pay off on machines with more cores.
 */
export const DEFAULT_LOCAL_POOL = { processes: 1, threads: 2 };

const PACKAGE_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Built-in sweeps: every comparison preset (B2) is one. */
export const SWEEP_PRESETS = Object.keys(COMPARE_PRESETS);

/** Expand a preset (its base config is relative to the package root). */
export function presetSweep(name: string, runsDir: string, options: { seeds?: number[]; epochs?: number; extra?: readonly string[] } = {}): Sweep {
  const preset = COMPARE_PRESETS[name];
  if (!preset) throw new UserError(`unknown sweep preset "${name}" (known: ${SWEEP_PRESETS.join(", ")})`);
  return expandSweep(comparisonSweep(name, preset, options), { baseDir: PACKAGE_ROOT, runsDir, source: `preset ${name}`, extra: options.extra });
}

export interface SweepRunOptions {
  runsDir: string;
  /** redis://… to submit to the queue; otherwise the local pool. */
  queue?: string;
  detach?: boolean;
  processes?: number;
  threads?: number;
  /** Status JSON for the dashboard (default `<runs>/sweep-status.json`; null for none). */
  statusFile?: string | null;
  pollMs?: number;
  log?: (line: string) => void;
}

export interface SweepOutcome {
  tracker: SweepTracker;
  /** Stopped by a signal (local pool) before every run was done. */
  stopped: boolean;
}

export async function runSweep(sweep: Sweep, options: SweepRunOptions): Promise<SweepOutcome> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + "\n"));
  const statusFile = options.statusFile === undefined ? join(options.runsDir, STATUS_FILE) : options.statusFile;
  const processes = options.processes ?? DEFAULT_LOCAL_POOL.processes;
  const threads = options.threads ?? DEFAULT_LOCAL_POOL.threads;
  const mode = options.queue ? `queue ${new URL(options.queue).host}` : `local pool ${processes} × ${threads} threads`;
  const tracker = new SweepTracker(sweep, mode, statusFile, log);
  log(`sweep ${sweep.name}: ${sweep.runs.length} runs, ${mode}${statusFile ? `; status in ${statusFile}` : ""}`);
  let stopped = false;
  if (options.queue) await submitSweep(sweep, { url: options.queue, tracker, detach: options.detach, pollMs: options.pollMs, log });
  else stopped = await runSweepLocally(sweep, { runsDir: options.runsDir, processes, threads, tracker, log });
  tracker.write(true);
  if (!options.detach) tracker.printLine();
  return { tracker, stopped };
}

/** A UserError listing the failed runs of a finished sweep (null when none failed). */
export function failureReport(tracker: SweepTracker): UserError | null {
  const failed = [...tracker.runs.values()].filter((r) => r.state === "failed");
  if (failed.length === 0) return null;
  return new UserError(`${failed.length} of ${tracker.runs.size} runs failed:\n${failed.map((r) => `  ${r.name}: ${r.error?.split("\n")[0]}`).join("\n")}`);
}
