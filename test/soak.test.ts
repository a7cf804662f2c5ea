import { test } from "node:test";
import assert from "node:assert/strict";
import { soak } from "../bench/soak.js";

test("soak (30 epochs, tiny config): live device buffers and resident memory stay flat", async () => {
  const { rss, buffers } = await soak(30, 10, () => {});
  // Bound 1 (exact): after 12 warm-up epochs the number of live wasm buffers never changes —
  // one leaked array per epoch would show as +1 per epoch.
  assert.ok(buffers.length === 30, "the engine's buffers are tracked");
  for (let e = 12; e < 30; e++) assert.equal(buffers[e], buffers[11], `live buffers after epoch ${e + 1}`);
  // Bound 2 (loose, allocator and GC noise): a leak raises resident memory for good, so the
  // lowest RSS of the last 5 epochs stays within 48 MiB of the warm-up level (single-epoch
  // spikes from garbage not yet collected are not leaks).
  const growth = Math.min(...rss.slice(-5)) - rss[11];
  assert.ok(growth < 48, `RSS grew ${growth.toFixed(1)} MiB after warm-up`);
});
