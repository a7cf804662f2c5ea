import type { Command } from "commander";
import { initEngine } from "../../engine/jax.js";
import { loadConfig } from "../../config/load.js";
import { PretrainConfigSchema } from "../../pretrain/config.js";
import { pretrain } from "../../pretrain/pretrain.js";
import { collect } from "../options.js";
import { progressBar } from "../progress.js";

export function registerPretrain(program: Command): void {
  program
    .command("pretrain")
    .description("train a flow-matching velocity model (rectified flow, EMA) on MNIST digits or 2-D toy data")
    .option("-c, --config <file>", "YAML/JSON config (see configs/pretrain/)")
    .option("--set <key=value>", "override a config field, e.g. --set train.steps=500 (repeatable)", collect, [])
    .option("--resume [checkpoint-dir]", "continue from the newest valid checkpoint in <checkpoint-dir> (as `train --resume <run-dir>`); a bare --resume (deprecated) uses checkpoint.dir")
    .action(async (opts: { config?: string; set: string[]; resume?: boolean | string }) => {
      const set = [...opts.set];
      if (typeof opts.resume === "string") set.push(`checkpoint.dir=${JSON.stringify(opts.resume)}`);
      else if (opts.resume) process.stderr.write("note: a bare --resume is deprecated; name the directory as in train: --resume <checkpoint-dir>\n");
      const config = loadConfig(PretrainConfigSchema, opts.config, set);
      await initEngine();
      const bar = progressBar("pretrain", config.train.steps, "| loss {loss}");
      const result = await pretrain(config, {
        resume: Boolean(opts.resume),
        onProgress: ({ step, loss }) => bar.update(step, { loss: loss.toFixed(4) }),
        log: (line) => process.stderr.write(line + "\n"),
      });
      bar.stop();
      console.log(`wrote ${result.out} (${result.steps} steps, final loss ${result.finalLoss.toFixed(4)}, ${result.wallSeconds.toFixed(0)} s)`);
    });
}
