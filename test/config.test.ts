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
  ["empty file", "", [], /empty config file/],
  ["comment-only file", "# nothing here\n", [], /empty config file/],
  ["minibatch that drops trajectories", "prompts:\n  perEpoch: 2\ngroupSize: 4\ntrain:\n  minibatch: 6\n", [], /train\.minibatch: must divide the 8 trajectories .*with 6, 2 of them would never be trained \(got 6\)/],
  ["minibatch larger than an epoch", "prompts:\n  perEpoch: 2\ngroupSize: 4\n", [], /train\.minibatch: 32 is larger than the 8 trajectories of an epoch .*use a divisor of 8 \(got the default\)/],
  ["CPS with η = 2", "dynamics: cps\nsampling:\n  eta: 2\n", [], /sampling\.eta: CPS needs 0 < η ≤ 1 .*\(got 2\)/],
  ["random window larger than the steps", "sampling:\n  steps: 4\n  window: { mode: random, candidates: [2, 6] }\n", [], /sampling\.window\.candidates\.1: window size 6 exceeds the 4 trainable steps of flow-sde/],
  ["CPS window at the last (untrainable) step", "dynamics: cps\nsampling:\n  eta: 0.5\n  steps: 4\n  window: { mode: fixed, start: 2, size: 2 }\n", [], /sampling\.window: fixed window \[2, 4\) includes step 3, outside the trainable steps 0…2 of cps/],
  ["sliding window larger than the steps", null, ["sampling.window={mode: sliding, size: 11}"], /sampling\.window\.size: window size 11 exceeds the 10 trainable steps/],
  ["empty eval.prompts", null, ["eval.prompts=[]"], /eval\.prompts: needs at least one prompt/],
  ["wrongly typed reward option", null, ["rewards=[{name: toy-mode, options: {width: '2'}}]"], /rewards\.0\.options\.width: .*expected number/],
  ["unknown reward option", null, ["rewards=[{name: digit-ocr, options: {weigths: x}}]"], /rewards\.0\.options: unknown option "weigths" for reward "digit-ocr"/],
  ["--set into a list past its end", "prompts:\n  pool: ['1', '2']\n", ["prompts.pool.5=3"], /--set prompts\.pool\.5=3: "prompts\.pool" is a list of 2; "5" is not an index 0…2/],
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
