/**
 * The dashboard page. Its script is client.ts (compiled next to this file, served as
 * /client.js); uPlot comes from node_modules (/vendor/uplot.js) — nothing from the network.
 */
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function pageHtml(runNames: readonly string[]): string {
  const title = `grpo-guard dashboard — ${runNames.join(", ")}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/vendor/uplot.css">
<style>
  :root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; }
  body { margin: 0 auto; padding: 0 24px 48px; max-width: 1200px; }
  header { display: flex; align-items: baseline; gap: 16px; border-bottom: 1px solid #ddd; }
  h1 { font-size: 20px; margin: 16px 0 12px; }
  h2 { font-size: 16px; margin: 28px 0 4px; }
  h3 { font-size: 14px; margin: 18px 0 2px; }
  .note { color: #666; font-size: 12px; margin: 2px 0 6px; }
  #status { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #eee; }
  #status.live { background: #d9f2d9; color: #185c18; }
  #status.down { background: #f6d6d6; color: #7a1414; }
  #runs { list-style: none; padding: 0; margin: 8px 0; font-size: 13px; }
  #runs li { margin: 4px 0; }
  .swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
  .skipped { color: #9a5b00; margin-left: 8px; }
  .alarm { color: #b00020; margin-left: 8px; }
  .gold-falls { color: #8a4b00; margin-left: 8px; }
  .panels { display: flex; flex-wrap: wrap; gap: 8px 16px; }
  .panels svg { max-width: 100%; height: auto; }
  .controls { display: flex; align-items: center; gap: 16px; font-size: 13px; margin: 6px 0; flex-wrap: wrap; }
  .controls input[type=range] { width: 320px; vertical-align: middle; }
  .chart { min-height: 60px; }
  .empty { color: #888; font-size: 13px; font-style: italic; }
  #images { display: flex; flex-wrap: wrap; gap: 16px; }
  #images figure { margin: 0; }
  #images img { image-rendering: pixelated; max-height: 420px; min-width: 112px; border: 2px solid #ccc; display: block; }
  #images figcaption { font-size: 12px; color: #444; }
</style>
<script src="/vendor/uplot.js"></script>
<script type="module" src="/client.js"></script>
</head>
<body>
<header><h1>grpo-guard dashboard</h1><span id="status">connecting…</span></header>

<section>
  <h2>Runs</h2>
  <ul id="runs"></ul>
</section>

<section>
  <h2>Proxy and gold score per evaluation</h2>
  <p class="note">solid: proxy reward of the EMA policy (left axis) · dashed: gold score (right axis) · vertical dotted lines: over-optimisation alarms · shaded spans: gold fell while the proxy rose between two evaluations (shown whether or not the alarm fired) · colours: one hue per method, later seeds lighter</p>
  <div id="chart-proxy" class="chart"></div>
</section>

<section>
  <h2>Gold against proxy (the frontier)</h2>
  <p class="note">each gold component against the proxy reward: one curve per run, one point per evaluation (epoch order along the curve) · whiskers: confidence intervals · grey band: the side of the noise floor that two real samples of the same size reach (a difference inside it is no difference)</p>
  <div id="frontier" class="panels"></div>
  <h3>Gold components per evaluation</h3>
  <div id="components" class="panels"></div>
</section>

<section>
  <h2>Method statistics</h2>
  <p class="note">what each method logs about itself per epoch (docs/methods.md): e.g. Flow-DPPO's masked fraction, NormGuard's hinge-active fraction, GARDO's gated fraction, p and resets, MixGRPO's window start — one curve per run that logs it</p>
  <div id="method-stats" class="panels"></div>
</section>

<section>
  <h2>Per-timestep views</h2>
  <div class="controls">
    <label>epoch <input type="range" id="epoch" min="0" max="0" step="1" value="0"></label>
    <span id="epoch-label"></span>
    <label>log-ratio
      <select id="ratio-field">
        <option value="clippedLogRatio">the clipped one (log r, or log ρ̂ for GRPO-Guard)</option>
        <option value="logRatio">plain log r</option>
      </select>
    </label>
  </div>
  <h3>Log-ratio distribution per timestep</h3>
  <p class="note">bands: p1–p99 (light) and p5–p95 (dark); line: median; grey dashed: the clip range log(1−ε), log(1+ε) when in view</p>
  <p class="note alarm" id="ratio-note"></p>
  <div id="chart-ratio" class="chart"></div>
  <h3>Clip fraction by advantage sign per timestep</h3>
  <p class="note">solid: P(ρ &gt; 1+ε | A &gt; 0) · dashed: P(ρ &lt; 1−ε | A &lt; 0)</p>
  <div id="chart-clip" class="chart"></div>
  <h3>Gradient norm per timestep</h3>
  <p class="note" id="grad-note">solid: after the step weight · dashed: before</p>
  <div id="chart-grad" class="chart"></div>
</section>

<section>
  <h2>Image timeline</h2>
  <p class="note">evaluation grids (fixed prompts, fixed noise, EMA policy): one row per prompt</p>
  <div class="controls">
    <label>evaluation <input type="range" id="image-epoch" min="0" max="0" step="1" value="0"></label>
    <span id="image-epoch-label"></span>
  </div>
  <div id="images"></div>
</section>
</body>
</html>
`;
}
