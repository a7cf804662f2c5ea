/**
 * The dashboard server: a small HTTP server on 127.0.0.1 that serves the page
 * (src/dashboard/page.ts + client.ts, uPlot from node_modules), the runs' evaluation grids,
 * and a server-sent event stream. It polls every run's metrics.jsonl and images/ folder; when
 * the file grows it sends the new records (`append`), when it was cut back (a resumed run)
 * the whole run again (`reset`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createReadStream, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../engine/errors.js";
import { IMAGE_PATTERN, listImages, loadRun, METRICS_FILE, runNames } from "./runs.js";
import { imageName, slimRecord, type RunSnapshot, type SlimRecord } from "./series.js";
import { pageHtml } from "./page.js";

export interface DashboardOptions {
  /** Absolute run directories (see resolveRunDirs). */
  runs: readonly string[];
  port: number;
  host?: string;
  /** How often metrics.jsonl and images/ are checked, in milliseconds. */
  pollMs?: number;
  log?: (line: string) => void;
}

export interface Dashboard {
  url: string;
  port: number;
  /** Check every run for changes now (the poll timer does this every pollMs). */
  poll(): void;
  close(): Promise<void>;
}

interface WatchedRun {
  snapshot: RunSnapshot;
  /** size:mtime of metrics.jsonl when last read. */
  fileKey: string;
  /** The last record sent, serialised, to detect a file rewritten rather than appended to. */
  lastRecord: string;
}

const require = createRequire(import.meta.url);
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** Static files: the page's modules (compiled next to this file) and uPlot from node_modules. */
const STATIC: Record<string, { path: () => string; type: string }> = {
  "/client.js": { path: () => here("./client.js"), type: "text/javascript; charset=utf-8" },
  "/series.js": { path: () => here("./series.js"), type: "text/javascript; charset=utf-8" },
  "/svg.js": { path: () => here("./svg.js"), type: "text/javascript; charset=utf-8" },
  "/gold-panels.js": { path: () => here("./gold-panels.js"), type: "text/javascript; charset=utf-8" },
  "/vendor/uplot.js": { path: () => require.resolve("uplot/dist/uPlot.iife.min.js"), type: "text/javascript; charset=utf-8" },
  "/vendor/uplot.css": { path: () => require.resolve("uplot/dist/uPlot.min.css"), type: "text/css; charset=utf-8" },
};

function fileKey(path: string): string {
  try {
    const s = statSync(path);
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return "missing";
  }
}

function snapshotOf(id: string, name: string, dir: string): RunSnapshot {
  const run = loadRun(dir, name);
  return { id, name, dir, meta: run.meta, records: run.records.map(slimRecord), skipped: run.skipped, images: run.images };
}

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? (() => {});
  const names = runNames(options.runs);
  const runs: WatchedRun[] = options.runs.map((dir, k) => {
    const snapshot = snapshotOf(`r${k}`, names[k], dir);
    return { snapshot, fileKey: fileKey(join(dir, METRICS_FILE)), lastRecord: JSON.stringify(snapshot.records.at(-1) ?? null) };
  });
  const clients = new Set<ServerResponse>();

  const send = (res: ServerResponse, event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const broadcast = (event: string, data: unknown) => clients.forEach((res) => send(res, event, data));

  function pollRun(run: WatchedRun): void {
    const { snapshot } = run;
    const key = fileKey(join(snapshot.dir, METRICS_FILE));
    const images = listImages(snapshot.dir);
    const imagesChanged = images.join(",") !== snapshot.images.join(",");
    if (key === run.fileKey && !imagesChanged) return;
    let fresh: RunSnapshot;
    try {
      fresh = key === run.fileKey ? { ...snapshot, images } : snapshotOf(snapshot.id, snapshot.name, snapshot.dir);
    } catch (err) {
      log(`dashboard: ${(err as Error).message}`);
      return;
    }
    run.fileKey = key;
    const old = snapshot.records.length;
    const appended = fresh.records.length >= old && (old === 0 || JSON.stringify(fresh.records[old - 1]) === run.lastRecord);
    run.snapshot = fresh;
    run.lastRecord = JSON.stringify(fresh.records.at(-1) ?? null);
    if (appended) {
      const records: SlimRecord[] = fresh.records.slice(old);
      broadcast("append", { id: fresh.id, records, skipped: fresh.skipped, images: fresh.images, meta: fresh.meta });
    } else {
      broadcast("reset", fresh);
    }
  }

  const poll = () => runs.forEach(pollRun);

  function serveFile(res: ServerResponse, path: string, type: string, head: boolean): void {
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    res.writeHead(200, { "content-type": type, "content-length": size, "cache-control": "no-cache" });
    if (head) res.end();
    else createReadStream(path).on("error", () => res.destroy()).pipe(res);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://localhost");
    const head = req.method === "HEAD";
    if (req.method !== "GET" && !head) {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (url.pathname === "/" || url.pathname === "/index.html") {
      const body = pageHtml(runs.map((r) => r.snapshot.name));
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" }).end(head ? undefined : body);
      return;
    }
    const asset = STATIC[url.pathname];
    if (asset) return serveFile(res, asset.path(), asset.type, head);
    if (url.pathname === "/api/runs") {
      res.writeHead(200, { "content-type": "application/json" }).end(head ? undefined : JSON.stringify({ runs: runs.map((r) => r.snapshot) }));
      return;
    }
    if (url.pathname === "/events") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
      clients.add(res);
      req.on("close", () => clients.delete(res));
      send(res, "snapshot", { runs: runs.map((r) => r.snapshot) });
      return;
    }
    const image = /^\/runs\/(r\d+)\/images\/([^/]+)$/.exec(url.pathname);
    if (image) {
      const run = runs.find((r) => r.snapshot.id === image[1]);
      const match = IMAGE_PATTERN.exec(image[2]);
      if (run && match) return serveFile(res, join(run.snapshot.dir, "images", imageName(Number(match[1]))), "image/png", head);
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  }

  const server: Server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      log(`dashboard: ${req.url}: ${(err as Error).message}`);
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("internal error\n");
    }
  });

  await new Promise<void>((resolvePromise, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") reject(new UserError(`dashboard: port ${options.port} on ${host} is already in use; choose another with --port`));
      else if (err.code === "EACCES") reject(new UserError(`dashboard: no permission to listen on port ${options.port} on ${host}; choose another with --port`));
      else reject(err);
    });
    server.listen(options.port, host, () => resolvePromise());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;

  const timer = setInterval(poll, options.pollMs ?? 1000);
  // Comments keep proxies and browsers from timing the stream out.
  const keepAlive = setInterval(() => clients.forEach((res) => res.write(": keep-alive\n\n")), 15000);

  return {
    url: `http://${host}:${port}/`,
    port,
    poll,
    close: () =>
      new Promise<void>((resolvePromise) => {
        clearInterval(timer);
        clearInterval(keepAlive);
        clients.forEach((res) => res.end());
        clients.clear();
        server.close(() => resolvePromise());
        server.closeAllConnections();
      }),
  };
}
