/**
 * A linear "velocity model" v = a·x + b (scalar parameters a, b) for closed-form loss tests:
 * every quantity of E8–E20 is then a float64 expression on the host, while the loss under
 * test runs the real code path (policyLoss, objectives, strategies) in float32 on jax-js.
 * Not a test file (no `.test.`): imported by the method tests.
 */
import { numpy as np, type JaxArray } from "../src/engine/jax.js";
import { HostRng } from "../src/engine/prng.js";
import type { ParamTree } from "../src/engine/tree.js";
import type { VelocityModel } from "../src/models/model.js";
import type { MinibatchRows } from "../src/rl/loss.js";

export const linearModel = (dims: number): VelocityModel => ({
  config: { kind: "linear-test", sampleShape: [dims], vocab: [""], promptLength: 1 },
  init: (key) => {
    key.dispose();
    return { a: np.array([1]), b: np.array([0]) };
  },
  apply(params, x, s, tokens) {
    s.dispose();
    tokens.dispose();
    return x.mul((params.a as JaxArray).ref).add((params.b as JaxArray).ref);
  },
});

export interface LinearCase {
  R: number;
  D: number;
  /** Rows' states, noises (row-major [R, D]) and per-row coefficients. */
  x: Float64Array;
  z: Float64Array;
  alpha: number[];
  beta: number[];
  std: number[];
  dt: number[];
  advantage: number[];
  weight: number[];
  /** θ_old. */
  a0: number;
  b0: number;
}

export function randomCase(R: number, D: number, seed: number, overrides: Partial<LinearCase> = {}): LinearCase {
  const rng = new HostRng(seed);
  const stds = Array.from({ length: R }, (_, j) => 0.2 + 0.1 * (j % 3));
  return {
    R,
    D,
    x: Float64Array.from({ length: R * D }, () => rng.normal()),
    z: Float64Array.from({ length: R * D }, () => rng.normal()),
    alpha: Array.from({ length: R }, (_, j) => 1 - 0.05 * (j % 2)),
    beta: Array.from({ length: R }, (_, j) => -0.1 - 0.05 * (j % 4)),
    std: stds,
    dt: Array.from({ length: R }, (_, j) => -0.1 - 0.02 * (j % 3)),
    advantage: Array.from({ length: R }, (_, j) => (j % 2 ? 1 : -1) * (0.5 + 0.25 * (j % 3))),
    weight: Array.from({ length: R }, () => 1),
    a0: 0.9,
    b0: 0.1,
    ...overrides,
  };
}

/** μ_θ of row j, dim d, at parameters (a, b). */
export const mean = (c: LinearCase, a: number, b: number, j: number, d: number): number => {
  const x = c.x[j * c.D + d];
  return c.alpha[j] * x + c.beta[j] * (a * x + b);
};

/** Δ = μ_θ − μ_old per row and dim. */
export const delta = (c: LinearCase, a: number, b: number, j: number, d: number): number => c.beta[j] * ((a - c.a0) * c.x[j * c.D + d] + (b - c.b0));

const rowMean = (c: LinearCase, f: (d: number) => number): number => {
  let sum = 0;
  for (let d = 0; d < c.D; d++) sum += f(d);
  return sum / c.D;
};

/** Closed forms (float64) of the per-row log-ratios. */
export function closedForm(c: LinearCase, a: number, b: number) {
  const rows = Array.from({ length: c.R }, (_, j) => {
    const dz = rowMean(c, (d) => c.z[j * c.D + d] * delta(c, a, b, j, d));
    const d2 = rowMean(c, (d) => delta(c, a, b, j, d) ** 2);
    const kappa = 1 / (2 * c.std[j] ** 2);
    // log r = −κ·mean((std·z − Δ)²) + κ·mean((std·z)²) = κ·(2·std·mean(zΔ) − mean(Δ²))
    const logR = kappa * (2 * c.std[j] * dz - d2);
    return { logR, logRhoHat: dz, meanDeltaSq: d2, bias: d2 / (2 * c.std[j] ** 2), kappa };
  });
  return rows;
}

/** Rows for the loss (Gaussian log-prob convention, E3). */
export function linearRows(c: LinearCase): MinibatchRows {
  const { R, D } = c;
  const muOld = new Float32Array(R * D);
  const xNext = new Float32Array(R * D);
  const logProbOld = new Float32Array(R);
  const logConst = c.std.map((s) => -Math.log(s) - 0.5 * Math.log(2 * Math.PI));
  for (let j = 0; j < R; j++) {
    let sq = 0;
    for (let d = 0; d < D; d++) {
      const mu = mean(c, c.a0, c.b0, j, d);
      muOld[j * D + d] = mu;
      xNext[j * D + d] = mu + c.std[j] * c.z[j * D + d];
      sq += (xNext[j * D + d] - muOld[j * D + d]) ** 2;
    }
    logProbOld[j] = -sq / D / (2 * c.std[j] ** 2) + logConst[j];
  }
  const f32 = (values: ArrayLike<number>) => np.array(Float32Array.from(values));
  return {
    x: f32(c.x).reshape([R, D]),
    xNext: np.array(xNext).reshape([R, D]),
    muOld: np.array(muOld).reshape([R, D]),
    logProbOld: np.array(logProbOld),
    s: f32(c.dt.map(() => 0.5)),
    tokens: np.zeros([R, 1], { dtype: np.int32 }),
    alpha: f32(c.alpha),
    beta: f32(c.beta),
    std: f32(c.std),
    kappa: f32(c.std.map((s) => 1 / (2 * s * s))),
    logConst: f32(logConst),
    sigma: f32(c.std.map((s, j) => s / Math.sqrt(-c.dt[j]))),
    stepWeight: f32(c.weight),
    advantage: f32(c.advantage),
  };
}

export const linearParams = (a: number, b: number): ParamTree => ({ a: np.array([a]), b: np.array([b]) });

export const relClose = (actual: number, expected: number, rel: number, abs = 1e-9): boolean => Math.abs(actual - expected) <= rel * Math.abs(expected) + abs;
