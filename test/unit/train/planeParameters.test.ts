/**
 * The plane's parameters: the seeded start, n = n_raw / |n_raw| and b = tanh(theta), the chain rule
 * back to (n_raw, theta) against central finite differences, and renormalisation.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../../src/engine/random';
import { PlaneParameters } from '../../../src/engine/train/planeParameters';

test('the start: n_raw is the seeded normal stream, theta = 0, so b = 0 and |n| = 1', () => {
  const params = PlaneParameters.init(6, new SeededRandom(3));
  const stream = new SeededRandom(3);
  assert.deepEqual(Array.from(params.nRaw), Array.from({ length: 6 }, () => stream.normal()));
  assert.equal(params.theta, 0);
  const { n, b } = params.plane();
  assert.equal(b, 0);
  assert.ok(Math.abs(Math.hypot(...n) - 1) < 1e-15);
  assert.notDeepEqual(Array.from(PlaneParameters.init(6, new SeededRandom(4)).nRaw), Array.from(params.nRaw));
});

test('n is n_raw scaled to unit length and b = tanh(theta)', () => {
  const params = PlaneParameters.of([3, 0, -4], 0.5);
  const { n, b } = params.plane();
  assert.deepEqual(Array.from(n), [0.6, 0, -0.8]);
  assert.equal(b, Math.tanh(0.5));
});

test('backward: the gradient in (n_raw, theta) matches central finite differences (float64, h = 1e-6, tolerance 1e-8)', () => {
  // A smooth test loss of the plane with a hand-written gradient: f(n, b) = dot(c, n) + dot(a, n)^2 + sin(3b).
  const c = [0.3, -1.2, 0.7, 2.0, -0.4];
  const a = [1.1, 0.2, -0.9, 0.5, 0.6];
  const f = (n: ArrayLike<number>, b: number) => {
    let cn = 0;
    let an = 0;
    for (let k = 0; k < c.length; k++) {
      cn += c[k] * n[k];
      an += a[k] * n[k];
    }
    return cn + an * an + Math.sin(3 * b);
  };
  const gradient = (n: ArrayLike<number>, b: number) => {
    let an = 0;
    for (let k = 0; k < a.length; k++) an += a[k] * n[k];
    return { gradN: c.map((ck, k) => ck + 2 * an * a[k]), gradB: 3 * Math.cos(3 * b) };
  };
  // |n_raw| far from 1 and theta away from 0, so that neither factor of the chain rule is trivially 1.
  const nRaw = [0.9, -2.1, 1.4, 0.3, -1.7];
  const theta = 0.8;
  const params = PlaneParameters.of(nRaw, theta);
  const plane = params.plane();
  const { gradN, gradB } = gradient(plane.n, plane.b);
  const grad = params.backward(gradN, gradB);
  assert.equal(grad.length, nRaw.length + 1);

  const loss = (values: number[]) => {
    const p = PlaneParameters.of(values.slice(0, -1), values[values.length - 1]).plane();
    return f(p.n, p.b);
  };
  const h = 1e-6;
  // Central differences: O(h^2) ~ 1e-12 truncation, ~1e-16 / h = 1e-10 rounding.
  const tolerance = 1e-8;
  const point = [...nRaw, theta];
  point.forEach((_, i) => {
    const plus = point.slice();
    const minus = point.slice();
    plus[i] += h;
    minus[i] -= h;
    const fd = (loss(plus) - loss(minus)) / (2 * h);
    assert.ok(Math.abs(fd - grad[i]) <= tolerance, `parameter ${i}: backward ${grad[i]} vs finite difference ${fd}`);
  });
  // The part of dL/dn along n cannot move a unit vector: the n_raw gradient is orthogonal to n_raw.
  assert.ok(Math.abs(nRaw.reduce((s, x, i) => s + x * grad[i], 0)) < 1e-12);
});

test('renormalise makes |n_raw| = 1 without changing n or theta', () => {
  const params = PlaneParameters.of([0.9, -2.1, 1.4], 0.3);
  const before = params.plane();
  params.renormalise();
  assert.ok(Math.abs(Math.hypot(...params.nRaw) - 1) < 1e-15);
  const after = params.plane();
  after.n.forEach((x, i) => assert.ok(Math.abs(x - before.n[i]) < 1e-15));
  assert.equal(after.b, before.b);
});

test('clone is independent of its source', () => {
  const params = PlaneParameters.of([1, 2], 0.1);
  const copy = params.clone();
  copy.values[0] = 5;
  assert.equal(params.values[0], 1);
});
