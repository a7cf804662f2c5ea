/**
 * The B3 readout (benchmarks.md B3, issue #15) from a directory of run summaries
 * (src/study/summary.ts), without training anything: per proxy, the frontier figure (every gold
 * component against the proxy, every run a thin curve in its method's hue, each method's
 * upper envelope over its knobs and seeds a thick line), matched-proxy tables with
 * t-intervals and censored counts per method × knob setting, the proxy-side statistics beside
 * them (clip / masked / gated / hinge fractions, the velocity-norm ratio R, epochs, the
 * training proxy's peak), and a generated headline block of numbers. The page part is written
 * between `<!-- b3:<key>:begin -->` and `<!-- b3:<key>:end -->`; the rest of the page is left
 * as it was.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { UserError } from "../engine/errors.js";
import { holmRejected, meanCi, tTestP } from "../diagnostics/bootstrap.js";
import { atProxyLevel, matchedProxy, type EvalPoint, type MatchedCell } from "../diagnostics/matched-proxy.js";
import { lighten, RUN_COLORS } from "../dashboard/series.js";
import { componentAxis, floorBand } from "../dashboard/gold-panels.js";
import { renderFigure, type LegendEntry, type LineSeries, type PanelSpec, type Point } from "../dashboard/svg.js";
import { ID_EXCLUDED_FIELDS } from "../sweep/id.js";
import type { RunSummary } from "./summary.js";

/** The gold components B3 reads (docs/gold-panel.md); judge-feature diversity is left out (not monotone in damage off the data manifold, B3). */
export const MAIN_COMPONENTS = ["judge-accuracy", "kid-judge", "kid-gold", "fd-judge", "diversity-gold", "near-duplicates", "gold"];

/** Method hues: the dashboard's palette and four more (B3 has about ten method families). */
export const METHOD_COLORS = [...RUN_COLORS, "#bcbd22", "#7f7f7f", "#393b79", "#637939"];

export interface ComponentInfo {
  key: string;
  label: string;
  better: "higher" | "lower";
}

/** How a component's numbers are printed: fractions as percentages, the gold score with three decimals. */
export function componentFormat(key: string): { scale: number; digits: number; unit: string } {
  if (key.includes("accuracy") || key === "near-duplicates") return { scale: 100, digits: 1, unit: " %" };
  if (key === "gold" || key === "proxy") return { scale: 1, digits: 3, unit: "" };
  return { scale: 1, digits: 2, unit: "" };
}

/** A planned run of the study (from the sweep's plan): what "planned" counts. */
export interface PlannedEntry {
  name: string;
  label: string;
  method: string;
  seed: number;
  overrides: readonly string[];
}

/** An override of a field that is not part of run ids (name, output, checkpoint: src/sweep/id.ts). */
const outsideRunId = (override: string): boolean => {
  const key = override.slice(0, Math.max(0, override.indexOf("=")));
  return ID_EXCLUDED_FIELDS.some((field) => key === field || key.startsWith(`${field}.`));
};

/**
 * Which planned run a summary is: the same knob setting (label), seed and overrides — those
 * that run ids count (a sweep file that starts keeping more checkpoints still has the same
 * runs). Not the run name: its id hashes the resolved config, whose file paths depend on where
 * the checkout is, so committed summaries must match a plan made in another checkout.
 */
export const planKey = (r: { label: string; seed: number; overrides: readonly string[] }): string =>
  JSON.stringify([r.label, r.seed, r.overrides.filter((o) => !outsideRunId(o))]);

export interface SettingGroup {
  method: string;
  label: string;
  overrides: string[];
  /** Finished runs (final policy written): the only ones in tables and envelopes. */
  finished: RunSummary[];
  /** Partial runs: drawn dashed in the figure, counted, never in a table. */
  partial: RunSummary[];
  /** Planned runs of this setting (null without a plan). */
  planned: number | null;
}

export interface MethodGroup {
  method: string;
  color: string;
  settings: SettingGroup[];
}

/**
 * Group summaries by method family and knob setting, in the plan's order (else first
 * appearance). With a plan, summaries of runs that are not in it (`planKey`: e.g. an older
 * version of the sweep with other knob values) are left out and returned as `ignored`; planned settings with no summary yet are kept
 * (0 finished) so the page can say so.
 */
export function groupRuns(summaries: readonly RunSummary[], plan?: readonly PlannedEntry[]): { methods: MethodGroup[]; ignored: RunSummary[] } {
  const inPlan = plan ? new Set(plan.map(planKey)) : null;
  const used = inPlan ? summaries.filter((s) => inPlan.has(planKey(s))) : [...summaries];
  const ignored = inPlan ? summaries.filter((s) => !inPlan.has(planKey(s))) : [];
  const order: { method: string; label: string }[] = [];
  const add = (method: string, label: string) => {
    if (!order.some((o) => o.method === method && o.label === label)) order.push({ method, label });
  };
  for (const p of plan ?? []) add(p.method, p.label);
  for (const s of used) add(s.method, s.label);
  const methodNames = [...new Set(order.map((o) => o.method))];
  const methods = methodNames.map((method, m): MethodGroup => ({
    method,
    color: METHOD_COLORS[m % METHOD_COLORS.length],
    settings: order
      .filter((o) => o.method === method)
      .map((o) => {
        const runs = used.filter((s) => s.method === method && s.label === o.label).sort((a, b) => a.seed - b.seed);
        return {
          method,
          label: o.label,
          overrides: runs[0]?.overrides ?? [],
          finished: runs.filter((s) => s.status === "finished"),
          partial: runs.filter((s) => s.status === "partial"),
          planned: plan ? plan.filter((p) => p.method === method && p.label === o.label).length : null,
        };
      }),
  }));
  return { methods, ignored };
}

/** The components logged by the runs: the main ones when present, else every one (runs before gold panel v2). */
export function reportComponents(summaries: readonly RunSummary[]): ComponentInfo[] {
  const catalog = new Map<string, ComponentInfo>();
  for (const s of summaries) for (const c of s.components) if (!catalog.has(c.key)) catalog.set(c.key, c);
  const main = MAIN_COMPONENTS.filter((k) => catalog.has(k)).map((k) => catalog.get(k)!);
  return main.length ? main : [...catalog.values()];
}

/** A run's (proxy, component) points in epoch order (evaluations without a proxy left out; a missing value stays null). */
export function componentCurve(summary: RunSummary, key: string): Point[] {
  return summary.evaluations.flatMap((e): Point[] => {
    if (e.proxy === null) return [];
    const c = e.components.find((x) => x.key === key);
    return [[e.proxy, c?.value ?? null]];
  });
}

