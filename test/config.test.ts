import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/config/load.js";
import { TrainConfigSchema } from "../src/config/train.js";
import { PretrainConfigSchema } from "../src/pretrain/config.js";
import { ClassifierTrainConfigSchema } from "../src/pretrain/classifier.js";
import { UserError } from "../src/engine/errors.js";

const dir = mkdtempSync(join(tmpdir(), "grpo-guard-config-"));
const configs = fileURLToPath(new URL("../../configs/", import.meta.url));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const cases: [string, string | null, string[], RegExp][] = [
  ["wrong type", "train:\n  lr: fast\n", [], /train\.lr: .*expected number.*\(got "fast"\)/],
  ["unknown key with suggestion", "trian:\n  lr: 1e-4\n", [], /trian: unknown key \(did you mean "train"\?\)/],
  ["nested unknown key", "sampling:\n  etta: 0.7\n", [], /sampling\.etta: unknown key \(did you mean "eta"\?\)/],
  ["negative learning rate", "train:\n  lr: -0.001\n", [], /train\.lr: .*(>0|positive|greater than 0).*\(got -0\.001\)/i],
  ["group size 1", "groupSize: 1\n", [], /groupSize: a group needs at least 2 samples \(got 1\)/],
  ["eta = 0", "sampling:\n  eta: 0\n", [], /sampling\.eta: .*\(got 0\)/],
  ["negative eta via --set", null, ["sampling.eta=-0.5"], /sampling\.eta: .*\(got -0\.5\)/],
  ["unknown algorithm", "algorithm: ppo\n", [], /algorithm: .*flow-grpo.*grpo-guard.*\(got "ppo"\)/],
  ["unknown dynamics", "dynamics: langevin\n", [], /dynamics: .*\(got "langevin"\)/],
  ["bad window", "sampling:\n  window: { mode: fixed, start: 2 }\n", [], /sampling\.window\.size: .*\(got missing\)/],
  ["missing file", "MISSING", [], /nope\.yaml: cannot read config file \(no such file\)/],
  ["not YAML", "train: [unclosed\n", [], /not valid YAML/],
];

for (const [name, text, overrides, message] of cases) {
  test(`train config: ${name} → named error`, () => {
    const path = text === "MISSING" ? join(dir, "nope.yaml") : text === null ? undefined : file(`${name.replace(/\W+/g, "-")}.yaml`, text);
    assert.throws(() => loadConfig(TrainConfigSchema, path, overrides), (err: Error) => {
      assert.ok(err instanceof UserError, `a UserError, got ${err}`);
      assert.match(err.message, message);
      return true;
    });
  });
}

test("--set overrides parse YAML values and reach nested fields", () => {
  const config = loadConfig(TrainConfigSchema, undefined, ["train.lr=3e-4", "sampling.window={mode: sliding, size: 3}", "prompts.pool=[a, b]"]);
  assert.equal(config.train.lr, 3e-4);
  assert.deepEqual(config.sampling.window, { mode: "sliding", size: 3, stride: 1, every: 1 });
  assert.deepEqual(config.prompts.pool, ["a", "b"]);
  assert.equal(config.train.clipLow, 1e-4, "defaults fill the rest");
});

test("every shipped config file validates", () => {
  const schemaFor = (folder: string) => (folder === "pretrain" ? PretrainConfigSchema : folder === "classifier" ? ClassifierTrainConfigSchema : TrainConfigSchema);
  let count = 0;
  for (const folder of readdirSync(configs)) {
    for (const name of readdirSync(join(configs, folder))) {
      loadConfig(schemaFor(folder), join(configs, folder, name));
      count++;
    }
  }
  assert.ok(count >= 7, `${count} config files`);
});
