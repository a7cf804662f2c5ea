/**
 * The comparison experiment (benchmark B2): Flow-GRPO vs GRPO-Guard and DanceGRPO vs
 * Dance+Guard with the same seeds and budget, then a results page with the aggregate table
 * (mean ± std over seeds) next to the per-run report figures.
 */
import type { SlimRecord } from "../dashboard/series.js";
import { epochRecords, evalRecords, runColor, summarizeRun } from "../dashboard/series.js";
import type { LoadedRun } from "../dashboard/runs.js";
import { renderFigure, type LegendEntry, type PanelSpec } from "../dashboard/svg.js";
import { matchedProxy, type EvalPoint } from "../diagnostics/matched-proxy.js";
import type { SweepSpec } from "../sweep/spec.js";

export interface Variant {
  /** Run-name prefix and table label. */
  label: string;
  algorithm: "flow-grpo" | "grpo-guard";
  dynamics: "flow-sde" | "dance-sde" | "cps";
  /** Config overrides of this method only (e.g. its point of a learning-rate sweep). */
  overrides?: string[];
}

export interface ComparePreset {
  /** Base config file (relative to the repository root). */
  config: string;
  variants: Variant[];
  epochs: number;
  evalEvery: number;
  seeds: number[];
  /** Config overrides applied to every run of the preset (the documented budget). */
  overrides: string[];
}

export const COMPARE_PRESETS: Record<string, ComparePreset> = {
  digits: {
    config: "configs/grpo-guard/digits.yaml",
    variants: [
      { label: "flow-grpo", algorithm: "flow-grpo", dynamics: "flow-sde" },
      { label: "grpo-guard", algorithm: "grpo-guard", dynamics: "flow-sde" },
      { label: "dance-grpo", algorithm: "flow-grpo", dynamics: "dance-sde" },
      { label: "dance-guard", algorithm: "grpo-guard", dynamics: "dance-sde" },
      // Equal learning rates are not equal budgets (B2): Flow-GRPO at 5× the step size, to
      // reach the proxy levels GRPO-Guard reaches within the same epochs.
      { label: "flow-grpo-lr5e-4", algorithm: "flow-grpo", dynamics: "flow-sde", overrides: ["train.lr=5e-4"] },
    ],
    // Budget: 15 runs × 30 epochs ≈ 2 h on 2 cores (docs/results.md). 30 epochs at lr 1e-4 is where the
    // default experiment's gold score peaks and falls; 16 samples per digit keep the
    // per-class Fréchet distance comparable between methods (it is biased upward at small n).
    epochs: 30,
    evalEvery: 5,
    seeds: [0, 1, 2],
    overrides: ["eval.perPrompt=16"],
  },
};

/**
 * The comparison as a sweep (src/sweep/spec.ts): one list point per method, the preset's
 * budget for every run. `compare` and `sweep --preset` both run it through the sweep runner.
 */
export function comparisonSweep(name: string, preset: ComparePreset, options: { seeds?: number[]; epochs?: number } = {}): SweepSpec {
  return {
    name,
    base: preset.config,
    set: [`train.epochs=${options.epochs ?? preset.epochs}`, `eval.every=${preset.evalEvery}`, ...preset.overrides],
    list: preset.variants.map((variant) => ({ label: variant.label, set: [`algorithm=${variant.algorithm}`, `dynamics=${variant.dynamics}`, ...(variant.overrides ?? [])] })),
    // Seed-major order (the sweep's): an interrupted comparison has every method at the seeds it finished.
    seeds: options.seeds ?? preset.seeds,
  };
}

/** "mean ± std" over seeds (sample std; the mean alone for one value), values × `scale`. */
const meanStd = (xs: number[], digits = 4, scale = 1): string => {
  if (xs.length === 0) return "—";
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length === 1) return (m * scale).toFixed(digits);
  const s = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
  return `${(m * scale).toFixed(digits)} ± ${(s * scale).toFixed(digits)}`;
};

type StepStat = (s: ReturnType<typeof epochRecords>[number]["steps"][number]) => number | null;

/** The per-step statistics of the comparison (E11), averaged over every trained epoch. */
export const STEP_STATISTICS: { label: string; digits: number; pick: StepStat }[] = [
  { label: "mean log r", digits: 1, pick: (s) => s.logRatio.mean },
  { label: "std log r", digits: 1, pick: (s) => s.logRatio.std },
  { label: "mean clipped log-ratio (log ρ̂ for Guard)", digits: 1, pick: (s) => s.clippedLogRatio.mean },
  { label: "std clipped log-ratio", digits: 1, pick: (s) => s.clippedLogRatio.std },
  { label: "P(clip \\| A>0)", digits: 2, pick: (s) => s.clipPositive },
  { label: "P(clip \\| A<0)", digits: 2, pick: (s) => s.clipNegative },
];

