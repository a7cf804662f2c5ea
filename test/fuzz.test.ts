/**
 * The user contract as properties (fast-check, fixed seed): every input either works or ends
 * with one line naming the field/file (UserError, non-zero exit; HTTP 4xx for the reward
 * server) — never a stack trace, never a silent default, never a lost or duplicated record.
 *
 *   (a) run configs and `--set` values     (b) reward-server request bodies
 *   (c) safetensors and checkpoint bytes   (d) metrics.jsonl lines for the dashboard/report
 *
 * Mostly in-process (library functions), plus a few CLI subprocesses. FUZZ_RUNS=k multiplies
 * the number of cases and FUZZ_SEED changes the seed, for longer campaigns.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { initEngine, numpy as np, random } from "../src/engine/jax.js";
import { UserError } from "../src/engine/errors.js";
import { disposeTree } from "../src/engine/tree.js";
import { decodeSafetensors, encodeSafetensors, saveParams, type TensorRecord } from "../src/engine/safetensors.js";
import { readLatestCheckpoint, writeCheckpoint } from "../src/engine/checkpoint.js";
import { applyOverrides, validateConfig } from "../src/config/load.js";
import { TrainConfigSchema } from "../src/config/train.js";
import { trainConfigIssues } from "../src/config/train-checks.js";
import { createModel, presetConfig } from "../src/models/registry.js";
import { loadVelocityModel } from "../src/models/io.js";
import { digitOcrReward } from "../src/rewards/digit-ocr.js";
import { createRewardServer, httpReward, listen } from "../src/rewards/http.js";
import { toyModeReward } from "../src/rewards/toy.js";
import { runTrainingJob } from "../src/rl/run.js";
import { readValidatedMetrics } from "../src/diagnostics/metrics-schema.js";
import { metricsScalars } from "../src/diagnostics/export.js";
import { loadRun } from "../src/dashboard/runs.js";
import { writeReport } from "../src/dashboard/report.js";

await initEngine();
const SEED = Number(process.env.FUZZ_SEED ?? 20261126);
const SCALE = Number(process.env.FUZZ_RUNS ?? 1);
const runs = (n: number) => ({ seed: SEED, numRuns: Math.max(1, Math.round(n * SCALE)) });
const bin = fileURLToPath(new URL("../../bin/grpo-guard.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "grpo-guard-fuzz-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, GRPO_GUARD_THREADS: "1", ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A CLI failure: non-zero exit, one line on stderr, no stack trace. */
function assertOneLineError(r: { code: number | null; stderr: string }, message: RegExp): void {
  assert.notEqual(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  assert.doesNotMatch(r.stderr, /internal error/);
  assert.match(r.stderr, message);
}

// ---------------------------------------------------------------- (a) configs and --set

const BASE = {
  name: "fz",
  model: { preset: "dit-tiny" },
  prompts: { pool: ["1", "2"], perEpoch: 2 },
  groupSize: 4,
  rewards: [{ name: "aesthetic" }],
  sampling: { steps: 3 },
  train: { epochs: 1, minibatch: 4 },
  eval: { every: 0 },
};

const PATHS = [
  "name", "seed", "algorithm", "dynamics", "sampling.steps", "sampling.shift", "sampling.eta", "sampling.window", "sampling.window.size",
  "sampling.sharedNoise", "prompts.pool", "prompts.perEpoch", "groupSize", "rewards", "rewards.0.name", "rewards.0.weight", "rewards.0.options",
  "rewards.0.options.width", "train.minibatch", "train.lr", "train.clipLow", "train.emaDecay", "train.kl.type", "train.innerEpochs", "eval.prompts",
  "eval.every", "checkpoint.keep", "output.dir", "model.weights", "faults.maxSkipped", "advantages.clip", "gold.enabled", "alarm.action",
  "train.lrr", "sampling.windw", "extra",
];

const configValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.integer({ min: -3, max: 40 }),
  fc.double({ noNaN: false }),
  fc.constantFrom("", "1", "cat", "10", "1e-4", "true", "null", "flow-grpo", "cps", "toy-mode", "digit-ocr", "http://127.0.0.1:9"),
  fc.constantFrom(0.5, 1, 1.5, 2, 2.5, 6, 8, 12),
  fc.record({ mode: fc.constantFrom("all", "fixed", "random", "sliding", "wide"), start: fc.integer({ min: -1, max: 4 }), size: fc.integer({ min: 0, max: 6 }), candidates: fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 3 }) }, { requiredKeys: ["mode"] }),
  fc.array(fc.constantFrom("0", "1", "7", "", "cat"), { maxLength: 3 }),
  fc.record({ width: fc.oneof(fc.double(), fc.string()), mode: fc.integer({ min: -1, max: 9 }), weights: fc.string() }, { requiredKeys: [] }),
);

