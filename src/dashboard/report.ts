/**
 * `grpo-guard report`: the dashboard's figures as standalone SVG files (written here, no
 * browser) plus a markdown summary table. The per-timestep figures show a few epochs side by
 * side (first … last trained epoch) where the page has an epoch slider; the image timeline
 * embeds a few evaluation grids per run.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { UserError } from "../engine/errors.js";
import { loadRun, runNames, type LoadedRun } from "./runs.js";
import {
  alarmEpochs,
  assignMethods,
  componentCatalog,
  goldComponents,
  goldFallsWhileProxyRises,
  offScaleRuns,
  OFF_SCALE_FACTOR,
  type MethodAssignment,
  type StepTable,
  alignedEvalCurves,
  describeSkipped,
  faultCount,
  formatNumber,
  imageName,
  stepTable,
  summarizeRun,
  evalRecords,
  trainedEpochs,
  type RatioField,
} from "./series.js";
import { goldComponentPanels, type GoldAxis } from "./gold-panels.js";
import { cropPngGrey } from "../diagnostics/image-grid.js";
import { escapeXml, extent, formatTick, renderFigure, type BandSeries, type LegendEntry, type LineSeries, type PanelSpec, type Point } from "./svg.js";

export const FIGURES = {
  proxyGold: "proxy-gold.svg",
  ratio: "ratio-distribution.svg",
  clip: "clip-fractions.svg",
  grad: "grad-norms.svg",
  frontier: "gold-frontier.svg",
  components: "gold-components.svg",
  images: "image-timeline.svg",
} as const;

/** Up to `n` values from a sorted list, evenly spaced, always with the first and the last. */
export function pickEvenly(values: readonly number[], n: number): number[] {
  if (values.length <= n) return [...values];
  const picked = new Set<number>();
  for (let i = 0; i < n; i++) picked.add(values[Math.round((i * (values.length - 1)) / (n - 1))]);
  return [...picked];
}

const zip = (xs: readonly number[], ys: readonly (number | null)[]): Point[] => xs.map((x, i) => [x, ys[i] ?? null]);

function unionSorted(lists: readonly (readonly number[])[]): number[] {
  return [...new Set(lists.flat())].sort((a, b) => a - b);
}

/** The runs of a figure, their display names and which method each belongs to (colours: method hue, seed shade). */
interface Cast {
  runs: readonly LoadedRun[];
  names: readonly string[];
  methods: MethodAssignment;
}

function cast(runs: readonly LoadedRun[], names: readonly string[]): Cast {
  return { runs, names, methods: assignMethods(runs.map((r, k) => ({ name: names[k], meta: r.meta }))) };
}

/** How a run is told apart from the other seeds of its method. */
function seedTag(c: Cast, k: number): string {
  const seed = c.runs[k].meta.settings?.seed;
  return c.methods.methods[c.methods.method[k]].runs.length > 1 && seed !== undefined ? `seed ${seed}` : c.names[k];
}

/** One legend entry per method: its colour; seeds as lighter shades. */
function methodLegend(c: Cast): LegendEntry[] {
  return c.methods.methods.map((m) => ({
    label: m.runs.length === 1 ? `${c.names[m.runs[0]]} (${m.label})` : `${m.label}: ${m.runs.length} runs, ${m.runs.map((k) => seedTag(c, k)).join(", ")} (darker → lighter)`,
    color: m.color,
  }));
}

const GREY = "#555";

