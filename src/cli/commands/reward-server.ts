import type { Command } from "commander";
import { initEngine } from "../../engine/jax.js";
import { createReward } from "../../rewards/registry.js";
import { createRewardServer, DEFAULT_MAX_BYTES, listen } from "../../rewards/http.js";
import { nonNegativeInt, positiveInt } from "../options.js";

/** 127.0.0.0/8, ::1 and "localhost": reachable from this machine only. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host);
}

export function registerRewardServer(program: Command): void {
  program
    .command("reward-server")
    .description("serve a reward over HTTP (POST /score, GET /health) for trainers in other processes")
    .requiredOption("-r, --reward <name>", "reward to serve (digit-ocr, aesthetic, toy-mode)")
    .option("-p, --port <n>", "port (0 = any free port)", nonNegativeInt("--port"), 8100)
    .option("--host <address>", "address to bind (loopback by default)", "127.0.0.1")
    .option("--max-bytes <n>", "largest accepted request body", positiveInt("--max-bytes"), DEFAULT_MAX_BYTES)
    .action(async (opts: { reward: string; port: number; host: string; maxBytes: number }) => {
      if (!isLoopback(opts.host)) {
        process.stderr.write(`warning: --host ${opts.host} is not a loopback address: the reward server has no authentication, and anyone who can reach ${opts.host}:${opts.port} can use it\n`);
      }
      await initEngine();
      const reward = createReward(opts.reward);
      const server = createRewardServer(reward, { maxBytes: opts.maxBytes });
      const port = await listen(server, opts.port, opts.host);
      console.log(`reward "${reward.name}" served at http://${opts.host}:${port} (POST /score, GET /health); Ctrl-C to stop`);
      await new Promise<void>((resolve) => {
        const stop = () => server.close(() => resolve());
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      reward.dispose?.();
    });
}
