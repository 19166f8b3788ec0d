/**
 * The f32 format's weights: float32 copies of a model's tensors, made once and kept as a derived weights
 * file (derivedFile.ts), `microsteer-weights-f32-<fingerprint>.safetensors`, in the orientation the graph
 * reads them in. onnxruntime memory-maps the file and packs each product's weights once; no Cast and no
 * Transpose of a weight is left for it to fold at session creation (folding made a converted copy of
 * every weight, and then a transposed one, on every start).
 *
 * - `<projection>.T` F32 [in, out]: W^T, the B of `x @ W^T` as MatMul reads it;
 * - the embedding F32 [vocab, hidden] as it is (the lookup gathers its rows, the tied head multiplies by it);
 * - the norms F32.
 * BF16/F16 to float32 is exact, so these graphs compute what graphs over the model's own files did.
 */
import type { FileHandle } from 'node:fs/promises';
import { EMBEDDING } from '../gemma2/layers';
import { gemma2TensorShapes } from '../model/modelFolder';
import type { HeaderEntry } from '../model/safetensors';
import type { ModelFolder } from '../model/types';
import { derivedFile, derivedLayout, modelRows, transposedRows, writeAt, type DerivedFile, type DerivedFileOptions, type WeightsFileProgress } from './derivedFile';

/** Bump when the file's layout changes. */
const FLOAT_FILE_VERSION = 'microsteer-f32-1';

/** Values copied per piece of the embedding: bounds the converter's memory whatever the table's size. */
const PIECE_VALUES = 1 << 22;

/** A projection's W^T in the file. */
export const transposedName = (name: string): string => `${name}.T`;

/** The model's float32 weights file, written first when it does not exist yet. */
export function floatWeightsFile(folder: ModelFolder, options: DerivedFileOptions = {}): Promise<DerivedFile> {
  const layout = derivedLayout(folder, 'f32', fileEntries(folder), { converter: FLOAT_FILE_VERSION });
  return derivedFile(folder, layout, (handle, placed, onProgress) => writeTensors(handle, folder, placed, onProgress), options);
}

function fileEntries(folder: ModelFolder): HeaderEntry[] {
  return [...gemma2TensorShapes(folder.config)].map(([name, shape]) =>
    isProjection(name, shape) ? { name: transposedName(name), dtype: 'F32', shape: [shape[1], shape[0]] } : { name, dtype: 'F32', shape },
  );
}

const isProjection = (name: string, shape: readonly number[]) => shape.length === 2 && name !== EMBEDDING;

async function writeTensors(handle: FileHandle, folder: ModelFolder, out: DerivedFile, onProgress?: WeightsFileProgress): Promise<void> {
  const shapes = [...gemma2TensorShapes(folder.config)];
  const total = shapes.reduce((sum, [, shape]) => sum + shape.reduce((a, d) => a * d, 1), 0);
  const bytes = (values: Float32Array) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  let done = 0;
  for (const [name, shape] of shapes) {
    if (isProjection(name, shape)) {
      // One projection at a time: W^T needs a column of every row of W.
      await writeAt(handle, out, transposedName(name), bytes((await transposedRows(folder, name))(0, shape[1])));
    } else {
      const cols = shape.length === 2 ? shape[1] : shape[0];
      const rows = shape.length === 2 ? shape[0] : 1;
      const step = Math.max(1, Math.floor(PIECE_VALUES / cols));
      for (let r = 0; r < rows; r += step) {
        const count = Math.min(step, rows - r);
        await writeAt(handle, out, name, bytes(await modelRows(folder, name, r, count)), r * cols * 4);
        onProgress?.(done + (r + count) * cols, total);
      }
    }
    done += shape.reduce((a, d) => a * d, 1);
    onProgress?.(done, total);
  }
}
