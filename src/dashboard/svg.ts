/**
 * A small SVG line-chart writer for the report: panels with linear axes, lines (with gaps
 * at null values), points with hover titles, shaded bands between two series, vertical
 * markers and horizontal reference lines. Every drawn series is a `<g class="series">` with
 * `data-series` / `data-run` attributes and one `<circle>` per finite point, so a figure can
 * be read back (tests do).
 */
import { tickLabels } from "./series.js";

export type Point = [x: number, y: number | null];

export interface LineSeries {
  label: string;
  run: string;
  color: string;
  dash?: string;
  width?: number;
  axis?: "left" | "right";
  points: Point[];
  /** Draw a circle (with a hover title) at every finite point; default true. */
  markers?: boolean;
}

export interface BandSeries {
  label: string;
  run: string;
  color: string;
  opacity: number;
  upper: Point[];
  lower: Point[];
}

export interface PanelSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  yRightLabel?: string;
  xDomain?: [number, number];
  yDomain?: [number, number];
  yRightDomain?: [number, number];
  /** Integer ticks on x (epochs, steps). */
  integerX?: boolean;
  lines: LineSeries[];
  bands?: BandSeries[];
  markers?: { x: number; color: string; label: string }[];
  hlines?: { y: number; color: string; label: string }[];
}

export const PANEL = { width: 560, height: 300, left: 92, right: 24, rightAxis: 92, top: 34, bottom: 48 };

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** A value for a hover title: 4 significant digits. */
export function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a < 1e-3 || a >= 1e5 ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

const finite = (v: number | null | undefined): v is number => typeof v === "number" && Number.isFinite(v);

/** [min, max] of the finite values, widened when empty or flat. */
export function extent(values: Iterable<number | null | undefined>, fallback: [number, number] = [0, 1]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!finite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (lo === Infinity) return fallback;
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return [lo - pad, hi + pad];
  }
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): number[] {
  const raw = (hi - lo) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  if (integer) step = Math.max(1, Math.round(step));
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return ticks;
}

const f = (v: number) => (Math.round(v * 100) / 100).toString();

