/**
 * A sweep worker process (forked by src/sweep/pool.ts): trains the runs its parent sends over
 * IPC, one at a time, and reports progress back. It exits when its parent goes away, and on
 * SIGTERM/SIGINT finishes the current epoch, checkpoints and reports the run as interrupted.
 */
import { UserError } from "../engine/errors.js";
import { executeRun } from "./execute.js";
import type { ChildMessage, ParentMessage } from "./pool.js";

if (!process.send) throw new Error("src/sweep/child.ts is a forked worker process; start sweeps with `grpo-guard sweep`");

const send = (message: ChildMessage) => process.send?.(message);
let stop = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => (stop = true));
// The parent died (a SIGKILLed queue worker): stop at once; the run's lock becomes stale with us.
process.on("disconnect", () => process.exit(1));

process.on("message", (message: ParentMessage) => {
  if (message.type !== "run") return;
  const { key } = message;
  executeRun(message.task, {
    ...message.options,
    stopRequested: () => stop,
    onProgress: (event) => send({ type: "progress", key, event }),
    log: (line) => send({ type: "log", key, line }),
  }).then(
    (result) => send({ type: "result", key, result }),
    (err: Error) => send({ type: "error", key, message: err instanceof UserError ? err.message : (err.stack ?? String(err)), user: err instanceof UserError }),
  ).finally(() => {
    if (stop) process.exit(0);
  });
});
send({ type: "ready" });
