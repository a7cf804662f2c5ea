import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../bin/grpo-guard.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "grpo-guard-cli-"));

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, GRPO_GUARD_THREADS: "1" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("--help works for the program and every command", () => {
  const top = run("--help");
  assert.equal(top.code, 0);
  const commands = [...top.stdout.matchAll(/^  ([a-z-]+) \[options\]/gm)].map((m) => m[1]);
  assert.ok(commands.includes("pretrain") && commands.includes("sample") && commands.includes("train-classifier"), top.stdout);
  for (const command of commands) {
    const help = run(command, "--help");
    assert.equal(help.code, 0, command);
    assert.match(help.stdout, new RegExp(`Usage: grpo-guard ${command}`));
  }
});

const badInputs: [string, string[], RegExp][] = [
  ["unknown command", ["frobnicate"], /unknown command 'frobnicate'/],
  ["non-numeric flag", ["sample", "--per-prompt", "ten"], /--per-prompt expects a positive integer, got "ten"/],
  ["missing weight file", ["sample", "-m", join(dir, "missing.safetensors")], /missing\.safetensors: cannot read weight file \(no such file\)/],
  ["corrupt weight file", ["sample", "-m", join(dir, "corrupt.safetensors")], /corrupt\.safetensors: corrupt safetensors header/],
  ["unknown preset", ["pretrain", "--set", "model=dit-xl"], /unknown model preset "dit-xl"/],
  ["unknown config key", ["pretrain", "--set", "train.stepz=3"], /train\.stepz: unknown key \(did you mean "steps"\?\)/],
  ["wrong config type", ["pretrain", "--set", "train.lr=fast"], /train\.lr: .*\(got "fast"\)/],
  ["missing config file", ["pretrain", "--config", join(dir, "nope.yaml")], /nope\.yaml: cannot read config file \(no such file\)/],
  ["unknown prompt word", ["sample", "--prompts", "3,x"], /unknown word "x"/],
];

for (const [name, args, message] of badInputs) {
  test(`bad input: ${name} → named error, exit ≠ 0, no stack trace`, () => {
    writeFileSync(join(dir, "corrupt.safetensors"), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 1, 2, 3]));
    const r = run(...args);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  });
}
