/**
 * Epoch statistics: the per-row values the loss reports (aux) are collected per trained step
 * over an epoch's minibatches, then summarised into E11's per-step statistics.
 */
import { stepStats, type StepStats } from "../diagnostics/ratio-stats.js";
import type { StepRecord } from "../sampling/sde.js";

export interface StepStatsSettings {
  clipLow: number;
  clipHigh: number;
  histogramRange: number;
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

export class StepLog {
  private readonly perStep: Record<string, number[]>[];

  constructor(readonly trainedSteps: number) {
    this.perStep = Array.from({ length: trainedSteps }, () => ({ advantage: [] }));
  }

  add(chunk: ChunkRows): void {
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

  stats(steps: readonly StepRecord[], weights: readonly number[], settings: StepStatsSettings): StepStats[] {
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
        settings.histogramRange,
        settings.histogramBins,
      );
    });
  }
}
