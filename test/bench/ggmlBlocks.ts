/**
 * Rows of float32 values in the ggml tensor types the llama.cpp peer reads, as ggml's reference
 * quantizers (ggml-quants.c, quantize_row_*_ref) write them, so that the peer runs what
 * llama-quantize would have made:
 * - F16: IEEE binary16, rounded to nearest even;
 * - Q8_0: per 32 values an f16 scale d = max|x| / 127 and 32 int8 q = round(x / d);
 * - Q4_0: per 32 values an f16 scale d = m / -8, m the value of largest magnitude, and 16 bytes of
 *   q = min(15, trunc(x / d + 8.5)); value j in the low nibble of byte j, value j + 16 in its high nibble.
 */
import { encodeTensor, float32ToF16Bits } from '../../src/engine/model/tensorData';
import type { GgufFormat } from './roofline';

export const QK = 32;

/** ggml_type codes. */
export const GGML_TYPE: Record<GgufFormat | 'F32', number> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8 };

/** llama_ftype of a file whose matrices are all of one type (general.file_type). */
export const LLAMA_FTYPE: Record<GgufFormat, number> = { F16: 1, Q4_0: 2, Q8_0: 7 };

/** Bytes of a row of `cols` values (a multiple of 32 for the block types). */
export function ggmlRowBytes(format: GgufFormat, cols: number): number {
  if (format === 'F16') return cols * 2;
  if (cols % QK !== 0) throw new Error(`${format} rows must hold a multiple of ${QK} values, not ${cols}`);
  return (cols / QK) * (format === 'Q8_0' ? 34 : 18);
}

/** C's roundf: halves away from zero. */
function roundAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** `values` (whole rows) in the format. */
export function encodeGgml(values: Float32Array, format: GgufFormat): Uint8Array {
  if (format === 'F16') return encodeTensor(values, 'F16');
  const blocks = values.length / QK;
  const blockBytes = format === 'Q8_0' ? 34 : 18;
  const out = new Uint8Array(blocks * blockBytes);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const x = values.subarray(b * QK, (b + 1) * QK);
    const at = b * blockBytes;
    if (format === 'Q8_0') {
      let amax = 0;
      for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[j]));
      const d = amax / 127;
      const id = d ? 1 / d : 0;
      view.setUint16(at, float32ToF16Bits(d), true);
      for (let j = 0; j < QK; j++) view.setInt8(at + 2 + j, roundAway(x[j] * id));
    } else {
      let amax = 0;
      let max = 0;
      for (let j = 0; j < QK; j++) {
        if (Math.abs(x[j]) > amax) [amax, max] = [Math.abs(x[j]), x[j]];
      }
      const d = max / -8;
      const id = d ? 1 / d : 0;
      view.setUint16(at, float32ToF16Bits(d), true);
      for (let j = 0; j < QK / 2; j++) {
        const lo = Math.min(15, Math.trunc(x[j] * id + 8.5));
        const hi = Math.min(15, Math.trunc(x[j + QK / 2] * id + 8.5));
        out[at + 2 + j] = lo | (hi << 4);
      }
    }
  }
  return out;
}
