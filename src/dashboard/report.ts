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
  alignedEvalCurves,
  describeSkipped,
  faultCount,
  formatNumber,
  imageName,
  runColor,
  stepTable,
  summarizeRun,
  trainedEpochs,
  type RatioField,
} from "./series.js";
import { cropPngGrey } from "../diagnostics/image-grid.js";
import { escapeXml, extent, renderFigure, type LegendEntry, type PanelSpec, type Point } from "./svg.js";

export const FIGURES = {
  proxyGold: "proxy-gold.svg",
  ratio: "ratio-distribution.svg",
  clip: "clip-fractions.svg",
  grad: "grad-norms.svg",
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

export function proxyGoldFigure(runs: readonly LoadedRun[], names: readonly string[]): string {
  const records = runs.map((r) => r.records);
  const curves = alignedEvalCurves(records);
  const lines = runs.flatMap((_, k) => [
    { label: `${names[k]} proxy`, run: names[k], color: runColor(k), points: zip(curves.epochs, curves.proxy[k]) },
    { label: `${names[k]} gold`, run: names[k], color: runColor(k), dash: "8 5", axis: "right" as const, points: zip(curves.epochs, curves.gold[k]) },
  ]);
  const markers = runs.flatMap((_, k) => alarmEpochs(records[k]).map((epoch) => ({ x: epoch, color: runColor(k), label: `alarm (${names[k]}) @ ${epoch}` })));
  const panel: PanelSpec = {
    title: "Proxy reward and gold score per evaluation",
    xLabel: "completed training epochs",
    yLabel: "proxy reward",
    yRightLabel: "gold score",
    integerX: true,
    lines,
    markers,
  };
  const legend: LegendEntry[] = runs.flatMap((_, k) => [
    { label: `${names[k]} proxy`, color: runColor(k) },
    { label: `${names[k]} gold`, color: runColor(k), dash: "8 5" },
  ]);
  return renderFigure("Proxy and gold", [panel], legend, 1, "EMA policy, fixed evaluation prompts and noise; dotted vertical lines: over-optimisation alarms");
}

function perStepPanels(
  runs: readonly LoadedRun[],
  epochs: readonly number[],
  build: (table: ReturnType<typeof stepTable>, epoch: number) => Omit<PanelSpec, "title" | "xLabel" | "integerX">,
): PanelSpec[] {
  const records = runs.map((r) => r.records);
  return epochs.map((epoch) => ({ title: `epoch ${epoch}`, xLabel: "sampling step (0 = pure noise)", integerX: true, ...build(stepTable(records, epoch), epoch) }));
}

export function ratioFigure(runs: readonly LoadedRun[], names: readonly string[], epochs: readonly number[], field: RatioField = "clippedLogRatio"): string {
  const records = runs.map((r) => r.records);
  // One y range for all panels, so epochs compare at a glance.
  const tables = epochs.map((e) => stepTable(records, e, field));
  const yDomain = extent(tables.flatMap((t) => t.runs.flatMap((r) => [...r.quantiles.p1, ...r.quantiles.p99])));
  const bounds = new Map<number, string>();
  for (const run of runs) {
    if (run.meta.clipHigh !== undefined) bounds.set(Math.log(1 + run.meta.clipHigh), `log(1+${run.meta.clipHigh})`);
    if (run.meta.clipLow !== undefined && run.meta.clipLow < 1) bounds.set(Math.log(1 - run.meta.clipLow), `log(1−${run.meta.clipLow})`);
  }
  const panels = epochs.map((epoch, i): PanelSpec => {
    const t = tables[i];
    return {
      title: `epoch ${epoch}`,
      xLabel: "sampling step (0 = pure noise)",
      yLabel: field === "logRatio" ? "log r" : "log-ratio (clipped one)",
      integerX: true,
      yDomain,
      bands: t.runs.flatMap((r, k) => [
        { label: `${names[k]} p1–p99`, run: names[k], color: runColor(k), opacity: 0.12, upper: zip(t.steps, r.quantiles.p99), lower: zip(t.steps, r.quantiles.p1) },
        { label: `${names[k]} p5–p95`, run: names[k], color: runColor(k), opacity: 0.25, upper: zip(t.steps, r.quantiles.p95), lower: zip(t.steps, r.quantiles.p5) },
      ]),
      lines: t.runs.map((r, k) => ({ label: `${names[k]} p50`, run: names[k], color: runColor(k), points: zip(t.steps, r.quantiles.p50) })),
      hlines: field === "clippedLogRatio" ? [...bounds].map(([y, label]) => ({ y, color: "#999", label: `clip bound ${label}` })) : [],
    };
  });
  const legend: LegendEntry[] = runs.flatMap((_, k) => [
    { label: `${names[k]} median`, color: runColor(k) },
    { label: `${names[k]} p5–p95 / p1–p99`, color: runColor(k), band: true },
  ]);
  return renderFigure("Log-ratio distribution per timestep", panels, legend, 2, "quantiles of the clipped log-ratio (log r for Flow-GRPO, log ρ̂ for GRPO-Guard) per trained step; grey dashed: clip range when in view");
}

export function clipFigure(runs: readonly LoadedRun[], names: readonly string[], epochs: readonly number[]): string {
  const panels = perStepPanels(runs, epochs, (t) => ({
    yLabel: "clipped fraction",
    yDomain: [0, Math.max(0.05, ...t.runs.flatMap((r) => [...r.clipPositive, ...r.clipNegative]).filter((v): v is number => v !== null).map((v) => v * 1.1))],
    lines: t.runs.flatMap((r, k) => [
      { label: `${names[k]} P(clip | A>0)`, run: names[k], color: runColor(k), points: zip(t.steps, r.clipPositive) },
      { label: `${names[k]} P(clip | A<0)`, run: names[k], color: runColor(k), dash: "8 5", points: zip(t.steps, r.clipNegative) },
    ]),
  }));
  const legend: LegendEntry[] = runs.flatMap((_, k) => [
    { label: `${names[k]} P(ρ > 1+ε | A > 0)`, color: runColor(k) },
    { label: `${names[k]} P(ρ < 1−ε | A < 0)`, color: runColor(k), dash: "8 5" },
  ]);
  return renderFigure("Clip fraction by advantage sign per timestep", panels, legend, 2);
}

export function gradFigure(runs: readonly LoadedRun[], names: readonly string[], epochs: readonly number[]): string {
  const panels = perStepPanels(runs, epochs, (t) => ({
    yLabel: "gradient norm",
    lines: t.runs.flatMap((r, k) => [
      { label: `${names[k]} before weighting`, run: names[k], color: runColor(k), dash: "8 5", points: zip(t.steps, r.gradBefore) },
      { label: `${names[k]} after weighting`, run: names[k], color: runColor(k), points: zip(t.steps, r.gradAfter) },
    ]),
  }));
  const legend: LegendEntry[] = runs.flatMap((_, k) => [
    { label: `${names[k]} after the step weight`, color: runColor(k) },
    { label: `${names[k]} before`, color: runColor(k), dash: "8 5" },
  ]);
  return renderFigure("Gradient norm per timestep", panels, legend, 2, "per trained step, measured every diagnostics.gradNormEvery epochs (the newest measurement at or before each epoch)");
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
    out.push(`<text x="10" y="${y + 16}" fill="${runColor(k)}" font-weight="bold">${escapeXml(names[k])}</text>`);
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

export function summaryMarkdown(runs: readonly LoadedRun[], names: readonly string[], figures: readonly string[]): string {
  const lines = [
    `# Training report`,
    ``,
    `${runs.length} run${runs.length === 1 ? "" : "s"}; proxy and gold are evaluations of the EMA policy on fixed prompts and noise. Per-step columns are for the last trained epoch (step: value), using the clipped log-ratio (log r for Flow-GRPO, log ρ̂ for GRPO-Guard).`,
    ``,
    `| run | algorithm | final proxy (epoch) | peak proxy (epoch) | gold at proxy peak | final gold | alarm epoch | last epoch | mean log-ratio per step | P(clip \\| A>0) per step |`,
    `|---|---|---|---|---|---|---|---|---|---|`,
  ];
  runs.forEach((run, k) => {
    const s = summarizeRun(run.records);
    const algorithm = run.meta.algorithm ? `${run.meta.algorithm}${run.meta.dynamics ? ` / ${run.meta.dynamics}` : ""}` : "—";
    const withEpoch = (v: number | null, e: number | null) => (v === null ? "—" : `${formatNumber(v)} (${e})`);
    lines.push(
      `| ${md(names[k])} | ${md(algorithm)} | ${withEpoch(s.finalProxy, s.finalEpoch)} | ${withEpoch(s.peakProxy, s.peakEpoch)} | ${formatNumber(s.goldAtPeak)} | ${formatNumber(s.finalGold)} | ${s.alarmEpoch ?? "—"} | ${s.lastEpoch ?? "—"} | ${perStepList(s.steps, s.meanLogRatio, 6)} | ${perStepList(s.steps, s.clipPositive, 3)} |`,
    );
  });
  const notes = runs.flatMap((run, k) => {
    const phrases = describeSkipped(run.skipped);
    const faults = faultCount(run.records);
    if (faults) phrases.push(`${faults} fault record${faults === 1 ? "" : "s"} (skipped optimizer steps or epochs)`);
    return phrases.length ? [`- ${md(names[k])} (${run.dir}): ${phrases.join("; ")}`] : [];
  });
  if (notes.length) lines.push(``, `## Notes`, ``, ...notes);
  lines.push(``, `## Figures`, ``, ...figures.map((file) => `![${file.replace(/\.svg$/, "")}](${file})`), ``);
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
  const figures: [string, string | null][] = [
    [FIGURES.proxyGold, proxyGoldFigure(runs, names)],
    [FIGURES.ratio, epochs.length ? ratioFigure(runs, names, epochs) : null],
    [FIGURES.clip, epochs.length ? clipFigure(runs, names, epochs) : null],
    [FIGURES.grad, epochs.length && runs.some((r) => r.records.some((x) => x.type === "epoch" && x.stepGradNorms?.length)) ? gradFigure(runs, names, epochs) : null],
    [FIGURES.images, options.imageTimeline === false ? null : imageTimelineFigure(runs, names)],
  ];
  const written: string[] = [];
  for (const [file, svg] of figures) {
    if (svg === null) continue;
    writeFileSync(join(outDir, file), svg);
    written.push(file);
  }
  const summary = summaryMarkdown(runs, names, written);
  writeFileSync(join(outDir, "summary.md"), summary);
  return { files: [...written, "summary.md"].map((f) => join(outDir, f)), summary };
}

/** Paths relative to the working directory, for messages. */
export function shortPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") ? rel : path;
}
