/**
 * Per-run summaries (benchmark B3): the small JSON a study commits instead of its run
 * directories — no histograms, images or checkpoints, only what the B3 report reads: every
 * evaluation's proxy and gold components (value, CI, floor), and per trained epoch the
 * training proxy, the off-policy clip fractions, the method's own statistics and the
 * velocity-norm ratio R (E15). Versioned (`summaryVersion`) and validated when read back.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { UserError } from "../engine/errors.js";
import { loadRun, type LoadedRun } from "../dashboard/runs.js";
import { epochRecords, evalRecords, goldComponents, type SlimEpoch } from "../dashboard/series.js";

export const SUMMARY_VERSION = 1;
export const FINAL_POLICY_FILE = "policy-ema.safetensors";

const num = z.number().nullable();

export const ComponentValueSchema = z.strictObject({ key: z.string(), value: num, ci: z.tuple([num, num]).nullable(), floor: num });

export const SummaryEvalSchema = z.strictObject({
  /** Completed training epochs (0 = the base model). */
  epoch: z.number().int().nonnegative(),
  proxy: num,
  /** The scalar gold score (null without a gold panel). */
  gold: num,
  components: z.array(ComponentValueSchema),
  /** ‖v_θ‖/‖v_ref‖ pooled over the evaluation ODE (E15 diagnostic), when logged. */
  velocityNorm: num,
  /** Made after the run at one of its checkpoints (`grpo-guard summarize --checkpoint-evals`), not by the run itself. */
  fromCheckpoint: z.literal(true).optional(),
});

export const SummaryEpochSchema = z.strictObject({
  /** Completed training epochs after this one (the epoch record's index + 1). */
  epoch: z.number().int().positive(),
  /** Σ_k w_k · mean reward k over the epoch's rollouts. */
  proxy: num,
  /**
   * Off-policy clip statistics (E11), mean over the trained steps weighted by their row counts
   * (null with no off-policy rows): `clip` = the fraction of rows whose (clipped-on) ratio is
   * outside [1 − ε_lo, 1 + ε_hi] on either side, whatever the advantage's sign (`clipTotal`);
   * `clipPositive` = P(ratio > 1 + ε_hi | A > 0), `clipNegative` = P(ratio < 1 − ε_lo | A < 0)
   * (the clips that cut the gradient).
   */
  clip: num,
  clipPositive: num,
  clipNegative: num,
  /** Per-row means of the method's statistics (`methodStats[k].mean`: dppoMasked, normGuardActive, …). */
  methodStats: z.record(z.string(), num),
  /** The method's epoch-level state (`methodState`: gatedFraction, p, windowStart, …). */
  methodState: z.record(z.string(), num),
  /** R (E15): mean of the trained steps' ‖v_θ‖/‖v_ref‖ ratios weighted by their counts, when logged. */
  velocityNorm: num,
});

export const RunSummarySchema = z.strictObject({
  summaryVersion: z.literal(SUMMARY_VERSION),
  run: z.string().min(1),
  /** The sweep it belongs to (null for a run summarised outside a sweep). */
  sweep: z.string().nullable(),
  /** The list point (and grid values): one knob setting. */
  label: z.string().min(1),
  /** The method family the setting belongs to. */
  method: z.string().min(1),
  seed: z.number().int(),
  /** The run's overrides of the sweep's base config ([] when not known). */
  overrides: z.array(z.string()),
  /** finished: the final policy was written; partial: stopped, running or killed before the end. */
  status: z.enum(["finished", "partial"]),
  epochsDone: z.number().int().nonnegative(),
  epochsPlanned: z.number().int().positive().nullable(),
  /** The proxy reward(s) the run optimises, and the name they go by ("aesthetic", "digit-ocr+aesthetic"). */
  proxy: z.strictObject({ name: z.string(), rewards: z.array(z.strictObject({ name: z.string(), weight: z.number() })) }),
  algorithm: z.string().nullable(),
  dynamics: z.string().nullable(),
  /** Epoch of the first over-optimisation alarm (null when it never fired). */
  alarmEpoch: z.number().int().nullable(),
  /** The gold components' labels and directions, once. */
  components: z.array(z.strictObject({ key: z.string(), label: z.string(), better: z.enum(["higher", "lower"]) })),
  evaluations: z.array(SummaryEvalSchema),
  epochs: z.array(SummaryEpochSchema),
  /** metrics.jsonl lines that were skipped (truncated, unparseable, breaking the schema). */
  skippedLines: z.number().int().nonnegative(),
});

