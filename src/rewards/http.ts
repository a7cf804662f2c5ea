/**
 * Rewards in another process (the flow_grpo pattern): a small HTTP server around any
 * in-process reward, and a client reward that calls it.
 *
 * Protocol (JSON): POST /score  {"sampleShape": [1,28,28], "prompts": [...], "images": "<base64
 * of little-endian float32, B × ∏sampleShape>"}  →  {"scores": [B numbers]};  GET /health →
 * {"ok": true, "reward": name}. Bodies above `maxBytes` get 413; malformed requests 400.
 *
 * The client waits at most `timeoutMs` per attempt, retries `retries` times with exponential
 * backoff, validates the answer (JSON, length, finite numbers) and otherwise fails with an
 * error naming the reward — it never substitutes zeros.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { UserError } from "../engine/errors.js";
import type { Reward, RewardBatch } from "./reward.js";

export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/** An HTTP status with a one-line message for the client (4xx: the client's mistake). */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The request body, at most `maxBytes` (declared or, for a chunked body, counted). Past the
 * limit the rest is read and dropped, so that the client can still read the 413 answer
 * (destroying the socket would reset the connection under it).
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? NaN);
    if (declared > maxBytes) {
      req.resume();
      return reject(new HttpError(413, `request of ${declared} bytes exceeds the limit of ${maxBytes}`));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > maxBytes) {
        over = true;
        chunks.length = 0;
        reject(new HttpError(413, `request exceeds the limit of ${maxBytes} bytes`));
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Most values one sample may have (a 4096×4096×4 image); beyond it sampleShape is a mistake. */
const MAX_SAMPLE_VALUES = 1 << 26;

export function decodeScoreRequest(body: Buffer): RewardBatch {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "body is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, `body must be a JSON object {sampleShape, prompts, images}, got ${parsed === null ? "null" : Array.isArray(parsed) ? "a list" : typeof parsed}`);
  }
  const { sampleShape, prompts, images } = parsed as { sampleShape?: unknown; prompts?: unknown; images?: unknown };
  if (!Array.isArray(sampleShape) || sampleShape.length === 0 || !sampleShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new HttpError(400, "sampleShape must be a non-empty list of positive integers");
  }
  const per = (sampleShape as number[]).reduce((a, b) => a * b, 1);
  if (per > MAX_SAMPLE_VALUES) throw new HttpError(400, `sampleShape [${sampleShape.join(", ")}] has ${per} values per sample (at most ${MAX_SAMPLE_VALUES})`);
  if (!Array.isArray(prompts) || !prompts.every((p) => typeof p === "string")) throw new HttpError(400, "prompts must be a list of strings");
  if (prompts.length === 0) throw new HttpError(400, "prompts is empty: send at least one image and its prompt");
  if (typeof images !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(images)) throw new HttpError(400, "images must be a base64 string of little-endian float32 values");
  const bytes = Buffer.from(images, "base64");
  if (bytes.length !== prompts.length * per * 4) throw new HttpError(400, `images hold ${bytes.length / 4} values, expected ${prompts.length} prompts × ${per} values (sampleShape [${sampleShape.join(", ")}])`);
  const data = new Float32Array(bytes.length / 4);
  Buffer.from(data.buffer).set(bytes);
  const bad = data.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) throw new HttpError(400, `images: value ${bad} (image ${Math.floor(bad / per)}) is ${data[bad]}; pixels must be finite`);
  return { images: data, sampleShape: sampleShape as number[], prompts: prompts as string[] };
}

export function encodeScoreRequest(batch: RewardBatch): string {
  const { images, sampleShape, prompts } = batch;
  return JSON.stringify({ sampleShape, prompts, images: Buffer.from(images.buffer, images.byteOffset, images.byteLength).toString("base64") });
}

export interface RewardServerOptions {
  maxBytes?: number;
}

