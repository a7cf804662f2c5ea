import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { initEngine, random } from "../../engine/jax.js";
import { UserError } from "../../engine/errors.js";
import type { ParamTree } from "../../engine/tree.js";
import { loadConfig } from "../../config/load.js";
import { TrainConfigSchema, type TrainConfig } from "../../config/train.js";
import { readMetrics } from "../../diagnostics/metrics.js";
import { loadVelocityModel } from "../../models/io.js";
import type { VelocityModel } from "../../models/model.js";
import { createModel, presetConfig } from "../../models/registry.js";
import { createReward } from "../../rewards/registry.js";
import { formatGoldLine, goldPanelFor } from "../../rewards/gold.js";
import { CHECKPOINT_EVALS_FILE, readValidatedMetrics } from "../../diagnostics/metrics-schema.js";
import { defaultExperimentTable } from "../../experiments/readme-table.js";
import { runTrainingJob, type RunOutcome } from "../../rl/run.js";
import { readRunConfig } from "../../rl/run-dir.js";
import type { EpochRecord } from "../../diagnostics/records.js";
import { DEFAULT_BASE_MODEL } from "../defaults.js";
import { collect } from "../options.js";
import { progressBar } from "../progress.js";

function loadPolicy(config: TrainConfig): { model: VelocityModel; params: ParamTree; source: string } {
  if (config.model.preset && !config.model.weights) {
    const model = createModel(presetConfig(config.model.preset));
    return { model, params: model.init(random.key(config.seed)), source: `preset ${config.model.preset} (random init)` };
  }
  const path = config.model.weights ?? DEFAULT_BASE_MODEL;
  const { model, params } = loadVelocityModel(path);
  return { model, params, source: path };
}

export function formatEpochLine(r: EpochRecord): string {
  const rewards = r.rewards.map((x) => `${x.name} ${x.mean.toFixed(3)}`).join(" ");
  const logr = r.steps.map((s) => s.clippedLogRatio.mean);
  const mean = (f: (s: EpochRecord["steps"][number]) => number) => r.steps.reduce((a, s) => a + f(s), 0) / Math.max(1, r.steps.length);
  const secs = r.seconds.sample + r.seconds.reward + r.seconds.train;
  return (
    `epoch ${String(r.epoch + 1).padStart(3)} | ${rewards} | loss ${r.loss.toExponential(2)} | grad ${r.gradNorm.toFixed(3)} | ` +
    `log-ratio step means [${Math.min(...logr).toExponential(1)}, ${Math.max(...logr).toExponential(1)}] | ` +
    `clip A>0 ${(100 * mean((s) => s.clipPositive)).toFixed(1)}% A<0 ${(100 * mean((s) => s.clipNegative)).toFixed(1)}% | ` +
    `zero-std ${(100 * r.zeroStdFraction[0]).toFixed(0)}% | ${secs.toFixed(1)} s`
  );
}

/** Train (or resume) a run with a progress bar and one line per epoch. */
export async function runTraining(config: TrainConfig, options: { resume?: boolean; restart?: boolean; runDir?: string; echo?: (line: string) => void } = {}): Promise<RunOutcome> {
  const echo = options.echo ?? console.log;
  await initEngine();
  const { model, params, source } = loadPolicy(config);
  const rewards = config.rewards.map((r, k) => ({ reward: createReward(r.name, r.options, `rewards.${k}.options`), weight: r.weight }));
  const gold = await goldPanelFor(config.gold, model.config.sampleShape);
  echo(`${config.algorithm} on ${config.dynamics} | policy ${source} | rewards ${config.rewards.map((r) => `${r.name}×${r.weight}`).join(", ")} | run ${options.runDir ?? join(config.output.dir, config.name)}`);
  let stop = false;
  const onSignal = (signal: string) => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write(`\n${signal}: finishing the current epoch, then writing a checkpoint (press again to abort)\n`);
  };
  const sigint = () => onSignal("SIGINT");
  const sigterm = () => onSignal("SIGTERM");
  process.on("SIGINT", sigint);
  process.on("SIGTERM", sigterm);
  const bar = progressBar("train", config.train.epochs, "| {metric}");
  const interactive = process.stderr.isTTY;
  try {
    const outcome = await runTrainingJob(config, model, params, rewards, {
      resume: options.resume,
      restart: options.restart,
      runDir: options.runDir,
      gold,
      stopRequested: () => stop,
      hooks: {
        onEpoch(record) {
          bar.update(record.epoch + 1, { metric: record.rewards.map((x) => `${x.name} ${x.mean.toFixed(3)}`).join(" ") });
          if (interactive) process.stderr.write("\n");
          echo(formatEpochLine(record));
        },
        onEvaluation(record) {
          if (!record.gold) return;
          const g = record.gold;
          if (interactive) process.stderr.write("\n");
          echo(`eval @ epoch ${record.epoch} | proxy ${record.proxy.toFixed(4)} | ${formatGoldLine(g)} | drift ${g.drift.toFixed(3)}`);
        },
        onFault: (event) => process.stderr.write(`warning: epoch ${event.epoch + 1}: ${event.detail}\n`),
        onCheckpointEval(record, done, of) {
          echo(`checkpoint eval @ epoch ${record.epoch} (${done} of ${of}) | proxy ${record.proxy.toFixed(4)}${record.gold ? ` | ${formatGoldLine(record.gold)}` : ""}`);
        },
        log: (line) => process.stderr.write(line + "\n"),
      },
    });
    const evals = outcome.checkpointEvals;
    if (evals) {
      const left = evals.remaining.length ? `; stopped before epoch ${evals.remaining[0]} — --resume ${outcome.paths.dir} evaluates the other ${evals.remaining.length}` : "";
      echo(`checkpoint.evaluate: ${evals.evaluated.length} kept checkpoints evaluated (${CHECKPOINT_EVALS_FILE} in ${outcome.paths.checkpoints})${left}`);
    }
    return outcome;
  } finally {
    bar.stop();
    process.off("SIGINT", sigint);
    process.off("SIGTERM", sigterm);
    for (const r of rewards) r.reward.dispose?.();
    gold?.dispose();
  }
}

