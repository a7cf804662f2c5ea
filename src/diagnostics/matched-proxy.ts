/**
 * Gold at matched proxy (benchmark B2/B3): compare methods where they reach the same proxy
 * reward, not at the same epoch. For each run, a gold component at proxy level L is read at
 * the *first crossing* of L by the run's evaluation series, linearly interpolated between the
 * last evaluation below L and the first at or above it:
 *
 *     t = (L − p_{i−1}) / (p_i − p_{i−1}),   g(L) = g_{i−1} + t·(g_i − g_{i−1}).
 *
 * A run whose first evaluation is already ≥ L is read there; a run that never reaches L is
 * *censored* at that level (counted and shown, never silently dropped). Across seeds: the mean
 * and a 95 % t-interval of the runs that reached L.
 */
import { meanCi } from "./bootstrap.js";

export interface EvalPoint {
  epoch: number;
  proxy: number | null;
  /** Gold components by key (null where the evaluation has none). */
  values: Readonly<Record<string, number | null | undefined>>;
}

export type Crossing = { reached: true; epoch: number; values: Record<string, number | null> } | { reached: false; lastProxy: number | null };

/** Every component of one run at the first crossing of `level` (epoch interpolated too). */
export function atProxyLevel(series: readonly EvalPoint[], level: number): Crossing {
  const points = series.filter((p): p is EvalPoint & { proxy: number } => p.proxy !== null && Number.isFinite(p.proxy)).sort((a, b) => a.epoch - b.epoch);
  const i = points.findIndex((p) => p.proxy >= level);
  if (i < 0) return { reached: false, lastProxy: points.at(-1)?.proxy ?? null };
  const keys = new Set(points.flatMap((p) => Object.keys(p.values)));
  const read = (p: EvalPoint, key: string): number | null => {
    const v = p.values[key];
    return v === null || v === undefined || !Number.isFinite(v) ? null : v;
  };
  if (i === 0) return { reached: true, epoch: points[0].epoch, values: Object.fromEntries([...keys].map((k) => [k, read(points[0], k)])) };
  const [before, after] = [points[i - 1], points[i]];
  const t = (level - before.proxy) / (after.proxy - before.proxy);
  const lerp = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a + t * (b - a));
  return {
    reached: true,
    epoch: before.epoch + t * (after.epoch - before.epoch),
    values: Object.fromEntries([...keys].map((k) => [k, lerp(read(before, k), read(after, k))])),
  };
}

export interface MatchedCell {
  level: number;
  key: string;
  /** Runs that reached the level (with a value for this key). */
  reached: number;
  /** Runs that never reached the level. */
  censored: number;
  runs: number;
  mean: number;
  /** 95 % t-interval over the reaching runs ([NaN, NaN] below 2 of them). */
  ci: [number, number];
  values: number[];
}

/** The matched-proxy cells of one group of runs (e.g. the seeds of one method): one per level × key. */
export function matchedProxy(runs: readonly (readonly EvalPoint[])[], levels: readonly number[], keys: readonly string[]): MatchedCell[] {
  const cells: MatchedCell[] = [];
  for (const level of levels) {
    const crossings = runs.map((series) => atProxyLevel(series, level));
    const censored = crossings.filter((c) => !c.reached).length;
    for (const key of keys) {
      const values = crossings.flatMap((c) => (c.reached && c.values[key] !== null && c.values[key] !== undefined ? [c.values[key] as number] : []));
      const { value, ci } = meanCi(values);
      cells.push({ level, key, reached: values.length, censored, runs: runs.length, mean: value, ci, values });
    }
  }
  return cells;
}
