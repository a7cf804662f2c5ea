/**
 * From metrics records to the series the dashboard and the report draw. Pure functions with
 * no Node imports: the dashboard page loads this module in the browser as well.
 *
 * Epoch numbering: an eval record's `epoch` counts completed training epochs (0 = the base
 * model); an epoch record's `epoch` is the index of the epoch being trained, so it ends at
 * eval epoch `epoch + 1`. Per-timestep views use that "completed epochs" number too, as the
 * CLI's epoch lines do.
 */
import type { AlarmMetrics, EpochMetrics, EvalMetrics, FaultMetrics, SkippedLine, StepStatsMetrics } from "../diagnostics/metrics-schema.js";

export type SlimStep = Omit<StepStatsMetrics, "histogram">;
export type SlimEpoch = Omit<EpochMetrics, "prompts" | "steps"> & { steps: SlimStep[] };
export type SlimEval = Omit<EvalMetrics, "prompts">;
export type SlimRecord = SlimEpoch | SlimEval | FaultMetrics | AlarmMetrics;

/** What the page needs of a run's config. */
export interface RunMeta {
  algorithm?: string;
  dynamics?: string;
  clipLow?: number;
  clipHigh?: number;
}

export interface RunSnapshot {
  id: string;
  name: string;
  dir: string;
  meta: RunMeta;
  records: SlimRecord[];
  skipped: SkippedLine[];
  /** Eval epochs that have an images/eval-XXXX.png grid, ascending. */
  images: number[];
}

/** The file name of the evaluation grid written at eval epoch `epoch` (src/rl/run.ts). */
export function imageName(epoch: number): string {
  return `eval-${String(epoch).padStart(4, "0")}.png`;
}

/** Drop what no figure shows (prompt lists, histograms) before sending records to the page. */
export function slimRecord(record: SlimRecord | EpochMetrics | EvalMetrics): SlimRecord {
  if (record.type === "epoch") {
    const { prompts: _prompts, steps, ...rest } = record as EpochMetrics;
    return { ...rest, steps: steps.map(({ histogram: _histogram, ...step }) => step) };
  }
  if (record.type === "eval") {
    const { prompts: _prompts, ...rest } = record as EvalMetrics;
    return rest;
  }
  return record;
}

export function epochRecords(records: readonly SlimRecord[]): SlimEpoch[] {
  return records.filter((r): r is SlimEpoch => r.type === "epoch").sort((a, b) => a.epoch - b.epoch);
}

export function evalRecords(records: readonly SlimRecord[]): SlimEval[] {
  return records.filter((r): r is SlimEval => r.type === "eval").sort((a, b) => a.epoch - b.epoch);
}

export function alarmEpochs(records: readonly SlimRecord[]): number[] {
  return records.filter((r): r is AlarmMetrics => r.type === "alarm").map((r) => r.epoch);
}

export function faultCount(records: readonly SlimRecord[]): number {
  return records.filter((r) => r.type === "fault").length;
}

/** Proxy and gold score per evaluation (gold null where the run has no gold panel). */
export function evalCurve(records: readonly SlimRecord[]): { epochs: number[]; proxy: (number | null)[]; gold: (number | null)[] } {
  const evals = evalRecords(records);
  return { epochs: evals.map((e) => e.epoch), proxy: evals.map((e) => e.proxy), gold: evals.map((e) => e.gold?.gold ?? null) };
}

/** Completed-epoch numbers of the trained epochs (epoch record `epoch` + 1), ascending. */
export function trainedEpochs(records: readonly SlimRecord[]): number[] {
  return epochRecords(records).map((r) => r.epoch + 1);
}

/** The epoch record that ends at completed epoch `epoch`, or null. */
export function recordForEpoch(records: readonly SlimRecord[], epoch: number): SlimEpoch | null {
  return epochRecords(records).find((r) => r.epoch + 1 === epoch) ?? null;
}

/** The newest epoch record at or before completed epoch `epoch` that measured per-step gradient norms. */
export function gradRecordAtOrBefore(records: readonly SlimRecord[], epoch: number): SlimEpoch | null {
  const found = epochRecords(records).filter((r) => r.epoch + 1 <= epoch && r.stepGradNorms && r.stepGradNorms.length > 0);
  return found.length ? found[found.length - 1] : null;
}

export type RatioField = "clippedLogRatio" | "logRatio";
export const QUANTILES = ["p1", "p5", "p50", "p95", "p99"] as const;
export type Quantile = (typeof QUANTILES)[number];

/** Per-timestep values of several runs on one shared x axis (the union of their trained steps). */
export interface StepTable {
  steps: number[];
  runs: {
    quantiles: Record<Quantile, (number | null)[]>;
    mean: (number | null)[];
    clipPositive: (number | null)[];
    clipNegative: (number | null)[];
    gradBefore: (number | null)[];
    gradAfter: (number | null)[];
    /** Completed epoch the gradient norms come from (they may be measured every few epochs). */
    gradEpoch: number | null;
    /** Whether the run has a record for this epoch at all. */
    present: boolean;
  }[];
}

