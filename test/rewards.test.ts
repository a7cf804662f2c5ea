import { test } from "node:test";
import assert from "node:assert/strict";
import { initEngine } from "../src/engine/jax.js";
import { UserError } from "../src/engine/errors.js";
import { HostRng } from "../src/engine/prng.js";
import { gatherImages, indicesByClass, loadDigits, PIXELS } from "../src/data/mnist.js";
import { aestheticReward, dilate } from "../src/rewards/aesthetic.js";
import { digitOcrReward, DigitReader } from "../src/rewards/digit-ocr.js";
import { GoldPanel } from "../src/rewards/gold.js";
import { createReward } from "../src/rewards/registry.js";
import { toyModeReward } from "../src/rewards/toy.js";
import { initialAlarmState, updateAlarm } from "../src/diagnostics/alarm.js";

await initEngine();
const shape = [1, 28, 28];
const train = loadDigits("train");
const rows = indicesByClass(train).flatMap((r) => r.slice(0, 24));
const real = gatherImages(train, rows);
const prompts = rows.map((r) => String(train.labels[r]));
const rng = new HostRng(5);
const noise = Float32Array.from(real, () => Math.max(-1, Math.min(1, rng.normal())));
const mean = (x: Float32Array) => x.reduce((a, b) => a + b, 0) / x.length;

test("digit-ocr: one probability per image in [0, 1], deterministic, high for real digits and low for noise", async () => {
  const reward = digitOcrReward();
  const a = await reward.score({ images: real, sampleShape: shape, prompts });
  const b = await reward.score({ images: real, sampleShape: shape, prompts });
  assert.equal(a.length, prompts.length);
  assert.ok(a.every((x) => x >= 0 && x <= 1));
  assert.deepEqual(a, b);
  const n = await reward.score({ images: noise, sampleShape: shape, prompts });
  assert.ok(mean(a) > 0.9 && mean(n) < 0.3, `real ${mean(a)}, noise ${mean(n)}`);
  reward.dispose?.();
});

test("aesthetic is hackable: dilating digits raises it while the gold judge's accuracy falls", async () => {
  const reward = aestheticReward();
  const score = async (images: Float32Array) => reward.score({ images, sampleShape: shape, prompts });
  const base = await score(real);
  assert.ok(base.every((x) => x >= 0 && x <= 1));
  assert.deepEqual(base, await score(real));
  const blank = await score(new Float32Array(real.length).fill(-1));
  assert.ok(mean(blank) < mean(base), "an empty image scores below a digit");
  let hacked = real;
  for (let k = 0; k < 3; k++) {
    const next = new Float32Array(hacked.length);
    for (let i = 0; i < prompts.length; i++) next.set(dilate(hacked.subarray(i * PIXELS, (i + 1) * PIXELS)), i * PIXELS);
    hacked = next;
  }
  const panel = await GoldPanel.fromFile();
  const goldBase = await panel.evaluate(real, prompts);
  const goldHacked = await panel.evaluate(hacked, prompts);
  assert.ok(mean(await score(hacked)) > mean(base) + 0.1, `aesthetic ${mean(base)} → ${mean(await score(hacked))}`);
  assert.ok(goldHacked.judgeAccuracy < goldBase.judgeAccuracy - 0.2, `judge accuracy ${goldBase.judgeAccuracy} → ${goldHacked.judgeAccuracy}`);
  assert.ok(goldHacked.gold < goldBase.gold, "gold score falls");
  panel.dispose();
});