/** An HTTP server scoring with `reward` (not yet listening). */
export function createRewardServer(reward: Reward, options: RewardServerOptions = {}): Server {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  return createServer((req, res) => {
    void (async () => {
      try {
        if (req.method === "GET" && req.url === "/health") return send(res, 200, { ok: true, reward: reward.name });
        if (req.method !== "POST" || req.url !== "/score") throw new HttpError(404, `no route ${req.method} ${req.url} (use POST /score or GET /health)`);
        const batch = decodeScoreRequest(await readBody(req, maxBytes));
        batch.prompts.forEach((prompt, i) => {
          try {
            reward.checkPrompt?.(prompt);
          } catch (err) {
            throw err instanceof UserError ? new HttpError(400, `prompts[${i}]: ${err.message}`) : err;
          }
        });
        let scores: Float32Array;
        try {
          scores = await reward.score(batch);
        } catch (err) {
          // A UserError is the reward rejecting this input (shape, prompt): the client's mistake.
          throw err instanceof UserError ? new HttpError(400, err.message) : err;
        }
        send(res, 200, { scores: Array.from(scores, (x) => (Number.isFinite(x) ? x : null)) });
      } catch (err) {
        const status = err instanceof HttpError ? err.status : 500;
        if (status === 413) res.setHeader("connection", "close");
        const message = status === 500 ? `internal error in reward "${reward.name}"` : (err as Error).message;
        if (status === 500) process.stderr.write(`reward-server: ${(err as Error).stack ?? String(err)}\n`);
        send(res, status, { error: message });
      }
    })();
  });
}

export function listen(server: Server, port: number, host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "EADDRINUSE"
          ? new UserError(`port ${port} on ${host} is already in use; choose another with --port`)
          : new UserError(`cannot listen on ${host}:${port} (${err.code ?? "error"}: ${err.message.replace(/^[A-Z]+: /, "")}); check --host and --port`),
      ),
    );
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export interface HttpRewardOptions {
  url: string;
  name?: string;
  timeoutMs?: number;
  retries?: number;
  backoffMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function httpReward(options: HttpRewardOptions): Reward {
  const base = options.url.replace(/\/+$/, "");
  const name = options.name ?? base;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const retries = options.retries ?? 3;
  const backoffMs = options.backoffMs ?? 500;
  return {
    name,
    async score(batch) {
      const body = encodeScoreRequest(batch);
      let lastError = "";
      for (let attempt = 0; attempt <= retries; attempt++) {
        if (attempt > 0) await sleep(backoffMs * 2 ** (attempt - 1));
        let response: Response;
        try {
          response = await fetch(`${base}/score`, { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.timeout(timeoutMs) });
        } catch (err) {
          const e = err as Error & { cause?: { code?: string } };
          lastError = e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message);
          continue;
        }
        const text = await response.text();
        if (response.status >= 500) {
          lastError = `HTTP ${response.status}: ${text.slice(0, 200)}`;
          continue;
        }
        if (response.status !== 200) throw new UserError(`reward "${name}": server refused the request (HTTP ${response.status}: ${text.slice(0, 200)})`);
        return parseScores(text, batch.prompts.length, name);
      }
      throw new UserError(`reward "${name}": reward server at ${base} failed after ${retries + 1} attempts (${lastError}); the epoch was not trained`);
    },
  };
}

export function parseScores(text: string, expected: number, name: string): Float32Array {
  let parsed: { scores?: unknown };
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UserError(`reward "${name}": malformed server response (not JSON: ${JSON.stringify(text.slice(0, 80))})`);
  }
  const scores = parsed?.scores;
  if (!Array.isArray(scores)) throw new UserError(`reward "${name}": malformed server response (no "scores" list)`);
  if (scores.length !== expected) throw new UserError(`reward "${name}": malformed server response (${scores.length} scores for ${expected} images)`);
  const bad = scores.findIndex((x) => typeof x !== "number" || !Number.isFinite(x));
  if (bad >= 0) throw new UserError(`reward "${name}": malformed server response (score ${bad} is ${JSON.stringify(scores[bad])}, expected a finite number)`);
  return Float32Array.from(scores as number[]);
}
