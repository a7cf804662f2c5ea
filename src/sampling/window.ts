/**
 * The SDE window (algorithms.md E6): which steps of the schedule are stochastic and trained
 * in an epoch. Everything else runs the ODE (E2).
 * - `all`: every trainable step;
 * - `fixed`: steps start … start+size−1;
 * - `random`: each epoch, a size drawn from `candidates`, then that many trainable steps
 *   chosen uniformly (TempFlow/MixGRPO-style efficiency);
 * - `sliding` (MixGRPO, E17): W = {l..l+w−1} inside the first L trainable steps; l starts at 0
 *   and advances by s (`stride`) every τ (`every`) epochs, rolling back to 0 when l > L − w
 *   (testbed rule; the official code lets the last windows come out truncated). τ = "auto"
 *   makes one sweep over the run: τ = ⌊epochs/(⌊(L−w)/s⌋+1)⌋.
 * - `branch` (TempFlow, E17 i): one SDE step b, drawn uniformly from the first `firstSteps`
 *   trainable steps, ODE elsewhere; with shared initial noise the members of a group are
 *   identical up to x_{s_b}, and the in-group reward spread is credited to b. b is drawn once
 *   per epoch for all groups (testbed choice: one window per rollout batch).
 */
import type { HostRng } from "../engine/prng.js";
import type { Dynamics } from "./dynamics.js";
import type { TimestepSchedule } from "./schedule.js";

export type WindowConfig =
  | { mode: "all" }
  | { mode: "fixed"; start: number; size: number }
  | { mode: "random"; candidates: number[] }
  | { mode: "sliding"; size: number; stride: number; every: number | "auto"; limit?: number }
  | { mode: "branch"; firstSteps: number };

export function trainableSteps(schedule: TimestepSchedule, dynamics: Dynamics): number[] {
  if (!dynamics.stochastic) return [];
  return Array.from({ length: schedule.steps }, (_, i) => i).filter((i) => dynamics.trainable(schedule, i));
}

/** MixGRPO's window start l (an index into the trainable steps) at `epoch` of a run of `epochs`. */
export function slidingStart(config: Extract<WindowConfig, { mode: "sliding" }>, trainable: number, epoch: number, epochs: number): { start: number; size: number; every: number } {
  const limit = Math.max(1, Math.min(config.limit ?? trainable, trainable));
  const size = Math.max(1, Math.min(config.size, limit));
  const positions = Math.floor((limit - size) / config.stride) + 1;
  const every = config.every === "auto" ? Math.max(1, Math.floor(epochs / positions)) : config.every;
  return { start: (Math.floor(epoch / every) % positions) * config.stride, size, every };
}

/**
 * The trained step indices (sorted) for `epoch` of a run of `epochs`; `rng` is used by the
 * random and branch modes only.
 */
export function selectWindow(config: WindowConfig, schedule: TimestepSchedule, dynamics: Dynamics, epoch: number, rng: HostRng, epochs = 1): number[] {
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
      const { start, size } = slidingStart(config, candidates.length, epoch, epochs);
      return candidates.slice(start, start + size);
    }
    case "branch":
      return [candidates[rng.int(Math.min(config.firstSteps, candidates.length))]];
  }
}