export type RunSummary = z.infer<typeof RunSummarySchema>;
export type SummaryEval = z.infer<typeof SummaryEvalSchema>;
export type SummaryEpoch = z.infer<typeof SummaryEpochSchema>;

/** What a sweep knows about a run that its directory does not say. */
export interface RunIdentity {
  sweep: string | null;
  label: string;
  method: string;
  overrides: readonly string[];
}

const finiteOrNull = (v: number | null | undefined): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** Row-count-weighted mean of `pick` over the items that have a finite value and a positive count. */
function weightedMean<T>(items: readonly T[], pick: (item: T) => number | null | undefined, count: (item: T) => number): number | null {
  let sum = 0;
  let n = 0;
  for (const item of items) {
    const v = pick(item);
    const c = count(item);
    if (typeof v !== "number" || !Number.isFinite(v) || !(c > 0)) continue;
    sum += v * c;
    n += c;
  }
  return n > 0 ? sum / n : null;
}

function epochSummary(record: SlimEpoch, weights: readonly number[]): SummaryEpoch {
  const proxy = record.rewards.every((r) => r.mean !== null) ? record.rewards.reduce((a, r, k) => a + (weights[k] ?? 1) * (r.mean as number), 0) : null;
  const steps = record.steps;
  return {
    epoch: record.epoch + 1,
    proxy: finiteOrNull(proxy),
    clip: weightedMean(steps, (s) => s.clipTotal, (s) => s.count),
    clipPositive: weightedMean(steps, (s) => s.clipPositive, (s) => s.count),
    clipNegative: weightedMean(steps, (s) => s.clipNegative, (s) => s.count),
    methodStats: Object.fromEntries(Object.entries(record.methodStats ?? {}).map(([k, v]) => [k, finiteOrNull(v.mean)])),
    methodState: Object.fromEntries(Object.entries(record.methodState ?? {}).map(([k, v]) => [k, finiteOrNull(v)])),
    velocityNorm: weightedMean(steps, (s) => s.velocityNorm?.ratio, (s) => s.velocityNorm?.count ?? 0),
  };
}

/** The identity of a run summarised without its sweep: the label is the name less `-<id>-s<seed>`. */
export function identityFromName(name: string): RunIdentity {
  const label = name.replace(/-[0-9a-f]{12}-s-?\d+$/, "") || name;
  return { sweep: null, label, method: label, overrides: [] };
}

