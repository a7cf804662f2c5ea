/**
 * A run directory's layout and the records it keeps: where config.yaml, metrics.jsonl, images,
 * checkpoints and the final policy live; how a config's file paths are stored (absolute) and
 * read back; the metrics.jsonl form of an epoch and an evaluation. Kept apart from the training
 * loop (run.ts) so that readers of runs — checkpoint evaluations, policies, reports — need not
 * import the trainer.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { UserError } from "../engine/errors.js";
import { TrainConfigSchema, type TrainConfig } from "../config/train.js";
import { validateConfig } from "../config/load.js";
import type { EpochRecord, EvalRecord } from "../diagnostics/records.js";

export interface RunPaths {
  dir: string;
  config: string;
  metrics: string;
  images: string;
  checkpoints: string;
  policy: string;
  bestGold: string;
}

/** The checkpoint tensor holding the gold panel's drift reference (the base policy's evaluation images). */
export const DRIFT_REFERENCE_TENSOR = "goldReference";

export function runPaths(dir: string): RunPaths {
  const root = resolve(dir);
  return {
    dir: root,
    config: join(root, "config.yaml"),
    metrics: join(root, "metrics.jsonl"),
    images: join(root, "images"),
    checkpoints: join(root, "checkpoints"),
    policy: join(root, "policy-ema.safetensors"),
    bestGold: join(root, "policy-best-gold.safetensors"),
  };
}

/**
 * The file paths of a training config: `model.weights`, `gold.judge`, `gold.features`,
 * `gardo.features` and a `digit-ocr` reward's `options.weights` (in `rewards` and
 * `gardo.aux`), each resolved against `base` when relative. A run's
 * config.yaml stores them absolute (resolved against the directory `train` ran in); a
 * relative path found there — written by hand — is resolved against the run directory.
 */
export function resolveConfigPaths(config: TrainConfig, base: string | ((path: string, field: string) => string)): TrainConfig {
  const resolvePath = typeof base === "string" ? (path: string) => resolve(base, path) : base;
  const abs = (path: string | null | undefined, field: string) => (typeof path === "string" && path !== "" && !isAbsolute(path) ? resolvePath(path, field) : path);
  return {
    ...config,
    model: { ...config.model, weights: abs(config.model.weights, "model.weights") },
    gold: { ...config.gold, judge: abs(config.gold.judge, "gold.judge") ?? undefined, features: abs(config.gold.features, "gold.features") ?? undefined },
    rewards: config.rewards.map((r, k) => (typeof r.options.weights === "string" ? { ...r, options: { ...r.options, weights: abs(r.options.weights, `rewards.${k}.options.weights`) } } : r)),
    gardo: {
      ...config.gardo,
      features: abs(config.gardo.features, "gardo.features") ?? null,
      aux: config.gardo.aux.map((r, k) => (typeof r.options.weights === "string" ? { ...r, options: { ...r.options, weights: abs(r.options.weights, `gardo.aux.${k}.options.weights`) } } : r)),
    },
  };
}

/**
 * The config of an existing run directory, its paths resolved (see resolveConfigPaths). Runs
 * written before paths were stored absolute have paths relative to the directory `train` ran
 * in: when such a path exists only there, it is used with a warning through `warn`.
 */
export function readRunConfig(dir: string, warn: (line: string) => void = (line) => process.stderr.write(line + "\n")): TrainConfig {
  const { config, dir: root } = runPaths(dir);
  if (!existsSync(config)) throw new UserError(`${dir}: not a run directory (no config.yaml)`);
  let data: unknown;
  try {
    data = parseYaml(readFileSync(config, "utf8"));
  } catch (err) {
    throw new UserError(`${config}: not valid YAML (${(err as Error).message.split("\n")[0]})`);
  }
  return resolveConfigPaths(validateConfig(TrainConfigSchema, data, config), (path, field) => {
    const inRun = resolve(root, path);
    const inCwd = resolve(path);
    if (existsSync(inRun) || !existsSync(inCwd)) return inRun;
    warn(`warning: ${config}: ${field} "${path}" is relative and not in the run directory; using ${inCwd} (relative to the working directory, as runs written before paths were stored absolute) — write it absolute to resume from anywhere`);
    return inCwd;
  });
}

export function epochMetrics(record: EpochRecord): Record<string, unknown> {
  return { type: "epoch", ...record };
}

export function evalMetrics(record: EvalRecord): Record<string, unknown> {
  return { type: "eval", epoch: record.epoch, rewards: record.rewards, proxy: record.proxy, gold: record.gold, velocityNorm: record.velocityNorm, prompts: record.prompts };
}
