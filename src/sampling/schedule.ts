/**
 * The timestep schedule (algorithms.md E1). The scheduler owns the grid: N steps
 * u_i = 1 − i/N, shifted s_i = shift·u_i / (1 + (shift−1)·u_i), and s_N = 0. Step i goes from
 * s_i to s_{i+1} with dt_i = s_{i+1} − s_i < 0.
 */
export interface TimestepSchedule {
  steps: number;
  shift: number;
  /** s_0 … s_N (N+1 values, s_0 = 1, s_N = 0). */
  sigmas: number[];
}

export function shiftedSchedule(steps: number, shift = 3): TimestepSchedule {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`schedule: steps must be a positive integer, got ${steps}`);
  if (!(shift > 0)) throw new Error(`schedule: shift must be > 0, got ${shift}`);
  const sigmas: number[] = [];
  for (let i = 0; i < steps; i++) {
    const u = 1 - i / steps;
    sigmas.push((shift * u) / (1 + (shift - 1) * u));
  }
  sigmas.push(0);
  return { steps, shift, sigmas };
}

export function stepInterval(schedule: TimestepSchedule, i: number): { s: number; sNext: number; dt: number } {
  if (i < 0 || i >= schedule.steps) throw new Error(`schedule: step ${i} outside 0..${schedule.steps - 1}`);
  const s = schedule.sigmas[i];
  const sNext = schedule.sigmas[i + 1];
  return { s, sNext, dt: sNext - s };
}
