/**
 * A study's results from its pairs and votes: win / tie / lose per method pair with Wilson
 * intervals, Bradley–Terry strengths with bootstrap intervals (≥ 3 methods), rater agreement
 * (Cohen's κ for two raters, Fleiss' κ for two or more on the pairs all of them rated), and
 * the same as markdown and CSV.
 */
import { HostRng } from "../engine/prng.js";
import { quantile } from "../diagnostics/quantile.js";
import { bootstrapBradleyTerry, cohenKappa, fleissKappa, wilsonInterval, type Comparison, type Interval } from "./stats.js";
import { winnerOf, type Method, type Pair, type StudyConfig, type Vote } from "./store.js";

export const QUESTION_TEXT: Record<StudyConfig["question"], (prompt: string) => string> = {
  likeness: () => "Which looks more like a real handwritten digit?",
  alignment: (prompt) => `Which is a clearer ${prompt}?`,
};

export interface Share {
  count: number;
  share: number;
  interval: Interval;
}

export interface MethodPairResult {
  a: number;
  b: number;
  votes: number;
  winsA: Share;
  ties: Share;
  winsB: Share;
  /** (wins of A + ties / 2) / votes. */
  preferenceA: number;
}

export interface RaterSummary {
  rater: string;
  votes: number;
  medianTimeMs: number;
}

export interface Agreement {
  /** The raters who answered every pair (the only ones agreement is computed over). */
  raters: string[];
  /** Cohen's κ when exactly two raters answered every pair. */
  cohen: { kappa: number; pairs: number } | null;
  /** Fleiss' κ of the raters who answered every pair. */
  fleiss: { kappa: number; pairs: number; raters: number } | null;
}

export interface StudyResults {
  study: string;
  question: string;
  simulated: boolean;
  methods: Pick<Method, "id" | "label" | "method">[];
  pairs: number;
  votes: number;
  raters: RaterSummary[];
  byMethodPair: MethodPairResult[];
  bradleyTerry: { shares: (number | null)[]; intervals: (Interval | null)[]; resamples: number } | null;
  agreement: Agreement;
}

const CATEGORIES = ["a", "b", "tie"] as const;

function share(count: number, total: number): Share {
  return { count, share: total > 0 ? count / total : 0, interval: wilsonInterval(count, total) };
}

/** The winner with the method pair ordered by method id ("a" = the lower id), as in the tables. */
function canonicalWinner(pair: Pair, answer: Vote["answer"]): "a" | "b" | "tie" {
  const raw = winnerOf(pair, answer);
  if (raw === "tie" || pair.methodA < pair.methodB) return raw;
  return raw === "a" ? "b" : "a";
}

/**
 * Agreement among the raters who answered every pair (a rater still in progress is left out,
 * so every κ is over the full pair list): Cohen's κ for exactly two, Fleiss' κ for two or more.
 */
function agreementOf(pairs: readonly Pair[], votes: readonly Vote[]): Agreement {
  const pairOf = new Map(pairs.map((p) => [p.id, p]));
  const byRater = new Map<string, Map<number, number>>();
  for (const v of votes) {
    const answers = byRater.get(v.rater) ?? byRater.set(v.rater, new Map()).get(v.rater)!;
    answers.set(v.pairId, CATEGORIES.indexOf(canonicalWinner(pairOf.get(v.pairId)!, v.answer)));
  }
  const raters = [...byRater.keys()].filter((r) => byRater.get(r)!.size === pairs.length).sort();
  const agreement: Agreement = { raters, cohen: null, fleiss: null };
  if (raters.length < 2 || pairs.length === 0) return agreement;
  if (raters.length === 2) {
    const table = CATEGORIES.map(() => CATEGORIES.map(() => 0));
    for (const p of pairs) table[byRater.get(raters[0])!.get(p.id)!][byRater.get(raters[1])!.get(p.id)!] += 1;
    agreement.cohen = { kappa: cohenKappa(table), pairs: pairs.length };
  }
  const counts = pairs.map((p) => {
    const row = CATEGORIES.map(() => 0);
    for (const rater of raters) row[byRater.get(rater)!.get(p.id)!] += 1;
    return row;
  });
  agreement.fleiss = { kappa: fleissKappa(counts), pairs: pairs.length, raters: raters.length };
  return agreement;
}

