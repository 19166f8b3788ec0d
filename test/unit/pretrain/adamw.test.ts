/** AdamW against torch.optim.AdamW's update written out by hand, gradient clipping, and the learning-rate schedule. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdamW, globalNorm, learningRate } from '../../../src/engine/pretrain/adamw';

const OPTIONS = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, clipNorm: 1e9 };

test('two steps match the AdamW update computed by hand (decay only where asked)', () => {
  const x = [Float32Array.from([1, -2]), Float32Array.from([0.5])];
  const grads = [
    [Float32Array.from([0.3, -0.1]), Float32Array.from([2])],
    [Float32Array.from([-0.2, 0.4]), Float32Array.from([1])],
  ];
  const lrs = [0.01, 0.005];
  const opt = new AdamW([2, 1], OPTIONS);
  grads.forEach((g, t) => opt.step(x, g, lrs[t], [true, false]));

  const expected = [[1, -2], [0.5]];
  const decays = [true, false];
  expected.forEach((xs, i) =>
    xs.forEach((x0, j) => {
      let p = x0;
      let m = 0;
      let v = 0;
      for (let t = 1; t <= 2; t++) {
        const g = grads[t - 1][i][j];
        const lr = lrs[t - 1];
        if (decays[i]) p -= lr * OPTIONS.weightDecay * p;
        m = 0.9 * m + 0.1 * g;
        v = 0.95 * v + 0.05 * g * g;
        p -= (lr * (m / (1 - 0.9 ** t))) / (Math.sqrt(v / (1 - 0.95 ** t)) + 1e-8);
      }
      assert.ok(Math.abs(x[i][j] - p) < 1e-6, `param ${i}[${j}]: ${x[i][j]} vs ${p}`);
    }),
  );
});

test('gradients above the clip norm are scaled down to it before the step', () => {
  const big = [Float32Array.from([30, 40])];
  const small = [Float32Array.from([3, 4])];
  const a = [Float32Array.from([0, 0])];
  const b = [Float32Array.from([0, 0])];
  assert.equal(new AdamW([2], { ...OPTIONS, clipNorm: 5 }).step(a, big, 0.1, [false]), 50);
  new AdamW([2], { ...OPTIONS, clipNorm: 5 }).step(b, small, 0.1, [false]);
  assert.deepEqual([...a[0]], [...b[0]], 'a clipped gradient steps like the same direction at the clip norm');
  assert.equal(globalNorm(small), 5);
});

test('the schedule warms up linearly, peaks, and follows a cosine to its floor', () => {
  const s = { peak: 1e-3, warmupSteps: 10, totalSteps: 110, minRatio: 0.1 };
  assert.equal(learningRate(0, s), 1e-4);
  assert.equal(learningRate(9, s), 1e-3);
  assert.ok(Math.abs(learningRate(10, s) - 1e-3) < 1e-15);
  assert.ok(Math.abs(learningRate(60, s) - (1e-4 + 0.9e-3 * 0.5)) < 1e-12, 'half way down the cosine');
  assert.ok(Math.abs(learningRate(110, s) - 1e-4) < 1e-15);
  assert.ok(Math.abs(learningRate(500, s) - 1e-4) < 1e-15, 'stays at the floor past the end');
});
