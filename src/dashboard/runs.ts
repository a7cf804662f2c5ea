/**
 * Run directories as the dashboard and the report see them: which directories to show, and
 * a run's validated records, config summary and evaluation grids.
 */
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { UserError } from "../engine/errors.js";
import { readCheckpointEvals, readValidatedMetrics, type SkippedLine, type ValidMetricsRecord } from "../diagnostics/metrics-schema.js";
import { flattenSettings, type RunMeta } from "./series.js";

export const METRICS_FILE = "metrics.jsonl";
export const CONFIG_FILE = "config.yaml";
export const IMAGE_PATTERN = /^eval-(\d{4,})\.png$/;

function isRunDir(dir: string): boolean {
  return existsSync(join(dir, METRICS_FILE)) || existsSync(join(dir, CONFIG_FILE));
}

/** Check one run directory; every problem is a UserError naming it. Returns its absolute path. */
export function checkRunDir(dir: string): string {
  const abs = resolve(dir);
  let stats;
  try {
    stats = statSync(abs);
  } catch {
    throw new UserError(`${dir}: run directory not found`);
  }
  if (!stats.isDirectory()) throw new UserError(`${dir}: not a directory (expected a run directory holding ${METRICS_FILE})`);
  try {
    accessSync(abs, constants.R_OK | constants.X_OK);
  } catch {
    throw new UserError(`${dir}: run directory is not readable (permission denied)`);
  }
  if (!isRunDir(abs)) throw new UserError(`${dir}: not a run directory (no ${METRICS_FILE} or ${CONFIG_FILE})`);
  const metrics = join(abs, METRICS_FILE);
  if (existsSync(metrics)) {
    try {
      accessSync(metrics, constants.R_OK);
    } catch {
      throw new UserError(`${join(dir, METRICS_FILE)}: not readable (permission denied)`);
    }
  }
  return abs;
}

/** The run directories to show: the ones given, or every run directory directly under `root`. */
export function resolveRunDirs(dirs: readonly string[], root = "runs"): string[] {
  if (dirs.length > 0) return [...new Set(dirs.map(checkRunDir))];
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    throw new UserError(`${root}: no such directory; pass run directories as arguments`);
  }
  const found = entries
    .sort()
    .map((name) => join(root, name))
    .filter((path) => {
      try {
        return statSync(path).isDirectory() && isRunDir(path);
      } catch {
        return false;
      }
    });
  if (found.length === 0) throw new UserError(`${root}: holds no run directories (a run directory has ${METRICS_FILE} or ${CONFIG_FILE}); pass run directories as arguments`);
  return found.map(checkRunDir);
}

/** Display names: the directory name, numbered where two runs share one. */
export function runNames(dirs: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return dirs.map((dir) => {
    const name = basename(dir);
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    return n === 1 ? name : `${name} (${n})`;
  });
}

/** Algorithm, dynamics, clip range and the flattened config from config.yaml; empty where it is missing or unreadable. */
export function readRunMeta(dir: string): RunMeta {
  try {
    const config = parseYaml(readFileSync(join(dir, CONFIG_FILE), "utf8")) as Record<string, unknown> | null;
    if (!config || typeof config !== "object") return {};
    const train = (config.train ?? {}) as Record<string, unknown>;
    const meta: RunMeta = {};
    if (typeof config.algorithm === "string") meta.algorithm = config.algorithm;
    if (typeof config.dynamics === "string") meta.dynamics = config.dynamics;
    if (typeof train.clipLow === "number") meta.clipLow = train.clipLow;
    if (typeof train.clipHigh === "number") meta.clipHigh = train.clipHigh;
    meta.settings = flattenSettings(config);
    return meta;
  } catch {
    return {};
  }
}

/** Eval epochs with a grid image, ascending. */
export function listImages(dir: string): number[] {
  try {
    return readdirSync(join(dir, "images"))
      .map((name) => IMAGE_PATTERN.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

export interface LoadedRun {
  name: string;
  dir: string;
  meta: RunMeta;
  records: ValidMetricsRecord[];
  skipped: SkippedLine[];
  images: number[];
  /** `eval` records made later at the run's checkpoints (checkpoints/checkpoint-evals.jsonl), by epoch. */
  checkpointEvals?: ValidMetricsRecord[];
}

/** A run's validated metrics (none yet if metrics.jsonl does not exist), config summary and images. */
export function loadRun(dir: string, name = basename(dir)): LoadedRun {
  const metrics = join(dir, METRICS_FILE);
  let read = { records: [] as ValidMetricsRecord[], skipped: [] as SkippedLine[] };
  if (existsSync(metrics)) {
    try {
      read = readValidatedMetrics(metrics);
    } catch (err) {
      throw new UserError(`${metrics}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  return { name, dir, meta: readRunMeta(dir), records: read.records, skipped: read.skipped, images: listImages(dir), checkpointEvals: readCheckpointEvals(join(dir, "checkpoints")) };
}
