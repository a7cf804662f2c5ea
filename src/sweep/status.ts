/**
 * The progress of a sweep: per run queued / running / done / failed with its last epoch,
 * proxy and gold; counts and an ETA for the terminal, and the same as a JSON file
 * (`<runs>/sweep-status.json`, written atomically) for the dashboard and other tools.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { RunProgress, RunResult } from "./execute.js";
import type { Sweep } from "./spec.js";

export type RunState = "queued" | "running" | "done" | "failed";

export interface RunStatus {
  id: string;
  name: string;
  label: string;
  seed: number;
  state: RunState;
  /** Epochs finished (of `epochs`). */
  epoch: number;
  epochs: number;
  proxy: number | null;
  gold: number | null;
  /** trained | finished (earlier) | interrupted, once done. */
  outcome: RunResult["status"] | null;
  error: string | null;
  /** Waiting for another process that holds the run's lock. */
  waitingFor: string | null;
}

/** The JSON written to the status file (format "grpo-guard/sweep-status", version 1). */
export interface SweepStatusFile {
  format: "grpo-guard/sweep-status";
  version: 1;
  sweep: string;
  mode: string;
  startedAt: string;
  updatedAt: string;
  counts: Record<RunState, number>;
  /** Seconds left at the epoch rate seen so far in this session (null until an epoch finished). */
  etaSeconds: number | null;
  finished: boolean;
  runs: RunStatus[];
}

