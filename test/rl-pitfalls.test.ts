/**
 * #12 item 7: pitfall tests on the loss itself (not on its aux output), against float64
 * closed forms on a linear velocity model (test/linear-policy.ts).
 * - E10's public pitfall: computing log ρ̂ and then exponentiating the plain log r in the
 *   surrogate silently turns GRPO-Guard into Flow-GRPO. The loss value and its gradient at
 *   perturbed parameters must match the closed form of exp(log ρ̂), not of exp(log r).
 * - E20: RatioNorm's bias b_j is per sample; perturbing μ of one sample leaves every other
 *   sample's log ρ̂ at exactly 0 (a batch-averaged bias fails this).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { initEngine, valueAndGrad, type JaxArray } from "../src/engine/jax.js";
import type { ParamTree } from "../src/engine/tree.js";
import { policyLoss, type LossSettings } from "../src/rl/loss.js";
import { grpoGuard } from "../src/rl/objectives.js";
import { closedForm, linearModel, linearParams, linearRows, randomCase, relClose, type LinearCase } from "./linear-policy.js";

await initEngine();

const wide: LossSettings = { clipLow: 0.99, clipHigh: 100, klBeta: 0, klType: "x" };

/** Loss, dL/da, dL/db and the per-row aux of grpo-guard at (a, b). */
async function guardLoss(c: LinearCase, a: number, b: number, settings: LossSettings) {
  const model = linearModel(c.D);
  const rows = linearRows(c);
  const [[value, aux], grads] = valueAndGrad((p: ParamTree) => policyLoss(model, grpoGuard, settings, p, null, rows), { hasAux: true })(linearParams(a, b));
  const read = async (x: unknown) => Array.from((await (x as JaxArray).data()) as Float32Array);
  return { loss: (await read(value))[0], da: (await read(grads.a))[0], db: (await read(grads.b))[0], logRatio: await read(aux.logRatio), clipped: await read(aux.clippedLogRatio) };
}

/** Closed-form unclipped surrogate −mean(w·A·e^ℓ) and its gradient, for ℓ = log ρ̂ or log r. */
function surrogate(c: LinearCase, a: number, b: number, use: "logRhoHat" | "logR") {
  const rows = closedForm(c, a, b);
  let loss = 0, da = 0, db = 0;
  for (let j = 0; j < c.R; j++) {
    let zx = 0, z = 0, dx = 0, dd = 0;
    for (let d = 0; d < c.D; d++) {
      const i = j * c.D + d;
      const delta = c.beta[j] * ((a - c.a0) * c.x[i] + (b - c.b0));
      zx += c.z[i] * c.x[i];
      z += c.z[i];
      dx += delta * c.x[i];
      dd += delta;
    }
    [zx, z, dx, dd] = [zx / c.D, z / c.D, dx / c.D, dd / c.D];
    const { kappa } = rows[j];
    // ∂ℓ/∂a, ∂ℓ/∂b: log ρ̂ = mean(zΔ) → β·mean(z·x), β·mean(z); log r = κ(2·std·mean(zΔ) − mean(Δ²))
    const [la, lb] = use === "logRhoHat" ? [c.beta[j] * zx, c.beta[j] * z] : [kappa * (2 * c.std[j] * c.beta[j] * zx - 2 * c.beta[j] * dx), kappa * (2 * c.std[j] * c.beta[j] * z - 2 * c.beta[j] * dd)];
    const term = -c.weight[j] * c.advantage[j] * Math.exp(rows[j][use]);
    loss += term / c.R;
    da += (term * la) / c.R;
    db += (term * lb) / c.R;
  }
  return { loss, da, db };
}

test("E10 pitfall: under grpo-guard the loss exponentiates log ρ̂ — value and gradient at perturbed θ match its closed form, not log r's", async () => {
  const c = randomCase(8, 16, 1);
  const [a, b] = [c.a0 + 0.5, c.b0 - 0.3];
  const got = await guardLoss(c, a, b, wide);
  const guard = surrogate(c, a, b, "logRhoHat");
  const plain = surrogate(c, a, b, "logR");
  // The two closed forms must be far apart for the check to mean anything.
  for (const key of ["loss", "da", "db"] as const) assert.ok(Math.abs(guard[key] - plain[key]) > 0.01 * Math.abs(guard[key]), `${key}: closed forms too close`);
  assert.ok(relClose(got.loss, guard.loss, 1e-4), `loss ${got.loss} vs closed form exp(log ρ̂) ${guard.loss} (exp(log r): ${plain.loss})`);
  assert.ok(relClose(got.da, guard.da, 1e-3), `dL/da ${got.da} vs ${guard.da} (exp(log r): ${plain.da})`);
  assert.ok(relClose(got.db, guard.db, 1e-3), `dL/db ${got.db} vs ${guard.db} (exp(log r): ${plain.db})`);
});

test("E10 pitfall with clipping: the clip acts on ρ̂ (the loss value equals the clipped closed form of ρ̂)", async () => {
  const c = randomCase(8, 16, 2);
  const [a, b] = [c.a0 + 0.5, c.b0 - 0.3];
  const settings: LossSettings = { clipLow: 0.02, clipHigh: 0.02, klBeta: 0, klType: "x" };
  const got = await guardLoss(c, a, b, settings);
  const expected = closedForm(c, a, b).reduce((sum, row, j) => {
    const ratio = Math.exp(row.logRhoHat);
    const A = c.advantage[j];
    return sum + c.weight[j] * Math.max(-A * ratio, -A * Math.min(Math.max(ratio, 0.98), 1.02)) / c.R;
  }, 0);
  assert.ok(relClose(got.loss, expected, 1e-4), `loss ${got.loss} vs ${expected}`);
});

test("E20: perturbing μ_θ of sample 0 only leaves every other sample's bias and log ρ̂ at 0; b_0 is the closed form", async () => {
  const c = randomCase(6, 16, 3);
  // x_j = 0 for j ≠ 0: only sample 0's mean moves when a moves (Δ_j = β·(a − a0)·x_j).
  c.x.fill(0, c.D);
  const a = c.a0 + 0.7;
  const got = await guardLoss(c, a, c.b0, wide);
  const rows = closedForm(c, a, c.b0);
  assert.ok(rows[0].bias > 1e-3, "sample 0 really moved");
  for (let j = 1; j < c.R; j++) {
    assert.equal(rows[j].bias, 0);
    assert.ok(Math.abs(got.clipped[j]) < 1e-6, `sample ${j}: log ρ̂ = ${got.clipped[j]} (a batch-mean bias would give std·b̄ = ${(c.std[j] * rows[0].bias / c.R).toExponential(2)})`);
  }
  // b_0 = mean(Δ_0²)/(2·std_0²): recovered from the loss's own log r and log ρ̂ (log ρ̂ = std·(log r + b)).
  const b0 = got.clipped[0] / c.std[0] - got.logRatio[0];
  assert.ok(relClose(b0, rows[0].bias, 1e-3), `b_0 ${b0} vs closed form ${rows[0].bias}`);
  assert.ok(relClose(got.clipped[0], rows[0].logRhoHat, 1e-3, 1e-7), `log ρ̂_0 ${got.clipped[0]} vs ${rows[0].logRhoHat}`);
  // And the loss: only sample 0 contributes a ratio ≠ 1.
  const expected = c.advantage.reduce((sum, A, j) => sum - (A * Math.exp(j === 0 ? rows[0].logRhoHat : 0)) / c.R, 0);
  assert.ok(relClose(got.loss, expected, 1e-4), `loss ${got.loss} vs ${expected}`);
});
