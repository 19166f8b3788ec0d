// The reference's building blocks against values worked out by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyRope, geluTanh, matVec, rmsNorm, softCap } from '../../reference/gemma2Reference';

const close = (actual: number, expected: number, tol: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tolerance ${tol})`);

test('RMSNorm of [3, 4] with w = [0, 1]: rms = sqrt(12.5), gains 1 and 2', () => {
  const y = rmsNorm([3, 4], [0, 1], 0);
  close(y[0], 3 / Math.sqrt(12.5), 1e-15, 'y[0]');
  close(y[1], (2 * 4) / Math.sqrt(12.5), 1e-15, 'y[1]');
});

test('RMSNorm adds eps inside the square root', () => {
  // mean(x^2) = 1 for [1, -1]; with eps = 3 the divisor is 2.
  const y = rmsNorm([1, -1], [0, 0], 3);
  close(y[0], 0.5, 1e-15, 'y[0]');
  close(y[1], -0.5, 1e-15, 'y[1]');
});

test('matVec uses row-major [out, in] weights', () => {
  // W = [[1, 2, 3], [4, 5, 6]], x = [1, 0, -1] -> [-2, -2]
  assert.deepEqual(Array.from(matVec([1, 2, 3, 4, 5, 6], 2, [1, 0, -1])), [-2, -2]);
});

test('gelu_tanh at known points (published values of the tanh approximation)', () => {
  close(geluTanh(0), 0, 0, 'gelu(0)');
  close(geluTanh(1), 0.8411919906, 1e-9, 'gelu(1)');
  close(geluTanh(-1), -0.1588080094, 1e-9, 'gelu(-1)');
});

test('softCap: cap * tanh(x / cap), disabled with null', () => {
  close(softCap(30, 30), 30 * Math.tanh(1), 1e-12, 'softCap(30, 30)');
  assert.equal(softCap(1e6, null), 1e6);
  assert.ok(softCap(1e6, 30) <= 30);
});

test('RoPE at position 0 is the identity', () => {
  const x = [0.3, -1.2, 2.5, 0.7];
  assert.deepEqual(Array.from(applyRope(x, 0, 10000)), x);
});

test('RoPE pairs dimension i with i + half and turns pair i by position * theta^(-2i/headDim)', () => {
  // headDim 4, theta 100: pair (0, 2) turns by pos, pair (1, 3) by pos / 10.
  const pos = 3;
  const y = applyRope([1, 1, 0, 0], pos, 100);
  close(y[0], Math.cos(3), 1e-15, 'y[0]');
  close(y[2], Math.sin(3), 1e-15, 'y[2]');
  close(y[1], Math.cos(0.3), 1e-15, 'y[1]');
  close(y[3], Math.sin(0.3), 1e-15, 'y[3]');
});

test('RoPE preserves norms and makes q.k depend only on the position difference', () => {
  const q = [0.4, -1.1, 0.9, 2.0, -0.3, 0.8];
  const k = [1.5, 0.2, -0.7, 0.1, 1.3, -2.2];
  const norm = (v: ArrayLike<number>) => Math.hypot(...Array.from(v));
  for (const pos of [1, 7, 123]) close(norm(applyRope(q, pos, 10000)), norm(q), 1e-12, `|rope(q, ${pos})|`);
  const dotAt = (m: number, n: number) => {
    const a = applyRope(q, m, 10000);
    const b = applyRope(k, n, 10000);
    return a.reduce((s, v, i) => s + v * b[i], 0);
  };
  close(dotAt(5, 2), dotAt(13, 10), 1e-12, 'q.k at (5, 2) vs (13, 10)');
  assert.ok(Math.abs(dotAt(5, 2) - dotAt(5, 4)) > 1e-3, 'a different offset should give a different score');
});