test("gold panel: real digits sit at their floors, noise is far above them, every component has a CI and a floor", async () => {
  const panel = await GoldPanel.fromFile();
  const realMetrics = await panel.evaluate(real, prompts);
  const noiseMetrics = await panel.evaluate(noise, prompts);
  const floors = panel.realReference(24);
  assert.ok(realMetrics.frechetMean < 2 * realMetrics.frechetFloor, `real ${realMetrics.frechetMean} vs floor ${realMetrics.frechetFloor}`);
  assert.equal(realMetrics.frechetReal, floors.mean["fd-judge"], "the 'real' reference is the unseen-digit floor at the same n");
  assert.ok(noiseMetrics.frechetMean > 10 * realMetrics.frechetFloor, `noise ${noiseMetrics.frechetMean}`);
  const component = (m: typeof realMetrics, key: string) => m.components!.find((c) => c.key === key)!;
  for (const c of realMetrics.components!) {
    assert.ok(Number.isFinite(c.value) && Number.isFinite(c.floor!), `${c.key}: value ${c.value}, floor ${c.floor}`);
    if (c.key !== "fd-judge") assert.ok(c.ci && c.ci[0] <= c.value && c.value <= c.ci[1], `${c.key}: ${c.value} in [${c.ci}]`);
  }
  for (const key of ["kid-judge", "kid-gold"]) {
    // Real digits: the floor's value lies inside the CI; noise: the CI is far above the floor.
    const r = component(realMetrics, key);
    const n = component(noiseMetrics, key);
    assert.ok(r.ci![0] <= r.floor! + 3 * floors.std[key] && r.floor! - 3 * floors.std[key] <= r.ci![1], `${key} real ${r.value} [${r.ci}] vs floor ${r.floor}`);
    assert.ok(n.ci![0] > r.floor! + 10 * floors.std[key], `${key} noise ${n.value} [${n.ci}]`);
  }
  assert.ok(realMetrics.perClass!["kid-gold"].every((v) => v !== null && Number.isFinite(v)));
  // The gold score is not capped: real digits score near the real-digit floor, noise near 0.
  assert.ok(Math.abs(realMetrics.gold - component(realMetrics, "gold").floor!) < 0.1 && noiseMetrics.gold < 0.05, `gold real ${realMetrics.gold}, noise ${noiseMetrics.gold}`);
  assert.ok(noiseMetrics.drift > 0.5, "drift from the first evaluation's images");
  panel.dispose();
});

test("toy-mode rewards the target mode", async () => {
  const reward = toyModeReward({ mode: 0 });
  const s = await reward.score({ images: new Float32Array([2, 0, -2, 0]), sampleShape: [2], prompts: ["", ""] });
  assert.ok(s[0] > 0.99 && s[1] < 0.1);
});

test("over-optimisation alarm: fires on proxy-up/gold-down for K evaluations, not on both-up", () => {
  const run = (series: [number, number][], patience: number) => {
    let state = initialAlarmState();
    const fired: number[] = [];
    series.forEach(([proxy, gold], epoch) => {
      const u = updateAlarm(state, epoch, proxy, gold, patience);
      state = u.state;
      if (u.fired) fired.push(epoch);
    });
    return { fired, state };
  };
  const hacked = run([[0.5, 0.8], [0.6, 0.82], [0.7, 0.8], [0.8, 0.75], [0.9, 0.7], [0.95, 0.6]], 3);
  assert.deepEqual(hacked.fired, [4]);
  assert.deepEqual(hacked.state.best, { gold: 0.82, epoch: 1 });
  assert.deepEqual(run([[0.5, 0.8], [0.6, 0.82], [0.7, 0.85], [0.8, 0.86], [0.9, 0.9]], 2).fired, []);
  assert.deepEqual(run([[0.5, 0.8], [0.6, 0.7], [0.55, 0.6], [0.7, 0.5], [0.8, 0.4]], 2).fired, [4], "the streak restarts when the proxy dips");
});

test("bad input: unknown reward, missing weights, wrong image shape", async () => {
  assert.throws(() => createReward("pickscore"), (e: Error) => e instanceof UserError && /unknown reward "pickscore" \(known: digit-ocr, aesthetic, toy-mode/.test(e.message));
  assert.throws(() => createReward("digit-ocr", { weights: "/nonexistent/ocr.safetensors" }), /ocr\.safetensors: cannot read weight file \(no such file\)/);
  const reader = DigitReader.fromFile();
  await assert.rejects(reader.probabilities(new Float32Array(64), [1, 8, 8]), /digit classifier expects images of shape \[1,28,28\], got \[1,8,8\]/);
  reader.dispose();
});
