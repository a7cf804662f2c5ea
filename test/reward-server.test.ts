import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { initEngine } from "../src/engine/jax.js";
import { UserError } from "../src/engine/errors.js";
import { gatherImages, indicesByClass, loadDigits } from "../src/data/mnist.js";
import { digitOcrReward } from "../src/rewards/digit-ocr.js";
import { createRewardServer, httpReward, listen, parseScores } from "../src/rewards/http.js";
import type { Reward } from "../src/rewards/reward.js";

await initEngine();
const bin = fileURLToPath(new URL("../../bin/grpo-guard.js", import.meta.url));
const train = loadDigits("train");
const rows = indicesByClass(train).flatMap((r) => r.slice(0, 4));
const batch = { images: gatherImages(train, rows), sampleShape: [1, 28, 28], prompts: rows.map((r) => String(train.labels[r])) };

/** Start `grpo-guard reward-server` on a free port; resolves with its URL and the child. */
function startServer(reward: string, extra: string[] = []) {
  return new Promise<{ url: string; child: ReturnType<typeof spawn> }>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "reward-server", "--reward", reward, "--port", "0", ...extra], { env: { ...process.env, GRPO_GUARD_THREADS: "1" } });
    let out = "";
    child.stdout!.on("data", (d) => {
      out += String(d);
      const m = /served at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve({ url: m[1], child });
    });
    child.on("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
}

test("remote reward server: health, same scores as in-process, oversize request → 413", async () => {
  const { url, child } = await startServer("digit-ocr", ["--max-bytes", "200000"]);
  try {
    const health = await (await fetch(`${url}/health`)).json();
    assert.deepEqual(health, { ok: true, reward: "digit-ocr" });
    const local = digitOcrReward();
    const remote = httpReward({ url });
    assert.deepEqual(await remote.score(batch), await local.score(batch));
    local.dispose?.();
    const big = { ...batch, images: new Float32Array(100 * 784), prompts: Array.from({ length: 100 }, () => "1") };
    const response = await fetch(`${url}/score`, { method: "POST", body: JSON.stringify({ sampleShape: [1, 28, 28], prompts: big.prompts, images: Buffer.from(big.images.buffer).toString("base64") }) });
    assert.equal(response.status, 413);
    await assert.rejects(remote.score(big), /server refused the request \(HTTP 413/);
  } finally {
    child.kill("SIGTERM");
  }
});

test("a slow server times out and is retried with backoff, then the epoch fails with a clear error", async () => {
  let calls = 0;
  const slow = createServer((_req, res) => {
    calls++;
    setTimeout(() => res.end("{}"), 1000);
  });
  const port = await listen(slow, 0);
  const started = Date.now();
  const reward = httpReward({ url: `http://127.0.0.1:${port}`, timeoutMs: 100, retries: 2, backoffMs: 50 });
  await assert.rejects(reward.score(batch), (e: Error) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /reward server at http:\/\/127\.0\.0\.1:\d+ failed after 3 attempts \(no answer within 100 ms\); the epoch was not trained/);
    return true;
  });
  assert.equal(calls, 3);
  assert.ok(Date.now() - started >= 3 * 100 + 50 + 100, "waited for timeouts and backoff");
  slow.closeAllConnections();
  slow.close();
});

test("a server that fails once is retried and then answers", async () => {
  let calls = 0;
  const inner: Reward = { name: "const", score: async ({ prompts }) => new Float32Array(prompts.length).fill(0.25) };
  const real = createRewardServer(inner);
  const flaky = createServer((req, res) => {
    if (++calls === 1) {
      res.writeHead(503).end("busy");
      return;
    }
    real.emit("request", req, res);
  });
  const port = await listen(flaky, 0);
  const scores = await httpReward({ url: `http://127.0.0.1:${port}`, retries: 2, backoffMs: 10 }).score(batch);
  assert.equal(calls, 2);
  assert.ok(scores.every((x) => x === 0.25));
  flaky.close();
});

