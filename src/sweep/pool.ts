/**
 * The local pool: `processes` forked worker processes (src/sweep/child.ts), each running one
 * training run at a time on `threads` jax-js threads (GRPO_GUARD_THREADS). Runs are handed
 * out in submission order as processes become free; a process that dies fails its run and is
 * replaced for the next one.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { UserError } from "../engine/errors.js";
import type { RunProgress, RunResult } from "./execute.js";

export interface RunOptions {
  runsDir: string;
  staleMs?: number;
  lockPollMs?: number;
}

export type ParentMessage = { type: "run"; key: string; task: unknown; options: RunOptions };
export type ChildMessage =
  | { type: "ready" }
  | { type: "progress"; key: string; event: RunProgress }
  | { type: "log"; key: string; line: string }
  | { type: "result"; key: string; result: RunResult }
  | { type: "error"; key: string; message: string; user: boolean };

const CHILD = fileURLToPath(new URL("./child.js", import.meta.url));

interface Pending {
  key: string;
  task: unknown;
  onProgress: (event: RunProgress) => void;
  onLog: (line: string) => void;
  resolve: (result: RunResult) => void;
  reject: (err: Error) => void;
}

interface Slot {
  child: ChildProcess;
  current: Pending | null;
}

export class ProcessPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Pending[] = [];
  private closed = false;

  constructor(
    readonly processes: number,
    readonly threads: number,
    private readonly options: RunOptions,
  ) {
    if (!Number.isInteger(processes) || processes < 1) throw new UserError(`--processes expects a positive integer, got ${processes}`);
    if (!Number.isInteger(threads) || threads < 1) throw new UserError(`--threads expects a positive integer, got ${threads}`);
  }

  /** Train one run in a pool process; resolves with its result, rejects with its error (a UserError for a config or input problem). */
  run(key: string, task: unknown, onProgress: (event: RunProgress) => void = () => {}, onLog: (line: string) => void = () => {}): Promise<RunResult> {
    if (this.closed) return Promise.reject(new Error("the pool is closed"));
    return new Promise((resolve, reject) => {
      this.waiting.push({ key, task, onProgress, onLog, resolve, reject });
      this.dispatch();
    });
  }

  /** Pids of the pool's live processes. */
  pids(): number[] {
    return this.slots.map((s) => s.child.pid!).filter(Boolean);
  }

  /** Ask every process to stop at its next epoch boundary (checkpoint, run reported as interrupted). */
  interrupt(): void {
    for (const slot of this.slots) slot.child.kill("SIGTERM");
  }

  /** Start no further runs: the ones not started yet are rejected; running ones go on. */
  cancelWaiting(): void {
    this.closed = true;
    for (const p of this.waiting.splice(0)) p.reject(new Error("the pool was closed before the run started"));
  }

  /** Cancel what has not started and end the processes (a running run is cut off: interrupt() first to checkpoint it). */
  async close(): Promise<void> {
    this.cancelWaiting();
    await Promise.all(
      this.slots.splice(0).map(
        (slot) =>
          new Promise<void>((resolve) => {
            if (slot.child.exitCode !== null || slot.child.signalCode !== null) return resolve();
            slot.child.once("exit", () => resolve());
            slot.child.disconnect();
          }),
      ),
    );
  }

  private spawn(): Slot {
    const child = fork(CHILD, [], { env: { ...process.env, GRPO_GUARD_THREADS: String(this.threads) }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const slot: Slot = { child, current: null };
    child.on("message", (message: ChildMessage) => {
      const current = slot.current;
      if (message.type === "ready" || !current || message.key !== current.key) return;
      if (message.type === "progress") current.onProgress(message.event);
      else if (message.type === "log") current.onLog(message.line);
      else {
        slot.current = null;
        if (message.type === "result") current.resolve(message.result);
        else current.reject(message.user ? new UserError(message.message) : new Error(message.message));
        this.dispatch();
      }
    });
    child.on("exit", (code, signal) => {
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots.splice(index, 1);
      if (slot.current) {
        slot.current.reject(new Error(`worker process ${child.pid} exited (${signal ?? `code ${code}`}) during run ${slot.current.key}`));
        slot.current = null;
      }
      this.dispatch();
    });
    this.slots.push(slot);
    return slot;
  }

  private dispatch(): void {
    while (!this.closed && this.waiting.length > 0) {
      const slot = this.slots.find((s) => s.current === null) ?? (this.slots.length < this.processes ? this.spawn() : null);
      if (!slot) return;
      const next = this.waiting.shift()!;
      slot.current = next;
      slot.child.send({ type: "run", key: next.key, task: next.task, options: this.options } satisfies ParentMessage);
    }
  }
}
