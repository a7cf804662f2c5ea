/**
 * Shared by the rating command tests: tiny fixture runs (a freshly initialised dit-tiny saved
 * as policy-ema.safetensors — no training) and starting / stopping `grpo-guard rate`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { keyFromSeed } from "../src/engine/prng.js";
import { saveParams } from "../src/engine/safetensors.js";
import { disposeTree } from "../src/engine/tree.js";
import { createModel, presetConfig } from "../src/models/registry.js";

export const bin = fileURLToPath(new URL("../../bin/grpo-guard.js", import.meta.url));
export const env = { ...process.env, GRPO_GUARD_THREADS: "1" };

/** A run directory holding only a freshly initialised tiny model as its final policy. */
export async function fixtureRun(root: string, name: string, seed: number, algorithm: string): Promise<string> {
  const dir = join(root, "runs", name);
  mkdirSync(dir, { recursive: true });
  const config = presetConfig("dit-tiny");
  const params = createModel(config).init(keyFromSeed(seed));
  await saveParams(join(dir, "policy-ema.safetensors"), params, { format: "grpo-guard/model", config, trainedWith: { algorithm, dynamics: "flow-sde" } });
  disposeTree(params);
  return dir;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const address = s.address();
      s.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export interface Cli {
  child: ChildProcess;
  url: string;
  out: () => string;
  err: () => string;
}

/** Start `grpo-guard rate …` and wait for the URL it prints. */
export async function startCli(args: string[]): Promise<Cli> {
  const child = spawn(process.execPath, [bin, "rate", ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rate did not start:\n${out}\n${err}`)), 60_000);
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /rating page at (http:\/\/\S+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`rate exited with ${code}:\n${out}\n${err}`)));
  });
  return { child, url, out: () => out, err: () => err };
}

export async function stopCli(cli: Cli): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => cli.child.on("exit", (code) => resolve(code)));
  cli.child.kill("SIGTERM");
  return exited;
}

export const rate = (...args: string[]) => spawnSync(process.execPath, [bin, "rate", ...args], { encoding: "utf8", env, timeout: 60_000 });
