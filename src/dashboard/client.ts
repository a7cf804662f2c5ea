/**
 * The dashboard page's script (runs in the browser; served as /client.js). It keeps every
 * run's records, listens to the server's event stream (snapshot / append / reset) and redraws
 * the uPlot charts, the sliders and the image timeline. `window.dashboard` exposes the charts
 * and state (tests and the curious read it).
 */
import type uPlotType from "uplot";
import {
  QUANTILES,
  alarmEpochs,
  assignMethods,
  goldFallsWhileProxyRises,
  offScaleRuns,
  OFF_SCALE_FACTOR,
  alignedEvalCurves,
  describeSkipped,
  epochRecords,
  evalRecords,
  faultCount,
  imageName,
  stepTable,
  tickLabels,
  trainedEpochs,
  withAlpha,
  type RatioField,
  type RunSnapshot,
  type SlimRecord,
  type StepTable,
} from "./series.js";
import { PANEL, renderPanel, type PanelSpec } from "./svg.js";
import { goldComponentPanels, methodStatPanels, type GoldAxis } from "./gold-panels.js";

declare const uPlot: typeof uPlotType;
type Chart = uPlotType;
type Data = uPlotType.AlignedData;

interface State {
  runs: RunSnapshot[];
  field: RatioField;
  /** Index into the epoch / image-epoch lists; null = follow the newest. */
  epochIndex: number | null;
  imageIndex: number | null;
  epochs: number[];
  imageEpochs: number[];
  table: StepTable | null;
  /** Per run: its colour (its method's hue, lighter for later seeds) and its method's label. */
  colors: string[];
  methodLabels: string[];
  /** Per run: spans of evaluations where gold fell while the proxy rose. */
  goldFalls: { from: number; to: number }[][];
}

const state: State = { runs: [], field: "clippedLogRatio", epochIndex: null, imageIndex: null, epochs: [], imageEpochs: [], table: null, colors: [], methodLabels: [], goldFalls: [] };
const runColor = (k: number) => state.colors[k] ?? "#444";

/** Colours and method labels from the runs' configs; true when they changed (the charts then rebuild). */
function assignColors(): boolean {
  const a = assignMethods(state.runs);
  const colors = state.runs.map((_, k) => a.colors[k]);
  const changed = colors.join() !== state.colors.join();
  state.colors = colors;
  state.methodLabels = state.runs.map((_, k) => a.methods[a.method[k]].label);
  return changed;
}
const charts: Record<string, Chart> = {};
const dashboard = { state, charts, renders: 0, connected: false };
(window as unknown as { dashboard: typeof dashboard }).dashboard = dashboard;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const HEIGHT = 280;

const tickValues = (_u: Chart, splits: number[]) => tickLabels(splits);
const INTEGER_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
const integerAxis = (label: string): uPlotType.Axis => ({ label, incrs: INTEGER_INCRS, values: (_u, splits) => splits.map((v) => String(v)) });
const stepAxis = integerAxis("sampling step (0 = pure noise)");
/** Wide enough for the longest tick label (about 7 px a character) plus the axis label. */
const axisSize = (_u: Chart, values: string[] | null) => 34 + 7 * Math.max(3, ...(values ?? []).map((v) => v.length));
const valueAxis = (label: string, scale = "y", side?: 1): uPlotType.Axis => ({ label, scale, size: axisSize, values: tickValues, ...(side ? { side, grid: { show: false } } : {}) });

function width(el: HTMLElement): number {
  return Math.max(320, el.clientWidth || document.body.clientWidth - 48);
}

function makeChart(name: string, options: Omit<uPlotType.Options, "width" | "height">, data: Data): Chart {
  const el = $(`chart-${name}`);
  charts[name]?.destroy();
  el.replaceChildren();
  const chart = new uPlot({ width: width(el), height: HEIGHT, ...options } as uPlotType.Options, data, el);
  charts[name] = chart;
  return chart;
}

/** Text starting at x, or ending at x − 8 px where it would run past the plot's right edge. */
function fillTextInside(ctx: CanvasRenderingContext2D, text: string, x: number, y: number, bbox: { left: number; width: number }): void {
  const width = ctx.measureText(text).width;
  const right = bbox.left + bbox.width;
  ctx.fillText(text, x + width <= right ? x : Math.max(bbox.left, x - 8 * devicePixelRatio - width), y);
}

