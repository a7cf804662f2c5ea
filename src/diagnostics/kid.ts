/**
 * Kernel distance (KID): the unbiased estimator of the squared maximum mean discrepancy with
 * the cubic polynomial kernel k(x, y) = (x·y / d + 1)³ (Bińkowski et al. 2018):
 *
 *     MMD²_u(X, Y) = 1/(m(m−1)) Σ_{i≠j} k(x_i, x_j) + 1/(n(n−1)) Σ_{i≠j} k(y_i, y_j) − 2/(mn) Σ_{i,j} k(x_i, y_j)
 *
 * Its expectation is the population MMD² at every sample size (it can be negative when the
 * two distributions are equal), unlike the Fréchet distance, whose plug-in covariances bias it
 * upward by O(d/n). Features are row-major [rows × d] arrays.
 */

/**
 * k(x_i, y_j) = (γ·x_i·y_j + 1)³ for rows i of `a` and j of `b`; γ = 1/d is the standard
 * kernel. A feature space whose coordinates are not O(1) passes γ = 1/(d·s²) — the kernel of
 * the features divided by s — so that the cube does not amplify a few large dot products.
 */
export function polynomialKernel(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, d: number, gamma = 1 / d): number {
  let dot = 0;
  for (let k = 0; k < d; k++) dot += a[i * d + k] * b[j * d + k];
  const base = gamma * dot + 1;
  return base * base * base;
}

/** The kernel matrix [na × nb] between the rows of `a` and `b`. */
export function kernelMatrix(a: ArrayLike<number>, na: number, b: ArrayLike<number>, nb: number, d: number, gamma = 1 / d): Float64Array {
  const out = new Float64Array(na * nb);
  for (let i = 0; i < na; i++) for (let j = 0; j < nb; j++) out[i * nb + j] = polynomialKernel(a, i, b, j, d, gamma);
  return out;
}

/** γ that puts features on unit scale: 1/(mean squared norm of the reference rows), i.e. 1/d after dividing every coordinate by its RMS. */
export function unitScaleGamma(y: ArrayLike<number>, ny: number, d: number): number {
  let sq = 0;
  for (let i = 0; i < ny * d; i++) sq += y[i] * y[i];
  return sq > 0 ? ny / sq : 1 / d;
}

/** Mean of the off-diagonal entries of a square kernel matrix restricted to `rows` (all rows when omitted). */
export function offDiagonalMean(k: Float64Array, n: number, rows?: readonly number[]): number {
  const idx = rows ?? Array.from({ length: n }, (_, i) => i);
  const m = idx.length;
  if (m < 2) return NaN;
  let sum = 0;
  for (const i of idx) for (const j of idx) if (i !== j) sum += k[i * n + j];
  return sum / (m * (m - 1));
}

/** Unbiased MMD² (KID) between the rows of `x` and `y`; both need at least 2 rows. */
export function kid(x: ArrayLike<number>, nx: number, y: ArrayLike<number>, ny: number, d: number, gamma = 1 / d): number {
  return new KidReference(y, ny, d, gamma).against(x, nx).value();
}

/**
 * A fixed reference sample Y (e.g. the real held-out digits of one class) with its Y–Y term
 * computed once; `against(X)` then costs O(|X|·(|X| + |Y|)·d), and sub-samples of X (for
 * confidence intervals) cost O(|subset|²).
 */
export class KidReference {
  readonly meanYY: number;

  constructor(readonly y: ArrayLike<number>, readonly ny: number, readonly d: number, readonly gamma = 1 / d) {
    if (ny < 2) throw new RangeError(`KID needs at least 2 reference rows, got ${ny}`);
    let sum = 0;
    for (let i = 0; i < ny; i++) for (let j = i + 1; j < ny; j++) sum += polynomialKernel(y, i, y, j, d, gamma);
    this.meanYY = (2 * sum) / (ny * (ny - 1));
  }

  /** The X-dependent terms of KID for a generated sample X. */
  against(x: ArrayLike<number>, nx: number): KidTerms {
    const kxx = kernelMatrix(x, nx, x, nx, this.d, this.gamma);
    const rowMeanXY = new Float64Array(nx);
    for (let i = 0; i < nx; i++) {
      let sum = 0;
      for (let j = 0; j < this.ny; j++) sum += polynomialKernel(x, i, this.y, j, this.d, this.gamma);
      rowMeanXY[i] = sum / this.ny;
    }
    return new KidTerms(kxx, rowMeanXY, this.meanYY, nx);
  }
}

/** KID of a sample X (or any subset of its rows) against a KidReference. */
export class KidTerms {
  constructor(readonly kxx: Float64Array, readonly rowMeanXY: Float64Array, readonly meanYY: number, readonly n: number) {}

  /** KID of the rows `rows` of X (all of X when omitted); NaN with fewer than 2 rows. */
  value(rows?: readonly number[]): number {
    const idx = rows ?? Array.from({ length: this.n }, (_, i) => i);
    if (idx.length < 2) return NaN;
    let cross = 0;
    for (const i of idx) cross += this.rowMeanXY[i];
    return offDiagonalMean(this.kxx, this.n, idx) + this.meanYY - (2 * cross) / idx.length;
  }
}
