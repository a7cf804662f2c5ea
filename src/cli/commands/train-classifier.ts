import type { Command } from "commander";
import { initEngine } from "../../engine/jax.js";
import { loadConfig } from "../../config/load.js";
import { ClassifierTrainConfigSchema, trainClassifier } from "../../pretrain/classifier.js";
import { collect } from "../options.js";
import { progressBar } from "../progress.js";

export function registerTrainClassifier(program: Command): void {
  program
    .command("train-classifier")
    .description("train a digit classifier (the digit-ocr proxy reader, or the gold judge) and report its accuracy on the other split")
    .option("-c, --config <file>", "YAML/JSON config (see configs/classifier/)")
    .option("--set <key=value>", "override a config field (repeatable)", collect, [])
    .action(async (opts: { config?: string; set: string[] }) => {
      const config = loadConfig(ClassifierTrainConfigSchema, opts.config, opts.set);
      await initEngine();
      let bar: ReturnType<typeof progressBar> | null = null;
      const result = await trainClassifier(config, (done, total, loss) => {
        bar ??= progressBar("train-classifier", total, "| loss {loss}");
        bar.update(done, { loss: loss.toFixed(4) });
      });
      (bar as ReturnType<typeof progressBar> | null)?.stop();
      console.log(
        `wrote ${result.out}: accuracy ${(100 * result.trainAccuracy).toFixed(2)}% on ${config.split}, ` +
          `${(100 * result.evalAccuracy).toFixed(2)}% on ${result.evalSplit} (${result.wallSeconds.toFixed(0)} s)`,
      );
    });
}
