/**
 * Small dense float64 linear algebra on the host for evaluation statistics (feature means,
 * covariances, matrix square roots): d ≤ a few hundred, so plain JS is plenty.
 */
export type Matrix = Float64Array; // row-major d×d

export function meanAndCovariance(features: ArrayLike<number>, n: number, d: number): { mean: Float64Array; cov: Matrix } {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += features[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      const da = features[i * d + a] - mean[a];
      for (let b = a; b < d; b++) cov[a * d + b] += da * (features[i * d + b] - mean[b]);
    }
  }
  const denom = Math.max(1, n - 1);
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      cov[a * d + b] /= denom;
      cov[b * d + a] = cov[a * d + b];
    }
  }
  return { mean, cov };
}

/** Eigen-decomposition of a symmetric matrix (cyclic Jacobi): values and column eigenvectors. */
export function symmetricEigen(matrix: Matrix, d: number): { values: Float64Array; vectors: Matrix } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += a[p * d + q] ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p];
          const akq = a[k * d + q];
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k];
          const aqk = a[q * d + k];
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p];
          const vkq = v[k * d + q];
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: d }, (_, i) => a[i * d + i]), vectors: v };
}

/** Square root of a symmetric positive semi-definite matrix (negative eigenvalues clamped to 0). */
export function sqrtPsd(matrix: Matrix, d: number): Matrix {
  const { values, vectors } = symmetricEigen(matrix, d);
  const out = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const root = Math.sqrt(Math.max(0, values[k]));
    if (root === 0) continue;
    for (let i = 0; i < d; i++) {
      const vik = vectors[i * d + k] * root;
      for (let j = 0; j < d; j++) out[i * d + j] += vik * vectors[j * d + k];
    }
  }
  return out;
}

export function matmul(a: Matrix, b: Matrix, d: number): Matrix {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let k = 0; k < d; k++) {
    const aik = a[i * d + k];
    if (aik === 0) continue;
    for (let j = 0; j < d; j++) out[i * d + j] += aik * b[k * d + j];
  }
  return out;
}

/**
 * Fréchet distance between Gaussians N(μ1, Σ1), N(μ2, Σ2):
 * ‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2·(Σ1^½ Σ2 Σ1^½)^½)  (the FID formula, symmetric form).
 */
export function frechetDistance(a: { mean: Float64Array; cov: Matrix }, b: { mean: Float64Array; cov: Matrix }, d: number): number {
  let meanTerm = 0;
  for (let j = 0; j < d; j++) meanTerm += (a.mean[j] - b.mean[j]) ** 2;
  const rootA = sqrtPsd(a.cov, d);
  const cross = sqrtPsd(matmul(matmul(rootA, b.cov, d), rootA, d), d);
  let trace = 0;
  for (let j = 0; j < d; j++) trace += a.cov[j * d + j] + b.cov[j * d + j] - 2 * cross[j * d + j];
  return Math.max(0, meanTerm + trace);
}
