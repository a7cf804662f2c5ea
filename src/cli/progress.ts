/** Progress bars for long work (steps, ETA, live metrics) on stderr. */
import cliProgress from "cli-progress";

export interface Bar {
  update(value: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

export function progressBar(label: string, total: number, payloadFormat = ""): Bar {
  if (!process.stderr.isTTY) {
    // Non-interactive (logs, CI): a line every ~5% instead of a redrawn bar.
    let lastShown = -1;
    const started = Date.now();
    return {
      update(value, payload = {}) {
        const bucket = Math.floor((value / total) * 20);
        if (bucket === lastShown && value !== total) return;
        lastShown = bucket;
        const elapsed = (Date.now() - started) / 1000;
        const eta = value > 0 ? (elapsed / value) * (total - value) : NaN;
        const extras = Object.entries(payload).map(([k, v]) => `${k} ${v}`).join(" ");
        process.stderr.write(`${label} ${value}/${total} ${extras} elapsed ${elapsed.toFixed(0)}s eta ${Number.isFinite(eta) ? eta.toFixed(0) : "?"}s\n`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} | ETA {eta_formatted} ${payloadFormat}`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update: (value, payload) => bar.update(value, payload),
    stop: () => bar.stop(),
  };
}
