/**
 * Node 20 platform shims that jax-js needs, installed before `@jax-js/jax` is evaluated.
 *
 * - Iterator helpers (`Iterator.prototype.map` …) are used by jax-js (`einsum`, attention
 *   helpers); Node 20 lacks them, so we load core-js's stable polyfill.
 * - jax-js's wasm backend runs kernels on a pool of Web Workers created from a Blob URL
 *   (`new Worker(blobUrl, { type: "module" })`, browser-style `self.onmessage`). Node 20 has
 *   neither `Worker` nor `navigator`; without them jax-js silently runs single-threaded.
 *   `BlobWorker` below adapts `worker_threads` to that browser interface.
 *
 * Thread count: `GRPO_GUARD_THREADS` (default: the number of CPUs, at most 8; `0` or `1`
 * disables the pool). See docs/performance.md for why 2 workers beat 4 on a 2-core machine.
 *
 * Dispatch: `JAX_JS_WASM_DISPATCH=atomics|message` (read by our jax-js patch, docs/engine.md
 * "Patches"): how kernels reach the worker threads; default `atomics` (shared-memory ring),
 * `message` is jax-js's original one-postMessage-per-kernel path.
 *
 * `GRPO_GUARD_RELAXED_SIMD=1` turns on wasm relaxed SIMD, which jax-js then uses for fused
 * multiply-add in matmuls: faster, but the rounding may differ between CPUs, so it is opt-in on
 * every runtime, also where V8 enables it by default (`relaxedSimdRequested`).
 */
import "core-js/actual/iterator/index.js";
import { availableParallelism } from "node:os";
import { resolveObjectURL } from "node:buffer";
import { Worker as ThreadWorker } from "node:worker_threads";
import { setFlagsFromString } from "node:v8";
import { UserError } from "./errors.js";

/** Worker body prelude: gives the evaluated browser-style source `self`, `postMessage`, `onmessage`. */
const PRELUDE = `
const { parentPort } = require("node:worker_threads");
globalThis.self = globalThis;
globalThis.postMessage = (data) => parentPort.postMessage(data);
parentPort.once("message", (source) => {
  (0, eval)(source);
  parentPort.on("message", (data) => globalThis.onmessage && globalThis.onmessage({ data }));
});
`;

type Listener = (event: { data?: unknown; message?: string }) => void;

/**
 * A worker thread running the prelude. It inherits the parent's Node flags, except that the
 * prelude is CommonJS, so a parent run with --input-type=module must not pass that flag on;
 * an explicit execArgv is checked by Node (per-process flags such as --expose-gc are refused
 * there), so it is given only when that flag has to go, and without any flags if Node refuses.
 */
function startThread(): ThreadWorker {
  const kept = process.execArgv.filter((flag) => !flag.startsWith("--input-type"));
  if (kept.length === process.execArgv.length) return new ThreadWorker(PRELUDE, { eval: true });
  try {
    return new ThreadWorker(PRELUDE, { eval: true, execArgv: kept });
  } catch (err) {
    if ((err as { code?: string }).code !== "ERR_WORKER_INVALID_EXEC_ARGV") throw err;
    return new ThreadWorker(PRELUDE, { eval: true, execArgv: [] });
  }
}

/** Every worker thread the shim started and has not terminated (see `terminateWorkers`). */
const liveThreads = new Set<ThreadWorker>();

/** The subset of the Web Worker interface that jax-js's wasm pool uses, on worker_threads. */
class BlobWorker {
  onmessage: Listener | null = null;
  onerror: Listener | null = null;
  private readonly thread: ThreadWorker;
  private pending: unknown[] | null = [];

  constructor(url: string | URL) {
    const blob = resolveObjectURL(String(url));
    if (!blob) throw new Error(`grpo-guard worker shim: ${String(url)} is not a live Blob URL`);
    this.thread = startThread();
    liveThreads.add(this.thread);
    this.thread.once("exit", () => liveThreads.delete(this.thread));
    this.thread.on("message", (data) => this.onmessage?.({ data }));
    this.thread.on("error", (err) => this.onerror?.({ message: String(err) }));
    void blob.text().then((source) => {
      this.thread.postMessage(source);
      for (const message of this.pending ?? []) this.thread.postMessage(message);
      this.pending = null;
    });
  }

  postMessage(data: unknown): void {
    if (this.pending) this.pending.push(data);
    else this.thread.postMessage(data);
  }

  terminate(): void {
    void this.thread.terminate();
  }
}

/**
 * Stop every engine worker thread (they wait for kernels forever, so they keep the process
 * alive). Resolves once all have exited.
 */
export async function terminateWorkers(): Promise<void> {
  await Promise.all([...liveThreads].map((thread) => thread.terminate()));
  liveThreads.clear();
}

export function requestedThreads(): number {
  const raw = process.env.GRPO_GUARD_THREADS;
  if (raw === undefined || raw === "") return Math.min(8, availableParallelism());
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    throw new UserError(`GRPO_GUARD_THREADS must be a non-negative integer (0 or 1 = no worker threads), got "${raw}"`);
  }
  return n;
}

/**
 * Relaxed SIMD (fused multiply-add in jax-js's matmuls): on with GRPO_GUARD_RELAXED_SIMD=1 (Node 20
 * needs the V8 flag), otherwise off on every runtime — Node ≥ 22 has it on by default, and our jax-js
 * patch's JAX_JS_WASM_FEATURES_OFF hides it from jax-js's probe, so results stay bit-identical
 * across runtimes and CPUs (docs/performance.md, "Runtime").
 */
export function relaxedSimdRequested(raw = process.env.GRPO_GUARD_RELAXED_SIMD): boolean {
  if (raw === undefined || raw === "" || raw === "0") return false;
  if (raw === "1") return true;
  throw new UserError(`GRPO_GUARD_RELAXED_SIMD must be "0" or "1", got "${raw}"`);
}

/**
 * A bad GRPO_GUARD_THREADS must not throw here (at import, before any command could report it
 * as one line): it is kept, no worker pool is installed, and `initEngine` throws it.
 */
export let platformError: UserError | null = null;
let threads = 0;
try {
  if (relaxedSimdRequested()) setFlagsFromString("--experimental-wasm-relaxed-simd");
  else if (!(process.env.JAX_JS_WASM_FEATURES_OFF ?? "").split(",").includes("relaxed-madd")) {
    process.env.JAX_JS_WASM_FEATURES_OFF = [process.env.JAX_JS_WASM_FEATURES_OFF, "relaxed-madd"].filter(Boolean).join(",");
  }
  threads = requestedThreads();
  const dispatch = process.env.JAX_JS_WASM_DISPATCH;
  if (dispatch !== undefined && dispatch !== "" && dispatch !== "atomics" && dispatch !== "message") {
    throw new UserError(`JAX_JS_WASM_DISPATCH must be "atomics" or "message", got "${dispatch}"`);
  }
} catch (err) {
  platformError = err as UserError;
}
const globals = globalThis as Record<string, unknown>;
if (threads > 1 && typeof globals.Worker === "undefined") {
  globals.Worker = BlobWorker;
  if (typeof globals.navigator === "undefined") {
    globals.navigator = { hardwareConcurrency: threads };
  } else {
    Object.defineProperty(globals.navigator, "hardwareConcurrency", { value: threads, configurable: true });
  }
}
