/**
 * Epoch statistics: the per-row values the loss reports (aux) are collected per trained step
 * over an epoch's minibatches, then summarised into E11's per-step statistics.
 */
import { autoHistogramRange, stepStats, type StepStats } from "../diagnostics/ratio-stats.js";
import type { OnPolicyCheck } from "../diagnostics/records.js";
import type { StepRecord } from "../sampling/sde.js";

export interface StepStatsSettings {
  clipLow: number;
  clipHigh: number;
  /** A fixed half-range, or "auto" (autoHistogramRange: from ε and the observed scale). */
  histogramRange: number | "auto";
  histogramBins: number;
}

/** Per-row host values of one chunk: rows are (step, sample) pairs, step-major. */
export interface ChunkRows {
  /** Positions (in the rollout's trained steps) of the chunk's steps. */
  steps: readonly number[];
  /** Advantage of each sample of the minibatch. */
  advantages: readonly number[];
  values: Record<string, ArrayLike<number>>;
}

/**
 * Per trained step, the rows of the epoch's off-policy minibatches (E11 statistics); the
 * on-policy first minibatch only feeds the E8 check (max |log r| there, which must be ≈ 0).
 */
export class StepLog {
  private readonly perStep: Record<string, number[]>[];
  private readonly onPolicyCheck: OnPolicyCheck = { rows: 0, maxAbsLogRatio: 0, maxAbsClippedLogRatio: 0 };

  constructor(readonly trainedSteps: number) {
    this.perStep = Array.from({ length: trainedSteps }, () => ({ advantage: [] }));
  }

  add(chunk: ChunkRows, onPolicy: boolean): void {
    if (onPolicy) {
      const check = this.onPolicyCheck;
      const maxAbs = (values: ArrayLike<number> | undefined, old: number) => Array.from(values ?? [], Math.abs).reduce((a, b) => Math.max(a, b), old);
      check.rows += chunk.steps.length * chunk.advantages.length;
      check.maxAbsLogRatio = maxAbs(chunk.values.logRatio, check.maxAbsLogRatio);
      check.maxAbsClippedLogRatio = maxAbs(chunk.values.clippedLogRatio, check.maxAbsClippedLogRatio);
      return;
    }
    const b = chunk.advantages.length;
    chunk.steps.forEach((k, j) => {
      const log = this.perStep[k];
      for (let i = 0; i < b; i++) log.advantage.push(chunk.advantages[i]);
      for (const [key, values] of Object.entries(chunk.values)) {
        const column = (log[key] ??= []);
        for (let i = 0; i < b; i++) column.push(Number(values[j * b + i]));
      }
    });
  }

  get onPolicy(): OnPolicyCheck {
    return { ...this.onPolicyCheck };
  }

  /** The histogram half-range these statistics use. */
  histogramRange(settings: StepStatsSettings): number {
    if (settings.histogramRange !== "auto") return settings.histogramRange;
    return autoHistogramRange(this.perStep.map((log) => log.clippedLogRatio ?? []), settings.clipLow, settings.clipHigh);
  }

  stats(steps: readonly StepRecord[], weights: readonly number[], settings: StepStatsSettings): StepStats[] {
    const range = this.histogramRange(settings);
    return steps.map((record, k) => {
      const log = this.perStep[k];
      return stepStats(
        {
          step: record.index,
          s: record.coefficients.s,
          dt: record.coefficients.dt,
          weight: weights[k],
          logRatio: log.logRatio ?? [],
          clippedLogRatio: log.clippedLogRatio ?? [],
          advantage: log.advantage,
          klRef: log.klRef ?? [],
        },
        settings.clipLow,
        settings.clipHigh,
        range,
        settings.histogramBins,
      );
    });
  }
}
