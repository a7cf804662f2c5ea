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
import { evalMetrics, runPaths } from "./run.js";

/** One checkpoint's evaluation (no images: the records keep numbers only). */
export type CheckpointEval = Awaited<ReturnType<typeof evaluateCheckpoint>>;

/**
 * Evaluate every kept checkpoint of a run that neither the run nor an earlier call evaluated,
 * oldest first; each record is appended (and fsynced) as soon as it exists, so an interrupted call
 * loses at most the checkpoint in progress; `stopRequested` is asked before each checkpoint.
 * Returns the epochs evaluated now.
 */
export async function evaluateCheckpoints(
  runDir: string,
  goldFor: GoldFor | null,
  log: (line: string) => void = () => {},
  stopRequested: () => boolean = () => false,
  onEvaluated: (record: CheckpointEval, index: number) => void = () => {},
): Promise<number[]> {
  const todo = pendingCheckpointEvals(runDir);
  const writer = new MetricsWriter(join(runPaths(runDir).checkpoints, CHECKPOINT_EVALS_FILE));
  const evaluatedNow: number[] = [];
  for (const [k, epoch] of todo.entries()) {
    if (stopRequested()) break;
    const record = await evaluateCheckpoint(runDir, epoch, goldFor);
    writer.append(evalMetrics({ ...record, images: new Float32Array(0), sampleShape: [] }) as MetricsRecord);
    recordMeasuredProxy(runDir, epoch, record.proxy);
    evaluatedNow.push(epoch);
    onEvaluated(record, k);
    log(`${runDir}: evaluated the epoch-${epoch} checkpoint (${k + 1} of ${todo.length}): proxy ${record.proxy.toFixed(4)}${record.gold ? `, gold ${record.gold.gold.toFixed(4)}` : ""}`);
  }
  return evaluatedNow;
}

/** The kept checkpoints of a run that neither the run nor `evaluateCheckpoints` evaluated, oldest first (files only: cheap). */
export function pendingCheckpointEvals(runDir: string): number[] {
  const evaluated = evaluatedProxies(runDir);
  const done = new Set(readCheckpointEvals(runPaths(runDir).checkpoints).map((r) => r.epoch));
  return checkpointEpochs(runDir).filter((e) => !evaluated.has(e) && !done.has(e));
}
