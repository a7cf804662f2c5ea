/**
 * The SDE window (algorithms.md E6): which steps of the schedule are stochastic and trained
 * in an epoch. Everything else runs the ODE (E2).
 * - `all`: every trainable step;
 * - `fixed`: steps start … start+size−1;
 * - `random`: each epoch, a size drawn from `candidates`, then that many trainable steps
 *   chosen uniformly (TempFlow/MixGRPO-style efficiency);
 * - `sliding`: a contiguous window of `size` that advances by `stride` every `every` epochs,
 *   from the noisy end towards the data end, wrapping around (MixGRPO).
 */
import type { HostRng } from "../engine/prng.js";
import type { Dynamics } from "./dynamics.js";
import type { TimestepSchedule } from "./schedule.js";

export type WindowConfig =
  | { mode: "all" }
  | { mode: "fixed"; start: number; size: number }
  | { mode: "random"; candidates: number[] }
  | { mode: "sliding"; size: number; stride: number; every: number };

export function trainableSteps(schedule: TimestepSchedule, dynamics: Dynamics): number[] {
  if (!dynamics.stochastic) return [];
  return Array.from({ length: schedule.steps }, (_, i) => i).filter((i) => dynamics.trainable(schedule, i));
}

/** The trained step indices (sorted) for `epoch`; `rng` is used by the random mode only. */
export function selectWindow(config: WindowConfig, schedule: TimestepSchedule, dynamics: Dynamics, epoch: number, rng: HostRng): number[] {
  const candidates = trainableSteps(schedule, dynamics);
  const clampSize = (size: number): number => Math.max(1, Math.min(size, candidates.length));
  switch (config.mode) {
    case "all":
      return candidates;
    case "fixed": {
      const out = candidates.filter((i) => i >= config.start && i < config.start + config.size);
      if (out.length === 0) throw new Error(`window: fixed window [${config.start}, ${config.start + config.size}) has no trainable step`);
      return out;
    }
    case "random": {
      const size = clampSize(config.candidates[rng.int(config.candidates.length)]);
      return rng.permutation(candidates.length).slice(0, size).map((k) => candidates[k]).sort((a, b) => a - b);
    }
    case "sliding": {
      const size = clampSize(config.size);
      const positions = candidates.length - size + 1;
      const start = (Math.floor(epoch / config.every) * config.stride) % positions;
      return candidates.slice(start, start + size);
    }
  }
}
