/**
 * A float32 graph that uses every op of the builder, with its gradient graph, is checked against
 * onnxruntime's CUDA kernel table by ../shared/tools/cuda-coverage.mjs (outside this repository;
 * set MICROSTEER_CUDA_COVERAGE to its path elsewhere): no node may fall back to CPU. Skipped
 * where the tool is absent.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { gradients } from '../../../src/engine/onnx/autodiff';
import { GraphBuilder } from '../../../src/engine/onnx/graph';
import * as op from '../../../src/engine/onnx/ops';
import { serializeModel } from '../../../src/engine/onnx/serialize';
import { bool, createSession, f32, i64, runSession } from '../../../src/engine/runtime/session';
import { rng } from './kit';

const repoRoot = path.resolve(__dirname, '../../../..');
const tool = process.env.MICROSTEER_CUDA_COVERAGE ?? path.resolve(repoRoot, '../shared/tools/cuda-coverage.mjs');

/** Every op in one float32 graph: a little attention-like block, a loss, and its gradients. */
function sampleGraph(): GraphBuilder {
  const g = new GraphBuilder({ computeDtype: 'float32' });
  const x = g.input('x', 'float32', ['batch', 'seq', 8]);
  const past = g.input('past', 'float32', ['batch', 'past', 8]);
  const w = g.input('w', 'float32', [8, 8]);
  const table = g.input('table', 'float32', [16, 8]);
  const ids = g.input('ids', 'int64', ['batch', 'seq']);
  const keep = g.input('keep', 'bool', ['batch', 'seq']);
  const plane = g.input('plane', 'float32', ['batch', 8]);

  const emb = op.add(op.gather(table, ids, 0), x);
  const h = op.tanh(op.matmul(emb, w));
  const kv = op.concat([past, h], 1);
  const q = op.reshape(h, ['batch', 'seq', 2, 4]);
  const k = op.reshape(kv, ['batch', 'past+seq', 2, 4]);
  const scores = op.matmul(op.transpose(q, [0, 2, 1, 3]), op.transpose(k, [0, 2, 3, 1]));
  const capped = op.mul(op.tanh(op.div(scores, 50)), 50);
  const pos = op.rangeOf(x, 'seq');
  const causal = op.logicalOr(op.less(pos, 3), op.logicalAnd(op.greater(pos, 0), op.equal(pos, pos)));
  const masked = op.where(op.unsqueeze(causal, [0, 1, -1]), capped, -1e30);
  const probs = op.softmax(masked);
  const attn = op.reshape(op.transpose(op.matmul(probs, op.transpose(op.reshape(kv, ['batch', 'past+seq', 2, 4]), [0, 2, 1, 3])), [0, 2, 1, 3]), ['batch', 'seq', 8]);
  const norm = op.mul(attn, op.reciprocal(op.sqrt(op.add(op.reduceMean(op.pow(attn, 2), [-1], true), 1e-6))));
  const first = op.slice(norm, -1, 0, 4);
  const second = op.slice(norm, -1, 4);
  const rot = op.concat([op.neg(second), first], -1);
  const rope = op.add(op.mul(norm, op.cos(norm)), op.mul(rot, op.sin(norm)));
  const n = op.unsqueeze(plane, [1]);
  const s = op.relu(op.reduceSum(op.mul(rope, n), [-1], true));
  const steered = op.add(rope, op.mul(op.sub(1.5, s), op.expand(n, ['batch', 'seq', 8])));
  const sel = op.where(op.unsqueeze(keep, [-1]), steered, rope);
  const last = op.squeeze(op.slice(sel, 1, -1), [1]);
  const logits = op.matmul(op.unsqueeze(last, [1]), op.transpose(table, [1, 0]));
  const nll = op.neg(op.reduceSum(op.mul(op.logSoftmax(logits), op.oneHot(op.slice(ids, 1, -1), 16, 'float32')), [-1]));
  const cap = op.reduceMean(op.sigmoid(op.reduceMax(sel, [-1])), [0, 1]);
  const theta = op.acos(op.clip(op.neg(op.exp(op.log(op.abs(op.reduceMean(nll, [0, 1]))))), -0.999, 0.999));
  const loss = op.add(op.add(op.reduceMean(nll, [0, 1]), cap), op.cast(op.cast(theta, 'float64'), 'float32'));
  const [gPlane, gW, gTable] = gradients(g, loss, [plane, w, table]);
  g.output('loss', loss);
  g.output('probs', op.stopGradient(probs));
  g.output('grad_plane', gPlane);
  g.output('grad_w', gW);
  g.output('grad_table', gTable);
  return g;
}

test('the sample graph is a valid model: it runs and its gradients are finite', async () => {
  const { session } = await createSession({ bytes: serializeModel(sampleGraph(), { externalDataDir: os.tmpdir() }) }, { device: 'cpu' });
  const r = rng(5);
  const u = (dims: number[]) => f32(Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() - 0.5), dims);
  const out = await runSession(session, {
    x: u([2, 3, 8]),
    past: u([2, 2, 8]),
    w: u([8, 8]),
    table: u([16, 8]),
    ids: i64([1, 2, 3, 4, 5, 15], [2, 3]),
    keep: bool([1, 0, 1, 1, 1, 0], [2, 3]),
    plane: u([2, 8]),
  });
  assert.deepEqual(out.grad_table.dims, [16, 8]);
  for (const [name, t] of Object.entries(out)) assert.ok(Array.from(t.data as Float32Array).every(Number.isFinite), `${name} is finite`);
  await session.release();
});

test('every op, forward and backward, has a float32 CUDA kernel (cuda-coverage.mjs)', (t) => {
  if (!fs.existsSync(tool)) {
    t.skip(`cuda-coverage.mjs not found at ${tool}`);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'microsteer-cuda-'));
  try {
    const file = path.join(dir, 'sample.onnx');
    const g = sampleGraph();
    fs.writeFileSync(file, serializeModel(g, { externalDataDir: dir }));
    const res = spawnSync(process.execPath, [tool, file, '--json', '--strict'], { encoding: 'utf8' });
    assert.notEqual(res.status, 2, `tool failed: ${res.stderr}`);
    const report = JSON.parse(res.stdout) as { summary: { nodes: number; covered: number; uncovered: number; unknown: number } };
    assert.equal(report.summary.uncovered, 0, `nodes without a CUDA kernel:\n${res.stdout}`);
    assert.equal(report.summary.unknown, 0, `nodes whose types were not inferred:\n${res.stdout}`);
    assert.equal(report.summary.nodes, g.nodes.length);
    assert.equal(res.status, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
