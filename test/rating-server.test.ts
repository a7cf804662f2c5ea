/**
 * The vote store and the rating server's HTTP API, on a hand-made study (no model): the token
 * keeps strangers out, votes are validated (400 / 404 / 409 / 413), stored durably across a
 * server restart, concurrent raters do not interfere, nothing before the end names a run, and
 * the results open once a rater has answered every pair.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeGridPng } from "../src/diagnostics/image-grid.js";
import { startRatingServer, type RatingServer } from "../src/rating/server.js";
import { imagePath, IMAGES_DIR, StudyStore, type Method, type Pair, type StudyConfig } from "../src/rating/store.js";
import { UserError } from "../src/engine/errors.js";

const root = mkdtempSync(join(tmpdir(), "grpo-guard-rating-api-"));
after(() => rmSync(root, { recursive: true, force: true }));

const PAIRS = 5;
const SECRET_LABELS = ["secret-run-alpha", "secret-run-beta"];

/** A study of 5 pairs with tiny grey PNGs, sides alternating. */
function makeStudy(dir: string): StudyStore {
  mkdirSync(join(dir, IMAGES_DIR), { recursive: true });
  const hashes: string[] = [];
  for (let k = 0; k < 2 * PAIRS; k++) {
    const png = encodeGridPng(new Float32Array(4).fill(k / 10 - 0.5), { cols: 1, shape: [1, 2, 2], pad: 0, scale: 1 });
    const hash = (k.toString(16) + "0".repeat(64)).slice(0, 64);
    writeFileSync(imagePath(dir, hash), png);
    hashes.push(hash);
  }
  const config: StudyConfig = {
    name: "api", question: "alignment", prompts: ["7"], pairs: PAIRS, seed: 1, steps: 2, shift: 3, guidance: 1, sampleShape: [1, 2, 2],
    token: "0123456789abcdef0123456789abcdef", simulated: true, createdAt: new Date(0).toISOString(),
  };
  const methods: Method[] = SECRET_LABELS.map((label, id) => ({ id, label, method: `${label}-method`, source: `/nowhere/${label}.safetensors`, sha256: "x" }));
  const pairs: Pair[] = Array.from({ length: PAIRS }, (_, k) => ({
    id: k + 1, prompt: "7", noiseIndex: k, methodA: 0, methodB: 1, imageA: hashes[2 * k], imageB: hashes[2 * k + 1], leftIsA: k % 2 === 0,
  }));
  return StudyStore.create(dir, config, methods, pairs);
}

let dir = "";
let store: StudyStore;
let server: RatingServer;
let base = "";
before(async () => {
  dir = join(root, "study");
  store = makeStudy(dir);
  server = await startRatingServer({ store, port: 0 });
  base = server.url;
});
after(async () => {
  await server?.close();
  store?.close();
});

const post = (body: unknown, url = `${base}api/votes`) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
const vote = (rater: string, pairId: number, answer: string, timeMs = 900) => post({ rater, pairId, answer, timeMs });

