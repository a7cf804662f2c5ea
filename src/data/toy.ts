/**
 * 2-D toy distributions: a mixture of `modes` isotropic Gaussians evenly spaced on a circle.
 * The prompt "k" asks for mode k; an empty prompt means the whole mixture.
 */
import { HostRng } from "../engine/prng.js";

export interface MixtureSpec {
  modes: number;
  radius: number;
  std: number;
}

export const DEFAULT_MIXTURE: MixtureSpec = { modes: 8, radius: 2, std: 0.15 };

export function modeCenter(spec: MixtureSpec, mode: number): [number, number] {
  const angle = (2 * Math.PI * mode) / spec.modes;
  return [spec.radius * Math.cos(angle), spec.radius * Math.sin(angle)];
}

/** n samples [n × 2] with their mode labels. */
export function sampleMixture(spec: MixtureSpec, n: number, rng: HostRng): { points: Float32Array; labels: Int32Array } {
  const points = new Float32Array(n * 2);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const mode = rng.int(spec.modes);
    const [cx, cy] = modeCenter(spec, mode);
    points[2 * i] = cx + spec.std * rng.normal();
    points[2 * i + 1] = cy + spec.std * rng.normal();
    labels[i] = mode;
  }
  return { points, labels };
}

/** Index of the nearest mode centre for each point. */
export function nearestMode(spec: MixtureSpec, points: Float32Array): Int32Array {
  const n = points.length / 2;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestDistance = Infinity;
    for (let m = 0; m < spec.modes; m++) {
      const [cx, cy] = modeCenter(spec, m);
      const d = (points[2 * i] - cx) ** 2 + (points[2 * i + 1] - cy) ** 2;
      if (d < bestDistance) [best, bestDistance] = [m, d];
    }
    out[i] = best;
  }
  return out;
}
