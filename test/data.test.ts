import { test } from "node:test";
import assert from "node:assert/strict";
import { indicesByClass, loadDigits, PIXELS } from "../src/data/mnist.js";
import { DEFAULT_MIXTURE, nearestMode, sampleMixture } from "../src/data/toy.js";
import { HostRng } from "../src/engine/prng.js";

test("MNIST: 10 000 real digits in [−1, 1], split 80/20 stratified by class, disjoint", () => {
  const all = loadDigits("all");
  const train = loadDigits("train");
  const heldout = loadDigits("heldout");
  assert.equal(all.count, 10_000);
  assert.equal(train.count + heldout.count, all.count);
  assert.ok(Math.abs(heldout.count / all.count - 0.2) < 0.01);
  let min = Infinity, max = -Infinity;
  for (const v of all.images) { min = Math.min(min, v); max = Math.max(max, v); }
  assert.equal(min, -1);
  assert.equal(max, 1);
  const perClassAll = indicesByClass(all).map((r) => r.length);
  indicesByClass(heldout).forEach((rows, digit) => {
    assert.ok(Math.abs(rows.length / perClassAll[digit] - 0.2) < 0.01, `class ${digit} held-out fraction`);
  });
  // Disjoint: no held-out image equals a train image at the same class (spot check by hash).
  const key = (set: typeof all, i: number) => Buffer.from(set.images.buffer, i * PIXELS * 4, PIXELS * 4).toString("base64");
  const trainKeys = new Set(Array.from({ length: train.count }, (_, i) => key(train, i)));
  let shared = 0;
  for (let i = 0; i < heldout.count; i++) if (trainKeys.has(key(heldout, i))) shared++;
  assert.ok(shared < 5, `${shared} held-out digits also appear in train`);
  // Deterministic.
  assert.deepEqual(loadDigits("heldout").labels, heldout.labels);
});

test("toy mixture: samples sit near their mode", () => {
  const { points, labels } = sampleMixture(DEFAULT_MIXTURE, 500, new HostRng(1));
  const nearest = nearestMode(DEFAULT_MIXTURE, points);
  let agree = 0;
  labels.forEach((l, i) => (agree += l === nearest[i] ? 1 : 0));
  assert.ok(agree / 500 > 0.99);
});