/**
 * Every value a run's curve takes at proxy x: the curve is the piecewise-linear path through
 * its evaluations in epoch order, so it can pass through x several times (the proxy need not
 * rise monotonically); each segment whose proxy range contains x contributes its linear
 * interpolation at x, and an evaluation at exactly x (also an isolated one) contributes its value.
 */
export function valuesAtProxy(curve: readonly Point[], x: number): number[] {
  const out: number[] = [];
  const finite = (v: number | null): v is number => v !== null && Number.isFinite(v);
  for (let i = 0; i < curve.length; i++) {
    const [p0, g0] = curve[i];
    if (p0 === x && finite(g0)) out.push(g0);
    if (i + 1 >= curve.length) continue;
    const [p1, g1] = curve[i + 1];
    if (!finite(g0) || !finite(g1) || p0 === p1) continue;
    const lo = Math.min(p0, p1);
    const hi = Math.max(p0, p1);
    if (x > lo && x < hi) out.push(g0 + ((x - p0) / (p1 - p0)) * (g1 - g0));
  }
  return out;
}

/** Number of evenly spaced levels the envelope is evaluated at besides the evaluations' own proxies. */
export const ENVELOPE_GRID = 64;

/**
 * The upper envelope of a method over its knobs and seeds, for one gold component:
 *
 *     E(x) = best { g : (x, g) on the curve of one of the method's runs }
 *
 * where "best" is the max for a higher-is-better component and the min for a lower-is-better
 * one, and each run's curve is the piecewise-linear path through its evaluations
 * (`valuesAtProxy`: every crossing of x counts, not only the first — any evaluated state of any
 * run at that proxy level is a policy the method reached). E is evaluated at every proxy value
 * the method's runs were evaluated at and at ENVELOPE_GRID evenly spaced levels between the
 * lowest and highest of them; it is null where no run's curve covers x.
 */
export function envelope(curves: readonly (readonly Point[])[], better: "higher" | "lower", grid = ENVELOPE_GRID): Point[] {
  const xs = curves.flatMap((c) => c.filter((p) => p[1] !== null && Number.isFinite(p[1])).map((p) => p[0]));
  if (xs.length === 0) return [];
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const levels = new Set(xs);
  if (hi > lo) for (let i = 0; i <= grid; i++) levels.add(lo + ((hi - lo) * i) / grid);
  const pick = better === "higher" ? Math.max : Math.min;
  return [...levels]
    .sort((a, b) => a - b)
    .map((x): Point => {
      const values = curves.flatMap((c) => valuesAtProxy(c, x));
      return [x, values.length ? pick(...values) : null];
    });
}

const finished = (methods: readonly MethodGroup[]) => methods.flatMap((m) => m.settings.flatMap((s) => s.finished));

/** A run's first evaluation proxy and its peak evaluation proxy (null without evaluations). */
function evalRange(s: RunSummary): { first: number; peak: number } | null {
  const proxies = s.evaluations.map((e) => e.proxy).filter((p): p is number => p !== null && Number.isFinite(p));
  return proxies.length ? { first: proxies[0], peak: Math.max(...proxies) } : null;
}

/**
 * Matched-proxy levels from the data: `count` evenly spaced levels above the highest first
 * evaluation among the finished runs (every run starts at or below it, so every reading is an
 * interpolation between two of its evaluations) up to the highest peak, rounded to two
 * significant digits of their spacing. Empty when the runs' evaluations do not
 * span a range (e.g. a pilot that evaluates only once).
 */
export function reportLevels(methods: readonly MethodGroup[], count = 6): number[] {
  const ranges = finished(methods).map(evalRange).filter((r): r is { first: number; peak: number } => r !== null);
  if (ranges.length === 0) return [];
  const lo = Math.max(...ranges.map((r) => r.first));
  const hi = Math.max(...ranges.map((r) => r.peak));
  if (!(hi > lo)) return [];
  const step = (hi - lo) / count;
  const decimals = Math.max(0, 1 - Math.floor(Math.log10(step)));
  const round = (v: number) => Number(v.toFixed(decimals));
  // From lo + step (lo itself is every run's start: no information) up to hi.
  return [...new Set(Array.from({ length: count }, (_, i) => round(lo + step * (i + 1))))].filter((l) => l > lo && l <= hi);
}

const evalPoints = (s: RunSummary, key: string): EvalPoint[] =>
  s.evaluations.map((e) => ({ epoch: e.epoch, proxy: e.proxy, values: { [key]: e.components.find((c) => c.key === key)?.value ?? null } }));

/** The matched-proxy cells of one setting's finished runs for one component. */
export function settingCells(setting: SettingGroup, levels: readonly number[], key: string): MatchedCell[] {
  return matchedProxy(setting.finished.map((s) => evalPoints(s, key)), levels, [key]);
}

function formatValue(key: string, v: number): string {
  const f = componentFormat(key);
  return `${(v * f.scale).toFixed(f.digits)}`;
}

/** "mean [lo, hi] (reached/runs; c censored)", "censored (0/n reached)", or "no finished run". */
export function formatCell(key: string, cell: MatchedCell): string {
  if (cell.runs === 0) return "no finished run";
  if (cell.reached === 0) return cell.censored ? `censored (0/${cell.runs} reached)` : `no value (0/${cell.runs})`;
  const unit = componentFormat(key).unit;
  const ci = Number.isFinite(cell.ci[0]) ? ` [${formatValue(key, cell.ci[0])}, ${formatValue(key, cell.ci[1])}]` : "";
  return `${formatValue(key, cell.mean)}${unit}${ci} (${cell.reached}/${cell.runs}${cell.censored ? `; ${cell.censored} censored` : ""})`;
}

/** A signed difference of a component's values; differences of percentages get one more decimal (they are often a fraction of a point). */
export function formatDifference(key: string, x: number): string {
  const f = componentFormat(key);
  return `${x >= 0 ? "+" : ""}${(x * f.scale).toFixed(f.unit === " %" ? f.digits + 1 : f.digits)}`;
}

const settingName = (s: SettingGroup) => (s.label === s.method ? s.method : s.label);