export function studyResults(
  config: StudyConfig,
  methods: readonly Method[],
  pairs: readonly Pair[],
  votes: readonly Vote[],
  { resamples = 1000, seed = config.seed } = {},
): StudyResults {
  const pairOf = new Map(pairs.map((p) => [p.id, p]));
  const methodIndex = new Map(methods.map((m, i) => [m.id, i]));
  const tallies = new Map<string, { a: number; b: number; wins: [number, number, number] }>();
  const clusters = new Map<number, Comparison[]>();
  for (const vote of votes) {
    const pair = pairOf.get(vote.pairId)!;
    const [a, b] = pair.methodA < pair.methodB ? [pair.methodA, pair.methodB] : [pair.methodB, pair.methodA];
    const winner = canonicalWinner(pair, vote.answer);
    const key = `${a}:${b}`;
    const tally = tallies.get(key) ?? tallies.set(key, { a, b, wins: [0, 0, 0] }).get(key)!;
    tally.wins[winner === "a" ? 0 : winner === "tie" ? 1 : 2] += 1;
    const comparisons = clusters.get(pair.id) ?? clusters.set(pair.id, []).get(pair.id)!;
    comparisons.push({ a: methodIndex.get(a)!, b: methodIndex.get(b)!, outcome: winner });
  }
  const byMethodPair = [...tallies.values()]
    .sort((x, y) => x.a - y.a || x.b - y.b)
    .map(({ a, b, wins: [wa, t, wb] }) => {
      const n = wa + t + wb;
      return { a, b, votes: n, winsA: share(wa, n), ties: share(t, n), winsB: share(wb, n), preferenceA: (wa + t / 2) / n };
    });
  let bradleyTerry: StudyResults["bradleyTerry"] = null;
  if (methods.length >= 3 && votes.length > 0) {
    const rng = new HostRng(seed + 1);
    const fit = bootstrapBradleyTerry(methods.length, [...clusters.values()], () => rng.uniform(), { resamples });
    bradleyTerry = { shares: fit.fit.shares, intervals: fit.intervals, resamples: fit.resamples };
  }
  const raters = [...new Set(votes.map((v) => v.rater))].sort().map((rater) => {
    const mine = votes.filter((v) => v.rater === rater);
    return { rater, votes: mine.length, medianTimeMs: quantile(mine.map((v) => v.timeMs), 0.5) };
  });
  return {
    study: config.name,
    question: config.question === "likeness" ? QUESTION_TEXT.likeness("") : QUESTION_TEXT.alignment("<prompt>"),
    simulated: config.simulated,
    methods: methods.map(({ id, label, method }) => ({ id, label, method })),
    pairs: pairs.length,
    votes: votes.length,
    raters,
    byMethodPair,
    bradleyTerry,
    agreement: agreementOf(pairs, votes),
  };
}

export const SIMULATED_NOTE = "SIMULATED votes: this study was answered by a script (a test or a demo), not by people. These are not human judgements.";

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const percent = (x: number) => `${(100 * x).toFixed(0)} %`;
const shareText = (s: Share) => `${s.count} (${percent(s.share)}, ${percent(s.interval.lo)}–${percent(s.interval.hi)})`;
const kappaText = (k: number) => (Number.isNaN(k) ? "undefined (every answer in one category)" : k.toFixed(3));

/** Names of a method for tables: "label (method)". */
export function methodName(results: Pick<StudyResults, "methods">, id: number): string {
  const m = results.methods.find((x) => x.id === id)!;
  return `${m.label} (${m.method})`;
}