function valueAt(data: unknown, path: string): unknown {
  let node = data;
  for (const key of path.split(".")) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** A config error: a UserError whose lines each name a field (or the flag/file). */
function assertNamedConfigError(err: unknown): void {
  if (!(err instanceof UserError)) throw err;
  const [head, ...fields] = err.message.split("\n");
  assert.match(head, /^(fuzz\.yaml: invalid configuration|--set .+)$/, err.message);
  for (const line of fields) assert.match(line, /^ {2}(\(root\)|([A-Za-z0-9_-]+|"(\\.|[^"\\])*")(\.([A-Za-z0-9_-]+|"(\\.|[^"\\])*"))*): .+/, err.message);
}

test("fuzz (a): configs and --set values — a valid config keeps every value given, anything else is a named error", () => {
  const protoKeys = Object.getOwnPropertyNames(Object.prototype).length;
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom(...PATHS), configValue, fc.boolean()), { minLength: 1, maxLength: 4 }),
      fc.option(fc.constantFrom("__proto__.polluted", "constructor.prototype.polluted", "train..lr", ".x", "a.__proto__.b"), { nil: undefined }),
      (edits, hostile) => {
        const sets = edits.map(([path, value, flow]) => `${path}=${flow ? toYaml(value, { collectionStyle: "flow" }).trim() : JSON.stringify(value) ?? "null"}`);
        if (hostile) sets.push(`${hostile}=1`);
        let config;
        try {
          config = validateConfig(TrainConfigSchema, applyOverrides(structuredClone(BASE), sets), "fuzz.yaml");
        } catch (err) {
          assertNamedConfigError(err);
          return;
        } finally {
          assert.equal(({} as Record<string, unknown>).polluted, undefined, "no prototype pollution");
          assert.equal(Object.getOwnPropertyNames(Object.prototype).length, protoKeys);
        }
        assert.equal(hostile, undefined, "a hostile --set path is refused");
        assert.deepEqual(trainConfigIssues(config), []);
        // No silent default or coercion: the last value given for a field is the value used.
        const [path, value] = edits[edits.length - 1];
        const given = parseYaml(sets[edits.length - 1].slice(path.length + 1));
        if (given === null || ["number", "string", "boolean"].includes(typeof given)) assert.deepEqual(valueAt(config, path), given, `${path} = ${JSON.stringify(value)}`);
        // The run's config.yaml reads back to the same config.
        assert.deepEqual(validateConfig(TrainConfigSchema, parseYaml(toYaml(config)), "config.yaml"), config);
      },
    ),
    runs(400),
  );
});

test("fuzz (a): arbitrary --set strings and config documents never crash the loader", () => {
  const setString = fc.oneof(fc.string({ maxLength: 30 }), fc.tuple(fc.constantFrom("prompts.pool", "rewards", "eval.prompts", "sampling.window.candidates"), fc.oneof(fc.nat(), fc.constant(169220803)), fc.string({ maxLength: 5 })).map(([p, i, v]) => `${p}.${i}=${v}`));
  fc.assert(
    fc.property(fc.array(setString, { maxLength: 3 }), fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(BASE)), (sets, document) => {
      try {
        validateConfig(TrainConfigSchema, applyOverrides(structuredClone(document), sets), "fuzz.yaml");
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        assert.ok(err.message.length > 0 && !/^\s+at /m.test(err.message));
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    }),
    runs(400),
  );
});

