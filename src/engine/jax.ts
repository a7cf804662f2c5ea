/**
 * The one place that sets up jax-js: Node 20 shims first (see platform.ts), then the wasm
 * backend. Everything else imports jax-js through this module.
 */
import { platformError, terminateWorkers } from "./platform.js";
import { UserError } from "./errors.js";
import { wasmBackend } from "./backend.js";
import * as jax from "@jax-js/jax";

export * from "@jax-js/jax";
export type JaxArray = jax.Array;

let ready: Promise<void> | null = null;
let shutDown = false;

/** Initialise the wasm backend once; safe to call from every entry point. */
export function initEngine(): Promise<void> {
  if (platformError) return Promise.reject(platformError);
  if (shutDown) return Promise.reject(new UserError("the engine was shut down (shutdownEngine()); numerics need a new process"));
  ready ??= (async () => {
    const available = await jax.init("wasm");
    if (!available.includes("wasm")) {
      throw new Error("jax-js wasm backend is unavailable on this platform (WebAssembly with SIMD is required)");
    }
    jax.defaultDevice("wasm");
  })();
  return ready;
}

/**
 * End of a script: waits for every dispatched kernel, then stops the engine's worker threads,
 * which otherwise keep Node's process alive after the last line. No numerics after it (a
 * kernel dispatched then would never run); `initEngine()` rejects from then on. Command-line
 * entry points call `process.exit` instead.
 */
export async function shutdownEngine(): Promise<void> {
  shutDown = true;
  // An engine that failed to start has nothing to drain; its threads (if any) still stop.
  if (ready && (await ready.then(() => true, () => false))) (await wasmBackend())?.drainSync?.();
  await terminateWorkers();
}
