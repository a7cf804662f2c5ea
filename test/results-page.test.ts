/**
 * The committed study page is what its command makes of the committed summaries: each B3
 * preset's generated section (docs/results.md), its figures and its README headline come out
 * byte-identical when regenerated with `compare --from-summaries`, and each section sits once,
 * under its own heading — a hand edit that cut a section, or summaries committed without the
 * page regenerated, fails here instead of on a reader.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bin, env } from "./sweep-fixtures.js";

const STUDIES = [
  { preset: "b3-aesthetic", marker: "b3:aesthetic", heading: "## The study: `aesthetic`", summaries: "results/b3/aesthetic" },
  { preset: "b3-ocr", marker: "b3:ocr", heading: "## The study: `digit-ocr`", summaries: "results/b3/digit-ocr" },
] as const;

/** Equal texts, or a failure naming the first line that differs (a whole-page diff is slow and unreadable). */
function assertSameText(actual: string, expected: string, what: string, fix: string): void {
  if (actual === expected) return;
  const [a, e] = [actual.split("\n"), expected.split("\n")];
  const line = a.findIndex((text, k) => text !== e[k]);
  const at = line < 0 ? a.length : line;
  assert.fail(`${what} differs from what its command makes, first at line ${at + 1}:\n  committed: ${JSON.stringify(e[at]?.slice(0, 300))}\n  generated: ${JSON.stringify(a[at]?.slice(0, 300))}\n${fix}`);
}

const page = readFileSync("docs/results.md", "utf8");
const readme = readFileSync("README.md", "utf8");

for (const study of STUDIES) {
  test(`docs/results.md: the ${study.preset} section is there once, under its heading, and regenerates byte-identical from ${study.summaries}`, () => {
    const begin = `<!-- ${study.marker}:begin -->`;
    const end = `<!-- ${study.marker}:end -->`;
    assert.equal(page.split(begin).length - 1, 1, `${begin} once`);
    assert.equal(page.split(end).length - 1, 1, `${end} once`);
    const heading = page.indexOf(`\n${study.heading}\n`);
    assert.ok(heading >= 0, `heading "${study.heading}"`);
    const nextHeading = page.indexOf("\n## ", heading + 1);
    assert.ok(heading < page.indexOf(begin) && page.indexOf(end) < nextHeading, `the section lies between "${study.heading}" and the next heading`);

    // The command as the page quotes it, run in a copy of the checkout's pages (summaries linked).
    const dir = mkdtempSync(join(tmpdir(), "results-page-"));
    mkdirSync(join(dir, "docs"));
    copyFileSync("docs/results.md", join(dir, "docs", "results.md"));
    copyFileSync("README.md", join(dir, "README.md"));
    symlinkSync(resolve("results"), join(dir, "results"));
    const r = spawnSync(process.execPath, [bin, "compare", "--preset", study.preset, "--from-summaries", study.summaries, "--headline", "README.md"], { cwd: dir, env, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const fix = `regenerate with: grpo-guard compare --preset ${study.preset} --from-summaries ${study.summaries} --headline README.md`;
    assertSameText(readFileSync(join(dir, "docs", "results.md"), "utf8"), page, "docs/results.md", fix);
    assertSameText(readFileSync(join(dir, "README.md"), "utf8"), readme, "README.md", fix);
    for (const figure of [`${study.preset}-frontier.svg`, `${study.preset}-proxy-side.svg`]) {
      assertSameText(readFileSync(join(dir, "docs", "results", figure), "utf8"), readFileSync(join("docs", "results", figure), "utf8"), `docs/results/${figure}`, fix);
    }
  });
}
