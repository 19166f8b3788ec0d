/**
 * Tensor decoding and the F16/BF16 encoders against bit patterns from the IEEE 754 binary16 and bfloat16
 * definitions, written into files here byte by byte.
 */
import { test } from 'node:test';
import { testTempDir } from '../../fixtures/tempDir';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../../../src/engine/errors';
import { readSafetensorsHeader } from '../../../src/engine/model/safetensors';
import {
  bf16BitsToFloat32,
  encodeTensor,
  f16BitsToFloat32,
  float32ToBf16Bits,
  float32ToF16Bits,
  readTensor,
} from '../../../src/engine/model/tensorData';

/** [value, binary16 bits]: exact values, from the format's definition. */
const F16_CASES: [number, number][] = [
  [0, 0x0000],
  [-0, 0x8000],
  [1, 0x3c00],
  [-2, 0xc000],
  [0.5, 0x3800],
  [65504, 0x7bff], // largest finite
  [2 ** -14, 0x0400], // smallest normal
  [2 ** -24, 0x0001], // smallest subnormal
  [1023 * 2 ** -24, 0x03ff], // largest subnormal
  [0.333251953125, 0x3555], // nearest binary16 to 1/3
  [Infinity, 0x7c00],
  [-Infinity, 0xfc00],
];

/** [value, bfloat16 bits]. */
const BF16_CASES: [number, number][] = [
  [0, 0x0000],
  [1, 0x3f80],
  [-2, 0xc000],
  [3.140625, 0x4049],
  [2 ** -126, 0x0080], // smallest normal
  [2 ** -133, 0x0001], // smallest subnormal
  [Infinity, 0x7f80],
  [-Infinity, 0xff80],
];

const dir = testTempDir('tensordata');

