/**
 * Confidence intervals for evaluation statistics by subset bootstrap (half-sampling, the
 * delete-d jackknife with d = n/2): draw, within every group (the samples of one prompt),
 * m = ⌊n/2⌋ of its n samples without replacement, recompute the statistic on the subsets, and
 * use the spread of the subset values around their mean, scaled by √(m/(n−m)) (= 1 at m = n/2),
 * as the spread of the full-sample statistic. Sampling without replacement keeps U-statistics
 * such as KID free of the repeated-row bias an ordinary bootstrap would add; centring on the
 * subset mean removes the extra small-sample bias a biased statistic (Fréchet) has at m.
 * The interval is conservative for degenerate U-statistics (KID between equal distributions,
 * whose spread shrinks like 1/n instead of 1/√n).
 */
import { quantileSorted } from "./quantile.js";

/** A small seeded generator (mulberry32) so these statistics need no engine import. */
export class SubsetRng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** A random permutation of 0..n−1. */
  permutation(n: number): number[] {
    const a = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.uniform() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }

  /** m distinct indices of 0..n−1, ascending (partial Fisher–Yates). */
  subset(n: number, m: number): number[] {
    const a = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < m; i++) {
      const j = i + Math.floor(this.uniform() * (n - i));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a.slice(0, m).sort((x, y) => x - y);
  }
}

export interface Estimate {
  value: number;
  ci: [number, number];
}

export interface HalfSampleOptions {
  draws?: number;
  /** Two-sided coverage, e.g. 0.95. */
  level?: number;
  seed?: number;
}


/**
 * Half-sampling confidence intervals of a vector statistic. `statistic(subsets)` gets, per
 * group, the indices (0 … size−1) of the samples to use and returns one value per component;
 * it is called once with every sample (the reported values) and `draws` times with subsets.
 * Components whose full-sample value is not finite get a [NaN, NaN] interval.
 */
export function halfSampleCi(groupSizes: readonly number[], statistic: (subsets: number[][]) => number[], options: HalfSampleOptions = {}): Estimate[] {
  const draws = options.draws ?? 200;
  const level = options.level ?? 0.95;
  const rng = new SubsetRng(options.seed ?? 0x5eed);
  const full = statistic(groupSizes.map((n) => Array.from({ length: n }, (_, i) => i)));
  const kept = groupSizes.map((n) => Math.max(Math.min(n, 2), Math.floor(n / 2)));
  const totalKept = kept.reduce((a, b) => a + b, 0);
  const totalLeft = groupSizes.reduce((a, n, g) => a + n - kept[g], 0);
  const scale = totalLeft > 0 ? Math.sqrt(totalKept / totalLeft) : 0;
  const samples: number[][] = full.map(() => []);
  for (let b = 0; b < draws; b++) {
    const subsets = groupSizes.map((n, g) => rng.subset(n, kept[g]));
    statistic(subsets).forEach((v, c) => {
      if (Number.isFinite(v)) samples[c].push(v);
    });
  }
  return full.map((value, c) => {
    const xs = samples[c].sort((a, b) => a - b);
    if (!Number.isFinite(value) || xs.length < 2) return { value, ci: [NaN, NaN] as [number, number] };
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const lo = value + scale * (quantileSorted(xs, (1 - level) / 2) - mean);
    const hi = value + scale * (quantileSorted(xs, 1 - (1 - level) / 2) - mean);
    return { value, ci: [lo, hi] as [number, number] };
  });
}

/** Two-sided Student-t quantile t_{0.975, df} (95 % intervals), tabulated; normal beyond 30. */
export function studentT975(df: number): number {
  const table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];
  if (df < 1) return NaN;
  return df <= table.length ? table[df - 1] : 1.96;
}

/**
 * The regularised incomplete beta function I_x(a, b), by its continued fraction (modified Lentz),
 * evaluated on the side of the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where it converges fast.
 */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (!(x > 0)) return 0;
  if (!(x < 1)) return 1;
  const logFront = a * Math.log(x) + b * Math.log1p(-x) - logBeta(a, b);
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = 1 / (Math.abs(d) < tiny ? tiny : d);
  let f = d;
  for (let m = 1; m <= 300; m++) {
    // The even and the odd term of the fraction (m-th pair).
    for (const numerator of [(m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m)), (-(a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1))]) {
      d = 1 + numerator * d;
      d = 1 / (Math.abs(d) < tiny ? tiny : d);
      c = 1 + numerator / c;
      if (Math.abs(c) < tiny) c = tiny;
      f *= c * d;
    }
    if (Math.abs(c * d - 1) < 1e-15) break;
  }
  return (Math.exp(logFront) * f) / a;
}

/** ln B(a, b) through ln Γ (Lanczos, g = 7). */
function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

const LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];

function logGamma(z: number): number {
  if (z < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * z))) - logGamma(1 - z);
  const x = z - 1;
  let sum = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i] / (x + i);
  const t = x + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Two-sided p-value of a Student-t statistic with `df` degrees of freedom: P(|T| ≥ |t|) = I_{df/(df+t²)}(df/2, 1/2). */
export function studentTTwoSidedP(t: number, df: number): number {
  if (!(df > 0) || Number.isNaN(t)) return NaN;
  if (!Number.isFinite(t)) return 0;
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** Two-sided one-sample t-test of mean 0 (seed-paired differences); NaN below 2 values; 0 for a nonzero constant, 1 for all zeros. */
export function tTestP(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return NaN;
  const m = values.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1));
  if (sd === 0) return m === 0 ? 1 : 0;
  return studentTTwoSidedP(m / (sd / Math.sqrt(n)), n - 1);
}

/**
 * Holm's step-down procedure: which of `ps` are rejected at family-wise level `alpha` (valid under
 * any dependence between the tests). NaN p-values are never rejected and do not count.
 */
export function holmRejected(ps: readonly number[], alpha = 0.05): boolean[] {
  const order = ps.map((p, i) => ({ p, i })).filter((x) => !Number.isNaN(x.p)).sort((x, y) => x.p - y.p);
  const rejected = ps.map(() => false);
  for (const [k, { p, i }] of order.entries()) {
    if (p > alpha / (order.length - k)) break;
    rejected[i] = true;
  }
  return rejected;
}

/** Mean and 95 % t-interval of independent values (e.g. one per seed); the interval is [NaN, NaN] for fewer than 2. */
export function meanCi(values: readonly number[]): Estimate {
  const n = values.length;
  if (n === 0) return { value: NaN, ci: [NaN, NaN] };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { value: mean, ci: [NaN, NaN] };
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const half = (studentT975(n - 1) * sd) / Math.sqrt(n);
  return { value: mean, ci: [mean - half, mean + half] };
}
