/**
 * The f32 format's weights for a model stored in 16 bits: float32 copies of its tensors, made once and
 * kept as a derived weights file (derivedFile.ts), `microsteer-weights-f32-<fingerprint>.safetensors`,
 * with the model's names and shapes. onnxruntime memory-maps the file (and packs the products' weights
 * once where weightsFormat.ts's packsWeights says so); no Cast of a weight is left for it to fold at
 * session creation (folding made a converted copy of every weight on every start). BF16/F16 to float32 is exact, so graphs over it compute what graphs over
 * the model's own files did.
 */
import type { FileHandle } from 'node:fs/promises';
import { gemma2TensorShapes } from '../model/modelFolder';
import type { ModelFolder } from '../model/types';
import { derivedFile, derivedLayout, modelRows, writeAt, type DerivedFile, type DerivedFileOptions, type WeightsFileProgress } from './derivedFile';

/** Bump when the file's layout changes. */
const FLOAT_FILE_VERSION = 'microsteer-f32-1';

/** Values copied per piece: bounds the converter's memory whatever the tensor's size. */
const PIECE_VALUES = 1 << 22;

/** Whether the f32 format reads this model through the file: a model stored in float32 is read in place. */
export function needsFloatFile(folder: ModelFolder): boolean {
  return [...folder.tensors.values()].some((t) => t.dtype !== 'F32');
}

/** The model's float32 weights file, written first when it does not exist yet. */
export function floatWeightsFile(folder: ModelFolder, options: DerivedFileOptions = {}): Promise<DerivedFile> {
  const entries = [...gemma2TensorShapes(folder.config)].map(([name, shape]) => ({ name, dtype: 'F32' as const, shape }));
  const layout = derivedLayout(folder, 'f32', entries, { converter: FLOAT_FILE_VERSION });
  return derivedFile(folder, layout, (handle, placed, onProgress) => writeTensors(handle, folder, placed, onProgress), options);
}

async function writeTensors(handle: FileHandle, folder: ModelFolder, out: DerivedFile, onProgress?: WeightsFileProgress): Promise<void> {
  const shapes = [...gemma2TensorShapes(folder.config)];
  const total = shapes.reduce((sum, [, shape]) => sum + shape.reduce((a, d) => a * d, 1), 0);
  let done = 0;
  for (const [name, shape] of shapes) {
    const [rows, cols] = shape.length === 2 ? shape : [1, shape[0]];
    const step = Math.max(1, Math.floor(PIECE_VALUES / cols));
    for (let r = 0; r < rows; r += step) {
      const count = Math.min(step, rows - r);
      const values = await modelRows(folder, name, r, count);
      await writeAt(handle, out, name, new Uint8Array(values.buffer, values.byteOffset, values.byteLength), r * cols * 4);
      done += count * cols;
      onProgress?.(done, total);
    }
  }
}
