/** Linear-interpolated quantiles (numpy's default, "type 7"), shared by every statistic here. */

/** Quantile q ∈ [0, 1] of an already sorted array (NaN when empty). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Quantile q ∈ [0, 1] of unsorted values (sorted as float64; NaNs sort last). */
export function quantile(values: ArrayLike<number>, q: number): number {
  return quantileSorted(Float64Array.from(values).sort(), q);
}
