/**
 * The ModelProto writer through onnxruntime: the session loads, inputs and outputs have the right
 * names, element types and (symbolic) shapes; weights read as external data from a handwritten
 * safetensors file at their byte offsets give exactly the stored values (F32 as is, BF16 and F16
 * through the cast to the compute dtype); bad locations are refused with an InputError.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../../src/engine/errors';
import { GraphBuilder } from '../../../src/engine/onnx/graph';
import * as op from '../../../src/engine/onnx/ops';
import { serializeModel } from '../../../src/engine/onnx/serialize';
import type { TensorLocation } from '../../../src/engine/model/types';
import { createSession, runSession } from '../../../src/engine/runtime/session';

test('round trip: names, element types and symbolic shapes of inputs and outputs', async () => {
  const g = new GraphBuilder({ name: 'roundtrip' });
  const x = g.input('hidden', 'float32', ['batch', 'seq', 4]);
  const ids = g.input('ids', 'int64', ['batch', 'seq']);
  const mask = g.input('mask', 'bool', ['batch', 'seq']);
  const h = op.mul(x, op.unsqueeze(op.cast(mask, 'float32'), [-1]));
  g.output('masked', h);
  g.output('ids_plus_one', op.add(ids, 1));
  g.output('row_sum', op.reduceSum(h, [1, 2]));
  const bytes = serializeModel(g, { externalDataDir: os.tmpdir() });
  const { session } = await createSession({ bytes }, { device: 'cpu' });
  try {
    assert.deepEqual(session.inputNames, ['hidden', 'ids', 'mask']);
    assert.deepEqual(session.outputNames, ['masked', 'ids_plus_one', 'row_sum']);
    const meta = Object.fromEntries(session.inputMetadata.map((m) => [m.name, m]));
    const hidden = meta.hidden;
    assert.ok(hidden.isTensor && hidden.type === 'float32');
    assert.deepEqual(hidden.shape, ['batch', 'seq', 4]);
    const m = meta.mask;
    assert.ok(m.isTensor && m.type === 'bool');
    const out = Object.fromEntries(session.outputMetadata.map((o) => [o.name, o]));
    const rs = out.row_sum;
    assert.ok(rs.isTensor && rs.type === 'float32');
    assert.deepEqual(rs.shape, ['batch']);
    const res = await runSession(session, {
      hidden: { dtype: 'float32', data: new Float32Array(2 * 3 * 4).fill(0.5), dims: [2, 3, 4] },
      ids: { dtype: 'int64', data: BigInt64Array.from([1n, 2n, 3n, 4n, 5n, 6n]), dims: [2, 3] },
      mask: { dtype: 'bool', data: Uint8Array.from([1, 1, 0, 1, 0, 0]), dims: [2, 3] },
    });
    assert.deepEqual(Array.from(res.row_sum.data as Float32Array), [4, 2]);
    assert.deepEqual(Array.from(res.ids_plus_one.data as BigInt64Array), [2n, 3n, 4n, 5n, 6n, 7n]);
  } finally {
    await session.release();
  }
});

/** A safetensors file written by hand: 8-byte header length, JSON header, then the data block. */
function writeSafetensors(file: string, tensors: { name: string; dtype: 'F32' | 'F16' | 'BF16'; shape: number[]; bytes: Uint8Array }[]): TensorLocation[] {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let pos = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [pos, pos + t.bytes.length] };
    pos += t.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, ...tensors.map((t) => Buffer.from(t.bytes))]));
  let offset = 8 + json.length;
  return tensors.map((t) => {
    const loc = { name: t.name, dtype: t.dtype, shape: t.shape, file, offset, byteLength: t.bytes.length };
    offset += t.bytes.length;
    return loc;
  });
}

const f32Bytes = (v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
/** bfloat16 is the top half of a float32: exact for these values, which have 8 significant bits. */
const bf16Values = [1.5, -2.25, 3, 0.1015625, -1024, 0];
const bf16Bytes = (v: number[]) => new Uint8Array(Uint16Array.from(new Uint32Array(Float32Array.from(v).buffer), (u) => u >>> 16).buffer);
/** float16 bit patterns worked out by hand: 0.5, -1.25, 1024, 3.140625. */
const f16Bits = [0x3800, 0xbd00, 0x6400, 0x4248];
const f16Values = [0.5, -1.25, 1024, 3.140625];

function tmpModelDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'microsteer-onnx-'));
}

