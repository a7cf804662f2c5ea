/**
 * The gold-component panels shared by `report` and the live dashboard (no Node imports: the
 * page loads this module too). One panel per component key — drawn generically from
 * `GoldMetrics.components`, or the legacy fields for older runs — with one curve per run,
 * confidence intervals as whiskers and the noise floor as a grey band on the side of it that
 * two real samples reach. Against the proxy reward this is the frontier (benchmarks B2/B3).
 */
import { componentCatalog, componentSeries, median, type ComponentPoint, type SlimRecord } from "./series.js";
import { formatTick, type PanelSpec, type Point } from "./svg.js";

export type GoldAxis = "proxy" | "epoch";

/** The grey band of a component's (median) noise floor: below it where lower is better, above it where higher is. */
export function floorBand(points: readonly ComponentPoint[][], better: "higher" | "lower"): NonNullable<PanelSpec["hbands"]> {
  const floor = median(points.flat().map((p) => p.floor));
  if (floor === null) return [];
  const label = `within the noise floor (real vs real at the same sample size: ${formatTick(floor)})`;
  return [better === "lower" ? { from: -Infinity, to: floor, color: "#888", opacity: 0.18, label } : { from: floor, to: Infinity, color: "#888", opacity: 0.18, label }];
}

export function goldComponentPanels(runs: readonly (readonly SlimRecord[])[], names: readonly string[], colors: readonly string[], against: GoldAxis): PanelSpec[] {
  return componentCatalog(runs).map((component): PanelSpec => {
    const series = runs.map((r) => componentSeries(r, component.key));
    return {
      title: `${component.label} (${component.better} is better)`,
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
