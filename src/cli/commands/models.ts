import type { Command } from "commander";
import { MODEL_PRESETS } from "../../models/registry.js";
import { CLASSIFIER_PRESETS } from "../../models/classifier.js";

export function registerModels(program: Command): void {
  program
    .command("models")
    .description("list the model and classifier presets")
    .action(() => {
      console.log("velocity models:");
      for (const [name, config] of Object.entries(MODEL_PRESETS)) {
        const { kind, sampleShape, ...rest } = config;
        console.log(`  ${name.padEnd(10)} ${kind} [${sampleShape}] ${JSON.stringify(rest)}`);
      }
      console.log("classifiers:");
      for (const [name, config] of Object.entries(CLASSIFIER_PRESETS)) console.log(`  ${name.padEnd(10)} ${JSON.stringify(config)}`);
    });
}
