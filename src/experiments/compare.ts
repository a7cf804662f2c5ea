/**
 * The comparison experiment (benchmark B2): Flow-GRPO vs GRPO-Guard and DanceGRPO vs
 * Dance+Guard with the same seeds and budget, then a results page with the aggregate table
 * (mean ± std over seeds) next to the per-run report figures.
 */
import type { SlimRecord } from "../dashboard/series.js";
import { epochRecords, summarizeRun } from "../dashboard/series.js";
import { loadRun } from "../dashboard/runs.js";

export interface Variant {
  /** Run-name prefix and table label. */
  label: string;
  algorithm: "flow-grpo" | "grpo-guard";
  dynamics: "flow-sde" | "dance-sde" | "cps";
}

export interface ComparePreset {
  /** Base config file (relative to the repository root). */
  config: string;
  variants: Variant[];
  epochs: number;
  evalEvery: number;
  seeds: number[];
}

export const COMPARE_PRESETS: Record<string, ComparePreset> = {
  digits: {
    config: "configs/grpo-guard/digits.yaml",
    variants: [
      { label: "flow-grpo", algorithm: "flow-grpo", dynamics: "flow-sde" },
      { label: "grpo-guard", algorithm: "grpo-guard", dynamics: "flow-sde" },
      { label: "dance-grpo", algorithm: "flow-grpo", dynamics: "dance-sde" },
      { label: "dance-guard", algorithm: "grpo-guard", dynamics: "dance-sde" },
    ],
    epochs: 60,
    evalEvery: 5,
    seeds: [0, 1, 2],
  },
};

export interface PlannedRun {
  variant: Variant;
  seed: number;
  name: string;
  overrides: string[];
}

export function comparisonPlan(preset: ComparePreset, options: { seeds?: number[]; epochs?: number; prefix: string }): PlannedRun[] {
  const seeds = options.seeds ?? preset.seeds;
  const epochs = options.epochs ?? preset.epochs;
  return preset.variants.flatMap((variant) =>
    seeds.map((seed) => {
      const name = `${options.prefix}-${variant.label}-s${seed}`;
      return {
        variant,
        seed,
        name,
        overrides: [`name=${name}`, `algorithm=${variant.algorithm}`, `dynamics=${variant.dynamics}`, `seed=${seed}`, `train.epochs=${epochs}`, `eval.every=${preset.evalEvery}`],
      };
    }),
  );
}

const meanStd = (xs: number[]): string => {
  if (xs.length === 0) return "—";
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const s = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
  return xs.length > 1 ? `${m.toFixed(4)} ± ${s.toFixed(4)}` : m.toFixed(4);
};

/** Per-step means over every trained epoch of a run: plain log r, the clipped log-ratio, P(clip | A>0). */
export function perStepAverages(records: readonly SlimRecord[]): { steps: number[]; logRatio: number[]; clipped: number[]; clipPositive: number[] } {
  const epochs = epochRecords(records);
  const steps = [...new Set(epochs.flatMap((e) => e.steps.map((s) => s.step)))].sort((a, b) => a - b);
  const avg = (pick: (s: (typeof epochs)[number]["steps"][number]) => number | null) =>
    steps.map((step) => {
      const values = epochs.flatMap((e) => e.steps.filter((s) => s.step === step).map(pick)).filter((v): v is number => v !== null && Number.isFinite(v));
      return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
    });
  return { steps, logRatio: avg((s) => s.logRatio.mean), clipped: avg((s) => s.clippedLogRatio.mean), clipPositive: avg((s) => s.clipPositive) };
}

/** The aggregate table of docs/results.md: one row per variant, statistics over seeds. */
export function comparisonTable(runs: readonly { variant: Variant; dir: string }[]): string {
  const lines = [
    "| method | runs | proxy peak | gold at proxy peak | final gold | final proxy | alarm fired (epochs) | mean log r per step (all epochs) | P(clip \\| A>0) per step |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  const labels = [...new Set(runs.map((r) => r.variant.label))];
  for (const label of labels) {
    const group = runs.filter((r) => r.variant.label === label).map((r) => loadRun(r.dir));
    const summaries = group.map((run) => summarizeRun(run.records));
    const pick = (f: (s: (typeof summaries)[number]) => number | null) => summaries.map(f).filter((v): v is number => v !== null);
    const alarms = summaries.map((s) => s.alarmEpoch).filter((e): e is number => e !== null);
    const per = group.map((run) => perStepAverages(run.records));
    const steps = per[0]?.steps ?? [];
    const across = (f: (p: (typeof per)[number]) => number[]) => steps.map((_, i) => per.reduce((a, p) => a + f(p)[i], 0) / per.length);
    const variant = runs.find((r) => r.variant.label === label)!.variant;
    lines.push(
      `| ${label} (${variant.algorithm} / ${variant.dynamics}) | ${group.length} | ${meanStd(pick((s) => s.peakProxy))} | ${meanStd(pick((s) => s.goldAtPeak))} | ${meanStd(pick((s) => s.finalGold))} | ${meanStd(pick((s) => s.finalProxy))} | ${alarms.length}/${group.length}${alarms.length ? ` (${alarms.join(", ")})` : ""} | ${across((p) => p.logRatio).map((v) => v.toExponential(1)).join(", ")} | ${across((p) => p.clipPositive).map((v) => v.toFixed(2)).join(", ")} |`,
    );
  }
  return lines.join("\n");
}
