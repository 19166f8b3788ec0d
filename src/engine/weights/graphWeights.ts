/**
 * The ModelWeights of a graph (gemma2/layers.ts) in each weights format:
 * - f32 for a model stored in 16 bits: float32 copies of the weights from the float32 weights file
 *   (floatFile.ts);
 * - f32 for a float32 model, and float64 graphs (fidelity checks): the model folder's tensors (cast to
 *   float64 for those), a large embedding in slices;
 * - stored: the file's BF16/F16 tensors used as they are by MatMul and Gather (CUDA has those kernels),
 *   with activations cast around each product; norms, softmax, soft-caps and losses stay float32;
 * - int8 / int4: block-quantized projections and head (MatMulNBits) and embedding lookup, read from
 *   the quantized weights file (quantizedFile.ts), with float32 norms from the same file.
 */
import { InputError } from '../errors';
import { denseWeights, EMBEDDING, linear, tiedHead, type ModelWeights, type WeightLookup } from '../gemma2/layers';
import type { ModelFolder, TensorLocation } from '../model/types';
import type { GraphBuilder, Tensor } from '../onnx/graph';
import { DTYPE_BYTES, dtypeOfSafetensors } from '../onnx/dtype';
import { add, cast, concat, gather, greater, less, logicalAnd, sub, unsqueeze, where } from '../onnx/ops';
import type { DerivedFile, DerivedTensor } from './derivedFile';
import { gatherQuantizedRows, matmulNBits, matmulNBitsInSlices, type ColumnSlice, type QuantizedMatrix } from './quantizedOps';
import { columnSliceName, type QuantizedShape, type QuantizedWeightsFile } from './quantizedFile';

/**
 * onnxruntime folds a weight's Cast into a converted copy once, at session creation, but not when the
 * result would pass 1 GB: such a Cast (a large embedding in float64) would then run on every run. An
 * embedding that large is read as row slices under this size, each folded on its own.
 */
const FOLDED_BYTES = 512 * 1024 * 1024;

/**
 * The most bytes of quantized weights one MatMulNBits packs: onnxruntime packs through a transient copy
 * of the weight, so a larger matrix (the embedding as the head) is multiplied in row slices under it.
 */
const SLICE_BYTES = 64 * 1024 * 1024;

/** The model folder's tensors as dense graph weights (external data into the safetensors files, cast to the compute dtype). */
export function modelWeights(g: GraphBuilder, folder: ModelFolder, foldedBytes = FOLDED_BYTES): ModelWeights {
  const tensor = folderTensor(g, folder);
  const loc = folderLocation(folder, EMBEDDING);
  const castBytes = loc.shape[0] * loc.shape[1] * DTYPE_BYTES[g.computeDtype];
  if (dtypeOfSafetensors(loc.dtype) === g.computeDtype || castBytes <= foldedBytes) return denseWeights(tensor);
  const slices = rowSlices(g, loc, Math.ceil(castBytes / foldedBytes));
  return {
    ...denseWeights(tensor),
    // Each slice looks up the ids it holds (row 0 for the others, then zeroed); the slices' rows add up.
    embedRows: (ids) =>
      slices
        .map(({ start, rows, weight }) => {
          const inSlice = logicalAnd(greater(ids, start - 1), less(ids, start + rows));
          return where(unsqueeze(inSlice, [-1]), gather(weight, where(inSlice, sub(ids, start), 0)), 0);
        })
        .reduce((sum, part) => add(sum, part)),
    head: (h) => concat(slices.map(({ weight }) => tiedHead(h, weight)), -1),
  };
}

/** A model-folder tensor by name, in the compute dtype. */
function folderTensor(g: GraphBuilder, folder: ModelFolder): WeightLookup {
  return (name) => g.computeWeight(folderLocation(folder, name));
}

function folderLocation(folder: ModelFolder, name: string): TensorLocation {
  const loc = folder.tensors.get(name);
  if (!loc) throw new InputError(`${folder.dir}: the model has no tensor ${name}`);
  return loc;
}

/** A [rows, cols] tensor as `count` row slices, each its own weight (a byte range of the same file) in the compute dtype. */
function rowSlices(g: GraphBuilder, loc: TensorLocation, count: number): { start: number; rows: number; weight: Tensor }[] {
  const [rows, cols] = loc.shape;
  const rowBytes = loc.byteLength / rows;
  const per = Math.ceil(rows / count);
  const slices = [];
  for (let start = 0; start < rows; start += per) {
    const n = Math.min(per, rows - start);
    const slice = { ...loc, name: `${loc.name}.rows${start}`, shape: [n, cols], offset: loc.offset + start * rowBytes, byteLength: n * rowBytes };
    slices.push({ start, rows: n, weight: g.computeWeight(slice) });
  }
  return slices;
}

/** Weights read from the float32 weights file (floatFile.ts), under the model's names. */
export function floatWeights(g: GraphBuilder, file: DerivedFile): ModelWeights {
  if (g.computeDtype !== 'float32') throw new InputError(`the float32 weights file is for float32 graphs, not ${g.computeDtype}`);
  return denseWeights((name) => {
    const t = file.tensors.get(name);
    if (!t) throw new InputError(`${file.file}: no tensor ${name}`);
    return g.externalWeight(name, 'float32', t.shape, t.file, t.offset, t.byteLength);
  });
}

