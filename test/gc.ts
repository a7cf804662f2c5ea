/** A full garbage collection for memory assertions (exposes V8's gc without a CLI flag). */
import v8 from "node:v8";
import vm from "node:vm";

v8.setFlagsFromString("--expose-gc");
export const collectGarbage = vm.runInNewContext("gc") as () => void;

/**
 * The process's memory after a full collection once V8 has handed the freed pages back: it
 * unmaps them on background threads, so right after `gc()` RSS can still count pages that the
 * heap's committed size (`heapTotal`) no longer does.
 */
export async function settledMemory(): Promise<NodeJS.MemoryUsage> {
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, 100));
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, 100));
  return process.memoryUsage();
}