/** A vertical line per alarm, in its run's colour. */
function alarmPlugin(): uPlotType.Plugin {
  return {
    hooks: {
      draw: [
        (u: Chart) => {
          const { ctx, bbox } = u;
          state.runs.forEach((run, k) => {
            for (const epoch of alarmEpochs(run.records)) {
              const x = u.valToPos(epoch, "x", true);
              if (!(x >= bbox.left && x <= bbox.left + bbox.width)) continue;
              ctx.save();
              ctx.strokeStyle = runColor(k);
              ctx.lineWidth = 2 * devicePixelRatio;
              ctx.setLineDash([2 * devicePixelRatio, 4 * devicePixelRatio]);
              ctx.beginPath();
              ctx.moveTo(x, bbox.top);
              ctx.lineTo(x, bbox.top + bbox.height);
              ctx.stroke();
              ctx.fillStyle = runColor(k);
              ctx.font = `${11 * devicePixelRatio}px sans-serif`;
              fillTextInside(ctx, `alarm ${epoch}`, x + 4 * devicePixelRatio, bbox.top + (12 + 12 * k) * devicePixelRatio, bbox);
              ctx.restore();
            }
          });
        },
      ],
    },
  };
}

/**
 * A shaded span, in the run's colour, wherever gold fell while the proxy rose between two
 * evaluations — whether or not the alarm fired (src/dashboard/series.ts goldFallsWhileProxyRises).
 */
function goldFallsPlugin(): uPlotType.Plugin {
  return {
    hooks: {
      drawClear: [
        (u: Chart) => {
          const { ctx, bbox } = u;
          state.goldFalls.forEach((spans, k) => {
            for (const span of spans) {
              const x0 = Math.max(bbox.left, u.valToPos(span.from, "x", true));
              const x1 = Math.min(bbox.left + bbox.width, u.valToPos(span.to, "x", true));
              if (!(x1 > x0)) continue;
              ctx.save();
              ctx.fillStyle = withAlpha(runColor(k), 0.13);
              ctx.fillRect(x0, bbox.top, x1 - x0, bbox.height);
              ctx.fillStyle = runColor(k);
              ctx.font = `${11 * devicePixelRatio}px sans-serif`;
              fillTextInside(ctx, "gold ↓ while proxy ↑", x0 + 4 * devicePixelRatio, bbox.top + bbox.height - (6 + 12 * k) * devicePixelRatio, bbox);
              ctx.restore();
            }
          });
        },
      ],
    },
  };
}

/** Grey dashed lines at the clip range of the clipped log-ratio, when they fall inside the view. */
function clipRangePlugin(): uPlotType.Plugin {
  return {
    hooks: {
      draw: [
        (u: Chart) => {
          if (state.field !== "clippedLogRatio") return;
          const { ctx, bbox } = u;
          const bounds = new Set<number>();
          for (const run of state.runs) {
            if (run.meta.clipHigh !== undefined) bounds.add(Math.log(1 + run.meta.clipHigh));
            if (run.meta.clipLow !== undefined && run.meta.clipLow < 1) bounds.add(Math.log(1 - run.meta.clipLow));
          }
          const scale = u.scales.y;
          for (const b of bounds) {
            if (scale.min === undefined || scale.max === undefined || b < scale.min || b > scale.max) continue;
            const y = u.valToPos(b, "y", true);
            ctx.save();
            ctx.strokeStyle = "#999";
            ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
            ctx.beginPath();
            ctx.moveTo(bbox.left, y);
            ctx.lineTo(bbox.left + bbox.width, y);
            ctx.stroke();
            ctx.restore();
          }
        },
      ],
    },
  };
}

const points = { show: true, size: 6 };

