import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { initEngine } from "../../engine/jax.js";
import { encodeGridPng } from "../../diagnostics/image-grid.js";
import { loadPolicy } from "../../rl/policy.js";
import { generateSamples, classAccuracy } from "../../pretrain/evaluate.js";
import { DigitReader, DEFAULT_DIGIT_CLASSIFIER } from "../../rewards/digit-ocr.js";
import { DEFAULT_BASE_MODEL, DEFAULT_SAMPLE_STEPS } from "../defaults.js";
import { nonNegativeInt, positiveInt, positiveNumber } from "../options.js";
import { progressBar } from "../progress.js";
import { checkWritableFile, writeOrExplain } from "../paths.js";

interface SampleOptions {
  model: string;
  prompts: string;
  perPrompt: number;
  steps: number;
  shift: number;
  guidance: number;
  seed: number;
  out: string;
  classifier?: string;
  judge?: boolean;
  /** Samples per prompt shown in the PNG (default: all). */
  grid?: number;
}

export function addSamplingOptions(command: Command): Command {
  return command
    .option("-m, --model <file>", "velocity-model weights (safetensors), a run directory (its final EMA policy), <run>@<epoch> or a checkpoint file", DEFAULT_BASE_MODEL)
    .option("-p, --prompts <list>", "comma-separated prompts, one grid row each", "0,1,2,3,4,5,6,7,8,9")
    .option("-n, --per-prompt <n>", "samples per prompt", positiveInt("--per-prompt"), 10)
    .option("--steps <n>", "ODE Euler steps on the shifted schedule", positiveInt("--steps"), DEFAULT_SAMPLE_STEPS)
    .option("--shift <x>", "schedule shift (E1)", positiveNumber("--shift"), 3)
    .option("--guidance <w>", "classifier-free guidance scale (1 = none)", positiveNumber("--guidance"), 1)
    .option("--seed <n>", "noise seed", nonNegativeInt("--seed"), 0);
}

async function runSample(opts: SampleOptions): Promise<{ out: string; accuracy?: number }> {
  checkWritableFile(opts.out, "--out");
  await initEngine();
  const { model, params } = loadPolicy(opts.model);
  const prompts = opts.prompts.split(",").map((p) => p.trim());
  const bar = progressBar("sample", prompts.length * opts.perPrompt);
  const { images, prompts: expanded } = await generateSamples(
    model,
    params,
    { prompts, perPrompt: opts.perPrompt, steps: opts.steps, shift: opts.shift, guidance: opts.guidance, seed: opts.seed },
    (done) => bar.update(done),
  );
  bar.stop();
  const cols = Math.min(opts.grid ?? opts.perPrompt, opts.perPrompt);
  const per = model.config.sampleShape.reduce((a, b) => a * b, 1);
  const shown = new Float32Array(prompts.length * cols * per);
  prompts.forEach((_, row) => shown.set(images.subarray(row * opts.perPrompt * per, (row * opts.perPrompt + cols) * per), row * cols * per));
  writeOrExplain(opts.out, "--out", () => writeFileSync(opts.out, encodeGridPng(shown, { cols, shape: model.config.sampleShape })));
  console.log(`wrote ${opts.out} (${prompts.length} rows × ${cols} of ${opts.perPrompt} samples per prompt, ${opts.steps} ODE steps, guidance ${opts.guidance})`);
  if (!opts.judge) return { out: opts.out };
  const reader = DigitReader.fromFile(opts.classifier ?? DEFAULT_DIGIT_CLASSIFIER);
  const result = await classAccuracy(reader, images, model.config.sampleShape, expanded);
  reader.dispose();
  console.log(`digit classifier reads ${(100 * result.accuracy).toFixed(1)}% of ${result.count} samples as the prompted digit`);
  console.log("  " + result.perPrompt.map(({ prompt, accuracy }) => `${prompt}: ${(100 * accuracy).toFixed(0)}%`).join("  "));
  return { out: opts.out, accuracy: result.accuracy };
}

export function registerSample(program: Command): void {
  addSamplingOptions(program.command("sample"))
    .description("sample a PNG grid (one row per prompt) from a velocity model with the ODE sampler")
    .option("-o, --out <file>", "PNG file to write", "runs/samples.png")
    .option("--judge", "also report how many samples the digit classifier reads as the prompted digit")
    .option("--grid <n>", "samples per prompt shown in the PNG (default: all)", positiveInt("--grid"))
    .option("--classifier <file>", "digit classifier weights for --judge", DEFAULT_DIGIT_CLASSIFIER)
    .action(async (opts: SampleOptions) => {
      await runSample(opts);
    });
}
