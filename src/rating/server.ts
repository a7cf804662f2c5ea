/**
 * The rating server: node:http on 127.0.0.1 (as the dashboard), every route under the study's
 * secret token, `/<token>/…`; anything else is 403. The rater page (page.ts + client.ts) asks
 * /api/next for the rater's first unanswered pair and POSTs each answer to /api/votes:
 * 201 recorded, 400 malformed body, 404 unknown pair, 409 second vote by the same rater.
 * Results (which reveal the runs' names) are served to a rater who has answered every pair.
 */
import { timingSafeEqual } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { UserError } from "../engine/errors.js";
import { raterPageHtml, resultsPageHtml, lockedResultsHtml } from "./page.js";
import { QUESTION_TEXT, studyResults, votesCsv } from "./results.js";
import { ANSWERS, imagePath, type StudyStore } from "./store.js";

export interface RatingServerOptions {
  store: StudyStore;
  port: number;
  host?: string;
  log?: (line: string) => void;
}

export interface RatingServer {
  /** The study's URL, token included. */
  url: string;
  port: number;
  close(): Promise<void>;
}

export const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "::1"]);

/** Letters, digits, spaces and . _ @ - ; 1 to 64 characters. */
export const RATER_PATTERN = /^[\p{L}\p{N} ._@-]{1,64}$/u;
const MAX_BODY = 16 * 1024;
const MAX_TIME_MS = 24 * 3600 * 1000;

const VoteBody = z.strictObject({
  rater: z.string().trim().regex(RATER_PATTERN, "a rater id of 1–64 letters, digits, spaces or . _ @ -"),
  pairId: z.number().int().positive(),
  answer: z.enum(ANSWERS),
  timeMs: z.number().finite().nonnegative().max(MAX_TIME_MS),
});

const CLIENT = fileURLToPath(new URL("./client.js", import.meta.url));

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
      else if (size > 64 * MAX_BODY) req.destroy();
    });
    // Read an oversized body to its end (and drop it), so the client gets the 413 answer.
    req.on("end", () => (size > MAX_BODY ? reject(new HttpError(413, `request body over ${MAX_BODY} bytes`)) : resolve(Buffer.concat(chunks).toString("utf8"))));
    req.on("error", reject);
  });
}