export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${String(Math.round((seconds % 3600) / 60)).padStart(2, "0")} min`;
}

export class SweepTracker {
  readonly runs = new Map<string, RunStatus>();
  private readonly started: number;
  /** Epochs trained in this session (the ETA's rate). */
  private epochsTrained = 0;
  private lastWrite = 0;
  private lastLine = "";
  private readonly doneListeners: ((run: RunStatus, result: RunResult) => void)[] = [];

  constructor(
    readonly sweep: Sweep,
    readonly mode: string,
    private readonly statusFile: string | null,
    private readonly print: (line: string) => void = (line) => process.stderr.write(line + "\n"),
    /** Milliseconds clock (injectable so that an ETA can be tested without sleeping). */
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
    for (const run of sweep.runs) {
      this.runs.set(run.id, { id: run.id, name: run.name, label: run.label, seed: run.seed, state: "queued", epoch: 0, epochs: run.config.train.epochs, proxy: null, gold: null, outcome: null, error: null, waitingFor: null });
    }
    this.write(true);
  }

  counts(): Record<RunState, number> {
    const counts: Record<RunState, number> = { queued: 0, running: 0, done: 0, failed: 0 };
    for (const run of this.runs.values()) counts[run.state] += 1;
    return counts;
  }

  etaSeconds(): number | null {
    if (this.epochsTrained === 0) return null;
    const rate = this.epochsTrained / (Math.max(1, this.now() - this.started) / 1000);
    let left = 0;
    for (const run of this.runs.values()) if (run.state === "queued" || run.state === "running") left += run.epochs - run.epoch;
    return left / rate;
  }

  line(): string {
    const c = this.counts();
    const eta = this.etaSeconds();
    return `sweep ${this.sweep.name}: ${c.done} done, ${c.running} running, ${c.queued} queued, ${c.failed} failed${c.queued + c.running > 0 ? ` | ETA ${eta === null ? "?" : formatDuration(eta)}` : ""}`;
  }

  private get(id: string): RunStatus {
    const run = this.runs.get(id);
    if (!run) throw new Error(`sweep status: unknown run id ${id}`);
    return run;
  }

  progress(id: string, event: RunProgress): void {
    const run = this.get(id);
    if (run.state === "queued") run.state = "running";
    if (event.type === "waiting") {
      run.waitingFor = event.holder;
      this.print(`  ${run.name}: waiting for ${event.holder}, which holds its lock`);
    } else if (event.type === "started") {
      run.waitingFor = null;
      run.epoch = event.resumeFrom ?? 0;
      this.print(`  ${run.name}: ${event.resumeFrom === null ? "started" : `resumed at epoch ${event.resumeFrom}`}`);
    } else if (event.type === "epoch") {
      if (event.epoch > run.epoch) this.epochsTrained += event.epoch - run.epoch;
      run.epoch = event.epoch;
      run.proxy = event.proxy;
    } else if (event.type === "checkpoint-eval") {
      this.print(`  ${run.name}: checkpoint eval @ epoch ${event.epoch} (${event.done} of ${event.of}) | proxy ${event.proxy.toFixed(4)}${event.gold === null ? "" : ` | gold ${event.gold.toFixed(4)}`}`);
    } else {
      run.proxy = event.proxy;
      run.gold = event.gold;
      this.print(`  ${run.name}: eval @ epoch ${event.epoch} | proxy ${event.proxy.toFixed(4)}${event.gold === null ? "" : ` | gold ${event.gold.toFixed(4)}`}`);
      this.printLine();
    }
    this.write(false);
  }

  /** A run is queued again (a retry after a failed attempt, a worker that stopped). */
  requeued(id: string, reason: string): void {
    const run = this.get(id);
    if (run.state === "done" || run.state === "failed") return;
    run.state = "queued";
    this.print(`  ${run.name}: back in the queue (${reason})`);
    this.write(true);
  }

  /** Called once per run when it is done (trained now or finished earlier), after its line is printed. */
  onRunDone(listener: (run: RunStatus, result: RunResult) => void): void {
    this.doneListeners.push(listener);
  }

  done(id: string, result: RunResult): void {
    const run = this.get(id);
    if (run.state === "done") return;
    run.state = "done";
    run.outcome = result.status;
    run.epoch = result.epochs;
    run.waitingFor = null;
    const metrics = [run.proxy === null ? "" : `proxy ${run.proxy.toFixed(4)}`, run.gold === null ? "" : `gold ${run.gold.toFixed(4)}`].filter(Boolean).join(", ");
    this.print(result.status === "finished" ? `finished earlier: ${run.name}` : `  ${run.name}: done${metrics ? ` (${metrics})` : ""}`);
    for (const listener of this.doneListeners) listener(run, result);
    this.printLine();
    this.write(true);
  }

  failed(id: string, error: string): void {
    const run = this.get(id);
    if (run.state === "failed") return;
    run.state = "failed";
    run.error = error;
    this.print(`  ${run.name}: FAILED: ${error.split("\n")[0]}`);
    this.printLine();
    this.write(true);
  }

  finished(): boolean {
    const c = this.counts();
    return c.queued === 0 && c.running === 0;
  }

  printLine(): void {
    const line = this.line();
    if (line !== this.lastLine) this.print(line);
    this.lastLine = line;
  }

  snapshot(): SweepStatusFile {
    return {
      format: "grpo-guard/sweep-status",
      version: 1,
      sweep: this.sweep.name,
      mode: this.mode,
      startedAt: new Date(this.started).toISOString(),
      updatedAt: new Date().toISOString(),
      counts: this.counts(),
      etaSeconds: this.etaSeconds(),
      finished: this.finished(),
      runs: [...this.runs.values()].map((r) => ({ ...r })),
    };
  }

  /** Write the status file (at most once a second unless `force`). */
  write(force: boolean): void {
    if (!this.statusFile || (!force && this.now() - this.lastWrite < 1000)) return;
    this.lastWrite = this.now();
    mkdirSync(dirname(this.statusFile), { recursive: true });
    const tmp = `${this.statusFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.snapshot(), null, 1));
    renameSync(tmp, this.statusFile);
  }
}

export const STATUS_FILE = "sweep-status.json";

/**
 * The sweep status of a runs directory (`<runsDir>/sweep-status.json`), for dashboards: null
 * when there is none or it is not a status file this version understands.
 */
export function readSweepStatus(runsDir: string): SweepStatusFile | null {
  const path = join(runsDir, STATUS_FILE);
  if (!existsSync(path)) return null;
  try {
    const data = JSON.parse(readFileSync(path, "utf8")) as Partial<SweepStatusFile>;
    return data.format === "grpo-guard/sweep-status" && data.version === 1 && Array.isArray(data.runs) ? (data as SweepStatusFile) : null;
  } catch {
    return null; // written atomically, so only a foreign or damaged file gets here
  }
}
