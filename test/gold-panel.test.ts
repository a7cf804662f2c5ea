import { test } from "node:test";
import assert from "node:assert/strict";
import { initEngine } from "../src/engine/jax.js";
import { TrainConfigSchema } from "../src/config/train.js";
import { loadConfig } from "../src/config/load.js";
import { DEFAULT_GOLD_FEATURES, GoldPanel, GOLD_COMPONENTS } from "../src/rewards/gold.js";
import { loadClassifier, loadVelocityModel } from "../src/models/io.js";
import { loadDigits, PIXELS } from "../src/data/mnist.js";
import { accuracy, predictDigits } from "../src/pretrain/classifier.js";
import { disposeTree } from "../src/engine/tree.js";
import { KeyChain } from "../src/engine/prng.js";

import { DEFAULT_BASE_MODEL } from "../src/cli/defaults.js";
import { initialNoise, MAX_ODE_BATCH, OdeSampler } from "../src/sampling/ode.js";
import { validateMetricsRecord, type ValidMetricsRecord } from "../src/diagnostics/metrics-schema.js";
import { defaultExperimentTable } from "../src/experiments/readme-table.js";
import { matchedProxyMetrics, matchedProxyTables } from "../src/experiments/compare.js";
import { floorsTable } from "../bench/gold-floors.js";

await initEngine();

test("shipped gold feature network: a CNN of another width and seed than the proxy's, held-out split only, reads the train digits it never saw", async () => {
  const { model, params, metadata } = loadClassifier(DEFAULT_GOLD_FEATURES);
  assert.equal(model.config.kind, "cnn");
  assert.equal(model.featureDim, 32);
  const recipe = metadata.recipe as { config: { split: string; seed: number } };
  assert.equal(recipe.config.split, "heldout");
  assert.notEqual(recipe.config.seed, 0, "another seed than the proxy classifier and the judge");
  const train = loadDigits("train");
  const first = 2000;
  const acc = accuracy(await predictDigits(model, params, train.images.subarray(0, first * PIXELS)), train.labels.subarray(0, first));
  assert.ok(acc >= 0.93, `gold-cnn accuracy on 2 000 train digits ${acc}`);
  disposeTree(params);
});

/**
 * The between-method difference the evaluation must resolve (docs/results.md, matched proxy
 * 0.95: Fréchet 65.8 vs 59.0 at 16 samples per prompt).
 */
const METHOD_DIFFERENCE_FD = 65.8 - 59.0;

test("evaluation size: floors' spread shrinks with n, and the default eval size puts the FD and KID noise well below the method differences", async () => {
  const panel = await GoldPanel.fromFile();
  const small = panel.realReference(8);
  const config = loadConfig(TrainConfigSchema, "configs/grpo-guard/digits.yaml", []);
  const n = config.eval.perPrompt;
  assert.equal(TrainConfigSchema.parse({}).eval.perPrompt, n, "the schema default and the example config agree");
  const chosen = panel.realReference(n);
  assert.ok(n > 8);
  for (const key of ["fd-judge", "kid-judge", "kid-gold"]) assert.ok(chosen.std[key] < small.std[key], `${key}: std ${chosen.std[key]} at n=${n} vs ${small.std[key]} at n=8`);
  // FD's bias shrinks with n (its floor falls), KID's floor stays near 0 at both sizes.
  assert.ok(chosen.mean["fd-judge"] < 0.7 * small.mean["fd-judge"], `FD floor ${small.mean["fd-judge"]} → ${chosen.mean["fd-judge"]}`);
  // One evaluation's FD noise (std over real draws) is below half the difference, and that of
  // a three-seed mean (what the results tables compare) below a quarter of it.
  assert.ok(chosen.std["fd-judge"] < METHOD_DIFFERENCE_FD / 2, `FD floor std ${chosen.std["fd-judge"]} at n=${n}`);
  assert.ok(chosen.std["fd-judge"] / Math.sqrt(3) < METHOD_DIFFERENCE_FD / 4, `FD floor std ${chosen.std["fd-judge"]} at n=${n}`);
  assert.ok(small.std["fd-judge"] > METHOD_DIFFERENCE_FD / 2, "the old default (8) did not meet the bar");
  // The real-digit gold score and near-duplicate fraction at the chosen size.
  assert.ok(Math.abs(chosen.mean["near-duplicates"] - 0.02) < 0.01, `near-duplicates of real digits ${chosen.mean["near-duplicates"]}`);
  assert.ok(chosen.mean.gold > 0.85 && chosen.mean.gold < 1.05, `real gold ${chosen.mean.gold}`);
  const table = floorsTable([
    { perPrompt: 8, draws: small.draws, mean: small.mean, std: small.std },
    { perPrompt: n, draws: chosen.draws, mean: chosen.mean, std: chosen.std, seconds: { sample: 10, gold: 1, cpu: 15 } },
  ]);
  assert.match(table, new RegExp(`\\| ${n} \\| ${chosen.draws} \\| ${chosen.mean["fd-judge"].toFixed(1)} ± ${chosen.std["fd-judge"].toFixed(1)} \\|.*\\| 11\\.0 \\(10\\.0 \\+ 1\\.0\\) \\| 15\\.0 \\|`));
  panel.dispose();
});