test("fuzz (a): CLI — bad configs, --set values and environment end with one named line and exit ≠ 0", () => {
  const empty = join(dir, "empty.yaml");
  writeFileSync(empty, "");
  const list = join(dir, "list.yaml");
  writeFileSync(list, "- 1\n- 2\n");
  const base = join(dir, "base.yaml");
  writeFileSync(base, toYaml(BASE));
  const cases: [string[], RegExp, Record<string, string>?][] = [
    [["train", "--config", empty], /empty\.yaml: empty config file/],
    [["train", "--config", list], /list\.yaml: the config is a list, expected a mapping/],
    [["train", "--config", base, "--set", "train.minibatch=3"], /train\.minibatch: must divide the 8 trajectories .*with 3, 2 of them would never be trained/],
    [["train", "--config", base, "--set", "dynamics=cps", "--set", "sampling.eta=2"], /sampling\.eta: CPS needs 0 < η ≤ 1/],
    [["train", "--config", base, "--set", "sampling.window={mode: sliding, size: 5}"], /sampling\.window\.size: window size 5 exceeds the 3 trainable steps/],
    [["train", "--config", base, "--set", "rewards=[{name: toy-mode, options: {width: wide}}]"], /rewards\.0\.options\.width: /],
    [["train", "--config", base, "--set", "eval.prompts=[]"], /eval\.prompts: needs at least one prompt/],
    [["train", "--config", base, "--set", "__proto__.polluted=1"], /--set __proto__\.polluted=1: .*not a config field/],
    [["train", "--config", base, "--set", "rewards.0.name=aesthetik"], /unknown reward "aesthetik" \(did you mean "aesthetic"\?\)/],
    [["train", "--config", base, "--set", "output.dir=/etc/passwd/runs"], /output\.dir: run directory \/etc\/passwd\/runs\/fz: cannot write \((ENOTDIR|EEXIST)/],
    [["train", "--config", base, "--set", "eval.prompts=[x]"], /eval\.prompts\.0: prompt "x": unknown word "x"/],
    [["sample", "-o", "/etc/passwd/x.png"], /--out \/etc\/passwd\/x\.png: cannot create its directory/],
    [["sample", "-n", "1"], /GRPO_GUARD_THREADS must be a non-negative integer.*"abc"/, { GRPO_GUARD_THREADS: "abc" }],
  ];
  for (const [args, message, env] of cases) assertOneLineError(cli(args, env), message);
});

// ---------------------------------------------------------------- (b) reward-server bodies

const PIXELS = 784;
const floatsBase64 = (values: readonly number[]) => Buffer.from(Float32Array.from(values).buffer).toString("base64");
const digitPrompt = (p: unknown) => typeof p === "string" && p.trim().split(/\s+/).some((w) => /^[0-9]$/.test(w));

const requestBody = fc.oneof(
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => ({ text: JSON.stringify(v) ?? "", valid: false })) },
  { weight: 1, arbitrary: fc.constantFrom("null", "[]", "0", '"x"', "{}", "", "true").map((text) => ({ text, valid: false })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => ({ text: Buffer.from(b).toString("latin1"), valid: false })) },
  {
    weight: 6,
    arbitrary: fc
      .record({
        shape: fc.oneof(fc.constant([1, 28, 28]), fc.constant([28, 28]), fc.constant([2]), fc.array(fc.oneof(fc.integer({ min: -2, max: 30 }), fc.double(), fc.string()), { maxLength: 4 }), fc.constant(null)),
        prompts: fc.oneof(fc.array(fc.constantFrom("0", "3", "9", "3 bold", "cat", "10", "", " 7 "), { maxLength: 4 }), fc.array(fc.jsonValue({ maxDepth: 0 }), { maxLength: 3 }), fc.string()),
        pixels: fc.oneof(fc.constant("fit"), fc.constant("wrong-size"), fc.constant("not-base64"), fc.constant(42)),
        special: fc.option(fc.constantFrom(NaN, Infinity, -Infinity), { nil: undefined }),
        drop: fc.option(fc.constantFrom("sampleShape", "prompts", "images"), { nil: undefined }),
      })
      .chain((r) =>
        fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: PIXELS * 4, maxLength: PIXELS * 4 }).map((noise) => {
          const count = Array.isArray(r.prompts) ? r.prompts.length : 0;
          const per = Array.isArray(r.shape) && r.shape.every((d) => Number.isInteger(d) && (d as number) > 0) ? (r.shape as number[]).reduce((a, b) => a * b, 1) : PIXELS;
          // Shapes far from a digit need no real pixels: a short list is already the wrong size.
          const values = Array.from({ length: Math.min(count * per, 4 * PIXELS) }, (_, i) => noise[i % noise.length]);
          if (r.special !== undefined && values.length > 0) values[values.length >> 1] = r.special;
          const images = r.pixels === "fit" ? floatsBase64(values) : r.pixels === "wrong-size" ? floatsBase64(values.concat([0])) : r.pixels === "not-base64" ? "%%%" : r.pixels;
          const body: Record<string, unknown> = { sampleShape: r.shape, prompts: r.prompts, images };
          if (r.drop) delete body[r.drop];
          const valid =
            r.drop === undefined && JSON.stringify(r.shape) === "[1,28,28]" && Array.isArray(r.prompts) && count > 0 && r.prompts.every(digitPrompt) && r.pixels === "fit" && r.special === undefined;
          return { text: JSON.stringify(body), valid };
        }),
      ),
  },
);