/** One panel as an SVG group at (x, y). */
export function renderPanel(spec: PanelSpec, x: number, y: number): string {
  const right = spec.yRightLabel ? PANEL.rightAxis : PANEL.right;
  const w = PANEL.width - PANEL.left - right;
  const h = PANEL.height - PANEL.top - PANEL.bottom;
  const allX = [...spec.lines.flatMap((s) => s.points.map((p) => p[0])), ...(spec.bands ?? []).flatMap((b) => b.upper.map((p) => p[0])), ...(spec.markers ?? []).map((m) => m.x)];
  let xDomain = spec.xDomain ?? extent(allX);
  if (spec.integerX && !spec.xDomain) {
    const [lo, hi] = extent(allX);
    const xs = allX.filter(finite);
    xDomain = xs.length ? [Math.min(...xs) - 0.25, Math.max(...xs) + 0.25] : [lo, hi];
  }
  const leftValues = [...spec.lines.filter((s) => s.axis !== "right").flatMap((s) => s.points.map((p) => p[1])), ...(spec.bands ?? []).flatMap((b) => [...b.upper, ...b.lower].map((p) => p[1]))];
  const yDomain = spec.yDomain ?? extent(leftValues);
  const yRightDomain = spec.yRightDomain ?? extent(spec.lines.filter((s) => s.axis === "right").flatMap((s) => s.points.map((p) => p[1])));
  const sx = (v: number) => PANEL.left + ((v - xDomain[0]) / (xDomain[1] - xDomain[0])) * w;
  const sy = (v: number, domain = yDomain) => PANEL.top + h - ((v - domain[0]) / (domain[1] - domain[0])) * h;
  const out: string[] = [`<g class="panel" transform="translate(${x},${y})" data-title="${escapeXml(spec.title)}">`];
  out.push(`<text class="panel-title" x="${PANEL.left + w / 2}" y="18" text-anchor="middle" font-weight="bold">${escapeXml(spec.title)}</text>`);
  out.push(`<rect x="${PANEL.left}" y="${PANEL.top}" width="${w}" height="${h}" fill="#fff" stroke="#bbb"/>`);
  // Grid and ticks.
  const ticks = (domain: [number, number], count: number, integer?: boolean) => {
    const values = niceTicks(domain[0], domain[1], count, integer).filter((t) => t >= domain[0] && t <= domain[1]);
    const labels = tickLabels(values);
    return values.map((value, i) => ({ value, label: labels[i] }));
  };
  for (const t of ticks(xDomain, 6, spec.integerX)) {
    const px = f(sx(t.value));
    out.push(`<line x1="${px}" x2="${px}" y1="${PANEL.top}" y2="${PANEL.top + h}" stroke="#eee"/>`);
    out.push(`<text class="tick" x="${px}" y="${PANEL.top + h + 16}" text-anchor="middle">${t.label}</text>`);
  }
  for (const t of ticks(yDomain, 5)) {
    const py = f(sy(t.value));
    out.push(`<line x1="${PANEL.left}" x2="${PANEL.left + w}" y1="${py}" y2="${py}" stroke="#eee"/>`);
    out.push(`<text class="tick" x="${PANEL.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${t.label}</text>`);
  }
  if (spec.yRightLabel) {
    for (const t of ticks(yRightDomain, 5)) {
      out.push(`<text class="tick" x="${PANEL.left + w + 6}" y="${f(sy(t.value, yRightDomain))}" dominant-baseline="middle">${t.label}</text>`);
    }
    out.push(`<text class="axis-label" transform="translate(${PANEL.left + w + right - 8},${PANEL.top + h / 2}) rotate(90)" text-anchor="middle">${escapeXml(spec.yRightLabel)}</text>`);
  }
  out.push(`<text class="axis-label" x="${PANEL.left + w / 2}" y="${PANEL.height - 8}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  out.push(`<text class="axis-label" transform="translate(14,${PANEL.top + h / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`);
  out.push(`<clipPath id="clip-${x}-${y}"><rect x="${PANEL.left}" y="${PANEL.top}" width="${w}" height="${h}"/></clipPath>`);
  out.push(`<g clip-path="url(#clip-${x}-${y})">`);
  // Bands: one polygon per run of consecutive finite points.
  for (const band of spec.bands ?? []) {
    out.push(`<g class="band" data-series="${escapeXml(band.label)}" data-run="${escapeXml(band.run)}">`);
    let segment: { x: number; hi: number; lo: number }[] = [];
    const flush = () => {
      if (segment.length) {
        const pts = [...segment.map((p) => `${f(sx(p.x))},${f(sy(p.hi))}`), ...segment.reverse().map((p) => `${f(sx(p.x))},${f(sy(p.lo))}`)];
        out.push(`<polygon points="${pts.join(" ")}" fill="${band.color}" fill-opacity="${band.opacity}" stroke="none"/>`);
      }
      segment = [];
    };
    band.upper.forEach(([bx, hi], i) => {
      const lo = band.lower[i]?.[1];
      if (finite(hi) && finite(lo)) segment.push({ x: bx, hi, lo });
      else flush();
    });
    flush();
    out.push(`</g>`);
  }
  for (const line of spec.hlines ?? []) {
    if (line.y < yDomain[0] || line.y > yDomain[1]) continue;
    out.push(`<line class="hline" x1="${PANEL.left}" x2="${PANEL.left + w}" y1="${f(sy(line.y))}" y2="${f(sy(line.y))}" stroke="${line.color}" stroke-dasharray="6 4"><title>${escapeXml(line.label)}</title></line>`);
  }
  for (const series of spec.lines) {
    const domain = series.axis === "right" ? yRightDomain : yDomain;
    out.push(`<g class="series" data-series="${escapeXml(series.label)}" data-run="${escapeXml(series.run)}" data-axis="${series.axis ?? "left"}">`);
    let run: string[] = [];
    const flush = () => {
      if (run.length > 1) out.push(`<polyline points="${run.join(" ")}" fill="none" stroke="${series.color}" stroke-width="${series.width ?? 2}"${series.dash ? ` stroke-dasharray="${series.dash}"` : ""}/>`);
      run = [];
    };
    for (const [px, py] of series.points) {
      if (finite(py)) run.push(`${f(sx(px))},${f(sy(py, domain))}`);
      else flush();
    }
    flush();
    if (series.markers !== false) {
      for (const [px, py] of series.points) {
        if (!finite(py)) continue;
        out.push(`<circle cx="${f(sx(px))}" cy="${f(sy(py, domain))}" r="3" fill="${series.color}" data-x="${px}" data-y="${py}"><title>${escapeXml(`${series.label} at ${px}: ${formatTick(py)}`)}</title></circle>`);
      }
    }
    out.push(`</g>`);
  }
  out.push(`</g>`);
  spec.markers?.forEach((m, k) => {
    if (m.x < xDomain[0] || m.x > xDomain[1]) return;
    const px = f(sx(m.x));
    out.push(`<g class="marker" data-x="${m.x}"><line x1="${px}" x2="${px}" y1="${PANEL.top}" y2="${PANEL.top + h}" stroke="${m.color}" stroke-width="2" stroke-dasharray="2 4"/>`);
    out.push(`<text x="${Number(px) + 4}" y="${PANEL.top + 12 + 12 * k}" fill="${m.color}" font-size="11">${escapeXml(m.label)}</text></g>`);
  });
  out.push(`</g>`);
  return out.join("\n");
}

export interface LegendEntry {
  label: string;
  color: string;
  dash?: string;
  band?: boolean;
}

/** A figure: a title, panels in a grid (`columns` per row) and a legend underneath. */
export function renderFigure(title: string, panels: PanelSpec[], legend: LegendEntry[], columns = 2, note?: string): string {
  const cols = Math.max(1, Math.min(columns, panels.length));
  const rows = Math.ceil(panels.length / cols);
  const top = note ? 48 : 32;
  const legendRows = Math.ceil(legend.length / 3);
  const width = cols * PANEL.width + 20;
  const height = top + rows * PANEL.height + 16 + legendRows * 20 + 10;
  const out: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  if (note) out.push(`<text x="10" y="40" fill="#666">${escapeXml(note)}</text>`);
  panels.forEach((panel, i) => out.push(renderPanel(panel, 10 + (i % cols) * PANEL.width, top + Math.floor(i / cols) * PANEL.height)));
  const legendTop = top + rows * PANEL.height + 16;
  out.push(`<g class="legend">`);
  legend.forEach((entry, i) => {
    const lx = 20 + (i % 3) * Math.floor((width - 40) / 3);
    const ly = legendTop + Math.floor(i / 3) * 20;
    const sample = entry.band
      ? `<rect x="${lx}" y="${ly - 6}" width="24" height="12" fill="${entry.color}" fill-opacity="0.3"/>`
      : `<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${entry.color}" stroke-width="2"${entry.dash ? ` stroke-dasharray="${entry.dash}"` : ""}/>`;
    out.push(`${sample}<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${escapeXml(entry.label)}</text>`);
  });
  out.push(`</g>`, `</svg>`, ``);
  return out.join("\n");
}
