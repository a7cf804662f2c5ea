/**
 * Per-run summaries (src/study/summary.ts): written by a real toy sweep as its runs finish,
 * read back and compared with the run's own metrics.jsonl; a synthetic digits run with gold
 * components round-trips; partial runs are marked partial; bad files are one-line UserErrors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../src/engine/errors.js";
import { readValidatedMetrics, type EpochMetrics, type EvalMetrics } from "../src/diagnostics/metrics-schema.js";
import { readSummaries, readSummary, summarizeRunDir, writeSummary, FINAL_POLICY_FILE, SUMMARY_VERSION } from "../src/study/summary.js";
import { cli, writeSweep } from "./sweep-fixtures.js";
import { writeSyntheticRun } from "./synthetic-runs.js";

const dir = mkdtempSync(join(tmpdir(), "grpo-guard-study-summary-"));

test("a sweep writes each finished run's summary (it matches the run's metrics.jsonl and is small), then a b3-* sweep's report section", () => {
  const file = writeSweep(dir, "b3-tiny", 2, {
    set: { "train.epochs": 2, "eval.every": 1 },
    list: [
      { label: "guard", set: { algorithm: "grpo-guard" } },
      { label: "dppo-1e-5", method: "dppo", set: { algorithm: "flow-dppo", "advantages.std": "batch", "train.trustRegion": 1e-5 } },
    ],
    seeds: [0],
  });
  const summaries = join(dir, "summaries");
  const page = join(dir, "docs", "results.md");
  const r = cli(["sweep", file, "--runs", join(dir, "runs"), "--summaries", summaries, "--results", page]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /summary .*b3-tiny-guard-[0-9a-f]{12}-s0\.json/);
  const section = readFileSync(page, "utf8");
  assert.ok(section.startsWith("<!-- b3:tiny:begin -->\n") && section.endsWith("<!-- b3:tiny:end -->\n"), section.slice(0, 80));
  assert.match(section, /Built from \*\*2 finished runs of 2 planned\*\*/);
  assert.match(section, new RegExp(`Regenerate with \`grpo-guard sweep ${file.replace(/[.]/g, "\\.")} --summaries ${summaries}\``));
  assert.ok(statSync(join(dir, "docs", "results", "b3-tiny-frontier.svg")).size > 0);
  const read = readSummaries(summaries);
  assert.deepEqual(read.map((s) => [s.label, s.method, s.sweep, s.status, s.epochsDone, s.epochsPlanned]).sort(), [
    ["dppo-1e-5", "dppo", "b3-tiny", "finished", 2, 2],
    ["guard", "guard", "b3-tiny", "finished", 2, 2],
  ]);
  for (const summary of read) {
    const path = join(summaries, `${summary.run}.json`);
    assert.ok(statSync(path).size < 40_000, `${path} is ${statSync(path).size} bytes`);
    assert.equal(summary.summaryVersion, SUMMARY_VERSION);
    assert.deepEqual(summary.proxy, { name: "toy-mode", rewards: [{ name: "toy-mode", weight: 1 }] });
    assert.ok(summary.overrides.includes("seed=0") && summary.overrides.includes("train.epochs=2"), summary.overrides.join(" "));
    const records = readValidatedMetrics(join(dir, "runs", summary.run, "metrics.jsonl")).records;
    const evals = records.filter((x): x is EvalMetrics => x.type === "eval");
    const epochs = records.filter((x): x is EpochMetrics => x.type === "epoch");
    assert.deepEqual(summary.evaluations.map((e) => [e.epoch, e.proxy]), evals.map((e) => [e.epoch, e.proxy]));
    assert.deepEqual(summary.epochs.map((e) => e.epoch), epochs.map((e) => e.epoch + 1));
    for (const [k, e] of epochs.entries()) {
      const s = summary.epochs[k];
      assert.equal(s.proxy, e.rewards[0].mean, "one reward of weight 1: the training proxy is its mean");
      const rows = e.steps.reduce((a, st) => a + st.count, 0);
      const clip = rows ? e.steps.reduce((a, st) => a + (st.clipTotal ?? 0) * st.count, 0) / rows : null;
      assert.equal(s.clip === null ? null : Number(s.clip.toFixed(12)), clip === null ? null : Number(clip.toFixed(12)));
      // R: count-weighted over the steps that have a ratio (the toy model logs null ratios).
      const vn = e.steps.filter((st) => st.velocityNorm && st.velocityNorm.count > 0 && st.velocityNorm.ratio !== null);
      const n = vn.reduce((a, st) => a + st.velocityNorm!.count, 0);
      const R = n ? vn.reduce((a, st) => a + st.velocityNorm!.ratio! * st.velocityNorm!.count, 0) / n : null;
      assert.ok(R === null ? s.velocityNorm === null : Math.abs(s.velocityNorm! - R) < 1e-12, `R ${s.velocityNorm} vs ${R}`);
      assert.deepEqual(Object.keys(s.methodStats).sort(), Object.keys(e.methodStats ?? {}).sort());
    }
    if (summary.method === "dppo") assert.ok(summary.epochs.every((e) => typeof e.methodStats.dppoMasked === "number"), "Flow-DPPO's masked fraction is in every epoch");
    assert.ok(summary.epochs.every((e) => e.clip !== null && e.clipPositive !== null && e.clipNegative !== null), "off-policy clip fractions in every epoch");
    // Written again from the run directory alone: the same content.
    const again = summarizeRunDir(join(dir, "runs", summary.run), { sweep: summary.sweep, label: summary.label, method: summary.method, overrides: summary.overrides });
    assert.deepEqual(again, summary);
  }
});

