/**
 * `toy-mode`: reward for 2-D toy samples, exp(−‖x − c‖² / (2·w²)) for the centre c of a
 * target mixture mode — "favour one mode". Used by the fast learning tests.
 */
import { DEFAULT_MIXTURE, modeCenter } from "../data/toy.js";
import { UserError } from "../engine/errors.js";
import type { Reward } from "./reward.js";

export function toyModeReward(options: { mode?: number; width?: number } = {}): Reward {
  const [cx, cy] = modeCenter(DEFAULT_MIXTURE, options.mode ?? 0);
  const width = options.width ?? 1.0;
  return {
    name: "toy-mode",
    async score({ images, sampleShape }) {
      if (sampleShape.length !== 1 || sampleShape[0] !== 2) throw new UserError(`toy-mode: expects 2-D points, got samples of shape [${sampleShape}]`);
      const n = images.length / 2;
      return Float32Array.from({ length: n }, (_, i) => Math.exp(-((images[2 * i] - cx) ** 2 + (images[2 * i + 1] - cy) ** 2) / (2 * width * width)));
    },
  };
}
