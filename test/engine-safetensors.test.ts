import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine, numpy as np, random } from "../src/engine/jax.js";
import { UserError } from "../src/engine/errors.js";
import { decodeSafetensors, encodeSafetensors, readSafetensorsFile, saveParams, treeFromTensors } from "../src/engine/safetensors.js";
import { flattenNamed, disposeTree } from "../src/engine/tree.js";
import { loadVelocityModel } from "../src/models/io.js";
import { createModel, presetConfig } from "../src/models/registry.js";

await initEngine();
const dir = mkdtempSync(join(tmpdir(), "grpo-guard-st-"));

test("safetensors round-trip keeps every tensor bit-exactly and the JSON metadata", async () => {
  const config = presetConfig("dit-tiny");
  const model = createModel(config);
  const params = model.init(random.key(7));
  const path = join(dir, "tiny.safetensors");
  await saveParams(path, params, { format: "grpo-guard/model", config, note: "hello" });
  const loaded = loadVelocityModel(path);
  assert.deepEqual(loaded.model.config, config);
  assert.equal(loaded.metadata.note, "hello");
  const a = flattenNamed(params), b = flattenNamed(loaded.params);
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [name, leaf] of a) {
    assert.deepEqual(await leaf.ref.data(), await b.get(name)!.ref.data(), name);
  }
  // Header is the documented format: u64 length + JSON with dtype/shape/offsets.
  const bytes = readFileSync(path);
  const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString());
  assert.equal(header["embed.w"].dtype, "F32");
  assert.deepEqual(header["embed.w"].shape, [16, 32]);
  disposeTree(params);
  disposeTree(loaded.params);
});

test("corrupt, truncated and mismatched files give errors naming file and tensor", () => {
  const good = encodeSafetensors(new Map([["w", { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }]]), {});
  assert.throws(() => decodeSafetensors(good.subarray(0, good.length - 4), "t.st"), (e: Error) => e instanceof UserError && /t\.st.*"w".*truncated/.test(e.message));
  assert.throws(() => decodeSafetensors(Buffer.from("garbage!garbage"), "g.st"), (e: Error) => e instanceof UserError && /g\.st: corrupt/.test(e.message));
  const f16 = Buffer.from(good);
  f16.write('"F16"', f16.indexOf('"F32"'));
  assert.throws(() => decodeSafetensors(f16, "h.st"), /h\.st: tensor "w" has dtype F16, expected F32/);
  const template = { w: np.zeros([3, 2]) };
  const file = decodeSafetensors(good, "s.st");
  assert.throws(() => treeFromTensors(template, file.tensors, "s.st"), /s\.st: tensor "w" has shape \[2,2\], expected \[3,2\]/);
  assert.throws(() => treeFromTensors({ w: np.zeros([2, 2]), b: np.zeros([2]) }, file.tensors, "s.st"), /missing tensor "b"/);
  assert.throws(() => readSafetensorsFile(join(dir, "nope.safetensors")), /nope\.safetensors: cannot read weight file \(no such file\)/);
  writeFileSync(join(dir, "notmodel.safetensors"), encodeSafetensors(new Map(), { format: "grpo-guard/classifier" }));
  assert.throws(() => loadVelocityModel(join(dir, "notmodel.safetensors")), /is a "grpo-guard\/classifier" file, expected "grpo-guard\/model"/);
  disposeTree(template);
});
