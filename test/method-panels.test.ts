import assert from "node:assert/strict";
import test from "node:test";
import { methodStatPanels } from "../src/dashboard/gold-panels.js";
import type { SlimRecord } from "../src/dashboard/series.js";

const epoch = (index: number, extra: Record<string, unknown>) => ({ type: "epoch", epoch: index, steps: [], ...extra }) as unknown as SlimRecord;

test("method statistics: one panel per logged key (row means and method state), one curve per run that logs it, x = completed epochs", () => {
  const dppo = [
    epoch(0, { methodStats: { dppoMasked: { mean: 0.25, max: 0.5 } } }),
    epoch(1, { methodStats: { dppoMasked: { mean: 0.125, max: 0.25 } } }),
  ];
  const gardo = [epoch(0, { methodState: { gatedFraction: 0.0625, p: 0.1 } }), epoch(1, { methodState: { gatedFraction: 0.125, p: 0.11 } })];
  const plain = [epoch(0, {}), { type: "eval", epoch: 1, proxy: 0.9, rewards: [] } as unknown as SlimRecord];
  const panels = methodStatPanels([dppo, gardo, plain], ["dppo", "gardo", "flow"], ["#111", "#222", "#333"]);
  assert.deepEqual(panels.map((p) => p.yLabel), ["dppoMasked", "state:gatedFraction", "state:p"]);
  assert.deepEqual(panels.map((p) => p.title), ["dppoMasked (mean over rows)", "gatedFraction (method state)", "p (method state)"]);
  assert.deepEqual(panels[0].lines.map((l) => [l.run, l.points]), [["dppo", [[1, 0.25], [2, 0.125]]]]);
  assert.deepEqual(panels[2].lines.map((l) => [l.run, l.color, l.points]), [["gardo", "#222", [[1, 0.1], [2, 0.11]]]]);
  assert.deepEqual(methodStatPanels([plain], ["flow"], ["#333"]), [], "Flow-GRPO logs no method statistics: no panel");
});
