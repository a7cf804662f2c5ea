import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../bin/grpo-guard.js", import.meta.url));

test("compare: four methods × seeds with one budget, a results table, finished runs reused", () => {
  const dir = mkdtempSync(join(tmpdir(), "grpo-guard-compare-"));
  const tiny = ["--set", "model.weights=", "--set", "model.preset=dit-tiny", "--set", "prompts.perEpoch=2", "--set", "groupSize=4", "--set", "sampling.steps=3", "--set", "train.minibatch=4", "--set", "eval.perPrompt=2", "--set", "eval.steps=3"];
  const args = [bin, "compare", "--seeds", "0", "--epochs", "2", ...tiny, "--runs", join(dir, "runs"), "--results", join(dir, "docs", "results.md")];
  const env = { ...process.env, GRPO_GUARD_THREADS: "1" };
  const first = spawnSync(process.execPath, args, { encoding: "utf8", env });
  assert.equal(first.status, 0, first.stderr);
  assert.deepEqual(readdirSync(join(dir, "runs")).sort(), ["digits-dance-grpo-s0", "digits-dance-guard-s0", "digits-flow-grpo-s0", "digits-grpo-guard-s0"]);
  const page = readFileSync(join(dir, "docs", "results.md"), "utf8");
  for (const row of ["flow-grpo (flow-grpo / flow-sde)", "grpo-guard (grpo-guard / flow-sde)", "dance-grpo (flow-grpo / dance-sde)", "dance-guard (grpo-guard / dance-sde)"]) {
    assert.match(page, new RegExp(`\\| ${row.replace(/[()/]/g, (c) => `\\${c}`)} \\| 1 \\|`));
  }
  assert.ok(readdirSync(join(dir, "docs", "results")).includes("proxy-gold.svg"));
  const again = spawnSync(process.execPath, args, { encoding: "utf8", env });
  assert.equal(again.status, 0, again.stderr);
  assert.equal((again.stdout.match(/finished earlier/g) ?? []).length, 4);
});