export function stepTable(runs: readonly (readonly SlimRecord[])[], epoch: number, field: RatioField = "clippedLogRatio"): StepTable {
  const chosen = runs.map((records) => recordForEpoch(records, epoch));
  const grads = runs.map((records) => gradRecordAtOrBefore(records, epoch));
  const all = new Set<number>();
  chosen.forEach((r) => r?.steps.forEach((s) => all.add(s.step)));
  grads.forEach((r) => r?.stepGradNorms?.forEach((g) => all.add(g.step)));
  const steps = [...all].sort((a, b) => a - b);
  return {
    steps,
    runs: chosen.map((record, k) => {
      const byStep = new Map((record?.steps ?? []).map((s) => [s.step, s]));
      const gradByStep = new Map((grads[k]?.stepGradNorms ?? []).map((g) => [g.step, g]));
      const col = <T>(f: (s: SlimStep) => T | null) => steps.map((x) => (byStep.has(x) ? f(byStep.get(x)!) : null));
      const quantiles = Object.fromEntries(QUANTILES.map((q) => [q, col((s) => s[field][q])])) as Record<Quantile, (number | null)[]>;
      return {
        quantiles,
        mean: col((s) => s[field].mean),
        clipPositive: col((s) => s.clipPositive),
        clipNegative: col((s) => s.clipNegative),
        gradBefore: steps.map((x) => gradByStep.get(x)?.before ?? null),
        gradAfter: steps.map((x) => gradByStep.get(x)?.after ?? null),
        gradEpoch: grads[k] ? grads[k]!.epoch + 1 : null,
        present: record !== null,
      };
    }),
  };
}

/** Evaluation curves of several runs on one shared x axis (the union of their eval epochs). */
export function alignedEvalCurves(runs: readonly (readonly SlimRecord[])[]): { epochs: number[]; proxy: (number | null)[][]; gold: (number | null)[][] } {
  const curves = runs.map(evalCurve);
  const epochs = [...new Set(curves.flatMap((c) => c.epochs))].sort((a, b) => a - b);
  const align = (c: (typeof curves)[number], values: (number | null)[]) => {
    const at = new Map(c.epochs.map((e, i) => [e, values[i]]));
    return epochs.map((e) => at.get(e) ?? null);
  };
  return { epochs, proxy: curves.map((c) => align(c, c.proxy)), gold: curves.map((c) => align(c, c.gold)) };
}

export interface RunSummary {
  evaluations: number;
  trainedEpochs: number;
  finalProxy: number | null;
  finalEpoch: number | null;
  peakProxy: number | null;
  peakEpoch: number | null;
  goldAtPeak: number | null;
  finalGold: number | null;
  alarmEpoch: number | null;
  /** At the last trained epoch, per trained step. */
  lastEpoch: number | null;
  steps: number[];
  meanLogRatio: (number | null)[];
  clipPositive: (number | null)[];
}

export function summarizeRun(records: readonly SlimRecord[]): RunSummary {
  const evals = evalRecords(records);
  const last = evals.length ? evals[evals.length - 1] : null;
  let peak: SlimEval | null = null;
  for (const e of evals) if (e.proxy !== null && (peak === null || peak.proxy === null || e.proxy > peak.proxy)) peak = e;
  const alarms = alarmEpochs(records);
  const trained = epochRecords(records);
  const lastTrained = trained.length ? trained[trained.length - 1] : null;
  return {
    evaluations: evals.length,
    trainedEpochs: trained.length,
    finalProxy: last?.proxy ?? null,
    finalEpoch: last?.epoch ?? null,
    peakProxy: peak?.proxy ?? null,
    peakEpoch: peak?.epoch ?? null,
    goldAtPeak: peak?.gold?.gold ?? null,
    finalGold: last?.gold?.gold ?? null,
    alarmEpoch: alarms.length ? Math.min(...alarms) : null,
    lastEpoch: lastTrained ? lastTrained.epoch + 1 : null,
    steps: lastTrained?.steps.map((s) => s.step) ?? [],
    meanLogRatio: lastTrained?.steps.map((s) => s.clippedLogRatio.mean) ?? [],
    clipPositive: lastTrained?.steps.map((s) => s.clipPositive) ?? [],
  };
}

/** "1 truncated line skipped (line 11)", "2 invalid records skipped (line 3: …)" — one phrase per kind. */
export function describeSkipped(skipped: readonly SkippedLine[]): string[] {
  const out: string[] = [];
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const truncated = skipped.filter((s) => s.kind === "truncated");
  const json = skipped.filter((s) => s.kind === "json");
  const schema = skipped.filter((s) => s.kind === "schema");
  const where = (list: readonly SkippedLine[]) => ` (${list.slice(0, 3).map((s) => `line ${s.line}: ${s.reason}`).join("; ")}${list.length > 3 ? "; …" : ""})`;
  if (truncated.length) out.push(`${plural(truncated.length, "truncated line")} skipped (line ${truncated.map((s) => s.line).join(", ")})`);
  if (json.length) out.push(`${plural(json.length, "unparseable line")} skipped${where(json)}`);
  if (schema.length) out.push(`${plural(schema.length, "invalid record")} skipped${where(schema)}`);
  return out;
}

/** A fixed palette; run k gets colour k (mod length). */
export const RUN_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

export function runColor(k: number): string {
  return RUN_COLORS[k % RUN_COLORS.length];
}

/** A hex colour with alpha, for bands. */
export function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

function formatTick(v: number, digits: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a < 1e-3 || a >= 1e5 ? v.toExponential(Math.max(0, digits - 1)) : String(Number(v.toPrecision(digits)));
}

/** Axis tick labels with the fewest significant digits that keep distinct ticks distinct. */
export function tickLabels(values: readonly number[]): string[] {
  const distinct = new Set(values).size;
  let labels: string[] = [];
  for (let digits = 1; digits <= 12; digits++) {
    labels = values.map((v) => formatTick(v, digits));
    if (new Set(labels).size === distinct) break;
  }
  return labels;
}

export function formatNumber(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "—";
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e5)) return x.toExponential(2);
  return x.toFixed(digits);
}