describe("rating server", () => {
  test("the token is required: 403 without it or with a wrong one; the bare token path redirects", async () => {
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+\/0123456789abcdef0123456789abcdef\/$/);
    const origin = new URL(base).origin;
    for (const path of ["/", "/api/next?rater=x", "/client.js", "/0123456789abcdef0123456789abcdee/", "/0123456789abcdef/api/next?rater=x"]) {
      const r = await fetch(origin + path);
      assert.equal(r.status, 403, path);
      assert.match(await r.text(), /reached through its link/);
    }
    assert.equal((await post({ rater: "x", pairId: 1, answer: "left", timeMs: 1 }, `${origin}/nope/api/votes`)).status, 403);
    const bare = await fetch(base.slice(0, -1) + "?rater=ann", { redirect: "manual" });
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.get("location"), "/0123456789abcdef0123456789abcdef/?rater=ann");
  });

  test("the page and the next pair name no run, no method and no study", async () => {
    const page = await (await fetch(base)).text();
    assert.match(page, /<script type="module" src="client\.js">/);
    assert.match(page, /SIMULATED votes/);
    const next = await (await fetch(`${base}api/next?rater=peek`)).json();
    assert.deepEqual(Object.keys(next.pair).sort(), ["id", "left", "prompt", "question", "right"]);
    assert.equal(next.pair.question, "Which is a clearer 7?");
    for (const secret of [...SECRET_LABELS, "method", "nowhere", '"api"']) {
      assert.ok(!page.includes(secret) && !JSON.stringify(next).includes(secret), `"${secret}" is not revealed`);
    }
    const client = await fetch(`${base}client.js`);
    assert.equal(client.status, 200);
    assert.match(client.headers.get("content-type")!, /javascript/);
  });

  test("malformed bodies are 400, an unknown pair 404, a second vote 409, a huge body 413, a wrong method 405", async () => {
    const bad: [unknown, RegExp][] = [
      ["{not json", /expected JSON/],
      [[1, 2], /body: /],
      [{ rater: "ann", pairId: 1, answer: "up", timeMs: 5 }, /body\.answer/],
      [{ rater: "ann", pairId: 1, answer: "left" }, /body\.timeMs/],
      [{ rater: "ann", pairId: 1.5, answer: "left", timeMs: 5 }, /body\.pairId/],
      [{ rater: "ann", pairId: "1", answer: "left", timeMs: 5 }, /body\.pairId/],
      [{ rater: "ann", pairId: 1, answer: "left", timeMs: -1 }, /body\.timeMs/],
      [{ rater: "<script>", pairId: 1, answer: "left", timeMs: 5 }, /body\.rater/],
      [{ rater: "", pairId: 1, answer: "left", timeMs: 5 }, /body\.rater/],
      [{ rater: "ann", pairId: 1, answer: "left", timeMs: 5, extra: true }, /body/],
    ];
    for (const [body, message] of bad) {
      const r = await post(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match((await r.json()).error, message);
    }
    const unknown = await vote("ann", 99, "left");
    assert.equal(unknown.status, 404);
    assert.match((await unknown.json()).error, /pair 99: no such pair/);
    const first = await vote("ann", 1, "left", 1234);
    assert.equal(first.status, 201);
    const body = await first.json();
    assert.deepEqual([body.done, body.total, body.pair.id], [1, PAIRS, 2]);
    const again = await vote("ann", 1, "right");
    assert.equal(again.status, 409);
    assert.match((await again.json()).error, /ann has already answered it/);
    const huge = await post({ rater: "ann", pairId: 2, answer: "left", timeMs: 1, pad: "x".repeat(20_000) });
    assert.equal(huge.status, 413);
    assert.equal((await fetch(`${base}api/votes`)).status, 405);
    assert.equal((await fetch(`${base}api/next?rater=ann`, { method: "POST" })).status, 405);
    assert.equal((await fetch(`${base}api/next`)).status, 400, "next needs a rater");
    const stored = store.votes().filter((v) => v.rater === "ann");
    assert.deepEqual(stored.map((v) => [v.pairId, v.answer, v.timeMs]), [[1, "left", 1234]], "only the good vote is stored");
  });

  test("images: a pair's image by hash; anything else is 404", async () => {
    const next = await (await fetch(`${base}api/next?rater=img`)).json();
    const image = await fetch(base + next.pair.left);
    assert.equal(image.status, 200);
    assert.equal(image.headers.get("content-type"), "image/png");
    assert.equal((await fetch(`${base}images/${"f".repeat(64)}.png`)).status, 404);
    assert.equal((await fetch(`${base}images/..%2Fstudy.db`)).status, 404);
    assert.equal((await fetch(`${base}study.db`)).status, 404);
  });

  test("concurrent raters: every vote lands once; a race on one pair gives exactly one 201", async () => {
    const raters = ["cat", "dog", "eel"];
    const responses = await Promise.all(raters.flatMap((rater) => Array.from({ length: PAIRS }, (_, k) => vote(rater, k + 1, ["left", "right", "tie"][(k + rater.length) % 3]))));
    assert.deepEqual(responses.map((r) => r.status), Array(raters.length * PAIRS).fill(201));
    for (const rater of raters) assert.equal(store.answered(rater), PAIRS);
    const race = await Promise.all(Array.from({ length: 6 }, () => vote("fox", 3, "tie")));
    assert.deepEqual(race.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409]);
  });

  test("results: locked until the rater has answered every pair, then counts, names and CSV", async () => {
    const locked = await fetch(`${base}results?rater=ann`);
    assert.equal(locked.status, 403);
    const lockedText = await locked.text();
    assert.match(lockedText, /ann has answered 1 of 5 pairs/);
    assert.ok(!SECRET_LABELS.some((s) => lockedText.includes(s)));
    assert.equal((await fetch(`${base}results`)).status, 403);
    assert.equal((await fetch(`${base}api/results?rater=ann`)).status, 403);
    assert.equal((await fetch(`${base}votes.csv?rater=ann`)).status, 403);

    const page = await fetch(`${base}results?rater=cat`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.ok(SECRET_LABELS.every((s) => html.includes(s)), "names are revealed to a finished rater");
    assert.match(html, /SIMULATED votes/);
    const results = await (await fetch(`${base}api/results?rater=cat`)).json();
    // Expected counts from the stored votes, mapped through each pair's sides by hand.
    const pairs = new Map(store.pairs().map((p) => [p.id, p]));
    const expected = [0, 0, 0];
    for (const v of store.votes()) {
      const leftIsA = pairs.get(v.pairId)!.leftIsA;
      expected[v.answer === "tie" ? 1 : (v.answer === "left") === leftIsA ? 0 : 2] += 1;
    }
    const [row] = results.byMethodPair;
    assert.deepEqual([row.winsA.count, row.ties.count, row.winsB.count], expected);
    assert.equal(results.votes, store.votes().length);
    assert.deepEqual(results.agreement.raters, ["cat", "dog", "eel"], "ann and fox have not finished");
    assert.deepEqual([results.agreement.fleiss.raters, results.agreement.fleiss.pairs, results.agreement.cohen], [3, PAIRS, null]);
    const csv = await fetch(`${base}votes.csv?rater=cat`);
    assert.match(csv.headers.get("content-type")!, /text\/csv/);
    assert.equal((await csv.text()).trim().split("\n").length, store.votes().length + 1);
  });

  test("votes survive a server restart; the next pair continues where the rater stopped", async () => {
    await server.close();
    store.close();
    store = StudyStore.open(dir);
    server = await startRatingServer({ store, port: 0 });
    assert.equal(new URL(server.url).pathname, new URL(base).pathname, "same token after a restart");
    base = server.url;
    const next = await (await fetch(`${base}api/next?rater=ann`)).json();
    assert.deepEqual([next.done, next.pair.id], [1, store.orderFor("ann").find((id) => id !== 1)]);
    assert.equal((await vote("ann", 1, "tie")).status, 409, "the old vote still counts");
    const done = await (await fetch(`${base}api/next?rater=cat`)).json();
    assert.deepEqual([done.finished, done.pair, done.done], [true, null, PAIRS]);
  });

  test("each rater has an order of their own, a permutation of the pairs that never changes", async () => {
    const raters = ["ann", "bob", "cat", "dog", "eel", "fox"];
    const orders = raters.map((r) => store.orderFor(r));
    for (const order of orders) assert.deepEqual([...order].sort(), [1, 2, 3, 4, 5]);
    assert.ok(new Set(orders.map((o) => o.join())).size >= 3, `orders differ between raters: ${orders.map((o) => o.join("")).join(" ")}`);
    const reopened = StudyStore.open(dir);
    assert.deepEqual(raters.map((r) => reopened.orderFor(r)), orders, "the same after reopening");
    reopened.close();
    // A fresh rater is shown their own first pair, then their second, whatever others answered.
    const order = store.orderFor("gus");
    const first = await (await fetch(`${base}api/next?rater=gus`)).json();
    assert.equal(first.pair.id, order[0]);
    const second = await (await vote("gus", order[0], "tie")).json();
    assert.equal(second.pair.id, order[1]);
  });

  test("the store refuses to overwrite a study and names a file that is no study", () => {
    assert.throws(() => makeStudy(dir), (e: Error) => e instanceof UserError && /a study already exists here/.test(e.message));
    const junk = join(root, "junk");
    mkdirSync(junk);
    writeFileSync(join(junk, "study.db"), "this is not sqlite");
    assert.throws(() => StudyStore.open(junk), (e: Error) => e instanceof UserError && /junk\/study\.db: not a rating study database/.test(e.message));
    assert.throws(() => StudyStore.open(join(root, "none")), /no rating study here/);
  });

  test("a port in use is a named error", async () => {
    await assert.rejects(startRatingServer({ store, port: server.port }), (e: Error) => e instanceof UserError && /port \d+ on 127\.0\.0\.1 is already in use/.test(e.message));
  });
});
