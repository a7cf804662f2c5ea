import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ditForwardFlops, fastestSplit } from "../bench/bench.js";
import { presetConfig } from "../src/models/registry.js";
import type { DitConfig } from "../src/models/dit.js";

test("npm run bench runs a tiny configuration and prints one valid JSON line", () => {
  const script = fileURLToPath(new URL("../bench/bench.js", import.meta.url));
  const out = spawnSync(process.execPath, [script, "--tiny", "--repeats", "1"], { encoding: "utf8", env: { ...process.env, GRPO_GUARD_THREADS: "1" } });
  assert.equal(out.status, 0, out.stderr);
  const lines = out.stdout.trim().split("\n");
  assert.equal(lines.length, 1);
  const result = JSON.parse(lines[0]) as Record<string, unknown>;
  for (const key of ["sample_s", "train_s", "epoch_s", "images_per_s", "sample_gflops", "train_gflops", "peak_rss_mib", "nproc", "params"]) {
    assert.equal(typeof result[key], "number", key);
    assert.ok((result[key] as number) > 0, `${key} > 0`);
  }
  assert.ok(Math.abs((result.sample_s as number) + (result.train_s as number) - (result.epoch_s as number)) < 0.05);
  assert.equal(typeof result.cpu, "string");
  // The wasm ceiling ran and the fractions are useful GFLOP/s over it.
  const ceiling = result.wasm_ceiling_gflops as { fma: { all_threads: number } | null; mul_add: { one_thread: number; all_threads: number } };
  assert.ok(ceiling.mul_add.one_thread > 0 && ceiling.mul_add.all_threads > 0);
  const fraction = result.ceiling_fraction as { sample: number; train: number };
  const peak = (ceiling.fma ?? ceiling.mul_add).all_threads;
  assert.ok(Math.abs(fraction.train - (result.train_gflops as number) / peak) < 0.01, JSON.stringify(fraction));
});

test("the wasm ceiling kernels are valid wasm and compute the accumulator recurrence", async () => {
  const { ceilingModuleBytes, enableRelaxedSimd } = await import("../bench/wasm-ceiling.js");
  // acc ← acc·0.999 + 0.001 from acc₀ = 1 + i/64 (12 accumulators, 4 unrolled steps per iteration);
  // the kernel returns the sum of the accumulators' first lanes.
  const expected = (iterations: number) => {
    let sum = 0;
    for (let i = 0; i < 12; i++) {
      let acc = Math.fround(1 + i / 64);
      for (let k = 0; k < 4 * iterations; k++) acc = Math.fround(Math.fround(acc * Math.fround(0.999)) + Math.fround(1e-3));
      sum += acc;
    }
    return sum;
  };
  const kinds = enableRelaxedSimd() ? (["mul_add", "fma"] as const) : (["mul_add"] as const);
  for (const kind of kinds) {
    const bytes = ceilingModuleBytes(kind);
    assert.ok(WebAssembly.validate(bytes), kind);
    const run = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.run as (n: number) => number;
    assert.ok(Math.abs(run(0) - expected(0)) < 1e-4, `${kind} at 0`);
    assert.ok(Math.abs(run(50) - expected(50)) < 1e-3, `${kind} at 50: ${run(50)} vs ${expected(50)}`);
  }
});

test("dit-s forward FLOPs: the matmul count of the canonical model", () => {
  // 49 tokens, width 128, depth 4: q/k/v/o 6.4M + MLP 12.8M + attention 1.2M + adaLN 0.13M per block → ≈ 0.083 GFLOP.
  const flops = ditForwardFlops(presetConfig("dit-s") as DitConfig);
  assert.ok(flops > 8.2e7 && flops < 8.4e7, String(flops));
});

test("npm run engine-facts prints the measured engine facts as one JSON line; GRPO_GUARD_RELAXED_SIMD=1 turns relaxed SIMD on", () => {
  const script = fileURLToPath(new URL("../bench/engine-facts.js", import.meta.url));
  const out = spawnSync(process.execPath, [script], { encoding: "utf8", env: { ...process.env, GRPO_GUARD_RELAXED_SIMD: "1" } });
  assert.equal(out.status, 0, out.stderr);
  const facts = JSON.parse(out.stdout.trim()) as Record<string, number | boolean>;
  for (const key of ["projection_from_transposed_view_ms", "projection_from_contiguous_ms", "gelu_tanh_ms", "gelu_simd_ms"]) assert.ok((facts[key] as number) > 0, key);
  // The equal-rank form, which the model uses, is exact to float32 rounding.
  assert.ok((facts.matmul_equal_rank_max_error as number) < 1e-5, String(facts.matmul_equal_rank_max_error));
  assert.equal(facts.wasm_relaxed_simd, true);
  // The allocator patch is applied (patches/, postinstall): freed neighbours serve a larger request.
  assert.equal(facts.allocator_merge_grown_mib, 0);
});

test("the reference is the split with the lowest median epoch over the runs, all splits kept", () => {
  const split = (threads: number, blas: number, epoch: number) => ({ threads, blas_threads: blas, sample_s: epoch / 4, train_s: (3 * epoch) / 4, epoch_s: epoch });
  // 1×2 is fastest in two of three runs; 2×1 has the single fastest epoch but a slower median.
  const runs = [
    { configs: [split(1, 1, 3.3), split(1, 2, 2.6), split(2, 1, 2.4), split(2, 2, 6.0)] },
    { configs: [split(1, 1, 3.4), split(1, 2, 2.5), split(2, 1, 2.9), split(2, 2, 5.6)] },
    { configs: [split(1, 1, 3.3), split(1, 2, 2.7), split(2, 1, 3.0), split(2, 2, 6.6)] },
  ];
  const { fastest, configs } = fastestSplit(runs);
  assert.equal(configs.length, 4);
  assert.deepEqual([fastest.threads, fastest.blas_threads, fastest.epoch_s], [1, 2, 2.6]);
  assert.equal(configs.find((c) => c.threads === 2 && c.blas_threads === 2)?.epoch_s, 6.0);
  // An older script's single-split output is its own only split.
  assert.equal(fastestSplit([{ threads: 2, sample_s: 1, train_s: 5, epoch_s: 6 }]).fastest.epoch_s, 6);
});
