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
 *   flags: --no-ceiling (skip the wasm ceiling), --no-one-core (skip the one-thread run)
 *
 * Prints one JSON line. Medians of `repeats` timed epochs after one warm-up epoch (jit
 * compilation); the reference runs `repeats` times in the same invocation, each time every
 * split of torch × OpenBLAS threads, and the fastest split (by median) is the reference:
 * `reference_ratio` = our epoch / that split's. `wasm_ceiling_gflops` is the arithmetic peak of
 * a wasm SIMD kernel on this machine (bench/wasm-ceiling.ts); `ceiling_fraction` = useful
 * GFLOP/s ÷ that peak. `one_core` repeats the epoch with GRPO_GUARD_THREADS=1 against the
 * reference allowed one core.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { relaxedSimdRequested, requestedThreads } from "../src/engine/platform.js";
import { initEngine, random } from "../src/engine/jax.js";
import { liveBuffers, trackBuffers } from "../src/engine/memory.js";
import { countParams } from "../src/engine/tree.js";
import { TrainConfigSchema } from "../src/config/train.js";
import { createModel, presetConfig } from "../src/models/registry.js";
import type { DitConfig } from "../src/models/dit.js";
import type { Reward } from "../src/rewards/reward.js";
import { GrpoTrainer } from "../src/rl/trainer.js";
import { ceilingModuleBytes, type Ceiling } from "./wasm-ceiling.js";

export const REFERENCE_SCRIPT = fileURLToPath(new URL("../../../shared/reference/torch_grpo_epoch.py", import.meta.url));
const REFERENCE_PARAMS = 1_075_344;

/** The reference's stand-in reward: −mean|x| per image. */
/** The bench's reward: −mean|x| per sample (cheap, deterministic; the workload is the epoch, not the reward). */
export const negAbs: Reward = {
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
  /** CPU seconds of the whole process (main thread + workers) during the epoch. */
  cpu_s: number;
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
    // B1 is the reference's workload: no velocity-norm diagnostic (an extra reference forward).
    diagnostics: { velocityNormEvery: 0 },
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
    const cpu0 = process.cpuUsage();
    const record = await trainer.runEpoch();
    const cpu = process.cpuUsage(cpu0);
    const { sample, reward, train } = record.seconds;
    if (e > 0) timings.push({ sample_s: sample, train_s: train, epoch_s: sample + reward + train, cpu_s: (cpu.user + cpu.system) / 1e6 });
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
    cpu_s: median(timings.map((t) => t.cpu_s)),
    // Every timed epoch (the spread behind the medians).
    each: timings.map((t) => ({ sample_s: +t.sample_s.toFixed(3), train_s: +t.train_s.toFixed(3), cpu_s: +t.cpu_s.toFixed(3) })),
    buffers,
  };
}

interface ReferenceSplit {
  threads: number;
  blas_threads: number;
  sample_s: number;
  train_s: number;
  epoch_s: number;
}

/**
 * Per-split medians over repeated reference runs, and the split with the lowest median epoch.
 * A run without `configs` (an older reference script) counts as its one split.
 */
export function fastestSplit(runs: readonly Record<string, unknown>[]): { fastest: ReferenceSplit; configs: ReferenceSplit[] } {
  const splits = new Map<string, ReferenceSplit[]>();
  for (const run of runs) {
    for (const split of (run.configs as ReferenceSplit[] | undefined) ?? [run as unknown as ReferenceSplit]) {
      const key = `${split.threads}x${split.blas_threads ?? 0}`;
      splits.set(key, [...(splits.get(key) ?? []), split]);
    }
  }
  const configs = [...splits.values()].map((all) => ({
    threads: all[0].threads,
    blas_threads: all[0].blas_threads ?? 0,
    sample_s: median(all.map((x) => x.sample_s)),
    train_s: median(all.map((x) => x.train_s)),
    epoch_s: median(all.map((x) => x.epoch_s)),
  }));
  const fastest = configs.reduce((a, b) => (b.epoch_s < a.epoch_s ? b : a));
  return { fastest, configs };
}

/**
 * The PyTorch reference allowed `cores` cores, `repeats` times. Each run times every split of
 * torch threads × OpenBLAS threads in its own process (`configs`); the reference is the split
 * with the lowest median epoch over the runs — PyTorch at its best on this machine.
 */
function runReference(repeats: number, cores: number): { ok: true; summary: Record<string, unknown> } | { ok: false; note: string } {
  if (!existsSync(REFERENCE_SCRIPT)) return { ok: false, note: `reference script not found at ${REFERENCE_SCRIPT}` };
  if (!existsSync("/usr/bin/python3")) return { ok: false, note: "/usr/bin/python3 not found" };
  const probe = spawnSync("/usr/bin/python3", ["-c", "import torch"], { encoding: "utf8" });
  if (probe.status !== 0) return { ok: false, note: "python3-torch is not installed (apt-get install -y python3-torch libopenblas0-pthread)" };
  const runs: Record<string, unknown>[] = [];
  for (let r = 0; r < repeats; r++) {
    const out = spawnSync("/usr/bin/python3", [REFERENCE_SCRIPT, String(cores)], { encoding: "utf8" });
    if (out.status !== 0) return { ok: false, note: `reference failed: ${out.stderr.slice(-300)}` };
    runs.push(JSON.parse(out.stdout.trim().split("\n").at(-1)!) as Record<string, unknown>);
  }
  const { fastest, configs } = fastestSplit(runs);
  return {
    ok: true,
    summary: {
      impl: "torch",
      cores,
      params: runs[0].params,
      ...fastest,
      matmul_gflops: median(runs.map((r) => r.matmul_gflops as number)),
      configs,
    },
  };
}