function post(port: number, path: string, body: string | Buffer, chunks?: Buffer[]): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "POST", headers: chunks ? { "transfer-encoding": "chunked" } : { "content-type": "application/json" } }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (chunks) {
      for (const chunk of chunks) req.write(chunk);
      req.end();
    } else req.end(body);
  });
}

test("fuzz (b): reward-server bodies — valid requests score, client mistakes get 4xx with one line, never 500", async () => {
  const reward = digitOcrReward();
  const server = createRewardServer(reward, { maxBytes: 64 * 1024 });
  const port = await listen(server, 0);
  try {
    await fc.assert(
      fc.asyncProperty(requestBody, async ({ text, valid }) => {
        const { status, text: answer } = await post(port, "/score", text);
        const parsed = JSON.parse(answer) as { scores?: unknown[]; error?: string };
        if (valid) {
          assert.equal(status, 200, answer);
          const prompts = (JSON.parse(text) as { prompts: string[] }).prompts;
          assert.equal(parsed.scores!.length, prompts.length);
          assert.ok(parsed.scores!.every((x) => typeof x === "number" && x >= 0 && x <= 1));
        } else {
          assert.ok(status === 400 || status === 413, `status ${status}: ${answer}`);
          assert.equal(typeof parsed.error, "string");
          assert.doesNotMatch(parsed.error!, /\n|internal error/);
        }
      }),
      runs(150),
    );
    // A chunked body past the limit is answered 413 (not a connection reset), the next request still works.
    for (const n of [2, 9]) {
      const chunks = Array.from({ length: n }, () => Buffer.alloc(16 * 1024, 0x41));
      const { status, text } = await post(port, "/score", "", chunks);
      assert.equal(n * 16 * 1024 > 64 * 1024 ? 413 : 400, status, text);
    }
    // Our client does not retry a 4xx: the client's mistake is reported once, with the server's line.
    let calls = 0;
    const counting = createRewardServer({
      name: "count",
      score: async () => new Float32Array(1),
      checkPrompt: (p) => {
        if (p !== "ok") throw new UserError(`prompt "${p}" is not ok`);
      },
    });
    counting.on("request", () => calls++);
    const countingPort = await listen(counting, 0);
    const client = httpReward({ url: `http://127.0.0.1:${countingPort}`, retries: 3, backoffMs: 1 });
    await assert.rejects(client.score({ images: new Float32Array(2), sampleShape: [2], prompts: ["no"] }), /HTTP 400: .*prompts\[0\]: prompt \\"no\\" is not ok/);
    assert.equal(calls, 1, "one request, no retry");
    counting.close();
  } finally {
    server.close();
    reward.dispose?.();
  }
});

