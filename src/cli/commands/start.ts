import type { Command } from "commander";
import { DEFAULT_BASE_MODEL, DEFAULT_SAMPLE_STEPS } from "../defaults.js";
import { DEFAULT_DIGIT_CLASSIFIER } from "../../rewards/digit-ocr.js";
import { runSample } from "./sample.js";

/**
 * `npm start`: the default experiment. Until the RL trainer lands this samples the shipped
 * base model (10 digits × 10) and reports the digit classifier's reading of the grid.
 */
export function registerStart(program: Command): void {
  program
    .command("start")
    .description("run the default experiment (today: sample the shipped base model and judge the grid)")
    .option("-o, --out <file>", "PNG grid to write", "runs/start/base-model-samples.png")
    .action(async (opts: { out: string }) => {
      const { out } = await runSample({
        model: DEFAULT_BASE_MODEL,
        prompts: "0,1,2,3,4,5,6,7,8,9",
        perPrompt: 10,
        steps: DEFAULT_SAMPLE_STEPS,
        shift: 3,
        guidance: 1,
        seed: 0,
        out: opts.out,
        judge: true,
        classifier: DEFAULT_DIGIT_CLASSIFIER,
      });
      console.log(`\nThe sample grid (one row per digit 0–9) is at ${out}`);
    });
}