/** The log-ratio view's y range: the runs within scale (series.ts offScaleRuns), padded 5 %. */
function ratioRange(_u: Chart, min: number, max: number): [number, number] {
  const table = state.table;
  const off = table ? offScaleRuns(table) : [];
  let [lo, hi] = [min, max];
  if (table && off.some(Boolean)) {
    const values = table.runs.filter((r, k) => r.present && !off[k]).flatMap((r) => [...r.quantiles.p1, ...r.quantiles.p99]).filter((v): v is number => v !== null && Number.isFinite(v));
    if (values.length) [lo, hi] = [Math.min(...values), Math.max(...values)];
  }
  if (!(hi > lo)) return [lo - 1, hi + 1];
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

function buildCharts(): void {
  const runs = state.runs;
  const proxySeries: uPlotType.Series[] = [{ label: "epoch" }];
  runs.forEach((run, k) => {
    proxySeries.push({ label: `${run.name} proxy`, stroke: runColor(k), width: 2, scale: "proxy", points, spanGaps: true });
    proxySeries.push({ label: `${run.name} gold`, stroke: runColor(k), width: 2, dash: [8, 5], scale: "gold", points, spanGaps: true });
  });
  makeChart(
    "proxy",
    {
      scales: { x: { time: false }, proxy: {}, gold: {} },
      axes: [integerAxis("completed training epochs"), valueAxis("proxy reward", "proxy"), valueAxis("gold score", "gold", 1)],
      series: proxySeries,
      plugins: [goldFallsPlugin(), alarmPlugin()],
    },
    [[], ...runs.flatMap(() => [[], []])] as unknown as Data,
  );

  const ratioSeries: uPlotType.Series[] = [{ label: "step" }];
  const bands: uPlotType.Band[] = [];
  runs.forEach((run, k) => {
    const base = ratioSeries.length;
    for (const q of QUANTILES) {
      const median = q === "p50";
      ratioSeries.push({ label: `${run.name} ${q}`, stroke: median ? runColor(k) : withAlpha(runColor(k), 0.5), width: median ? 2 : 1, points: median ? points : { show: false }, spanGaps: true });
    }
    bands.push({ series: [base + 4, base], fill: withAlpha(runColor(k), 0.12) });
    bands.push({ series: [base + 3, base + 1], fill: withAlpha(runColor(k), 0.25) });
  });
  makeChart(
    "ratio",
    { scales: { x: { time: false }, y: { range: ratioRange } }, axes: [stepAxis, valueAxis("log-ratio")], series: ratioSeries, bands, plugins: [clipRangePlugin()] },
    [[], ...runs.flatMap(() => QUANTILES.map(() => []))] as unknown as Data,
  );

  const clipSeries: uPlotType.Series[] = [{ label: "step" }];
  runs.forEach((run, k) => {
    clipSeries.push({ label: `${run.name} P(clip | A>0)`, stroke: runColor(k), width: 2, points, spanGaps: true });
    clipSeries.push({ label: `${run.name} P(clip | A<0)`, stroke: runColor(k), width: 2, dash: [8, 5], points, spanGaps: true });
  });
  makeChart(
    "clip",
    { scales: { x: { time: false }, y: { range: (_u, _min, max) => [0, Math.max(0.05, max * 1.1)] } }, axes: [stepAxis, valueAxis("clipped fraction")], series: clipSeries },
    [[], ...runs.flatMap(() => [[], []])] as unknown as Data,
  );

  const gradSeries: uPlotType.Series[] = [{ label: "step" }];
  runs.forEach((run, k) => {
    gradSeries.push({ label: `${run.name} before weighting`, stroke: runColor(k), width: 2, dash: [8, 5], points, spanGaps: true });
    gradSeries.push({ label: `${run.name} after weighting`, stroke: runColor(k), width: 2, points, spanGaps: true });
  });
  makeChart(
    "grad",
    { scales: { x: { time: false } }, axes: [stepAxis, valueAxis("gradient norm")], series: gradSeries },
    [[], ...runs.flatMap(() => [[], []])] as unknown as Data,
  );
}

function renderRuns(): void {
  const list = $("runs");
  list.replaceChildren(
    ...state.runs.map((run, k) => {
      const li = document.createElement("li");
      li.dataset.run = run.id;
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = runColor(k);
      const name = document.createElement("b");
      name.textContent = run.name;
      const facts = [
        run.meta.algorithm && run.meta.dynamics ? `${run.meta.algorithm} on ${run.meta.dynamics}` : null,
        state.methodLabels[k] && state.methodLabels[k] !== `${run.meta.algorithm} · ${run.meta.dynamics}` && state.methodLabels[k] !== run.name ? `method ${state.methodLabels[k]}` : null,
        `${epochRecords(run.records).length} trained epochs`,
        `${evalRecords(run.records).length} evaluations`,
        faultCount(run.records) ? `${faultCount(run.records)} faults` : null,
      ].filter(Boolean);
      const text = document.createTextNode(` — ${facts.join(" · ")}`);
      li.append(swatch, name, text);
      const alarms = alarmEpochs(run.records);
      if (alarms.length) {
        const alarm = document.createElement("span");
        alarm.className = "alarm";
        alarm.textContent = `alarm at epoch ${alarms.join(", ")}`;
        li.append(alarm);
      }
      const falls = state.goldFalls[k] ?? [];
      if (falls.length) {
        const fall = document.createElement("span");
        fall.className = "gold-falls";
        fall.textContent = `gold fell while the proxy rose: epochs ${falls.map((f) => `${f.from}–${f.to}`).join(", ")}`;
        li.append(fall);
      }
      for (const phrase of describeSkipped(run.skipped)) {
        const skipped = document.createElement("span");
        skipped.className = "skipped";
        skipped.textContent = phrase;
        skipped.title = run.skipped.map((s) => `line ${s.line} (${s.kind}): ${s.reason}`).join("\n");
        li.append(skipped);
      }
      return li;
    }),
  );
}

function renderProxy(): void {
  const curves = alignedEvalCurves(state.runs.map((r) => r.records));
  charts.proxy?.setData([curves.epochs, ...state.runs.flatMap((_, k) => [curves.proxy[k], curves.gold[k]])] as unknown as Data);
}

/** Sync a range input with a list of values; returns the selected index (-1 when empty). */
function syncSlider(input: HTMLInputElement, values: readonly number[], index: number | null): number {
  input.max = String(Math.max(0, values.length - 1));
  input.disabled = values.length <= 1;
  const i = values.length === 0 ? -1 : index === null ? values.length - 1 : Math.min(index, values.length - 1);
  input.value = String(Math.max(0, i));
  return i;
}

function renderSteps(): void {
  const all = new Set<number>();
  state.runs.forEach((run) => trainedEpochs(run.records).forEach((e) => all.add(e)));
  state.epochs = [...all].sort((a, b) => a - b);
  const i = syncSlider($<HTMLInputElement>("epoch"), state.epochs, state.epochIndex);
  const epoch = i >= 0 ? state.epochs[i] : null;
  $("epoch-label").textContent = epoch === null ? "no trained epochs yet" : `epoch ${epoch} of ${state.epochs[state.epochs.length - 1]}${state.epochIndex === null ? " (following the newest)" : ""}`;
  const table = epoch === null ? { steps: [], runs: state.runs.map(() => null) } : stepTable(state.runs.map((r) => r.records), epoch, state.field);
  state.table = epoch === null ? null : (table as StepTable);
  const runs = table.runs;
  const off = state.table ? offScaleRuns(state.table) : [];
  $("ratio-note").textContent = off.some(Boolean) ? `off scale (tails over ${OFF_SCALE_FACTOR}× the median run's, cut at the edge): ${state.runs.filter((_, k) => off[k]).map((r) => r.name).join(", ")}` : "";
  const col = (k: number, f: (t: StepTable["runs"][number]) => (number | null)[]) => (runs[k] ? f(runs[k]!) : []);
  charts.ratio?.setData([table.steps, ...state.runs.flatMap((_, k) => QUANTILES.map((q) => col(k, (t) => t.quantiles[q])))] as unknown as Data);
  charts.clip?.setData([table.steps, ...state.runs.flatMap((_, k) => [col(k, (t) => t.clipPositive), col(k, (t) => t.clipNegative)])] as unknown as Data);
  const hasGrads = runs.some((r) => r && r.gradEpoch !== null);
  charts.grad?.setData([table.steps, ...state.runs.flatMap((_, k) => [col(k, (t) => t.gradBefore), col(k, (t) => t.gradAfter)])] as unknown as Data);
  $("chart-grad").style.display = hasGrads ? "" : "none";
  const from = runs.map((r, k) => (r && r.gradEpoch !== null && r.gradEpoch !== epoch ? `${state.runs[k].name}: measured at epoch ${r.gradEpoch}` : null)).filter(Boolean);
  $("grad-note").textContent = hasGrads
    ? `solid: after the step weight · dashed: before${from.length ? ` · ${from.join(", ")}` : ""}`
    : "no per-step gradient norms recorded up to this epoch (set diagnostics.gradNormEvery > 0)";
}

function renderImages(): void {
  const all = new Set<number>();
  state.runs.forEach((run) => run.images.forEach((e) => all.add(e)));
  state.imageEpochs = [...all].sort((a, b) => a - b);
  const i = syncSlider($<HTMLInputElement>("image-epoch"), state.imageEpochs, state.imageIndex);
  const epoch = i >= 0 ? state.imageEpochs[i] : null;
  $("image-epoch-label").textContent = epoch === null ? "no evaluation grids yet" : `after ${epoch} training epochs`;
  const box = $("images");
  if (epoch === null) {
    box.replaceChildren();
    return;
  }
  box.replaceChildren(
    ...state.runs.map((run, k) => {
      const figure = document.createElement("figure");
      figure.dataset.run = run.id;
      if (run.images.includes(epoch)) {
        const img = document.createElement("img");
        img.src = `/runs/${run.id}/images/${imageName(epoch)}`;
        img.alt = `${run.name}, evaluation at epoch ${epoch}`;
        img.style.borderColor = runColor(k);
        figure.append(img);
      } else {
        const none = document.createElement("div");
        none.className = "empty";
        none.textContent = "no grid at this epoch";
        figure.append(none);
      }
      const caption = document.createElement("figcaption");
      caption.textContent = `${run.name} — epoch ${epoch}`;
      figure.append(caption);
      return figure;
    }),
  );
}

/** One report panel as an inline SVG element, keyed by what it plots. */
function panelSvg(panel: PanelSpec, cls: string, clipId: string): string {
  return `<svg class="${cls}" data-key="${panel.yLabel}" xmlns="http://www.w3.org/2000/svg" width="${PANEL.width}" height="${PANEL.height}" viewBox="0 0 ${PANEL.width} ${PANEL.height}" font-family="system-ui, sans-serif" font-size="12">${renderPanel({ ...panel, clipId }, 0, 0)}</svg>`;
}

/** The gold components as SVG panels (the report's own renderer): against the proxy (the frontier) and per evaluation. */
function renderGold(): void {
  const records = state.runs.map((r) => r.records);
  const names = state.runs.map((r) => r.name);
  for (const [id, against] of [["frontier", "proxy"], ["components", "epoch"]] as [string, GoldAxis][]) {
    const panels = goldComponentPanels(records, names, state.colors, against);
    const box = $(id);
    if (panels.length === 0) {
      box.innerHTML = `<p class="empty">no gold metrics recorded yet</p>`;
      continue;
    }
    box.innerHTML = panels.map((panel, i) => panelSvg(panel, "gold-panel", `${id}-${i}`)).join("");
  }
  const methodPanels = methodStatPanels(records, names, state.colors);
  $("method-stats").innerHTML = methodPanels.length
    ? methodPanels.map((panel, i) => panelSvg(panel, "method-panel", `method-${i}`)).join("")
    : `<p class="empty">these runs log no method statistics (Flow-GRPO and GRPO-Guard have none beyond the per-step views)</p>`;
}

function render(): void {
  state.goldFalls = state.runs.map((r) => goldFallsWhileProxyRises(r.records));
  if (assignColors()) buildCharts();
  renderRuns();
  renderGold();
  renderProxy();
  renderSteps();
  renderImages();
  dashboard.renders++;
}

function onSnapshot(runs: RunSnapshot[]): void {
  const rebuild = runs.length !== state.runs.length || runs.some((r, k) => r.name !== state.runs[k]?.name);
  state.runs = runs;
  if (rebuild) {
    assignColors();
    buildCharts();
  }
  render();
}

function onAppend(update: { id: string; records: SlimRecord[]; skipped: RunSnapshot["skipped"]; images: number[]; meta: RunSnapshot["meta"] }): void {
  const run = state.runs.find((r) => r.id === update.id);
  if (!run) return;
  run.records.push(...update.records);
  run.skipped = update.skipped;
  run.images = update.images;
  run.meta = update.meta;
  render();
}

function onReset(snapshot: RunSnapshot): void {
  const k = state.runs.findIndex((r) => r.id === snapshot.id);
  if (k < 0) return;
  state.runs[k] = snapshot;
  render();
}

function connect(): void {
  const status = $("status");
  const events = new EventSource("/events");
  events.addEventListener("open", () => {
    status.textContent = "live";
    status.className = "live";
    dashboard.connected = true;
  });
  events.addEventListener("error", () => {
    status.textContent = "disconnected — retrying";
    status.className = "down";
    dashboard.connected = false;
  });
  events.addEventListener("snapshot", (e) => onSnapshot((JSON.parse((e as MessageEvent).data) as { runs: RunSnapshot[] }).runs));
  events.addEventListener("append", (e) => onAppend(JSON.parse((e as MessageEvent).data)));
  events.addEventListener("reset", (e) => onReset(JSON.parse((e as MessageEvent).data) as RunSnapshot));
}

$<HTMLInputElement>("epoch").addEventListener("input", (e) => {
  const i = Number((e.target as HTMLInputElement).value);
  state.epochIndex = i >= state.epochs.length - 1 ? null : i;
  renderSteps();
  dashboard.renders++;
});
$<HTMLInputElement>("image-epoch").addEventListener("input", (e) => {
  const i = Number((e.target as HTMLInputElement).value);
  state.imageIndex = i >= state.imageEpochs.length - 1 ? null : i;
  renderImages();
  dashboard.renders++;
});
$<HTMLSelectElement>("ratio-field").addEventListener("change", (e) => {
  state.field = (e.target as HTMLSelectElement).value as RatioField;
  renderSteps();
  dashboard.renders++;
});
window.addEventListener("resize", () => {
  for (const [name, chart] of Object.entries(charts)) chart.setSize({ width: width($(`chart-${name}`)), height: HEIGHT });
});

connect();
