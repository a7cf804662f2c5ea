/**
 * A/B of jax-js's two wasm dispatch modes (docs/engine.md, "Patches"), interleaved so that a
 * changing background load hits both alike. Each round runs, in fresh processes and rotating
 * order: bench/dispatch.ts on one thread (no pool) and on two threads in each mode; with
 * `--pass`, a batch-64 dit-s training pass (bench/profile.ts, median of 5 passes) in each mode;
 * with `--epoch`, one canonical B1 epoch (bench/bench.ts --repeats 1) in each mode.
 *
 *   npm run build && node dist/bench/dispatch-ab.js [rounds=5] [--pass] [--epoch]
 *
 * Prints one JSON line per run, then medians per configuration and the median over rounds of
 * the atomics ÷ message ratio (CPU time is the process's, workers included).
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 5);
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

interface Config {
  name: string;
  script: string;
  args: string[];
  env: Record<string, string>;
  /** Metrics taken from the child's last JSON line. */
  metrics: string[];
}

const configs: Config[] = [
  { name: "kernel/1-thread", script: "./dispatch.js", args: [], env: { GRPO_GUARD_THREADS: "1" }, metrics: ["wall_us_per_kernel", "cpu_us_per_kernel"] },
];
for (const mode of ["message", "atomics"]) {
  configs.push({ name: `kernel/2-threads/${mode}`, script: "./dispatch.js", args: [], env: { GRPO_GUARD_THREADS: "2", JAX_JS_WASM_DISPATCH: mode }, metrics: ["wall_us_per_kernel", "cpu_us_per_kernel"] });
  if (args.includes("--pass")) {
    configs.push({ name: `train-pass-64/2-threads/${mode}`, script: "./profile.js", args: ["64", "train"], env: { GRPO_GUARD_THREADS: "2", JAX_JS_WASM_DISPATCH: mode }, metrics: ["wall_ms_median_of_5", "cpu_ms_median_of_5"] });
  }
  if (args.includes("--epoch")) {
    configs.push({ name: `epoch/2-threads/${mode}`, script: "./bench.js", args: ["--repeats", "1", "--no-reference", "--no-ceiling", "--no-one-core"], env: { GRPO_GUARD_THREADS: "2", JAX_JS_WASM_DISPATCH: mode }, metrics: ["sample_s", "train_s", "epoch_s", "epoch_cpu_s"] });
  }
}

const results = new Map<string, Record<string, number>[]>();
for (let round = 0; round < rounds; round++) {
  const order = configs.map((_, i) => configs[(i + round) % configs.length]);
  for (const config of order) {
    const out = spawnSync(process.execPath, [here(config.script), ...config.args], { env: { ...process.env, ...config.env }, encoding: "utf8", maxBuffer: 64 << 20 });
    if (out.status !== 0) throw new Error(`${config.name} failed: ${out.stderr}`);
    const json = JSON.parse(out.stdout.trim().split("\n").pop()!) as Record<string, number>;
    const row = Object.fromEntries(config.metrics.map((m) => [m, json[m]]));
    console.log(JSON.stringify({ round, config: config.name, ...row }));
    if (!results.has(config.name)) results.set(config.name, []);
    results.get(config.name)!.push(row);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const summary: Record<string, Record<string, number>> = {};
for (const [name, rows] of results) summary[name] = Object.fromEntries(Object.keys(rows[0]).map((m) => [m, +median(rows.map((r) => r[m])).toFixed(3)]));
const ratios: Record<string, Record<string, number>> = {};
for (const [name, rows] of results) {
  if (!name.endsWith("/atomics")) continue;
  const base = results.get(name.replace(/atomics$/, "message"))!;
  ratios[name.replace(/\/atomics$/, "")] = Object.fromEntries(Object.keys(rows[0]).map((m) => [m, +median(rows.map((r, i) => r[m] / base[i][m])).toFixed(3)]));
}
console.log(JSON.stringify({ rounds, medians: summary, atomics_over_message: ratios, loadavg_end: (await import("node:os")).loadavg().map((l) => +l.toFixed(2)) }));