/** One table per component: rows = method × setting, columns = proxy levels. */
export function matchedProxyTables(methods: readonly MethodGroup[], components: readonly ComponentInfo[], levels: readonly number[]): string {
  if (levels.length === 0) return "No matched-proxy comparison: the finished runs' evaluations do not span a common proxy range (each run needs evaluations below and above a level).";
  const out: string[] = [];
  const decimals = Math.max(...levels.map((l) => (String(l).split(".")[1] ?? "").length));
  const levelText = (l: number) => l.toFixed(decimals);
  const shown = methods.flatMap((m) => m.settings.filter((s) => s.finished.length > 0).map((s) => ({ method: m.method, setting: s })));
  const waiting = methods.flatMap((m) => m.settings.filter((s) => s.finished.length === 0).map(settingName));
  if (waiting.length) out.push(`Not in these tables, no finished run yet: ${waiting.join(", ")}.`, ``);
  for (const c of components) {
    out.push(`*${c.label}* (\`${c.key}\`, ${c.better} is better), at each run's first crossing of the proxy level (interpolated between evaluations); mean [95 % t-interval] over the seeds that reach it (reached/finished runs):`, ``);
    out.push(`| method | setting | ${levels.map((l) => `proxy ${levelText(l)}`).join(" | ")} |`, `|---|---|${levels.map(() => "---|").join("")}`);
    for (const { method, setting } of shown) {
      const cells = settingCells(setting, levels, c.key);
      out.push(`| ${method} | ${settingName(setting)} | ${levels.map((l) => formatCell(c.key, cells.find((x) => x.level === l)!)).join(" | ")} |`);
    }
    out.push(``);
  }
  return out.join("\n");
}

/** The components the against-the-baseline tables show (the scalar gold, the judge, the second feature space, collapse). */
export const BASELINE_COMPONENTS = ["gold", "judge-accuracy", "kid-gold", "near-duplicates"];

/** The baseline method's setting the others are paired with: the one with the most finished runs (the first on a tie). */
export function baselineSetting(methods: readonly MethodGroup[], baseline: string): SettingGroup | null {
  const settings = methods.find((m) => m.method === baseline)?.settings.filter((s) => s.finished.length > 0) ?? [];
  return settings.reduce<SettingGroup | null>((best, s) => (best === null || s.finished.length > best.finished.length ? s : best), null);
}

/** The baseline method's other settings with at least two finished runs (each a second reference: e.g. a wider clip that travels faster). */
export function otherBaselineSettings(methods: readonly MethodGroup[], baseline = "flow-grpo"): SettingGroup[] {
  const base = baselineSetting(methods, baseline);
  return methods.find((m) => m.method === baseline)?.settings.filter((s) => s !== base && s.finished.length >= 2) ?? [];
}

/**
 * Every setting against the baseline (Flow-GRPO) at each matched-proxy level, paired by seed:
 * the mean difference (setting − baseline) of the runs' first-crossing values and its 95 %
 * t-interval, over the seeds with which both reached the level. The raw material of a
 * per-method verdict: what a method buys (or costs) at equal proxy, not where it stops.
 */
export function baselineTables(methods: readonly MethodGroup[], components: readonly ComponentInfo[], levels: readonly number[], baseline = "flow-grpo"): string {
  const base = baselineSetting(methods, baseline);
  if (!base || levels.length === 0) return `No comparison against ${baseline}: ${base ? "no matched-proxy levels" : `no finished ${baseline} run`} yet.`;
  const decimals = Math.max(...levels.map((l) => (String(l).split(".")[1] ?? "").length));
  const others = methods.flatMap((m) => m.settings.filter((s) => s !== base && s.finished.length > 0).map((s) => ({ method: m.method, setting: s })));
  const out: string[] = [];
  for (const c of components.filter((c) => BASELINE_COMPONENTS.includes(c.key))) {
    const v = (x: number) => formatDifference(c.key, x);
    out.push(`*${c.label}* (\`${c.key}\`, ${c.better} is better): setting − ${baseline} / ${settingName(base)}, paired by seed, mean [95 % t-interval] (pairs that reached the level):`, ``);
    out.push(`| method | setting | ${levels.map((l) => `proxy ${l.toFixed(decimals)}`).join(" | ")} |`, `|---|---|${levels.map(() => "---|").join("")}`);
    for (const { method, setting } of others) {
      const cells = levels.map((level) => {
        const d = pairedDifference(setting, base, level, c.key);
        if (!d) return "—";
        return `${v(d.mean)}${Number.isFinite(d.ci[0]) ? ` [${v(d.ci[0])}, ${v(d.ci[1])}]` : ""} (${d.pairs})`;
      });
      out.push(`| ${method} | ${settingName(setting)} | ${cells.join(" | ")} |`);
    }
    out.push(``);
  }
  return out.join("\n");
}

/** One paired comparison against the baseline whose t-interval was computable (≥ 2 seed pairs). */
export interface EvidenceCell {
  key: string;
  level: number;
  difference: PairedDifference;
  /** "better" / "worse" when the interval excludes 0 (in the component's direction), else "even". */
  reading: "better" | "worse" | "even";
  /** The difference stands after Holm's correction over all the setting's cells (family-wise 5 %). */
  holm: boolean;
}

export interface SettingEvidence {
  method: string;
  setting: SettingGroup;
  /** Highest evaluated proxy of each run, setting − baseline, paired by seed: how much farther it travels. */
  reach: PairedDifference | null;
  /** Mean highest evaluated proxy of the setting's finished runs. */
  peak: number | null;
  cells: EvidenceCell[];
}

const peakProxy = (s: RunSummary): number | null => evalRange(s)?.peak ?? null;

/**
 * What a setting buys or costs against the baseline, mechanically: its reach (peak evaluated
 * proxy, paired by seed) and every matched-proxy difference of `BASELINE_COMPONENTS` with ≥ 2
 * seed pairs, read as better / worse when the 95 % t-interval excludes 0, else even. The
 * material of the per-method verdict; not a verdict itself (no correction for the number of
 * cells read: at 95 %, about one in twenty excludes 0 by chance).
 */
export function settingEvidence(methods: readonly MethodGroup[], components: readonly ComponentInfo[], levels: readonly number[], baseline = "flow-grpo", against?: SettingGroup): SettingEvidence[] {
  const base = against ?? baselineSetting(methods, baseline);
  if (!base) return [];
  const read = components.filter((c) => BASELINE_COMPONENTS.includes(c.key));
  const others = methods.flatMap((m) => m.settings.filter((s) => s !== base && s.finished.length > 0).map((s) => ({ method: m.method, setting: s })));
  return others.map(({ method, setting }) => {
    const reachDiffs = setting.finished.flatMap((r) => {
      const b = base.finished.find((x) => x.seed === r.seed);
      const [pr, pb] = [peakProxy(r), b ? peakProxy(b) : null];
      return pr !== null && pb !== null ? [pr - pb] : [];
    });
    const reachEstimate = meanCi(reachDiffs);
    const reachP = tTestP(reachDiffs);
    const peaks = finiteValues(setting.finished.map(peakProxy));
    const cells = read.flatMap((c) =>
      levels.flatMap((level): EvidenceCell[] => {
        const d = pairedDifference(setting, base, level, c.key);
        if (!d || d.pairs < 2 || !Number.isFinite(d.ci[0])) return [];
        const sign = d.ci[0] > 0 ? 1 : d.ci[1] < 0 ? -1 : 0;
        const reading = sign === 0 ? "even" : (sign > 0) === (c.better === "higher") ? "better" : "worse";
        return [{ key: c.key, level, difference: d, reading, holm: false }];
      }),
    );
    const stands = holmRejected(cells.map((c) => c.difference.p));
    return {
      method,
      setting,
      reach: reachDiffs.length ? { pairs: reachDiffs.length, mean: reachEstimate.value, ci: reachEstimate.ci, p: reachP } : null,
      peak: mean(peaks),
      cells: cells.map((c, k) => ({ ...c, holm: stands[k] })),
    };
  });
}

