/**
 * The rating study's statistics against values worked out by hand (the arithmetic is in the
 * comments), the pair plan's balance, and a study's results / markdown / CSV from a small
 * hand-made set of votes.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  bootstrapBradleyTerry,
  bradleyTerry,
  cohenKappa,
  effectiveVotes,
  fleissKappa,
  proportionHalfWidth,
  sizingTable,
  votesForHalfWidth,
  wilsonInterval,
  type Comparison,
} from "../src/rating/stats.js";
import { quantile } from "../src/diagnostics/quantile.js";
import { planPairs } from "../src/rating/study.js";
import { resultsMarkdown, SIMULATED_NOTE, studyResults, votesCsv } from "../src/rating/results.js";
import { winnerOf, type Answer, type Method, type Pair, type StudyConfig, type Vote } from "../src/rating/store.js";
import { HostRng } from "../src/engine/prng.js";

const close = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not within ${tolerance} of ${expected}`);

const repeat = (n: number, c: Comparison): Comparison[] => Array.from({ length: n }, () => c);

describe("Wilson interval and sample sizes", () => {
  test("8 of 10 at 95 %: [0.4902, 0.9433]", () => {
    // z = 1.96: centre = (0.8 + 1.96²/20) / (1 + 1.96²/10) = 0.99208 / 1.38416 = 0.716738;
    // half = (1.96 / 1.38416) · sqrt(0.8·0.2/10 + 1.96²/400) = 1.416021 · 0.160012 = 0.226581.
    const { lo, hi } = wilsonInterval(8, 10, 1.96);
    close(lo, 0.716738 - 0.226581, 1e-5, "lower");
    close(hi, 0.716738 + 0.226581, 1e-5, "upper");
    const z95 = wilsonInterval(8, 10);
    close(z95.lo, 0.4902, 1e-4, "lower with the exact 95 % quantile");
    close(z95.hi, 0.9433, 1e-4, "upper with the exact 95 % quantile");
  });

  test("0 of n has upper bound z²/(n + z²), mirrors n − k, and n = 0 is uninformative", () => {
    const { lo, hi } = wilsonInterval(0, 10, 1.96);
    assert.equal(lo, 0);
    close(hi, 3.8416 / 13.8416, 1e-9, "0 of 10");
    const a = wilsonInterval(3, 17);
    const b = wilsonInterval(14, 17);
    close(a.lo, 1 - b.hi, 1e-12, "mirror lo");
    close(a.hi, 1 - b.lo, 1e-12, "mirror hi");
    assert.deepEqual(wilsonInterval(0, 0), { lo: 0, hi: 1 });
    assert.throws(() => wilsonInterval(11, 10), /0 ≤ successes ≤ n/);
    assert.throws(() => wilsonInterval(1.5, 10), /integers/);
  });

  test("votes for a half-width: ±0.1 at p = 0.5 needs 97 (1.96² · 0.25 / 0.01 = 96.04), ±0.05 needs 385", () => {
    assert.equal(votesForHalfWidth(0.1, 0.5, 1.96), 97);
    assert.equal(votesForHalfWidth(0.05, 0.5, 1.96), 385);
    // At p = 0.8 the variance is 0.16 instead of 0.25: 1.96² · 0.16 / 0.01 = 61.47 → 62.
    assert.equal(votesForHalfWidth(0.1, 0.8, 1.96), 62);
    close(proportionHalfWidth(0.5, 96, 1.96), 0.1, 2e-4, "half-width at 96 votes");
    assert.throws(() => votesForHalfWidth(0), /half-width/);
  });

  test("effective votes: independent raters count fully, perfectly agreeing raters count once", () => {
    assert.equal(effectiveVotes(50, 3, 0), 150);
    assert.equal(effectiveVotes(50, 3, 1), 50);
    // ρ = 0.5: design effect 1 + 2 · 0.5 = 2 → 150 / 2 = 75.
    assert.equal(effectiveVotes(50, 3, 0.5), 75);
  });

  test("sizing table: ±0.1 with 3 raters per pair at ρ = 0.3 needs 52 pairs (97 · 1.6 / 3 = 51.7)", () => {
    const [row] = sizingTable([0.1], 3, 0.3, 1.96);
    // p = 0.7: 1.96² · 0.21 / 0.01 = 80.67 → 81.
    assert.deepEqual(row, { halfWidth: 0.1, votesAtHalf: 97, votesAt70: 81, pairs: 52 });
    assert.equal(sizingTable([0.1], 1, 0.9, 1.96)[0].pairs, 97, "one rater per pair: pairs = votes");
  });

  test("quantile interpolates between order statistics", () => {
    assert.equal(quantile([3, 1, 2, 4], 0.5), 2.5);
    assert.equal(quantile([5], 0.9), 5);
    assert.equal(quantile([0, 10], 0.25), 2.5);
  });
});

describe("Bradley–Terry (MM, ties as half wins)", () => {
  test("two methods: the share is the win rate (7–3 → 0.7; 5 wins, 3 losses, 2 ties → 0.6)", () => {
    const fit = bradleyTerry(2, [...repeat(7, { a: 0, b: 1, outcome: "a" }), ...repeat(3, { a: 0, b: 1, outcome: "b" })]);
    assert.ok(fit.converged);
    close(fit.shares[0]!, 0.7, 1e-9, "7–3");
    const ties = bradleyTerry(2, [...repeat(5, { a: 1, b: 0, outcome: "a" }), ...repeat(3, { a: 1, b: 0, outcome: "b" }), ...repeat(2, { a: 0, b: 1, outcome: "tie" })]);
    close(ties.shares[1]!, 0.6, 1e-9, "(5 + 2/2) / 10");
  });

  test("three methods with data at their expectations recover π = (4/7, 2/7, 1/7)", () => {
    // π = (4, 2, 1)/7: P(0 beats 1) = 2/3, P(0 beats 2) = 4/5, P(1 beats 2) = 2/3. With 6, 5 and 3
    // comparisons the observed wins equal the expected ones (W = 8, 4, 2), so this π is the MLE.
    const data = [
      ...repeat(4, { a: 0, b: 1, outcome: "a" }),
      ...repeat(2, { a: 0, b: 1, outcome: "b" }),
      ...repeat(4, { a: 2, b: 0, outcome: "b" }),
      ...repeat(1, { a: 2, b: 0, outcome: "a" }),
      ...repeat(2, { a: 1, b: 2, outcome: "a" }),
      ...repeat(1, { a: 1, b: 2, outcome: "b" }),
    ] satisfies Comparison[];
    const fit = bradleyTerry(3, data);
    assert.ok(fit.converged, `converged in ${fit.iterations} iterations`);
    [4 / 7, 2 / 7, 1 / 7].forEach((expected, i) => close(fit.shares[i]!, expected, 1e-8, `π_${i}`));
  });

  test("a balanced cycle gives equal shares; a method that never wins gets 0; one never compared gets null", () => {
    const cycle = bradleyTerry(3, [
      ...repeat(2, { a: 0, b: 1, outcome: "a" }), { a: 0, b: 1, outcome: "b" },
      ...repeat(2, { a: 1, b: 2, outcome: "a" }), { a: 1, b: 2, outcome: "b" },
      ...repeat(2, { a: 2, b: 0, outcome: "a" }), { a: 2, b: 0, outcome: "b" },
    ]);
    cycle.shares.forEach((s, i) => close(s!, 1 / 3, 1e-9, `cycle π_${i}`));
    const sweep = bradleyTerry(3, repeat(3, { a: 0, b: 1, outcome: "a" }));
    assert.deepEqual(sweep.shares, [1, 0, null]);
    assert.throws(() => bradleyTerry(2, [{ a: 0, b: 2, outcome: "a" }]), /outside 0\.\.1/);
  });

  test("bootstrap: reproducible from the seed, intervals hold the estimate and narrow with more pairs", () => {
    const clusters = (k: number): Comparison[][] => [
      ...Array.from({ length: 6 * k }, () => [{ a: 0, b: 1, outcome: "a" } as Comparison]),
      ...Array.from({ length: 3 * k }, () => [{ a: 0, b: 1, outcome: "b" } as Comparison]),
      ...Array.from({ length: 5 * k }, () => [{ a: 1, b: 2, outcome: "a" } as Comparison]),
      ...Array.from({ length: 4 * k }, () => [{ a: 1, b: 2, outcome: "tie" } as Comparison]),
      ...Array.from({ length: 4 * k }, () => [{ a: 0, b: 2, outcome: "a" } as Comparison, { a: 0, b: 2, outcome: "b" } as Comparison]),
    ];
    const run = (k: number, seed: number) => {
      const rng = new HostRng(seed);
      return bootstrapBradleyTerry(3, clusters(k), () => rng.uniform(), { resamples: 200 });
    };
    const small = run(1, 5);
    assert.deepEqual(run(1, 5), small, "same seed, same intervals");
    const large = run(8, 5);
    small.fit.shares.forEach((s, i) => {
      const ci = small.intervals[i]!;
      assert.ok(ci.lo <= s! && s! <= ci.hi, `π_${i} = ${s} inside [${ci.lo}, ${ci.hi}]`);
      const wide = ci.hi - ci.lo;
      const narrow = large.intervals[i]!.hi - large.intervals[i]!.lo;
      assert.ok(narrow < wide * 0.6, `8× the pairs narrows π_${i}'s interval (${wide.toFixed(3)} → ${narrow.toFixed(3)})`);
    });
  });
});

describe("agreement", () => {
  test("Cohen's κ: the 2 × 2 table [[20, 5], [10, 15]] gives 0.4; a 3 × 3 table gives 0.6", () => {
    // p_o = 35/50 = 0.7; p_e = (25·30 + 25·20)/50² = 0.5; κ = 0.2/0.5.
    close(cohenKappa([[20, 5], [10, 15]]), 0.4, 1e-12, "2 × 2");
    // p_o = 11/15; all margins 5 → p_e = 3 · 25/225 = 1/3; κ = (11/15 − 5/15)/(10/15) = 0.6.
    close(cohenKappa([[4, 1, 0], [1, 3, 1], [0, 1, 4]]), 0.6, 1e-12, "3 × 3");
    close(cohenKappa([[5, 0], [0, 5]]), 1, 1e-12, "perfect");
    assert.ok(Number.isNaN(cohenKappa([[7, 0], [0, 0]])), "one category throughout: undefined");
  });

  test("Fleiss' κ: 3 pairs × 2 raters by hand (1/3) and the 10 × 14 textbook table (0.210)", () => {
    // P_i = 1, 1, 0 → P̄ = 2/3; category shares (3/6, 3/6, 0) → P̄_e = 1/2; κ = (2/3 − 1/2)/(1/2).
    close(fleissKappa([[2, 0, 0], [0, 2, 0], [1, 1, 0]]), 1 / 3, 1e-12, "small");
    // Fleiss (1971)-style example: 10 items, 14 raters, 5 categories; P̄ = 0.378, P̄_e = 0.213.
    const table = [
      [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
      [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ];
    close(fleissKappa(table), 0.21, 5e-4, "textbook");
    assert.throws(() => fleissKappa([[2, 0], [1, 0]]), /same number/);
  });
});

describe("pair plan", () => {
  test("every method pair gets its share, prompts cycle within each, sides are mixed, order is a seeded permutation", () => {
    const plan = planPairs(3, 30, ["0", "1", "2", "3", "4"], 11);
    assert.deepEqual(plan.map((p) => p.id), Array.from({ length: 30 }, (_, i) => i + 1));
    assert.deepEqual([...new Set(plan.map((p) => p.noiseIndex))].sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i), "a noise row per pair");
    for (const [a, b] of [[0, 1], [0, 2], [1, 2]]) {
      const mine = plan.filter((p) => p.methodA === a && p.methodB === b);
      assert.equal(mine.length, 10, `${a} vs ${b}`);
      assert.deepEqual(mine.map((p) => p.prompt).sort(), ["0", "0", "1", "1", "2", "2", "3", "3", "4", "4"]);
    }
    const left = plan.filter((p) => p.leftIsA).length;
    assert.ok(left > 5 && left < 25, `A shown left ${left} of 30 times`);
    assert.notDeepEqual(plan.map((p) => p.noiseIndex), Array.from({ length: 30 }, (_, i) => i), "shuffled");
    assert.deepEqual(planPairs(3, 30, ["0", "1", "2", "3", "4"], 11), plan, "reproducible");
    assert.notDeepEqual(planPairs(3, 30, ["0", "1", "2", "3", "4"], 12), plan, "the seed matters");
    assert.throws(() => planPairs(1, 4, ["0"], 0), /at least two runs/);
  });
});

describe("study results", () => {
  const config: StudyConfig = {
    name: "hand", question: "likeness", prompts: ["1"], pairs: 4, seed: 3, steps: 2, shift: 3, guidance: 1,
    sampleShape: [1, 28, 28], token: "t", simulated: true, createdAt: "2026-01-01T00:00:00.000Z",
  };
  const methods: Method[] = [
    { id: 0, label: "base", method: "pretrained base", source: "/w/base.safetensors", sha256: "0" },
    { id: 1, label: "guard, run \"1\"", method: "grpo-guard on flow-sde", source: "/w/g", sha256: "1" },
  ];
  // Pair 2 stores the methods the other way round (B = 0) and pair 3 shows B on the left.
  const pairs: Pair[] = [
    { id: 1, prompt: "1", noiseIndex: 0, methodA: 0, methodB: 1, imageA: "a1", imageB: "b1", leftIsA: true },
    { id: 2, prompt: "1", noiseIndex: 1, methodA: 1, methodB: 0, imageA: "a2", imageB: "b2", leftIsA: true },
    { id: 3, prompt: "1", noiseIndex: 2, methodA: 0, methodB: 1, imageA: "a3", imageB: "b3", leftIsA: false },
    { id: 4, prompt: "1", noiseIndex: 3, methodA: 0, methodB: 1, imageA: "a4", imageB: "b4", leftIsA: true },
  ];
  const answers: [string, number, Answer][] = [
    ["r1", 1, "left"], ["r1", 2, "left"], ["r1", 3, "left"], ["r1", 4, "tie"],
    ["r2", 1, "left"], ["r2", 2, "right"], ["r2", 3, "left"], ["r2", 4, "right"],
  ];
  const votes: Vote[] = answers.map(([rater, pairId, answer], i) => ({ id: i + 1, rater, pairId, answer, createdAt: config.createdAt, timeMs: 1000 * (i + 1) }));

  test("votes map through each pair's sides to methods; counts, shares, κ", () => {
    assert.equal(winnerOf(pairs[2], "left"), "b", "pair 3 shows B on the left");
    const r = studyResults(config, methods, pairs, votes, { resamples: 50 });
    // Winners: p1 (A = 0 left): r1 0, r2 0 · p2 (A = 1 left): r1 1, r2 0 · p3 (B = 1 left): r1 1,
    // r2 1 · p4 (A = 0 left): r1 tie, r2 1 → method 0 wins 3, ties 1, method 1 wins 4.
    assert.equal(r.byMethodPair.length, 1);
    const [row] = r.byMethodPair;
    assert.deepEqual([row.a, row.b, row.votes, row.winsA.count, row.ties.count, row.winsB.count], [0, 1, 8, 3, 1, 4]);
    close(row.preferenceA, 3.5 / 8, 1e-12, "ties as half");
    assert.deepEqual(row.winsA.interval, wilsonInterval(3, 8));
    assert.equal(r.bradleyTerry, null, "two methods: no Bradley–Terry");
    // Agreement categories in the table's orientation (base preferred, guard preferred, tie):
    // r1 = base, guard, guard, tie; r2 = base, base, guard, guard. Agreement on p1 and p3 →
    // p_o = 2/4; margins r1 (1, 2, 1), r2 (2, 2, 0): p_e = (1·2 + 2·2 + 1·0)/16 = 6/16;
    // κ = (8/16 − 6/16)/(10/16) = 0.2.
    close(r.agreement.cohen!.kappa, 0.2, 1e-12, "Cohen");
    assert.equal(r.agreement.cohen!.pairs, 4);
    assert.equal(r.agreement.fleiss!.raters, 2);
    assert.deepEqual(r.raters, [{ rater: "r1", votes: 4, medianTimeMs: 2500 }, { rater: "r2", votes: 4, medianTimeMs: 6500 }]);
    const md = resultsMarkdown(r);
    assert.ok(md.includes(SIMULATED_NOTE), "simulated votes are labelled");
    assert.match(md, /\| base \(pretrained base\) \| guard, run "1" \(grpo-guard on flow-sde\) \| 8 \| 3 \(38 %, 14 %–69 %\) \| 1 \(13 %, 2 %–47 %\) \| 4 \(50 %, 22 %–78 %\) \| 44 % \|/);
    assert.match(md, /Cohen's κ \(the 2 raters who answered all 4 pairs\): 0\.200/);
  });

  test("three methods add Bradley–Terry; CSV rows resolve sides and quote fields", () => {
    const three: Method[] = [...methods, { id: 2, label: "flow", method: "flow-grpo on flow-sde", source: "/w/f", sha256: "2" }];
    const morePairs: Pair[] = [...pairs, { id: 5, prompt: "1", noiseIndex: 4, methodA: 1, methodB: 2, imageA: "a5", imageB: "b5", leftIsA: false }];
    const moreVotes: Vote[] = [...votes, { id: 9, rater: "r1", pairId: 5, answer: "right", createdAt: config.createdAt, timeMs: 10 }];
    const r = studyResults(config, three, morePairs, moreVotes, { resamples: 50 });
    assert.ok(r.bradleyTerry);
    assert.equal(r.bradleyTerry.shares.length, 3);
    assert.deepEqual(r.agreement, { raters: ["r1"], cohen: null, fleiss: null }, "r2 has not answered pair 5: κ counts only raters who answered every pair");
    assert.match(resultsMarkdown(r), /## Bradley–Terry strengths/);
    const csv = votesCsv(config, three, morePairs, moreVotes).trim().split("\n");
    assert.equal(csv.length, 10);
    assert.equal(csv[0].split(",")[11], "winner");
    // Vote 3: r1 chose left on pair 3, where B (guard) is on the left.
    assert.equal(csv[3], `3,true,r1,3,1,2,base,"guard, run ""1""","guard, run ""1""",base,left,"guard, run ""1""",2026-01-01T00:00:00.000Z,3000,a3,b3`);
    // Vote 9: pair 5 shows B (flow) on the left, so "right" is A (guard).
    assert.match(csv[9], /^9,true,r1,5,1,4,"guard, run ""1""",flow,flow,"guard, run ""1""",right,"guard, run ""1""",/);
  });
});
