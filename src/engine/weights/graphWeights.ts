/**
 * The ModelWeights of a graph (gemma2/layers.ts) in each weights format:
 * - f32: the model folder's tensors cast to the compute dtype (exact; today's path);
 * - stored: the file's BF16/F16 tensors used as they are by MatMul and Gather (CUDA has those kernels),
 *   with activations cast around each product; norms, softmax, soft-caps and losses stay float32;
 * - int8 / int4: block-quantized projections and head (MatMulNBits) and embedding lookup, read from
 *   the quantized weights file (quantizedFile.ts), with float32 norms from the same file.
 */
import { InputError } from '../errors';
import { denseWeights, EMBEDDING, folderTensor, linear, tiedHead, type ModelWeights } from '../gemma2/layers';
import type { ModelFolder } from '../model/types';
import type { GraphBuilder, Tensor } from '../onnx/graph';
import { dtypeOfSafetensors } from '../onnx/dtype';
import { cast, gather } from '../onnx/ops';
import { gatherQuantizedRows, matmulNBits, type QuantizedMatrix } from './quantizedOps';
import type { QuantizedWeightsFile } from './quantizedFile';

/** The model folder's weights kept in their stored dtype for the products (CUDA's `stored` format). */
export function storedWeights(g: GraphBuilder, folder: ModelFolder): ModelWeights {
  const tensor = folderTensor(g, folder);
  const stored = (name: string): Tensor => {
    const loc = folder.tensors.get(name);
    if (!loc) throw new InputError(`${folder.dir}: the model has no tensor ${name}`);
    return g.weight(loc);
  };
  const embedding = stored(EMBEDDING);
  const dtype = embedding.dtype;
  if (dtypeOfSafetensors(folder.tensors.get(EMBEDDING)?.dtype ?? 'F32') === g.computeDtype) return denseWeights(tensor);
  const back = (t: Tensor) => cast(t, g.computeDtype);
  return {
    tensor,
    project: (x, name) => back(linear(cast(x, dtype), stored(name))),
    embedRows: (ids) => back(gather(embedding, ids)),
    head: (h) => back(tiedHead(cast(h, dtype), embedding)),
  };
}

/**
 * Weights read from a quantized weights file; `transposed` (the file of W^T's quantizations) is given
 * to graphs that differentiate through the products (training), and only those.
 */
export function quantizedWeights(g: GraphBuilder, file: QuantizedWeightsFile, transposed: QuantizedWeightsFile | null): ModelWeights {
  if (g.computeDtype !== 'float32') throw new InputError(`int${file.bits} weights compute in float32, not ${g.computeDtype}`);
  const declare = (from: QuantizedWeightsFile, name: string, suffix: string): Tensor => {
    const t = from.tensors.get(name);
    if (!t) throw new InputError(`${from.file}: no tensor ${name}`);
    return g.externalWeight(name + suffix, t.dtype === 'U8' ? 'uint8' : 'float32', t.shape, t.file, t.offset, t.byteLength);
  };
  const matrices = new Map<string, QuantizedMatrix>();
  /** W (from `file`) or W^T (from `transposed`, its graph names suffixed '.T'), declared once each. */
  const matrix = (from: QuantizedWeightsFile, name: string, suffix: string, other: () => QuantizedMatrix): QuantizedMatrix => {
    let m = matrices.get(name + suffix);
    const shape = from.matrices.get(name);
    if (!shape) throw new InputError(`${from.file}: no quantized matrix ${name}`);
    if (!m) {
      const [rows, cols] = shape;
      m = { data: declare(from, `${name}.q`, suffix), scales: declare(from, `${name}.scales`, suffix), bits: from.bits, blockSize: from.blockSize, rows, cols, transposed: other };
      matrices.set(name + suffix, m);
    }
    return m;
  };
  const forward = (name: string): QuantizedMatrix =>
    matrix(file, name, '', () => {
      if (!transposed) throw new Error(`a graph differentiates through ${name}, but was built without the transposed quantization`);
      return matrix(transposed, name, '.T', () => forward(name));
    });
  return {
    tensor: (name) => declare(file, name, ''),
    project: (x, name) => matmulNBits(x, forward(name)),
    embedRows: (ids) => gatherQuantizedRows(forward(EMBEDDING), ids),
    head: (h) => matmulNBits(h, forward(EMBEDDING)),
  };
}
