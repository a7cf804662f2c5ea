/**
 * shutdownEngine(): a library script that calls it as its last step exits by itself (the
 * engine's worker threads otherwise keep Node's process alive), after the kernels it
 * dispatched have run; the engine refuses to start again. Also: the worker shim runs under a
 * parent started with --input-type=module (its CommonJS prelude must not inherit that flag).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

const SCRIPT = `
import { initEngine, shutdownEngine, numpy as np } from "grpo-guard";
await initEngine();
const x = np.ones([256, 128]).mul(0.5);
const y = np.matmul(x.ref, np.ones([128, 64]));
const pending = np.sum(y.ref);
const first = (await y.data())[0];
await shutdownEngine();                      // 'pending' was dispatched, never awaited
const late = await initEngine().then(() => "started", (e) => e.message);
console.log(JSON.stringify({ first, late, threads: process.env.GRPO_GUARD_THREADS }));
`;

/** Node with these arguments in the package root, two engine threads, at most 60 s. */
const runNode = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, args, { cwd: root, encoding: "utf8", timeout: 60_000, env: { ...process.env, GRPO_GUARD_THREADS: "2", ...env } });

test("the engine's threads start under a parent with per-process Node flags (--expose-gc), with or without --input-type", () => {
  // A module file inside the package, so that "grpo-guard" resolves to it without --input-type.
  const file = join(root, "dist", "test", `flags-check-${process.pid}.mjs`);
  writeFileSync(file, SCRIPT);
  try {
    for (const args of [["--expose-gc", file], ["--expose-gc", "--input-type=module", "-e", SCRIPT]]) {
      const run = runNode(args);
      const flags = args.filter((a) => a.startsWith("--")).join(" ");
      assert.equal(run.status, 0, `${flags}: ${run.stderr}`);
      assert.equal(JSON.parse(run.stdout.trim().split("\n").at(-1)!).first, 64, flags);
    }
  } finally {
    rmSync(file, { force: true });
  }
});

for (const dispatch of ["atomics", "message"]) {
  test(`a script that ends with shutdownEngine() exits by itself (${dispatch} dispatch)`, () => {
    const run = runNode(["--input-type=module", "-e", SCRIPT], { JAX_JS_WASM_DISPATCH: dispatch });
    assert.notEqual(run.signal, "SIGTERM", `still running after 60 s: ${run.stderr}`);
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout.trim().split("\n").at(-1)!);
    assert.equal(out.first, 64, "a row of halves times a column of ones, 128 long");
    assert.match(out.late, /engine was shut down \(shutdownEngine\(\)\)/);
  });
}
