/**
 * A/B of Node runtimes on one dit-s pass (docs/performance.md, "Runtime"): each round runs
 * bench/profile.ts (batch 64, one thread, median of 5 passes) for training and sampling under
 * every runtime given, relaxed SIMD off (the default) and, with `--fma`, on
 * (`GRPO_GUARD_RELAXED_SIMD=1`, where the runtime accepts it), in fresh processes, interleaved
 * so that a changing background load hits all alike.
 *
 *   npm run build && node dist/bench/runtime-ab.js [rounds=3] [--fma] [path/to/other/node …]
 *
 * This Node is always the first runtime. Prints one JSON line per run, then the median CPU ms
 * per configuration and its change against this Node without FMA.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
const withFma = args.includes("--fma");
const others = args.filter((a) => !/^\d+$/.test(a) && !a.startsWith("--"));
for (const binary of others) if (!existsSync(binary)) throw new Error(`runtime-ab: no Node binary at ${binary}`);
const profile = fileURLToPath(new URL("./profile.js", import.meta.url));

interface Config {
  name: string;
  node: string;
  mode: "train" | "sample";
  fma: boolean;
}

const version = (node: string): string => spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
const runtimes = [process.execPath, ...others];
const configs: Config[] = runtimes.flatMap((node) =>
  (["train", "sample"] as const).flatMap((mode) => [false, ...(withFma ? [true] : [])].map((fma) => ({ name: `${version(node)}${fma ? "+fma" : ""}/${mode}`, node, mode, fma }))),
);

const cpu: Record<string, number[]> = {};
for (let round = 1; round <= rounds; round++) {
  for (const c of configs) {
    const r = spawnSync(c.node, [profile, "64", c.mode], { encoding: "utf8", env: { ...process.env, GRPO_GUARD_THREADS: "1", GRPO_GUARD_RELAXED_SIMD: c.fma ? "1" : "0" } });
    if (r.status !== 0) throw new Error(`${c.name}: profile.js exited with ${r.status}\n${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { cpu_ms_median_of_5: number; wall_ms_median_of_5: number };
    (cpu[c.name] ??= []).push(out.cpu_ms_median_of_5);
    console.log(JSON.stringify({ round, config: c.name, cpu_ms: out.cpu_ms_median_of_5, wall_ms: out.wall_ms_median_of_5 }));
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary: Record<string, { cpu_ms: number; change_pct: number }> = {};
for (const c of configs) {
  const base = median(cpu[`${version(process.execPath)}/${c.mode}`]);
  const m = median(cpu[c.name]);
  summary[c.name] = { cpu_ms: m, change_pct: +(100 * (m / base - 1)).toFixed(1) };
}
console.log(JSON.stringify({ rounds, medians: summary }));
