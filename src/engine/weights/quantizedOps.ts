/**
 * The two ops a block-quantized weight takes part in (layout: blockQuantize.ts), forward and gradient
 * side by side as in ops.ts:
 * - `matmulNBits`: x @ W^T with onnxruntime's `com.microsoft` MatMulNBits, on CPU and CUDA. Its
 *   gradient with respect to x is dY @ W, a product with W^T's own quantization (another MatMulNBits),
 *   declared only when a graph differentiates through it: inference graphs never hold it.
 *   `matmulNBitsInSlices` is the same product over slices of W's rows, for large matrices, and
 *   `matmulNBitsByColumns` over slices of W's columns, for a long K (the head's gradient).
 * - `gatherQuantizedRows`: rows of W by index (the embedding), gathered as bytes and dequantized in
 *   the graph with plain ONNX ops, so the lookup reads the bytes the head's MatMulNBits reads (in the
 *   same layout) and dequantizes only the rows it needs.
 */
import type { GradientRule, Tensor } from '../onnx/graph';
import { add, cast, concat, gather, mul, reshape, slice, sub, unsqueeze } from '../onnx/ops';
import type { QuantBits } from './blockQuantize';

/** A quantized W [rows, cols] as graph weights. */
export interface QuantizedMatrix {
  /** uint8 [rows, blocks, blockBytes]. */
  data: Tensor;
  /** float32 [rows, blocks]. */
  scales: Tensor;
  bits: QuantBits;
  blockSize: number;
  rows: number;
  cols: number;
  /** W^T's quantization (for gradients), whole or in column slices, declared on first use. */
  transposed: () => readonly ColumnSlice[];
}

/** Columns [first, first + matrix.cols) of a larger matrix, quantized as a matrix of their own. */
export interface ColumnSlice {
  first: number;
  matrix: QuantizedMatrix;
}

/** x [..., cols] @ W^T -> [..., rows]. */
export function matmulNBits(x: Tensor, w: QuantizedMatrix): Tensor {
  return emitMatMulNBits(x, w, ([gy], [nx]) => [nx && gy ? matmulNBitsByColumns(gy, w.transposed()) : null, null, null]);
}

/**
 * x @ W^T as one product per slice of W's rows (`slices`, in order), joined on the last axis; the
 * gradient is the whole product's, through W^T's quantization (`transposed`). onnxruntime packs a
 * MatMulNBits weight through a transient copy of its size, so one large matrix (a 256k embedding as
 * the head: 0.6 GB at int8 on the 2B shape) raises the peak at session creation by that much; slices
 * bound it by theirs.
 */
export function matmulNBitsInSlices(x: Tensor, slices: readonly QuantizedMatrix[], transposed: () => readonly ColumnSlice[]): Tensor {
  const joined = concat(slices.map((s) => emitMatMulNBits(x, s)), -1);
  const rule: GradientRule = ([gy], [nx]) => [nx && gy ? matmulNBitsByColumns(gy, transposed()) : null];
  return x.graph.emit('Identity', [joined], {}, [{ dtype: 'float32', shape: joined.shape }], rule, [x])[0];
}

/**
 * x @ W^T with W given as slices of its columns: each slice multiplies its columns of x, and the
 * products add up. It only ever computes a gradient (W^T's), so it has no gradient of its own.
 */
export function matmulNBitsByColumns(x: Tensor, slices: readonly ColumnSlice[]): Tensor {
  if (slices.length === 1 && slices[0].first === 0) return matmulNBits(x, slices[0].matrix);
  const products = slices.map(({ first, matrix }) => emitMatMulNBits(slice(x, -1, first, first + matrix.cols), matrix));
  return products.reduce((sum, p) => add(sum, p));
}

/** One MatMulNBits node; without a rule it is an inner node of a composite op. */
function emitMatMulNBits(x: Tensor, w: QuantizedMatrix, rule?: GradientRule): Tensor {
  if (x.dtype !== 'float32') throw new Error(`MatMulNBits: needs float32 activations, got ${x}`);
  const k = x.shape[x.rank - 1];
  if (k !== w.cols) throw new Error(`MatMulNBits: ${x} meets a weight of ${w.rows} x ${w.cols}`);
  const attrs = {
    K: { i: w.cols },
    N: { i: w.rows },
    bits: { i: w.bits },
    block_size: { i: w.blockSize },
    // 4: int8 activations in the CPU kernel; the float reference kernel (0) is ~100x slower for 8 bits.
    accuracy_level: { i: 4 },
  };
  const outShape = [...x.shape.slice(0, -1), w.rows];
  return x.graph.emit('com.microsoft:MatMulNBits', [x, w.data, w.scales], attrs, [{ dtype: 'float32', shape: outShape }], rule)[0];
}

/** Rows of W for int64 `ids` [...], dequantized to float32 [..., cols]. */
export function gatherQuantizedRows(w: QuantizedMatrix, ids: Tensor): Tensor {
  const g = ids.graph;
  const blocks = Math.ceil(w.cols / w.blockSize);
  const bytes = cast(gather(w.data, ids), 'float32'); // [..., blocks, blockBytes]
  const zero = 1 << (w.bits - 1);
  let values: Tensor;
  if (w.bits === 8) {
    values = bytes;
  } else {
    // Two values per byte, the even one in the low nibble: high = floor(v / 16), low = v - 16 high.
    const high = g.emit('Floor', [mul(bytes, 1 / 16)], {}, [{ dtype: 'float32', shape: bytes.shape }])[0];
    const low = sub(bytes, mul(high, 16));
    values = reshape(concat([unsqueeze(low, [-1]), unsqueeze(high, [-1])], -1), [...ids.shape, blocks, w.blockSize]);
  }
  const scaled = mul(sub(values, zero), unsqueeze(gather(w.scales, ids), [-1]));
  const flat = reshape(scaled, [...ids.shape, blocks * w.blockSize]);
  return blocks * w.blockSize === w.cols ? flat : slice(flat, ids.rank, 0, w.cols);
}