/** The evidence as a table: one row per setting, the intervals that exclude 0 spelled out, the others counted. */
export function evidenceTable(methods: readonly MethodGroup[], components: readonly ComponentInfo[], levels: readonly number[], baseline = "flow-grpo", against?: SettingGroup): string {
  const base = against ?? baselineSetting(methods, baseline);
  if (!base) return `No evidence against ${baseline}: no finished ${baseline} run yet.`;
  const rows = settingEvidence(methods, components, levels, baseline, base);
  const name = against ? settingName(against) : baseline;
  const basePeak = mean(finiteValues(base.finished.map(peakProxy)));
  const interval = (key: string, d: PairedDifference) => `${formatDifference(key, d.mean)}${Number.isFinite(d.ci[0]) ? ` [${formatDifference(key, d.ci[0])}, ${formatDifference(key, d.ci[1])}]` : ""}`;
  const list = (cells: EvidenceCell[]) => (cells.length ? cells.map((c) => `\`${c.key}\` at ${c.level}: ${interval(c.key, c.difference)} (${c.difference.pairs})${c.holm ? " **H**" : ""}`).join("; ") : "—");
  const out = [
    `| method | setting | finished seeds | peak evaluated proxy (${name}: ${basePeak === null ? "—" : basePeak.toFixed(3)}); − ${name}, paired | better than ${name} at equal proxy | worse | no difference detected | smallest p (Holm's threshold) |`,
    `|---|---|---|---|---|---|---|---|`,
  ];
  for (const r of rows) {
    const reach = r.reach ? `${r.peak === null ? "—" : r.peak.toFixed(3)}; ${interval("proxy", r.reach)} (${r.reach.pairs})` : r.peak === null ? "—" : r.peak.toFixed(3);
    const even = r.cells.filter((c) => c.reading === "even").length;
    const smallest = r.cells.reduce<EvidenceCell | null>((best, c) => (best === null || c.difference.p < best.difference.p ? c : best), null);
    const holmColumn = smallest ? `${formatP(smallest.difference.p)} (${formatP(0.05 / r.cells.length)})` : "—";
    out.push(`| ${r.method} | ${settingName(r.setting)} | ${r.setting.finished.length} | ${reach} | ${list(r.cells.filter((c) => c.reading === "better"))} | ${list(r.cells.filter((c) => c.reading === "worse"))} | ${r.cells.length ? `${even} of ${r.cells.length}` : "— (under 2 seed pairs)"} | ${holmColumn} |`);
  }
  return out.join("\n");
}

/** A p-value in two significant digits (exponent form below 0.001). */
export function formatP(p: number): string {
  if (Number.isNaN(p)) return "—";
  return p < 0.001 ? p.toExponential(1) : p.toPrecision(2);
}

const mean = (xs: readonly number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
const finiteValues = (xs: readonly (number | null | undefined)[]): number[] => xs.filter((v): v is number => typeof v === "number" && Number.isFinite(v));

/** Per run: the mean over its trained epochs of `pick` (null when no epoch has it). */
export function runEpochMean(s: RunSummary, pick: (e: RunSummary["epochs"][number]) => number | null | undefined): number | null {
  return mean(finiteValues(s.epochs.map(pick)));
}

/** The proxy-side columns of the method-statistics table: per run an epoch mean, then mean ± sd over the runs. */
export const SIDE_STATISTICS: { label: string; digits: number; pick: (e: RunSummary["epochs"][number]) => number | null | undefined }[] = [
  { label: "outside the clip range", digits: 3, pick: (e) => e.clip },
  { label: "P(clip \\| A>0)", digits: 3, pick: (e) => e.clipPositive },
  { label: "P(clip \\| A<0)", digits: 3, pick: (e) => e.clipNegative },
  { label: "masked (DPPO)", digits: 3, pick: (e) => e.methodStats.dppoMasked },
  { label: "gated (GARDO)", digits: 3, pick: (e) => e.methodState.gatedFraction },
  { label: "hinge active (NormGuard)", digits: 3, pick: (e) => e.methodStats.normGuardActive },
  { label: "R = ‖v_θ‖/‖v_ref‖", digits: 4, pick: (e) => e.velocityNorm },
];

function meanSd(xs: readonly number[], digits: number): string {
  if (xs.length === 0) return "—";
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length === 1) return m.toFixed(digits);
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
  return `${m.toFixed(digits)} ± ${sd.toFixed(digits)}`;
}

/** The training proxy's peak (per-epoch rollout mean) and the completed epoch it was reached at. */
export function trainingPeak(s: RunSummary): { proxy: number; epoch: number } | null {
  let best: { proxy: number; epoch: number } | null = null;
  for (const e of s.epochs) if (e.proxy !== null && Number.isFinite(e.proxy) && (best === null || e.proxy > best.proxy)) best = { proxy: e.proxy, epoch: e.epoch };
  return best;
}

/** Proxy-side facts per method × setting (finished runs): clip and method fractions, R, epochs, the training proxy's peak. */
export function methodStatisticsTable(methods: readonly MethodGroup[]): string {
  const head = ["method", "setting", "finished runs", "epochs run", ...SIDE_STATISTICS.map((c) => c.label), "training-proxy peak", "epoch of the peak"];
  const out = [`| ${head.join(" | ")} |`, `|${head.map(() => "---|").join("")}`];
  for (const m of methods)
    for (const s of m.settings) {
      const runs = s.finished;
      const epochs = runs.map((r) => r.epochsDone);
      const planned = [...new Set(runs.map((r) => r.epochsPlanned))];
      const epochText = runs.length ? `${Math.min(...epochs) === Math.max(...epochs) ? epochs[0] : `${Math.min(...epochs)}–${Math.max(...epochs)}`}/${planned.length === 1 && planned[0] !== null ? planned[0] : "?"}` : "—";
      const peaks = runs.map(trainingPeak).filter((p): p is { proxy: number; epoch: number } => p !== null);
      const stats = SIDE_STATISTICS.map((c) => meanSd(finiteValues(runs.map((r) => runEpochMean(r, c.pick))), c.digits));
      out.push(`| ${m.method} | ${settingName(s)} | ${runs.length}${s.planned === null ? "" : `/${s.planned}`} | ${epochText} | ${stats.join(" | ")} | ${meanSd(peaks.map((p) => p.proxy), 4)} | ${peaks.length ? peaks.map((p) => p.epoch).join(", ") : "—"} |`);
    }
  return out.join("\n");
}

