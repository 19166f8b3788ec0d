/**
 * A file of weights derived from a model's (its quantizations, or float32 copies): a safetensors file
 * whose name carries the model folder's fingerprint, written once next to the model (or in the cache
 * folder when the model folder is read-only) and found again by its exact header and size. The user's
 * files are never modified; changed weights get a new file and the old one is removed. Graphs that read
 * it are compiled into the same folder (onnxruntime reads external data from the graph's own folder only),
 * so such a file also holds the norms as float32: a graph over it reads nothing else.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { open, type FileHandle } from 'node:fs/promises';
import { encodeSafetensorsHeader, readExactly, type HeaderEntry } from '../model/safetensors';
import { readTensorRows } from '../model/tensorData';
import type { ModelFolder, TensorLocation } from '../model/types';
import { isNotWritable, writeWholeFileFrom } from '../wholeFile';
import { defaultCacheDir, removeOtherVersions } from '../onnx/compileCache';

/** Where a tensor of the file lies: float32 values, or bytes of quantized values. */
export interface DerivedTensor extends Omit<TensorLocation, 'dtype'> {
  dtype: 'F32' | 'U8';
}

/** A derived file's name, header and tensors, fixed before anything is read or written. */
export interface DerivedLayout {
  /** The file's name: `microsteer-weights-<kind>-<fingerprint>.safetensors`. */
  name: string;
  header: Buffer;
  entries: HeaderEntry[];
  size: number;
}

export interface DerivedFile {
  file: string;
  /** The folder it is in: compile graphs that read it there. */
  dir: string;
  /** Every tensor of the file by name. */
  tensors: Map<string, DerivedTensor>;
}

export interface WeightsFileProgress {
  (done: number, total: number): void;
}

export interface DerivedFileOptions {
  /** Where the file goes when the model folder is read-only (default: the graphs' cache folder). */
  cacheDir?: string;
  onProgress?: WeightsFileProgress;
  /** The one folder to use (a companion file's, since graphs read all their files from their own folder). */
  dir?: string;
}

/** The layout of a file of `kind` for the model: `metadata` goes into the header, so a file made by other code is not taken for it. */
export function derivedLayout(folder: ModelFolder, kind: string, entries: HeaderEntry[], metadata: Record<string, string>): DerivedLayout {
  const header = encodeSafetensorsHeader(entries, { format: 'microsteer', model: folder.fingerprint, ...metadata });
  const size = header.length + entries.reduce((sum, e) => sum + entryBytes(e), 0);
  return { name: `microsteer-weights-${kind}-${folder.fingerprint.slice(0, 16)}.safetensors`, header, entries, size };
}

/** Where each tensor lies once the file is in `dir` (nothing is read or written). */
export function placeIn(layout: DerivedLayout, dir: string): DerivedFile {
  const file = path.join(dir, layout.name);
  const tensors = new Map<string, DerivedTensor>();
  let offset = layout.header.length;
  for (const e of layout.entries) {
    const byteLength = entryBytes(e);
    tensors.set(e.name, { name: e.name, dtype: e.dtype === 'U8' ? 'U8' : 'F32', shape: [...e.shape], file, offset, byteLength });
    offset += byteLength;
  }
  return { file, dir, tensors };
}

/**
 * The file of `layout`, found next to the model or in the cache folder, or else written by `write`
 * (which puts each tensor at its place) into the first of them that takes it, whole or not at all.
 */
export async function derivedFile(
  folder: ModelFolder,
  layout: DerivedLayout,
  write: (handle: FileHandle, placed: DerivedFile, onProgress?: WeightsFileProgress) => Promise<void>,
  options: DerivedFileOptions = {},
): Promise<DerivedFile> {
  const candidates = options.dir ? [options.dir] : [folder.dir, path.resolve(options.cacheDir ?? defaultCacheDir())];
  for (const dir of candidates) {
    if (await isSameFile(path.join(dir, layout.name), layout.header, layout.size)) return placeIn(layout, dir);
  }
  for (const dir of candidates) {
    try {
      fs.mkdirSync(dir, { recursive: true });
      const placed = placeIn(layout, dir);
      await writeWholeFileFrom(placed.file, async (handle) => {
        await handle.write(layout.header, 0, layout.header.length, 0);
        await write(handle, placed, options.onProgress);
      });
      removeOtherVersions(dir, layout.name);
      return placed;
    } catch (e) {
      if (!isNotWritable(e) || dir === candidates[candidates.length - 1]) throw e;
    }
  }
  throw new Error('unreachable: the cache folder either takes the file or throws');
}

/** Writes `bytes` at the tensor's place plus `at` bytes. */
export function writeAt(handle: FileHandle, placed: DerivedFile, name: string, bytes: Uint8Array, at = 0): Promise<unknown> {
  const t = placed.tensors.get(name);
  if (!t) throw new Error(`${placed.file}: no tensor ${name}`);
  return handle.write(bytes, 0, bytes.length, t.offset + at);
}

/** Rows [first, first + count) of a model tensor as float32 (a 1-D tensor is one row). */
export function modelRows(folder: ModelFolder, name: string, first: number, count: number): Promise<Float32Array> {
  return readTensorRows(folder.tensors.get(name) as TensorLocation, first, count);
}

function entryBytes(e: HeaderEntry): number {
  return e.shape.reduce((a, d) => a * d, 1) * (e.dtype === 'U8' ? 1 : 4);
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