export function resultsMarkdown(results: StudyResults): string {
  const lines: string[] = [`# Rating study "${results.study}"`, ""];
  if (results.simulated) lines.push(`> **${SIMULATED_NOTE}**`, "");
  lines.push(
    `Question: *${results.question}* · ${results.pairs} image pairs (same prompt, same noise, sides randomised) · ${plural(results.votes, "vote")} from ${plural(results.raters.length, "rater")}.`,
    "",
    "## Win / tie / lose",
    "",
    "Counts with the share of votes and its 95 % Wilson interval.",
    "",
    "| A | B | votes | A wins | tie | B wins | A preferred (ties ½) |",
    "|---|---|---:|---|---|---|---:|",
  );
  for (const r of results.byMethodPair) {
    lines.push(`| ${methodName(results, r.a)} | ${methodName(results, r.b)} | ${r.votes} | ${shareText(r.winsA)} | ${shareText(r.ties)} | ${shareText(r.winsB)} | ${percent(r.preferenceA)} |`);
  }
  if (results.byMethodPair.length === 0) lines.push("| — | — | 0 | | | | |");
  if (results.bradleyTerry) {
    const bt = results.bradleyTerry;
    lines.push(
      "",
      "## Bradley–Terry strengths",
      "",
      `Shares π (Σ π = 1; P(i preferred to j) = π_i / (π_i + π_j)), ties counted as half a win for each side; 95 % percentile intervals from ${bt.resamples} bootstrap resamples of whole pairs.`,
      "",
      "| method | π | 95 % interval |",
      "|---|---:|---|",
    );
    results.methods.forEach((m, i) => {
      const s = bt.shares[i];
      const ci = bt.intervals[i];
      lines.push(`| ${methodName(results, m.id)} | ${s === null ? "not compared" : s.toFixed(3)} | ${ci ? `${ci.lo.toFixed(3)}–${ci.hi.toFixed(3)}` : "—"} |`);
    });
  }
  lines.push("", "## Raters", "", "| rater | votes | median time to answer |", "|---|---:|---:|");
  for (const r of results.raters) lines.push(`| ${r.rater} | ${r.votes} | ${(r.medianTimeMs / 1000).toFixed(1)} s |`);
  const { cohen, fleiss } = results.agreement;
  lines.push("", "## Agreement", "");
  if (!cohen && !fleiss) lines.push("Agreement needs at least two raters who answered every pair.");
  if (cohen) lines.push(`- Cohen's κ (the 2 raters who answered all ${cohen.pairs} pairs): ${kappaText(cohen.kappa)}`);
  if (fleiss) lines.push(`- Fleiss' κ (the ${fleiss.raters} raters who answered all ${fleiss.pairs} pairs): ${kappaText(fleiss.kappa)}`);
  lines.push("", "Categories for agreement: A preferred / B preferred / tie (A, B as in the win / tie / lose table).", "");
  return lines.join("\n");
}

const csvField = (value: string | number | boolean) => {
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** One row per vote, with the pair's methods and images resolved. */
export function votesCsv(config: StudyConfig, methods: readonly Method[], pairs: readonly Pair[], votes: readonly Vote[]): string {
  const pairOf = new Map(pairs.map((p) => [p.id, p]));
  const methodOf = new Map(methods.map((m) => [m.id, m]));
  const header = ["vote_id", "simulated", "rater", "pair_id", "prompt", "noise_index", "method_a", "method_b", "left", "right", "answer", "winner", "created_at", "time_ms", "image_a_sha256", "image_b_sha256"];
  const rows = votes.map((v) => {
    const p = pairOf.get(v.pairId)!;
    const [a, b] = [methodOf.get(p.methodA)!.label, methodOf.get(p.methodB)!.label];
    const winner = winnerOf(p, v.answer);
    return [v.id, config.simulated, v.rater, v.pairId, p.prompt, p.noiseIndex, a, b, p.leftIsA ? a : b, p.leftIsA ? b : a, v.answer, winner === "tie" ? "tie" : winner === "a" ? a : b, v.createdAt, v.timeMs, p.imageA, p.imageB];
  });
  return [header, ...rows].map((row) => row.map(csvField).join(",")).join("\n") + "\n";
}
