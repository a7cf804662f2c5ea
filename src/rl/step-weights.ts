/**
 * Per-step loss weights: ONE option, never stacked (algorithms.md E17 "Overlap").
 * - `none`: every trained step weighs 1 (Flow-GRPO, DanceGRPO, Flow-DPPO).
 * - `guard` (E10): w_i ∝ 1/|β_i| = 1/(|dt_i|·c_i) — GRPO-Guard's gradient reweighting.
 * - `tempflow` (E17 ii): w_i ∝ std_i = σ_{s_i}·sqrt(−dt_i) — TempFlow's noise-aware weight
 *   (paper description only; not confirmed against code).
 * `guard` is normalised to mean 1 over the trained steps (E10). `tempflow` is normalised over
 * all trainable steps of the schedule: with TempFlow's branching only one step b is trained per
 * epoch, and a mean over the trained steps would make every weight 1.
 */
import type { StepCoefficients } from "../sampling/dynamics.js";

export type StepWeighting = "none" | "guard" | "tempflow";

const normalise = (raw: number[]): number[] => {
  const mean = raw.reduce((a, b) => a + b, 0) / raw.length;
  return raw.map((w) => w / mean);
};

/** Weights of the trained steps `steps`, given every trainable step of the schedule (default: `steps`). */
export const STEP_WEIGHTS: Record<StepWeighting, (steps: readonly StepCoefficients[], schedule?: readonly StepCoefficients[]) => number[]> = {
  none: (steps) => steps.map(() => 1),
  guard: (steps) => normalise(steps.map((c) => 1 / Math.abs(c.beta))),
  tempflow: (steps, schedule = steps) => {
    const mean = schedule.reduce((a, c) => a + c.std, 0) / schedule.length;
    return steps.map((c) => c.std / mean);
  },
};
