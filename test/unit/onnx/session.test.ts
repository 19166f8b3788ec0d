/**
 * Session creation with device selection (CUDA tried first for auto and cuda, CPU fallback with a
 * reason) and the run helpers' plain typed arrays.
 */
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { test } from 'node:test';
import { GraphBuilder } from '../../../src/engine/onnx/graph';
import * as op from '../../../src/engine/onnx/ops';
import { serializeModel } from '../../../src/engine/onnx/serialize';
import { bool, createSession, f32, i64, runSession } from '../../../src/engine/runtime/session';

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
