/**
 * The averaging terms on the hook latents: u = y / r, the cap loss and the theta loss, with their
 * gradients against central finite differences (float64).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../../src/engine/random';
import { capLoss, hookLatents, thetaLoss, type Latents } from '../../../src/engine/train/latentLosses';

test('hookLatents divides every token of every row by r, feature by feature', () => {
  const r = new Float64Array([2, 4]);
  const latents = hookLatents([[2, 8, 4, -4], [1, 1]], r);
  assert.equal(latents.count, 3);
  assert.equal(latents.hidden, 2);
  assert.deepEqual(Array.from(latents.data), [1, 2, 2, -1, 0.5, 0.25]);
});

function seededLatents(count: number, hidden: number, seed: number): Latents {
  const random = new SeededRandom(seed);
  return { count, hidden, data: Float64Array.from({ length: count * hidden }, () => random.normal() * 0.6) };
}

test('the cap loss is -mean sigmoid(dot(u, n) + b) and its gradient matches central differences (h = 1e-6, tolerance 1e-9)', () => {
  const latents = seededLatents(7, 5, 1);
  const random = new SeededRandom(2);
  const n = Float64Array.from({ length: 5 }, () => random.normal());
  const b = 0.35;
  const { loss, gradN, gradB } = capLoss(latents, n, b);

  // The value through sigmoid(z) = (1 + tanh(z / 2)) / 2, a different route to the same number.
  let expected = 0;
  for (let i = 0; i < 7; i++) {
    let z = b;
    for (let k = 0; k < 5; k++) z += latents.data[i * 5 + k] * n[k];
    expected -= (1 + Math.tanh(z / 2)) / 2 / 7;
  }
  assert.ok(Math.abs(loss - expected) < 1e-15, `${loss} vs ${expected}`);

  const h = 1e-6;
  // Losses are O(1): truncation ~h^2 = 1e-12, rounding ~1e-16 / h = 1e-10.
  for (let k = 0; k < 5; k++) {
    const plus = n.slice();
    const minus = n.slice();
    plus[k] += h;
    minus[k] -= h;
    const fd = (capLoss(latents, plus, b).loss - capLoss(latents, minus, b).loss) / (2 * h);
    assert.ok(Math.abs(fd - gradN[k]) <= 1e-9, `dL/dn[${k}] ${gradN[k]} vs ${fd}`);
  }
  const fdB = (capLoss(latents, n, b + h).loss - capLoss(latents, n, b - h).loss) / (2 * h);
  assert.ok(Math.abs(fdB - gradB) <= 1e-9, `dL/db ${gradB} vs ${fdB}`);
  assert.ok(gradB < 0, 'raising b raises every sigmoid, lowering the cap loss');
});

test('the theta loss is acos(clamp(-b, -0.999, 0.999)); its gradient matches central differences inside the clamp and is 0 where it clamps', () => {
  assert.equal(thetaLoss(0).loss, Math.PI / 2);
  assert.equal(thetaLoss(0).gradB, 1);
  const h = 1e-7;
  // Inside the clamp: slope 1 / sqrt(1 - b^2), steep near +-1, so a relative tolerance (1e-7; truncation ~h^2 f''').
  for (const b of [-0.95, -0.5, 0.2, 0.9]) {
    const { gradB } = thetaLoss(b);
    const fd = (thetaLoss(b + h).loss - thetaLoss(b - h).loss) / (2 * h);
    assert.ok(Math.abs(fd - gradB) <= 1e-7 * Math.abs(gradB), `b = ${b}: ${gradB} vs ${fd}`);
  }
  // Past the clamp the loss is flat.
  for (const b of [-0.9995, 0.9995, 1, -1]) {
    const { loss, gradB } = thetaLoss(b);
    assert.equal(gradB, 0, `b = ${b}`);
    assert.equal(loss, Math.acos(b > 0 ? -0.999 : 0.999));
    assert.equal((thetaLoss(b + h).loss - thetaLoss(b - h).loss) / (2 * h), 0);
  }
});
