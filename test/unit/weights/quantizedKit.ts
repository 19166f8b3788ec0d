/** Block-quantized matrices as graph constants, and the float64 reference of a product with one, for the weights tests. */
import type { GraphBuilder } from '../../../src/engine/onnx/graph';
import type { BlockQuantized } from '../../../src/engine/weights/blockQuantize';
import type { ColumnSlice, QuantizedMatrix } from '../../../src/engine/weights/quantizedOps';

/** `q` as inline constants; `transposed` is W^T's, for the tests that differentiate (default: none). */
export function constantMatrix(
  g: GraphBuilder,
  q: BlockQuantized,
  transposed: () => readonly ColumnSlice[] = () => {
    throw new Error('not differentiated here');
  },
): QuantizedMatrix {
  return {
    data: g.constant(q.data, 'uint8', [q.rows, q.blocks, (q.blockSize * q.bits) / 8]),
    scales: g.constant(q.scales, 'float32', [q.rows, q.blocks]),
    bits: q.bits,
    blockSize: q.blockSize,
    rows: q.rows,
    cols: q.cols,
    transposed,
  };
}

/**
 * The largest difference between `got` [batch, rows] and a @ W^T in float64, with a [batch, cols] and
 * W = `w` [rows, cols] (dequantized values), and the largest |a @ W^T| for the bound's scale.
 */
export function productError(a: ArrayLike<number>, w: ArrayLike<number>, batch: number, rows: number, cols: number, got: ArrayLike<number>): { worst: number; scale: number } {
  let worst = 0;
  let scale = 0;
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < rows; r++) {
      let y = 0;
      for (let c = 0; c < cols; c++) y += a[b * cols + c] * w[r * cols + c];
      worst = Math.max(worst, Math.abs(y - got[b * rows + r]));
      scale = Math.max(scale, Math.abs(y));
    }
  }
  return { worst, scale };
}