/**
 * The training proxy's trajectory per method × setting: at every `every`-th completed epoch, the
 * mean of the rollouts' reward over the `window` epochs ending there (per run), then mean ± sd
 * over the finished runs. The pilot's record of how fast each setting moves the proxy.
 */
export function proxyTrajectoryTable(methods: readonly MethodGroup[], every = 10, window = 5): string {
  const runs = finished(methods);
  const last = Math.max(0, ...runs.flatMap((r) => r.epochs.map((e) => e.epoch)));
  const marks = Array.from({ length: Math.floor(last / every) }, (_, i) => (i + 1) * every);
  if (marks.length === 0) return "No finished run has trained " + every + " epochs yet.";
  const start = (r: RunSummary) => r.epochs.reduce<RunSummary["epochs"][number] | null>((first, e) => (first === null || e.epoch < first.epoch ? e : first), null)?.proxy ?? null;
  const head = ["method", "setting", "first epoch", ...marks.map((m) => `epochs ${m - window + 1}–${m}`)];
  const out = [`| ${head.join(" | ")} |`, `|${head.map(() => "---|").join("")}`];
  for (const m of methods)
    for (const s of m.settings) {
      if (s.finished.length === 0) continue;
      const at = (mark: number) => meanSd(finiteValues(s.finished.map((r) => mean(finiteValues(r.epochs.filter((e) => e.epoch > mark - window && e.epoch <= mark).map((e) => e.proxy))))), 3);
      out.push(`| ${m.method} | ${settingName(s)} | ${meanSd(finiteValues(s.finished.map(start)), 3)} | ${marks.map(at).join(" | ")} |`);
    }
  return out.join("\n");
}

/** How many runs the page is built from, per method: finished / planned, partial, not started. */
/** A finished run's evaluations made later at its checkpoints (`summarize --checkpoint-evals`), and the epochs its evaluations (own and later) are apart at most. */
export function evaluationDensity(s: RunSummary): { fromCheckpoint: number; widestGap: number | null } {
  const epochs = s.evaluations.map((e) => e.epoch).sort((a, b) => a - b);
  const gaps = epochs.slice(1).map((e, i) => e - epochs[i]);
  return { fromCheckpoint: s.evaluations.filter((e) => e.fromCheckpoint).length, widestGap: gaps.length ? Math.max(...gaps) : null };
}

export function coverageTable(methods: readonly MethodGroup[]): string {
  const out = ["| method | settings | finished / planned runs | partial (not in the tables) | no summary yet | finished runs with evaluations at their checkpoints (widest gap, epochs) |", "|---|---|---|---|---|---|"];
  for (const m of methods) {
    const finishedRuns = m.settings.flatMap((s) => s.finished);
    const fin = finishedRuns.length;
    const part = m.settings.reduce((a, s) => a + s.partial.length, 0);
    const planned = m.settings.every((s) => s.planned !== null) ? m.settings.reduce((a, s) => a + (s.planned ?? 0), 0) : null;
    const density = finishedRuns.map(evaluationDensity);
    const dense = density.filter((d) => d.fromCheckpoint > 0).length;
    const gaps = [...new Set(density.map((d) => d.widestGap).filter((g): g is number => g !== null))].sort((a, b) => a - b);
    out.push(`| ${m.method} | ${m.settings.map(settingName).join(", ")} | ${fin} / ${planned ?? "?"} | ${part} | ${planned === null ? "?" : Math.max(0, planned - fin - part)} | ${fin ? `${dense} of ${fin} (${gaps.join(", ") || "—"})` : "—"} |`);
  }
  return out.join("\n");
}

/**
 * Which level a headline reads: `every-method` — the highest level at which every method with
 * a finished run has a setting all of whose finished runs reach it (each method's envelope,
 * the matched-proxy comparison of all methods); `farthest` — the highest level that every
 * finished run of at least two settings reaches (where the methods that travel farthest differ).
 */
export type HeadlineScope = "every-method" | "farthest";

export interface Headline {
  scope: HeadlineScope;
  level: number;
  /** Settings whose finished runs all reach the level (the ones compared), and the ones censored there. */
  compared: SettingGroup[];
  censored: SettingGroup[];
  /** Every-method scope: methods left out because no setting's finished runs all reach even the lowest level (they do not move the proxy). */
  stalled: string[];
  /** The lowest matched-proxy level of the report (what "stalled" is measured against). */
  lowest: number;
  best: { component: ComponentInfo; setting: SettingGroup; cell: MatchedCell; next: { setting: SettingGroup; cell: MatchedCell; paired: PairedDifference | null } | null }[];
}

export interface PairedDifference {
  /** Seeds both settings reached the level with. */
  pairs: number;
  /** Mean of (a − b) over those seeds and its 95 % t-interval ([NaN, NaN] below 2 pairs). */
  mean: number;
  ci: [number, number];
  /** Two-sided paired t-test of "no difference" (NaN below 2 pairs). */
  p: number;
}

/**
 * a − b at one proxy level, paired by seed (B3 asks for paired seeds: runs with the same seed
 * start from the same random streams): the mean and t-interval of the differences of the runs'
 * first-crossing values, over the seeds with which both settings' finished runs reached the level.
 */
export function pairedDifference(a: SettingGroup, b: SettingGroup, level: number, key: string): PairedDifference | null {
  const at = (s: RunSummary) => {
    const crossing = atProxyLevel(evalPoints(s, key), level);
    return crossing.reached ? (crossing.values[key] ?? null) : null;
  };
  const diffs = a.finished.flatMap((ra) => {
    const rb = b.finished.find((r) => r.seed === ra.seed);
    const [va, vb] = [at(ra), rb ? at(rb) : null];
    return va !== null && vb !== null ? [va - vb] : [];
  });
  if (diffs.length === 0) return null;
  const { value, ci } = meanCi(diffs);
  return { pairs: diffs.length, mean: value, ci, p: tTestP(diffs) };
}

