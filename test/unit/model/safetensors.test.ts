/**
 * The safetensors header reader against files written byte by byte here (not by the code under test):
 * a valid file, and each way a file can be damaged.
 */
import { test } from 'node:test';
import { testTempDir } from '../../fixtures/tempDir';
import assert from 'node:assert/strict';
import { openSync, closeSync, ftruncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../../../src/engine/errors';
import { encodeSafetensorsHeader, readSafetensorsHeader } from '../../../src/engine/model/safetensors';

const dir = testTempDir('safetensors');
let counter = 0;

/** 8-byte little-endian length + the header text + `dataBytes` bytes of data. */
function handmade(header: unknown, dataBytes: number, options: { length?: bigint; cut?: number } = {}): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(options.length ?? BigInt(json.length));
  let bytes = Buffer.concat([length, json, Buffer.alloc(dataBytes, 7)]);
  if (options.cut !== undefined) bytes = bytes.subarray(0, options.cut);
  const file = path.join(dir, `case-${counter++}.safetensors`);
  writeFileSync(file, bytes);
  return file;
}

async function rejects(file: string, ...patterns: (string | RegExp)[]): Promise<void> {
  await assert.rejects(readSafetensorsHeader(file), (e: unknown) => {
    assert.ok(e instanceof InputError, `expected an InputError, got ${String(e)}`);
    assert.ok(e.message.includes(file), `message names the file: ${e.message}`);
    for (const p of patterns) assert.match(e.message, typeof p === 'string' ? new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : p);
    return true;
  });
}

const valid = {
  __metadata__: { format: 'pt' },
  'b.weight': { dtype: 'BF16', shape: [4], data_offsets: [24, 32] },
  'a.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
  'c.bias': { dtype: 'F16', shape: [], data_offsets: [32, 34] },
};

test('a valid header gives each tensor its absolute offset, in file order', async () => {
  const file = handmade(valid, 34);
  const headerLength = Buffer.byteLength(JSON.stringify(valid));
  const h = await readSafetensorsHeader(file);
  assert.equal(h.headerLength, headerLength);
  assert.equal(h.fileSize, 8 + headerLength + 34);
  assert.deepEqual(h.metadata, { format: 'pt' });
  assert.deepEqual(h.tensors, [
    { name: 'a.weight', dtype: 'F32', shape: [2, 3], file, offset: 8 + headerLength, byteLength: 24 },
    { name: 'b.weight', dtype: 'BF16', shape: [4], file, offset: 8 + headerLength + 24, byteLength: 8 },
    { name: 'c.bias', dtype: 'F16', shape: [], file, offset: 8 + headerLength + 32, byteLength: 2 },
  ]);
});

test('trailing bytes after the last tensor and a header padded with spaces are accepted', async () => {
  const h = await readSafetensorsHeader(handmade(`${JSON.stringify(valid)}      `, 40));
  assert.equal(h.tensors.length, 3);
});

test('a file shorter than the length field is truncated', async () => {
  await rejects(handmade(valid, 0, { cut: 5 }), 'truncated');
});

test('a header length beyond the file says so', async () => {
  await rejects(handmade(valid, 34, { length: 10_000n }), 'header length 10000', 'past the end of the file');
  await rejects(handmade(valid, 34, { length: 2n ** 63n }), 'past the end of the file');
});

test('a file cut inside the data is truncated, naming the tensor whose data is missing', async () => {
  const headerLength = Buffer.byteLength(JSON.stringify(valid));
  await rejects(handmade(valid, 34, { cut: 8 + headerLength + 33 }), '"c.bias"', 'past the end of the file');
});

test('an implausibly large header length is refused before reading it', async () => {
  const file = handmade(valid, 0);
  const fd = openSync(file, 'r+');
  ftruncateSync(fd, 200_000_000); // sparse: large but cheap
  closeSync(fd);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(150_000_000n);
  const fd2 = openSync(file, 'r+');
  writeFileSync(fd2, length);
  closeSync(fd2);
  await rejects(file, 'header length 150000000', 'not plausible');
});

test('a header that is not JSON, or not an object, is a bad header', async () => {
  await rejects(handmade('{"a": {"dtype": "F32"', 0), 'not valid UTF-8 JSON');
  await rejects(handmade('[1, 2]', 0), 'must be a JSON object');
  const bad = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]); // "{" invalid UTF-8 "}"
  await rejects(handmade(bad.toString('latin1'), 0), 'not valid UTF-8 JSON');
});

test('an unsupported dtype names the dtype and the tensor', async () => {
  await rejects(handmade({ 'ids.table': { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, 16), '"ids.table"', 'dtype I64', 'F32, F16 or BF16');
});

test('shape times dtype size must equal the data_offsets span', async () => {
  await rejects(
    handmade({ 'w.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, 24),
    '"w.weight"',
    'needs 24 bytes',
    'span 20',
  );
  await rejects(handmade({ 'w.weight': { dtype: 'BF16', shape: [3], data_offsets: [0, 12] } }, 12), 'needs 6 bytes');
});

test('malformed shapes and offsets name the tensor', async () => {
  await rejects(handmade({ 'w.weight': { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), '"w.weight"', 'shape');
  await rejects(handmade({ 'w.weight': { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, 4), '"w.weight"', 'data_offsets');
  await rejects(handmade({ 'w.weight': { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4), 'data_offsets');
  await rejects(handmade({ 'w.weight': { shape: [1], data_offsets: [0, 4] } }, 4), '"w.weight"', 'missing dtype');
  await rejects(handmade({ 'w.weight': [1, 2] }, 4), '"w.weight"', 'must be an object');
});

test('overlapping tensors name both', async () => {
  const overlapping = {
    'x.weight': { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
    'y.weight': { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
  };
  await rejects(handmade(overlapping, 24), '"x.weight"', '"y.weight"', 'overlap');
});

test('offsets outside the file name the tensor', async () => {
  await rejects(handmade({ 'far.weight': { dtype: 'F32', shape: [2], data_offsets: [100, 108] } }, 16), '"far.weight"', 'past the end of the file');
});

test('a missing file is an InputError naming it', async () => {
  await rejects(path.join(dir, 'nope.safetensors'), 'cannot open');
});

test('encodeSafetensorsHeader writes the layout the reader expects, padded to 8 bytes', async () => {
  const header = encodeSafetensorsHeader(
    [
      { name: 'a.weight', dtype: 'F32', shape: [2, 3] },
      { name: 'b.weight', dtype: 'BF16', shape: [4] },
    ],
    { format: 'pt' },
  );
  const expectedJson = JSON.stringify({
    __metadata__: { format: 'pt' },
    'a.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
    'b.weight': { dtype: 'BF16', shape: [4], data_offsets: [24, 32] },
  });
  const padded = expectedJson.padEnd(Math.ceil(expectedJson.length / 8) * 8, ' ');
  assert.equal(Number(header.readBigUInt64LE(0)), padded.length);
  assert.equal(header.subarray(8).toString('utf8'), padded);
  const file = path.join(dir, 'encoded.safetensors');
  writeFileSync(file, Buffer.concat([header, Buffer.alloc(32)]));
  const h = await readSafetensorsHeader(file);
  assert.deepEqual(
    h.tensors.map((t) => [t.name, t.offset, t.byteLength]),
    [
      ['a.weight', 8 + padded.length, 24],
      ['b.weight', 8 + padded.length + 24, 8],
    ],
  );
});