export function proxyGoldFigure(runs: readonly LoadedRun[], names: readonly string[]): string {
  const c = cast(runs, names);
  const records = runs.map((r) => r.records);
  const curves = alignedEvalCurves(records);
  // Shared scales, so the methods' panels compare at a glance.
  const yDomain = extent(curves.proxy.flat());
  const yRightDomain = extent(curves.gold.flat());
  const panels = c.methods.methods.map((method): PanelSpec => ({
    title: method.runs.length === 1 ? `${names[method.runs[0]]}: ${method.label}` : method.label,
    xLabel: "completed training epochs",
    yLabel: "proxy reward",
    yRightLabel: "gold score",
    integerX: true,
    yDomain,
    yRightDomain,
    lines: method.runs.flatMap((k) => [
      { label: `${names[k]} proxy`, run: names[k], color: c.methods.colors[k], points: zip(curves.epochs, curves.proxy[k]) },
      { label: `${names[k]} gold`, run: names[k], color: c.methods.colors[k], dash: "8 5", axis: "right" as const, points: zip(curves.epochs, curves.gold[k]) },
    ]),
    markers: method.runs.flatMap((k) => alarmEpochs(records[k]).map((epoch) => ({ x: epoch, color: c.methods.colors[k], label: method.runs.length > 1 ? `alarm @ ${epoch} (${seedTag(c, k)})` : `alarm @ ${epoch}` }))),
    vbands: method.runs.flatMap((k) => goldFallsWhileProxyRises(records[k]).map((span) => ({ ...span, color: c.methods.colors[k], opacity: 0.14, label: `${names[k]}: gold falls while the proxy rises, epochs ${span.from}–${span.to}` }))),
  }));
  const legend: LegendEntry[] = [
    ...methodLegend(c),
    { label: "proxy reward (left axis)", color: GREY },
    { label: "gold score (right axis)", color: GREY, dash: "8 5" },
    { label: "gold falls while the proxy rises", color: GREY, band: true },
  ];
  return renderFigure(
    "Proxy and gold",
    panels,
    legend,
    2,
    "One panel per method (same scales), seeds as lighter shades of its colour. EMA policy, fixed evaluation prompts and noise; dotted vertical lines: over-optimisation alarms; shaded spans: gold fell while the proxy rose between two evaluations, whether or not the alarm fired.",
  );
}

export function ratioFigure(runs: readonly LoadedRun[], names: readonly string[], epochs: readonly number[], field: RatioField = "clippedLogRatio"): string {
  const c = cast(runs, names);
  const records = runs.map((r) => r.records);
  const tables = epochs.map((e) => stepTable(records, e, field));
  const bounds = new Map<number, string>();
  for (const run of runs) {
    if (run.meta.clipHigh !== undefined) bounds.set(Math.log(1 + run.meta.clipHigh), `log(1+${run.meta.clipHigh})`);
    if (run.meta.clipLow !== undefined && run.meta.clipLow < 1) bounds.set(Math.log(1 - run.meta.clipLow), `log(1−${run.meta.clipLow})`);
  }
  const few = runs.length <= 4;
  const panels = epochs.map((epoch, i): PanelSpec => {
    const t = tables[i];
    // Each epoch has its own scale, set by the runs whose tails are within OFF_SCALE_FACTOR× the
    // median run's: one run with huge tails is drawn cut at the edge and named, not allowed to
    // flatten every other run.
    const offScale = offScaleRuns(t);
    const yDomain = extent(t.runs.filter((r, k) => r.present && !offScale[k]).flatMap((r) => [...r.quantiles.p1, ...r.quantiles.p99, ...r.quantiles.p50]));
    return {
      title: `epoch ${epoch}`,
      xLabel: "sampling step (0 = pure noise)",
      yLabel: `${field === "logRatio" ? "log r" : "clipped log-ratio"} (own scale)`,
      integerX: true,
      yDomain,
      notes: t.runs.flatMap((r, k) => {
        if (!offScale[k]) return [];
        const lo = Math.min(...r.quantiles.p1.filter((v): v is number => v !== null));
        const hi = Math.max(...r.quantiles.p99.filter((v): v is number => v !== null));
        return [{ text: `off scale: ${names[k]} (p1…p99 ${formatTick(lo)} … ${formatTick(hi)})`, color: c.methods.colors[k] }];
      }),
      bands: t.runs.flatMap((r, k) => [
        ...(few ? [{ label: `${names[k]} p1–p99`, run: names[k], color: c.methods.colors[k], opacity: 0.12, upper: zip(t.steps, r.quantiles.p99), lower: zip(t.steps, r.quantiles.p1) }] : []),
        { label: `${names[k]} p5–p95`, run: names[k], color: c.methods.colors[k], opacity: few ? 0.25 : 0.1, upper: zip(t.steps, r.quantiles.p95), lower: zip(t.steps, r.quantiles.p5) },
      ]),
      lines: t.runs.map((r, k) => ({ label: `${names[k]} p50`, run: names[k], color: c.methods.colors[k], points: zip(t.steps, r.quantiles.p50) })),
      hlines: field === "clippedLogRatio" ? [...bounds].map(([y, label]) => ({ y, color: "#999", label: `clip bound ${label}` })) : [],
    };
  });
  const legend: LegendEntry[] = [
    ...methodLegend(c),
    { label: "median", color: GREY },
    { label: few ? "p5–p95 (darker) and p1–p99 band" : "p5–p95 band", color: GREY, band: true },
  ];
  return renderFigure(
    "Log-ratio distribution per timestep",
    panels,
    legend,
    2,
    `Quantiles of the clipped log-ratio (log r for Flow-GRPO, log ρ̂ for GRPO-Guard) per trained step. Each epoch has its own y scale, set by the runs whose tails are within ${OFF_SCALE_FACTOR}× the median run's; a run beyond that is cut at the edge and named in the panel. Grey dashed: clip range when in view.`,
  );
}