/** Per-step mean of `pick` over every trained epoch of a run (NaN where a step has no value). */
export function perStepAverage(records: readonly SlimRecord[], pick: StepStat): { steps: number[]; values: number[] } {
  const epochs = epochRecords(records);
  const steps = [...new Set(epochs.flatMap((e) => e.steps.map((s) => s.step)))].sort((a, b) => a - b);
  const values = steps.map((step) => {
    const found = epochs.flatMap((e) => e.steps.filter((s) => s.step === step).map(pick)).filter((v): v is number => v !== null && Number.isFinite(v));
    return found.length ? found.reduce((a, b) => a + b, 0) / found.length : NaN;
  });
  return { steps, values };
}

const variantName = (variant: Variant): string => `${variant.label} (${[`${variant.algorithm} / ${variant.dynamics}`, ...(variant.overrides ?? [])].join(", ")})`;

/** The aggregate table of docs/results.md: one row per method, statistics over seeds. */
export function comparisonTable(methods: readonly MethodRuns[]): string {
  const lines = ["| method | runs | proxy peak | gold at proxy peak | final gold | final proxy | alarm fired (epochs) |", "|---|---|---|---|---|---|---|"];
  for (const method of methods) {
    const summaries = method.runs.map((run) => summarizeRun(run.records));
    const pick = (f: (s: (typeof summaries)[number]) => number | null) => summaries.map(f).filter((v): v is number => v !== null);
    const alarms = summaries.map((s) => s.alarmEpoch).filter((e): e is number => e !== null);
    const n = method.runs.length;
    lines.push(
      `| ${variantName(method.variant)} | ${n} | ${meanStd(pick((s) => s.peakProxy))} | ${meanStd(pick((s) => s.goldAtPeak))} | ${meanStd(pick((s) => s.finalGold))} | ${meanStd(pick((s) => s.finalProxy))} | ${alarms.length}/${n}${alarms.length ? ` (${alarms.join(", ")})` : ""} |`,
    );
  }
  return lines.join("\n");
}

/** Per-step statistics table: one row per method × statistic, one column per sampling step (mean over seeds). */
export function perStepTable(methods: readonly MethodRuns[]): string {
  const steps = [...new Set(methods.flatMap((m) => m.runs.flatMap((r) => perStepAverage(r.records, STEP_STATISTICS[0].pick).steps)))].sort((a, b) => a - b);
  if (steps.length === 0) return "No trained epochs yet.";
  const lines = [`| method | statistic | ${steps.map((s) => `step ${s}`).join(" | ")} |`, `|---|---|${steps.map(() => "---|").join("")}`];
  for (const method of methods) {
    for (const stat of STEP_STATISTICS) {
      const perRun = method.runs.map((run) => perStepAverage(run.records, stat.pick));
      const cells = steps.map((step) => {
        const values = perRun.map((p) => p.values[p.steps.indexOf(step)]).filter((v) => v !== undefined && Number.isFinite(v));
        if (values.length === 0) return "—";
        const mean = values.reduce((a, b) => a + b, 0) / values.length;
        return stat.digits === 1 ? mean.toExponential(1) : mean.toFixed(stat.digits);
      });
      lines.push(`| ${method.variant.label} | ${stat.label} | ${cells.join(" | ")} |`);
    }
  }
  return lines.join("\n");
}

/** A gold-panel quantity read from an evaluation record. */
export interface GoldMetric {
  key: string;
  label: string;
  /** Which direction is better, for the reader. */
  better: "higher" | "lower";
  /** Axis label of the frontier panel. */
  axis: string;
  /** How table cells show the metric: value × scale, fixed digits, unit suffix. */
  scale: number;
  digits: number;
  unit: string;
  read: (e: ReturnType<typeof evalRecords>[number]) => number | null;
}

export const GOLD_METRICS: GoldMetric[] = [
  { key: "frechet", label: "Fréchet distance to real digits (mean over classes)", better: "lower", axis: "frechet", scale: 1, digits: 2, unit: "", read: (e) => e.gold?.frechetMean ?? null },
  { key: "diversity", label: "within-prompt diversity", better: "higher", axis: "diversity", scale: 1, digits: 2, unit: "", read: (e) => e.gold?.diversity ?? null },
  { key: "judge", label: "held-out judge accuracy", better: "higher", axis: "accuracy", scale: 100, digits: 1, unit: " %", read: (e) => e.gold?.judgeAccuracy ?? null },
];

export interface MethodRuns {
  variant: Variant;
  runs: LoadedRun[];
}

/**
 * Benchmark B2's central figure: each gold metric against the proxy reward, one curve per
 * run (points = evaluations in epoch order), one colour per method. A method that only
 * reaches the proxy faster moves along the same curve; a better method sits on a better one.
 */
