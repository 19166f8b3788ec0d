/**
 * The block-quantized weights of a model, computed once and kept as a safetensors file of their own,
 * `microsteer-weights-q<bits>-<fingerprint>.safetensors`, next to the model (or in the cache folder
 * when the model folder is read-only); the user's files are never modified. The fingerprint is the
 * model folder's, so changed weights get a new file. Graphs that read it are compiled into the same
 * folder (onnxruntime reads external data from the graph's own folder only), so the file also holds
 * the norms as float32: a quantized graph reads nothing else.
 *
 * Per projection and for the embedding: `<name>.q` U8 [rows, blocks, blockBytes] and `<name>.scales`
 * F32 [rows, blocks] (blockQuantize.ts). The gradient file (`...-q<bits>t-...`) holds W^T's quantization
 * of the same matrices, which only the backward graph reads; it is made on first training.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { open, type FileHandle } from 'node:fs/promises';
import { gemma2TensorShapes } from '../model/modelFolder';
import { encodeSafetensorsHeader, readExactly, type HeaderEntry } from '../model/safetensors';
import { readTensorRows } from '../model/tensorData';
import type { ModelFolder, TensorLocation } from '../model/types';
import { isNotWritable, writeWholeFileFrom } from '../wholeFile';
import { defaultCacheDir, removeOtherVersions } from '../onnx/compileCache';
import { blockLayout, BLOCK_SIZE, quantizeRows, type QuantBits } from './blockQuantize';

/** Bump when the quantization or the file's layout changes. */
const QUANTIZER_VERSION = 'microsteer-q1';

/** Values quantized per piece: bounds the converter's memory whatever the tensor's size. */
const PIECE_VALUES = 1 << 22;

export type QuantizedPart = 'weights' | 'transposed';

export interface QuantizedWeightsFile {
  file: string;
  /** The folder it is in: compile graphs that read it there. */
  dir: string;
  bits: QuantBits;
  blockSize: number;
  /** Every tensor of the file by name. */
  tensors: Map<string, CachedTensor>;
  /** [rows, cols] of each quantized matrix by its model name (W^T's in the transposed part). */
  matrices: Map<string, [number, number]>;
}

/** Where a tensor of the file lies: float32 norms and scales, bytes of quantized values. */
export interface CachedTensor extends Omit<TensorLocation, 'dtype'> {
  dtype: 'F32' | 'U8';
}

export interface QuantizeProgress {
  (done: number, total: number): void;
}

export interface QuantizedFileOptions {
  /** Where the file goes when the model folder is read-only (default: the graphs' cache folder). */
  cacheDir?: string;
  onProgress?: QuantizeProgress;
  /** The one folder to use: the other part's, since the graphs read both from their own folder. */
  dir?: string;
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
  options: QuantizedFileOptions = {},
): Promise<QuantizedWeightsFile> {
  const { entries, header, size, name } = fileContents(folder, bits, part);
  const candidates = options.dir ? [options.dir] : [folder.dir, path.resolve(options.cacheDir ?? defaultCacheDir())];
  for (const dir of candidates) {
    if (await isSameFile(path.join(dir, name), header, size)) return describe(folder, part, path.join(dir, name), header.length, entries, bits);
  }
  for (const dir of candidates) {
    const file = path.join(dir, name);
    try {
      fs.mkdirSync(dir, { recursive: true });
      const described = describe(folder, part, file, header.length, entries, bits);
      await writeWholeFileFrom(file, async (handle) => {
        await handle.write(header, 0, header.length, 0);
        await writeTensors(handle, folder, described, part, options.onProgress);
      });
      removeOtherVersions(dir, name);
      return described;
    } catch (e) {
      if (!isNotWritable(e) || dir === candidates[candidates.length - 1]) throw e;
    }
  }
  throw new Error('unreachable: the cache folder either takes the file or throws');
}

/**
 * Where every tensor of `part`'s file in `dir` lies, without reading or writing anything: what a graph
 * needs to be built before the file exists (the forward graph's build includes the reverse sweep, which
 * reads the transposed part, though only the backward graph, opened after the file is made, keeps it).
 */
export function quantizedFileLayout(folder: ModelFolder, bits: QuantBits, part: QuantizedPart, dir: string): QuantizedWeightsFile {
  const { entries, header, name } = fileContents(folder, bits, part);
  return describe(folder, part, path.join(dir, name), header.length, entries, bits);
}

