/**
 * The reward interface: a batch of final images (host memory, [B, ...sampleShape] in [−1, 1])
 * with their prompts → one score per image. Asynchronous so that a reward may live in
 * another process (an HTTP reward server) or batch work on the device.
 */
export interface RewardBatch {
  images: Float32Array;
  sampleShape: number[];
  prompts: readonly string[];
}

export interface Reward {
  readonly name: string;
  score(batch: RewardBatch): Promise<Float32Array>;
  /** Throw a UserError when this reward cannot score images made for `prompt` (checked before training). */
  checkPrompt?(prompt: string): void;
  dispose?(): void;
}
