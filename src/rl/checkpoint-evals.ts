/**
 * Evaluations at a run's checkpoints after the fact: the run's own evaluation (EMA policy, the
 * run's eval prompts, noise seed and ODE steps, its rewards, the gold panel) at kept checkpoints
 * the run did not evaluate. Matched-proxy readings interpolate gold between evaluations; where a
 * run moves fast (B3: GRPO-Guard crosses 0.60 → 0.74 of the `aesthetic` proxy between two
 * evaluations 10 epochs apart) and gold is far from linear in the proxy, that interpolation is
 * biased — denser points from the checkpoints (every `checkpoint.every` epochs) remove most of it.
 *
 * Kept in `<run>/checkpoints/checkpoint-evals.jsonl` as metrics.jsonl `eval` records (one line
 * each, appended and fsynced: a crash leaves at most a torn last line, which readers skip), so
 * the summary reads them like the run's own. The proxy also goes to checkpoint-proxies.json.
 */
import { join } from "node:path";
import { MetricsWriter, type MetricsRecord } from "../diagnostics/metrics.js";
import { CHECKPOINT_EVALS_FILE, readCheckpointEvals } from "../diagnostics/metrics-schema.js";
import { checkpointEpochs, evaluateCheckpoint, evaluatedProxies, recordMeasuredProxy, type GoldFor } from "./policy.js";
import { evalMetrics, runPaths } from "./run-dir.js";

/** One checkpoint's evaluation (no images: the records keep numbers only). */
export type CheckpointEval = Awaited<ReturnType<typeof evaluateCheckpoint>>;

/** What `evaluateCheckpoints` did: the epochs evaluated now, and those a stop left for a later call. */
export interface CheckpointEvalsDone {
  evaluated: number[];
  remaining: number[];
}

/**
 * Evaluate every kept checkpoint of a run that neither the run nor an earlier call evaluated
 * (`epochs`: that list when the caller has just read it), oldest first; each record is appended
 * (and fsynced) as soon as it exists, so an interrupted call loses at most the checkpoint in
 * progress; `stopRequested` is asked before each checkpoint.
 */
export async function evaluateCheckpoints(
  runDir: string,
  goldFor: GoldFor | null,
  options: {
    log?: (line: string) => void;
    stopRequested?: () => boolean;
    onEvaluated?: (record: CheckpointEval, done: number, of: number) => void;
    epochs?: readonly number[];
  } = {},
): Promise<CheckpointEvalsDone> {
  const todo = options.epochs ?? pendingCheckpointEvals(runDir);
  const writer = new MetricsWriter(join(runPaths(runDir).checkpoints, CHECKPOINT_EVALS_FILE));
  const evaluated: number[] = [];
  for (const [k, epoch] of todo.entries()) {
    if (options.stopRequested?.()) break;
    const record = await evaluateCheckpoint(runDir, epoch, goldFor);
    writer.append(evalMetrics({ ...record, images: new Float32Array(0), sampleShape: [] }) as MetricsRecord);
    recordMeasuredProxy(runDir, epoch, record.proxy);
    evaluated.push(epoch);
    options.onEvaluated?.(record, k + 1, todo.length);
    options.log?.(`${runDir}: evaluated the epoch-${epoch} checkpoint (${k + 1} of ${todo.length}): proxy ${record.proxy.toFixed(4)}${record.gold ? `, gold ${record.gold.gold.toFixed(4)}` : ""}`);
  }
  return { evaluated, remaining: todo.slice(evaluated.length) };
}

/** The kept checkpoints of a run that neither the run nor `evaluateCheckpoints` evaluated, oldest first (files only: cheap). */
export function pendingCheckpointEvals(runDir: string): number[] {
  const evaluated = evaluatedProxies(runDir);
  const done = new Set(readCheckpointEvals(runPaths(runDir).checkpoints).map((r) => r.epoch));
  return checkpointEpochs(runDir).filter((e) => !evaluated.has(e) && !done.has(e));
}
