/**
 * Evaluation size (issue #12 item 6): the gold panel's noise floors as a function of samples
 * per prompt, and the cost of one evaluation at that size.
 *   npm run gold-floors -- [--sizes 4,8,16,32,64] [--time 8,16,32] [--json]
 *
 * Floors: each component for n unseen real digits per class (disjoint draws), mean and std over
 * draws — the std is how much one evaluation of a perfect generator moves. Cost: one evaluation
 * as the trainer runs it (the base model's 20-step ODE on 10 prompts × n fixed noises, then the
 * gold panel), wall-clock seconds on this machine (noisy when other work shares the cores).
 */
import { initEngine } from "../src/engine/jax.js";
import { KeyChain } from "../src/engine/prng.js";
import { disposeTree } from "../src/engine/tree.js";
import { loadVelocityModel } from "../src/models/io.js";
import { initialNoise, OdeSampler } from "../src/sampling/ode.js";
import { decodeSamples } from "../src/sampling/sde.js";
import { GoldPanel } from "../src/rewards/gold.js";
import { DEFAULT_BASE_MODEL, DEFAULT_SAMPLE_STEPS } from "../src/cli/defaults.js";

export interface FloorRow {
  perPrompt: number;
  draws: number;
  mean: Record<string, number>;
  std: Record<string, number>;
  /** Wall-clock seconds, and CPU seconds of this process (all threads; less sensitive to other jobs on the machine). */
  seconds?: { sample: number; gold: number; cpu: number };
}

const listFlag = (name: string, fallback: number[]): number[] => {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const values = (process.argv[at + 1] ?? "").split(",").map(Number);
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < 2)) {
    process.stderr.write(`${name}: expected a comma-separated list of integers ≥ 2, got "${process.argv[at + 1] ?? ""}"\n`);
    process.exit(2);
  }
  return values;
};

export async function measureFloors(sizes: number[], timed: number[], print: (line: string) => void = () => {}): Promise<FloorRow[]> {
  await initEngine();
  const started = performance.now();
  const panel = await GoldPanel.fromFile();
  const { diversityReal, kidWrongDigit } = panel.goldScale;
  print(`panel prepared in ${((performance.now() - started) / 1000).toFixed(1)} s (once per run)`);
  print(`gold-score constants: diversity_gold,real = ${diversityReal.toFixed(3)}, KID_gold,wrong = ${kidWrongDigit.toFixed(4)} (raw KID, not ×10³)`);
  print(`near-duplicate thresholds τ_c (gold-cnn features, classes 0–9): ${panel.nearDuplicateThresholds.map((t) => t.toFixed(2)).join(", ")}`);
  const rows: FloorRow[] = sizes.map((n) => {
    const ref = panel.realReference(n);
    const row = { perPrompt: n, draws: ref.draws, mean: ref.mean, std: ref.std };
    print(`floors at ${n} per prompt: ${JSON.stringify(row)}`);
    return row;
  });
  if (timed.length) {
    const { model, params } = loadVelocityModel(DEFAULT_BASE_MODEL);
    const digits = Array.from({ length: 10 }, (_, i) => String(i));
    for (const n of timed) {
      const prompts = digits.flatMap((p) => Array.from({ length: n }, () => p));
      const cpuStart = process.cpuUsage();
      let started = performance.now();
      const sampler = new OdeSampler(model, { steps: DEFAULT_SAMPLE_STEPS, shift: 3 });
      const final = await sampler.sample(params, initialNoise(model, new KeyChain(12345).next(), prompts.length), prompts);
      sampler.dispose();
      const images = await decodeSamples(final, model.config.sampleShape);
      const sample = (performance.now() - started) / 1000;
      started = performance.now();
      await panel.evaluate(images, prompts);
      const gold = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpuStart);
      const cpu = (used.user + used.system) / 1e6;
      const row = rows.find((r) => r.perPrompt === n);
      if (row) row.seconds = { sample, gold, cpu };
      print(`one evaluation at ${n} per prompt: sampling ${sample.toFixed(1)} s, gold panel ${gold.toFixed(1)} s (wall); ${cpu.toFixed(1)} CPU s`);
    }
    disposeTree(params);
  }
  panel.dispose();
  return rows;
}

const fmt = (row: FloorRow, key: string, digits = 2) => `${row.mean[key].toFixed(digits)} ± ${row.std[key].toFixed(digits)}`;

export function floorsTable(rows: readonly FloorRow[]): string {
  const lines = [
    "| samples per prompt | draws | Fréchet (judge) | KID ×10³ (judge) | KID ×10³ (gold-cnn) | diversity (gold-cnn) | near-duplicates | gold score | seconds per evaluation: wall (sampling + gold) | CPU seconds |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of rows) {
    const secs = r.seconds ? `${(r.seconds.sample + r.seconds.gold).toFixed(1)} (${r.seconds.sample.toFixed(1)} + ${r.seconds.gold.toFixed(1)}) | ${r.seconds.cpu.toFixed(1)}` : "— | —";
    lines.push(`| ${r.perPrompt} | ${r.draws} | ${fmt(r, "fd-judge", 1)} | ${fmt(r, "kid-judge", 1)} | ${fmt(r, "kid-gold", 1)} | ${fmt(r, "diversity-gold")} | ${fmt(r, "near-duplicates", 3)} | ${fmt(r, "gold", 3)} | ${secs} |`);
  }
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await measureFloors(listFlag("--sizes", [4, 8, 16, 32, 64]), listFlag("--time", [8, 16, 32]), (line) => console.log(line));
  if (process.argv.includes("--json")) console.log(JSON.stringify(rows));
  else {
    console.log("Real digits against the held-out reference: mean ± std over disjoint draws of n unseen digits per class (the noise floor of one evaluation).");
    console.log(floorsTable(rows));
  }
}
