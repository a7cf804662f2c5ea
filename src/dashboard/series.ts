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
  /** The whole config flattened ("train.lr" → "0.0005"): what tells methods apart. */
  settings?: Record<string, string>;
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

/** Runs whose log-ratio tails are more than this many times the median run's are drawn off scale. */
export const OFF_SCALE_FACTOR = 5;

/**
 * Per run of a step table: whether its largest |p1|, |p99| over the steps exceeds
 * OFF_SCALE_FACTOR × the median run's. Such a run is cut at the edge of the log-ratio view and
 * named, so that one run with huge tails cannot flatten every other run.
 */
export function offScaleRuns(table: StepTable): boolean[] {
  const tails = table.runs.map((r) => {
    if (!r.present) return null;
    const xs = [...r.quantiles.p1, ...r.quantiles.p99].filter((v): v is number => v !== null && Number.isFinite(v)).map(Math.abs);
    return xs.length ? Math.max(...xs) : null;
  });
  const typical = median(tails);
  return tails.map((v) => typical !== null && typical > 0 && v !== null && v > OFF_SCALE_FACTOR * typical);
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
  clipNegative: (number | null)[];
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
    clipNegative: lastTrained?.steps.map((s) => s.clipNegative) ?? [],
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

/* ---------------------------------------------------------------------------------------- */
/* Methods: one hue per method, seeds as lighter shades of it.                               */
/* ---------------------------------------------------------------------------------------- */

/** Config fields that never tell two methods apart (the seed makes a run a repeat, not a method). */
const NOT_A_METHOD = /^(name|seed|output\..*|model\.weights|gold\.judge|checkpoint\..*|eval\.seed)$/;

/** A run's config flattened to "a.b.c" → printed value (arrays and objects as JSON). */
export function flattenSettings(value: unknown, prefix = "", out: Record<string, string> = {}): Record<string, string> {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flattenSettings(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out[prefix] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return out;
}

export interface MethodGroup {
  /** "grpo-guard · flow-sde", plus the overrides that set it apart from its algorithm's other runs. */
  label: string;
  color: string;
  /** Indices into the run list, in seed order. */
  runs: number[];
}

export interface MethodAssignment {
  methods: MethodGroup[];
  /** Per run: its method's index, its shade index within the method and its colour. */
  method: number[];
  shade: number[];
  colors: string[];
}

/** Mix a hex colour with white (t = 0: unchanged, 1: white); the hue stays the same. */
export function lighten(hex: string, t: number): string {
  const n = parseInt(hex.slice(1), 16);
  const mix = (c: number) => Math.round(c + (255 - c) * t);
  return `#${[(n >> 16) & 255, (n >> 8) & 255, n & 255].map((c) => mix(c).toString(16).padStart(2, "0")).join("")}`;
}

/** The colour of seed `j` of `n` in a method: the method's colour, lighter for later seeds. */
export function seedShade(base: string, j: number, n: number): string {
  return n <= 1 ? base : lighten(base, (0.55 * j) / (n - 1));
}

/**
 * Which runs are the same method: the same algorithm and dynamics, split further by every
 * config field (other than seed, name and output paths) that differs between runs of that
 * algorithm and dynamics — e.g. a learning rate the comparison sets for one method only. A run
 * without a readable config is a method of its own. Methods keep the order of their first run.
 */
export function assignMethods(runs: readonly { name: string; meta: RunMeta }[]): MethodAssignment {
  const family = (r: { name: string; meta: RunMeta }, k: number) => (r.meta.algorithm ? `${r.meta.algorithm} · ${r.meta.dynamics ?? "?"}` : `\u0000${k}`);
  const families = runs.map(family);
  const keyOf: string[] = [];
  const labelOf: string[] = [];
  for (const fam of new Set(families)) {
    const members = runs.map((_, k) => k).filter((k) => families[k] === fam);
    const settings = members.map((k) => runs[k].meta.settings ?? {});
    const keys = [...new Set(settings.flatMap((s) => Object.keys(s)))].filter((key) => !NOT_A_METHOD.test(key) && new Set(settings.map((s) => s[key])).size > 1).sort();
    for (const [i, k] of members.entries()) {
      const parts = keys.map((key) => `${key}=${settings[i][key] ?? "unset"}`);
      keyOf[k] = `${fam}|${parts.join(",")}`;
      labelOf[k] = fam.startsWith("\u0000") ? runs[k].name : [fam, ...parts].join(", ");
    }
  }
  const order = [...new Set(keyOf)];
  const methods: MethodGroup[] = order.map((key, m) => ({ label: labelOf[keyOf.indexOf(key)], color: runColor(m), runs: [] }));
  const method = keyOf.map((key) => order.indexOf(key));
  const seed = (k: number) => Number(runs[k].meta.settings?.seed ?? k);
  runs.forEach((_, k) => methods[method[k]].runs.push(k));
  for (const m of methods) m.runs.sort((a, b) => seed(a) - seed(b) || a - b);
  const shade = runs.map((_, k) => methods[method[k]].runs.indexOf(k));
  const colors = runs.map((_, k) => seedShade(methods[method[k]].color, shade[k], methods[method[k]].runs.length));
  return { methods, method, shade, colors };
}

/* ---------------------------------------------------------------------------------------- */
/* Gold components (gold panel v2, with a fallback for metrics written before it).           */
/* ---------------------------------------------------------------------------------------- */

export interface Component {
  key: string;
  label: string;
  value: number | null;
  better: "higher" | "lower";
  ci?: [number | null, number | null];
  floor?: number | null;
}

type Gold = NonNullable<SlimEval["gold"]>;

/** The gold components of one evaluation: `components` when present, else the legacy fields. */
export function goldComponents(gold: Gold | undefined): Component[] {
  if (!gold) return [];
  if (gold.components && gold.components.length) return gold.components as Component[];
  return [
    { key: "judge", label: "held-out judge accuracy", value: gold.judgeAccuracy, better: "higher" },
    { key: "frechet", label: "Fréchet distance to real digits (class mean)", value: gold.frechetMean, better: "lower", floor: gold.frechetFloor },
    { key: "diversity", label: "within-prompt diversity", value: gold.diversity, better: "higher" },
  ];
}

/** Every component key found in the runs, in order of first appearance, with its label and direction. */
export function componentCatalog(runs: readonly (readonly SlimRecord[])[]): { key: string; label: string; better: "higher" | "lower" }[] {
  const seen = new Map<string, { key: string; label: string; better: "higher" | "lower" }>();
  for (const records of runs) for (const e of evalRecords(records)) for (const c of goldComponents(e.gold)) if (!seen.has(c.key)) seen.set(c.key, { key: c.key, label: c.label, better: c.better });
  return [...seen.values()];
}

export interface ComponentPoint {
  epoch: number;
  proxy: number | null;
  value: number | null;
  ci: [number, number] | null;
  floor: number | null;
}

/** One component of one run at every evaluation that has it. */
export function componentSeries(records: readonly SlimRecord[], key: string): ComponentPoint[] {
  const finiteOrNull = (v: number | null | undefined) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  return evalRecords(records).flatMap((e) => {
    const c = goldComponents(e.gold).find((x) => x.key === key);
    if (!c) return [];
    const lo = finiteOrNull(c.ci?.[0]);
    const hi = finiteOrNull(c.ci?.[1]);
    return [{ epoch: e.epoch, proxy: finiteOrNull(e.proxy), value: finiteOrNull(c.value), ci: lo !== null && hi !== null ? [lo, hi] : null, floor: finiteOrNull(c.floor) }];
  });
}

/** The median of the finite values (null when there are none). */
export function median(values: readonly (number | null | undefined)[]): number | null {
  const xs = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v)).sort((a, b) => a - b);
  if (!xs.length) return null;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/**
 * Spans of evaluations where the gold score fell while the proxy rose, from one evaluation to
 * the next (what the over-optimisation alarm counts, shown whether or not it fired). When the
 * gold score carries a CI (component "gold"), a fall counts only if the new value is below the
 * previous CI's lower end. Touching spans are merged.
 */
export function goldFallsWhileProxyRises(records: readonly SlimRecord[]): { from: number; to: number }[] {
  const evals = evalRecords(records);
  const spans: { from: number; to: number }[] = [];
  for (let i = 1; i < evals.length; i++) {
    const [a, b] = [evals[i - 1], evals[i]];
    const ga = a.gold?.gold;
    const gb = b.gold?.gold;
    if (a.proxy === null || b.proxy === null || ga === null || ga === undefined || gb === null || gb === undefined) continue;
    const ciLow = a.gold?.components?.find((c) => c.key === "gold")?.ci?.[0];
    const threshold = typeof ciLow === "number" && Number.isFinite(ciLow) ? Math.min(ga, ciLow) : ga;
    if (b.proxy > a.proxy && gb < threshold) {
      const last = spans[spans.length - 1];
      if (last && last.to === a.epoch) last.to = b.epoch;
      else spans.push({ from: a.epoch, to: b.epoch });
    }
  }
  return spans;
}
