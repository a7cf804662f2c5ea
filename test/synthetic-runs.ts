/**
 * Synthetic run directories (config.yaml + metrics.jsonl, no images) for the figure and
 * dashboard tests: many runs of several methods and seeds, with controllable shapes — a gold
 * score that falls while the proxy rises, an outlier run's log-ratio tails, gold components
 * with CIs and noise floors. Every record is checked against the metrics schema, so a schema
 * change fails here with the field it broke, not as a blank figure.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { validateMetricsRecord } from "../src/diagnostics/metrics-schema.js";

export interface SyntheticRun {
  name: string;
  algorithm: "flow-grpo" | "grpo-guard";
  dynamics: "flow-sde" | "dance-sde" | "cps";
  seed: number;
  lr?: number;
  epochs?: number;
  evalEvery?: number;
  steps?: number;
  /** Log-ratio scale per epoch (epoch index → multiplier of the quantiles); default 1e-3 · (1 + epoch). */
  ratioScale?: (epoch: number) => number;
  /** Gold score at eval epoch e (default: rises with the proxy). */
  gold?: (epoch: number) => number;
  /** Proxy at eval epoch e (default: rises). */
  proxy?: (epoch: number) => number;
  /** Write gold panel v2 components (KID and accuracy with CIs and floors). */
  components?: boolean;
  alarms?: number[];
  /** Record per-step gradient norms (default true). */
  gradNorms?: boolean;
}

const summary = (scale: number, shift = 0) => ({ mean: shift, std: scale, p1: shift - 2.3 * scale, p5: shift - 1.6 * scale, p50: shift, p95: shift + 1.6 * scale, p99: shift + 2.3 * scale });