/** Per step: the mean over a method's runs and their min–max (null where no run has a value). */
function overSeeds(table: StepTable, members: readonly number[], pick: (r: StepTable["runs"][number]) => (number | null)[]): { mean: (number | null)[]; lo: (number | null)[]; hi: (number | null)[] } {
  const cols = table.steps.map((_, i) => members.map((k) => pick(table.runs[k])[i]).filter((v): v is number => v !== null && Number.isFinite(v)));
  return {
    mean: cols.map((xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null)),
    lo: cols.map((xs) => (xs.length ? Math.min(...xs) : null)),
    hi: cols.map((xs) => (xs.length ? Math.max(...xs) : null)),
  };
}

/** Per-step lines of each method (mean over its seeds) with a min–max band where it has several. */
function methodStepSeries(c: Cast, t: StepTable, parts: { suffix: string; dash?: string; pick: (r: StepTable["runs"][number]) => (number | null)[] }[]): Pick<PanelSpec, "lines" | "bands"> {
  const lines: LineSeries[] = [];
  const bands: BandSeries[] = [];
  for (const method of c.methods.methods) {
    const members = method.runs.filter((k) => t.runs[k].present || t.runs[k].gradEpoch !== null);
    for (const part of parts) {
      const agg = overSeeds(t, members, part.pick);
      if (members.length > 1) bands.push({ label: `${method.label} ${part.suffix} min–max over runs`, run: method.label, color: method.color, opacity: 0.15, upper: zip(t.steps, agg.hi), lower: zip(t.steps, agg.lo) });
      lines.push({ label: `${method.label} ${part.suffix}`, run: method.label, color: method.color, dash: part.dash, points: zip(t.steps, agg.mean) });
    }
  }
  return { lines, bands };
}

function seedsLegend(c: Cast): LegendEntry[] {
  return c.methods.methods.map((m) => ({ label: m.runs.length === 1 ? `${c.names[m.runs[0]]} (${m.label})` : `${m.label}: mean of ${m.runs.length} runs, band min–max`, color: m.color }));
}

export function clipFigure(runs: readonly LoadedRun[], names: readonly string[], epochs: readonly number[]): string {
  const c = cast(runs, names);
  const records = runs.map((r) => r.records);
  const tables = epochs.map((e) => stepTable(records, e));
  const top = Math.max(0.05, ...tables.flatMap((t) => t.runs.flatMap((r) => [...r.clipPositive, ...r.clipNegative])).filter((v): v is number => v !== null && Number.isFinite(v)).map((v) => v * 1.1));
  const signs = [
    { title: "P(ρ > 1+ε | A > 0)", suffix: "P(clip | A>0)", pick: (r: StepTable["runs"][number]) => r.clipPositive },
    { title: "P(ρ < 1−ε | A < 0)", suffix: "P(clip | A<0)", pick: (r: StepTable["runs"][number]) => r.clipNegative },
  ];
  const panels = epochs.flatMap((epoch, i) =>
    signs.map((sign): PanelSpec => ({
      title: `epoch ${epoch}: ${sign.title}`,
      xLabel: "sampling step (0 = pure noise)",
      yLabel: "clipped fraction",
      integerX: true,
      yDomain: [0, top],
      ...methodStepSeries(c, tables[i], [{ suffix: sign.suffix, pick: sign.pick }]),
    })),
  );
  return renderFigure(
    "Clip fraction by advantage sign per timestep",
    panels,
    seedsLegend(c),
    2,
    "Rows: epochs; left: positive advantages clipped above, right: negative advantages clipped below. One line per method (mean over its runs; band: min–max over runs), same y scale in every panel.",
  );
}

