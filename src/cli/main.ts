/**
 * The `grpo-guard` command line. Every command validates its input and reports problems as
 * one clear line (file/flag/key and what was expected) with a non-zero exit code.
 */
import { Command, CommanderError } from "commander";
import { UserError } from "../engine/errors.js";
import { registerPretrain } from "./commands/pretrain.js";
import { registerTrainClassifier } from "./commands/train-classifier.js";
import { registerSample } from "./commands/sample.js";
import { registerStart } from "./commands/start.js";
import { registerModels } from "./commands/models.js";
import { registerTrain } from "./commands/train.js";
import { registerRewardServer } from "./commands/reward-server.js";
import { registerDashboard } from "./commands/dashboard.js";
import { registerReport } from "./commands/report.js";
import { registerCompare } from "./commands/compare.js";
import { registerSweep } from "./commands/sweep.js";
import { registerWorker } from "./commands/worker.js";

const program = new Command();
program
  .name("grpo-guard")
  .description("Online RL fine-tuning of flow-matching image generators: Flow-GRPO, DanceGRPO and GRPO-Guard")
  .showHelpAfterError()
  .exitOverride();

registerPretrain(program);
registerTrainClassifier(program);
registerSample(program);
registerStart(program);
registerModels(program);
registerTrain(program);
registerRewardServer(program);
registerDashboard(program);
registerReport(program);
registerCompare(program);
registerSweep(program);
registerWorker(program);

async function main(): Promise<number> {
  try {
    await program.parseAsync(process.argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof UserError) {
      process.stderr.write(`grpo-guard: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`grpo-guard: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

// jax-js keeps worker threads alive, so exit explicitly once the command is done.
process.exit(await main());