/** Reward before → after from the run's metrics (first and last evaluation). */
export function printSummary(outcome: RunOutcome, echo: (line: string) => void = console.log): void {
  const evals = readMetrics(outcome.paths.metrics).records.filter((r) => r.type === "eval") as unknown as {
    epoch: number;
    rewards: { name: string; mean: number }[];
    gold?: { gold: number; judgeAccuracy: number; frechetMean: number; diversity: number };
  }[];
  if (evals.length < 2) return;
  const [before, after] = [evals[0], evals[evals.length - 1]];
  echo(`\nreward of the EMA policy (ODE, fixed evaluation noise), epoch ${before.epoch} → ${after.epoch}`);
  before.rewards.forEach((r, k) => echo(`  ${r.name.padEnd(14)} ${r.mean.toFixed(4)} → ${after.rewards[k].mean.toFixed(4)}`));
  if (before.gold && after.gold) {
    echo(`\ngold panel per evaluation: value [95 % CI]; real digits at the same n beside it (docs/gold-panel.md)`);
    echo(defaultExperimentTable(readValidatedMetrics(outcome.paths.metrics).records));
  }
  if (outcome.alarmEpoch !== null) echo(`over-optimisation alarm fired at epoch ${outcome.alarmEpoch}`);
  const grid = (epoch: number) => join(outcome.paths.images, `eval-${String(epoch).padStart(4, "0")}.png`);
  if (existsSync(grid(after.epoch))) echo(`sample grids: ${grid(before.epoch)} (before) and ${grid(after.epoch)} (after)`);
  echo(`metrics: ${outcome.paths.metrics}`);
}

export function registerTrain(program: Command): void {
  program
    .command("train")
    .description("RL fine-tuning of a flow-matching model: Flow-GRPO, DanceGRPO or GRPO-Guard on any SDE dynamics")
    .option("-c, --config <file>", "YAML/JSON config (see configs/)")
    .option("--set <key=value>", "override a config field, e.g. --set train.epochs=5 (repeatable)", collect, [])
    .option("--resume <run-dir>", "continue the run in <run-dir> (wherever it lives now) from its last complete checkpoint")
    .option("--restart", "start the run over, discarding its metrics and checkpoints (with --resume: when it has no checkpoint; with --config: a run of the same name)")
    .action(async (opts: { config?: string; set: string[]; resume?: string; restart?: boolean }) => {
      let config: TrainConfig;
      if (opts.resume) {
        if (opts.config) throw new UserError("train: --resume uses the run's own config.yaml; drop --config");
        config = readRunConfig(opts.resume);
        if (opts.set.length) throw new UserError("train: --set cannot change a run being resumed (its config.yaml is the record of the run)");
      } else {
        if (!opts.config && opts.set.length === 0) throw new UserError("train: give --config FILE (see configs/) and/or --set overrides");
        config = loadConfig(TrainConfigSchema, opts.config, opts.set);
      }
      const outcome = await runTraining(config, { resume: Boolean(opts.resume), restart: opts.restart, runDir: opts.resume });
      if (!outcome.interrupted) printSummary(outcome);
    });
}