// ---------------------------------------------------------------- (c) safetensors and checkpoint bytes

const tensorMap = fc
  .array(fc.tuple(fc.string({ minLength: 1, maxLength: 8 }).filter((n) => n !== "__metadata__"), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 })), { maxLength: 4 })
  .map((entries) => {
    const map = new Map<string, TensorRecord>();
    for (const [name, shape] of entries) {
      const count = shape.reduce((a, b) => a * b, 1);
      map.set(name, { shape, data: Float32Array.from({ length: count }, (_, i) => Math.sin(i + name.length)) });
    }
    return map;
  });

const byteMutation = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("header" as const), header: fc.jsonValue({ maxDepth: 3 }) }),
  fc.record({ kind: fc.constant("length" as const), value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
  fc.record({ kind: fc.constant("append" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
);

function mutate(bytes: Buffer, m: { kind: string; [k: string]: unknown }): Buffer {
  const out = Buffer.from(bytes);
  switch (m.kind) {
    case "flip":
      for (const at of m.at as number[]) out[at % out.length] ^= m.xor as number;
      return out;
    case "truncate":
      return out.subarray(0, (m.at as number) % out.length);
    case "header": {
      const json = Buffer.from(JSON.stringify(m.header) ?? "null");
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(json.length));
      const headerLength = Number(bytes.readBigUInt64LE(0));
      return Buffer.concat([length, json, bytes.subarray(8 + headerLength)]);
    }
    case "length":
      out.writeBigUInt64LE(m.value as bigint, 0);
      return out;
    default:
      return Buffer.concat([out, Buffer.from(m.bytes as Uint8Array)]);
  }
}

test("fuzz (c): safetensors bytes — round trip, and any corruption is a named error or a consistent file", () => {
  fc.assert(
    fc.property(tensorMap, fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 8 }), { maxKeys: 2 }), byteMutation, (tensors, metadata, m) => {
      const bytes = encodeSafetensors(tensors, metadata);
      const back = decodeSafetensors(bytes, "t.safetensors");
      assert.deepEqual([...back.tensors.keys()].sort(), [...tensors.keys()].sort());
      for (const [name, t] of tensors) assert.deepEqual(back.tensors.get(name), t);
      assert.deepEqual({ ...back.metadata }, { ...metadata });
      let file;
      try {
        file = decodeSafetensors(mutate(bytes, m), "t.safetensors");
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        assert.match(err.message, /^t\.safetensors: /);
        return;
      }
      for (const [, t] of file.tensors) assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1));
      for (const v of Object.values(file.metadata)) assert.equal(typeof v, "string");
    }),
    runs(500),
  );
});

test("fuzz (c): checkpoint bytes — a corrupt newest checkpoint is never used: the previous one is, with a warning", async () => {
  const ckptDir = join(dir, "ckpt-src");
  const state = () => ({ w: np.array([1, 2, 3, 4], { shape: [2, 2] }), b: np.array([0.5]) });
  for (const step of [1, 2]) {
    const s = state();
    await writeCheckpoint(ckptDir, step, s, { step, note: "x".repeat(step) }, 5);
    s.w.dispose();
    s.b.dispose();
  }
  const [first, second] = readdirSync(ckptDir).filter((f) => f.endsWith(".safetensors")).sort();
  const original = readLatestCheckpoint<{ step: number; note: string }>(ckptDir, () => {})!;
  let k = 0;
  fc.assert(
    fc.property(byteMutation, (m) => {
      const target = join(dir, `ckpt-${k++}`);
      mkdirSync(target);
      copyFileSync(join(ckptDir, first), join(target, first));
      writeFileSync(join(target, second), mutate(readFileSync(join(ckptDir, second)), m));
      const warnings: string[] = [];
      const found = readLatestCheckpoint<{ step: number; note: string }>(target, (w) => warnings.push(w));
      assert.ok(found, "the intact previous checkpoint is always found");
      if (found.meta.step === 2) {
        assert.deepEqual(found.meta, original.meta, "used only when its content is intact");
        assert.deepEqual([...found.tensors], [...original.tensors]);
      } else {
        assert.equal(found.meta.step, 1);
        assert.equal(warnings.length, 1);
        assert.match(warnings[0], new RegExp(`skipping checkpoint .*${second}: .*${second}: `));
        assert.doesNotMatch(warnings[0], /\n/);
      }
    }),
    runs(300),
  );
});