test("a synthetic digits run with gold components: round trip, partial until its final policy exists", () => {
  const runDir = writeSyntheticRun(join(dir, "synthetic"), { name: "b3-x-kl-0.04-0123456789ab-s2", algorithm: "flow-grpo", dynamics: "flow-sde", seed: 2, epochs: 6, evalEvery: 2, components: true });
  const partial = summarizeRunDir(runDir);
  assert.equal(partial.status, "partial");
  assert.equal(partial.label, "b3-x-kl-0.04", "outside a sweep: the label is the name less -<id>-s<seed>");
  assert.equal(partial.seed, 2);
  assert.deepEqual(partial.components.map((c) => c.key), ["kid", "judge"]);
  const records = readValidatedMetrics(join(runDir, "metrics.jsonl")).records.filter((x): x is EvalMetrics => x.type === "eval");
  assert.equal(partial.evaluations.length, records.length);
  for (const [k, e] of records.entries()) {
    const c = e.gold!.components![0];
    assert.deepEqual(partial.evaluations[k].components[0], { key: c.key, value: c.value, ci: c.ci, floor: c.floor });
    assert.equal(partial.evaluations[k].gold, e.gold!.gold);
  }
  writeFileSync(join(runDir, FINAL_POLICY_FILE), "");
  const done = summarizeRunDir(runDir, { sweep: "b3-x", label: "kl-0.04", method: "kl", overrides: ["train.kl.beta=0.04"] });
  assert.equal(done.status, "finished");
  const path = writeSummary(join(dir, "out"), done);
  assert.deepEqual(readSummary(path), done);
  assert.deepEqual(readdirSync(join(dir, "out")), ["b3-x-kl-0.04-0123456789ab-s2.json"], "no temporary file left");
});

test("a bad summary file is one UserError line naming the file", () => {
  const bad = join(dir, "bad");
  const good = JSON.parse(readFileSync(writeSummary(bad, summarizeRunDir(writeSyntheticRun(join(dir, "synthetic2"), { name: "r-0123456789ab-s0", algorithm: "grpo-guard", dynamics: "flow-sde", seed: 0, components: true }))), "utf8"));
  const cases: [string, string, RegExp][] = [
    ["not-json.json", "{ nope", /not-json\.json: not JSON/],
    ["old.json", JSON.stringify({ ...good, summaryVersion: 0 }), /old\.json: not a run summary of version 1 \(summaryVersion: 0\)/],
    ["field.json", JSON.stringify({ ...good, evaluations: [{ ...good.evaluations[0], proxy: "high" }] }), /field\.json: invalid run summary at evaluations\.0\.proxy: /],
    ["extra.json", JSON.stringify({ ...good, histogram: [] }), /extra\.json: invalid run summary at \(top level\): .*histogram/],
  ];
  for (const [name, text, pattern] of cases) {
    const path = join(dir, "bad-files", name);
    writeSummary(join(dir, "bad-files"), good); // a valid neighbour does not hide the bad one
    writeFileSync(path, text);
    assert.throws(() => readSummary(path), (err: unknown) => err instanceof UserError && pattern.test(err.message) && !err.message.includes("\n"), name);
    assert.throws(() => readSummaries(join(dir, "bad-files")), (err: unknown) => err instanceof UserError && err.message.includes(name));
    writeFileSync(path, JSON.stringify(good).replace(/"r-0123456789ab-s0"/, `"${name}"`));
  }
  // Through the command line: exit code 2 and one line on stderr, no stack trace.
  const page = join(dir, "page.md");
  writeFileSync(join(dir, "bad-files", "zz.json"), "[]");
  const r = cli(["compare", "--preset", "b3-aesthetic-pilot", "--from-summaries", join(dir, "bad-files"), "--results", page]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^grpo-guard: .*zz\.json: not a run summary of version 1 \(summaryVersion: missing\); rewrite it with grpo-guard summarize\n$/);
});
