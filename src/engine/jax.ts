/**
 * The one place that sets up jax-js: Node 20 shims first (see platform.ts), then the wasm
 * backend. Everything else imports jax-js through this module.
 */
import { platformError } from "./platform.js";
import * as jax from "@jax-js/jax";

export * from "@jax-js/jax";
export type JaxArray = jax.Array;

let ready: Promise<void> | null = null;

/** Initialise the wasm backend once; safe to call from every entry point. */
export function initEngine(): Promise<void> {
  if (platformError) return Promise.reject(platformError);
  ready ??= (async () => {
    const available = await jax.init("wasm");
    if (!available.includes("wasm")) {
      throw new Error("jax-js wasm backend is unavailable on this platform (WebAssembly with SIMD is required)");
    }
    jax.defaultDevice("wasm");
  })();
  return ready;
}
