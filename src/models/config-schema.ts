/**
 * The velocity-model config stored in a weight file's metadata, as data checked before a
 * model is built from it: a corrupt or hand-edited file ends with one line naming the field,
 * not a crash (or a multi-gigabyte allocation) inside the model's constructor.
 */
import { z } from "zod";

const dim = (max: number) => z.number().int().positive().max(max);
const base = {
  sampleShape: z.array(dim(4096)).min(1).max(4),
  vocab: z.array(z.string()).min(1).max(100_000),
  promptLength: dim(1024),
};

export const VelocityModelConfigSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("dit"), ...base, patch: dim(64), width: dim(8192), depth: dim(128), heads: dim(256), mlpRatio: z.number().positive().max(64), timeDim: dim(8192), promptInitStd: z.number().nonnegative().max(1e3) })
    .refine((c) => c.width % c.heads === 0, { message: "width must be divisible by heads", path: ["width"] })
    .refine((c) => c.sampleShape.length === 3 && c.sampleShape[1] % c.patch === 0 && c.sampleShape[2] % c.patch === 0, { message: "a dit takes [channels, height, width] samples with height and width divisible by patch", path: ["sampleShape"] }),
  z.object({ kind: z.literal("mlp"), ...base, hidden: dim(65536), layers: dim(128), timeDim: dim(8192), promptDim: dim(8192) })
    .refine((c) => c.sampleShape.length === 1, { message: "an mlp takes [dim] samples", path: ["sampleShape"] }),
]);

/** The first problem of `config` as "field: message", or null when it is a valid config. */
export function velocityConfigProblem(config: unknown): string | null {
  const parsed = VelocityModelConfigSchema.safeParse(config);
  if (parsed.success) return null;
  const issue = parsed.error.issues[0];
  return `${issue.path.length ? issue.path.join(".") : "config"}: ${issue.message}`;
}