export function frontierFigure(methods: readonly MethodRuns[]): string {
  const panels: PanelSpec[] = GOLD_METRICS.map((metric) => ({
    title: `${metric.label} (${metric.better} is better)`,
    xLabel: "proxy reward (digit-ocr)",
    yLabel: metric.axis,
    lines: methods.flatMap((method, m) =>
      method.runs.map((run) => ({
        label: `${method.variant.label} ${run.name}`,
        run: run.name,
        color: runColor(m),
        points: evalRecords(run.records).flatMap((e): [number, number | null][] => (e.proxy === null ? [] : [[e.proxy, metric.read(e)]])),
      })),
    ),
  }));
  const legend: LegendEntry[] = methods.map((method, m) => ({ label: `${method.variant.label} (${method.runs.length} seeds)`, color: runColor(m) }));
  return renderFigure("Gold quality against proxy reward (the frontier)", panels, legend, 3, "one curve per run, one point per evaluation (EMA policy, fixed prompts and noise), epoch order along each curve");
}

/** Proxy levels for matched comparisons: from the best starting proxy to the highest peak, evenly. */
export function proxyLevels(methods: readonly MethodRuns[], count = 5): number[] {
  const runs = methods.flatMap((m) => m.runs);
  const proxies = runs.map((r) => evalRecords(r.records).flatMap((e) => (e.proxy === null ? [] : [e.proxy])));
  const start = Math.max(...proxies.map((p) => p[0] ?? -Infinity));
  const peak = Math.max(...proxies.flat());
  if (!Number.isFinite(start) || !(peak > start)) return [];
  const lo = Math.ceil((start + 0.005) * 100) / 100;
  const hi = Math.floor(peak * 100) / 100;
  if (hi < lo) return [];
  const levels = Array.from({ length: count }, (_, i) => Math.round((lo + ((hi - lo) * i) / Math.max(1, count - 1)) * 100) / 100);
  return [...new Set(levels)];
}

/** The metrics of the matched-proxy tables: every gold component when the runs log them (gold panel v2), else the legacy three. */
export function matchedProxyMetrics(methods: readonly MethodRuns[]): GoldMetric[] {
  const logged = methods.flatMap((m) => m.runs.flatMap((r) => evalRecords(r.records).flatMap((e) => e.gold?.components ?? [])));
  if (logged.length === 0) return GOLD_METRICS;
  const keys = [...new Map(logged.map((c) => [c.key, c])).values()];
  return keys.map((c) => ({
    key: c.key,
    label: c.label,
    better: c.better,
    axis: c.key,
    scale: c.key.includes("accuracy") || c.key === "near-duplicates" ? 100 : 1,
    digits: c.key === "gold" ? 4 : 2,
    unit: c.key.includes("accuracy") || c.key === "near-duplicates" ? " %" : "",
    read: (e) => e.gold?.components?.find((x) => x.key === c.key)?.value ?? null,
  }));
}

/**
 * Gold at matched proxy (src/diagnostics/matched-proxy.ts): per metric, a table with one row
 * per proxy level and one column per method; a cell is the metric at each seed's first
 * crossing of the level, interpolated linearly between evaluations — mean [95 % t-interval]
 * over the seeds that reach it — with the seeds that never reach it counted as censored.
 */
export function matchedProxyTables(methods: readonly MethodRuns[], levels = proxyLevels(methods)): string {
  if (levels.length === 0) return "No run raised the proxy above its starting value, so there is no matched-proxy comparison.";
  const out: string[] = [];
  for (const metric of matchedProxyMetrics(methods)) {
    out.push(`**${metric.label}** (${metric.better} is better) at the first crossing of each proxy level (interpolated between evaluations):`, ``);
    out.push(`| proxy = | ${methods.map((m) => m.variant.label).join(" | ")} |`, `|---|${methods.map(() => "---|").join("")}`);
    const cellsOf = methods.map((method) => {
      const series = method.runs.map((run) => evalRecords(run.records).map((e): EvalPoint => ({ epoch: e.epoch, proxy: e.proxy, values: { [metric.key]: metric.read(e) } })));
      return matchedProxy(series, levels, [metric.key]);
    });
    for (const level of levels) {
      const cells = cellsOf.map((cells) => {
        const cell = cells.find((c) => c.level === level)!;
        const censored = cell.censored ? `; ${cell.censored} censored` : "";
        if (cell.reached === 0) return `censored (0/${cell.runs} reached)`;
        const fmt = (v: number) => `${(v * metric.scale).toFixed(metric.digits)}`;
        const ci = Number.isFinite(cell.ci[0]) ? ` [${fmt(cell.ci[0])}, ${fmt(cell.ci[1])}]` : "";
        return `${fmt(cell.mean)}${metric.unit}${ci} (${cell.reached}/${cell.runs}${censored})`;
      });
      out.push(`| ${level.toFixed(2)} | ${cells.join(" | ")} |`);
    }
    out.push(``);
  }
  return out.join("\n");
}