test("fuzz (c): weight files with a corrupt model config → named error, never a crash; CLI sample says so in one line", async () => {
  const model = createModel(presetConfig("dit-tiny"));
  const params = model.init(random.key(1));
  const weights = join(dir, "tiny.safetensors");
  await saveParams(weights, params, { format: "grpo-guard/model", config: model.config });
  const file = decodeSafetensors(readFileSync(weights), weights);
  const config = JSON.parse(file.metadata.config) as Record<string, unknown>;
  let k = 0;
  fc.assert(
    fc.property(fc.constantFrom(...Object.keys(config), "kind", "extra"), fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.integer({ min: -2, max: 70 })), (field, value) => {
      const path = join(dir, `w-${k++}.safetensors`);
      writeFileSync(path, encodeSafetensors(file.tensors, { ...file.metadata, config: JSON.stringify({ ...config, [field]: value }) }));
      try {
        disposeTree(loadVelocityModel(path).params);
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        assert.ok(err.message.startsWith(path), err.message);
      }
    }),
    runs(60),
  );
  const bad = join(dir, "bad-config.safetensors");
  writeFileSync(bad, encodeSafetensors(file.tensors, { ...file.metadata, config: JSON.stringify({ ...config, width: 33 }) }));
  assertOneLineError(cli(["sample", "-m", bad, "-n", "1", "-o", join(dir, "s.png")]), /bad-config\.safetensors: metadata "config" does not describe a valid model \(width: width must be divisible by heads\)/);
  const flipped = Buffer.from(readFileSync(weights));
  flipped[9] ^= 0x20;
  writeFileSync(join(dir, "flipped.safetensors"), flipped);
  assertOneLineError(cli(["sample", "-m", join(dir, "flipped.safetensors"), "-n", "1", "-o", join(dir, "s.png")]), /flipped\.safetensors: corrupt safetensors header/);
});

// ---------------------------------------------------------------- (d) metrics.jsonl lines