function fileContents(folder: ModelFolder, bits: QuantBits, part: QuantizedPart): { entries: HeaderEntry[]; header: Buffer; size: number; name: string } {
  const entries = fileEntries(folder, bits, part);
  const header = encodeSafetensorsHeader(entries, {
    format: 'microsteer',
    quantizer: QUANTIZER_VERSION,
    model: folder.fingerprint,
    bits: String(bits),
    block_size: String(BLOCK_SIZE),
    part,
  });
  const size = header.length + entries.reduce((sum, e) => sum + entryBytes(e), 0);
  const name = `microsteer-weights-q${bits}${part === 'transposed' ? 't' : ''}-${folder.fingerprint.slice(0, 16)}.safetensors`;
  return { entries, header, size, name };
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

function entryBytes(e: HeaderEntry): number {
  return e.shape.reduce((a, d) => a * d, 1) * (e.dtype === 'U8' ? 1 : 4);
}

function describe(folder: ModelFolder, part: QuantizedPart, file: string, headerLength: number, entries: HeaderEntry[], bits: QuantBits): QuantizedWeightsFile {
  const shapes = gemma2TensorShapes(folder.config);
  const matrices = new Map(quantizedMatrices(folder).map((name) => [name, oriented(shapes.get(name) as number[], part)]));
  const tensors: QuantizedWeightsFile['tensors'] = new Map();
  let offset = headerLength;
  for (const e of entries) {
    const byteLength = entryBytes(e);
    tensors.set(e.name, { name: e.name, dtype: e.dtype === 'U8' ? 'U8' : 'F32', shape: [...e.shape], file, offset, byteLength });
    offset += byteLength;
  }
  return { file, dir: path.dirname(file), bits, blockSize: BLOCK_SIZE, tensors, matrices };
}

/** An existing regular file (not a link) of the expected size whose header is the one this code writes. */
async function isSameFile(file: string, header: Buffer, size: number): Promise<boolean> {
  try {
    const st = fs.lstatSync(file);
    if (!st.isFile() || st.size !== size) return false;
    const handle = await open(file, 'r');
    try {
      return Buffer.compare(await readExactly(handle, 0, header.length, file), header) === 0;
    } finally {
      await handle.close();
    }
  } catch {
    return false;
  }
}

/** Writes every tensor at its offset, a piece at a time: memory stays bounded whatever the tensor's size. */
async function writeTensors(handle: FileHandle, folder: ModelFolder, out: QuantizedWeightsFile, part: QuantizedPart, onProgress?: QuantizeProgress): Promise<void> {
  const shapes = gemma2TensorShapes(folder.config);
  const matrices = quantizedMatrices(folder);
  const total = matrices.reduce((sum, name) => sum + (shapes.get(name) as number[]).reduce((a, d) => a * d, 1), 0);
  const at = (name: string) => (out.tensors.get(name) as CachedTensor).offset;
  const write = (bytes: Uint8Array, position: number) => handle.write(bytes, 0, bytes.length, position);
  let done = 0;
  if (part === 'weights') {
    for (const [name, shape] of shapes) {
      if (shape.length === 1) await write(new Uint8Array((await readRows(folder, name, 0, 1)).buffer), at(name));
    }
  }
  for (const name of matrices) {
    const [rows, cols] = oriented(shapes.get(name) as number[], part);
    const source = part === 'weights' ? null : await transposedSource(folder, name);
    const step = Math.max(1, Math.floor(PIECE_VALUES / cols));
    for (let r = 0; r < rows; r += step) {
      const count = Math.min(step, rows - r);
      const q = quantizeRows(source ? source(r, count) : await readRows(folder, name, r, count), count, cols, out.bits);
      await write(new Uint8Array(q.scales.buffer), at(`${name}.scales`) + r * q.blocks * 4);
      await write(q.data, at(`${name}.q`) + r * q.data.length / count);
      done += count * cols;
      onProgress?.(done, total);
    }
  }
}

/** Rows [first, first + count) of a model tensor as float32 (a 1-D tensor is one row). */
function readRows(folder: ModelFolder, name: string, first: number, count: number): Promise<Float32Array> {
  return readTensorRows(folder.tensors.get(name) as TensorLocation, first, count);
}

/** Rows of W^T read from W: the whole of W, once, since every row of W^T needs a column of every row of W. */
async function transposedSource(folder: ModelFolder, name: string): Promise<(first: number, count: number) => Float32Array> {
  const loc = folder.tensors.get(name) as TensorLocation;
  const [rows, cols] = loc.shape;
  const w = await readRows(folder, name, 0, rows);
  return (first, count) => {
    const out = new Float32Array(count * rows);
    for (let c = 0; c < count; c++) for (let r = 0; r < rows; r++) out[c * rows + r] = w[r * cols + first + c];
    return out;
  };
}


