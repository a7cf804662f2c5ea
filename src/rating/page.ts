/**
 * The rating study's pages: the rater page (its script is client.ts, compiled next to this
 * file and served as client.js) and the server-rendered results page. The rater page never
 * names the study, the runs or the methods (the study's name is made from the runs' names).
 */
import { methodName, plural, SIMULATED_NOTE, type Share, type StudyResults } from "./results.js";
import type { StudyConfig } from "./store.js";

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `
  :root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; }
  body { margin: 0 auto; padding: 0 24px 48px; max-width: 960px; }
  h1 { font-size: 20px; margin: 16px 0 8px; }
  h2 { font-size: 16px; margin: 24px 0 6px; }
  .note { color: #555; font-size: 13px; }
  .simulated { background: #fff3cd; border: 1px solid #e0b000; color: #5c4600; padding: 8px 12px; border-radius: 4px; font-weight: 600; }
  [hidden] { display: none !important; }
  #progress-row { display: flex; align-items: center; gap: 12px; font-size: 14px; }
  progress { width: 280px; }
  #question { font-size: 22px; margin: 18px 0 12px; text-align: center; }
  .pair { display: flex; justify-content: center; gap: 32px; }
  .pair figure { margin: 0; display: flex; flex-direction: column; align-items: center; gap: 10px; }
  .pair img { width: 280px; height: 280px; border: 3px solid #bbb; border-radius: 4px; background: #000; }
  .choices { display: flex; justify-content: center; gap: 16px; margin: 16px 0; }
  button { font-size: 16px; padding: 10px 18px; border-radius: 6px; border: 1px solid #888; background: #f4f4f4; cursor: pointer; }
  button:disabled { opacity: 0.45; cursor: default; }
  button:not(:disabled):hover { background: #e6eefb; }
  #message { color: #9b1c1c; min-height: 20px; text-align: center; }
  table { border-collapse: collapse; font-size: 14px; margin: 6px 0; }
  th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .ci { color: #666; font-size: 12px; white-space: nowrap; }
`;

function page(title: string, body: string, script = ""): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
${body}
${script}
</body>
</html>
`;
}

const simulatedBanner = (simulated: boolean) => (simulated ? `<p class="simulated" id="simulated">${escapeHtml(SIMULATED_NOTE)}</p>` : "");

export function raterPageHtml(config: StudyConfig, total: number): string {
  const body = `<h1>Which image is better?</h1>
${simulatedBanner(config.simulated)}
<section id="signin" hidden>
  <p>You will see ${total} pairs of small images, one pair at a time, and pick the better one of each pair (or call it a tie).
  There are no right answers; go with your first impression. You can stop at any time and continue later from the same link.</p>
  <p><label>Your name or initials (only used to continue where you stopped and to measure agreement between raters):
  <input id="rater-input" maxlength="64" autocomplete="off"></label>
  <button id="start">Start</button></p>
</section>
<section id="rate" hidden>
  <div id="progress-row"><span id="progress"></span><progress id="progress-bar" max="${total}" value="0"></progress><span class="note" id="rater-name"></span></div>
  <p id="question"></p>
  <div class="pair">
    <figure><img id="left" alt="left image"><button id="choose-left" disabled>← Left</button></figure>
    <figure><img id="right" alt="right image"><button id="choose-right" disabled>Right →</button></figure>
  </div>
  <div class="choices"><button id="choose-tie" disabled>↓ Tie / can't tell</button></div>
  <p class="note" style="text-align:center">Keys: ← left · → right · ↓ tie</p>
</section>
<section id="done" hidden>
  <p>All ${total} pairs rated — thank you.</p>
  <p><a id="results-link" href="results">See the results</a> (this reveals which runs made which images).</p>
</section>
<p id="message" role="status"></p>`;
  return page("Image rating", body, `<script type="module" src="client.js"></script>`);
}

export function lockedResultsHtml(config: StudyConfig, rater: string | null, done: number, total: number): string {
  const who = rater ? `${escapeHtml(rater)} has answered ${done} of ${total} pairs` : "no rater given";
  const body = `<h1>Results are not shown yet</h1>
