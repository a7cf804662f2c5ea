/**
 * `grpo-guard export`: the CSV and the TensorBoard event file of a real (tiny) run hold the
 * same scalars as metrics.jsonl; the event file's TFRecord framing and both CRCs read back.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initEngine, random } from "../src/engine/jax.js";
import { TrainConfigSchema } from "../src/config/train.js";
import { createModel, presetConfig } from "../src/models/registry.js";
import { toyModeReward } from "../src/rewards/toy.js";
import { runTrainingJob } from "../src/rl/run.js";
import { readValidatedMetrics } from "../src/diagnostics/metrics-schema.js";
import { crc32c, maskedCrc32c, metricsScalars, readTfRecords, tfRecord } from "../src/diagnostics/export.js";

await initEngine();
const bin = fileURLToPath(new URL("../../bin/grpo-guard.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "grpo-guard-export-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, GRPO_GUARD_THREADS: "1" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Minimal protobuf reader: field number → list of raw values (varint as bigint, bytes, or fixed as Buffer). */
function fields(bytes: Uint8Array): Map<number, (bigint | Buffer)[]> {
  const buf = Buffer.from(bytes);
  const out = new Map<number, (bigint | Buffer)[]>();
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const [field, wire] = [key >> 3, key & 7];
    let value: bigint | Buffer;
    if (wire === 0) value = varint();
    else if (wire === 1) value = buf.subarray(i, (i += 8));
    else if (wire === 5) value = buf.subarray(i, (i += 4));
    else if (wire === 2) {
      const n = Number(varint());
      value = buf.subarray(i, (i += n));
    } else throw new Error(`wire type ${wire}`);
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

test("CRC32C: the standard check value, and TFRecord's masking", () => {
  assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
  const framed = tfRecord(Buffer.from("abc"));
  assert.equal(framed.length, 16 + 3);
  assert.equal(framed.readUInt32LE(8), maskedCrc32c(framed.subarray(0, 8)));
});

test("export: CSV and TensorBoard event file of a run hold every scalar of metrics.jsonl", async () => {
  const config = TrainConfigSchema.parse({
    name: "tiny",
    model: { preset: "mlp-2d" },
    prompts: { pool: ["0", "1"], perEpoch: 2 },
    groupSize: 4,
    rewards: [{ name: "toy-mode" }],
    sampling: { steps: 3 },
    train: { epochs: 3, minibatch: 4 },
    eval: { every: 1, steps: 3, perPrompt: 2 },
    output: { dir },
  });
  const model = createModel(presetConfig("mlp-2d"));
  const { paths } = await runTrainingJob(config, model, model.init(random.key(0)), [{ reward: toyModeReward(), weight: 1 }]);
  const expected = metricsScalars(readValidatedMetrics(paths.metrics).records);
  assert.ok(expected.some((s) => s.tag === "eval/proxy") && expected.some((s) => s.tag === "step00/clip_positive"));

  const csv = cli("export", paths.dir);
  assert.equal(csv.code, 0, csv.stderr);
  const rows = readFileSync(join(paths.dir, "metrics.csv"), "utf8").trim().split("\n");
  assert.equal(rows[0], "step,tag,value,seconds");
  assert.deepEqual(rows.slice(1).map((r) => r.split(",").slice(0, 3).join(",")), expected.map((s) => `${s.step},${s.tag},${s.value}`));

  const tb = cli("export", paths.dir, "--format", "tensorboard");
  assert.equal(tb.code, 0, tb.stderr);
  const [file] = readdirSync(join(paths.dir, "tensorboard"));
  assert.match(file, /^events\.out\.tfevents\.\d+\.grpo-guard$/);
  const events = readTfRecords(readFileSync(join(paths.dir, "tensorboard", file)), file).map(fields);
  assert.equal(String(events[0].get(3)![0]), "brain.Event:2");
  const read: { tag: string; step: number; value: number }[] = [];
  for (const event of events.slice(1)) {
    const step = Number(event.get(2)![0]);
    for (const value of fields(event.get(5)![0] as Buffer).get(1) ?? []) {
      const v = fields(value as Buffer);
      read.push({ tag: String(v.get(1)![0]), step, value: (v.get(2)![0] as Buffer).readFloatLE() });
    }
  }
  assert.equal(read.length, expected.length);
  const key = (s: { tag: string; step: number }) => `${s.step} ${s.tag}`;
  const byKey = new Map(read.map((s) => [key(s), s.value]));
  for (const s of expected) assert.equal(byKey.get(key(s)), Math.fround(s.value), key(s));

  const corrupt = readFileSync(join(paths.dir, "tensorboard", file));
  corrupt[20] ^= 1;
  assert.throws(() => readTfRecords(corrupt, "corrupt"), /CRC mismatch/);
});

test("export: a directory without metrics → one-line error, exit ≠ 0", () => {
  const r = cli("export", join(dir, "nothing-here"));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /nothing-here: no metrics\.jsonl/);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
});
