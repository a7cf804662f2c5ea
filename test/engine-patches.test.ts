/**
 * The jax-js patches carried in patches/ (applied by `patch-package` at `npm install`),
 * checked against the behaviour of unpatched jax-js 0.1.25 (docs/engine.md, "Patches").
 */
import { test } from "node:test";
import assert from "node:assert/strict";

// Count the wasm memory jax-js grows, before jax-js creates its memory.
let grownPages = 0;
const grow = WebAssembly.Memory.prototype.grow;
WebAssembly.Memory.prototype.grow = function (delta: number) {
  grownPages += delta;
  return grow.call(this, delta);
};
process.env.GRPO_GUARD_THREADS = "1";
const { initEngine, numpy: np } = await import("../src/engine/jax.js");
await initEngine();
const MiB = 2 ** 20;

test("allocator patch: freed neighbouring large buffers merge and serve a larger request without growing memory", async () => {
  // Unpatched jax-js keeps one free list per exact size class, so the 8 MiB request would
  // grow the memory by 8 MiB although two adjacent 4 MiB blocks are free.
  // Uploaded host data: a real device buffer each (np.zeros/np.ones may stay lazy constants).
  const a = np.array(new Float32Array(MiB).fill(1));
  const b = np.array(new Float32Array(MiB).fill(2));
  await Promise.all([a.blockUntilReady(), b.blockUntilReady()]);
  a.dispose();
  b.dispose();
  const before = grownPages;
  const c = np.array(new Float32Array(2 * MiB).fill(1));
  const sum = await np.sum(c).data();
  assert.equal(sum[0], 2 * MiB);
  // Small buffers (the sum's output) may still take a fresh page; the 8 MiB must not.
  const grownMiB = ((grownPages - before) * 65536) / MiB;
  assert.ok(grownMiB < 1, `memory grew by ${grownMiB} MiB`);
});

test("allocator patch: live buffers never overlap under random allocation and frees (contents survive)", async () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const live: { array: ReturnType<typeof np.array>; value: number; n: number }[] = [];
  for (let i = 0; i < 120; i++) {
    if (live.length > 0 && rand() < 0.45) {
      const [gone] = live.splice(Math.floor(rand() * live.length), 1);
      gone.array.dispose();
    } else {
      // Mostly above the 64 KiB page (the patched path), some below (unchanged path).
      const n = Math.floor(2 ** (10 + rand() * 11)); // 1 Ki … 2 Mi floats
      live.push({ array: np.array(new Float32Array(n).fill(i + 1)), value: i + 1, n });
    }
  }
  for (const { array, value, n } of live) {
    const data = (await array.ref.data()) as Float32Array;
    assert.equal(data.length, n);
    assert.ok(data.every((x) => x === value), `buffer of ${n} floats holding ${value} was overwritten`);
    array.dispose();
  }
});
