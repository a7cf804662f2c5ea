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
  /** Confidence intervals drawn as vertical whiskers, aligned with `points` (null: none). */
  whiskers?: ([number, number] | null)[];
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
  /**
   * The left y axis: linear (default) or symmetric-log — sign(v)·log10(1 + |v|/c), linear within
   * ±c and logarithmic beyond, for quantities spanning decades that may dip below zero (unbiased
   * KID). Domains given in `yDomain` are in data units.
   */
  yScale?: { kind: "symlog"; constant: number };
  lines: LineSeries[];
  bands?: BandSeries[];
  markers?: { x: number; color: string; label: string }[];
  hlines?: { y: number; color: string; label: string }[];
  /** Horizontal regions across the whole panel (e.g. "within the noise floor"). */
  hbands?: { from: number; to: number; color: string; opacity: number; label: string }[];
  /** Vertical regions (e.g. "gold falls while the proxy rises"). */
  vbands?: { from: number; to: number; color: string; opacity: number; label: string }[];
  /** Short notes drawn inside the plot, top left (e.g. a run drawn off scale). */
  notes?: { text: string; color: string }[];
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

/** About `count` round tick values covering [lo, hi]; at least `minTicks` inside it where a finer round step allows. */
export function niceTicks(lo: number, hi: number, count = 5, integer = false, minTicks = 4): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const e = Math.floor(Math.log10(raw));
  const candidates = [e + 1, e, e - 1, e - 2].flatMap((k) => [5, 2, 1].map((m) => Number((m * 10 ** k).toPrecision(6)))).filter((st) => !integer || Number.isInteger(st));
  const make = (st: number) => {
    const ticks: number[] = [];
    for (let v = Math.ceil(lo / st - 1e-9) * st; v <= hi + st * 1e-9; v += st) ticks.push(Math.abs(v) < st * 1e-9 ? 0 : Number(v.toPrecision(12)));
    return ticks;
  };
  let i = candidates.findIndex((st) => st < raw * 0.999);
  i = i <= 0 ? 0 : i - 1;
  if (integer && candidates.length === 0) return make(1);
  let ticks = make(candidates[i] ?? 1);
  while (ticks.length < minTicks && i + 1 < candidates.length) ticks = make(candidates[++i]);
  return ticks;
}

/** sign(v)·log10(1 + |v|/c): the symmetric-log axis coordinate of v (linear near 0, log beyond ±c). */
export function symlog(v: number, c: number): number {
  return Math.sign(v) * Math.log10(1 + Math.abs(v) / c);
}

/** Ticks of a symmetric-log axis whose domain is in axis units: 0 and ±1, 2, 5 × 10^k (|value| ≥ c), thinned to about eight. */
export function symlogTicks(domain: [number, number], c: number): { value: number; label: string }[] {
  const inverse = (a: number) => Math.sign(a) * c * (10 ** Math.abs(a) - 1);
  const [lo, hi] = [inverse(domain[0]), inverse(domain[1])];
  const top = Math.max(Math.abs(lo), Math.abs(hi));
  const decades: number[] = [];
  for (let k = Math.floor(Math.log10(c)); 10 ** k <= top; k++) decades.push(10 ** k);
  const pick = (mantissas: number[]) => {
    const magnitudes = decades.flatMap((d) => mantissas.map((m) => m * d)).filter((m) => m >= c && m <= top);
    return [...magnitudes.map((m) => -m).reverse(), 0, ...magnitudes].filter((v) => v >= lo && v <= hi);
  };
  let values = pick([1, 2, 5]);
  if (values.length > 8) values = pick([1]);
  if (values.length > 8) values = values.filter((v) => v === 0 || Math.round(Math.log10(Math.abs(v))) % 2 === 0);
  const labels = tickLabels(values);
  return values.map((value, i) => ({ value, label: labels[i] }));
}

/** Estimated width in px of `text` at `size` px in a sans-serif font (generous, so that boxes never overlap). */
export function textWidth(text: string, size = 12): number {
  let units = 0;
  for (const ch of text) {
    if ("iljtfrI.,;:!|'()[] ".includes(ch)) units += 0.34;
    else if ("mwMWÆŒ@%".includes(ch)) units += 0.95;
    else if (ch >= "A" && ch <= "Z") units += 0.72;
    else units += 0.6;
  }
  return Math.ceil(units * size + 2);
}

const f = (v: number) => (Math.round(v * 100) / 100).toString();