/** The summary of a loaded run (finished when its final policy exists). */
export function summarizeLoadedRun(run: LoadedRun, identity: RunIdentity, finished: boolean): RunSummary {
  const settings = run.meta.settings ?? {};
  let rewards: { name: string; weight: number }[] = [];
  try {
    const parsed = JSON.parse(settings.rewards ?? "[]") as { name?: unknown; weight?: unknown }[];
    rewards = parsed.filter((r) => typeof r.name === "string").map((r) => ({ name: r.name as string, weight: typeof r.weight === "number" ? r.weight : 1 }));
  } catch {
    rewards = [];
  }
  // The run's own evaluations, and those made later at its checkpoints for the epochs it did not evaluate.
  const own = evalRecords(run.records);
  const later = evalRecords(run.checkpointEvals ?? []).filter((e) => !own.some((o) => o.epoch === e.epoch));
  const fromCheckpoint = new Set(later.map((e) => e.epoch));
  const evals = [...own, ...later].sort((a, b) => a.epoch - b.epoch);
  if (rewards.length === 0) rewards = (evals[0]?.rewards ?? []).map((r) => ({ name: r.name, weight: 1 }));
  const epochs = epochRecords(run.records);
  const planned = Number(settings["train.epochs"]);
  const seed = Number(settings.seed);
  const catalog = new Map<string, { key: string; label: string; better: "higher" | "lower" }>();
  for (const e of evals) for (const c of goldComponents(e.gold)) if (!catalog.has(c.key)) catalog.set(c.key, { key: c.key, label: c.label, better: c.better });
  const alarms = run.records.filter((r) => r.type === "alarm").map((r) => r.epoch);
  return {
    summaryVersion: SUMMARY_VERSION,
    run: run.name,
    sweep: identity.sweep,
    label: identity.label,
    method: identity.method,
    seed: Number.isInteger(seed) ? seed : 0,
    overrides: [...identity.overrides],
    status: finished ? "finished" : "partial",
    epochsDone: epochs.length ? epochs[epochs.length - 1].epoch + 1 : 0,
    epochsPlanned: Number.isInteger(planned) && planned > 0 ? planned : null,
    proxy: { name: rewards.map((r) => r.name).join("+") || "proxy", rewards },
    algorithm: run.meta.algorithm ?? null,
    dynamics: run.meta.dynamics ?? null,
    alarmEpoch: alarms.length ? Math.min(...alarms) : null,
    components: [...catalog.values()],
    evaluations: evals.map((e) => ({
      epoch: e.epoch,
      proxy: finiteOrNull(e.proxy),
      gold: finiteOrNull(e.gold?.gold),
      components: goldComponents(e.gold).map((c) => {
        const lo = finiteOrNull(c.ci?.[0]);
        const hi = finiteOrNull(c.ci?.[1]);
        return { key: c.key, value: finiteOrNull(c.value), ci: lo !== null && hi !== null ? [lo, hi] : null, floor: finiteOrNull(c.floor) };
      }),
      velocityNorm: finiteOrNull(e.velocityNorm?.pooled.ratio),
      ...(fromCheckpoint.has(e.epoch) ? { fromCheckpoint: true as const } : {}),
    })),
    epochs: epochs.map((r) => epochSummary(r, rewards.map((w) => w.weight))),
    skippedLines: run.skipped.length,
  };
}

/** Summarise a run directory (finished or partial). */
export function summarizeRunDir(dir: string, identity?: RunIdentity): RunSummary {
  const run = loadRun(dir);
  if (run.records.length === 0 && Object.keys(run.meta).length === 0) throw new UserError(`${dir}: not a run directory (no readable metrics.jsonl or config.yaml)`);
  return summarizeLoadedRun(run, identity ?? identityFromName(run.name), existsSync(join(dir, FINAL_POLICY_FILE)));
}

export const summaryFileName = (run: string): string => `${run}.json`;

/** Write `<dir>/<run>.json` atomically; returns its path. */
export function writeSummary(dir: string, summary: RunSummary): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, summaryFileName(summary.run));
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(summary, null, 0) + "\n");
  renameSync(tmp, path);
  return path;
}

/** Read and validate one summary file; every problem is one UserError line naming the file. */
export function readSummary(path: string): RunSummary {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UserError(`${path}: ${e.code === "ENOENT" ? "no such summary file" : e instanceof SyntaxError ? `not JSON (${e.message.split("\n")[0]})` : `cannot read (${e.code ?? e.message})`}`);
  }
  const version = (raw as { summaryVersion?: unknown } | null)?.summaryVersion;
  if (version !== SUMMARY_VERSION) throw new UserError(`${path}: not a run summary of version ${SUMMARY_VERSION} (summaryVersion: ${JSON.stringify(version) ?? "missing"}); rewrite it with grpo-guard summarize`);
  const parsed = RunSummarySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const more = parsed.error.issues.length > 1 ? ` (+${parsed.error.issues.length - 1} more)` : "";
    throw new UserError(`${path}: invalid run summary at ${issue.path.length ? issue.path.join(".") : "(top level)"}: ${issue.message}${more}`);
  }
  return parsed.data;
}

/** Every `*.json` summary in a directory, validated, in file-name order. */
export function readSummaries(dir: string): RunSummary[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new UserError(`${dir}: no such summaries directory (write summaries with grpo-guard sweep or grpo-guard summarize)`);
  }
  return names
    .filter((n) => n.endsWith(".json"))
    .sort()
    .map((n) => readSummary(join(dir, n)));
}
