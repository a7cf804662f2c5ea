/**
 * The gold-component panels shared by `report` and the live dashboard (no Node imports: the
 * page loads this module too). One panel per component key — drawn generically from
 * `GoldMetrics.components`, or the legacy fields for older runs — with one curve per run,
 * confidence intervals as whiskers and the noise floor as a grey band on the side of it that
 * two real samples reach. Against the proxy reward this is the frontier (benchmarks B2/B3).
 */
import { componentCatalog, componentSeries, median, type ComponentPoint, type SlimEpoch, type SlimRecord } from "./series.js";
import { formatTick, type PanelSpec, type Point } from "./svg.js";

export type GoldAxis = "proxy" | "epoch";

/** The grey band of a component's (median) noise floor: below it where lower is better, above it where higher is. */
export function floorBand(points: readonly ComponentPoint[][], better: "higher" | "lower"): NonNullable<PanelSpec["hbands"]> {
  const floor = median(points.flat().map((p) => p.floor));
  if (floor === null) return [];
  const label = `within the noise floor (real vs real at the same sample size: ${formatTick(floor)})`;
  return [better === "lower" ? { from: -Infinity, to: floor, color: "#888", opacity: 0.18, label } : { from: floor, to: Infinity, color: "#888", opacity: 0.18, label }];
}

/**
 * A symmetric-log y axis for a component that spans decades (KID and Fréchet distance run from
 * the real-data floor to thousands as a policy is hacked: on a linear axis everything before
 * the collapse is flat), else none. Linear within ±10, so the unbiased KID's small negative
 * values near the floor stay drawable.
 */
export function componentAxis(key: string, values: Iterable<number | null | undefined>): Pick<PanelSpec, "yScale"> {
  if (!/^(kid|fd)-/.test(key)) return {};
  let top = 0;
  for (const v of values) if (typeof v === "number" && Number.isFinite(v)) top = Math.max(top, Math.abs(v));
  return top >= 1000 ? { yScale: { kind: "symlog", constant: 10 } } : {};
}

export function goldComponentPanels(runs: readonly (readonly SlimRecord[])[], names: readonly string[], colors: readonly string[], against: GoldAxis): PanelSpec[] {
  return componentCatalog(runs).map((component): PanelSpec => {
    const series = runs.map((r) => componentSeries(r, component.key));
    const axis = componentAxis(component.key, series.flat().map((p) => p.value));
    return {
      ...axis,
      title: `${component.label} (${component.better} is better${axis.yScale ? "; log scale" : ""})`,
      xLabel: against === "proxy" ? "proxy reward" : "completed training epochs",
      yLabel: component.key,
      integerX: against === "epoch",
      hbands: floorBand(series, component.better),
      lines: series.map((all, k) => {
        const list = against === "proxy" ? all.filter((p) => p.proxy !== null) : all;
        return {
          label: `${names[k]} ${component.key}`,
          run: names[k],
          color: colors[k],
          points: list.map((p): Point => [against === "proxy" ? p.proxy! : p.epoch, p.value]),
          whiskers: list.map((p) => p.ci),
        };
      }),
    };
  });
}

/**
 * The method's own statistics per epoch (issue #13: gated / masked / hinge-active fractions,
 * window position, GARDO's p and resets …): one panel per key of the epoch records'
 * `methodStats` (the per-row mean) and `methodState`, one curve per run that logs it.
 */
export function methodStatPanels(runs: readonly (readonly SlimRecord[])[], names: readonly string[], colors: readonly string[]): PanelSpec[] {
  const epochs = runs.map((records) => records.filter((r): r is SlimEpoch => r.type === "epoch"));
  const value = (record: SlimEpoch, key: string): number | null | undefined =>
    key.startsWith("state:") ? record.methodState?.[key.slice(6)] : record.methodStats?.[key]?.mean;
  const keys: string[] = [];
  for (const list of epochs)
    for (const record of list)
      for (const key of [...Object.keys(record.methodStats ?? {}), ...Object.keys(record.methodState ?? {}).map((k) => `state:${k}`)]) if (!keys.includes(key)) keys.push(key);
  return keys.map((key): PanelSpec => ({
    title: key.startsWith("state:") ? `${key.slice(6)} (method state)` : `${key} (mean over rows)`,
    xLabel: "completed training epochs",
    yLabel: key,
    integerX: true,
    lines: epochs.flatMap((list, k) => {
      const points = list.flatMap((record): Point[] => {
        const v = value(record, key);
        return typeof v === "number" && Number.isFinite(v) ? [[record.epoch + 1, v]] : [];
      });
      return points.length ? [{ label: `${names[k]} ${key}`, run: names[k], color: colors[k], points }] : [];
    }),
  }));
}