/**
 * A headline: the highest matched-proxy level of its scope (HeadlineScope), and per component
 * the setting with the best mean there (and the runner-up), with their t-intervals and the
 * seed-paired difference. Settings with a censored run at that level are listed, not compared.
 * Null when no level qualifies.
 */
export function headline(methods: readonly MethodGroup[], components: readonly ComponentInfo[], levels: readonly number[], scope: HeadlineScope = "farthest"): Headline | null {
  const settings = methods.flatMap((m) => m.settings).filter((s) => s.finished.length > 0);
  const crossingKey = components[0]?.key;
  if (!crossingKey) return null;
  const reachesAll = (s: SettingGroup, level: number) => settingCells(s, [level], crossingKey)[0].censored === 0;
  const withRuns = methods.filter((m) => m.settings.some((s) => s.finished.length > 0));
  // A method that does not reach even the lowest level would leave "every method" without any level: it is named, not waited for.
  const lowest = Math.min(...levels);
  const stalled = scope === "every-method" ? withRuns.filter((m) => !m.settings.some((s) => s.finished.length > 0 && reachesAll(s, lowest))) : [];
  const moving = withRuns.filter((m) => !stalled.includes(m));
  for (const level of [...levels].sort((a, b) => b - a)) {
    const reachedAll = settings.filter((s) => reachesAll(s, level));
    if (reachedAll.length < 2) continue;
    if (scope === "every-method" && !moving.every((m) => m.settings.some((s) => reachedAll.includes(s)))) continue;
    const best = components.flatMap((component) => {
      const ranked = reachedAll
        .map((setting) => ({ setting, cell: settingCells(setting, [level], component.key)[0] }))
        .filter((r) => r.cell.reached > 0 && Number.isFinite(r.cell.mean))
        .sort((a, b) => (component.better === "higher" ? b.cell.mean - a.cell.mean : a.cell.mean - b.cell.mean));
      const next = ranked[1] ? { ...ranked[1], paired: pairedDifference(ranked[0].setting, ranked[1].setting, level, component.key) } : null;
      return ranked.length ? [{ component, setting: ranked[0].setting, cell: ranked[0].cell, next }] : [];
    });
    return { scope, level, compared: reachedAll, censored: settings.filter((s) => !reachedAll.includes(s)), stalled: stalled.map((m) => m.method), lowest, best };
  }
  return null;
}

export function headlineMarkdown(proxy: string, h: Headline | null, scope: HeadlineScope = h?.scope ?? "farthest"): string {
  if (!h) {
    return scope === "every-method"
      ? `Headline (${proxy}, every method): no proxy level is reached by a setting of every method yet.`
      : `Headline (${proxy}): no proxy level is reached by every finished run of two or more settings yet.`;
  }
  const name = (s: SettingGroup) => `${s.method} / ${settingName(s)}`;
  const cell = (key: string, c: MatchedCell) => formatCell(key, c);
  const short = h.compared.filter((s) => s.planned !== null && s.finished.length < s.planned);
  const lines = [
    ...(short.length
      ? [`**Provisional** — ${short.map((s) => `${name(s)} has ${s.finished.length} of ${s.planned} seeds finished`).join("; ")}: B3 reads its paired seeds together, so this ranking can still change.`, ``]
      : []),
    h.scope === "every-method"
      ? `Headline (${proxy}, every method${h.stalled.length ? ` that moves the proxy` : ""}), at proxy level ${h.level}: the highest level at which every method has a setting all of whose finished runs reach it (compared: ${h.compared.map(name).join(", ")}${h.censored.length ? `; not compared, a run censored there: ${h.censored.map(name).join(", ")}` : ""})${h.stalled.length ? `. Left out: ${h.stalled.join(", ")} — no setting whose finished runs all reach even the lowest level, ${h.lowest}` : ""}.`
      : `Headline (${proxy}, farthest), at proxy level ${h.level}: the highest level that every finished run of ${h.compared.length} settings reaches (compared: ${h.compared.map(name).join(", ")}${h.censored.length ? `; not compared, a run censored there: ${h.censored.map(name).join(", ")}` : ""}).`,
    ``,
  ];
  const paired = (key: string, p: PairedDifference | null) => {
    if (!p) return "";
    const v = (x: number) => formatDifference(key, x);
    return `; best − next, paired by seed: ${v(p.mean)}${Number.isFinite(p.ci[0]) ? ` [${v(p.ci[0])}, ${v(p.ci[1])}]` : ""} (${p.pairs} ${p.pairs === 1 ? "pair" : "pairs"})`;
  };
  for (const b of h.best) lines.push(`- ${b.component.label} (${b.component.better} is better): best ${name(b.setting)} ${cell(b.component.key, b.cell)}${b.next ? `; next ${name(b.next.setting)} ${cell(b.component.key, b.next.cell)}${paired(b.component.key, b.next.paired)}` : ""}`);
  return lines.join("\n");
}

/** Both headline readings (the farthest one only where it lies above the every-method level; one line when neither has a level). */
export function headlinesMarkdown(proxy: string, methods: readonly MethodGroup[], components: readonly ComponentInfo[], levels: readonly number[]): string {
  const farthest = headline(methods, components, levels, "farthest");
  if (!farthest) return headlineMarkdown(proxy, null, "farthest"); // then no level qualifies for every method either
  const all = headline(methods, components, levels, "every-method");
  const parts = [headlineMarkdown(proxy, all, "every-method")];
  if (!all || farthest.level > all.level) parts.push(headlineMarkdown(proxy, farthest, "farthest"));
  return parts.join("\n\n");
}

/**
 * The frontier figure of one proxy: one panel per component, every run a thin curve in its
 * method's hue (partial runs dashed), the method's envelope (`envelope`) a thick line, the
 * component's noise floor as a grey band.
 */
