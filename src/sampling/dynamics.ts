/**
 * Sampling dynamics: how one step s → s' (dt = s' − s < 0) turns the velocity v into the
 * next sample. Every dynamics here has a mean that is *linear* in x and v,
 *
 *     μ = α·x + β·v,     x' = μ + std·z,  z ~ N(0, I),
 *
 * so a dynamics is fully described by (α, β, std) per step plus its log-prob convention.
 * β = ∂μ/∂v is what GRPO-Guard's gradient reweighting (E10) needs: |β| = c_s·|dt|.
 *
 * Derivations (algorithms.md):
 * - `ode` (E2): x' = x + v·dt → α = 1, β = dt, std = 0.
 * - `flow-sde` (E3): σ = η·sqrt(s/(1−s*)), s* = s_1 at s = 1 (avoids the pole);
 *   α = 1 + σ²·dt/(2s), β = (1 + σ²(1−s)/(2s))·dt, std = σ·sqrt(−dt).
 * - `dance-sde` (E4): x̂0 = x − s·v, score = −(x − (1−s)·x̂0)/s² = −(x + (1−s)·v)/s, so
 *   μ = x + v·dt − ½η²·score·dt = x·(1 + η²·dt/(2s)) + v·(1 + η²(1−s)/(2s))·dt:
 *   the Flow-SDE form with σ = η constant; std = η·sqrt(−dt), c_s = 1 + η²(1−s)/(2s).
 * - `cps` (E5): std = s'·sin(ηπ/2), k = sqrt(s'² − std²), x̂0 = x − s·v, ε̂ = x + (1−s)·v,
 *   μ = (1−s')·x̂0 + k·ε̂ → α = (1−s') + k, β = k·(1−s) − s·(1−s'). At s' = 0 std = 0: the
 *   last step is deterministic and never trained.
 *
 * Log-prob conventions (per sample, mean over dimensions):
 * - "gaussian" (E3, E4): log p = −mean((x'−μ)²)/(2·std²) − log std − ½·log 2π, i.e. the
 *   quadratic term has weight κ = 1/(2·std²).
 * - "simplified" (CPS, following public implementations): log p = −mean((x'−μ)²), κ = 1;
 *   constants and the variance are dropped. RatioNorm (E9) handles both through κ.
 */
import { UserError } from "../engine/errors.js";
import type { TimestepSchedule } from "./schedule.js";

export type LogProbConvention = "gaussian" | "simplified";

export interface StepCoefficients {
  s: number;
  sNext: number;
  dt: number;
  alpha: number;
  beta: number;
  std: number;
  /** Weight of −mean((x'−μ)²) in log p (κ above). 0 for deterministic steps. */
  kappa: number;
  /** Constant part of log p (−log std − ½ log 2π for "gaussian", 0 for "simplified"). */
  logConst: number;
}

export interface Dynamics {
  readonly name: string;
  readonly stochastic: boolean;
  readonly logProb: LogProbConvention;
  /** Coefficients of step i of the schedule with noise level η. */
  coefficients(schedule: TimestepSchedule, i: number, eta: number): StepCoefficients;
  /** Whether step i can be stochastic and trained (false for CPS's final step). */
  trainable(schedule: TimestepSchedule, i: number): boolean;
}

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

function gaussian(s: number, sNext: number, alpha: number, beta: number, std: number): StepCoefficients {
  return { s, sNext, dt: sNext - s, alpha, beta, std, kappa: 1 / (2 * std * std), logConst: -Math.log(std) - HALF_LOG_2PI };
}

function interval(schedule: TimestepSchedule, i: number): { s: number; sNext: number; dt: number } {
  if (!(i >= 0 && i < schedule.steps)) throw new Error(`dynamics: step ${i} outside 0..${schedule.steps - 1}`);
  const s = schedule.sigmas[i];
  const sNext = schedule.sigmas[i + 1];
  return { s, sNext, dt: sNext - s };
}

export const odeDynamics: Dynamics = {
  name: "ode",
  stochastic: false,
  logProb: "gaussian",
  coefficients(schedule, i) {
    const { s, sNext, dt } = interval(schedule, i);
    return { s, sNext, dt, alpha: 1, beta: dt, std: 0, kappa: 0, logConst: 0 };
  },
  trainable: () => false,
};

/** Shared Flow-SDE mean (E3/E4) for a given σ at time s. */
function flowSdeStep(s: number, sNext: number, sigma: number): StepCoefficients {
  const dt = sNext - s;
  const alpha = 1 + (sigma * sigma * dt) / (2 * s);
  const beta = (1 + (sigma * sigma * (1 - s)) / (2 * s)) * dt;
  return gaussian(s, sNext, alpha, beta, sigma * Math.sqrt(-dt));
}

export const flowSdeDynamics: Dynamics = {
  name: "flow-sde",
  stochastic: true,
  logProb: "gaussian",
  coefficients(schedule, i, eta) {
    const { s, sNext } = interval(schedule, i);
    const sStar = s >= 1 ? schedule.sigmas[1] : s;
    return flowSdeStep(s, sNext, eta * Math.sqrt(s / (1 - sStar)));
  },
  trainable: () => true,
};

export const danceSdeDynamics: Dynamics = {
  name: "dance-sde",
  stochastic: true,
  logProb: "gaussian",
  coefficients(schedule, i, eta) {
    const { s, sNext } = interval(schedule, i);
    return flowSdeStep(s, sNext, eta);
  },
  trainable: () => true,
};

export const cpsDynamics: Dynamics = {
  name: "cps",
  stochastic: true,
  logProb: "simplified",
  coefficients(schedule, i, eta) {
    const { s, sNext, dt } = interval(schedule, i);
    const std = sNext * Math.sin((eta * Math.PI) / 2);
    const k = Math.sqrt(Math.max(0, sNext * sNext - std * std));
    const alpha = 1 - sNext + k;
    const beta = k * (1 - s) - s * (1 - sNext);
    return { s, sNext, dt, alpha, beta, std, kappa: std > 0 ? 1 : 0, logConst: 0 };
  },
  trainable: (schedule, i) => schedule.sigmas[i + 1] > 0,
};

export const DYNAMICS: Record<string, Dynamics> = {
  ode: odeDynamics,
  "flow-sde": flowSdeDynamics,
  "dance-sde": danceSdeDynamics,
  cps: cpsDynamics,
};

export function dynamicsByName(name: string): Dynamics {
  const found = DYNAMICS[name];
  if (!found) throw new UserError(`unknown dynamics "${name}" (known: ${Object.keys(DYNAMICS).join(", ")})`);
  return found;
}
