/**
 * splitBackward: a graph with its reverse sweep, split into a forward graph that returns the saved
 * activations and a backward graph that takes them, gives the unsplit graph's gradient; only
 * activations are saved (values of weights alone, or of inputs alone, are computed again in the
 * backward graph); the saved outputs are empty when `keep` is 0; and each part holds only the weights
 * its own nodes read.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { gradients } from '../../../src/engine/onnx/autodiff';
import { GraphBuilder, type GraphParts, type Tensor } from '../../../src/engine/onnx/graph';
import * as op from '../../../src/engine/onnx/ops';
import { serializeModel } from '../../../src/engine/onnx/serialize';
import { savedOutputName, splitBackward } from '../../../src/engine/onnx/splitBackward';
import { createSession, f64, i64, runSession, type HostTensor } from '../../../src/engine/runtime/session';
import { testTempDir } from '../../fixtures/tempDir';
import { rng, uniform } from './kit';

const r = rng(7);
const dir = testTempDir('split-backward');
const W = uniform(r, [4, 3]);
const V = uniform(r, [4, 4]);

/**
 * loss = sum(mask * tanh(x @ W^T) @ V^T + p) / sum(mask), with W an external weight (its
 * transpose a weight-only value) and the mask an input-only value; the gradient is with respect to p.
 */
function build(): { g: GraphBuilder; sweepStart: number; grad: Tensor; keep: Tensor } {
  const g = new GraphBuilder({ computeDtype: 'float64', name: 'split' });
  const x = g.input('x', 'float64', ['rows', 3]);
  const p = g.input('p', 'float64', [4]);
  const mask = op.cast(g.input('labels', 'int64', ['rows', 4]), 'float64');
  const keepIn = g.input('keep', 'int64', [1]);
  const file = path.join(dir, 'w.bin');
  writeFileSync(file, Buffer.from(new Float64Array([...W.data, ...V.data]).buffer));
  const w = g.externalWeight('w', 'float64', [4, 3], file, 0, 96);
  const v = g.externalWeight('v', 'float64', [4, 4], file, 96, 128);
  const h = op.tanh(op.add(op.matmul(x, op.transpose(w)), p));
  const out = op.matmul(op.tanh(h), op.transpose(v));
  const loss = g.output('loss', op.div(op.reduceSum(op.mul(out, mask), [0, 1]), op.reduceSum(mask, [0, 1])));
  const sweepStart = g.nodes.length;
  const [grad] = gradients(g, loss, [p]);
  return { g, sweepStart, grad, keep: keepIn };
}

function feedsFor(rows: number, keep: number): Record<string, HostTensor> {
  const x = uniform(rng(rows), [rows, 3]);
  return {
    x: f64(x.data, [rows, 3]),
    p: f64([0.1, -0.2, 0.3, 0.05], [4]),
    labels: i64(Array.from({ length: rows * 4 }, (_, i) => i % 3 === 0 ? 0 : 1), [rows, 4]),
    keep: i64([keep], [1]),
  };
}

async function session(parts: GraphParts) {
  return (await createSession({ bytes: serializeModel(parts, { externalDataDir: dir }), externalDataDir: dir }, { device: 'cpu' })).session;
}

const names = (ts: readonly { name: string }[]) => ts.map((t) => t.name).sort();

test('forward then backward gives the unsplit graph gradient; only activations are saved', async () => {
  const whole = build();
  whole.g.output('grad_p', whole.grad);
  const expected = await runSession(await session(whole.g), feedsFor(5, 1 << 30), ['grad_p', 'loss']);

  const { g, sweepStart, grad, keep } = build();
  const split = splitBackward(g, sweepStart, { grad_p: grad }, keep);
  // The two tanh outputs are activations the sweep needs; W^T and V^T (weights only) and the mask
  // (inputs only) are computed again instead.
  const producers = new Map(split.forward.nodes.flatMap((n) => n.outputs.map((o) => [o.name, n.opType] as const)));
  const savedOps = split.saved.map((name) => producers.get(name));
  assert.equal(savedOps.filter((o) => o === 'Tanh').length, 2, `saved: ${savedOps.join(', ')}`);
  assert.ok(!savedOps.includes('Transpose') && !savedOps.includes('Cast'), `saved: ${savedOps.join(', ')}`);
  // The graph inputs the sweep reads: the labels (for the mask it computes again) and x, for its 'rows' dim.
  assert.deepEqual(names(split.backward.inputs.filter((t) => t.kind === 'input')), ['labels', 'x']);
  // Each part holds the weights its nodes read: the backward graph only V (for d tanh(h) @ V^T), and W not at all.
  assert.deepEqual(names(split.forward.initializers.filter((i) => i.kind === 'external').map((i) => i.tensor)), ['v', 'w']);
  assert.deepEqual(names(split.backward.initializers.filter((i) => i.kind === 'external').map((i) => i.tensor)), ['v']);

  const forward = await session(split.forward);
  const backward = await session(split.backward);
  const feeds = feedsFor(5, 1 << 30);
  const out = await runSession(forward, feeds, ['loss', ...split.saved.map(savedOutputName)]);
  assert.equal(out.loss.data[0], expected.loss.data[0]);
  const backFeeds: Record<string, HostTensor> = {};
  for (const name of backward.inputNames) backFeeds[name] = out[savedOutputName(name)] ?? feeds[name];
  const got = await runSession(backward, backFeeds, ['grad_p']);
  const diff = Math.max(...Array.from(got.grad_p.data as Float64Array, (v, i) => Math.abs(v - (expected.grad_p.data as Float64Array)[i])));
  console.log(`saved ${split.saved.length} values; |split - unsplit| gradient ${diff.toExponential(2)}`);
  assert.ok(diff <= 1e-12, `gradient differs by ${diff}`);

  const idle = await runSession(forward, feedsFor(5, 0), ['loss', ...split.saved.map(savedOutputName)]);
  for (const name of split.saved) {
    const t = idle[savedOutputName(name)];
    assert.equal(t.data.length, 0, `${name} is not empty with keep 0 (dims ${t.dims})`);
  }
  assert.equal(idle.loss.data[0], expected.loss.data[0], 'keep changes only the saved outputs');
  await Promise.all([forward.release(), backward.release()]);
});