export function frontierFigure(proxy: string, methods: readonly MethodGroup[], components: readonly ComponentInfo[]): string {
  const panels: PanelSpec[] = components.map((c) => {
    const lines: LineSeries[] = [];
    for (const m of methods) {
      const thin = lighten(m.color, 0.35);
      for (const run of m.settings.flatMap((s) => [...s.finished, ...s.partial])) {
        const points = componentCurve(run, c.key);
        // Markers only where a curve has too few points to be drawn as a line (a pilot's single evaluation): ~60 runs × 7 panels of circles would make the figure heavy.
        lines.push({ label: `${run.run}${run.status === "partial" ? " (partial)" : ""}`, run: run.run, color: thin, width: 1, dash: run.status === "partial" ? "4 3" : undefined, markers: points.length <= 2, points });
      }
      const curves = m.settings.flatMap((s) => s.finished.map((run) => componentCurve(run, c.key)));
      const env = envelope(curves, c.better);
      if (env.length) lines.push({ label: `${m.method} envelope`, run: `${m.method} envelope`, color: m.color, width: 3.5, markers: false, points: env });
    }
    const floors = methods.flatMap((m) => m.settings.flatMap((s) => [...s.finished, ...s.partial].map((run) => run.evaluations.map((e) => ({ epoch: e.epoch, proxy: e.proxy, value: null, ci: null, floor: e.components.find((x) => x.key === c.key)?.floor ?? null })))));
    const axis = componentAxis(c.key, lines.flatMap((l) => l.points.map((p) => p[1])));
    return { ...axis, title: `${c.label} (${c.better} is better${axis.yScale ? "; log scale" : ""})`, xLabel: `proxy reward (${proxy})`, yLabel: c.key, hbands: floorBand(floors, c.better), lines };
  });
  const legend: LegendEntry[] = methods.map((m) => {
    const runs = m.settings.reduce((a, s) => a + s.finished.length, 0);
    return { label: `${m.method} (${runs} finished ${runs === 1 ? "run" : "runs"})`, color: m.color };
  });
  if (methods.some((m) => m.settings.some((s) => s.partial.length))) legend.push({ label: "partial run (not in the envelope)", color: "#999", dash: "4 3" });
  legend.push({ label: "within the noise floor", color: "#888", band: true });
  return renderFigure(
    `B3 frontier: gold against the ${proxy} proxy`,
    panels,
    legend,
    2,
    "thin: one run (points = evaluations, epoch order); thick: the method's upper envelope over its knob settings and seeds (at each proxy level the best value any of its finished runs' interpolated curves takes there)",
  );
}

/** The proxy-side panels of the trajectory figure: the training proxy, then SIDE_STATISTICS (a panel only where some run logs it). */
const TRAJECTORY_PANELS: { label: string; key: string; pick: (e: RunSummary["epochs"][number]) => number | null | undefined }[] = [
  { label: "training proxy (mean reward of the epoch's rollouts)", key: "proxy", pick: (e) => e.proxy },
  ...SIDE_STATISTICS.map((c) => ({ label: c.label.replace("\\|", "|"), key: c.label, pick: c.pick })),
];

/**
 * The proxy-side trajectories (what the B3 pilot fixes knob ranges and the epoch budget from,
 * without reading gold): per completed epoch the training proxy, clip fractions, the methods'
 * masked / gated / hinge-active fractions and R; one curve per run (partial ones dashed), in
 * its method's hue, lighter for later knob settings of the method.
 */
export function trajectoryFigure(proxy: string, methods: readonly MethodGroup[]): string {
  const runs = methods.flatMap((m) =>
    m.settings.flatMap((s, j) => {
      const color = m.settings.length > 1 ? lighten(m.color, (0.5 * j) / (m.settings.length - 1)) : m.color;
      return [...s.finished, ...s.partial].map((run) => ({ run, color, setting: settingName(s) }));
    }),
  );
  const panels = TRAJECTORY_PANELS.flatMap((panel): PanelSpec[] => {
    const lines: LineSeries[] = runs.flatMap(({ run, color, setting }) => {
      const points = run.epochs.flatMap((e): Point[] => {
        const v = panel.pick(e);
        return typeof v === "number" && Number.isFinite(v) ? [[e.epoch, v]] : [];
      });
      return points.length ? [{ label: `${setting} s${run.seed}${run.status === "partial" ? " (partial)" : ""}`, run: run.run, color, width: 1.5, markers: false, dash: run.status === "partial" ? "4 3" : undefined, points }] : [];
    });
    return lines.length ? [{ title: panel.label, xLabel: "completed training epochs", yLabel: panel.key === "proxy" ? proxy : panel.label, integerX: true, lines }] : [];
  });
  const legend: LegendEntry[] = methods.flatMap((m) =>
    m.settings.map((s, j) => ({ label: settingName(s) === m.method ? m.method : `${m.method}: ${settingName(s)}`, color: m.settings.length > 1 ? lighten(m.color, (0.5 * j) / (m.settings.length - 1)) : m.color })),
  );
  if (runs.some((r) => r.run.status === "partial")) legend.push({ label: "partial run", color: "#999", dash: "4 3" });
  return renderFigure(`B3 proxy side: ${proxy}`, panels, legend, 2, "per completed training epoch, off-policy minibatches only; one curve per run");
}

export const markers = (key: string): { begin: string; end: string } => ({ begin: `<!-- b3:${key}:begin -->`, end: `<!-- b3:${key}:end -->` });

/**
 * Replace what lies between a key's markers (the markers stay); append the markers with the
 * content at the end of the page when they are absent. Everything else is kept byte for byte.
 */
export function replaceMarked(page: string, key: string, content: string, source = "page"): string {
  const { begin, end } = markers(key);
  const b = page.indexOf(begin);
  const e = page.indexOf(end);
  if (b < 0 && e < 0) return `${page}${page === "" || page.endsWith("\n") ? "" : "\n"}${page === "" ? "" : "\n"}${begin}\n${content}\n${end}\n`;
  if (b < 0 || e < 0 || e < b) throw new UserError(`${source}: ${b < 0 ? `"${end}" without "${begin}"` : e < 0 ? `"${begin}" without "${end}"` : `"${end}" comes before "${begin}"`}; fix or remove the markers`);
  if (page.indexOf(begin, b + 1) >= 0) throw new UserError(`${source}: "${begin}" appears twice; keep one pair of markers`);
  return `${page.slice(0, b + begin.length)}\n${content}\n${page.slice(e)}`;
}

export interface B3ReportInput {
  /** The marker key and figure name: the sweep's name without "b3-" (aesthetic, ocr, aesthetic-pilot). */
  key: string;
  sweep: string;
  summaries: readonly RunSummary[];
  plan?: readonly PlannedEntry[];
  /** Where the summaries came from (for the page). */
  summariesDir: string;
  /** The command that regenerates the section (for the page). */
  command: string;
  /** The page file; figures go to `figuresDir`. */
  page: string;
  figuresDir: string;
  /** Also write the headline block between `<!-- b3:<key>-headline:begin/end -->` of this file (e.g. README.md). */
  headlineFile?: string;
  /** A pilot: proxy-side statistics only, no gold (B3 fixes knob ranges "on proxy-side signals only, never by looking at gold"). */
  proxySideOnly?: boolean;
}

/** A pilot sweep (name ending in -pilot) gets a proxy-side-only section. */
export const isPilot = (sweep: string): boolean => sweep.endsWith("-pilot");

export interface B3Report {
  markdown: string;
  /** The frontier figure (null for a proxy-side-only section). */
  figure: string | null;
  figureFile: string;
  trajectories: string;
  trajectoriesFile: string;
  /** The headline block alone (numbers only), as it appears in the section. */
  headline: string;
  methods: MethodGroup[];
  ignored: RunSummary[];
}

