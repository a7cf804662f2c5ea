import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ditForwardFlops } from "../bench/bench.js";
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
});