function perStepPanels(
  runs: readonly LoadedRun[],
  epochs: readonly number[],
  build: (table: StepTable, epoch: number) => Omit<PanelSpec, "title" | "xLabel" | "integerX">,
): PanelSpec[] {
  const records = runs.map((r) => r.records);
  return epochs.map((epoch) => ({ title: `epoch ${epoch}`, xLabel: "sampling step (0 = pure noise)", integerX: true, ...build(stepTable(records, epoch), epoch) }));
}

export function gradFigure(runs: readonly LoadedRun[], names: readonly string[], epochs: readonly number[]): string {
  const c = cast(runs, names);
  const panels = perStepPanels(runs, epochs, (t) => ({
    yLabel: "gradient norm",
    ...methodStepSeries(c, t, [
      { suffix: "after weighting", pick: (r) => r.gradAfter },
      { suffix: "before weighting", dash: "8 5", pick: (r) => r.gradBefore },
    ]),
  }));
  const legend: LegendEntry[] = [...seedsLegend(c), { label: "after the step weight", color: GREY }, { label: "before", color: GREY, dash: "8 5" }];
  return renderFigure("Gradient norm per timestep", panels, legend, 2, "per trained step, measured every diagnostics.gradNormEvery epochs (the newest measurement at or before each epoch); one line per method (mean over its runs; band: min–max)");
}

/**
 * Gold components against the proxy reward (the frontier, benchmarks B2/B3) or against epochs:
 * one panel per component, one curve per run (points = evaluations in epoch order), CIs as
 * whiskers and the noise floor as a grey band. Null when no evaluation has gold metrics.
 */
export function goldComponentsFigure(runs: readonly LoadedRun[], names: readonly string[], against: GoldAxis): string | null {
  const c = cast(runs, names);
  const panels = goldComponentPanels(runs.map((r) => r.records), names, c.methods.colors, against);
  if (panels.length === 0) return null;
  const legend: LegendEntry[] = [...methodLegend(c), { label: "noise floor: real vs real at the same sample size", color: "#888", band: true }];
  return against === "proxy"
    ? renderFigure("Gold components against proxy reward (the frontier)", panels, legend, 2, "One curve per run, one point per evaluation (epoch order along each curve); whiskers: confidence intervals; grey: the side of the noise floor that two real samples reach (a difference inside it is no difference).")
    : renderFigure("Gold components per evaluation", panels, legend, 2, "One curve per run; whiskers: confidence intervals; grey: the side of the noise floor that two real samples reach.");
}

