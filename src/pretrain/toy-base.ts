/**
 * A small 2-D base policy: `mlp-2d` pretrained on the 8-mode mixture, with label dropout so
 * that the empty prompt generates the whole mixture. Used by the RL tests and the soak.
 */
import { join } from "node:path";
import { PretrainConfigSchema } from "./config.js";
import { pretrain } from "./pretrain.js";

/** Pretrain for `steps` steps into `dir`; returns the weight file's path. */
export async function pretrainToyBase(dir: string, steps: number): Promise<string> {
  const config = PretrainConfigSchema.parse({
    model: "mlp-2d",
    data: { dataset: "toy" },
    train: { steps, batchSize: 256, lr: 3e-3, warmupSteps: Math.min(20, steps), emaDecay: 0.99, labelDropout: 0.3 },
    out: join(dir, "toy-base.safetensors"),
    checkpoint: { dir: join(dir, "pretrain-toy"), every: steps },
  });
  return (await pretrain(config, { log: () => {} })).out;
}
