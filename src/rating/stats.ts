/**
 * Statistics of a pairwise preference study, as pure functions: Wilson score intervals for
 * win / tie / lose proportions, Bradley–Terry strengths (Hunter's MM algorithm, ties counted as
 * half a win for each side) with a bootstrap, Cohen's κ and Fleiss' κ for rater agreement, and
 * the sample-size arithmetic docs/human-eval.md walks through.
 */
import { quantile } from "../diagnostics/quantile.js";

/** The two-sided 95 % normal quantile. */
export const Z95 = 1.959963984540054;

export interface Interval {
  lo: number;
  hi: number;
}

/**
 * Wilson score interval for k successes in n trials:
 * (p̂ + z²/2n ± z·sqrt(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n). n = 0 gives the uninformative [0, 1].
 */
export function wilsonInterval(successes: number, n: number, z = Z95): Interval {
  if (!Number.isInteger(successes) || !Number.isInteger(n) || successes < 0 || n < 0 || successes > n) {
    throw new Error(`wilsonInterval: expected integers 0 ≤ successes ≤ n, got ${successes} of ${n}`);
  }
  if (n === 0) return { lo: 0, hi: 1 };
  const p = successes / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}

/** Normal-approximation half-width z·sqrt(p(1−p)/n) of a proportion's interval. */
export function proportionHalfWidth(p: number, n: number, z = Z95): number {
  return z * Math.sqrt((p * (1 - p)) / n);
}

/** Votes needed for a normal-approximation half-width `halfWidth` at proportion p: ⌈z²p(1−p)/h²⌉. */
export function votesForHalfWidth(halfWidth: number, p = 0.5, z = Z95): number {
  if (!(halfWidth > 0 && halfWidth < 1)) throw new Error(`votesForHalfWidth: half-width must be in (0, 1), got ${halfWidth}`);
  return Math.ceil((z * z * p * (1 - p)) / (halfWidth * halfWidth));
}

/**
 * Effective number of independent votes when each of `pairs` pairs is rated by `raters` raters
 * whose answers on the same pair correlate with intra-pair correlation ρ (the design effect
 * 1 + (m − 1)ρ of cluster sampling): ρ = 0 → pairs·raters, ρ = 1 → pairs.
 */
export function effectiveVotes(pairs: number, raters: number, rho: number): number {
  return (pairs * raters) / (1 + (raters - 1) * rho);
}

/** One judged comparison between methods a and b. */
export interface Comparison {
  a: number;
  b: number;
  outcome: "a" | "b" | "tie";
}

export interface BradleyTerryFit {
  /** Strength shares π_i (Σ π = 1) — P(i beats j) = π_i / (π_i + π_j); null for a method never compared. */
  shares: (number | null)[];
  iterations: number;
  converged: boolean;
}

/**
 * Bradley–Terry strengths by Hunter's (2004) MM iteration π_i ← W_i / Σ_j n_ij / (π_i + π_j),
 * renormalised to Σ π = 1, where n_ij counts every comparison of i with j and W_i counts i's
 * wins plus half of its ties (a tie is half a win for each side, which keeps the likelihood a
 * plain Bradley–Terry one). A method that never wins nor ties gets share 0 (the maximum-
 * likelihood estimate sits on the boundary).
 */
export function bradleyTerry(methods: number, comparisons: readonly Comparison[], { maxIterations = 10_000, tolerance = 1e-12 } = {}): BradleyTerryFit {
  const n = Array.from({ length: methods }, () => new Float64Array(methods));
  const wins = new Float64Array(methods);
  for (const { a, b, outcome } of comparisons) {
    if (a === b || a < 0 || b < 0 || a >= methods || b >= methods) throw new Error(`bradleyTerry: comparison of methods ${a} and ${b} outside 0..${methods - 1}`);
    n[a][b] += 1;
    n[b][a] += 1;
    if (outcome === "a") wins[a] += 1;
    else if (outcome === "b") wins[b] += 1;
    else {
      wins[a] += 0.5;
      wins[b] += 0.5;
    }
  }
  const compared = Array.from({ length: methods }, (_, i) => n[i].some((x) => x > 0));
  const active = compared.filter(Boolean).length;
  let shares = Float64Array.from(compared, (c) => (c ? 1 / active : 0));
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations && !converged) {
    iterations += 1;
    const next = new Float64Array(methods);
    for (let i = 0; i < methods; i++) {
      if (!compared[i]) continue;
      let denominator = 0;
      for (let j = 0; j < methods; j++) {
        const total = shares[i] + shares[j];
        if (n[i][j] > 0 && total > 0) denominator += n[i][j] / total;
      }
      next[i] = denominator > 0 ? wins[i] / denominator : 0;
    }
    const sum = next.reduce((s, x) => s + x, 0);
    if (sum > 0) for (let i = 0; i < methods; i++) next[i] /= sum;
    converged = next.every((x, i) => Math.abs(x - shares[i]) < tolerance);
    shares = next;
  }
  return { shares: Array.from(shares, (x, i) => (compared[i] ? x : null)), iterations, converged };
}

