/**
 * Symmetric block quantization of a matrix W [N, K] (a projection stored [out, in], or the embedding
 * [vocab, hidden]) in the layout onnxruntime's `com.microsoft` MatMulNBits reads as its B input and
 * GatherBlockQuantized (uint8 data) reads as its data:
 *
 *   data   uint8 [N, blocks, blockBytes]   blocks = ceil(K / blockSize), blockBytes = blockSize * bits / 8
 *   scales float32 [N, blocks]
 *
 * Each block of `blockSize` consecutive values of a row is stored as q = round(w / scale) + zero with
 * scale = max|w| / (2^(bits-1) - 1) and zero = 2^(bits-1), the default zero point both operators assume
 * when none is given (so no zero-point tensor is stored). 4-bit values pack two per byte, the even
 * element in the low nibble. A row's last block is padded with zeros when K is not a multiple of it.
 */

export type QuantBits = 4 | 8;

export interface BlockQuantized {
  bits: QuantBits;
  blockSize: number;
  /** Rows (N) and columns (K) of the matrix. */
  rows: number;
  cols: number;
  blocks: number;
  data: Uint8Array;
  scales: Float32Array;
}

/** Block sizes in order of preference: onnxruntime's fast CPU kernels (accuracy_level 4) take 16 to 256, a power of two. */
const BLOCK_SIZES = [128, 64, 32];

/**
 * Values per block for a matrix of `cols` columns: the largest of 128, 64, 32 that divides it, else 32
 * with a padded last block. Larger blocks decode faster and pack smaller (onnxruntime-node 1.30, one
 * 2304 x 9216 product at batch 1, 128 against 32: 20-25% faster, 27-45% quicker session creation;
 * DESIGN §8), at a KL within the formats' bounds; padding a small matrix to 128 would waste more.
 */
export function blockSizeFor(cols: number): number {
  return BLOCK_SIZES.find((size) => cols % size === 0) ?? BLOCK_SIZES[BLOCK_SIZES.length - 1];
}

export function blockLayout(cols: number, bits: QuantBits, blockSize = blockSizeFor(cols)): { blocks: number; blockBytes: number } {
  return { blocks: Math.ceil(cols / blockSize), blockBytes: (blockSize * bits) / 8 };
}

/**
 * Quantizes rows [firstRow, firstRow + rowCount) of a row-major float matrix with `cols` columns
 * (`values` holds just those rows), so that large tensors can be quantized a slice at a time.
 */
export function quantizeRows(values: ArrayLike<number>, rowCount: number, cols: number, bits: QuantBits, blockSize = blockSizeFor(cols)): BlockQuantized {
  if (values.length !== rowCount * cols) throw new Error(`quantizeRows: ${values.length} values for ${rowCount} x ${cols}`);
  const { blocks, blockBytes } = blockLayout(cols, bits, blockSize);
  const data = new Uint8Array(rowCount * blocks * blockBytes);
  const scales = new Float32Array(rowCount * blocks);
  const zero = 1 << (bits - 1);
  const qMax = (1 << bits) - 1;
  const q = new Uint8Array(blockSize);
  for (let r = 0; r < rowCount; r++) {
    for (let j = 0; j < blocks; j++) {
      const start = r * cols + j * blockSize;
      const len = Math.min(blockSize, cols - j * blockSize);
      let absMax = 0;
      for (let i = 0; i < len; i++) absMax = Math.max(absMax, Math.abs(values[start + i]));
      // The scale as stored (float32) is the one dequantization multiplies by: quantize with it.
      const scale = Math.fround(absMax / (zero - 1));
      scales[r * blocks + j] = scale;
      q.fill(zero);
      if (scale > 0) {
        for (let i = 0; i < len; i++) q[i] = Math.min(qMax, Math.max(0, Math.round(values[start + i] / scale) + zero));
      }
      const at = (r * blocks + j) * blockBytes;
      if (bits === 8) data.set(q, at);
      else for (let i = 0; i < blockBytes; i++) data[at + i] = q[2 * i] | (q[2 * i + 1] << 4);
    }
  }
  return { bits, blockSize, rows: rowCount, cols, blocks, data, scales };
}

/** The float values a block-quantized matrix stands for, [rows * cols] (the reference for tests and gradients). */
export function dequantize(m: BlockQuantized): Float32Array {
  const out = new Float32Array(m.rows * m.cols);
  const zero = 1 << (m.bits - 1);
  const blockBytes = (m.blockSize * m.bits) / 8;
  for (let r = 0; r < m.rows; r++) {
    for (let c = 0; c < m.cols; c++) {
      const j = Math.floor(c / m.blockSize);
      const i = c % m.blockSize;
      const at = (r * m.blocks + j) * blockBytes;
      const q = m.bits === 8 ? m.data[at + i] : (m.data[at + (i >> 1)] >> ((i & 1) * 4)) & 15;
      out[r * m.cols + c] = (q - zero) * m.scales[r * m.blocks + j];
    }
  }
  return out;
}