function pngSize(png: Buffer): { width: number; height: number } {
  if (png.length < 24 || png.toString("latin1", 12, 16) !== "IHDR") throw new Error("not a PNG");
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** Rows = runs, columns = a few evaluation epochs; the PNGs are embedded (data URIs). */
/**
 * Evaluation grids per run (rows) and epoch (columns, up to `maxColumns`), embedded as PNG.
 * `crop` keeps the top-left pixels of each grid (greyscale), for figures of many runs;
 * `cellWidth` is the drawn width of one grid.
 */
export function imageTimelineFigure(runs: readonly LoadedRun[], names: readonly string[], maxColumns = 6, crop?: { width: number; height: number }, cellWidth = 150): string | null {
  const epochs = pickEvenly(unionSorted(runs.map((r) => r.images)), maxColumns);
  if (epochs.length === 0) return null;
  const colors = cast(runs, names).methods.colors;
  const labelWidth = Math.max(140, 10 + 8 * Math.max(...names.map((n) => n.length)));
  const cells = runs.map((run) =>
    epochs.map((epoch) => {
      if (!run.images.includes(epoch)) return null;
      try {
        const full = readFileSync(join(run.dir, "images", imageName(epoch)));
        const png = crop ? cropPngGrey(full, crop.width, crop.height) : full;
        const size = pngSize(png);
        return { png, height: Math.round((size.height * cellWidth) / size.width) };
      } catch {
        return null;
      }
    }),
  );
  const rowHeights = cells.map((row) => Math.max(40, ...row.map((c) => c?.height ?? 0)));
  const width = labelWidth + epochs.length * (cellWidth + 10) + 10;
  const height = 60 + rowHeights.reduce((a, b) => a + b + 16, 0);
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>Image timeline</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="16" font-weight="bold">Image timeline</text>`,
  ];
  epochs.forEach((epoch, j) => out.push(`<text class="column" x="${labelWidth + j * (cellWidth + 10) + cellWidth / 2}" y="46" text-anchor="middle">epoch ${epoch}</text>`));
  let y = 56;
  cells.forEach((row, k) => {
    out.push(`<g class="timeline-row" data-run="${escapeXml(names[k])}">`);
    out.push(`<text x="10" y="${y + 16}" fill="${colors[k]}" font-weight="bold">${escapeXml(names[k])}</text>`);
    row.forEach((cell, j) => {
      const x = labelWidth + j * (cellWidth + 10);
      if (cell) {
        out.push(`<image data-epoch="${epochs[j]}" x="${x}" y="${y}" width="${cellWidth}" height="${cell.height}" style="image-rendering:pixelated" href="data:image/png;base64,${cell.png.toString("base64")}"/>`);
      } else {
        out.push(`<text x="${x + cellWidth / 2}" y="${y + 20}" text-anchor="middle" fill="#999">no grid</text>`);
      }
    });
    out.push(`</g>`);
    y += rowHeights[k] + 16;
  });
  out.push(`</svg>`, ``);
  return out.join("\n");
}

const md = (s: string) => s.replace(/\|/g, "\\|");

function perStepList(steps: readonly number[], values: readonly (number | null)[], digits: number): string {
  return steps.length ? steps.map((s, i) => `${s}: ${formatNumber(values[i], digits)}`).join(", ") : "—";
}

/** Final value of each gold component per run: "value [lo, hi]" with its floor. */
function componentsTable(runs: readonly LoadedRun[], names: readonly string[]): string[] {
  const catalog = componentCatalog(runs.map((r) => r.records));
  if (catalog.length === 0) return [];
  const lines = [
    `## Gold components at the last evaluation`,
    ``,
    `Value [confidence interval] (noise floor: the same statistic between two real samples of the same size).`,
    ``,
    `| run | epoch | ${catalog.map((c) => `${md(c.label)} (${c.better} is better)`).join(" | ")} |`,
    `|---|---|${catalog.map(() => "---|").join("")}`,
  ];
  runs.forEach((run, k) => {
    const evals = evalRecords(run.records).filter((e) => e.gold);
    const last = evals[evals.length - 1];
    if (!last) return;
    const components = goldComponents(last.gold);
    const cells = catalog.map((c) => {
      const x = components.find((y) => y.key === c.key);
      if (!x) return "—";
      const ci = x.ci && x.ci[0] !== null && x.ci[1] !== null ? ` [${formatNumber(x.ci[0])}, ${formatNumber(x.ci[1])}]` : "";
      const floor = x.floor !== undefined && x.floor !== null ? ` (floor ${formatNumber(x.floor)})` : "";
      return `${formatNumber(x.value)}${ci}${floor}`;
    });
    lines.push(`| ${md(names[k])} | ${last.epoch} | ${cells.join(" | ")} |`);
  });
  return [...lines, ``];
}