function sameSecret(given: string, secret: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startRatingServer(options: RatingServerOptions): Promise<RatingServer> {
  const { store } = options;
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? (() => {});
  const { token } = store.config;
  const total = store.pairs().length;

  const json = (res: ServerResponse, status: number, body: unknown): void =>
    void res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" }).end(JSON.stringify(body));
  const html = (res: ServerResponse, status: number, body: string): void =>
    void res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(body);
  const text = (res: ServerResponse, status: number, body: string): void => void res.writeHead(status, { "content-type": "text/plain; charset=utf-8" }).end(body + "\n");

  function raterOf(url: URL): string {
    const rater = (url.searchParams.get("rater") ?? "").trim();
    if (!RATER_PATTERN.test(rater)) throw new HttpError(400, "rater: expected ?rater= with 1–64 letters, digits, spaces or . _ @ -");
    return rater;
  }

  function nextFor(rater: string) {
    const pair = store.nextPair(rater);
    const done = store.answered(rater);
    if (!pair) return { rater, done, total, finished: true, pair: null };
    const [left, right] = pair.leftIsA ? [pair.imageA, pair.imageB] : [pair.imageB, pair.imageA];
    const question = QUESTION_TEXT[store.config.question](pair.prompt);
    return { rater, done, total, finished: false, pair: { id: pair.id, prompt: pair.prompt, question, left: `images/${left}.png`, right: `images/${right}.png` } };
  }

  async function vote(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new HttpError(400, "body: expected JSON {rater, pairId, answer, timeMs}");
    }
    const body = VoteBody.safeParse(parsed);
    if (!body.success) {
      const issue = body.error.issues[0];
      throw new HttpError(400, `body${issue.path.length ? "." + issue.path.join(".") : ""}: ${issue.message}`);
    }
    const { rater, pairId, answer, timeMs } = body.data;
    const result = store.recordVote(rater, pairId, answer, timeMs);
    if (result.status === "unknown-pair") throw new HttpError(404, `pair ${pairId}: no such pair in this study (1–${total})`);
    if (result.status === "duplicate") throw new HttpError(409, `pair ${pairId}: ${rater} has already answered it`);
    json(res, 201, { recorded: result.vote.id, ...nextFor(rater) });
  }

  function serveFile(res: ServerResponse, path: string, type: string): void {
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return void text(res, 404, "not found");
    }
    res.writeHead(200, { "content-type": type, "content-length": size, "cache-control": "private, max-age=3600" });
    createReadStream(path).on("error", () => res.destroy()).pipe(res);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const [, given = "", ...rest] = url.pathname.split("/");
    if (!sameSecret(given, token)) return void text(res, 403, "forbidden: this rating study is reached through its link (with the token)");
    const route = "/" + rest.join("/");
    if (route === "/api/votes") {
      if (req.method !== "POST") return void res.writeHead(405, { allow: "POST" }).end();
      return vote(req, res);
    }
    if (req.method !== "GET") return void res.writeHead(405, { allow: "GET" }).end();
    if (rest.length === 0) {
      // /<token> → /<token>/ so that the page's relative links resolve under the token.
      return void res.writeHead(301, { location: `/${token}/${url.search}` }).end();
    }
    if (route === "/") return html(res, 200, raterPageHtml(store.config, total));
    if (route === "/client.js") return serveFile(res, CLIENT, "text/javascript; charset=utf-8");
    if (route === "/api/next") return json(res, 200, nextFor(raterOf(url)));
    const image = /^\/images\/([0-9a-f]{64})\.png$/.exec(route);
    if (image && store.hasImage(image[1])) return serveFile(res, imagePath(store.dir, image[1]), "image/png");
    if (route === "/results" || route === "/api/results" || route === "/votes.csv") {
      // The runs' names stay hidden until this rater has answered every pair.
      const rater = (url.searchParams.get("rater") ?? "").trim();
      const valid = RATER_PATTERN.test(rater);
      const done = valid ? store.answered(rater) : 0;
      if (!valid || done < total) {
        if (route === "/results") return html(res, 403, lockedResultsHtml(store.config, valid ? rater : null, done, total));
        throw new HttpError(403, `results are shown to a rater who has answered all ${total} pairs (${valid ? `${rater}: ${done}` : "no ?rater= given"})`);
      }
      const [methods, pairs, votes] = [store.methods(), store.pairs(), store.votes()];
      if (route === "/votes.csv") {
        res.writeHead(200, { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="${store.config.name}-votes.csv"` });
        return void res.end(votesCsv(store.config, methods, pairs, votes));
      }
      const results = studyResults(store.config, methods, pairs, votes);
      return route === "/results" ? html(res, 200, resultsPageHtml(results, rater)) : json(res, 200, results);
    }
    text(res, 404, "not found");
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) {
        if (!res.headersSent) json(res, err.status, { error: err.message });
        return;
      }
      log(`rate: ${req.method} ${req.url}: ${(err as Error).message}`);
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("internal error\n");
    });
  });

  await new Promise<void>((resolvePromise, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") reject(new UserError(`rate: port ${options.port} on ${host} is already in use; choose another with --port`));
      else if (err.code === "EACCES") reject(new UserError(`rate: no permission to listen on port ${options.port} on ${host}; choose another with --port`));
      else if (err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND") reject(new UserError(`--host: ${host} is not an address of this machine`));
      else reject(err);
    });
    server.listen(options.port, host, () => resolvePromise());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/${token}/`,
    port,
    close: () =>
      new Promise<void>((resolvePromise) => {
        server.close(() => resolvePromise());
        server.closeAllConnections();
      }),
  };
}
