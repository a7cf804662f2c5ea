import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { loadConfig } from "../../config/load.js";
import { TrainConfigSchema } from "../../config/train.js";
import { collect } from "../options.js";
import { printSummary, runTraining } from "./train.js";

/** The embedded default experiment: GRPO-Guard on Flow-SDE fine-tuning the shipped digits model. */
export const DEFAULT_EXPERIMENT = fileURLToPath(new URL("../../../../configs/grpo-guard/digits.yaml", import.meta.url));

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}

export function registerStart(program: Command): void {
  program
    .command("start")
    .description("run the default experiment: GRPO-Guard fine-tuning of the shipped dit-s digits model against digit-ocr (configs/grpo-guard/digits.yaml)")
    .option("--set <key=value>", "override a field of the default config (repeatable)", collect, [])
    .action(async (opts: { set: string[] }) => {
      const config = loadConfig(TrainConfigSchema, DEFAULT_EXPERIMENT, [`name=grpo-guard-digits-${timestamp()}`, ...opts.set]);
      const outcome = await runTraining(config);
      if (outcome.interrupted) return;
      printSummary(outcome);
      console.log(`\nlive figures: grpo-guard dashboard ${outcome.paths.dir}`);
    });
}
