/**
 * Runs per hour of the local sweep pool: 1 process × 2 threads against 2 processes × 1 thread
 * on the canonical digits run (configs/grpo-guard/digits.yaml, dit-s, 8 prompts × 8 samples,
 * gold panel), shortened to `--epochs` epochs with an evaluation at the start and the end.
 * Each repeat runs the same 2-run sweep (seeds 0 and 1) in a fresh runs directory under both
 * shapes, alternating which goes first; prints one JSON line with every time and the medians.
 *
 *   npm run -s build && node dist/bench/sweep-pool.js [--epochs 3] [--repeats 3]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expandSweep } from "../src/sweep/spec.js";
import { runSweep } from "../src/sweep/run-sweep.js";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const epochs = arg("epochs", 3);
const repeats = arg("repeats", 3);
const root = fileURLToPath(new URL("../../", import.meta.url));
const shapes = [
  { processes: 1, threads: 2 },
  { processes: 2, threads: 1 },
];
const times: Record<string, number[]> = {};
for (let r = 0; r < repeats; r++) {
  for (const shape of r % 2 === 0 ? shapes : [...shapes].reverse()) {
    const runsDir = mkdtempSync(join(tmpdir(), "grpo-guard-sweep-bench-"));
    const sweep = expandSweep(
      { name: "bench", base: "configs/grpo-guard/digits.yaml", set: [`train.epochs=${epochs}`, `eval.every=${epochs}`], seeds: [0, 1] },
      { baseDir: root, runsDir, source: "bench" },
    );
    const started = Date.now();
    const { tracker } = await runSweep(sweep, { runsDir, ...shape, statusFile: null, log: () => {} });
    const seconds = (Date.now() - started) / 1000;
    if (tracker.counts().done !== 2) throw new Error(`repeat ${r}: ${JSON.stringify(tracker.snapshot().runs.map((x) => x.error))}`);
    rmSync(runsDir, { recursive: true, force: true });
    const key = `${shape.processes}x${shape.threads}`;
    (times[key] ??= []).push(seconds);
    process.stderr.write(`repeat ${r + 1}/${repeats}: ${key} ${seconds.toFixed(1)} s for 2 runs\n`);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const result = Object.fromEntries(Object.entries(times).map(([key, xs]) => [key, { seconds: xs.map((x) => Math.round(x * 10) / 10), medianSeconds: median(xs), runsPerHour: Math.round((2 * 3600) / median(xs) * 10) / 10 }]));
console.log(JSON.stringify({ epochs, evaluations: 2, runsPerSweep: 2, repeats, ...result }));
