/**
 * Live device-buffer accounting for leak tests. jax-js has no public counter of allocated
 * buffers, so we wrap the wasm backend's malloc/incRef/decRef (found through the package's
 * backend chunk) and keep our own reference counts. Returns null where that is not possible
 * (a different jax-js build), so callers can fall back to resident-memory checks.
 */
import { wasmBackend } from "./backend.js";

export interface BufferStats {
  count: number;
  bytes: number;
}

/** One allocation (+size) or free (−size) of a device buffer, in order; `slot` pairs them. */
export interface BufferEvent {
  slot: number;
  bytes: number;
}

interface Tracker {
  refs: Map<number, [number, number]>;
  events: BufferEvent[] | null;
  liveBytes: number;
  peakBytes: number;
}

let tracker: Tracker | null = null;
let drain: (() => boolean) | null = null;

/**
 * Start counting live wasm buffers (idempotent). Must run after initEngine(). `liveBuffers()`
 * first waits (blocking) for every dispatched kernel where the engine allows it.
 */
export async function trackBuffers(): Promise<boolean> {
  if (tracker) return true;
  const backend = await wasmBackend();
  if (!backend) return false;
  drain = backend.drainSync ? () => backend.drainSync!() : null;
  const refs = new Map<number, [number, number]>();
  const state: Tracker = { refs, events: null, liveBytes: 0, peakBytes: 0 };
  const { malloc, incRef, decRef } = backend;
  backend.malloc = function (size, initialData) {
    const slot = malloc.call(this, size, initialData);
    refs.set(slot, [1, size]);
    state.events?.push({ slot, bytes: size });
    state.liveBytes += size;
    state.peakBytes = Math.max(state.peakBytes, state.liveBytes);
    return slot;
  };
  backend.incRef = function (slot) {
    incRef.call(this, slot);
    const entry = refs.get(slot);
    if (entry) entry[0] += 1;
  };
  backend.decRef = function (slot) {
    decRef.call(this, slot);
    const entry = refs.get(slot);
    if (entry && --entry[0] === 0) {
      refs.delete(slot);
      state.events?.push({ slot, bytes: -entry[1] });
      state.liveBytes -= entry[1];
    }
  };
  tracker = state;
  return true;
}

/** Live buffers allocated since tracking started (null when not tracking). */
export function liveBuffers(): BufferStats | null {
  if (!tracker) return null;
  // With the atomics dispatch (docs/engine.md, "Patches" 2) the workers run ahead of the main
  // thread, so the buffers still held by unfinished kernels depend on timing: wait for them.
  drain?.();
  let bytes = 0;
  for (const [, size] of tracker.refs.values()) bytes += size;
  return { count: tracker.refs.size, bytes };
}

/** Highest live device bytes since tracking started or since the last reset (null when not tracking). */
export function peakLiveBytes(reset = false): number | null {
  if (!tracker) return null;
  const peak = tracker.peakBytes;
  if (reset) tracker.peakBytes = tracker.liveBytes;
  return peak;
}

/** Start (or restart) recording every allocation and free; returns the recorded list, which grows. */
export function recordBufferEvents(): BufferEvent[] {
  if (!tracker) throw new Error("recordBufferEvents: call trackBuffers() first");
  tracker.events = [];
  return tracker.events;
}
