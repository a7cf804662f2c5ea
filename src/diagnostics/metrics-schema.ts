/**
 * The schema of `metrics.jsonl` (written by src/rl/run.ts) and a validating reader on top of
 * `readMetrics`: every line is either a valid record or a skipped line with a reason —
 * a truncated last line (a run killed mid-write, or a line being written right now), a line
 * that is not JSON, or a record that breaks the schema.
 *
 * JSON has no NaN or ±Infinity: `JSON.stringify` writes them as null. Statistics that can be
 * non-finite (quantiles of an epoch whose update was skipped, a diverged loss) are therefore
 * `number | null`; counters and indices must be integers.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { EpochRecord, EvalRecord } from "./records.js";
import type { GoldMetrics } from "../rewards/gold.js";
import type { StepStats } from "./ratio-stats.js";
import { readMetrics } from "./metrics.js";
import { UserError } from "../engine/errors.js";

/** A statistic: a number, or null where the writer had NaN/±Infinity. */
const stat = z.number().nullable();
const index = z.number().int().nonnegative();

export const SummarySchema = z.object({ mean: stat, std: stat, p1: stat, p5: stat, p50: stat, p95: stat, p99: stat });

export const HistogramSchema = z
  .object({ edges: z.array(z.number()), counts: z.array(z.number().nonnegative()) })
  .refine((h) => h.edges.length === h.counts.length + 1, { message: "histogram needs one more edge than counts" });

export const VelocityNormSchema = z.object({ ratio: stat, p5: stat, p50: stat, p95: stat, above: stat, count: index });

export const EvalVelocityNormSchema = z.object({
  pooled: VelocityNormSchema,
  steps: z.array(VelocityNormSchema.extend({ step: index, s: stat })),
});

export const OnPolicyCheckSchema = z.object({ rows: index, maxAbsLogRatio: stat, maxAbsClippedLogRatio: stat, methodStats: z.record(z.string(), z.object({ mean: stat, max: stat })).optional() });

export const StepStatsSchema = z.object({
  step: index,
  s: stat,
  dt: stat,
  weight: stat,
  logRatio: SummarySchema,
  clippedLogRatio: SummarySchema,
  histogram: HistogramSchema,
  clipPositive: stat,
  clipNegative: stat,
  clipTotal: stat,
  approxKl: stat,
  klRef: stat,
  count: index,
  velocityNorm: VelocityNormSchema.optional(),
  method: z.record(z.string(), stat).optional(),
});

export const RewardSummarySchema = z.object({ name: z.string(), mean: stat, std: stat });

export const StepGradNormSchema = z.object({ step: index, before: stat, after: stat });

export const EpochMetricsSchema = z.object({
  type: z.literal("epoch"),
  epoch: index,
  window: z.array(index),
  prompts: z.array(z.string()),
  rewards: z.array(RewardSummarySchema),
  zeroStdFraction: z.array(stat),
  groupStdMean: z.array(stat),
  advantageAbsMean: stat,
  loss: stat,
  gradNorm: stat,
  optimizerSteps: index,
  steps: z.array(StepStatsSchema),
  onPolicy: OnPolicyCheckSchema.optional(),
  histogramRange: stat.optional(),
  methodStats: z.record(z.string(), z.object({ mean: stat, max: stat })).optional(),
  methodState: z.record(z.string(), stat).optional(),
  stepGradNorms: z.array(StepGradNormSchema).optional(),
  seconds: z.object({ sample: z.number(), reward: z.number(), train: z.number() }),
});

/**
 * One gold component as the dashboard, `report` and the results pages draw it: its value, an
 * optional confidence interval and an optional noise floor (the same statistic between two
 * real samples of the same size — a difference below it is not a difference).
 */
export const GoldComponentSchema = z.object({
  key: z.string(),
  label: z.string(),
  value: stat,
  better: z.enum(["higher", "lower"]),
  ci: z.tuple([stat, stat]).optional(),
  floor: stat.optional(),
});

export const GoldMetricsSchema = z.object({
  judgeAccuracy: stat,
  frechet: z.array(stat),
  frechetMean: stat,
  frechetFloor: stat,
  frechetReal: stat,
  diversity: stat,
  diversityReal: stat,
  drift: stat,
  gold: stat,
  /** Gold panel v2: every component with its CI and floor (absent in runs written before it). */
  components: z.array(GoldComponentSchema).optional(),
  /** Per-class values of class-resolved components (KID, Fréchet), by component key. */
  perClass: z.record(z.string(), z.array(stat)).optional(),
});

export const EvalMetricsSchema = z.object({
  type: z.literal("eval"),
  epoch: index,
  rewards: z.array(RewardSummarySchema),
  proxy: stat,
  gold: GoldMetricsSchema.optional(),
  velocityNorm: EvalVelocityNormSchema.optional(),
  prompts: z.array(z.string()),
});

export const FaultMetricsSchema = z.object({
  type: z.literal("fault"),
  kind: z.string(),
  epoch: index,
  detail: z.string(),
});

export const AlarmMetricsSchema = z.object({
  type: z.literal("alarm"),
  epoch: index,
  action: z.enum(["log", "stop", "rollback"]),
  detail: z.string(),
});

export const MetricsRecordSchema = z.discriminatedUnion("type", [EpochMetricsSchema, EvalMetricsSchema, FaultMetricsSchema, AlarmMetricsSchema]);

