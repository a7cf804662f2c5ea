/**
 * jax-js's backend objects, which its public API does not export: found through the package's
 * backend chunk (the module `@jax-js/jax` imports them from). Used for buffer accounting
 * (memory.ts) and to report how the wasm backend dispatches kernels to its worker threads.
 * Returns null where that is not possible (a different jax-js build).
 */
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

export interface WasmBackendLike {
  malloc(size: number, initialData?: Uint8Array): number;
  incRef(slot: number): void;
  decRef(slot: number): void;
  /** Added by our patch (docs/engine.md, "Patches"): "atomics", "message" or "none". */
  readonly dispatchMode?: string;
  /** Added by our patch: wait for all dispatched kernels and release the buffers they held. */
  drainSync?(): boolean;
}

/** The backend chunk's exports (classes and functions jax-js keeps internal). */
export async function backendChunk(): Promise<Record<string, unknown> | null> {
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve("@jax-js/jax"));
  const chunk = readdirSync(dist).find((f) => /^backend-.*\.js$/.test(f));
  if (!chunk) return null;
  return (await import(pathToFileURL(join(dist, chunk)).href)) as Record<string, unknown>;
}

/** The wasm backend object jax-js dispatches to (after initEngine()). */
export async function wasmBackend(): Promise<WasmBackendLike | null> {
  const mod = await backendChunk();
  const getBackend = Object.values(mod ?? {}).find((v) => typeof v === "function" && v.name === "getBackend") as
    | ((d: string) => WasmBackendLike)
    | undefined;
  const backend = getBackend?.("wasm");
  return backend && typeof backend.malloc === "function" ? backend : null;
}
