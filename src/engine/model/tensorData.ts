/**
 * Tensor bytes <-> float32: reading one tensor out of a safetensors file, and the F16/BF16 encodings
 * (IEEE binary16; bfloat16 = the top 16 bits of a float32, rounded to nearest even).
 * Typed-array views assume a little-endian host, as safetensors data is little-endian.
 */
import { open } from 'node:fs/promises';
import { InputError } from '../errors';
import { readExactly } from './safetensors';
import type { SafetensorsDtype, TensorLocation } from './types';

/** Exactly that tensor's bytes, converted to float32. */
export function readTensor(loc: TensorLocation): Promise<Float32Array> {
  return readTensorBytes(loc, 0, loc.byteLength);
}

/** Rows [first, first + count) of a tensor as float32 (a 1-D tensor is one row): large tensors a slice at a time. */
export function readTensorRows(loc: TensorLocation, first: number, count: number): Promise<Float32Array> {
  const rowBytes = loc.shape.length <= 1 ? loc.byteLength : loc.byteLength / loc.shape[0];
  return readTensorBytes(loc, first * rowBytes, count * rowBytes);
}

/** `length` bytes of the tensor from byte `start` of its data, converted to float32. */
async function readTensorBytes(loc: TensorLocation, start: number, length: number): Promise<Float32Array> {
  let handle;
  try {
    handle = await open(loc.file, 'r');
  } catch (e) {
    throw new InputError(`cannot open ${loc.file} for tensor "${loc.name}": ${(e as Error).message}`);
  }
  try {
    return decodeTensor(await readExactly(handle, loc.offset + start, length, `${loc.file} (tensor "${loc.name}")`), loc.dtype);
  } finally {
    await handle.close();
  }
}

/** Float32 values of little-endian tensor bytes. */
export function decodeTensor(bytes: Uint8Array, dtype: SafetensorsDtype): Float32Array {
  // Copy into a fresh, aligned buffer: `bytes` may sit at any offset of a shared one.
  const aligned = new Uint8Array(bytes).buffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(aligned);
    case 'BF16': {
      const halves = new Uint16Array(aligned);
      const out = new Float32Array(halves.length);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < halves.length; i++) bits[i] = halves[i] << 16;
      return out;
    }
    case 'F16': {
      const halves = new Uint16Array(aligned);
      const table = f16Table();
      const out = new Float32Array(halves.length);
      for (let i = 0; i < halves.length; i++) out[i] = table[halves[i]];
      return out;
    }
  }
}

/** Little-endian bytes of `values` in `dtype` (rounded to nearest even for F16/BF16). */
export function encodeTensor(values: Float32Array, dtype: SafetensorsDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const out = new Uint16Array(values.length);
  const toHalf = dtype === 'BF16' ? float32ToBf16Bits : float32ToF16Bits;
  for (let i = 0; i < values.length; i++) out[i] = toHalf(values[i]);
  return new Uint8Array(out.buffer);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function float32ToBf16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff; // NaN stays a (quiet) NaN
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToFloat32(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0];
}

export function float32ToF16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15; // the binary16 biased exponent
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    // subnormal: the value is m * 2^-24 with m = significand >> (14 - e)
    const significand = mantissa | 0x800000;
    const shift = 14 - e;
    return sign | roundShift(significand, shift);
  }
  // a carry out of the mantissa correctly bumps the exponent (up to infinity)
  return sign | ((e << 10) + roundShift(mantissa, 13));
}

/** `value >> shift`, rounded to nearest, ties to even. */
function roundShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

export function f16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

let table: Float32Array | undefined;
function f16Table(): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) table[bits] = f16BitsToFloat32(bits);
  }
  return table;
}