${simulatedBanner(config.simulated)}
<p id="locked">The results name the runs behind the images, so they are shown to a rater who has answered every pair (${who}).
<a href="./">Continue rating</a>. The study's owner can read them any time with <code>grpo-guard rate --study DIR --report</code>.</p>`;
  return page("Results not shown yet", body);
}

const pct = (x: number) => `${(100 * x).toFixed(0)} %`;
const shareCell = (s: Share, field: string) =>
  `<td class="num" data-field="${field}" data-count="${s.count}">${s.count} <span class="ci">(${pct(s.share)}, ${pct(s.interval.lo)}–${pct(s.interval.hi)})</span></td>`;

export function resultsPageHtml(results: StudyResults, rater: string): string {
  const rows = results.byMethodPair
    .map(
      (r) => `<tr data-a="${escapeHtml(results.methods.find((m) => m.id === r.a)!.label)}" data-b="${escapeHtml(results.methods.find((m) => m.id === r.b)!.label)}">
  <td>${escapeHtml(methodName(results, r.a))}</td><td>${escapeHtml(methodName(results, r.b))}</td><td class="num" data-field="votes" data-count="${r.votes}">${r.votes}</td>
  ${shareCell(r.winsA, "winsA")}${shareCell(r.ties, "ties")}${shareCell(r.winsB, "winsB")}<td class="num">${pct(r.preferenceA)}</td></tr>`,
    )
    .join("\n");
  const bt = results.bradleyTerry;
  const btTable = bt
    ? `<h2>Bradley–Terry strengths</h2>
<p class="note">Shares π (Σ π = 1; P(i preferred to j) = π_i / (π_i + π_j)); a tie counts as half a win for each side; 95 % percentile intervals from ${bt.resamples} bootstrap resamples of whole pairs.</p>
<table id="bradley-terry"><tr><th>method</th><th>π</th><th>95 % interval</th></tr>
${results.methods
  .map((m, i) => {
    const s = bt.shares[i];
    const ci = bt.intervals[i];
    return `<tr><td>${escapeHtml(methodName(results, m.id))}</td><td class="num">${s === null ? "not compared" : s.toFixed(3)}</td><td>${ci ? `${ci.lo.toFixed(3)}–${ci.hi.toFixed(3)}` : "—"}</td></tr>`;
  })
  .join("\n")}</table>`
    : "";
  const { cohen, fleiss } = results.agreement;
  const kappa = (k: number) => (Number.isNaN(k) ? "undefined" : k.toFixed(3));
  const agreement = [
    cohen ? `<li id="cohen">Cohen's κ (the 2 raters who answered all ${cohen.pairs} pairs): ${kappa(cohen.kappa)}</li>` : "",
    fleiss ? `<li id="fleiss">Fleiss' κ (the ${fleiss.raters} raters who answered all ${fleiss.pairs} pairs): ${kappa(fleiss.kappa)}</li>` : "",
  ].join("");
  const body = `<h1>Results</h1>
${simulatedBanner(results.simulated)}
<p class="note">Question: <em>${escapeHtml(results.question)}</em> · ${results.pairs} pairs · <span id="total-votes">${plural(results.votes, "vote")}</span> from ${plural(results.raters.length, "rater")} so far (shown to ${escapeHtml(rater)}, who has finished). Refresh for newer votes.</p>
<h2>Win / tie / lose</h2>
<p class="note">Counts with the share of votes and its 95 % Wilson interval.</p>
<table id="win-tie-lose"><tr><th>A</th><th>B</th><th>votes</th><th>A wins</th><th>tie</th><th>B wins</th><th>A preferred (ties ½)</th></tr>
${rows}</table>
${btTable}
<h2>Raters</h2>
<table id="raters"><tr><th>rater</th><th>votes</th><th>median time to answer</th></tr>
${results.raters.map((r) => `<tr><td>${escapeHtml(r.rater)}</td><td class="num">${r.votes}</td><td class="num">${(r.medianTimeMs / 1000).toFixed(1)} s</td></tr>`).join("\n")}</table>
<h2>Agreement</h2>
${agreement ? `<ul>${agreement}</ul>` : `<p class="note">Agreement needs at least two raters who answered every pair.</p>`}
<p><a href="votes.csv?rater=${encodeURIComponent(rater)}">All votes as CSV</a></p>`;
  return page("Rating results", body);
}