export function summaryMarkdown(runs: readonly LoadedRun[], names: readonly string[], figures: readonly string[], missing: readonly string[] = []): string {
  const lines = [
    `# Training report`,
    ``,
    `${runs.length} run${runs.length === 1 ? "" : "s"}; proxy and gold are evaluations of the EMA policy on fixed prompts and noise. Per-step columns are for the last trained epoch (step: value), using the clipped log-ratio (log r for Flow-GRPO, log ρ̂ for GRPO-Guard).`,
    ``,
    `| run | algorithm | final proxy (epoch) | peak proxy (epoch) | gold at proxy peak | final gold | alarm epoch | gold fell while proxy rose (epochs) | last epoch | mean log-ratio per step | P(clip \\| A>0) per step | P(clip \\| A<0) per step |`,
    `|---|---|---|---|---|---|---|---|---|---|---|---|`,
  ];
  runs.forEach((run, k) => {
    const s = summarizeRun(run.records);
    const algorithm = run.meta.algorithm ? `${run.meta.algorithm}${run.meta.dynamics ? ` / ${run.meta.dynamics}` : ""}` : "—";
    const withEpoch = (v: number | null, e: number | null) => (v === null ? "—" : `${formatNumber(v)} (${e})`);
    const falls = goldFallsWhileProxyRises(run.records).map((f) => `${f.from}–${f.to}`).join(", ") || "—";
    lines.push(
      `| ${md(names[k])} | ${md(algorithm)} | ${withEpoch(s.finalProxy, s.finalEpoch)} | ${withEpoch(s.peakProxy, s.peakEpoch)} | ${formatNumber(s.goldAtPeak)} | ${formatNumber(s.finalGold)} | ${s.alarmEpoch ?? "—"} | ${falls} | ${s.lastEpoch ?? "—"} | ${perStepList(s.steps, s.meanLogRatio, 6)} | ${perStepList(s.steps, s.clipPositive, 3)} | ${perStepList(s.steps, s.clipNegative, 3)} |`,
    );
  });
  lines.push(``, ...componentsTable(runs, names));
  const notes = runs.flatMap((run, k) => {
    const phrases = describeSkipped(run.skipped);
    const faults = faultCount(run.records);
    if (faults) phrases.push(`${faults} fault record${faults === 1 ? "" : "s"} (skipped optimizer steps or epochs)`);
    return phrases.length ? [`- ${md(names[k])} (${run.dir}): ${phrases.join("; ")}`] : [];
  });
  if (notes.length) lines.push(`## Notes`, ``, ...notes, ``);
  lines.push(`## Figures`, ``, ...figures.map((file) => `![${file.replace(/\.svg$/, "")}](${file})`), ``);
  if (missing.length) lines.push(`Not written:`, ``, ...missing.map((m) => `- ${m}`), ``);
  return lines.join("\n");
}

export interface ReportOutput {
  files: string[];
  summary: string;
}

/** Render every figure and the summary for `runDirs` (already checked) into `outDir`. */
export function writeReport(runDirs: readonly string[], outDir: string, options: { epochPanels?: number; imageTimeline?: boolean } = {}): ReportOutput {
  const names = runNames(runDirs);
  const runs = runDirs.map((dir, k) => loadRun(dir, names[k]));
  if (runs.every((r) => r.records.length === 0)) throw new UserError(`report: no valid metrics records in ${runDirs.join(", ")}`);
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (err) {
    throw new UserError(`${outDir}: cannot create the output directory (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const epochs = pickEvenly(unionSorted(runs.map((r) => trainedEpochs(r.records))), options.epochPanels ?? 4);
  const noEpochs = "no trained epoch recorded yet";
  const hasGrads = runs.some((r) => r.records.some((x) => x.type === "epoch" && x.stepGradNorms?.length));
  const noGold = "no evaluation recorded gold metrics (the gold panel is on for 28×28 digit models; gold.enabled)";
  const figures: [string, string | null, string][] = [
    [FIGURES.proxyGold, proxyGoldFigure(runs, names), ""],
    [FIGURES.frontier, goldComponentsFigure(runs, names, "proxy"), noGold],
    [FIGURES.components, goldComponentsFigure(runs, names, "epoch"), noGold],
    [FIGURES.ratio, epochs.length ? ratioFigure(runs, names, epochs) : null, noEpochs],
    [FIGURES.clip, epochs.length ? clipFigure(runs, names, epochs) : null, noEpochs],
    [
      FIGURES.grad,
      epochs.length && hasGrads ? gradFigure(runs, names, epochs) : null,
      epochs.length ? "no run recorded per-step gradient norms (they cost one extra backward per step; set diagnostics.gradNormEvery > 0, e.g. --set diagnostics.gradNormEvery=5)" : noEpochs,
    ],
    [FIGURES.images, options.imageTimeline === false ? null : imageTimelineFigure(runs, names), options.imageTimeline === false ? "" : "no run has evaluation grids (images/eval-XXXX.png)"],
  ];
  const written: string[] = [];
  const missing: string[] = [];
  for (const [file, svg, why] of figures) {
    if (svg === null) {
      if (why) missing.push(`${file}: ${why}`);
      continue;
    }
    writeFileSync(join(outDir, file), svg);
    written.push(file);
  }
  const summary = summaryMarkdown(runs, names, written, missing);
  writeFileSync(join(outDir, "summary.md"), summary);
  return { files: [...written, "summary.md"].map((f) => join(outDir, f)), summary };
}

/** Paths relative to the working directory, for messages. */
export function shortPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") ? rel : path;
}
