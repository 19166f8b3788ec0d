/**
 * The block-quantized weights of a model, computed once and kept as a derived weights file
 * (derivedFile.ts), `microsteer-weights-q<bits>-<fingerprint>.safetensors`, with the norms as float32.
 *
 * Per projection and for the embedding: `<name>.q` U8 [rows, blocks, blockBytes] and `<name>.scales`
 * F32 [rows, blocks] (blockQuantize.ts). The gradient file (`...-q<bits>t-...`) holds W^T's quantization
 * of the same matrices, which only the backward graph reads; it is made on first training.
 */
import type { FileHandle } from 'node:fs/promises';
import { gemma2TensorShapes } from '../model/modelFolder';
import type { HeaderEntry } from '../model/safetensors';
import type { ModelFolder, TensorLocation } from '../model/types';
import { blockLayout, blockSizeFor, quantizeRows, type QuantBits } from './blockQuantize';
import {
  derivedFile,
  derivedLayout,
  modelRows,
  placeIn,
  writeAt,
  type DerivedFile,
  type DerivedFileOptions,
  type DerivedLayout,
  type WeightsFileProgress,
} from './derivedFile';

/** Bump when the quantization or the file's layout changes. */
const QUANTIZER_VERSION = 'microsteer-q2';

/** Values quantized per piece: bounds the converter's memory whatever the tensor's size. */
const PIECE_VALUES = 1 << 22;

export type QuantizedPart = 'weights' | 'transposed';

/** A quantized matrix's shape and its values per block (blockSizeFor its columns). */
export interface QuantizedShape {
  rows: number;
  cols: number;
  blockSize: number;
}

export interface QuantizedWeightsFile extends DerivedFile {
  bits: QuantBits;
  /** Each quantized matrix by its model name (W^T's in the transposed part). */
  matrices: Map<string, QuantizedShape>;
}

/** The matrices that are quantized: every projection and the embedding (the norms stay float32). */
export function quantizedMatrices(folder: ModelFolder): string[] {
  return [...gemma2TensorShapes(folder.config).entries()].filter(([, shape]) => shape.length === 2).map(([name]) => name);
}

/** The file with `part` of the model's weights at `bits`, written first when it does not exist yet. */
export async function quantizedWeightsFile(
  folder: ModelFolder,
  bits: QuantBits,
  part: QuantizedPart,
  options: DerivedFileOptions = {},
): Promise<QuantizedWeightsFile> {
  const layout = fileLayout(folder, bits, part);
  const placed = await derivedFile(folder, layout, (handle, at, onProgress) => writeTensors(handle, folder, at, bits, part, onProgress), options);
  return describe(folder, placed, bits, part);
}

/**
 * Where every tensor of `part`'s file in `dir` lies, without reading or writing anything: what a graph
 * needs to be built before the file exists (the forward graph's build includes the reverse sweep, which
 * reads the transposed part, though only the backward graph, opened after the file is made, keeps it).
 */
export function quantizedFileLayout(folder: ModelFolder, bits: QuantBits, part: QuantizedPart, dir: string): QuantizedWeightsFile {
  return describe(folder, placeIn(fileLayout(folder, bits, part), dir), bits, part);
}

function fileLayout(folder: ModelFolder, bits: QuantBits, part: QuantizedPart): DerivedLayout {
  const metadata = { quantizer: QUANTIZER_VERSION, bits: String(bits), block_size: 'largest of 128, 64, 32 dividing the columns, else 32 padded', part };
  return derivedLayout(folder, `q${bits}${part === 'transposed' ? 't' : ''}`, fileEntries(folder, bits, part), metadata);
}

function fileEntries(folder: ModelFolder, bits: QuantBits, part: QuantizedPart): HeaderEntry[] {
  const entries: HeaderEntry[] = [];
  const shapes = gemma2TensorShapes(folder.config);
  if (part === 'weights') {
    for (const [name, shape] of shapes) if (shape.length === 1) entries.push({ name, dtype: 'F32', shape });
  }
  for (const name of quantizedMatrices(folder)) {
    const [rows, cols] = oriented(shapes.get(name) as number[], part);
    const { blocks, blockBytes } = blockLayout(cols, bits);
    entries.push({ name: `${name}.scales`, dtype: 'F32', shape: [rows, blocks] });
    entries.push({ name: `${name}.q`, dtype: 'U8', shape: [rows, blocks, blockBytes] });
  }
  return entries;
}

/** [rows, cols] of the matrix this part quantizes: W itself or W^T. */
function oriented(shape: readonly number[], part: QuantizedPart): [number, number] {
  return part === 'weights' ? [shape[0], shape[1]] : [shape[1], shape[0]];
}

function describe(folder: ModelFolder, placed: DerivedFile, bits: QuantBits, part: QuantizedPart): QuantizedWeightsFile {
  const shapes = gemma2TensorShapes(folder.config);
  const matrices = new Map(
    quantizedMatrices(folder).map((name) => {
      const [rows, cols] = oriented(shapes.get(name) as number[], part);
      return [name, { rows, cols, blockSize: blockSizeFor(cols) }];
    }),
  );
  return { ...placed, bits, matrices };
}

/** Writes every tensor at its offset, a piece at a time: memory stays bounded whatever the tensor's size. */
async function writeTensors(handle: FileHandle, folder: ModelFolder, out: DerivedFile, bits: QuantBits, part: QuantizedPart, onProgress?: WeightsFileProgress): Promise<void> {
  const shapes = gemma2TensorShapes(folder.config);
  const matrices = quantizedMatrices(folder);
  const total = matrices.reduce((sum, name) => sum + (shapes.get(name) as number[]).reduce((a, d) => a * d, 1), 0);
  let done = 0;
  if (part === 'weights') {
    for (const [name, shape] of shapes) {
      if (shape.length === 1) await writeAt(handle, out, name, new Uint8Array((await modelRows(folder, name, 0, 1)).buffer));
    }
  }
  for (const name of matrices) {
    const [rows, cols] = oriented(shapes.get(name) as number[], part);
    const source = part === 'weights' ? null : await transposedRows(folder, name);
    const step = Math.max(1, Math.floor(PIECE_VALUES / cols));
    for (let r = 0; r < rows; r += step) {
      const count = Math.min(step, rows - r);
      const q = quantizeRows(source ? source(r, count) : await modelRows(folder, name, r, count), count, cols, bits);
      await writeAt(handle, out, `${name}.scales`, new Uint8Array(q.scales.buffer), r * q.blocks * 4);
      await writeAt(handle, out, `${name}.q`, q.data, (r * q.data.length) / count);
      done += count * cols;
      onProgress?.(done, total);
    }
  }
}

/** Rows of W^T read from W: the whole of W, once, since every row of W^T needs a column of every row of W. */
async function transposedRows(folder: ModelFolder, name: string): Promise<(first: number, count: number) => Float32Array> {
  const [rows, cols] = (folder.tensors.get(name) as TensorLocation).shape;
  const w = await modelRows(folder, name, 0, rows);
  return (first, count) => {
    const out = new Float32Array(count * rows);
    for (let c = 0; c < count; c++) for (let r = 0; r < rows; r++) out[c * rows + r] = w[r * cols + first + c];
    return out;
  };
}
