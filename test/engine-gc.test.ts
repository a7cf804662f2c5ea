/** collectHostGarbage (src/engine/gc.ts): the trainer's once-per-epoch full collection works without --expose-gc. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { collectHostGarbage } from "../src/engine/gc.js";

test("collectHostGarbage frees unreachable JS objects in a process started without --expose-gc", () => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, "undefined", "this test must run without --expose-gc");
  let garbage: number[][] | null = Array.from({ length: 400 }, (_, i) => Array.from({ length: 20_000 }, (_, j) => i + j + 0.5));
  const held = process.memoryUsage().heapUsed;
  assert.ok(garbage.length === 400 && held > 50 * 2 ** 20, `the test's garbage is on the heap (${(held / 2 ** 20).toFixed(0)} MiB used)`);
  garbage = null;
  assert.equal(collectHostGarbage(), true);
  const after = process.memoryUsage().heapUsed;
  assert.ok(held - after > 40 * 2 ** 20, `heap used ${(held / 2 ** 20).toFixed(0)} → ${(after / 2 ** 20).toFixed(0)} MiB`);
  assert.equal(collectHostGarbage(), true, "a second call works too");
});
