/**
 * Soak: a long run of a tiny configuration (2-D toy policy, GRPO-Guard on Flow-SDE) printing
 * resident memory per epoch, to catch jax-js reference-count leaks in the training loop.
 *   npm run soak -- [epochs=200] [evalEvery=10]
 * Prints one JSON line per epoch: {"epoch", "rss_mib", "heap_mib"} and a summary line.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../src/engine/jax.js";
import { pretrainToyBase } from "../src/pretrain/toy-base.js";
import { liveBuffers, trackBuffers } from "../src/engine/memory.js";
import { TrainConfigSchema } from "../src/config/train.js";
import { loadVelocityModel } from "../src/models/io.js";
import { toyModeReward } from "../src/rewards/toy.js";
import { runTrainingJob } from "../src/rl/run.js";

export interface SoakResult {
  rss: number[];
  /** Live wasm buffers after each epoch (empty when the engine cannot be tracked). */
  buffers: number[];
}

export async function soak(epochs: number, evalEvery: number, print: (line: string) => void = console.log): Promise<SoakResult> {
  await initEngine();
  const tracking = await trackBuffers();
  const dir = mkdtempSync(join(tmpdir(), "grpo-guard-soak-"));
  const baseWeights = await pretrainToyBase(dir, 50);
  const config = TrainConfigSchema.parse({
    name: "soak",
    model: { weights: baseWeights },
    prompts: { pool: ["", "0", "1"], perEpoch: 4 },
    groupSize: 8,
    rewards: [{ name: "toy-mode" }],
    sampling: { steps: 8, window: { mode: "random", candidates: [2, 4, 8] } },
    train: { epochs, minibatch: 8, lr: 1e-3 },
    eval: { every: evalEvery, steps: 8, perPrompt: 8 },
    checkpoint: { every: 10, keep: 2 },
    output: { dir },
  });
  const { model, params } = loadVelocityModel(baseWeights);
  const rss: number[] = [];
  const buffers: number[] = [];
  await runTrainingJob(config, model, params, [{ reward: toyModeReward(), weight: 1 }], {
    hooks: {
      onEpoch(record) {
        const mem = process.memoryUsage();
        const live = tracking ? liveBuffers() : null;
        rss.push(mem.rss / 2 ** 20);
        if (live) buffers.push(live.count);
        print(JSON.stringify({ epoch: record.epoch + 1, rss_mib: +(mem.rss / 2 ** 20).toFixed(1), heap_mib: +(mem.heapUsed / 2 ** 20).toFixed(1), live_buffers: live?.count, live_kib: live ? +(live.bytes / 1024).toFixed(1) : undefined }));
      },
    },
  });
  return { rss, buffers };
}

if (process.argv[1]?.endsWith("soak.js")) {
  const epochs = Number(process.argv[2] ?? 200);
  const evalEvery = Number(process.argv[3] ?? 10);
  const { rss, buffers } = await soak(epochs, evalEvery);
  const warm = Math.min(rss.length - 1, Math.floor(rss.length / 4));
  console.log(JSON.stringify({ summary: true, epochs, rss_after_warmup_mib: +rss[warm].toFixed(1), rss_end_mib: +rss.at(-1)!.toFixed(1), growth_mib: +(rss.at(-1)! - rss[warm]).toFixed(1), live_buffers_after_warmup: buffers[warm], live_buffers_end: buffers.at(-1) }));
  process.exit(0);
}
