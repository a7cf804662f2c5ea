/**
 * A run's policy at a checkpoint (src/rl/policy.ts) and rating it (`rate <run>@<epoch>`,
 * `rate --at-proxy`): a real tiny run that checkpoints every epoch and evaluates every other;
 * the last checkpoint's EMA policy must be the run's final policy-ema.safetensors, tensor for
 * tensor, and a proxy measured at a checkpoint must be the one the run's evaluation recorded.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { stringify as toYaml } from "yaml";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../src/engine/jax.js";
import { readSafetensorsFile, treeToHost } from "../src/engine/safetensors.js";
import { disposeTree } from "../src/engine/tree.js";
import { checkpointAt, checkpointAtProxy, checkpointEpochs, evaluateCheckpoint, evaluatedProxies, knownProxies, loadCheckpointPolicy, loadPolicy, measureCheckpointProxy } from "../src/rl/policy.js";
import { evaluateCheckpoints } from "../src/rl/checkpoint-evals.js";
import { CHECKPOINT_EVALS_FILE } from "../src/diagnostics/metrics-schema.js";
import { readMetrics } from "../src/diagnostics/metrics.js";
import { cachedGoldPanels } from "../src/rewards/gold.js";
import { readSummary, summarizeRunDir } from "../src/study/summary.js";
import { argumentsAtProxy, createStudy, resolveSources } from "../src/rating/study.js";
import { bin, env } from "./rating-fixtures.js";
import { toyBase } from "./sweep-fixtures.js";

const root = mkdtempSync(join(tmpdir(), "grpo-guard-run-policy-"));
after(() => rmSync(root, { recursive: true, force: true }));
const EPOCHS = 4;

let run = "";
before(async () => {
  await initEngine();
  const sets = [
    "model.weights=", "model.preset=dit-tiny", "name=tiny", `output.dir=${root}`, "prompts.perEpoch=2", "groupSize=4", "sampling.steps=3",
    `train.epochs=${EPOCHS}`, "train.minibatch=4", "train.lr=3e-3", "eval.every=2", "eval.perPrompt=2", "eval.steps=3", "checkpoint.every=1", "checkpoint.keep=8", "diagnostics.velocityNormEval=true",
  ];
  const r = spawnSync(process.execPath, [bin, "train", ...sets.flatMap((s) => ["--set", s])], { encoding: "utf8", env, timeout: 180_000 });
  assert.equal(r.status, 0, `fixture run failed:\n${r.stdout}\n${r.stderr}`);
  run = join(root, "tiny");
});

describe("a run's policy at a checkpoint", () => {
  test("the last checkpoint's EMA policy is the final policy-ema.safetensors, tensor for tensor", async () => {
    assert.deepEqual(checkpointEpochs(run), [0, 1, 2, 3, 4]);
    const loaded = loadCheckpointPolicy(checkpointAt(run, EPOCHS));
    try {
      assert.equal(loaded.epoch, EPOCHS);
      const finalFile = readSafetensorsFile(join(run, "policy-ema.safetensors"));
      assert.deepEqual(loaded.model.config, JSON.parse(finalFile.metadata.config));
      const final = finalFile.tensors;
      const mine = await treeToHost(loaded.params);
      assert.deepEqual([...mine.keys()].sort(), [...final.keys()].sort());
      for (const [name, record] of mine) assert.deepEqual(Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength), Buffer.from(final.get(name)!.data.buffer, final.get(name)!.data.byteOffset, final.get(name)!.data.byteLength), name);
    } finally {
      disposeTree(loaded.params);
    }
    const first = loadCheckpointPolicy(checkpointAt(run, 1));
    try {
      const a = await treeToHost(first.params);
      const final = readSafetensorsFile(join(run, "policy-ema.safetensors")).tensors;
      assert.ok([...a].some(([name, r]) => r.data.some((v, i) => v !== final.get(name)!.data[i])), "epoch 1's policy differs from the final one");
    } finally {
      disposeTree(first.params);
    }
  });

  test("one argument names any policy: weight file, run directory, <run>@<epoch>, checkpoint file (sample -m)", async () => {
    const host = async (spec: string) => {
      const { params } = loadPolicy(spec);
      try {
        return await treeToHost(params);
      } finally {
        disposeTree(params);
      }
    };
    const final = await host(run);
    const viaFile = await host(join(run, "policy-ema.safetensors"));
    const viaAt = await host(`${run}@${EPOCHS}`);
    const viaCheckpoint = await host(checkpointAt(run, EPOCHS));
    for (const other of [viaFile, viaAt, viaCheckpoint]) for (const [name, r] of final) assert.deepEqual(other.get(name)!.data, r.data, name);
    const out = join(root, "epoch-1.png");
    const r = spawnSync(process.execPath, [bin, "sample", "-m", `${run}@1`, "--prompts", "3", "--per-prompt", "2", "--steps", "2", "--out", out], { encoding: "utf8", env, timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(out));
    const bad = spawnSync(process.execPath, [bin, "sample", "-m", `${run}@9`, "--out", join(root, "x.png")], { encoding: "utf8", env, timeout: 60_000 });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /no checkpoint of epoch 9 \(checkpoints of epochs 0, 1, 2, 3, 4;/);
  });

  test("a proxy measured at a checkpoint is the one the run's evaluation recorded there", async () => {
    const evaluated = evaluatedProxies(run);
    assert.deepEqual([...evaluated.keys()], [0, 2, 4]);
    assert.equal(await measureCheckpointProxy(run, 2), evaluated.get(2));
    assert.equal(await measureCheckpointProxy(run, 4), evaluated.get(4));
  });

  test("--at-proxy measures the checkpoints between the evaluations around the crossing, then takes the nearest", async () => {
    const evaluated = evaluatedProxies(run);
    const [p0, p2] = [evaluated.get(0)!, evaluated.get(2)!];
    assert.notEqual(p0, p2, "the fixture's proxy moves between its first two evaluations");
    const level = (p0 + p2) / 2;
    assert.ok(p2 > p0, `the fixture's proxy rises from epoch 0 to 2 (${p0} → ${p2})`);
    const lines: string[] = [];
    const match = await checkpointAtProxy(run, level, (line) => lines.push(line));
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], /^tiny: measured the proxy of the epoch-1 checkpoint: \d\.\d{4}$/);
    const known = knownProxies(run);
    assert.deepEqual([...known.keys()].sort(), [0, 1, 2, 4], "epoch 3 lies outside the crossing and is not measured");
    // The first crossing, as the matched-proxy tables read it: the nearest of the checkpoints up to epoch 2.
    const nearest = [...known].filter(([e]) => e <= 2).sort((a, b) => Math.abs(a[1] - level) - Math.abs(b[1] - level) || a[0] - b[0])[0];
    assert.deepEqual(match, { epoch: nearest[0], proxy: nearest[1], reached: true });
    const top = Math.max(...known.values());
    const never = await checkpointAtProxy(run, top + 1);
    assert.equal(never?.reached, false);
    assert.equal(never?.proxy, top, "a level the run never reaches: its nearest checkpoint");
    const again: string[] = [];
    assert.deepEqual(await checkpointAtProxy(run, level, (line) => again.push(line)), match);
    assert.deepEqual(again, [], "measured proxies are kept (checkpoints/checkpoint-proxies.json)");
    assert.deepEqual(await argumentsAtProxy([run, join(root, "weights.safetensors")], level), [`${run}@${match!.epoch}`, join(root, "weights.safetensors")]);
  });

  test("rate's arguments: <run>@<epoch>, a checkpoint file, --at-proxy, and errors that name what exists", async () => {
    const [at1, file2] = resolveSources([`${run}@1`, checkpointAt(run, 2)]);
    assert.equal(at1.label, "tiny@1");
    assert.deepEqual(at1.checkpoint, { epoch: 1, proxy: knownProxies(run).get(1) ?? null });
    assert.equal(file2.label, "tiny@2");
    assert.equal(file2.runConfig, join(run, "config.yaml"));
    assert.equal(resolveSources([run])[0].checkpoint, undefined, "a run directory is its final policy");

    assert.throws(() => resolveSources([`${run}@7`]), /tiny: no checkpoint of epoch 7 \(checkpoints of epochs 0, 1, 2, 3, 4;/);
    assert.throws(() => resolveSources([`${root}@1`]), /is not a run directory \(no config\.yaml\)/);
    const stray = join(root, "stray");
    mkdirSync(stray);
    copyFileSync(checkpointAt(run, 1), join(stray, "ckpt-00000001.safetensors"));
    assert.throws(() => loadCheckpointPolicy(join(stray, "ckpt-00000001.safetensors")), /expected it in <run>\/checkpoints\/ beside <run>\/config\.yaml/);

    const store = await createStudy(join(root, "study"), [at1, file2], { name: "study", question: "likeness", prompts: ["3"], pairs: 2, seed: 0, steps: 2, shift: 3, guidance: 1, simulated: true });
    try {
      const methods = store.methods();
      assert.deepEqual(methods.map((m) => m.label), ["tiny@1", "tiny@2"]);
      assert.match(methods[0].method, /^grpo-guard on flow-sde, epoch 1 \(proxy \d\.\d{3}\)$/);
      assert.equal(store.pairs().length, 2);
    } finally {
      store.close();
    }
  });
});

describe("evaluations at checkpoints (summarize --checkpoint-evals)", () => {
  test("the unevaluated checkpoints get the run's own evaluation, kept durably, read by the summary as extra points", async () => {
    const copy = join(root, "tiny-evals");
    cpSync(run, copy, { recursive: true });
    const goldFor = cachedGoldPanels();
    // At an epoch the run evaluated, the same proxy and gold as its record (the images are the same).
    const recorded = readMetrics(join(copy, "metrics.jsonl")).records.find((r) => r.type === "eval" && r.epoch === 2) as unknown as { proxy: number; gold?: { gold: number; drift: number; components: { key: string; value: number }[] } };
    const again = await evaluateCheckpoint(copy, 2, goldFor);
    assert.equal(again.proxy, recorded.proxy);
    assert.ok(recorded.gold && again.gold, "the tiny run evaluates with the gold panel");
    assert.equal(again.gold?.gold, recorded.gold?.gold);
    assert.deepEqual(again.gold?.components?.map((c) => c.value), recorded.gold?.components.map((c) => c.value));
    // Drift from the base policy's images the run kept in the checkpoint — not from the first images this (fresh) panel saw.
    assert.ok(recorded.gold!.drift > 0);
    assert.equal(again.gold?.drift, recorded.gold?.drift);

    const lines: string[] = [];
    assert.deepEqual(await evaluateCheckpoints(copy, goldFor, { log: (l) => lines.push(l) }), { evaluated: [1, 3], remaining: [] }, "the run evaluated epochs 0, 2 and 4");
    assert.equal(lines.length, 2);
    const summary = summarizeRunDir(copy);
    assert.deepEqual(summary.evaluations.map((e) => [e.epoch, e.fromCheckpoint ?? false]), [[0, false], [1, true], [2, false], [3, true], [4, false]]);
    assert.ok(summary.evaluations.every((e) => e.gold !== null && e.components.length > 0));
    assert.equal(knownProxies(copy).get(1), summary.evaluations[1].proxy, "the proxy is also kept with the measured ones (--at-proxy)");
    // Nothing left to do; a torn last line (a crash mid-write) is skipped, not fatal.
    assert.deepEqual((await evaluateCheckpoints(copy, goldFor)).evaluated, []);
    appendFileSync(join(copy, "checkpoints", CHECKPOINT_EVALS_FILE), '{"type":"eval","epoch":');
    assert.deepEqual(summarizeRunDir(copy).evaluations.map((e) => e.epoch), [0, 1, 2, 3, 4]);
    assert.deepEqual((await evaluateCheckpoints(copy, goldFor)).evaluated, []);
    // The CLI: every finished run's checkpoints, then the summary (here with nothing left to evaluate).
    const out = join(root, "summaries");
    const r = spawnSync(process.execPath, [bin, "summarize", copy, "--out", out, "--checkpoint-evals"], { encoding: "utf8", env, timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /every kept checkpoint already has an evaluation/);
    assert.equal(readSummary(join(out, "tiny-evals.json")).evaluations.filter((e) => e.fromCheckpoint).length, 2);
  });
});

describe("checkpoint.evaluate in `grpo-guard train`", () => {
  test("a finished run evaluates its kept, unevaluated checkpoints with its own panel before it exits", () => {
    const config = join(root, "toy.yaml");
    writeFileSync(config, toYaml({ ...toyBase(4), name: "toy-ckevals", output: { dir: root }, eval: { every: 2, steps: 4, perPrompt: 4 }, checkpoint: { every: 1, keep: 3, evaluate: true } }));
    const r = spawnSync(process.execPath, [bin, "train", "--config", config], { encoding: "utf8", env, timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const dir = join(root, "toy-ckevals");
    assert.deepEqual(checkpointEpochs(dir), [2, 3, 4]);
    assert.match(r.stdout, /checkpoint\.evaluate: 1 kept checkpoints evaluated/);
    assert.match(r.stdout, /checkpoint eval @ epoch 3 \(1 of 1\) \| proxy /);
    assert.doesNotMatch(r.stdout + r.stderr, /evaluated the epoch-3 checkpoint/, "each checkpoint evaluation is reported once");
    assert.deepEqual(summarizeRunDir(dir).evaluations.map((e) => [e.epoch, e.fromCheckpoint ?? false]), [[0, false], [2, false], [3, true], [4, false]]);
  });
});