test("fuzz (d): metrics.jsonl — every valid record read once and in order, every other line reported with its number", async () => {
  // Real records from a tiny run as templates, plus fault, alarm and gold-panel eval records.
  const config = TrainConfigSchema.parse({
    name: "templates", model: { preset: "mlp-2d" }, prompts: { pool: ["0", "1"], perEpoch: 2 }, groupSize: 4, rewards: [{ name: "toy-mode" }],
    sampling: { steps: 3 }, train: { epochs: 1, minibatch: 4 }, eval: { every: 1, steps: 3, perPrompt: 2 }, diagnostics: { gradNormEvery: 1 }, output: { dir },
  });
  const mlp = createModel(presetConfig("mlp-2d"));
  const { paths } = await runTrainingJob(config, mlp, mlp.init(random.key(0)), [{ reward: toyModeReward(), weight: 1 }]);
  const real = readFileSync(paths.metrics, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  const evalRecord = real.find((r) => r.type === "eval")!;
  const gold = { judgeAccuracy: 0.9, frechet: [1, null], frechetMean: 2, frechetFloor: 1, frechetReal: 3, diversity: 4, diversityReal: 5, drift: 0.1, gold: 0.8, components: [{ key: "judge", label: "judge", value: 0.9, better: "higher", ci: [0.8, 0.95] }] };
  const templates = [...real, { ...evalRecord, gold }, { type: "fault", kind: "nonfinite-step", epoch: 3, detail: "loss NaN" }, { type: "alarm", epoch: 4, action: "log", detail: "proxy up, gold down" }];

  const validRecord = fc.tuple(fc.nat({ max: templates.length - 1 }), fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(null)), fc.nat({ max: 1000 })).map(([t, stat, epoch]) => {
    const record = structuredClone(templates[t]);
    record.epoch = epoch;
    if (record.type === "epoch") record.loss = stat;
    if (record.type === "eval") record.proxy = stat;
    return record;
  });
  const invalidRecord = fc.tuple(fc.nat({ max: templates.length - 1 }), fc.constantFrom("drop-epoch", "negative-epoch", "string-epoch", "unknown-type", "array")).map(([t, how]) => {
    const record = structuredClone(templates[t]) as Record<string, unknown>;
    if (how === "drop-epoch") delete record.epoch;
    if (how === "negative-epoch") record.epoch = -1;
    if (how === "string-epoch") record.epoch = "3";
    if (how === "unknown-type") record.type = "epochs";
    return how === "array" ? [record] : record;
  });
  const line = fc.oneof(
    { weight: 5, arbitrary: validRecord.map((r) => ({ kind: "valid" as const, text: JSON.stringify(r), record: r })) },
    { weight: 2, arbitrary: invalidRecord.map((r) => ({ kind: "invalid" as const, text: JSON.stringify(r) })) },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes("\n") && s.trim() !== "" && !isJsonRecord(s)).map((text) => ({ kind: "invalid" as const, text })) },
    { weight: 1, arbitrary: fc.constantFrom("", "   ", "\r").map((text) => ({ kind: "blank" as const, text })) },
  );
  let k = 0;
  const reportDirs: string[] = [];
  fc.assert(
    fc.property(fc.array(line, { maxLength: 25 }), fc.option(fc.nat(), { nil: undefined }), (lines, cut) => {
      const runDir = join(dir, `metrics-${k++}`);
      mkdirSync(runDir);
      let text = lines.map((l) => l.text + "\n").join("");
      const expected = lines.map((l, i) => ({ ...l, line: i + 1 }));
      const lastValid = expected.filter((l) => l.kind === "valid").at(-1);
      let truncatedLine: number | undefined;
      if (cut !== undefined && lastValid && lastValid.line === lines.length) {
        // A run killed mid-write: the last record cut short, no newline.
        const keep = 1 + (cut % (lastValid.text.length - 1));
        text = text.slice(0, text.length - 1 - lastValid.text.length) + lastValid.text.slice(0, keep);
        Object.assign(lastValid, { kind: isJsonRecord(lastValid.text.slice(0, keep)) ? "valid" : "invalid" });
        truncatedLine = lastValid.line;
      }
      writeFileSync(join(runDir, "metrics.jsonl"), text);
      const { records, skipped } = readValidatedMetrics(join(runDir, "metrics.jsonl"));
      const valid = expected.filter((l) => l.kind === "valid");
      assert.equal(records.length, valid.length, "no valid record lost or duplicated");
      records.forEach((r, i) => assert.deepEqual(r, JSON.parse(valid[i].text)));
      const invalidLines = expected.filter((l) => l.kind === "invalid" && l.text.trim() !== "").map((l) => l.line);
      assert.deepEqual(skipped.map((s) => s.line), invalidLines, "every other non-blank line reported once, by its number");
      if (truncatedLine !== undefined && invalidLines.includes(truncatedLine)) assert.equal(skipped.at(-1)!.kind, "truncated");
      for (const s of metricsScalars(records)) assert.ok(Number.isFinite(s.value) && Number.isFinite(s.step));
      const run = loadRun(runDir);
      assert.equal(run.records.length, records.length);
      if (reportDirs.length < 8 && records.length > 0) reportDirs.push(runDir);
    }),
    runs(200),
  );
  // The report reads them all (several runs at once) without failing.
  const out = join(dir, "report");
  const { files } = writeReport(reportDirs, out);
  assert.ok(files.some((f) => f.endsWith("summary.md")));
  const r = cli(["report", reportDirs[0], "--out", join(dir, "report-cli")]);
  assert.equal(r.code, 0, r.stderr);
});

function isJsonRecord(text: string): boolean {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as { type?: unknown }).type === "string";
  } catch {
    return false;
  }
}