for (const dtype of ['float32', 'float64'] as const) {
  test(`external data from a safetensors file at byte offsets, F32/BF16/F16 weights in a ${dtype} graph`, async () => {
    const dir = tmpModelDir();
    try {
      const f32Values = [0.1, -0.2, 0.3, 1e-8, 7, -9.5];
      const [a, b, c] = writeSafetensors(path.join(dir, 'model.safetensors'), [
        { name: 'a', dtype: 'F32', shape: [2, 3], bytes: f32Bytes(f32Values) },
        { name: 'b', dtype: 'BF16', shape: [3, 2], bytes: bf16Bytes(bf16Values) },
        { name: 'c', dtype: 'F16', shape: [4], bytes: new Uint8Array(Uint16Array.from(f16Bits).buffer) },
      ]);
      const g = new GraphBuilder({ computeDtype: dtype });
      const bw = g.computeWeight(b);
      assert.equal(bw, g.computeWeight(b), 'computeWeight is shared between uses');
      g.output('a_out', g.computeWeight(a));
      g.output('b_out', bw);
      g.output('c_out', g.computeWeight(c));
      const bytes = serializeModel(g, { externalDataDir: dir });
      const modelFile = path.join(dir, 'graph.onnx');
      fs.writeFileSync(modelFile, bytes);
      const { session } = await createSession(modelFile, { device: 'cpu' });
      try {
        const out = await runSession(session, {});
        assert.equal(out.a_out.dtype, dtype);
        assert.deepEqual(Array.from(out.a_out.data as Float64Array), Array.from(Float32Array.from(f32Values)));
        assert.deepEqual(Array.from(out.b_out.data as Float64Array), bf16Values);
        assert.deepEqual(out.b_out.dims, [3, 2]);
        assert.deepEqual(Array.from(out.c_out.data as Float64Array), f16Values);
      } finally {
        await session.release();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('weights outside the external-data folder, or with the wrong byte length, are refused', () => {
  const dir = tmpModelDir();
  try {
    const g = new GraphBuilder();
    g.output('w_out', g.externalWeight('w', 'float32', [2], path.join(os.tmpdir(), 'elsewhere.safetensors'), 8, 8));
    assert.throws(() => serializeModel(g, { externalDataDir: dir }), (e) => e instanceof InputError && /not inside/.test(e.message));
    assert.throws(() => new GraphBuilder().externalWeight('v', 'bfloat16', [3], path.join(dir, 'x'), 8, 4), (e) => e instanceof InputError && /expected 6/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('weights in a subfolder get a relative location with forward slashes', async () => {
  const dir = tmpModelDir();
  try {
    fs.mkdirSync(path.join(dir, 'shards'));
    const [w] = writeSafetensors(path.join(dir, 'shards', 'part-1.safetensors'), [{ name: 'w', dtype: 'F32', shape: [2], bytes: f32Bytes([2.5, -4]) }]);
    const g = new GraphBuilder();
    g.output('w_out', g.weight(w));
    const bytes = serializeModel(g, { externalDataDir: dir });
    assert.ok(Buffer.from(bytes).includes('shards/part-1.safetensors'));
    fs.writeFileSync(path.join(dir, 'g.onnx'), bytes);
    const { session } = await createSession(path.join(dir, 'g.onnx'), { device: 'cpu' });
    assert.deepEqual(Array.from((await runSession(session, {})).w_out.data as Float32Array), [2.5, -4]);
    await session.release();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a 4 MiB weight at a byte offset not a multiple of 4 reads exactly, from a file and from a buffer', async () => {
  const dir = tmpModelDir();
  try {
    const n = (1 << 20) + 3;
    const values = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const [w] = writeSafetensors(path.join(dir, 'model.safetensors'), [
      { name: 'pad', dtype: 'BF16', shape: [3], bytes: bf16Bytes([1, 2, 3]) },
      { name: 'big', dtype: 'F32', shape: [n], bytes: new Uint8Array(values.buffer) },
    ]).slice(1);
    assert.notEqual(w.offset % 4, 0, 'the weight must start unaligned for this test to mean something');
    const g = new GraphBuilder();
    const big = g.weight(w);
    g.output('head', op.slice(big, 0, 0, 5));
    g.output('tail', op.slice(big, 0, -3));
    g.output('middle', op.gather(big, g.constant([524289], 'int64', [1])));
    const bytes = serializeModel(g, { externalDataDir: dir });
    fs.writeFileSync(path.join(dir, 'g.onnx'), bytes);
    for (const source of [path.join(dir, 'g.onnx'), { bytes, externalDataDir: dir }]) {
      const { session } = await createSession(source, { device: 'cpu' });
      const out = await runSession(session, {});
      assert.deepEqual(Array.from(out.head.data as Float32Array), Array.from(values.subarray(0, 5)));
      assert.deepEqual(Array.from(out.tail.data as Float32Array), Array.from(values.subarray(n - 3)));
      assert.deepEqual(Array.from(out.middle.data as Float32Array), [values[524289]]);
      await session.release();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
