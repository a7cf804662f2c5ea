/**
 * A full collection of the JavaScript heap between the phases of an epoch. Within an epoch
 * V8 lets garbage (traced programs, host copies of rollouts) grow the heap by 80–140 MiB before
 * it collects on its own; the wasm memory is at its high-water mark during training, so that
 * garbage decides whether the process stays under 1 GiB (docs/performance.md, "Memory").
 * Uses `gc` when Node runs with --expose-gc, otherwise V8's gc from a fresh context after
 * enabling the flag; where neither works, it does nothing.
 */
import v8 from "node:v8";
import vm from "node:vm";

let collector: (() => void) | null | undefined;

function findCollector(): (() => void) | null {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === "function") return exposed;
  try {
    v8.setFlagsFromString("--expose-gc");
    const fromContext = vm.runInNewContext("gc") as unknown;
    return typeof fromContext === "function" ? (fromContext as () => void) : null;
  } catch {
    return null;
  }
}

/** Run a full garbage collection of the JS heap; false where V8 offers none. */
export function collectHostGarbage(): boolean {
  if (collector === undefined) collector = findCollector();
  if (!collector) return false;
  collector();
  return true;
}