/** The wasm arithmetic ceiling (bench/wasm-ceiling.ts), in its own process: it sets V8 flags. */
function runCeiling(threads: number): { fma: Ceiling | null; mul_add: Ceiling } | string {
  const script = fileURLToPath(new URL("./wasm-ceiling.js", import.meta.url));
  const out = spawnSync(process.execPath, [script, String(threads)], { encoding: "utf8" });
  if (out.status !== 0) return `wasm ceiling failed: ${out.stderr.slice(-300)}`;
  return JSON.parse(out.stdout.trim().split("\n").at(-1)!) as { fma: Ceiling | null; mul_add: Ceiling };
}

/** This bench at GRPO_GUARD_THREADS=1, in a child process (the thread pool is fixed at start-up). */
function runOneThread(repeats: number): Record<string, unknown> | string {
  const script = fileURLToPath(import.meta.url);
  const out = spawnSync(process.execPath, [script, "--repeats", String(repeats), "--no-reference", "--no-ceiling", "--no-one-core"], {
    encoding: "utf8",
    env: { ...process.env, GRPO_GUARD_THREADS: "1" },
  });
  if (out.status !== 0) return `one-thread bench failed: ${out.stderr.slice(-300)}`;
  return JSON.parse(out.stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
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
  const threads = requestedThreads();
  const sampleGflops = sampleFlops / main.sample_s / 1e9;
  const trainGflops = trainFlops / main.train_s / 1e9;
  const result: Record<string, unknown> = {
    impl: "grpo-guard (jax-js wasm)",
    model: preset,
    params: main.paramCount,
    reference_params: REFERENCE_PARAMS,
    threads,
    node: process.versions.node,
    // Whether jax-js's matmuls use fused multiply-add: this V8 accepts relaxed SIMD and GRPO_GUARD_RELAXED_SIMD=1 asks for it.
    relaxed_simd: WebAssembly.validate(ceilingModuleBytes("fma")) && relaxedSimdRequested(),
    sample_s: +main.sample_s.toFixed(3),
    train_s: +main.train_s.toFixed(3),
    epoch_s: +main.epoch_s.toFixed(3),
    // CPU time of the epoch (all threads): less sensitive than wall time to other processes.
    epoch_cpu_s: +main.cpu_s.toFixed(3),
    images_per_s: +(images / main.epoch_s).toFixed(2),
    sample_gflops: +sampleGflops.toFixed(1),
    train_gflops: +trainGflops.toFixed(1),
    peak_rss_mib: +(process.resourceUsage().maxRSS / 1024).toFixed(0),
    live_buffers_per_epoch: main.buffers,
    epochs: main.each,
    repeats,
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown",
  };
  if (!flag("--no-ceiling")) {
    const ceiling = runCeiling(Math.max(1, threads));
    if (typeof ceiling === "string") result.wasm_ceiling_gflops = ceiling;
    else {
      result.wasm_ceiling_gflops = ceiling;
      // The ceiling is the FMA kernel on all threads at once (the mul+add one where this V8 has no relaxed SIMD).
      const peak = (ceiling.fma ?? ceiling.mul_add).all_threads;
      result.ceiling_fraction = { sample: +(sampleGflops / peak).toFixed(3), train: +(trainGflops / peak).toFixed(3) };
    }
  }
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
  const withReference = !(flag("--no-reference") || tiny);
  if (!withReference) {
    result.reference = "skipped";
  } else {
    const ref = runReference(repeats, Math.max(1, Math.min(threads, cpus().length)));
    if (!ref.ok) {
      result.reference = ref.note;
    } else {
      result.reference = ref.summary;
      const matmul = ref.summary.matmul_gflops as number;
      if (matmul < 50) result.reference_ratio_note = `torch matmul runs at ${matmul} GFLOP/s (< 50): install libopenblas0-pthread; no ratio reported`;
      else result.reference_ratio = +(main.epoch_s / (ref.summary.epoch_s as number)).toFixed(3);
    }
  }
  // One core: this bench with GRPO_GUARD_THREADS=1 against the reference allowed one core.
  if (!(flag("--no-one-core") || tiny) && threads > 1) {
    const one = runOneThread(repeats);
    if (typeof one === "string") result.one_core = one;
    else {
      const oneCore: Record<string, unknown> = { sample_s: one.sample_s, train_s: one.train_s, epoch_s: one.epoch_s, sample_gflops: one.sample_gflops, train_gflops: one.train_gflops };
      if (result.wasm_ceiling_gflops && typeof result.wasm_ceiling_gflops === "object") {
        const c = result.wasm_ceiling_gflops as { fma: Ceiling | null; mul_add: Ceiling };
        const peak = (c.fma ?? c.mul_add).one_thread;
        oneCore.ceiling_fraction = { sample: +((one.sample_gflops as number) / peak).toFixed(3), train: +((one.train_gflops as number) / peak).toFixed(3) };
      }
      if (withReference) {
        const ref = runReference(repeats, 1);
        if (ref.ok) {
          oneCore.reference_epoch_s = ref.summary.epoch_s;
          oneCore.reference_ratio = +((one.epoch_s as number) / (ref.summary.epoch_s as number)).toFixed(3);
        } else oneCore.reference = ref.note;
      }
      result.one_core = oneCore;
    }
  }
  return result;
}

if (process.argv[1]?.endsWith("bench.js")) {
  console.log(JSON.stringify(await bench(process.argv.slice(2))));
  process.exit(0);
}
