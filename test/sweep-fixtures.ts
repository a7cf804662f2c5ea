/** Shared pieces of the sweep tests: a tiny toy sweep, run-directory readers, a redis-server on a free loopback port. */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify as toYaml } from "yaml";
import { decodeSafetensors } from "../src/engine/safetensors.js";

export const bin = fileURLToPath(new URL("../../bin/grpo-guard.js", import.meta.url));
export const env = { ...process.env, GRPO_GUARD_THREADS: "1" };

/** A toy run (random mlp-2d, toy-mode reward): ~0.3 s per epoch on one thread. */
export function toyBase(epochs: number): Record<string, unknown> {
  return {
    name: "toy",
    seed: 3,
    model: { preset: "mlp-2d" },
    algorithm: "grpo-guard",
    dynamics: "flow-sde",
    sampling: { steps: 6, window: { mode: "random", candidates: [2, 4, 6] } },
    prompts: { pool: [""], perEpoch: 4 },
    groupSize: 8,
    rewards: [{ name: "toy-mode" }],
    train: { epochs, minibatch: 8, lr: 3e-3 },
    eval: { every: 3, steps: 6, perPrompt: 8 },
    checkpoint: { every: 1, keep: 2 },
  };
}

/** Write a base config and a sweep file over it; returns the sweep file's path. */
export function writeSweep(dir: string, name: string, epochs: number, sweep: Record<string, unknown>): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}-base.yaml`), toYaml(toyBase(epochs)));
  const path = join(dir, `${name}.sweep.yaml`);
  writeFileSync(path, toYaml({ name, base: `${name}-base.yaml`, ...sweep }));
  return path;
}

export function cli(args: string[], extraEnv: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...env, ...extraEnv } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `id  name  overrides` lines of `sweep --plan`. */
export function plan(args: string[]): { id: string; name: string }[] {
  const r = cli(["sweep", ...args, "--plan"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.trim().split("\n").map((line) => {
    const [id, name] = line.split(/\s+/);
    return { id, name };
  });
}

/** SHA-256 over the tensors of a run's final EMA policy (metadata left out). */
export function policyHash(runDir: string): string {
  const { tensors } = decodeSafetensors(readFileSync(join(runDir, "policy-ema.safetensors")), runDir);
  return createHash("sha256").update(Buffer.concat([...tensors.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, t]) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)))).digest("hex");
}

export function sessionEvents(runDir: string): { event: string; pid: number; resumeFrom?: number | null; tookOver?: string }[] {
  const path = join(runDir, "sweep.jsonl");
  return existsSync(path) ? readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l)) : [];
}

/** Epoch numbers recorded in metrics.jsonl, in file order. */
export function recordedEpochs(runDir: string): number[] {
  return readFileSync(join(runDir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { type: string; epoch: number }).filter((r) => r.type === "epoch").map((r) => r.epoch);
}

export const runDirs = (runsDir: string): string[] => readdirSync(runsDir).filter((f) => /-s\d+$/.test(f)).sort();

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, check: () => boolean, timeoutMs = 60_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const safe = () => {
    try {
      return check();
    } catch {
      return false; // e.g. a metrics line being written right now
    }
  };
  while (!safe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** redis-server on the PATH (or in /usr/bin, where Debian's package puts it), or null. */
export const REDIS_SERVER = [...(process.env.PATH ?? "").split(":").filter(Boolean), "/usr/bin", "/usr/local/bin"].map((d) => join(d, "redis-server")).find(existsSync) ?? null;

/** A redis-server on 127.0.0.1:`port` with its data (AOF, fsync always) in `dir`, so a restart keeps the queue. */
export async function startRedis(port: number, dir: string, password?: string): Promise<ChildProcess> {
  mkdirSync(dir, { recursive: true });
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always", ...(password ? ["--requirepass", password] : [])];
  const server = spawn(REDIS_SERVER!, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  server.stdout!.on("data", (d) => (out += String(d)));
  await until(`redis-server on port ${port}`, () => /Ready to accept connections/.test(out), 10_000);
  return server;
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.kill(signal);
  });
}

/** A `grpo-guard worker` process; `log` collects its stderr. */
export function startWorker(url: string, runsDir: string, extra: string[] = []): ChildProcess & { log: string[] } {
  const child = spawn(process.execPath, [bin, "worker", "--queue", url, "--runs-dir", runsDir, "--concurrency", "1", "--threads", "1", "--lock-ms", "3000", "--stalled-ms", "1000", ...extra], { env, stdio: ["ignore", "ignore", "pipe"] }) as ChildProcess & { log: string[] };
  child.log = [];
  child.stderr!.on("data", (d) => child.log.push(String(d)));
  return child;
}
