/** Adam against its first two steps worked by hand (torch.optim.Adam's update, betas 0.9/0.999, eps 1e-8). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Adam } from '../../../src/engine/train/adam';

test('the first two steps match the hand computation (tolerance 1e-12)', () => {
  const params = new Float64Array([1, -2]);
  const adam = new Adam(2, { learningRate: 0.1 });

  // Step 1, g = (0.5, -0.1): m = 0.1 g, v = 0.001 g^2; bias-corrected m/0.1 = g, v/0.001 = g^2,
  // so each parameter moves by lr * g / (|g| + 1e-8):
  //   1 - 0.1 * 0.5 / 0.50000001 = 0.90000000199999996..., -2 + 0.1 * 0.1 / 0.10000001 = -1.90000000999999900...
  adam.step(params, [0.5, -0.1]);
  assert.ok(Math.abs(params[0] - 0.900000002) < 1e-12, `step 1: ${params[0]}`);
  assert.ok(Math.abs(params[1] - -1.900000009999999) < 1e-12, `step 1: ${params[1]}`);

  // Step 2, g = (0.2, 0.3):
  //   m = 0.9 (0.05, -0.01) + 0.1 (0.2, 0.3) = (0.065, 0.021);       m / (1 - 0.9^2) = m / 0.19
  //   v = 0.999 (2.5e-4, 1e-5) + 0.001 (0.04, 0.09) = (2.8975e-4, 9.999e-5); v / (1 - 0.999^2) = v / 0.001999
  //   x0 = 0.90000000199999996 - 0.1 * (0.065 / 0.19) / (sqrt(2.8975e-4 / 0.001999) + 1e-8) = 0.81014248390292758...
  //   x1 = -1.900000009999999 - 0.1 * (0.021 / 0.19) / (sqrt(9.999e-5 / 0.001999) + 1e-8) = -1.94941899112006578...
  adam.step(params, [0.2, 0.3]);
  assert.ok(Math.abs(params[0] - 0.8101424839029275) < 1e-12, `step 2: ${params[0]}`);
  assert.ok(Math.abs(params[1] - -1.949418991120066) < 1e-12, `step 2: ${params[1]}`);
});

test('a zero gradient leaves the parameters where they are', () => {
  const params = new Float64Array([0.25, -3]);
  new Adam(2, { learningRate: 0.5 }).step(params, [0, 0]);
  assert.deepEqual(Array.from(params), [0.25, -3]);
});

test('a gradient of the wrong size is refused', () => {
  assert.throws(() => new Adam(2, { learningRate: 0.1 }).step(new Float64Array(2), [1, 2, 3]), /Adam over 2 parameters got 2 parameters and 3 gradient entries/);
});
