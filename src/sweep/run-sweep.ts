/**
 * One entry point for every sweep (a sweep file, a preset, `compare`): plan → local pool or
 * queue → status. Idempotent: finished runs are skipped, partial ones resume.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../engine/errors.js";
import { COMPARE_PRESETS, comparisonSweep } from "../experiments/compare.js";
import { runSweepLocally } from "./local.js";
import { submitSweep } from "./queue.js";
import { summarizeRunDir, writeSummary } from "../study/summary.js";
import { expandSweep, loadSweepFile, type Sweep } from "./spec.js";
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

/** Sweep files shipped with the package: `--preset NAME` is `sweeps/NAME.yaml` when NAME is not built in. */
export const PRESET_DIR = join(PACKAGE_ROOT, "sweeps");

const PRESET_NAME = /^[A-Za-z0-9._-]+$/;

/** The preset names of the package's sweep files (sorted). */
export function filePresets(dir = PRESET_DIR): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => f.slice(0, -".yaml".length))
      .sort();
  } catch {
    return [];
  }
}

/** The sweep file of a preset name, or null for a built-in one; a UserError when it is neither. */
export function presetFile(name: string, dir = PRESET_DIR): string | null {
  if (COMPARE_PRESETS[name]) return null;
  const file = join(dir, `${name}.yaml`);
  if (!PRESET_NAME.test(name) || !existsSync(file)) {
    throw new UserError(`unknown sweep preset "${name}" (known: ${SWEEP_PRESETS.join(", ")}) and no sweep file sweeps/${name}.yaml in the package (it has: ${filePresets(dir).join(", ") || "none"})`);
  }
  return file;
}

/** Where a preset's runs go by default: runs/compare for the built-in comparison, runs/b3 for the B3 study's files, else runs/sweeps. */
export function defaultPresetRuns(name: string): string {
  if (COMPARE_PRESETS[name]) return "runs/compare";
  return name.startsWith("b3-") ? "runs/b3" : "runs/sweeps";
}

/** Expand a preset: a built-in comparison (base config relative to the package root) or the package's sweeps/NAME.yaml. */
export function presetSweep(name: string, runsDir: string, options: { seeds?: number[]; epochs?: number; extra?: readonly string[] } = {}): Sweep {
  const file = presetFile(name);
  if (file) return loadSweepFile(file, runsDir, { seeds: options.seeds, extra: [...(options.epochs ? [`train.epochs=${options.epochs}`] : []), ...(options.extra ?? [])] });
  return expandSweep(comparisonSweep(name, COMPARE_PRESETS[name], options), { baseDir: PACKAGE_ROOT, runsDir, source: `preset ${name}`, extra: options.extra });
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
  /** Write each run's summary (src/study/summary.ts) into this directory as it is done; null/undefined for none. */
  summariesDir?: string | null;
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
  const summariesDir = options.summariesDir;
  if (summariesDir) {
    const planned = new Map(sweep.runs.map((run) => [run.id, run]));
    tracker.onRunDone((status) => {
      const run = planned.get(status.id)!;
      try {
        const path = writeSummary(summariesDir, summarizeRunDir(join(options.runsDir, run.name), { sweep: sweep.name, label: run.label, method: run.method, overrides: run.overrides }));
        log(`  ${run.name}: summary ${path}`);
      } catch (err) {
        log(`  ${run.name}: summary NOT written (${(err as Error).message.split("\n")[0]}); write it later with grpo-guard summarize`);
      }
    });
  }
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