/** A synthetic eval record with every gold component (value, CI, floor). */
function evalRecord(epoch: number, proxy: number, gold: number, kid: number): ValidMetricsRecord {
  const components = GOLD_COMPONENTS.map((c) => ({
    ...c,
    value: c.key === "gold" ? gold : c.key === "kid-judge" ? kid : 0.5,
    ...(c.key === "fd-judge" ? {} : { ci: [0.4, 0.6] as [number, number] }),
    floor: c.key === "kid-judge" ? 1.5 : 0.45,
  }));
  const record = {
    type: "eval",
    epoch,
    proxy,
    rewards: [{ name: "digit-ocr", mean: proxy, std: 0.1 }],
    prompts: ["0", "0", "1", "1"],
    gold: { judgeAccuracy: 0.5, frechet: [1, 2], frechetMean: 1.5, frechetFloor: 1, frechetReal: 1, diversity: 0.5, diversityReal: 0.5, drift: 0, gold, components, perClass: { "kid-judge": [kid, null] } },
  };
  const checked = validateMetricsRecord(record);
  assert.ok(checked.ok, checked.ok ? "" : checked.reason);
  return checked.record;
}

test("README table: generated from metrics records, one column per evaluation, CIs and floors", () => {
  const records = [evalRecord(0, 0.88, 0.9123, 3.2), evalRecord(10, 0.95, 0.8, 12.5)];
  const table = defaultExperimentTable(records);
  const lines = table.split("\n");
  assert.match(lines[0], /\| EMA policy, 4 fixed evaluation samples \(2 per prompt\) \| real digits \(floor, same n\) \| epoch 0 \| epoch 10 \|/);
  assert.match(table, /\| proxy \(digit-ocr\) \| — \| 0\.8800 \| 0\.9500 \|/);
  assert.match(table, /\| gold score \(higher is better\) \| 0\.450 \| 0\.912 \[0\.400, 0\.600\] \| 0\.800 \[0\.400, 0\.600\] \|/);
  assert.match(table, /\| KID ×10³ \(judge features\) \(lower is better\) \| 1\.50 \| 3\.20 \[0\.40, 0\.60\] \| 12\.5 \[0\.40, 0\.60\] \|/);
  assert.match(table, /\| judge accuracy \(higher is better\) \| 45\.0 % \| 50\.0 % \[40\.0, 60\.0\] \|/);
  assert.equal(lines.length, 2 + 1 + GOLD_COMPONENTS.length);
  // Legacy records (before gold panel v2) still validate and give a legacy row.
  const legacy = validateMetricsRecord({ type: "eval", epoch: 0, proxy: 0.9, rewards: [], prompts: ["0"], gold: { judgeAccuracy: 1, frechet: [null], frechetMean: 1, frechetFloor: 1, frechetReal: 1, diversity: 1, diversityReal: 1, drift: 0, gold: 0.9 } });
  assert.ok(legacy.ok);
  assert.match(defaultExperimentTable([legacy.record]), /gold score \(legacy\) \| — \| 0\.900 \|/);
});

test("matched-proxy tables use the logged gold components when the runs have them", () => {
  const run = (name: string, points: [number, number, number][]) => ({ name, dir: `/runs/${name}`, meta: {}, skipped: [], images: [], records: points.map(([p, g, k], i) => evalRecord(10 * i, p, g, k)) }) as never;
  const methods = [
    { variant: { label: "a", algorithm: "flow-grpo" as const, dynamics: "flow-sde" as const }, runs: [run("a0", [[0.8, 0.9, 1], [0.9, 0.8, 3]]), run("a1", [[0.8, 0.9, 1], [0.9, 0.7, 5]])] },
    { variant: { label: "b", algorithm: "grpo-guard" as const, dynamics: "flow-sde" as const }, runs: [run("b0", [[0.8, 0.9, 1], [0.84, 0.85, 2]])] },
  ];
  assert.deepEqual(matchedProxyMetrics(methods).map((m) => m.key), GOLD_COMPONENTS.map((c) => c.key));
  const tables = matchedProxyTables(methods, [0.85]);
  // gold at 0.85 (half-way): a0 0.85, a1 0.80 → mean 0.825, t-interval ± 12.706·0.0354/√2; b0 censored.
  assert.match(tables, /\*\*gold score\*\* \(higher is better\)/);
  assert.match(tables, /\| 0\.85 \| 0\.8250 \[0\.5073, 1\.1427\] \(2\/2\) \| censored \(0\/1 reached\) \|/);
});

test("an evaluation set larger than one ODE batch is integrated in chunks, row for row as in one batch", async () => {
  // The shipped model (its output depends on the prompt, unlike a freshly initialised one).
  const { model, params } = loadVelocityModel(DEFAULT_BASE_MODEL);
  const B = MAX_ODE_BATCH + 3;
  const prompts = Array.from({ length: B }, (_, i) => String(i % 7));
  const noise = initialNoise(model, new KeyChain(4).next(), B);
  const sampler = new OdeSampler(model, { steps: 2 });
  // Rows MAX−2 … MAX+2 straddle the chunk boundary; sampled together as one batch they must match.
  const window: [number, number] = [MAX_ODE_BATCH - 2, MAX_ODE_BATCH + 3];
  const direct = (await (await sampler.sample(params, noise.ref.slice(window), prompts.slice(...window))).data()) as Float32Array;
  const chunked = await sampler.sample(params, noise, prompts);
  assert.deepEqual(chunked.shape, [B, ...model.config.sampleShape]);
  const all = (await chunked.data()) as Float32Array;
  const per = direct.length / 5;
  const rows = all.subarray(window[0] * per, window[1] * per);
  let worst = 0;
  for (let i = 0; i < rows.length; i++) worst = Math.max(worst, Math.abs(rows[i] - direct[i]));
  assert.ok(worst < 1e-4, `largest difference ${worst}`);
  sampler.dispose();
  disposeTree(params);
});
