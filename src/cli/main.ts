/**
 * The `grpo-guard` command line. Every command validates its input and reports problems as
 * one clear line (file/flag/key and what was expected) with a non-zero exit code.
 */
import { readFileSync } from "node:fs";
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
import { registerRate } from "./commands/rate.js";
import { registerExport } from "./commands/export.js";
import { registerSweep } from "./commands/sweep.js";
import { registerWorker } from "./commands/worker.js";
import { registerSummarize } from "./commands/summarize.js";

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return manifest.version;
}

/** A system error from a file operation (EACCES, ENOSPC, EROFS…) that no command turned into a UserError. */
function fileSystemError(err: unknown): string | null {
  const e = err as NodeJS.ErrnoException & { dest?: string };
  if (!(err instanceof Error) || typeof e.code !== "string" || typeof e.syscall !== "string") return null;
  const where = e.path ? `${e.path}${e.dest ? ` → ${e.dest}` : ""}` : e.syscall;
  return `${where}: ${e.syscall} failed (${e.code}: ${e.message.replace(/^[A-Z]+: /, "").replace(/, \w+ .*$/, "")})`;
}

const program = new Command();
program
  .name("grpo-guard")
  .description("Online RL fine-tuning of flow-matching image generators: Flow-GRPO, DanceGRPO and GRPO-Guard")
  .version(packageVersion(), "-V, --version", "print the grpo-guard version")
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
registerRate(program);
registerExport(program);
registerSweep(program);
registerWorker(program);
registerSummarize(program);

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
    const fsMessage = fileSystemError(err);
    if (fsMessage) {
      process.stderr.write(`grpo-guard: ${fsMessage}\n`);
      return 1;
    }
    process.stderr.write(`grpo-guard: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

// jax-js keeps worker threads alive, so exit explicitly once the command is done.
process.exit(await main());
