/**
 * `grpo-guard rate` on the command line: bad input is one named line, a reopened study must
 * match the command, and an address other than loopback needs --host and prints a warning.
 * Fixture runs are freshly initialised dit-tiny weights (no training).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initEngine } from "../src/engine/jax.js";
import { fixtureRun, rate, startCli, stopCli } from "./rating-fixtures.js";

const root = mkdtempSync(join(tmpdir(), "grpo-guard-rating-cli-"));
after(() => rmSync(root, { recursive: true, force: true }));

let runA = "";
let runB = "";
before(async () => {
  await initEngine();
  runA = await fixtureRun(root, "tiny-a", 1, "grpo-guard");
  runB = await fixtureRun(root, "tiny-b", 2, "flow-grpo");
});

describe("rate command", () => {
  test("bad input is one named line with exit ≠ 0", () => {
    const one = rate(runA, "--study", join(root, "one"));
    assert.notEqual(one.status, 0);
    assert.match(one.stderr, /no study here yet; give two or more runs to compare/);
    mkdirSync(join(root, "runs", "unfinished"), { recursive: true });
    const unfinished = rate(runA, join(root, "runs", "unfinished"));
    assert.notEqual(unfinished.status, 0);
    assert.match(unfinished.stderr, /unfinished: no policy-ema\.safetensors \(a run writes its final EMA policy there when training ends; <run>@<epoch> rates a checkpoint\)/);
    const missing = rate(runA, join(root, "nope"));
    assert.match(missing.stderr, /nope: not found \(expected a run directory, <run>@<epoch>, a checkpoint or a \.safetensors weight file\)/);
    const noStudy = rate("--study", join(root, "absent"), "--report");
    assert.notEqual(noStudy.status, 0);
    assert.match(noStudy.stderr, /absent: no rating study here \(no study\.db\)/);
    const question = rate(runA, runB, "--question", "prettiness");
    assert.notEqual(question.status, 0);
    assert.match(question.stderr, /Allowed choices are likeness, alignment/);
    const prompts = rate(runA, runB, "--study", join(root, "bad-prompt"), "--prompts", "0,x");
    assert.notEqual(prompts.status, 0);
    assert.match(prompts.stderr, /--prompts: prompt "x": unknown word "x"/);
    const level = rate(runA, runB, "--at-proxy", "high");
    assert.notEqual(level.status, 0);
    assert.match(level.stderr, /--at-proxy expects a number, got "high"/);
    const notRuns = rate(runA, runB, "--at-proxy", "0.8", "--study", join(root, "at-proxy"));
    assert.notEqual(notRuns.status, 0);
    assert.match(notRuns.stderr, /tiny-a: --at-proxy needs run directories \(config\.yaml, metrics\.jsonl, checkpoints\/\); this one has no config\.yaml/);
    for (const r of [one, unfinished, missing, noStudy, prompts, level, notRuns]) assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  });

  test("an address other than loopback needs --host and prints a warning", async () => {
    const study = join(root, "host");
    const cli = await startCli([runA, runB, "--study", study, "--pairs", "2", "--steps", "2", "--simulated", "--port", "0", "--host", "127.0.0.2"]);
    try {
      assert.match(cli.url, /^http:\/\/127\.0\.0\.2:\d+\/[0-9a-f]{32}\/$/);
      assert.match(cli.err(), /warning: --host 127\.0\.0\.2: the rating page is reachable from other machines/);
      assert.equal((await fetch(cli.url)).status, 200);
      assert.equal((await fetch(new URL(cli.url).origin + "/")).status, 403);
    } finally {
      assert.equal(await stopCli(cli), 0);
    }
    const local = await startCli(["--study", study, "--port", "0"]);
    try {
      assert.match(local.url, /^http:\/\/127\.0\.0\.1:/, "loopback by default");
      assert.doesNotMatch(local.err(), /warning/);
      assert.match(local.out(), /continuing study .*host: 2 pairs, 0 votes from 0 raters so far/);
    } finally {
      await stopCli(local);
    }
    const changed = rate("--study", study, "--pairs", "3");
    assert.match(changed.stderr, /--pairs: the study in .*host was made with 2, not 3/);
    const other = rate(runB, runA, "--study", study, "--report");
    assert.match(other.stderr, /host: this study compares .*tiny-a.*tiny-b.*; pass the same runs, or a new --study directory/);
  });

});