/** The section's markdown and figure (pure: no files written). */
export function buildB3Report(input: B3ReportInput): B3Report {
  const summaries = input.summaries.filter((s) => s.sweep === null || s.sweep === input.sweep);
  const otherSweeps = input.summaries.length - summaries.length;
  const { methods, ignored } = groupRuns(summaries, input.plan);
  const used = methods.flatMap((m) => m.settings.flatMap((s) => [...s.finished, ...s.partial]));
  const proxy = [...new Set(used.map((s) => s.proxy.name))].join(", ") || "proxy";
  const components = reportComponents(used);
  const levels = reportLevels(methods);
  const figureFile = join(input.figuresDir, `b3-${input.key}-frontier.svg`);
  const trajectoriesFile = join(input.figuresDir, `b3-${input.key}-proxy-side.svg`);
  const rel = (file: string) => relative(dirname(input.page), file) || file;
  const nFinished = used.filter((s) => s.status === "finished").length;
  const nPartial = used.length - nFinished;
  const planned = input.plan?.length ?? null;
  const gold = !input.proxySideOnly;
  const headlineText = gold ? headlinesMarkdown(proxy, methods, components, levels) : "";
  const left = [ignored.length ? `${ignored.length} more of this sweep are not runs of its plan (other knob values or seeds)` : "", otherSweeps ? `${otherSweeps} belong to other sweeps` : ""].filter(Boolean);
  const markdown = [
    `<!-- generated by \`${input.command}\`; edits between these markers are overwritten -->`,
    ``,
    `**B3, ${input.sweep}** (proxy: ${proxy}). Built from **${nFinished} finished runs of ${planned ?? "an unknown number of"} planned**${nPartial ? ` (${nPartial} partial, drawn dashed, not in any table)` : ""}; summaries in \`${input.summariesDir}\`${left.length ? ` (left out: ${left.join("; ")})` : ""}. Regenerate with \`${input.command}\`.`,
    ``,
    coverageTable(methods),
    ``,
    ...(gold
      ? [
          headlineText,
          ``,
          `![B3 frontier, ${proxy}](${rel(figureFile)})`,
          ``,
          `**Gold at matched proxy** (src/diagnostics/matched-proxy.ts; finished runs only; levels from the data: evenly spaced above the highest first evaluation up to the highest peak; each run's evaluations are its own and, where the coverage table says so, those made later at its checkpoints — gold is interpolated between neighbouring evaluations, so a run whose evaluations lie far apart in proxy is read less exactly: docs/results.md, "Reading gold between evaluations"):`,
          ``,
          matchedProxyTables(methods, components, levels),
          `**Against Flow-GRPO at matched proxy** (the same crossings, each setting minus Flow-GRPO's on the same seed; "—": no seed where both reached the level):`,
          ``,
          baselineTables(methods, components, levels),
          `**What each setting buys or costs against Flow-GRPO** (generated from the tables above; the material of the verdict, not the verdict: how far each setting's runs travel — their highest evaluated proxy, paired by seed — and every matched-proxy difference above with at least two seed pairs, listed where its 95 % t-interval excludes 0 and counted where it does not. Those intervals are per cell: read together, about one cell in twenty excludes 0 by chance. **H** marks a difference that also stands after Holm's correction over all of the setting's cells (paired t-tests, family-wise 5 %; the last column gives the smallest p and the first threshold it must pass, 0.05 ÷ cells) — with three seeds a t-test reaches that only for very consistent differences — twelve cells put the first threshold at 0.05 ÷ 12, which needs t > 15 at 2 degrees of freedom — so an unmarked listing is a lead, not a finding):`,
          ``,
          evidenceTable(methods, components, levels),
          ``,
          ...otherBaselineSettings(methods).flatMap((other) => [
            `**The same against Flow-GRPO / ${settingName(other)}** (another setting of the baseline method — a control for what travelling faster or slower costs at equal proxy; read as above):`,
            ``,
            evidenceTable(methods, components, levels, "flow-grpo", other),
            ``,
          ]),
        ]
      : [`A pilot: proxy-side signals only. Gold is not shown (B3 fixes knob ranges and the epoch budget on proxy-side signals only, never by looking at gold); the summaries keep it.`]),
    ``,
    `**Proxy-side statistics** (finished runs; per run the mean over its trained epochs of the off-policy statistics, then mean ± sd over seeds; the training proxy is the rollouts' mean reward per epoch):`,
    ``,
    methodStatisticsTable(methods),
    ``,
    `**Training proxy along the run** (the rollouts' mean reward, averaged over 5 epochs, per run; mean ± sd over finished runs):`,
    ``,
    proxyTrajectoryTable(methods),
    ``,
    `![B3 proxy side, ${proxy}](${rel(trajectoriesFile)})`,
  ].join("\n");
  return { markdown, figure: gold ? frontierFigure(proxy, methods, components) : null, figureFile, trajectories: trajectoryFigure(proxy, methods), trajectoriesFile, headline: headlineText, methods, ignored };
}

/** Write the figure and the page's marked section; returns the report. */
export function writeB3Report(input: B3ReportInput): B3Report {
  if (input.headlineFile && input.proxySideOnly) throw new UserError(`--headline: ${input.sweep} is a pilot; its section shows no gold, so it has no headline`);
  const report = buildB3Report(input);
  mkdirSync(input.figuresDir, { recursive: true });
  if (report.figure !== null) writeFileSync(report.figureFile, report.figure);
  writeFileSync(report.trajectoriesFile, report.trajectories);
  const previous = existsSync(input.page) ? readFileSync(input.page, "utf8") : "";
  mkdirSync(dirname(input.page), { recursive: true });
  writeFileSync(input.page, replaceMarked(previous, input.key, report.markdown, input.page));
  if (input.headlineFile) {
    const text = existsSync(input.headlineFile) ? readFileSync(input.headlineFile, "utf8") : "";
    writeFileSync(input.headlineFile, replaceMarked(text, `${input.key}-headline`, `<!-- generated by \`${input.command} --headline ${input.headlineFile}\` -->\n${report.headline}`, input.headlineFile));
  }
  return report;
}

/** The B3 naming rules: a sweep named b3-<x> writes the section b3:<x> and, by default, summaries to results/b3/<proxy>/. */
export const isB3Sweep = (name: string): boolean => name.startsWith("b3-");
export const reportKey = (sweep: string): string => sweep.replace(/^b3-/, "");
export const defaultSummariesDir = (proxy: string): string => join("results", "b3", proxy);