test("server killed mid-run → clear error naming the reward, never zeros", async () => {
  const { url, child } = await startServer("aesthetic");
  const reward = httpReward({ url, name: "remote-aesthetic", retries: 1, backoffMs: 20, timeoutMs: 500 });
  const ok = await reward.score(batch);
  assert.ok(ok.every((x) => x > 0));
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  await assert.rejects(reward.score(batch), /reward "remote-aesthetic": reward server at .* failed after 2 attempts \(ECONNREFUSED\)/);
});

test("malformed responses are rejected with the reward's name: wrong length, NaN, non-JSON", () => {
  assert.throws(() => parseScores('{"scores": [1, 2]}', 3, "r1"), /reward "r1": malformed server response \(2 scores for 3 images\)/);
  assert.throws(() => parseScores('{"scores": [1, null, 2]}', 3, "r2"), /reward "r2": malformed server response \(score 1 is null, expected a finite number\)/);
  assert.throws(() => parseScores("<html>oops</html>", 3, "r3"), /reward "r3": malformed server response \(not JSON/);
  assert.throws(() => parseScores('{"score": 1}', 1, "r4"), /no "scores" list/);
});

test("port in use → clear error with the port", async () => {
  const blocker = createServer();
  const port = await listen(blocker, 0);
  await assert.rejects(listen(createServer(), port), new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
  blocker.close();
});

test("client mistakes are 4xx with one line (never 500): null body, wrong sampleShape, prompts 'cat'/'10'/[], NaN/±Inf pixels", async () => {
  const reward = digitOcrReward();
  const server = createRewardServer(reward);
  const port = await listen(server, 0);
  const image = Buffer.from(new Float32Array(784).buffer).toString("base64");
  const post = async (body: unknown) => {
    const r = await fetch(`http://127.0.0.1:${port}/score`, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) });
    return { status: r.status, error: ((await r.json()) as { error?: string }).error ?? "" };
  };
  try {
    const cases: [unknown, RegExp][] = [
      ["null", /body must be a JSON object/],
      [{ sampleShape: [28, 28], prompts: ["1"], images: image }, /digit classifier expects images of shape \[1,28,28\], got \[28,28\]/],
      [{ sampleShape: [1, 28, 28], prompts: ["cat"], images: image }, /prompts\[0\]: digit-ocr: prompt "cat" names no digit/],
      [{ sampleShape: [1, 28, 28], prompts: ["10"], images: image }, /prompts\[0\]: digit-ocr: prompt "10" names no digit/],
      [{ sampleShape: [1, 28, 28], prompts: [], images: "" }, /prompts is empty/],
    ];
    for (const special of [NaN, Infinity, -Infinity]) {
      const pixels = new Float32Array(784);
      pixels[5] = special;
      cases.push([{ sampleShape: [1, 28, 28], prompts: ["1"], images: Buffer.from(pixels.buffer).toString("base64") }, new RegExp(`images: value 5 \\(image 0\\) is ${special}; pixels must be finite`)]);
    }
    for (const [body, message] of cases) {
      const { status, error } = await post(body);
      assert.equal(status, 400, `${JSON.stringify(body).slice(0, 60)} → ${error}`);
      assert.match(error, message);
      assert.doesNotMatch(error, /\n/);
    }
  } finally {
    server.close();
    reward.dispose?.();
  }
});

test("--host other than loopback: a warning, and an address that cannot be bound is one line", () => {
  const r = spawnSync(process.execPath, [bin, "reward-server", "--reward", "aesthetic", "--host", "192.0.2.1", "--port", "0"], { encoding: "utf8", env: { ...process.env, GRPO_GUARD_THREADS: "1" }, timeout: 20_000 });
  assert.match(r.stderr, /warning: --host 192\.0\.2\.1 is not a loopback address/);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /grpo-guard: cannot listen on 192\.0\.2\.1:0 \(EADDRNOTAVAIL/);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
});
