/**
 * The block-quantized weights of a model, computed once and kept as a derived weights file
 * (derivedFile.ts), `microsteer-weights-q<bits>-<fingerprint>.safetensors`, with the norms as float32.
 *
 * Per projection and for the embedding: `<name>.q` U8 [rows, blocks, blockBytes] and `<name>.scales`
 * F32 [rows, blocks] (blockQuantize.ts). The gradient file (`...-q<bits>t-...`) holds W^T's quantization
 * of the same matrices, which only the backward graph reads; it is made on first training. There, a
 * matrix with more than 2 x COLUMN_SLICE columns (W^T of the embedding: the vocabulary) is kept as slices of
 * COLUMN_SLICE columns, each quantized on its own (`<name>.cols<first>.q` and `.scales`): MLAS's
 * MatMulNBits slows down on a long K, and the head's gradient is the one product with a long K.
 * Measured (2 threads, int8, 96 rows x 2304 x the 2B shape's 256,000 columns): 1.32 s whole, 0.40-0.48 s
 * in slices of 8192 (0.57-0.63 s in 16384, 0.50-0.66 s in 4096), as fast as the forward orientation (0.40 s);
 * a K of 9216 (the layers' gate and up) runs at full speed whole and is not cut.
 */
import type { FileHandle } from 'node:fs/promises';
import { gemma2TensorShapes } from '../model/modelFolder';
import type { HeaderEntry } from '../model/safetensors';
import type { ModelFolder } from '../model/types';
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

/** The columns of a slice of a matrix too wide for one product (a multiple of every block size). */
export const COLUMN_SLICE = 8192;

export type QuantizedPart = 'weights' | 'transposed';

/** A quantized matrix's shape and its values per block (blockSizeFor its columns). */
export interface QuantizedShape {
  rows: number;
  cols: number;
  blockSize: number;
  /** The slices of its columns it is kept as, each a matrix of its own; null when it is kept whole. */
  columnSlices: readonly ColumnRange[] | null;
}

/** Columns [first, first + cols) of a matrix, quantized in blocks of blockSizeFor(cols). */
export interface ColumnRange {
  first: number;
  cols: number;
  blockSize: number;
}

/** The graph and file name of a column slice's tensors (`.q` and `.scales` follow it). */
export const columnSliceName = (name: string, first: number) => `${name}.cols${first}`;

/** How `part` keeps a matrix of `cols` columns: whole (null), or in slices of COLUMN_SLICE columns. */
export function columnSlices(cols: number, part: QuantizedPart): ColumnRange[] | null {
  // Only gradients are computed over column slices (matmulNBitsByColumns has no gradient of its own).
  if (part === 'weights' || cols <= 2 * COLUMN_SLICE) return null;
  const slices: ColumnRange[] = [];
  for (let first = 0; first < cols; first += COLUMN_SLICE) {
    const width = Math.min(COLUMN_SLICE, cols - first);
    slices.push({ first, cols: width, blockSize: blockSizeFor(width) });
  }
  return slices;
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
    for (const { tensor, cols: width } of storedPieces(name, cols, part)) {
      const { blocks, blockBytes } = blockLayout(width, bits);
      entries.push({ name: `${tensor}.scales`, dtype: 'F32', shape: [rows, blocks] });
      entries.push({ name: `${tensor}.q`, dtype: 'U8', shape: [rows, blocks, blockBytes] });
    }
  }
  return entries;
}

/** The matrices a matrix is stored as: itself, or its column slices, by tensor name. */
function storedPieces(name: string, cols: number, part: QuantizedPart): { tensor: string; first: number; cols: number }[] {
  const slices = columnSlices(cols, part);
  return slices ? slices.map((s) => ({ tensor: columnSliceName(name, s.first), first: s.first, cols: s.cols })) : [{ tensor: name, first: 0, cols }];
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
      return [name, { rows, cols, blockSize: blockSizeFor(cols), columnSlices: columnSlices(cols, part) }];
    }),
  );
  return { ...placed, bits, matrices };
}

/**
 * Writes every tensor at its offset, a piece at a time: memory stays bounded whatever the tensor's size.
 * A matrix of the transposed part is made a stored piece at a time from the rows of W it transposes (W^T's
 * columns [first, first + cols) are W's rows): the embedding's W^T from COLUMN_SLICE rows of W at a time,
 * where the whole table as float32 would be 2.4 GB on the 2B shape.
 */
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
    for (const piece of storedPieces(name, cols, part)) {
      const slice = part === 'weights' ? null : transpose(await modelRows(folder, name, piece.first, piece.cols), piece.cols, rows);
      const step = Math.max(1, Math.floor(PIECE_VALUES / piece.cols));
      for (let r = 0; r < rows; r += step) {
        const count = Math.min(step, rows - r);
        const values = slice ? slice.subarray(r * piece.cols, (r + count) * piece.cols) : await modelRows(folder, name, r, count);
        const q = quantizeRows(values, count, piece.cols, bits);
        await writeAt(handle, out, `${piece.tensor}.scales`, new Uint8Array(q.scales.buffer), r * q.blocks * 4);
        await writeAt(handle, out, `${piece.tensor}.q`, q.data, (r * q.data.length) / count);
        done += count * piece.cols;
        onProgress?.(done, total);
      }
    }
  }
}

/** The transpose [cols, rows] of a row-major [rows, cols] matrix. */
function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c];
  return out;
}
