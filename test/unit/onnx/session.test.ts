/**
 * Session creation with device selection (CUDA tried first for auto and cuda, CPU fallback with a
 * reason) and the run helpers' plain typed arrays.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { GraphBuilder } from '../../../src/engine/onnx/graph';
import * as op from '../../../src/engine/onnx/ops';
import { serializeModel } from '../../../src/engine/onnx/serialize';
import { bool, createSession, f32, i64, runSession } from '../../../src/engine/runtime/session';
import { testTempDir } from '../../fixtures/tempDir';

function model(): Uint8Array {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', ['n']);
  const ids = g.input('ids', 'int64', ['n']);
  const keep = g.input('keep', 'bool', ['n']);
  g.output('y', op.where(keep, op.mul(x, 2), 0));
  g.output('ids_out', op.add(ids, 10));
  g.output('not_keep', op.logicalNot(keep));
  return serializeModel(g, { externalDataDir: os.tmpdir() });
}

test('device cpu: runs on CPU with no fallback reason', async () => {
  const opened = await createSession({ bytes: model() }, { device: 'cpu' });
  assert.equal(opened.device, 'cpu');
  assert.equal(opened.fallbackReason, undefined);
  await opened.session.release();
});

for (const device of ['cuda', 'auto'] as const) {
  test(`device ${device}: CUDA when it works, else CPU with the reason said`, async () => {
    const opened = await createSession({ bytes: model() }, { device });
    if (opened.device === 'cuda') {
      assert.equal(opened.fallbackReason, undefined);
    } else {
      assert.equal(opened.device, 'cpu');
      assert.match(opened.fallbackReason ?? '', device === 'cuda' ? /^CUDA was requested but is unavailable \(.+\); running on CPU instead$/ : /^CUDA unavailable \(.+\); running on CPU$/);
    }
    const out = await runSession(opened.session, { x: f32([1, 2], [2]), ids: i64([1, 2], [2]), keep: bool([1, 0], [2]) }, ['y']);
    assert.deepEqual(Object.keys(out), ['y']);
    assert.deepEqual(Array.from(out.y.data as Float32Array), [2, 0]);
    await opened.session.release();
  });
}

test('run helpers: float32, int64 and bool in and out, with their dims', async () => {
  const { session } = await createSession({ bytes: model() }, { device: 'cpu' });
  const out = await runSession(session, { x: f32([1.5, -2, 3], [3]), ids: i64([5, -1, 7], [3]), keep: bool([true, false, true], [3]) });
  assert.deepEqual(out.y, { dtype: 'float32', data: Float32Array.from([3, 0, 6]), dims: [3] });
  assert.deepEqual(out.ids_out, { dtype: 'int64', data: BigInt64Array.from([15n, 9n, 17n]), dims: [3] });
  assert.equal(out.not_keep.dtype, 'bool');
  assert.deepEqual(Array.from(out.not_keep.data), [0, 1, 0]);
  await session.release();
});

test('prepacking off: the product reads its weight where it lies (nothing copied at creation), with the same results', async () => {
  const [k, n] = [512, 8192]; // a 16 MB float32 weight
  const dir = testTempDir('prepacking');
  const file = path.join(dir, 'w.bin');
  const w = Float32Array.from({ length: k * n }, (_, i) => Math.sin(i));
  fs.writeFileSync(file, new Uint8Array(w.buffer));
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', ['m', k]);
  g.output('y', op.matmul(x, g.externalWeight('w', 'float32', [k, n], file, 0, k * n * 4)));
  const bytes = serializeModel(g, { externalDataDir: dir });
  const feed = { x: f32(Array.from({ length: 4 * k }, (_, i) => Math.cos(i)), [4, k]) };
  const resident = () => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024;
  const grown: Record<string, number> = {};
  const outputs: Record<string, Float32Array> = {};
  for (const prepacking of [true, false]) {
    const before = resident();
    const { session } = await createSession({ bytes, externalDataDir: dir }, { device: 'cpu', prepacking });
    grown[String(prepacking)] = resident() - before;
    outputs[String(prepacking)] = (await runSession(session, feed)).y.data as Float32Array;
    await session.release();
  }
  console.log(`resident growth at creation: packed ${(grown.true / 1e6).toFixed(1)} MB, in place ${(grown.false / 1e6).toFixed(1)} MB, of a ${(k * n * 4) / 1e6} MB weight`);
  assert.ok(grown.true > 0.9 * k * n * 4, 'packing holds a copy of the weight');
  assert.ok(grown.false < 0.25 * k * n * 4, 'in place, creation reads almost none of it');
  const worst = outputs.true.reduce((m, v, i) => Math.max(m, Math.abs(v - outputs.false[i])), 0);
  assert.ok(worst < 1e-3, `outputs differ by ${worst}`);
});
