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
const E11_KEYS = new Set(["advantage", "logRatio", "clippedLogRatio", "klRef"]);

interface Totals {
  sum: number;
  max: number;
  count: number;
}

/** Add `values` to the running totals of `key`. */
function accumulate(totals: Record<string, Totals>, key: string, values: Iterable<number>): Totals {
  const total = (totals[key] ??= { sum: 0, max: -Infinity, count: 0 });
  for (const v of values) {
    total.sum += v;
    total.max = Math.max(total.max, v);
    total.count++;
  }
  return total;
}

/** Mean and maximum per key (keys without values left out). */
const meanMax = (totals: Record<string, Totals>): Record<string, { mean: number; max: number }> =>
  Object.fromEntries(Object.entries(totals).filter(([, t]) => t.count > 0).map(([key, t]) => [key, { mean: t.sum / t.count, max: t.max }]));

export class StepLog {
  private readonly perStep: Record<string, number[]>[];
  private readonly onPolicyCheck: OnPolicyCheck = { rows: 0, maxAbsLogRatio: 0, maxAbsClippedLogRatio: 0 };
  private readonly onPolicyMethod: Record<string, Totals> = {};

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
      for (const [key, values] of Object.entries(chunk.values)) if (!E11_KEYS.has(key)) accumulate(this.onPolicyMethod, key, Array.from(values, Number));
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
    const methodStats = meanMax(this.onPolicyMethod);
    return { ...this.onPolicyCheck, ...(Object.keys(methodStats).length ? { methodStats } : {}) };
  }

  /** The histogram half-range these statistics use. */
  histogramRange(settings: StepStatsSettings): number {
    if (settings.histogramRange !== "auto") return settings.histogramRange;
    return autoHistogramRange(this.perStep.map((log) => log.clippedLogRatio ?? []), settings.clipLow, settings.clipHigh);
  }

  /**
   * Mean and maximum over the off-policy rows of every per-row statistic a method's loss adds
   * (keys other than the E11 ones), over all steps and per step.
   */
  methodStats(): { epoch: Record<string, { mean: number; max: number }>; perStep: Record<string, number>[] } {
    const epoch: Record<string, Totals> = {};
    const perStep = this.perStep.map((log) => {
      const means: Record<string, number> = {};
      for (const [key, values] of Object.entries(log)) {
        if (E11_KEYS.has(key) || values.length === 0) continue;
        const step = accumulate({}, key, values);
        means[key] = step.sum / step.count;
        const total = (epoch[key] ??= { sum: 0, max: -Infinity, count: 0 });
        total.sum += step.sum;
        total.max = Math.max(total.max, step.max);
        total.count += step.count;
      }
      return means;
    });
    return { epoch: meanMax(epoch), perStep };
  }

  stats(steps: readonly StepRecord[], weights: readonly number[], settings: StepStatsSettings): StepStats[] {
    const range = this.histogramRange(settings);
    const { perStep } = this.methodStats();
    return steps.map((record, k) => {
      const log = this.perStep[k];
      const method = Object.keys(perStep[k]).length ? { method: perStep[k] } : {};
      return { ...stepStats(
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
      ), ...method };
    });
  }
}
