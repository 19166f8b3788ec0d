/**
 * The reverse sweep itself: fan-out accumulation, several wrt at once, gradients only where asked
 * (nothing emitted for constants, weights or branches that do not reach wrt), zeros for a wrt the
 * loss does not use, seeds (vector-Jacobian products) and gradients with respect to intermediates.
 * Finite differences: float64, eps 1e-6, |analytic - numeric| <= 1e-6 max(1, |analytic|).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gradients } from '../../../src/engine/onnx/autodiff';
import { GraphBuilder } from '../../../src/engine/onnx/graph';
import * as op from '../../../src/engine/onnx/ops';
import { assertClose, checkGradients, f64, map, nd, rng, runGraph, toNd, uniform, zip } from './kit';

const r = rng(99);

test('fan-out: a tensor used four times gets the sum of its paths', async () => {
  await checkGradients('fan-out', [{ values: uniform(r, [2, 3]) }], ([x]) => op.add(op.add(op.mul(x, x), op.mul(op.tanh(x), x)), op.exp(x)));
});

test('fan-out through a shared intermediate and two wrt with broadcasting', async () => {
  await checkGradients('shared', [{ values: uniform(r, [2, 3, 4]) }, { values: uniform(r, [4, 2]) }], ([x, w]) => {
    const h = op.tanh(op.matmul(x, w)); // [2, 3, 2], used twice below
    return op.sub(op.mul(h, op.reduceMean(h, [1], true)), op.softmax(op.mul(h, w.shape[0] as number)));
  });
});

test('gradients only for what is asked: no node consumes the unrelated branch or the weight gradient', () => {
  const g = new GraphBuilder({ computeDtype: 'float64' });
  const x = g.input('x', 'float64', [2, 3]);
  const z = g.input('z', 'float64', [3]);
  const w = g.constant(uniform(r, [3, 4]).data, 'float64', [3, 4]);
  const ez = op.exp(z);
  const loss = op.add(op.reduceSum(op.matmul(x, w), [0, 1]), op.reduceSum(ez, [0]));
  const before = g.nodes.length;
  const [gx] = gradients(g, loss, [x]);
  const emitted = g.nodes.slice(before);
  assert.deepEqual(gx.shape, [2, 3]);
  for (const n of emitted) {
    assert.ok(!n.inputs.includes(z) && !n.inputs.includes(ez), `${n.opType} reads the branch that does not reach x`);
  }
  // d/dx of x @ w needs gy @ w^T only; d/dw (a constant) would be a second MatMul.
  assert.equal(emitted.filter((n) => n.opType === 'MatMul').length, 1);
});

test('stopGradient blocks its path, the other path still counts; an unused wrt gets zeros', async () => {
  const g = new GraphBuilder({ computeDtype: 'float64' });
  const x = g.input('x', 'float64', [3]);
  const z = g.input('z', 'float64', [3]);
  const loss = op.reduceSum(op.add(op.mul(op.stopGradient(x), z), op.mul(x, 2)), [0]);
  const [gx, gz, gunused] = gradients(g, loss, [x, z, g.input('unused', 'float64', [2])]);
  g.output('gx', gx);
  g.output('gz', gz);
  g.output('gu', gunused);
  const xs = nd([3], [0.1, 0.2, 0.3]);
  const zs = nd([3], [0.4, -0.5, 0.6]);
  const out = await runGraph(g, { x: f64(xs), z: f64(zs), unused: f64(nd([2], [1, 2])) });
  assertClose(toNd(out.gx), nd([3], [2, 2, 2]), 0, 0, 'd/dx (only the 2x path)');
  assertClose(toNd(out.gz), xs, 0, 0, 'd/dz = stopGradient(x)');
  assertClose(toNd(out.gu), nd([2], [0, 0]), 0, 0, 'unused input');
});

test('a seed gives the vector-Jacobian product', async () => {
  const g = new GraphBuilder({ computeDtype: 'float64' });
  const x = g.input('x', 'float64', [4]);
  const v = g.input('v', 'float64', [4]);
  const y = op.tanh(x);
  const [gx] = gradients(g, y, [x], v);
  g.output('gx', gx);
  const xs = uniform(r, [4]);
  const vs = uniform(r, [4]);
  const out = await runGraph(g, { x: f64(xs), v: f64(vs) });
  assertClose(toNd(out.gx), zip(vs, xs, (a, b) => a * (1 - Math.tanh(b) ** 2)), 1e-15, 1e-13, 'v * tanh\'(x)');
});

test('gradient with respect to an intermediate tensor', async () => {
  const g = new GraphBuilder({ computeDtype: 'float64' });
  const x = g.input('x', 'float64', [3]);
  const h = op.tanh(x);
  const loss = op.reduceSum(op.mul(h, h), [0]);
  const [gh] = gradients(g, loss, [h]);
  g.output('gh', gh);
  const xs = uniform(r, [3]);
  const out = await runGraph(g, { x: f64(xs) });
  assertClose(toNd(out.gh), map(xs, (v) => 2 * Math.tanh(v)), 1e-15, 1e-13, 'd/dh of h.h');
});

test('an op without a gradient rule on the path is named in the error', () => {
  const g = new GraphBuilder({ computeDtype: 'float64' });
  const x = g.input('x', 'float64', [3]);
  // ops.ts gives every differentiable op a rule; a node emitted directly without one must fail loudly.
  const y = g.emit('Erf', [x], {}, [{ dtype: 'float64', shape: [3] }], undefined, [x])[0];
  const loss = op.reduceSum(op.add(y, x), [0]);
  // Without a rule the node does not propagate dependence, so x still gets the direct path.
  const [gx] = gradients(g, loss, [x]);
  assert.deepEqual(gx.shape, [3]);
  assert.throws(() => gradients(g, loss, [y, x]).length, /Erf .* has no gradient rule/);
});

test('slice gradients after a transpose run (rotate-half shape; onnxruntime once mis-optimised Pad with axes)', async () => {
  await checkGradients('rotate-half', [{ values: uniform(r, [2, 3, 4]) }], ([x]) => {
    const t = op.transpose(x, [0, 2, 1]); // [2, 4, 3]
    const half = op.concat([op.neg(op.slice(t, 1, 2)), op.slice(t, 1, 0, 2)], 1);
    return op.mul(op.transpose(half, [0, 2, 1]), x);
  });
});