export interface BootstrapBradleyTerry {
  fit: BradleyTerryFit;
  /** Percentile intervals of each share over the bootstrap resamples (null where never compared). */
  intervals: (Interval | null)[];
  resamples: number;
}

/**
 * Bradley–Terry with percentile bootstrap intervals. Resampling is by cluster: whole pairs
 * (all the votes on one image pair) are drawn with replacement, since votes on the same pair
 * are not independent. `uniform` is a seeded generator of numbers in [0, 1).
 */
export function bootstrapBradleyTerry(
  methods: number,
  clusters: readonly (readonly Comparison[])[],
  uniform: () => number,
  { resamples = 1000, level = 0.95 } = {},
): BootstrapBradleyTerry {
  const fit = bradleyTerry(methods, clusters.flat());
  const draws: number[][] = Array.from({ length: methods }, () => []);
  for (let r = 0; r < resamples && clusters.length > 0; r++) {
    const sample: Comparison[] = [];
    for (let k = 0; k < clusters.length; k++) sample.push(...clusters[Math.floor(uniform() * clusters.length)]);
    bradleyTerry(methods, sample, { maxIterations: 2000, tolerance: 1e-9 }).shares.forEach((s, i) => s !== null && draws[i].push(s));
  }
  const tail = (1 - level) / 2;
  const intervals = draws.map((values, i) => (fit.shares[i] === null || values.length === 0 ? null : { lo: quantile(values, tail), hi: quantile(values, 1 - tail) }));
  return { fit, intervals, resamples };
}


/**
 * Cohen's κ from a k × k contingency table (rows: rater 1's category, columns: rater 2's):
 * (p_o − p_e) / (1 − p_e) with p_o the diagonal share and p_e = Σ_c row_c·col_c / N².
 * NaN when p_e = 1 (both raters used one and the same category throughout).
 */
export function cohenKappa(table: readonly (readonly number[])[]): number {
  const k = table.length;
  const total = table.flat().reduce((s, x) => s + x, 0);
  if (total === 0) return Number.NaN;
  let observed = 0;
  let expected = 0;
  for (let c = 0; c < k; c++) {
    observed += table[c][c];
    const row = table[c].reduce((s, x) => s + x, 0);
    const column = table.reduce((s, r) => s + r[c], 0);
    expected += row * column;
  }
  const po = observed / total;
  const pe = expected / (total * total);
  return pe === 1 ? Number.NaN : (po - pe) / (1 - pe);
}

/**
 * Fleiss' κ from an items × categories count matrix where every item was rated by the same
 * number m ≥ 2 of raters: P̄ = mean_i Σ_c n_ic(n_ic − 1) / (m(m − 1)), P̄_e = Σ_c p_c² with p_c
 * the overall share of category c; κ = (P̄ − P̄_e) / (1 − P̄_e).
 */
export function fleissKappa(counts: readonly (readonly number[])[]): number {
  if (counts.length === 0) return Number.NaN;
  const m = counts[0].reduce((s, x) => s + x, 0);
  if (m < 2 || counts.some((row) => row.reduce((s, x) => s + x, 0) !== m)) {
    throw new Error(`fleissKappa: every item needs the same number (≥ 2) of ratings`);
  }
  const categories = counts[0].length;
  const items = counts.length;
  let agreement = 0;
  const share = new Float64Array(categories);
  for (const row of counts) {
    agreement += row.reduce((s, x) => s + x * (x - 1), 0) / (m * (m - 1));
    row.forEach((x, c) => (share[c] += x / (items * m)));
  }
  const pBar = agreement / items;
  const pExpected = share.reduce((s, p) => s + p * p, 0);
  return pExpected === 1 ? Number.NaN : (pBar - pExpected) / (1 - pExpected);
}

export interface SizingRow {
  halfWidth: number;
  /** Independent votes for that half-width at p = 0.5 (the widest case) and at p = 0.7. */
  votesAtHalf: number;
  votesAt70: number;
  /** Pairs needed with `raters` raters per pair whose answers correlate by ρ (p = 0.5). */
  pairs: number;
}

/** How many votes and pairs a study needs for each target half-width (docs/human-eval.md). */
export function sizingTable(halfWidths: readonly number[], raters: number, rho: number, z = Z95): SizingRow[] {
  return halfWidths.map((h) => {
    const votesAtHalf = votesForHalfWidth(h, 0.5, z);
    return { halfWidth: h, votesAtHalf, votesAt70: votesForHalfWidth(h, 0.7, z), pairs: Math.ceil((votesAtHalf * (1 + (raters - 1) * rho)) / raters) };
  });
}