/** The model folder's weights kept in their stored dtype for the products (CUDA's `stored` format). */
export function storedWeights(g: GraphBuilder, folder: ModelFolder): ModelWeights {
  const tensor = folderTensor(g, folder);
  const stored = (name: string): Tensor => g.weight(folderLocation(folder, name));
  const embedding = stored(EMBEDDING);
  const dtype = embedding.dtype;
  if (dtypeOfSafetensors(folderLocation(folder, EMBEDDING).dtype) === g.computeDtype) return denseWeights(tensor);
  const back = (t: Tensor) => cast(t, g.computeDtype);
  return {
    tensor,
    project: (x, name) => back(linear(cast(x, dtype), stored(name))),
    embedRows: (ids) => back(gather(embedding, ids)),
    head: (h) => back(tiedHead(cast(h, dtype), embedding)),
  };
}

/**
 * Weights read from a quantized weights file. `transposed` (the file of W^T's quantizations, or only
 * its layout while the file is not made yet) is read by the reverse sweep alone, which the backward
 * graph keeps (onnx/splitBackward.ts): graphs that do not differentiate never declare it.
 */
export function quantizedWeights(g: GraphBuilder, file: QuantizedWeightsFile, transposed: QuantizedWeightsFile, sliceBytes = SLICE_BYTES): ModelWeights {
  if (g.computeDtype !== 'float32') throw new InputError(`int${file.bits} weights compute in float32, not ${g.computeDtype}`);
  const declare = (from: QuantizedWeightsFile, name: string, suffix: string): Tensor => {
    const t = from.tensors.get(name);
    if (!t) throw new InputError(`${from.file}: no tensor ${name}`);
    return g.externalWeight(name + suffix, t.dtype === 'U8' ? 'uint8' : 'float32', t.shape, t.file, t.offset, t.byteLength);
  };
  const matrices = new Map<string, QuantizedMatrix>();
  /** The matrix stored as `tensor` (`.q`, `.scales`) in `from`, declared once (graph names suffixed). */
  const matrix = (from: QuantizedWeightsFile, tensor: string, shape: QuantizedShape, suffix: string, other: () => readonly ColumnSlice[]): QuantizedMatrix => {
    let m = matrices.get(tensor + suffix);
    if (!m) {
      m = { data: declare(from, `${tensor}.q`, suffix), scales: declare(from, `${tensor}.scales`, suffix), bits: from.bits, rows: shape.rows, cols: shape.cols, blockSize: shape.blockSize, transposed: other };
      matrices.set(tensor + suffix, m);
    }
    return m;
  };
  const shapeIn = (from: QuantizedWeightsFile, name: string): QuantizedShape => {
    const shape = from.matrices.get(name);
    if (!shape) throw new InputError(`${from.file}: no quantized matrix ${name}`);
    return shape;
  };
  const forward = (name: string): QuantizedMatrix => matrix(file, name, shapeIn(file, name), '', () => backward(name));
  /** W^T (from `transposed`, its graph names suffixed '.T'), whole or in the column slices it is kept as. */
  const backward = (name: string): readonly ColumnSlice[] => {
    const shape = shapeIn(transposed, name);
    if (!shape.columnSlices) return [{ first: 0, matrix: matrix(transposed, name, shape, '.T', () => [{ first: 0, matrix: forward(name) }]) }];
    const secondOrder = () => {
      throw new Error(`${name}: a column slice of W^T is differentiated`);
    };
    return shape.columnSlices.map((s) => ({ first: s.first, matrix: matrix(transposed, columnSliceName(name, s.first), { ...shape, ...s }, '.T', secondOrder) }));
  };
  /** W's rows in slices of at most `sliceBytes` each, declared as ranges of W's tensors; null for one. */
  const rowSlices = (name: string): QuantizedMatrix[] | null => {
    const shape = file.matrices.get(name);
    const q = file.tensors.get(`${name}.q`);
    const scales = file.tensors.get(`${name}.scales`);
    if (!shape || !q || !scales) throw new InputError(`${file.file}: no quantized matrix ${name}`);
    const count = Math.ceil((q.byteLength + scales.byteLength) / sliceBytes);
    if (count <= 1) return null;
    const step = Math.ceil(shape.rows / count);
    const slices: QuantizedMatrix[] = [];
    for (let first = 0; first < shape.rows; first += step) {
      const rows = Math.min(step, shape.rows - first);
      const range = (t: DerivedTensor, suffix: string) => {
        const rowBytes = t.byteLength / shape.rows;
        const dtype = t.dtype === 'U8' ? 'uint8' : 'float32';
        return g.externalWeight(`${name}.rows${first}${suffix}`, dtype, [rows, ...t.shape.slice(1)], t.file, t.offset + first * rowBytes, rows * rowBytes);
      };
      const transposedSlice = () => {
        throw new Error(`${name}: a row slice is differentiated as part of the whole product`);
      };
      slices.push({ data: range(q, '.q'), scales: range(scales, '.scales'), bits: file.bits, rows, cols: shape.cols, blockSize: shape.blockSize, transposed: transposedSlice });
    }
    return slices;
  };
  const product = (x: Tensor, name: string): Tensor => {
    const slices = rowSlices(name);
    return slices ? matmulNBitsInSlices(x, slices, () => backward(name)) : matmulNBits(x, forward(name));
  };
  return {
    tensor: (name) => declare(file, name, ''),
    project: product,
    // The lookup reads the embedding's bytes through initializers of its own: the head's MatMulNBits
    // prepacks (copies) its B, while these stay memory-mapped, resident only where rows are looked up.
    embedRows: (ids) => gatherQuantizedRows(matrix(file, EMBEDDING, shapeIn(file, EMBEDDING), '.lookup', () => backward(EMBEDDING)), ids),
    head: (h) => product(h, EMBEDDING),
  };
}