/** Where a panel's marker labels go: rows so that no two overlap, each shifted to stay inside the plot (null: no room left; the line's hover title still names it). */
export function layoutMarkerLabels(
  labels: readonly { px: number; text: string }[],
  left: number,
  right: number,
  maxRows: number,
): ({ x: number; row: number; anchor: "start" | "end"; text: string; width: number } | null)[] {
  const rows: [number, number][][] = [];
  const placed: ({ x: number; row: number; anchor: "start" | "end"; text: string; width: number } | null)[] = [];
  for (const label of labels) {
    let text = label.text;
    let width = textWidth(text, 11);
    while (width > right - left - 8 && text.length > 4) {
      text = `${text.slice(0, -2)}…`;
      width = textWidth(text, 11);
    }
    const startFits = label.px + 4 + width <= right;
    const anchor: "start" | "end" = startFits ? "start" : "end";
    let x = startFits ? label.px + 4 : label.px - 4;
    if (!startFits && x - width < left) x = left + width + 2;
    const span: [number, number] = anchor === "start" ? [x, x + width] : [x - width, x];
    let row = rows.findIndex((spans) => spans.every(([a, b]) => span[1] + 4 <= a || span[0] >= b + 4));
    if (row < 0) {
      if (rows.length >= maxRows) {
        placed.push(null);
        continue;
      }
      rows.push([]);
      row = rows.length - 1;
    }
    rows[row].push(span);
    placed.push({ x, row, anchor, text, width });
  }
  return placed;
}

