/**
 * GGUF control vectors: the written file checked byte by byte against the GGUF v3 layout (ggml's
 * docs/gguf.md) with the expected bytes written here field by field with a DataView; files written that
 * way by hand (other alignment, extra metadata, int32 layer count as llama.cpp's generator writes it) read
 * back; export/import round trips; malformed files give input errors.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../../src/engine/errors';
import { decodeControlVector, encodeControlVector } from '../../../src/engine/gguf/controlVector';
import { controlVectorOfRecord, encodeVector, readVectorFile } from '../../../src/engine/methods/vectorFile';
import type { MeanDifferenceRecord } from '../../../src/protocol';

/** Little-endian fields at explicit positions, for expected files. */
class Bytes {
  readonly view: DataView;
  at = 0;
  constructor(readonly length: number) {
    this.view = new DataView(new ArrayBuffer(length));
  }
  u8s(values: number[]): this {
    values.forEach((v) => this.view.setUint8(this.at++, v));
    return this;
  }
  u32(v: number): this {
    this.view.setUint32(this.at, v, true);
    this.at += 4;
    return this;
  }
  i32(v: number): this {
    this.view.setInt32(this.at, v, true);
    this.at += 4;
    return this;
  }
  f32(v: number): this {
    this.view.setFloat32(this.at, v, true);
    this.at += 4;
    return this;
  }
  u64(v: number): this {
    this.view.setBigUint64(this.at, BigInt(v), true);
    this.at += 8;
    return this;
  }
  i64(v: number): this {
    this.view.setBigInt64(this.at, BigInt(v), true);
    this.at += 8;
    return this;
  }
  /** A GGUF string: uint64 length, then the (ASCII here) bytes. */
  str(s: string): this {
    this.u64(s.length);
    return this.u8s([...s].map((ch) => ch.charCodeAt(0)));
  }
  skipTo(offset: number): this {
    assert.ok(offset >= this.at, `padding back from ${this.at} to ${offset}`);
    this.at = offset;
    return this;
  }
  bytes(): Uint8Array {
    assert.equal(this.at, this.length, 'the expected file is filled exactly');
    return new Uint8Array(this.view.buffer);
  }
}

// GGUF value types (gguf_type) and ggml_type F32, from the specification.
const UINT32 = 4;
const INT32 = 5;
const FLOAT32 = 6;
const STRING = 8;
const ARRAY = 9;
const INT64 = 11;
const F32 = 0;

test('the written file matches the GGUF v3 layout byte by byte', () => {
  const written = encodeControlVector(
    new Map([
      [3, [-0.5, 0.25, 4]],
      [1, [1, 2, 3]],
    ]),
    'gemma2',
  );
  // Header 24 + metadata (8+20+4+8+13) + (8+24+4+8+6) + (8+25+4+4) = 168; two tensor infos of
  // 8+11+4+8+4+8 = 43 bytes: 254, padded to 256 (alignment 32). Each tensor's 12 bytes pad to 32.
  const expected = new Bytes(320)
    .u8s([0x47, 0x47, 0x55, 0x46]) // "GGUF"
    .u32(3) // version
    .u64(2) // tensor count
    .u64(3) // metadata count
    .str('general.architecture')
    .u32(STRING)
    .str('controlvector')
    .str('controlvector.model_hint')
    .u32(STRING)
    .str('gemma2')
    .str('controlvector.layer_count')
    .u32(UINT32)
    .u32(2)
    .str('direction.1')
    .u32(1) // dimensions
    .u64(3)
    .u32(F32)
    .u64(0) // offset within the data
    .str('direction.3')
    .u32(1)
    .u64(3)
    .u32(F32)
    .u64(32)
    .skipTo(256)
    .f32(1)
    .f32(2)
    .f32(3)
    .skipTo(288)
    .f32(-0.5)
    .f32(0.25)
    .f32(4)
    .skipTo(320)
    .bytes();
  assert.equal(written.length, expected.length);
  const first = written.findIndex((b, i) => b !== expected[i]);
  assert.equal(first, -1, `first differing byte at ${first}`);
});

