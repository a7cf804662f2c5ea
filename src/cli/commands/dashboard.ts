import type { Command } from "commander";
import { UserError } from "../../engine/errors.js";
import { resolveRunDirs } from "../../dashboard/runs.js";
import { startDashboard } from "../../dashboard/server.js";
import { nonNegativeInt, positiveInt } from "../options.js";

/** `dashboard`: the live page (its static twin is `report`). */
export function registerDashboard(program: Command): void {
  program
    .command("dashboard")
    .description("live web dashboard of training runs on 127.0.0.1: proxy/gold curves, per-timestep ratio statistics, image timeline")
    .argument("[run-dirs...]", "run directories (default: every run directory under ./runs)")
    .option("-p, --port <n>", "port on 127.0.0.1 (0 = any free port)", nonNegativeInt("--port"), 8200)
    .option("--poll <ms>", "how often to check metrics.jsonl and images/ for changes", positiveInt("--poll"), 1000)
    .action(async (dirs: string[], opts: { port: number; poll: number }) => {
      if (opts.port > 65535) throw new UserError(`--port expects a port number up to 65535, got ${opts.port}`);
      const runs = resolveRunDirs(dirs);
      const dashboard = await startDashboard({ runs, port: opts.port, pollMs: opts.poll, log: (line) => process.stderr.write(line + "\n") });
      console.log(`dashboard of ${runs.length} run${runs.length === 1 ? "" : "s"} at ${dashboard.url} (live; Ctrl-C to stop)`);
      for (const dir of runs) console.log(`  ${dir}`);
      await new Promise<void>((resolve) => {
        const stop = () => void dashboard.close().then(resolve);
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });
}
