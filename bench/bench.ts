/**
 * Benchmark B1 (shared/spec/benchmarks.md): the canonical GRPO epoch through the project's
 * real trainer — 8 prompts × group 8 = 64 trajectories of dit-s, 10 Flow-SDE steps (η 0.7,
 * shift 3) with log-probs, then one inner epoch over all 10 steps, minibatch 32, clip 1e-4,
 * Adam lr 1e-4 — timed against the PyTorch reference on the same machine.
 *
 *   npm run bench [-- --repeats 3] [--all] [--methods] [--tiny] [--no-reference]
 *
 * --all: every algorithm × dynamics, and (as --methods) every method of E13–E18 with its example
 * config's settings on the same canonical epoch, beside Flow-GRPO's epoch time.
 *
 * Prints one JSON line. Medians of `repeats` timed epochs after one warm-up epoch (jit
 * compilation); the reference runs `repeats` times in the same invocation.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { initEngine, random } from "../src/engine/jax.js";
import { liveBuffers, trackBuffers } from "../src/engine/memory.js";
import { countParams } from "../src/engine/tree.js";
import { TrainConfigSchema } from "../src/config/train.js";
import { createModel, presetConfig } from "../src/models/registry.js";
import type { DitConfig } from "../src/models/dit.js";
import type { Reward } from "../src/rewards/reward.js";
import { GrpoTrainer } from "../src/rl/trainer.js";

export const REFERENCE_SCRIPT = fileURLToPath(new URL("../../../shared/reference/torch_grpo_epoch.py", import.meta.url));
const REFERENCE_PARAMS = 1_075_344;

/** The reference's stand-in reward: −mean|x| per image. */
const negAbs: Reward = {
  name: "neg-abs",
  async score({ images, prompts }) {
    const per = images.length / prompts.length;
    return Float32Array.from(prompts, (_, i) => {
      let s = 0;
      for (let j = 0; j < per; j++) s += Math.abs(images[i * per + j]);
      return -s / per;
    });
  },
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Useful forward FLOPs of one dit-s evaluation of one image (49 real tokens; matmuls only). */
export function ditForwardFlops(c: DitConfig): number {
  const [ch, h, w] = c.sampleShape;
  const T = (h / c.patch) * (w / c.patch);
  const P = c.patch * c.patch * ch;
  const D = c.width;
  const perBlock = 2 * T * D * D * 4 + 2 * T * D * D * c.mlpRatio * 2 + 4 * T * T * D + 2 * D * D * 4;
  return 2 * T * P * D + 2 * c.timeDim * D + c.depth * perBlock + 2 * T * D * P;
}

interface EpochTiming {
  sample_s: number;
  train_s: number;
  epoch_s: number;
}

/** The settings each method's example config (configs/<method>/digits.yaml) adds to Flow-GRPO. */
export const METHOD_SETTINGS: Record<string, Record<string, unknown>> = {
  "flow-grpo": {},
  "grpo-guard": { algorithm: "grpo-guard" },
  kl: { train: { kl: { beta: 0.04 } } },
  "norm-guard": { train: { normGuard: { lambda: 1 } } },
  "flow-dppo": { algorithm: "flow-dppo", advantages: { std: "batch" } },
  "pref-grpo": { advantages: { reward: "win-rate" } },
  mixgrpo: { sampling: { window: { mode: "sliding", size: 2, stride: 1, every: "auto", limit: 8 } } },
  tempflow: { sampling: { window: { mode: "branch", firstSteps: 6 }, sharedNoise: true }, train: { stepWeights: "tempflow" } },
};

async function timeEpochs(preset: string, algorithm: "flow-grpo" | "grpo-guard", dynamics: "flow-sde" | "dance-sde" | "cps", repeats: number, scale: { prompts: number; group: number; steps: number; minibatch: number }, method: Record<string, unknown> = {}) {
  const canonical = {
    name: "bench",
    algorithm,
    dynamics,
    sampling: { steps: scale.steps, shift: 3, eta: 0.7 },
    prompts: { perEpoch: scale.prompts },
    groupSize: scale.group,
    train: { epochs: repeats + 1, minibatch: scale.minibatch, lr: 1e-4, clipLow: 1e-4, clipHigh: 1e-4 },
    eval: { every: 0 },
  };
  const merge = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries([...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => {
      const [x, y] = [a[k], b[k]];
      const objects = typeof x === "object" && typeof y === "object" && x && y && !Array.isArray(x);
      return [k, objects ? merge(x as Record<string, unknown>, y as Record<string, unknown>) : y === undefined ? x : y];
    }));
  const config = TrainConfigSchema.parse(merge(canonical, method));
  const model = createModel(presetConfig(preset));
  const params = model.init(random.key(0));
  const paramCount = countParams(params);
  const trainer = new GrpoTrainer(config, model, params, [{ reward: negAbs, weight: 1 }], { epoch: () => {} });
  const timings: EpochTiming[] = [];
  const buffers: number[] = [];
  for (let e = 0; e <= repeats; e++) {
    const record = await trainer.runEpoch();
    const { sample, reward, train } = record.seconds;
    if (e > 0) timings.push({ sample_s: sample, train_s: train, epoch_s: sample + reward + train });
    buffers.push(liveBuffers()?.count ?? -1);
  }
  const trainedSteps = trainer.schedule.steps; // every step is trained in B1 (not by MixGRPO/TempFlow)
  trainer.dispose();
  return {
    paramCount,
    trainedSteps,
    sample_s: median(timings.map((t) => t.sample_s)),
    train_s: median(timings.map((t) => t.train_s)),
    epoch_s: median(timings.map((t) => t.epoch_s)),
    buffers,
  };
}

function runReference(repeats: number): { ok: true; runs: Record<string, number>[] } | { ok: false; note: string } {
  if (!existsSync(REFERENCE_SCRIPT)) return { ok: false, note: `reference script not found at ${REFERENCE_SCRIPT}` };
  if (!existsSync("/usr/bin/python3")) return { ok: false, note: "/usr/bin/python3 not found" };
  const probe = spawnSync("/usr/bin/python3", ["-c", "import torch"], { encoding: "utf8" });
  if (probe.status !== 0) return { ok: false, note: "python3-torch is not installed (apt-get install -y python3-torch libopenblas0-pthread)" };
  const runs: Record<string, number>[] = [];
  for (let r = 0; r < repeats; r++) {
    const out = spawnSync("/usr/bin/python3", [REFERENCE_SCRIPT, "2"], { encoding: "utf8" });
    if (out.status !== 0) return { ok: false, note: `reference failed: ${out.stderr.slice(-300)}` };
    runs.push(JSON.parse(out.stdout.trim().split("\n").at(-1)!) as Record<string, number>);
  }
  return { ok: true, runs };
}

export async function bench(argv: string[]): Promise<Record<string, unknown>> {
  const flag = (name: string) => argv.includes(name);
  const value = (name: string, fallback: number) => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : fallback;
  };
  const repeats = value("--repeats", 3);
  const tiny = flag("--tiny");
  const preset = tiny ? "dit-tiny" : "dit-s";
  const scale = tiny ? { prompts: 2, group: 4, steps: 3, minibatch: 4 } : { prompts: 8, group: 8, steps: 10, minibatch: 32 };
  await initEngine();
  await trackBuffers();
  const main = await timeEpochs(preset, "flow-grpo", "flow-sde", repeats, scale);
  const images = scale.prompts * scale.group;
  const flops = ditForwardFlops(presetConfig(preset) as DitConfig);
  const sampleFlops = images * scale.steps * flops;
  const trainFlops = 3 * images * main.trainedSteps * flops; // forward + backward ≈ 3 forwards
  const result: Record<string, unknown> = {
    impl: "grpo-guard (jax-js wasm)",
    model: preset,
    params: main.paramCount,
    reference_params: REFERENCE_PARAMS,
    threads: Number(process.env.GRPO_GUARD_THREADS ?? Math.min(8, cpus().length)),
    relaxed_simd: process.env.GRPO_GUARD_RELAXED_SIMD === "1",
    sample_s: +main.sample_s.toFixed(3),
    train_s: +main.train_s.toFixed(3),
    epoch_s: +main.epoch_s.toFixed(3),
    images_per_s: +(images / main.epoch_s).toFixed(2),
    sample_gflops: +(sampleFlops / main.sample_s / 1e9).toFixed(1),
    train_gflops: +(trainFlops / main.train_s / 1e9).toFixed(1),
    peak_rss_mib: +(process.resourceUsage().maxRSS / 1024).toFixed(0),
    live_buffers_per_epoch: main.buffers,
    repeats,
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown",
  };
  if (flag("--all")) {
    const variants: Record<string, number> = {};
    for (const algorithm of ["flow-grpo", "grpo-guard"] as const) {
      for (const dynamics of ["flow-sde", "dance-sde", "cps"] as const) {
        variants[`${algorithm}/${dynamics}`] = +(await timeEpochs(preset, algorithm, dynamics, repeats, scale)).epoch_s.toFixed(3);
      }
    }
    result.variants_epoch_s = variants;
    result.guard_overhead_pct = +(100 * (variants["grpo-guard/flow-sde"] / variants["flow-grpo/flow-sde"] - 1)).toFixed(1);
  }
  if (flag("--all") || flag("--methods")) {
    // Interleaved repeats (method order rotates each round) so that load changes on a shared
    // machine spread over all methods; medians per method.
    const names = Object.keys(METHOD_SETTINGS);
    const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let round = 0; round < repeats; round++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(k + round) % names.length];
        times[name].push((await timeEpochs(preset, "flow-grpo", "flow-sde", 1, scale, METHOD_SETTINGS[name])).epoch_s);
      }
    }
    const epoch = Object.fromEntries(names.map((n) => [n, +median(times[n]).toFixed(3)]));
    result.methods_epoch_s = epoch;
    result.methods_vs_flow_grpo_pct = Object.fromEntries(names.map((n) => [n, +(100 * (epoch[n] / epoch["flow-grpo"] - 1)).toFixed(1)]));
  }
  if (flag("--no-reference") || tiny) {
    result.reference = "skipped";
  } else {
    const ref = runReference(repeats);
    if (!ref.ok) {
      result.reference = ref.note;
    } else {
      const torchEpoch = median(ref.runs.map((r) => r.epoch_s));
      const matmul = median(ref.runs.map((r) => r.matmul_gflops));
      result.reference = {
        impl: "torch",
        params: ref.runs[0].params,
        sample_s: median(ref.runs.map((r) => r.sample_s)),
        train_s: median(ref.runs.map((r) => r.train_s)),
        epoch_s: torchEpoch,
        matmul_gflops: matmul,
      };
      if (matmul < 50) result.reference_ratio_note = `torch matmul runs at ${matmul} GFLOP/s (< 50): install libopenblas0-pthread; no ratio reported`;
      else result.reference_ratio = +(main.epoch_s / torchEpoch).toFixed(3);
    }
  }
  return result;
}

if (process.argv[1]?.endsWith("bench.js")) {
  console.log(JSON.stringify(await bench(process.argv.slice(2))));
  process.exit(0);
}