test('a hand-written file with alignment 64, extra metadata and an int32 layer count reads back', () => {
  // Header 24; metadata: architecture 53, alignment (8+17+4+4) = 33, layer count (8+25+4+4) = 41,
  // an array of two float32 (8+15+4+4+8+8) = 47, an int64 (8+13+4+8) = 33: 231; one tensor info 43: 274 -> 320.
  const file = new Bytes(320 + 64 * 4 + 0)
    .u8s([0x47, 0x47, 0x55, 0x46])
    .u32(3)
    .u64(1)
    .u64(5)
    .str('general.architecture')
    .u32(STRING)
    .str('controlvector')
    .str('general.alignment')
    .u32(UINT32)
    .u32(64)
    .str('controlvector.layer_count')
    .u32(INT32)
    .i32(1)
    .str('repeng.variances')
    .u32(ARRAY)
    .u32(FLOAT32)
    .u64(2)
    .f32(0.5)
    .f32(1.5)
    .str('repeng.steps')
    .u32(INT64)
    .i64(-7)
    .str('direction.5')
    .u32(1)
    .u64(64)
    .u32(F32)
    .u64(0)
    .skipTo(320);
  const values = Array.from({ length: 64 }, (_, i) => i / 8 - 4);
  values.forEach((v) => file.f32(v));
  const cv = decodeControlVector(file.bytes(), 'hand.gguf');
  assert.equal(cv.modelHint, null);
  assert.deepEqual([...cv.directions.keys()], [5]);
  assert.deepEqual(Array.from(cv.directions.get(5)!), values);
});

test('export and import round trip, through a file read as a vector record', async () => {
  const hidden = 64;
  const vectors = new Map([1, 2, 5].map((layer) => [layer, Float32Array.from({ length: hidden }, (_, i) => Math.sin(layer * 100 + i) * 3)]));
  const record: MeanDifferenceRecord = {
    kind: 'meanDifference',
    layers: [0, 1, 2, 5],
    vectors: [Float32Array.from({ length: hidden }, () => 1), ...vectors.values()].map(encodeVector),
    createdAt: '2026-01-01T00:00:00.000Z',
  };
  const { bytes, skippedLayers } = controlVectorOfRecord({ record, vectors: new Map([[0, new Float32Array(hidden).fill(1)], ...vectors]) });
  assert.deepEqual(skippedLayers, [0], 'llama.cpp has no direction for layer 0');
  const decoded = decodeControlVector(bytes, 'memory');
  assert.equal(decoded.modelHint, 'gemma2');
  assert.deepEqual([...decoded.directions.entries()], [...vectors.entries()]);

  const dir = await mkdtemp(path.join(tmpdir(), 'microsteer-gguf-'));
  try {
    const file = path.join(dir, 'vector.gguf');
    await writeFile(file, bytes);
    const read = await readVectorFile(file, { hiddenSize: hidden, numHiddenLayers: 6 });
    assert.deepEqual([...read.vectors.entries()], [...vectors.entries()]);
    assert.deepEqual(read.record.imported, { file, modelHint: 'gemma2' });
    assert.equal(read.record.model, undefined);
    await assert.rejects(readVectorFile(file, { hiddenSize: 32, numHiddenLayers: 6 }), /64 values, expected 32/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a file of many layers (larger than the first buffer of the writer) round trips', () => {
  const directions = new Map(Array.from({ length: 41 }, (_, i) => [i + 1, Float32Array.from({ length: 8 }, (_, k) => i * 8 + k)]));
  const decoded = decodeControlVector(encodeControlVector(directions, 'a'.repeat(300)), 'many');
  assert.equal(decoded.modelHint, 'a'.repeat(300));
  assert.deepEqual([...decoded.directions.entries()], [...directions.entries()]);
});

test('malformed files are input errors that say what is wrong', () => {
  const good = encodeControlVector(new Map([[2, [1, 2]]]), 'gemma2');
  const patched = (at: number, write: (v: DataView) => void) => {
    const copy = good.slice();
    write(new DataView(copy.buffer, at));
    return copy;
  };
  const rejects = (bytes: Uint8Array, pattern: RegExp) => assert.throws(() => decodeControlVector(bytes, 'x.gguf'), (e) => e instanceof InputError && pattern.test(e.message));
  rejects(new TextEncoder().encode('{"kind": "meanDifference"}'), /x.gguf is not a GGUF file/);
  rejects(patched(4, (v) => v.setUint32(0, 2, true)), /GGUF version 2/);
  rejects(good.subarray(0, 100), /the file ends inside/);
  // The architecture value starts after the header (24), its key (8 + 20) and type (4): its length (8), then "controlvector".
  rejects(patched(24 + 28 + 4 + 8, (v) => v.setUint8(0, 'x'.charCodeAt(0))), /general.architecture is "xontrolvector", expected "controlvector"/);
  const tensorInfo = 24 + 53 + 50 + 41;
  rejects(patched(tensorInfo + 8 + 10, (v) => v.setUint8(0, '0'.charCodeAt(0))), /direction.0: directions start at layer 1/);
  rejects(patched(tensorInfo + 8 + 11 + 4 + 8, (v) => v.setUint32(0, 1, true)), /ggml type 1; only F32/);
  assert.throws(() => encodeControlVector(new Map([[0, [1]]]), 'gemma2'), /no direction for layer 0/);
});