export type EpochMetrics = z.infer<typeof EpochMetricsSchema>;
export type EvalMetrics = z.infer<typeof EvalMetricsSchema>;
export type FaultMetrics = z.infer<typeof FaultMetricsSchema>;
export type AlarmMetrics = z.infer<typeof AlarmMetricsSchema>;
export type ValidMetricsRecord = z.infer<typeof MetricsRecordSchema>;
export type StepStatsMetrics = z.infer<typeof StepStatsSchema>;

// Compile-time guard: whatever the trainer writes must be accepted by the schema.
type Accepts<Schema, Written> = Written extends Schema ? true : never;
const writerMatchesSchema: [
  Accepts<z.input<typeof StepStatsSchema>, StepStats>,
  Accepts<z.input<typeof GoldMetricsSchema>, GoldMetrics>,
  Accepts<z.input<typeof EpochMetricsSchema>, { type: "epoch" } & EpochRecord>,
  Accepts<z.input<typeof EvalMetricsSchema>, { type: "eval" } & Omit<EvalRecord, "images" | "sampleShape">>,
] = [true, true, true, true];
void writerMatchesSchema;

const RECORD_TYPES = new Set(["epoch", "eval", "fault", "alarm"]);

export type ValidationResult = { ok: true; record: ValidMetricsRecord } | { ok: false; reason: string };

/** Validate one parsed metrics.jsonl value; the reason names the offending field(s). */
export function validateMetricsRecord(value: unknown): ValidationResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, reason: "not a JSON object" };
  const type = (value as { type?: unknown }).type;
  if (typeof type !== "string") return { ok: false, reason: "no record type" };
  if (!RECORD_TYPES.has(type)) return { ok: false, reason: `unknown record type "${type}"` };
  const parsed = MetricsRecordSchema.safeParse(value);
  if (parsed.success) return { ok: true, record: parsed.data };
  const issues = parsed.error.issues.slice(0, 3).map((issue) => `${issue.path.length ? issue.path.join(".") : "(record)"}: ${issue.message}`);
  const more = parsed.error.issues.length > 3 ? ` (+${parsed.error.issues.length - 3} more)` : "";
  return { ok: false, reason: `${type} record: ${issues.join("; ")}${more}` };
}

export interface SkippedLine {
  /** 1-based line number in metrics.jsonl. */
  line: number;
  /** truncated: the last line, cut off (no newline, not parseable); json: not JSON; schema: a JSON record that breaks the schema. */
  kind: "truncated" | "json" | "schema";
  reason: string;
}

export interface ValidatedMetrics {
  records: ValidMetricsRecord[];
  skipped: SkippedLine[];
}

/** The bytes after the last newline of a file (the unterminated last line), or "" if it ends with one. */
function unterminatedTail(path: string): string {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const chunks: Buffer[] = [];
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - 65536);
      const buffer = Buffer.alloc(end - start);
      readSync(fd, buffer, 0, buffer.length, start);
      const newline = buffer.lastIndexOf(0x0a);
      if (newline >= 0) {
        chunks.unshift(buffer.subarray(newline + 1));
        break;
      }
      chunks.unshift(buffer);
      end = start;
    }
    return Buffer.concat(chunks).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * Read and validate a metrics.jsonl: the valid records in file order, and every other
 * non-empty line with its reason and 1-based line number.
 */
export function readValidatedMetrics(path: string): ValidatedMetrics {
  const raw = readMetrics(path);
  const skipped: SkippedLine[] = raw.skipped.map((s) => ({ line: s.line, kind: "json" as const, reason: s.reason }));
  const tail = unterminatedTail(path);
  if (tail.trim() !== "" && skipped.length > 0) {
    let parses = true;
    try {
      JSON.parse(tail);
    } catch {
      parses = false;
    }
    // The unterminated line is the file's last line, so it is the last skipped one.
    const last = skipped[skipped.length - 1];
    if (!parses) Object.assign(last, { kind: "truncated", reason: `truncated last line (${Buffer.byteLength(tail)} bytes, no newline): ${last.reason}` });
  }
  const records: ValidMetricsRecord[] = [];
  for (const [k, value] of raw.records.entries()) {
    const line = raw.lines[k];
    const result = validateMetricsRecord(value);
    if (result.ok) records.push(result.record);
    else skipped.push({ line, kind: "schema", reason: result.reason });
  }
  skipped.sort((a, b) => a.line - b.line);
  return { records, skipped };
}

/** Evaluations made after the fact at a run's checkpoints (src/rl/checkpoint-evals.ts), beside them: metrics.jsonl `eval` lines. */
export const CHECKPOINT_EVALS_FILE = "checkpoint-evals.jsonl";

/**
 * The `eval` records made after a run at its checkpoints (`<checkpoints>/checkpoint-evals.jsonl`,
 * src/rl/checkpoint-evals.ts), validated like metrics.jsonl (a torn last line is skipped); none
 * when the file does not exist.
 */
export function readCheckpointEvals(checkpointsDir: string): ValidMetricsRecord[] {
  const path = join(checkpointsDir, CHECKPOINT_EVALS_FILE);
  if (!existsSync(path)) return [];
  try {
    return readValidatedMetrics(path).records.filter((r) => r.type === "eval");
  } catch (err) {
    throw new UserError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}