/** One panel as an SVG group at (x, y). */
export function renderPanel(spec: PanelSpec & { clipId?: string }, x: number, y: number): string {
  const right = spec.yRightLabel ? PANEL.rightAxis : PANEL.right;
  const w = PANEL.width - PANEL.left - right;
  const h = PANEL.height - PANEL.top - PANEL.bottom;
  const allX = [
    ...spec.lines.flatMap((s) => s.points.map((p) => p[0])),
    ...(spec.bands ?? []).flatMap((b) => b.upper.map((p) => p[0])),
    ...(spec.markers ?? []).map((m) => m.x),
    ...(spec.vbands ?? []).flatMap((b) => [b.from, b.to]),
  ];
  let xDomain = spec.xDomain ?? extent(allX);
  if (spec.integerX && !spec.xDomain) {
    const [lo, hi] = extent(allX);
    const xs = allX.filter(finite);
    xDomain = xs.length ? [Math.min(...xs) - 0.25, Math.max(...xs) + 0.25] : [lo, hi];
  }
  const left = spec.lines.filter((s) => s.axis !== "right");
  const leftValues = [
    ...left.flatMap((s) => s.points.map((p) => p[1])),
    ...left.flatMap((s) => (s.whiskers ?? []).flatMap((wk) => wk ?? [])),
    ...(spec.bands ?? []).flatMap((b) => [...b.upper, ...b.lower].map((p) => p[1])),
    ...(spec.hbands ?? []).flatMap((b) => [b.from, b.to]),
  ];
  const scale = spec.yScale;
  const toAxis = scale ? (v: number) => symlog(v, scale.constant) : (v: number) => v;
  const yDomain = spec.yDomain ? ([toAxis(spec.yDomain[0]), toAxis(spec.yDomain[1])] as [number, number]) : extent(leftValues.map((v) => (finite(v) ? toAxis(v) : v)));
  const yRightDomain = spec.yRightDomain ?? extent(spec.lines.filter((s) => s.axis === "right").flatMap((s) => s.points.map((p) => p[1])));
  const sx = (v: number) => PANEL.left + ((v - xDomain[0]) / (xDomain[1] - xDomain[0])) * w;
  const clampY = (py: number) => Math.max(PANEL.top - 2, Math.min(PANEL.top + h + 2, py));
  /** Pixel y of a value on the left axis (through its scale) or the right one (linear). */
  const sy = (v: number, axis: "left" | "right" = "left") => {
    const [a, domain] = axis === "left" ? [toAxis(v), yDomain] : [v, yRightDomain];
    return PANEL.top + h - ((a - domain[0]) / (domain[1] - domain[0])) * h;
  };
  const clipId = spec.clipId ?? `${x}-${y}`;
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
  for (const t of scale ? symlogTicks(yDomain, scale.constant) : ticks(yDomain, 5)) {
    const py = f(sy(t.value));
    out.push(`<line x1="${PANEL.left}" x2="${PANEL.left + w}" y1="${py}" y2="${py}" stroke="#eee"/>`);
    out.push(`<text class="tick y-tick" x="${PANEL.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle" data-value="${t.value}">${t.label}</text>`);
  }
  if (spec.yRightLabel) {
    for (const t of ticks(yRightDomain, 5)) {
      out.push(`<text class="tick y-tick-right" x="${PANEL.left + w + 6}" y="${f(sy(t.value, "right"))}" dominant-baseline="middle">${t.label}</text>`);
    }
    out.push(`<text class="axis-label" transform="translate(${PANEL.left + w + right - 8},${PANEL.top + h / 2}) rotate(90)" text-anchor="middle">${escapeXml(spec.yRightLabel)}</text>`);
  }
  out.push(`<text class="axis-label" x="${PANEL.left + w / 2}" y="${PANEL.height - 8}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  out.push(`<text class="axis-label" transform="translate(14,${PANEL.top + h / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`);
  out.push(`<clipPath id="clip-${clipId}"><rect x="${PANEL.left}" y="${PANEL.top}" width="${w}" height="${h}"/></clipPath>`);
  out.push(`<g clip-path="url(#clip-${clipId})">`);
  for (const band of spec.vbands ?? []) {
    const x0 = Math.max(PANEL.left, sx(band.from));
    const x1 = Math.min(PANEL.left + w, sx(band.to));
    if (!(x1 > x0)) continue;
    out.push(`<rect class="vband" data-from="${band.from}" data-to="${band.to}" x="${f(x0)}" y="${PANEL.top}" width="${f(x1 - x0)}" height="${h}" fill="${band.color}" fill-opacity="${band.opacity}"><title>${escapeXml(band.label)}</title></rect>`);
  }
  for (const band of spec.hbands ?? []) {
    const y0 = clampY(finite(band.to) ? sy(band.to) : PANEL.top - 2);
    const y1 = clampY(finite(band.from) ? sy(band.from) : PANEL.top + h + 2);
    if (!(y1 > y0)) continue;
    out.push(`<rect class="hband" data-from="${band.from}" data-to="${band.to}" x="${PANEL.left}" y="${f(y0)}" width="${w}" height="${f(y1 - y0)}" fill="${band.color}" fill-opacity="${band.opacity}"><title>${escapeXml(band.label)}</title></rect>`);
  }
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
    if (toAxis(line.y) < yDomain[0] || toAxis(line.y) > yDomain[1]) continue;
    out.push(`<line class="hline" x1="${PANEL.left}" x2="${PANEL.left + w}" y1="${f(sy(line.y))}" y2="${f(sy(line.y))}" stroke="${line.color}" stroke-dasharray="6 4"><title>${escapeXml(line.label)}</title></line>`);
  }
  for (const series of spec.lines) {
    const axis = series.axis === "right" ? "right" : "left";
    out.push(`<g class="series" data-series="${escapeXml(series.label)}" data-run="${escapeXml(series.run)}" data-axis="${series.axis ?? "left"}" data-color="${series.color}">`);
    let run: string[] = [];
    const flush = () => {
      if (run.length > 1) out.push(`<polyline points="${run.join(" ")}" fill="none" stroke="${series.color}" stroke-width="${series.width ?? 2}"${series.dash ? ` stroke-dasharray="${series.dash}"` : ""}/>`);
      run = [];
    };
    for (const [px, py] of series.points) {
      if (finite(py)) run.push(`${f(sx(px))},${f(sy(py, axis))}`);
      else flush();
    }
    flush();
    series.whiskers?.forEach((ci, i) => {
      const px = series.points[i]?.[0];
      if (!ci || !finite(px) || !finite(ci[0]) || !finite(ci[1])) return;
      const [x0, a, b] = [f(sx(px)), f(sy(ci[0], axis)), f(sy(ci[1], axis))];
      out.push(`<path class="whisker" data-x="${px}" data-lo="${ci[0]}" data-hi="${ci[1]}" d="M${x0},${a}V${b}M${Number(x0) - 3},${a}h6M${Number(x0) - 3},${b}h6" stroke="${series.color}" stroke-width="1.2" fill="none"/>`);
    });
    if (series.markers !== false) {
      for (const [px, py] of series.points) {
        if (!finite(py)) continue;
        out.push(`<circle cx="${f(sx(px))}" cy="${f(sy(py, axis))}" r="3" fill="${series.color}" data-x="${px}" data-y="${py}"><title>${escapeXml(`${series.label} at ${px}: ${formatTick(py)}`)}</title></circle>`);
      }
    }
    out.push(`</g>`);
  }
  out.push(`</g>`);
  const shown = (spec.markers ?? []).filter((m) => m.x >= xDomain[0] && m.x <= xDomain[1]);
  const placed = layoutMarkerLabels(
    shown.map((m) => ({ px: sx(m.x), text: m.label })),
    PANEL.left,
    PANEL.left + w,
    Math.max(1, Math.floor((h - 8) / 13)),
  );
  shown.forEach((m, k) => {
    const px = f(sx(m.x));
    out.push(`<g class="marker" data-x="${m.x}"><line x1="${px}" x2="${px}" y1="${PANEL.top}" y2="${PANEL.top + h}" stroke="${m.color}" stroke-width="2" stroke-dasharray="2 4"><title>${escapeXml(m.label)}</title></line>`);
    const label = placed[k];
    out.push(`${label ? `<text class="marker-label" x="${f(label.x)}" y="${PANEL.top + 12 + 13 * label.row}" text-anchor="${label.anchor}" fill="${m.color}" font-size="11" stroke="#fff" stroke-width="3" paint-order="stroke">${escapeXml(label.text)}</text>` : ""}</g>`);
  });
  spec.notes?.forEach((note, i) => {
    let text = note.text;
    while (textWidth(text, 11) > w - 12 && text.length > 4) text = `${text.slice(0, -2)}…`;
    out.push(`<text class="panel-note" x="${PANEL.left + 6}" y="${PANEL.top + h - 8 - 13 * ((spec.notes?.length ?? 1) - 1 - i)}" fill="${note.color}" font-size="11" stroke="#fff" stroke-width="3" paint-order="stroke"><title>${escapeXml(note.text)}</title>${escapeXml(text)}</text>`);
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

/** Words of `text` in lines no wider than `maxWidth` px (a longer single word gets a line of its own). */
export function wrapText(text: string, maxWidth: number, size = 12): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (line && textWidth(next, size) > maxWidth) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

/** Space between panel columns, so one panel's right axis label never meets the next one's left. */
const PANEL_GAP = 24;

const LEGEND = { sample: 24, gap: 6, spacing: 18, row: 20 };

/** Legend entries flowed into rows by their text width: returns each entry's x offset and row. */
export function layoutLegend(legend: readonly LegendEntry[], width: number): { x: number; row: number; width: number }[] {
  let x = 0;
  let row = 0;
  return legend.map((entry) => {
    const w = LEGEND.sample + LEGEND.gap + textWidth(entry.label);
    if (x > 0 && x + w > width) {
      x = 0;
      row++;
    }
    const placed = { x, row, width: w };
    x += w + LEGEND.spacing;
    return placed;
  });
}

/** A figure: a title, a note (wrapped), panels in a grid (`columns` per row) and a legend underneath that wraps. */
export function renderFigure(title: string, panels: PanelSpec[], legend: LegendEntry[], columns = 2, note?: string): string {
  const cols = Math.max(1, Math.min(columns, panels.length));
  const rows = Math.ceil(panels.length / cols);
  const widest = Math.max(0, ...legend.map((e) => LEGEND.sample + LEGEND.gap + textWidth(e.label)));
  const width = Math.max(cols * PANEL.width + (cols - 1) * PANEL_GAP + 20, widest + 40, textWidth(title, 16) + 20);
  const noteLines = note ? wrapText(note, width - 20) : [];
  const top = 32 + 16 * noteLines.length;
  const places = layoutLegend(legend, width - 40);
  const legendRows = legend.length ? places[places.length - 1].row + 1 : 0;
  const height = top + rows * PANEL.height + 16 + legendRows * LEGEND.row + 10;
  const out: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  noteLines.forEach((line, i) => out.push(`<text class="note" x="10" y="${40 + 16 * i}" fill="#666">${escapeXml(line)}</text>`));
  panels.forEach((panel, i) => out.push(renderPanel(panel, 10 + (i % cols) * (PANEL.width + PANEL_GAP), top + Math.floor(i / cols) * PANEL.height)));
  const legendTop = top + rows * PANEL.height + 16;
  out.push(`<g class="legend">`);
  legend.forEach((entry, i) => {
    const lx = 20 + places[i].x;
    const ly = legendTop + places[i].row * LEGEND.row;
    const sample = entry.band
      ? `<rect x="${lx}" y="${ly - 6}" width="${LEGEND.sample}" height="12" fill="${entry.color}" fill-opacity="0.3"/>`
      : `<line x1="${lx}" x2="${lx + LEGEND.sample}" y1="${ly}" y2="${ly}" stroke="${entry.color}" stroke-width="2"${entry.dash ? ` stroke-dasharray="${entry.dash}"` : ""}/>`;
    out.push(`<g class="legend-entry" data-label="${escapeXml(entry.label)}">${sample}<text x="${lx + LEGEND.sample + LEGEND.gap}" y="${ly}" dominant-baseline="middle">${escapeXml(entry.label)}</text></g>`);
  });
  out.push(`</g>`, `</svg>`, ``);
  return out.join("\n");
}