/** One tensor, written with a hand-built header: returns its location as the header reader gives it. */
async function tensorFile(name: string, dtype: string, data: Buffer) {
  const elementSize = dtype === 'F32' ? 4 : 2;
  const json = Buffer.from(JSON.stringify({ [name]: { dtype, shape: [data.length / elementSize], data_offsets: [0, data.length] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const file = path.join(dir, `${name}.safetensors`);
  writeFileSync(file, Buffer.concat([length, json, data]));
  return (await readSafetensorsHeader(file)).tensors[0];
}

function u16le(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeUInt16LE(v, i * 2));
  return b;
}

test('readTensor decodes F16 bit patterns to their exact values', async () => {
  const values = await readTensor(await tensorFile('f16', 'F16', u16le(F16_CASES.map(([, bits]) => bits))));
  assert.deepEqual([...values], F16_CASES.map(([v]) => Math.fround(v)));
  assert.ok(Object.is(values[1], -0));
  const nan = await readTensor(await tensorFile('f16nan', 'F16', u16le([0x7e00, 0x7c01])));
  assert.ok(Number.isNaN(nan[0]) && Number.isNaN(nan[1]));
});

test('readTensor decodes BF16 bit patterns to their exact values', async () => {
  const values = await readTensor(await tensorFile('bf16', 'BF16', u16le(BF16_CASES.map(([, bits]) => bits))));
  assert.deepEqual([...values], BF16_CASES.map(([v]) => v));
});

test('readTensor returns F32 data exactly, from the right offset', async () => {
  const expected = [1.5, -3.25, 1e-30, 3.4e38, Math.PI, -0].map(Math.fround);
  const data = Buffer.alloc(expected.length * 4);
  expected.forEach((v, i) => data.writeFloatLE(v, i * 4));
  const location = await tensorFile('f32', 'F32', data);
  assert.deepEqual([...(await readTensor(location))], expected);
});

test('readTensor of a tensor whose bytes are gone is an InputError naming the tensor', async () => {
  const location = await tensorFile('short', 'F32', Buffer.alloc(8));
  await assert.rejects(readTensor({ ...location, byteLength: 16 }), (e: unknown) => e instanceof InputError && /"short"/.test(e.message) && /truncated/.test(e.message));
  await assert.rejects(readTensor({ ...location, file: path.join(dir, 'gone') }), (e: unknown) => e instanceof InputError && /"short"/.test(e.message));
});

test('the F16 encoder gives the defined bit patterns, rounding to nearest even', () => {
  for (const [value, bits] of F16_CASES) assert.equal(float32ToF16Bits(value), bits, `f16(${value})`);
  const cases: [number, number][] = [
    [1 + 2 ** -11, 0x3c00], // halfway between 1 and the next: ties to the even 1
    [1 + 3 * 2 ** -11, 0x3c02], // halfway between 0x3c01 and 0x3c02: to the even 0x3c02
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above halfway: up
    [65519, 0x7bff], // below the overflow midpoint
    [65520, 0x7c00], // the midpoint rounds to even: infinity
    [1e6, 0x7c00],
    [2 ** -25, 0x0000], // half the smallest subnormal: ties to 0
    [1.5 * 2 ** -25, 0x0001],
    [3 * 2 ** -25, 0x0002], // halfway between subnormals 1 and 2: to the even 2
    [2 ** -30, 0x0000],
    [-(2 ** -30), 0x8000],
    [(2 ** -14) * (1 - 2 ** -12), 0x0400], // rounds up from subnormal to the smallest normal
  ];
  for (const [value, bits] of cases) assert.equal(float32ToF16Bits(value), bits, `f16(${value})`);
  assert.equal(float32ToF16Bits(NaN) & 0x7c00, 0x7c00);
  assert.notEqual(float32ToF16Bits(NaN) & 0x3ff, 0);
});

test('every finite binary16 value survives decode then encode', () => {
  let previous = -Infinity;
  for (let bits = 0; bits < 0x7c00; bits++) {
    const value = f16BitsToFloat32(bits);
    assert.ok(bits === 0 || value > previous, `decoding is increasing at ${bits}`);
    previous = value;
    assert.equal(float32ToF16Bits(value), bits);
    assert.equal(float32ToF16Bits(-value), bits | 0x8000);
  }
});

test('the BF16 encoder keeps the top half of a float32, rounding to nearest even', () => {
  for (const [value, bits] of BF16_CASES) assert.equal(float32ToBf16Bits(value), bits, `bf16(${value})`);
  assert.equal(float32ToBf16Bits(1 + 2 ** -8), 0x3f80); // halfway: to the even 1
  assert.equal(float32ToBf16Bits(1 + 3 * 2 ** -8), 0x3f82); // halfway: to the even 0x3f82
  assert.equal(float32ToBf16Bits(1 + 2 ** -8 + 2 ** -20), 0x3f81);
  assert.equal(float32ToBf16Bits(3.4028234663852886e38), 0x7f80); // float32 max rounds up to infinity
  assert.ok(Number.isNaN(bf16BitsToFloat32(float32ToBf16Bits(NaN))));
  for (let bits = 0; bits < 0x7f80; bits += 7) assert.equal(float32ToBf16Bits(bf16BitsToFloat32(bits)), bits);
});

test('encodeTensor writes little-endian bytes that readTensor reads back', async () => {
  const values = Float32Array.from([0.1, -7.75, 1234.5, 2 ** -20]);
  for (const dtype of ['F32', 'BF16', 'F16'] as const) {
    const bytes = Buffer.from(encodeTensor(values, dtype));
    const back = await readTensor(await tensorFile(`round-${dtype}`, dtype, bytes));
    // rounding to nearest is off by at most half an ulp: 2^-8 of the value for BF16's 8 significant bits,
    // 2^-11 for F16's 11; F32 is exact (the inputs are float32 already)
    const tolerance = { F32: 0, BF16: 2 ** -8, F16: 2 ** -11 }[dtype];
    values.forEach((v, i) => assert.ok(Math.abs(back[i] - v) <= tolerance * Math.abs(v), `${dtype}[${i}]: ${back[i]} vs ${v}`));
  }
  assert.equal(Buffer.from(encodeTensor(Float32Array.of(1), 'BF16')).readUInt16LE(0), 0x3f80);
  assert.equal(Buffer.from(encodeTensor(Float32Array.of(1), 'F16')).readUInt16LE(0), 0x3c00);
});
