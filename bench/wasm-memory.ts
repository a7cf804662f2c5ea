/**
 * The engine's wasm linear memory size, for the memory benchmarks. jax-js keeps its
 * WebAssembly.Memory private, so this module, imported before anything that loads the engine,
 * keeps every memory made from then on. Its byte length only grows: it is what the allocator
 * in use has touched so far.
 */
const made: WebAssembly.Memory[] = [];
const Memory = WebAssembly.Memory;
const Watched = function (descriptor: WebAssembly.MemoryDescriptor) {
  const memory = new Memory(descriptor);
  made.push(memory);
  return memory;
} as unknown as typeof WebAssembly.Memory;
Watched.prototype = Memory.prototype;
(WebAssembly as { Memory: typeof WebAssembly.Memory }).Memory = Watched;

/** Bytes of the largest wasm memory made since this module loaded (0 before the engine starts). */
export const wasmMemoryBytes = (): number => Math.max(0, ...made.map((m) => m.buffer.byteLength));