export function writeSyntheticRun(root: string, run: SyntheticRun): string {
  const dir = join(root, run.name);
  mkdirSync(dir, { recursive: true });
  const epochs = run.epochs ?? 6;
  const every = run.evalEvery ?? 2;
  const steps = run.steps ?? 4;
  const lr = run.lr ?? 1e-4;
  const config = {
    name: run.name,
    seed: run.seed,
    algorithm: run.algorithm,
    dynamics: run.dynamics,
    sampling: { steps },
    train: { epochs, lr, clipLow: 1e-4, clipHigh: 1e-4 },
    eval: { every },
    output: { dir: root },
  };
  writeFileSync(join(dir, "config.yaml"), stringify(config));
  const proxy = run.proxy ?? ((e: number) => 0.5 + 0.4 * (1 - Math.exp(-e / 4)) + 0.01 * run.seed);
  const gold = run.gold ?? ((e: number) => 0.6 + 0.2 * (1 - Math.exp(-e / 4)));
  const scale = run.ratioScale ?? ((e: number) => 1e-3 * (1 + e));
  const records: unknown[] = [];
  const evalRecord = (e: number) => {
    const g = gold(e);
    const kid = 0.02 + 0.05 * (1 - g);
    return {
      type: "eval",
      epoch: e,
      rewards: [{ name: "digit-ocr", mean: proxy(e), std: 0.1 }],
      proxy: proxy(e),
      prompts: ["0", "1"],
      gold: {
        judgeAccuracy: g,
        frechet: [40, 50],
        frechetMean: 45 + 20 * (1 - g),
        frechetFloor: 38,
        frechetReal: 42,
        diversity: 5 * g,
        diversityReal: 5,
        drift: 0.01 * e,
        gold: g,
        ...(run.components
          ? {
              components: [
                { key: "kid", label: "kernel distance (KID)", value: kid, better: "lower", ci: [kid - 0.004, kid + 0.004], floor: 0.021 },
                { key: "judge", label: "held-out judge accuracy", value: g, better: "higher", ci: [g - 0.03, g + 0.03], floor: 0.97 },
              ],
            }
          : {}),
      },
    };
  };
  records.push(evalRecord(0));
  for (let epoch = 0; epoch < epochs; epoch++) {
    const sc = scale(epoch);
    records.push({
      type: "epoch",
      epoch,
      window: Array.from({ length: steps }, (_, i) => i),
      prompts: ["0", "1"],
      rewards: [{ name: "digit-ocr", mean: proxy(epoch), std: 0.1 }],
      zeroStdFraction: [0],
      groupStdMean: [0.1],
      advantageAbsMean: 0.8,
      loss: -0.01,
      gradNorm: 0.5,
      optimizerSteps: 1,
      steps: Array.from({ length: steps }, (_, step) => ({
        step,
        s: 1 - step / steps,
        dt: 1 / steps,
        weight: 1,
        logRatio: summary(sc * (1 + step), run.algorithm === "flow-grpo" ? -sc * step : 0),
        clippedLogRatio: summary(sc * (1 + step), run.algorithm === "flow-grpo" ? -sc * step : 0),
        histogram: { edges: [-1, 0, 1], counts: [1, 1] },
        clipPositive: Math.min(1, 0.02 * step + 0.01 * run.seed + (run.algorithm === "flow-grpo" ? 0.05 : 0)),
        clipNegative: Math.min(1, 0.01 * step + 0.005 * run.seed),
        clipTotal: 0.05,
        approxKl: 1e-6,
        klRef: 0,
        count: 8,
      })),
      stepGradNorms: run.gradNorms === false ? undefined : Array.from({ length: steps }, (_, step) => ({ step, before: 1 + step, after: 0.5 + step / 4 })),
      seconds: { sample: 1, reward: 0.1, train: 2 },
    });
    if ((epoch + 1) % every === 0 || epoch + 1 === epochs) records.push(evalRecord(epoch + 1));
    for (const a of run.alarms ?? []) if (a === epoch + 1) records.push({ type: "alarm", epoch: a, action: "log", detail: "synthetic" });
  }
  for (const [i, record] of records.entries()) {
    const checked = validateMetricsRecord(record);
    if (!checked.ok) throw new Error(`synthetic record ${i} of ${run.name} breaks the metrics schema: ${checked.reason}`);
  }
  writeFileSync(join(dir, "metrics.jsonl"), records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return dir;
}

/** The comparison's shape: 5 methods × 3 seeds (flow-grpo at two learning rates), seed-major like `compare`. */
export function comparisonRuns(root: string, options: { epochs?: number; components?: boolean; outlier?: boolean } = {}): string[] {
  const variants = [
    { label: "flow-grpo", algorithm: "flow-grpo", dynamics: "flow-sde" },
    { label: "grpo-guard", algorithm: "grpo-guard", dynamics: "flow-sde" },
    { label: "dance-grpo", algorithm: "flow-grpo", dynamics: "dance-sde" },
    { label: "dance-guard", algorithm: "grpo-guard", dynamics: "dance-sde" },
    { label: "flow-grpo-lr5e-4", algorithm: "flow-grpo", dynamics: "flow-sde", lr: 5e-4 },
  ] as const;
  return [0, 1, 2].flatMap((seed) =>
    variants.map((v, m) =>
      writeSyntheticRun(root, {
        name: `digits-${v.label}-s${seed}`,
        algorithm: v.algorithm,
        dynamics: v.dynamics,
        lr: "lr" in v ? v.lr : undefined,
        seed,
        epochs: options.epochs ?? 30,
        evalEvery: 5,
        steps: 10,
        components: options.components,
        // One outlier: the lr 5e-4 run of seed 1 has log-ratio tails 1000× the others'.
        ratioScale: options.outlier && m === 4 && seed === 1 ? (e) => 1 * (1 + e) : undefined,
        gold: m === 4 ? (e) => 0.8 - 0.01 * Math.max(0, e - 15) * (1 + seed) : undefined,
        alarms: m === 4 ? [20 + 5 * (seed % 2)] : seed === 1 && m === 3 ? [30] : [],
      }),
    ),
  );
}
